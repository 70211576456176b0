//! One builder of API-Gateway-shaped requests: [`Call`] is an HTTP call as API Gateway (HTTP API, payload 2.0,
//! JWT authorizer) delivers it to a function — the event JSON ([`Call::event`]), parsed by `lambda_http` itself
//! into the `Request` a handler gets ([`Call::request`]).
//!
//! The route key and path parameters are what API Gateway matched; the route table is the API's, so the caller
//! names them ([`Call::route`], from `osflow_api::match_route`); a call with none goes to `$default`.

use serde_json::{Value, json};

use crate::caller::Who;

/// The address API Gateway saw the client at.
pub const SOURCE_IP: &str = "203.0.113.7";

/// The user agent of a call that sends no `user-agent` header.
const DEFAULT_USER_AGENT: &str = "osflow-tests";

/// One HTTP call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub who: Option<Who>,
    /// The route key API Gateway matched and its path parameters (`None`: `$default`, no parameters).
    pub route: Option<(String, Vec<(String, String)>)>,
    /// Overrides the route key (e.g. `$default` for a call API Gateway would match).
    pub route_key: Option<String>,
    /// The `domainName` of the request context.
    pub domain: String,
}

impl Call {
    pub fn new(method: &str, path: &str) -> Call {
        Call {
            method: method.into(),
            path: path.into(),
            query: vec![],
            headers: vec![],
            body: None,
            who: None,
            route: None,
            route_key: None,
            domain: "osflowapi.execute-api.sa-east-1.amazonaws.com".into(),
        }
    }

    pub fn get(path: &str) -> Call {
        Call::new("GET", path)
    }

    pub fn post(path: &str, body: &Value) -> Call {
        Call::new("POST", path).json(body)
    }

    /// With the JWT authorizer's claims of `who`.
    pub fn by(mut self, who: &Who) -> Call {
        self.who = Some(who.clone());
        self
    }

    pub fn json(self, body: &Value) -> Call {
        self.raw_body(&body.to_string())
    }

    /// A body as it is; `content-type: application/json` unless the call names another.
    pub fn raw_body(mut self, body: &str) -> Call {
        self.body = Some(body.to_owned());
        if !self.headers.iter().any(|(k, _)| k == "content-type") {
            self.headers.push(("content-type".into(), "application/json".into()));
        }
        self
    }

    /// A header (names lower-cased, as API Gateway sends them; a second value replaces the first).
    pub fn header(mut self, name: &str, value: &str) -> Call {
        let name = name.to_ascii_lowercase();
        self.headers.retain(|(k, _)| *k != name);
        self.headers.push((name, value.into()));
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Call {
        self.query.push((name.into(), value.into()));
        self
    }

    pub fn idem(self, key: &str) -> Call {
        self.header("Idempotency-Key", key)
    }

    pub fn if_match(self, etag: &str) -> Call {
        self.header("If-Match", etag)
    }

    /// The route API Gateway matched (`"POST /v1/orders/{id}/start"`) and its path parameters.
    pub fn route(mut self, key: String, params: Vec<(String, String)>) -> Call {
        self.route = Some((key, params));
        self
    }

    /// The payload 2.0 event of this call.
    pub fn event(&self) -> Value {
        let (matched, params) = self.route.clone().unwrap_or_else(|| ("$default".to_owned(), vec![]));
        let route_key = self.route_key.clone().unwrap_or(matched);
        let path_parameters: serde_json::Map<String, Value> =
            params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let raw_query =
            self.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let headers: serde_json::Map<String, Value> =
            self.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let user_agent =
            self.headers.iter().find(|(k, _)| k == "user-agent").map_or(DEFAULT_USER_AGENT, |(_, v)| v.as_str());
        let mut ctx = json!({
            "accountId": "123456789012",
            "apiId": "osflowapi",
            "domainName": self.domain,
            "domainPrefix": "osflowapi",
            "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": SOURCE_IP,
                     "userAgent": user_agent},
            "requestId": "req-test",
            "routeKey": route_key,
            "stage": "$default",
            "time": "20/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_795_176_000_000u64,
        });
        if let Some(who) = &self.who {
            ctx["authorizer"] = json!({"jwt": {"claims": who.claims(), "scopes": null}});
        }
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": ctx,
            "isBase64Encoded": false,
        });
        if !path_parameters.is_empty() {
            event["pathParameters"] = Value::Object(path_parameters);
        }
        if let Some(b) = &self.body {
            event["body"] = Value::String(b.clone());
        }
        event
    }

    /// The request a function's handler gets for this call: [`Call::event`] parsed by `lambda_http`.
    pub fn request(&self) -> lambda_http::Request {
        lambda_http::request::from_str(&self.event().to_string()).expect("a valid API Gateway event")
    }
}

fn encode(s: &str) -> String {
    osflow_lambda_kit::blob::percent_encode(s)
}
