//! The fiscal authority port: authorize a signed NF-e, consult it by key, check the service.

use std::sync::Arc;

use async_trait::async_trait;

use crate::event::{EventReceipt, SignedEvent, SignedVoid, VoidReceipt};
use crate::key::AccessKey;
use crate::sign::SignedNfe;

/// An authorization protocol (`protNFe`) as returned by the authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol {
    pub key: AccessKey,
    /// `nProt`.
    pub number: String,
    /// `cStat` (100 or 150; 110/301/302/303 for a denial).
    pub c_stat: u16,
    pub x_motivo: String,
    /// `dhRecbto` as sent by the authority.
    pub received_at: String,
    /// The `protNFe` element, verbatim, ready for [`crate::wrap::nfe_proc`].
    pub prot_nfe: Arc<str>,
}

/// What the authority decided about an NF-e.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 100/150: authorized; store `nfeProc` (the NF-e plus this protocol).
    Authorized(Protocol),
    /// 110/301/302/303: denied (uso denegado). The number is consumed; the authority keeps
    /// the document, so `protocol` is present when it sent one.
    Denied { c_stat: u16, x_motivo: String, protocol: Option<Protocol> },
    /// Any other cStat: the document was not accepted (fix and resend with the same key),
    /// or — when consulting — it is not known (217) or was cancelled (101/151/155).
    Rejected { c_stat: u16, x_motivo: String },
}

impl Outcome {
    pub fn c_stat(&self) -> u16 {
        match self {
            Outcome::Authorized(p) => p.c_stat,
            Outcome::Denied { c_stat, .. } | Outcome::Rejected { c_stat, .. } => *c_stat,
        }
    }
    /// Consult answer "NF-e não consta na base de dados" (217): safe to send it again.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Outcome::Rejected { c_stat: 217, .. })
    }
    /// Maps a cStat (with the protocol when the authority sent one).
    pub fn from_c_stat(c_stat: u16, x_motivo: String, protocol: Option<Protocol>) -> Outcome {
        match (c_stat, protocol) {
            (100 | 150, Some(p)) => Outcome::Authorized(p),
            (110 | 205 | 301 | 302 | 303, protocol) => Outcome::Denied { c_stat, x_motivo, protocol },
            (c_stat, _) => Outcome::Rejected { c_stat, x_motivo },
        }
    }
}

/// The cStats that decide nothing about a document: the service paused (108 short term, 109 without forecast)
/// or the client throttled (656 consumo indevido). The request was not processed; an answer with one of them is
/// a transport failure (consult, then retry), never a rejection.
pub fn inconclusive(c_stat: u16) -> bool {
    matches!(c_stat, 108 | 109 | 656)
}

/// `retConsStatServ`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceStatus {
    pub c_stat: u16,
    pub x_motivo: String,
    pub received_at: Option<String>,
    /// `tMed`: average response time in seconds, when informed.
    pub average_seconds: Option<u32>,
}

impl ServiceStatus {
    /// 107 = "Serviço em Operação".
    pub fn in_operation(&self) -> bool {
        self.c_stat == 107
    }
}

/// The request did not produce an answer from the authority.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer in time: the request may have reached the authority and been processed.
    /// **Consult by key before any retry** (and resend the same signed bytes if not found).
    #[error("timed out waiting for the authority{}", consulted.map(|c| format!(" (consult answered cStat {c})")).unwrap_or_default())]
    Timeout {
        /// The cStat of the consult the client made after the timeout, if it got an answer.
        consulted: Option<u16>,
    },
    /// The connection (TCP or TLS handshake) failed: nothing was sent, retrying is safe.
    #[error("could not connect: {0}")]
    Connect(String),
    /// The server answered with an HTTP error (e.g. a SOAP fault).
    #[error("HTTP {status}: {body}")]
    Http { status: u16, body: String },
    /// The answer could not be understood.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// The authority answered without deciding: paused (108/109), throttled (656), or a duplicate (204/539)
    /// whose consult gave no answer. Consult before any retry.
    #[error("SEFAZ did not decide (cStat {c_stat}: {x_motivo})")]
    Inconclusive { c_stat: u16, x_motivo: String },
    /// Local configuration problem (certificate, trust store, endpoint).
    #[error("configuration: {0}")]
    Config(String),
}

impl TransportError {
    /// True when the caller must consult before retrying.
    pub fn must_consult(&self) -> bool {
        matches!(
            self,
            TransportError::Timeout { .. } | TransportError::Http { .. } | TransportError::Inconclusive { .. }
        )
    }
}

/// The SEFAZ port. Implemented by [`crate::sefaz::SefazSoap`] and [`crate::simulator::Simulator`].
#[async_trait]
pub trait FiscalAuthority: Send + Sync {
    /// Sends one signed NF-e (synchronous authorization, `indSinc=1`).
    async fn authorize(&self, nfe: &SignedNfe) -> Result<Outcome, TransportError>;
    /// Consults an NF-e by access key (NFeConsultaProtocolo4).
    async fn consult(&self, key: &AccessKey) -> Result<Outcome, TransportError>;
    /// Service status (NFeStatusServico4).
    async fn status(&self) -> Result<ServiceStatus, TransportError>;
    /// Registers one event (NFeRecepcaoEvento4, a batch of one). A rejection is a receipt with its cStat;
    /// a paused or throttled service is [`TransportError::Inconclusive`].
    async fn send_event(&self, event: &SignedEvent) -> Result<EventReceipt, TransportError>;
    /// Voids a range of numbers (NFeInutilizacao4).
    async fn void_numbers(&self, request: &SignedVoid) -> Result<VoidReceipt, TransportError>;
}
