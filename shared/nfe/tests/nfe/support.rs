//! Shared test helpers: generated certificates, sample inputs, external checkers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use base64::Engine;
use chrono::{DateTime, FixedOffset, TimeZone};
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

// The test PKI is made by the `openssl` CLI (Debian package openssl), independently of the crate's own
// certificate code: a CA, two ICP-Brasil-shaped A1 leaves, a TLS server certificate, and PKCS#12 files in
// the three encodings found in the wild.

/// Runs the openssl CLI; panics with its stderr when it fails. Returns its stdout.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    let out =
        Command::new("openssl").args(args).output().expect("the openssl CLI is required (Debian package openssl)");
    assert!(out.status.success(), "openssl {} failed:\n{}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// An RSA-2048 private key: its PKCS#8 PEM and a file holding it (for the CLI).
pub struct TestKey {
    pub pem: Vec<u8>,
    pub path: PathBuf,
}

pub fn rsa_key() -> TestKey {
    let path = temp_dir().join("key.pem");
    openssl(&["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", path_str(&path)]);
    TestKey { pem: std::fs::read(&path).expect("read key"), path }
}

/// A certificate from the CLI's PEM output.
fn x509_of_pem(path: &Path) -> X509Cert {
    let der = openssl(&["x509", "-in", path_str(path), "-outform", "DER"]);
    X509Cert::from_der(&der).expect("a certificate")
}

fn write_pem(dir: &Path, name: &str, cert: &X509Cert) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, cert.to_pem().expect("pem")).expect("write pem");
    p
}

/// A random 64-bit serial, in hex (the CLI reads it as a positive number).
fn serial() -> String {
    format!("0x{}", String::from_utf8_lossy(&openssl(&["rand", "-hex", "8"])).trim())
}

/// A minimal `openssl req` configuration in `dir` (the subject comes from `-subj`) with `extensions` as section
/// `v3`.
fn config(dir: &Path, extensions: &str) -> PathBuf {
    let p = dir.join("openssl.cnf");
    let text = format!("[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = unused\n[v3]\n{extensions}\n");
    std::fs::write(&p, text).expect("write openssl.cnf");
    p
}

pub struct Pki {
    pub ca: X509Cert,
    pub ca_key: TestKey,
    pub ca_pem_path: PathBuf,
    /// Leaf for CNPJ 12345678000195 with the ICP-Brasil SAN otherName and CN "NAME:CNPJ".
    pub leaf: X509Cert,
    pub leaf_key: TestKey,
    /// Leaf for the alphanumeric CNPJ.
    pub alnum_leaf: X509Cert,
    pub alnum_key: TestKey,
    pub server: X509Cert,
    pub server_key: TestKey,
}

pub struct LeafSpec<'a> {
    pub cn: &'a str,
    pub san_cnpj: Option<&'a str>,
    /// Valid from now for this many days.
    pub days: u32,
    pub server: bool,
}

/// A certificate for `key` issued by the CA (`openssl x509 -req`, RSA-SHA256).
pub fn issue(ca: &X509Cert, ca_key: &TestKey, key: &TestKey, spec: LeafSpec<'_>) -> X509Cert {
    let extensions = if spec.server {
        "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = DNS:localhost, IP:127.0.0.1"
            .to_owned()
    } else {
        let mut e = "basicConstraints = CA:FALSE\nkeyUsage = critical, digitalSignature, nonRepudiation, \
                     keyEncipherment\nextendedKeyUsage = clientAuth, emailProtection"
            .to_owned();
        if let Some(cnpj) = spec.san_cnpj {
            e.push_str(&format!("\nsubjectAltName = otherName:2.16.76.1.3.3;PRINTABLESTRING:{cnpj}"));
        }
        e
    };
    let dir = temp_dir();
    let cnf = config(&dir, &extensions);
    let csr = dir.join("req.csr");
    let subject = format!("/C=BR/O=ICP-Brasil TESTE/CN={}", spec.cn);
    #[rustfmt::skip]
    openssl(&["req", "-new", "-config", path_str(&cnf), "-key", path_str(&key.path), "-subj", &subject,
        "-out", path_str(&csr)]);
    let out = dir.join("cert.pem");
    let (ca_pem, days) = (write_pem(&dir, "ca.pem", ca), spec.days.to_string());
    #[rustfmt::skip]
    openssl(&["x509", "-req", "-in", path_str(&csr), "-CA", path_str(&ca_pem), "-CAkey", path_str(&ca_key.path),
        "-set_serial", &serial(), "-days", &days, "-sha256", "-extfile", path_str(&cnf), "-extensions", "v3",
        "-out", path_str(&out)]);
    let cert = x509_of_pem(&out);
    let _ = std::fs::remove_dir_all(&dir);
    cert
}

pub fn pki() -> &'static Pki {
    static P: OnceLock<Pki> = OnceLock::new();
    P.get_or_init(|| {
        let ca_key = rsa_key();
        let dir = temp_dir();
        let cnf = config(
            &dir,
            "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
             subjectKeyIdentifier = hash",
        );
        let ca_pem_path = dir.join("ca.pem");
        #[rustfmt::skip]
        openssl(&["req", "-x509", "-new", "-config", path_str(&cnf), "-extensions", "v3",
            "-key", path_str(&ca_key.path), "-subj", "/C=BR/O=ICP-Brasil TESTE/CN=AC RAIZ TESTE OSFLOW",
            "-set_serial", &serial(), "-days", "3650", "-sha256", "-out", path_str(&ca_pem_path)]);
        let ca = x509_of_pem(&ca_pem_path);
        let client = |cn: &str, cnpj: &str, key: &TestKey| {
            issue(&ca, &ca_key, key, LeafSpec { cn, san_cnpj: Some(cnpj), days: 365, server: false })
        };
        let leaf_key = rsa_key();
        let leaf = client(&format!("EMPRESA TESTE LTDA:{CNPJ}"), CNPJ, &leaf_key);
        let alnum_key = rsa_key();
        let alnum_leaf = client(&format!("OFICINA ALFA LTDA:{ALNUM_CNPJ}"), ALNUM_CNPJ, &alnum_key);
        let server_key = rsa_key();
        let server =
            issue(&ca, &ca_key, &server_key, LeafSpec { cn: "localhost", san_cnpj: None, days: 365, server: true });
        Pki { ca, ca_key, ca_pem_path, leaf, leaf_key, alnum_leaf, alnum_key, server, server_key }
    })
}

/// The three PKCS#12 encodings of a key + certificate + CA.
pub enum P12Encoding {
    /// PBES2 (PBKDF2) with AES-256-CBC and an HMAC-SHA256 MAC: OpenSSL 3's default.
    Aes256,
    /// PBE-SHA1-3DES with an HMAC-SHA1 MAC: older Windows and Java exports.
    TripleDes,
    /// The certificates under RC2-40 (OpenSSL 1.x's default): OpenSSL 3 needs its legacy provider.
    LegacyRc2,
}

pub fn pkcs12(key: &TestKey, cert: &X509Cert, ca: &X509Cert, enc: P12Encoding) -> Vec<u8> {
    let dir = temp_dir();
    let (cert_pem, ca_pem) = (write_pem(&dir, "cert.pem", cert), write_pem(&dir, "ca.pem", ca));
    let out = dir.join("a1.pfx");
    let pass = format!("pass:{PASSWORD}");
    #[rustfmt::skip]
    let mut args = vec!["pkcs12", "-export", "-name", "a1", "-inkey", path_str(&key.path), "-in", path_str(&cert_pem),
        "-certfile", path_str(&ca_pem), "-passout", &pass, "-out", path_str(&out)];
    args.extend_from_slice(match enc {
        P12Encoding::Aes256 => &["-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-macalg", "sha256"][..],
        P12Encoding::TripleDes => &["-keypbe", "PBE-SHA1-3DES", "-certpbe", "PBE-SHA1-3DES", "-macalg", "sha1"],
        P12Encoding::LegacyRc2 => &["-legacy"],
    });
    openssl(&args);
    let der = std::fs::read(out).expect("read pfx");
    let _ = std::fs::remove_dir_all(&dir);
    der
}

// ---------------------------------------------------------------- TLS test servers

/// The rustls configuration of the loopback SEFAZ / Sefin: the test server certificate, and mutual TLS
/// (a client certificate chaining to the test CA is required).
pub fn tls_server_config() -> Arc<rustls::ServerConfig> {
    tls_server_config_for(rustls::DEFAULT_VERSIONS)
}

/// [`tls_server_config`] speaking only the TLS `versions` given.
pub fn tls_server_config_for(versions: &[&'static rustls::SupportedProtocolVersion]) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let p = pki();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(p.ca.as_der().to_vec())).expect("CA as root");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .expect("client verifier");
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(p.server.as_der().to_vec())],
            PrivateKeyDer::from_pem_slice(&p.server_key.pem).expect("server key"),
        )
        .expect("server config");
    Arc::new(cfg)
}

/// The TLS handshake of an accepted connection, completed before anything is read (as OpenSSL's `accept`
/// did): `None` when it fails (e.g. no client certificate).
pub fn tls_accept(
    cfg: &Arc<rustls::ServerConfig>,
    mut tcp: std::net::TcpStream,
) -> Option<rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>> {
    let mut conn = rustls::ServerConnection::new(cfg.clone()).ok()?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).ok()?;
    }
    Some(rustls::StreamOwned::new(conn, tcp))
}

/// A reqwest client that trusts the test CA and has no client certificate.
pub fn anonymous_client() -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(rustls::pki_types::CertificateDer::from(pki().ca.as_der().to_vec())).expect("CA as root");
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let timeout = std::time::Duration::from_secs(3);
    reqwest::Client::builder().use_preconfigured_tls(tls).timeout(timeout).build().expect("client")
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
pub fn tamper_and_resign(doc: &str, key: &TestKey, edit: impl Fn(&str) -> String) -> String {
    let start = doc.find("<infNFe ").expect("infNFe");
    let end = doc.find("</infNFe>").expect("/infNFe") + "</infNFe>".len();
    let inf = edit(&doc[start..end]);
    let id_start = inf.find("Id=\"").expect("Id") + 4;
    let id = &inf[id_start..id_start + 47];
    // Canonical form of infNFe inside NFe: the inherited default namespace first.
    let canon = inf.replacen("<infNFe ", "<infNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" ", 1);
    let b64 = base64::engine::general_purpose::STANDARD;
    let digest = b64.encode(openssl_dgst("-sha1", None, canon.as_bytes()));
    let si_body = format!(
        "<CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"></CanonicalizationMethod>\
         <SignatureMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\"></SignatureMethod>\
         <Reference URI=\"#{id}\"><Transforms><Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></Transform>\
         <Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"></Transform></Transforms>\
         <DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"></DigestMethod><DigestValue>{digest}</DigestValue></Reference>"
    );
    let si_canon = format!("<SignedInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\">{si_body}</SignedInfo>");
    let sig = b64.encode(openssl_dgst("-sha1", Some(key), si_canon.as_bytes()));
    let cert_start = doc.find("<X509Certificate>").expect("cert") + "<X509Certificate>".len();
    let cert_end = doc.find("</X509Certificate>").expect("/cert");
    format!(
        "<NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\">{inf}<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">\
         <SignedInfo>{si_body}</SignedInfo><SignatureValue>{sig}</SignatureValue><KeyInfo><X509Data><X509Certificate>{}\
         </X509Certificate></X509Data></KeyInfo></Signature></NFe>",
        &doc[cert_start..cert_end]
    )
}

/// `openssl dgst <digest> -binary [-sign key]` over `data`: a digest, or an RSA PKCS#1 v1.5 signature.
pub fn openssl_dgst(digest: &str, key: Option<&TestKey>, data: &[u8]) -> Vec<u8> {
    let input = write_temp("data.bin", data);
    let mut args = vec!["dgst", digest, "-binary"];
    if let Some(k) = key {
        args.extend(["-sign", path_str(&k.path)]);
    }
    args.push(path_str(&input));
    let out = openssl(&args);
    remove_temp(&input);
    out
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
