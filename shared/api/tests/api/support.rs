//! The harness: an `App` on the embedded SQLite store and a local blob folder, and requests built as API Gateway
//! (HTTP API, payload 2.0) delivers them — the event JSON, parsed by `lambda_http` itself.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::Body;
use lambda_http::http::HeaderMap;
use osflow_api::{Function, Matched, handle, resolve, route_key};
use osflow_app::{App, FiscalAdmin};
use osflow_invoicing::NfeChecks;
use osflow_lambda_kit::LocalBlobStore;
use osflow_store_sqlite::{SqliteOptions, SqliteStore};
use serde_json::{Value, json};

/// The instant the tests run at: before the dates of the reference example (2026-12-05, 2026-12-10).
pub const NOW: &str = "2026-11-20T12:00:00Z";

pub use osflow_testkit::TestClock;

/// A staff member as the JWT authorizer describes them.
#[derive(Debug, Clone)]
pub struct Who {
    pub tenant: String,
    pub user: String,
    /// `cognito:groups` exactly as API Gateway flattens it.
    pub groups: String,
}

impl Who {
    pub fn new(tenant: &str, user: &str, groups: &str) -> Who {
        Who { tenant: tenant.into(), user: user.into(), groups: groups.into() }
    }
    pub fn representante(tenant: &str) -> Who {
        Who::new(tenant, "rep-1", "[representante]")
    }
    pub fn atendente(tenant: &str) -> Who {
        Who::new(tenant, "front-1", "[atendente]")
    }
    pub fn tecnico(tenant: &str) -> Who {
        Who::new(tenant, "tech-1", "[tecnico]")
    }
    pub fn financeiro(tenant: &str) -> Who {
        Who::new(tenant, "fin-1", "[financeiro]")
    }
    /// Front desk and technician at once (a small shop's owner-operator).
    pub fn staff(tenant: &str) -> Who {
        Who::new(tenant, "ana", "[atendente tecnico financeiro]")
    }
}

pub const SHOP: &str = "oficina-do-ze";
pub const OTHER_SHOP: &str = "assistencia-sul";

pub struct Api {
    pub app: App,
    pub store: SqliteStore,
    pub blobs: LocalBlobStore,
    pub clock: Arc<TestClock>,
    /// Holds the database and the blobs; removed when the harness drops.
    _dir: tempfile::TempDir,
}

impl Api {
    pub fn new() -> Api {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteOptions { busy_timeout: Duration::from_millis(200), ..SqliteOptions::default() };
        let store = SqliteStore::open_with(dir.path().join("osflow.db"), options).expect("sqlite store");
        let blobs =
            LocalBlobStore::new(dir.path().join("blobs"), "http://127.0.0.1:3000/blobs", b"test-secret".to_vec());
        let clock = Arc::new(TestClock::parse(NOW));
        let store_arc = Arc::new(store.clone());
        let app = App::over(store_arc.clone())
            .with_blobs(Arc::new(blobs.clone()))
            .with_fiscal(FiscalAdmin { emitters: store_arc, checks: Arc::new(NfeChecks) })
            .with_clock(clock.clone());
        Api { app, store, blobs, clock, _dir: dir }
    }

    /// Sends a call to `handle` with every route (osflow-local's view).
    pub async fn send(&self, call: Call) -> Resp {
        self.send_to(None, call).await
    }

    /// Sends a call to `handle` as the Lambda of one function.
    pub async fn send_to(&self, only: Option<Function>, call: Call) -> Resp {
        let req = lambda_http::request::from_str(&call.event().to_string()).expect("a valid API Gateway event");
        let response = handle(&self.app, only, req).await;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = match response.into_body() {
            Body::Empty => String::new(),
            Body::Text(t) => t,
            // A PDF: its bytes as Latin-1 characters, enough to check its header.
            Body::Binary(b) if b.starts_with(b"%PDF-") => b.iter().map(|&c| char::from(c)).collect(),
            Body::Binary(b) => String::from_utf8(b).expect("utf-8 body"),
            _ => panic!("unexpected body kind"),
        };
        Resp { status, headers, body }
    }

    pub async fn open(&self, who: &Who, body: &Value) -> Resp {
        let r = self.send(Call::post("/v1/orders", body).by(who)).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r
    }

    /// Opens the reference example order and returns its id.
    pub async fn open_example(&self, who: &Who) -> String {
        self.open(who, &example_order()).await.json()["id"].as_str().unwrap().to_owned()
    }

    /// A step that must succeed; returns the order.
    pub async fn ok(&self, who: &Who, method: &str, path: &str, body: &str) -> Value {
        let r = self.send(Call::new(method, path).raw_body(body).by(who)).await;
        assert!(r.status == 200 || r.status == 201, "{method} {path}: {} {}", r.status, r.body);
        r.json()
    }

    pub async fn get(&self, who: &Who, path: &str) -> Resp {
        self.send(Call::get(path).by(who)).await
    }

    /// The order as the API shows it.
    pub async fn order(&self, who: &Who, id: &str) -> Value {
        let r = self.get(who, &format!("/v1/orders/{id}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    pub async fn version(&self, id: &str) -> u64 {
        self.order(&Who::staff(SHOP), id).await["version"].as_u64().unwrap()
    }
}

/// One HTTP call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub who: Option<Who>,
    /// Overrides the route key API Gateway would put (e.g. `$default`).
    pub route_key: Option<String>,
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
            route_key: None,
        }
    }
    pub fn get(path: &str) -> Call {
        Call::new("GET", path)
    }
    pub fn post(path: &str, body: &Value) -> Call {
        Call::new("POST", path).json(body)
    }
    pub fn by(mut self, who: &Who) -> Call {
        self.who = Some(who.clone());
        self
    }
    pub fn json(self, body: &Value) -> Call {
        self.raw_body(&body.to_string())
    }
    pub fn raw_body(mut self, body: &str) -> Call {
        self.body = Some(body.to_owned());
        if !self.headers.iter().any(|(k, _)| k == "content-type") {
            self.headers.push(("content-type".into(), "application/json".into()));
        }
        self
    }
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

    /// The API Gateway HTTP API (payload 2.0) event of this call. The route key and path parameters are what API
    /// Gateway matches (`$default` with no parameters for a path of no route).
    pub fn event(&self) -> Value {
        let (route_key, params) = match resolve(&self.method, &self.path) {
            Matched::Route(r, params) => (route_key(r), params),
            _ => ("$default".to_owned(), vec![]),
        };
        let route_key = self.route_key.clone().unwrap_or(route_key);
        let path_parameters: serde_json::Map<String, Value> =
            params.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
        let raw_query =
            self.query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let headers: serde_json::Map<String, Value> =
            self.headers.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let authorizer = self.who.as_ref().map(|w| {
            json!({"jwt": {"claims": {
                "custom:tenant": w.tenant, "sub": w.user, "cognito:groups": w.groups,
                "iss": "https://cognito-idp.sa-east-1.amazonaws.com/sa-east-1_test", "token_use": "id"
            }, "scopes": null}})
        });
        let mut ctx = json!({
            "accountId": "123456789012",
            "apiId": "osflowapi",
            "domainName": "osflowapi.execute-api.sa-east-1.amazonaws.com",
            "domainPrefix": "osflowapi",
            "http": {"method": self.method, "path": self.path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "osflow-tests"},
            "requestId": "req-test",
            "routeKey": route_key,
            "stage": "$default",
            "time": "20/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1_795_176_000_000u64,
        });
        if let Some(a) = authorizer {
            ctx["authorizer"] = a;
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
}

fn encode(s: &str) -> String {
    osflow_lambda_kit::blob::percent_encode(s)
}

/// A response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts an `application/problem+json` of this status and type, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16, kind: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"), "{}", self.body);
        let p = self.json();
        assert_eq!(p["type"], format!("/problems/{kind}"), "{}", self.body);
        assert_eq!(p["status"], status);
        assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()));
        p
    }

    /// Asserts a problem naming `field`.
    #[track_caller]
    pub fn problem_at(&self, status: u16, kind: &str, field: &str) -> Value {
        let p = self.problem(status, kind);
        assert_eq!(p["field"], field, "{}", self.body);
        p
    }
}

pub use osflow_testkit::example_order;

/// The example order with edits.
pub fn order_with(edit: impl FnOnce(&mut Value)) -> Value {
    let mut v = example_order();
    edit(&mut v);
    v
}
