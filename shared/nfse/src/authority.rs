//! The Sefin Nacional port: issue an NFS-e from a signed DPS, find the NFS-e of a DPS, read an
//! NFS-e, register an event, fetch the DANFSe.

use std::sync::Arc;

use async_trait::async_trait;
pub use osflow_nfe::TransportError;
use osflow_nfe::xml;

use crate::event::SignedEvent;
use crate::id::{DpsId, NfseKey};
use crate::sign::SignedDps;

/// One item of Sefin's error list (`erros`: `codigo`, `descricao`, `complemento`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SefinError {
    pub code: String,
    pub description: String,
    pub complement: Option<String>,
}

impl SefinError {
    pub fn new(code: &str, description: impl Into<String>) -> SefinError {
        SefinError { code: code.to_owned(), description: description.into(), complement: None }
    }
}

impl std::fmt::Display for SefinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.description)?;
        if let Some(c) = &self.complement {
            write!(f, " ({c})")?;
        }
        Ok(())
    }
}

/// "DPS already used" — the DPS Id already produced an NFS-e: find it with `GET /dps/{id}`.
pub const DUPLICATE_DPS: &str = "E0014";

/// An NFS-e as Sefin returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedNfse {
    pub key: NfseKey,
    /// `nNFSe`.
    pub number: u64,
    /// `dhProc`.
    pub processed_at: String,
    /// The DPS it was generated from.
    pub dps_id: Option<DpsId>,
    /// The NFS-e document (`NFSe`), verbatim.
    pub xml: Arc<str>,
}

impl IssuedNfse {
    /// Reads the key, number and DPS Id from an `NFSe` document.
    pub fn from_xml(xml: impl Into<Arc<str>>) -> Result<IssuedNfse, String> {
        let xml: Arc<str> = xml.into();
        let root = xml::parse(&xml).map_err(|e| e.to_string())?;
        let inf = xml::find_path(&root, &|e| e.local_name() == "infNFSe")
            .and_then(|p| p.last().copied())
            .ok_or("no infNFSe")?;
        let key = inf
            .attr("Id")
            .and_then(|id| id.strip_prefix("NFS"))
            .and_then(NfseKey::parse)
            .ok_or("infNFSe/@Id is not NFS + 50 digits")?;
        let number = inf.text_at(&["nNFSe"]).and_then(|n| n.trim().parse().ok()).ok_or("no nNFSe")?;
        let processed_at = inf.text_at(&["dhProc"]).unwrap_or_default();
        let dps_id = inf.path(&["DPS", "infDPS"]).and_then(|d| d.attr("Id")).and_then(DpsId::parse);
        Ok(IssuedNfse { key, number, processed_at, dps_id, xml })
    }
}

/// What Sefin decided about a DPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    Issued(IssuedNfse),
    /// Not accepted: fix and send the same DPS Id again (the number is not consumed).
    Rejected(Vec<SefinError>),
}

impl IssueOutcome {
    pub fn errors(&self) -> &[SefinError] {
        match self {
            IssueOutcome::Issued(_) => &[],
            IssueOutcome::Rejected(e) => e,
        }
    }
    pub fn is_duplicate(&self) -> bool {
        self.errors().iter().any(|e| e.code.eq_ignore_ascii_case(DUPLICATE_DPS))
    }
}

/// What Sefin decided about an event request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// The registered event (`evento`, signed by Sefin), verbatim.
    Registered {
        xml: Arc<str>,
    },
    Rejected(Vec<SefinError>),
}

/// The Sefin Nacional (and ADN) port. Implemented by [`crate::client::SefinClient`] and
/// [`crate::simulator::Simulator`].
#[async_trait]
pub trait NfseAuthority: Send + Sync {
    /// `POST /nfse`. On a timeout or a 5xx it consults `GET /dps/{id}` before answering, and
    /// never resends by itself.
    async fn issue(&self, dps: &SignedDps) -> Result<IssueOutcome, TransportError>;
    /// `GET /dps/{id}`: the key of the NFS-e generated from this DPS, if any.
    async fn find_by_dps(&self, id: &DpsId) -> Result<Option<NfseKey>, TransportError>;
    /// `GET /nfse/{key}`.
    async fn nfse(&self, key: &NfseKey) -> Result<Option<IssuedNfse>, TransportError>;
    /// `POST /nfse/{key}/eventos`.
    async fn register_event(&self, event: &SignedEvent) -> Result<EventOutcome, TransportError>;
    /// `GET /nfse/{key}/eventos/{tpEvento}/{nSeqEvento}`: the registered event (`evento`), if any — what an
    /// event request whose answer was lost is consulted with before it is sent again.
    async fn event(&self, key: &NfseKey, event_type: &str, seq: u32) -> Result<Option<Arc<str>>, TransportError>;
    /// ADN `GET /danfse/{key}`: the DANFSe PDF.
    async fn danfse(&self, key: &NfseKey) -> Result<Option<Vec<u8>>, TransportError>;
}
