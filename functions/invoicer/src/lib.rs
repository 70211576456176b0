//! The wiring of the `invoicer` function: the issuing use case ([`Invoicer`], the consumer of `invoicing.fifo`)
//! over the DynamoDB store, the emitters of [`DynamoEmitterStore`] (configuration on the table, A1 certificate in
//! Secrets Manager) and SEFAZ (osflow-invoicing's `SefazAuthorities`: SOAP over mutual TLS with the emitter's certificate, the
//! endpoints of its UF and environment), driven by the partial-batch consumer of `osflow-bus` (FIFO: the
//! messages of one group in order; a failure fails the rest of its group, which SQS redelivers).
//!
//! Environment ([`osflow_fn_common::Env`], besides `OSFLOW_TABLE` and `OSFLOW_BUCKET`):
//! - `OSFLOW_SECRETS_PREFIX`: the certificates are the secrets `<prefix>/<tenant>/a1`;
//! - `OSFLOW_SEFAZ_TRUST_ROOTS`: the PEM bundle of the roots SEFAZ servers are trusted with (ICP-Brasil): a file
//!   path, or the PEM itself. The system and Mozilla roots are not used.
//! - `OSFLOW_SEFIN_TRUST_ROOTS` (optional): the same for Sefin Nacional; when set, the labor's NFS-e of the
//!   companies with a municipal part is issued too (osflow-invoicing's `SefinAuthorities`); unset, no NFS-e.

use std::sync::Arc;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
pub use osflow_fn_common::SEFIN_TRUST_ROOTS_ENV;
use osflow_fn_common::{Env, SEFAZ_TRUST_ROOTS_ENV};
use osflow_invoicing::{Invoicer, NfseInvoicer, SefazAuthorities, SefinAuthorities};
use osflow_store_dynamodb::DynamoEmitterStore;

/// The invoicer of the AWS functions: a consumer's `App` and DynamoDB store (`Wiring`), the emitters on that
/// store and Secrets Manager (the environment's secrets prefix), SEFAZ with the environment's trust roots.
pub async fn from_env(env: &Env) -> Result<Invoicer, Error> {
    let prefix = env.secrets_prefix()?;
    let authorities = SefazAuthorities::from_setting(env.sefaz_trust_roots()?)
        .map_err(|e| format!("{SEFAZ_TRUST_ROOTS_ENV}: {e}"))?;
    // The consumers' wiring with the S3 client (the nfeProc, the DANFE): no user directory, no sealing key.
    let (app, store) = osflow_fn_common::app_for::<osflow_fn_common::Wiring<true, false>>(env).await?;
    let emitters = Arc::new(DynamoEmitterStore::from_env(store.as_ref().clone(), prefix).await);
    let invoicer = Invoicer::new(app.clone(), emitters.clone(), Arc::new(authorities));
    Ok(match env.sefin_trust_roots.as_deref() {
        None => invoicer,
        Some(roots) => {
            let sefin = SefinAuthorities::from_setting(roots).map_err(|e| format!("{SEFIN_TRUST_ROOTS_ENV}: {e}"))?;
            invoicer.with_nfse(Arc::new(NfseInvoicer::new(app, emitters, Arc::new(sefin))))
        }
    })
}

/// One batch of `invoicing.fifo`: every message handled by the invoicer, in order per message group; the
/// failures for `ReportBatchItemFailures`.
pub async fn handle(event: SqsEvent, invoicer: &Invoicer) -> SqsBatchResponse {
    osflow_bus::consume_with(event, invoicer).await
}
