//! The adapter conformance suite on SQLite (one temporary file per case), and the SQLite-specific behaviour:
//! the outbox, durability across a reopen, schema migration, error mapping.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use osflow_app::{
    Claim, DedupeStore, EmitterStore, FlowStore, IdempotencyStore, InvoiceStore, OrderStore, Outbox, OutboxEntry,
    PageRequest, SettingsStore, StoreError,
};
use osflow_domain::{Command, Event, Order};
use osflow_store_sqlite::{SCHEMA_VERSION, SecretsKey, SqliteOptions, SqliteStore};
use osflow_testkit::conformance::{
    Stores, advance, at, cpf, dedupe_key, dedupe_outcome, flow_version, full_notification_settings, idem_record,
    invoice_record, new_order_id, note, numbering, open_order, status, tenant,
};

async fn stores() -> Stores {
    Stores::from_one(Arc::new(SqliteStore::open_temporary().expect("temporary store")))
}

osflow_testkit::conformance_tests!(stores);

fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

/// A raw connection on the store's file, to look under the ports.
fn raw(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn
}

/// Creates an order and applies `steps` notes to it; returns the order and all its events.
async fn order_with_notes(store: &SqliteStore, number: u64, steps: usize) -> (Order, Vec<Event>) {
    let t = tenant("acme");
    let (mut order, opened) = open_order(&t, number, cpf(1), at(number as i64));
    store.create(&order, &opened, None).await.unwrap();
    let mut events = vec![opened];
    for i in 0..steps {
        let (new, next) = advance(&order, note(&format!("nota {i}")), at(number as i64 + 1 + i as i64));
        store.apply(order.version, &next, &new, None).await.unwrap();
        events.extend(new);
        order = next;
    }
    (order, events)
}

fn entry_keys(entries: &[OutboxEntry]) -> Vec<(String, u64)> {
    entries.iter().map(|e| (e.order_id.to_string(), e.event.version)).collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Outbox
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_lists_committed_events_in_commit_order() {
    let store = SqliteStore::open_temporary().unwrap();
    assert_eq!(store.pending(10).await.unwrap(), vec![]);
    let t = tenant("acme");
    // Interleaved steps of two orders: the outbox follows the commits, not the orders.
    let (a, opened_a) = open_order(&t, 1, cpf(1), at(0));
    let (b, opened_b) = open_order(&tenant("beta"), 1, cpf(1), at(0));
    store.create(&a, &opened_a, None).await.unwrap();
    store.create(&b, &opened_b, None).await.unwrap();
    let (events_a, a2) = advance(&a, Command::SendQuote, at(1));
    store.apply(1, &a2, &events_a, None).await.unwrap();
    let (events_b, b2) = advance(&b, note("b"), at(2));
    store.apply(1, &b2, &events_b, None).await.unwrap();

    let pending = store.pending(100).await.unwrap();
    let expected = vec![
        (a.tenant.clone(), a.id, opened_a),
        (b.tenant.clone(), b.id, opened_b),
        (a.tenant.clone(), a.id, events_a[0].clone()),
        (b.tenant.clone(), b.id, events_b[0].clone()),
    ];
    assert_eq!(pending.iter().map(|e| (e.tenant.clone(), e.order_id, e.event.clone())).collect::<Vec<_>>(), expected);
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq), "seq increases");
    // `limit` takes the oldest.
    assert_eq!(store.pending(2).await.unwrap(), pending[..2].to_vec());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mark_relayed_is_idempotent_and_keeps_the_first_instant() {
    let store = SqliteStore::open_temporary().unwrap();
    order_with_notes(&store, 1, 4).await;
    let pending = store.pending(100).await.unwrap();
    assert_eq!(pending.len(), 5);
    let seqs: Vec<u64> = pending.iter().map(|e| e.seq).collect();

    store.mark_relayed(&seqs[..2], at(100)).await.unwrap();
    assert_eq!(store.pending(100).await.unwrap(), pending[2..].to_vec());
    // Again, overlapping, with unknown seqs and an empty list: no error, no change to what was marked.
    store.mark_relayed(&[seqs[1], seqs[2], 999_999], at(200)).await.unwrap();
    store.mark_relayed(&[], at(300)).await.unwrap();
    assert_eq!(store.pending(100).await.unwrap(), pending[3..].to_vec());
    let conn = raw(store.path());
    let relayed: Vec<(i64, Option<i64>)> = conn
        .prepare("SELECT seq, relayed_at FROM events ORDER BY seq")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let ns = |m| at(m).timestamp_nanos_opt().unwrap();
    assert_eq!(relayed[1], (seqs[1] as i64, Some(ns(100))), "a second mark keeps the first instant");
    assert_eq!(relayed[2], (seqs[2] as i64, Some(ns(200))));
    assert_eq!(relayed[3].1, None);
    // New events after marking are pending, after the older unrelayed ones.
    let (order, _) = order_with_notes(&store, 2, 0).await;
    let now_pending = store.pending(100).await.unwrap();
    assert_eq!(now_pending.len(), 3);
    assert_eq!(now_pending[2].order_id, order.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_conflicting_steps_leave_nothing_in_the_outbox() {
    let store = SqliteStore::open_temporary().unwrap();
    let t = tenant("acme");
    let (v1, opened) = open_order(&t, 1, cpf(1), at(0));
    store.create(&v1, &opened, Some(&idem_record(&t, "k1", at(0)))).await.unwrap();
    let (events, v2) = advance(&v1, Command::SendQuote, at(1));
    store.apply(1, &v2, &events, None).await.unwrap();
    let before = store.pending(100).await.unwrap();
    assert_eq!(before.len(), 2);

    // A conflicting step.
    let (stale_events, stale) = advance(&v1, note("stale"), at(2));
    assert_eq!(store.apply(1, &stale, &stale_events, None).await, Err(StoreError::Conflict { current_version: 2 }));
    // A step whose idempotency key is taken (the event insert happened before the key check).
    let (events3, v3) = advance(&v2, note("n"), at(3));
    assert_eq!(
        store.apply(2, &v3, &events3, Some(&idem_record(&t, "k1", at(3)))).await,
        Err(StoreError::AlreadyExists)
    );
    // A create of an existing order, and a create whose key is taken.
    assert_eq!(store.create(&v1, &opened, None).await, Err(StoreError::AlreadyExists));
    let (other, other_opened) = open_order(&t, 2, cpf(2), at(4));
    assert_eq!(
        store.create(&other, &other_opened, Some(&idem_record(&t, "k1", at(4)))).await,
        Err(StoreError::AlreadyExists)
    );
    // A step to an unknown order.
    let (ghost, _) = open_order(&t, 3, cpf(3), at(5));
    let (ghost_events, ghost2) = advance(&ghost, note("g"), at(6));
    assert_eq!(store.apply(1, &ghost2, &ghost_events, None).await, Err(StoreError::NotFound));
    // Inconsistent input is refused before anything is written.
    let (bad_events, bad) = advance(&v2, note("bad"), at(7));
    assert!(matches!(store.apply(1, &bad, &bad_events, None).await, Err(StoreError::Other(_))));
    assert!(matches!(store.apply(2, &v2, &[], None).await, Err(StoreError::Other(_))));

    assert_eq!(store.pending(100).await.unwrap(), before);
    assert_eq!(store.timeline(&t, &v1.id).await.unwrap().len(), 2);
    assert_eq!(store.get(&t, &other.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncommitted_events_are_not_pending() {
    let store = SqliteStore::open_temporary().unwrap();
    let (order, _) = order_with_notes(&store, 1, 0).await;
    assert_eq!(store.pending(100).await.unwrap().len(), 1);

    // Another connection writes an event and keeps its transaction open.
    let mut conn = raw(store.path());
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let (events, _) = advance(&order, note("não confirmado"), at(5));
    tx.execute(
        "INSERT INTO events (tenant, order_id, version, type, at, body) VALUES (?1, ?2, 2, 'order.note_added', 0, ?3)",
        rusqlite::params![order.tenant.as_str(), order.id.to_string(), serde_json::to_string(&events[0]).unwrap()],
    )
    .unwrap();
    let pending = store.pending(100).await.unwrap();
    assert_eq!(entry_keys(&pending), vec![(order.id.to_string(), 1)], "the open transaction is invisible");
    tx.commit().unwrap();
    let pending = store.pending(100).await.unwrap();
    assert_eq!(entry_keys(&pending), vec![(order.id.to_string(), 1), (order.id.to_string(), 2)]);
}

// ---------------------------------------------------------------------------------------------------------------
// Durability and schema
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopening_the_file_keeps_everything() {
    let dir = temp_dir();
    let path = dir.path().join("data.db");
    let t = tenant("acme");
    let key = numbering("11222333000181", 1);
    let record = idem_record(&t, "k1", at(0));
    let invoice = invoice_record(&t, &new_order_id(), &key, 1, at(0));

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.next_order_number(&t).await.unwrap(), 1);
    let (order, events) = order_with_notes(&store, 1, 3).await;
    let (second, opened) = open_order(&t, 2, cpf(1), at(50));
    store.create(&second, &opened, Some(&record)).await.unwrap();
    store.publish(&t, &flow_version(1), None).await.unwrap();
    store.publish(&t, &flow_version(2), Some(1)).await.unwrap();
    assert_eq!(store.claim_number(&t, &key, &invoice.order_id).await.unwrap(), 1);
    store.save_invoice(&invoice, 0).await.unwrap();
    let seqs: Vec<u64> = store.pending(2).await.unwrap().iter().map(|e| e.seq).collect();
    store.mark_relayed(&seqs, at(60)).await.unwrap();
    let pending = store.pending(100).await.unwrap();
    drop(store);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.get(&t, &order.id).await.unwrap(), Some(order.clone()));
    assert_eq!(store.timeline(&t, &order.id).await.unwrap(), events);
    assert_eq!(store.get(&t, &second.id).await.unwrap(), Some(second.clone()));
    let listed = store.list_by_status(&t, &status("aberta"), &PageRequest::first(10)).await.unwrap();
    assert_eq!(listed.items, vec![order.clone(), second.clone()]);
    assert_eq!(store.get_idempotency(&t, "k1", at(1)).await.unwrap(), Some(record));
    assert_eq!(store.current(&t).await.unwrap(), Some(flow_version(2)));
    assert_eq!(store.versions(&t).await.unwrap(), vec![flow_version(1), flow_version(2)]);
    assert_eq!(store.invoices(&t, &invoice.order_id).await.unwrap(), vec![invoice.clone()]);
    assert_eq!(store.pending(100).await.unwrap(), pending, "relay marks survive");
    // Counters go on from where they were.
    assert_eq!(store.next_order_number(&t).await.unwrap(), 2);
    assert_eq!(store.claim_number(&t, &key, &invoice.order_id).await.unwrap(), 1);
    assert_eq!(store.claim_number(&t, &key, &new_order_id()).await.unwrap(), 2);
    // Outbox sequence numbers never go back.
    let (third, opened3) = open_order(&t, 3, cpf(1), at(70));
    store.create(&third, &opened3, None).await.unwrap();
    let last = store.pending(100).await.unwrap().pop().unwrap();
    assert!(last.seq > pending.last().unwrap().seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_migration_is_idempotent_on_reopen() {
    let dir = temp_dir();
    let path = dir.path().join("data.db");
    let schema = |path: &Path| -> (u32, String, Vec<String>) {
        let conn = raw(path);
        let version: u32 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        let objects = conn
            .prepare("SELECT type || ' ' || name FROM sqlite_schema ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        (version, mode, objects)
    };

    let store = SqliteStore::open(&path).unwrap();
    let (order, _) = order_with_notes(&store, 1, 1).await;
    drop(store);
    let first = schema(&path);
    assert_eq!(first.0, SCHEMA_VERSION);
    assert_eq!(first.1, "wal");
    assert!(first.2.contains(&"table orders".to_owned()) && first.2.contains(&"index orders_by_status".to_owned()));

    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.get(&order.tenant, &order.id).await.unwrap(), Some(order.clone()));
        drop(store);
        assert_eq!(schema(&path), first, "reopening changes no schema");
    }

    // Two stores on one file (e.g. the server and a CLI command) both open it.
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    assert_eq!(b.get(&order.tenant, &order.id).await.unwrap(), Some(order.clone()));
    drop((a, b));

    // A file from a newer build is refused, untouched.
    raw(&path).pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(&err, StoreError::Other(m) if m.contains("newer")), "{err:?}");
    assert_eq!(schema(&path).0, SCHEMA_VERSION + 1);
}

/// Every object of the schema with its SQL, by name.
fn schema_objects(path: &Path) -> Vec<(String, String, Option<String>)> {
    raw(path)
        .prepare("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn user_version(path: &Path) -> u32 {
    raw(path).pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
}

/// The tables of migrations 2 (emitters) and 3 (dedupe, notification settings), which builds before them
/// created on their first write.
const LATER_TABLES: [&str; 9] = [
    "emitters",
    "emitter_certificates",
    "dedupe",
    "notification_settings",
    "report_days",
    "report_events",
    "reports",
    "company_settings",
    "emitter_contingency",
];

/// Takes out what later migrations added to the tables of migration 1 (the orders' SLA deadline and its index,
/// the orders' card and the status index holding it, the claims keyed by number, the inutilizações, which no
/// older build created), as a file of schema version 1 is.
fn drop_later_columns(conn: &rusqlite::Connection) {
    conn.execute_batch(
        "DROP INDEX orders_by_sla_due; DROP INDEX orders_by_status; ALTER TABLE orders DROP COLUMN card;
         ALTER TABLE orders DROP COLUMN sla_due; CREATE INDEX orders_by_status ON orders (tenant, status, updated_at, id);
         DROP TABLE invoice_claims; DROP TABLE invoice_voids;
         CREATE TABLE invoice_claims (tenant TEXT NOT NULL, cnpj TEXT NOT NULL, serie INTEGER NOT NULL,
             order_id TEXT NOT NULL, number INTEGER NOT NULL, PRIMARY KEY (tenant, cnpj, serie, order_id),
             UNIQUE (tenant, cnpj, serie, number)) WITHOUT ROWID;",
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_1_file_is_migrated_to_the_current_schema() {
    let dir = temp_dir();
    let fresh = dir.path().join("fresh.db");
    drop(SqliteStore::open(&fresh).unwrap());
    assert_eq!(user_version(&fresh), SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 3) };
    let expected = schema_objects(&fresh);
    for table in LATER_TABLES {
        assert!(expected.iter().any(|(kind, name, _)| kind == "table" && name == table), "{table} in {expected:?}");
    }

    // A file of schema version 1 with an order, as the release before migration 2 left it.
    let path = dir.path().join("old.db");
    let store = SqliteStore::open(&path).unwrap();
    let (order, events) = order_with_notes(&store, 1, 1).await;
    drop(store);
    let conn = raw(&path);
    for table in LATER_TABLES {
        conn.execute_batch(&format!("DROP TABLE {table}")).unwrap();
    }
    drop_later_columns(&conn);
    // An NF-e number this order claimed then (the claims were keyed by order).
    conn.execute(
        "INSERT INTO invoice_claims (tenant, cnpj, serie, order_id, number) VALUES (?1, '11222333000181', 1, ?2, 7)",
        [order.tenant.as_str().to_owned(), order.id.to_string()],
    )
    .unwrap();
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);
    assert!(schema_objects(&path).iter().all(|(_, name, _)| !LATER_TABLES.contains(&name.as_str())));

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(schema_objects(&path), expected, "the migrated schema is the fresh one");
    // The claim is kept, open until the gap listing reads its record; the order keeps its number.
    let sequence = osflow_app::NumberingKey::nfe("11222333000181", 1);
    let open = store.open_numbers(&order.tenant, &sequence, 1, 10).await.unwrap();
    assert_eq!(open.iter().map(|c| (c.number, c.order_id)).collect::<Vec<_>>(), vec![(7, order.id)]);
    assert_eq!(store.claim_number(&order.tenant, &sequence, &order.id).await.unwrap(), 7);
    assert_eq!(store.get(&order.tenant, &order.id).await.unwrap(), Some(order.clone()));
    assert_eq!(store.timeline(&order.tenant, &order.id).await.unwrap(), events);
    // The card of the order written before cards existed was filled in when the store opened.
    let cards = store.cards_by_status(&order.tenant, &order.status, &PageRequest::first(10)).await.unwrap();
    assert_eq!(cards.items, vec![order.card()]);
    // The new tables work, reads first (no write has created anything).
    let t = tenant("acme");
    assert_eq!(store.notification_settings(&t).await.unwrap(), None);
    assert_eq!(store.emitter(&t).await.unwrap(), None);
    assert_eq!(store.certificate(&t).await.unwrap(), None);
    let key = dedupe_key(&t, "o:1", "email");
    assert_eq!(store.claim(&key, at(0), chrono::Duration::minutes(5), at(60)).await.unwrap(), Claim::Claimed);
    store.put_notification_settings(&t, &full_notification_settings()).await.unwrap();
    assert_eq!(store.put_certificate(&t, b"pkcs12", "senha").await.unwrap(), 1);
}

/// A version-1 file on which an older build had already created the later tables (on first write) keeps their
/// rows when the migrations that now create them run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lazily_created_tables_of_an_older_build_keep_their_rows() {
    let dir = temp_dir();
    let path = dir.path().join("old.db");
    let t = tenant("acme");
    let (done, pending) = (dedupe_key(&t, "o:1", "email"), dedupe_key(&t, "o:2", "email"));
    let outcome = dedupe_outcome(true, "sent", at(1));
    let lease = chrono::Duration::minutes(5);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.claim(&done, at(0), lease, at(600)).await.unwrap(), Claim::Claimed);
    store.complete(&done, &outcome).await.unwrap();
    assert_eq!(store.claim(&pending, at(0), lease, at(600)).await.unwrap(), Claim::Claimed);
    store.put_notification_settings(&t, &full_notification_settings()).await.unwrap();
    assert_eq!(store.put_certificate(&t, b"pkcs12", "senha").await.unwrap(), 1);
    drop(store);
    let before = schema_objects(&path);
    let conn = raw(&path);
    drop_later_columns(&conn);
    conn.pragma_update(None, "user_version", 1).unwrap();
    drop(conn);

    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(schema_objects(&path), before);
    assert_eq!(store.claim(&done, at(2), lease, at(600)).await.unwrap(), Claim::Done(outcome));
    assert_eq!(store.claim(&pending, at(2), lease, at(600)).await.unwrap(), Claim::InFlight { claimed_at: at(0) });
    assert_eq!(store.notification_settings(&t).await.unwrap(), Some(full_notification_settings()));
    let certificate = store.certificate(&t).await.unwrap().unwrap();
    assert_eq!(
        (certificate.pkcs12.as_slice(), certificate.password.as_str(), certificate.revision),
        (&b"pkcs12"[..], "senha", 1)
    );
    assert_eq!(store.put_certificate(&t, b"other", "nova").await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = temp_dir();
    let path = dir.path().join("data.db");
    std::fs::write(&path, b"this is not an SQLite database, just some text that is long enough").unwrap();
    assert!(SqliteStore::open(&path).is_err());
}

// ---------------------------------------------------------------------------------------------------------------
// Error mapping
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_unavailable() {
    let dir = temp_dir();
    let path = dir.path().join("data.db");
    let options = SqliteOptions { readers: 1, busy_timeout: Duration::from_millis(50), ..SqliteOptions::default() };
    let store = SqliteStore::open_with(&path, options).unwrap();
    let (order, _) = order_with_notes(&store, 1, 0).await;

    // Another process holds the write lock.
    let mut other = raw(&path);
    let tx = other.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).unwrap();
    let t = tenant("acme");
    assert!(matches!(store.next_order_number(&t).await, Err(StoreError::Unavailable(_))));
    let (events, next) = advance(&order, note("n"), at(10));
    assert!(matches!(store.apply(1, &next, &events, None).await, Err(StoreError::Unavailable(_))));
    // Reads go on (WAL).
    assert_eq!(store.get(&t, &order.id).await.unwrap(), Some(order.clone()));
    drop(tx);
    // Once released, the same step goes through: nothing was half-written.
    store.apply(1, &next, &events, None).await.unwrap();
    assert_eq!(store.timeline(&t, &order.id).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_json_is_corrupt() {
    let store = SqliteStore::open_temporary().unwrap();
    let (order, _) = order_with_notes(&store, 1, 1).await;
    let t = order.tenant.clone();
    store.publish(&t, &flow_version(1), None).await.unwrap();
    let conn = raw(store.path());
    conn.execute("UPDATE orders SET body = '{\"id\": 1'", []).unwrap();
    conn.execute("UPDATE events SET body = '{}' WHERE version = 2", []).unwrap();
    conn.execute("UPDATE flows SET body = '[]'", []).unwrap();
    assert!(matches!(store.get(&t, &order.id).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.timeline(&t, &order.id).await, Err(StoreError::Corrupt(_))));
    let page = store.list_by_status(&t, &status("aberta"), &PageRequest::first(5)).await;
    assert!(matches!(page, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.current(&t).await, Err(StoreError::Corrupt(_))));
    assert!(matches!(store.pending(10).await, Err(StoreError::Corrupt(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweeping_removes_only_expired_idempotency_records() {
    let store = SqliteStore::open_temporary().unwrap();
    let t = tenant("acme");
    for (i, minutes) in [0i64, 10, 20].into_iter().enumerate() {
        let (order, opened) = open_order(&t, i as u64 + 1, cpf(1), at(minutes));
        let mut record = idem_record(&t, &format!("k{i}"), at(minutes));
        record.expires_at = at(minutes + 60);
        store.create(&order, &opened, Some(&record)).await.unwrap();
    }
    assert_eq!(store.sweep_idempotency(at(70)).await.unwrap(), 2);
    assert_eq!(store.sweep_idempotency(at(70)).await.unwrap(), 0);
    assert!(store.get_idempotency(&t, "k2", at(70)).await.unwrap().is_some());
    let remaining: i64 = raw(store.path()).query_row("SELECT count(*) FROM idempotency", [], |r| r.get(0)).unwrap();
    assert_eq!(remaining, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_steps_on_many_orders_all_land() {
    let store = SqliteStore::open_temporary().unwrap();
    let mut orders = Vec::new();
    for i in 0..40 {
        orders.push(order_with_notes(&store, i + 1, 0).await.0);
    }
    // Every order gets 5 steps, the orders in parallel, reads mixed in.
    let tasks: Vec<_> = orders
        .into_iter()
        .map(|mut order| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..5 {
                    let (events, next) = advance(&order, note(&format!("n{i}")), at(1_000 + i));
                    store.apply(order.version, &next, &events, None).await.unwrap();
                    assert_eq!(store.get(&next.tenant, &next.id).await.unwrap().as_ref(), Some(&next));
                    order = next;
                }
                order
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        let order = task.await.unwrap();
        assert_eq!(order.version, 6);
        assert_eq!(store.timeline(&order.tenant, &order.id).await.unwrap().len(), 6);
        seen.insert(order.id);
    }
    assert_eq!(seen.len(), 40);
    assert_eq!(store.pending(1_000).await.unwrap().len(), 240);
}

/// Group commit: the jobs queued together share one transaction, each in its own savepoint. A losing job in
/// a batch (a stale version) must not undo the winners committed with it, nor leave anything of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conflicts_inside_a_group_commit_leave_the_other_steps_committed() {
    let dir = temp_dir();
    let path = dir.path().join("data.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut orders = Vec::new();
    for i in 0..50 {
        orders.push(order_with_notes(&store, i + 1, 0).await.0);
    }
    // Two different steps per order from the same version, all 100 sent at once: they queue behind each
    // other and are committed in batches that mix winners and losers.
    let tasks: Vec<_> = orders
        .iter()
        .flat_map(|order| {
            (0..2).map(|k| {
                let store = store.clone();
                let order = order.clone();
                tokio::spawn(async move {
                    let (events, next) = advance(&order, note(&format!("tentativa {k}")), at(2_000 + k));
                    (order.id, k, store.apply(order.version, &next, &events, None).await)
                })
            })
        })
        .collect();
    let mut winners = std::collections::HashMap::new();
    for task in tasks {
        let (id, k, result) = task.await.unwrap();
        match result {
            Ok(()) => assert!(winners.insert(id, k).is_none(), "two winners for one order"),
            Err(StoreError::Conflict { .. }) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(winners.len(), 50, "exactly one winner per order");
    assert_eq!(store.pending(1_000).await.unwrap().len(), 50 * 2, "opening + the winning note, no more");
    drop(store);
    // Reopened from the file: every winner is there with its own note, and only it.
    let store = SqliteStore::open(&path).unwrap();
    for order in &orders {
        let stored = store.get(&order.tenant, &order.id).await.unwrap().unwrap();
        assert_eq!(stored.version, 2);
        let timeline = store.timeline(&order.tenant, &order.id).await.unwrap();
        assert_eq!(timeline.len(), 2);
        let winner = winners[&order.id];
        assert!(format!("{:?}", timeline[1]).contains(&format!("tentativa {winner}")));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_changes_the_document_moves_the_order_between_histories() {
    let store = SqliteStore::open_temporary().unwrap();
    let (order, _) = order_with_notes(&store, 1, 0).await;
    let t = order.tenant.clone();
    let (events, mut next) = advance(&order, note("documento corrigido"), at(10));
    next.customer.document = cpf(2);
    store.apply(1, &next, &events, None).await.unwrap();
    assert_eq!(store.get(&t, &order.id).await.unwrap(), Some(next.clone()));
    let history = |doc| {
        let store = store.clone();
        let t = t.clone();
        async move { store.list_by_customer(&t, &doc, &PageRequest::first(10)).await.unwrap().items }
    };
    assert_eq!(history(cpf(1)).await, vec![]);
    assert_eq!(history(cpf(2)).await, vec![next.clone()]);
    // The fast path (same document) still checks the version.
    let (stale_events, stale) = advance(&order, note("velha"), at(11));
    assert_eq!(store.apply(1, &stale, &stale_events, None).await, Err(StoreError::Conflict { current_version: 2 }));
}

/// With a secrets key, the A1 password is stored sealed (AES-256-GCM, bound to the company): a file of an older
/// build gets its clear passwords sealed at open, new ones are sealed when written, and neither another key nor
/// no key reads them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a1_passwords_are_sealed_with_the_secrets_key() {
    let dir = temp_dir();
    let path = dir.path().join("sealed.db");
    let (acme, beta) = (tenant("acme"), tenant("beta"));
    let stored = |t: &str| -> String {
        raw(&path).query_row("SELECT password FROM emitter_certificates WHERE tenant = ?1", [t], |r| r.get(0)).unwrap()
    };
    let with_key =
        |material: &[u8]| SqliteOptions { secrets_key: Some(SecretsKey::derive(material)), ..SqliteOptions::default() };

    // An older file: the password in clear.
    let store = SqliteStore::open(&path).unwrap();
    store.put_certificate(&acme, b"pkcs12", "senha-antiga").await.unwrap();
    drop(store);
    assert_eq!(stored("acme"), "senha-antiga");

    let store = SqliteStore::open_with(&path, with_key(b"the data folder's key")).unwrap();
    assert!(!stored("acme").contains("senha-antiga"), "sealed at open: {}", stored("acme"));
    assert_eq!(store.certificate(&acme).await.unwrap().unwrap().password, "senha-antiga");
    assert_eq!(store.put_certificate(&beta, b"pkcs12", "senha-nova").await.unwrap(), 1);
    assert!(!stored("beta").contains("senha-nova"), "sealed when written: {}", stored("beta"));
    assert_eq!(store.certificate(&beta).await.unwrap().unwrap().password, "senha-nova");
    // The same password of two writes is two different texts (a fresh nonce each time).
    store.put_certificate(&beta, b"pkcs12", "senha-nova").await.unwrap();
    let (first, second) = (stored("beta"), {
        store.put_certificate(&beta, b"pkcs12", "senha-nova").await.unwrap();
        stored("beta")
    });
    assert_ne!(first, second);
    // A sealed password moved to another company does not open there.
    raw(&path)
        .execute(
            "UPDATE emitter_certificates SET password = (SELECT password FROM emitter_certificates WHERE tenant = 'beta')
             WHERE tenant = 'acme'",
            [],
        )
        .unwrap();
    assert!(store.certificate(&acme).await.is_err(), "bound to its company");
    drop(store);

    // Reopened with the key: still readable. Another key, or none: refused, never garbage.
    let store = SqliteStore::open_with(&path, with_key(b"the data folder's key")).unwrap();
    assert_eq!(store.certificate(&beta).await.unwrap().unwrap().password, "senha-nova");
    drop(store);
    let store = SqliteStore::open_with(&path, with_key(b"another key")).unwrap();
    assert!(store.certificate(&beta).await.is_err());
    drop(store);
    let store = SqliteStore::open(&path).unwrap();
    assert!(store.certificate(&beta).await.is_err());
}

/// An unlock code is never in the file in clear (nor in its WAL): only its sealed text, bound to the company and
/// the order; a store opened without a secrets key keeps none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlock_codes_are_sealed_in_the_file_and_refused_without_a_key() {
    use osflow_app::UnlockCodeStore;
    let dir = temp_dir();
    let path = dir.path().join("unlock.db");
    let t = tenant("acme");
    let options =
        SqliteOptions { secrets_key: Some(SecretsKey::derive(b"the data folder's key")), ..Default::default() };
    let store = SqliteStore::open_with(&path, options).unwrap();
    let (order, opened) = open_order(&t, 1, cpf(1), at(0));
    store.create(&order, &opened, None).await.unwrap();
    store.put_unlock_code(&t, &order.id, "SENHA-7788-DESBLOQUEIO").await.unwrap();
    assert_eq!(store.unlock_code(&t, &order.id).await.unwrap().as_deref(), Some("SENHA-7788-DESBLOQUEIO"));
    let sealed: String = raw(&path).query_row("SELECT sealed FROM unlock_codes", [], |r| r.get(0)).unwrap();
    assert!(sealed.starts_with("sealed1:"), "{sealed}");
    let mut stored = String::new();
    for file in ["unlock.db", "unlock.db-wal"] {
        let bytes = std::fs::read(dir.path().join(file)).unwrap_or_default();
        assert!(!String::from_utf8_lossy(&bytes).contains("SENHA-7788"), "the code in clear in {file}");
        stored.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(stored.contains(&sealed), "the files read are where the sealed code is");
    drop(store);

    let keyless = SqliteStore::open(&path).unwrap();
    assert!(matches!(keyless.put_unlock_code(&t, &order.id, "0000").await, Err(StoreError::Other(_))));
    assert!(keyless.unlock_code(&t, &order.id).await.is_err(), "a sealed code does not open without the key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contingency_state_is_versioned_and_per_company() {
    let store = std::sync::Arc::new(SqliteStore::open_temporary().unwrap());
    osflow_testkit::contingency_conformance::contingency_state_is_versioned_and_per_company(store).await;
}
