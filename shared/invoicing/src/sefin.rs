//! Sefin Nacional as the NFS-e authority of each emitter: REST over mutual TLS with the emitter's A1 certificate,
//! the base URLs of its environment, the server trusted with the roots the deployment gives.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use osflow_nfse::client::{SefinClient, SefinConfig};
use osflow_nfse::{Certificate, Environment, NfseAuthority, TransportError};

use crate::nfse::ValidNfse;
use crate::nfse_issue::NfseAuthorityFor;
use crate::sefaz::trust_roots_from_setting;

/// The DER of the certificate a client was built with, and the client.
type Client = (Vec<u8>, Arc<SefinClient>);

/// A [`SefinClient`] per (environment, CNPJ), built with the emitter's certificate as TLS client identity and kept
/// while that certificate is the one given.
pub struct SefinAuthorities {
    trust_roots_pem: Vec<u8>,
    clients: Mutex<HashMap<(Environment, String), Client>>,
}

impl std::fmt::Debug for SefinAuthorities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("SefinAuthorities").field("clients", &clients).finish_non_exhaustive()
    }
}

impl SefinAuthorities {
    /// The roots from a setting: the PEM itself, or the path of a PEM file.
    pub fn from_setting(value: &str) -> Result<SefinAuthorities, String> {
        Ok(SefinAuthorities { trust_roots_pem: trust_roots_from_setting(value, "Sefin")?, clients: Mutex::default() })
    }
}

impl NfseAuthorityFor for SefinAuthorities {
    fn authority(
        &self,
        settings: &ValidNfse,
        certificate: &Certificate,
    ) -> Result<Arc<dyn NfseAuthority>, TransportError> {
        let key = (settings.environment, settings.provider.cnpj.as_str().to_owned());
        if let Some((der, client)) = self.clients.lock().unwrap_or_else(PoisonError::into_inner).get(&key)
            && der.as_slice() == certificate.cert_der()
        {
            return Ok(client.clone());
        }
        let config = SefinConfig::new(settings.environment, certificate.clone(), self.trust_roots_pem.clone());
        let client = Arc::new(SefinClient::new(config)?);
        self.clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, (certificate.cert_der().to_vec(), client.clone()));
        Ok(client)
    }
}
