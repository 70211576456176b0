//! SEFAZ as the issuing authority of each emitter: SOAP over mutual TLS with the emitter's A1 certificate, the
//! endpoints of its UF and environment, the server trusted with the ICP-Brasil roots the deployment gives.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use osflow_nfe::sefaz::{SefazConfig, SefazSoap};
use osflow_nfe::{Certificate, Environment, FiscalAuthority, TransportError, Uf};

use crate::config::ValidEmitter;
use crate::invoicer::AuthorityFor;

/// A client's emitter: environment, UF and CNPJ.
type EmitterKey = (Environment, Uf, String);

/// The SEFAZ authority of each emitter: a [`SefazSoap`] client per (environment, UF, CNPJ), built with the
/// emitter's certificate as TLS client identity and kept while that certificate is the one given (a replaced
/// certificate builds a new client). The clients keep their connections between invocations of a warm
/// container.
pub struct SefazAuthorities {
    trust_roots_pem: Vec<u8>,
    clients: Clients<EmitterKey, SefazSoap>,
}

impl std::fmt::Debug for SefazAuthorities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SefazAuthorities").field("clients", &self.clients.len()).finish_non_exhaustive()
    }
}

impl SefazAuthorities {
    /// Authorities trusting the roots of `trust_roots_pem` (a PEM bundle with at least one certificate).
    pub fn new(trust_roots_pem: Vec<u8>) -> Result<SefazAuthorities, String> {
        check_trust_roots(&trust_roots_pem, "SEFAZ")?;
        Ok(SefazAuthorities { trust_roots_pem, clients: Clients::default() })
    }

    /// The roots from a setting: the PEM itself, or the path of a PEM file.
    pub fn from_setting(value: &str) -> Result<SefazAuthorities, String> {
        Ok(SefazAuthorities { trust_roots_pem: trust_roots_from_setting(value, "SEFAZ")?, clients: Clients::default() })
    }
}

/// An authority's clients (SEFAZ's, Sefin's) per emitter `K`, each with the DER of the certificate it was built
/// with as TLS client identity and kept while that certificate is the one given (a replaced certificate builds a
/// new client).
pub(crate) struct Clients<K, C>(Mutex<HashMap<K, Client<C>>>);

/// The DER of the certificate a client was built with, and the client.
type Client<C> = (Vec<u8>, Arc<C>);

impl<K, C> Default for Clients<K, C> {
    fn default() -> Self {
        Clients(Mutex::default())
    }
}

impl<K: Eq + Hash, C> Clients<K, C> {
    /// How many clients are kept.
    pub(crate) fn len(&self) -> usize {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The client of `key` built with the certificate `cert_der`, else a new one from `build`, kept.
    pub(crate) fn get_or_build<E>(
        &self,
        key: K,
        cert_der: &[u8],
        build: impl FnOnce() -> Result<C, E>,
    ) -> Result<Arc<C>, E> {
        if let Some((der, client)) = self.0.lock().unwrap_or_else(PoisonError::into_inner).get(&key)
            && der.as_slice() == cert_der
        {
            return Ok(client.clone());
        }
        let client = Arc::new(build()?);
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(key, (cert_der.to_vec(), client.clone()));
        Ok(client)
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
        let client = self.clients.get_or_build(key, certificate.cert_der(), || {
            SefazSoap::new(SefazConfig::new(environment, uf, certificate.clone(), self.trust_roots_pem.clone()))
        })?;
        Ok(client)
    }
}
