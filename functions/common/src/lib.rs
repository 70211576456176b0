//! The wiring every HTTP Lambda function shares: the DynamoDB store (table from `OSFLOW_TABLE`) and the S3 blob
//! store (bucket from `OSFLOW_BUCKET`) behind the ports, the clock and the ids in an `App`, served by
//! `osflow_api::handle` for one function's routes (a route of another function answers 404). A function's
//! `main.rs` is one call to [`serve`].

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use osflow_api::Function;
use osflow_app::{App, CachedFlowStore, SystemClock, UuidV7Ids};
use osflow_blob_s3::S3BlobStore;
use osflow_lambda_kit::Config;
use osflow_store_dynamodb::DynamoStore;

/// The AWS adapters of a function behind the ports: the DynamoDB store (orders, flows with a per-container cache
/// of the immutable versions, invoices, idempotency, settings) and the S3 blob store. Also the wiring of the
/// queue consumers, which act on orders through the same use cases.
pub async fn app(config: &Config) -> Result<(App, Arc<DynamoStore>), Error> {
    let store = Arc::new(DynamoStore::from_env(config.table()?).await);
    let blobs = Arc::new(S3BlobStore::from_env(config.bucket()?).await);
    let app = App {
        orders: store.clone(),
        // Published flow versions are immutable: a warm container reads each once.
        flows: Arc::new(CachedFlowStore::new(store.clone())),
        invoices: store.clone(),
        idempotency: store.clone(),
        // Invoicing is on once the company's emitter is configured: the release then waits for the NF-e.
        invoicing: store.clone(),
        blobs,
        settings: store.clone(),
        fiscal: None,
        reports: store.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    };
    Ok((app, store))
}

/// Builds the AWS adapters once per container and serves `function`'s routes until the runtime stops.
pub async fn serve(function: Function) -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let config = Config::from_env()?;
    let (app, _) = app(&config).await?;
    serve_app(app, function).await
}

/// Serves `function`'s routes with an `App` the function completed (e.g. with the fiscal admin).
pub async fn serve_app(app: App, function: Function) -> Result<(), Error> {
    lambda_http::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(osflow_api::handle(&app, Some(function), req).await) }
    }))
    .await
}
