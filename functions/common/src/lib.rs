//! The wiring every HTTP Lambda function shares: the DynamoDB store (table from `OSFLOW_TABLE`) behind the
//! ports, the clock and the ids in an `App`, served by `osflow_api::handle` for one function's routes (a route of
//! another function answers 404). A function's `main.rs` is one call to [`serve`].

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use osflow_api::Function;
use osflow_app::{App, CachedFlowStore, NoInvoicing, SystemClock, UuidV7Ids};
use osflow_store_dynamodb::DynamoStore;

/// Builds the AWS adapters once per container and serves `function`'s routes until the runtime stops.
pub async fn serve(function: Function) -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let config = osflow_lambda_kit::Config::from_env()?;
    let store = Arc::new(DynamoStore::from_env(config.table()?).await);
    let app = App {
        orders: store.clone(),
        // Published flow versions are immutable: a warm container reads each once.
        flows: Arc::new(CachedFlowStore::new(store.clone())),
        invoices: store.clone(),
        idempotency: store,
        invoicing: Arc::new(NoInvoicing),
        blobs: Arc::new(NoBlobStore),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    };
    lambda_http::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(osflow_api::handle(&app, Some(function), req).await) }
    }))
    .await
}

use async_trait::async_trait;
use osflow_app::{Blob, BlobStore, StoreError, StoreResult};
use osflow_domain::values::TenantId;

/// The blob port of the Lambda functions until an S3 adapter exists: attachments (presigned uploads) and the
/// fiscal XML answer an error that says so; every other route is unaffected. The analogue of
/// `osflow_app::NoInvoicing` for files.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobStore;

const NOT_WIRED: &str =
    "files (attachments, fiscal XML) need the S3 blob store, which the Lambda functions do not have yet";

#[async_trait]
impl BlobStore for NoBlobStore {
    async fn presign_put(&self, _tenant: &TenantId, _key: &str, _content_type: &str) -> StoreResult<String> {
        Err(StoreError::Other(NOT_WIRED.to_owned()))
    }

    async fn get(&self, _tenant: &TenantId, _key: &str) -> StoreResult<Option<Blob>> {
        Err(StoreError::Other(NOT_WIRED.to_owned()))
    }

    async fn put(&self, _tenant: &TenantId, _key: &str, _blob: &Blob) -> StoreResult<()> {
        Err(StoreError::Other(NOT_WIRED.to_owned()))
    }
}
