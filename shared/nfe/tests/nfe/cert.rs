use std::process::Command;

use chrono::{Duration, Utc};
use openssl::asn1::Asn1Time;
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
        assert_eq!(c.x509().to_der().unwrap(), p.leaf.to_der().unwrap());
        assert!(c.x509().public_key().unwrap().public_eq(&p.leaf_key));
        assert_eq!(c.chain().len(), 1, "CA travels in the chain");
        assert_eq!(c.cnpj().map(Cnpj::as_str), Some(CNPJ));
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
    assert!(openssl::pkcs12::Pkcs12::from_der(&der).and_then(|p| p.parse2(PASSWORD)).is_err());
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
    let key = openssl::pkey::PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let leaf = issue(
        &p.ca,
        &p.ca_key,
        &key,
        LeafSpec {
            cn: "OFICINA SEM SAN LTDA:11222333000181",
            san_cnpj: None,
            not_before: Asn1Time::days_from_now(0).unwrap(),
            not_after: Asn1Time::days_from_now(10).unwrap(),
            server: false,
        },
    );
    let c = Certificate::from_pem(&leaf.to_pem().unwrap(), &key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    assert_eq!(c.cnpj().map(Cnpj::as_str), Some("11222333000181"));
    // A key that does not match the certificate is refused.
    assert_eq!(
        Certificate::from_pem(&leaf.to_pem().unwrap(), &p.leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap_err(),
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
    let pem = String::from_utf8(pki().leaf_key.private_key_to_pem_pkcs8().unwrap()).unwrap();
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
