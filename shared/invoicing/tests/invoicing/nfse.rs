//! The municipal part: the emitter's NFS-e settings (checked before storing, errors naming the field, a
//! municipality outside the national system said clearly) and the DPS of an order's labor (one per service
//! code), checked with the official NFS-e 1.01 schema (NFSE_SCHEMA_DIR) and xmlsec1, and issued by the Sefin
//! simulator.

use std::collections::BTreeMap;

use osflow_app::{ApproximateTaxesConfig, FiscalChecks, NfseServiceCodes, NfseSettings};
use osflow_invoicing::{NfeChecks, dps_inputs, validate_nfse};
use osflow_nfse::simulator::Simulator;
use osflow_nfse::{SignatureAlgorithm, build, sign_dps};

use super::*;

fn campinas() -> Address {
    Address {
        street: "Rua Barão de Jaguara".into(),
        number: "900".into(),
        complement: None,
        district: "Centro".into(),
        city: "Campinas".into(),
        city_code: CityCode::parse("3509502").unwrap(),
        uf: Uf::parse("SP").unwrap(),
        zip: Zip::parse("13015-000").unwrap(),
    }
}

fn codes(c_trib_nac: &str, c_nbs: &str) -> NfseServiceCodes {
    NfseServiceCodes { c_trib_nac: c_trib_nac.into(), c_trib_mun: None, c_nbs: Some(c_nbs.into()) }
}

fn settings() -> NfseSettings {
    NfseSettings {
        municipal_registration: Some("123456".into()),
        simples_option: 3,
        simples_regime: Some(1),
        special_regime: 0,
        serie: 1,
        service: codes("140101", "120012000"),
        services_by_type: BTreeMap::from([("instalacao".to_owned(), codes("140201", "120018100"))]),
        iss_rate: Some("2".into()),
        iss_withholding: 1,
        approximate_taxes: ApproximateTaxesConfig::SimplesRate { percent: "6".into() },
        signature: "rsa-sha256".into(),
    }
}

fn nfse_emitter(n: NfseSettings) -> EmitterConfig {
    EmitterConfig { address: campinas(), nfse: Some(n), ..emitter(simples()) }
}

fn field_of(c: &EmitterConfig) -> String {
    NfeChecks.check_emitter(c).unwrap_err().field
}

#[test]
fn nfse_settings_are_checked_and_each_refusal_names_its_field() {
    assert!(NfeChecks.check_emitter(&nfse_emitter(settings())).is_ok());
    assert!(validate_nfse(&emitter(simples())).unwrap().is_none(), "no municipal part: no NFS-e");
    let with = |f: &dyn Fn(&mut NfseSettings)| {
        let mut s = settings();
        f(&mut s);
        field_of(&nfse_emitter(s))
    };
    assert_eq!(with(&|s| s.simples_option = 4), "nfse.simples_option");
    assert_eq!(with(&|s| s.simples_option = 2), "nfse.simples_regime");
    assert_eq!(with(&|s| s.serie = 0), "nfse.serie");
    assert_eq!(with(&|s| s.service.c_trib_nac = "1401".into()), "nfse.service.c_trib_nac");
    assert_eq!(with(&|s| s.service.c_nbs = Some("12".into())), "nfse.service.c_nbs");
    assert_eq!(
        with(&|s| {
            s.services_by_type.insert("x".into(), codes("14010", "120012000"));
        }),
        "nfse.services_by_type.x.c_trib_nac"
    );
    assert_eq!(with(&|s| s.signature = "rsa-md5".into()), "nfse.signature");
    assert_eq!(with(&|s| s.iss_rate = Some("dois".into())), "nfse.iss_rate");
    // Rules of the national system, found by the DPS writer itself.
    assert_eq!(with(&|s| s.approximate_taxes = ApproximateTaxesConfig::NotInformed), "nfse.approximate_taxes");
    assert_eq!(
        with(&|s| {
            s.simples_option = 1;
            s.simples_regime = None;
        }),
        "nfse.iss_rate",
        "a non-optant does not inform pAliq"
    );
    assert_eq!(with(&|s| s.special_regime = 6), "nfse.iss_rate", "no pAliq with a special regime");
    // A municipality outside the national system, said clearly.
    let sp = EmitterConfig { nfse: Some(settings()), ..emitter(simples()) };
    let e = NfeChecks.check_emitter(&sp).unwrap_err();
    assert_eq!(e.field, "nfse");
    assert!(e.message.contains("São Paulo") && e.message.contains("emissor próprio"), "{}", e.message);
}

fn check(xml: &str) {
    let dir = temp_dir();
    let f = dir.join("dps.xml");
    std::fs::write(&f, xml).unwrap();
    let schemas = std::env::var_os("NFSE_SCHEMA_DIR").map(PathBuf::from).expect("NFSE_SCHEMA_DIR: run scripts/test");
    let out = Process::new(tool("xmllint"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas.join("DPS_v1.01.xsd"))
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "xmllint: {}", String::from_utf8_lossy(&out.stderr));
    let pem = dir.join("cert.pem");
    std::fs::write(&pem, certificate().x509().to_pem().unwrap()).unwrap();
    let out = Process::new(tool("xmlsec1"))
        .args(["--verify", "--enabled-reference-uris", "same-doc", "--id-attr:Id"])
        .arg("http://www.sped.fazenda.gov.br/nfse:infDPS")
        .arg("--trusted-pem")
        .arg(&pem)
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "xmlsec1: {}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}

fn installation(price: &str) -> LineInput {
    LineInput {
        kind: LineKind::Labor,
        code: "instalacao".into(),
        description: "Instalação & configuração <rede> \"Wi-Fi\" d'água".into(),
        ncm: None,
        quantity: Quantity::parse("1").unwrap(),
        unit_price: money(price),
    }
}

#[tokio::test]
async fn an_order_with_two_service_codes_has_two_dps_the_simulator_issues() {
    let w = world(Some(simples())).await;
    let order = w
        .paid_order(
            cpf(31),
            vec![part("P-1", "Tela", "1", "300.00"), labor("150.00"), labor("50.00"), installation("80.00")],
        )
        .await;
    let valid = validate_nfse(&nfse_emitter(settings())).unwrap().unwrap();
    let inputs = dps_inputs(&order, &valid, &[7, 8], chrono::Utc::now());
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[0].service.c_trib_nac, "140101");
    assert_eq!(inputs[0].values.amount.to_string(), "200.00", "the two labor lines of the default code together");
    assert_eq!(inputs[1].service.c_trib_nac, "140201");
    assert_eq!(inputs[1].number, 8);
    let sim = Simulator::new();
    for (i, input) in inputs.iter().enumerate() {
        let alg = [SignatureAlgorithm::RsaSha256, SignatureAlgorithm::RsaSha1][i];
        let dps = sign_dps(&build(input).expect("build"), certificate(), alg).expect("sign");
        check(dps.xml());
        let nfse = sim.issue_xml(dps.xml()).expect("issued");
        assert_eq!(nfse.dps_id, Some(*dps.id()));
    }
    assert_eq!(sim.issued_count(), 2);
}

#[tokio::test]
async fn mei_and_iss_withheld_by_a_cnpj_buyer() {
    let w = world(Some(simples())).await;
    let order = w.paid_order(Document::Cnpj(Cnpj::parse("11222333000181").unwrap()), vec![labor("120.00")]).await;
    let mut normal = settings();
    normal.simples_option = 1;
    normal.simples_regime = None;
    normal.iss_rate = None;
    normal.iss_withholding = 2;
    normal.approximate_taxes =
        ApproximateTaxesConfig::Rates { federal: "13.45".into(), state: "0".into(), municipal: "2".into() };
    let mut mei = settings();
    mei.simples_option = 2;
    mei.simples_regime = None;
    mei.iss_rate = None;
    mei.approximate_taxes = ApproximateTaxesConfig::NotInformed;
    for s in [normal, mei] {
        let valid = validate_nfse(&nfse_emitter(s)).unwrap().unwrap();
        let inputs = dps_inputs(&order, &valid, &[1], chrono::Utc::now());
        assert_eq!(inputs.len(), 1);
        let dps = sign_dps(&build(&inputs[0]).expect("build"), certificate(), valid.algorithm).unwrap();
        check(dps.xml());
    }
}
