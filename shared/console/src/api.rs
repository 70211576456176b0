//! The console's writes go through the API's own handlers, in process: a form becomes the JSON body the API
//! takes, and the request carries the session's claims as the JWT authorizer would put them. The parsing of the
//! body, the roles, the guards, the idempotency and the problem answers are the API's; the console only shows
//! the outcome. The routes of a function the console stands apart from (fiscal-admin, when
//! [`Console::fiscal_function`] is set) go to that function instead ([`send`], [`fetch`], `forward`).

use lambda_http::http::{Method, header};
use lambda_http::{Body, RequestExt};
use osflow_api::{Function, Matched};
use osflow_app::{App, Caller};
use osflow_lambda_kit::caller::{api_gateway_context, claims_of};
use serde_json::{Value, json};

use crate::Console;
use crate::forward::{Answered, Forward, forward};

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

fn parsed(a: Answered) -> Answer {
    Answer { status: a.status, body: serde_json::from_slice(&a.body).unwrap_or(Value::Null) }
}

fn unknown_route() -> Answered {
    Answered {
        status: 404,
        content_type: "application/json".into(),
        body: json!({"title": "Rota desconhecida"}).to_string().into_bytes(),
    }
}

/// Calls the API route `method path` with `body` as `caller`.
pub async fn call(app: &App, caller: &Caller, method: Method, path: &str, body: Option<&Value>) -> Answer {
    call_with(app, caller, method, path, body, &[]).await
}

/// [`call`] with request headers (`If-Match`: the version the form was made from; `Idempotency-Key`: the form's
/// own key, so a form sent twice acts once).
pub async fn call_with(
    app: &App,
    caller: &Caller,
    method: Method,
    path: &str,
    body: Option<&Value>,
    headers: &[(header::HeaderName, String)],
) -> Answer {
    parsed(in_process(app, caller, method, path, &[], body, headers).await)
}

async fn in_process(
    app: &App,
    caller: &Caller,
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
    headers: &[(header::HeaderName, String)],
) -> Answered {
    let route_key = match osflow_api::resolve(method.as_str(), path) {
        Matched::Route(route, _) => osflow_api::route_key(route),
        _ => return unknown_route(),
    };
    let roles: Vec<_> = caller.roles.clone();
    let claims = claims_of(caller.tenant.as_str(), caller.user.as_str(), &roles);
    let ctx = api_gateway_context(&route_key, method.clone(), path, None, Some(claims));
    let uri = match query {
        [] => path.to_owned(),
        q => format!("{path}?{}", form_urlencoded::Serializer::new(String::new()).extend_pairs(q).finish()),
    };
    let mut builder = lambda_http::http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
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
    let content_type =
        resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let body = match resp.into_body() {
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    Answered { status, content_type, body }
}

/// Calls the API route `method path` (with `query`) as `caller`: in process, or through the function that
/// serves it when the console stands apart from that function (fiscal-admin in AWS).
pub async fn fetch(
    console: &Console,
    caller: &Caller,
    method: Method,
    path: &str,
    query: &[(String, String)],
    body: Option<&Value>,
) -> Answered {
    let Matched::Route(route, params) = osflow_api::resolve(method.as_str(), path) else {
        return unknown_route();
    };
    match &console.fiscal_function {
        Some(function) if route.function == Function::FiscalAdmin => {
            let f = Forward {
                route_key: osflow_api::route_key(route),
                params,
                method,
                path,
                query,
                caller,
                body: body.map(Value::to_string),
            };
            match forward(function.as_ref(), &f).await {
                Ok(answered) => answered,
                Err(e) => {
                    tracing::error!(error = %e, route = %f.route_key, "the fiscal function did not answer");
                    Answered {
                        status: 503,
                        content_type: "application/problem+json".into(),
                        body: json!({"type": "/problems/unavailable", "title": "Serviço fiscal indisponível",
                                     "status": 503, "detail": "tente de novo em instantes"})
                        .to_string()
                        .into_bytes(),
                    }
                }
            }
        }
        _ => in_process(&console.app, caller, method, path, query, body, &[]).await,
    }
}

/// [`fetch`] of a JSON answer.
pub async fn send(console: &Console, caller: &Caller, method: Method, path: &str, body: Option<&Value>) -> Answer {
    parsed(fetch(console, caller, method, path, &[], body).await)
}
