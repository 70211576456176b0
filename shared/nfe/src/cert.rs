//! The A1 certificate: PKCS#12 loading (AES/PBES2, 3DES and legacy RC2-40 encodings, through
//! the pure-Rust `p12-keystore`, so no OpenSSL legacy provider is needed), the CNPJ of the
//! holder and the validity dates.
//!
//! Parse once and cache: [`Certificate`] is an `Arc` and cheap to clone. Its `Debug` shows
//! only public facts; the private key and the password are never printed or logged.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use openssl::pkey::{PKey, Private};
use openssl::x509::X509;

use crate::key::Cnpj;

/// Why a certificate cannot be loaded or used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("PKCS#12 could not be opened (wrong password or damaged file): {0}")]
    Pkcs12(String),
    #[error("the PKCS#12 file holds no private key")]
    NoPrivateKey,
    #[error("the PKCS#12 file holds no certificate matching its private key")]
    NoMatchingCertificate,
    #[error("only RSA keys can sign NF-e (RSA-SHA1)")]
    NotRsa,
    #[error("certificate could not be parsed: {0}")]
    Parse(String),
    #[error("the certificate carries no CNPJ (ICP-Brasil otherName 2.16.76.1.3.3 or CN \"NAME:CNPJ\")")]
    NoCnpj,
    #[error("certificate CNPJ {cert} does not belong to the emitter {emitter} (rejection 213)")]
    CnpjMismatch { cert: String, emitter: String },
    #[error("certificate expired at {0}")]
    Expired(DateTime<Utc>),
    #[error("certificate is valid only from {0}")]
    NotYetValid(DateTime<Utc>),
}

/// Public facts of the holder's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Subject common name, e.g. `EMPRESA TESTE LTDA:12345678000195`.
    pub common_name: String,
    /// The holder's CNPJ, from the ICP-Brasil SAN otherName 2.16.76.1.3.3, else from the CN.
    pub cnpj: Option<Cnpj>,
    pub issuer: String,
    pub serial_hex: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

struct Inner {
    key: PKey<Private>,
    cert: X509,
    chain: Vec<X509>,
    cert_der: Vec<u8>,
    cert_b64: String,
    info: CertInfo,
}

/// An A1 certificate: the private key, the holder's X.509 certificate and its chain.
#[derive(Clone)]
pub struct Certificate(Arc<Inner>);

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("common_name", &self.0.info.common_name)
            .field("cnpj", &self.0.info.cnpj)
            .field("not_after", &self.0.info.not_after)
            .field("key", &"<redacted>")
            .finish()
    }
}

const OID_CNPJ: &str = "2.16.76.1.3.3";

/// Reads the string inside an otherName value: `[0] EXPLICIT { string }` or the bare string.
fn other_name_string(mut v: &[u8]) -> Option<String> {
    fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let tag = *b.first()?;
        let l0 = *b.get(1)? as usize;
        let (len, hdr) = if l0 < 0x80 {
            (l0, 2)
        } else {
            let n = l0 & 0x7f;
            if n == 0 || n > 3 || b.len() < 2 + n {
                return None;
            }
            (b[2..2 + n].iter().fold(0usize, |a, &x| a << 8 | x as usize), 2 + n)
        };
        let body = b.get(hdr..hdr + len)?;
        Some((tag, body, &b[hdr + len..]))
    }
    for _ in 0..3 {
        let (tag, body, _) = tlv(v)?;
        match tag {
            0xA0 => v = body,
            0x04 | 0x0C | 0x13 | 0x16 | 0x14 => {
                return Some(String::from_utf8_lossy(body).into_owned());
            }
            _ => return None,
        }
    }
    None
}

fn parse_info(der: &[u8]) -> Result<CertInfo, CertError> {
    use x509_parser::prelude::*;
    let (_, c) = X509Certificate::from_der(der).map_err(|e| CertError::Parse(e.to_string()))?;
    let common_name =
        c.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).unwrap_or_default().to_owned();
    let mut cnpj = None;
    if let Ok(Some(san)) = c.subject_alternative_name() {
        for gn in &san.value.general_names {
            if let GeneralName::OtherName(oid, value) = gn
                && oid.to_id_string() == OID_CNPJ
                && let Some(s) = other_name_string(value)
            {
                let digits: String = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                if let Ok(c) = Cnpj::parse(&digits) {
                    cnpj = Some(c);
                    break;
                }
            }
        }
    }
    if cnpj.is_none()
        && let Some((_, tail)) = common_name.rsplit_once(':')
    {
        cnpj = Cnpj::parse(tail.trim()).ok();
    }
    let ts = |t: i64| DateTime::<Utc>::from_timestamp(t, 0).unwrap_or_default();
    Ok(CertInfo {
        common_name,
        cnpj,
        issuer: c.issuer().to_string(),
        serial_hex: c.raw_serial_as_string(),
        not_before: ts(c.validity().not_before.timestamp()),
        not_after: ts(c.validity().not_after.timestamp()),
    })
}

impl Certificate {
    /// Loads a PKCS#12 (.pfx/.p12) file in any common encoding: PBES2/PBKDF2/AES-256 (OpenSSL
    /// 3 default), PBE-SHA1-3DES, and the legacy RC2-40 cert bag of older exports.
    pub fn from_pkcs12(der: &[u8], password: &str) -> Result<Certificate, CertError> {
        let archive =
            p12_keystore::Pkcs12Archive::from_pkcs12(der, password).map_err(|e| CertError::Pkcs12(e.to_string()))?;
        let certs: Vec<X509> = archive
            .certs
            .iter()
            .map(|c| X509::from_der(c.cert.as_der()).map_err(|e| CertError::Parse(e.to_string())))
            .collect::<Result<_, _>>()?;
        for bag in &archive.keys {
            let key = PKey::private_key_from_pkcs8(bag.key.as_der())
                .map_err(|e| CertError::Parse(format!("private key: {e}")))?;
            if let Some(i) = certs.iter().position(|c| c.public_key().map(|pk| pk.public_eq(&key)).unwrap_or(false)) {
                let leaf = certs[i].clone();
                let chain = certs.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, c)| c.clone()).collect();
                return Certificate::from_parts(key, leaf, chain);
            }
        }
        if archive.keys.is_empty() { Err(CertError::NoPrivateKey) } else { Err(CertError::NoMatchingCertificate) }
    }

    /// Builds from PEM: the certificate (optionally followed by its chain) and the key.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Certificate, CertError> {
        let mut certs = X509::stack_from_pem(cert_pem).map_err(|e| CertError::Parse(e.to_string()))?;
        if certs.is_empty() {
            return Err(CertError::NoMatchingCertificate);
        }
        let key = PKey::private_key_from_pem(key_pem).map_err(|e| CertError::Parse(e.to_string()))?;
        let leaf = certs.remove(0);
        if !leaf.public_key().map(|pk| pk.public_eq(&key)).unwrap_or(false) {
            return Err(CertError::NoMatchingCertificate);
        }
        Certificate::from_parts(key, leaf, certs)
    }

    fn from_parts(key: PKey<Private>, cert: X509, chain: Vec<X509>) -> Result<Certificate, CertError> {
        if key.rsa().is_err() {
            return Err(CertError::NotRsa);
        }
        let cert_der = cert.to_der().map_err(|e| CertError::Parse(e.to_string()))?;
        let info = parse_info(&cert_der)?;
        let cert_b64 = openssl::base64::encode_block(&cert_der);
        Ok(Certificate(Arc::new(Inner { key, cert, chain, cert_der, cert_b64, info })))
    }

    /// Generates a self-signed certificate shaped like an ICP-Brasil e-CNPJ A1 (CN
    /// `NAME:CNPJ`, SAN otherName 2.16.76.1.3.3, RSA-2048), valid for `days` from now — for
    /// development and the [`crate::simulator::Simulator`] (demo mode). Real SEFAZ
    /// homologation requires an ICP-Brasil certificate.
    pub fn generate_for_homologation(cnpj: &Cnpj, name: &str, days: u32) -> Result<Certificate, CertError> {
        use openssl::asn1::{Asn1Object, Asn1Time};
        use openssl::bn::{BigNum, MsbOption};
        use openssl::hash::MessageDigest;
        use openssl::nid::Nid;
        use openssl::rsa::Rsa;
        use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName};
        use openssl::x509::{X509Builder, X509NameBuilder};
        let e = |e: openssl::error::ErrorStack| CertError::Parse(e.to_string());
        let key = PKey::from_rsa(Rsa::generate(2048).map_err(e)?).map_err(e)?;
        let mut n = X509NameBuilder::new().map_err(e)?;
        n.append_entry_by_nid(Nid::COUNTRYNAME, "BR").map_err(e)?;
        n.append_entry_by_nid(Nid::ORGANIZATIONNAME, "osflow homologacao (sem validade)").map_err(e)?;
        let cn: String = format!("{}:{}", name.trim(), cnpj.as_str()).chars().take(64).collect();
        n.append_entry_by_nid(Nid::COMMONNAME, &cn).map_err(e)?;
        let n = n.build();
        let mut b = X509Builder::new().map_err(e)?;
        b.set_version(2).map_err(e)?;
        let mut serial = BigNum::new().map_err(e)?;
        serial.rand(63, MsbOption::MAYBE_ZERO, false).map_err(e)?;
        let serial = serial.to_asn1_integer().map_err(e)?;
        b.set_serial_number(&serial).map_err(e)?;
        b.set_subject_name(&n).map_err(e)?;
        b.set_issuer_name(&n).map_err(e)?;
        b.set_pubkey(&key).map_err(e)?;
        let (from, until) = (Asn1Time::days_from_now(0).map_err(e)?, Asn1Time::days_from_now(days).map_err(e)?);
        b.set_not_before(&from).map_err(e)?;
        b.set_not_after(&until).map_err(e)?;
        b.append_extension(BasicConstraints::new().build().map_err(e)?).map_err(e)?;
        b.append_extension(
            KeyUsage::new().critical().digital_signature().non_repudiation().key_encipherment().build().map_err(e)?,
        )
        .map_err(e)?;
        b.append_extension(ExtendedKeyUsage::new().client_auth().build().map_err(e)?).map_err(e)?;
        // otherName value: a DER PrintableString holding the CNPJ.
        let mut value = vec![0x13, cnpj.as_str().len() as u8];
        value.extend_from_slice(cnpj.as_str().as_bytes());
        let oid = Asn1Object::from_str(OID_CNPJ).map_err(e)?;
        let san =
            SubjectAlternativeName::new().other_name2(oid, &value).build(&b.x509v3_context(None, None)).map_err(e)?;
        b.append_extension(san).map_err(e)?;
        b.sign(&key, MessageDigest::sha256()).map_err(e)?;
        Certificate::from_parts(key, b.build(), Vec::new())
    }

    /// Exports as PKCS#12 (PBES2/AES-256, the OpenSSL 3 default) to store it encrypted.
    pub fn to_pkcs12(&self, password: &str) -> Result<Vec<u8>, CertError> {
        let e = |e: openssl::error::ErrorStack| CertError::Parse(e.to_string());
        let mut chain = openssl::stack::Stack::new().map_err(e)?;
        for c in &self.0.chain {
            chain.push(c.clone()).map_err(e)?;
        }
        let mut b = openssl::pkcs12::Pkcs12::builder();
        b.name("a1").pkey(&self.0.key).cert(&self.0.cert);
        if !self.0.chain.is_empty() {
            b.ca(chain);
        }
        b.build2(password).map_err(e)?.to_der().map_err(e)
    }

    /// The CNPJ carried by a DER certificate (SAN otherName 2.16.76.1.3.3, else the CN).
    pub fn cnpj_of_der(der: &[u8]) -> Option<Cnpj> {
        parse_info(der).ok().and_then(|i| i.cnpj)
    }

    pub fn info(&self) -> &CertInfo {
        &self.0.info
    }

    /// The holder's CNPJ, if the certificate carries one.
    pub fn cnpj(&self) -> Option<&Cnpj> {
        self.0.info.cnpj.as_ref()
    }

    /// Refuses a certificate that is not valid at `now` or whose CNPJ root (first 8
    /// characters, as SEFAZ compares it: rejection 213) differs from the emitter's.
    pub fn check_for(&self, emitter: &Cnpj, now: DateTime<Utc>) -> Result<(), CertError> {
        let i = &self.0.info;
        if now < i.not_before {
            return Err(CertError::NotYetValid(i.not_before));
        }
        if now > i.not_after {
            return Err(CertError::Expired(i.not_after));
        }
        let c = i.cnpj.as_ref().ok_or(CertError::NoCnpj)?;
        if c.root() != emitter.root() {
            return Err(CertError::CnpjMismatch { cert: c.to_string(), emitter: emitter.to_string() });
        }
        Ok(())
    }

    pub fn x509(&self) -> &X509 {
        &self.0.cert
    }
    pub fn chain(&self) -> &[X509] {
        &self.0.chain
    }
    pub fn cert_der(&self) -> &[u8] {
        &self.0.cert_der
    }
    /// Base64 of the DER certificate (the `X509Certificate` content).
    pub fn cert_base64(&self) -> &str {
        &self.0.cert_b64
    }
    pub(crate) fn private_key(&self) -> &PKey<Private> {
        &self.0.key
    }

    /// PEM of the certificate followed by its chain, and the PKCS#8 PEM of the key, for the
    /// TLS client identity.
    pub(crate) fn identity_pem(&self) -> Result<(Vec<u8>, Vec<u8>), CertError> {
        let mut chain = self.0.cert.to_pem().map_err(|e| CertError::Parse(e.to_string()))?;
        for c in &self.0.chain {
            // Skip self-signed roots: the server has them.
            if c.subject_name_hash() == c.issuer_name_hash() {
                continue;
            }
            chain.extend(c.to_pem().map_err(|e| CertError::Parse(e.to_string()))?);
        }
        let key = self.0.key.private_key_to_pem_pkcs8().map_err(|e| CertError::Parse(e.to_string()))?;
        Ok((chain, key))
    }
}
