//! Lambda `fiscal-admin`: `GET|PUT /v1/fiscal/emitter` — the company's NF-e emitter and its A1 certificate.
//!
//! Wiring only: `osflow_fn_common::app`'s adapters, plus the emitter store (the configuration in DynamoDB, the
//! certificate in Secrets Manager under `OSFLOW_SECRETS_PREFIX`/<tenant>/a1) and the NF-e checks (OpenSSL opens
//! the PKCS#12 files: this is the only HTTP function that links it).

use std::sync::Arc;

use osflow_app::FiscalAdmin;
use osflow_invoicing::NfeChecks;
use osflow_lambda_kit::Config;
use osflow_store_dynamodb::DynamoEmitterStore;

/// Where the A1 certificates are kept: the Secrets Manager secrets `<prefix>/<tenant>/a1`.
const SECRETS_PREFIX_ENV: &str = "OSFLOW_SECRETS_PREFIX";

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_lambda_kit::init_tracing();
    let config = Config::from_env()?;
    let prefix = std::env::var(SECRETS_PREFIX_ENV).ok().filter(|v| !v.trim().is_empty()).ok_or_else(|| {
        format!("{SECRETS_PREFIX_ENV} is not set (certificates are the secrets <prefix>/<tenant>/a1)")
    })?;
    let (mut app, store) = osflow_fn_common::app(&config).await?;
    let emitters = Arc::new(DynamoEmitterStore::from_env(store.as_ref().clone(), prefix.trim()).await);
    app.fiscal = Some(FiscalAdmin { emitters, checks: Arc::new(NfeChecks) });
    osflow_fn_common::serve_app(app, osflow_api::Function::FiscalAdmin).await
}
