//! Enveloped XMLDSig of `infNFe` with the SEFAZ profile: C14N 1.0 inclusive, RSA-SHA1,
//! SHA-1 digest, one Reference `#NFe<key>` with the two Transforms, KeyInfo with the X.509
//! certificate only, `Signature` in the default namespace as the last child of `NFe`.
//!
//! Since the writer produces canonical XML, the digest is computed over the bytes as written
//! plus the namespace declaration `infNFe` inherits from `NFe` (inclusive C14N carries it).
//! The signed document is immutable afterwards: [`SignedNfe`] exposes it read-only.

use std::sync::Arc;

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::build::{NFE_NS, UnsignedNfe};
use crate::cert::Certificate;
use crate::dsig::{self, SignatureAlgorithm};
use crate::key::AccessKey;
use crate::model::Environment;

pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
pub const C14N_ALG: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub const RSA_SHA1_ALG: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
pub const SHA1_ALG: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
pub const ENVELOPED_ALG: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// The RSA signing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signature failed: {0}")]
pub struct SignError(pub String);

/// A signed NF-e: the exact bytes of `<NFe>…</NFe>`, never modified after signing.
/// Store them as they are; wrappers ([`crate::wrap`]) embed them verbatim.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedNfe {
    key: AccessKey,
    environment: Environment,
    xml: Arc<str>,
}

impl std::fmt::Debug for SignedNfe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedNfe").field("key", &self.key).field("bytes", &self.xml.len()).finish()
    }
}

impl SignedNfe {
    pub fn key(&self) -> &AccessKey {
        &self.key
    }
    pub fn environment(&self) -> Environment {
        self.environment
    }
    /// The signed `NFe` element (no XML declaration).
    pub fn xml(&self) -> &str {
        &self.xml
    }
    /// Reloads stored bytes (e.g. for a retry): checks the root is `NFe` in the NF-e namespace
    /// and reads the key from `infNFe/@Id` and `tpAmb`. The bytes are kept verbatim.
    pub fn from_stored(xml: impl Into<Arc<str>>) -> Result<SignedNfe, crate::xml::XmlError> {
        let xml: Arc<str> = xml.into();
        let bad = |m: &str| crate::xml::XmlError { pos: 0, msg: m.to_owned() };
        let root = crate::xml::parse(&xml)?;
        if root.local_name() != "NFe" || root.attr("xmlns") != Some(NFE_NS) {
            return Err(bad("root is not NFe in the NF-e namespace"));
        }
        let inf = root.child("infNFe").ok_or_else(|| bad("no infNFe"))?;
        let id = inf.attr("Id").unwrap_or_default();
        let key = id
            .strip_prefix("NFe")
            .and_then(|k| AccessKey::parse(k).ok())
            .ok_or_else(|| bad("infNFe/@Id is not NFe + a valid access key"))?;
        let environment = match inf.text_at(&["ide", "tpAmb"]).as_deref() {
            Some("1") => Environment::Production,
            _ => Environment::Homologation,
        };
        Ok(SignedNfe { key, environment, xml })
    }
}

/// SHA-1 of the canonical `infNFe` (with the inherited `xmlns`), base64.
pub fn digest(nfe: &UnsignedNfe) -> String {
    let mut h = Sha1::new();
    h.update(b"<infNFe xmlns=\"");
    h.update(NFE_NS.as_bytes());
    h.update(b"\" Id=\"NFe");
    h.update(nfe.key().as_str().as_bytes());
    h.update(b"\" versao=\"4.00\">");
    h.update(nfe.content().as_bytes());
    h.update(b"</infNFe>");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Signs the NF-e with the A1 certificate.
pub fn sign(nfe: &UnsignedNfe, cert: &Certificate) -> Result<SignedNfe, SignError> {
    let id = format!("NFe{}", nfe.key().as_str());
    let digest_b64 = digest(nfe);

    let mut out = String::with_capacity(nfe.content().len() + 2 * cert.cert_base64().len() + 1400);
    out.push_str("<NFe xmlns=\"");
    out.push_str(NFE_NS);
    out.push_str("\">");
    nfe.push_inf_nfe(&mut out, false);
    dsig::push_signature(&mut out, cert, SignatureAlgorithm::RsaSha1, &id, &digest_b64)?;
    out.push_str("</NFe>");
    Ok(SignedNfe { key: *nfe.key(), environment: nfe.environment(), xml: out.into() })
}

/// Signs another document of the NF-e family the same way (events, inutilização): `outer_open` is the root's
/// start tag with the NF-e namespace as its only declaration (e.g. `<evento xmlns="…" versao="1.00">`), `inner`
/// the signed child (`infEvento`, `infInut`) whose only attribute is `Id`, `content` its canonical content.
/// Returns the whole root element with the `Signature` as its last child.
pub(crate) fn sign_document(
    outer_open: &str,
    outer: &str,
    inner: &str,
    id: &str,
    content: &str,
    cert: &Certificate,
) -> Result<String, SignError> {
    // Inclusive C14N of the signed child: the inherited NF-e namespace first, then Id.
    let canon: String = ["<", inner, " xmlns=\"", NFE_NS, "\" Id=\"", id, "\">", content, "</", inner, ">"].concat();
    let digest_b64 = SignatureAlgorithm::RsaSha1.digest_b64(canon.as_bytes());
    let mut out = String::with_capacity(content.len() + 2 * cert.cert_base64().len() + 1400);
    out.push_str(outer_open);
    out.push('<');
    out.push_str(inner);
    out.push_str(" Id=\"");
    out.push_str(id);
    out.push_str("\">");
    out.push_str(content);
    out.push_str("</");
    out.push_str(inner);
    out.push('>');
    dsig::push_signature(&mut out, cert, SignatureAlgorithm::RsaSha1, id, &digest_b64)?;
    out.push_str("</");
    out.push_str(outer);
    out.push('>');
    Ok(out)
}
