//! Lambda `fiscal-admin`: `GET|PUT /v1/fiscal/emitter` — the company's NF-e emitter and its A1 certificate.
//!
//! Wiring only: `osflow_fn_common::app`'s adapters, plus the emitter store (the configuration in DynamoDB, the
//! certificate in Secrets Manager under `OSFLOW_SECRETS_PREFIX`/<tenant>/a1) and the NF-e checks (OpenSSL opens
//! the PKCS#12 files: this is the only HTTP function that links it).

use std::sync::Arc;

use osflow_app::FiscalAdmin;
use osflow_fn_common::Env;
use osflow_invoicing::NfeChecks;
use osflow_store_dynamodb::DynamoEmitterStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    let prefix = env.secrets_prefix()?;
    let (app, store) = osflow_fn_common::app(&env).await?;
    let emitters = Arc::new(DynamoEmitterStore::from_env(store.as_ref().clone(), prefix).await);
    let app = app.with_fiscal(FiscalAdmin { emitters, checks: Arc::new(NfeChecks) });
    osflow_fn_common::serve_app(app, osflow_api::Function::FiscalAdmin).await
}
