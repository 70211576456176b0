//! Verification of an NF-e signature as SEFAZ does it: the profile, the digest over the
//! canonical `infNFe` (inclusive C14N, in its real context) and RSA-SHA1 over the canonical
//! `SignedInfo` with the embedded certificate.

use crate::cert::X509Cert;

use crate::dsig::{self, SignatureAlgorithm};
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

/// Verifies the (first) NFe signature of `doc` (root `NFe`, `nfeProc`, `enviNFe` or a SOAP
/// envelope). Returns the signer's certificate.
pub fn verify(doc: &str) -> Result<X509Cert, VerifyError> {
    let root = xml::parse(doc)?;
    verify_tree(&root)
}

pub(crate) fn verify_tree(root: &Element) -> Result<X509Cert, VerifyError> {
    verify_signed(root, "NFe", "infNFe")
}

/// Verifies the signature of the first `outer` element of `doc` over its child `inner` (`evento`/`infEvento`,
/// `inutNFe`/`infInut`, or `NFe`/`infNFe`), with the same profile as the NF-e's. Returns the signer's
/// certificate.
pub fn verify_document(doc: &str, outer: &str, inner: &str) -> Result<X509Cert, VerifyError> {
    let root = xml::parse(doc)?;
    verify_signed(&root, outer, inner)
}

pub(crate) fn verify_signed(root: &Element, outer: &str, inner: &str) -> Result<X509Cert, VerifyError> {
    dsig::verify_enveloped_tree(root, outer, inner, &[SignatureAlgorithm::RsaSha1]).map(|(cert, _)| cert)
}
