//! The inutilização of numbers given up, through the invoicer over the homologation simulator: the gaps listed,
//! a range voided once (its inutNFe and procInutNFe checked by xmllint and xmlsec1), the number never given
//! again, SEFAZ consulted before anything is voided.

use osflow_app::{GapReason, NfeEventError, VoidState};

use super::*;

const JUSTIFICATION: &str = "NF-e rejeitada: \"dhEmi\" & série <1> d'água, emissão refeita";

fn invoicer(w: &World, authority: Arc<Counting>) -> Arc<Invoicer> {
    Arc::new(Invoicer::new(w.app.clone(), Arc::new(w.store.clone()), Arc::new(SharedAuthority(authority))))
}

/// An order whose NF-e SEFAZ rejected (the certificate uploaded was another company's: 213).
async fn rejected_order(w: &World, invoicer: &Invoicer, n: u32) -> (Order, osflow_app::InvoiceRecord) {
    let other = Certificate::generate_for_homologation(&Cnpj::parse("11222333000181").unwrap(), "OUTRA LTDA", 30)
        .expect("another certificate");
    w.store.put_certificate(&w.tenant, &other.to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    let order = w.paid_order(cpf(n), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let Issued::Invoice(rejected) = invoicer.issue(&w.tenant, &order.id).await.unwrap() else { panic!("parts") };
    assert_eq!((rejected.state, rejected.cstat), (InvoiceState::Rejected, Some(213)));
    w.store.put_certificate(&w.tenant, &certificate().to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    (order, *rejected)
}

async fn authorized_order(w: &World, invoicer: &Invoicer, n: u32) -> osflow_app::InvoiceRecord {
    let order = w.paid_order(cpf(n), vec![part("P-002", "Cabo", "1", "120.00")]).await;
    let Issued::Invoice(record) = invoicer.issue(&w.tenant, &order.id).await.unwrap() else { panic!("parts") };
    assert_eq!(record.state, InvoiceState::Authorized);
    *record
}

fn inut_schema(xsd: &str) -> PathBuf {
    schema_dir().join(xsd)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_number_is_voided_once_and_never_given_again() {
    let w = world(Some(simples())).await;
    let authority = Counting::new(FirstAnswer::Answered);
    let invoicer = invoicer(&w, authority.clone());
    let (order, rejected) = rejected_order(&w, &invoicer, 21).await;
    let other = authorized_order(&w, &invoicer, 22).await;
    assert_eq!((rejected.number, other.number), (1, 2));

    // The rejected number is a gap; the authorized one is not.
    let gaps = invoicer.gaps(&w.tenant, None).await.unwrap();
    assert_eq!(gaps.gaps.len(), 1, "{gaps:?}");
    let gap = &gaps.gaps[0];
    assert_eq!((gap.number, gap.order_id, gap.reason), (1, order.id, GapReason::Rejected));
    assert_eq!(gap.invoice.as_ref().map(|r| r.access_key.as_str()), Some(rejected.access_key.as_str()));

    // An authorized number, a range beyond what was numbered: refused, nothing sent.
    for (first, last) in [(2, 2), (1, 2), (1, 3), (3, 3)] {
        match invoicer.void_range(&w.tenant, None, first, last, JUSTIFICATION).await {
            Err(NfeEventError::Refused { c_stat: None, message }) => assert!(message.contains("NF-e nº"), "{message}"),
            other => panic!("{first}–{last} is not a range of gaps: {other:?}"),
        }
    }
    assert_eq!(authority.voids.load(Ordering::SeqCst), 0);

    let void = invoicer.void_range(&w.tenant, None, 1, 1, JUSTIFICATION).await.expect("void");
    assert_eq!((void.state, void.cstat, void.first, void.last), (VoidState::Voided, Some(102), 1, 1));
    assert!(void.protocol.is_some());
    assert_eq!(authority.consults.load(Ordering::SeqCst), 1, "the rejected NF-e was consulted first");
    // The request and the proc, as SEFAZ's schemas and xmlsec1 read them.
    check_signed(&void.request_xml, &inut_schema("inutNFe_v4.00.xsd"), "infInut");
    let proc_ = w.blobs.get(&w.tenant, void.xml_ref.as_deref().unwrap()).await.unwrap().expect("procInutNFe");
    let proc_ = String::from_utf8(proc_.bytes).unwrap();
    check_signed(&proc_, &inut_schema("procInutNFe_v4.00.xsd"), "infInut");
    assert!(proc_.contains("<cStat>102</cStat>"), "{proc_}");
    assert!(
        proc_.contains("&quot;dhEmi&quot; &amp; série &lt;1&gt; d'água")
            || proc_.contains("\"dhEmi\" &amp; série &lt;1&gt; d'água")
    );

    // Delivered again, three times, and three at once: the same inutilização, one request at SEFAZ.
    for _ in 0..3 {
        assert_eq!(invoicer.void_range(&w.tenant, None, 1, 1, JUSTIFICATION).await.unwrap(), void);
    }
    assert_eq!(authority.voids.load(Ordering::SeqCst), 1);

    // The order shows its NF-e voided; the sequence has no gap left and lists the inutilização.
    let shown = w.order(&order.id).await.nfe().cloned().unwrap();
    assert_eq!((shown.state, shown.number), (InvoiceState::Voided, 1));
    let gaps = invoicer.gaps(&w.tenant, None).await.unwrap();
    assert!(gaps.gaps.is_empty(), "{gaps:?}");
    assert_eq!(gaps.voids, vec![void.clone()]);

    // The order's retry takes a new number and key; number 1 is never given again.
    let retried = w.step(&order.id, Command::RetryInvoice { key: None }).await.expect("a voided NF-e is retried");
    assert_eq!(retried.nfe().unwrap().state, InvoiceState::Voided, "the voided one stays voided");
    let Issued::Invoice(again) = invoicer.issue(&w.tenant, &order.id).await.unwrap() else { panic!("parts") };
    assert_eq!((again.state, again.number), (InvoiceState::Authorized, 3));
    assert_ne!(again.access_key, rejected.access_key);
    check_proc(&w.proc_xml(&again).await);
    let next = authorized_order(&w, &invoicer, 23).await;
    assert_eq!(next.number, 4);
    let order = w.order(&order.id).await;
    assert_eq!(order.nfe().map(|i| (i.state, i.number)), Some((InvoiceState::Authorized, 3)));
    w.step(&order.id, Command::Release).await.expect("the new NF-e releases the order");
    let records = w.store.invoices(&w.tenant, &order.id).await.unwrap();
    assert_eq!(
        records.iter().map(|r| (r.number, r.state)).collect::<Vec<_>>(),
        vec![(1, InvoiceState::Voided), (3, InvoiceState::Authorized)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_range_voided_three_times_at_once_is_one_inutilizacao() {
    let w = world(Some(simples())).await;
    let authority = Counting::new(FirstAnswer::Answered);
    let invoicer = invoicer(&w, authority.clone());
    rejected_order(&w, &invoicer, 24).await;
    rejected_order(&w, &invoicer, 25).await;
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let (invoicer, tenant) = (invoicer.clone(), w.tenant.clone());
            tokio::spawn(async move { invoicer.void_range(&tenant, None, 1, 2, JUSTIFICATION).await })
        })
        .collect();
    let mut done = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(v) => done.push(v),
            Err(NfeEventError::Refused { c_stat: None, message }) => {
                assert!(message.contains("em andamento"), "{message}")
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(authority.voids.load(Ordering::SeqCst), 1, "one request reached SEFAZ");
    assert!(!done.is_empty());
    let void = invoicer.void_range(&w.tenant, None, 1, 2, JUSTIFICATION).await.unwrap();
    assert!(done.iter().all(|d| *d == void));
    assert_eq!((void.state, void.first, void.last), (VoidState::Voided, 1, 2));
    assert_eq!(authority.voids.load(Ordering::SeqCst), 1);
    assert!(invoicer.gaps(&w.tenant, None).await.unwrap().gaps.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_number_of_a_cancelled_order_is_a_gap_unless_sefaz_holds_its_nfe() {
    let w = world(Some(simples())).await;
    // Number 1: claimed, then the process stopped before anything was built or sent; the order was cancelled.
    let authority = Counting::new(FirstAnswer::Lost);
    let invoicer = invoicer(&w, authority.clone());
    let crashed = w.paid_order(cpf(26), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let numbering = osflow_app::NumberingKey::nfe(EMITTER_CNPJ, 1).in_environment(FiscalEnvironment::Homologation);
    assert_eq!(w.store.claim_number(&w.tenant, &numbering, &crashed.id).await.unwrap(), 1);
    // Number 2: sent, SEFAZ authorized it, the answer was lost; the order was cancelled while it showed pending.
    let lost = w.paid_order(cpf(27), vec![part("P-002", "Cabo", "1", "120.00")]).await;
    invoicer.issue(&w.tenant, &lost.id).await.expect_err("the answer was lost");
    for id in [&crashed.id, &lost.id] {
        let refund = osflow_domain::RefundInput {
            method: osflow_domain::PaymentMethod::Pix,
            amount: w.order(id).await.amount_kept(),
            reference: None,
        };
        w.step(id, Command::Cancel { reason: "Cliente desistiu".into(), refund: Some(refund) }).await.expect("cancel");
    }
    let gaps = invoicer.gaps(&w.tenant, None).await.unwrap();
    assert_eq!(
        gaps.gaps.iter().map(|g| (g.number, g.reason, g.invoice.is_some())).collect::<Vec<_>>(),
        vec![(1, GapReason::OrderCancelled, false), (2, GapReason::OrderCancelled, true)]
    );

    // Consulted before voiding: SEFAZ holds number 2 authorized, so the range is refused and nothing is voided.
    match invoicer.void_range(&w.tenant, None, 1, 2, JUSTIFICATION).await {
        Err(NfeEventError::Refused { c_stat: Some(100), message }) => assert!(message.contains("nº 2"), "{message}"),
        other => panic!("SEFAZ has NF-e 2: {other:?}"),
    }
    assert_eq!(authority.voids.load(Ordering::SeqCst), 0);
    // Number 1 alone: nothing was built under it, nothing to consult.
    let consults = authority.consults.load(Ordering::SeqCst);
    let void = invoicer.void_range(&w.tenant, None, 1, 1, "Emissão interrompida antes do envio").await.unwrap();
    assert_eq!(void.state, VoidState::Voided);
    assert_eq!(authority.consults.load(Ordering::SeqCst), consults);
    let gaps = invoicer.gaps(&w.tenant, None).await.unwrap();
    assert_eq!(gaps.gaps.iter().map(|g| g.number).collect::<Vec<_>>(), vec![2]);
}
