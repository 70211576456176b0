//! osflow's HTTP API: the route table, the handlers, the DTOs and the OpenAPI document.
//!
//! [`handle`] serves one request as API Gateway (HTTP API, payload 2.0) delivers it — in a Lambda function, and in
//! osflow-local, which builds the same [`lambda_http::Request`]. Handlers parse the request into domain values,
//! call one use case of [`osflow_app::App`] and render its answer; refusals are `application/problem+json`
//! ([`osflow_lambda_kit::Problem`]).
//!
//! Listing: `GET /v1/orders?status=` is the company's work queue of one status (oldest change first); with filters
//! or without `status` it searches the open statuses (see `list_orders`).

pub mod dto;
pub mod errors;
mod handlers;
mod http;
pub mod limit;
mod nfe;
mod nfse;
pub mod openapi;
mod paperwork;
mod records;
mod reports;
pub mod routes;
mod search;
mod unlock;
mod users;

use lambda_http::http::header;
use lambda_http::{Body, Request, RequestExt, Response};
use osflow_app::App;
use osflow_domain::values::TenantId;
use osflow_lambda_kit::caller::{TENANT_CLAIM, claims, request_id, route_key as context_route_key};
use osflow_lambda_kit::{Problem, ProblemType, request_span};
use tracing::Instrument;

pub use handlers::MAX_ATTACHMENT_BYTES;
pub use limit::TenantRateLimit;
pub use openapi::{ApiDoc, openapi_json};
pub use routes::{
    Every, Function, Matched, ROUTES, Route, Serves, by_route_key, match_route, only, resolve, route_key,
};

/// The route and path parameters of a request: from API Gateway's route key and path parameters when present,
/// else by matching the path against [`ROUTES`].
/// Path parameters, by name.
type Params = Vec<(String, String)>;

fn locate(req: &Request, method: &str, path: &str) -> Result<(&'static Route, Params), Problem> {
    let from_context = context_route_key(req).and_then(by_route_key);
    let route = match from_context {
        Some(r) => r,
        None => match resolve(method, path) {
            Matched::Route(r, _) => r,
            Matched::MethodNotAllowed(allowed) => {
                return Err(Problem::new(ProblemType::MethodNotAllowed)
                    .with_detail(format!("métodos aceitos neste caminho: {}", allowed.join(", "))));
            }
            Matched::NotFound => {
                return Err(
                    Problem::new(ProblemType::NotFound).with_detail(format!("rota desconhecida: {method} {path}"))
                );
            }
        },
    };
    let given = req.path_parameters();
    let params = if !given.is_empty() {
        given.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
    } else {
        match resolve(route.method, path) {
            Matched::Route(r, params) if r == route => {
                params.into_iter().map(|(k, v)| (k, http::percent_decode(&v))).collect()
            }
            _ => Vec::new(),
        }
    };
    Ok((route, params))
}

/// The 429 of a request whose company (the token's tenant) is over the app's request limit; requests without a
/// tenant are left to the handler (401).
fn over_limit(app: &App, req: &Request) -> Option<Problem> {
    let limit = app.request_limit.as_ref()?;
    let tenant = claims(req)?.get(TENANT_CLAIM).and_then(|t| TenantId::parse(t).ok())?;
    let wait = limit.check(&tenant).err()?;
    // Whole seconds, at least one.
    let seconds = u32::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u32::MAX).max(1);
    tracing::warn!(tenant = %tenant, retry_after = seconds, "company over its request limit");
    Some(
        Problem::new(ProblemType::TooManyRequests)
            .with_detail(format!("a empresa passou do seu limite de requisições; tente de novo em {seconds} s"))
            .with_retry_after(seconds),
    )
}

/// Serves one request as API Gateway (HTTP API, payload 2.0) delivers it: the route is found from the request
/// context's route key (set by API Gateway, and by osflow-local), path parameters from `req.path_parameters()`,
/// query from `req.query_string_parameters()`, the caller from the JWT authorizer claims.
/// `only`: Some(function) in a Lambda (a route of another function → 404 problem), None in osflow-local (all
/// routes). Every handler is linked; a Lambda function serves through [`handle_only`].
pub async fn handle(app: &App, only: Option<Function>, req: Request) -> Response<Body> {
    serve::<Every>(app, only, req).await
}

/// [`handle`] in a binary that serves `S`'s routes only (`S::ONLY`): the other functions' handlers are not
/// referenced, so they (and what only they use) are left out of its executable.
pub async fn handle_only<S: Serves>(app: &App, req: Request) -> Response<Body> {
    serve::<S>(app, S::ONLY, req).await
}

async fn serve<S: Serves>(app: &App, only: Option<Function>, req: Request) -> Response<Body> {
    let method = req.method().as_str().to_owned();
    let path = match req.raw_http_path() {
        "" => req.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    let (route, params) = match locate(&req, &method, &path) {
        Ok(found) => found,
        Err(problem) => {
            tracing::info!(%method, %path, status = problem.status, "no route");
            let allow = match resolve(&method, &path) {
                Matched::MethodNotAllowed(methods) => Some(methods.join(", ")),
                _ => None,
            };
            let mut response = problem.into_response();
            if let Some(allow) = allow.and_then(|a| header::HeaderValue::from_str(&a).ok()) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            return response;
        }
    };
    if let Some(f) = only
        && route.function != f
    {
        tracing::warn!(route = %route_key(route), function = f.package(), "route of another function");
        return Problem::new(ProblemType::NotFound)
            .with_detail(format!("a rota {} não é servida por {}", route_key(route), f.package()))
            .into_response();
    }
    let span = request_span(&method, route.path, request_id(&req));
    let cx = http::Cx { app, req: &req, route, params, path };
    async {
        // The company's request limit first, before anything is read; then the headers every write accepts, on
        // every write: a malformed (or empty) `Idempotency-Key` or `If-Match` is a 400, even where the route has
        // no use for it.
        let checked = match (over_limit(app, &req), route.method) {
            (Some(problem), _) => Err(problem),
            (None, "GET") => Ok(()),
            (None, _) => cx.write_headers(),
        };
        let handled = match (checked, routes::dispatch::<S>(route, &cx)) {
            (Ok(()), Some(handler)) => handler.await,
            (Ok(()), None) => Err(Problem::new(ProblemType::NotFound)
                .with_detail(format!("a rota {} não é servida aqui", route_key(route)))),
            (Err(problem), _) => Err(problem),
        };
        let response = match handled {
            Ok(response) => response,
            Err(problem) => {
                if problem.status >= 500 {
                    tracing::error!(problem = %problem, "request failed");
                } else {
                    tracing::info!(problem = %problem, "request refused");
                }
                problem.into_response()
            }
        };
        tracing::Span::current().record("status", response.status().as_u16());
        tracing::info!(status = response.status().as_u16(), "request served");
        response
    }
    .instrument(span)
    .await
}
