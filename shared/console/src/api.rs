//! The console's writes go through the API's own handlers, in process: a form becomes the JSON body the API
//! takes, and the request carries the session's claims as the JWT authorizer would put them. The parsing of the
//! body, the roles, the guards, the idempotency and the problem answers are the API's; the console only shows
//! the outcome.

use lambda_http::http::{Method, header};
use lambda_http::{Body, RequestExt};
use osflow_api::Matched;
use osflow_app::{App, Caller};
use osflow_lambda_kit::caller::{api_gateway_context, claims_of};
use serde_json::Value;

/// The API's answer: its status and its JSON body (a problem's `detail` and `field` when refused).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The problem's text for people, in Portuguese: its title, the field at fault and what is wrong.
    pub fn message(&self) -> String {
        crate::messages::problem_text(&self.body)
    }
}

/// Calls the API route `method path` with `body` as `caller`.
pub async fn call(app: &App, caller: &Caller, method: Method, path: &str, body: Option<&Value>) -> Answer {
    let route_key = match osflow_api::resolve(method.as_str(), path) {
        Matched::Route(route, _) => osflow_api::route_key(route),
        _ => return Answer { status: 404, body: serde_json::json!({"title": "Rota desconhecida"}) },
    };
    let roles: Vec<_> = caller.roles.clone();
    let claims = claims_of(caller.tenant.as_str(), caller.user.as_str(), &roles);
    let ctx = api_gateway_context(&route_key, method.clone(), path, None, Some(claims));
    let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
    let body = match body {
        Some(v) => {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
            Body::Text(v.to_string())
        }
        None => Body::Empty,
    };
    let req = builder.body(body).expect("a valid request").with_request_context(ctx);
    let resp = osflow_api::handle(app, None, req).await;
    let status = resp.status().as_u16();
    let body = match resp.into_body() {
        Body::Text(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
        Body::Binary(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    Answer { status, body }
}
