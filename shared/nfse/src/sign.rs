//! Enveloped XMLDSig of `infDPS` and `infPedReg` with the shared fiscal profile
//! ([`osflow_nfe::dsig`]): C14N 1.0, Reference `#<Id>`, X509Certificate only, `Signature` as the
//! last child of the root in the default namespace. RSA-SHA256 by default, RSA-SHA1 on request.

use std::sync::Arc;

use osflow_nfe::dsig::{self, SignatureAlgorithm};
use osflow_nfe::sign::SignError;
use osflow_nfe::xml::{self, XmlError};
use osflow_nfe::{Certificate, Environment};

use crate::build::{NFSE_NS, UnsignedDps, VERSION};
use crate::id::DpsId;

/// A signed DPS: the exact bytes of `<DPS>…</DPS>`, never modified after signing.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedDps {
    id: DpsId,
    environment: Environment,
    xml: Arc<str>,
}

impl std::fmt::Debug for SignedDps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDps").field("id", &self.id).field("bytes", &self.xml.len()).finish()
    }
}

impl SignedDps {
    pub fn id(&self) -> &DpsId {
        &self.id
    }
    pub fn environment(&self) -> Environment {
        self.environment
    }
    /// The signed `DPS` element (no XML declaration).
    pub fn xml(&self) -> &str {
        &self.xml
    }
    /// Reloads stored bytes (a retry sends the same DPS): checks the root and reads the Id.
    pub fn from_stored(xml: impl Into<Arc<str>>) -> Result<SignedDps, XmlError> {
        let xml: Arc<str> = xml.into();
        let bad = |m: &str| XmlError { pos: 0, msg: m.to_owned() };
        let root = xml::parse(&xml)?;
        if root.local_name() != "DPS" || root.attr("xmlns") != Some(NFSE_NS) {
            return Err(bad("root is not DPS in the NFS-e namespace"));
        }
        let inf = root.child("infDPS").ok_or_else(|| bad("no infDPS"))?;
        let id = inf.attr("Id").and_then(DpsId::parse).ok_or_else(|| bad("infDPS/@Id is not DPS + 42 digits"))?;
        let environment = match inf.text_at(&["tpAmb"]).as_deref() {
            Some("1") => Environment::Production,
            _ => Environment::Homologation,
        };
        Ok(SignedDps { id, environment, xml })
    }
}

/// Digest of the canonical `infDPS` in its context (the inherited default namespace).
pub fn digest(dps: &UnsignedDps, alg: SignatureAlgorithm) -> String {
    let mut canon = String::with_capacity(dps.content().len() + 160);
    dps.push_inf_dps(&mut canon, true);
    alg.digest_b64(canon.as_bytes())
}

/// Signs the DPS with the A1 certificate.
pub fn sign_dps(dps: &UnsignedDps, cert: &Certificate, alg: SignatureAlgorithm) -> Result<SignedDps, SignError> {
    let digest_b64 = digest(dps, alg);
    let mut out = String::with_capacity(dps.content().len() + 2 * cert.cert_base64().len() + 1400);
    out.push_str("<DPS xmlns=\"");
    out.push_str(NFSE_NS);
    out.push_str("\" versao=\"");
    out.push_str(VERSION);
    out.push_str("\">");
    dps.push_inf_dps(&mut out, false);
    dsig::push_signature(&mut out, cert, alg, dps.id().as_str(), &digest_b64)?;
    out.push_str("</DPS>");
    Ok(SignedDps { id: *dps.id(), environment: dps.environment(), xml: out.into() })
}

/// Verifies the signature of a DPS (bare or inside an NFS-e), accepting `allowed` algorithms.
pub fn verify_dps(
    doc: &str,
    allowed: &[SignatureAlgorithm],
) -> Result<(osflow_nfe::X509Cert, SignatureAlgorithm), osflow_nfe::VerifyError> {
    dsig::verify_enveloped(doc, "DPS", "infDPS", allowed)
}

/// Both algorithms.
pub const ANY_ALGORITHM: [SignatureAlgorithm; 2] = [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha1];
