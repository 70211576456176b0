//! Helpers of osflow's system tests: the App over the DynamoDB store on the local emulator (a fresh table per
//! harness), and requests shaped as API Gateway (HTTP API, payload 2.0, JWT authorizer) delivers them to the
//! Lambda function that owns the route.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderMap, StatusCode};
use osflow_api::Function;
use osflow_app::App;
use osflow_lambda_kit::LocalBlobStore;
use osflow_store_dynamodb::{DynamoStore, create_table, table_definition};
use osflow_testkit::Call;
pub use osflow_testkit::Who;
use osflow_testkit::emulator::{RUN_SCRIPTS_TEST, require_emulator};
use serde_json::Value;

pub mod cost;

/// A response, its body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The body, after checking the status.
    pub fn expect(self, status: StatusCode) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        self.body
    }
}

/// The App over a fresh DynamoDB table on the emulator.
#[derive(Debug)]
pub struct DynamoHarness {
    pub app: App,
    pub store: DynamoStore,
    _files: tempfile::TempDir,
}

impl DynamoHarness {
    /// Creates a table named after a fresh id and wires the App over it as a function's `main.rs` does.
    pub async fn new() -> DynamoHarness {
        DynamoHarness::over(None).await
    }

    /// A harness whose DynamoDB requests go through a [`cost::Meter`] (requests counted, writes billed).
    pub async fn metered() -> (DynamoHarness, cost::Meter) {
        let table = format!("osflow-system-{}", uuid::Uuid::now_v7().simple());
        let meter = cost::Meter::new(table_definition(&table));
        let h = DynamoHarness::over(Some((table, meter.clone()))).await;
        meter.take();
        (h, meter)
    }

    async fn over(metered: Option<(String, cost::Meter)>) -> DynamoHarness {
        require_emulator().await;
        let (table, meter) = match metered {
            Some((table, meter)) => (table, Some(meter)),
            None => (format!("osflow-system-{}", uuid::Uuid::now_v7().simple()), None),
        };
        let config = osflow_store_dynamodb::load_sdk_config().await;
        let mut client = aws_sdk_dynamodb::config::Builder::from(&config);
        if let Some(meter) = meter {
            client = client.interceptor(meter);
        }
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(client.build()), table.clone());
        create_table(store.client(), &table_definition(&table), Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| panic!("creating table {table} on the emulator: {e}; {RUN_SCRIPTS_TEST}"));
        let files = tempfile::tempdir().expect("a temporary folder for files");
        let blobs = LocalBlobStore::new(files.path(), "http://127.0.0.1/blobs", b"system tests".to_vec());
        let shared = Arc::new(store.clone());
        let app = App::over(shared).with_blobs(Arc::new(blobs)).with_flow_cache();
        DynamoHarness { app, store, _files: files }
    }

    /// Deletes the table.
    pub async fn drop_table(&self) {
        self.store
            .client()
            .delete_table()
            .table_name(self.store.table())
            .send()
            .await
            .unwrap_or_else(|e| panic!("deleting table {}: {e}", self.store.table()));
    }

    /// Sends the request to the Lambda function that owns its route, as API Gateway would.
    pub async fn call(&self, who: Option<&Who>, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let (function, req) = gateway_request(who, method, path, body, &[]);
        self.call_function(function, req).await
    }

    /// Sends an API Gateway-shaped request to one function.
    pub async fn call_function(&self, function: Function, req: lambda_http::Request) -> Reply {
        let resp = osflow_api::handle(&self.app, Some(function), req).await;
        let (parts, body) = resp.into_parts();
        let bytes: &[u8] = body.as_ref();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
        };
        Reply { status: parts.status, headers: parts.headers, body }
    }
}

/// The request API Gateway hands a function for `method path` (a path with an optional query string): the
/// route key, path and query string parameters, the JWT authorizer's claims when `who` is given. Returns the
/// function that owns the route. Panics for a path that matches no route.
pub fn gateway_request(
    who: Option<&Who>,
    method: &str,
    path_and_query: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (Function, lambda_http::Request) {
    let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
    let (route, params) = osflow_api::match_route(method, path).unwrap_or_else(|| panic!("no route {method} {path}"));
    let mut call = Call::new(method, path).route(osflow_api::route_key(route), params);
    let query: QueryMap = query.parse().unwrap_or_default();
    for (name, value) in query.iter() {
        call = call.query(name, value);
    }
    for (name, value) in headers {
        call = call.header(name, value);
    }
    if let Some(who) = who {
        call = call.by(who);
    }
    if let Some(body) = body {
        call = call.json(body);
    }
    (route.function, call.request())
}
