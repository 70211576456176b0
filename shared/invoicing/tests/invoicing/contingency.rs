//! SEFAZ's contingency (SVC-AN for the example emitter in SP) through the invoicer, over the homologation
//! simulator with its outage switch: only proof that the UF's authorizer never received an NF-e moves it to the
//! SVC under a new key; a timeout after sending stays pending until a consult answers; the company returns to
//! normal when the authorizer answers the status service again.

use std::sync::atomic::AtomicBool;

use osflow_app::{InvoiceRecord, SvcAuthorizer};
use osflow_domain::{Change, same_nfe};
use osflow_nfe::{AccessKey, FiscalAuthority, Outcome, TransportError};

use super::*;

/// The keys of the order's NF-e in the order the timeline recorded them (each change of key once).
async fn keys_on_timeline(w: &World, order: &OrderId) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for event in w.app.orders.timeline(&w.tenant, order).await.unwrap() {
        if let Change::InvoiceUpdated { invoice } = &event.change
            && keys.last() != Some(&invoice.key)
        {
            keys.push(invoice.key.clone());
        }
    }
    keys
}

/// The key of the same NF-e issued normally (tpEmis 1, its check digit).
fn normal_key_of(key: &str) -> AccessKey {
    let prefix = format!("{}1{}", &key[..34], &key[35..43]);
    (0..=9).find_map(|dv| AccessKey::parse(&format!("{prefix}{dv}")).ok()).expect("one check digit fits")
}

fn parse(key: &str) -> AccessKey {
    AccessKey::parse(key).unwrap()
}

async fn issue(invoicer: &Invoicer, w: &World, order: &OrderId) -> InvoiceRecord {
    match invoicer.issue(&w.tenant, order).await.expect("issue") {
        Issued::Invoice(r) => *r,
        Issued::NothingToInvoice => panic!("the order has parts"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_moves_the_nfe_to_the_svc_under_a_new_key_and_the_authorizer_back_ends_it() {
    let w = world(Some(simples())).await;
    let sefaz = Counting::new(FirstAnswer::Answered);
    let invoicer = Invoicer::new(w.app.clone(), Arc::new(w.store.clone()), Arc::new(SharedAuthority(sefaz.clone())));
    let parts = || vec![part("P-001", "Fonte 65W \"original\" & <cabo>", "1", "149.90")];

    // SEFAZ SP answers 108 from now on: the first NF-e is re-signed for SVC-AN and authorized there.
    sefaz.inner.set_outage(true);
    let first = w.paid_order(cpf(41), parts()).await;
    let record = issue(&invoicer, &w, &first.id).await;
    assert_eq!(record.state, InvoiceState::Authorized, "{record:?}");
    assert_eq!(record.number, 1);
    assert_eq!(&record.access_key[34..35], "6", "tpEmis 6 in the key: {}", record.access_key);
    let entry = record.contingency.clone().expect("the entry the NF-e is signed with");
    assert_eq!(entry.authorizer, SvcAuthorizer::SvcAn);
    assert!((15..=256).contains(&entry.reason.chars().count()), "{}", entry.reason);
    assert!(entry.reason.contains("cStat 108") && entry.reason.contains("SVC-AN"), "{}", entry.reason);

    // The stored nfeProc: schema, signature, tpEmis/dhCont/xJust.
    let proc = w.proc_xml(&record).await;
    check_proc(&proc);
    assert!(proc.contains(&format!("Id=\"NFe{}\"", record.access_key)));
    assert!(proc.contains("<tpEmis>6</tpEmis>"), "{proc}");
    let dh_cont = osflow_invoicing::contingency::dh_cont(entry.since);
    assert!(proc.contains(&format!("<dhCont>{dh_cont}</dhCont><xJust>")), "{proc}");
    assert!(proc.contains(&format!("<chNFe>{}</chNFe>", record.access_key)));
    let danfe = w.blobs.get(&w.tenant, &osflow_app::danfe_blob_key(&first.id, &record.access_key)).await.unwrap();
    assert!(danfe.is_some_and(|d| d.bytes.starts_with(b"%PDF")), "the DANFE of the SVC NF-e is printed");

    // The key first recorded (tpEmis 1) and the SVC key are the same NF-e: the order shows one, under the new key.
    let keys = keys_on_timeline(&w, &first.id).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(&keys[0][34..35], "1");
    assert!(same_nfe(&keys[0], &keys[1]) && keys[1] == record.access_key);
    let order = w.order(&first.id).await;
    assert_eq!(order.invoices.len(), 1, "{:?}", order.invoices);
    assert_eq!(order.nfe().unwrap().key, record.access_key);
    assert_eq!(order.nfe().unwrap().contingency(), Some("SVC-AN"));
    assert!(order.invoice_authorized());

    // The company is in contingency: stored with its SVC, since and reason.
    let state = w.store.contingency(&w.tenant).await.unwrap().expect("a stored state");
    assert_eq!(state.active.as_ref(), Some(&entry));
    assert_eq!(state.revision, 1);

    // A second NF-e during the outage is keyed for the SVC from the start (one key on its timeline).
    let second = w.paid_order(cpf(42), parts()).await;
    let record2 = issue(&invoicer, &w, &second.id).await;
    assert_eq!((record2.state, record2.number, &record2.access_key[34..35]), (InvoiceState::Authorized, 2, "6"));
    assert_eq!(record2.contingency.as_ref(), Some(&entry), "the same entry: the same dhCont and xJust");
    assert_eq!(keys_on_timeline(&w, &second.id).await, vec![record2.access_key.clone()]);
    check_proc(&w.proc_xml(&record2).await);

    // The first key never reached SEFAZ: 108 while it is down, 217 once it answers.
    let normal1 = normal_key_of(&record.access_key);
    assert_eq!(normal1.as_str(), keys[0]);
    assert!(matches!(sefaz.consult(&normal1).await, Err(TransportError::Inconclusive { c_stat: 108, .. })));

    // SEFAZ SP is back: the next NF-e asks its status (107), the company returns to normal, tpEmis 1.
    sefaz.inner.set_outage(false);
    assert!(sefaz.consult(&normal1).await.unwrap().is_not_found(), "never received under tpEmis 1");
    assert!(matches!(sefaz.consult(&parse(&record.access_key)).await.unwrap(), Outcome::Authorized(_)));
    let third = w.paid_order(cpf(43), parts()).await;
    let record3 = issue(&invoicer, &w, &third.id).await;
    assert_eq!((record3.state, record3.number, &record3.access_key[34..35]), (InvoiceState::Authorized, 3, "1"));
    assert_eq!(record3.contingency, None);
    let proc3 = w.proc_xml(&record3).await;
    check_proc(&proc3);
    assert!(proc3.contains("<tpEmis>1</tpEmis>") && !proc3.contains("<dhCont>"));
    let state = w.store.contingency(&w.tenant).await.unwrap().unwrap();
    assert_eq!(state.active, None);
    assert_eq!(state.last.as_ref(), Some(&entry));
    assert!(state.ended_at.is_some());
    assert_eq!(state.revision, 2);

    // Authorized is final: asked again, the SVC NF-e stays the order's one.
    let again = invoicer.issue(&w.tenant, &first.id).await.unwrap();
    assert!(matches!(again, Issued::Invoice(r) if r.access_key == record.access_key), "authorized is final");
    assert_eq!(w.order(&first.id).await.invoices.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_after_sending_stays_pending_and_a_consult_keeps_the_original() {
    let w = world(Some(simples())).await;
    // The NF-e reaches SEFAZ SP and is authorized there, but the answer is lost; then SEFAZ SP goes down.
    let sefaz = Counting::new(FirstAnswer::Lost);
    let invoicer = Invoicer::new(w.app.clone(), Arc::new(w.store.clone()), Arc::new(SharedAuthority(sefaz.clone())));
    let order = w.paid_order(cpf(44), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let err = invoicer.issue(&w.tenant, &order.id).await.unwrap_err();
    assert!(matches!(err, osflow_invoicing::InvoiceError::Transport(TransportError::Timeout { .. })), "{err:?}");
    let pending = w.store.invoices(&w.tenant, &order.id).await.unwrap().remove(0);
    assert_eq!((pending.state, &pending.access_key[34..35]), (InvoiceState::Pending, "1"));

    // During the outage the consult answers 108: no proof either way, so it stays pending under its key.
    sefaz.inner.set_outage(true);
    for _ in 0..2 {
        let err = invoicer.issue(&w.tenant, &order.id).await.unwrap_err();
        assert!(
            matches!(err, osflow_invoicing::InvoiceError::Transport(TransportError::Inconclusive { c_stat: 108, .. })),
            "{err:?}"
        );
    }
    let still = w.store.invoices(&w.tenant, &order.id).await.unwrap().remove(0);
    assert_eq!((still.state, &still.access_key), (InvoiceState::Pending, &pending.access_key));
    assert_eq!(w.store.contingency(&w.tenant).await.unwrap(), None, "a timeout never enters contingency");
    assert_eq!(sefaz.authorizations.load(Ordering::SeqCst), 1, "never sent again while it may be authorized");

    // Back: the consult finds it authorized under the original key, which is kept.
    sefaz.inner.set_outage(false);
    let record = issue(&invoicer, &w, &order.id).await;
    assert_eq!((record.state, &record.access_key), (InvoiceState::Authorized, &pending.access_key));
    assert_eq!(sefaz.authorizations.load(Ordering::SeqCst), 1);
    check_proc(&w.proc_xml(&record).await);
    assert_eq!(keys_on_timeline(&w, &order.id).await, vec![pending.access_key.clone()]);
}

/// SEFAZ SP's address refuses connections (nothing sent), while SVC-AN answers.
struct Unreachable {
    sim: Simulator,
    refused: AtomicBool,
}

impl Unreachable {
    fn refused<T>(&self, tp_emis: &str) -> Option<Result<T, TransportError>> {
        (self.refused.load(Ordering::SeqCst) && tp_emis == "1")
            .then(|| Err(TransportError::Connect("connection refused".into())))
    }
}

#[async_trait]
impl FiscalAuthority for Unreachable {
    async fn authorize(&self, nfe: &osflow_nfe::SignedNfe) -> Result<Outcome, TransportError> {
        if let Some(e) = self.refused(nfe.key().tp_emis()) {
            return e;
        }
        self.sim.authorize(nfe).await
    }
    async fn consult(&self, key: &AccessKey) -> Result<Outcome, TransportError> {
        if let Some(e) = self.refused(key.tp_emis()) {
            return e;
        }
        self.sim.consult(key).await
    }
    async fn status(&self) -> Result<osflow_nfe::ServiceStatus, TransportError> {
        if let Some(e) = self.refused("1") {
            return e;
        }
        self.sim.status().await
    }
    async fn send_event(&self, event: &osflow_nfe::SignedEvent) -> Result<osflow_nfe::EventReceipt, TransportError> {
        self.sim.send_event(event).await
    }
    async fn void_numbers(&self, request: &osflow_nfe::SignedVoid) -> Result<osflow_nfe::VoidReceipt, TransportError> {
        self.sim.void_numbers(request).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_connection_moves_to_the_svc_and_two_orders_enter_once() {
    let w = world(Some(simples())).await;
    let sefaz = Arc::new(Unreachable { sim: Simulator::new(), refused: AtomicBool::new(true) });
    // The SVC is on for SP (the simulator's outage switch), SEFAZ SP unreachable.
    sefaz.sim.set_outage(true);
    let invoicer =
        Arc::new(Invoicer::new(w.app.clone(), Arc::new(w.store.clone()), Arc::new(SharedAuthority(sefaz.clone()))));
    let a = w.paid_order(cpf(45), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let b = w.paid_order(cpf(46), vec![part("P-002", "Bateria", "1", "189.90")]).await;
    let (ra, rb) = tokio::join!(invoicer.issue(&w.tenant, &a.id), invoicer.issue(&w.tenant, &b.id));
    for r in [ra, rb] {
        let Ok(Issued::Invoice(r)) = r else { panic!("{r:?}") };
        assert_eq!((r.state, &r.access_key[34..35]), (InvoiceState::Authorized, "6"), "{r:?}");
        assert!(r.contingency.as_ref().is_some_and(|c| c.reason.contains("não aceitou conexão")), "{r:?}");
        check_proc(&w.proc_xml(&r).await);
    }
    let state = w.store.contingency(&w.tenant).await.unwrap().unwrap();
    assert_eq!(state.revision, 1, "entered once: {state:?}");

    // Reachable and in operation again: back to normal at the next NF-e.
    sefaz.refused.store(false, Ordering::SeqCst);
    sefaz.sim.set_outage(false);
    let c = w.paid_order(cpf(47), vec![part("P-003", "Teclado", "1", "159.90")]).await;
    let record = issue(&invoicer, &w, &c.id).await;
    assert_eq!((record.state, &record.access_key[34..35], record.number), (InvoiceState::Authorized, "1", 3));
    assert_eq!(w.store.contingency(&w.tenant).await.unwrap().unwrap().active, None);
}
