//! The enveloped XMLDSig profile shared by the fiscal documents (NF-e, its events, the NFS-e
//! DPS and event requests): inclusive C14N 1.0, one Reference `#<Id>` with the Transforms
//! [enveloped-signature, c14n], KeyInfo with the X.509 certificate only, `Signature` in the
//! default namespace. Only the algorithm pair varies: RSA-SHA1/SHA-1 (the NF-e, fixed by the
//! SEFAZ schema) or RSA-SHA256/SHA-256 (the NFS-e Nacional's current choice).
//!
//! The writers produce canonical XML, so the caller passes the canonical bytes of the signed
//! element (with the namespace declaration it inherits) and places the returned `Signature`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::{RandomizedSigner, SignatureEncoding, Verifier};
use sha1::{Digest, Sha1};
use sha2::Sha256;

use crate::cert::{Certificate, X509Cert};
use crate::sign::{C14N_ALG, DSIG_NS, ENVELOPED_ALG, RSA_SHA1_ALG, SHA1_ALG, SignError};
use crate::verify::VerifyError;
use crate::xml::{self, Element};

pub const RSA_SHA256_ALG: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub const SHA256_ALG: &str = "http://www.w3.org/2001/04/xmlenc#sha256";

/// The signature and digest algorithms of a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignatureAlgorithm {
    /// `rsa-sha1` with a SHA-1 digest (the NF-e profile).
    RsaSha1,
    /// `rsa-sha256` with a SHA-256 digest.
    #[default]
    RsaSha256,
}

impl SignatureAlgorithm {
    pub fn signature_uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha1 => RSA_SHA1_ALG,
            SignatureAlgorithm::RsaSha256 => RSA_SHA256_ALG,
        }
    }
    pub fn digest_uri(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha1 => SHA1_ALG,
            SignatureAlgorithm::RsaSha256 => SHA256_ALG,
        }
    }
    /// The digest of `bytes`, base64.
    pub fn digest_b64(self, bytes: &[u8]) -> String {
        match self {
            SignatureAlgorithm::RsaSha1 => BASE64.encode(Sha1::digest(bytes)),
            SignatureAlgorithm::RsaSha256 => BASE64.encode(Sha256::digest(bytes)),
        }
    }
    /// `"rsa-sha1"` / `"rsa-sha256"` (settings and logs).
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureAlgorithm::RsaSha1 => "rsa-sha1",
            SignatureAlgorithm::RsaSha256 => "rsa-sha256",
        }
    }
    pub fn parse(s: &str) -> Option<SignatureAlgorithm> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "rsa-sha1" => Some(SignatureAlgorithm::RsaSha1),
            "rsa-sha256" => Some(SignatureAlgorithm::RsaSha256),
            _ => None,
        }
    }
}

impl std::fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Appends `SignedInfo` (canonical form; `with_ns` adds the declaration it carries when
/// canonicalized on its own, which is what gets signed).
pub fn push_signed_info(out: &mut String, alg: SignatureAlgorithm, id: &str, digest_b64: &str, with_ns: bool) {
    out.push_str("<SignedInfo");
    if with_ns {
        out.push_str(" xmlns=\"");
        out.push_str(DSIG_NS);
        out.push('"');
    }
    out.push_str("><CanonicalizationMethod Algorithm=\"");
    out.push_str(C14N_ALG);
    out.push_str("\"></CanonicalizationMethod><SignatureMethod Algorithm=\"");
    out.push_str(alg.signature_uri());
    out.push_str("\"></SignatureMethod><Reference URI=\"#");
    out.push_str(id);
    out.push_str("\"><Transforms><Transform Algorithm=\"");
    out.push_str(ENVELOPED_ALG);
    out.push_str("\"></Transform><Transform Algorithm=\"");
    out.push_str(C14N_ALG);
    out.push_str("\"></Transform></Transforms><DigestMethod Algorithm=\"");
    out.push_str(alg.digest_uri());
    out.push_str("\"></DigestMethod><DigestValue>");
    out.push_str(digest_b64);
    out.push_str("</DigestValue></Reference></SignedInfo>");
}

/// RSA PKCS#1 v1.5 signature of the canonical `SignedInfo`, base64.
///
/// The signature is deterministic (PKCS#1 v1.5: the same bytes OpenSSL produced); the random source only
/// blinds the private-key operation. RustCrypto `rsa` is used here for signing (and [`verify_enveloped`] for
/// verifying), never for decryption. RUSTSEC-2023-0071 (Marvin) is a timing side channel: an attacker who can
/// have many chosen ciphertexts decrypted and time each decryption recovers a plaintext or forges a signature;
/// the advisory was filed with no fixed version (rsa 0.10 moved to constant-time crypto-bigint arithmetic to
/// close it). Here the only private-key operation is signing the SignedInfo of a document this process built
/// itself: no attacker-chosen ciphertext reaches the key and nothing answers as a decryption oracle; and each
/// signature is blinded by a fresh random factor (`try_sign_with_rng` with the OS random source), so its timing
/// does not follow the key's bits.
pub fn signature_value(cert: &Certificate, alg: SignatureAlgorithm, signed_info: &str) -> Result<String, SignError> {
    let mut rng = rsa::rand_core::UnwrapErr(getrandom::SysRng);
    let msg = signed_info.as_bytes();
    let sig: Signature = match alg {
        SignatureAlgorithm::RsaSha1 => cert.sha1_signer().try_sign_with_rng(&mut rng, msg),
        SignatureAlgorithm::RsaSha256 => cert.sha256_signer().try_sign_with_rng(&mut rng, msg),
    }
    .map_err(|e| SignError(e.to_string()))?;
    Ok(BASE64.encode(sig.to_bytes()))
}

/// Appends the whole `Signature` element for the element `id` whose canonical bytes (in
/// context) digest to `digest_b64`.
pub fn push_signature(
    out: &mut String,
    cert: &Certificate,
    alg: SignatureAlgorithm,
    id: &str,
    digest_b64: &str,
) -> Result<(), SignError> {
    let mut si = String::with_capacity(900);
    push_signed_info(&mut si, alg, id, digest_b64, true);
    let sig_b64 = signature_value(cert, alg, &si)?;
    out.push_str("<Signature xmlns=\"");
    out.push_str(DSIG_NS);
    out.push_str("\">");
    push_signed_info(out, alg, id, digest_b64, false);
    out.push_str("<SignatureValue>");
    out.push_str(&sig_b64);
    out.push_str("</SignatureValue><KeyInfo><X509Data><X509Certificate>");
    out.push_str(cert.cert_base64());
    out.push_str("</X509Certificate></X509Data></KeyInfo></Signature>");
    Ok(())
}

fn b64(s: &str) -> Result<Vec<u8>, ()> {
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    BASE64.decode(clean).map_err(|_| ())
}

/// Verifies the signature of the first element `parent` found in `doc` (at any depth) over its
/// child `signed` (`infNFe`, `infDPS`, `infPedReg`…), accepting only the algorithms in
/// `allowed`. Returns the signer's certificate and the algorithm used.
pub fn verify_enveloped(
    doc: &str,
    parent: &str,
    signed: &str,
    allowed: &[SignatureAlgorithm],
) -> Result<(X509Cert, SignatureAlgorithm), VerifyError> {
    let root = xml::parse(doc)?;
    verify_enveloped_tree(&root, parent, signed, allowed)
}

pub(crate) fn verify_enveloped_tree(
    root: &Element,
    parent: &str,
    signed: &str,
    allowed: &[SignatureAlgorithm],
) -> Result<(X509Cert, SignatureAlgorithm), VerifyError> {
    let missing = || VerifyError::NoInfNFe;
    let path = xml::find_path(root, &|e| e.local_name() == parent).ok_or_else(missing)?;
    let holder = *path.last().ok_or_else(missing)?;
    // Namespaces in scope for the holder's children (its own declarations included).
    let scope = xml::scope_of(&path);
    let inf = holder.child(signed).ok_or_else(missing)?;
    let sig = holder.child("Signature").ok_or(VerifyError::NoSignature)?;
    let prof = |m: String| VerifyError::Profile(m);
    if !sig.prefix().is_empty() || xml::ns_uri(sig, &scope).as_deref() != Some(DSIG_NS) {
        return Err(prof("Signature must be in the default namespace xmldsig# (no prefix)".into()));
    }
    if holder.elements().last().map(|e| e.local_name()) != Some("Signature") {
        return Err(prof(format!("Signature must be the last child of {parent}")));
    }
    let si = sig.child("SignedInfo").ok_or_else(|| prof("no SignedInfo".into()))?;
    let alg_of = |e: Option<&Element>| e.and_then(|e| e.attr("Algorithm")).map(str::to_owned);
    if alg_of(si.child("CanonicalizationMethod")).as_deref() != Some(C14N_ALG) {
        return Err(prof("CanonicalizationMethod must be C14N 1.0".into()));
    }
    let method = alg_of(si.child("SignatureMethod")).unwrap_or_default();
    let alg = allowed.iter().copied().find(|a| a.signature_uri() == method).ok_or_else(|| {
        let names: Vec<&str> = allowed.iter().map(|a| a.as_str()).collect();
        prof(format!("SignatureMethod must be {}", names.join(" or ")))
    })?;
    let refs: Vec<&Element> = si.elements().filter(|e| e.local_name() == "Reference").collect();
    if refs.len() != 1 {
        return Err(prof("exactly one Reference".into()));
    }
    let r = refs[0];
    let id = inf.attr("Id").unwrap_or_default();
    if r.attr("URI") != Some(&format!("#{id}")) {
        return Err(prof(format!("Reference URI must be #<{signed}/@Id>")));
    }
    let tr: Vec<String> = r
        .child("Transforms")
        .map(|t| t.elements().filter_map(|e| e.attr("Algorithm").map(str::to_owned)).collect())
        .unwrap_or_default();
    if tr != [ENVELOPED_ALG, C14N_ALG] {
        return Err(prof("Transforms must be [enveloped-signature, c14n]".into()));
    }
    if alg_of(r.child("DigestMethod")).as_deref() != Some(alg.digest_uri()) {
        return Err(prof(format!("DigestMethod must be {} with {}", alg.digest_uri(), alg.as_str())));
    }
    let x509 = sig
        .path(&["KeyInfo", "X509Data", "X509Certificate"])
        .ok_or_else(|| prof("KeyInfo/X509Data/X509Certificate".into()))?;
    let der = b64(&x509.text()).map_err(|_| VerifyError::Certificate("bad base64".into()))?;
    let cert = X509Cert::from_der(&der).map_err(|e| VerifyError::Certificate(e.to_string()))?;

    // Digest over the canonical signed element in its context.
    let canon = xml::c14n(inf, &scope);
    let declared = r.child("DigestValue").map(|d| d.text()).unwrap_or_default();
    if b64(&declared).ok() != b64(&alg.digest_b64(canon.as_bytes())).ok() {
        return Err(VerifyError::Digest);
    }
    // SignedInfo in its context (the holder's and Signature's declarations).
    let mut si_chain = path.clone();
    si_chain.push(sig);
    let si_canon = xml::c14n(si, &xml::scope_of(&si_chain));
    let sv = sig.child("SignatureValue").map(|s| s.text()).unwrap_or_default();
    let sv = b64(&sv).map_err(|_| VerifyError::Signature)?;
    let pk = cert.rsa_public_key().map_err(|e| VerifyError::Certificate(e.to_string()))?;
    let sv = Signature::try_from(sv.as_slice()).map_err(|_| VerifyError::Signature)?;
    let verified = match alg {
        SignatureAlgorithm::RsaSha1 => VerifyingKey::<Sha1>::new(pk).verify(si_canon.as_bytes(), &sv),
        SignatureAlgorithm::RsaSha256 => VerifyingKey::<Sha256>::new(pk).verify(si_canon.as_bytes(), &sv),
    };
    match verified {
        Ok(()) => Ok((cert, alg)),
        Err(_) => Err(VerifyError::Signature),
    }
}
