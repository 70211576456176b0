//! Scenarios checked by the official XSD (xmllint) and xmlsec1, plus the simulator.

use osflow_nfe::simulator::Simulator;
use osflow_nfe::wrap;
use osflow_nfe::*;
use rust_decimal_macros::dec;

use crate::support::*;

fn authorized(sim: &Simulator, nfe: &SignedNfe) -> Protocol {
    match sim.authorize_xml(nfe.xml()) {
        Outcome::Authorized(p) => p,
        other => panic!("simulator refused: {other:?}"),
    }
}

/// Full check of one scenario: XSD, xmlsec1, own verifier, simulator, and the wrappers
/// (nfeProc, enviNFe, SOAP) keep the signature valid.
fn scenario(inp: &NfeInput) -> SignedNfe {
    let nfe = signed(inp);
    check_nfe(nfe.xml());
    let sim = Simulator::new();
    let prot = authorized(&sim, &nfe);
    let proc_ = wrap::nfe_proc(&nfe, &prot).unwrap();
    xmllint(&proc_, "procNFe_v4.00.xsd");
    xmlsec1(&proc_);
    verify(&proc_).unwrap();
    nfe
}

#[test]
fn simples_nacional_cpf_buyer_five_items_pix() {
    let nfe = scenario(&input(5));
    assert!(nfe.xml().starts_with("<NFe xmlns=\"http://www.portalfiscal.inf.br/nfe\"><infNFe Id=\"NFe"));
    assert!(nfe.xml().ends_with("</X509Certificate></X509Data></KeyInfo></Signature></NFe>"));
}

#[test]
fn one_item() {
    scenario(&input(1));
}

#[test]
fn fifty_items() {
    let inp = input(50);
    assert_eq!(inp.items.len(), 50);
    scenario(&inp);
}

#[test]
fn regime_normal_cnpj_buyer_with_discount() {
    let mut inp = input(3);
    inp.emitter.crt = Crt::RegimeNormal;
    inp.recipient.id = RecipientId::Cnpj(Cnpj::parse("11.222.333/0001-81").unwrap());
    inp.recipient.email = None;
    inp.items = (1..=3).map(|i| part(i, normal())).collect();
    inp.items[1].discount = Some(dec!(10.50));
    let t = build(&NfeInput { payments: vec![pay(PaymentMethod::Cash, dec!(1e6))], ..inp.clone() }).unwrap();
    inp.payments = vec![pay(PaymentMethod::Boleto, t.totals().v_nf)];
    let nfe = scenario(&inp);
    assert!(nfe.xml().contains("<ICMS00>") && nfe.xml().contains("<vDesc>10.50</vDesc>"));
}

#[test]
fn simples_other_csosn_groups() {
    let mut inp = input(4);
    inp.items[0].tax = ItemTax::Simples(SimplesIcms::Sn101 { p_cred_sn: dec!(2.56) });
    inp.items[1].tax = ItemTax::Simples(SimplesIcms::Sn500);
    inp.items[2].tax = ItemTax::Simples(SimplesIcms::Sn102(Csosn102::C400));
    inp.items[3].tax = ItemTax::Simples(SimplesIcms::Sn102(Csosn102::C103));
    let nfe = scenario(&inp);
    // 579.80 × 2.56 % = 14.84288
    assert!(nfe.xml().contains(
        "<ICMSSN101><orig>0</orig><CSOSN>101</CSOSN><pCredSN>2.56</pCredSN><vCredICMSSN>14.84</vCredICMSSN>"
    ));
    assert!(nfe.xml().contains("<ICMSSN500><orig>0</orig><CSOSN>500</CSOSN></ICMSSN500>"));
}

#[test]
fn ibs_cbs_enabled_simples_and_normal() {
    let mut inp = input(2);
    inp.ibs_cbs = Some(IbsCbs::test_year_2026());
    scenario(&inp);
    inp.emitter.crt = Crt::RegimeNormal;
    inp.items = (1..=2).map(|i| part(i, normal())).collect();
    let nfe = scenario(&inp);
    assert!(nfe.xml().contains("<gCBS><pCBS>0.90</pCBS>"));
}

#[test]
fn several_payment_methods_with_card_and_change() {
    let mut inp = input(2); // 579.80 + 358.50 = 938.30
    let card = |integrated| Card {
        integrated,
        acquirer_cnpj: Some(Cnpj::parse("11222333000181").unwrap()),
        brand: Some("02".into()),
        authorization: Some("AUT-123456".into()),
    };
    inp.payments = vec![
        pay(PaymentMethod::CreditCard(card(true)), dec!(400)),
        pay(PaymentMethod::DebitCard(card(false)), dec!(300)),
        pay(PaymentMethod::PixStatic, dec!(100)),
        pay(PaymentMethod::Transfer, dec!(30)),
        pay(PaymentMethod::Boleto, dec!(8.30)),
        pay(PaymentMethod::Other("VALE PARCEIRO".into()), dec!(50)),
        pay(PaymentMethod::Cash, dec!(100)),
    ];
    let nfe = scenario(&inp);
    let x = nfe.xml();
    assert!(x.contains("<tPag>03</tPag><vPag>400.00</vPag><card><tpIntegra>1</tpIntegra><CNPJ>11222333000181</CNPJ><tBand>02</tBand><cAut>AUT-123456</cAut></card>"));
    assert!(x.contains("<tPag>04</tPag><vPag>300.00</vPag><card><tpIntegra>2</tpIntegra>"));
    assert!(x.contains("<tPag>99</tPag><xPag>VALE PARCEIRO</xPag>"));
    assert!(x.contains("<vTroco>50.00</vTroco></pag>"), "paid 988.30 for 938.30");
}

#[test]
fn texts_with_markup_characters_accents_and_emoji() {
    let mut inp = input(2);
    inp.nat_op = "VENDA DE PEÇAS & ACESSÓRIOS".into();
    inp.emitter.name = "O'BRIEN & FILHOS <ASSISTÊNCIA> \"TÉCNICA\"".into();
    inp.emitter.trade_name = Some("CONSERTA JÁ 🔧📱".into());
    inp.recipient.email = Some("joão@example.com".into());
    inp.items[0].description = "Tela 📱 “premium” — A&B <x> \"q\" 'a' ção ü ñ ß".into();
    inp.items[1].description = "BATERIA 3000mAh > 2900mAh & < 3100mAh".into();
    inp.items[1].code = "<&>\"'".into();
    inp.additional_info = Some("Garantia: 90 dias ✅ — peças trocadas: \"tela\" & 'bateria' <OS #1000>".into());
    let nfe = scenario(&inp);
    let x = nfe.xml();
    assert!(x.contains("<xNome>O'BRIEN &amp; FILHOS &lt;ASSISTÊNCIA&gt; \"TÉCNICA\"</xNome>"));
    assert!(x.contains("<xFant>CONSERTA JÁ</xFant>"));
    assert!(x.contains("<cProd>&lt;&amp;&gt;\"'</cProd>"));
}

#[test]
fn alphanumeric_cnpj_emitter() {
    let mut inp = input(2);
    inp.emitter.cnpj = Cnpj::parse(ALNUM_CNPJ).unwrap();
    let nfe = scenario(&inp);
    assert_eq!(nfe.key().emitter(), ALNUM_CNPJ);
    assert!(nfe.xml().contains(&format!("<CNPJ>{ALNUM_CNPJ}</CNPJ>")));
}

#[test]
fn envi_nfe_and_soap_envelope_keep_the_signature() {
    let nfe = signed(&input(3));
    let envi = wrap::envi_nfe(&nfe, 123);
    xmllint(&envi, "enviNFe_v4.00.xsd");
    xmlsec1(&envi);
    let soap = wrap::soap12("NFeAutorizacao4", &envi);
    xmlsec1(&soap);
    verify(&soap).unwrap();
    assert!(envi.contains(nfe.xml()) && soap.contains(nfe.xml()), "embedded verbatim");
}

#[test]
fn a_wrapper_declaring_a_prefix_would_break_the_signature() {
    // Why the wrappers declare no prefixes: inclusive C14N pulls them into infNFe's digest.
    let nfe = signed(&input(1));
    let bad = format!(
        "<nfeProc xmlns=\"http://www.portalfiscal.inf.br/nfe\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" versao=\"4.00\">{}</nfeProc>",
        nfe.xml()
    );
    assert!(!xmlsec1_output(&bad).0, "xmlsec1 must reject it");
    assert_eq!(verify(&bad).unwrap_err(), VerifyError::Digest);
}

#[test]
fn reference_document_signed_by_another_implementation_verifies_with_ours() {
    // The reference NF-e was signed by another stack (PyNFe/signxml-era tooling) with the
    // shared test certificate: our C14N and verifier must agree with it.
    let doc = include_str!("../data/reference-nfe-sn-csosn102.xml");
    verify(doc).expect("reference verifies");
    let tampered = doc.replace("<vNF>1003.04</vNF>", "<vNF>1003.05</vNF>");
    assert_eq!(verify(&tampered).unwrap_err(), VerifyError::Digest);
}

#[test]
fn stored_bytes_reload_identically() {
    let nfe = signed(&input(2));
    let again = SignedNfe::from_stored(nfe.xml().to_owned()).unwrap();
    assert_eq!(again, nfe);
    assert!(SignedNfe::from_stored("<x/>").is_err());
}
