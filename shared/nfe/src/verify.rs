//! Verification of an NF-e signature as SEFAZ does it: the profile, the digest over the
//! canonical `infNFe` (inclusive C14N, in its real context) and RSA-SHA1 over the canonical
//! `SignedInfo` with the embedded certificate.

use openssl::hash::MessageDigest;
use openssl::sign::Verifier;
use openssl::x509::X509;

use crate::sign::{C14N_ALG, DSIG_NS, ENVELOPED_ALG, RSA_SHA1_ALG, SHA1_ALG};
use crate::xml::{self, Element};

/// Why a signature does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Xml(#[from] xml::XmlError),
    #[error("no NFe/infNFe element (or the signed element asked for)")]
    NoInfNFe,
    #[error("no Signature after infNFe")]
    NoSignature,
    #[error("signature does not follow the SEFAZ profile: {0}")]
    Profile(String),
    #[error("digest of infNFe differs from DigestValue")]
    Digest,
    #[error("SignatureValue does not verify with the embedded certificate")]
    Signature,
    #[error("embedded certificate is invalid: {0}")]
    Certificate(String),
}

fn b64(s: &str) -> Result<Vec<u8>, ()> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    openssl::base64::decode_block(&clean).map_err(|_| ())
}

/// Verifies the (first) NFe signature of `doc` (root `NFe`, `nfeProc`, `enviNFe` or a SOAP
/// envelope). Returns the signer's certificate.
pub fn verify(doc: &str) -> Result<X509, VerifyError> {
    let root = xml::parse(doc)?;
    verify_tree(&root)
}

pub(crate) fn verify_tree(root: &Element) -> Result<X509, VerifyError> {
    verify_signed(root, "NFe", "infNFe")
}

/// Verifies the signature of the first `outer` element of `doc` over its child `inner` (`evento`/`infEvento`,
/// `inutNFe`/`infInut`, or `NFe`/`infNFe`), with the same profile as the NF-e's. Returns the signer's
/// certificate.
pub fn verify_document(doc: &str, outer: &str, inner: &str) -> Result<X509, VerifyError> {
    let root = xml::parse(doc)?;
    verify_signed(&root, outer, inner)
}

pub(crate) fn verify_signed(root: &Element, outer: &str, inner: &str) -> Result<X509, VerifyError> {
    let path = xml::find_path(root, &|e| e.local_name() == outer).ok_or(VerifyError::NoInfNFe)?;
    let nfe = *path.last().ok_or(VerifyError::NoInfNFe)?;
    // Namespaces in scope for NFe's children (NFe's own declarations included).
    let nfe_scope = xml::scope_of(&path);
    let inf = nfe.child(inner).ok_or(VerifyError::NoInfNFe)?;
    let sig = nfe.child("Signature").ok_or(VerifyError::NoSignature)?;
    let prof = |m: &str| VerifyError::Profile(m.to_owned());
    if !sig.prefix().is_empty() || xml::ns_uri(sig, &nfe_scope).as_deref() != Some(DSIG_NS) {
        return Err(prof("Signature must be in the default namespace xmldsig# (no prefix)"));
    }
    if nfe.elements().last().map(|e| e.local_name()) != Some("Signature") {
        return Err(prof("Signature must be the last child of NFe"));
    }
    let si = sig.child("SignedInfo").ok_or_else(|| prof("no SignedInfo"))?;
    let alg = |e: Option<&Element>| e.and_then(|e| e.attr("Algorithm")).map(str::to_owned);
    if alg(si.child("CanonicalizationMethod")).as_deref() != Some(C14N_ALG) {
        return Err(prof("CanonicalizationMethod must be C14N 1.0"));
    }
    if alg(si.child("SignatureMethod")).as_deref() != Some(RSA_SHA1_ALG) {
        return Err(prof("SignatureMethod must be rsa-sha1"));
    }
    let refs: Vec<&Element> = si.elements().filter(|e| e.local_name() == "Reference").collect();
    if refs.len() != 1 {
        return Err(prof("exactly one Reference"));
    }
    let r = refs[0];
    let id = inf.attr("Id").unwrap_or_default();
    if r.attr("URI") != Some(&format!("#{id}")) {
        return Err(prof("Reference URI must be #<infNFe/@Id>"));
    }
    let tr: Vec<String> = r
        .child("Transforms")
        .map(|t| t.elements().filter_map(|e| e.attr("Algorithm").map(str::to_owned)).collect())
        .unwrap_or_default();
    if tr != [ENVELOPED_ALG, C14N_ALG] {
        return Err(prof("Transforms must be [enveloped-signature, c14n]"));
    }
    if alg(r.child("DigestMethod")).as_deref() != Some(SHA1_ALG) {
        return Err(prof("DigestMethod must be sha1"));
    }
    let x509 = sig
        .path(&["KeyInfo", "X509Data", "X509Certificate"])
        .ok_or_else(|| prof("KeyInfo/X509Data/X509Certificate"))?;
    let der = b64(&x509.text()).map_err(|_| VerifyError::Certificate("bad base64".into()))?;
    let cert = X509::from_der(&der).map_err(|e| VerifyError::Certificate(e.to_string()))?;

    // Digest over the canonical infNFe in its context (NFe's declarations included).
    let canon = xml::c14n(inf, &nfe_scope);
    let digest = openssl::sha::sha1(canon.as_bytes());
    let declared = r.child("DigestValue").map(|d| d.text()).unwrap_or_default();
    if b64(&declared).ok().as_deref() != Some(&digest[..]) {
        return Err(VerifyError::Digest);
    }
    // SignedInfo in its context (NFe and Signature declarations).
    let mut si_chain = path.clone();
    si_chain.push(sig);
    let si_canon = xml::c14n(si, &xml::scope_of(&si_chain));
    let sv = sig.child("SignatureValue").map(|s| s.text()).unwrap_or_default();
    let sv = b64(&sv).map_err(|_| VerifyError::Signature)?;
    let pk = cert.public_key().map_err(|e| VerifyError::Certificate(e.to_string()))?;
    let mut v = Verifier::new(MessageDigest::sha1(), &pk).map_err(|_| VerifyError::Signature)?;
    match v.verify_oneshot(&sv, si_canon.as_bytes()) {
        Ok(true) => Ok(cert),
        _ => Err(VerifyError::Signature),
    }
}
