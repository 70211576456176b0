//! The company's users (function `records`): `GET /v1/users?role=tecnico` lists the company's users with a role,
//! for the front ends' technician pickers. The directory is the `UserDirectory` port (Cognito in AWS, the
//! development users locally).

use osflow_app::DirectoryUser;
use osflow_domain::Role;
use osflow_lambda_kit::{Problem, ProblemType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::errors::app_problem;
use crate::http::{Cx, Res, json_response, to_json};

/// The role the users are listed by.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct RoleQuery {
    /// `representante`, `atendente`, `tecnico` or `financeiro`.
    role: String,
}

/// A user of the company.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The user's id: what an order's `technician` holds (Cognito's `sub`).
    pub id: String,
    /// The name to show (the user's name, else their e-mail, else their id).
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The user's osflow roles.
    pub roles: Vec<String>,
}

/// The company's users with a role.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// Sorted by name.
    pub items: Vec<UserView>,
}

impl From<&DirectoryUser> for UserView {
    fn from(u: &DirectoryUser) -> UserView {
        UserView {
            id: u.id.to_string(),
            name: u.name.clone(),
            email: u.email.clone(),
            roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        }
    }
}

/// The company's users with a role (any staff role may ask): `?role=tecnico` gives the technicians an order may
/// be given (`technician` of `POST /v1/orders`, `PUT /v1/orders/{id}/technician`).
#[utoipa::path(
    get, path = "/v1/users", tag = "records",
    params(RoleQuery),
    responses((status = 200, description = "The users, by name", body = UserList))
)]
pub(crate) async fn list_users(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let q = cx.query();
    let role = q.first("role").map(str::trim).and_then(Role::parse).ok_or_else(|| {
        Problem::field(
            ProblemType::InvalidField,
            "role",
            "informe o papel: representante, atendente, tecnico ou financeiro",
        )
    })?;
    let users = cx.app.users_with_role(&caller, role).await.map_err(|e| app_problem(&e, None))?;
    let list = UserList { items: users.iter().map(UserView::from).collect() };
    Ok(json_response(200, to_json(&list), None))
}
