//! Test helpers: the PKI of the NF-e tests (shared source), sample DPS inputs, external checkers.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use chrono::{FixedOffset, NaiveDate, TimeZone};
use osflow_nfse::*;
use rust_decimal_macros::dec;

#[path = "../../../nfe/tests/nfe/support.rs"]
mod nfe_support;

// The bench includes this file too and uses less of it.
#[allow(unused_imports)]
pub use nfe_support::{CNPJ, a1, anonymous_client, pki, temp_dir, tls_accept, tls_server_config, tool, write_temp};

pub const ALGORITHMS: [SignatureAlgorithm; 2] = [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha1];

/// Free text with every XML-special character and accents.
pub const NASTY: &str = "Troca de tela \"premium\" & <conector> 'ç' — João's Ação";

/// The cancellation (101101) of the NFS-e `key` by the test provider, in homologação, at [`issued_at`].
pub fn cancel_input(key: NfseKey, reason: event::CancelReason, text: impl Into<String>) -> event::CancelInput {
    event::CancelInput {
        environment: Environment::Homologation,
        app_version: "osflow 0.1".into(),
        at: issued_at(),
        author: Cnpj::parse(CNPJ).unwrap(),
        key,
        reason,
        text: text.into(),
    }
}

pub fn issued_at() -> chrono::DateTime<FixedOffset> {
    FixedOffset::west_opt(3 * 3600).unwrap().with_ymd_and_hms(2026, 12, 4, 10, 30, 0).single().unwrap()
}

pub fn taker_cpf() -> Taker {
    Taker {
        id: TakerId::Cpf(Cpf::parse("529.982.247-25").unwrap()),
        im: None,
        name: "Maria da Conceição & Filhos <ME>".into(),
        address: Some(TakerAddress {
            city_code: "3550308".into(),
            cep: "04001-000".into(),
            street: "Rua dos \"Clientes\"".into(),
            number: "10".into(),
            complement: Some("Apto 1 'B'".into()),
            district: "Vila Olímpia & Itaim".into(),
        }),
        phone: Some("(11) 99999-0000".into()),
        email: Some("maria@example.com".into()),
    }
}

pub fn taker_cnpj() -> Taker {
    Taker {
        id: TakerId::Cnpj(Cnpj::parse("11.222.333/0001-81").unwrap()),
        im: Some("12345".into()),
        name: "Comércio <Tomador> & Cia LTDA".into(),
        address: None,
        phone: None,
        email: None,
    }
}

/// A Simples Nacional ME/EPP repair shop in São Paulo, item 14.01, CPF buyer.
pub fn input() -> DpsInput {
    DpsInput {
        environment: Environment::Homologation,
        issued_at: issued_at(),
        competence: NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
        app_version: "osflow 0.1".into(),
        serie: 1,
        number: 42,
        issuer_city: "3550308".into(),
        provider: Provider {
            cnpj: Cnpj::parse(CNPJ).unwrap(),
            im: Some("1234567".into()),
            phone: Some("(11) 3333-4444".into()),
            email: Some("fiscal@oficina.example".into()),
            regime: Regime { simples: SimplesOption::MeEpp { regime_ap: Some(1) }, special: 0 },
        },
        taker: Some(taker_cpf()),
        service: Service {
            place_city: "3550308".into(),
            c_trib_nac: "140101".into(),
            c_trib_mun: None,
            description: format!("Mão de obra: {NASTY}; Limpeza interna"),
            c_nbs: Some("120012000".into()),
            internal_code: Some("OS1000".into()),
        },
        values: Values {
            amount: dec!(350.00),
            unconditional_discount: Some(dec!(20)),
            conditional_discount: None,
            iss: Iss { taxation: IssTaxation::Taxable, withholding: Withholding::NotWithheld, rate: Some(dec!(2)) },
            approximate_taxes: ApproximateTaxes::SimplesRate(dec!(6)),
        },
        ibs_cbs: None,
    }
}

/// MEI: no rate, approximate taxes not informed.
pub fn input_mei() -> DpsInput {
    let mut i = input();
    i.number = 43;
    i.provider.regime = Regime { simples: SimplesOption::Mei, special: 0 };
    i.values.iss.rate = None;
    i.values.approximate_taxes = ApproximateTaxes::NotInformed;
    i.values.unconditional_discount = None;
    i
}

/// Regime normal, ISS withheld by a CNPJ buyer, approximate rates.
pub fn input_normal_withheld() -> DpsInput {
    let mut i = input();
    i.number = 44;
    i.provider.regime = Regime { simples: SimplesOption::NotOptant, special: 0 };
    i.taker = Some(taker_cnpj());
    i.values.iss = Iss { taxation: IssTaxation::Taxable, withholding: Withholding::ByTaker, rate: None };
    i.values.approximate_taxes = ApproximateTaxes::Rates { federal: dec!(13.45), state: dec!(0), municipal: dec!(2.5) };
    i
}

pub fn input_ibs_cbs() -> DpsInput {
    let mut i = input_normal_withheld();
    i.number = 45;
    i.ibs_cbs = Some(IbsCbs {
        c_ind_op: "100301".into(),
        final_consumer: Some(false),
        cst: "000".into(),
        c_class_trib: "000001".into(),
    });
    i
}

pub fn signed(inp: &DpsInput, alg: SignatureAlgorithm) -> SignedDps {
    sign_dps(&build(inp).expect("build"), a1(), alg).expect("sign")
}

// ---------------------------------------------------------------- external tools

pub fn schema_dir() -> PathBuf {
    let dir = std::env::var_os("NFSE_SCHEMA_DIR").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "NFSE_SCHEMA_DIR is not set: run the tests through `scripts/test`, which points it at the official \
             NFS-e 1.01 schemas of the PyPI package nfelib (nfelib/nfse/schemas/v1_0)"
        )
    });
    assert!(dir.join("DPS_v1.01.xsd").is_file(), "NFSE_SCHEMA_DIR={} has no DPS_v1.01.xsd", dir.display());
    dir
}

/// Validates `xml` against the official schema `xsd` with xmllint.
pub fn xmllint(xml: &str, xsd: &str) {
    nfe_support::xmllint_in(xml, &schema_dir(), xsd);
}

/// Verifies the signature over the element `signed` with xmlsec1, trusting only `ca_pem`.
pub fn xmlsec1(xml: &str, signed: &str, ca_pem: &[u8]) {
    xmlsec1_at(xml, signed, ca_pem, None)
}

/// The root's own signature (`/*/Signature`) of a document that embeds another signed one
/// (NFS-e, evento): xmlsec1 would otherwise check the first `Signature` in document order.
pub fn xmlsec1_root(xml: &str, signed: &str, ca_pem: &[u8]) {
    xmlsec1_at(xml, signed, ca_pem, Some("/*/*[local-name()='Signature']"))
}

fn xmlsec1_at(xml: &str, signed: &str, ca_pem: &[u8], node_xpath: Option<&str>) {
    let dir = temp_dir();
    let f = dir.join("signed.xml");
    std::fs::write(&f, xml).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let out = Command::new(tool("xmlsec1"))
        .args(["--verify", "--enabled-reference-uris", "same-doc", "--id-attr:Id"])
        .arg(format!("http://www.sped.fazenda.gov.br/nfse:{signed}"))
        .arg("--trusted-pem")
        .arg(&ca)
        .args(node_xpath.map(|x| vec!["--node-xpath", x]).unwrap_or_default())
        .arg(&f)
        .output()
        .expect("run xmlsec1");
    assert!(
        out.status.success(),
        "xmlsec1 --verify failed on {} (kept for inspection):\n{}",
        f.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

pub fn ca_pem() -> Vec<u8> {
    pki().ca.to_pem().unwrap()
}

/// A DPS checked by both external tools and the crate's own verifier.
pub fn check_dps(xml: &str) {
    xmllint(xml, "DPS_v1.01.xsd");
    xmlsec1(xml, "infDPS", &ca_pem());
    verify_dps(xml, &ALGORITHMS).expect("own verifier");
}

/// Replaces `infDPS` by `edit(infDPS)` and signs again (valid signature, broken rule).
pub fn tamper_and_resign(doc: &str, alg: SignatureAlgorithm, edit: impl Fn(&str) -> String) -> String {
    let start = doc.find("<infDPS ").unwrap();
    let end = doc.find("</infDPS>").unwrap() + "</infDPS>".len();
    let inf = edit(&doc[start..end]);
    let id_start = inf.find("Id=\"").unwrap() + 4;
    let id = inf[id_start..id_start + 45].to_owned();
    let canon = inf.replacen("<infDPS ", "<infDPS xmlns=\"http://www.sped.fazenda.gov.br/nfse\" ", 1);
    let mut out = format!("<DPS xmlns=\"http://www.sped.fazenda.gov.br/nfse\" versao=\"1.01\">{inf}");
    osflow_nfe::dsig::push_signature(&mut out, a1(), alg, &id, &alg.digest_b64(canon.as_bytes())).unwrap();
    out.push_str("</DPS>");
    out
}

pub fn pdftotext(pdf: &[u8]) -> String {
    let dir = temp_dir();
    let f = dir.join("d.pdf");
    std::fs::write(&f, pdf).unwrap();
    let out = Command::new(tool("pdftotext")).arg(&f).arg("-").output().expect("run pdftotext");
    assert!(out.status.success(), "pdftotext failed: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The QR codes on the first page of `pdf`: pdftoppm renders it, zbarimg decodes them.
pub fn qr_codes(pdf: &[u8]) -> Vec<String> {
    let dir = temp_dir();
    let f = dir.join("d.pdf");
    std::fs::write(&f, pdf).unwrap();
    let prefix = dir.join("page");
    let out = Command::new(tool("pdftoppm"))
        .args(["-r", "200", "-f", "1", "-l", "1", "-png", "-singlefile"])
        .arg(&f)
        .arg(&prefix)
        .output()
        .expect("run pdftoppm");
    assert!(out.status.success(), "pdftoppm failed: {}", String::from_utf8_lossy(&out.stderr));
    let out = Command::new(tool("zbarimg"))
        .args(["--quiet", "--raw", "-Sdisable", "-Sqrcode.enable"])
        .arg(prefix.with_extension("png"))
        .output()
        .expect("run zbarimg");
    assert!(out.status.success(), "zbarimg found no QR code: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}
