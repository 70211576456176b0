//! osflow-bus, one test binary:
//! - the envelope schema, the queue specs and the routing table (pure);
//! - the publisher against the emulator (moto over real HTTP): envelopes land on the right queues, FIFO
//!   deduplication by event_id, failures reported per message; and against a scripted HTTP client, the retry of
//!   only the failed entries and the chunks of 10;
//! - the consumer driver on batches received from the emulator: each record handled, Concurrent vs Ordered,
//!   partial failures, unreadable bodies; a poison message reaching the DLQ after maxReceiveCount receives while
//!   the other records of its batches are processed;
//! - the embedded relay over the real SQLite store: crash between commit and relay, stop/restart mid-way,
//!   at-least-once with dedupe = exactly once in effect, retries and FIFO order.
//!
//! Emulator tests need `AWS_ENDPOINT_URL` (set by `scripts/test`); without it, or with nothing listening there,
//! they fail saying so. They never pass silently.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use osflow_app::Outbox;
use osflow_bus::{
    ConsumeError, Consumer, CreatedQueue, Delayed, EmbeddedRelay, Envelope, EnvelopeError, MAX_RECEIVE_COUNT,
    MAX_VISIBILITY, Mode, PublishError, Queue, QueueSpec, QueueUrls, RelayOptions, RetryPolicy, SCHEMA_VERSION,
    SqsClient, SqsEvent, SqsMessage, SqsPublisher, VisibilityBackoff, consume, create_queues, load_sdk_config,
    message_group_id, queues, route,
};
use osflow_domain::values::TenantId;
use osflow_domain::{Change, InvoiceInfo, InvoiceState};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::Walk;
use osflow_testkit::conformance::{at, tenant};
use osflow_testkit::sqs::{assert_empty, lambda_record, receive};
use osflow_testkit::walk::Walked;

// =============================================================================================================
// Fixtures
// =============================================================================================================

/// An order walked through the whole default flow, with customer-visible and internal notes, paid in two parts:
/// the order after opening, then each step's expected version, resulting order and events.
fn walk(t: &TenantId, number: u64) -> Walked {
    let commands = Walk::with_internal_note_paid_in_two().commands();
    Walked::new(t, number, commands, at(0), |i| at(i as i64 + 1))
}

/// The walk's events as the relay puts them on the queues.
fn envelopes_of(w: &Walked) -> Vec<Envelope> {
    let o = &w.opened_order;
    w.events().iter().map(|e| Envelope::from_event(&o.tenant, &o.id, e)).collect()
}

/// Every (queue, envelope) the routing gives.
fn routed(envelopes: &[Envelope]) -> Vec<(Queue, Envelope)> {
    envelopes.iter().flat_map(|e| route(e).into_iter().map(|q| (q, e.clone()))).collect()
}

fn ids_for(envelopes: &[Envelope], queue: Queue) -> Vec<String> {
    envelopes.iter().filter(|e| route(e).contains(&queue)).map(|e| e.event_id.clone()).collect()
}

// =============================================================================================================
// Emulator plumbing
// =============================================================================================================

const RUN_SCRIPTS_TEST: &str = "these tests need the SQS emulator: run `scripts/test` (or `scripts/emulator start` \
                                and export AWS_ENDPOINT_URL=http://127.0.0.1:45660, AWS_REGION, AWS_ACCESS_KEY_ID \
                                and AWS_SECRET_ACCESS_KEY as scripts/test does)";

fn require_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!("AWS_ENDPOINT_URL is not set; {RUN_SCRIPTS_TEST}"),
    }
}

async fn emulator_client() -> SqsClient {
    require_endpoint();
    SqsClient::new(&load_sdk_config().await)
}

/// A prefix no other test (or run, or engineer sharing the emulator) uses.
fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("bus-{}-{nanos}-{}-", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The bus's queues (from `specs`) under a fresh prefix; a connection failure fails with [`RUN_SCRIPTS_TEST`].
async fn fresh_queues(client: &SqsClient, specs: &[QueueSpec]) -> (String, BTreeMap<Queue, CreatedQueue>) {
    let endpoint = require_endpoint();
    let prefix = unique_prefix();
    match create_queues(client, &prefix, specs).await {
        Ok(created) => (prefix, created.into_iter().map(|c| (c.spec.queue, c)).collect()),
        Err(e) => panic!("cannot create queues on {endpoint} ({e}); {RUN_SCRIPTS_TEST}"),
    }
}

fn envelope_of(message: &Message) -> Envelope {
    Envelope::from_json(message.body().expect("a body")).expect("an envelope")
}

fn sqs_event(records: Vec<SqsMessage>) -> SqsEvent {
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

fn failures(response: &osflow_bus::SqsBatchResponse) -> BTreeSet<String> {
    response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect()
}

// =============================================================================================================
// Envelope, specs, routing
// =============================================================================================================

#[test]
fn envelope_is_versioned_json() {
    let t = tenant("acme");
    let w = walk(&t, 1);
    let envelope = &envelopes_of(&w)[0];
    assert_eq!(envelope.schema, SCHEMA_VERSION);
    assert_eq!(envelope.event_id, format!("{}:1", w.opened_order.id));
    assert_eq!(envelope.kind, "order.opened");
    assert_eq!(envelope.occurred_at, w.opened.at);

    let json: serde_json::Value = serde_json::from_str(&envelope.to_json()).unwrap();
    let mut keys: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "event_id", "occurred_at", "order_id", "schema", "tenant", "type", "version"]);
    assert_eq!(json["type"], "order.opened");
    assert_eq!(json["tenant"], "acme");
    assert_eq!(Envelope::from_json(&envelope.to_json()).unwrap(), *envelope);

    let mut newer = json.clone();
    newer["schema"] = 2.into();
    assert_eq!(Envelope::from_json(&newer.to_string()), Err(EnvelopeError::UnsupportedSchema { found: 2 }));
    assert!(matches!(Envelope::from_json("not json"), Err(EnvelopeError::Malformed(_))));
    let mut wrong_id = json.clone();
    wrong_id["event_id"] = "someone-else:1".into();
    assert!(matches!(Envelope::from_json(&wrong_id.to_string()), Err(EnvelopeError::Malformed(_))));
}

#[test]
fn queue_specs_are_the_designed_ones() {
    let names: Vec<(&str, bool, &str)> = queues().iter().map(|s| (s.name, s.fifo, s.dlq)).collect();
    assert_eq!(
        names,
        [
            ("notifications", false, "notifications-dlq"),
            ("reports.fifo", true, "reports-dlq.fifo"),
            ("invoicing.fifo", true, "invoicing-dlq.fifo")
        ]
    );
    for (spec, queue) in queues().iter().zip(Queue::ALL) {
        assert_eq!(spec.queue, queue);
        assert_eq!(queue.spec(), spec);
        assert_eq!(Queue::from_name(spec.name), Some(queue));
        assert_eq!(spec.max_receive_count, 5);
        assert!(spec.visibility_timeout_secs >= 6 * spec.consumer_timeout_secs, "{spec:?}");
        assert!(spec.dlq_retention_secs >= spec.message_retention_secs, "{spec:?}");
    }
}

#[test]
fn routing_table() {
    use Queue::{Invoicing as I, Notifications as N, Reports as R};
    let t = tenant("acme");
    let w = walk(&t, 1);
    let table: Vec<(String, Vec<Queue>)> = envelopes_of(&w).iter().map(|e| (e.kind.clone(), route(e))).collect();
    let expected: Vec<(&str, Vec<Queue>)> = vec![
        ("order.opened", vec![N, R]),
        ("order.quote_sent", vec![N, R]),
        ("order.quote_decided", vec![N, R]),
        ("order.started", vec![N, R]),
        ("order.note_added", vec![N, R]), // visible to the customer
        ("order.note_added", vec![R]),    // internal
        ("order.material_awaited", vec![N, R]),
        ("order.material_date_changed", vec![N, R]),
        ("order.material_arrived", vec![N, R]),
        ("order.finished", vec![N, R]),
        ("order.validated", vec![N, R]),
        ("order.payment_requested", vec![N, R]),
        ("order.payment_registered", vec![N, R]),    // balance 169.90 left
        ("order.payment_registered", vec![N, R, I]), // balance zero
        ("order.released", vec![N, R, I]),
        ("order.closed", vec![N, R]),
    ];
    let expected: Vec<(String, Vec<Queue>)> = expected.into_iter().map(|(k, q)| (k.to_owned(), q)).collect();
    assert_eq!(table, expected);

    // Events the walk does not produce: an NF-e update (notifies only once authorized), internal photos.
    let mut invoice_event = envelopes_of(&w)[12].clone();
    let invoice = |state| InvoiceInfo {
        kind: osflow_domain::DocumentKind::Nfe,
        issued_elsewhere: None,
        sequence: None,
        state,
        serie: 1,
        number: 7,
        key: "3".repeat(44),
        protocol: None,
        cstat: None,
        message: None,
    };
    invoice_event.data.change = Change::InvoiceUpdated { invoice: invoice(InvoiceState::Pending) };
    assert_eq!(route(&invoice_event), vec![R]);
    invoice_event.data.change = Change::InvoiceUpdated { invoice: invoice(InvoiceState::Authorized) };
    assert_eq!(route(&invoice_event), vec![N, R]);
}

// =============================================================================================================
// Publisher on the emulator
// =============================================================================================================

#[tokio::test(flavor = "multi_thread")]
async fn published_envelopes_land_on_the_right_queues() {
    let client = emulator_client().await;
    let (prefix, created) = fresh_queues(&client, queues()).await;
    // URLs looked up by name (GetQueueUrl under the prefix), as in a deployment without URL variables.
    let publisher = SqsPublisher::new(client.clone(), QueueUrls::new(client.clone(), prefix, []));
    let (a, b) = (tenant("acme"), tenant("beta"));
    let envelopes: Vec<Envelope> = [walk(&a, 1), walk(&b, 2)].iter().flat_map(envelopes_of).collect();
    let messages = routed(&envelopes);
    assert!(messages.iter().filter(|(q, _)| *q == Queue::Reports).count() > 30, "several batches of 10");
    publisher.publish(&messages).await.expect("every message sent");

    for queue in Queue::ALL {
        let url = &created[&queue].url;
        let expected = ids_for(&envelopes, queue);
        let received = receive(&client, url, expected.len()).await;
        let got: Vec<Envelope> = received.iter().map(envelope_of).collect();
        // The bodies are the envelopes, whole.
        for envelope in &got {
            let original = envelopes.iter().find(|e| e.event_id == envelope.event_id).expect("a published event");
            assert_eq!(envelope, original);
        }
        let mut got_ids: Vec<String> = got.iter().map(|e| e.event_id.clone()).collect();
        if queue.is_fifo() {
            // FIFO: in publishing order within each group (a company's, or an order's on invoicing.fifo), with
            // group and deduplication ids set.
            for message in &received {
                let attrs = message.attributes().unwrap();
                let envelope = envelope_of(message);
                assert_eq!(attrs[&MessageSystemAttributeName::MessageGroupId], message_group_id(queue, &envelope));
                assert_eq!(attrs[&MessageSystemAttributeName::MessageDeduplicationId], envelope.event_id);
            }
            let groups: std::collections::BTreeSet<String> =
                envelopes.iter().map(|e| message_group_id(queue, e)).collect();
            for g in &groups {
                let in_group = |ids: &[String]| -> Vec<String> {
                    ids.iter()
                        .filter(|id| envelopes.iter().any(|e| &e.event_id == *id && &message_group_id(queue, e) == g))
                        .cloned()
                        .collect()
                };
                assert_eq!(in_group(&got_ids), in_group(&expected), "FIFO order in group {g}");
            }
        }
        got_ids.sort();
        let mut expected = expected;
        expected.sort();
        assert_eq!(got_ids, expected, "queue {queue}");
        assert_empty(&client, url).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn created_queues_have_the_specs_attributes() {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let client = emulator_client().await;
    let (prefix, created) = fresh_queues(&client, queues()).await;
    for spec in queues() {
        let c = &created[&spec.queue];
        assert_eq!(c.name, format!("{prefix}{}", spec.name));
        assert_eq!(c.dlq_name, format!("{prefix}{}", spec.dlq));
        let attrs = client.get_queue_attributes().queue_url(&c.url).attribute_names(A::All).send().await.unwrap();
        let attrs = attrs.attributes().unwrap();
        assert_eq!(attrs[&A::VisibilityTimeout], spec.visibility_timeout_secs.to_string());
        assert_eq!(attrs[&A::MessageRetentionPeriod], spec.message_retention_secs.to_string());
        assert_eq!(attrs.get(&A::FifoQueue).map(String::as_str) == Some("true"), spec.fifo);
        let redrive: serde_json::Value = serde_json::from_str(&attrs[&A::RedrivePolicy]).unwrap();
        assert_eq!(redrive["deadLetterTargetArn"], c.dlq_arn.as_str());
        assert_eq!(redrive["maxReceiveCount"].to_string().trim_matches('"'), spec.max_receive_count.to_string());
        let dlq = client.get_queue_attributes().queue_url(&c.dlq_url).attribute_names(A::All).send().await.unwrap();
        let dlq = dlq.attributes().unwrap();
        assert_eq!(dlq[&A::MessageRetentionPeriod], spec.dlq_retention_secs.to_string());
        assert_eq!(dlq.get(&A::FifoQueue).map(String::as_str) == Some("true"), spec.fifo);
    }
    // Creating them again with the same attributes is a no-op.
    let again = create_queues(&client, &prefix, queues()).await.unwrap();
    assert_eq!(
        again.iter().map(|c| c.url.clone()).collect::<Vec<_>>(),
        created.values().map(|c| c.url.clone()).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn fifo_deduplicates_by_event_id() {
    let client = emulator_client().await;
    let (prefix, created) = fresh_queues(&client, queues()).await;
    let publisher = SqsPublisher::new(client.clone(), QueueUrls::new(client.clone(), prefix, []));
    let w = walk(&tenant("acme"), 1);
    let released = envelopes_of(&w).into_iter().find(|e| e.kind == "order.released").unwrap();

    // Twice in one call, then again in another call (a relay retry).
    let twice = vec![(Queue::Invoicing, released.clone()), (Queue::Invoicing, released.clone())];
    publisher.publish(&twice).await.unwrap();
    publisher.publish(&twice[..1]).await.unwrap();
    let received = receive(&client, &created[&Queue::Invoicing].url, 3).await;
    assert_eq!(received.len(), 1, "one message for one event_id");
    assert_eq!(envelope_of(&received[0]), released);

    // A standard queue keeps each send (at least once): the consumers dedupe.
    let twice = [(Queue::Notifications, released.clone()), (Queue::Notifications, released.clone())];
    publisher.publish(&twice).await.unwrap();
    assert_eq!(receive(&client, &created[&Queue::Notifications].url, 2).await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn publish_failures_name_the_messages_not_sent() {
    let client = emulator_client().await;
    let (_, created) = fresh_queues(&client, queues()).await;
    let endpoint = require_endpoint();
    // The invoicing queue's URL points at a queue that does not exist.
    let missing = format!("{}/123456789012/{}missing.fifo", endpoint.trim_end_matches('/'), unique_prefix());
    let urls = QueueUrls::new(
        client.clone(),
        "",
        [
            (Queue::Notifications, created[&Queue::Notifications].url.clone()),
            (Queue::Reports, created[&Queue::Reports].url.clone()),
            (Queue::Invoicing, missing),
        ],
    );
    let publisher = SqsPublisher::new(client.clone(), urls)
        .with_retry(RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(1) });
    let envelopes = envelopes_of(&walk(&tenant("acme"), 1));
    let err: PublishError = publisher.publish(&routed(&envelopes)).await.expect_err("invoicing fails");
    let failed: Vec<(Queue, String)> = err.failed.iter().map(|f| (f.queue, f.event_id.clone())).collect();
    let expected: Vec<(Queue, String)> =
        ids_for(&envelopes, Queue::Invoicing).into_iter().map(|id| (Queue::Invoicing, id)).collect();
    assert_eq!(failed, expected);
    assert!(err.failed.iter().all(|f| !f.reason.is_empty()));
    // The other queues got theirs.
    let reports = receive(&client, &created[&Queue::Reports].url, envelopes.len()).await;
    assert_eq!(reports.len(), envelopes.len());
}

// =============================================================================================================
// Publisher on a scripted HTTP client: retries only the failed entries, chunks of 10
// =============================================================================================================

/// Answers SendMessageBatch requests (SQS JSON protocol) with a script, and keeps the request bodies.
fn scripted_client(
    script: impl Fn(usize, &serde_json::Value) -> serde_json::Value + Send + Sync + 'static,
) -> (SqsClient, Arc<Mutex<Vec<serde_json::Value>>>) {
    let requests: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let seen = requests.clone();
    let http = aws_smithy_http_client::test_util::infallible_client_fn(move |request| {
        let body: serde_json::Value = serde_json::from_slice(request.body().bytes().unwrap()).unwrap();
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(body.clone());
            seen.len() - 1
        };
        let answer = script(n, &body);
        http::Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.0")
            .body(answer.to_string())
            .unwrap()
    });
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url("http://scripted.invalid")
        .http_client(http)
        .build();
    (SqsClient::from_conf(config), requests)
}

fn ok_entry(id: &str) -> serde_json::Value {
    serde_json::json!({"Id": id, "MessageId": format!("m-{id}"), "MD5OfMessageBody": "00000000000000000000000000000000"})
}

#[tokio::test]
async fn only_failed_entries_are_sent_again() {
    // First call: entry 1 fails on SQS's side (retried), entry 2 by the sender's fault (final: parked, but this
    // SQS knows no relay DLQ, so it stays failed).
    let (client, requests) = scripted_client(|n, body| {
        if body.get("Entries").is_none() {
            return serde_json::json!({});
        }
        let ids: Vec<String> =
            body["Entries"].as_array().unwrap().iter().map(|e| e["Id"].as_str().unwrap().to_owned()).collect();
        if n == 0 {
            serde_json::json!({
                "Successful": [ok_entry(&ids[0])],
                "Failed": [
                    {"Id": ids[1], "SenderFault": false, "Code": "InternalError", "Message": "try again"},
                    {"Id": ids[2], "SenderFault": true, "Code": "InvalidParameterValue", "Message": "bad"}
                ]
            })
        } else {
            serde_json::json!({"Successful": ids.iter().map(|i| ok_entry(i)).collect::<Vec<_>>(), "Failed": []})
        }
    });
    let urls =
        QueueUrls::new(client.clone(), "", [(Queue::Invoicing, "http://scripted.invalid/1/invoicing.fifo".into())]);
    let publisher = SqsPublisher::new(client, urls)
        .with_retry(RetryPolicy { max_attempts: 3, base_delay: Duration::from_millis(1) });
    let envelopes = envelopes_of(&walk(&tenant("acme"), 1));
    let three: Vec<(Queue, Envelope)> = envelopes[..3].iter().map(|e| (Queue::Invoicing, e.clone())).collect();

    let err = publisher.publish(&three).await.expect_err("the sender fault is final");
    assert_eq!(err.failed.len(), 1);
    assert_eq!(err.failed[0].event_id, envelopes[2].event_id);
    assert!(err.failed[0].refused, "refused by SQS");
    assert!(err.failed[0].reason.contains("InvalidParameterValue"), "{}", err.failed[0].reason);

    let requests: Vec<_> = requests.lock().unwrap().iter().filter(|r| r.get("Entries").is_some()).cloned().collect();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["Entries"].as_array().unwrap().len(), 3);
    let retried = requests[1]["Entries"].as_array().unwrap();
    assert_eq!(retried.len(), 1, "only the entry SQS failed is sent again");
    assert_eq!(Envelope::from_json(retried[0]["MessageBody"].as_str().unwrap()).unwrap(), envelopes[1]);
    assert_eq!(retried[0]["MessageDeduplicationId"], envelopes[1].event_id.as_str());
    assert_eq!(retried[0]["MessageGroupId"], format!("acme#{}", envelopes[1].order_id));
}

#[tokio::test]
async fn batches_hold_at_most_ten_entries_in_order() {
    let (client, requests) = scripted_client(|_, body| {
        let ids: Vec<serde_json::Value> =
            body["Entries"].as_array().unwrap().iter().map(|e| ok_entry(e["Id"].as_str().unwrap())).collect();
        serde_json::json!({"Successful": ids, "Failed": []})
    });
    let urls =
        QueueUrls::new(client.clone(), "", [(Queue::Notifications, "http://scripted.invalid/1/notifications".into())]);
    let publisher = SqsPublisher::new(client, urls);
    let envelopes: Vec<Envelope> =
        [walk(&tenant("acme"), 1), walk(&tenant("acme"), 2)].iter().flat_map(envelopes_of).collect();
    assert_eq!(envelopes.len(), 32);
    let all: Vec<(Queue, Envelope)> = envelopes.iter().map(|e| (Queue::Notifications, e.clone())).collect();
    publisher.publish(&all).await.unwrap();

    let requests = requests.lock().unwrap();
    let sizes: Vec<usize> = requests.iter().map(|r| r["Entries"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [10, 10, 10, 2]);
    let sent: Vec<Envelope> = requests
        .iter()
        .flat_map(|r| r["Entries"].as_array().unwrap().clone())
        .map(|e| {
            assert!(e.get("MessageGroupId").is_none() && e.get("MessageDeduplicationId").is_none(), "standard queue");
            Envelope::from_json(e["MessageBody"].as_str().unwrap()).unwrap()
        })
        .collect();
    assert_eq!(sent, envelopes);
}

#[test]
fn queue_urls_come_from_the_environment() {
    let (client, _) = scripted_client(|_, _| serde_json::json!({}));
    let vars = HashMap::from([
        ("OSFLOW_QUEUE_URL_NOTIFICATIONS", "https://sqs/1/n"),
        ("OSFLOW_QUEUE_URL_INVOICING", " https://sqs/1/i.fifo "),
        ("OSFLOW_QUEUE_PREFIX", "osflow-prod-"),
    ]);
    let urls = QueueUrls::from_vars(client, |name| vars.get(name).map(|v| (*v).to_owned()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    assert_eq!(rt.block_on(urls.url(Queue::Notifications)).unwrap(), "https://sqs/1/n");
    assert_eq!(rt.block_on(urls.url(Queue::Invoicing)).unwrap(), "https://sqs/1/i.fifo");
    // Not given: looked up by name under the prefix.
    assert_eq!(urls.queue_name(Queue::Reports), "osflow-prod-reports.fifo");
}

// =============================================================================================================
// Consumer driver
// =============================================================================================================

/// Publishes `envelopes` to `queue` and receives them back as Lambda records.
async fn records_from(
    client: &SqsClient,
    created: &BTreeMap<Queue, CreatedQueue>,
    queue: Queue,
    envelopes: &[Envelope],
) -> Vec<SqsMessage> {
    let urls = QueueUrls::new(client.clone(), "", created.iter().map(|(q, c)| (*q, c.url.clone())));
    let publisher = SqsPublisher::new(client.clone(), urls);
    let messages: Vec<(Queue, Envelope)> = envelopes.iter().map(|e| (queue, e.clone())).collect();
    publisher.publish(&messages).await.unwrap();
    let received = receive(client, &created[&queue].url, envelopes.len()).await;
    assert_eq!(received.len(), envelopes.len());
    received.iter().map(lambda_record).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn driver_handles_each_record_and_reports_failures() {
    let client = emulator_client().await;
    let (_, created) = fresh_queues(&client, queues()).await;
    let envelopes: Vec<Envelope> = envelopes_of(&walk(&tenant("acme"), 1)).into_iter().take(7).collect();
    let mut records = records_from(&client, &created, Queue::Notifications, &envelopes).await;
    // Two bodies no consumer can read: not JSON, and a newer schema.
    let url = &created[&Queue::Notifications].url;
    let mut newer: serde_json::Value = serde_json::from_str(&envelopes[0].to_json()).unwrap();
    newer["schema"] = 2.into();
    for body in ["{not json".to_owned(), newer.to_string()] {
        client.send_message().queue_url(url).message_body(body).send().await.unwrap();
    }
    let bad = receive(&client, url, 2).await;
    assert_eq!(bad.len(), 2);
    records.extend(bad.iter().map(lambda_record));
    let bad_ids: BTreeSet<String> = bad.iter().map(|m| m.message_id().unwrap().to_owned()).collect();

    let failing = envelopes[3].event_id.clone();
    let handled: Mutex<Vec<String>> = Mutex::default();
    let message_id_of = |event_id: &str| {
        records
            .iter()
            .find(|r| {
                r.body.as_deref().and_then(|b| Envelope::from_json(b).ok()).is_some_and(|e| e.event_id == event_id)
            })
            .and_then(|r| r.message_id.clone())
            .unwrap()
    };
    let expected_failures: BTreeSet<String> = bad_ids.iter().cloned().chain([message_id_of(&failing)]).collect();

    let response = consume(sqs_event(records.clone()), Mode::Concurrent, |envelope: Envelope| {
        let failing = failing.clone();
        let handled = &handled;
        async move {
            handled.lock().unwrap().push(envelope.event_id.clone());
            if envelope.event_id == failing { Err(ConsumeError::failed("boom")) } else { Ok(()) }
        }
    })
    .await;
    assert_eq!(failures(&response), expected_failures);
    let mut handled = handled.into_inner().unwrap();
    handled.sort();
    let mut all: Vec<String> = envelopes.iter().map(|e| e.event_id.clone()).collect();
    all.sort();
    assert_eq!(handled, all, "every readable record handled once");

    // The response is what Lambda reads.
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"].as_array().unwrap().len(), 3);
    assert!(json["batchItemFailures"][0]["itemIdentifier"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_mode_handles_the_records_together() {
    let client = emulator_client().await;
    let (_, created) = fresh_queues(&client, queues()).await;
    let envelopes: Vec<Envelope> = envelopes_of(&walk(&tenant("acme"), 1)).into_iter().take(10).collect();
    let records = records_from(&client, &created, Queue::Notifications, &envelopes).await;
    // Every handler waits for all the others: this completes only if all ten run at once.
    let barrier = tokio::sync::Barrier::new(10);
    let run = consume(sqs_event(records), Mode::Concurrent, |_envelope| {
        let barrier = &barrier;
        async move {
            barrier.wait().await;
            Ok(())
        }
    });
    let response = tokio::time::timeout(Duration::from_secs(30), run).await.expect("the records ran concurrently");
    assert!(response.batch_item_failures.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn ordered_mode_keeps_groups_in_order_and_fails_the_rest_of_a_group() {
    let client = emulator_client().await;
    let (_, created) = fresh_queues(&client, queues()).await;
    let (a, b) = (tenant("acme"), tenant("beta"));
    let (wa, wb) = (walk(&a, 1), walk(&b, 2));
    // Interleaved groups: a0 b0 a1 b1 …
    let envelopes: Vec<Envelope> =
        envelopes_of(&wa).into_iter().zip(envelopes_of(&wb)).take(5).flat_map(|(x, y)| [x, y]).collect();
    let records = records_from(&client, &created, Queue::Invoicing, &envelopes).await;
    let order_in = |t: &TenantId| -> Vec<String> {
        records
            .iter()
            .map(|r| Envelope::from_json(r.body.as_deref().unwrap()).unwrap())
            .filter(|e| &e.tenant == t)
            .map(|e| e.event_id)
            .collect()
    };
    let (group_a, group_b) = (order_in(&a), order_in(&b));
    assert_eq!(group_a.len(), 5);

    // Run 1: every record succeeds. Within a group one at a time, in record order; the two groups at once (the
    // first record of each waits for the other group's first record).
    let in_flight: Mutex<HashMap<String, usize>> = Mutex::default();
    let handled: Mutex<Vec<String>> = Mutex::default();
    let barrier = tokio::sync::Barrier::new(2);
    let firsts = [group_a[0].clone(), group_b[0].clone()];
    let run = consume(sqs_event(records.clone()), Mode::Ordered, |envelope: Envelope| {
        let (in_flight, handled, barrier, firsts) = (&in_flight, &handled, &barrier, &firsts);
        async move {
            let group = envelope.tenant.as_str().to_owned();
            {
                let mut f = in_flight.lock().unwrap();
                let n = f.entry(group.clone()).or_default();
                *n += 1;
                assert_eq!(*n, 1, "two records of group {group} at once");
            }
            if firsts.contains(&envelope.event_id) {
                barrier.wait().await;
            }
            tokio::task::yield_now().await;
            handled.lock().unwrap().push(envelope.event_id.clone());
            *in_flight.lock().unwrap().get_mut(&group).unwrap() -= 1;
            Ok(())
        }
    });
    let response = tokio::time::timeout(Duration::from_secs(30), run).await.expect("the groups ran concurrently");
    assert!(response.batch_item_failures.is_empty());
    let handled = handled.into_inner().unwrap();
    let seq = |group: &[String]| -> Vec<String> { handled.iter().filter(|id| group.contains(id)).cloned().collect() };
    assert_eq!(seq(&group_a), group_a);
    assert_eq!(seq(&group_b), group_b);

    // Run 2: the second record of group a fails: a's later records fail unhandled; group b is unaffected.
    let calls: Mutex<Vec<String>> = Mutex::default();
    let failing = group_a[1].clone();
    let response = consume(sqs_event(records.clone()), Mode::Ordered, |envelope: Envelope| {
        let (calls, failing) = (&calls, &failing);
        async move {
            calls.lock().unwrap().push(envelope.event_id.clone());
            if envelope.event_id == *failing { Err(ConsumeError::failed("SEFAZ down")) } else { Ok(()) }
        }
    })
    .await;
    let message_id = |event_id: &String| {
        records
            .iter()
            .find(|r| Envelope::from_json(r.body.as_deref().unwrap()).unwrap().event_id == *event_id)
            .unwrap()
            .message_id
            .clone()
            .unwrap()
    };
    let expected: BTreeSet<String> = group_a[1..].iter().map(message_id).collect();
    assert_eq!(failures(&response), expected);
    let calls = calls.into_inner().unwrap();
    assert!(group_a[2..].iter().all(|id| !calls.contains(id)), "records after a failure are not handled");
    assert!(group_b.iter().all(|id| calls.contains(id)));
}

// =============================================================================================================
// Poison message → DLQ
// =============================================================================================================

#[tokio::test(flavor = "multi_thread")]
async fn poison_message_reaches_the_dlq_after_max_receives() {
    let client = emulator_client().await;
    // The notifications queue with a one-second visibility timeout, so that failed messages come back quickly.
    let spec = QueueSpec { visibility_timeout_secs: 1, ..*Queue::Notifications.spec() };
    let (_, created) = fresh_queues(&client, &[spec]).await;
    let queue = &created[&Queue::Notifications];
    let urls = QueueUrls::new(client.clone(), "", [(Queue::Notifications, queue.url.clone())]);
    let publisher = SqsPublisher::new(client.clone(), urls);

    let envelopes: Vec<Envelope> = envelopes_of(&walk(&tenant("acme"), 1)).into_iter().take(4).collect();
    let poison = envelopes[1].event_id.clone();
    let mut pending: Vec<Envelope> = envelopes.clone();
    let handled: Mutex<HashMap<String, usize>> = Mutex::default();
    let mut dlq: Vec<Message> = Vec::new();

    // Drive SQS as Lambda's poller does: receive a batch, run the driver, delete what succeeded; failed messages
    // come back after the visibility timeout. New messages keep arriving meanwhile.
    for round in 0..60 {
        if let Some(next) = pending.pop() {
            publisher.publish(&[(Queue::Notifications, next)]).await.unwrap();
        }
        let out = client
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = out.messages.unwrap_or_default();
        if !messages.is_empty() {
            let response = consume(sqs_event(messages.iter().map(lambda_record).collect()), Mode::Concurrent, |e| {
                let (handled, poison) = (&handled, &poison);
                async move {
                    *handled.lock().unwrap().entry(e.event_id.clone()).or_default() += 1;
                    if e.event_id == *poison { Err(ConsumeError::failed("always fails")) } else { Ok(()) }
                }
            })
            .await;
            let failed = failures(&response);
            for message in &messages {
                if !failed.contains(message.message_id().unwrap()) {
                    client
                        .delete_message()
                        .queue_url(&queue.url)
                        .receipt_handle(message.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
        let peek = client.receive_message().queue_url(&queue.dlq_url).max_number_of_messages(10).send().await.unwrap();
        dlq.extend(peek.messages.unwrap_or_default());
        if !dlq.is_empty() && pending.is_empty() {
            assert!(round > 4, "a message reaches the DLQ only after several receives");
            break;
        }
    }
    assert_eq!(dlq.len(), 1, "the poison message, alone, is in the DLQ");
    assert_eq!(envelope_of(&dlq[0]).event_id, poison);
    let handled = handled.into_inner().unwrap();
    assert_eq!(
        handled[&poison],
        Queue::Notifications.spec().max_receive_count as usize,
        "handled maxReceiveCount times"
    );
    for e in envelopes.iter().filter(|e| e.event_id != poison) {
        assert_eq!(handled[&e.event_id], 1, "{} handled once and deleted", e.event_id);
    }
    assert_empty(&client, &queue.url).await;
}

// =============================================================================================================
// Embedded relay over SQLite
// =============================================================================================================

/// A consumer that records what it receives and deduplicates on event_id, as every consumer does: `effects` is
/// what the consumer would do (send one e-mail…), `deliveries` every call.
#[derive(Default)]
struct Ledger {
    deliveries: AtomicUsize,
    seen: Mutex<Vec<String>>,
    effects: Mutex<Vec<String>>,
}

struct Recorder {
    queue: Queue,
    ledger: Arc<Ledger>,
    /// Fails each event this many times before accepting it.
    fail_first: HashMap<String, usize>,
    failures: Mutex<HashMap<String, usize>>,
    /// Called after each delivery (e.g. to stop the relay mid-way).
    after: Option<Arc<dyn Fn(usize) + Send + Sync>>,
}

impl Recorder {
    fn new(queue: Queue, ledger: Arc<Ledger>) -> Recorder {
        Recorder { queue, ledger, fail_first: HashMap::new(), failures: Mutex::default(), after: None }
    }
}

#[async_trait]
impl Consumer for Recorder {
    fn queue(&self) -> Queue {
        self.queue
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        let id = envelope.event_id.clone();
        if let Some(&n) = self.fail_first.get(&id) {
            let mut failures = self.failures.lock().unwrap();
            let count = failures.entry(id.clone()).or_default();
            if *count < n {
                *count += 1;
                return Err(ConsumeError::failed("not yet"));
            }
        }
        self.ledger.seen.lock().unwrap().push(id.clone());
        {
            let mut effects = self.ledger.effects.lock().unwrap();
            if !effects.contains(&id) {
                effects.push(id);
            }
        }
        let n = self.ledger.deliveries.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(after) = &self.after {
            after(n);
        }
        Ok(())
    }
}

fn fast_options() -> RelayOptions {
    RelayOptions {
        batch_size: 8,
        poll_interval: Duration::from_millis(10),
        retry_base: Duration::from_millis(1),
        retry_max: Duration::from_millis(5),
        ..RelayOptions::default()
    }
}

async fn pending_count(store: &SqliteStore) -> usize {
    store.pending(10_000).await.unwrap().len()
}

/// Writes `orders` walked orders (two tenants) to the store at `path` and returns their envelopes, in commit
/// order per order.
async fn commit_orders(path: &Path, orders: u64) -> Vec<Envelope> {
    let store = SqliteStore::open(path).unwrap();
    let mut envelopes = Vec::new();
    for n in 1..=orders {
        let t = tenant(if n % 2 == 0 { "acme" } else { "beta" });
        let w = walk(&t, n);
        w.write(&store).await;
        envelopes.extend(envelopes_of(&w));
    }
    envelopes
}

fn three_consumers(ledgers: &[Arc<Ledger>; 3]) -> Vec<Arc<dyn Consumer>> {
    Queue::ALL.iter().zip(ledgers).map(|(q, l)| Arc::new(Recorder::new(*q, l.clone())) as Arc<dyn Consumer>).collect()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_relay_delivers_what_was_committed_before_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osflow.db");
    // Steps committed, no relay running, the process "crashes" (the store is dropped).
    let envelopes = commit_orders(&path, 3).await;

    // Restart: a new store on the file, and a relay.
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    assert_eq!(pending_count(&store).await, envelopes.len(), "every committed event waits in the outbox");
    let ledgers: [Arc<Ledger>; 3] = Default::default();
    let relay = Arc::new(EmbeddedRelay::new(store.clone(), three_consumers(&ledgers)).with_options(fast_options()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn({
        let relay = relay.clone();
        async move {
            relay
                .serve(async {
                    stopped.await.ok();
                })
                .await
        }
    });
    while pending_count(&store).await > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap();

    for (queue, ledger) in Queue::ALL.iter().zip(&ledgers) {
        let expected = ids_for(&envelopes, *queue);
        assert_eq!(sorted(ledger.seen.lock().unwrap().clone()), sorted(expected.clone()), "queue {queue}");
        assert_eq!(ledger.deliveries.load(Ordering::SeqCst), expected.len(), "no redelivery without a crash");
    }
    // Outbox order is commit order: each order's events reached the consumers in version order.
    let seen = ledgers[1].seen.lock().unwrap().clone();
    for order in envelopes.iter().map(|e| e.order_id).collect::<BTreeSet<_>>() {
        let ours: Vec<&String> = seen.iter().filter(|id| id.starts_with(&order.to_string())).collect();
        let versions: Vec<u64> = ours.iter().map(|id| id.rsplit(':').next().unwrap().parse().unwrap()).collect();
        assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_relay_stopped_mid_way_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osflow.db");
    let envelopes = commit_orders(&path, 4).await;
    let ledgers: [Arc<Ledger>; 3] = Default::default();

    // First run: the reports consumer signals after 20 deliveries and then hangs, as a process would when it is
    // killed in the middle of a pass (delivered, not yet marked relayed). The task is aborted there.
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let reached = Arc::new(tokio::sync::Notify::new());
    let mut consumers = three_consumers(&ledgers);
    let mut reports = Recorder::new(Queue::Reports, ledgers[1].clone());
    let signal = reached.clone();
    reports.after = Some(Arc::new(move |n| {
        if n == 20 {
            signal.notify_one();
        }
    }));
    consumers[1] = Arc::new(HangAfter { inner: reports, hang_after: 20 });
    let relay = Arc::new(EmbeddedRelay::new(store.clone(), consumers).with_options(fast_options()));
    let task = tokio::spawn({
        let relay = relay.clone();
        async move { relay.serve(std::future::pending()).await }
    });
    reached.notified().await;
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    drop(relay);
    let left = pending_count(&store).await;
    assert!(left > 0 && left < envelopes.len(), "stopped mid-way: {left} of {} left", envelopes.len());
    drop(store);

    // Second run, a new process: the relay starts from what is not marked.
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let relay = EmbeddedRelay::new(store.clone(), three_consumers(&ledgers)).with_options(fast_options());
    while relay.relay_once().await.unwrap().fetched > 0 {}
    assert_eq!(pending_count(&store).await, 0);

    for (queue, ledger) in Queue::ALL.iter().zip(&ledgers) {
        let expected = sorted(ids_for(&envelopes, *queue));
        // Nothing lost: every event reached every consumer that wants it…
        let seen: BTreeSet<String> = ledger.seen.lock().unwrap().iter().cloned().collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), expected, "queue {queue}");
        // …some more than once (at least once), and the dedupe makes each effect happen once.
        assert!(ledger.deliveries.load(Ordering::SeqCst) >= expected.len());
        assert_eq!(sorted(ledger.effects.lock().unwrap().clone()), expected, "exactly once in effect on {queue}");
    }
    let redelivered = ledgers[1].deliveries.load(Ordering::SeqCst) - ids_for(&envelopes, Queue::Reports).len();
    assert!(redelivered > 0, "the pass cut by the crash is delivered again");
}

/// Delegates to a recorder, then hangs forever on the delivery after `hang_after`.
struct HangAfter {
    inner: Recorder,
    hang_after: usize,
}

#[async_trait]
impl Consumer for HangAfter {
    fn queue(&self) -> Queue {
        self.inner.queue
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        if self.inner.ledger.deliveries.load(Ordering::SeqCst) >= self.hang_after {
            std::future::pending::<()>().await;
        }
        self.inner.handle(envelope).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_relay_retries_failures_and_keeps_fifo_groups_in_order() {
    let store = Arc::new(SqliteStore::open_temporary().unwrap());
    let t = tenant("acme");
    let (w1, w2) = (walk(&t, 1), walk(&t, 2));
    w1.write(store.as_ref()).await;
    w2.write(store.as_ref()).await;
    let envelopes: Vec<Envelope> = envelopes_of(&w1).into_iter().chain(envelopes_of(&w2)).collect();
    let invoicing = ids_for(&envelopes, Queue::Invoicing);
    assert_eq!(invoicing.len(), 4, "two settling payments and two releases");

    // The invoicing consumer fails the first trigger twice; the notifications consumer fails one event three
    // times. Both are retried until they succeed; nothing is marked relayed before every consumer succeeded.
    let ledgers: [Arc<Ledger>; 3] = Default::default();
    let mut consumers = three_consumers(&ledgers);
    let mut invoicer = Recorder::new(Queue::Invoicing, ledgers[2].clone());
    invoicer.fail_first.insert(invoicing[0].clone(), 2);
    consumers[2] = Arc::new(invoicer);
    let mut notifier = Recorder::new(Queue::Notifications, ledgers[0].clone());
    let flaky = envelopes[3].event_id.clone();
    notifier.fail_first.insert(flaky.clone(), 3);
    consumers[0] = Arc::new(notifier);
    let relay = EmbeddedRelay::new(store.clone(), consumers).with_options(fast_options());

    let first = relay.relay_once().await.unwrap();
    assert!(first.failed >= 1 && first.relayed < envelopes.len());
    let pending: Vec<u64> = store.pending(1000).await.unwrap().iter().map(|e| e.event.version).collect();
    assert!(!pending.is_empty(), "failed entries stay in the outbox");
    let mut passes = 0;
    while pending_count(&store).await > 0 {
        relay.relay_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
        passes += 1;
        assert!(passes < 1000, "the relay never drains the outbox");
    }
    // The FIFO consumer saw the group in outbox order despite the failures (later triggers waited).
    assert_eq!(ledgers[2].seen.lock().unwrap().clone(), invoicing);
    // The flaky event reached the notifier once it succeeded, and the other consumers once each.
    assert_eq!(ledgers[0].seen.lock().unwrap().iter().filter(|id| **id == flaky).count(), 1);
    for (queue, ledger) in Queue::ALL.iter().zip(&ledgers) {
        assert_eq!(sorted(ledger.seen.lock().unwrap().clone()), sorted(ids_for(&envelopes, *queue)), "{queue}");
    }
}

/// A reports consumer that notes how many deliveries of each company are in flight at once, and the order.
#[derive(Default)]
struct InFlight {
    now: Mutex<HashMap<String, usize>>,
    max_per_tenant: AtomicUsize,
    now_total: AtomicUsize,
    max_total: AtomicUsize,
    seen: Mutex<Vec<String>>,
}

struct Probe(Arc<InFlight>);

#[async_trait]
impl Consumer for Probe {
    fn queue(&self) -> Queue {
        Queue::Reports
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        let tenant = envelope.tenant.as_str().to_owned();
        {
            let mut now = self.0.now.lock().unwrap();
            let n = now.entry(tenant.clone()).or_default();
            *n += 1;
            self.0.max_per_tenant.fetch_max(*n, Ordering::SeqCst);
        }
        let total = self.0.now_total.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max_total.fetch_max(total, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.0.seen.lock().unwrap().push(envelope.event_id.clone());
        self.0.now_total.fetch_sub(1, Ordering::SeqCst);
        *self.0.now.lock().unwrap().get_mut(&tenant).unwrap() -= 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_are_serialized_per_company_and_concurrent_across_companies() {
    // A company's events all update its day: two at once would race for the day item, so the reports queue is
    // FIFO with the company as the group (SQS hands a group's messages one batch at a time), and the embedded
    // relay delivers a group's entries one by one while different companies go on together.
    assert!(Queue::Reports.is_fifo());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("osflow.db");
    let envelopes = commit_orders(&path, 6).await;
    let reports: Vec<&Envelope> = envelopes.iter().filter(|e| route(e).contains(&Queue::Reports)).collect();
    assert_eq!(message_group_id(Queue::Reports, reports[0]), reports[0].tenant.as_str());

    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let probe = Arc::new(InFlight::default());
    let consumers: Vec<Arc<dyn Consumer>> = vec![Arc::new(Probe(probe.clone()))];
    let relay =
        EmbeddedRelay::new(store.clone(), consumers).with_options(RelayOptions { batch_size: 256, ..fast_options() });
    let mut passes = 0;
    while pending_count(&store).await > 0 {
        relay.relay_once().await.unwrap();
        passes += 1;
        assert!(passes < 100, "the relay never drains the outbox");
    }
    assert_eq!(probe.max_per_tenant.load(Ordering::SeqCst), 1, "two deliveries of one company at once");
    assert_eq!(probe.max_total.load(Ordering::SeqCst), 2, "the two companies go on together");
    // Each company's events in commit order.
    let seen = probe.seen.lock().unwrap().clone();
    for t in ["acme", "beta"] {
        let want: Vec<&String> = reports.iter().filter(|e| e.tenant.as_str() == t).map(|e| &e.event_id).collect();
        let got: Vec<&String> =
            seen.iter().filter(|id| reports.iter().any(|e| &e.event_id == *id && e.tenant.as_str() == t)).collect();
        assert_eq!(got, want, "{t}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invoicing_groups_are_per_order_so_one_order_never_holds_the_company() {
    let dir = tempfile::tempdir().unwrap();
    let envelopes = commit_orders(&dir.path().join("osflow.db"), 3).await;
    let groups: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        envelopes.iter().fold(Default::default(), |mut m, e| {
            m.entry(e.order_id.to_string()).or_default().insert(message_group_id(Queue::Invoicing, e));
            m
        });
    assert_eq!(groups.len(), 3);
    let all: std::collections::BTreeSet<&String> = groups.values().flatten().collect();
    assert_eq!(all.len(), 3, "one group per order, each order's events in one group: {groups:?}");
    let tenants: std::collections::BTreeSet<&str> = envelopes.iter().map(|e| e.tenant.as_str()).collect();
    assert!(tenants.len() < 3, "two of the orders are one company's (and still two groups)");
}

// =============================================================================================================
// Back-off through the message's visibility
// =============================================================================================================

#[tokio::test]
async fn the_back_off_grows_with_the_receives_and_honours_the_wait_asked() {
    let backoff = VisibilityBackoff::new(emulator_client().await, QueueUrls::new(emulator_client().await, "", []));
    let delays: Vec<u64> = (1..=6).map(|n| backoff.delay(n, Duration::ZERO).as_secs()).collect();
    assert_eq!(delays, [120, 240, 480, 900, 900, 900], "2 minutes doubling, at most 15");
    assert_eq!(backoff.delay(0, Duration::ZERO), Duration::from_secs(120), "no count: a first receive");
    assert_eq!(backoff.delay(1, Duration::from_secs(300)), Duration::from_secs(300), "the wait asked");
    assert_eq!(backoff.delay(u32::MAX, Duration::from_secs(86_400)), MAX_VISIBILITY, "SQS's 12 hours at most");
    // The 5 receives of a queue before its DLQ take at least the sum of the first four delays.
    let before_dlq: u64 = (1..MAX_RECEIVE_COUNT).map(|n| backoff.delay(n, Duration::ZERO).as_secs()).sum();
    assert!(before_dlq >= 25 * 60, "{before_dlq} s");
}

/// A consumer that asks `later` to come back in 5 minutes and fails `failing` outright.
struct Picky {
    later: String,
    failing: String,
}

#[async_trait]
impl Consumer for Picky {
    fn queue(&self) -> Queue {
        Queue::Notifications
    }

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError> {
        if envelope.event_id == self.later {
            Err(ConsumeError::later(Duration::from_secs(300), "throttled"))
        } else if envelope.event_id == self.failing {
            Err(ConsumeError::failed("boom"))
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_asking_to_come_back_later_is_hidden_and_reported_failed() {
    let client = emulator_client().await;
    let (_, created) = fresh_queues(&client, queues()).await;
    let envelopes: Vec<Envelope> = envelopes_of(&walk(&tenant("acme"), 1)).into_iter().take(4).collect();
    let records = records_from(&client, &created, Queue::Notifications, &envelopes).await;
    let id_of = |event_id: &str| {
        let r = records.iter().find(|r| r.body.as_deref().is_some_and(|b| b.contains(event_id))).unwrap();
        r.message_id.clone().unwrap()
    };
    let picky = Picky { later: envelopes[1].event_id.clone(), failing: envelopes[2].event_id.clone() };
    let urls = QueueUrls::new(client.clone(), "", created.iter().map(|(q, c)| (*q, c.url.clone())));
    let backoff = VisibilityBackoff::new(client.clone(), urls);
    let done = backoff.consume(sqs_event(records.clone()), &picky).await;
    assert_eq!(
        failures(&done.response),
        BTreeSet::from([id_of(&picky.later), id_of(&picky.failing)]),
        "both failed: neither is deleted"
    );
    assert_eq!(
        done.delayed,
        vec![Delayed {
            message_id: id_of(&picky.later),
            receive_count: 1,
            delay: Duration::from_secs(300),
            changed: true,
        }],
        "only the one that asked is delayed, for the longer of its wait and the back-off"
    );
    // A receipt handle SQS does not know: the change fails, the message is still reported (it comes back after
    // the queue's visibility timeout).
    let mut stale = records[1].clone();
    stale.receipt_handle = Some("not-a-receipt-handle".into());
    let done = backoff.consume(sqs_event(vec![stale]), &picky).await;
    assert_eq!(failures(&done.response), BTreeSet::from([id_of(&picky.later)]));
    assert!(!done.delayed[0].changed, "{:?}", done.delayed);
}
