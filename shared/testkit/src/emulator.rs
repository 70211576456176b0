//! The AWS emulator's side of the tests (feature `emulator`): the endpoint checks with the way to run the tests,
//! names no other run uses, the HTTP client that lets one request at a time reach the emulator
//! ([`OneRequestAtATime`]), and the SDK interceptor that counts requests per operation ([`RequestCounter`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// What a test that cannot reach the emulator says.
pub const RUN_SCRIPTS_TEST: &str = "these tests need the AWS emulator (DynamoDB, SQS, Secrets Manager): run \
                                    `scripts/test` (or `scripts/emulator start` and export \
                                    AWS_ENDPOINT_URL=http://127.0.0.1:45660, AWS_REGION, AWS_ACCESS_KEY_ID and \
                                    AWS_SECRET_ACCESS_KEY as scripts/test does)";

/// The emulator's endpoint; fails (panics) with [`RUN_SCRIPTS_TEST`] when none is configured.
pub fn require_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!("AWS_ENDPOINT_URL is not set; {RUN_SCRIPTS_TEST}"),
    }
}

/// Fails the test, with the way to run it, unless the emulator answers at `AWS_ENDPOINT_URL` (a TCP connection
/// within 5 s); returns the endpoint.
pub async fn require_emulator() -> String {
    let endpoint = require_endpoint();
    let authority = endpoint
        .split_once("://")
        .map_or(endpoint.as_str(), |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let connect = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(authority));
    match connect.await {
        Ok(Ok(_)) => endpoint,
        Ok(Err(e)) => panic!("the emulator at {endpoint} is unreachable ({e}); {RUN_SCRIPTS_TEST}"),
        Err(_) => panic!("the emulator at {endpoint} did not answer; {RUN_SCRIPTS_TEST}"),
    }
}

/// A name no other test, process or run uses: `<prefix>-<pid>-<nanos>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
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

/// Counts the HTTP requests (attempts included, as DynamoDB bills them) a client sends, per operation.
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<Mutex<BTreeMap<String, u32>>>);

impl RequestCounter {
    /// The counts since the last call, and resets them.
    pub fn take(&self) -> BTreeMap<String, u32> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    /// Counts one request of the operation `cfg` names (known from transmission on).
    pub fn count(&self, cfg: &ConfigBag) {
        let operation = cfg.load::<Metadata>().map(|m| m.name().to_owned()).unwrap_or_else(|| "?".into());
        *self.0.lock().unwrap().entry(operation).or_default() += 1;
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.count(cfg);
        Ok(())
    }
}
