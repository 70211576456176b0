//! The invoicer function's wiring end to end on the emulator (moto: DynamoDB and Secrets Manager over real HTTP):
//! an order paid in full on a fresh table, its company's emitter on the table and A1 certificate (generated, as
//! PKCS#12) in Secrets Manager, the SQS batch of its payment event handed to [`osflow_fn_invoicer::handle`]
//! (the same call the Lambda main makes) → one authorized NF-e record on the table and the order showing it;
//! redelivered three times → still one number, one document sent to the authority.
//!
//! The authority is the homologation simulator of osflow-nfe (SEFAZ itself cannot be reached from tests); the
//! SEFAZ wiring (osflow-invoicing's `SefazAuthorities`) is tested there. The nfeProc goes to an in-memory blob store (S3 is blob-s3's concern).
//!
//! Needs `AWS_ENDPOINT_URL` (set by `scripts/test`); without it, or with nothing listening there, the tests fail
//! saying so.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use osflow_app::{App, BlobStore, Caller, EmitterStore, InvoiceStore, StoreError};
use osflow_bus::{Envelope, event_id, message_group_id};
use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{InvoiceState, Order, Role};
use osflow_invoicing::{EmitterPolicy, Invoicer, SharedAuthority};
use osflow_nfe::simulator::Simulator;
use osflow_store_dynamodb::{
    DynamoEmitterStore, DynamoStore, SecretsReader, aws_sdk_secretsmanager, create_table, load_sdk_config,
    table_definition,
};
use osflow_testkit::conformance::{cpf, items, new_order_id};
use osflow_testkit::emitter::{CERTIFICATE_PASSWORD as PASSWORD, example_certificate as certificate};
use osflow_testkit::emulator::{RUN_SCRIPTS_TEST, require_endpoint, unique_name as unique};
use osflow_testkit::usecases::{opening, paid_in_full};
use osflow_testkit::{EMITTER_CNPJ, MemoryBlobs, Walk, caller, example_emitter};

// ---------------------------------------------------------------------------------------------- fixtures

struct World {
    store: Arc<DynamoStore>,
    app: App,
    blobs: Arc<MemoryBlobs>,
    simulator: Arc<Simulator>,
    invoicer: Invoicer,
    tenant: TenantId,
    caller: Caller,
}

/// A fresh table and secret prefix on the emulator; the company's emitter and certificate stored through
/// [`DynamoEmitterStore`]; the invoicer as `from_env` builds it, with the simulator as the authority.
async fn world() -> World {
    let endpoint = require_endpoint();
    let config = load_sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("osflow-test-invoicer");
    match create_table(&dynamo, &table_definition(&table), Duration::from_secs(30)).await {
        Ok(()) => {}
        Err(StoreError::Unavailable(reason)) => {
            panic!("cannot reach the emulator at {endpoint} ({reason}); {RUN_SCRIPTS_TEST}")
        }
        Err(e) => panic!("cannot create table {table} on {endpoint}: {e}"),
    }
    let store = Arc::new(DynamoStore::new(dynamo, table));
    let emitters = Arc::new(DynamoEmitterStore::new(
        store.as_ref().clone(),
        aws_sdk_secretsmanager::Client::new(&config),
        SecretsReader::new(&config),
        unique("osflow/test"),
    ));
    let blobs = Arc::new(MemoryBlobs::default());
    let app = App::over(store.clone())
        .with_invoicing(Arc::new(EmitterPolicy::new(emitters.clone())))
        .with_blobs(blobs.clone());
    let tenant = TenantId::parse("oficina-teste").unwrap();
    emitters.put_emitter(&tenant, &example_emitter()).await.unwrap();
    emitters.put_certificate(&tenant, &certificate().to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    let simulator = Arc::new(Simulator::new());
    let invoicer = Invoicer::new(app.clone(), emitters, Arc::new(SharedAuthority(simulator.clone())));
    let caller = caller(&tenant, "user-1", &[Role::Representante]);
    World { store, app, blobs, simulator, invoicer, tenant, caller }
}

impl World {
    /// An order with one part and labor, walked to paid in full (card 100.00, then PIX for the rest).
    async fn paid_order(&self) -> Order {
        paid_in_full(&self.app, &self.caller, opening(cpf(7), items()), &Walk::straight()).await
    }

    /// The envelope of the order's last event (the payment that paid it in full), as the relay puts it on the
    /// queue.
    async fn last_envelope(&self, id: &OrderId) -> Envelope {
        let events = self.app.orders.timeline(&self.tenant, id).await.unwrap();
        Envelope::from_event(&self.tenant, id, events.last().expect("events"))
    }
}

/// An SQS batch as Lambda delivers it from a FIFO queue: message ids, bodies, the message group.
fn batch(envelopes: &[(&str, &Envelope)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = envelopes
        .iter()
        .map(|(id, envelope)| {
            let mut record = SqsMessage::default();
            record.message_id = Some((*id).to_owned());
            record.body = Some(envelope.to_json());
            record.attributes = HashMap::from([(
                "MessageGroupId".to_owned(),
                message_group_id(osflow_bus::Queue::Invoicing, envelope),
            )]);
            record
        })
        .collect();
    event
}

// ---------------------------------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread")]
async fn the_payment_event_issues_one_authorized_nfe_on_dynamodb_and_redeliveries_change_nothing() {
    let w = world().await;
    let order = w.paid_order().await;
    let envelope = w.last_envelope(&order.id).await;

    let response = osflow_fn_invoicer::handle(batch(&[("m-1", &envelope)]), &w.invoicer).await;
    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);

    let records = w.store.invoices(&w.tenant, &order.id).await.unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let record = records[0].clone();
    assert_eq!(record.state, InvoiceState::Authorized, "{record:?}");
    assert_eq!((record.number, record.numbering.cnpj.as_str(), record.numbering.serie), (1, EMITTER_CNPJ, 1));
    assert_eq!(record.cstat, Some(100));
    assert!(record.protocol.is_some());
    let xml_ref = record.xml_ref.clone().expect("the nfeProc is stored");
    let invoice = w.app.orders.get(&w.tenant, &order.id).await.unwrap().unwrap().nfe().cloned().expect("on the order");
    assert_eq!(
        (invoice.state, invoice.number, invoice.key.as_str()),
        (InvoiceState::Authorized, 1, &*record.access_key)
    );
    let events_after_first = w.app.orders.timeline(&w.tenant, &order.id).await.unwrap().len();
    assert_eq!(w.simulator.authorization_requests(), 1);
    let danfe = osflow_app::danfe_blob_key(&order.id, &record.access_key);

    // Three redeliveries of the same message (SQS at-least-once), one in a batch of its own each.
    for attempt in 2..=4 {
        let response = osflow_fn_invoicer::handle(batch(&[(&format!("m-1-{attempt}"), &envelope)]), &w.invoicer).await;
        assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    }
    assert_eq!(w.store.invoices(&w.tenant, &order.id).await.unwrap(), vec![record], "one number, one record");
    assert_eq!(w.simulator.authorization_requests(), 1, "nothing sent again");
    assert_eq!(w.app.orders.timeline(&w.tenant, &order.id).await.unwrap().len(), events_after_first);
    assert_eq!(w.blobs.len(), 2, "one stored nfeProc and its DANFE");
    assert!(w.blobs.get(&w.tenant, &xml_ref).await.unwrap().is_some());
    let pdf = w.blobs.get(&w.tenant, &danfe).await.unwrap().expect("the DANFE beside the nfeProc");
    assert!(pdf.bytes.starts_with(b"%PDF-"), "a PDF");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_order_is_acknowledged_and_an_unreadable_message_fails_alone() {
    let w = world().await;
    let order = w.paid_order().await;
    // A message of an unknown order is acknowledged (the order is gone: a retry cannot change that); a body that
    // is no envelope fails alone (another message group). Nothing is issued.
    let mut unknown = w.last_envelope(&order.id).await;
    unknown.order_id = new_order_id();
    unknown.event_id = event_id(&unknown.order_id, unknown.version);
    let mut event = batch(&[("unknown", &unknown)]);
    let mut broken = SqsMessage::default();
    broken.message_id = Some("broken".into());
    broken.body = Some("{\"schema\": 1".into());
    broken.attributes = HashMap::from([("MessageGroupId".to_owned(), "another-tenant".to_owned())]);
    event.records.push(broken);
    let response = osflow_fn_invoicer::handle(event, &w.invoicer).await;
    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["broken"]);
    assert!(w.store.invoices(&w.tenant, &order.id).await.unwrap().is_empty());
    assert_eq!(w.simulator.authorization_requests(), 0);
}

// ---------------------------------------------------------------------------------------------- NFS-e

/// [`world`] with the municipal part and the NFS-e invoicer on the same consumer, as `from_env` wires it when
/// Sefin's trust roots are set (the Sefin simulator as the authority).
async fn nfse_world() -> (World, Arc<osflow_nfse::simulator::Simulator>, Arc<osflow_invoicing::NfseInvoicer>) {
    let mut w = world().await;
    let config = load_sdk_config().await;
    let emitters = Arc::new(DynamoEmitterStore::new(
        w.store.as_ref().clone(),
        aws_sdk_secretsmanager::Client::new(&config),
        SecretsReader::new(&config),
        unique("osflow/test-nfse"),
    ));
    emitters.put_emitter(&w.tenant, &osflow_testkit::example_nfse_emitter()).await.unwrap();
    emitters.put_certificate(&w.tenant, &certificate().to_pkcs12(PASSWORD).unwrap(), PASSWORD).await.unwrap();
    w.app = w.app.clone().with_invoicing(Arc::new(EmitterPolicy::new(emitters.clone())));
    let sefin = Arc::new(osflow_nfse::simulator::Simulator::new());
    let nfse = Arc::new(osflow_invoicing::NfseInvoicer::new(
        w.app.clone(),
        emitters.clone(),
        Arc::new(osflow_invoicing::SharedNfseAuthority(sefin.clone())),
    ));
    w.invoicer =
        Invoicer::new(w.app.clone(), emitters, Arc::new(SharedAuthority(w.simulator.clone()))).with_nfse(nfse.clone());
    (w, sefin, nfse)
}

/// An OS with parts and labor on DynamoDB: its payment message delivered three times → one NF-e and one NFS-e (DPS
/// number 1, one DPS sent), the release refused before and allowed after; then 20 OS issued at once → DPS 2..21,
/// distinct, no gap.
#[tokio::test(flavor = "multi_thread")]
async fn parts_and_labor_get_one_nfe_and_one_nfse_on_dynamodb_whatever_the_redeliveries() {
    let (w, sefin, nfse) = nfse_world().await;
    let order = w.paid_order().await;
    // Paid, not invoiced yet: the release waits for both documents.
    let render = |_: &Order, _: &osflow_domain::Flow| osflow_app::Rendered { status: 200, body: String::new() };
    let release = || w.app.step(&w.caller, &order.id, osflow_domain::Command::Release, None, None, &render);
    assert!(release().await.is_err(), "the release waits for the documents");
    let envelope = w.last_envelope(&order.id).await;
    for attempt in 1..=3 {
        let response = osflow_fn_invoicer::handle(batch(&[(&format!("m-{attempt}"), &envelope)]), &w.invoicer).await;
        assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    }
    let records = w.store.invoices(&w.tenant, &order.id).await.unwrap();
    assert_eq!(records.len(), 2, "one NF-e and one DPS: {records:?}");
    let dps: Vec<_> = records.iter().filter(|r| !r.numbering.document.is_nfe()).collect();
    assert_eq!((dps.len(), dps[0].number, dps[0].state), (1, 1, InvoiceState::Authorized), "{records:?}");
    assert_eq!(sefin.issued_count(), 1, "one NFS-e");
    assert_eq!(w.simulator.authorization_requests(), 1, "one NF-e sent");
    let shown = w.app.orders.get(&w.tenant, &order.id).await.unwrap().unwrap();
    assert_eq!(shown.invoices.len(), 2, "{:?}", shown.invoices);
    assert!(shown.invoices.iter().all(|d| d.state == InvoiceState::Authorized), "{:?}", shown.invoices);
    let released = match release().await.expect("released") {
        osflow_app::Reply::Fresh(s) => s.order,
        osflow_app::Reply::Replayed(_) => unreachable!("no idempotency key was sent"),
    };
    assert_eq!(released.status.as_str(), "liberada");

    // Twenty more, issued at once: each its own DPS number, the sequence without a gap.
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(w.paid_order().await.id);
    }
    let tasks: Vec<_> = ids
        .iter()
        .map(|id| {
            let (nfse, tenant, id) = (nfse.clone(), w.tenant.clone(), *id);
            tokio::spawn(async move { nfse.issue(&tenant, &id).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("issued");
    }
    let mut numbers = Vec::new();
    for id in &ids {
        let records = w.store.invoices(&w.tenant, id).await.unwrap();
        let dps: Vec<_> = records.iter().filter(|r| !r.numbering.document.is_nfe()).collect();
        assert_eq!(dps.len(), 1, "{records:?}");
        assert_eq!(dps[0].state, InvoiceState::Authorized);
        numbers.push(dps[0].number);
    }
    numbers.sort();
    assert_eq!(numbers, (2..=21).collect::<Vec<u64>>());
    assert_eq!(sefin.issued_count(), 21);
}
