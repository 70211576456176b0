//! The SEFAZ adapter: SOAP 1.2 over HTTPS with mutual TLS (the A1 certificate as client
//! identity) and a configurable trust store.
//!
//! TLS goes through rustls on the `ring` provider (see [`mtls_client`]), like every other HTTPS
//! client of the workspace. Only the roots given in [`SefazConfig::trust_roots_pem`] are trusted
//! (the ICP-Brasil bundle in production): the system and Mozilla roots are never loaded. rustls
//! does not implement TLS renegotiation: an authorizer that asks for the client certificate
//! through a renegotiation cannot be reached (ARCHITECTURE.md, "The fiscal crates are pure Rust").

pub mod endpoints;
pub mod response;

use std::time::Duration;

use async_trait::async_trait;

use crate::authority::{FiscalAuthority, Outcome, ServiceStatus, TransportError};
use crate::cert::Certificate;
use crate::event::{EventReceipt, SignedEvent, SignedVoid, VoidReceipt};
use crate::key::{AccessKey, Uf};
use crate::model::{EmissionType, Environment};
use crate::sign::SignedNfe;
use crate::wrap;

pub use endpoints::Service;

/// The whole-request timeout of [`SefazConfig::new`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Endpoint URLs used instead of the table (tests, a proxy, a new URL not yet in the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointOverride {
    pub authorization: String,
    pub consult: String,
    pub status: String,
    pub event: String,
    pub inutilization: String,
}

impl EndpointOverride {
    /// Every service at one URL (a test SEFAZ that dispatches on the SOAP action).
    pub fn single(url: &str) -> EndpointOverride {
        EndpointOverride {
            authorization: url.to_owned(),
            consult: url.to_owned(),
            status: url.to_owned(),
            event: url.to_owned(),
            inutilization: url.to_owned(),
        }
    }
}

/// Configuration of [`SefazSoap`].
#[derive(Clone)]
pub struct SefazConfig {
    pub environment: Environment,
    /// UF of the emitter (its authorizer, and the `cUF` of status requests).
    pub uf: Uf,
    /// Normal, or SVC-AN / SVC-RS contingency.
    pub emission: EmissionType,
    /// The A1 certificate: TLS client identity.
    pub certificate: Certificate,
    /// PEM bundle of the trusted roots (ICP-Brasil in production).
    pub trust_roots_pem: Vec<u8>,
    /// Whole-request timeout (default 30 s). On expiry the client consults by key.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub endpoints: Option<EndpointOverride>,
}

impl std::fmt::Debug for SefazConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SefazConfig")
            .field("environment", &self.environment)
            .field("uf", &self.uf)
            .field("emission", &self.emission)
            .field("certificate", &self.certificate)
            .field("timeout", &self.timeout)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl SefazConfig {
    pub fn new(environment: Environment, uf: Uf, certificate: Certificate, trust_roots_pem: Vec<u8>) -> Self {
        SefazConfig {
            environment,
            uf,
            emission: EmissionType::Normal,
            certificate,
            trust_roots_pem,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(10),
            endpoints: None,
        }
    }
}

/// SEFAZ over SOAP 1.2 (NFeAutorizacao4 with `indSinc=1`, NFeConsultaProtocolo4,
/// NFeStatusServico4).
#[derive(Debug, Clone)]
pub struct SefazSoap {
    config: SefazConfig,
    http: reqwest::Client,
}

impl SefazSoap {
    pub fn new(config: SefazConfig) -> Result<SefazSoap, TransportError> {
        let http = mtls_client(&config.certificate, &config.trust_roots_pem, config.timeout, config.connect_timeout)?;
        Ok(SefazSoap { config, http })
    }

    fn url(&self, uf: Uf, emission: EmissionType, service: Service) -> Result<String, TransportError> {
        service_url(self.config.endpoints.as_ref(), uf, self.config.environment, emission, service)
    }

    /// The emission type of a document's key: an NF-e issued in SVC (tpEmis 6/7) is authorized, consulted and
    /// has its events at the SVC, whatever this client's [`SefazConfig::emission`].
    fn key_emission(key: &AccessKey) -> Result<EmissionType, TransportError> {
        key.tp_emis()
            .parse()
            .ok()
            .and_then(EmissionType::from_code)
            .ok_or_else(|| TransportError::Config(format!("tpEmis {} of key {key} is not issued here", key.tp_emis())))
    }

    async fn post(&self, uf: Uf, service: Service, message: &str) -> Result<String, TransportError> {
        self.post_to(uf, self.config.emission, service, message).await
    }

    async fn post_to(
        &self,
        uf: Uf,
        emission: EmissionType,
        service: Service,
        message: &str,
    ) -> Result<String, TransportError> {
        let url = self.url(uf, emission, service)?;
        let body = wrap::soap12(service.wsdl(), message);
        let ct = format!("application/soap+xml;charset=utf-8;action=\"{}\"", service.action());
        tracing::debug!(service = service.wsdl(), %url, bytes = body.len(), "SEFAZ request");
        let resp =
            self.http.post(&url).header(reqwest::header::CONTENT_TYPE, ct).body(body).send().await.map_err(classify)?;
        let status = resp.status();
        let text = resp.text().await.map_err(classify)?;
        if !status.is_success() {
            let reason = response::fault_reason(&text).unwrap_or_else(|| text.chars().take(300).collect());
            return Err(TransportError::Http { status: status.as_u16(), body: reason });
        }
        Ok(text)
    }

    fn key_uf(key: &AccessKey) -> Result<Uf, TransportError> {
        key.cuf()
            .parse()
            .ok()
            .and_then(Uf::from_code)
            .ok_or_else(|| TransportError::Config(format!("unknown cUF in key {key}")))
    }

    /// After a timeout or a duplicate, find out what the authority holds for `key`.
    async fn settle(&self, key: &AccessKey) -> Result<Outcome, TransportError> {
        self.consult(key).await
    }
}

/// The URL of a service: the override when configured (a test SEFAZ answers every authorizer there), else the
/// table's for the UF, environment and emission type.
fn service_url(
    endpoints: Option<&EndpointOverride>,
    uf: Uf,
    environment: Environment,
    emission: EmissionType,
    service: Service,
) -> Result<String, TransportError> {
    if let Some(o) = endpoints {
        return Ok(match service {
            Service::Authorization => o.authorization.clone(),
            Service::Consult => o.consult.clone(),
            Service::Event => o.event.clone(),
            Service::Inutilization => o.inutilization.clone(),
            _ => o.status.clone(),
        });
    }
    endpoints::endpoint(uf, environment, emission, service)
        .map(str::to_owned)
        .ok_or_else(|| TransportError::Config(format!("no {service:?} endpoint for {uf} ({emission:?})")))
}

/// An HTTPS client with the A1 as TLS client identity that trusts only `trust_roots_pem` (TLS 1.2+,
/// HTTP/1.1, no proxy): the fiscal authorities' mutual TLS (SEFAZ, Sefin Nacional).
///
/// rustls on the `ring` provider, configured here rather than through reqwest's builder so that
/// nothing else is trusted: no system or webpki roots, the client chain (leaf and intermediates,
/// not the self-signed root) with the A1's key, TLS 1.3 and 1.2.
pub fn mtls_client(
    certificate: &Certificate,
    trust_roots_pem: &[u8],
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, TransportError> {
    let tls = mtls_config(certificate, trust_roots_pem)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .http1_only()
        .no_proxy()
        .build()
        .map_err(|e| TransportError::Config(e.to_string()))
}

/// The rustls client configuration of [`mtls_client`].
pub fn mtls_config(certificate: &Certificate, trust_roots_pem: &[u8]) -> Result<rustls::ClientConfig, TransportError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let cfg = |e: &dyn std::fmt::Display| TransportError::Config(e.to_string());
    let ders = CertificateDer::pem_slice_iter(trust_roots_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cfg(&format!("the trust store: {e}")))?;
    let mut roots = rustls::RootCertStore::empty();
    // A bundle may carry a certificate webpki cannot use as an anchor: skip it (and say so) rather
    // than refuse the whole store.
    let (_, ignored) = roots.add_parsable_certificates(ders);
    if ignored > 0 {
        tracing::warn!(ignored, "trust store: certificates that cannot be TLS trust anchors were skipped");
    }
    if roots.is_empty() {
        return Err(TransportError::Config("the trust store is empty".into()));
    }
    let (chain, key) = certificate.tls_identity();
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| cfg(&e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| cfg(&format!("the A1 as TLS client identity: {e}")))
}

fn classify(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout { consulted: None }
    } else if e.is_connect() {
        TransportError::Connect(error_chain(&e))
    } else {
        TransportError::InvalidResponse(error_chain(&e))
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[async_trait]
impl FiscalAuthority for SefazSoap {
    async fn authorize(&self, nfe: &SignedNfe) -> Result<Outcome, TransportError> {
        let key = nfe.key();
        let uf = Self::key_uf(key)?;
        let id_lote = key.n_nf().parse::<u64>().unwrap_or(1);
        let msg = wrap::envi_nfe(nfe, id_lote);
        match self.post_to(uf, Self::key_emission(key)?, Service::Authorization, &msg).await {
            Ok(text) => {
                let out = response::authorization(&text)?;
                match out.c_stat() {
                    // Duplicate: the authority already has this number; fetch what it holds.
                    204 | 539 => {
                        tracing::info!(%key, c_stat = out.c_stat(), "duplicate, consulting by key");
                        match self.settle(key).await {
                            Ok(found @ (Outcome::Authorized(_) | Outcome::Denied { .. })) => Ok(found),
                            // The consult answered: the authority holds something else under this number.
                            Ok(_) => Ok(out),
                            // A duplicate without knowing of what: nothing is decided yet.
                            Err(_) => Err(TransportError::Inconclusive {
                                c_stat: out.c_stat(),
                                x_motivo: "duplicidade sem consulta conclusiva".into(),
                            }),
                        }
                    }
                    _ => Ok(out),
                }
            }
            Err(TransportError::Timeout { .. }) => {
                tracing::warn!(%key, "authorization timed out, consulting by key before anything else");
                match self.settle(key).await {
                    Ok(found @ (Outcome::Authorized(_) | Outcome::Denied { .. })) => Ok(found),
                    Ok(other) => Err(TransportError::Timeout { consulted: Some(other.c_stat()) }),
                    Err(_) => Err(TransportError::Timeout { consulted: None }),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn consult(&self, key: &AccessKey) -> Result<Outcome, TransportError> {
        let uf = Self::key_uf(key)?;
        let msg = wrap::cons_sit_nfe(key, self.config.environment);
        let text = self.post_to(uf, Self::key_emission(key)?, Service::Consult, &msg).await?;
        response::consult(&text)
    }

    async fn status(&self) -> Result<ServiceStatus, TransportError> {
        let msg = wrap::cons_stat_serv(self.config.uf, self.config.environment);
        let text = self.post(self.config.uf, Service::Status, &msg).await?;
        response::status(&text)
    }

    async fn send_event(&self, event: &SignedEvent) -> Result<EventReceipt, TransportError> {
        let uf = Self::key_uf(event.key())?;
        let id_lote = event.key().n_nf().parse::<u64>().unwrap_or(1) * 100 + u64::from(event.seq());
        let msg = crate::event::env_evento(&[event], id_lote);
        let text = self.post_to(uf, Self::key_emission(event.key())?, Service::Event, &msg).await?;
        response::event(&text)
    }

    async fn void_numbers(&self, request: &SignedVoid) -> Result<VoidReceipt, TransportError> {
        let text = self.post(request.uf(), Service::Inutilization, request.xml()).await?;
        response::inutilization(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document's service goes to the authorizer of its key's tpEmis: SP's own for 1, SVC-AN for 6.
    #[test]
    fn documents_go_to_the_authorizer_of_their_emission_type() {
        let at = |emission, service| service_url(None, Uf::SP, Environment::Homologation, emission, service).unwrap();
        let normal = at(EmissionType::Normal, Service::Authorization);
        let svc = at(EmissionType::SvcAn, Service::Authorization);
        assert_eq!(normal, endpoints::url("SP", Environment::Homologation, Service::Authorization).unwrap());
        assert_eq!(svc, endpoints::url("SVCAN", Environment::Homologation, Service::Authorization).unwrap());
        assert_ne!(normal, svc);
        assert_eq!(
            at(EmissionType::SvcRs, Service::Consult),
            endpoints::url("SVCRS", Environment::Homologation, Service::Consult).unwrap()
        );
        let o = EndpointOverride::single("https://127.0.0.1:1/ws");
        assert_eq!(
            service_url(Some(&o), Uf::SP, Environment::Homologation, EmissionType::SvcAn, Service::Status).unwrap(),
            "https://127.0.0.1:1/ws"
        );
        let key = |prefix: &str| {
            (0..=9).find_map(|dv| AccessKey::parse(&format!("{prefix}{dv}")).ok()).expect("one check digit fits")
        };
        let svc = key("3526121122233300018155001000000400600000400");
        assert_eq!(SefazSoap::key_emission(&svc).unwrap(), EmissionType::SvcAn);
        let normal = key("3526121122233300018155001000000400100000400");
        assert_eq!(SefazSoap::key_emission(&normal).unwrap(), EmissionType::Normal);
        let epec = key("3526121122233300018155001000000400400000400");
        assert!(SefazSoap::key_emission(&epec).is_err(), "tpEmis 4 is not issued here");
    }
}
