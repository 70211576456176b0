//! The reporter and the report use cases on the SQLite store: events counted once whatever the delivery, the
//! summary's numbers, roles, generated files that parse, the announcement sent once, and the cost of a summary
//! over a year with 100,000 orders (store reads counted; the time printed, never asserted).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use osflow_app::{
    App, AppError, Caller, EmailMessage, EmailSender, NotificationSettings, OrderStore, ReportPeriod, ReportRecord,
    ReportStore, SendError, SettingsStore, StoreResult, StoredDay,
};
use osflow_bus::Envelope;
use osflow_domain::report::{DayAggregate, contribution, report_day};
use osflow_domain::values::{Money, TenantId};
use osflow_domain::{Command, Event, Order, Role};
use osflow_lambda_kit::LocalBlobStore;
use osflow_reports::{
    Announcer, Job, JobSink, ReportError, Reporter, Schedule, Trigger, generate, get_report, list_reports, period_of,
    report_file, run_schedule, summary,
};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::conformance::{advance, at, cpf, note, open_order, tenant};
use osflow_testkit::walk::december;
use osflow_testkit::{TestClock, Walk, money};

/// Counts the calls of the report store and the items they return, and whether any order was read.
struct Counting {
    inner: Arc<SqliteStore>,
    calls: Mutex<BTreeMap<&'static str, u64>>,
    items: Mutex<u64>,
}

impl Counting {
    fn hit(&self, op: &'static str, items: usize) {
        *self.calls.lock().unwrap().entry(op).or_default() += 1;
        *self.items.lock().unwrap() += items as u64;
    }
}

#[async_trait]
impl ReportStore for Counting {
    async fn day(&self, t: &TenantId, d: NaiveDate) -> StoreResult<Option<StoredDay>> {
        self.hit("day", 1);
        self.inner.day(t, d).await
    }
    async fn days(&self, t: &TenantId, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DayAggregate>> {
        let out = self.inner.days(t, from, to).await?;
        self.hit("days", out.len());
        Ok(out)
    }
    async fn active_tenants(&self, d: NaiveDate) -> StoreResult<Vec<TenantId>> {
        self.hit("active_tenants", 1);
        self.inner.active_tenants(d).await
    }
    async fn event_counted(&self, t: &TenantId, e: &str) -> StoreResult<bool> {
        self.hit("event_counted", 1);
        self.inner.event_counted(t, e).await
    }
    async fn count_event(&self, t: &TenantId, e: &str, a: &DayAggregate, v: u64) -> StoreResult<()> {
        self.hit("count_event", 1);
        self.inner.count_event(t, e, a, v).await
    }
    async fn save_report(&self, r: &ReportRecord) -> StoreResult<()> {
        self.hit("save_report", 1);
        self.inner.save_report(r).await
    }
    async fn report(&self, t: &TenantId, id: &str) -> StoreResult<Option<ReportRecord>> {
        self.hit("report", 1);
        self.inner.report(t, id).await
    }
    async fn reports(&self, t: &TenantId, limit: u32) -> StoreResult<Vec<ReportRecord>> {
        self.hit("reports", 1);
        self.inner.reports(t, limit).await
    }
}

/// Records the e-mails.
#[derive(Default)]
struct Outbox(Mutex<Vec<EmailMessage>>);

#[async_trait]
impl EmailSender for Outbox {
    async fn send_email(&self, m: &EmailMessage) -> Result<String, SendError> {
        let mut sent = self.0.lock().unwrap();
        sent.push(m.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

struct World {
    app: App,
    store: Arc<SqliteStore>,
    counting: Arc<Counting>,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path().join("osflow.db")).unwrap());
    let counting = Arc::new(Counting { inner: store.clone(), calls: Mutex::default(), items: Mutex::default() });
    let app = App::over(store.clone())
        .with_blobs(Arc::new(LocalBlobStore::new(dir.path().join("blobs"), "http://127.0.0.1:1/blobs", b"k".to_vec())))
        .with_reports(counting.clone());
    World { app, store, counting, _dir: dir }
}

fn caller(t: &TenantId, role: Role) -> Caller {
    osflow_testkit::caller(t, "u-1", &[role])
}

/// Walks an order through `steps` (one hour apart from `start` minutes), storing every step; returns its events.
async fn walk(w: &World, t: &TenantId, n: u64, start: i64, steps: Vec<Command>) -> Vec<Event> {
    let (mut order, opened): (Order, Event) = open_order(t, n, cpf(n as u32), at(start));
    w.store.create(&order, &opened, None).await.unwrap();
    let mut events = vec![opened];
    for (i, cmd) in steps.into_iter().enumerate() {
        let (new, next) = advance(&order, cmd, at(start + 60 * (i as i64 + 1)));
        w.store.apply(order.version, &next, &new, None).await.unwrap();
        events.extend(new);
        order = next;
    }
    events
}

/// The reference example's walk without its note and its material date change.
fn full_flow() -> Vec<Command> {
    Walk::reference().working(vec![]).material(december(5), None).tests_performed(None).commands()
}

/// Three orders: one through the whole flow, one cancelled, one only opened (plus a note). Their envelopes.
async fn three_orders(w: &World, t: &TenantId) -> Vec<Envelope> {
    let a = walk(w, t, 1, 0, full_flow()).await;
    let b =
        walk(w, t, 2, 30, vec![Command::SendQuote, Command::Cancel { reason: "Desistiu".into(), refund: None }]).await;
    let c = walk(w, t, 3, 45, vec![note("Aguardando cliente trazer o carregador")]).await;
    let mut envelopes = Vec::new();
    for events in [a, b, c] {
        let id = match &events[0].change {
            osflow_domain::Change::Opened(o) => o.id,
            _ => unreachable!(),
        };
        envelopes.extend(events.iter().map(|e| Envelope::from_event(t, &id, e)));
    }
    envelopes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_count_once_in_any_order_and_the_summary_has_the_walked_numbers() {
    let w = world();
    let t = tenant("oficina");
    let envelopes = three_orders(&w, &t).await;
    let reporter = Reporter::new(w.app.clone());
    // Reversed (later versions first), then everything again: every event counts once. One at a time, as the
    // reports queue hands a company's messages (a FIFO group per company: its day is never raced for).
    let mut delivery: Vec<Envelope> = envelopes.iter().rev().cloned().collect();
    delivery.extend(envelopes.iter().cloned());
    for e in delivery {
        reporter.count(&e.tenant, &e.order_id, e.version).await.unwrap();
    }

    let day = report_day(at(0));
    let rep = caller(&t, Role::Representante);
    let s = summary(&w.app, &rep, day, day).await.unwrap();
    assert_eq!((s.opened, s.approved, s.cancelled, s.closed, s.material_waits), (3, 1, 1, 1, 1));
    assert_eq!(s.material_wait_secs, 3600);
    let revenue = s.revenue.clone().unwrap();
    assert_eq!(revenue.total, money("269.90"));
    assert_eq!(revenue.by_method.get("pix"), Some(&money("269.90")));
    assert_eq!(revenue.average_ticket, Some(money("269.90")));
    let exec = s.statuses.iter().find(|x| x.status.as_str() == "em_execucao").unwrap();
    // Entered twice (start, material arrived), left twice, one hour each time.
    assert_eq!((exec.entered, exec.left, exec.total_secs, exec.avg_secs), (2, 2, 7200, Some(3600)));
    // The same answer as folding the contributions directly.
    let mut direct = DayAggregate::new(day);
    for e in &envelopes {
        let history: Vec<Event> =
            envelopes.iter().filter(|x| x.order_id == e.order_id).map(|x| x.data.clone()).collect();
        direct.merge(&contribution(&history, e.version, &Default::default()).unwrap());
    }
    assert_eq!(w.store.day(&t, day).await.unwrap().unwrap().aggregate, direct);

    // Roles: a technician sees the summary without revenue and no generated reports.
    let tec = caller(&t, Role::Tecnico);
    assert!(summary(&w.app, &tec, day, day).await.unwrap().revenue.is_none());
    assert!(matches!(list_reports(&w.app, &tec, 10).await, Err(ReportError::App(AppError::Forbidden { .. }))));
    // A period that ends before it starts names the field.
    assert!(matches!(
        summary(&w.app, &rep, day, day - Duration::days(1)).await,
        Err(ReportError::Period { field: "to", .. })
    ));
    assert!(matches!(
        summary(&w.app, &rep, day - Duration::days(400), day).await,
        Err(ReportError::Period { field: "from", .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_schedule_generates_parsable_files_and_announces_once() {
    let w = world();
    let t = tenant("oficina");
    let reporter = Reporter::new(w.app.clone());
    for e in three_orders(&w, &t).await {
        reporter.count(&e.tenant, &e.order_id, e.version).await.unwrap();
    }
    let settings = NotificationSettings { reply_to: Some("dono@oficina.com.br".into()), ..Default::default() };
    w.store.put_notification_settings(&t, &settings).await.unwrap();
    let outbox = Arc::new(Outbox::default());
    let announcer = Announcer {
        dedupe: w.store.clone(),
        email: outbox.clone(),
        sender_name: "osflow".into(),
        sender_email: "relatorios@osflow.local".into(),
    };
    // The day after the orders: yesterday's report.
    let now: DateTime<Utc> = at(0) + Duration::days(1);
    assert_eq!(period_of(Schedule::Daily, now), (report_day(at(0)), report_day(at(0))));
    let made = run_schedule(&w.app, Schedule::Daily, now, Some(&announcer)).await.unwrap();
    assert_eq!(made.len(), 1);
    let id = made[0].id.clone();
    assert_eq!(id, format!("daily-{}", report_day(at(0))));
    // A rerun (a retried schedule) replaces the report and sends nothing new.
    run_schedule(&w.app, Schedule::Daily, now, Some(&announcer)).await.unwrap();
    let sent = outbox.0.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "dono@oficina.com.br");
    assert!(sent[0].subject.starts_with("Relatório diário"), "{}", sent[0].subject);
    assert!(sent[0].body.contains(&format!("/v1/reports/{id}/files/report.csv")));

    let fin = caller(&t, Role::Financeiro);
    let listed = list_reports(&w.app, &fin, 10).await.unwrap();
    assert_eq!(listed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec![id.as_str()]);
    let record = get_report(&w.app, &fin, &id).await.unwrap();
    assert_eq!(record.period, ReportPeriod::Daily);
    assert_eq!((record.summary.opened, record.summary.closed), (3, 1));

    // The CSV: a header and `section,key,metric,value` lines with the numbers.
    let csv = report_file(&w.app, &fin, &id, "report.csv").await.unwrap();
    assert!(csv.content_type.starts_with("text/csv"));
    let text = String::from_utf8(csv.bytes).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], vec!["section", "key", "metric", "value"]);
    assert!(rows.iter().all(|r| r.len() == 4));
    assert!(rows.contains(&vec!["totals", "", "opened", "3"]));
    assert!(rows.contains(&vec!["revenue", "pix", "amount", "269.90"]));
    // The charts are SVG documents with the bars and the lines.
    for (file, must_have) in [("time-per-stage.svg", "rect"), ("opened-closed.svg", "polyline")] {
        let svg = report_file(&w.app, &fin, &id, file).await.unwrap();
        assert_eq!(svg.content_type, "image/svg+xml");
        let elements = svg_elements(&svg.bytes);
        assert_eq!(elements.first().map(String::as_str), Some("svg"), "{file}");
        assert!(elements.iter().any(|e| e == must_have), "{file}: {elements:?}");
    }
    let bars = String::from_utf8(report_file(&w.app, &fin, &id, "time-per-stage.svg").await.unwrap().bytes).unwrap();
    assert!(bars.contains("#D6332B") || bars.contains("#d6332b"), "the bottleneck bar is highlighted");
    // A file the report does not have.
    assert!(matches!(report_file(&w.app, &fin, &id, "other.svg").await, Err(ReportError::App(AppError::NotFound))));
    // A custom report of the same day is another report, not announced.
    let custom = generate(&w.app, &t, ReportPeriod::Custom, report_day(at(0)), report_day(at(0)), Some(&announcer))
        .await
        .unwrap();
    assert_eq!(custom.id, format!("custom-{0}-{0}", report_day(at(0))));
    assert_eq!(outbox.0.lock().unwrap().len(), 1);
}

/// The element names of an SVG document, in order (quick-xml: it must parse).
fn svg_elements(bytes: &[u8]) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut names = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).expect("the SVG parses") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                names.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap())
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_summary_of_100000_orders_reads_one_item_per_day() {
    let w = world();
    let t = tenant("grande");
    // 100,000 synthetic orders over 365 days, each opened, started, finished and closed with a payment; their
    // aggregates built with the domain's contribution (as the reporter does) and stored one row per day.
    let start = Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap();
    let built = Instant::now();
    let mut days: BTreeMap<NaiveDate, DayAggregate> = BTreeMap::new();
    let template = walk(&w, &tenant("modelo"), 1, 0, full_flow()).await;
    for i in 0..100_000u32 {
        let shift = Duration::minutes(i64::from(i) * 365 * 24 * 60 / 100_000);
        let base = template[0].at;
        let history: Vec<Event> =
            template.iter().map(|e| Event { at: start + shift + (e.at - base), ..e.clone() }).collect();
        for e in &history {
            let c = contribution(&history, e.version, &Default::default()).unwrap();
            days.entry(c.day).or_insert_with(|| DayAggregate::new(c.day)).merge(&c);
        }
    }
    for (i, aggregate) in days.values().enumerate() {
        w.store.count_event(&t, &format!("synthetic:{i}"), aggregate, 0).await.unwrap();
    }
    let build_time = built.elapsed();

    *w.counting.calls.lock().unwrap() = BTreeMap::new();
    *w.counting.items.lock().unwrap() = 0;
    let (from, to) = (report_day(start), report_day(start) + Duration::days(365));
    let timer = Instant::now();
    let s = summary(&w.app, &caller(&t, Role::Representante), from, to).await.unwrap();
    let took = timer.elapsed();
    assert_eq!((s.opened, s.closed), (100_000, 100_000));
    assert_eq!(s.revenue.unwrap().total, Money::from_cents(26_990 * 100_000).unwrap());
    // One query, one item per day with activity (at most 366), no order read: the cost is O(days × statuses).
    let calls = w.counting.calls.lock().unwrap().clone();
    assert_eq!(calls, BTreeMap::from([("days", 1)]));
    let items = *w.counting.items.lock().unwrap();
    assert!(items <= 366, "{items} items read");
    println!(
        "summary of a year with 100000 orders: {items} day items read in {took:?} (aggregates built and stored in \
         {build_time:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_over_its_status_limit_raises_one_alert_per_stay() {
    let w = world();
    let t = tenant("oficina-sla");
    // Quote sent at minute 60: `aguardando_aprovacao` has a 72-hour limit in the default flow.
    let events = walk(&w, &t, 1, 0, vec![Command::SendQuote]).await;
    let id = match &events[0].change {
        osflow_domain::Change::Opened(o) => o.id,
        _ => unreachable!(),
    };
    let reporter = Reporter::new(w.app.clone());
    for e in &events {
        reporter.count(&t, &id, e.version).await.unwrap();
    }
    let sent_at = at(60);
    // The check at an instant: the app with a clock stopped there.
    let check = |hours: i64| {
        let mut app = w.app.clone();
        app.clock = Arc::new(TestClock::at(sent_at + chrono::Duration::hours(hours)));
        async move { osflow_reports::check_sla(&app).await.unwrap() }
    };

    // Within the limit: nothing.
    assert_eq!(check(71).await, 0);
    // Over it: one alert, and only one however often the check runs.
    assert_eq!(check(73).await, 1);
    assert_eq!(check(73).await, 0);
    assert_eq!(check(24 * 6).await, 0);

    let timeline = w.app.orders.timeline(&t, &id).await.unwrap();
    let alerts: Vec<&Event> =
        timeline.iter().filter(|e| matches!(e.change, osflow_domain::Change::SlaBreached { .. })).collect();
    assert_eq!(alerts.len(), 1, "{timeline:?}");
    let osflow_domain::Change::SlaBreached { since, limit_hours } = &alerts[0].change else { unreachable!() };
    assert_eq!((*since, *limit_hours), (sent_at, 72));
    assert_eq!(alerts[0].status_after.as_str(), "aguardando_aprovacao", "the alert changes no status");
    // It leaves through the outbox to the notifications queue (the notifier e-mails the company).
    let envelope = Envelope::from_event(&t, &id, alerts[0]);
    assert!(osflow_bus::route(&envelope).contains(&osflow_bus::Queue::Notifications));
    let order = w.app.orders.get(&t, &id).await.unwrap().unwrap();
    assert_eq!(order.sla_alerted_since, Some(sent_at));

    // The customer approves after 80 hours: the stay ends over its limit and the day of the decision counts one
    // breach — the default flow's limits (flow version 1, never stored) apply.
    let decided_at = sent_at + chrono::Duration::hours(80);
    let (new, next) = advance(&order, osflow_testkit::conformance::approve(), decided_at);
    w.store.apply(order.version, &next, &new, None).await.unwrap();
    for e in &new {
        reporter.count(&t, &id, e.version).await.unwrap();
    }
    let day = w.store.day(&t, report_day(decided_at)).await.unwrap().expect("the decision's day");
    assert_eq!(day.aggregate.sla_breaches, 1, "{:?}", day.aggregate);
}

/// The CSV is written by a CSV writer: commas, quotes and line breaks in a cell survive (quoted), a cell that a
/// spreadsheet would run as a formula (`= + - @`) is neutralized with a leading apostrophe, and `;` is offered
/// for pt-BR spreadsheets (where `,` is the decimal separator).
#[test]
fn the_csv_quotes_cells_neutralizes_formulas_and_offers_semicolons() {
    use osflow_domain::report::{DayAggregate, Summary};
    use osflow_reports::render::{CsvDelimiter, csv_with};
    let day = NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
    let mut agg = DayAggregate::new(day);
    let services =
        ["reparo, com \"garantia\"\nexpressa", "=HYPERLINK(\"http://x.example\",\"clique\")", "+1", "-2", "@SUM(A1)"];
    for service in services {
        let per = agg.by_service.entry(service.to_owned()).or_default();
        let stats = per.entry(osflow_domain::StatusKey::parse("em_execucao").unwrap()).or_default();
        stats.left = 1;
        stats.total_secs = 60;
    }
    let summary = Summary::of(day, day, &[agg], true);
    for (delimiter, byte) in [(CsvDelimiter::Comma, b','), (CsvDelimiter::Semicolon, b';')] {
        let text = csv_with(&summary, delimiter);
        let mut reader = csv::ReaderBuilder::new().delimiter(byte).from_reader(text.as_bytes());
        assert_eq!(reader.headers().unwrap(), vec!["section", "key", "metric", "value"]);
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a well-formed record")).collect();
        let keys: Vec<&str> = rows.iter().filter(|r| &r[0] == "service").map(|r| r.get(1).unwrap()).collect();
        // Every service twice (left, avg_secs), whole.
        assert!(keys.contains(&"reparo, com \"garantia\"\nexpressa"), "{keys:?}");
        for formula in &services[1..] {
            assert!(keys.contains(&format!("'{formula}").as_str()), "{formula} neutralized: {keys:?}");
            assert!(!keys.contains(formula), "{formula} left as a formula");
        }
        assert!(rows.iter().all(|r| r.len() == 4));
    }
}

/// The reporter function's three payloads are told apart, and each runs what it names: a queue batch counts its
/// events (and reports the failed message), the SLA check raises the alerts, a schedule makes the reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_three_triggers_of_the_reporter_function() {
    use serde_json::json;

    assert!(matches!(Trigger::parse(json!({"check": "sla"})), Ok(Trigger::SlaCheck)));
    assert!(matches!(Trigger::parse(json!({"schedule": "weekly"})), Ok(Trigger::Schedule(Schedule::Weekly))));
    for bad in [json!({"check": "other"}), json!({"schedule": "hourly"}), json!({}), json!({"Records": 3})] {
        let err = Trigger::parse(bad.clone()).unwrap_err().to_string();
        assert!(err.contains("expected an SQS event"), "{bad}: {err}");
    }

    let w = world();
    let t = tenant("oficina-triggers");
    let envelopes = three_orders(&w, &t).await;
    let reporter = Reporter::new(w.app.clone());
    let mut records: Vec<_> = envelopes
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"messageId": format!("m-{i}"), "body": e.to_json(), "attributes": {}, "messageAttributes": {}}))
        .collect();
    records.push(json!({"messageId": "m-bad", "body": "not an envelope", "attributes": {}, "messageAttributes": {}}));
    let batch = Trigger::parse(json!({ "Records": records })).unwrap();
    assert!(matches!(batch, Trigger::Queue(_)));
    let answer = osflow_reports::run(batch, &w.app, &reporter, None, &Jobs::default()).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([{"itemIdentifier": "m-bad"}]), "{answer}");
    let day = report_day(at(0));
    let s = summary(&w.app, &caller(&t, Role::Representante), day, day).await.unwrap();
    assert_eq!((s.opened, s.closed, s.cancelled), (3, 1, 1));

    // The SLA check a day after the third order was opened: it only enqueues one job per company; delivered on
    // the queue, the job raises the alert of the order waiting in `aberta` (24-hour limit), and none when
    // delivered again.
    let mut later = w.app.clone();
    later.clock = Arc::new(TestClock::at(at(45) + Duration::hours(25)));
    let jobs = Jobs::default();
    let answer = osflow_reports::run(Trigger::SlaCheck, &later, &reporter, None, &jobs).await.unwrap();
    assert_eq!(answer, json!({"enqueued": 1}));
    let sla_jobs = jobs.take();
    assert!(matches!(&sla_jobs[..], [Job::Sla { tenant, .. }] if *tenant == t), "{sla_jobs:?}");
    for _ in 0..2 {
        let answer = osflow_reports::run(job_batch(&sla_jobs), &later, &reporter, None, &jobs).await.unwrap();
        assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    }
    assert_eq!(sla_alerts(&w, &t).await, 1);

    // The daily schedule the next day: one job, and the company's report of the walk's day when it is delivered.
    later.clock = Arc::new(TestClock::at(at(0) + Duration::days(1)));
    let answer = osflow_reports::run(Trigger::Schedule(Schedule::Daily), &later, &reporter, None, &jobs).await.unwrap();
    assert_eq!(answer, json!({"enqueued": 1}));
    let answer = osflow_reports::run(job_batch(&jobs.take()), &later, &reporter, None, &jobs).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let rep = caller(&t, Role::Representante);
    let made = get_report(&w.app, &rep, &format!("daily-{day}")).await.unwrap();
    assert_eq!((made.from, made.to), (day, day));
}

/// The jobs a fan-out enqueued.
#[derive(Default)]
struct Jobs(Mutex<Vec<Job>>);

impl Jobs {
    fn take(&self) -> Vec<Job> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[async_trait]
impl JobSink for Jobs {
    async fn enqueue(&self, job: &Job) -> Result<(), String> {
        self.0.lock().unwrap().push(job.clone());
        Ok(())
    }
}

/// The jobs as a batch of the reports queue.
fn job_batch(jobs: &[Job]) -> Trigger {
    let records: Vec<_> = jobs
        .iter()
        .enumerate()
        .map(|(i, j)| {
            serde_json::json!({"messageId": format!("job-{i}"), "body": j.to_json(), "attributes": {}, "messageAttributes": {}})
        })
        .collect();
    Trigger::parse(serde_json::json!({ "Records": records })).unwrap()
}

/// The SLA alerts on the timelines of a company's orders.
async fn sla_alerts(w: &World, t: &TenantId) -> usize {
    let mut n = 0;
    for status in ["aberta", "aguardando_aprovacao", "em_execucao"] {
        let page = osflow_app::PageRequest { limit: 100, cursor: None };
        let key = osflow_domain::StatusKey::parse(status).unwrap();
        for order in w.store.list_by_status(t, &key, &page).await.unwrap().items {
            let timeline = w.store.timeline(t, &order.id).await.unwrap();
            n += timeline.iter().filter(|e| matches!(e.change, osflow_domain::Change::SlaBreached { .. })).count();
        }
    }
    n
}

/// The flows of one company cannot be read (its check fails); the others' are.
struct BrokenFlowsOf(TenantId, Arc<SqliteStore>);

#[async_trait]
impl osflow_app::FlowStore for BrokenFlowsOf {
    async fn publish(&self, t: &TenantId, f: &osflow_domain::Flow, e: Option<u32>) -> StoreResult<()> {
        self.1.publish(t, f, e).await
    }
    async fn current(&self, t: &TenantId) -> StoreResult<Option<osflow_domain::Flow>> {
        if *t == self.0 {
            return Err(osflow_app::StoreError::Unavailable("the company's flow cannot be read".into()));
        }
        self.1.current(t).await
    }
    async fn version(&self, t: &TenantId, v: u32) -> StoreResult<Option<osflow_domain::Flow>> {
        if *t == self.0 {
            return Err(osflow_app::StoreError::Unavailable("the company's flow cannot be read".into()));
        }
        self.1.version(t, v).await
    }
    async fn versions(&self, t: &TenantId) -> StoreResult<Vec<osflow_domain::Flow>> {
        self.1.versions(t).await
    }
}

/// A company whose SLA check fails does not stop the others': in one process every company is still checked
/// (the failure is returned after), and fanned out only the failing company's message comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_company_whose_sla_check_fails_does_not_stop_the_others() {
    let w = world();
    let reporter = Reporter::new(w.app.clone());
    // Sorted first, so that a pass in order meets it before the others.
    let broken = tenant("a-broken");
    let tenants = [broken.clone(), tenant("b-ok"), tenant("c-ok")];
    for t in &tenants {
        let events = walk(&w, t, 1, 0, vec![Command::SendQuote]).await;
        let osflow_domain::Change::Opened(o) = &events[0].change else { unreachable!() };
        for e in &events {
            reporter.count(t, &o.id, e.version).await.unwrap();
        }
    }
    let mut app = w.app.clone();
    app.flows = Arc::new(BrokenFlowsOf(broken.clone(), w.store.clone()));
    // 73 hours after the quote: over the 72-hour limit of `aguardando_aprovacao`.
    app.clock = Arc::new(TestClock::at(at(60) + Duration::hours(73)));

    let err = osflow_reports::check_sla(&app).await.unwrap_err();
    assert!(err.to_string().contains("cannot be read"), "{err}");
    for t in &tenants[1..] {
        assert_eq!(sla_alerts(&w, t).await, 1, "{t}");
    }
    assert_eq!(sla_alerts(&w, &broken).await, 0);

    // Fanned out: one job per company; the batch fails only the broken company's message.
    let jobs = Jobs::default();
    let reporter = Reporter::new(app.clone());
    let answer = osflow_reports::run(Trigger::SlaCheck, &app, &reporter, None, &jobs).await.unwrap();
    assert_eq!(answer, serde_json::json!({"enqueued": 3}));
    let sla_jobs = jobs.take();
    assert_eq!(sla_jobs.iter().map(|j| j.tenant().clone()).collect::<Vec<_>>(), tenants.to_vec());
    let answer = osflow_reports::run(job_batch(&sla_jobs), &app, &reporter, None, &jobs).await.unwrap();
    assert_eq!(answer["batchItemFailures"], serde_json::json!([{"itemIdentifier": "job-0"}]), "{answer}");
    for t in &tenants[1..] {
        assert_eq!(sla_alerts(&w, t).await, 1, "{t}: still one alert");
    }
}

/// A schedule over N companies enqueues N jobs (each with its own id and group) and nothing else; each job makes
/// its company's report once: delivered twice, the report is the same and announced once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fans_out_one_job_per_company_each_reporting_once() {
    let w = world();
    let reporter = Reporter::new(w.app.clone());
    let tenants: Vec<TenantId> = (0..4).map(|i| tenant(&format!("oficina-{i}"))).collect();
    for t in &tenants {
        for e in three_orders(&w, t).await {
            reporter.count(&e.tenant, &e.order_id, e.version).await.unwrap();
        }
        let to = format!("dono@{t}.com.br");
        let settings = NotificationSettings { reply_to: Some(to), ..Default::default() };
        w.store.put_notification_settings(t, &settings).await.unwrap();
    }
    let outbox = Arc::new(Outbox::default());
    let announcer = Announcer {
        dedupe: w.store.clone(),
        email: outbox.clone(),
        sender_name: "osflow".into(),
        sender_email: "relatorios@osflow.local".into(),
    };
    let mut app = w.app.clone();
    app.clock = Arc::new(TestClock::at(at(0) + Duration::days(1)));
    let jobs = Jobs::default();
    let answer = osflow_reports::run(Trigger::Schedule(Schedule::Daily), &app, &reporter, Some(&announcer), &jobs)
        .await
        .unwrap();
    assert_eq!(answer, serde_json::json!({"enqueued": 4}));
    let enqueued = jobs.take();
    assert_eq!(enqueued.iter().map(|j| j.tenant().clone()).collect::<Vec<_>>(), tenants);
    let ids: std::collections::BTreeSet<String> = enqueued.iter().map(Job::id).collect();
    let groups: std::collections::BTreeSet<String> = enqueued.iter().map(Job::group).collect();
    assert_eq!((ids.len(), groups.len()), (4, 4));
    // The fan-out makes no report itself.
    assert!(outbox.0.lock().unwrap().is_empty());
    // Delivered twice (a redelivery, a retried fan-out after SQS's deduplication window).
    for _ in 0..2 {
        let answer = osflow_reports::run(job_batch(&enqueued), &app, &reporter, Some(&announcer), &jobs).await.unwrap();
        assert_eq!(answer["batchItemFailures"], serde_json::json!([]), "{answer}");
    }
    let sent = outbox.0.lock().unwrap().clone();
    let mut to: Vec<String> = sent.iter().map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, tenants.iter().map(|t| format!("dono@{t}.com.br")).collect::<Vec<_>>());
    let day = report_day(at(0));
    for t in &tenants {
        let listed = list_reports(&w.app, &caller(t, Role::Financeiro), 10).await.unwrap();
        assert_eq!(listed.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![format!("daily-{day}")], "{t}");
        assert_eq!((listed[0].summary.opened, listed[0].summary.closed), (3, 1), "{t}");
    }
}

/// Counts the order reads of the SLA check: the orders it reads one by one and the lists it walks.
struct CountingOrders {
    inner: Arc<SqliteStore>,
    gets: Mutex<Vec<osflow_domain::values::OrderId>>,
    lists: Mutex<u64>,
}

#[async_trait]
impl OrderStore for CountingOrders {
    async fn next_order_number(&self, t: &TenantId) -> StoreResult<u64> {
        self.inner.next_order_number(t).await
    }
    async fn create(&self, o: &Order, e: &Event, i: Option<&osflow_app::IdempotencyRecord>) -> StoreResult<()> {
        self.inner.create(o, e, i).await
    }
    async fn get(&self, t: &TenantId, id: &osflow_domain::values::OrderId) -> StoreResult<Option<Order>> {
        self.gets.lock().unwrap().push(*id);
        self.inner.get(t, id).await
    }
    async fn apply(
        &self,
        v: u64,
        o: &Order,
        e: &[Event],
        i: Option<&osflow_app::IdempotencyRecord>,
    ) -> StoreResult<()> {
        self.inner.apply(v, o, e, i).await
    }
    async fn list_by_status(
        &self,
        t: &TenantId,
        s: &osflow_domain::StatusKey,
        p: &osflow_app::PageRequest,
    ) -> StoreResult<osflow_app::Page<Order>> {
        *self.lists.lock().unwrap() += 1;
        self.inner.list_by_status(t, s, p).await
    }
    async fn list_by_customer(
        &self,
        t: &TenantId,
        d: &osflow_domain::values::Document,
        p: &osflow_app::PageRequest,
    ) -> StoreResult<osflow_app::Page<Order>> {
        *self.lists.lock().unwrap() += 1;
        self.inner.list_by_customer(t, d, p).await
    }
    async fn sla_due(
        &self,
        t: &TenantId,
        until: DateTime<Utc>,
        p: &osflow_app::PageRequest,
    ) -> StoreResult<osflow_app::Page<osflow_domain::values::OrderId>> {
        self.inner.sla_due(t, until, p).await
    }
    async fn timeline(&self, t: &TenantId, id: &osflow_domain::values::OrderId) -> StoreResult<Vec<Event>> {
        self.inner.timeline(t, id).await
    }
}

/// The SLA check reads only the orders due, from the deadline index: with 40 open orders of which 2 are over
/// their limit, it reads those 2 (the step's one read each) and walks no list of open orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sla_check_reads_only_the_orders_due() {
    let w = world();
    let t = tenant("oficina-grande");
    let mut due = Vec::new();
    for n in 1..=40u64 {
        // Two quotes sent at minute 60 (72 h limit); the others opened 3 days later (24 h limit, not over yet).
        let start = if n <= 2 { 0 } else { 3 * 24 * 60 };
        let events = walk(&w, &t, n, start, if n <= 2 { vec![Command::SendQuote] } else { vec![] }).await;
        if n <= 2 {
            let osflow_domain::Change::Opened(o) = &events[0].change else { unreachable!() };
            due.push(o.id);
        }
    }
    let counting = Arc::new(CountingOrders { inner: w.store.clone(), gets: Mutex::default(), lists: Mutex::default() });
    let mut app = w.app.clone();
    app.orders = counting.clone();
    app.clock = Arc::new(TestClock::at(at(60) + Duration::hours(73)));

    assert_eq!(osflow_reports::check_sla_for(&app, &t).await.unwrap(), 2);
    let mut read = counting.gets.lock().unwrap().clone();
    read.sort();
    due.sort();
    assert_eq!(read, due, "only the orders due are read, once each");
    assert_eq!(*counting.lists.lock().unwrap(), 0, "no list of open orders is walked");
    // Alerted: out of the index, so the next check reads nothing.
    counting.gets.lock().unwrap().clear();
    assert_eq!(osflow_reports::check_sla_for(&app, &t).await.unwrap(), 0);
    assert!(counting.gets.lock().unwrap().is_empty());
    assert_eq!(sla_alerts(&w, &t).await, 2);
}
