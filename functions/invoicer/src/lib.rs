//! The wiring of the `invoicer` function: the issuing use case ([`Invoicer`], the consumer of `invoicing.fifo`)
//! over the DynamoDB store, the emitters of [`DynamoEmitterStore`] (configuration on the table, A1 certificate in
//! Secrets Manager) and SEFAZ ([`SefazAuthorities`]: SOAP over mutual TLS with the emitter's certificate, the
//! endpoints of its UF and environment), driven by the partial-batch consumer of `osflow-bus` (FIFO: the
//! messages of one group in order; a failure fails the rest of its group, which SQS redelivers).
//!
//! Environment ([`osflow_fn_common::Env`], besides `OSFLOW_TABLE` and `OSFLOW_BUCKET`):
//! - `OSFLOW_SECRETS_PREFIX`: the certificates are the secrets `<prefix>/<tenant>/a1`;
//! - `OSFLOW_SEFAZ_TRUST_ROOTS`: the PEM bundle of the roots SEFAZ servers are trusted with (ICP-Brasil): a file
//!   path, or the PEM itself. The system and Mozilla roots are not used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use osflow_fn_common::{Env, SEFAZ_TRUST_ROOTS_ENV};
use osflow_invoicing::{AuthorityFor, Invoicer, ValidEmitter};
use osflow_nfe::sefaz::{SefazConfig, SefazSoap};
use osflow_nfe::{Certificate, Environment, FiscalAuthority, TransportError, Uf};
use osflow_store_dynamodb::DynamoEmitterStore;

/// A client's emitter: environment, UF and CNPJ.
type EmitterKey = (Environment, Uf, String);

/// The DER of the certificate a client was built with, and the client.
type Client = (Vec<u8>, Arc<SefazSoap>);

/// The SEFAZ authority of each emitter: a [`SefazSoap`] client per (environment, UF, CNPJ), built with the
/// emitter's certificate as TLS client identity and kept while that certificate is the one given (a replaced
/// certificate builds a new client). The clients keep their connections between invocations of a warm
/// container.
pub struct SefazAuthorities {
    trust_roots_pem: Vec<u8>,
    clients: Mutex<HashMap<EmitterKey, Client>>,
}

impl std::fmt::Debug for SefazAuthorities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("SefazAuthorities").field("clients", &clients).finish_non_exhaustive()
    }
}

impl SefazAuthorities {
    /// Authorities trusting the roots of `trust_roots_pem` (a PEM bundle with at least one certificate).
    pub fn new(trust_roots_pem: Vec<u8>) -> Result<SefazAuthorities, Error> {
        if !trust_roots_pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err("the SEFAZ trust roots hold no PEM certificate".into());
        }
        Ok(SefazAuthorities { trust_roots_pem, clients: Mutex::default() })
    }

    /// The roots of the environment's [`SEFAZ_TRUST_ROOTS_ENV`]: the PEM itself, or the path of a PEM file.
    pub fn from_env(env: &Env) -> Result<SefazAuthorities, Error> {
        let value = env.sefaz_trust_roots()?;
        let pem = if value.contains("-----BEGIN") {
            value.as_bytes().to_vec()
        } else {
            std::fs::read(value).map_err(|e| format!("{SEFAZ_TRUST_ROOTS_ENV}: cannot read {value}: {e}"))?
        };
        SefazAuthorities::new(pem)
    }
}

impl AuthorityFor for SefazAuthorities {
    fn authority(
        &self,
        emitter: &ValidEmitter,
        certificate: &Certificate,
    ) -> Result<Arc<dyn FiscalAuthority>, TransportError> {
        let (environment, uf) = (emitter.environment, emitter.emitter.address.uf);
        let key = (environment, uf, emitter.emitter.cnpj.as_str().to_owned());
        if let Some((der, client)) = self.clients.lock().unwrap_or_else(PoisonError::into_inner).get(&key)
            && der.as_slice() == certificate.cert_der()
        {
            return Ok(client.clone());
        }
        let config = SefazConfig::new(environment, uf, certificate.clone(), self.trust_roots_pem.clone());
        let client = Arc::new(SefazSoap::new(config)?);
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (certificate.cert_der().to_vec(), client.clone()));
        Ok(client)
    }
}

/// The invoicer of the AWS functions: `osflow_fn_common::app`'s `App` and DynamoDB store, the emitters on that
/// store and Secrets Manager (the environment's secrets prefix), SEFAZ with the environment's trust roots.
pub async fn from_env(env: &Env) -> Result<Invoicer, Error> {
    let prefix = env.secrets_prefix()?;
    let authorities = SefazAuthorities::from_env(env)?;
    let (app, store) = osflow_fn_common::app(env).await?;
    let emitters = DynamoEmitterStore::from_env(store.as_ref().clone(), prefix).await;
    Ok(Invoicer::new(app, Arc::new(emitters), Arc::new(authorities)))
}

/// One batch of `invoicing.fifo`: every message handled by the invoicer, in order per message group; the
/// failures for `ReportBatchItemFailures`.
pub async fn handle(event: SqsEvent, invoicer: &Invoicer) -> SqsBatchResponse {
    osflow_bus::consume_with(event, invoicer).await
}
