//! The DynamoDB adapter against the emulator (moto, over real HTTP) and against SDK-level mocks:
//! - the shared conformance suite of `osflow-app`, each case on a fresh table;
//! - the cost of each operation in requests, counted by an SDK interceptor;
//! - the raw item layout (ARCHITECTURE.md, «Data»);
//! - the table as created matches [`table_definition`];
//! - failures the emulator cannot produce (throttling, timeouts, 5xx, unreadable items), through mock HTTP clients.
//!
//! Emulator tests need `AWS_ENDPOINT_URL` (set by `scripts/test`). Without it, or with nothing listening there,
//! they fail with a message saying so: they never pass silently.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, StalledStreamProtectionConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::test_util::{NeverClient, infallible_client_fn};
use aws_smithy_runtime_api::client::http::HttpClient;
use aws_smithy_types::body::SdkBody;
use osflow_app::{
    Claim, DedupeStore, FlowStore, IdempotencyStore, InvoiceStore, OrderStore, PageRequest, SettingsStore, StoreError,
};
use osflow_domain::Command;
use osflow_store_dynamodb::{DynamoStore, decode_event_image, load_sdk_config, table_definition};
use osflow_testkit::conformance::{
    Stores, advance, at, cpf, dedupe_key, dedupe_outcome, flow_version, full_notification_settings, idem_record,
    invoice_record, new_order_id, note, numbering, open_order, status, tenant,
};

use osflow_testkit::emulator::RequestCounter;

use crate::support::{OneRequestAtATime, create_fresh_table, require_endpoint};

// -------------------------------------------------------------------------------------------------------------
// Fixtures
// -------------------------------------------------------------------------------------------------------------

/// A fresh table on the emulator, and a store on it whose requests are counted.
pub(crate) struct Fixture {
    pub(crate) store: Arc<DynamoStore>,
    pub(crate) counter: RequestCounter,
}

pub(crate) async fn fixture() -> Fixture {
    let endpoint = require_endpoint();
    let config = load_sdk_config().await;
    let counter = RequestCounter::default();
    let http = OneRequestAtATime::over(config.http_client().expect("load_sdk_config sets the HTTP client"));
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .http_client(http)
            // A request waiting for its turn sends no bytes: that is not a stalled upload.
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .interceptor(counter.clone())
            .build(),
    );
    let table = create_fresh_table(&client, &endpoint).await;
    counter.take();
    let key = osflow_store_dynamodb::SecretsKey::generate().expect("a sealing key");
    Fixture { store: Arc::new(DynamoStore::new(client, table).with_secrets_key(key)), counter }
}

async fn stores() -> Stores {
    Stores::from_one(fixture().await.store)
}

osflow_testkit::conformance_tests!(stores);

/// A client's configuration for the tests that need no emulator: `http` answers at `endpoint` (test credentials,
/// us-east-1); each test adds its retries and timeouts.
fn client_config(endpoint: &str, http: impl HttpClient + 'static) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(endpoint)
        .http_client(http)
}

#[tokio::test]
#[should_panic(expected = "run `scripts/test`")]
async fn an_unreachable_emulator_fails_the_test_with_instructions() {
    // Nothing listens on port 9 of the loopback (discard): the connection is refused at once.
    let config = client_config("http://127.0.0.1:9", osflow_store_dynamodb::https_client())
        .retry_config(RetryConfig::disabled())
        .build();
    create_fresh_table(&Client::from_conf(config), "http://127.0.0.1:9").await;
}

// -------------------------------------------------------------------------------------------------------------
// Cost: requests per operation
// -------------------------------------------------------------------------------------------------------------

fn counts(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[tokio::test]
async fn each_operation_costs_the_requests_it_should() {
    let Fixture { store, counter } = fixture().await;
    let t = tenant("acme");
    let mut report = Vec::new();
    let mut measure = |what: &str, expected: &[(&str, u32)]| {
        let got = counter.take();
        report.push(format!("{what}: {got:?}"));
        assert_eq!(got, counts(expected), "requests of {what}");
    };

    assert_eq!(store.next_order_number(&t).await.unwrap(), 1);
    measure("next_order_number", &[("UpdateItem", 1)]);

    let (v1, opened) = open_order(&t, 1, cpf(1), at(0));
    store.create(&v1, &opened, Some(&idem_record(&t, "k-open", at(0)))).await.unwrap();
    measure("create (order + event + idempotency record)", &[("TransactWriteItems", 1)]);

    assert_eq!(store.get(&t, &v1.id).await.unwrap(), Some(v1.clone()));
    measure("get", &[("GetItem", 1)]);

    let (events, v2) = advance(&v1, Command::SendQuote, at(1));
    store.apply(1, &v2, &events, None).await.unwrap();
    measure("apply (a step)", &[("TransactWriteItems", 1)]);

    let (events3, v3) = advance(&v2, note("a"), at(2));
    store.apply(2, &v3, &events3, Some(&idem_record(&t, "k-note", at(2)))).await.unwrap();
    measure("apply with an idempotency record", &[("TransactWriteItems", 1)]);

    let (stale_events, stale) = advance(&v1, note("stale"), at(3));
    assert_eq!(store.apply(1, &stale, &stale_events, None).await, Err(StoreError::Conflict { current_version: 3 }));
    measure("apply on a stale version (Conflict, no second read)", &[("TransactWriteItems", 1)]);

    let (unknown, _) = open_order(&t, 2, cpf(2), at(0));
    let (events_u, unknown2) = advance(&unknown, Command::SendQuote, at(1));
    assert_eq!(store.apply(1, &unknown2, &events_u, None).await, Err(StoreError::NotFound));
    measure("apply on an unknown order (NotFound)", &[("TransactWriteItems", 1)]);

    for i in 0..4 {
        let (o, e) = open_order(&t, 10 + i, cpf(1), at(i as i64));
        store.create(&o, &e, None).await.unwrap();
    }
    counter.take();
    let page = store.list_by_status(&t, &status("aberta"), &PageRequest::first(2)).await.unwrap();
    assert_eq!(page.items.len(), 2);
    // The indexes project keys only: a page's orders come with one BatchGetItem.
    measure("list_by_status, first page", &[("Query", 1), ("BatchGetItem", 1)]);
    let next = store.list_by_status(&t, &status("aberta"), &PageRequest { limit: 2, cursor: page.next }).await;
    assert_eq!(next.unwrap().next, None);
    measure("list_by_status, last page", &[("Query", 1), ("BatchGetItem", 1)]);
    store.list_by_customer(&t, &cpf(1), &PageRequest::first(3)).await.unwrap();
    measure("list_by_customer, one page", &[("Query", 1), ("BatchGetItem", 1)]);

    assert_eq!(store.timeline(&t, &v1.id).await.unwrap().len(), 3);
    measure("timeline", &[("Query", 1)]);

    store.get_idempotency(&t, "k-open", at(1)).await.unwrap().unwrap();
    measure("get_idempotency", &[("GetItem", 1)]);

    store.publish(&t, &flow_version(1), None).await.unwrap();
    measure("flow publish", &[("TransactWriteItems", 1)]);
    store.current(&t).await.unwrap().unwrap();
    measure("current flow", &[("GetItem", 1)]);

    let key = numbering("11222333000181", 1);
    assert_eq!(store.claim_number(&t, &key, &v1.id).await.unwrap(), 1);
    measure("claim_number, new claim", &[("TransactGetItems", 1), ("TransactWriteItems", 1)]);
    assert_eq!(store.claim_number(&t, &key, &v1.id).await.unwrap(), 1);
    measure("claim_number, retry of the same order", &[("TransactGetItems", 1)]);
    store.save_invoice(&invoice_record(&t, &v1.id, &key, 1, at(5)), 0).await.unwrap();
    measure("save_invoice", &[("PutItem", 1)]);
    store.invoices(&t, &v1.id).await.unwrap();
    measure("invoices", &[("Query", 1)]);

    let lease = chrono::Duration::minutes(5);
    let dedupe = dedupe_key(&t, &format!("{}:2", v1.id), "email");
    assert_eq!(store.claim(&dedupe, at(10), lease, at(60)).await.unwrap(), Claim::Claimed);
    measure("dedupe claim, new", &[("PutItem", 1)]);
    assert_eq!(store.claim(&dedupe, at(11), lease, at(60)).await.unwrap(), Claim::InFlight { claimed_at: at(10) });
    measure("dedupe claim, in flight (the failed condition carries the record)", &[("PutItem", 1)]);
    let outcome = dedupe_outcome(true, "sent", at(12));
    store.complete(&dedupe, &outcome).await.unwrap();
    measure("dedupe complete", &[("UpdateItem", 1)]);
    assert_eq!(store.claim(&dedupe, at(13), lease, at(60)).await.unwrap(), Claim::Done(outcome));
    measure("dedupe claim, done", &[("PutItem", 1)]);
    store.release(&dedupe).await.unwrap();
    measure("dedupe release", &[("DeleteItem", 1)]);
    store.put_notification_settings(&t, &full_notification_settings()).await.unwrap();
    measure("put_notification_settings", &[("PutItem", 1)]);
    store.notification_settings(&t).await.unwrap().unwrap();
    measure("notification_settings", &[("GetItem", 1)]);

    println!("requests per operation:\n  {}", report.join("\n  "));
}

/// Claims from several processes (stores that share no memory, only the table) are gapless too: here the
/// conditions of the claim transaction alone keep them apart (the suite's case runs in one store, whose claims
/// also queue in memory).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_from_several_processes_are_gapless() {
    let Fixture { store, counter } = fixture().await;
    let processes: Vec<DynamoStore> =
        (0..4).map(|_| DynamoStore::new(store.client().clone(), store.table().to_owned())).collect();
    let t = tenant("acme");
    let key = numbering("11222333000181", 1);
    let orders: Vec<_> = (0..12).map(|_| new_order_id()).collect();
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let (process, t, key, order) = (processes[i % 4].clone(), t.clone(), key.clone(), orders[i % 12]);
            tokio::spawn(async move { (order, process.claim_number(&t, &key, &order).await) })
        })
        .collect();
    let mut claimed: BTreeMap<_, BTreeSet<u64>> = BTreeMap::new();
    for task in tasks {
        let (order, number) = task.await.unwrap();
        claimed.entry(order).or_default().insert(number.unwrap());
    }
    assert!(claimed.values().all(|numbers| numbers.len() == 1), "one number per order: {claimed:?}");
    let numbers: BTreeSet<u64> = claimed.values().flatten().copied().collect();
    assert_eq!(numbers, (1..=12).collect::<BTreeSet<u64>>(), "no gap, no duplicate: {claimed:?}");
    println!("requests of 48 claims for 12 orders from 4 processes: {:?}", counter.take());
}

// -------------------------------------------------------------------------------------------------------------
// Item layout
// -------------------------------------------------------------------------------------------------------------

fn text(item: &BTreeMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::S(s)) => s.clone(),
        other => panic!("attribute {name} is not a string: {other:?}"),
    }
}

fn number(item: &BTreeMap<String, AttributeValue>, name: &str) -> String {
    match item.get(name) {
        Some(AttributeValue::N(s)) => s.clone(),
        other => panic!("attribute {name} is not a number: {other:?}"),
    }
}

/// Every item of the table (a Scan: test-only, to look at raw items), by (PK, SK).
async fn raw_items(store: &DynamoStore) -> BTreeMap<(String, String), BTreeMap<String, AttributeValue>> {
    let mut all = BTreeMap::new();
    let mut start = None;
    loop {
        let out =
            store.client().scan().table_name(store.table()).set_exclusive_start_key(start).send().await.expect("scan");
        for item in out.items.unwrap_or_default() {
            let item: BTreeMap<String, AttributeValue> = item.into_iter().collect();
            all.insert((text(&item, "PK"), text(&item, "SK")), item);
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return all,
        }
    }
}

#[tokio::test]
async fn items_are_laid_out_as_designed() {
    let Fixture { store, .. } = fixture().await;
    let t = tenant("acme");
    let document = cpf(7);
    let (v1, opened) = open_order(&t, 1, document, at(0));
    let id = v1.id;
    store.create(&v1, &opened, None).await.unwrap();
    let (events, v2) = advance(&v1, Command::SendQuote, at(1));
    store.apply(1, &v2, &events, Some(&idem_record(&t, "key-1", at(1)))).await.unwrap();
    store.publish(&t, &flow_version(1), None).await.unwrap();
    let key = numbering("11222333000181", 1);
    assert_eq!(store.claim_number(&t, &key, &id).await.unwrap(), 1);
    store.save_invoice(&invoice_record(&t, &id, &key, 1, at(2)), 0).await.unwrap();
    store.next_order_number(&t).await.unwrap();

    let items = raw_items(&store).await;
    let order_pk = format!("T#acme#ORDER#{id}");
    let nfe_seq = "T#acme#SEQ#NFE#11222333000181#1".to_owned();
    let expected_keys: BTreeSet<(String, String)> = [
        (order_pk.clone(), "ORDER".to_owned()),
        (order_pk.clone(), "EVT#0000000001".to_owned()),
        (order_pk.clone(), "EVT#0000000002".to_owned()),
        (order_pk.clone(), "NFE#000000001#11222333000181#1".to_owned()),
        (order_pk.clone(), "CLAIM#NFE#11222333000181#1".to_owned()),
        ("T#acme#FLOW".to_owned(), "V#000001".to_owned()),
        ("T#acme#FLOW".to_owned(), "CURRENT".to_owned()),
        (nfe_seq.clone(), "SEQ".to_owned()),
        // Who holds number 1, and that it is still open (no final answer yet): under the sequence, by number.
        (nfe_seq.clone(), "NUM#000000001".to_owned()),
        (nfe_seq.clone(), "OPEN#000000001".to_owned()),
        ("T#acme#SEQ#ORDER".to_owned(), "SEQ".to_owned()),
        ("T#acme#IDEM#key-1".to_owned(), "IDEM".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(items.keys().cloned().collect::<BTreeSet<_>>(), expected_keys);

    // The order: its version, the index keys with fixed-width sortable timestamps, and the order itself packed in
    // `b1` (JSON deflated against the order dictionary, binary): nothing else, so that a step's write is billed on
    // few bytes.
    let order = &items[&(order_pk.clone(), "ORDER".to_owned())];
    assert_eq!(text(order, "entity"), "order");
    assert_eq!(number(order, "version"), "2");
    assert_eq!(text(order, "GSI1PK"), "T#acme#STATUS#aguardando_aprovacao");
    assert_eq!(text(order, "GSI1SK"), format!("2026-12-01T12:01:00.123456000Z#{id}"));
    assert_eq!(text(order, "GSI2PK"), format!("T#acme#CUST#{}", document.as_str()));
    assert_eq!(text(order, "GSI2SK"), format!("2026-12-01T12:00:00.123456000Z#{id}"));
    let Some(AttributeValue::B(body)) = order.get("b1") else { panic!("b1 is not binary") };
    let json = serde_json::to_vec(&v2).unwrap();
    assert!(body.as_ref().len() * 3 < json.len(), "packed: {} bytes for {} of JSON", body.as_ref().len(), json.len());
    let names: BTreeSet<&str> = order.keys().map(String::as_str).collect();
    // (GSI3: the stay in `aguardando_aprovacao` has an SLA deadline.)
    let expected = ["PK", "SK", "entity", "version", "b1", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK"];
    assert_eq!(names, expected.into());
    assert_eq!(store.get(&t, &id).await.unwrap(), Some(v2.clone()));

    // Events: self-contained for the stream relay.
    for (version, kind) in [(1u64, "order.opened"), (2, "order.quote_sent")] {
        let event = &items[&(order_pk.clone(), format!("EVT#{version:010}"))];
        assert_eq!(text(event, "entity"), "event");
        assert_eq!(text(event, "event_id"), format!("{id}:{version}"));
        assert_eq!(text(event, "type"), kind);
        assert_eq!(text(event, "tenant"), "acme");
        assert_eq!(text(event, "order_id"), id.to_string());
        assert_eq!(number(event, "version"), version.to_string());
        assert!(matches!(event.get("data"), Some(AttributeValue::M(_))));
        assert!(!event.contains_key("GSI1PK") && !event.contains_key("GSI2PK"), "events stay out of the indexes");
        let decoded = decode_event_image(event.clone().into_iter().collect::<std::collections::HashMap<_, _>>())
            .unwrap()
            .expect("an event image");
        assert_eq!(decoded.event_id, format!("{id}:{version}"));
        assert_eq!(decoded.event_type, kind);
        assert_eq!(decoded.order_id, id);
        let expected_event = if version == 1 { opened.clone() } else { events[0].clone() };
        assert_eq!(decoded.occurred_at, expected_event.at);
        assert_eq!(decoded.event, expected_event);
    }
    let not_an_event = order.clone().into_iter().collect::<std::collections::HashMap<_, _>>();
    assert_eq!(decode_event_image(not_an_event).unwrap(), None);

    // Flows, numbering, idempotency.
    let current = &items[&("T#acme#FLOW".to_owned(), "CURRENT".to_owned())];
    assert_eq!(number(current, "version"), "1");
    let counter = &items[&(nfe_seq.clone(), "SEQ".to_owned())];
    assert_eq!(number(counter, "last"), "1");
    let claim = &items[&(nfe_seq.clone(), "NUM#000000001".to_owned())];
    assert_eq!((text(claim, "order_id"), number(claim, "number")), (id.to_string(), "1".to_owned()));
    let open = &items[&(nfe_seq.clone(), "OPEN#000000001".to_owned())];
    assert_eq!(text(open, "order_id"), id.to_string());
    let invoice = &items[&(order_pk.clone(), "NFE#000000001#11222333000181#1".to_owned())];
    assert_eq!(number(invoice, "revision"), "1");
    assert_eq!(number(invoice, "number"), "1");
    let idem = &items[&("T#acme#IDEM#key-1".to_owned(), "IDEM".to_owned())];
    let expires = idem_record(&t, "key-1", at(1)).expires_at;
    assert_eq!(number(idem, "ttl"), (expires.timestamp() + 1).to_string(), "TTL rounds the expiry up");
    assert_eq!(number(idem, "expires_at_us"), expires.timestamp_micros().to_string());
    assert!(matches!(idem.get("b1"), Some(AttributeValue::B(_))), "the saved response is packed");
    // The company and the key are the item's key; nothing of the record twice.
    let names: BTreeSet<&str> = idem.keys().map(String::as_str).collect();
    let expected =
        ["PK", "SK", "entity", "request_hash", "status", "created_ns", "expires_ns", "expires_at_us", "ttl", "b1"];
    assert_eq!(names, expected.into());
    assert_eq!(store.get_idempotency(&t, "key-1", at(1)).await.unwrap(), Some(idem_record(&t, "key-1", at(1))));
    assert_eq!(number(&items[&("T#acme#SEQ#ORDER".to_owned(), "SEQ".to_owned())], "last"), "1");
}

#[tokio::test]
async fn dedupe_and_settings_items_are_laid_out_as_designed() {
    let Fixture { store, .. } = fixture().await;
    let t = tenant("acme");
    let lease = chrono::Duration::minutes(5);
    let claimed_at = at(0) + chrono::Duration::nanoseconds(7);
    let expires_at = at(60 * 24) + chrono::Duration::milliseconds(500);
    let done = dedupe_key(&t, "order-1:7", "email");
    assert_eq!(store.claim(&done, claimed_at, lease, expires_at).await.unwrap(), Claim::Claimed);
    let outcome = dedupe_outcome(false, "HTTP 410 Gone", at(1));
    store.complete(&done, &outcome).await.unwrap();
    let claimed = osflow_app::DedupeKey {
        tenant: t.clone(),
        consumer: "notifier".into(),
        event_id: "a#b%c".into(),
        channel: "webhook".into(),
    };
    assert_eq!(store.claim(&claimed, at(2), lease, expires_at).await.unwrap(), Claim::Claimed);
    store.put_notification_settings(&t, &full_notification_settings()).await.unwrap();

    let items = raw_items(&store).await;
    let done_pk = "T#acme#DEDUPE#notifier#order-1:7#email".to_owned();
    let claimed_pk = "T#acme#DEDUPE#notifier#a%23b%25c#webhook".to_owned();
    let expected_keys: BTreeSet<(String, String)> = [
        (done_pk.clone(), "DEDUPE".to_owned()),
        (claimed_pk.clone(), "DEDUPE".to_owned()),
        ("T#acme#SETTINGS".to_owned(), "NOTIFICATIONS".to_owned()),
    ]
    .into_iter()
    .collect();
    assert_eq!(items.keys().cloned().collect::<BTreeSet<_>>(), expected_keys);

    let record = &items[&(done_pk, "DEDUPE".to_owned())];
    assert_eq!(text(record, "entity"), "dedupe");
    assert_eq!(
        [text(record, "tenant"), text(record, "consumer"), text(record, "event_id"), text(record, "channel")],
        ["acme", "notifier", "order-1:7", "email"]
    );
    assert_eq!(number(record, "claimed_at_ns"), claimed_at.timestamp_nanos_opt().unwrap().to_string());
    assert_eq!(number(record, "expires_at_ns"), expires_at.timestamp_nanos_opt().unwrap().to_string());
    assert_eq!(number(record, "ttl"), (expires_at.timestamp() + 1).to_string(), "TTL rounds the expiry up");
    let Some(AttributeValue::M(stored_outcome)) = record.get("outcome") else { panic!("outcome is not a map") };
    assert_eq!(stored_outcome.get("ok"), Some(&AttributeValue::Bool(false)));
    assert_eq!(stored_outcome.get("detail"), Some(&AttributeValue::S("HTTP 410 Gone".into())));
    assert!(!record.contains_key("GSI1PK") && !record.contains_key("GSI2PK"));

    let record = &items[&(claimed_pk, "DEDUPE".to_owned())];
    assert_eq!(text(record, "event_id"), "a#b%c", "the key part in clear");
    assert!(!record.contains_key("outcome"), "a claim has no outcome");

    let settings = &items[&("T#acme#SETTINGS".to_owned(), "NOTIFICATIONS".to_owned())];
    assert_eq!(text(settings, "entity"), "notification_settings");
    assert_eq!(text(settings, "tenant"), "acme");
    let Some(AttributeValue::M(fields)) = settings.get("settings") else { panic!("settings is not a map") };
    assert_eq!(fields.get("company_name"), Some(&AttributeValue::S("Oficina Acme Ltda.".into())));
    assert_eq!(
        fields.get("channels"),
        Some(&AttributeValue::L(vec![AttributeValue::S("webhook".into()), AttributeValue::S("email".into())]))
    );
}

/// An expired record that TTL has not deleted yet (TTL deletion is lazy) is absent: a claim takes it over, and
/// the takeover drops the old outcome.
#[tokio::test]
async fn an_expired_record_still_in_the_table_is_absent() {
    let Fixture { store, .. } = fixture().await;
    let t = tenant("acme");
    let key = dedupe_key(&t, "order-1:1", "email");
    let lease = chrono::Duration::minutes(5);
    assert_eq!(store.claim(&key, at(0), lease, at(10)).await.unwrap(), Claim::Claimed);
    store.complete(&key, &dedupe_outcome(true, "sent", at(1))).await.unwrap();
    assert!(raw_items(&store).await.values().any(|item| item.contains_key("outcome")));
    assert_eq!(store.claim(&key, at(10), lease, at(100)).await.unwrap(), Claim::Claimed);
    let items = raw_items(&store).await;
    assert_eq!(items.len(), 1);
    let record = items.values().next().unwrap();
    assert!(!record.contains_key("outcome"), "the new claim replaced the expired record");
    assert_eq!(number(record, "expires_at_ns"), at(100).timestamp_nanos_opt().unwrap().to_string());
}

#[tokio::test]
async fn the_created_table_matches_its_definition() {
    let Fixture { store, .. } = fixture().await;
    let client = store.client();
    let def = table_definition(store.table());
    let table = client.describe_table().table_name(store.table()).send().await.unwrap().table.unwrap();
    let keys = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| -> Vec<(String, String)> {
        schema.iter().map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned())).collect()
    };
    assert_eq!(
        keys(table.key_schema()),
        vec![(def.partition_key.name.into(), "HASH".into()), (def.sort_key.name.into(), "RANGE".into())]
    );
    let attributes: BTreeSet<(String, String)> = table
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name().to_owned(), a.attribute_type().as_str().to_owned()))
        .collect();
    let expected: BTreeSet<(String, String)> =
        def.attribute_definitions.iter().map(|a| (a.name.to_owned(), a.attribute_type.as_str().to_owned())).collect();
    assert_eq!(attributes, expected);
    let mut indexes: Vec<_> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let projection = i.projection().and_then(|p| p.projection_type()).map(|p| p.as_str().to_owned());
            (i.index_name().unwrap().to_owned(), keys(i.key_schema()), projection)
        })
        .collect();
    indexes.sort();
    let expected: Vec<_> = def
        .global_secondary_indexes
        .iter()
        .map(|i| {
            (
                i.name.to_owned(),
                vec![
                    (i.partition_key.name.to_owned(), "HASH".to_owned()),
                    (i.sort_key.name.to_owned(), "RANGE".to_owned()),
                ],
                Some(i.projection.to_owned()),
            )
        })
        .collect();
    assert_eq!(indexes, expected);
    let stream = table.stream_specification().expect("streams enabled");
    assert!(stream.stream_enabled());
    assert_eq!(stream.stream_view_type().map(|v| v.as_str()), Some(def.stream_view_type));
    assert_eq!(table.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str()), Some(def.billing_mode));
    let ttl = client.describe_time_to_live().table_name(store.table()).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some(def.ttl_attribute));
    assert_eq!(ttl.time_to_live_status().map(|s| s.as_str()), Some("ENABLED"));
}

#[tokio::test]
async fn an_unreadable_stored_order_is_corrupt() {
    let Fixture { store, .. } = fixture().await;
    let t = tenant("acme");
    let id = new_order_id();
    store
        .client()
        .put_item()
        .table_name(store.table())
        .item("PK", AttributeValue::S(format!("T#acme#ORDER#{id}")))
        .item("SK", AttributeValue::S("ORDER".into()))
        .item("version", AttributeValue::S("not a number".into()))
        .send()
        .await
        .unwrap();
    assert!(matches!(store.get(&t, &id).await, Err(StoreError::Corrupt(_))));
}

// -------------------------------------------------------------------------------------------------------------
// Failures the emulator cannot produce: a mock HTTP client under the real SDK client
// -------------------------------------------------------------------------------------------------------------

/// A store whose every request is answered by `respond` (status, error type or body), with the SDK's standard
/// retries (3 attempts, short backoff); also returns the number of HTTP attempts.
fn mocked_store(status: u16, body: &'static str) -> (DynamoStore, Arc<AtomicUsize>) {
    let attempts = Arc::new(AtomicUsize::new(0));
    let seen = attempts.clone();
    let http = infallible_client_fn(move |_request| {
        seen.fetch_add(1, Ordering::SeqCst);
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .body(SdkBody::from(body))
            .unwrap()
    });
    let config = client_config("http://mock.invalid", http)
        .retry_config(RetryConfig::standard().with_max_attempts(3).with_initial_backoff(Duration::from_millis(1)))
        .build();
    (DynamoStore::new(Client::from_conf(config), "mock"), attempts)
}

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Unavailable(_)))
}

#[tokio::test]
async fn throttling_is_unavailable_after_the_sdk_retries() {
    let (store, attempts) = mocked_store(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#,
    );
    let result = store.get(&tenant("acme"), &new_order_id()).await;
    assert!(is_unavailable(&result), "{result:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 3, "the SDK retried the throttled request");
}

#[tokio::test]
async fn exceeded_throughput_and_request_limits_are_unavailable() {
    let t = tenant("acme");
    let (store, _) = mocked_store(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#,
    );
    let (v1, _) = open_order(&t, 1, cpf(1), at(0));
    let (events, v2) = advance(&v1, Command::SendQuote, at(1));
    let result = store.apply(1, &v2, &events, None).await;
    assert!(is_unavailable(&result), "{result:?}");

    let (store, _) =
        mocked_store(400, r#"{"__type":"com.amazonaws.dynamodb#RequestLimitExceeded","message":"account limit"}"#);
    let result = store.list_by_status(&t, &status("aberta"), &PageRequest::first(10)).await;
    assert!(is_unavailable(&result), "{result:?}");
    let result = store.claim_number(&t, &numbering("11222333000181", 1), &v1.id).await;
    assert!(is_unavailable(&result), "{result:?}");
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let (store, _) = mocked_store(500, r#"{"__type":"com.amazonaws.dynamodb#InternalServerError","message":"oops"}"#);
    let result = store.next_order_number(&tenant("acme")).await;
    assert!(is_unavailable(&result), "{result:?}");
}

#[tokio::test]
async fn a_transaction_throttled_or_in_conflict_is_unavailable() {
    let (store, attempts) = mocked_store(
        400,
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled","CancellationReasons":[{"Code":"TransactionConflict","Message":"conflict"},{"Code":"None"}]}"#,
    );
    let t = tenant("acme");
    let (v1, _) = open_order(&t, 1, cpf(1), at(0));
    let (events, v2) = advance(&v1, Command::SendQuote, at(1));
    let result = store.apply(1, &v2, &events, None).await;
    assert!(is_unavailable(&result), "{result:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 4, "the adapter resent the conflicting transaction");
}

#[tokio::test]
async fn a_validation_error_is_not_unavailable() {
    let (store, attempts) = mocked_store(
        400,
        r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid"}"#,
    );
    let result = store.get(&tenant("acme"), &new_order_id()).await;
    assert!(matches!(result, Err(StoreError::Other(_))), "{result:?}");
    assert_eq!(attempts.load(Ordering::SeqCst), 1, "not retried");
}

#[tokio::test]
async fn an_unreadable_item_is_corrupt() {
    let (store, _) =
        mocked_store(200, r#"{"Item":{"PK":{"S":"T#acme#ORDER#x"},"SK":{"S":"ORDER"},"version":{"S":"two"}}}"#);
    let result = store.get(&tenant("acme"), &new_order_id()).await;
    assert!(matches!(result, Err(StoreError::Corrupt(_))), "{result:?}");
}

#[tokio::test]
async fn a_timeout_is_unavailable() {
    let config = client_config("http://mock.invalid", NeverClient::new())
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(Duration::from_millis(50)).build())
        .build();
    let store = DynamoStore::new(Client::from_conf(config), "mock");
    let result = store.get(&tenant("acme"), &new_order_id()).await;
    assert!(is_unavailable(&result), "{result:?}");
    let result = store.timeline(&tenant("acme"), &new_order_id()).await;
    assert!(is_unavailable(&result), "{result:?}");
}

/// A DynamoDB that answers a failed claim condition without the stored item (no `AllOld`): the claim reads the
/// record with one consistent GetItem.
#[tokio::test]
async fn a_failed_claim_without_the_stored_record_reads_it() {
    let targets = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = targets.clone();
    let http = infallible_client_fn(move |request| {
        let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        seen.lock().unwrap().push(target.clone());
        let (status, body) = if target.ends_with("PutItem") {
            (
                400,
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException","message":"The conditional request failed"}"#,
            )
        } else {
            (
                200,
                r#"{"Item":{"PK":{"S":"T#acme#DEDUPE#notifier#o:1#email"},"SK":{"S":"DEDUPE"},"claimed_at_ns":{"N":"1000"},"expires_at_ns":{"N":"9000000000000000000"},"outcome":{"M":{"ok":{"BOOL":true},"detail":{"S":"sent"},"completed_at":{"S":"2026-12-01T12:00:00Z"}}}}}"#,
            )
        };
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .body(SdkBody::from(body))
            .unwrap()
    });
    let config = client_config("http://mock.invalid", http).retry_config(RetryConfig::disabled()).build();
    let store = DynamoStore::new(Client::from_conf(config), "mock");
    let t = tenant("acme");
    let answer = store.claim(&dedupe_key(&t, "o:1", "email"), at(0), chrono::Duration::minutes(5), at(60)).await;
    let completed_at = chrono::DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").unwrap().to_utc();
    assert_eq!(answer, Ok(Claim::Done(dedupe_outcome(true, "sent", completed_at))));
    assert_eq!(*targets.lock().unwrap(), ["DynamoDB_20120810.PutItem", "DynamoDB_20120810.GetItem"]);
}
