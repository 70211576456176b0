//! Lambda `fiscal-admin`: `GET|PUT /v1/fiscal/emitter` — the company's NF-e emitter and its A1 certificate — and
//! the events of an authorized NF-e (`POST …/invoices/{key}/cancel`, `…/corrections`).
//!
//! Wiring only: `osflow_fn_common::app`'s adapters, plus the emitter store (the configuration in DynamoDB, the
//! certificate in Secrets Manager under `OSFLOW_SECRETS_PREFIX`/<tenant>/a1), the NF-e checks (osflow-nfe opens
//! the PKCS#12 files: this is the only HTTP function that links the fiscal crates) and the invoicer's events, sent to SEFAZ
//! trusted with `OSFLOW_SEFAZ_TRUST_ROOTS`; the cancellation of an issued NFS-e (the same route, by the document's
//! kind) sent to Sefin Nacional trusted with `OSFLOW_SEFIN_TRUST_ROOTS` (unset: no NFS-e events); an NFS-e issued
//! elsewhere recorded with its file (`POST …/invoices/external`).

use std::sync::Arc;

use osflow_app::FiscalAdmin;
use osflow_fn_common::{Env, SEFAZ_TRUST_ROOTS_ENV, SEFIN_TRUST_ROOTS_ENV};
use osflow_invoicing::{Invoicer, NfeChecks, NfseInvoicer, SefazAuthorities, SefinAuthorities};
use osflow_store_dynamodb::DynamoEmitterStore;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    let prefix = env.secrets_prefix()?;
    let authorities = SefazAuthorities::from_setting(env.sefaz_trust_roots()?)
        .map_err(|e| format!("{SEFAZ_TRUST_ROOTS_ENV}: {e}"))?;
    let (app, store) = osflow_fn_common::app_for::<osflow_api::only::FiscalAdmin>(&env).await?;
    let emitters = Arc::new(DynamoEmitterStore::from_env(store.as_ref().clone(), prefix).await);
    let events = Arc::new(Invoicer::new(app.clone(), emitters.clone(), Arc::new(authorities)));
    let app = app.with_fiscal(FiscalAdmin { emitters: emitters.clone(), checks: Arc::new(NfeChecks) });
    let app = app.with_nfe_events(events);
    // The NFS-e's cancellation, when the deployment trusts Sefin Nacional (as the invoicer that issued it).
    let app = match env.sefin_trust_roots.as_deref() {
        None => app,
        Some(roots) => {
            let sefin = SefinAuthorities::from_setting(roots).map_err(|e| format!("{SEFIN_TRUST_ROOTS_ENV}: {e}"))?;
            let nfse = NfseInvoicer::new(app.clone(), emitters, Arc::new(sefin));
            app.with_nfse_events(Arc::new(nfse))
        }
    };
    osflow_fn_common::serve_app::<osflow_api::only::FiscalAdmin>(app).await
}
