//! Shared test helpers: generated certificates, sample inputs, external checkers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, FixedOffset, TimeZone};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::stack::Stack;
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Extension, X509NameBuilder};
use osflow_nfe::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

pub const PASSWORD: &str = "s3nh@-A1";
pub const CNPJ: &str = "12345678000195";
pub const ALNUM_CNPJ: &str = "12ABC34501DE35";

// ---------------------------------------------------------------- temp files

pub fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "osflow-nfe-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

pub fn write_temp(name: &str, content: &[u8]) -> PathBuf {
    let p = temp_dir().join(name);
    std::fs::write(&p, content).expect("write temp file");
    p
}

// ---------------------------------------------------------------- certificates

pub struct Pki {
    pub ca: X509,
    pub ca_key: PKey<Private>,
    pub ca_pem_path: PathBuf,
    /// Leaf for CNPJ 12345678000195 with the ICP-Brasil SAN otherName and CN "NAME:CNPJ".
    pub leaf: X509,
    pub leaf_key: PKey<Private>,
    /// Leaf for the alphanumeric CNPJ.
    pub alnum_leaf: X509,
    pub alnum_key: PKey<Private>,
    pub server: X509,
    pub server_key: PKey<Private>,
}

fn rsa_key() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).expect("rsa")).expect("pkey")
}

fn serial() -> Asn1Integer {
    let mut bn = BigNum::new().expect("bn");
    bn.rand(64, openssl::bn::MsbOption::MAYBE_ZERO, false).expect("rand");
    bn.to_asn1_integer().expect("serial")
}

pub struct LeafSpec<'a> {
    pub cn: &'a str,
    pub san_cnpj: Option<&'a str>,
    pub not_before: Asn1Time,
    pub not_after: Asn1Time,
    pub server: bool,
}

pub fn issue(ca: &X509, ca_key: &PKey<Private>, key: &PKey<Private>, spec: LeafSpec<'_>) -> X509 {
    let mut name = X509NameBuilder::new().expect("name");
    name.append_entry_by_nid(Nid::COUNTRYNAME, "BR").expect("C");
    name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "ICP-Brasil TESTE").expect("O");
    name.append_entry_by_nid(Nid::COMMONNAME, spec.cn).expect("CN");
    let name = name.build();
    let mut b = X509Builder::new().expect("builder");
    b.set_version(2).expect("v3");
    b.set_serial_number(&serial()).expect("serial");
    b.set_subject_name(&name).expect("subject");
    b.set_issuer_name(ca.subject_name()).expect("issuer");
    b.set_pubkey(key).expect("pubkey");
    b.set_not_before(&spec.not_before).expect("nb");
    b.set_not_after(&spec.not_after).expect("na");
    b.append_extension(BasicConstraints::new().build().expect("bc")).expect("bc");
    if spec.server {
        b.append_extension(KeyUsage::new().critical().digital_signature().key_encipherment().build().expect("ku"))
            .expect("ku");
        b.append_extension(ExtendedKeyUsage::new().server_auth().build().expect("eku")).expect("eku");
        let ctx = b.x509v3_context(Some(ca), None);
        let san = SubjectAlternativeName::new().dns("localhost").ip("127.0.0.1").build(&ctx).expect("san");
        b.append_extension(san).expect("san");
    } else {
        b.append_extension(
            KeyUsage::new().critical().digital_signature().non_repudiation().key_encipherment().build().expect("ku"),
        )
        .expect("ku");
        b.append_extension(ExtendedKeyUsage::new().client_auth().email_protection().build().expect("eku"))
            .expect("eku");
        if let Some(cnpj) = spec.san_cnpj {
            let ctx = b.x509v3_context(Some(ca), None);
            #[allow(deprecated)]
            let san = X509Extension::new_nid(
                None,
                Some(&ctx),
                Nid::SUBJECT_ALT_NAME,
                &format!("otherName:2.16.76.1.3.3;PRINTABLESTRING:{cnpj}"),
            )
            .expect("san otherName");
            b.append_extension(san).expect("san");
        }
    }
    b.sign(ca_key, MessageDigest::sha256()).expect("sign");
    b.build()
}

pub fn pki() -> &'static Pki {
    static P: OnceLock<Pki> = OnceLock::new();
    P.get_or_init(|| {
        let ca_key = rsa_key();
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_nid(Nid::COUNTRYNAME, "BR").expect("C");
        name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "ICP-Brasil TESTE").expect("O");
        name.append_entry_by_nid(Nid::COMMONNAME, "AC RAIZ TESTE OSFLOW").expect("CN");
        let name = name.build();
        let mut b = X509Builder::new().expect("builder");
        b.set_version(2).expect("v3");
        b.set_serial_number(&serial()).expect("serial");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&ca_key).expect("pubkey");
        b.set_not_before(&Asn1Time::days_from_now(0).expect("t")).expect("nb");
        b.set_not_after(&Asn1Time::days_from_now(3650).expect("t")).expect("na");
        b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc")).expect("bc");
        b.append_extension(KeyUsage::new().critical().key_cert_sign().crl_sign().build().expect("ku")).expect("ku");
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None)).expect("ski");
        b.append_extension(ski).expect("ski");
        b.sign(&ca_key, MessageDigest::sha256()).expect("sign");
        let ca = b.build();
        let ca_pem_path = write_temp("ca.pem", &ca.to_pem().expect("pem"));

        let now = || Asn1Time::days_from_now(0).expect("t");
        let later = || Asn1Time::days_from_now(365).expect("t");
        let leaf_key = rsa_key();
        let leaf = issue(
            &ca,
            &ca_key,
            &leaf_key,
            LeafSpec {
                cn: &format!("EMPRESA TESTE LTDA:{CNPJ}"),
                san_cnpj: Some(CNPJ),
                not_before: now(),
                not_after: later(),
                server: false,
            },
        );
        let alnum_key = rsa_key();
        let alnum_leaf = issue(
            &ca,
            &ca_key,
            &alnum_key,
            LeafSpec {
                cn: &format!("OFICINA ALFA LTDA:{ALNUM_CNPJ}"),
                san_cnpj: Some(ALNUM_CNPJ),
                not_before: now(),
                not_after: later(),
                server: false,
            },
        );
        let server_key = rsa_key();
        let server = issue(
            &ca,
            &ca_key,
            &server_key,
            LeafSpec { cn: "localhost", san_cnpj: None, not_before: now(), not_after: later(), server: true },
        );
        Pki { ca, ca_key, ca_pem_path, leaf, leaf_key, alnum_leaf, alnum_key, server, server_key }
    })
}

/// The three PKCS#12 encodings of a key + certificate + CA.
pub enum P12Encoding {
    Aes256,
    TripleDes,
    LegacyRc2,
}

pub fn pkcs12(key: &PKey<Private>, cert: &X509, ca: &X509, enc: P12Encoding) -> Vec<u8> {
    match enc {
        P12Encoding::Aes256 | P12Encoding::TripleDes => {
            let mut chain = Stack::new().expect("stack");
            chain.push(ca.clone()).expect("push");
            let mut b = Pkcs12::builder();
            b.name("a1").pkey(key).cert(cert).ca(chain);
            if let P12Encoding::TripleDes = enc {
                b.key_algorithm(Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC)
                    .cert_algorithm(Nid::PBE_WITHSHA1AND3_KEY_TRIPLEDES_CBC)
                    .mac_md(MessageDigest::sha1());
            } else {
                b.key_algorithm(Nid::AES_256_CBC).cert_algorithm(Nid::AES_256_CBC).mac_md(MessageDigest::sha256());
            }
            b.build2(PASSWORD).expect("pkcs12").to_der().expect("der")
        }
        P12Encoding::LegacyRc2 => {
            // OpenSSL 3 creates RC2-40 only with the legacy provider: use the CLI's -legacy.
            let dir = temp_dir();
            std::fs::write(dir.join("k.pem"), key.private_key_to_pem_pkcs8().expect("pem")).expect("w");
            std::fs::write(dir.join("c.pem"), cert.to_pem().expect("pem")).expect("w");
            std::fs::write(dir.join("ca.pem"), ca.to_pem().expect("pem")).expect("w");
            let out = dir.join("legacy.pfx");
            let st = Command::new("openssl")
                .args(["pkcs12", "-export", "-legacy", "-name", "a1"])
                .arg("-inkey")
                .arg(dir.join("k.pem"))
                .arg("-in")
                .arg(dir.join("c.pem"))
                .arg("-certfile")
                .arg(dir.join("ca.pem"))
                .arg("-passout")
                .arg(format!("pass:{PASSWORD}"))
                .arg("-out")
                .arg(&out)
                .status()
                .expect("the openssl CLI is required (Debian package openssl)");
            assert!(st.success(), "openssl pkcs12 -export -legacy failed");
            let der = std::fs::read(out).expect("read pfx");
            let _ = std::fs::remove_dir_all(&dir);
            der
        }
    }
}

/// The A1 certificate of the main test emitter, loaded through PKCS#12 like production.
pub fn a1() -> &'static Certificate {
    static C: OnceLock<Certificate> = OnceLock::new();
    C.get_or_init(|| {
        let p = pki();
        let der = pkcs12(&p.leaf_key, &p.leaf, &p.ca, P12Encoding::Aes256);
        Certificate::from_pkcs12(&der, PASSWORD).expect("load A1")
    })
}

pub fn a1_alnum() -> &'static Certificate {
    static C: OnceLock<Certificate> = OnceLock::new();
    C.get_or_init(|| {
        let p = pki();
        let der = pkcs12(&p.alnum_key, &p.alnum_leaf, &p.ca, P12Encoding::TripleDes);
        Certificate::from_pkcs12(&der, PASSWORD).expect("load A1")
    })
}

// ---------------------------------------------------------------- sample inputs

pub fn brt(y: i32, m: u32, d: u32, h: u32) -> DateTime<FixedOffset> {
    FixedOffset::west_opt(3 * 3600).expect("tz").with_ymd_and_hms(y, m, d, h, 0, 0).single().expect("date")
}

pub fn address_sp() -> Address {
    Address {
        street: "RUA DAS OFICINAS".into(),
        number: "100".into(),
        complement: None,
        district: "CENTRO".into(),
        city_code: "3550308".into(),
        city: "SAO PAULO".into(),
        uf: Uf::SP,
        cep: "01001-000".into(),
        phone: Some("(11) 3333-4444".into()),
    }
}

pub fn part(i: usize, tax: ItemTax) -> Item {
    // The reference NF-e's five lines, cycling: 2×289.90, 3×119.50, 1×24.75, 2×15.00, 3×3.33.
    let prices = [dec!(289.90), dec!(119.5), dec!(24.75), dec!(15), dec!(3.33)];
    let quantities = [2u32, 3, 1, 2, 3];
    Item {
        code: format!("PC-{i:04}"),
        description: format!("PECA DE REPOSICAO {i}"),
        ncm: "85177099".into(),
        cfop: "5102".into(),
        unit: "UN".into(),
        quantity: Decimal::from(quantities[(i - 1) % 5]),
        unit_price: prices[(i - 1) % 5],
        discount: None,
        origin: 0,
        tax,
    }
}

pub fn simples() -> ItemTax {
    ItemTax::Simples(SimplesIcms::Sn102(Csosn102::C102))
}

pub fn normal() -> ItemTax {
    ItemTax::Normal(NormalTax {
        p_icms: dec!(18),
        p_pis: dec!(1.65),
        p_cofins: dec!(7.6),
        pis_cofins_base_excludes_icms: false,
    })
}

/// A Simples Nacional sale to a CPF buyer in homologation, paid by PIX for the exact amount.
pub fn input(items: usize) -> NfeInput {
    let mut inp = NfeInput {
        environment: Environment::Homologation,
        emission: EmissionType::Normal,
        contingency: None,
        nat_op: "VENDA DE PECAS - OS 1000".into(),
        serie: 1,
        n_nf: 1000,
        cnf: Cnf::from_stored(13579, 1000).expect("cnf"),
        issued_at: brt(2026, 11, 30, 10),
        departure_at: Some(brt(2026, 11, 30, 10)),
        emitter: Emitter {
            cnpj: Cnpj::parse(CNPJ).expect("cnpj"),
            name: "EMPRESA TESTE LTDA".into(),
            trade_name: Some("ASSISTENCIA TECNICA TESTE".into()),
            address: address_sp(),
            ie: "111.111.111.119".into(),
            crt: Crt::SimplesNacional,
        },
        recipient: Recipient {
            id: RecipientId::Cpf(Cpf::parse("529.982.247-25").expect("cpf")),
            name: "CLIENTE TESTE".into(),
            address: Some(Address {
                street: "AVENIDA DOS CLIENTES".into(),
                number: "10".into(),
                complement: Some("APTO 1".into()),
                district: "VILA TESTE".into(),
                city_code: "3550308".into(),
                city: "SAO PAULO".into(),
                uf: Uf::SP,
                cep: "04001000".into(),
                phone: Some("11999990000".into()),
            }),
            email: Some("cliente@example.com".into()),
        },
        items: (1..=items).map(|i| part(i, simples())).collect(),
        payments: vec![],
        ibs_cbs: None,
        additional_info: Some("Ordem de servico 1000".into()),
        tech_responsible: TechResponsible {
            cnpj: Cnpj::parse(CNPJ).expect("cnpj"),
            contact: "RESPONSAVEL TECNICO".into(),
            email: "fiscal@example.com".into(),
            phone: "1133334444".into(),
        },
        app_version: "osflow 0.1".into(),
    };
    let total = build(&NfeInput { payments: vec![pay(PaymentMethod::Cash, dec!(999999))], ..inp.clone() })
        .expect("probe build")
        .totals()
        .v_nf;
    inp.payments = vec![pay(PaymentMethod::PixDynamic, total)];
    inp
}

pub fn pay(method: PaymentMethod, amount: Decimal) -> Payment {
    Payment { method, amount }
}

// ---------------------------------------------------------------- external tools

/// The path of an external checker (xmllint, xmlsec1, poppler's, zbar's) on `PATH`.
pub fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: run `scripts/test` (it installs libxml2-utils and xmlsec1)")
    })
}

pub fn schema_dir() -> PathBuf {
    let dir = std::env::var_os("NFE_SCHEMA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "NFE_SCHEMA_DIR is not set: run the tests through `scripts/test`, which points it at the \
             official PL_010f schemas of the PyPI package nfelib"
        )
    });
    assert!(
        dir.join("nfe_v4.00.xsd").is_file(),
        "NFE_SCHEMA_DIR={} has no nfe_v4.00.xsd: run `scripts/setup` / `scripts/test`",
        dir.display()
    );
    dir
}

/// Validates `xml` against the official schema `xsd` (e.g. "nfe_v4.00.xsd") with xmllint.
pub fn xmllint(xml: &str, xsd: &str) {
    xmllint_in(xml, &schema_dir(), xsd);
}

/// The folder of an nfelib schema package other than the NF-e's (e.g. "nfe_evento_cancel"), next to it.
pub fn nfelib_schemas(package: &str) -> PathBuf {
    let nfe = schema_dir();
    let root = nfe.ancestors().nth(3).expect("nfelib/nfe/schemas/v4_0 has a package root").to_path_buf();
    let dir = root.join(package).join("schemas").join("v1_0");
    assert!(dir.is_dir(), "nfelib has no {}: install nfelib 3.2.0 (scripts/setup)", dir.display());
    dir
}

/// Validates `xml` against `xsd` in `dir` with xmllint.
pub fn xmllint_in(xml: &str, dir: &Path, xsd: &str) {
    let f = write_temp("doc.xml", xml.as_bytes());
    let out = Command::new(tool("xmllint"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(dir.join(xsd))
        .arg(&f)
        .output()
        .expect("run xmllint");
    assert!(
        out.status.success(),
        "xmllint --schema {xsd} rejected {} (kept for inspection):\n{}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    remove_temp(&f);
}

/// Verifies the signature over the `signed` element (e.g. "infEvento") with xmlsec1, trusting only the test CA.
pub fn xmlsec1_of(xml: &str, signed: &str) {
    let (ok, stderr) = xmlsec1_output_of(xml, signed);
    if !ok {
        let kept = write_temp("failed-signature.xml", xml.as_bytes());
        panic!("xmlsec1 --verify failed on {} (kept for inspection):\n{stderr}", kept.display());
    }
}

/// Removes a passing temp file and its folder (failing ones are kept for inspection).
fn remove_temp(f: &Path) {
    if let Some(d) = f.parent() {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// Verifies the NF-e signature in `xml` with xmlsec1, trusting only the test CA.
pub fn xmlsec1(xml: &str) {
    let out = xmlsec1_output(xml);
    if !out.0 {
        let kept = write_temp("failed-signature.xml", xml.as_bytes());
        panic!("xmlsec1 --verify failed on {} (kept for inspection):\n{}", kept.display(), out.1);
    }
}

pub fn xmlsec1_output(xml: &str) -> (bool, String) {
    xmlsec1_output_of(xml, "infNFe")
}

pub fn xmlsec1_output_of(xml: &str, signed: &str) -> (bool, String) {
    let f = write_temp("signed.xml", xml.as_bytes());
    let out = Command::new(tool("xmlsec1"))
        .args(["--verify", "--enabled-reference-uris", "same-doc", "--id-attr:Id"])
        .arg(format!("http://www.portalfiscal.inf.br/nfe:{signed}"))
        .arg("--trusted-pem")
        .arg(&pki().ca_pem_path)
        .arg(&f)
        .output()
        .expect("run xmlsec1");
    remove_temp(&f);
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Checks a signed NF-e with both external tools and with the crate's own verifier.
pub fn check_nfe(xml: &str) {
    xmllint(xml, "nfe_v4.00.xsd");
    xmlsec1(xml);
    osflow_nfe::verify(xml).expect("own verifier");
}

// ---------------------------------------------------------------- independent re-signing

/// Re-signs a tampered document with a signer written here (not the crate's): replaces the
/// `infNFe` element by `edit(infNFe)` and computes a fresh, valid signature over it. Used to
/// make documents that pass the signature check but break another rule.
pub fn tamper_and_resign(doc: &str, key: &PKey<Private>, edit: impl Fn(&str) -> String) -> String {
    let start = doc.find("<infNFe ").expect("infNFe");
    let end = doc.find("</infNFe>").expect("/infNFe") + "</infNFe>".len();
    let inf = edit(&doc[start..end]);
    let id_start = inf.find("Id=\"").expect("Id") + 4;
    let id = &inf[id_start..id_start + 47];
    // Canonical form of infNFe inside NFe: the inherited default namespace first.
    let canon = inf.replacen("<infNFe ", "<infNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" ", 1);
    let digest = openssl::base64::encode_block(&openssl::sha::sha1(canon.as_bytes()));
    let si_body = format!(
        "<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"></CanonicalizationMethod>\
         <SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\"></SignatureMethod>\
         <Reference URI=\"#{id}\"><Transforms><Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></Transform>\
         <Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"></Transform></Transforms>\
         <DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"></DigestMethod><DigestValue>{digest}</DigestValue></Reference>"
    );
    let si_canon = format!("<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">{si_body}</SignedInfo>");
    let mut signer = openssl::sign::Signer::new(MessageDigest::sha1(), key).expect("signer");
    let sig = openssl::base64::encode_block(&signer.sign_oneshot_to_vec(si_canon.as_bytes()).expect("sign"));
    let cert_start = doc.find("<X509Certificate>").expect("cert") + "<X509Certificate>".len();
    let cert_end = doc.find("</X509Certificate>").expect("/cert");
    format!(
        "<NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\">{inf}<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">\
         <SignedInfo>{si_body}</SignedInfo><SignatureValue>{sig}</SignatureValue><KeyInfo><X509Data><X509Certificate>{}\
         </X509Certificate></X509Data></KeyInfo></Signature></NFe>",
        &doc[cert_start..cert_end]
    )
}

pub fn signed(inp: &NfeInput) -> SignedNfe {
    let cert = if inp.emitter.cnpj.as_str() == ALNUM_CNPJ { a1_alnum() } else { a1() };
    sign(&build(inp).expect("build"), cert).expect("sign")
}

/// A CNPJ completed from its 12-character base with the two mod-11 check digits (ord − 48 values).
pub fn cnpj_from_base(base12: &str) -> osflow_nfe::key::Cnpj {
    let mut b = base12.as_bytes().to_vec();
    b.push(b'0' + osflow_nfe::key::mod11_dv(&b));
    b.push(b'0' + osflow_nfe::key::mod11_dv(&b));
    osflow_nfe::key::Cnpj::parse(std::str::from_utf8(&b).expect("ascii")).expect("a valid CNPJ base")
}
