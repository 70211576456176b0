//! The adapter conformance suite: the observable behaviour every store adapter must give the ports.
//!
//! Each `pub async fn` of this module taking a [`Stores`] is one case, run on a fresh, isolated set of stores
//! (a new SQLite file, a new DynamoDB table). An adapter instantiates the whole suite in its
//! `tests/conformance.rs` with [`conformance_tests!`](crate::conformance_tests):
//!
//! ```ignore
//! async fn stores() -> osflow_testkit::conformance::Stores {
//!     let store = std::sync::Arc::new(MyStore::open_fresh().await);
//!     osflow_testkit::conformance::Stores::from_one(store)
//! }
//!
//! osflow_testkit::conformance_tests!(stores);
//! ```
//!
//! The macro expands into one `#[tokio::test]` (multi-threaded runtime) per case, so the adapter's test crate
//! needs `tokio` (features `macros` and `rt-multi-thread`) as a dev-dependency.
//!
//! The fixtures ([`open_order`], [`advance`], [`idem_record`], …) are public so that adapters can reuse them in
//! their own tests.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use osflow_domain::testing::money;
use osflow_domain::values::{CityCode, Document, Email, Money, OrderId, Phone, TenantId, Uf, UserId, Zip};
use osflow_domain::{
    Actor, Address, ChecklistItem, Command, Context, Customer, Equipment, Event, Flow, FlowDef, InvoiceState,
    OpenOrder, Order, PaymentMethod, QuoteDecision, Role, Service, StatusKey, decide_open, step,
};

use osflow_app::{
    AppStore, Claim, CompanySettings, DedupeKey, DedupeOutcome, DedupeStore, FiscalDocument, FlowStore,
    IdempotencyRecord, IdempotencyStore, InvoiceRecord, InvoiceStore, NotificationSettings, NotifyChannel,
    NumberingKey, OrderStore, Page, PageRequest, ReportPeriod, ReportRecord, ReportStore, SettingsStore, StoreError,
    TemplateOverride,
};

/// A fresh, isolated set of stores, as an adapter's factory returns it.
#[derive(Clone)]
pub struct Stores {
    pub orders: Arc<dyn OrderStore>,
    pub flows: Arc<dyn FlowStore>,
    pub invoices: Arc<dyn InvoiceStore>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub dedupe: Arc<dyn DedupeStore>,
    pub settings: Arc<dyn SettingsStore>,
    pub reports: Arc<dyn ReportStore>,
    pub records: Arc<dyn osflow_app::RecordStore>,
    pub unlock_codes: Arc<dyn osflow_app::UnlockCodeStore>,
}

impl Stores {
    /// The seven ports served by one adapter value.
    pub fn from_one<S: AppStore + DedupeStore>(store: Arc<S>) -> Stores {
        Stores {
            orders: store.clone(),
            flows: store.clone(),
            invoices: store.clone(),
            idempotency: store.clone(),
            dedupe: store.clone(),
            settings: store.clone(),
            records: store.clone(),
            unlock_codes: store.clone(),
            reports: store,
        }
    }
}

impl fmt::Debug for Stores {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

/// Expands into one `#[tokio::test]` per case of the suite; `$factory` is an async function (or a closure
/// returning a future) giving a fresh [`Stores`](crate::conformance::Stores) for every call.
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::__conformance_cases!(
            $factory;
            order_round_trip_through_the_whole_flow,
            a_full_order_refuses_content_and_still_moves_on,
            create_refuses_an_existing_order,
            unknown_orders_are_absent,
            apply_writes_several_events_at_once,
            stale_apply_conflicts_and_writes_nothing,
            apply_to_an_unknown_order_is_not_found,
            inconsistent_steps_are_refused_and_write_nothing,
            order_numbers_increase_per_tenant,
            concurrent_order_numbers_are_distinct,
            list_by_status_pages_oldest_first,
            list_by_status_follows_status_changes,
            list_by_customer_pages_newest_first,
            cards_are_the_listed_orders_cards,
            sla_due_reads_only_the_orders_due,
            cursors_are_positions_not_offsets,
            page_size_is_clamped,
            invalid_cursors_are_refused,
            tenants_never_see_each_others_orders,
            tenants_never_see_each_others_flows_invoices_and_keys,
            idempotency_record_is_saved_with_the_step,
            used_idempotency_key_refuses_the_write,
            expired_idempotency_records_are_not_returned,
            expired_idempotency_key_can_be_used_again,
            flows_publish_and_read,
            flow_versions_are_immutable,
            stale_flow_publish_conflicts,
            invoice_numbers_are_claimed_in_order,
            numbering_sequences_are_independent,
            save_invoice_checks_revisions,
            open_numbers_list_only_what_may_be_a_gap,
            a_voided_number_is_never_given_again,
            voids_save_checks_revisions_and_list_per_sequence,
            concurrent_applies_have_one_winner,
            concurrent_claims_are_gapless,
            concurrent_dps_claims_are_gapless,
            dps_and_nfe_sequences_are_apart,
            homologation_and_production_sequences_are_apart,
            dedupe_claim_complete_and_redelivery,
            dedupe_expired_lease_is_taken_over,
            dedupe_release_allows_a_new_claim_but_not_after_complete,
            dedupe_complete_without_a_claim_records_the_outcome,
            dedupe_concurrent_claims_have_one_winner,
            dedupe_records_are_per_tenant_consumer_event_and_channel,
            dedupe_expired_records_are_absent,
            settings_round_trip_and_replace,
            settings_are_per_tenant,
            company_settings_round_trip_per_tenant,
            report_events_count_once_with_their_day,
            report_days_read_by_range_and_tenant,
            reports_save_replace_and_list,
            customers_by_id_and_document,
            equipment_by_serial_and_customer,
            histories_list_linked_orders_newest_first,
            rewritten_events_replay_to_the_order,
            unlock_codes_are_kept_per_order_and_deleted_with_the_step_that_forgets_them,
            the_write_generation_moves_with_every_write,
            an_opening_keeps_its_unlock_code_in_its_own_write,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    ($factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let stores: $crate::conformance::Stores = ($factory)().await;
                $crate::conformance::$case(stores).await;
            }
        )*
    };
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------------

/// The suite's origin of time (with a sub-second part, so that adapters must keep it).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap() + Duration::microseconds(123_456)
}

/// `t0()` plus `n` minutes.
pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

pub fn tenant(slug: &str) -> TenantId {
    TenantId::parse(slug).expect("valid tenant slug")
}

pub fn status(key: &str) -> StatusKey {
    StatusKey::parse(key).expect("valid status key")
}

/// A new random UUIDv7 order id.
pub fn new_order_id() -> OrderId {
    OrderId::parse(&uuid::Uuid::now_v7().to_string()).expect("a UUIDv7 is a valid order id")
}

/// A valid CPF built from `n` (distinct `n` below 10^9 give distinct CPFs).
pub fn cpf(n: u32) -> Document {
    let base: Vec<u32> = format!("{:09}", 100_000_000 + n % 900_000_000).bytes().map(|b| u32::from(b - b'0')).collect();
    let check = |digits: &[u32]| {
        let sum: u32 = digits.iter().rev().zip(2..).map(|(d, w)| d * w).sum();
        match sum % 11 {
            0 | 1 => 0,
            r => 11 - r,
        }
    };
    let first = check(&base);
    let mut all = base.clone();
    all.push(first);
    let second = check(&all);
    all.push(second);
    let text: String = all.iter().map(|d| char::from(b'0' + *d as u8)).collect();
    Document::parse(&text).expect("generated CPF is valid")
}

/// The staff member every fixture step is taken by (a `representante` may take every step of the default flow).
pub fn actor() -> Actor {
    Actor::staff(UserId::parse("user-1").unwrap(), vec![Role::Representante])
}

/// The reference example's lines: a part (Fonte 65W, NCM 85044010, 149.90) and labor (120.00).
pub use osflow_domain::testing::example_items as items;

/// A customer with every optional field filled (so that round trips cover them).
pub fn customer(document: Document) -> Customer {
    Customer {
        name: "Maria Souza".into(),
        document,
        email: Some(Email::parse("maria@example.com").unwrap()),
        phone: Some(Phone::parse("+55 11 98765-4321").unwrap()),
        address: Some(Address {
            street: "Rua Augusta".into(),
            number: "100".into(),
            complement: Some("Sala 3".into()),
            district: "Consolação".into(),
            city: "São Paulo".into(),
            city_code: CityCode::parse("3550308").unwrap(),
            uf: Uf::parse("SP").unwrap(),
            zip: Zip::parse("01305-000").unwrap(),
        }),
    }
}

/// Opens an order (version 1, status `aberta`) of the default flow at `when`: the order and its `Opened` event.
pub fn open_order_with_id(
    tenant: &TenantId,
    id: OrderId,
    number: u64,
    document: Document,
    when: DateTime<Utc>,
) -> (Order, Event) {
    let cmd = OpenOrder {
        id,
        tenant: tenant.clone(),
        number,
        customer: customer(document),
        equipment: Equipment {
            description: "Notebook".into(),
            brand: Some("Dell".into()),
            model: Some("Inspiron 15".into()),
            serial: Some(format!("BR{number:06}")),
        },
        service: Service { kind: "reparo".into(), reported_problem: "Não liga".into() },
        items: items(),
        due_date: Some(when.date_naive() + chrono::Days::new(10)),
        technician: None,
        discount: None,
        intake: None,
        warranty_of: None,
    };
    let opened = decide_open(&Flow::default_flow(), cmd, &actor(), when).expect("the fixture opens");
    let order = Order::from_opened(&opened).expect("an opened event makes an order");
    (order, opened)
}

/// [`open_order_with_id`] with a new id.
pub fn open_order(tenant: &TenantId, number: u64, document: Document, when: DateTime<Utc>) -> (Order, Event) {
    open_order_with_id(tenant, new_order_id(), number, document, when)
}

/// Takes one step of the default flow at `when`: the new events and the order after them.
pub fn advance(order: &Order, cmd: Command, when: DateTime<Utc>) -> (Vec<Event>, Order) {
    let ctx = Context::at(when);
    step(order, &Flow::default_flow(), cmd, &actor(), &ctx).expect("the fixture step is allowed")
}

/// A note step (allowed in every non-final status; does not change the status).
pub fn note(text: &str) -> Command {
    Command::AddNote { text: text.into(), visible_to_customer: true }
}

/// The staff's approval of the whole quote waiting for a decision.
pub use osflow_domain::testing::approve;

/// An idempotency record created at `created_at`, expiring one day later.
pub fn idem_record(tenant: &TenantId, key: &str, created_at: DateTime<Utc>) -> IdempotencyRecord {
    IdempotencyRecord {
        tenant: tenant.clone(),
        key: key.into(),
        request_hash: format!("{:064x}", key.len() as u128 * 0x9e37_79b9_7f4a_7c15),
        status: 201,
        body: format!("{{\"key\":\"{key}\",\"note\":\"ação\"}}"),
        created_at,
        expires_at: created_at + Duration::days(1),
    }
}

/// A numbering sequence.
pub fn numbering(cnpj: &str, serie: u32) -> NumberingKey {
    NumberingKey::nfe(cnpj, serie)
}

/// A pending invoice record (revision 1) of `order` with `number`.
pub fn invoice_record(
    tenant: &TenantId,
    order: &OrderId,
    key: &NumberingKey,
    number: u64,
    when: DateTime<Utc>,
) -> InvoiceRecord {
    let access_key = format!("3526121122233300018155{:03}{:09}1123456780", key.serie % 1000, number % 1_000_000_000);
    InvoiceRecord { cnf: "12345678".into(), ..InvoiceRecord::pending(tenant, order, key, number, access_key, when) }
}

/// A flow version whose content differs from the other versions' (the label of the initial status).
pub fn flow_version(version: u32) -> Flow {
    let mut def: FlowDef = Flow::default_flow().def;
    let initial = def.initial.clone();
    if let Some(s) = def.statuses.iter_mut().find(|s| s.key == initial) {
        s.label = format!("Aberta (v{version})");
    }
    Flow::publish(def, version).expect("the default flow with another label is valid")
}

/// Creates an opened order in the stores.
async fn create(s: &Stores, tenant: &TenantId, number: u64, document: Document, when: DateTime<Utc>) -> Order {
    let (order, opened) = open_order(tenant, number, document, when);
    s.orders.create(&order, &opened, None).await.expect("create");
    order
}

/// Applies one step to the stored order and returns the new state.
async fn apply_step(s: &Stores, order: &Order, cmd: Command, when: DateTime<Utc>) -> Order {
    let (events, next) = advance(order, cmd, when);
    s.orders.apply(order.version, &next, &events, None).await.expect("apply");
    next
}

/// Every page of a list, checking the page invariants: at most `limit` items, no empty page with a `next`, a
/// `next` on every page but the last.
async fn all_pages<F, Fut>(limit: u32, mut fetch: F) -> Vec<Vec<Order>>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<Order>, StoreError>>,
{
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let page = fetch(PageRequest { limit, cursor: cursor.clone() }).await.expect("list page");
        assert!(page.items.len() <= limit as usize, "a page holds at most `limit` items");
        match page.next {
            Some(next) => {
                assert_eq!(page.items.len(), limit as usize, "only the last page may be short");
                assert!(Some(&next) != cursor.as_ref(), "the cursor moves forward");
                pages.push(page.items);
                cursor = Some(next);
            }
            None => {
                pages.push(page.items);
                return pages;
            }
        }
        assert!(pages.len() <= 1_000, "pagination does not end");
    }
}

fn ids(orders: &[Order]) -> Vec<OrderId> {
    orders.iter().map(|o| o.id).collect()
}

fn by_status_order(orders: &mut [Order]) {
    orders.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then(a.id.cmp(&b.id)));
}

fn by_customer_order(orders: &mut [Order]) {
    orders.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
}

// ---------------------------------------------------------------------------------------------------------------
// Orders: round trips
// ---------------------------------------------------------------------------------------------------------------

/// An order walked through the whole default flow, one `apply` per step: after every step the stored order
/// equals the state written, and the timeline equals every event written, in version order.
pub async fn order_round_trip_through_the_whole_flow(s: Stores) {
    let t = tenant("acme");
    let (mut order, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&order, &opened, None).await.unwrap();
    assert_eq!(s.orders.get(&t, &order.id).await.unwrap(), Some(order.clone()));
    assert_eq!(s.orders.timeline(&t, &order.id).await.unwrap(), vec![opened.clone()]);

    let date = |d| NaiveDate::from_ymd_opt(2026, 12, d).unwrap();
    let steps = vec![
        Command::SendQuote,
        Command::DecideQuote {
            revision: None,
            decision: QuoteDecision::Approve,
            lines: vec![],
            comment: Some("Pode fazer".into()),
            evidence: None,
        },
        Command::Start,
        note("Placa limpa"),
        Command::AddAttachment {
            key: "acme/photos/1.jpg".into(),
            content_type: "image/jpeg".into(),
            caption: Some("Antes".into()),
            visible_to_customer: true,
            intake: false,
        },
        Command::WaitMaterial { reason: "Fonte em falta".into(), parts: vec!["P-001".into()], expected_at: date(5) },
        Command::ChangeMaterialDate { expected_at: date(8) },
        Command::MaterialArrived,
        Command::Finish { tests_performed: Some("Ligou e carregou por 2 h".into()) },
        Command::Validate {
            checklist: vec![ChecklistItem { item: "Equipamento liga".into(), ok: true, note: None }],
            extra_items: vec![],
        },
        Command::RequestPayment,
        Command::RegisterPayment { amount: money("100.00"), method: PaymentMethod::Pix, reference: None },
        Command::RegisterPayment {
            amount: money("169.90"),
            method: PaymentMethod::Credit,
            reference: Some("AUTH-1".into()),
        },
        Command::Release,
        Command::Close,
    ];
    let mut all_events = vec![opened];
    for (i, cmd) in steps.into_iter().enumerate() {
        let (events, next) = advance(&order, cmd, at(10 * (i as i64 + 1)));
        s.orders.apply(order.version, &next, &events, None).await.unwrap();
        all_events.extend(events);
        order = next;
        assert_eq!(s.orders.get(&t, &order.id).await.unwrap(), Some(order.clone()), "after step {i}");
    }
    assert_eq!(order.status.as_str(), "encerrada");
    assert_eq!(order.version, all_events.len() as u64);
    assert_eq!(s.orders.timeline(&t, &order.id).await.unwrap(), all_events);
}

/// What one order holds is bounded below the store's item limit (DynamoDB: 400 KB): notes of the longest kind
/// (4,000 three-byte characters) are stored until the next one would pass the content limit, which is refused
/// with `OrderTooLarge`; the order can still move on and be cancelled, and the notifier's records never fail
/// (the item keeps the latest ones). Every accepted write is stored and read back whole; the timeline keeps it
/// all.
pub async fn a_full_order_refuses_content_and_still_moves_on(s: Stores) {
    use osflow_domain::DomainError;
    use osflow_domain::bounds::{NOTIFICATIONS_KEPT, ORDER_CONTENT_LIMIT_BYTES, ORDER_LIMIT_BYTES, order_bytes};
    let t = tenant("bounds");
    let (mut order, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&order, &opened, None).await.unwrap();
    let mut events_stored = 1;
    let ctx = |m: i64| Context::at(at(m));
    let flow = Flow::default_flow();
    let long = "€".repeat(4000);
    let mut refused = None;
    for i in 1..=100 {
        match step(&order, &flow, note(&long), &actor(), &ctx(i)) {
            Ok((events, next)) => {
                s.orders.apply(order.version, &next, &events, None).await.unwrap();
                events_stored += events.len();
                order = next;
            }
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!(
        matches!(refused, Some(DomainError::OrderTooLarge { limit, .. }) if limit == ORDER_CONTENT_LIMIT_BYTES),
        "{refused:?}"
    );
    assert!(order_bytes(&order) <= ORDER_CONTENT_LIMIT_BYTES);
    assert_eq!(s.orders.get(&t, &order.id).await.unwrap(), Some(order.clone()), "the fullest order is stored");
    // The system's records of messages sent: never refused, the item keeps the latest.
    let system = Actor::System { component: "notifier".into() };
    for i in 0..(NOTIFICATIONS_KEPT + 10) {
        let cmd = Command::RecordNotification {
            channel: "email".into(),
            to_masked: "ma***@example.com".into(),
            template: "custom".into(),
            ok: true,
            error: None,
            for_version: None,
        };
        let (events, next) = step(&order, &flow, cmd, &system, &ctx(200 + i as i64)).expect("a record");
        s.orders.apply(order.version, &next, &events, None).await.unwrap();
        events_stored += events.len();
        order = next;
    }
    assert_eq!(order.notifications.len(), NOTIFICATIONS_KEPT);
    // Moving on, up to cancelling with the longest reason: allowed, and stored.
    for (i, cmd) in
        [Command::SendQuote, Command::Cancel { reason: "€".repeat(500), refund: None }].into_iter().enumerate()
    {
        let (events, next) = step(&order, &flow, cmd, &actor(), &ctx(400 + i as i64)).expect("moving on is allowed");
        s.orders.apply(order.version, &next, &events, None).await.unwrap();
        events_stored += events.len();
        order = next;
        assert!(order_bytes(&order) <= ORDER_LIMIT_BYTES);
    }
    assert_eq!(order.status.as_str(), "cancelada");
    assert_eq!(s.orders.get(&t, &order.id).await.unwrap(), Some(order.clone()));
    assert_eq!(s.orders.timeline(&t, &order.id).await.unwrap().len(), events_stored, "the timeline keeps it all");
}

/// Creating an order id that exists is `AlreadyExists` and leaves the stored order as it was.
pub async fn create_refuses_an_existing_order(s: Stores) {
    let t = tenant("acme");
    let id = new_order_id();
    let (first, opened) = open_order_with_id(&t, id, 1, cpf(1), at(0));
    s.orders.create(&first, &opened, None).await.unwrap();

    let (second, opened_again) = open_order_with_id(&t, id, 2, cpf(2), at(5));
    assert_eq!(s.orders.create(&second, &opened_again, None).await, Err(StoreError::AlreadyExists));
    assert_eq!(s.orders.get(&t, &id).await.unwrap(), Some(first));
    assert_eq!(s.orders.timeline(&t, &id).await.unwrap(), vec![opened]);
}

/// An unknown order: `get` is `None`, the timeline and the lists are empty.
pub async fn unknown_orders_are_absent(s: Stores) {
    let t = tenant("acme");
    let id = new_order_id();
    assert_eq!(s.orders.get(&t, &id).await.unwrap(), None);
    assert_eq!(s.orders.timeline(&t, &id).await.unwrap(), vec![]);
    let page = s.orders.list_by_status(&t, &status("aberta"), &PageRequest::first(10)).await.unwrap();
    assert_eq!(page, Page { items: vec![], next: None });
    let page = s.orders.list_by_customer(&t, &cpf(1), &PageRequest::first(10)).await.unwrap();
    assert_eq!(page, Page { items: vec![], next: None });
}

/// One `apply` may write several events (versions n+1..=n+k) with the order at version n+k.
pub async fn apply_writes_several_events_at_once(s: Stores) {
    let t = tenant("acme");
    let (order, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&order, &opened, None).await.unwrap();
    let (mut events, mid) = advance(&order, Command::SendQuote, at(1));
    let (more, last) = advance(&mid, note("Enviado por WhatsApp"), at(2));
    events.extend(more);
    assert_eq!(last.version, 3);
    s.orders.apply(1, &last, &events, None).await.unwrap();
    assert_eq!(s.orders.get(&t, &order.id).await.unwrap(), Some(last));
    let mut expected = vec![opened];
    expected.extend(events);
    assert_eq!(s.orders.timeline(&t, &order.id).await.unwrap(), expected);
}

/// A store that tells its write generation (`OrderStore::write_generation`) gives a new one after every write,
/// whatever the port, and the same one after reads; one that cannot tell never does.
pub async fn the_write_generation_moves_with_every_write(s: Stores) {
    let t = tenant("acme");
    let generation = || s.orders.write_generation(&t);
    let before = generation();
    let (order, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&order, &opened, None).await.unwrap();
    let created = generation();
    assert_eq!(s.orders.get(&t, &order.id).await.unwrap().as_ref(), Some(&order));
    s.orders.cards_by_status(&t, &order.status, &PageRequest::first(10)).await.unwrap();
    assert_eq!(generation(), created, "reads change nothing");
    let (events, next) = advance(&order, note("Placa limpa"), at(1));
    s.orders.apply(1, &next, &events, None).await.unwrap();
    let stepped = generation();
    s.settings.put_notification_settings(&t, &full_notification_settings()).await.unwrap();
    let set = generation();
    // A write refused (a stale version) may move it or not; it never goes back.
    let _ = s.orders.apply(1, &next, &events, None).await;
    let refused = generation();
    match before {
        None => assert_eq!([created, stepped, set, refused], [None; 4], "a store that cannot tell never does"),
        Some(b) => {
            let seen = [Some(b), created, stepped, set];
            for pair in seen.windows(2) {
                assert!(pair[1] > pair[0], "every write moves the generation on: {seen:?}");
            }
            assert!(refused >= set, "{refused:?} after {set:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Orders: optimistic concurrency
// ---------------------------------------------------------------------------------------------------------------

/// An apply decided on a version that is not the stored one (older or newer) writes nothing and returns
/// `Conflict` with the real stored version.
pub async fn stale_apply_conflicts_and_writes_nothing(s: Stores) {
    let t = tenant("acme");
    let (v1, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&v1, &opened, None).await.unwrap();
    let (events_a, v2) = advance(&v1, Command::SendQuote, at(1));
    s.orders.apply(1, &v2, &events_a, None).await.unwrap();

    // Another request decided on version 1 as well.
    let (events_b, stale) = advance(&v1, note("decidido sobre a versão 1"), at(2));
    assert_eq!(s.orders.apply(1, &stale, &events_b, None).await, Err(StoreError::Conflict { current_version: 2 }));
    // A version from the future.
    let (events_c, v3) = advance(&v2, note("n"), at(3));
    let (events_d, v4) = advance(&v3, note("n+1"), at(4));
    assert_eq!(s.orders.apply(3, &v4, &events_d, None).await, Err(StoreError::Conflict { current_version: 2 }));

    assert_eq!(s.orders.get(&t, &v1.id).await.unwrap(), Some(v2.clone()));
    let mut expected = vec![opened];
    expected.extend(events_a);
    assert_eq!(s.orders.timeline(&t, &v1.id).await.unwrap(), expected);
    // The right version still goes through.
    s.orders.apply(2, &v3, &events_c, None).await.unwrap();
    assert_eq!(s.orders.get(&t, &v1.id).await.unwrap(), Some(v3));
}

/// Applying a step to an order that was never created is `NotFound`, and creates nothing.
pub async fn apply_to_an_unknown_order_is_not_found(s: Stores) {
    let t = tenant("acme");
    let (v1, _opened) = open_order(&t, 1, cpf(1), at(0));
    let (events, v2) = advance(&v1, Command::SendQuote, at(1));
    assert_eq!(s.orders.apply(1, &v2, &events, None).await, Err(StoreError::NotFound));
    assert_eq!(s.orders.get(&t, &v1.id).await.unwrap(), None);
    assert_eq!(s.orders.timeline(&t, &v1.id).await.unwrap(), vec![]);
}

/// A step the store cannot take as it is (no event; events that skip a version; the order not at the last
/// event's version; another tenant's idempotency record) is refused before anything is written, in every store.
pub async fn inconsistent_steps_are_refused_and_write_nothing(s: Stores) {
    let t = tenant("acme");
    let (v1, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&v1, &opened, None).await.unwrap();
    let refused = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::Other(_))), "{r:?}");
    // No event: every change of an order is an event, so a write without one is refused (also at the same version).
    refused(s.orders.apply(1, &v1, &[], None).await);
    let (events, v2) = advance(&v1, Command::SendQuote, at(1));
    refused(s.orders.apply(1, &v2, &[], None).await);
    // The order not at the last event's version.
    refused(s.orders.apply(1, &v1, &events, None).await);
    // Events that do not follow the expected version.
    refused(s.orders.apply(0, &v2, &events, None).await);
    // Another tenant's idempotency record.
    refused(s.orders.apply(1, &v2, &events, Some(&idem_record(&tenant("other"), "k-1", at(1)))).await);
    assert_eq!(s.orders.get(&t, &v1.id).await.unwrap(), Some(v1.clone()));
    assert_eq!(s.orders.timeline(&t, &v1.id).await.unwrap(), vec![opened]);
    assert_eq!(s.idempotency.get_idempotency(&tenant("other"), "k-1", at(1)).await.unwrap(), None);
    // The consistent step still goes through.
    s.orders.apply(1, &v2, &events, None).await.unwrap();
}

/// 64 requests apply a step to the same order at the same version: exactly one wins, the 63 others get
/// `Conflict { current_version: 2 }`, and the store holds the winner's order and events, nothing else.
pub async fn concurrent_applies_have_one_winner(s: Stores) {
    let t = tenant("acme");
    let (v1, opened) = open_order(&t, 1, cpf(1), at(0));
    s.orders.create(&v1, &opened, None).await.unwrap();

    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let orders = s.orders.clone();
            let (events, next) = advance(&v1, note(&format!("tarefa {i}")), at(1));
            tokio::spawn(async move {
                let result = orders.apply(1, &next, &events, None).await;
                (result, next, events)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let (result, next, events) = task.await.expect("task");
        match result {
            Ok(()) => winners.push((next, events)),
            Err(StoreError::Conflict { current_version: 2 }) => conflicts += 1,
            Err(e) => panic!("unexpected result of a concurrent apply: {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one concurrent apply succeeds");
    assert_eq!(conflicts, 63);
    let (winner, winner_events) = winners.pop().unwrap();
    let stored = s.orders.get(&t, &v1.id).await.unwrap().unwrap();
    assert_eq!(stored, winner);
    let timeline = s.orders.timeline(&t, &v1.id).await.unwrap();
    assert_eq!(timeline.len() as u64, stored.version, "the events number exactly the stored version");
    let mut expected = vec![opened];
    expected.extend(winner_events);
    assert_eq!(timeline, expected);
}

// ---------------------------------------------------------------------------------------------------------------
// Orders: numbers
// ---------------------------------------------------------------------------------------------------------------

/// Order numbers start at 1 and increase by one per call, independently per tenant.
pub async fn order_numbers_increase_per_tenant(s: Stores) {
    let (a, b) = (tenant("acme"), tenant("beta"));
    assert_eq!(s.orders.next_order_number(&a).await.unwrap(), 1);
    assert_eq!(s.orders.next_order_number(&a).await.unwrap(), 2);
    assert_eq!(s.orders.next_order_number(&b).await.unwrap(), 1);
    assert_eq!(s.orders.next_order_number(&a).await.unwrap(), 3);
    assert_eq!(s.orders.next_order_number(&b).await.unwrap(), 2);
}

/// 50 concurrent calls get 50 distinct numbers, 1..=50.
pub async fn concurrent_order_numbers_are_distinct(s: Stores) {
    let t = tenant("acme");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let orders = s.orders.clone();
            let t = t.clone();
            tokio::spawn(async move { orders.next_order_number(&t).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.expect("task").expect("next_order_number"));
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=50).collect::<Vec<u64>>());
}

// ---------------------------------------------------------------------------------------------------------------
// Lists
// ---------------------------------------------------------------------------------------------------------------

/// `list_by_status` over several pages: only the orders in that status, each exactly once, oldest `updated_at`
/// first with ties by id; every page full but the last; the last page has no `next`.
pub async fn list_by_status_pages_oldest_first(s: Stores) {
    let t = tenant("acme");
    let mut open = Vec::new();
    for i in 0..23u64 {
        // Five distinct instants: many ties, broken by id. Created out of order.
        let when = at(((i * 7) % 5) as i64);
        open.push(create(&s, &t, i + 1, cpf(i as u32 % 3), when).await);
    }
    // Orders in another status are not listed.
    let mut waiting = Vec::new();
    for i in 0..3u64 {
        let o = create(&s, &t, 100 + i, cpf(9), at(0)).await;
        waiting.push(apply_step(&s, &o, Command::SendQuote, at(1)).await);
    }
    by_status_order(&mut open);
    by_status_order(&mut waiting);

    let aberta = status("aberta");
    let pages = all_pages(5, |p| {
        let (orders, t, aberta) = (s.orders.clone(), t.clone(), aberta.clone());
        async move { orders.list_by_status(&t, &aberta, &p).await }
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5, 5, 5, 3]);
    assert_eq!(pages.concat(), open, "every order exactly once, in the contract's order");

    let waiting_status = status("aguardando_aprovacao");
    let pages = all_pages(3, |p| {
        let (orders, t, st) = (s.orders.clone(), t.clone(), waiting_status.clone());
        async move { orders.list_by_status(&t, &st, &p).await }
    })
    .await;
    assert_eq!(pages.len(), 1, "a full last page has no next");
    assert_eq!(pages.concat(), waiting);

    // An exact multiple of the page size: no empty trailing page.
    let pages = all_pages(1, |p| {
        let (orders, t, st) = (s.orders.clone(), t.clone(), waiting_status.clone());
        async move { orders.list_by_status(&t, &st, &p).await }
    })
    .await;
    assert_eq!(pages.len(), 3);
    assert_eq!(pages.concat(), waiting);
}

/// `sla_due`: only the orders whose current stay is due by `until` and not alerted yet, earliest deadline first
/// with ties by id, over pages; it follows status changes and alerts, and never shows another company's orders.
pub async fn sla_due_reads_only_the_orders_due(s: Stores) {
    let t = tenant("acme");
    let hours = Duration::hours;
    // `aberta` has 24 h in the default flow, `aguardando_aprovacao` 72 h, `em_execucao` none.
    let a = create(&s, &t, 1, cpf(1), at(0)).await;
    let tie = create(&s, &t, 2, cpf(2), at(0)).await;
    let b = create(&s, &t, 3, cpf(3), at(1)).await;
    let c = create(&s, &t, 4, cpf(4), at(2)).await;
    let c = apply_step(&s, &c, Command::SendQuote, at(3)).await;
    let d = create(&s, &t, 5, cpf(5), at(0)).await;
    let d = apply_step(&s, &d, Command::SendQuote, at(1)).await;
    let d = apply_step(&s, &d, approve(), at(2)).await;
    let d = apply_step(&s, &d, Command::Start, at(3)).await;
    assert_eq!(d.sla_due, None);
    let alerted = create(&s, &t, 6, cpf(6), at(0)).await;
    let ctx = Context::at(at(0) + hours(25));
    let system = Actor::System { component: "sla-check".into() };
    let (events, next) = step(&alerted, &Flow::default_flow(), Command::FlagSlaBreach, &system, &ctx).unwrap();
    s.orders.apply(alerted.version, &next, &events, None).await.unwrap();
    create(&s, &tenant("other"), 1, cpf(1), at(0)).await;

    let due = |until: DateTime<Utc>, limit: u32| {
        let (orders, t) = (s.orders.clone(), t.clone());
        async move {
            let mut found = Vec::new();
            let mut cursor = None;
            loop {
                let page = orders.sla_due(&t, until, &PageRequest { limit, cursor: cursor.clone() }).await.unwrap();
                assert!(page.items.len() <= limit as usize);
                found.extend(page.items.iter().copied());
                match page.next {
                    Some(next) => {
                        assert_eq!(page.items.len(), limit as usize, "only the last page may be short");
                        cursor = Some(next);
                    }
                    None => return found,
                }
            }
        }
    };
    let mut first_two = vec![a.id, tie.id];
    first_two.sort();
    assert_eq!(due(at(0) + hours(24) - Duration::nanoseconds(1), 10).await, Vec::<OrderId>::new(), "none due yet");
    assert_eq!(due(at(0) + hours(24), 10).await, first_two, "due at the instant itself; ties by id");
    let mut all = first_two.clone();
    all.extend([b.id, c.id]);
    assert_eq!(due(at(3) + hours(72), 1).await, all, "earliest deadline first, one page each");
    assert_eq!(due(at(3) + hours(72), 3).await, all);
    // A status change moves the deadline; leaving for a status without a limit takes the order out.
    let b = apply_step(&s, &b, Command::SendQuote, at(30)).await;
    assert_eq!(b.sla_due, Some(at(30) + hours(72)));
    assert_eq!(due(at(1) + hours(24), 10).await, first_two, "b's new stay is not due yet");
    let tie = apply_step(&s, &tie, Command::Cancel { reason: "desistiu".into(), refund: None }, at(40)).await;
    assert_eq!(tie.sla_due, None);
    assert_eq!(due(at(3) + hours(72), 10).await, vec![a.id, c.id]);
    assert_eq!(due(at(30) + hours(72), 10).await, vec![a.id, c.id, b.id]);
}

/// A step that changes the status moves the order from one status list to the other, placed by its new
/// `updated_at`.
pub async fn list_by_status_follows_status_changes(s: Stores) {
    let t = tenant("acme");
    let a = create(&s, &t, 1, cpf(1), at(0)).await;
    let b = create(&s, &t, 2, cpf(1), at(1)).await;
    let c = create(&s, &t, 3, cpf(1), at(2)).await;
    let (aberta, waiting) = (status("aberta"), status("aguardando_aprovacao"));
    let list = |st: StatusKey| {
        let (orders, t) = (s.orders.clone(), t.clone());
        async move { orders.list_by_status(&t, &st, &PageRequest::first(50)).await.unwrap().items }
    };
    assert_eq!(ids(&list(aberta.clone()).await), vec![a.id, b.id, c.id]);

    let a2 = apply_step(&s, &a, Command::SendQuote, at(10)).await;
    assert_eq!(list(aberta.clone()).await, vec![b.clone(), c.clone()]);
    assert_eq!(list(waiting.clone()).await, vec![a2.clone()]);

    let b2 = apply_step(&s, &b, Command::SendQuote, at(5)).await;
    assert_eq!(list(waiting.clone()).await, vec![b2, a2.clone()], "by updated_at, not by creation");
    // A step that keeps the status moves the order within its list.
    let c2 = apply_step(&s, &c, note("atualizada"), at(20)).await;
    assert_eq!(list(aberta.clone()).await, vec![c2]);
    let a3 = apply_step(&s, &a2, note("depois"), at(30)).await;
    assert_eq!(ids(&list(waiting).await), vec![b.id, a3.id]);
}

/// The card lists are the order lists as cards (`Order::card` of each, the same pages and cursors), also after
/// steps changed the orders.
pub async fn cards_are_the_listed_orders_cards(s: Stores) {
    let t = tenant("acme");
    let mut open = Vec::new();
    for i in 0..5u64 {
        open.push(create(&s, &t, i + 1, cpf(3), at(i as i64)).await);
    }
    open[1] = apply_step(&s, &open[1], note("uma nota"), at(50)).await;
    open[2] = apply_step(&s, &open[2], Command::SendQuote, at(60)).await;
    let cards = |orders: &[Order]| orders.iter().map(Order::card).collect::<Vec<_>>();
    for st in [status("aberta"), status("aguardando_aprovacao")] {
        let mut request = PageRequest::first(2);
        loop {
            let orders = s.orders.list_by_status(&t, &st, &request).await.unwrap();
            let listed = s.orders.cards_by_status(&t, &st, &request).await.unwrap();
            assert_eq!(listed.items, cards(&orders.items), "{st}");
            assert_eq!(listed.next, orders.next);
            match listed.next {
                Some(next) => request.cursor = Some(next),
                None => break,
            }
        }
    }
    let orders = s.orders.list_by_customer(&t, &cpf(3), &PageRequest::first(3)).await.unwrap();
    let listed = s.orders.cards_by_customer(&t, &cpf(3), &PageRequest::first(3)).await.unwrap();
    assert_eq!(listed.items, cards(&orders.items));
    assert_eq!(listed.next, orders.next);
    let noted = s.orders.cards_by_status(&t, &status("aberta"), &PageRequest::first(10)).await.unwrap();
    let noted = noted.items.iter().find(|c| c.id == open[1].id).expect("listed");
    assert_eq!((noted.version, noted.updated_at), (open[1].version, open[1].updated_at), "the card of the last step");
}

/// `list_by_customer` over several pages: only that document's orders, each exactly once, newest `created_at`
/// first with ties by id descending — also after steps changed `updated_at`.
pub async fn list_by_customer_pages_newest_first(s: Stores) {
    let t = tenant("acme");
    let maria = cpf(42);
    let mut history = Vec::new();
    for i in 0..12u64 {
        let when = at(((i * 3) % 4) as i64);
        history.push(create(&s, &t, i + 1, maria, when).await);
    }
    for i in 0..3u64 {
        create(&s, &t, 50 + i, cpf(43), at(1)).await;
    }
    // Steps change `updated_at` and the status, not the place in the history.
    history[0] = apply_step(&s, &history[0], Command::SendQuote, at(100)).await;
    history[5] = apply_step(&s, &history[5], note("x"), at(200)).await;
    by_customer_order(&mut history);

    let pages = all_pages(5, |p| {
        let (orders, t) = (s.orders.clone(), t.clone());
        async move { orders.list_by_customer(&t, &maria, &p).await }
    })
    .await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), vec![5, 5, 2]);
    assert_eq!(pages.concat(), history);

    let pages = all_pages(4, |p| {
        let (orders, t) = (s.orders.clone(), t.clone());
        async move { orders.list_by_customer(&t, &maria, &p).await }
    })
    .await;
    assert_eq!(pages.len(), 3, "a full last page has no next");
    assert_eq!(pages.concat(), history);
}

/// A cursor is a position in the order of the list, not an offset: reusing it gives the same page, and an
/// order inserted before it does not shift the following pages.
pub async fn cursors_are_positions_not_offsets(s: Stores) {
    let t = tenant("acme");
    let mut open = Vec::new();
    for i in 0..6u64 {
        open.push(create(&s, &t, i + 1, cpf(7), at(10 + i as i64)).await);
    }
    let aberta = status("aberta");
    let first = s.orders.list_by_status(&t, &aberta, &PageRequest::first(3)).await.unwrap();
    assert_eq!(first.items, open[..3].to_vec());
    let cursor = first.next.clone().expect("more pages");
    let request = PageRequest { limit: 3, cursor: Some(cursor.clone()) };
    let second = s.orders.list_by_status(&t, &aberta, &request).await.unwrap();
    assert_eq!(second.items, open[3..].to_vec());
    assert_eq!(second.next, None);
    assert_eq!(s.orders.list_by_status(&t, &aberta, &request).await.unwrap(), second, "a cursor is stable");

    // An order older than every listed one, and one for another customer's history.
    let older = create(&s, &t, 7, cpf(7), at(0)).await;
    assert_eq!(s.orders.list_by_status(&t, &aberta, &request).await.unwrap(), second);
    let restart = s.orders.list_by_status(&t, &aberta, &PageRequest::first(3)).await.unwrap();
    assert_eq!(restart.items[0], older);

    // The same for the customer history (newest first): an order newer than the cursor does not shift it.
    let first = s.orders.list_by_customer(&t, &cpf(7), &PageRequest::first(4)).await.unwrap();
    let request = PageRequest { limit: 4, cursor: first.next.clone() };
    let before = s.orders.list_by_customer(&t, &cpf(7), &request).await.unwrap();
    create(&s, &t, 8, cpf(7), at(1_000)).await;
    assert_eq!(s.orders.list_by_customer(&t, &cpf(7), &request).await.unwrap(), before);
    let mut all = open.clone();
    all.push(older);
    by_customer_order(&mut all);
    assert_eq!(before.items, all[4..].to_vec());
}

/// A page size of 0 means 20; more than 100 means 100.
pub async fn page_size_is_clamped(s: Stores) {
    let t = tenant("acme");
    for i in 0..105u64 {
        create(&s, &t, i + 1, cpf(5), at(i as i64)).await;
    }
    let aberta = status("aberta");
    let page = s.orders.list_by_status(&t, &aberta, &PageRequest::first(0)).await.unwrap();
    assert_eq!(page.items.len(), 20);
    assert!(page.next.is_some());
    let page = s.orders.list_by_status(&t, &aberta, &PageRequest::first(1_000)).await.unwrap();
    assert_eq!(page.items.len(), 100);
    let rest = s.orders.list_by_status(&t, &aberta, &PageRequest { limit: 1_000, cursor: page.next }).await.unwrap();
    assert_eq!(rest.items.len(), 5);
    assert_eq!(rest.next, None);
    let page = s.orders.list_by_customer(&t, &cpf(5), &PageRequest::first(0)).await.unwrap();
    assert_eq!(page.items.len(), 20);
    let page = s.orders.list_by_customer(&t, &cpf(5), &PageRequest::first(101)).await.unwrap();
    assert_eq!(page.items.len(), 100);
}

/// A cursor that no list gave out is refused with an error (never a panic, never silently the first page).
pub async fn invalid_cursors_are_refused(s: Stores) {
    let t = tenant("acme");
    for i in 0..3u64 {
        create(&s, &t, i + 1, cpf(5), at(i as i64)).await;
    }
    for bad in ["not a cursor!", "AAAA", "%%%", "eyJ4IjoxfQ"] {
        let request = PageRequest { limit: 2, cursor: Some(bad.into()) };
        let result = s.orders.list_by_status(&t, &status("aberta"), &request).await;
        assert!(result.is_err(), "list_by_status accepted the cursor {bad:?}: {result:?}");
        let result = s.orders.list_by_customer(&t, &cpf(5), &request).await;
        assert!(result.is_err(), "list_by_customer accepted the cursor {bad:?}: {result:?}");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Tenant isolation
// ---------------------------------------------------------------------------------------------------------------

/// The same order id and customer in two tenants are two orders: each tenant sees, changes and lists only its
/// own; a third tenant sees nothing.
pub async fn tenants_never_see_each_others_orders(s: Stores) {
    let (a, b, c) = (tenant("acme"), tenant("beta"), tenant("gamma"));
    let id = new_order_id();
    let doc = cpf(77);
    let (order_a, opened_a) = open_order_with_id(&a, id, 1, doc, at(0));
    let (order_b, opened_b) = open_order_with_id(&b, id, 9, doc, at(1));
    s.orders.create(&order_a, &opened_a, None).await.unwrap();
    s.orders.create(&order_b, &opened_b, None).await.unwrap();
    assert_eq!(s.orders.get(&a, &id).await.unwrap(), Some(order_a.clone()));
    assert_eq!(s.orders.get(&b, &id).await.unwrap(), Some(order_b.clone()));
    assert_eq!(s.orders.get(&c, &id).await.unwrap(), None);

    let (events, a2) = advance(&order_a, Command::SendQuote, at(2));
    s.orders.apply(1, &a2, &events, None).await.unwrap();
    assert_eq!(s.orders.get(&b, &id).await.unwrap(), Some(order_b.clone()), "B untouched by A's step");
    assert_eq!(s.orders.timeline(&b, &id).await.unwrap(), vec![opened_b.clone()]);
    assert_eq!(s.orders.timeline(&a, &id).await.unwrap().len(), 2);
    assert_eq!(s.orders.timeline(&c, &id).await.unwrap(), vec![]);
    // B's version is its own.
    let (events, b2) = advance(&order_b, note("B"), at(3));
    s.orders.apply(1, &b2, &events, None).await.unwrap();

    // More orders on both sides, so that lists page.
    let mut more_b = vec![b2.clone()];
    for i in 0..4u64 {
        create(&s, &a, 10 + i, doc, at(4)).await;
        more_b.push(create(&s, &b, 20 + i, doc, at(5)).await);
    }
    let aberta = status("aberta");
    let pages = all_pages(2, |p| {
        let (orders, b, st) = (s.orders.clone(), b.clone(), aberta.clone());
        async move { orders.list_by_status(&b, &st, &p).await }
    })
    .await;
    let listed = pages.concat();
    assert!(listed.iter().all(|o| o.tenant == b), "B's list holds only B's orders");
    by_status_order(&mut more_b);
    assert_eq!(listed, more_b);
    let pages = all_pages(2, |p| {
        let (orders, b) = (s.orders.clone(), b.clone());
        async move { orders.list_by_customer(&b, &doc, &p).await }
    })
    .await;
    by_customer_order(&mut more_b);
    assert_eq!(pages.concat(), more_b);
    let waiting = s.orders.list_by_status(&b, &status("aguardando_aprovacao"), &PageRequest::first(10)).await;
    assert_eq!(waiting.unwrap().items, vec![], "A's order in that status is not B's");

    // A cursor of A's list used on B's list never yields A's orders.
    let page_a = s.orders.list_by_status(&a, &aberta, &PageRequest::first(2)).await.unwrap();
    if let Ok(page) = s.orders.list_by_status(&b, &aberta, &PageRequest { limit: 2, cursor: page_a.next }).await {
        assert!(page.items.iter().all(|o| o.tenant == b));
    }
    assert_eq!(s.orders.list_by_customer(&c, &doc, &PageRequest::first(10)).await.unwrap().items, vec![]);
}

/// Flows, invoice numbers and records, and idempotency keys are per tenant, under the same keys.
pub async fn tenants_never_see_each_others_flows_invoices_and_keys(s: Stores) {
    let (a, b) = (tenant("acme"), tenant("beta"));
    // Flows.
    s.flows.publish(&a, &flow_version(1), None).await.unwrap();
    s.flows.publish(&a, &flow_version(2), Some(1)).await.unwrap();
    assert_eq!(s.flows.current(&b).await.unwrap(), None);
    assert_eq!(s.flows.version(&b, 1).await.unwrap(), None);
    assert_eq!(s.flows.versions(&b).await.unwrap(), vec![]);
    let other = Flow { version: 1, def: Flow::default_flow().def };
    s.flows.publish(&b, &other, None).await.unwrap();
    assert_eq!(s.flows.current(&b).await.unwrap(), Some(other.clone()));
    assert_eq!(s.flows.current(&a).await.unwrap(), Some(flow_version(2)));
    assert_eq!(s.flows.version(&a, 1).await.unwrap(), Some(flow_version(1)));

    // Invoice numbers and records.
    let key = numbering("11222333000181", 1);
    let order = new_order_id();
    assert_eq!(s.invoices.claim_number(&a, &key, &new_order_id()).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&a, &key, &order).await.unwrap(), 2);
    assert_eq!(s.invoices.claim_number(&b, &key, &order).await.unwrap(), 1, "B's sequence is its own");
    s.invoices.save_invoice(&invoice_record(&a, &order, &key, 2, at(0)), 0).await.unwrap();
    assert_eq!(s.invoices.invoices(&b, &order).await.unwrap(), vec![]);
    s.invoices.save_invoice(&invoice_record(&b, &order, &key, 1, at(0)), 0).await.unwrap();
    assert_eq!(s.invoices.invoices(&a, &order).await.unwrap(), vec![invoice_record(&a, &order, &key, 2, at(0))]);

    // Idempotency keys.
    let (o1, opened1) = open_order(&a, 1, cpf(1), at(0));
    let record_a = idem_record(&a, "same-key", at(0));
    s.orders.create(&o1, &opened1, Some(&record_a)).await.unwrap();
    assert_eq!(s.idempotency.get_idempotency(&b, "same-key", at(1)).await.unwrap(), None);
    let (o2, opened2) = open_order(&b, 1, cpf(1), at(0));
    let record_b = idem_record(&b, "same-key", at(0));
    s.orders.create(&o2, &opened2, Some(&record_b)).await.expect("the same key is free in another tenant");
    assert_eq!(s.idempotency.get_idempotency(&a, "same-key", at(1)).await.unwrap(), Some(record_a));
    assert_eq!(s.idempotency.get_idempotency(&b, "same-key", at(1)).await.unwrap(), Some(record_b));
}

// ---------------------------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------------------------

/// A record given to `create` or `apply` is written with the step and read back as it was written.
pub async fn idempotency_record_is_saved_with_the_step(s: Stores) {
    let t = tenant("acme");
    assert_eq!(s.idempotency.get_idempotency(&t, "k-open", at(0)).await.unwrap(), None);
    let (v1, opened) = open_order(&t, 1, cpf(1), at(0));
    let on_create = idem_record(&t, "k-open", at(0));
    s.orders.create(&v1, &opened, Some(&on_create)).await.unwrap();
    assert_eq!(s.idempotency.get_idempotency(&t, "k-open", at(1)).await.unwrap(), Some(on_create));

    let (events, v2) = advance(&v1, Command::SendQuote, at(2));
    let mut on_apply = idem_record(&t, "k-send", at(2));
    on_apply.status = 200;
    on_apply.body = "{\"status\":\"aguardando_aprovacao\"}".into();
    s.orders.apply(1, &v2, &events, Some(&on_apply)).await.unwrap();
    assert_eq!(s.idempotency.get_idempotency(&t, "k-send", at(3)).await.unwrap(), Some(on_apply));
    assert_eq!(s.orders.get(&t, &v1.id).await.unwrap(), Some(v2));
}

/// A key used before makes `create` and `apply` fail with `AlreadyExists` and write nothing: no order, no
/// event, no change to the first record.
pub async fn used_idempotency_key_refuses_the_write(s: Stores) {
    let t = tenant("acme");
    let (first, opened) = open_order(&t, 1, cpf(1), at(0));
    let record = idem_record(&t, "k1", at(0));
    s.orders.create(&first, &opened, Some(&record)).await.unwrap();

    // The same key on another create.
    let (second, opened2) = open_order(&t, 2, cpf(1), at(1));
    let mut reuse = idem_record(&t, "k1", at(1));
    reuse.body = "{\"other\":true}".into();
    assert_eq!(s.orders.create(&second, &opened2, Some(&reuse)).await, Err(StoreError::AlreadyExists));
    assert_eq!(s.orders.get(&t, &second.id).await.unwrap(), None);
    assert_eq!(s.orders.timeline(&t, &second.id).await.unwrap(), vec![]);
    let listed = s.orders.list_by_status(&t, &status("aberta"), &PageRequest::first(10)).await.unwrap();
    assert_eq!(ids(&listed.items), vec![first.id]);

    // The same key on an apply.
    let (events, v2) = advance(&first, Command::SendQuote, at(2));
    assert_eq!(s.orders.apply(1, &v2, &events, Some(&reuse)).await, Err(StoreError::AlreadyExists));
    assert_eq!(s.orders.get(&t, &first.id).await.unwrap(), Some(first.clone()));
    assert_eq!(s.orders.timeline(&t, &first.id).await.unwrap(), vec![opened]);
    assert_eq!(s.idempotency.get_idempotency(&t, "k1", at(3)).await.unwrap(), Some(record));

    // The order is not locked by the failure: the same step under a new key goes through.
    s.orders.apply(1, &v2, &events, Some(&idem_record(&t, "k2", at(2)))).await.unwrap();
    assert_eq!(s.orders.get(&t, &first.id).await.unwrap(), Some(v2));
}

/// A record is returned while `now < expires_at`, and not from `expires_at` on.
pub async fn expired_idempotency_records_are_not_returned(s: Stores) {
    let t = tenant("acme");
    let (order, opened) = open_order(&t, 1, cpf(1), at(0));
    let mut record = idem_record(&t, "k1", at(0));
    record.expires_at = at(60);
    s.orders.create(&order, &opened, Some(&record)).await.unwrap();
    let get = |now| {
        let (idem, t) = (s.idempotency.clone(), t.clone());
        async move { idem.get_idempotency(&t, "k1", now).await.unwrap() }
    };
    assert_eq!(get(at(30)).await, Some(record.clone()));
    assert_eq!(get(at(60) - Duration::milliseconds(1)).await, Some(record));
    assert_eq!(get(at(60)).await, None);
    assert_eq!(get(at(61)).await, None);
    assert_eq!(get(at(60 * 24 * 30)).await, None);
}

/// A key whose record has expired by the new record's `created_at` is free again: the new record replaces it.
pub async fn expired_idempotency_key_can_be_used_again(s: Stores) {
    let t = tenant("acme");
    let (first, opened) = open_order(&t, 1, cpf(1), at(0));
    let mut old = idem_record(&t, "k1", at(0));
    old.expires_at = at(60);
    s.orders.create(&first, &opened, Some(&old)).await.unwrap();

    let (second, opened2) = open_order(&t, 2, cpf(1), at(120));
    let fresh = idem_record(&t, "k1", at(120));
    s.orders.create(&second, &opened2, Some(&fresh)).await.expect("an expired key is free again");
    assert_eq!(s.idempotency.get_idempotency(&t, "k1", at(121)).await.unwrap(), Some(fresh.clone()));

    // And on apply: the record of `fresh` expires one day later.
    let later = fresh.expires_at + Duration::minutes(1);
    let (events, v2) = advance(&first, Command::SendQuote, later);
    let newest = idem_record(&t, "k1", later);
    s.orders.apply(1, &v2, &events, Some(&newest)).await.unwrap();
    assert_eq!(s.idempotency.get_idempotency(&t, "k1", later).await.unwrap(), Some(newest));
    assert_eq!(s.orders.get(&t, &first.id).await.unwrap(), Some(v2));
}

// ---------------------------------------------------------------------------------------------------------------
// Flows
// ---------------------------------------------------------------------------------------------------------------

/// Publishing makes a version current; every version stays readable; `versions` is ascending.
pub async fn flows_publish_and_read(s: Stores) {
    let t = tenant("acme");
    assert_eq!(s.flows.current(&t).await.unwrap(), None);
    assert_eq!(s.flows.versions(&t).await.unwrap(), vec![]);
    assert_eq!(s.flows.version(&t, 1).await.unwrap(), None);

    s.flows.publish(&t, &flow_version(1), None).await.unwrap();
    assert_eq!(s.flows.current(&t).await.unwrap(), Some(flow_version(1)));
    s.flows.publish(&t, &flow_version(2), Some(1)).await.unwrap();
    s.flows.publish(&t, &flow_version(3), Some(2)).await.unwrap();
    assert_eq!(s.flows.current(&t).await.unwrap(), Some(flow_version(3)));
    assert_eq!(s.flows.version(&t, 2).await.unwrap(), Some(flow_version(2)));
    assert_eq!(s.flows.version(&t, 4).await.unwrap(), None);
    assert_eq!(s.flows.versions(&t).await.unwrap(), vec![flow_version(1), flow_version(2), flow_version(3)]);
    // Ascending as numbers, not as text.
    for v in 4..=10 {
        s.flows.publish(&t, &flow_version(v), Some(v - 1)).await.unwrap();
    }
    let versions: Vec<u32> = s.flows.versions(&t).await.unwrap().iter().map(|f| f.version).collect();
    assert_eq!(versions, (1..=10).collect::<Vec<u32>>());
    assert_eq!(s.flows.current(&t).await.unwrap(), Some(flow_version(10)));
}

/// A published version is never replaced: publishing it again is `AlreadyExists` and changes nothing.
pub async fn flow_versions_are_immutable(s: Stores) {
    let t = tenant("acme");
    s.flows.publish(&t, &flow_version(1), None).await.unwrap();
    s.flows.publish(&t, &flow_version(2), Some(1)).await.unwrap();

    let mut rewritten = flow_version(1);
    rewritten.def.per_line_approval = !rewritten.def.per_line_approval;
    assert_eq!(s.flows.publish(&t, &rewritten, Some(2)).await, Err(StoreError::AlreadyExists));
    let mut rewritten = flow_version(2);
    rewritten.def.per_line_approval = !rewritten.def.per_line_approval;
    assert_eq!(s.flows.publish(&t, &rewritten, Some(2)).await, Err(StoreError::AlreadyExists));

    assert_eq!(s.flows.version(&t, 1).await.unwrap(), Some(flow_version(1)));
    assert_eq!(s.flows.current(&t).await.unwrap(), Some(flow_version(2)));
    assert_eq!(s.flows.versions(&t).await.unwrap(), vec![flow_version(1), flow_version(2)]);
}

/// Publishing on a stale `expected_current` is `Conflict { current_version }` (0 when none is published) and
/// writes nothing.
pub async fn stale_flow_publish_conflicts(s: Stores) {
    let t = tenant("acme");
    assert_eq!(s.flows.publish(&t, &flow_version(1), Some(1)).await, Err(StoreError::Conflict { current_version: 0 }));
    assert_eq!(s.flows.current(&t).await.unwrap(), None);
    assert_eq!(s.flows.version(&t, 1).await.unwrap(), None);

    s.flows.publish(&t, &flow_version(1), None).await.unwrap();
    assert_eq!(s.flows.publish(&t, &flow_version(2), None).await, Err(StoreError::Conflict { current_version: 1 }));
    assert_eq!(s.flows.publish(&t, &flow_version(2), Some(7)).await, Err(StoreError::Conflict { current_version: 1 }));
    assert_eq!(s.flows.current(&t).await.unwrap(), Some(flow_version(1)));
    assert_eq!(s.flows.version(&t, 2).await.unwrap(), None);
    assert_eq!(s.flows.versions(&t).await.unwrap(), vec![flow_version(1)]);
}

// ---------------------------------------------------------------------------------------------------------------
// Invoices
// ---------------------------------------------------------------------------------------------------------------

/// Claims give 1, 2, 3… in order; an order claiming again gets its first number.
pub async fn invoice_numbers_are_claimed_in_order(s: Stores) {
    let t = tenant("acme");
    let key = numbering("11222333000181", 1);
    let orders: Vec<OrderId> = (0..5).map(|_| new_order_id()).collect();
    for (i, o) in orders.iter().enumerate() {
        assert_eq!(s.invoices.claim_number(&t, &key, o).await.unwrap(), i as u64 + 1);
    }
    assert_eq!(s.invoices.claim_number(&t, &key, &orders[2]).await.unwrap(), 3);
    assert_eq!(s.invoices.claim_number(&t, &key, &orders[0]).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &key, &new_order_id()).await.unwrap(), 6);
    assert_eq!(s.invoices.claim_number(&t, &key, &orders[4]).await.unwrap(), 5);
}

/// A sequence's open numbers are its claimed NF-e numbers not settled nor voided, ascending from a start, paged;
/// a range of claims reads every claim of it; DPS numbers are never open.
pub async fn open_numbers_list_only_what_may_be_a_gap(s: Stores) {
    let t = tenant("acme");
    let key = numbering("11222333000181", 1);
    let orders: Vec<OrderId> = (0..6).map(|_| new_order_id()).collect();
    for o in &orders {
        s.invoices.claim_number(&t, &key, o).await.unwrap();
    }
    let numbers = |v: Vec<osflow_app::ClaimedNumber>| v.iter().map(|c| c.number).collect::<Vec<_>>();
    assert_eq!(numbers(s.invoices.open_numbers(&t, &key, 1, 100).await.unwrap()), vec![1, 2, 3, 4, 5, 6]);
    s.invoices.settle_number(&t, &key, 2).await.unwrap();
    s.invoices.settle_number(&t, &key, 2).await.unwrap();
    s.invoices.settle_number(&t, &key, 5).await.unwrap();
    let open = s.invoices.open_numbers(&t, &key, 1, 100).await.unwrap();
    assert_eq!(numbers(open.clone()), vec![1, 3, 4, 6]);
    assert_eq!(open[1].order_id, orders[2], "each open number names the order that claimed it");
    assert!(open.iter().all(|c| c.open && !c.voided));
    assert_eq!(numbers(s.invoices.open_numbers(&t, &key, 1, 2).await.unwrap()), vec![1, 3], "a page");
    assert_eq!(numbers(s.invoices.open_numbers(&t, &key, 4, 100).await.unwrap()), vec![4, 6], "from 4");
    let range = s.invoices.claimed_numbers(&t, &key, 2, 4).await.unwrap();
    assert_eq!(
        range.iter().map(|c| (c.number, c.order_id, c.open)).collect::<Vec<_>>(),
        vec![(2, orders[1], false), (3, orders[2], true), (4, orders[3], true)]
    );
    assert!(s.invoices.claimed_numbers(&t, &key, 7, 9).await.unwrap().is_empty(), "never claimed");
    // Another tenant, another sequence, the DPS of the same CNPJ: nothing of this sequence.
    assert!(s.invoices.open_numbers(&tenant("other"), &key, 1, 100).await.unwrap().is_empty());
    let dps = osflow_app::NumberingKey::dps("11222333000181", 1);
    s.invoices.claim_number(&t, &dps, &orders[0]).await.unwrap();
    assert!(s.invoices.open_numbers(&t, &dps, 1, 100).await.unwrap().is_empty(), "a DPS number is never open");
    assert_eq!(s.invoices.open_numbers(&t, &key, 1, 100).await.unwrap().len(), 4);
}

/// Voiding a number closes it and releases it from its order: the order's next claim is a new number, and the
/// voided one is never given again, to anyone.
pub async fn a_voided_number_is_never_given_again(s: Stores) {
    let t = tenant("acme");
    let key = numbering("11222333000181", 1);
    let (x, y, z) = (new_order_id(), new_order_id(), new_order_id());
    assert_eq!(s.invoices.claim_number(&t, &key, &x).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &key, &y).await.unwrap(), 2);
    s.invoices.void_number(&t, &key, 1).await.unwrap();
    s.invoices.void_number(&t, &key, 1).await.unwrap();
    assert_eq!(s.invoices.void_number(&t, &key, 9).await, Err(StoreError::NotFound), "never claimed");
    let claims = s.invoices.claimed_numbers(&t, &key, 1, 2).await.unwrap();
    assert_eq!(
        claims.iter().map(|c| (c.number, c.order_id, c.open, c.voided)).collect::<Vec<_>>(),
        vec![(1, x, false, true), (2, y, true, false)]
    );
    assert_eq!(s.invoices.claim_number(&t, &key, &x).await.unwrap(), 3, "the order takes a new number");
    assert_eq!(s.invoices.claim_number(&t, &key, &x).await.unwrap(), 3, "and keeps it");
    assert_eq!(s.invoices.claim_number(&t, &key, &z).await.unwrap(), 4);
    assert_eq!(s.invoices.claim_number(&t, &key, &y).await.unwrap(), 2, "other claims are untouched");
    let open: Vec<u64> = s.invoices.open_numbers(&t, &key, 1, 100).await.unwrap().iter().map(|c| c.number).collect();
    assert_eq!(open, vec![2, 3, 4]);
}

fn void_record(t: &TenantId, key: &osflow_app::NumberingKey, first: u64, last: u64) -> osflow_app::VoidRecord {
    osflow_app::VoidRecord {
        tenant: t.clone(),
        numbering: key.clone(),
        first,
        last,
        justification: "NF-e rejeitada e emitida de novo com \"outro\" número & <série>".into(),
        state: osflow_app::VoidState::Pending,
        id: format!("ID35261122233300018155001{first:09}{last:09}"),
        request_xml: "<inutNFe xmlns=\"http://www.portalfiscal.inf.br/nfe\" versao=\"4.00\"/>".into(),
        cstat: None,
        message: None,
        protocol: None,
        xml_ref: None,
        sending_until: Some(at(1)),
        revision: 1,
        created_at: at(0),
        updated_at: at(0),
    }
}

/// Inutilizações: created once per (sequence, first number), updated only over the revision read, listed per
/// sequence ascending.
pub async fn voids_save_checks_revisions_and_list_per_sequence(s: Stores) {
    let t = tenant("acme");
    let key = numbering("11222333000181", 1);
    let homologation = key.clone().in_environment(osflow_app::FiscalEnvironment::Homologation);
    let later = void_record(&t, &key, 7, 9);
    let first = void_record(&t, &key, 2, 2);
    s.invoices.save_void(&later, 0).await.unwrap();
    s.invoices.save_void(&first, 0).await.unwrap();
    assert_eq!(s.invoices.save_void(&first, 0).await, Err(StoreError::AlreadyExists));
    s.invoices.save_void(&void_record(&t, &homologation, 2, 5), 0).await.unwrap();
    assert_eq!(s.invoices.voids(&t, &key).await.unwrap(), vec![first.clone(), later.clone()]);

    let mut voided = later.clone();
    voided.state = osflow_app::VoidState::Voided;
    voided.cstat = Some(102);
    voided.protocol = Some("135260000000009".into());
    voided.xml_ref = Some("fiscal/nfe/production/x-procInutNFe.xml".into());
    voided.sending_until = None;
    voided.revision = 2;
    voided.updated_at = at(1);
    s.invoices.save_void(&voided, 1).await.unwrap();
    let mut stale = later.clone();
    stale.revision = 2;
    stale.state = osflow_app::VoidState::Rejected;
    assert_eq!(s.invoices.save_void(&stale, 1).await, Err(StoreError::Conflict { current_version: 2 }));
    let mut unknown = void_record(&t, &key, 40, 41);
    unknown.revision = 2;
    assert_eq!(s.invoices.save_void(&unknown, 1).await, Err(StoreError::NotFound));
    assert_eq!(s.invoices.voids(&t, &key).await.unwrap(), vec![first, voided]);
    assert_eq!(s.invoices.voids(&t, &homologation).await.unwrap().len(), 1);
    assert!(s.invoices.voids(&tenant("other"), &key).await.unwrap().is_empty());
}

/// Homologation numbers are a sequence apart from production's, and a record keeps its environment.
pub async fn homologation_and_production_sequences_are_apart(s: Stores) {
    let t = tenant("acme");
    let production = numbering("11222333000181", 1);
    let homologation = production.clone().in_environment(osflow_app::FiscalEnvironment::Homologation);
    let (x, y) = (new_order_id(), new_order_id());
    assert_eq!(s.invoices.claim_number(&t, &homologation, &x).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &homologation, &y).await.unwrap(), 2);
    assert_eq!(s.invoices.claim_number(&t, &production, &y).await.unwrap(), 1, "production starts at 1");
    assert_eq!(s.invoices.claim_number(&t, &homologation, &x).await.unwrap(), 1, "the claim is kept");
    let now = Utc::now();
    s.invoices.save_invoice(&invoice_record(&t, &y, &homologation, 2, now), 0).await.unwrap();
    // Number 1 of production and number 1 of homologation of the same order are two records.
    s.invoices.save_invoice(&invoice_record(&t, &y, &production, 1, now), 0).await.unwrap();
    s.invoices.save_invoice(&invoice_record(&t, &y, &homologation, 1, now), 0).await.unwrap();
    let mut listed: Vec<(bool, u64)> = s
        .invoices
        .invoices(&t, &y)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.numbering.environment.is_production(), r.number))
        .collect();
    listed.sort();
    assert_eq!(listed, [(false, 1), (false, 2), (true, 1)]);
}

/// The DPS sequence of a (CNPJ, série) is apart from its NF-e sequence; an order's records of both kinds are
/// listed together and each keeps its kind.
pub async fn dps_and_nfe_sequences_are_apart(s: Stores) {
    let t = tenant("acme");
    let (nfe, dps) = (numbering("11222333000181", 1), NumberingKey::dps("11222333000181", 1));
    let (x, y) = (new_order_id(), new_order_id());
    assert_eq!(s.invoices.claim_number(&t, &nfe, &x).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &nfe, &y).await.unwrap(), 2);
    assert_eq!(s.invoices.claim_number(&t, &dps, &y).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &dps, &x).await.unwrap(), 2);
    assert_eq!(s.invoices.claim_number(&t, &dps, &y).await.unwrap(), 1);
    let now = Utc::now();
    s.invoices.save_invoice(&invoice_record(&t, &y, &nfe, 2, now), 0).await.unwrap();
    s.invoices.save_invoice(&invoice_record(&t, &y, &dps, 1, now), 0).await.unwrap();
    // Same number in the other kind's sequence: a distinct record.
    s.invoices.save_invoice(&invoice_record(&t, &y, &dps, 2, now), 0).await.unwrap();
    let listed = s.invoices.invoices(&t, &y).await.unwrap();
    let mut kinds: Vec<(FiscalDocument, u64)> = listed.iter().map(|r| (r.numbering.document, r.number)).collect();
    kinds.sort_by_key(|(d, n)| (d.tag(), *n));
    assert_eq!(kinds, [(FiscalDocument::Dps, 1), (FiscalDocument::Dps, 2), (FiscalDocument::Nfe, 2)]);
}

/// Every (CNPJ, série) is its own sequence; the same order claims one number in each.
pub async fn numbering_sequences_are_independent(s: Stores) {
    let t = tenant("acme");
    let (a1, a2, b1) = (numbering("11222333000181", 1), numbering("11222333000181", 2), numbering("12ABC34501DE35", 1));
    let (x, y) = (new_order_id(), new_order_id());
    assert_eq!(s.invoices.claim_number(&t, &a1, &x).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &a1, &y).await.unwrap(), 2);
    assert_eq!(s.invoices.claim_number(&t, &a2, &y).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &b1, &y).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &b1, &x).await.unwrap(), 2);
    assert_eq!(s.invoices.claim_number(&t, &a2, &x).await.unwrap(), 2);
    assert_eq!(s.invoices.claim_number(&t, &a1, &x).await.unwrap(), 1);
    assert_eq!(s.invoices.claim_number(&t, &a2, &y).await.unwrap(), 1);
}

/// `save_invoice` creates at revision 1, updates only from the stored revision, and `invoices` lists an order's
/// records ascending by number.
pub async fn save_invoice_checks_revisions(s: Stores) {
    let t = tenant("acme");
    let order = new_order_id();
    let key = numbering("11222333000181", 1);
    let r1 = invoice_record(&t, &order, &key, 5, at(0));
    s.invoices.save_invoice(&r1, 0).await.unwrap();
    assert_eq!(s.invoices.invoices(&t, &order).await.unwrap(), vec![r1.clone()]);
    assert_eq!(s.invoices.save_invoice(&r1, 0).await, Err(StoreError::AlreadyExists));

    let mut r2 = r1.clone();
    r2.revision = 2;
    r2.state = InvoiceState::Authorized;
    r2.cstat = Some(100);
    r2.message = Some("Autorizado o uso da NF-e".into());
    r2.protocol = Some("135260000000001".into());
    r2.xml_ref = Some("acme/nfe/5.xml".into());
    r2.updated_at = at(1);
    s.invoices.save_invoice(&r2, 1).await.unwrap();
    assert_eq!(s.invoices.invoices(&t, &order).await.unwrap(), vec![r2.clone()]);

    // A concurrent update decided on revision 1 as well.
    let mut stale = r1.clone();
    stale.revision = 2;
    stale.state = InvoiceState::Rejected;
    assert_eq!(s.invoices.save_invoice(&stale, 1).await, Err(StoreError::Conflict { current_version: 2 }));
    let mut ahead = r2.clone();
    ahead.revision = 5;
    assert_eq!(s.invoices.save_invoice(&ahead, 4).await, Err(StoreError::Conflict { current_version: 2 }));
    assert_eq!(s.invoices.invoices(&t, &order).await.unwrap(), vec![r2.clone()]);

    // Updating a record never created.
    let mut missing = invoice_record(&t, &order, &key, 6, at(0));
    missing.revision = 2;
    assert_eq!(s.invoices.save_invoice(&missing, 1).await, Err(StoreError::NotFound));

    // Ascending by number, only this order's.
    let other_serie = numbering("11222333000181", 2);
    let r3 = invoice_record(&t, &order, &other_serie, 2, at(2));
    s.invoices.save_invoice(&r3, 0).await.unwrap();
    let r4 = invoice_record(&t, &order, &key, 11, at(3));
    s.invoices.save_invoice(&r4, 0).await.unwrap();
    s.invoices.save_invoice(&invoice_record(&t, &new_order_id(), &key, 7, at(3)), 0).await.unwrap();
    assert_eq!(s.invoices.invoices(&t, &order).await.unwrap(), vec![r3, r2, r4]);
    assert_eq!(s.invoices.invoices(&t, &new_order_id()).await.unwrap(), vec![]);
}

/// 200 concurrent claims across 20 orders for one série: the numbers are exactly 1..=20, one per order, and
/// each order's repeated claims return its first number.
pub async fn concurrent_claims_are_gapless(s: Stores) {
    gapless_under_concurrency(s, numbering("11222333000181", 1)).await
}

/// The same for the NFS-e DPS sequence: 20 orders claiming concurrently get 1..=20.
pub async fn concurrent_dps_claims_are_gapless(s: Stores) {
    gapless_under_concurrency(s, NumberingKey::dps("11222333000181", 1)).await
}

async fn gapless_under_concurrency(s: Stores, key: NumberingKey) {
    let t = tenant("acme");
    let orders: Vec<OrderId> = (0..20).map(|_| new_order_id()).collect();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let (invoices, t, key, order) = (s.invoices.clone(), t.clone(), key.clone(), orders[i % 20]);
            tokio::spawn(async move { (order, invoices.claim_number(&t, &key, &order).await) })
        })
        .collect();
    let mut claimed: BTreeMap<OrderId, BTreeSet<u64>> = BTreeMap::new();
    for task in tasks {
        let (order, number) = task.await.expect("task");
        claimed.entry(order).or_default().insert(number.expect("claim_number"));
    }
    assert_eq!(claimed.len(), 20);
    let mut numbers = HashSet::new();
    for (order, set) in &claimed {
        assert_eq!(set.len(), 1, "order {order} got several numbers: {set:?}");
        assert!(numbers.insert(*set.first().unwrap()), "a number was given to two orders");
    }
    let numbers: BTreeSet<u64> = numbers.into_iter().collect();
    assert_eq!(numbers, (1..=20).collect::<BTreeSet<u64>>(), "no gap, no duplicate");
    for (order, set) in &claimed {
        assert_eq!(s.invoices.claim_number(&t, &key, order).await.unwrap(), *set.first().unwrap());
    }
    assert_eq!(s.invoices.claim_number(&t, &key, &new_order_id()).await.unwrap(), 21);
}

// ---------------------------------------------------------------------------------------------------------------
// Dedupe records
// ---------------------------------------------------------------------------------------------------------------

/// A dedupe key of the notifier for `event_id` on `channel`.
pub fn dedupe_key(tenant: &TenantId, event_id: &str, channel: &str) -> DedupeKey {
    DedupeKey {
        tenant: tenant.clone(),
        consumer: "notifier".into(),
        event_id: event_id.into(),
        channel: channel.into(),
    }
}

/// An outcome completed at `completed_at`.
pub fn dedupe_outcome(ok: bool, detail: &str, completed_at: DateTime<Utc>) -> DedupeOutcome {
    DedupeOutcome { ok, detail: detail.into(), completed_at }
}

/// The lease of the dedupe cases: 5 minutes.
fn lease() -> Duration {
    Duration::minutes(5)
}

/// The expiry of the dedupe cases: 7 days after `now`.
fn keep(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::days(7)
}

/// The first claim gets `Claimed`; a redelivery inside the lease gets `InFlight` with the first claim's instant
/// (to the sub-second); after `complete`, every claim gets `Done` with the outcome as written, however late
/// (before the expiry), and a second `complete` does not replace it.
pub async fn dedupe_claim_complete_and_redelivery(s: Stores) {
    let t = tenant("acme");
    let key = dedupe_key(&t, "order-1:7", "email");
    let claimed_at = at(0) + Duration::nanoseconds(789);
    assert_eq!(s.dedupe.claim(&key, claimed_at, lease(), keep(at(0))).await.unwrap(), Claim::Claimed);
    assert_eq!(
        s.dedupe.claim(&key, at(1), lease(), keep(at(1))).await.unwrap(),
        Claim::InFlight { claimed_at },
        "a second delivery within the lease"
    );
    let outcome =
        dedupe_outcome(true, "m***a@example.com; id <0102@ses>; acentuação ✓", at(1) + Duration::nanoseconds(3));
    s.dedupe.complete(&key, &outcome).await.unwrap();
    for minutes in [2, 10, 60 * 24] {
        assert_eq!(
            s.dedupe.claim(&key, at(minutes), lease(), keep(at(minutes))).await.unwrap(),
            Claim::Done(outcome.clone()),
            "a redelivery {minutes} minutes later"
        );
    }
    // A completed record stays completed: neither a second outcome nor a release changes it.
    s.dedupe.complete(&key, &dedupe_outcome(false, "second", at(3))).await.unwrap();
    s.dedupe.release(&key).await.unwrap();
    assert_eq!(s.dedupe.claim(&key, at(4), lease(), keep(at(4))).await.unwrap(), Claim::Done(outcome));
}

/// A claim made at or before `now - lease` is presumed dead and taken over; a younger one is in flight. The
/// takeover is a new claim: its own instant starts a new lease.
pub async fn dedupe_expired_lease_is_taken_over(s: Stores) {
    let t = tenant("acme");
    let key = dedupe_key(&t, "order-1:2", "webhook");
    assert_eq!(s.dedupe.claim(&key, at(0), lease(), keep(at(0))).await.unwrap(), Claim::Claimed);
    let just_before = at(5) - Duration::microseconds(1);
    assert_eq!(
        s.dedupe.claim(&key, just_before, lease(), keep(just_before)).await.unwrap(),
        Claim::InFlight { claimed_at: at(0) }
    );
    assert_eq!(s.dedupe.claim(&key, at(5), lease(), keep(at(5))).await.unwrap(), Claim::Claimed, "at now - lease");
    assert_eq!(s.dedupe.claim(&key, at(6), lease(), keep(at(6))).await.unwrap(), Claim::InFlight { claimed_at: at(5) });
    // Long after, the abandoned claim is taken again, and completing it works as usual.
    assert_eq!(s.dedupe.claim(&key, at(60), lease(), keep(at(60))).await.unwrap(), Claim::Claimed);
    let outcome = dedupe_outcome(false, "HTTP 410", at(61));
    s.dedupe.complete(&key, &outcome).await.unwrap();
    // A completed record is never taken over, whatever the lease.
    assert_eq!(s.dedupe.claim(&key, at(600), lease(), keep(at(600))).await.unwrap(), Claim::Done(outcome));
}

/// `release` drops an uncompleted claim, so the next delivery claims at once; it leaves a completed record (and a
/// missing one) alone.
pub async fn dedupe_release_allows_a_new_claim_but_not_after_complete(s: Stores) {
    let t = tenant("acme");
    let key = dedupe_key(&t, "order-2:3", "email");
    // Releasing what was never claimed is not an error.
    s.dedupe.release(&key).await.unwrap();
    assert_eq!(s.dedupe.claim(&key, at(0), lease(), keep(at(0))).await.unwrap(), Claim::Claimed);
    s.dedupe.release(&key).await.unwrap();
    assert_eq!(s.dedupe.claim(&key, at(1), lease(), keep(at(1))).await.unwrap(), Claim::Claimed, "released");
    assert_eq!(s.dedupe.claim(&key, at(2), lease(), keep(at(2))).await.unwrap(), Claim::InFlight { claimed_at: at(1) });
    let outcome = dedupe_outcome(true, "sent", at(2));
    s.dedupe.complete(&key, &outcome).await.unwrap();
    s.dedupe.release(&key).await.unwrap();
    assert_eq!(s.dedupe.claim(&key, at(3), lease(), keep(at(3))).await.unwrap(), Claim::Done(outcome));
}

/// A completion without a claim (released or taken over meanwhile) still records the outcome: the effect did
/// happen, so a redelivery must not repeat it.
pub async fn dedupe_complete_without_a_claim_records_the_outcome(s: Stores) {
    let t = tenant("acme");
    let never_claimed = dedupe_key(&t, "order-3:1", "email");
    let outcome = dedupe_outcome(true, "sent", at(0));
    s.dedupe.complete(&never_claimed, &outcome).await.unwrap();
    assert_eq!(s.dedupe.claim(&never_claimed, at(1), lease(), keep(at(1))).await.unwrap(), Claim::Done(outcome));

    let released = dedupe_key(&t, "order-3:2", "email");
    assert_eq!(s.dedupe.claim(&released, at(0), lease(), keep(at(0))).await.unwrap(), Claim::Claimed);
    s.dedupe.release(&released).await.unwrap();
    let late = dedupe_outcome(false, "timeout after the send", at(1));
    s.dedupe.complete(&released, &late).await.unwrap();
    assert_eq!(s.dedupe.claim(&released, at(2), lease(), keep(at(2))).await.unwrap(), Claim::Done(late));
}

/// 32 deliveries of one effect claim it at once: exactly one gets `Claimed`, the others `InFlight` with the
/// winner's instant (every claim here is made at the same instant).
pub async fn dedupe_concurrent_claims_have_one_winner(s: Stores) {
    let t = tenant("acme");
    let key = dedupe_key(&t, "order-4:1", "email");
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (dedupe, key) = (s.dedupe.clone(), key.clone());
            tokio::spawn(async move { dedupe.claim(&key, at(0), lease(), keep(at(0))).await })
        })
        .collect();
    let (mut claimed, mut in_flight) = (0, 0);
    for task in tasks {
        match task.await.expect("task").expect("claim") {
            Claim::Claimed => claimed += 1,
            Claim::InFlight { claimed_at } => {
                assert_eq!(claimed_at, at(0));
                in_flight += 1;
            }
            other => panic!("unexpected answer to a concurrent claim: {other:?}"),
        }
    }
    assert_eq!((claimed, in_flight), (1, 31), "exactly one concurrent claim wins");
}

/// A record belongs to its (tenant, consumer, event, channel): completing one answers nothing about the others,
/// including keys whose parts contain separators.
pub async fn dedupe_records_are_per_tenant_consumer_event_and_channel(s: Stores) {
    let (a, b) = (tenant("acme"), tenant("beta"));
    let key = dedupe_key(&a, "order-5:1", "email");
    assert_eq!(s.dedupe.claim(&key, at(0), lease(), keep(at(0))).await.unwrap(), Claim::Claimed);
    let outcome = dedupe_outcome(true, "sent", at(0));
    s.dedupe.complete(&key, &outcome).await.unwrap();

    let mut other_consumer = key.clone();
    other_consumer.consumer = "auditor".into();
    let others = [
        dedupe_key(&b, "order-5:1", "email"),
        dedupe_key(&a, "order-5:1", "webhook"),
        dedupe_key(&a, "order-5:2", "email"),
        other_consumer,
    ];
    for other in &others {
        assert_eq!(s.dedupe.claim(other, at(1), lease(), keep(at(1))).await.unwrap(), Claim::Claimed, "{other:?}");
    }
    // Releasing the others leaves the first alone.
    for other in &others {
        s.dedupe.release(other).await.unwrap();
    }
    assert_eq!(s.dedupe.claim(&key, at(2), lease(), keep(at(2))).await.unwrap(), Claim::Done(outcome.clone()));
    assert_eq!(s.dedupe.claim(&others[0], at(2), lease(), keep(at(2))).await.unwrap(), Claim::Claimed);

    // Parts that would give the same text if they were only joined with a separator are different keys.
    let part_key = |consumer: &str, event_id: &str, channel: &str| DedupeKey {
        tenant: a.clone(),
        consumer: consumer.into(),
        event_id: event_id.into(),
        channel: channel.into(),
    };
    let joined = part_key("notifier#x", "order-5:1", "email");
    assert_eq!(s.dedupe.claim(&joined, at(3), lease(), keep(at(3))).await.unwrap(), Claim::Claimed);
    s.dedupe.complete(&joined, &outcome).await.unwrap();
    for other in [part_key("notifier", "x#order-5:1", "email"), part_key("notifier%23x", "order-5:1", "email")] {
        assert_eq!(s.dedupe.claim(&other, at(4), lease(), keep(at(4))).await.unwrap(), Claim::Claimed, "{other:?}");
    }
    assert_eq!(s.dedupe.claim(&joined, at(4), lease(), keep(at(4))).await.unwrap(), Claim::Done(outcome));
}

/// A record is absent from its `expires_at` on (whether claimed or completed): a claim then gets `Claimed`, even
/// if the store has not deleted the record yet.
pub async fn dedupe_expired_records_are_absent(s: Stores) {
    let t = tenant("acme");
    let done = dedupe_key(&t, "order-6:1", "email");
    assert_eq!(s.dedupe.claim(&done, at(0), lease(), at(60)).await.unwrap(), Claim::Claimed);
    let outcome = dedupe_outcome(true, "sent", at(1));
    s.dedupe.complete(&done, &outcome).await.unwrap();
    let just_before = at(60) - Duration::microseconds(1);
    assert_eq!(s.dedupe.claim(&done, just_before, lease(), keep(just_before)).await.unwrap(), Claim::Done(outcome));
    assert_eq!(s.dedupe.claim(&done, at(60), lease(), keep(at(60))).await.unwrap(), Claim::Claimed, "expired");
    // The new claim is a record of its own: in flight, then completed anew.
    assert_eq!(
        s.dedupe.claim(&done, at(61), lease(), keep(at(61))).await.unwrap(),
        Claim::InFlight { claimed_at: at(60) }
    );
    let again = dedupe_outcome(false, "second life", at(62));
    s.dedupe.complete(&done, &again).await.unwrap();
    assert_eq!(s.dedupe.claim(&done, at(63), lease(), keep(at(63))).await.unwrap(), Claim::Done(again));

    // A claim that expires inside its own lease (an expiry shorter than the lease) is absent too.
    let short = dedupe_key(&t, "order-6:2", "email");
    assert_eq!(s.dedupe.claim(&short, at(0), Duration::hours(1), at(2)).await.unwrap(), Claim::Claimed);
    assert_eq!(
        s.dedupe.claim(&short, at(1), Duration::hours(1), keep(at(1))).await.unwrap(),
        Claim::InFlight { claimed_at: at(0) }
    );
    assert_eq!(s.dedupe.claim(&short, at(2), Duration::hours(1), keep(at(2))).await.unwrap(), Claim::Claimed);
}

// ---------------------------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------------------------

/// Notification settings with every field filled, templates (with and without subject) and both channels.
pub fn full_notification_settings() -> NotificationSettings {
    NotificationSettings {
        company_name: Some("Oficina Acme Ltda.".into()),
        sender_name: Some("Acme Assistência".into()),
        sender_email: Some("os@acme.example".into()),
        reply_to: Some("atendimento@acme.example".into()),
        webhook_url: Some("https://hooks.acme.example/osflow?x=1&y=2".into()),
        webhook_secret: Some("s3cr3t-ünïcode".into()),
        templates: BTreeMap::from([
            (
                "awaiting_approval".to_owned(),
                TemplateOverride {
                    subject: Some("Orçamento da OS {numero}".into()),
                    body: "Olá {cliente},\nseu orçamento de {total} está pronto.\n— {empresa}".into(),
                },
            ),
            ("material_date_changed".to_owned(), TemplateOverride { subject: None, body: "Nova data: {data}".into() }),
        ]),
        channels: vec![NotifyChannel::Webhook, NotifyChannel::Email],
    }
}

/// `None` before any save; a save reads back equal (every field, templates and channels in order); a second save
/// replaces the whole value (fields it drops are gone).
pub async fn settings_round_trip_and_replace(s: Stores) {
    let t = tenant("acme");
    assert_eq!(s.settings.notification_settings(&t).await.unwrap(), None);
    let full = full_notification_settings();
    s.settings.put_notification_settings(&t, &full).await.unwrap();
    assert_eq!(s.settings.notification_settings(&t).await.unwrap(), Some(full));

    let replacement = NotificationSettings {
        company_name: Some("Acme".into()),
        channels: vec![NotifyChannel::Email],
        ..NotificationSettings::default()
    };
    s.settings.put_notification_settings(&t, &replacement).await.unwrap();
    assert_eq!(s.settings.notification_settings(&t).await.unwrap(), Some(replacement));

    // The empty value is a value (saved), not an absence.
    s.settings.put_notification_settings(&t, &NotificationSettings::default()).await.unwrap();
    assert_eq!(s.settings.notification_settings(&t).await.unwrap(), Some(NotificationSettings::default()));
}

/// Each company has its own settings.
pub async fn settings_are_per_tenant(s: Stores) {
    let (a, b) = (tenant("acme"), tenant("beta"));
    let full = full_notification_settings();
    s.settings.put_notification_settings(&a, &full).await.unwrap();
    assert_eq!(s.settings.notification_settings(&b).await.unwrap(), None);
    let other = NotificationSettings { company_name: Some("Beta".into()), ..NotificationSettings::default() };
    s.settings.put_notification_settings(&b, &other).await.unwrap();
    assert_eq!(s.settings.notification_settings(&a).await.unwrap(), Some(full));
    assert_eq!(s.settings.notification_settings(&b).await.unwrap(), Some(other));
}

/// Paperwork settings: `None` before any save, read back equal, replaced whole, per company, apart from the
/// notification settings.
pub async fn company_settings_round_trip_per_tenant(s: Stores) {
    let (a, b) = (tenant("acme"), tenant("beta"));
    assert_eq!(s.settings.company_settings(&a).await.unwrap(), None);
    let full = CompanySettings {
        company_name: Some("Assistência Acme".into()),
        company_document: Some("12.345.678/0001-95".into()),
        warranty: osflow_domain::WarrantyDefaults { parts_days: 180, labor_days: 30 },
        warranty_terms: Some("Garantia de peças e serviços; não cobre mau uso.".into()),
        entry_terms: Some("Equipamento não retirado em 90 dias…".into()),
    };
    s.settings.put_company_settings(&a, &full).await.unwrap();
    assert_eq!(s.settings.company_settings(&a).await.unwrap(), Some(full.clone()));
    assert_eq!(s.settings.company_settings(&b).await.unwrap(), None);
    assert_eq!(s.settings.notification_settings(&a).await.unwrap(), None, "apart from the notification settings");
    s.settings.put_company_settings(&a, &CompanySettings::default()).await.unwrap();
    assert_eq!(s.settings.company_settings(&a).await.unwrap(), Some(CompanySettings::default()));
}

// ---------------------------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------------------------

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, d).expect("a day of November 2026")
}

/// A day aggregate with `opened` orders, a status stay and revenue (so that round trips cover every part).
fn day_aggregate(d: u32, opened: u64) -> osflow_domain::report::DayAggregate {
    let mut a = osflow_domain::report::DayAggregate::new(day(d));
    a.opened = opened;
    let st = a.statuses.entry(status("em_execucao")).or_default();
    st.entered = opened;
    st.left = 1;
    st.total_secs = 3_600;
    st.histogram.add(3_600);
    a.by_technician
        .entry("tec-1".into())
        .or_default()
        .insert(status("em_execucao"), osflow_domain::report::StayTotals { left: 1, total_secs: 3_600 });
    a.revenue.insert("pix".into(), Money::parse("149.90").expect("money"));
    a.payments = 1;
    a
}

/// An event is counted once: its count writes the day's aggregate with the dedupe record; a second count of the
/// same event is `AlreadyExists` and a count on a stale day version is `Conflict` — neither writes anything.
pub async fn report_events_count_once_with_their_day(s: Stores) {
    let t = tenant("acme");
    assert_eq!(s.reports.day(&t, day(3)).await.unwrap(), None);
    assert!(!s.reports.event_counted(&t, "o1:1").await.unwrap());
    let first = day_aggregate(3, 1);
    s.reports.count_event(&t, "o1:1", &first, 0).await.unwrap();
    let stored = s.reports.day(&t, day(3)).await.unwrap().expect("stored");
    assert_eq!((stored.aggregate, stored.version), (first.clone(), 1));
    assert!(s.reports.event_counted(&t, "o1:1").await.unwrap());

    // The same event again: refused, whatever version it names.
    let again = day_aggregate(3, 7);
    assert_eq!(s.reports.count_event(&t, "o1:1", &again, 1).await, Err(StoreError::AlreadyExists));
    assert_eq!(s.reports.count_event(&t, "o1:1", &again, 0).await, Err(StoreError::AlreadyExists));
    // Another event on a stale version: conflict, and that event is not counted.
    let second = day_aggregate(3, 2);
    assert_eq!(s.reports.count_event(&t, "o2:1", &second, 0).await, Err(StoreError::Conflict { current_version: 1 }));
    assert!(!s.reports.event_counted(&t, "o2:1").await.unwrap());
    let stored = s.reports.day(&t, day(3)).await.unwrap().expect("stored");
    assert_eq!((stored.aggregate, stored.version), (first, 1));
    // On the current version it is counted.
    s.reports.count_event(&t, "o2:1", &second, 1).await.unwrap();
    let stored = s.reports.day(&t, day(3)).await.unwrap().expect("stored");
    assert_eq!((stored.aggregate, stored.version), (second, 2));
    assert!(s.reports.event_counted(&t, "o2:1").await.unwrap());
    // Counted events are per tenant.
    assert!(!s.reports.event_counted(&tenant("other"), "o2:1").await.unwrap());
}

/// `days` returns the stored days of the range, ascending, of the caller's tenant only.
pub async fn report_days_read_by_range_and_tenant(s: Stores) {
    let (a, b) = (tenant("acme"), tenant("other"));
    for (i, d) in [5, 1, 30, 10].into_iter().enumerate() {
        s.reports.count_event(&a, &format!("o:{i}"), &day_aggregate(d, u64::from(d)), 0).await.unwrap();
    }
    s.reports.count_event(&b, "o:0", &day_aggregate(5, 99), 0).await.unwrap();
    let got: Vec<(NaiveDate, u64)> =
        s.reports.days(&a, day(1), day(10)).await.unwrap().into_iter().map(|d| (d.day, d.opened)).collect();
    assert_eq!(got, vec![(day(1), 1), (day(5), 5), (day(10), 10)]);
    let got: Vec<u64> = s.reports.days(&a, day(2), day(30)).await.unwrap().into_iter().map(|d| d.opened).collect();
    assert_eq!(got, vec![5, 10, 30]);
    assert!(s.reports.days(&a, day(11), day(29)).await.unwrap().is_empty());
    let other: Vec<u64> = s.reports.days(&b, day(1), day(30)).await.unwrap().into_iter().map(|d| d.opened).collect();
    assert_eq!(other, vec![99]);
    // The companies active on a day, in tenant order; a second write of the day does not repeat it.
    s.reports.count_event(&b, "o:1", &day_aggregate(5, 100), 1).await.unwrap();
    assert_eq!(s.reports.active_tenants(day(5)).await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(s.reports.active_tenants(day(1)).await.unwrap(), vec![a]);
    assert!(s.reports.active_tenants(day(2)).await.unwrap().is_empty());
}

fn report_record(t: &TenantId, id: &str, generated_minutes: i64) -> ReportRecord {
    let days = [day_aggregate(1, 3)];
    ReportRecord {
        tenant: t.clone(),
        id: id.to_owned(),
        period: ReportPeriod::Daily,
        from: day(1),
        to: day(1),
        generated_at: at(generated_minutes),
        files: vec!["report.csv".into(), "time-per-stage.svg".into()],
        summary: osflow_domain::report::Summary::of(day(1), day(1), &days, true),
    }
}

/// Reports are stored by id (a save of the same id replaces it), listed newest first, per tenant.
pub async fn reports_save_replace_and_list(s: Stores) {
    let (a, b) = (tenant("acme"), tenant("other"));
    assert_eq!(s.reports.report(&a, "daily-2026-11-01").await.unwrap(), None);
    let first = report_record(&a, "daily-2026-11-01", 1);
    s.reports.save_report(&first).await.unwrap();
    assert_eq!(s.reports.report(&a, "daily-2026-11-01").await.unwrap(), Some(first));
    let replaced = report_record(&a, "daily-2026-11-01", 5);
    s.reports.save_report(&replaced).await.unwrap();
    assert_eq!(s.reports.report(&a, "daily-2026-11-01").await.unwrap(), Some(replaced.clone()));
    s.reports.save_report(&report_record(&a, "weekly-2026-10-26", 3)).await.unwrap();
    s.reports.save_report(&report_record(&a, "monthly-2026-10", 9)).await.unwrap();
    s.reports.save_report(&report_record(&b, "daily-2026-11-02", 2)).await.unwrap();
    let ids: Vec<String> = s.reports.reports(&a, 10).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec!["monthly-2026-10", "daily-2026-11-01", "weekly-2026-10-26"]);
    let ids: Vec<String> = s.reports.reports(&a, 2).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec!["monthly-2026-10", "daily-2026-11-01"]);
    assert_eq!(s.reports.report(&b, "daily-2026-11-01").await.unwrap(), None);
    let ids: Vec<String> = s.reports.reports(&b, 10).await.unwrap().into_iter().map(|r| r.id).collect();
    assert_eq!(ids, vec!["daily-2026-11-02"]);
}

pub use crate::records_conformance::{
    customers_by_id_and_document, equipment_by_serial_and_customer, histories_list_linked_orders_newest_first,
    rewritten_events_replay_to_the_order,
};
pub use crate::unlock_conformance::{
    an_opening_keeps_its_unlock_code_in_its_own_write,
    unlock_codes_are_kept_per_order_and_deleted_with_the_step_that_forgets_them,
};
