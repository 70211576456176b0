//! The DynamoDB Stream → SQS relay against the emulator (moto, over real HTTP): the stream records are built from
//! items the real store wrote (steps through `osflow-store-dynamodb`, event items read back raw with the SDK and
//! wrapped as NEW_IMAGE, sent through the Lambda event's JSON form), and the messages are received back from SQS.
//!
//! These tests need `AWS_ENDPOINT_URL` (set by `scripts/test`); without it, or with nothing listening there, they
//! fail saying so. They never pass silently.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord, StreamViewType};
use aws_lambda_events::streams::DynamoDbEventResponse;
use aws_sdk_dynamodb::types::AttributeValue;
use osflow_bus::{
    CreatedQueue, Envelope, Queue, QueueUrls, RetryPolicy, SqsClient, SqsPublisher, create_queues, queues, route,
};
use osflow_domain::values::TenantId;
use osflow_domain::{Event, Order};
use osflow_store_dynamodb::serde_dynamo;
use osflow_store_dynamodb::{DynamoStore, create_table, keys, table, table_definition};
use osflow_testkit::Walk;
use osflow_testkit::conformance::{at, tenant};
use osflow_testkit::emulator::{RUN_SCRIPTS_TEST, require_endpoint, unique_name};
use osflow_testkit::sqs;
use osflow_testkit::walk::Walked;
use outbox_relay::relay;

// -------------------------------------------------------------------------------------------------------------
// Plumbing
// -------------------------------------------------------------------------------------------------------------

fn unique(kind: &str) -> String {
    unique_name(&format!("relay-{kind}"))
}

/// A fresh table and the bus's queues on the emulator.
struct Fixture {
    store: DynamoStore,
    sqs: SqsClient,
    prefix: String,
    queues: BTreeMap<Queue, CreatedQueue>,
}

async fn fixture() -> Fixture {
    let endpoint = require_endpoint();
    let config = osflow_bus::load_sdk_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&config);
    let table = unique("table");
    if let Err(e) = create_table(&dynamo, &table_definition(&table), Duration::from_secs(30)).await {
        panic!("cannot create table {table} on {endpoint} ({e}); {RUN_SCRIPTS_TEST}");
    }
    let sqs = SqsClient::new(&config);
    let prefix = format!("{}-", unique("q"));
    let created = create_queues(&sqs, &prefix, queues())
        .await
        .unwrap_or_else(|e| panic!("cannot create queues on {endpoint} ({e}); {RUN_SCRIPTS_TEST}"));
    Fixture {
        store: DynamoStore::new(dynamo, table),
        sqs,
        prefix,
        queues: created.into_iter().map(|c| (c.spec.queue, c)).collect(),
    }
}

impl Fixture {
    /// A publisher that finds the queues by name under the fixture's prefix.
    fn publisher(&self) -> SqsPublisher {
        SqsPublisher::new(self.sqs.clone(), QueueUrls::new(self.sqs.clone(), self.prefix.clone(), []))
    }

    /// The items of an order's partition, raw, as the SDK reads them (events in version order, then the order).
    async fn raw_items(&self, order: &Order) -> Vec<std::collections::HashMap<String, AttributeValue>> {
        let out = self
            .store
            .client()
            .query()
            .table_name(self.store.table())
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", table::PK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::order_pk(&order.tenant, &order.id)))
            .consistent_read(true)
            .send()
            .await
            .expect("Query");
        out.items.unwrap_or_default()
    }

    /// Receives until `expected` messages came or the queue stays empty for a few polls, then checks that nothing
    /// more came.
    async fn receive(&self, queue: Queue, expected: usize) -> Vec<Envelope> {
        let url = &self.queues[&queue].url;
        let got = sqs::receive(&self.sqs, url, expected).await;
        sqs::assert_empty(&self.sqs, url).await;
        got.iter().map(|m| Envelope::from_json(m.body().unwrap()).expect("an envelope")).collect()
    }
}

/// An order walked through the whole default flow (with an internal note), written through the store.
async fn write_walk(store: &DynamoStore, t: &TenantId, number: u64) -> (Order, Vec<Event>) {
    let commands = Walk::with_internal_note_paid_in_two().commands();
    let walked = Walked::new(t, number, commands, at(0), |i| at(i as i64 + 1));
    walked.write(store).await;
    (walked.order().clone(), walked.events())
}

/// A stream record of `item` (NEW_IMAGE view).
fn record(n: u64, event_name: &str, item: Option<&std::collections::HashMap<String, AttributeValue>>) -> EventRecord {
    let mut record = EventRecord::default();
    record.event_id = format!("rec-{n}");
    record.event_name = event_name.to_owned();
    record.event_source = Some("aws:dynamodb".into());
    record.aws_region = "us-east-1".into();
    record.change.sequence_number = Some(format!("{:021}", 1_000 + n));
    record.change.stream_view_type = Some(StreamViewType::NewImage);
    if let Some(item) = item {
        let keys: std::collections::HashMap<String, AttributeValue> =
            [table::PK, table::SK].iter().map(|k| ((*k).to_owned(), item[*k].clone())).collect();
        record.change.keys = serde_dynamo::Item::from(keys);
        record.change.new_image = serde_dynamo::Item::from(item.clone());
    }
    record
}

/// The Lambda event of `records`, through its JSON form (what the runtime deserializes).
fn stream_event(records: Vec<EventRecord>) -> StreamEvent {
    let mut event = StreamEvent::default();
    event.records = records;
    let json = serde_json::to_string(&event).unwrap();
    assert!(json.contains("\"NewImage\""), "{json}");
    serde_json::from_str(&json).unwrap()
}

fn event_records(items: &[std::collections::HashMap<String, AttributeValue>]) -> Vec<EventRecord> {
    let events = items.iter().filter(|i| matches!(&i[table::SK], AttributeValue::S(sk) if sk.starts_with("EVT#")));
    events.enumerate().map(|(n, item)| record(n as u64, "INSERT", Some(item))).collect()
}

fn failures(response: &DynamoDbEventResponse) -> Vec<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone().unwrap_or_default()).collect()
}

fn envelopes(order: &Order, events: &[Event]) -> Vec<Envelope> {
    events.iter().map(|e| Envelope::from_event(&order.tenant, &order.id, e)).collect()
}

fn for_queue(envelopes: &[Envelope], queue: Queue) -> Vec<Envelope> {
    envelopes.iter().filter(|e| route(e).contains(&queue)).cloned().collect()
}

fn sorted_ids(envelopes: &[Envelope]) -> Vec<String> {
    let mut ids: Vec<String> = envelopes.iter().map(|e| e.event_id.clone()).collect();
    ids.sort();
    ids
}

// -------------------------------------------------------------------------------------------------------------
// Tests
// -------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn event_items_reach_the_queues_and_other_items_are_ignored() {
    let f = fixture().await;
    let (order, events) = write_walk(&f.store, &tenant("acme"), 1).await;
    let items = f.raw_items(&order).await;
    assert_eq!(items.len(), events.len() + 1, "the events and the order item");
    let order_item = items.iter().find(|i| i[table::SK] == AttributeValue::S(keys::ORDER_SK.into())).unwrap();

    // A batch of other changes only (the order item updated, an item deleted): nothing to publish.
    let others = stream_event(vec![record(900, "MODIFY", Some(order_item)), record(901, "REMOVE", None)]);
    assert!(failures(&relay(others, &f.publisher()).await).is_empty());

    // The event items as the stream gives them, with the order item's change and a deletion in between.
    let mut records = event_records(&items);
    assert_eq!(records.len(), events.len());
    records.insert(5, record(902, "MODIFY", Some(order_item)));
    records.insert(9, record(903, "REMOVE", None));
    let response = relay(stream_event(records), &f.publisher()).await;
    assert!(failures(&response).is_empty(), "{response:?}");

    let expected = envelopes(&order, &events);
    for queue in Queue::ALL {
        let want = for_queue(&expected, queue);
        let got = f.receive(queue, want.len()).await;
        // Each message is the envelope of the event the store wrote, whole.
        for envelope in &got {
            assert_eq!(Some(envelope), expected.iter().find(|e| e.event_id == envelope.event_id));
        }
        if queue.is_fifo() {
            assert_eq!(got, want, "FIFO: in stream order");
        }
        if queue == Queue::Invoicing {
            assert_eq!(
                got.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
                ["order.payment_registered", "order.released"]
            );
        } else {
            assert_eq!(sorted_ids(&got), sorted_ids(&want), "queue {queue}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_publish_reports_the_first_record_not_relayed() {
    let f = fixture().await;
    let (order, events) = write_walk(&f.store, &tenant("acme"), 1).await;
    let records = event_records(&f.raw_items(&order).await);
    let expected = envelopes(&order, &events);

    // The invoicing queue's URL names a queue that does not exist; the other two are the fixture's.
    let endpoint = require_endpoint();
    let missing = format!("{}/123456789012/{}missing.fifo", endpoint.trim_end_matches('/'), f.prefix);
    let urls = QueueUrls::new(
        f.sqs.clone(),
        "",
        [
            (Queue::Notifications, f.queues[&Queue::Notifications].url.clone()),
            (Queue::Reports, f.queues[&Queue::Reports].url.clone()),
            (Queue::Invoicing, missing),
        ],
    );
    let publisher = SqsPublisher::new(f.sqs.clone(), urls)
        .with_retry(RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(1) });
    let response = relay(stream_event(records.clone()), &publisher).await;

    // The first event routed to invoicing is the payment that settles the balance: its record is the first one
    // not relayed, and Lambda retries from there.
    let first_invoicing = expected.iter().position(|e| route(e).contains(&Queue::Invoicing)).unwrap();
    assert_eq!(expected[first_invoicing].kind, "order.payment_registered");
    assert_eq!(failures(&response), [records[first_invoicing].change.sequence_number.clone().unwrap()]);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json["batchItemFailures"][0]["itemIdentifier"],
        records[first_invoicing].change.sequence_number.clone().unwrap()
    );

    // The queues that work got every message (those after the failed record will come again: consumers dedupe).
    let reports = f.receive(Queue::Reports, expected.len()).await;
    assert_eq!(sorted_ids(&reports), sorted_ids(&expected));

    // Lambda's retry from the failed record, once the queue works, relays the rest.
    let retry = stream_event(records[first_invoicing..].to_vec());
    assert!(failures(&relay(retry, &f.publisher()).await).is_empty());
    let invoicing = f.receive(Queue::Invoicing, 2).await;
    assert_eq!(invoicing, for_queue(&expected, Queue::Invoicing));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_event_item_fails_from_its_record() {
    let f = fixture().await;
    let (order, events) = write_walk(&f.store, &tenant("acme"), 1).await;
    let mut records = event_records(&f.raw_items(&order).await);
    let expected = envelopes(&order, &events);
    // Record 6's event item lost its `data`.
    let broken = 6;
    records[broken].change.new_image.remove("data");

    let response = relay(stream_event(records.clone()), &f.publisher()).await;
    assert_eq!(failures(&response), [records[broken].change.sequence_number.clone().unwrap()]);
    // The records before it were relayed; the later ones were left for Lambda's retry.
    let reports = f.receive(Queue::Reports, broken).await;
    assert_eq!(sorted_ids(&reports), sorted_ids(&expected[..broken]));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_sqs_refuses_is_parked_in_the_relay_dlq_and_the_rest_goes_on() {
    let f = fixture().await;
    let (order, events) = write_walk(&f.store, &tenant("acme"), 1).await;
    let records = event_records(&f.raw_items(&order).await);
    let expected = envelopes(&order, &events);

    // The relay's DLQ, named as the publisher looks it up (`<prefix>relay-dlq`), and a notifications queue that
    // refuses bodies over 1 KiB (as SQS refuses a body it cannot take: a sender fault, final).
    let dlq_url = f
        .sqs
        .create_queue()
        .queue_name(format!("{}{}", f.prefix, osflow_bus::RELAY_DLQ))
        .send()
        .await
        .expect("CreateQueue relay-dlq")
        .queue_url
        .expect("a URL");
    let notifications = &f.queues[&Queue::Notifications].url;
    f.sqs
        .set_queue_attributes()
        .queue_url(notifications)
        .attributes(aws_sdk_sqs::types::QueueAttributeName::MaximumMessageSize, "1024")
        .send()
        .await
        .expect("SetQueueAttributes");
    let to_notify = for_queue(&expected, Queue::Notifications);
    let (refused, accepted): (Vec<_>, Vec<_>) = to_notify.iter().cloned().partition(|e| e.to_json().len() > 1024);
    assert!(!refused.is_empty() && !accepted.is_empty(), "the walk has small and large notifications");

    let response = relay(stream_event(records), &f.publisher()).await;
    assert!(failures(&response).is_empty(), "a refused message must not stall the stream: {response:?}");

    // Every other message went on; the refused ones wait in the relay's DLQ, named by event and queue.
    assert_eq!(sorted_ids(&f.receive(Queue::Notifications, accepted.len()).await), sorted_ids(&accepted));
    assert_eq!(sorted_ids(&f.receive(Queue::Reports, expected.len()).await), sorted_ids(&expected));
    let mut parked = Vec::new();
    for _ in 0..5 {
        let out = f
            .sqs
            .receive_message()
            .queue_url(&dlq_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages.unwrap_or_default() {
            parked.push(serde_json::from_str::<serde_json::Value>(m.body().unwrap()).expect("a JSON body"));
        }
        if parked.len() >= refused.len() {
            break;
        }
    }
    let mut parked_ids: Vec<String> = parked.iter().map(|p| p["event_id"].as_str().unwrap().to_owned()).collect();
    parked_ids.sort();
    assert_eq!(parked_ids, sorted_ids(&refused));
    for p in &parked {
        assert_eq!(p["queue"], "notifications", "{p}");
        assert_eq!(p["tenant"], "acme", "{p}");
        assert_eq!(p["order_id"], order.id.to_string(), "{p}");
        assert!(p["reason"].as_str().is_some_and(|r| !r.is_empty()), "{p}");
    }
}
