//! The A1 certificate: PKCS#12 loading (AES/PBES2, 3DES and legacy RC2-40 encodings, through
//! the pure-Rust `p12-keystore`: RC2-40 included, which OpenSSL 3 reads only with its legacy
//! provider), the RSA key that signs (RustCrypto `rsa`), the CNPJ of the holder and the validity
//! dates.
//!
//! Parse once and cache: [`Certificate`] is an `Arc` and cheap to clone. Its `Debug` shows
//! only public facts; the private key and the password are never printed or logged.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, SecretDocument};
use rsa::{PrivateKey, PublicKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha1::Sha1;
use sha2::Sha256;

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

/// An X.509 certificate, as DER: the holder's, one of its chain, or the signer's of a verified document.
#[derive(Clone, PartialEq, Eq)]
pub struct X509Cert(Vec<u8>);

impl fmt::Debug for X509Cert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = parse_info(&self.0).ok();
        f.debug_struct("X509Cert")
            .field("subject", &info.as_ref().map(|i| i.common_name.as_str()))
            .field("serial", &info.as_ref().map(|i| i.serial_hex.as_str()))
            .finish()
    }
}

impl X509Cert {
    /// The X.509 certificate `der` starts with (bytes after it are ignored, as OpenSSL's `d2i` did).
    pub fn from_der(der: &[u8]) -> Result<X509Cert, CertError> {
        use x509_parser::prelude::*;
        let (rest, _) = X509Certificate::from_der(der).map_err(|e| CertError::Parse(e.to_string()))?;
        Ok(X509Cert(der[..der.len() - rest.len()].to_vec()))
    }

    pub fn as_der(&self) -> &[u8] {
        &self.0
    }

    /// The PEM text (`-----BEGIN CERTIFICATE-----`, LF line endings).
    pub fn to_pem(&self) -> Result<Vec<u8>, CertError> {
        x509_cert::der::pem::encode_string("CERTIFICATE", x509_cert::der::pem::LineEnding::LF, &self.0)
            .map(String::into_bytes)
            .map_err(|e| CertError::Parse(e.to_string()))
    }

    /// Subject, CNPJ, issuer, serial and validity.
    pub fn info(&self) -> Result<CertInfo, CertError> {
        parse_info(&self.0)
    }

    /// The CNPJ it carries (SAN otherName 2.16.76.1.3.3, else the CN).
    pub fn cnpj(&self) -> Option<Cnpj> {
        Certificate::cnpj_of_der(&self.0)
    }

    /// Subject equal to issuer (a root; a TLS peer already has it).
    fn is_self_issued(&self) -> bool {
        use x509_parser::prelude::*;
        X509Certificate::from_der(&self.0).map(|(_, c)| c.subject().as_raw() == c.issuer().as_raw()).unwrap_or(false)
    }

    /// The RSA public key of the subject.
    pub(crate) fn rsa_public_key(&self) -> Result<PublicKey, CertError> {
        use rsa::pkcs8::DecodePublicKey;
        use x509_parser::prelude::*;
        let (_, c) = X509Certificate::from_der(&self.0).map_err(|e| CertError::Parse(e.to_string()))?;
        PublicKey::from_public_key_der(c.public_key().raw).map_err(|_| CertError::NotRsa)
    }
}

struct Inner {
    /// The RSA private key, kept only as the two PKCS#1 v1.5 signers (SHA-1 for the NF-e, SHA-256 for the
    /// NFS-e) and its PKCS#8 encoding (TLS client identity, PKCS#12 export); zeroized on drop.
    sha1_signer: SigningKey<Sha1>,
    sha256_signer: SigningKey<Sha256>,
    key_pkcs8: SecretDocument,
    cert: X509Cert,
    chain: Vec<X509Cert>,
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

/// The OID of `rsaEncryption` (PKCS#1), the algorithm of an RSA key in PKCS#8.
const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";

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
        let certs: Vec<X509Cert> =
            archive.certs.iter().map(|c| X509Cert::from_der(c.cert.as_der())).collect::<Result<_, _>>()?;
        for bag in &archive.keys {
            if bag.key.oid().to_string() != OID_RSA_ENCRYPTION {
                return Err(CertError::NotRsa);
            }
            let key = PrivateKey::from_pkcs8_der(bag.key.as_der())
                .map_err(|e| CertError::Parse(format!("private key: {e}")))?;
            let public = key.to_public_key();
            if let Some(i) = certs.iter().position(|c| c.rsa_public_key().is_ok_and(|pk| pk == public)) {
                let leaf = certs[i].clone();
                let chain = certs.iter().enumerate().filter(|(j, _)| *j != i).map(|(_, c)| c.clone()).collect();
                return Certificate::from_parts(key, leaf, chain);
            }
        }
        if archive.keys.is_empty() { Err(CertError::NoPrivateKey) } else { Err(CertError::NoMatchingCertificate) }
    }

    /// Builds from PEM: the certificate (optionally followed by its chain) and the key (PKCS#8
    /// `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`, unencrypted).
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> Result<Certificate, CertError> {
        let mut certs = CertificateDer::pem_slice_iter(cert_pem)
            .map(|c| c.map_err(|e| CertError::Parse(e.to_string())).and_then(|c| X509Cert::from_der(&c)))
            .collect::<Result<Vec<_>, _>>()?;
        if certs.is_empty() {
            return Err(CertError::NoMatchingCertificate);
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| CertError::Parse(e.to_string()))? {
            PrivateKeyDer::Pkcs8(k) => {
                PrivateKey::from_pkcs8_der(k.secret_pkcs8_der()).map_err(|e| CertError::Parse(e.to_string()))?
            }
            PrivateKeyDer::Pkcs1(k) => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                PrivateKey::from_pkcs1_der(k.secret_pkcs1_der()).map_err(|e| CertError::Parse(e.to_string()))?
            }
            _ => return Err(CertError::NotRsa),
        };
        let leaf = certs.remove(0);
        if !leaf.rsa_public_key().is_ok_and(|pk| pk == key.to_public_key()) {
            return Err(CertError::NoMatchingCertificate);
        }
        Certificate::from_parts(key, leaf, certs)
    }

    fn from_parts(key: PrivateKey, cert: X509Cert, chain: Vec<X509Cert>) -> Result<Certificate, CertError> {
        let info = parse_info(cert.as_der())?;
        let cert_b64 = base64::engine::general_purpose::STANDARD.encode(cert.as_der());
        let key_pkcs8 = key.to_pkcs8_der().map_err(|e| CertError::Parse(format!("private key: {e}")))?;
        Ok(Certificate(Arc::new(Inner {
            sha1_signer: SigningKey::new(key.clone()),
            sha256_signer: SigningKey::new(key),
            key_pkcs8,
            cert,
            chain,
            cert_b64,
            info,
        })))
    }

    /// Generates a self-signed certificate shaped like an ICP-Brasil e-CNPJ A1 (CN
    /// `NAME:CNPJ`, SAN otherName 2.16.76.1.3.3, RSA-2048), valid for `days` from now — for
    /// development and the [`crate::simulator::Simulator`] (demo mode). Real SEFAZ
    /// homologation requires an ICP-Brasil certificate.
    pub fn generate_for_homologation(cnpj: &Cnpj, name: &str, days: u32) -> Result<Certificate, CertError> {
        let e = |e: &dyn fmt::Display| CertError::Parse(e.to_string());
        let key = PrivateKey::new(&mut getrandom::SysRng, 2048).map_err(|x| e(&x))?;
        let cn: String = format!("{}:{}", name.trim(), cnpj.as_str()).chars().take(64).collect();
        let der = homologation::self_signed(&key, &cn, cnpj.as_str(), days).map_err(|x| e(&x))?;
        Certificate::from_parts(key, X509Cert::from_der(&der)?, Vec::new())
    }

    /// Exports as PKCS#12 (PBES2: PBKDF2-HMAC-SHA256 + AES-256-CBC, HMAC-SHA256 MAC, as OpenSSL 3's
    /// default) to store it encrypted. The key and its certificate chain (leaf first) under the name `a1`.
    pub fn to_pkcs12(&self, password: &str) -> Result<Vec<u8>, CertError> {
        use p12_keystore::{KeyStore, KeyStoreEntry, PrivateKey as P12Key, PrivateKeyChain};
        let e = |e: p12_keystore::error::Error| CertError::Pkcs12(e.to_string());
        let key = P12Key::from_der(self.0.key_pkcs8.as_bytes()).map_err(e)?;
        let certs = std::iter::once(&self.0.cert)
            .chain(&self.0.chain)
            .map(|c| p12_keystore::Certificate::from_der(c.as_der()).map_err(e))
            .collect::<Result<Vec<_>, _>>()?;
        // The local key id ties the key bag to its certificate: the SHA-1 of the leaf, as OpenSSL does.
        let local_key_id = <Sha1 as sha1::Digest>::digest(self.0.cert.as_der()).to_vec();
        let mut store = KeyStore::new();
        store.add_entry("a1", KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id, key, certs)));
        store.writer(password).write().map_err(e)
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

    pub fn x509(&self) -> &X509Cert {
        &self.0.cert
    }
    pub fn chain(&self) -> &[X509Cert] {
        &self.0.chain
    }
    pub fn cert_der(&self) -> &[u8] {
        self.0.cert.as_der()
    }
    /// Base64 of the DER certificate (the `X509Certificate` content).
    pub fn cert_base64(&self) -> &str {
        &self.0.cert_b64
    }
    pub(crate) fn sha1_signer(&self) -> &SigningKey<Sha1> {
        &self.0.sha1_signer
    }
    pub(crate) fn sha256_signer(&self) -> &SigningKey<Sha256> {
        &self.0.sha256_signer
    }

    /// The TLS client identity: the certificate followed by its chain (without self-signed roots:
    /// the server has them), and the PKCS#8 key.
    pub(crate) fn tls_identity(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let chain = std::iter::once(&self.0.cert)
            .chain(self.0.chain.iter().filter(|c| !c.is_self_issued()))
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.0.key_pkcs8.as_bytes().to_vec()));
        (chain, key)
    }
}

/// The self-signed certificate of [`Certificate::generate_for_homologation`], built with RustCrypto's X.509
/// builder: the subject C=BR, O, CN; CA:FALSE; key usage (critical) digitalSignature, nonRepudiation,
/// keyEncipherment; extended key usage clientAuth; SAN otherName 2.16.76.1.3.3 = the CNPJ as a
/// PrintableString; RSA-SHA256.
mod homologation {
    use std::time::Duration;

    use rsa::PrivateKey;
    use rsa::pkcs1v15::{Signature, SigningKey};
    use rsa::rand_core::UnwrapErr;
    use sha2::Sha256;
    use x509_cert::attr::AttributeTypeAndValue;
    use x509_cert::builder::{Builder, CertificateBuilder, Profile};
    use x509_cert::der::asn1::{Any, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
    use x509_cert::der::{Decode, Encode};
    use x509_cert::ext::Extension;
    use x509_cert::ext::pkix::name::{GeneralName, OtherName};
    use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};
    use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
    use x509_cert::time::Validity;
    use x509_cert::{TbsCertificate, der};

    type Error = Box<dyn std::error::Error + Send + Sync>;

    /// Issuer = subject; no extension beyond the ones added explicitly.
    struct SelfSigned(Name);

    impl Profile for SelfSigned {
        fn get_issuer(&self, subject: &Name) -> Name {
            subject.clone()
        }
        fn get_subject(&self) -> Name {
            self.0.clone()
        }
        fn build_extensions(
            &self,
            _spk: SubjectPublicKeyInfoRef<'_>,
            _issuer_spk: SubjectPublicKeyInfoRef<'_>,
            _tbs: &TbsCertificate,
        ) -> x509_cert::builder::Result<Vec<Extension>> {
            Ok(Vec::new())
        }
    }

    fn oid(s: &str) -> der::Result<ObjectIdentifier> {
        ObjectIdentifier::new(s).map_err(|_| der::ErrorKind::OidMalformed.into())
    }

    fn rdn(attr: &str, value: Any) -> der::Result<RelativeDistinguishedName> {
        RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue { oid: oid(attr)?, value }])
    }

    /// The DER of the certificate.
    pub(super) fn self_signed(key: &PrivateKey, cn: &str, cnpj: &str, days: u32) -> Result<Vec<u8>, Error> {
        // C as PrintableString, O and CN as UTF8String (what OpenSSL's name builder wrote).
        let rdns = RdnSequence::from(vec![
            rdn("2.5.4.6", Any::encode_from(&PrintableStringRef::new("BR")?)?)?,
            rdn("2.5.4.10", Any::encode_from(&Utf8StringRef::new("osflow homologacao (sem validade)")?)?)?,
            rdn("2.5.4.3", Any::encode_from(&Utf8StringRef::new(cn)?)?)?,
        ]);
        let name = Name::from_der(&rdns.to_der()?)?;
        // A positive 63-bit random serial.
        let mut serial = [0u8; 8];
        getrandom::fill(&mut serial).map_err(|e| e.to_string())?;
        serial[0] &= 0x7f;
        if serial[0] == 0 {
            serial[0] = 1;
        }
        let validity = Validity::from_now(Duration::from_secs(u64::from(days) * 86_400))?;
        let spki = SubjectPublicKeyInfoOwned::from_key(&key.to_public_key())?;
        let mut b = CertificateBuilder::new(SelfSigned(name), SerialNumber::new(&serial)?, validity, spki)?;
        b.add_extension((false, &BasicConstraints { ca: false, path_len_constraint: None }))?;
        b.add_extension(&KeyUsage(
            KeyUsages::DigitalSignature | KeyUsages::NonRepudiation | KeyUsages::KeyEncipherment,
        ))?;
        b.add_extension(&ExtendedKeyUsage(vec![oid("1.3.6.1.5.5.7.3.2")?]))?;
        let value = Any::encode_from(&PrintableStringRef::new(cnpj)?)?;
        b.add_extension(&SubjectAltName(vec![GeneralName::OtherName(OtherName {
            type_id: oid(super::OID_CNPJ)?,
            value,
        })]))?;
        // Blinded signature with the OS random source (see crate::dsig::signature_value).
        let signer = SigningKey::<Sha256>::new(key.clone());
        let cert = b.build_with_rng::<_, Signature, _>(&signer, &mut UnwrapErr(getrandom::SysRng))?;
        Ok(cert.to_der()?)
    }
}
