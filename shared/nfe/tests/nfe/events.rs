//! Events (cancel, carta de correção), inutilização, the status service and SVC contingency, over the mutual-TLS
//! test SEFAZ (the simulator behind SOAP). Every request and proc file passes xmllint with nfelib's schemas and
//! xmlsec1.

use chrono::Duration;
use osflow_nfe::*;
use rust_decimal_macros::dec;

use crate::sefaz::{client, nfe, requests, start_mock};
use crate::support::*;

/// Justification and correction texts with every XML special character and accents.
const NASTY: &str = "Cliente pediu \"cancelar\" d'água & peças <tela> ação — ok";

fn dump(name: &str, xml: &str) {
    if let Some(dir) = std::env::var_os("OSFLOW_NFE_DUMP") {
        std::fs::write(std::path::Path::new(&dir).join(name), xml).expect("dump");
    }
}

fn cnpj() -> Cnpj {
    Cnpj::parse(CNPJ).unwrap()
}

fn cancel(doc: &SignedNfe, protocol: &str, justification: &str) -> SignedEvent {
    let input = EventInput {
        environment: Environment::Homologation,
        key: *doc.key(),
        author: cnpj(),
        at: brt(2026, 12, 4, 11),
        seq: 1,
        detail: EventDetail::Cancel { protocol: protocol.into(), justification: justification.into() },
    };
    sign_event(&input, a1()).unwrap()
}

fn correction(doc: &SignedNfe, seq: u8, text: &str) -> Result<SignedEvent, DocumentError> {
    let input = EventInput {
        environment: Environment::Homologation,
        key: *doc.key(),
        author: cnpj(),
        at: brt(2026, 12, 4, 11),
        seq,
        detail: EventDetail::Correction { text: text.into() },
    };
    sign_event(&input, a1())
}

async fn authorized(sefaz: &osflow_nfe::sefaz::SefazSoap, n_nf: u32) -> (SignedNfe, Protocol) {
    let doc = nfe(n_nf);
    match sefaz.authorize(&doc).await.unwrap() {
        Outcome::Authorized(p) => (doc, p),
        other => panic!("not authorized: {other:?}"),
    }
}

#[tokio::test]
async fn cancel_within_the_window_is_registered_and_its_proc_is_valid() {
    let dir = nfelib_schemas("nfe_evento_cancel");
    let mock = start_mock();
    let sefaz = client(&mock);
    let (doc, prot) = authorized(&sefaz, 201).await;

    let ev = cancel(&doc, &prot.number, NASTY);
    assert_eq!(ev.id(), format!("ID110111{}01", doc.key()));
    // The text is escaped, not altered: quotes and apostrophes literal, & < > as entities.
    assert!(ev.xml().contains("<xJust>Cliente pediu \"cancelar\" d'água &amp; peças &lt;tela&gt; ação - ok</xJust>"));
    xmllint_in(ev.xml(), &dir, "eventoCancNFe_v1.00.xsd");
    xmlsec1_of(ev.xml(), "infEvento");
    verify_document(ev.xml(), "evento", "infEvento").unwrap();
    let env = env_evento(&[&ev], 1);
    xmllint_in(&env, &dir, "envEventoCancNFe_v1.00.xsd");
    xmlsec1_of(&env, "infEvento");

    let receipt = sefaz.send_event(&ev).await.unwrap();
    assert_eq!(receipt.c_stat, 135, "{receipt:?}");
    assert!(receipt.registered() && receipt.protocol.as_ref().is_some_and(|p| p.len() == 15));
    let sent = requests(&mock, "NFeRecepcaoEvento4/nfeRecepcaoEvento");
    assert_eq!(sent.len(), 1);
    xmlsec1_of(&sent[0].body, "infEvento");
    let proc_ = proc_evento(&ev, &receipt).unwrap();
    xmllint_in(&proc_, &dir, "procEventoCancNFe_v1.00.xsd");
    xmlsec1_of(&proc_, "infEvento");
    dump("procEventoNFe-cancel.xml", &proc_);

    // The authority now answers 101 for the key; the same event again is a duplicate, no second registration.
    assert_eq!(sefaz.consult(doc.key()).await.unwrap().c_stat(), 101);
    let again = sefaz.send_event(&ev).await.unwrap();
    assert_eq!(again.c_stat, 573);
    assert!(!again.registered() && proc_evento(&ev, &again).is_err());
    // A wrong protocol number is refused.
    let (doc2, _) = authorized(&sefaz, 202).await;
    assert_eq!(sefaz.send_event(&cancel(&doc2, "135260000000999", NASTY)).await.unwrap().c_stat, 222);
}

#[tokio::test]
async fn cancel_outside_the_24_hour_window_is_220() {
    let mock = start_mock();
    let sefaz = client(&mock);
    let (doc, prot) = authorized(&sefaz, 203).await;
    mock.state.simulator.advance(Duration::hours(24) + Duration::minutes(1));
    let r = sefaz.send_event(&cancel(&doc, &prot.number, "Venda desfeita a pedido do cliente")).await.unwrap();
    assert_eq!(r.c_stat, 220, "{r:?}");
    assert!(r.x_motivo.contains("Prazo de Cancelamento"));
    assert_eq!(sefaz.consult(doc.key()).await.unwrap().c_stat(), 100, "still authorized");
}

#[tokio::test]
async fn corrections_1_to_3_each_registered_valid_and_bounded_to_20() {
    let dir = nfelib_schemas("nfe_evento_cce");
    let mock = start_mock();
    let sefaz = client(&mock);
    let (doc, _) = authorized(&sefaz, 204).await;
    for seq in 1..=3u8 {
        let text = format!("Correção {seq}: endereço \"Rua d'Ávila\" & nº <10> do destinatário");
        let ev = correction(&doc, seq, &text).unwrap();
        assert!(ev.xml().contains(osflow_nfe::event::CCE_CONDITIONS));
        xmllint_in(ev.xml(), &dir, "CCe_v1.00.xsd");
        xmllint_in(&env_evento(&[&ev], u64::from(seq)), &dir, "envCCe_v1.00.xsd");
        xmlsec1_of(ev.xml(), "infEvento");
        let r = sefaz.send_event(&ev).await.unwrap();
        assert_eq!((r.c_stat, ev.seq()), (135, seq), "{r:?}");
        let proc_ = proc_evento(&ev, &r).unwrap();
        xmllint_in(&proc_, &dir, "procCCeNFe_v1.00.xsd");
        xmlsec1_of(&proc_, "infEvento");
        dump(&format!("procEventoNFe-cce-{seq}.xml"), &proc_);
    }
    for bad in [0u8, 21] {
        let e = correction(&doc, bad, "Correção do endereço do destinatário").unwrap_err();
        assert!(matches!(&e, DocumentError::Build(b) if b.field == "infEvento.nSeqEvento"), "{e:?}");
    }
    let e = correction(&doc, 4, "curta").unwrap_err();
    assert!(matches!(&e, DocumentError::Build(b) if b.field == "detEvento.xCorrecao"), "{e:?}");
}

fn void(first: u32, last: u32) -> SignedVoid {
    let input = VoidInput {
        environment: Environment::Homologation,
        uf: Uf::SP,
        year: 2026,
        cnpj: cnpj(),
        serie: 1,
        first,
        last,
        justification: "Numeração pulada: rejeição 225 não reenviada & \"erro\" <sistema>".into(),
    };
    sign_void(&input, a1()).unwrap()
}

#[tokio::test]
async fn a_voided_number_is_never_authorized_and_a_used_one_cannot_be_voided() {
    let schemas = schema_dir();
    let mock = start_mock();
    let sefaz = client(&mock);

    let req = void(300, 302);
    assert_eq!(req.id(), format!("ID3526{CNPJ}55001000000300000000302"));
    xmllint(req.xml(), "inutNFe_v4.00.xsd");
    xmlsec1_of(req.xml(), "infInut");
    verify_document(req.xml(), "inutNFe", "infInut").unwrap();
    let r = sefaz.void_numbers(&req).await.unwrap();
    assert!(r.voided(), "{r:?}");
    let proc_ = proc_inut(&req, &r).unwrap();
    xmllint(&proc_, "procInutNFe_v4.00.xsd");
    xmlsec1_of(&proc_, "infInut");
    dump("procInutNFe.xml", &proc_);
    let _ = schemas;

    // The voided number cannot be authorized.
    let out = sefaz.authorize(&nfe(301)).await.unwrap();
    assert_eq!(out.c_stat(), 206, "{out:?}");
    // The same range again, an overlapping one, one with an authorized number: refused.
    assert_eq!(sefaz.void_numbers(&void(300, 302)).await.unwrap().c_stat, 563);
    assert_eq!(sefaz.void_numbers(&void(302, 305)).await.unwrap().c_stat, 256);
    let (_, _) = authorized(&sefaz, 310).await;
    assert_eq!(sefaz.void_numbers(&void(309, 311)).await.unwrap().c_stat, 241);
    // A bad range is refused before signing.
    let bad = VoidInput {
        environment: Environment::Homologation,
        uf: Uf::SP,
        year: 2026,
        cnpj: cnpj(),
        serie: 1,
        first: 5,
        last: 4,
        justification: "Numeração pulada por falha".into(),
    };
    assert!(matches!(sign_void(&bad, a1()), Err(DocumentError::Build(b)) if b.field == "infInut.nNFFin"));
}

#[tokio::test]
async fn outage_then_svc_with_a_new_key_then_back_to_normal() {
    let mock = start_mock();
    let sefaz = client(&mock);
    assert!(sefaz.status().await.unwrap().in_operation());
    mock.state.simulator.set_outage(true);
    let status = sefaz.status().await.unwrap();
    assert_eq!(status.c_stat, 108);

    let normal = nfe(400);
    let e = sefaz.authorize(&normal).await.unwrap_err();
    assert!(matches!(e, TransportError::Inconclusive { c_stat: 108, .. }), "{e:?}");

    // SVC-AN (SP): tpEmis 6, dhCont, xJust; the access key changes with tpEmis.
    let svc_input = NfeInput {
        n_nf: 400,
        emission: EmissionType::SvcAn,
        contingency: Some(Contingency {
            since: brt(2026, 11, 30, 9),
            reason: "SEFAZ SP fora do ar (cStat 108) - emissão em SVC-AN".into(),
        }),
        ..input(2)
    };
    let svc = signed(&svc_input);
    assert_ne!(svc.key(), normal.key());
    assert_eq!(svc.key().tp_emis(), "6");
    check_nfe(svc.xml());
    let Outcome::Authorized(p) = sefaz.authorize(&svc).await.unwrap() else { panic!("SVC did not authorize") };
    let proc_ = osflow_nfe::wrap::nfe_proc(&svc, &p).unwrap();
    xmllint(&proc_, "procNFe_v4.00.xsd");
    xmlsec1(&proc_);
    dump("procNFe-svc-an.xml", &proc_);

    // During the outage the old key cannot be consulted (108); the SVC one can.
    let e = sefaz.consult(normal.key()).await.unwrap_err();
    assert!(matches!(e, TransportError::Inconclusive { c_stat: 108, .. }), "{e:?}");
    assert_eq!(sefaz.consult(svc.key()).await.unwrap().c_stat(), 100);

    mock.state.simulator.set_outage(false);
    assert!(sefaz.status().await.unwrap().in_operation());
    // Back to normal: the first key never reached SEFAZ (217), the SVC one is authorized.
    assert!(sefaz.consult(normal.key()).await.unwrap().is_not_found());
    assert_eq!(sefaz.consult(svc.key()).await.unwrap().c_stat(), 100);
    // The normal key of the same number is now a duplicate with another key (539): one NF-e per number.
    let out = sefaz.authorize(&normal).await.unwrap();
    assert_eq!(out.c_stat(), 539, "{out:?}");
    // The SVC is off again: a new contingency NF-e is refused (114); so is the SVC of another UF's group.
    let late = signed(&NfeInput { n_nf: 401, ..svc_input.clone() });
    assert_eq!(sefaz.authorize(&late).await.unwrap().c_stat(), 114);
    mock.state.simulator.set_outage(true);
    let wrong = signed(&NfeInput { n_nf: 402, emission: EmissionType::SvcRs, ..svc_input.clone() });
    assert_eq!(sefaz.authorize(&wrong).await.unwrap().c_stat(), 114, "SP is served by SVC-AN, not SVC-RS");
    mock.state.simulator.set_outage(false);
    let _ = dec!(0);
}
