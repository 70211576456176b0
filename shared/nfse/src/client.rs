//! The Sefin Nacional REST client: JSON over HTTPS with mutual TLS (the A1 certificate as
//! client identity), only the configured trust roots (ICP-Brasil in production).
//!
//! TLS goes through rustls on ring with only the configured roots, like the SEFAZ client of the NF-e
//! ([`osflow_nfe::sefaz::mtls_client`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use osflow_nfe::{Certificate, Environment};

use crate::authority::{EventOutcome, IssueOutcome, IssuedNfse, NfseAuthority, SefinError, TransportError};
use crate::codec;
use crate::event::SignedEvent;
use crate::id::{DpsId, NfseKey};
use crate::sign::SignedDps;

/// Base URLs of Sefin Nacional (issue, consult, events) and of the ADN (DANFSe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrls {
    pub sefin: String,
    pub adn: String,
}

impl BaseUrls {
    /// Production, or "produção restrita" for homologation.
    pub fn for_environment(env: Environment) -> BaseUrls {
        match env {
            Environment::Production => BaseUrls {
                sefin: "https://sefin.nfse.gov.br/SefinNacional".into(),
                adn: "https://adn.nfse.gov.br".into(),
            },
            Environment::Homologation => BaseUrls {
                sefin: "https://sefin.producaorestrita.nfse.gov.br/SefinNacional".into(),
                adn: "https://adn.producaorestrita.nfse.gov.br".into(),
            },
        }
    }
}

/// Configuration of [`SefinClient`].
#[derive(Clone)]
pub struct SefinConfig {
    pub environment: Environment,
    pub certificate: Certificate,
    /// PEM bundle of the trusted roots.
    pub trust_roots_pem: Vec<u8>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Defaults to [`BaseUrls::for_environment`].
    pub base: Option<BaseUrls>,
}

impl std::fmt::Debug for SefinConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SefinConfig")
            .field("environment", &self.environment)
            .field("certificate", &self.certificate)
            .field("timeout", &self.timeout)
            .field("base", &self.base)
            .finish()
    }
}

impl SefinConfig {
    pub fn new(environment: Environment, certificate: Certificate, trust_roots_pem: Vec<u8>) -> SefinConfig {
        SefinConfig {
            environment,
            certificate,
            trust_roots_pem,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            base: None,
        }
    }
}

/// Sefin Nacional over REST.
#[derive(Debug, Clone)]
pub struct SefinClient {
    base: BaseUrls,
    http: reqwest::Client,
}

fn classify(e: reqwest::Error) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout { consulted: None }
    } else if e.is_connect() {
        let mut s = e.to_string();
        let mut cur = std::error::Error::source(&e);
        while let Some(c) = cur {
            s.push_str(": ");
            s.push_str(&c.to_string());
            cur = c.source();
        }
        TransportError::Connect(s)
    } else {
        TransportError::InvalidResponse(e.to_string())
    }
}

fn get_ci<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn str_ci(v: &Value, name: &str) -> Option<String> {
    get_ci(v, name).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The error list of a Sefin answer (`erros` or `erro`, an object or a list).
pub fn errors_of(v: &Value) -> Vec<SefinError> {
    let list = get_ci(v, "erros").or_else(|| get_ci(v, "erro"));
    let items: Vec<&Value> = match list {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|e| SefinError {
            code: str_ci(e, "codigo").unwrap_or_default(),
            description: str_ci(e, "descricao").or_else(|| str_ci(e, "mensagem")).unwrap_or_default(),
            complement: str_ci(e, "complemento").filter(|c| !c.is_empty()),
        })
        .collect()
}

impl SefinClient {
    pub fn new(config: SefinConfig) -> Result<SefinClient, TransportError> {
        let http = osflow_nfe::sefaz::mtls_client(
            &config.certificate,
            &config.trust_roots_pem,
            config.timeout,
            config.connect_timeout,
        )?;
        let base = config.base.unwrap_or_else(|| BaseUrls::for_environment(config.environment));
        Ok(SefinClient { base, http })
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>), TransportError> {
        let resp = req.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(classify)?;
        Ok((status, body.to_vec()))
    }

    fn json(body: &[u8]) -> Result<Value, TransportError> {
        serde_json::from_slice(body).map_err(|e| TransportError::InvalidResponse(format!("not JSON: {e}")))
    }

    fn nfse_of(v: &Value) -> Result<IssuedNfse, TransportError> {
        let b64 =
            str_ci(v, "nfseXmlGZipB64").ok_or_else(|| TransportError::InvalidResponse("no nfseXmlGZipB64".into()))?;
        let xml = codec::decode(&b64).map_err(TransportError::InvalidResponse)?;
        IssuedNfse::from_xml(xml).map_err(TransportError::InvalidResponse)
    }

    /// After a timeout, a 5xx or a duplicate: what Sefin holds for this DPS.
    async fn settle(&self, id: &DpsId) -> Result<Option<IssuedNfse>, TransportError> {
        match self.find_by_dps(id).await? {
            Some(key) => self.nfse(&key).await,
            None => Ok(None),
        }
    }
}

fn http_error(status: u16, body: &[u8]) -> TransportError {
    TransportError::Http { status, body: String::from_utf8_lossy(body).chars().take(300).collect() }
}

#[async_trait]
impl NfseAuthority for SefinClient {
    async fn issue(&self, dps: &SignedDps) -> Result<IssueOutcome, TransportError> {
        let url = format!("{}/nfse", self.base.sefin);
        let body = serde_json::json!({ "dpsXmlGZipB64": codec::encode(dps.xml()) });
        tracing::debug!(id = %dps.id(), %url, "Sefin POST /nfse");
        let sent = self
            .send(self.http.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string()))
            .await;
        let id = dps.id();
        match sent {
            Ok((200..=299, b)) => Ok(IssueOutcome::Issued(Self::nfse_of(&Self::json(&b)?)?)),
            Ok((status @ 400..=499, b)) => {
                let errors = errors_of(&Self::json(&b).map_err(|_| http_error(status, &b))?);
                if errors.is_empty() {
                    return Err(http_error(status, &b));
                }
                let out = IssueOutcome::Rejected(errors);
                if out.is_duplicate() {
                    tracing::info!(%id, "DPS already used, consulting GET /dps");
                    if let Some(found) = self.settle(id).await? {
                        return Ok(IssueOutcome::Issued(found));
                    }
                }
                Ok(out)
            }
            Ok((status, b)) => {
                tracing::warn!(%id, status, "Sefin answered with an error, consulting GET /dps before anything else");
                match self.settle(id).await {
                    Ok(Some(found)) => Ok(IssueOutcome::Issued(found)),
                    _ => Err(http_error(status, &b)),
                }
            }
            Err(TransportError::Timeout { .. }) => {
                tracing::warn!(%id, "POST /nfse timed out, consulting GET /dps before anything else");
                match self.settle(id).await {
                    Ok(Some(found)) => Ok(IssueOutcome::Issued(found)),
                    _ => Err(TransportError::Timeout { consulted: None }),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn find_by_dps(&self, id: &DpsId) -> Result<Option<NfseKey>, TransportError> {
        let url = format!("{}/dps/{}", self.base.sefin, id);
        match self.send(self.http.get(&url)).await? {
            (200..=299, b) => {
                let v = Self::json(&b)?;
                let key = str_ci(&v, "chaveAcesso")
                    .and_then(|k| NfseKey::parse(&k))
                    .ok_or_else(|| TransportError::InvalidResponse("no chaveAcesso".into()))?;
                Ok(Some(key))
            }
            (404, _) => Ok(None),
            (s, b) => Err(http_error(s, &b)),
        }
    }

    async fn nfse(&self, key: &NfseKey) -> Result<Option<IssuedNfse>, TransportError> {
        let url = format!("{}/nfse/{}", self.base.sefin, key);
        match self.send(self.http.get(&url)).await? {
            (200..=299, b) => Ok(Some(Self::nfse_of(&Self::json(&b)?)?)),
            (404, _) => Ok(None),
            (s, b) => Err(http_error(s, &b)),
        }
    }

    async fn register_event(&self, event: &SignedEvent) -> Result<EventOutcome, TransportError> {
        let url = format!("{}/nfse/{}/eventos", self.base.sefin, event.key());
        let body = serde_json::json!({ "pedidoRegistroEventoXmlGZipB64": codec::encode(event.xml()) });
        match self
            .send(self.http.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body.to_string()))
            .await?
        {
            (200..=299, b) => {
                let v = Self::json(&b)?;
                let b64 = str_ci(&v, "eventoXmlGZipB64")
                    .ok_or_else(|| TransportError::InvalidResponse("no eventoXmlGZipB64".into()))?;
                let xml = codec::decode(&b64).map_err(TransportError::InvalidResponse)?;
                Ok(EventOutcome::Registered { xml: xml.into() })
            }
            (s @ 400..=499, b) => {
                let errors = errors_of(&Self::json(&b).map_err(|_| http_error(s, &b))?);
                if errors.is_empty() { Err(http_error(s, &b)) } else { Ok(EventOutcome::Rejected(errors)) }
            }
            (s, b) => Err(http_error(s, &b)),
        }
    }

    async fn event(&self, key: &NfseKey, event_type: &str, seq: u32) -> Result<Option<Arc<str>>, TransportError> {
        let url = format!("{}/nfse/{}/eventos/{}/{}", self.base.sefin, key, event_type, seq);
        match self.send(self.http.get(&url)).await? {
            (200..=299, b) => {
                let v = Self::json(&b)?;
                let b64 = str_ci(&v, "eventoXmlGZipB64")
                    .ok_or_else(|| TransportError::InvalidResponse("no eventoXmlGZipB64".into()))?;
                Ok(Some(codec::decode(&b64).map_err(TransportError::InvalidResponse)?.into()))
            }
            (404, _) => Ok(None),
            (s, b) => Err(http_error(s, &b)),
        }
    }

    async fn danfse(&self, key: &NfseKey) -> Result<Option<Vec<u8>>, TransportError> {
        let url = format!("{}/danfse/{}", self.base.adn, key);
        match self.send(self.http.get(&url)).await? {
            (200..=299, b) if b.starts_with(b"%PDF") => Ok(Some(b)),
            (200..=299, _) => Err(TransportError::InvalidResponse("the DANFSe is not a PDF".into())),
            (404, _) => Ok(None),
            (s, b) => Err(http_error(s, &b)),
        }
    }
}
