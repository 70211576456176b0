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

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::AttributeType;
use osflow_app::{DirectoryUser, StoreResult, UserDirectory};
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};

pub use aws_sdk_cognitoidentityprovider;

/// `OSFLOW_USER_POOL_ID`: the staff's Cognito user pool (the functions that check or list the company's users).
pub const USER_POOL_ID_ENV: &str = "OSFLOW_USER_POOL_ID";
/// The attribute naming a user's company.
pub const TENANT_ATTRIBUTE: &str = "custom:tenant";
/// The most users or groups Cognito gives in one page.
const PAGE: i32 = 60;

/// The company's users in a Cognito user pool.
#[derive(Debug, Clone)]
pub struct CognitoUsers {
    client: Client,
    pool: String,
    page: i32,
}

impl CognitoUsers {
    pub fn new(client: Client, pool: impl Into<String>) -> CognitoUsers {
        CognitoUsers { client, pool: pool.into(), page: PAGE }
    }

    /// The client from the standard AWS environment (`osflow_aws_kit::sdk_config_from_env`). Synchronous, so a
    /// caller can build it in a branch that is constant-false for a binary without linking the client there (an
    /// `.await` would keep its future in the caller's state machine).
    pub fn from_env(pool: impl Into<String>) -> CognitoUsers {
        CognitoUsers::new(Client::new(&osflow_aws_kit::sdk_config_from_env()), pool)
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
            let out = self
                .client
                .admin_list_groups_for_user()
                .user_pool_id(&self.pool)
                .username(username)
                .limit(self.page)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| osflow_aws_kit::store_error(e, transient))?;
            roles.extend(out.groups().iter().filter_map(|g| g.group_name().and_then(Role::parse)));
            match out.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => break,
            }
        }
        roles.sort();
        roles.dedup();
        Ok(roles)
    }
}

/// The service's "try again later" codes.
fn transient(code: &str) -> bool {
    matches!(code, "TooManyRequestsException" | "InternalErrorException" | "LimitExceededException")
}

fn attribute<'a>(attributes: &'a [AttributeType], name: &str) -> Option<&'a str> {
    attributes.iter().find(|a| a.name() == name).and_then(|a| a.value()).filter(|v| !v.trim().is_empty())
}

/// The user as the directory answers it when it belongs to `tenant` and is enabled.
fn company_user(
    tenant: &TenantId,
    username: &str,
    attributes: &[AttributeType],
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
        let got = self.client.admin_get_user().user_pool_id(&self.pool).username(id.as_str()).send().await;
        let out = match got {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_user_not_found_exception()) => return Ok(None),
            Err(e) => return Err(osflow_aws_kit::store_error(e, transient)),
        };
        let attributes = out.user_attributes();
        if company_user(tenant, out.username(), attributes, out.enabled(), vec![]).is_none() {
            return Ok(None);
        }
        let roles = self.roles(out.username()).await?;
        Ok(company_user(tenant, out.username(), attributes, out.enabled(), roles))
    }

    async fn users_with_role(&self, tenant: &TenantId, role: Role) -> StoreResult<Vec<DirectoryUser>> {
        let mut users = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let out = self
                .client
                .list_users_in_group()
                .user_pool_id(&self.pool)
                .group_name(role.as_str())
                .limit(self.page)
                .set_next_token(next.take())
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                // A pool without the role's group has no user with that role.
                Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => break,
                Err(e) => return Err(osflow_aws_kit::store_error(e, transient)),
            };
            for u in out.users() {
                let username = u.username().unwrap_or_default();
                if company_user(tenant, username, u.attributes(), u.enabled(), vec![]).is_none() {
                    continue;
                }
                let roles = self.roles(username).await?;
                users.extend(company_user(tenant, username, u.attributes(), u.enabled(), roles));
            }
            match out.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => break,
            }
        }
        users.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        Ok(users)
    }
}
