//! The DPS and the cancellation request: official schema and xmlsec1 for every scenario and both
//! algorithms; canonical escaping; errors naming the field.

use osflow_nfse::event::{CancelReason, cancel, verify_event};
use osflow_nfse::*;
use rust_decimal_macros::dec;

use crate::support::*;

fn scenarios() -> Vec<(&'static str, DpsInput)> {
    let mut two_codes = input();
    two_codes.number = 46;
    two_codes.service.c_trib_nac = "140201".into();
    two_codes.service.c_nbs = Some("120018100".into());
    two_codes.service.description = "Assistência técnica: diagnóstico".into();
    vec![
        ("Simples ME/EPP, CPF buyer", input()),
        ("MEI", input_mei()),
        ("regime normal, ISS withheld by a CNPJ buyer", input_normal_withheld()),
        ("IBS/CBS on", input_ibs_cbs()),
        ("second service code of the same OS", two_codes),
    ]
}

#[test]
fn every_scenario_is_schema_valid_and_verifies_with_both_algorithms() {
    for (name, inp) in scenarios() {
        for alg in ALGORITHMS {
            let dps = signed(&inp, alg);
            assert_eq!(dps.id().as_str().len(), 45, "{name}");
            assert!(dps.xml().contains(alg.signature_uri()), "{name} {alg}");
            check_dps(dps.xml());
            let (_, used) = verify_dps(dps.xml(), &ALGORITHMS).unwrap();
            assert_eq!(used, alg, "{name}");
        }
    }
}

#[test]
fn the_id_and_fields_follow_the_layout() {
    let dps = signed(&input(), SignatureAlgorithm::RsaSha256);
    // DPS + cLocEmi + tpInsc 2 + CNPJ + série 00001 + nDPS 15 digits.
    assert_eq!(dps.id().as_str(), format!("DPS35503082{CNPJ}00001000000000000042"));
    let x = dps.xml();
    assert!(x.starts_with("<DPS xmlns=\"http://www.sped.fazenda.gov.br/nfse\" versao=\"1.01\"><infDPS Id=\"DPS"));
    for tag in [
        "<tpAmb>2</tpAmb>",
        "<dhEmi>2026-12-04T10:30:00-03:00</dhEmi>",
        "<serie>1</serie>",
        "<nDPS>42</nDPS>",
        "<opSimpNac>3</opSimpNac><regApTribSN>1</regApTribSN><regEspTrib>0</regEspTrib>",
        "<CEP>04001000</CEP>",
        "<vServ>350.00</vServ>",
        "<vDescIncond>20.00</vDescIncond>",
        "<pAliq>2.00</pAliq>",
        "<pTotTribSN>6.00</pTotTribSN>",
        "<cTribNac>140101</cTribNac>",
    ] {
        assert!(x.contains(tag), "missing {tag}");
    }
    assert!(x.ends_with("</Signature></DPS>"));
}

#[test]
fn special_characters_are_written_as_c14n_writes_them() {
    let dps = signed(&input(), SignatureAlgorithm::RsaSha256);
    let x = dps.xml();
    assert!(x.contains(
        "<xDescServ>Mão de obra: Troca de tela \"premium\" &amp; &lt;conector&gt; 'ç' - João's Ação; Limpeza interna</xDescServ>"
    ));
    assert!(x.contains("<xNome>Maria da Conceição &amp; Filhos &lt;ME&gt;</xNome>"));
    assert!(x.contains("<xLgr>Rua dos \"Clientes\"</xLgr>"));
    assert!(x.contains("<xBairro>Vila Olímpia &amp; Itaim</xBairro>"));
    // The bytes are their own canonical form: xmllint --c14n leaves infDPS unchanged.
    let f = write_temp("c14n.xml", x.as_bytes());
    let out = std::process::Command::new("xmllint").arg("--c14n").arg(&f).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), x);
}

#[test]
fn stored_bytes_reload_verbatim() {
    let dps = signed(&input(), SignatureAlgorithm::RsaSha1);
    let again = SignedDps::from_stored(dps.xml().to_owned()).unwrap();
    assert_eq!(again, dps);
    assert!(SignedDps::from_stored("<NFe/>").is_err());
}

#[test]
fn errors_name_the_field() {
    let field = |i: DpsInput| build(&i).unwrap_err().field;
    let mut i = input();
    i.provider.cnpj = Cnpj::parse(nfe_alnum()).unwrap();
    assert_eq!(field(i), "prest.CNPJ");
    let mut i = input();
    i.values.approximate_taxes = ApproximateTaxes::NotInformed;
    assert_eq!(field(i), "valores.trib.totTrib.indTotTrib");
    let mut i = input_normal_withheld();
    i.values.iss.rate = Some(dec!(5));
    assert_eq!(field(i), "valores.trib.tribMun.pAliq");
    let mut i = input_ibs_cbs();
    i.service.c_nbs = None;
    assert_eq!(field(i), "serv.cServ.cNBS");
    let mut i = input();
    i.service.c_trib_nac = "14.01".into();
    assert_eq!(field(i), "serv.cServ.cTribNac");
    let mut i = input_normal_withheld();
    i.taker = None;
    assert_eq!(field(i), "valores.trib.tribMun.tpRetISSQN");
    let mut i = input();
    i.service.description = "linha 1\nlinha 2".into();
    assert_eq!(field(i), "serv.cServ.xDescServ");
    let mut i = input();
    i.values.unconditional_discount = Some(dec!(350));
    assert_eq!(field(i), "valores.vDescCondIncond");
    let mut i = input();
    i.serie = 100_000;
    assert_eq!(field(i), "serie");
    let mut i = input_mei();
    i.provider.regime.special = 7;
    assert_eq!(field(i), "prest.regTrib.regEspTrib");
}

fn nfe_alnum() -> &'static str {
    "12ABC34501DE35"
}

fn key() -> NfseKey {
    NfseKey::parse("35503082212345678000195000000000001126121234567891").unwrap()
}

#[test]
fn the_cancellation_is_schema_valid_and_verifies_with_both_algorithms() {
    for alg in ALGORITHMS {
        let ev =
            cancel(&cancel_input(key(), CancelReason::NotProvided, format!("Cliente desistiu: {NASTY}")), a1(), alg)
                .unwrap();
        assert_eq!(ev.id(), format!("PRE{}101101", key()));
        assert_eq!(ev.id().len(), 59);
        xmllint(ev.xml(), "pedRegEvento_v1.01.xsd");
        xmlsec1(ev.xml(), "infPedReg", &ca_pem());
        assert_eq!(verify_event(ev.xml(), &ALGORITHMS).unwrap().1, alg);
        assert!(ev.xml().contains("<xMotivo>Cliente desistiu: Troca de tela \"premium\" &amp; &lt;conector&gt;"));
    }
    let short = cancel_input(key(), CancelReason::Other, "curto demais");
    let err = cancel(&short, a1(), SignatureAlgorithm::RsaSha256).unwrap_err();
    assert!(err.to_string().starts_with("infPedReg.e101101.xMotivo"), "{err}");
}
