use osflow_nfe::*;
use rust_decimal_macros::dec;

use crate::support::*;

fn err(inp: &NfeInput) -> BuildError {
    build(inp).expect_err("build must fail")
}

#[test]
fn reference_like_document_has_the_expected_values() {
    let mut inp = input(5);
    inp.items = (1..=5).map(|i| part(i, simples())).collect();
    let n = build(&inp).unwrap();
    let t = n.totals();
    assert_eq!(t.v_prod, dec!(579.80) + dec!(358.50) + dec!(24.75) + dec!(30.00) + dec!(9.99));
    assert_eq!(t.v_nf, t.v_prod);
    assert_eq!(t.v_troco, dec!(0));
    let c = n.content();
    assert!(c.starts_with("<ide><cUF>35</cUF><cNF>00013579</cNF><natOp>VENDA DE PECAS - OS 1000</natOp><mod>55</mod>"));
    assert!(c.contains("<qCom>2.0000</qCom><vUnCom>289.9000000000</vUnCom><vProd>579.80</vProd>"));
    assert!(c.contains("<ICMSSN102><orig>0</orig><CSOSN>102</CSOSN></ICMSSN102>"));
    assert!(c.contains(&format!("<xNome>{HOMOLOGATION_DEST_NAME}</xNome>")));
    assert!(c.contains("<CEP>01001000</CEP>") && c.contains("<fone>1133334444</fone>"));
    assert!(c.contains("<IE>111111111119</IE><CRT>1</CRT>"));
    assert!(c.contains("<vNF>1003.04</vNF>"));
    assert!(c.contains("<transp><modFrete>9</modFrete></transp>"));
    assert!(!c.contains("vTroco"));
    assert_eq!(n.key().as_str(), "35261112345678000195550010000010001000135791");
    assert!(n.canonical_inf_nfe().starts_with(
        "<infNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" Id=\"NFe35261112345678000195550010000010001000135791\" versao=\"4.00\"><ide>"
    ));
}

#[test]
fn production_keeps_the_recipient_name_and_homologation_replaces_it() {
    let mut inp = input(1);
    inp.recipient.name = "JOSÉ DA SILVA".into();
    assert!(build(&inp).unwrap().content().contains(HOMOLOGATION_DEST_NAME));
    inp.environment = Environment::Production;
    let c = build(&inp).unwrap().content().to_owned();
    assert!(c.contains("<xNome>JOSÉ DA SILVA</xNome>") && c.contains("<tpAmb>1</tpAmb>"));
}

#[test]
fn building_from_a_stored_cnf_is_deterministic() {
    let inp = input(3);
    assert_eq!(build(&inp).unwrap(), build(&inp).unwrap());
}

#[test]
fn regime_normal_computes_icms_pis_cofins() {
    let mut inp = input(1);
    inp.emitter.crt = Crt::RegimeNormal;
    let mut it = part(1, normal());
    it.quantity = dec!(3);
    it.unit_price = dec!(33.333);
    it.discount = Some(dec!(0.99));
    inp.items = vec![it];
    inp.payments = vec![pay(PaymentMethod::Cash, dec!(100))];
    let n = build(&inp).unwrap();
    let t = n.totals();
    assert_eq!(t.v_prod, dec!(100.00)); // 99.999 rounded half away from zero
    assert_eq!(t.v_desc, dec!(0.99));
    assert_eq!(t.v_nf, dec!(99.01));
    assert_eq!(t.v_bc, dec!(99.01));
    assert_eq!(t.v_icms, dec!(17.82)); // 99.01 × 18 % = 17.8218
    assert_eq!(t.v_pis, dec!(1.63)); // 1.633665
    assert_eq!(t.v_cofins, dec!(7.52)); // 7.52476
    assert_eq!(t.v_troco, dec!(0.99));
    let c = n.content();
    assert!(c.contains("<ICMS00><orig>0</orig><CST>00</CST><modBC>3</modBC><vBC>99.01</vBC><pICMS>18.00</pICMS><vICMS>17.82</vICMS></ICMS00>"));
    assert!(c.contains("<PISAliq><CST>01</CST><vBC>99.01</vBC><pPIS>1.65</pPIS><vPIS>1.63</vPIS></PISAliq>"));
    assert!(c.contains(
        "<COFINSAliq><CST>01</CST><vBC>99.01</vBC><pCOFINS>7.60</pCOFINS><vCOFINS>7.52</vCOFINS></COFINSAliq>"
    ));
    assert!(c.contains("<vDesc>0.99</vDesc><indTot>1</indTot>"));
    assert!(c.contains("<vTroco>0.99</vTroco>"));
}

#[test]
fn ibs_cbs_is_informative_and_not_added_to_vnf() {
    let mut inp = input(2);
    inp.ibs_cbs = Some(IbsCbs::test_year_2026());
    let n = build(&inp).unwrap();
    let t = n.totals();
    let ib = t.ibs_cbs.unwrap();
    assert_eq!(ib.v_bc, t.v_prod);
    // Totals are sums of the per-item rounded values (IBSCBSTot = Σ items):
    // 579.80 × 0.9 % = 5.2182 → 5.22; 358.50 × 0.9 % = 3.2265 → 3.23 (half away from zero).
    assert_eq!(ib.v_cbs, dec!(8.45));
    assert_eq!(ib.v_ibs_uf, dec!(0.58) + dec!(0.36));
    assert_eq!(ib.v_ibs, ib.v_ibs_uf);
    assert_eq!(t.v_nf, t.v_prod);
    assert!(n.content().contains("<IBSCBS><CST>000</CST><cClassTrib>000001</cClassTrib><gIBSCBS>"));
    assert!(n.content().contains("<IBSCBSTot><vBCIBSCBS>"));
}

#[test]
fn validation_errors_name_the_field() {
    let base = input(2);
    type Edit = Box<dyn Fn(&mut NfeInput)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|i| i.items[1].ncm = "8517709".into()), "det[2].prod.NCM"),
        (Box::new(|i| i.items[0].cfop = "510".into()), "det[1].prod.CFOP"),
        (Box::new(|i| i.items[0].cfop = "6102".into()), "det[1].prod.CFOP"),
        (Box::new(|i| i.items[0].cfop = "1102".into()), "det[1].prod.CFOP"),
        (Box::new(|i| i.items[0].description = "TELA\nNOVA".into()), "det[1].prod.xProd"),
        (Box::new(|i| i.items[0].description = "x".repeat(121)), "det[1].prod.xProd"),
        (Box::new(|i| i.items[0].description = "  ".into()), "det[1].prod.xProd"),
        (Box::new(|i| i.items[0].quantity = dec!(1.00001)), "det[1].prod.qCom"),
        (Box::new(|i| i.items[0].quantity = dec!(0)), "det[1].prod.qCom"),
        (Box::new(|i| i.items[0].unit_price = dec!(0.00000000001)), "det[1].prod.vUnCom"),
        (Box::new(|i| i.items[0].discount = Some(dec!(0.001))), "det[1].prod.vDesc"),
        (Box::new(|i| i.items[0].discount = Some(dec!(100000))), "det[1].prod.vDesc"),
        (Box::new(|i| i.items[0].tax = normal()), "det[1].imposto.ICMS"),
        (Box::new(|i| i.emitter.name = "E".into()), "emit.xNome"),
        (Box::new(|i| i.emitter.address.cep = "0100100".into()), "emit.enderEmit.CEP"),
        (Box::new(|i| i.emitter.address.city_code = "355030".into()), "emit.enderEmit.cMun"),
        (Box::new(|i| i.emitter.ie = "X".into()), "emit.IE"),
        (Box::new(|i| i.nat_op = "VENDA\tDE PECAS".into()), "ide.natOp"),
        (Box::new(|i| i.n_nf = 13579), "ide.cNF"),
        (Box::new(|i| i.n_nf = 0), "ide.nNF"),
        (Box::new(|i| i.payments[0].amount -= dec!(0.01)), "pag.detPag.vPag"),
        (Box::new(|i| i.payments.clear()), "pag.detPag"),
        (Box::new(|i| i.items.clear()), "det"),
        (Box::new(|i| i.recipient.email = Some("nope".into())), "dest.email"),
        (Box::new(|i| i.tech_responsible.phone = "123".into()), "infRespTec.fone"),
        (Box::new(|i| i.emission = EmissionType::SvcAn), "ide.dhCont"),
        (
            Box::new(|i| i.issued_at = i.issued_at.with_timezone(&chrono::FixedOffset::west_opt(9000).unwrap())),
            "ide.dhEmi",
        ),
        (Box::new(|i| i.additional_info = Some("Łódź".into())), "infAdic.infCpl"),
    ];
    for (edit, field) in cases {
        let mut inp = base.clone();
        edit(&mut inp);
        assert_eq!(err(&inp).field, field, "{:?}", err(&inp));
    }
}

#[test]
fn error_messages_are_readable() {
    let mut inp = input(1);
    inp.items[0].ncm = "85".into();
    assert_eq!(err(&inp).to_string(), "det[1].prod.NCM must be 8 digits");
    inp.items[0].ncm = "85177099".into();
    inp.items[0].description = "A\u{7}B".into();
    assert_eq!(err(&inp).to_string(), "det[1].prod.xProd contains the control character U+0007");
}

#[test]
fn user_text_is_escaped_as_c14n_and_normalized() {
    let mut inp = input(1);
    inp.items[0].description = "  Tela 📱 “premium” — A&B <x> \"q\" 'a' ção  ".into();
    inp.additional_info = Some("OS #7 > R$ 100 & <garantia> 90 dias ✅".into());
    let c = build(&inp).unwrap().content().to_owned();
    assert!(c.contains("<xProd>Tela \"premium\" - A&amp;B &lt;x&gt; \"q\" 'a' ção</xProd>"), "{c}");
    assert!(c.contains("<infCpl>OS #7 &gt; R$ 100 &amp; &lt;garantia&gt; 90 dias</infCpl>"));
}

#[test]
fn contingency_writes_dhcont_and_xjust() {
    let mut inp = input(1);
    inp.emission = EmissionType::SvcAn;
    inp.contingency =
        Some(Contingency { since: brt(2026, 11, 30, 9), reason: "SEFAZ SP fora do ar desde as 9h".into() });
    let n = build(&inp).unwrap();
    assert_eq!(n.key().tp_emis(), "6");
    assert!(n.content().contains("<tpEmis>6</tpEmis>"));
    assert!(
        n.content()
            .contains("<dhCont>2026-11-30T09:00:00-03:00</dhCont><xJust>SEFAZ SP fora do ar desde as 9h</xJust></ide>")
    );
}

#[test]
fn interstate_recipient_uses_iddest_2() {
    let mut inp = input(1);
    if let Some(a) = inp.recipient.address.as_mut() {
        a.uf = Uf::RJ;
        a.city_code = "3304557".into();
    }
    inp.items[0].cfop = "6102".into();
    let n = build(&inp).unwrap();
    assert!(n.content().contains("<idDest>2</idDest>"));
}
