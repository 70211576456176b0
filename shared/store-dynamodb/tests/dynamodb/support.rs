//! The emulator plumbing both modules share: the endpoint check, unique names, a fresh table, and the HTTP client
//! that lets one request at a time reach the emulator.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use osflow_app::StoreError;
use osflow_store_dynamodb::{create_table, table_definition};

pub const RUN_SCRIPTS_TEST: &str = "these tests need the AWS emulator (DynamoDB, Secrets Manager): run \
                                    `scripts/test` (or `scripts/emulator start` and export \
                                    AWS_ENDPOINT_URL=http://127.0.0.1:45660, AWS_REGION, AWS_ACCESS_KEY_ID and \
                                    AWS_SECRET_ACCESS_KEY as scripts/test does)";

/// A name no other test, process or run uses: `<prefix>-<pid>-<nanos>-<n>`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Fails (panics) with [`RUN_SCRIPTS_TEST`] when no emulator endpoint is configured.
pub fn require_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!("AWS_ENDPOINT_URL is not set; {RUN_SCRIPTS_TEST}"),
    }
}

/// Creates a fresh table through the single [`table_definition`]; a connection failure fails the test with
/// [`RUN_SCRIPTS_TEST`].
pub async fn create_fresh_table(client: &Client, endpoint: &str) -> String {
    let name = unique("osflow-test");
    match create_table(client, &table_definition(&name), Duration::from_secs(30)).await {
        Ok(()) => name,
        Err(StoreError::Unavailable(reason)) => {
            panic!("cannot reach the emulator at {endpoint} ({reason}); {RUN_SCRIPTS_TEST}")
        }
        Err(e) => panic!("cannot create table {name} on {endpoint}: {e}"),
    }
}

/// The emulator's HTTP client, one request at a time.
///
/// DynamoDB executes every request atomically. The emulator (moto's server) runs each request on its own thread
/// with no lock on the table, so two racing requests break that: an `ADD` may be lost, and a cancelled
/// transaction restores a snapshot of its tables taken before it checked its conditions, undoing a transaction
/// committed meanwhile. The tests therefore let one request at a time reach a fixture's table: the adapter's
/// concurrent callers still interleave (between requests, as they do on DynamoDB), and each request is atomic,
/// as on DynamoDB. Share one value between the clients of one fixture (DynamoDB and Secrets Manager).
#[derive(Debug, Clone)]
pub struct OneRequestAtATime {
    inner: SharedHttpClient,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl OneRequestAtATime {
    /// Gates `inner`, the HTTP client of the loaded SDK configuration.
    pub fn over(inner: SharedHttpClient) -> OneRequestAtATime {
        OneRequestAtATime { inner, gate: Arc::default() }
    }
}

impl HttpClient for OneRequestAtATime {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(OneRequestAtATimeConnector {
            inner: self.inner.http_connector(settings, components),
            gate: self.gate.clone(),
        })
    }
}

#[derive(Debug)]
struct OneRequestAtATimeConnector {
    inner: SharedHttpConnector,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl HttpConnector for OneRequestAtATimeConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (inner, gate) = (self.inner.clone(), self.gate.clone());
        HttpConnectorFuture::new(async move {
            // The emulator computes the whole answer before it sends the status line: once the response head is
            // here, the request has been executed.
            let _turn = gate.lock().await;
            inner.call(request).await
        })
    }
}
