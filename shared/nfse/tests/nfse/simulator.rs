//! The simulator in process: it issues a signed, schema-valid NFS-e, keeps it, and refuses what
//! Sefin refuses.

use osflow_nfse::event::{CancelReason, cancel};
use osflow_nfse::simulator::Simulator;
use osflow_nfse::*;

use crate::support::*;

fn errors(sim: &Simulator, doc: &str) -> Vec<String> {
    sim.issue_xml(doc).unwrap_err().into_iter().map(|e| e.code).collect()
}

#[tokio::test]
async fn issues_a_signed_nfse_and_keeps_it() {
    let sim = Simulator::new();
    let dps = signed(&input(), SignatureAlgorithm::RsaSha256);
    let IssueOutcome::Issued(n) = sim.issue(&dps).await.unwrap() else { panic!("not issued") };
    assert_eq!(n.key.as_str().len(), 50);
    assert_eq!(n.dps_id, Some(*dps.id()));
    assert_eq!(n.key.number(), n.number);
    // Sefin's NFS-e: the official schema, its own RSA-SHA256 signature, and the DPS signature
    // still valid inside it.
    xmllint(&n.xml, "NFSe_v1.01.xsd");
    xmlsec1_root(&n.xml, "infNFSe", &sim.certificate().x509().to_pem().unwrap());
    xmlsec1(&n.xml, "infDPS", &ca_pem());
    let (_, alg) =
        osflow_nfe::dsig::verify_enveloped(&n.xml, "NFSe", "infNFSe", &[SignatureAlgorithm::RsaSha256]).unwrap();
    assert_eq!(alg, SignatureAlgorithm::RsaSha256);
    verify_dps(&n.xml, &ALGORITHMS).expect("the embedded DPS keeps its signature");

    assert_eq!(sim.find_by_dps(dps.id()).await.unwrap(), Some(n.key.clone()));
    assert_eq!(sim.nfse(&n.key).await.unwrap().unwrap(), n);
    // The same DPS again: E0014 for the raw request, settled to the same NFS-e by the port.
    assert_eq!(errors(&sim, dps.xml()), ["E0014"]);
    let IssueOutcome::Issued(again) = sim.issue(&dps).await.unwrap() else { panic!("not settled") };
    assert_eq!(again.key, n.key);
    assert_eq!(sim.issued_count(), 1);

    let pdf = sim.danfse(&n.key).await.unwrap().unwrap();
    let text = pdftotext(&pdf);
    assert!(text.contains("DANFSe") && text.contains(&consult_url(n.key.as_str())), "{text}");
}

#[test]
fn every_scenario_is_issued_with_either_algorithm() {
    let sim = Simulator::new();
    for (i, inp) in [input(), input_mei(), input_normal_withheld(), input_ibs_cbs()].into_iter().enumerate() {
        let alg = ALGORITHMS[i % 2];
        let n = sim.issue_xml(signed(&inp, alg).xml()).unwrap();
        xmllint(&n.xml, "NFSe_v1.01.xsd");
    }
    assert_eq!(sim.issued_count(), 4);
}

#[test]
fn rejections() {
    let sim = Simulator::new();
    let alg = SignatureAlgorithm::RsaSha256;
    // Invalid national service code (the schema pattern holds, the code does not exist).
    let mut bad_code = input();
    bad_code.service.c_trib_nac = "999999".into();
    assert_eq!(errors(&sim, signed(&bad_code, alg).xml()), ["X0006"]);
    // The buyer's CPF with wrong check digits (re-signed: the builder would refuse it).
    let doc = tamper_and_resign(signed(&input(), alg).xml(), alg, |inf| inf.replace("52998224725", "52998224700"));
    assert_eq!(errors(&sim, &doc), ["X0007"]);
    // A ME/EPP informing indTotTrib.
    let doc = tamper_and_resign(signed(&input(), alg).xml(), alg, |inf| {
        inf.replace("<pTotTribSN>6.00</pTotTribSN>", "<indTotTrib>0</indTotTrib>")
    });
    assert_eq!(errors(&sim, &doc), ["E0712"]);
    // Id that does not match its fields.
    let doc =
        tamper_and_resign(signed(&input(), alg).xml(), alg, |inf| inf.replace("<nDPS>42</nDPS>", "<nDPS>41</nDPS>"));
    assert_eq!(errors(&sim, &doc), ["X0003"]);
    // Changed after signing.
    let doc = signed(&input(), alg).xml().replace("<vServ>350.00</vServ>", "<vServ>35.00</vServ>");
    assert_eq!(errors(&sim, &doc), ["X0002"]);
    // Structure: an element out of the schema's order, a wrong version.
    let doc = signed(&input(), alg).xml().replacen("<tpAmb>2</tpAmb><dhEmi>", "<dhEmi>", 1);
    assert_eq!(errors(&sim, &doc), ["E1235"]);
    let doc = signed(&input(), alg).xml().replacen("versao=\"1.01\"", "versao=\"1.00\"", 1);
    assert_eq!(errors(&sim, &doc), ["E1235"]);
    // RSA-SHA1 when Sefin refuses it.
    sim.refuse_sha1(true);
    let mut other = input();
    other.number = 99;
    assert_eq!(errors(&sim, signed(&other, SignatureAlgorithm::RsaSha1).xml()), ["E0714"]);
    assert!(sim.issue_xml(signed(&other, SignatureAlgorithm::RsaSha256).xml()).is_ok());
    assert_eq!(sim.issued_count(), 1);
}

#[tokio::test]
async fn cancel_registers_a_signed_event_once() {
    let sim = Simulator::new();
    let n = sim.issue_xml(signed(&input(), SignatureAlgorithm::RsaSha256).xml()).unwrap();
    let req = cancel_input(n.key.clone(), CancelReason::IssueError, "Valor do servico informado errado");
    let ev = cancel(&req, a1(), SignatureAlgorithm::RsaSha256).unwrap();
    let EventOutcome::Registered { xml } = sim.register_event(&ev).await.unwrap() else { panic!("refused") };
    xmllint(&xml, "evento_v1.01.xsd");
    xmlsec1_root(&xml, "infEvento", &sim.certificate().x509().to_pem().unwrap());
    xmlsec1(&xml, "infPedReg", &ca_pem());
    let EventOutcome::Rejected(e) = sim.register_event(&ev).await.unwrap() else { panic!("registered twice") };
    assert_eq!(e[0].code, "X0014");
    assert_eq!(sim.events(&n.key).len(), 1);
    assert!(pdftotext(&sim.danfse(&n.key).await.unwrap().unwrap()).contains("CANCELADA"));
}
