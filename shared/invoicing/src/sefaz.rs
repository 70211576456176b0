//! SEFAZ as the issuing authority of each emitter: SOAP over mutual TLS with the emitter's A1 certificate, the
//! endpoints of its UF and environment, the server trusted with the ICP-Brasil roots the deployment gives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use osflow_nfe::sefaz::{SefazConfig, SefazSoap};
use osflow_nfe::{Certificate, Environment, FiscalAuthority, TransportError, Uf};

use crate::config::ValidEmitter;
use crate::invoicer::AuthorityFor;

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
    pub fn new(trust_roots_pem: Vec<u8>) -> Result<SefazAuthorities, String> {
        check_trust_roots(&trust_roots_pem, "SEFAZ")?;
        Ok(SefazAuthorities { trust_roots_pem, clients: Mutex::default() })
    }

    /// The roots from a setting: the PEM itself, or the path of a PEM file.
    pub fn from_setting(value: &str) -> Result<SefazAuthorities, String> {
        Ok(SefazAuthorities { trust_roots_pem: trust_roots_from_setting(value, "SEFAZ")?, clients: Mutex::default() })
    }
}

/// Trust roots from a setting (SEFAZ's, Sefin's: `whose`, in the errors): the PEM itself, or the path of a PEM
/// file, holding at least one certificate.
pub(crate) fn trust_roots_from_setting(value: &str, whose: &str) -> Result<Vec<u8>, String> {
    let value = value.trim();
    let pem = if value.contains("-----BEGIN") {
        value.as_bytes().to_vec()
    } else {
        std::fs::read(value).map_err(|e| format!("cannot read the {whose} trust roots {value}: {e}"))?
    };
    check_trust_roots(&pem, whose)?;
    Ok(pem)
}

/// Whether `pem` holds at least one PEM certificate.
fn check_trust_roots(pem: &[u8], whose: &str) -> Result<(), String> {
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!("the {whose} trust roots hold no PEM certificate"));
    }
    Ok(())
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
