use std::process::Command;

use base64::Engine;
use chrono::{Duration, Utc};
use osflow_nfe::dsig::{self, SignatureAlgorithm};
use osflow_nfe::*;

use crate::support::*;

fn load(enc: P12Encoding) -> Certificate {
    let p = pki();
    Certificate::from_pkcs12(&pkcs12(&p.leaf_key, &p.leaf, &p.ca, enc), PASSWORD).expect("load")
}

#[test]
fn loads_all_three_pkcs12_encodings() {
    let p = pki();
    for enc in [P12Encoding::Aes256, P12Encoding::TripleDes, P12Encoding::LegacyRc2] {
        let c = load(enc);
        assert_eq!(c.x509(), &p.leaf);
        assert_eq!(c.chain(), std::slice::from_ref(&p.ca), "CA travels in the chain");
        assert_eq!(c.cnpj().map(Cnpj::as_str), Some(CNPJ));
        // The key loaded is the leaf's: what it signs verifies with the leaf.
        verify(sign(&build(&input(1)).unwrap(), &c).unwrap().xml()).unwrap();
    }
}

#[test]
fn legacy_file_really_is_rc2_40() {
    let p = pki();
    let der = pkcs12(&p.leaf_key, &p.leaf, &p.ca, P12Encoding::LegacyRc2);
    let f = write_temp("legacy.pfx", &der);
    let out = Command::new("openssl")
        .args(["pkcs12", "-info", "-noout", "-legacy", "-passin"])
        .arg(format!("pass:{PASSWORD}"))
        .arg("-in")
        .arg(&f)
        .output()
        .expect("openssl");
    let info = String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(f.parent().unwrap());
    assert!(info.contains("RC2"), "{info}");
    // OpenSSL 3 without the legacy provider cannot read it; our loader can.
    let f = write_temp("legacy.pfx", &der);
    let plain = Command::new("openssl")
        .args(["pkcs12", "-noout", "-passin"])
        .arg(format!("pass:{PASSWORD}"))
        .arg("-in")
        .arg(&f)
        .output()
        .expect("openssl");
    let _ = std::fs::remove_dir_all(f.parent().unwrap());
    assert!(!plain.status.success(), "OpenSSL 3 read RC2-40 without -legacy");
    assert!(Certificate::from_pkcs12(&der, PASSWORD).is_ok());
}

#[test]
fn wrong_password_is_an_error_that_does_not_echo_it() {
    let p = pki();
    let der = pkcs12(&p.leaf_key, &p.leaf, &p.ca, P12Encoding::Aes256);
    let e = Certificate::from_pkcs12(&der, "wrong-password").unwrap_err();
    assert!(matches!(e, CertError::Pkcs12(_)));
    assert!(!e.to_string().contains("wrong-password"));
}

#[test]
fn info_and_checks() {
    let c = a1();
    let i = c.info();
    assert_eq!(i.common_name, format!("EMPRESA TESTE LTDA:{CNPJ}"));
    assert!(i.not_before <= Utc::now() && i.not_after > Utc::now() + Duration::days(300));
    let me = Cnpj::parse(CNPJ).unwrap();
    c.check_for(&me, Utc::now()).unwrap();
    // A branch of the same company (same 8-character root) is accepted, as SEFAZ does.
    c.check_for(&cnpj_from_base("123456780002"), Utc::now()).unwrap();
    let other = Cnpj::parse("11222333000181").unwrap();
    assert!(matches!(c.check_for(&other, Utc::now()), Err(CertError::CnpjMismatch { .. })));
    assert!(matches!(c.check_for(&me, Utc::now() + Duration::days(400)), Err(CertError::Expired(_))));
    assert!(matches!(c.check_for(&me, Utc::now() - Duration::days(2)), Err(CertError::NotYetValid(_))));
}

#[test]
fn cnpj_from_the_common_name_when_there_is_no_othername() {
    let p = pki();
    let key = rsa_key();
    let leaf = issue(
        &p.ca,
        &p.ca_key,
        &key,
        LeafSpec { cn: "OFICINA SEM SAN LTDA:11222333000181", san_cnpj: None, days: 10, server: false },
    );
    let c = Certificate::from_pem(&leaf.to_pem().unwrap(), &key.pem).unwrap();
    assert_eq!(c.cnpj().map(Cnpj::as_str), Some("11222333000181"));
    // The same key in the traditional PKCS#1 PEM ("RSA PRIVATE KEY") is read too.
    let pkcs1 = openssl(&["rsa", "-in", key.path.to_str().unwrap(), "-traditional"]);
    assert!(String::from_utf8_lossy(&pkcs1).contains("BEGIN RSA PRIVATE KEY"));
    assert_eq!(Certificate::from_pem(&leaf.to_pem().unwrap(), &pkcs1).unwrap().cert_der(), c.cert_der());
    // A key that does not match the certificate is refused.
    assert_eq!(
        Certificate::from_pem(&leaf.to_pem().unwrap(), &p.leaf_key.pem).unwrap_err(),
        CertError::NoMatchingCertificate
    );
}

#[test]
fn alphanumeric_cnpj_from_othername() {
    assert_eq!(a1_alnum().cnpj().map(Cnpj::as_str), Some(ALNUM_CNPJ));
}

#[test]
fn debug_never_shows_key_material() {
    let s = format!("{:?}", a1());
    assert!(s.contains("<redacted>") && s.contains(CNPJ));
    let pem = String::from_utf8(pki().leaf_key.pem.clone()).unwrap();
    let body: String = pem.lines().nth(1).unwrap().chars().take(20).collect();
    assert!(!s.contains(&body) && !s.contains("PRIVATE"));
}

#[test]
fn clones_share_the_parsed_certificate() {
    let a = a1().clone();
    assert!(std::ptr::eq(a.cert_der().as_ptr(), a1().cert_der().as_ptr()));
}

#[test]
fn generated_homologation_certificate_signs_and_round_trips_through_pkcs12() {
    let cnpj = Cnpj::parse(ALNUM_CNPJ).unwrap();
    let c = Certificate::generate_for_homologation(&cnpj, "OFICINA DEMO LTDA", 30).unwrap();
    assert_eq!(c.cnpj(), Some(&cnpj));
    assert_eq!(c.info().common_name, format!("OFICINA DEMO LTDA:{ALNUM_CNPJ}"));
    c.check_for(&cnpj, Utc::now()).unwrap();
    assert!(c.check_for(&cnpj, Utc::now() + Duration::days(31)).is_err());
    let again = Certificate::from_pkcs12(&c.to_pkcs12("pw").unwrap(), "pw").unwrap();
    assert_eq!(again.cert_der(), c.cert_der());
    // It signs documents the simulator accepts.
    let mut inp = input(1);
    inp.emitter.cnpj = cnpj;
    let nfe = sign(&build(&inp).unwrap(), &again).unwrap();
    verify(nfe.xml()).unwrap();
    assert_eq!(osflow_nfe::simulator::Simulator::new().authorize_xml(nfe.xml()).c_stat(), 100);
}

#[test]
fn signatures_are_byte_for_byte_the_ones_openssl_makes() {
    // PKCS#1 v1.5 is deterministic: the blinded RustCrypto signature must equal `openssl dgst -sign`'s.
    let si = "<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">ação &amp; ç</SignedInfo>";
    let b64 = base64::engine::general_purpose::STANDARD;
    for (alg, digest) in [(SignatureAlgorithm::RsaSha1, "-sha1"), (SignatureAlgorithm::RsaSha256, "-sha256")] {
        let ours = dsig::signature_value(a1(), alg, si).unwrap();
        let theirs = b64.encode(openssl_dgst(digest, Some(&pki().leaf_key), si.as_bytes()));
        assert_eq!(ours, theirs, "{alg}");
        assert_eq!(alg.digest_b64(si.as_bytes()), b64.encode(openssl_dgst(digest, None, si.as_bytes())), "{alg}");
    }
}

#[test]
fn generated_homologation_certificate_has_the_icp_brasil_shape() {
    let cnpj = Cnpj::parse(CNPJ).unwrap();
    let c = Certificate::generate_for_homologation(&cnpj, "OFICINA, DEMO + FILHOS = LTDA", 30).unwrap();
    assert_eq!(c.info().common_name, format!("OFICINA, DEMO + FILHOS = LTDA:{CNPJ}"));
    let pem = write_temp("generated.pem", &c.x509().to_pem().unwrap());
    let text = String::from_utf8(openssl(&["x509", "-in", pem.to_str().unwrap(), "-noout", "-text"])).unwrap();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let _ = std::fs::remove_dir_all(pem.parent().unwrap());
    for expected in [
        "Signature Algorithm: sha256WithRSAEncryption",
        "Public-Key: (2048 bit)",
        "C = BR, O = osflow homologacao (sem validade), CN = ",
        "X509v3 Basic Constraints: CA:FALSE",
        "X509v3 Key Usage: critical Digital Signature, Non Repudiation, Key Encipherment",
        "X509v3 Extended Key Usage: TLS Web Client Authentication",
        "othername: 2.16.76.1.3.3::",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    // The otherName value is the CNPJ as a DER PrintableString (the CLI does not print unknown otherNames).
    let printable = [&[0x13, 14][..], CNPJ.as_bytes()].concat();
    assert!(c.cert_der().windows(printable.len()).any(|w| w == printable.as_slice()));
    // The CLI reads the PKCS#12 export too (PBES2/AES-256, HMAC-SHA256), with the same certificate.
    let p12 = write_temp("generated.pfx", &c.to_pkcs12("pw").unwrap());
    let out = openssl(&["pkcs12", "-in", p12.to_str().unwrap(), "-passin", "pass:pw", "-nokeys", "-clcerts"]);
    let _ = std::fs::remove_dir_all(p12.parent().unwrap());
    assert!(String::from_utf8_lossy(&out).contains(std::str::from_utf8(&c.x509().to_pem().unwrap()).unwrap().trim()));
}
