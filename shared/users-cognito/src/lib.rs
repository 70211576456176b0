//! The [`UserDirectory`] port on the Cognito user pool of the staff (infra/template.yaml `UserPool`): one pool for
//! every company, a user's company its `custom:tenant` attribute (written by an administrator only), its osflow
//! roles its groups (`representante`, `atendente`, `tecnico`, `financeiro`), its id the `sub` the tokens carry. The
//! pool signs in by e-mail (`UsernameAttributes: [email]`), so a user's username *is* its `sub`: the id an order
//! holds is asked of `AdminGetUser` as it is.
//!
//! - [`CognitoUsers::user`]: `AdminGetUser` (`UserNotFoundException` → none; another company's or a disabled
//!   user → none) and `AdminListGroupsForUser` for the roles;
//! - [`CognitoUsers::users_with_role`]: `ListUsersInGroup` of the role's group, every page, the company's enabled
//!   users kept (custom attributes cannot be filtered on by Cognito: the group is read whole), each one's other
//!   roles from `AdminListGroupsForUser`.
//!
//! The function gets the pool id from `OSFLOW_USER_POOL_ID` and may call exactly these three actions on the pool.
//! Cognito's request quotas are per account and region and shared by every company and by the sign-ins, so the
//! functions put `osflow_app::CachedUserDirectory` in front of this.

//! # Not the SDK's Cognito client
//!
//! The three reads are AWS JSON 1.1 calls made by `osflow_aws_kit::signed::JsonService` (the SDK's signer and
//! HTTPS connector, retried as the SDK retries): `aws-sdk-cognitoidentityprovider` linked about 0.46 MB of client
//! code into each function that checks users (open-order, records, the console), for three read operations.

use async_trait::async_trait;
use osflow_app::{DirectoryUser, StoreResult, UserDirectory};
use osflow_aws_kit::SdkConfig;
use osflow_aws_kit::signed::{CallError, JsonService};
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use serde::Deserialize;
use serde_json::json;

/// `OSFLOW_USER_POOL_ID`: the staff's Cognito user pool (the functions that check or list the company's users).
pub const USER_POOL_ID_ENV: &str = "OSFLOW_USER_POOL_ID";
/// The attribute naming a user's company.
pub const TENANT_ATTRIBUTE: &str = "custom:tenant";
/// The most users or groups Cognito gives in one page.
const PAGE: i32 = 60;

/// The service's "try again later" codes.
const TRANSIENT: &[&str] = &["TooManyRequestsException", "InternalErrorException", "LimitExceededException"];

/// The company's users in a Cognito user pool.
#[derive(Debug, Clone)]
pub struct CognitoUsers {
    service: JsonService,
    pool: String,
    page: i32,
}

/// An attribute of a user (`Name`, `Value`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attribute {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

/// `AdminGetUser`'s answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GotUser {
    username: String,
    #[serde(default)]
    user_attributes: Vec<Attribute>,
    #[serde(default)]
    enabled: bool,
}

/// A user of `ListUsersInGroup`'s answer.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct ListedUser {
    username: String,
    attributes: Vec<Attribute>,
    enabled: bool,
}

/// A page of `ListUsersInGroup`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UsersPage {
    users: Vec<ListedUser>,
    next_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct Group {
    group_name: Option<String>,
}

/// A page of `AdminListGroupsForUser`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct GroupsPage {
    groups: Vec<Group>,
    next_token: Option<String>,
}

impl CognitoUsers {
    /// The pool `pool`, reached with the configuration's region, credentials and endpoint override.
    pub fn new(config: &SdkConfig, pool: impl Into<String>) -> CognitoUsers {
        let service =
            JsonService::new(config, "cognito-idp", "cognito-idp", "AWSCognitoIdentityProviderService", TRANSIENT);
        CognitoUsers { service, pool: pool.into(), page: PAGE }
    }

    /// [`CognitoUsers::new`] with the configuration from the process environment (`osflow_aws_kit::sdk_config_from_env`).
    pub fn from_env(pool: impl Into<String>) -> CognitoUsers {
        CognitoUsers::new(&osflow_aws_kit::sdk_config_from_env(), pool)
    }

    /// Pages of `size` (1 to 60; tests read several pages of a few users).
    pub fn with_page_size(mut self, size: i32) -> CognitoUsers {
        self.page = size.clamp(1, PAGE);
        self
    }

    /// The user's osflow roles (its groups that are roles), sorted.
    async fn roles(&self, username: &str) -> StoreResult<Vec<Role>> {
        let mut roles = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut input = json!({"UserPoolId": self.pool, "Username": username, "Limit": self.page});
            if let Some(token) = next.take() {
                input["NextToken"] = token.into();
            }
            let page: GroupsPage = self.service.call("AdminListGroupsForUser", &input).await?;
            roles.extend(page.groups.iter().filter_map(|g| g.group_name.as_deref().and_then(Role::parse)));
            match page.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => break,
            }
        }
        roles.sort();
        roles.dedup();
        Ok(roles)
    }
}

fn attribute<'a>(attributes: &'a [Attribute], name: &str) -> Option<&'a str> {
    attributes.iter().find(|a| a.name == name).and_then(|a| a.value.as_deref()).filter(|v| !v.trim().is_empty())
}

/// The user as the directory answers it when it belongs to `tenant` and is enabled.
fn company_user(
    tenant: &TenantId,
    username: &str,
    attributes: &[Attribute],
    enabled: bool,
    roles: Vec<Role>,
) -> Option<DirectoryUser> {
    if !enabled || attribute(attributes, TENANT_ATTRIBUTE) != Some(tenant.as_str()) {
        return None;
    }
    let id = UserId::parse(attribute(attributes, "sub").unwrap_or(username)).ok()?;
    let email = attribute(attributes, "email").map(str::to_owned);
    let name = attribute(attributes, "name").map(str::to_owned).or_else(|| email.clone()).unwrap_or(id.to_string());
    Some(DirectoryUser { id, name, email, roles })
}

#[async_trait]
impl UserDirectory for CognitoUsers {
    async fn user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<DirectoryUser>> {
        let input = json!({"UserPoolId": self.pool, "Username": id.as_str()});
        let user: GotUser = match self.service.call("AdminGetUser", &input).await {
            Ok(user) => user,
            Err(e) if e.code() == Some("UserNotFoundException") => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if company_user(tenant, &user.username, &user.user_attributes, user.enabled, vec![]).is_none() {
            return Ok(None);
        }
        let roles = self.roles(&user.username).await?;
        Ok(company_user(tenant, &user.username, &user.user_attributes, user.enabled, roles))
    }

    async fn users_with_role(&self, tenant: &TenantId, role: Role) -> StoreResult<Vec<DirectoryUser>> {
        let mut users = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut input = json!({"UserPoolId": self.pool, "GroupName": role.as_str(), "Limit": self.page});
            if let Some(token) = next.take() {
                input["NextToken"] = token.into();
            }
            let page: UsersPage = match self.service.call("ListUsersInGroup", &input).await {
                Ok(page) => page,
                // A pool without the role's group has no user with that role.
                Err(CallError::Service { code, .. }) if code == "ResourceNotFoundException" => break,
                Err(e) => return Err(e.into()),
            };
            for u in &page.users {
                if company_user(tenant, &u.username, &u.attributes, u.enabled, vec![]).is_none() {
                    continue;
                }
                let roles = self.roles(&u.username).await?;
                users.extend(company_user(tenant, &u.username, &u.attributes, u.enabled, roles));
            }
            match page.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => break,
            }
        }
        users.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(users)
    }
}
