//! What API Gateway (HTTP API, payload 2.0, JWT authorizer) does in front of the Lambda functions, done in
//! process: find the route, check the token, and hand the handler the same `lambda_http::Request` a Lambda
//! receives — route key, path and query string parameters, source IP and the authorizer's JWT claims in the
//! request context. The customer's page (`/p/...`, public: the signed link is the credential) goes to
//! `osflow_portal::handle`, as API Gateway routes it to the `portal` function.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{self, HeaderValue, Method, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, Response};
use osflow_api::{Function, Matched, Route};
use osflow_app::{App, Blob, BlobStore};
use osflow_domain::values::TenantId;
use osflow_lambda_kit::{LocalBlobStore, Problem, ProblemType};
use osflow_portal::{Portal, PortalKey};
use tokio::sync::Notify;

use crate::token::{Claims, TokenError, TokenKeys};

/// Largest request body accepted before the handler sees it: API Gateway HTTP API's payload limit. The API's
/// own, smaller limit is the handler's to enforce, with its own problem.
pub const MAX_BODY: usize = 10 * 1024 * 1024;

/// The in-process API Gateway: routes, the authorizer, and the handler behind them.
#[derive(Debug)]
pub struct Gateway {
    app: App,
    keys: TokenKeys,
    blobs: LocalBlobStore,
    /// The customer's page.
    portal: Portal,
    /// Told after every successful write, so that the embedded relay delivers its events at once.
    committed: Option<Arc<Notify>>,
    /// The staff console (every path outside `/v1`, `/p` and `/blobs`).
    console: Option<osflow_console::Console>,
}

/// Where presigned uploads go (what S3 is in AWS): `POST <url>/blobs/<tenant>/<key>`, a `multipart/form-data`
/// form of the signed fields and the file.
pub const BLOBS_PATH: &str = "/blobs";

impl Gateway {
    /// `blobs` must be the store the App's `blobs` port uses, so that the uploads it presigns land here;
    /// `portal_key` signs and checks the customer's links.
    pub fn new(app: App, keys: TokenKeys, blobs: LocalBlobStore, portal_key: PortalKey) -> Gateway {
        let portal = Portal { app: app.clone(), key: portal_key };
        Gateway { app, keys, blobs, portal, committed: None, console: None }
    }

    /// Serves the staff console at `/`.
    pub fn with_console(mut self, console: osflow_console::Console) -> Gateway {
        self.console = Some(console);
        self
    }

    /// Wakes `relay` (the embedded relay's waker) after every successful write.
    pub fn with_relay_waker(mut self, relay: Arc<Notify>) -> Gateway {
        self.committed = Some(relay);
        self
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    pub fn keys(&self) -> &TokenKeys {
        &self.keys
    }

    /// Serves one request whose body was read already.
    pub async fn dispatch(&self, req: http::Request<Bytes>, source_ip: IpAddr) -> Response<Body> {
        let (parts, body) = req.into_parts();
        if let Some(rest) = parts.uri.path().strip_prefix(BLOBS_PATH).and_then(|p| p.strip_prefix('/')) {
            return self.upload(&parts, rest, body).await;
        }
        if let Some(route_key) = portal_route(&parts.method, parts.uri.path()) {
            let write = parts.method == Method::POST;
            let token = parts.uri.path().trim_start_matches("/p/").split('/').next().unwrap_or("").to_owned();
            let params = vec![("token".to_owned(), token)];
            let req = api_gateway_request(parts, body, route_key.to_owned(), params, None, source_ip);
            let resp = osflow_portal::handle(&self.portal, req).await;
            if let Some(relay) = self.committed.as_ref().filter(|_| write && resp.status().is_success()) {
                relay.notify_one();
            }
            return resp;
        }
        if let Some(console) = self.console.as_ref().filter(|_| osflow_console::is_console_path(parts.uri.path())) {
            let write = parts.method == Method::POST;
            let route_key = format!("{} {}", parts.method, parts.uri.path());
            let req = api_gateway_request(parts, body, route_key, vec![], None, source_ip);
            let resp = osflow_console::handle(console, req).await;
            // The console's writes answer 303 (to the page) or 201 (an upload's URL) when done.
            if let Some(relay) = self.committed.as_ref().filter(|_| write && resp.status().as_u16() < 400) {
                relay.notify_one();
            }
            return resp;
        }
        let (route, params) = match osflow_api::resolve(parts.method.as_str(), parts.uri.path()) {
            Matched::Route(route, params) => (route, params),
            Matched::MethodNotAllowed(allowed) => return method_not_allowed(parts.uri.path(), &allowed),
            Matched::NotFound => return not_found(&parts.method, parts.uri.path()),
        };
        let claims = if is_public(route) {
            None
        } else {
            match self.keys.verify_header(parts.headers.get(header::AUTHORIZATION).map(HeaderValue::as_bytes)) {
                Ok(claims) => Some(claims),
                Err(e) => return unauthorized(&e),
            }
        };
        let write = parts.method != Method::GET && parts.method != Method::HEAD;
        let req = api_gateway_request(parts, body, osflow_api::route_key(route), params, claims.as_ref(), source_ip);
        let resp = osflow_api::handle(&self.app, None, req).await;
        if let Some(relay) = self.committed.as_ref().filter(|_| write && resp.status().is_success()) {
            relay.notify_one();
        }
        resp
    }
}

impl Gateway {
    /// A presigned upload, as S3's POST form: the `multipart/form-data` fields (`Content-Type`, `expires`,
    /// `max-bytes`, `signature`) are checked, then the file (the field `file`, last) is read up to `max-bytes` —
    /// a bigger or empty file is refused and nothing is stored — and stored with the signed content type. No
    /// token: the signed form is the authorization, as with S3.
    async fn upload(&self, parts: &http::request::Parts, rest: &str, body: Bytes) -> Response<Body> {
        if parts.method != Method::POST {
            return method_not_allowed(parts.uri.path(), &["POST"]);
        }
        let forbidden = || {
            Problem::new(ProblemType::Forbidden)
                .with_detail("Formulário de envio inválido ou expirado.")
                .into_response()
        };
        let malformed = |why: &str| Problem::new(ProblemType::UnsupportedMediaType).with_detail(why).into_response();
        let (tenant_str, key) = rest.split_once('/').unwrap_or((rest, ""));
        let Ok(tenant) = TenantId::parse(tenant_str) else { return forbidden() };
        let Some(boundary) =
            header_str(&parts.headers, header::CONTENT_TYPE).and_then(|t| multer::parse_boundary(t).ok())
        else {
            return malformed("Envie o arquivo como multipart/form-data.");
        };
        let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
        let mut multipart = multer::Multipart::new(stream, boundary);
        let mut fields: HashMap<String, String> = HashMap::new();
        let mut file = loop {
            match multipart.next_field().await {
                Ok(Some(field)) if field.name() == Some("file") => break field,
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or_default().to_owned();
                    match field.text().await {
                        Ok(value) => fields.insert(name, value),
                        Err(_) => return malformed("Formulário ilegível."),
                    };
                }
                Ok(None) => return malformed("O formulário não tem o campo file."),
                Err(_) => return malformed("Formulário ilegível."),
            }
        };
        let field = |name: &str| fields.get(name).map(String::as_str).unwrap_or_default();
        let form = osflow_lambda_kit::blob::LocalUpload {
            content_type: field("Content-Type").to_owned(),
            expires: field("expires").parse().unwrap_or(0),
            max_bytes: field("max-bytes").parse().unwrap_or(0),
        };
        if !self.blobs.verify_upload(&tenant, key, &form, field("signature"), chrono::Utc::now()) {
            return forbidden();
        }
        let mut bytes: Vec<u8> = Vec::new();
        loop {
            match file.chunk().await {
                Ok(Some(chunk)) => {
                    if (bytes.len() + chunk.len()) as u64 > form.max_bytes {
                        return Problem::new(ProblemType::PayloadTooLarge)
                            .with_detail(format!("O arquivo passa de {} bytes.", form.max_bytes))
                            .into_response();
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => return malformed("Formulário ilegível."),
            }
        }
        if bytes.is_empty() {
            return malformed("O arquivo está vazio.");
        }
        let blob = Blob { content_type: form.content_type, bytes };
        match self.blobs.put(&tenant, key, &blob).await {
            Ok(()) => Response::builder().status(204).body(Body::Empty).expect("static response parts are valid"),
            Err(e) => {
                tracing::error!(error = %e, "storing an upload failed");
                Problem::new(ProblemType::Internal).into_response()
            }
        }
    }
}

/// The portal's route key of a request (`GET /p/{token}`, `POST /p/{token}/decision`, `GET
/// /p/{token}/danfe.pdf`): public routes.
fn portal_route(method: &Method, path: &str) -> Option<&'static str> {
    let rest = path.strip_prefix("/p/")?;
    // Any other method or path under /p/ goes to the portal too, which answers its neutral page.
    match (method, rest.split_once('/')) {
        (&Method::POST, Some((_, "decision"))) => Some(osflow_portal::ROUTE_DECISION),
        (&Method::GET, Some((_, "danfe.pdf"))) => Some(osflow_portal::ROUTE_DANFE),
        _ => Some(osflow_portal::ROUTE_PAGE),
    }
}

/// API routes that API Gateway serves without the JWT authorizer (the customer's page, also public, is routed
/// before: [`portal_route`]).
fn is_public(route: &Route) -> bool {
    route.function == Function::OrdersQuery && route.path == "/v1/openapi.json"
}

/// The request as API Gateway hands it to a Lambda function.
fn api_gateway_request(
    parts: http::request::Parts,
    body: Bytes,
    route_key: String,
    params: Vec<(String, String)>,
    claims: Option<&Claims>,
    source_ip: IpAddr,
) -> lambda_http::Request {
    let path = parts.uri.path().to_owned();
    let query: QueryMap = match parts.uri.query() {
        Some(q) => q.parse().unwrap_or_default(),
        None => QueryMap::default(),
    };
    let path_params: HashMap<String, String> = params.into_iter().map(|(k, v)| (k, percent_decode(&v))).collect();

    let mut http_ctx = ApiGatewayV2httpRequestContextHttpDescription::default();
    http_ctx.method = parts.method.clone();
    http_ctx.path = Some(path.clone());
    http_ctx.protocol = Some(protocol(parts.version).to_owned());
    http_ctx.source_ip = Some(source_ip.to_string());
    http_ctx.user_agent = header_str(&parts.headers, header::USER_AGENT);

    let now = chrono::Utc::now();
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.route_key = Some(route_key);
    ctx.account_id = Some("000000000000".to_owned());
    ctx.apiid = Some("osflow-local".to_owned());
    ctx.stage = Some("$default".to_owned());
    ctx.request_id = Some(request_id(&now));
    ctx.domain_name = header_str(&parts.headers, header::HOST);
    ctx.time = Some(request_time(&now));
    ctx.time_epoch = now.timestamp_millis();
    ctx.http = http_ctx;
    ctx.authorizer = claims.map(authorizer);

    let body = if body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(body.into()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut req = http::Request::from_parts(parts, body);
    req.extensions_mut().clear();
    req.with_raw_http_path(path)
        .with_query_string_parameters(query)
        .with_path_parameters(path_params)
        .with_stage_variables(HashMap::<String, String>::new())
        .with_request_context(RequestContext::ApiGatewayV2(ctx))
}

/// The protocol as API Gateway names it in the request context.
fn protocol(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "HTTP/0.9",
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2.0",
        http::Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

/// A request id: a UUIDv7 of the time and random bits from the thread's generator (not a system call per
/// request, as `Uuid::now_v7` makes).
fn request_id(now: &chrono::DateTime<chrono::Utc>) -> String {
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or_default();
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random::<[u8; 10]>()).into_uuid().to_string()
}

/// The request time as API Gateway writes it (`04/Dec/2026:18:12:48 +0000`), without parsing a format string per
/// request.
fn request_time(now: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::{Datelike, Timelike};
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS[now.month0() as usize];
    format!("{:02}/{month}/{}:{:02}:{:02}:{:02} +0000", now.day(), now.year(), now.hour(), now.minute(), now.second())
}

/// The JWT authorizer's output: every claim as a string, an array claim as API Gateway renders it
/// (`"[representante atendente]"`).
fn authorizer(claims: &Claims) -> ApiGatewayRequestAuthorizer {
    let mut map = HashMap::with_capacity(6);
    map.insert("custom:tenant".to_owned(), claims.tenant.clone());
    map.insert("sub".to_owned(), claims.sub.clone());
    map.insert("cognito:groups".to_owned(), format!("[{}]", claims.groups.join(" ")));
    map.insert("iss".to_owned(), claims.iss.clone());
    map.insert("iat".to_owned(), claims.iat.to_string());
    map.insert("exp".to_owned(), claims.exp.to_string());
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims = map;
    let mut auth = ApiGatewayRequestAuthorizer::default();
    auth.jwt = Some(jwt);
    auth
}

fn header_str(headers: &http::HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// Decodes `%XX` escapes of a path segment (API Gateway hands path parameters decoded).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

/// No route has this path.
fn not_found(method: &Method, path: &str) -> Response<Body> {
    Problem::new(ProblemType::NotFound).with_detail(format!("Não existe a rota {method} {path}.")).into_response()
}

/// The path exists with other methods: 405 with `Allow`.
fn method_not_allowed(path: &str, allowed: &[&str]) -> Response<Body> {
    let allow = allowed.join(", ");
    let mut resp =
        Problem::new(ProblemType::MethodNotAllowed).with_detail(format!("{path} aceita {allow}.")).into_response();
    if let Ok(v) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// The authorizer's refusal: no token, an expired one, or one this installation did not sign. The same problem
/// type the handlers answer when claims are missing, so a client sees one 401 whatever refused it.
fn unauthorized(e: &TokenError) -> Response<Body> {
    let mut resp = Problem::new(ProblemType::Unauthenticated).with_detail(e.detail()).into_response();
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

/// The request body exceeds what API Gateway accepts.
pub fn payload_too_large() -> Response<Body> {
    Problem::new(ProblemType::PayloadTooLarge)
        .with_detail(format!("O corpo da requisição passa de {} MiB.", MAX_BODY / (1024 * 1024)))
        .into_response()
}

/// The request body could not be read (the client broke off, or a malformed chunked encoding).
pub fn payload_unreadable() -> Response<Body> {
    Problem::new(ProblemType::MalformedJson).with_detail("Não foi possível ler o corpo da requisição.").into_response()
}
