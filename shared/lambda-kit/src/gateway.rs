//! The HTTP API's Lambda integration (payload format 2.0), the one loop every HTTP function runs: the event is
//! turned into a `Request` by `lambda_http` (headers, query string, path parameters, the JWT authorizer's claims,
//! the Lambda context), and the handler's `Response` into the integration's answer here.
//!
//! Not `lambda_http::run`: its answer passes every body through a character-set conversion (any WHATWG encoding
//! named by the `Content-Type`), which links `encoding_rs`'s tables (≈ 0.16 MB) into every function, while osflow
//! answers UTF-8 only. Here a text body is sent as it is, and bytes as base64 (`isBase64Encoded`) unless they are
//! UTF-8 text of a textual content type, as `lambda_http` does for UTF-8.

use std::convert::Infallible;
use std::future::Future;

use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::http::header::{CONTENT_ENCODING, CONTENT_TYPE, SET_COOKIE};
use lambda_http::http::{HeaderMap, HeaderValue};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Error, LambdaEvent, Request, RequestExt, Response, service_fn};

/// Serves `handler` until the runtime stops: one invocation of the HTTP API at a time.
pub async fn run<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let handler = &handler;
    lambda_http::lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
        Ok::<_, Infallible>(answer(handler(request(event)).await))
    }))
    .await
}

/// The request of an invocation: `lambda_http`'s mapping of the event, the Lambda context in its extensions and
/// the X-Ray trace id as `x-amzn-trace-id`.
pub fn request(event: LambdaEvent<ApiGatewayV2httpRequest>) -> Request {
    let LambdaEvent { payload, context } = event;
    let mut request: Request = LambdaRequest::ApiGatewayV2(payload).into();
    if let Some(trace) = context.xray_trace_id.as_deref()
        && let Ok(value) = HeaderValue::from_str(trace)
    {
        request.headers_mut().insert("x-amzn-trace-id", value);
    }
    request.with_lambda_context(context)
}

/// The integration's answer to `response`: `Set-Cookie` headers in `cookies` (the HTTP API sends each as its own
/// header), other headers as they are, and the body as text or base64.
pub fn answer(response: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = response.into_parts();
    let mut headers = parts.headers;
    let cookies = headers.get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    headers.remove(SET_COOKIE);
    let body = match body {
        Body::Binary(bytes) if is_text(&headers) => match String::from_utf8(bytes) {
            Ok(text) => Body::Text(text),
            Err(not_text) => Body::Binary(not_text.into_bytes()),
        },
        other => other,
    };
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.is_base64_encoded = matches!(body, Body::Binary(_));
    answer.body = match body {
        Body::Empty => None,
        body => Some(body),
    };
    answer.cookies = cookies;
    answer.headers = headers;
    answer.multi_value_headers = HeaderMap::new();
    answer
}

/// Whether the body's bytes are text to the client: a textual content type and no content encoding.
fn is_text(headers: &HeaderMap) -> bool {
    if headers.contains_key(CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return true };
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime.starts_with("text/")
        || ["application/json", "application/javascript", "application/xml", "image/svg+xml"].contains(&mime.as_str())
        || ["+json", "+xml", "+yaml"].iter().any(|suffix| mime.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;

    fn response(content_type: Option<&str>, body: Body) -> Response<Body> {
        let mut builder = Response::builder().status(StatusCode::CREATED);
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        builder.body(body).unwrap()
    }

    #[test]
    fn text_stays_text_and_bytes_go_as_base64() {
        let json = answer(response(Some("application/problem+json"), Body::from("{\"a\":\"ç\"}")));
        assert_eq!((json.status_code, json.is_base64_encoded), (201, false));
        assert_eq!(json.body, Some(Body::Text("{\"a\":\"ç\"}".into())));
        assert_eq!(json.headers[CONTENT_TYPE], "application/problem+json");

        // UTF-8 bytes of a textual type are sent as text; a PDF, or bytes that are not UTF-8, as base64.
        let csv = answer(response(Some("text/csv; charset=utf-8"), Body::from("a;b\n".as_bytes().to_vec())));
        assert_eq!((csv.body, csv.is_base64_encoded), (Some(Body::Text("a;b\n".into())), false));
        let pdf = answer(response(Some("application/pdf"), Body::from(b"%PDF-1.7".to_vec())));
        assert_eq!((pdf.body, pdf.is_base64_encoded), (Some(Body::Binary(b"%PDF-1.7".to_vec())), true));
        let latin1 = answer(response(Some("text/plain"), Body::from(vec![0xe7_u8])));
        assert_eq!((latin1.body, latin1.is_base64_encoded), (Some(Body::Binary(vec![0xe7])), true));
        let gzip = answer(
            Response::builder()
                .header(CONTENT_TYPE, "application/json")
                .header(CONTENT_ENCODING, "gzip")
                .body(Body::from(b"{}".to_vec()))
                .unwrap(),
        );
        assert!(gzip.is_base64_encoded);

        let empty = answer(response(None, Body::Empty));
        assert_eq!((empty.body, empty.is_base64_encoded), (None, false));
    }

    #[test]
    fn cookies_leave_the_headers() {
        let r = Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header("location", "/")
            .header(SET_COOKIE, "a=1; HttpOnly")
            .header(SET_COOKIE, "b=2; Secure")
            .body(Body::Empty)
            .unwrap();
        let answer = answer(r);
        assert_eq!(answer.cookies, vec!["a=1; HttpOnly".to_owned(), "b=2; Secure".to_owned()]);
        assert!(!answer.headers.contains_key(SET_COOKIE));
        assert_eq!(answer.headers["location"], "/");
        assert_eq!(answer.status_code, 303);
    }

    #[test]
    fn an_event_becomes_a_request_with_its_context() {
        let event: ApiGatewayV2httpRequest = serde_json::from_value(serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /v1/orders/{id}/close",
            "rawPath": "/v1/orders/0190/close",
            "rawQueryString": "a=1&b=%C3%A7",
            "headers": {"content-type": "application/json", "if-match": "\"3\""},
            "queryStringParameters": {"a": "1", "b": "ç"},
            "pathParameters": {"id": "0190"},
            "requestContext": {
                "accountId": "1", "apiId": "api", "domainName": "api.example", "domainPrefix": "api",
                "http": {"method": "POST", "path": "/v1/orders/0190/close", "protocol": "HTTP/1.1",
                         "sourceIp": "192.0.2.1", "userAgent": "t"},
                "requestId": "r1", "routeKey": "POST /v1/orders/{id}/close", "stage": "$default",
                "time": "05/Dec/2026:05:00:00 +0000", "timeEpoch": 0,
                "authorizer": {"jwt": {"claims": {"sub": "u1", "custom:tenant": "acme"}, "scopes": null}}
            },
            "body": "e30=",
            "isBase64Encoded": true
        }))
        .unwrap();
        let mut context = lambda_http::Context::default();
        context.xray_trace_id = Some("Root=1-abc".into());
        let request = request(LambdaEvent::new(event, context));
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), "/v1/orders/0190/close");
        assert_eq!(request.headers()["if-match"], "\"3\"");
        assert_eq!(request.headers()["x-amzn-trace-id"], "Root=1-abc");
        assert_eq!(request.body().as_ref(), b"{}");
        assert_eq!(request.path_parameters().first("id"), Some("0190"));
        assert_eq!(request.query_string_parameters().first("b"), Some("ç"));
        assert_eq!(request.lambda_context_ref().and_then(|c| c.xray_trace_id.as_deref()), Some("Root=1-abc"));
        let Some(lambda_http::request::RequestContext::ApiGatewayV2(context)) = request.request_context_ref() else {
            panic!("no API Gateway context")
        };
        let claims = &context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).expect("jwt").claims;
        assert_eq!(claims.get("custom:tenant").map(String::as_str), Some("acme"));
    }
}
