//! Event requests (`pedRegEvento`, leiaute 1.01): the cancellation e101101.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use osflow_nfe::dsig::{self, SignatureAlgorithm};
use osflow_nfe::error::{BuildError, Problem};
use osflow_nfe::sign::SignError;
use osflow_nfe::text::required;
use osflow_nfe::{Certificate, Cnpj, Environment};

use crate::build::{NFSE_NS, VERSION, tag};
use crate::id::{NfseKey, event_request_id};

/// `tpEvento` of the cancellation.
pub const CANCEL: &str = "101101";

/// `cMotivo` of e101101.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// 1 — erro na emissão.
    IssueError,
    /// 2 — serviço não prestado.
    NotProvided,
    /// 9 — outros.
    Other,
}

impl CancelReason {
    pub fn code(self) -> u8 {
        match self {
            CancelReason::IssueError => 1,
            CancelReason::NotProvided => 2,
            CancelReason::Other => 9,
        }
    }
    pub fn from_code(c: u8) -> Option<CancelReason> {
        match c {
            1 => Some(CancelReason::IssueError),
            2 => Some(CancelReason::NotProvided),
            9 => Some(CancelReason::Other),
            _ => None,
        }
    }
}

/// A cancellation request of an NFS-e by its provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelInput {
    pub environment: Environment,
    pub app_version: String,
    /// `dhEvento`.
    pub at: DateTime<FixedOffset>,
    /// `CNPJAutor`: the provider.
    pub author: Cnpj,
    pub key: NfseKey,
    pub reason: CancelReason,
    /// `xMotivo` (15–255 characters).
    pub text: String,
}

/// A signed `pedRegEvento`: the exact bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedEvent {
    id: String,
    key: NfseKey,
    event_type: &'static str,
    xml: Arc<str>,
}

impl std::fmt::Debug for SignedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedEvent").field("id", &self.id).field("bytes", &self.xml.len()).finish()
    }
}

impl SignedEvent {
    pub fn id(&self) -> &str {
        &self.id
    }
    pub fn key(&self) -> &NfseKey {
        &self.key
    }
    pub fn event_type(&self) -> &'static str {
        self.event_type
    }
    pub fn xml(&self) -> &str {
        &self.xml
    }
}

/// Builds and signs the cancellation request.
pub fn cancel(input: &CancelInput, cert: &Certificate, alg: SignatureAlgorithm) -> Result<SignedEvent, CancelError> {
    if input.author.is_alphanumeric() {
        return Err(BuildError::new("infPedReg.CNPJAutor", Problem::Format("a numeric CNPJ")).into());
    }
    let ver = required("infPedReg.verAplic", &input.app_version, 1, 20)?;
    let x_motivo = required("infPedReg.e101101.xMotivo", &input.text, 15, 255)?;
    let id = event_request_id(&input.key, CANCEL);
    let mut c = String::with_capacity(512);
    tag(&mut c, "tpAmb", &input.environment.code().to_string());
    tag(&mut c, "verAplic", &ver);
    tag(&mut c, "dhEvento", &input.at.format("%Y-%m-%dT%H:%M:%S%:z").to_string());
    tag(&mut c, "CNPJAutor", input.author.as_str());
    tag(&mut c, "chNFSe", input.key.as_str());
    c.push_str("<e101101>");
    tag(&mut c, "xDesc", "Cancelamento de NFS-e");
    tag(&mut c, "cMotivo", &input.reason.code().to_string());
    tag(&mut c, "xMotivo", &x_motivo);
    c.push_str("</e101101>");

    let inf = |with_ns: bool| {
        let mut s = String::with_capacity(c.len() + 160);
        s.push_str("<infPedReg");
        if with_ns {
            s.push_str(" xmlns=\"");
            s.push_str(NFSE_NS);
            s.push('"');
        }
        s.push_str(" Id=\"");
        s.push_str(&id);
        s.push_str("\">");
        s.push_str(&c);
        s.push_str("</infPedReg>");
        s
    };
    let digest_b64 = alg.digest_b64(inf(true).as_bytes());
    let mut out = String::with_capacity(c.len() + 4096);
    out.push_str("<pedRegEvento xmlns=\"");
    out.push_str(NFSE_NS);
    out.push_str("\" versao=\"");
    out.push_str(VERSION);
    out.push_str("\">");
    out.push_str(&inf(false));
    dsig::push_signature(&mut out, cert, alg, &id, &digest_b64)?;
    out.push_str("</pedRegEvento>");
    Ok(SignedEvent { id, key: input.key.clone(), event_type: CANCEL, xml: out.into() })
}

/// The request could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CancelError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Sign(#[from] SignError),
}

/// Verifies the signature of an event request.
pub fn verify_event(
    doc: &str,
    allowed: &[SignatureAlgorithm],
) -> Result<(osflow_nfe::X509Cert, SignatureAlgorithm), osflow_nfe::VerifyError> {
    dsig::verify_enveloped(doc, "pedRegEvento", "infPedReg", allowed)
}
