use osflow_nfe::simulator::Simulator;
use osflow_nfe::*;

use crate::support::*;

fn c_stat(sim: &Simulator, doc: &str) -> u16 {
    sim.authorize_xml(doc).c_stat()
}

fn resign(doc: &str, edit: impl Fn(&str) -> String) -> String {
    tamper_and_resign(doc, &pki().leaf_key, edit)
}

#[tokio::test]
async fn good_document_is_authorized_and_consult_returns_the_same_protocol() {
    let sim = Simulator::new();
    let nfe = signed(&input(5));
    let Outcome::Authorized(p) = sim.authorize(&nfe).await.unwrap() else { panic!("not authorized") };
    assert_eq!(p.c_stat, 100);
    assert_eq!(p.key, *nfe.key());
    assert_eq!(p.number.len(), 15);
    assert!(p.prot_nfe.contains(&format!("<chNFe>{}</chNFe>", nfe.key())));
    assert_eq!(sim.consult(nfe.key()).await.unwrap(), Outcome::Authorized(p.clone()));
    let proc_ = osflow_nfe::wrap::nfe_proc(&nfe, &p).unwrap();
    xmllint(&proc_, "procNFe_v4.00.xsd");
    assert!(sim.status().await.unwrap().in_operation());
}

#[tokio::test]
async fn same_key_twice_is_204_and_unknown_key_is_217() {
    let sim = Simulator::new();
    let nfe = signed(&input(2));
    assert_eq!(sim.authorize(&nfe).await.unwrap().c_stat(), 100);
    let again = sim.authorize(&nfe).await.unwrap();
    assert_eq!(again.c_stat(), 204, "{again:?}");
    let other = signed(&NfeInput { n_nf: 2000, ..input(1) });
    assert!(sim.consult(other.key()).await.unwrap().is_not_found());
    assert_eq!(sim.authorization_requests(), 2);
}

#[test]
fn same_number_with_a_new_cnf_is_539() {
    let sim = Simulator::new();
    assert_eq!(c_stat(&sim, signed(&input(1)).xml()), 100);
    let retry = NfeInput { cnf: Cnf::from_stored(24681357, 1000).unwrap(), ..input(1) };
    assert_eq!(c_stat(&sim, signed(&retry).xml()), 539);
}

#[test]
fn bytes_tampered_after_signing_are_297() {
    let sim = Simulator::new();
    let doc = signed(&input(2)).xml().replace("<natOp>VENDA DE PECAS - OS 1000</natOp>", "<natOp>VENDA</natOp>");
    assert_eq!(c_stat(&sim, &doc), 297);
    // Pretty-printing after signing (a newline between elements) breaks it too.
    let doc = signed(&input(2)).xml().replacen("<emit>", "\n<emit>", 1);
    assert_eq!(c_stat(&sim, &doc), 297);
    // A different signature value.
    let doc = signed(&input(2)).xml().replacen("<SignatureValue>", "<SignatureValue>AAAA", 1);
    assert_eq!(c_stat(&sim, &doc), 297);
}

#[test]
fn malformed_and_profile_violations() {
    let sim = Simulator::new();
    let x = signed(&input(1)).xml().to_owned();
    assert_eq!(c_stat(&sim, &x[..x.len() - 3]), 243);
    assert_eq!(c_stat(&sim, &x.replacen("</ide>", "</ide></ide>", 1)), 243);
    // The signature with a `ds:` prefix (what some libraries emit): refused by the profile.
    let i = x.find("<Signature ").unwrap();
    let sig = x[i..x.len() - "</NFe>".len()]
        .replace("</", "\u{1}")
        .replace('<', "<ds:")
        .replace('\u{1}', "</ds:")
        .replacen(" xmlns=", " xmlns:ds=", 1);
    let prefixed = format!("{}{sig}</NFe>", &x[..i]);
    assert!(prefixed.contains("<ds:Signature xmlns:ds=") && prefixed.ends_with("</ds:Signature></NFe>"));
    assert_eq!(c_stat(&sim, &prefixed), 298);
    let sha256 = x.replace("xmldsig#rsa-sha1", "xmldsig-more#rsa-sha256");
    assert_eq!(c_stat(&sim, &sha256), 298);
}

#[test]
fn wrong_check_digit_is_236() {
    let sim = Simulator::new();
    let nfe = signed(&input(2));
    let key = nfe.key().as_str().to_owned();
    let wrong_dv = (nfe.key().dv() + 1) % 10;
    let bad_key = format!("{}{}", &key[..43], wrong_dv);
    let doc = resign(nfe.xml(), |inf| {
        inf.replace(&key, &bad_key)
            .replace(&format!("<cDV>{}</cDV>", nfe.key().dv()), &format!("<cDV>{wrong_dv}</cDV>"))
    });
    verify(&doc).expect("the re-signed document has a valid signature");
    assert_eq!(c_stat(&sim, &doc), 236);
}

#[test]
fn key_not_matching_the_fields_is_502() {
    let sim = Simulator::new();
    let nfe = signed(&input(2));
    let doc = resign(nfe.xml(), |inf| inf.replace("<nNF>1000</nNF>", "<nNF>1001</nNF>"));
    assert_eq!(c_stat(&sim, &doc), 502);
}

#[test]
fn production_recipient_name_in_homologation_is_598() {
    let sim = Simulator::new();
    let nfe = signed(&input(2));
    let doc = resign(nfe.xml(), |inf| inf.replace(HOMOLOGATION_DEST_NAME, "CLIENTE TESTE"));
    assert_eq!(c_stat(&sim, &doc), 598);
    let prod = signed(&NfeInput { environment: Environment::Production, ..input(1) });
    assert_eq!(c_stat(&sim, prod.xml()), 252, "the simulator is homologation only");
}

#[test]
fn bad_totals_are_610_629_564_865() {
    let sim = Simulator::new();
    let nfe = signed(&input(5)); // vNF 1003.04
    let vnf = resign(nfe.xml(), |inf| inf.replace("<vNF>1003.04</vNF>", "<vNF>1003.00</vNF>"));
    assert_eq!(c_stat(&sim, &vnf), 610);
    let vprod_item = resign(nfe.xml(), |inf| inf.replace("<vProd>579.80</vProd>", "<vProd>579.90</vProd>"));
    assert_eq!(c_stat(&sim, &vprod_item), 629);
    let vprod_total = resign(nfe.xml(), |inf| {
        inf.replace("<vProd>1003.04</vProd>", "<vProd>1003.14</vProd>")
            .replace("<vNF>1003.04</vNF>", "<vNF>1003.14</vNF>")
    });
    assert_eq!(c_stat(&sim, &vprod_total), 564);
    let pag = resign(nfe.xml(), |inf| inf.replace("<vPag>1003.04</vPag>", "<vPag>1000.00</vPag>"));
    assert_eq!(c_stat(&sim, &pag), 865);
}

#[test]
fn certificate_of_another_company_is_213() {
    let sim = Simulator::new();
    let mut inp = input(1);
    inp.emitter.cnpj = Cnpj::parse("11222333000181").unwrap();
    let nfe = sign(&build(&inp).unwrap(), a1()).unwrap();
    assert_eq!(c_stat(&sim, nfe.xml()), 213);
}
