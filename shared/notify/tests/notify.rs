//! The notifier over the SQLite store: the default flow walked through the use cases, every envelope handed to
//! the notifier three times; e-mails in a temporary mailbox, webhooks to a local receiver that verifies the
//! signature.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDate, Utc};
use osflow_app::{
    App, Caller, Claim, DedupeKey, DedupeOutcome, DedupeStore, NotificationSettings, NotifyChannel, Outbox,
    SettingsStore, StepRequest, TemplateOverride,
};
use osflow_bus::{Consumer, Envelope, Queue, route};
use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{Command, Order, Role};
use osflow_lambda_kit::LocalBlobStore;
use osflow_notify::{
    HttpWebhookSender, MailboxSender, Notifier, NotifierDefaults, SIGNATURE_HEADER, SendPace, TIMESTAMP_HEADER,
    TemplateError, WebhookTargets, validate_overrides, verify,
};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::conformance::cpf;
use osflow_testkit::usecases::{no_render, notified_opening, open, step};
use osflow_testkit::{TestClock, Walk, caller, labor, part};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SECRET: &str = "segredo-do-webhook";

/// A webhook receiver on 127.0.0.1 that verifies every call's timestamp and signature.
struct Receiver {
    url: String,
    /// Bodies of the calls whose signature verified.
    calls: Arc<Mutex<Vec<serde_json::Value>>>,
    /// Calls refused for a bad signature or timestamp.
    bad: Arc<Mutex<u32>>,
    status: Arc<AtomicU16>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/osflow?token=abc", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let bad = Arc::new(Mutex::new(0));
        let status = Arc::new(AtomicU16::new(200));
        let (c, b, s) = (calls.clone(), bad.clone(), status.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                let (c, b, s) = (c.clone(), b.clone(), s.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        let n = sock.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "connection closed before the headers");
                        buf.extend_from_slice(&chunk[..n]);
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                    };
                    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
                    let header = |name: &str| {
                        head.lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                            })
                            .unwrap_or_default()
                    };
                    let len: usize = header("content-length").parse().unwrap();
                    while buf.len() < head_end + len {
                        let n = sock.read(&mut chunk).await.unwrap();
                        buf.extend_from_slice(&chunk[..n]);
                    }
                    let body = String::from_utf8(buf[head_end..head_end + len].to_vec()).unwrap();
                    let ts = header(TIMESTAMP_HEADER);
                    let fresh = ts.parse::<i64>().is_ok_and(|t| (Utc::now().timestamp() - t).abs() <= 300);
                    let signed = verify(SECRET, &ts, &body, &header(SIGNATURE_HEADER));
                    let code = if fresh && signed && head.starts_with("POST /hooks/osflow?token=abc ") {
                        c.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                        s.load(Ordering::SeqCst)
                    } else {
                        *b.lock().unwrap() += 1;
                        401
                    };
                    let reply = format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    sock.write_all(reply.as_bytes()).await.unwrap();
                });
            }
        });
        Receiver { url, calls, bad, status }
    }

    fn calls(&self) -> Vec<serde_json::Value> {
        self.calls.lock().unwrap().clone()
    }
}

struct World {
    app: App,
    store: Arc<SqliteStore>,
    notifier: Notifier,
    mailbox: tempfile::TempDir,
    _blobs: tempfile::TempDir,
    tenant: TenantId,
    caller: Caller,
}

impl World {
    async fn new(receiver: &Receiver) -> World {
        let store = Arc::new(SqliteStore::open_temporary().unwrap());
        let blobs = tempfile::tempdir().unwrap();
        let app = App::over(store.clone()).with_blobs(Arc::new(LocalBlobStore::new(
            blobs.path(),
            "http://127.0.0.1:1/blobs",
            b"k".to_vec(),
        )));
        let mailbox = tempfile::tempdir().unwrap();
        let notifier = Notifier {
            app: app.clone(),
            settings: store.clone(),
            dedupe: store.clone(),
            email: Arc::new(MailboxSender::new(mailbox.path())),
            // The receiver is on this machine: osflow-local's targets (http and loopback allowed).
            webhook: Arc::new(
                HttpWebhookSender::with_targets(std::time::Duration::from_secs(10), WebhookTargets::Local).unwrap(),
            ),
            defaults: NotifierDefaults {
                sender_name: "osflow".into(),
                sender_email: "nao-responda@osflow.local".into(),
            },
            links: None,
            pace: Arc::new(SendPace::unlimited()),
        };
        let tenant = TenantId::parse("oficina-do-ze").unwrap();
        let settings = NotificationSettings {
            company_name: Some("Oficina do Zé".into()),
            sender_email: Some("os@oficinadoze.com.br".into()),
            reply_to: Some("contato@oficinadoze.com.br".into()),
            webhook_url: Some(receiver.url.clone()),
            webhook_secret: Some(SECRET.into()),
            channels: vec![NotifyChannel::Email, NotifyChannel::Webhook],
            ..NotificationSettings::default()
        };
        store.put_notification_settings(&tenant, &settings).await.unwrap();
        let caller = caller(&tenant, "ze", &[Role::Representante]);
        World { app, store, notifier, mailbox, _blobs: blobs, tenant, caller }
    }

    async fn open(&self) -> OrderId {
        let items = vec![part("P-1", "Fonte", "1", "149.90"), labor("S-1", "Reparo", "1", "120.00")];
        let input = notified_opening(cpf(1), "joana@exemplo.com.br", items);
        open(&self.app, &self.caller, input).await
    }

    async fn step(&self, id: &OrderId, cmd: Command) {
        step(&self.app, &self.caller, id, cmd).await.unwrap();
    }

    /// The unrelayed events as envelopes (marked relayed).
    async fn envelopes(&self) -> Vec<Envelope> {
        let pending = self.store.pending(1000).await.unwrap();
        let seqs: Vec<u64> = pending.iter().map(|e| e.seq).collect();
        self.store.mark_relayed(&seqs, Utc::now()).await.unwrap();
        pending.iter().map(|e| Envelope::from_event(&e.tenant, &e.order_id, &e.event)).collect()
    }

    /// Hands every envelope routed to the notifications queue to the notifier `times` times; returns those
    /// envelopes and the results of the last round.
    async fn deliver(&self, times: usize) -> Vec<(Envelope, Result<(), String>)> {
        let mut out = Vec::new();
        for env in self.envelopes().await {
            if !route(&env).contains(&Queue::Notifications) {
                continue;
            }
            let mut last = Ok(());
            for _ in 0..times {
                last = self.notifier.handle(&env).await.map_err(|e| e.to_string());
            }
            out.push((env, last));
        }
        out
    }

    fn mails(&self) -> Vec<String> {
        mails(self.mailbox.path())
    }

    async fn order(&self, id: &OrderId) -> Order {
        self.app.get_order(&self.caller, id).await.unwrap()
    }
}

fn mails(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .map(|p| std::fs::read_to_string(p).unwrap())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn date(d: u32) -> NaiveDate {
    (Utc::now() + Duration::days(30)).date_naive().with_day0(0).unwrap() + Duration::days(i64::from(d))
}

use chrono::Datelike;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_default_flow_notifies_once_per_event_and_channel_even_when_delivered_three_times() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let id = w.open().await;
    let mut delivered = w.deliver(3).await;
    assert!(delivered.iter().all(|(_, r)| r.is_ok()));
    let steps = Walk::reference()
        .working(vec![Command::ChangeDueDate { due_date: date(12) }])
        .material(date(5), Some(date(9)))
        .tests_performed(None)
        .commands();
    for cmd in steps {
        w.step(&id, cmd).await;
        let round = w.deliver(3).await;
        for (env, r) in &round {
            assert!(r.is_ok(), "{}: {r:?}", env.kind);
        }
        delivered.extend(round);
    }
    // The notifier's own records reach the outbox but never the notifications queue.
    let recorded = w.envelopes().await;
    assert!(recorded.iter().all(|e| e.kind == "order.notification_sent" && !route(e).contains(&Queue::Notifications)));

    // The statuses that notify in the default flow, and the changed due and material dates.
    let expected_templates = [
        "awaiting_approval",
        "approved",
        "in_progress",
        "due_date_changed",
        "waiting_material",
        "material_date_changed",
        "in_progress",
        "finished",
        "validation",
        "awaiting_payment",
        "released",
        "closed",
    ];
    let calls = receiver.calls();
    assert_eq!(*receiver.bad.lock().unwrap(), 0);
    let templates: Vec<&str> = calls.iter().map(|c| c["template"].as_str().unwrap()).collect();
    assert_eq!(templates, expected_templates, "one webhook call per notifying event");
    let mails = w.mails();
    assert_eq!(mails.len(), expected_templates.len(), "one e-mail per notifying event");
    // Timeline: one entry per (event, channel).
    let order = w.order(&id).await;
    assert_eq!(order.notifications.len(), 2 * expected_templates.len());
    assert!(order.notifications.iter().all(|n| n.ok && n.error.is_none()));
    let timeline = w.app.timeline(&w.caller, &id).await.unwrap();
    let sent: Vec<_> = timeline.iter().filter(|e| e.change.type_name() == "order.notification_sent").collect();
    assert_eq!(sent.len(), 2 * expected_templates.len());
    assert!(
        sent.iter().all(|e| matches!(&e.actor, osflow_domain::Actor::System { component } if component == "notifier"))
    );
    let emails: Vec<_> = order.notifications.iter().filter(|n| n.channel == "email").collect();
    assert!(emails.iter().all(|n| n.to_masked == "jo***@exemplo.com.br"));
    let hooks: Vec<_> = order.notifications.iter().filter(|n| n.channel == "webhook").collect();
    assert!(hooks.iter().all(|n| n.to_masked.starts_with("http://127.0.0.1:") && !n.to_masked.contains("token")));
    assert_eq!(hooks.iter().map(|n| n.template.as_str()).collect::<Vec<_>>(), expected_templates);

    // The messages' content.
    let message = |t: &str| calls.iter().find(|c| c["template"] == t).unwrap()["message"].as_str().unwrap().to_owned();
    assert_eq!(
        message("awaiting_approval"),
        format!(
            "Olá, Joana Lima. O orçamento da OS {} (Notebook Dell) está pronto: R$ 269,90. Aguardamos a sua aprovação.",
            order.number
        )
    );
    let d5 = date(5).format("%d/%m/%Y").to_string();
    let d9 = date(9).format("%d/%m/%Y").to_string();
    assert!(
        message("waiting_material").contains(&format!("aguarda material: Fonte em falta. Previsão de chegada: {d5}."))
    );
    assert!(message("material_date_changed").contains(&format!("mudou para {d9}.")));
    let d12 = date(12).format("%d/%m/%Y").to_string();
    assert_eq!(
        message("due_date_changed"),
        format!(
            "Olá, Joana Lima. A data prevista para a entrega da OS {} (Notebook Dell) mudou para {d12}.",
            order.number
        )
    );
    assert!(message("awaiting_payment").contains("aguarda o pagamento de R$ 269,90."));
    assert!(message("closed").contains("encerrada"));
    // The e-mails: RFC 5322 headers, encoded-word subjects.
    for m in &mails {
        assert!(m.contains("\r\nTo: <joana@exemplo.com.br>\r\n"), "{m}");
        // The company's name, the platform's address: a company cannot send as another address of the platform's
        // identity (its own address is the Reply-To when it sets none).
        assert!(m.starts_with("From: =?UTF-8?B?"), "{m}");
        assert!(m.contains("<nao-responda@osflow.local>\r\n"), "{m}");
        assert!(!m.contains("From: os@oficinadoze.com.br") && !m.contains("<os@oficinadoze.com.br>\r\nReply"), "{m}");
        assert!(m.contains("Reply-To: <contato@oficinadoze.com.br>\r\n"));
        assert!(m.contains("Content-Type: text/plain; charset=utf-8\r\n"));
        assert!(m.is_ascii());
    }
    let orcamento = osflow_notify::encode_header(&format!("Orçamento da OS {}", order.number));
    assert!(mails.iter().any(|m| m.contains(&format!("Subject: {orcamento}\r\n"))));
    let new_date = osflow_notify::encode_header(&format!("Nova data prevista — OS {}", order.number));
    assert!(mails.iter().any(|m| m.contains(&format!("Subject: {new_date}\r\n"))));
    // Routed: the opening, the 12 notifying events and the payment (routed; its status kind does not notify).
    assert_eq!(delivered.len(), 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_webhook_fails_the_message_and_records_nothing_until_it_succeeds() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let id = w.open().await;
    w.deliver(1).await;
    receiver.status.store(500, Ordering::SeqCst);
    w.step(&id, Command::SendQuote).await;
    let round = w.deliver(3).await;
    assert_eq!(round.len(), 1);
    // A generic failure: the endpoint's answer is not shown back (no probe oracle).
    let error = round[0].1.as_ref().unwrap_err();
    assert!(error.contains("webhook") && !error.contains("500"), "{error}");
    // Three attempts reached the receiver (each failed); the e-mail went once; only the e-mail is recorded.
    assert_eq!(receiver.calls().len(), 3);
    assert_eq!(w.mails().len(), 1);
    let order = w.order(&id).await;
    assert_eq!(order.notifications.iter().map(|n| n.channel.as_str()).collect::<Vec<_>>(), ["email"]);
    // SQS redelivers once the endpoint is back: the webhook goes, the e-mail is not sent again.
    receiver.status.store(200, Ordering::SeqCst);
    let env = round[0].0.clone();
    w.notifier.handle(&env).await.unwrap();
    w.notifier.handle(&env).await.unwrap();
    assert_eq!(receiver.calls().len(), 4);
    assert_eq!(w.mails().len(), 1);
    let order = w.order(&id).await;
    let mut channels: Vec<&str> = order.notifications.iter().map(|n| n.channel.as_str()).collect();
    channels.sort_unstable();
    assert_eq!(channels, ["email", "webhook"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_webhook_refusing_with_4xx_is_recorded_as_failed_and_not_retried() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let id = w.open().await;
    w.deliver(1).await;
    receiver.status.store(410, Ordering::SeqCst);
    w.step(&id, Command::SendQuote).await;
    let round = w.deliver(3).await;
    assert!(round[0].1.is_ok());
    assert_eq!(receiver.calls().len(), 1);
    let order = w.order(&id).await;
    let hook = order.notifications.iter().find(|n| n.channel == "webhook").unwrap();
    assert!(!hook.ok);
    let error = hook.error.as_deref().unwrap();
    assert!(!error.contains("410"), "the endpoint's status is not shown back: {error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn company_overrides_are_used_and_bad_ones_refused() {
    let bad = BTreeMap::from([("closed".to_owned(), TemplateOverride { subject: None, body: "Oi {nome}".into() })]);
    assert_eq!(
        validate_overrides(&bad).unwrap_err(),
        TemplateError::UnknownVariable { template: "closed".into(), variable: "nome".into() }
    );
    let unclosed =
        BTreeMap::from([("closed".to_owned(), TemplateOverride { subject: Some("OS {os".into()), body: "x".into() })]);
    assert!(matches!(validate_overrides(&unclosed).unwrap_err(), TemplateError::Unclosed { .. }));
    let unknown = BTreeMap::from([("aberta".to_owned(), TemplateOverride { subject: None, body: "x".into() })]);
    assert!(matches!(validate_overrides(&unknown).unwrap_err(), TemplateError::UnknownTemplate { .. }));

    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let mut settings = w.store.notification_settings(&w.tenant).await.unwrap().unwrap();
    settings.templates.insert(
        "awaiting_approval".into(),
        TemplateOverride { subject: None, body: "{empresa}: orçamento da OS {os} = {valor}.{link}".into() },
    );
    validate_overrides(&settings.templates).unwrap();
    w.store.put_notification_settings(&w.tenant, &settings).await.unwrap();
    let id = w.open().await;
    w.deliver(1).await;
    w.step(&id, Command::SendQuote).await;
    w.deliver(1).await;
    let number = w.order(&id).await.number;
    assert_eq!(receiver.calls()[0]["message"], format!("Oficina do Zé: orçamento da OS {number} = R$ 269,90."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dedupe_claims_on_sqlite() {
    let store = SqliteStore::open_temporary().unwrap();
    let key = DedupeKey {
        tenant: TenantId::parse("acme").unwrap(),
        consumer: "notifier".into(),
        event_id: "o:2".into(),
        channel: "email".into(),
    };
    let t0 = Utc::now();
    let lease = Duration::seconds(120);
    let exp = t0 + Duration::days(1);
    assert_eq!(store.claim(&key, t0, lease, exp).await.unwrap(), Claim::Claimed);
    assert_eq!(
        store.claim(&key, t0 + Duration::seconds(10), lease, exp).await.unwrap(),
        Claim::InFlight { claimed_at: t0 }
    );
    // Another tenant's key is another record.
    let other = DedupeKey { tenant: TenantId::parse("outra").unwrap(), ..key.clone() };
    assert_eq!(store.claim(&other, t0, lease, exp).await.unwrap(), Claim::Claimed);
    // A claim older than the lease is taken over.
    let t1 = t0 + Duration::seconds(121);
    assert_eq!(store.claim(&key, t1, lease, exp).await.unwrap(), Claim::Claimed);
    let outcome = DedupeOutcome { ok: true, detail: "message id 1".into(), completed_at: t1 };
    store.complete(&key, &outcome).await.unwrap();
    store.release(&key).await.unwrap();
    assert_eq!(store.claim(&key, t1 + Duration::hours(1), lease, exp).await.unwrap(), Claim::Done(outcome));
    // A released claim is free at once.
    store.release(&other).await.unwrap();
    assert_eq!(store.claim(&other, t0 + Duration::seconds(1), lease, exp).await.unwrap(), Claim::Claimed);
    // Expired records are gone.
    assert_eq!(
        store.claim(&key, exp + Duration::seconds(1), lease, exp + Duration::days(1)).await.unwrap(),
        Claim::Claimed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sla_alert_is_e_mailed_to_the_company_once_not_to_the_customer() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let id = w.open().await;
    w.deliver(1).await;
    let before = w.mails().len();
    let calls_before = receiver.calls().len();

    // A day and more in `aberta` (24-hour limit in the default flow): the check raises the alert.
    let mut later = w.app.clone();
    later.clock = Arc::new(TestClock::at(Utc::now() + Duration::hours(25)));
    let actor = osflow_domain::Actor::System { component: "sla-check".into() };
    later.step_as(StepRequest::new(&w.tenant, actor, &id, Command::FlagSlaBreach), &no_render).await.unwrap();

    let delivered = w.deliver(3).await;
    assert_eq!(delivered.len(), 1, "the alert is routed to the notifications queue");
    assert!(delivered[0].1.is_ok(), "{:?}", delivered[0].1);
    let mails = w.mails();
    assert_eq!(mails.len(), before + 1, "one e-mail, however often it is delivered");
    let alert = mails
        .iter()
        .find(|m| m.contains("contato@oficinadoze.com.br") && !m.contains("joana@"))
        .unwrap_or_else(|| panic!("{mails:#?}"));
    assert!(alert.contains("contato@oficinadoze.com.br"), "to the company's reply-to: {alert}");
    assert!(!alert.contains("joana@exemplo.com.br"), "not to the customer: {alert}");
    let recorded = w.order(&id).await.notifications;
    assert!(recorded.iter().any(|n| n.template == "sla_breached" && n.ok), "{recorded:?}");
    assert_eq!(receiver.calls().len(), calls_before, "the alert is not sent to the company's WhatsApp/SMS webhook");
}

/// A TCP server that counts the connections it accepts and answers each with `reply`.
async fn counting_server(reply: String) -> (std::net::SocketAddr, Arc<AtomicU16>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicU16::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut chunk = [0u8; 4096];
                let _ = sock.read(&mut chunk).await;
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    (addr, hits)
}

fn call(url: &str) -> osflow_app::WebhookCall {
    osflow_app::WebhookCall { url: url.into(), secret: SECRET.into(), body: "{}".into() }
}

/// The production sender reaches public addresses only: the address a name resolves to is checked when the
/// connection is made (so a name that resolves to this machine, or is re-pointed after the settings were
/// saved, is refused), an address literal likewise, and plain http is refused. Nothing reaches the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_never_reaches_loopback_or_private_addresses() {
    use osflow_app::WebhookSender;
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned();
    let (addr, hits) = counting_server(ok).await;
    let port = addr.port();
    // The resolver's check alone (http allowed, so that the local server could answer if it were reached).
    let resolver_only =
        HttpWebhookSender::with_targets(std::time::Duration::from_secs(5), WebhookTargets::PublicAnyScheme).unwrap();
    for url in [
        format!("http://localhost:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://127.1:{port}/hook"),
        format!("http://2130706433:{port}/hook"),
    ] {
        let err = resolver_only.post(&call(&url)).await.expect_err(&url);
        assert!(matches!(err, osflow_app::SendError::Permanent(_)), "{url}: {err:?}");
    }
    // Parsed once: the host of this one is evil.example (as the request would go), never 127.0.0.1.
    let tricky = format!("http://evil.example\\@127.0.0.1:{port}/hook");
    assert!(resolver_only.post(&call(&tricky)).await.is_err());
    // The production sender: https only, the same addresses refused.
    let production = HttpWebhookSender::new(std::time::Duration::from_secs(5)).unwrap();
    for url in [format!("http://localhost:{port}/hook"), format!("https://localhost:{port}/hook")] {
        assert!(production.post(&call(&url)).await.is_err(), "{url}");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "a refused address was connected to");
    // The same server is reachable when loopback is allowed (osflow-local): the refusals above were the check's.
    let local = HttpWebhookSender::with_targets(std::time::Duration::from_secs(5), WebhookTargets::Local).unwrap();
    local.post(&call(&format!("http://localhost:{port}/hook"))).await.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

/// Redirects are not followed (a 3xx is a failure), wherever they point.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_does_not_follow_redirects() {
    use osflow_app::WebhookSender;
    let ok = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned();
    let (target, target_hits) = counting_server(ok).await;
    let redirect = format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{target}/internal\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let (redirector, hits) = counting_server(redirect).await;
    let local = HttpWebhookSender::with_targets(std::time::Duration::from_secs(5), WebhookTargets::Local).unwrap();
    let err = local.post(&call(&format!("http://{redirector}/hook"))).await.expect_err("a redirect is a failure");
    assert!(!format!("{err:?}").contains("307"), "generic: {err:?}");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(target_hits.load(Ordering::SeqCst), 0, "the redirect was followed");
}

/// E-mails are paced below the SES quota (a token bucket the process shares) and each company has its own
/// budget: one company's burst waits for its budget, not the others'.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn e_mails_are_paced_and_each_company_has_its_budget() {
    let acme = TenantId::parse("acme").unwrap();
    let beta = TenantId::parse("beta").unwrap();
    // 10 e-mails a second in all (burst 1), 3 at once per company then 1 per 10 s.
    let pace = SendPace::new(10.0, 1.0, 0.1, 3.0);
    let start = tokio::time::Instant::now();
    for _ in 0..3 {
        pace.admit(&acme).await.expect("within acme's budget");
    }
    // The 4th of acme is over its budget: refused with the wait (the message comes back later).
    let wait = pace.admit(&acme).await.expect_err("acme over its budget");
    assert!(wait > std::time::Duration::from_secs(5) && wait <= std::time::Duration::from_secs(10), "{wait:?}");
    // beta is not held by acme.
    pace.admit(&beta).await.expect("beta has its own budget");
    // The shared pace: 4 admitted at 10 per second took at least 0.3 s of (virtual) time.
    assert!(start.elapsed() >= std::time::Duration::from_millis(300), "{:?}", start.elapsed());
    tokio::time::advance(std::time::Duration::from_secs(10)).await;
    pace.admit(&acme).await.expect("acme's budget refilled");
}

/// When SES throttles a send, the process's next sends wait: the shared pace starts from a second's debt.
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_throttled_send_slows_the_shared_pace() {
    let acme = TenantId::parse("acme").unwrap();
    let pace = SendPace::new(10.0, 10.0, 100.0, 100.0);
    let start = tokio::time::Instant::now();
    pace.admit(&acme).await.expect("a full bucket");
    assert!(start.elapsed() < std::time::Duration::from_millis(10), "{:?}", start.elapsed());
    pace.throttled();
    let start = tokio::time::Instant::now();
    pace.admit(&acme).await.expect("within the longest wait");
    assert!(start.elapsed() >= std::time::Duration::from_millis(1_000), "{:?}", start.elapsed());
    // Throttled again and again: the debt grows past the longest wait, and a send is refused with it.
    for _ in 0..6 {
        pace.throttled();
    }
    let wait = pace.admit(&acme).await.expect_err("too far behind");
    assert!(wait > std::time::Duration::from_secs(5), "{wait:?}");
}

/// The default flow walked to payment with every message held (nothing delivered), as `--hold-events` or a
/// relay lag does: the envelopes routed to the notifier, in event order.
async fn walk_held(w: &World) -> (OrderId, Vec<Envelope>) {
    let id = w.open().await;
    for cmd in Walk::reference().working(vec![]).material(date(5), None).tests_performed(None).to_paid() {
        w.step(&id, cmd).await;
    }
    let envelopes = w.envelopes().await.into_iter().filter(|e| route(e).contains(&Queue::Notifications)).collect();
    (id, envelopes)
}

/// Messages sent late tell what happened at their event, not what is true now: the material wait names the
/// material and its date although it arrived since, the payment request the amount due then although it is
/// paid since.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn late_messages_render_the_order_as_of_their_event() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let (_, envelopes) = walk_held(&w).await;
    for env in &envelopes {
        w.notifier.handle(env).await.unwrap();
    }
    let calls = receiver.calls();
    let message = |t: &str| calls.iter().find(|c| c["template"] == t).unwrap()["message"].as_str().unwrap().to_owned();
    let d5 = date(5).format("%d/%m/%Y").to_string();
    assert!(
        message("waiting_material").contains(&format!("aguarda material: Fonte em falta. Previsão de chegada: {d5}.")),
        "{}",
        message("waiting_material")
    );
    assert!(
        message("awaiting_payment").contains("aguarda o pagamento de R$ 269,90."),
        "{}",
        message("awaiting_payment")
    );
}

/// One order's messages leave in the order of its events, however they are delivered: all at once, newest
/// first, each one waits for its predecessor's message and leaves after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_orders_messages_leave_in_event_order_whatever_the_delivery_order() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let (_, envelopes) = walk_held(&w).await;
    let mut tasks = Vec::new();
    for (i, env) in envelopes.iter().rev().cloned().enumerate() {
        let notifier = w.notifier.clone();
        tasks.push(tokio::spawn(async move { notifier.handle(&env).await.map_err(|e| e.to_string()) }));
        if i == 0 {
            // The newest is well on its way before any other starts.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let templates: Vec<String> = receiver.calls().iter().map(|c| c["template"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        templates,
        [
            "awaiting_approval",
            "approved",
            "in_progress",
            "waiting_material",
            "in_progress",
            "finished",
            "validation",
            "awaiting_payment"
        ]
    );
    assert_eq!(w.mails().len(), templates.len());
}

/// A quote revised while it waits for the customer is sent like the first one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_quote_revised_while_waiting_is_sent_again() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let id = w.open().await;
    w.step(&id, Command::SendQuote).await;
    w.deliver(1).await;
    let line = labor("S-2", "Reparo da placa", "1", "300.00");
    w.step(&id, Command::ReviseQuote { items: vec![line], due_date: None, discount: None }).await;
    for (env, r) in w.deliver(2).await {
        assert!(r.is_ok(), "{}: {r:?}", env.kind);
    }
    let calls = receiver.calls();
    let quotes: Vec<&serde_json::Value> = calls.iter().filter(|c| c["template"] == "awaiting_approval").collect();
    assert_eq!(quotes.len(), 2, "{calls:?}");
    assert!(quotes[1]["message"].as_str().unwrap().contains("R$ 300,00"), "{}", quotes[1]["message"]);
    assert_eq!(w.mails().len(), 2);
}

/// Staff resends the link: the quote's message again while it waits for the customer, the follow-up message
/// (by e-mail, whatever the status's channels) afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resent_link_is_sent_with_the_current_message() {
    let receiver = Receiver::start().await;
    let w = World::new(&receiver).await;
    let id = w.open().await;
    w.step(&id, Command::SendQuote).await;
    w.step(&id, Command::ResendLink).await;
    w.step(&id, osflow_testkit::conformance::approve()).await;
    w.step(&id, Command::Start).await;
    w.step(&id, Command::ResendLink).await;
    for (env, r) in w.deliver(2).await {
        assert!(r.is_ok(), "{}: {r:?}", env.kind);
    }
    let templates: Vec<String> = receiver.calls().iter().map(|c| c["template"].as_str().unwrap().to_owned()).collect();
    assert_eq!(templates, ["awaiting_approval", "awaiting_approval", "approved", "in_progress", "customer_link"]);
    let last = receiver.calls().last().unwrap()["message"].as_str().unwrap().to_owned();
    assert!(last.contains("Acompanhe a OS"), "{last}");
    assert_eq!(w.mails().len(), 5);
}
