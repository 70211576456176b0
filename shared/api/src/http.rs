//! The request as handlers see it ([`Cx`]) and the responses they send.

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use osflow_app::{App, Caller, Idempotency, Rendered};
use osflow_domain::values::OrderId;
use osflow_lambda_kit::idempotency::IDEMPOTENT_REPLAYED;
use osflow_lambda_kit::{Problem, ProblemType};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::errors::{MAX_BODY_BYTES, parse_json};
use crate::routes::Route;

/// What a handler answers: the response, or the problem to send.
pub(crate) type Res = Result<Response<Body>, Problem>;

/// The document the API serves: the committed `openapi.json`, embedded. Serving the file rather than generating
/// it at run time keeps the generator (utoipa's schema code) out of the Lambda binaries; a test makes sure the
/// file is the generated document.
pub const SERVED_OPENAPI: &str = include_str!("../../../openapi.json");

/// One request on its way through a handler.
pub(crate) struct Cx<'a> {
    pub app: &'a App,
    pub req: &'a Request,
    pub route: &'static Route,
    /// Path parameters, decoded.
    pub params: Vec<(String, String)>,
    /// The request path (without stage or query).
    pub path: String,
}

impl Cx<'_> {
    /// The caller from the JWT claims (401 without them); recorded on the request span.
    pub fn caller(&self) -> Result<Caller, Problem> {
        let caller = osflow_lambda_kit::caller_from_request(self.req)?;
        let span = tracing::Span::current();
        span.record("tenant", caller.tenant.as_str());
        span.record("user", caller.user.as_str());
        Ok(caller)
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The `{id}` of the path. An id that cannot exist is 404, like an unknown one.
    pub fn order_id(&self) -> Result<OrderId, Problem> {
        let id = self
            .param("id")
            .and_then(|s| OrderId::parse(s).ok())
            .ok_or_else(|| Problem::new(ProblemType::NotFound).with_detail("OS não encontrada"))?;
        tracing::Span::current().record("order_id", tracing::field::display(&id));
        Ok(id)
    }

    pub fn query(&self) -> QueryMap {
        match self.req.query_string_parameters_ref() {
            Some(q) if !q.is_empty() => q.clone(),
            _ => self.req.uri().query().unwrap_or_default().parse().unwrap_or_default(),
        }
    }

    /// The body bytes: 413 over 1 MiB, 415 when a non-JSON content type is declared.
    pub fn body(&self) -> Result<&[u8], Problem> {
        let body: &[u8] = self.req.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return Err(Problem::new(ProblemType::PayloadTooLarge)
                .with_detail(format!("o corpo tem {} bytes; o limite é {MAX_BODY_BYTES}", body.len())));
        }
        if let Some(ct) = self.req.headers().get(header::CONTENT_TYPE)
            && !body.is_empty()
        {
            let essence =
                ct.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            if essence != "application/json" && !essence.ends_with("+json") {
                return Err(Problem::new(ProblemType::UnsupportedMediaType)
                    .with_field("Content-Type")
                    .with_detail("envie o corpo como application/json"));
            }
        }
        Ok(body)
    }

    /// The body parsed into `T` (see [`parse_json`]); the body of a PUT or PATCH is required (see
    /// [`Cx::required_json`]).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        if matches!(self.route.method, "PUT" | "PATCH") {
            return self.required_json();
        }
        parse_json(self.body()?)
    }

    /// The body of a PUT or PATCH, parsed into `T`: it replaces or changes a resource, so a missing body, or an
    /// empty object, is refused (422) rather than read as "everything default".
    pub fn required_json<T: DeserializeOwned>(&self) -> Result<T, Problem> {
        let body = self.body()?;
        let empty = body.iter().all(u8::is_ascii_whitespace)
            || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body).is_ok_and(|m| m.is_empty());
        if empty {
            return Err(Problem::new(ProblemType::InvalidField)
                .with_detail("envie o corpo da requisição: um objeto JSON com os campos do recurso"));
        }
        parse_json(body)
    }

    /// The `Idempotency-Key` with the hash of this request, scoped to the caller and the route: the same key of
    /// another user, or on another route, is another key.
    pub fn idempotency(&self) -> Result<Option<Idempotency>, Problem> {
        let body: &[u8] = self.req.body().as_ref();
        let caller = osflow_lambda_kit::caller_from_request(self.req)?;
        let scope = format!("{}|{}", caller.user.as_str(), self.route.operation);
        osflow_lambda_kit::idempotency(self.req.headers(), &scope, self.route.method, &self.path, body)
    }

    /// Checks the headers of a write (`Idempotency-Key`, `If-Match`), whatever the route does with them.
    pub fn write_headers(&self) -> Result<(), Problem> {
        osflow_lambda_kit::idempotency_key(self.req.headers())?;
        self.if_match()?;
        Ok(())
    }

    pub fn if_match(&self) -> Result<Option<u64>, Problem> {
        osflow_lambda_kit::if_match(self.req.headers())
    }
}

/// The JSON of a response body.
pub(crate) fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).expect("views serialize")
}

/// A rendered response body for the use cases to save with the write.
pub(crate) fn rendered(status: u16, value: &impl Serialize) -> Rendered {
    Rendered { status, body: to_json(value) }
}

/// A JSON response, with the `ETag` of `version` when given.
pub(crate) fn json_response(status: u16, body: String, version: Option<u64>) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(v) = version {
        builder = builder.header(header::ETAG, osflow_lambda_kit::etag(v));
    }
    builder.body(Body::Text(body)).expect("valid response")
}

/// Adds a header to a response.
pub(crate) fn with_header(mut response: Response<Body>, name: header::HeaderName, value: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, v);
    }
    response
}

/// The response saved for an earlier identical request, byte for byte, marked `Idempotent-Replayed: true`; the
/// `ETag` (and `Location` of a created order) are derived from the saved body.
pub(crate) fn replayed(r: Rendered, location_of_created_order: bool) -> Response<Body> {
    let saved: Option<serde_json::Value> = serde_json::from_str(&r.body).ok();
    let version = saved.as_ref().and_then(|v| v.get("version").or_else(|| v.pointer("/order/version"))?.as_u64());
    let id = saved.as_ref().and_then(|v| v.get("id")?.as_str().map(str::to_owned));
    let mut response = json_response(r.status, r.body, version);
    response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    if location_of_created_order && let Some(id) = id {
        response = with_header(response, header::LOCATION, &format!("/v1/orders/{id}"));
    }
    response
}

/// Decodes `%XX` escapes of a path segment (invalid escapes are kept as they are).
pub(crate) fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("529.982.247-25"), "529.982.247-25");
        assert_eq!(percent_decode("12.ABC.345%2F01DE-35"), "12.ABC.345/01DE-35");
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }

    #[test]
    fn replay_restores_etag_and_location() {
        let r = Rendered { status: 201, body: r#"{"id":"abc","version":3}"#.into() };
        let response = replayed(r, true);
        assert_eq!(response.status(), 201);
        assert_eq!(response.headers()[header::ETAG], "\"3\"");
        assert_eq!(response.headers()[header::LOCATION], "/v1/orders/abc");
        assert_eq!(response.headers()[IDEMPOTENT_REPLAYED], "true");
        let Body::Text(body) = response.body() else { panic!() };
        assert_eq!(body, r#"{"id":"abc","version":3}"#);
    }
}
