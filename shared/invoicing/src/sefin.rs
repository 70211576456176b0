//! Sefin Nacional as the NFS-e authority of each emitter: REST over mutual TLS with the emitter's A1 certificate,
//! the base URLs of its environment, the server trusted with the roots the deployment gives.

use std::sync::Arc;

use osflow_nfse::client::{SefinClient, SefinConfig};
use osflow_nfse::{Certificate, Environment, NfseAuthority, TransportError};

use crate::nfse::ValidNfse;
use crate::nfse_issue::NfseAuthorityFor;
use crate::sefaz::{Clients, trust_roots_from_setting};

/// A [`SefinClient`] per (environment, CNPJ), built with the emitter's certificate as TLS client identity and kept
/// while that certificate is the one given.
pub struct SefinAuthorities {
    trust_roots_pem: Vec<u8>,
    clients: Clients<(Environment, String), SefinClient>,
}

impl std::fmt::Debug for SefinAuthorities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SefinAuthorities").field("clients", &self.clients.len()).finish_non_exhaustive()
    }
}

impl SefinAuthorities {
    /// The roots from a setting: the PEM itself, or the path of a PEM file.
    pub fn from_setting(value: &str) -> Result<SefinAuthorities, String> {
        Ok(SefinAuthorities { trust_roots_pem: trust_roots_from_setting(value, "Sefin")?, clients: Clients::default() })
    }
}

impl NfseAuthorityFor for SefinAuthorities {
    fn authority(
        &self,
        settings: &ValidNfse,
        certificate: &Certificate,
    ) -> Result<Arc<dyn NfseAuthority>, TransportError> {
        let key = (settings.environment, settings.provider.cnpj.as_str().to_owned());
        let client = self.clients.get_or_build(key, certificate.cert_der(), || {
            SefinClient::new(SefinConfig::new(settings.environment, certificate.clone(), self.trust_roots_pem.clone()))
        })?;
        Ok(client)
    }
}
