//! The notifier function end to end on the emulator (moto): the wiring of `main.rs` (`osflow_fn_notifier::notifier`
//! over a fresh DynamoDB table, SES v2, the webhook client), an order sent for approval, its event published to a
//! fresh `notifications` queue, received from SQS and handed to the function three times: one e-mail in SES, one
//! `order.notification_sent` on the timeline; the e-mail's `{link}` is the customer's page with a decision token
//! signed by the portal key from Secrets Manager.
//!
//! Needs `AWS_ENDPOINT_URL` (set by `scripts/test`); without it this test fails saying so.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use aws_sdk_sqs::types::MessageSystemAttributeName;
use osflow_app::{NotificationSettings, OpenOrderInput};
use osflow_bus::{
    Delayed, Envelope, Queue, QueueUrls, SqsClient, SqsEvent, SqsPublisher, VisibilityBackoff, create_queues, queues,
    route,
};
use osflow_domain::values::{Document, TenantId};
use osflow_domain::{Change, Command, Role};
use osflow_fn_common::Env;
use osflow_notify::SesEmailSender;
use osflow_store_dynamodb::{DynamoStore, create_table, table_definition};
use osflow_testkit::emulator::{RUN_SCRIPTS_TEST, require_endpoint};
use osflow_testkit::sqs::lambda_record;
use osflow_testkit::usecases::{notified_opening, open, step};
use osflow_testkit::{caller, labor, unique};
use serde_json::Value;

/// The messages moto's SES recorded to `to`.
async fn emails_to(to: &str) -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", require_endpoint().trim().trim_end_matches('/'));
    let data: Value = http_get_json(&url).await;
    let all = data["ses"]["Message"].as_array().cloned().unwrap_or_default();
    all.into_iter().filter(|m| m["destinations"]["ToAddresses"][0] == to).collect()
}

/// A plain HTTP GET (the emulator's own API) with tokio only.
async fn http_get_json(url: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http:// emulator endpoint");
    let (authority, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut sock = tokio::net::TcpStream::connect(authority).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    sock.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    sock.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "{head}");
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    serde_json::from_str(&body).unwrap()
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// A fresh table and a fresh `notifications` queue on the emulator.
struct Fixture {
    table: String,
    store: DynamoStore,
    /// The queues' name prefix, `<kind>-<unique>-`.
    prefix: String,
    queue_url: String,
}

async fn fixture(sqs: &SqsClient, kind: &str) -> Fixture {
    let endpoint = require_endpoint();
    let table = format!("osflow-notifier-{}", unique());
    let store = DynamoStore::from_env(table.clone()).await;
    create_table(store.client(), &table_definition(&table), Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("creating table {table} on {endpoint}: {e}; {RUN_SCRIPTS_TEST}"));
    let prefix = format!("{kind}-{}-", unique());
    let specs: Vec<_> = queues().iter().filter(|s| s.queue == Queue::Notifications).cloned().collect();
    let queue_url = create_queues(sqs, &prefix, &specs).await.unwrap()[0].url.clone();
    Fixture { table, store, prefix, queue_url }
}

/// An order of one labor line for `email`'s customer.
fn order_input(email: &str) -> OpenOrderInput {
    notified_opening(Document::parse("529.982.247-25").unwrap(), email, vec![labor("S-1", "Reparo", "1", "269.90")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quote_sent_for_approval_is_emailed_once_when_sqs_delivers_it_three_times() {
    let sdk = osflow_bus::load_sdk_config().await;

    // The table, the sender identity, the queue.
    let sqs = SqsClient::new(&sdk);
    let Fixture { table, store, prefix, queue_url } = fixture(&sqs, "notifier").await;
    let sender = format!("nao-responda-{}@oficinadoze.com.br", unique());
    aws_sdk_sesv2::Client::new(&sdk).create_email_identity().email_identity(&sender).send().await.unwrap();
    let backoff = VisibilityBackoff::new(sqs.clone(), QueueUrls::new(sqs.clone(), prefix.clone(), []));

    // The function as main.rs wires it.
    // The portal key in Secrets Manager: the quote e-mail links to the customer's page.
    let key_secret = format!("osflow/test/portal-key-{}", unique());
    let key_value = format!("{}{}", unique(), unique());
    aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name(&key_secret)
        .secret_string(&key_value)
        .send()
        .await
        .expect("CreateSecret");
    let vars = |name: &str| match name {
        "OSFLOW_TABLE" => Some(table.clone()),
        "OSFLOW_BUCKET" => Some("osflow-notifier-test".to_owned()),
        "OSFLOW_SENDER_EMAIL" => Some(sender.clone()),
        "OSFLOW_PORTAL_URL" => Some("https://portal.example.com/".to_owned()),
        "OSFLOW_PORTAL_KEY_SECRET" => Some(key_secret.clone()),
        _ => None,
    };
    let env = Env::from_vars(vars).unwrap();
    assert!(osflow_fn_notifier::links(&env).await.unwrap().is_some(), "URL and key secret given");
    let bare = Env::from_vars(|_| None).unwrap();
    assert!(osflow_fn_notifier::links(&bare).await.unwrap().is_none(), "no portal configured");
    let notifier = osflow_fn_notifier::notifier(&env).await.unwrap();
    assert_eq!(notifier.defaults.sender_email, sender);

    // A company without a sender address of its own (the default is used), an order sent for approval.
    let tenant = TenantId::parse(&format!("oficina-{}", &unique()[..12])).unwrap();
    let settings =
        NotificationSettings { company_name: Some("Oficina do Zé".into()), ..NotificationSettings::default() };
    notifier.settings.put_notification_settings(&tenant, &settings).await.unwrap();
    let caller = caller(&tenant, "ze", &[Role::Representante]);
    let customer_email = format!("joana-{}@exemplo.com.br", unique());
    let input = order_input(&customer_email);
    let app = &notifier.app;
    let id = open(app, &caller, input).await;
    step(app, &caller, &id, Command::SendQuote).await.unwrap();
    let order = app.get_order(&caller, &id).await.unwrap();
    assert_eq!(order.status.as_str(), "aguardando_aprovacao");

    // Its event, as the outbox relay publishes it, received from SQS.
    let events = app.orders.timeline(&tenant, &id).await.unwrap();
    let quote_sent = events.iter().find(|e| matches!(e.change, Change::QuoteSent { .. })).expect("quote sent");
    let envelope = Envelope::from_event(&tenant, &id, quote_sent);
    assert!(route(&envelope).contains(&Queue::Notifications));
    let publisher = SqsPublisher::new(sqs.clone(), QueueUrls::new(sqs.clone(), prefix.clone(), []));
    publisher.publish(&[(Queue::Notifications, envelope.clone())]).await.unwrap();
    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(received.len(), 1);
    let mut event = SqsEvent::default();
    event.records = vec![lambda_record(&received[0])];

    // Delivered three times: every time handled, one e-mail.
    for delivery in 1..=3 {
        let response = osflow_fn_notifier::handle(event.clone(), &notifier, &backoff).await;
        assert!(response.batch_item_failures.is_empty(), "delivery {delivery}: {:?}", response.batch_item_failures);
    }
    let emails = emails_to(&customer_email).await;
    assert_eq!(emails.len(), 1, "one e-mail for three deliveries: {emails:?}");
    let email = &emails[0];
    assert!(email["source"].as_str().unwrap().ends_with(&format!(" <{sender}>")), "{email}");
    assert!(email["source"].as_str().unwrap().starts_with("=?UTF-8?B?"), "Oficina do Zé, encoded: {email}");
    assert!(email["body"].as_str().unwrap().contains("Joana"), "{email}");
    // `{link}`: a decision link for revision 1 of this order, signed with the secret's key.
    let body = email["body"].as_str().unwrap();
    let at = body.find("https://portal.example.com/p/").unwrap_or_else(|| panic!("no page link: {email}"));
    let token = body[at + "https://portal.example.com/p/".len()..].split_whitespace().next().unwrap();
    let claims =
        osflow_portal::PortalKey::new(key_value.into_bytes()).unwrap().verify(token, chrono::Utc::now()).unwrap();
    assert_eq!((claims.tenant, claims.order), (tenant.clone(), id));
    assert_eq!(claims.purpose, osflow_portal::Purpose::Decide { revision: 1 });

    // One record on the timeline, ok.
    let sent: Vec<_> = app
        .orders
        .timeline(&tenant, &id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.change {
            Change::NotificationSent { channel, ok, .. } => Some((channel, ok)),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![("email".to_owned(), true)]);

    sqs.delete_queue().queue_url(&queue_url).send().await.unwrap();
    store.client().delete_table().table_name(&table).send().await.unwrap();
}

/// SES v2 on a scripted HTTP client (the one failure the emulator cannot produce): `TooManyRequestsException`
/// ("Maximum sending rate exceeded.", HTTP 429) while `throttling` is set, a sent message otherwise. Counts the
/// `SendEmail` requests.
fn scripted_ses(throttling: Arc<AtomicBool>, sends: Arc<AtomicUsize>) -> aws_sdk_sesv2::Client {
    let http = aws_smithy_http_client::test_util::infallible_client_fn(move |request| {
        assert!(request.uri().to_string().ends_with("/v2/email/outbound-emails"), "{}", request.uri());
        sends.fetch_add(1, Ordering::SeqCst);
        let (status, error_type, body) = if throttling.load(Ordering::SeqCst) {
            (429, Some("TooManyRequestsException"), r#"{"message":"Maximum sending rate exceeded."}"#.to_owned())
        } else {
            (200, None, format!(r#"{{"MessageId":"scripted-{}"}}"#, unique()))
        };
        let mut answer = http::Response::builder().status(status).header("content-type", "application/json");
        if let Some(t) = error_type {
            answer = answer.header("x-amzn-ErrorType", t);
        }
        answer.body(body).unwrap()
    });
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
        .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new("test", "test", None, None, "test"))
        .endpoint_url("http://ses.scripted.invalid")
        // The SDK's own retries are not what is tested: one request per send.
        .retry_config(aws_sdk_sesv2::config::retry::RetryConfig::disabled())
        .http_client(http)
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// Receives one message of `queue_url` within `wait` (with a 1 s visibility), or `None`.
async fn receive_one(sqs: &SqsClient, queue_url: &str, wait: Duration) -> Option<aws_sdk_sqs::types::Message> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(1)
            .visibility_timeout(1)
            .wait_time_seconds(i32::try_from(left.as_secs().min(2)).unwrap())
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if let Some(m) = received.into_iter().next() {
            return Some(m);
        }
        if left.is_zero() {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// SES throttles the notifier: the message is reported as a batch item failure (not deleted) and hidden with
/// ChangeMessageVisibility for a delay that grows with its receives, checked against the emulator's SQS (received
/// with a 1 s visibility, the message stays hidden well beyond it); once SES takes sends again, the same message
/// is delivered, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_ses_throttles_comes_back_after_a_growing_back_off_and_is_sent_once() {
    let sdk = osflow_bus::load_sdk_config().await;
    let sqs = SqsClient::new(&sdk);
    let Fixture { table, store, prefix, queue_url } = fixture(&sqs, "throttled").await;
    let urls = QueueUrls::new(sqs.clone(), prefix.clone(), [(Queue::Notifications, queue_url.clone())]);
    // Short delays so that the test sees two of them: 4 s, then 8 s.
    let backoff =
        VisibilityBackoff::new(sqs.clone(), urls.clone()).with_delays(Duration::from_secs(4), Duration::from_secs(60));

    let vars = |name: &str| match name {
        "OSFLOW_TABLE" => Some(table.clone()),
        "OSFLOW_BUCKET" => Some("osflow-notifier-test".to_owned()),
        "OSFLOW_SENDER_EMAIL" => Some("nao-responda@oficinadoze.com.br".to_owned()),
        _ => None,
    };
    let mut notifier = osflow_fn_notifier::notifier(&Env::from_vars(vars).unwrap()).await.unwrap();
    let (throttling, sends) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicUsize::new(0)));
    notifier.email = Arc::new(SesEmailSender::new(scripted_ses(throttling.clone(), sends.clone())));

    let tenant = TenantId::parse(&format!("oficina-{}", &unique()[..12])).unwrap();
    let caller = caller(&tenant, "ze", &[Role::Representante]);
    let app = notifier.app.clone();
    let id = open(&app, &caller, order_input("joana@exemplo.com.br")).await;
    step(&app, &caller, &id, Command::SendQuote).await.unwrap();
    let events = app.orders.timeline(&tenant, &id).await.unwrap();
    let quote_sent = events.iter().find(|e| matches!(e.change, Change::QuoteSent { .. })).expect("quote sent");
    let publisher = SqsPublisher::new(sqs.clone(), urls);
    publisher.publish(&[(Queue::Notifications, Envelope::from_event(&tenant, &id, quote_sent))]).await.unwrap();
    let sent_records = || async {
        let timeline = app.orders.timeline(&tenant, &id).await.unwrap();
        timeline.into_iter().filter(|e| matches!(e.change, Change::NotificationSent { .. })).count()
    };

    for (receive, delay) in [(1u32, 4u64), (2, 8)] {
        let message = receive_one(&sqs, &queue_url, Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("receive {receive}: the message came back"));
        let count = message.attributes().and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount));
        assert_eq!(count.map(String::as_str), Some(receive.to_string().as_str()));
        let mut event = SqsEvent::default();
        event.records = vec![lambda_record(&message)];
        let done = osflow_fn_notifier::handle_detailed(event, &notifier, &backoff).await;
        let failed: Vec<_> = done.response.batch_item_failures.iter().map(|f| f.item_identifier.clone()).collect();
        assert_eq!(failed, vec![message.message_id().unwrap().to_owned()], "not deleted: reported as failed");
        assert_eq!(
            done.delayed,
            vec![Delayed {
                message_id: message.message_id().unwrap().to_owned(),
                receive_count: receive,
                delay: Duration::from_secs(delay),
                changed: true,
            }]
        );
        assert_eq!(sends.load(Ordering::SeqCst), receive as usize, "one SendEmail per receive");
        assert_eq!(sent_records().await, 0, "nothing recorded as sent");
        // Received with a 1 s visibility: without the back-off it would be back by now.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(
            receive_one(&sqs, &queue_url, Duration::ZERO).await.is_none(),
            "receive {receive}: the message is hidden for its back-off"
        );
    }

    // SES takes sends again: the message comes back after its back-off and is sent, once.
    throttling.store(false, Ordering::SeqCst);
    let message = receive_one(&sqs, &queue_url, Duration::from_secs(30)).await.expect("the message came back");
    let mut event = SqsEvent::default();
    event.records = vec![lambda_record(&message)];
    let done = osflow_fn_notifier::handle_detailed(event, &notifier, &backoff).await;
    assert!(done.response.batch_item_failures.is_empty(), "{:?}", done.response.batch_item_failures);
    assert!(done.delayed.is_empty());
    assert_eq!(sends.load(Ordering::SeqCst), 3);
    assert_eq!(sent_records().await, 1);

    sqs.delete_queue().queue_url(&queue_url).send().await.unwrap();
    store.client().delete_table().table_name(&table).send().await.unwrap();
}
