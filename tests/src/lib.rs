//! Helpers of osflow's system tests: the App over the DynamoDB store on the local emulator (a fresh table per
//! harness), and requests shaped as API Gateway (HTTP API, payload 2.0, JWT authorizer) delivers them to the
//! Lambda function that owns the route.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use lambda_http::http::{self, HeaderMap, StatusCode};
use lambda_http::{Body, RequestExt};
use osflow_api::Function;
use osflow_app::App;
use osflow_domain::Role;
use osflow_lambda_kit::LocalBlobStore;
use osflow_store_dynamodb::{DynamoStore, create_table, table_definition};
use serde_json::Value;

pub mod cost;

/// What every failure to reach the emulator says.
const HOW_TO_RUN: &str = "the DynamoDB system tests need the local AWS emulator: run scripts/test (it starts and \
    stops it), or `scripts/emulator start` and export AWS_ENDPOINT_URL=http://127.0.0.1:45660 AWS_REGION=us-east-1 \
    AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing";

/// Fails the test, with the way to run it, unless the emulator answers at `AWS_ENDPOINT_URL`.
pub async fn require_emulator() -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL is not set; {HOW_TO_RUN}"));
    let authority = endpoint
        .split_once("://")
        .map_or(endpoint.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let connect = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(authority.clone()));
    match connect.await {
        Ok(Ok(_)) => endpoint,
        Ok(Err(e)) => panic!("the emulator at {endpoint} is unreachable ({e}); {HOW_TO_RUN}"),
        Err(_) => panic!("the emulator at {endpoint} did not answer; {HOW_TO_RUN}"),
    }
}

/// The caller a JWT of this tenant, user and roles makes.
#[derive(Debug, Clone)]
pub struct Who {
    pub tenant: String,
    pub user: String,
    pub roles: Vec<Role>,
}

impl Who {
    pub fn new(tenant: &str, user: &str, roles: &[Role]) -> Who {
        Who { tenant: tenant.to_owned(), user: user.to_owned(), roles: roles.to_vec() }
    }
}

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
            .unwrap_or_else(|e| panic!("creating table {table} on the emulator: {e}; {HOW_TO_RUN}"));
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
    let method: http::Method = method.parse().expect("an HTTP method");
    let claims = who.map(|w| osflow_lambda_kit::claims_of(&w.tenant, &w.user, &w.roles));
    let context = osflow_lambda_kit::api_gateway_context(
        &osflow_api::route_key(route),
        method.clone(),
        path,
        Some("127.0.0.1"),
        claims,
    );
    let mut builder = http::Request::builder().method(method).uri(path_and_query);
    builder = builder.header(http::header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = body.map_or(Body::Empty, |b| Body::Text(b.to_string()));
    let query: lambda_http::aws_lambda_events::query_map::QueryMap = query.parse().unwrap_or_default();
    let req = builder
        .body(body)
        .expect("a valid request")
        .with_raw_http_path(path)
        .with_path_parameters(params.into_iter().collect::<HashMap<String, String>>())
        .with_query_string_parameters(query)
        .with_request_context(context);
    (route.function, req)
}
