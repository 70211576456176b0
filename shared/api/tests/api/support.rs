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
use serde_json::Value;

/// The instant the tests run at: before the dates of the reference example (2026-12-05, 2026-12-10).
pub const NOW: &str = "2026-11-20T12:00:00Z";

pub use osflow_testkit::TestClock;

pub use osflow_testkit::{Call, Who};

pub const SHOP: &str = "oficina-do-ze";
/// The harness App's read cache.
pub const READ_CACHE_BYTES: usize = 4 * 1024 * 1024;
pub const OTHER_SHOP: &str = "assistencia-sul";

pub struct Api {
    pub app: App,
    pub store: SqliteStore,
    pub blobs: LocalBlobStore,
    pub clock: Arc<TestClock>,
    /// The company's users (the development users osflow-local knows).
    pub users: Arc<osflow_lambda_kit::DevelopmentUsers>,
    /// Holds the database and the blobs; removed when the harness drops.
    _dir: tempfile::TempDir,
}

impl Api {
    pub fn new() -> Api {
        let dir = tempfile::tempdir().expect("temp dir");
        let options = SqliteOptions {
            busy_timeout: Duration::from_millis(200),
            // The secrets (A1 passwords, unlock codes) sealed, as osflow-local keeps them.
            secrets_key: Some(osflow_store_sqlite::SecretsKey::derive(b"the api tests' key")),
            ..SqliteOptions::default()
        };
        let store = SqliteStore::open_with(dir.path().join("osflow.db"), options).expect("sqlite store");
        let blobs =
            LocalBlobStore::new(dir.path().join("blobs"), "http://127.0.0.1:3000/blobs", b"test-secret".to_vec());
        let clock = Arc::new(TestClock::parse(NOW));
        let store_arc = Arc::new(store.clone());
        let users = Arc::new(osflow_lambda_kit::DevelopmentUsers::in_memory());
        let app = App::over(store_arc.clone())
            .with_blobs(Arc::new(blobs.clone()))
            .with_fiscal(FiscalAdmin { emitters: store_arc, checks: Arc::new(NfeChecks) })
            .with_clock(clock.clone())
            // As osflow-local answers: every test's reads after its writes check that nothing stale is served.
            .with_read_cache(READ_CACHE_BYTES)
            .with_users(users.clone());
        Api { app, store, blobs, clock, users, _dir: dir }
    }

    /// Sends a call to `handle` with every route (osflow-local's view).
    pub async fn send(&self, call: Call) -> Resp {
        self.send_to(None, call).await
    }

    /// Sends a call to `handle` as the Lambda of one function.
    pub async fn send_to(&self, only: Option<Function>, call: Call) -> Resp {
        send_with(&self.app, only, call).await
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

    /// The example order opened and walked to its release (paid in full by PIX); returns its id.
    pub async fn released_example(&self, who: &Who) -> String {
        let id = self.open_example(who).await;
        for (step, body) in [
            ("quote/send", "{}"),
            ("quote/decision", r#"{"decision": "approve"}"#),
            ("start", "{}"),
            ("finish", "{}"),
            ("validation", r#"{"checklist": [{"item": "Liga", "ok": true}], "extra_items": []}"#),
            ("payment/request", "{}"),
            ("payments", r#"{"amount": "269.90", "method": "pix"}"#),
            ("release", "{}"),
        ] {
            self.ok(who, "POST", &format!("/v1/orders/{id}/{step}"), body).await;
        }
        id
    }

    /// A step that must succeed; returns the order.
    pub async fn ok(&self, who: &Who, method: &str, path: &str, body: &str) -> Value {
        let r = self.send(Call::new(method, path).raw_body(body).by(who)).await;
        assert!(r.status == 200 || r.status == 201, "{method} {path}: {} {}", r.status, r.body);
        r.json()
    }

    /// Every item of a paginated list: `call` sent again with each page's `next_cursor` until there is none.
    pub async fn all_pages(&self, call: Call) -> Vec<Value> {
        let mut items = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let mut page_call = call.clone();
            if let Some(c) = &cursor {
                page_call = page_call.query("cursor", c);
            }
            let r = self.send(page_call).await;
            assert_eq!(r.status, 200, "{}", r.body);
            let page = r.json();
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => return items,
            }
        }
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

/// Sends a call to `handle` on `app` (`only`: as the Lambda of one function).
pub async fn send_with(app: &App, only: Option<Function>, call: Call) -> Resp {
    let response = handle(app, only, routed(call).request()).await;
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

/// The call with the route API Gateway matches for it (none: `$default`).
pub fn routed(call: Call) -> Call {
    match resolve(&call.method, &call.path) {
        Matched::Route(r, params) => call.route(route_key(r), params),
        _ => call,
    }
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
