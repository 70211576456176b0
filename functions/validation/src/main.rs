//! Lambda `validation` (step 6, validation): `POST /v1/orders/{id}/validation` (checklist, extra items).
//!
//! Wiring only: the DynamoDB store (table from `OSFLOW_TABLE`), the clock and the ids go into an `App` (no
//! NF-e emitter and no S3 blob store yet: `NoInvoicing`, `NoBlobStore`), and
//! every request goes to `osflow_api::handle`, which answers 404 for a route of another function.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Error, Request, service_fn};
use osflow_api::Function;
use osflow_app::{App, NoInvoicing, SystemClock, UuidV7Ids};
use osflow_fn_common::NoBlobStore;
use osflow_store_dynamodb::DynamoStore;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let config = osflow_lambda_kit::Config::from_env()?;
    let store = Arc::new(DynamoStore::from_env(config.table()?).await);
    let app = App {
        orders: store.clone(),
        flows: store.clone(),
        invoices: store.clone(),
        idempotency: store,
        invoicing: Arc::new(NoInvoicing),
        blobs: Arc::new(NoBlobStore),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    };
    lambda_http::run(service_fn(move |req: Request| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(osflow_api::handle(&app, Some(Function::Validation), req).await) }
    }))
    .await
}
