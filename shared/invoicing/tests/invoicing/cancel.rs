//! Cancelling an authorized NF-e (event 110111) through the invoicer, over the homologation simulator.

use std::sync::atomic::AtomicI64;

use chrono::{DateTime, Utc};
use osflow_app::Clock;
use osflow_invoicing::{CancelError, cancel_blob_key};

use super::*;

/// The real time moved by a settable offset.
#[derive(Default)]
struct MovableClock(AtomicI64);

impl Clock for MovableClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::seconds(self.0.load(Ordering::SeqCst))
    }
}

fn event_schema(xsd: &str) -> PathBuf {
    let nfelib = schema_dir().ancestors().nth(3).unwrap().to_path_buf();
    nfelib.join("nfe_evento_cancel").join("schemas").join("v1_0").join(xsd)
}

const JUSTIFICATION: &str = "Cliente devolveu a peça: \"defeito\" & troca <garantia> d'água";

async fn authorized(w: &World, clock: Arc<MovableClock>) -> (Invoicer, Arc<Counting>, Order, InvoiceRecord) {
    let authority = Counting::new(FirstAnswer::Answered);
    let app = w.app.clone().with_clock(clock);
    let invoicer = Invoicer::new(app, Arc::new(w.store.clone()), Arc::new(SharedAuthority(authority.clone())));
    let order = w.paid_order(cpf(16), vec![part("P-001", "Fonte 65W", "1", "149.90")]).await;
    let Issued::Invoice(record) = invoicer.issue(&w.tenant, &order.id).await.unwrap() else { panic!("parts") };
    assert_eq!(record.state, InvoiceState::Authorized);
    (invoicer, authority, order, *record)
}

use osflow_app::InvoiceRecord;

#[tokio::test(flavor = "multi_thread")]
async fn cancel_within_the_window_registers_one_event_stored_and_shown() {
    let w = world(Some(simples())).await;
    let clock = Arc::new(MovableClock::default());
    let (invoicer, authority, order, record) = authorized(&w, clock.clone()).await;
    clock.0.store(23 * 3600, Ordering::SeqCst);

    // Delivered three times: one event at SEFAZ, the same cancelled record.
    let mut results = Vec::new();
    for _ in 0..3 {
        results.push(invoicer.cancel(&w.tenant, &order.id, &record.access_key, JUSTIFICATION).await.unwrap());
    }
    assert_eq!(authority.events.load(Ordering::SeqCst), 1, "one event");
    assert!(results.iter().all(|r| r == &results[0]));
    let cancelled = &results[0];
    assert_eq!((cancelled.state, cancelled.cstat), (InvoiceState::Cancelled, Some(135)));
    assert_eq!((cancelled.number, &cancelled.access_key), (record.number, &record.access_key));

    let proc_ = w.blobs.get(&w.tenant, &cancel_blob_key(&order.id, &record.access_key)).await.unwrap().unwrap();
    let proc_ = String::from_utf8(proc_.bytes).unwrap();
    assert!(proc_.contains("<xJust>Cliente devolveu a peça: \"defeito\" &amp; troca &lt;garantia&gt; d'água</xJust>"));
    check_signed(&proc_, &event_schema("procEventoCancNFe_v1.00.xsd"), "infEvento");

    let shown = w.order(&order.id).await.nfe().cloned().unwrap();
    assert_eq!(shown.state, InvoiceState::Cancelled);
    let timeline = w.app.orders.timeline(&w.tenant, &order.id).await.unwrap();
    let records = timeline.iter().filter(|e| format!("{:?}", e.change).contains("Cancelled")).count();
    assert_eq!(records, 1, "the cancellation is on the timeline once");
    // A later delivery of the payment event does not issue it again.
    let Issued::Invoice(again) = invoicer.issue(&w.tenant, &order.id).await.unwrap() else { panic!("parts") };
    assert_eq!(again.state, InvoiceState::Cancelled);
    // A cancelled NF-e is not released.
    assert!(w.step(&order.id, Command::Release).await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_after_24_hours_is_refused_naming_the_window_and_nothing_is_sent() {
    let w = world(Some(simples())).await;
    let clock = Arc::new(MovableClock::default());
    let (invoicer, authority, order, record) = authorized(&w, clock.clone()).await;
    clock.0.store(24 * 3600 + 60, Ordering::SeqCst);
    let err = invoicer.cancel(&w.tenant, &order.id, &record.access_key, JUSTIFICATION).await.unwrap_err();
    assert!(matches!(err, CancelError::WindowClosed { .. }), "{err:?}");
    assert!(err.to_string().contains("prazo de cancelamento de 24 h"), "{err}");
    assert_eq!(authority.events.load(Ordering::SeqCst), 0);
    assert_eq!(w.order(&order.id).await.nfe().cloned().unwrap().state, InvoiceState::Authorized);
    // A short justification is refused naming the field, before anything is sent.
    clock.0.store(0, Ordering::SeqCst);
    let err = invoicer.cancel(&w.tenant, &order.id, &record.access_key, "curta").await.unwrap_err();
    assert!(err.to_string().contains("detEvento.xJust"), "{err}");
    assert_eq!(authority.events.load(Ordering::SeqCst), 0);
}
