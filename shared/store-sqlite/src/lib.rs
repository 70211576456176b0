//! osflow's embedded store: every port of `osflow-app` (orders, flows, NF-e numbering, idempotency, and the
//! outbox of the embedded mode) on one SQLite file.
//!
//! Design:
//! - The file is in WAL mode with `synchronous=NORMAL` (a commit survives a process crash; an OS crash may lose
//!   the last commits but never corrupts), `foreign_keys=ON`, and a busy timeout.
//! - One writer thread owns the writing connection and runs the writes of this process first come, first
//!   served, with group commit: the writes queued together share one `BEGIN IMMEDIATE` transaction, each in
//!   its own savepoint, and are answered after the `COMMIT` (see `writer`). A fixed set of reader connections
//!   serves reads concurrently with the writer.
//! - The ports are async: reads run on tokio's blocking pool (`spawn_blocking`), writes on the writer thread,
//!   so the runtime's workers never wait on the disk. Statements are prepared once per connection and cached.
//! - Orders, events, flows and records are stored as their serde JSON; the columns used as keys and sort keys
//!   (tenant first, always) are indexed. The events table doubles as the outbox: `seq` is the commit order and
//!   `relayed_at` marks what the relay has published.
//! - Checkpoints (where `synchronous=NORMAL` syncs) run on a background thread, not in the committing step,
//!   except when sustained writes grow the WAL past 64 MiB (see `checkpoint`).
//! - A step is one transaction: a version-checked `UPDATE` of the order (0 rows -> read the current version ->
//!   `Conflict`), the events, the idempotency record. NF-e numbers: one transaction reads the order's claim or
//!   moves the (CNPJ, série) counter and records the claim.

mod checkpoint;
mod codec;
mod emitter;
mod notify;
mod pool;
mod reports;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_app::{
    FlowStore, IdempotencyRecord, IdempotencyStore, InvoiceRecord, InvoiceStore, NumberingKey, OrderStore, Outbox,
    OutboxEntry, Page, PageRequest, StoreError, StoreResult,
};
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{Event, Flow, Order, StatusKey};
use rusqlite::{Connection, OptionalExtension, Savepoint, params};

use crate::codec::{Db, ListKind, Position, decode_cursor, encode_cursor, from_json, nanos, to_json};
use crate::pool::Readers;

pub use crate::schema::SCHEMA_VERSION;

/// Tuning of a [`SqliteStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Reader connections (reads beyond this many at once wait for a free one).
    pub readers: usize,
    /// How long a statement waits for a lock held by another connection before failing with
    /// `StoreError::Unavailable`.
    pub busy_timeout: Duration,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { readers: 4, busy_timeout: Duration::from_secs(5) }
    }
}

/// The embedded store. Cheap to clone (the clones share the connections).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: writer::Writer,
    readers: Readers,
    _checkpointer: checkpoint::Checkpointer,
    /// The directory of a temporary database, removed when the store drops (after the connections, which are
    /// declared first).
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`, and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> StoreResult<SqliteStore> {
        Self::open_with(path, SqliteOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> StoreResult<SqliteStore> {
        Self::open_inner(path.as_ref().to_path_buf(), options, None)
    }

    /// A database in a new temporary directory, deleted when the last clone of the store drops.
    pub fn open_temporary() -> StoreResult<SqliteStore> {
        let dir = tempfile::Builder::new()
            .prefix("osflow-sqlite-")
            .tempdir()
            .map_err(|e| StoreError::Other(format!("cannot create a temporary directory: {e}")))?;
        let path = dir.path().join("osflow.db");
        Self::open_inner(path, SqliteOptions::default(), Some(dir))
    }

    fn open_inner(path: PathBuf, options: SqliteOptions, temp: Option<tempfile::TempDir>) -> StoreResult<Self> {
        let mut writer = pool::connect(&path, options.busy_timeout, false).db()?;
        if !pool::set_wal(&writer).db()? {
            return Err(StoreError::Other(format!("{} cannot be put in WAL mode", path.display())));
        }
        match schema::migrate(&mut writer) {
            Ok(_) => {}
            Err(schema::MigrateError::Db(e)) => return Err(codec::db_error(e)),
            Err(schema::MigrateError::Newer(v)) => {
                return Err(StoreError::Other(format!(
                    "{} has schema version {v}, newer than this build's {SCHEMA_VERSION}",
                    path.display()
                )));
            }
        }
        let checkpointer = pool::connect(&path, options.busy_timeout, false).db()?;
        let checkpointer = checkpoint::Checkpointer::start(checkpointer, &mut writer)?;
        let readers = (0..options.readers.max(1))
            .map(|_| pool::connect(&path, options.busy_timeout, true))
            .collect::<rusqlite::Result<Vec<_>>>()
            .db()?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                writer: writer::Writer::start(writer)?,
                readers: Readers::new(readers),
                _checkpointer: checkpointer,
                _temp: temp,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Deletes the idempotency records expired at `now`; returns how many.
    pub async fn sweep_idempotency(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let now = nanos(now)?;
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM idempotency WHERE expires_at <= ?1").db()?.execute([now]).db()
        })
        .await
    }

    /// Runs `f` with the writer connection on the blocking pool.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        self.inner.writer.run(f).await
    }

    /// Runs `f` with a reader connection on the blocking pool.
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner.readers.take())).await.map_err(join_error)?
    }
}

fn join_error(e: tokio::task::JoinError) -> StoreError {
    StoreError::Other(format!("store task failed: {e}"))
}

/// The unit of a write job: a savepoint inside the writer's batch transaction (see `writer`).
fn immediate(conn: &mut Connection) -> StoreResult<Savepoint<'_>> {
    conn.savepoint().db()
}

/// The columns of an order row, computed before taking the writer.
struct OrderRow {
    tenant: String,
    id: String,
    version: i64,
    status: String,
    document: String,
    created_at: i64,
    updated_at: i64,
    body: String,
}

impl OrderRow {
    fn new(order: &Order) -> StoreResult<OrderRow> {
        Ok(OrderRow {
            tenant: order.tenant.as_str().to_owned(),
            id: order.id.to_string(),
            version: version_column(order.version)?,
            status: order.status.as_str().to_owned(),
            document: order.customer.document.as_str().to_owned(),
            created_at: nanos(order.created_at)?,
            updated_at: nanos(order.updated_at)?,
            body: to_json(order)?,
        })
    }
}

struct EventRow {
    version: i64,
    kind: &'static str,
    at: i64,
    body: String,
}

impl EventRow {
    fn new(event: &Event) -> StoreResult<EventRow> {
        Ok(EventRow {
            version: version_column(event.version)?,
            kind: event.change.type_name(),
            at: nanos(event.at)?,
            body: to_json(event)?,
        })
    }
}

struct IdemRow {
    tenant: String,
    key: String,
    created_at: i64,
    expires_at: i64,
    body: String,
}

impl IdemRow {
    fn new(record: &IdempotencyRecord) -> StoreResult<IdemRow> {
        Ok(IdemRow {
            tenant: record.tenant.as_str().to_owned(),
            key: record.key.clone(),
            created_at: nanos(record.created_at)?,
            expires_at: nanos(record.expires_at)?,
            body: to_json(record)?,
        })
    }
}

fn version_column(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::Other(format!("version {v} is out of range")))
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Other(message.into())
}

fn insert_events(tx: &Connection, tenant: &str, order_id: &str, events: &[EventRow]) -> StoreResult<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO events (tenant, order_id, version, type, at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .db()?;
    for e in events {
        stmt.execute(params![tenant, order_id, e.version, e.kind, e.at, e.body]).db()?;
    }
    Ok(())
}

/// Saves an idempotency record in the step's transaction: `AlreadyExists` when the key holds a record that has
/// not expired by the new record's `created_at` (an expired one is replaced).
fn put_idempotency(tx: &Connection, row: &IdemRow) -> StoreResult<()> {
    let changed = tx
        .prepare_cached(
            "INSERT INTO idempotency (tenant, key, expires_at, body) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant, key) DO UPDATE SET expires_at = excluded.expires_at, body = excluded.body
             WHERE idempotency.expires_at <= ?5",
        )
        .db()?
        .execute(params![row.tenant, row.key, row.expires_at, row.body, row.created_at])
        .db()?;
    if changed == 0 { Err(StoreError::AlreadyExists) } else { Ok(()) }
}

fn read_orders(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> StoreResult<Vec<(Order, Position)>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().db()? {
        let id: String = row.get(0).db()?;
        let at: i64 = row.get(1).db()?;
        let body = row.get_ref(2).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("order {id}: {e}")))?;
        let order: Order = from_json(body, || format!("order {id}"))?;
        out.push((order, Position { at, id }));
    }
    Ok(out)
}

/// Builds a page from up to `size + 1` rows: the extra row only tells that there is a next page.
fn page_of(mut rows: Vec<(Order, Position)>, size: usize, kind: ListKind) -> Page<Order> {
    let more = rows.len() > size;
    rows.truncate(size);
    let next = if more { rows.last().map(|(_, p)| encode_cursor(kind, p)) } else { None };
    Page { items: rows.into_iter().map(|(o, _)| o).collect(), next }
}

#[async_trait]
impl OrderStore for SqliteStore {
    async fn next_order_number(&self, tenant: &TenantId) -> StoreResult<u64> {
        let tenant = tenant.as_str().to_owned();
        self.write(move |conn| {
            let n: i64 = conn
                .prepare_cached(
                    "INSERT INTO counters (tenant, name, value) VALUES (?1, 'order', 1)
                     ON CONFLICT (tenant, name) DO UPDATE SET value = value + 1 RETURNING value",
                )
                .db()?
                .query_row([tenant], |r| r.get(0))
                .db()?;
            Ok(n as u64)
        })
        .await
    }

    async fn create(&self, order: &Order, opened: &Event, idem: Option<&IdempotencyRecord>) -> StoreResult<()> {
        if order.version != 1 || opened.version != 1 {
            return Err(invalid("a new order and its opened event have version 1"));
        }
        if idem.is_some_and(|r| r.tenant != order.tenant) {
            return Err(invalid("the idempotency record belongs to another tenant"));
        }
        let row = OrderRow::new(order)?;
        let event = EventRow::new(opened)?;
        let idem = idem.map(IdemRow::new).transpose()?;
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO orders (tenant, id, version, status, document, created_at, updated_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (tenant, id) DO NOTHING",
                )
                .db()?
                .execute(params![
                    row.tenant,
                    row.id,
                    row.version,
                    row.status,
                    row.document,
                    row.created_at,
                    row.updated_at,
                    row.body
                ])
                .db()?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            insert_events(&tx, &row.tenant, &row.id, std::slice::from_ref(&event))?;
            if let Some(idem) = &idem {
                put_idempotency(&tx, idem)?;
            }
            tx.commit().db()
        })
        .await
    }

    async fn get(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Option<Order>> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_string());
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT body FROM orders WHERE tenant = ?1 AND id = ?2").db()?;
            let mut rows = stmt.query([&tenant, &id]).db()?;
            let Some(row) = rows.next().db()? else { return Ok(None) };
            let body = row.get_ref(0).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("order {id}: {e}")))?;
            from_json(body, || format!("order {tenant}/{id}")).map(Some)
        })
        .await
    }

    async fn apply(
        &self,
        expected_version: u64,
        order: &Order,
        events: &[Event],
        idem: Option<&IdempotencyRecord>,
    ) -> StoreResult<()> {
        let consecutive = events.iter().enumerate().all(|(i, e)| e.version == expected_version + 1 + i as u64);
        if events.is_empty() || !consecutive || events.last().map(|e| e.version) != Some(order.version) {
            return Err(invalid(format!(
                "a step from version {expected_version} writes events {}.. and the order at the last one's version",
                expected_version + 1
            )));
        }
        if idem.is_some_and(|r| r.tenant != order.tenant) {
            return Err(invalid("the idempotency record belongs to another tenant"));
        }
        let expected = version_column(expected_version)?;
        let row = OrderRow::new(order)?;
        let events = events.iter().map(EventRow::new).collect::<StoreResult<Vec<_>>>()?;
        let idem = idem.map(IdemRow::new).transpose()?;
        self.write(move |conn| {
            let tx = immediate(conn)?;
            // The customer's document rarely changes: leaving it out of the SET keeps the customer index
            // untouched; a changed document takes the second statement.
            let updated = tx
                .prepare_cached(
                    "UPDATE orders SET version = ?1, status = ?2, updated_at = ?3, body = ?4
                     WHERE tenant = ?5 AND id = ?6 AND version = ?7 AND document = ?8",
                )
                .db()?
                .execute(params![
                    row.version,
                    row.status,
                    row.updated_at,
                    row.body,
                    row.tenant,
                    row.id,
                    expected,
                    row.document
                ])
                .db()?;
            if updated == 0 {
                let current: Option<i64> = tx
                    .prepare_cached("SELECT version FROM orders WHERE tenant = ?1 AND id = ?2")
                    .db()?
                    .query_row([&row.tenant, &row.id], |r| r.get(0))
                    .optional()
                    .db()?;
                match current {
                    None => return Err(StoreError::NotFound),
                    Some(v) if v != expected => return Err(StoreError::Conflict { current_version: v as u64 }),
                    Some(_) => {
                        tx.prepare_cached(
                            "UPDATE orders SET version = ?1, status = ?2, updated_at = ?3, body = ?4, document = ?5
                             WHERE tenant = ?6 AND id = ?7 AND version = ?8",
                        )
                        .db()?
                        .execute(params![
                            row.version,
                            row.status,
                            row.updated_at,
                            row.body,
                            row.document,
                            row.tenant,
                            row.id,
                            expected
                        ])
                        .db()?;
                    }
                }
            }
            insert_events(&tx, &row.tenant, &row.id, &events)?;
            if let Some(idem) = &idem {
                put_idempotency(&tx, idem)?;
            }
            tx.commit().db()
        })
        .await
    }

    async fn list_by_status(
        &self,
        tenant: &TenantId,
        status: &StatusKey,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>> {
        let after = page.cursor.as_deref().map(|c| decode_cursor(ListKind::ByStatus, c)).transpose()?;
        let (tenant, status, size) = (tenant.as_str().to_owned(), status.as_str().to_owned(), page.size() as usize);
        self.read(move |conn| {
            let limit = size as i64 + 1;
            let rows = match &after {
                None => read_orders(
                    conn,
                    "SELECT id, updated_at, body FROM orders WHERE tenant = ?1 AND status = ?2
                     ORDER BY updated_at, id LIMIT ?3",
                    params![tenant, status, limit],
                )?,
                Some(p) => read_orders(
                    conn,
                    "SELECT id, updated_at, body FROM orders WHERE tenant = ?1 AND status = ?2
                     AND (updated_at, id) > (?3, ?4) ORDER BY updated_at, id LIMIT ?5",
                    params![tenant, status, p.at, p.id, limit],
                )?,
            };
            Ok(page_of(rows, size, ListKind::ByStatus))
        })
        .await
    }

    async fn list_by_customer(
        &self,
        tenant: &TenantId,
        document: &Document,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>> {
        let before = page.cursor.as_deref().map(|c| decode_cursor(ListKind::ByCustomer, c)).transpose()?;
        let (tenant, document, size) = (tenant.as_str().to_owned(), document.as_str().to_owned(), page.size() as usize);
        self.read(move |conn| {
            let limit = size as i64 + 1;
            let rows = match &before {
                None => read_orders(
                    conn,
                    "SELECT id, created_at, body FROM orders WHERE tenant = ?1 AND document = ?2
                     ORDER BY created_at DESC, id DESC LIMIT ?3",
                    params![tenant, document, limit],
                )?,
                Some(p) => read_orders(
                    conn,
                    "SELECT id, created_at, body FROM orders WHERE tenant = ?1 AND document = ?2
                     AND (created_at, id) < (?3, ?4) ORDER BY created_at DESC, id DESC LIMIT ?5",
                    params![tenant, document, p.at, p.id, limit],
                )?,
            };
            Ok(page_of(rows, size, ListKind::ByCustomer))
        })
        .await
    }

    async fn timeline(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Vec<Event>> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached("SELECT version, body FROM events WHERE tenant = ?1 AND order_id = ?2 ORDER BY version")
                .db()?;
            let mut rows = stmt.query([&tenant, &id]).db()?;
            let mut events = Vec::new();
            while let Some(row) = rows.next().db()? {
                let version: i64 = row.get(0).db()?;
                let what = || format!("event {tenant}/{id}/{version}");
                let body =
                    row.get_ref(1).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))?;
                events.push(from_json(body, what)?);
            }
            Ok(events)
        })
        .await
    }
}

fn flow_from(body: &str, tenant: &str, version: i64) -> StoreResult<Flow> {
    from_json(body, || format!("flow {tenant}/{version}"))
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn publish(&self, tenant: &TenantId, flow: &Flow, expected_current: Option<u32>) -> StoreResult<()> {
        let (tenant, version, body) = (tenant.as_str().to_owned(), flow.version, to_json(flow)?);
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let current: Option<u32> = tx
                .prepare_cached("SELECT version FROM flow_current WHERE tenant = ?1")
                .db()?
                .query_row([&tenant], |r| r.get(0))
                .optional()
                .db()?;
            if current != expected_current {
                return Err(StoreError::Conflict { current_version: u64::from(current.unwrap_or(0)) });
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO flows (tenant, version, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant, version) DO NOTHING",
                )
                .db()?
                .execute(params![tenant, version, body])
                .db()?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            tx.prepare_cached(
                "INSERT INTO flow_current (tenant, version) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET version = excluded.version",
            )
            .db()?
            .execute(params![tenant, version])
            .db()?;
            tx.commit().db()
        })
        .await
    }

    async fn current(&self, tenant: &TenantId) -> StoreResult<Option<Flow>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let found: Option<(i64, String)> = conn
                .prepare_cached(
                    "SELECT f.version, f.body FROM flow_current c JOIN flows f
                     ON f.tenant = c.tenant AND f.version = c.version WHERE c.tenant = ?1",
                )
                .db()?
                .query_row([&tenant], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db()?;
            found.map(|(v, body)| flow_from(&body, &tenant, v)).transpose()
        })
        .await
    }

    async fn version(&self, tenant: &TenantId, version: u32) -> StoreResult<Option<Flow>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM flows WHERE tenant = ?1 AND version = ?2")
                .db()?
                .query_row(params![tenant, version], |r| r.get(0))
                .optional()
                .db()?;
            body.map(|b| flow_from(&b, &tenant, i64::from(version))).transpose()
        })
        .await
    }

    async fn versions(&self, tenant: &TenantId) -> StoreResult<Vec<Flow>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT version, body FROM flows WHERE tenant = ?1 ORDER BY version").db()?;
            let rows = stmt.query_map([&tenant], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).db()?;
            let mut flows = Vec::new();
            for row in rows {
                let (v, body) = row.db()?;
                flows.push(flow_from(&body, &tenant, v)?);
            }
            Ok(flows)
        })
        .await
    }
}

#[async_trait]
impl InvoiceStore for SqliteStore {
    async fn claim_number(&self, tenant: &TenantId, key: &NumberingKey, order: &OrderId) -> StoreResult<u64> {
        let (tenant, cnpj, serie, order) = (tenant.as_str().to_owned(), key.cnpj.clone(), key.serie, order.to_string());
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let claimed: Option<i64> = tx
                .prepare_cached(
                    "SELECT number FROM invoice_claims WHERE tenant = ?1 AND cnpj = ?2 AND serie = ?3 AND order_id = ?4",
                )
                .db()?
                .query_row(params![tenant, cnpj, serie, order], |r| r.get(0))
                .optional()
                .db()?;
            if let Some(n) = claimed {
                return Ok(n as u64);
            }
            let n: i64 = tx
                .prepare_cached(
                    "INSERT INTO invoice_counters (tenant, cnpj, serie, last) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (tenant, cnpj, serie) DO UPDATE SET last = last + 1 RETURNING last",
                )
                .db()?
                .query_row(params![tenant, cnpj, serie], |r| r.get(0))
                .db()?;
            tx.prepare_cached(
                "INSERT INTO invoice_claims (tenant, cnpj, serie, order_id, number) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .db()?
            .execute(params![tenant, cnpj, serie, order, n])
            .db()?;
            tx.commit().db()?;
            Ok(n as u64)
        })
        .await
    }

    async fn save_invoice(&self, record: &InvoiceRecord, expected_revision: u64) -> StoreResult<()> {
        if record.revision != expected_revision + 1 {
            return Err(invalid(format!(
                "an invoice saved over revision {expected_revision} has revision {}",
                expected_revision + 1
            )));
        }
        let tenant = record.tenant.as_str().to_owned();
        let order = record.order_id.to_string();
        let (cnpj, serie) = (record.numbering.cnpj.clone(), record.numbering.serie);
        let number = version_column(record.number)?;
        let (revision, expected) = (version_column(record.revision)?, version_column(expected_revision)?);
        let body = to_json(record)?;
        self.write(move |conn| {
            let tx = immediate(conn)?;
            if expected == 0 {
                let inserted = tx
                    .prepare_cached(
                        "INSERT INTO invoices (tenant, order_id, cnpj, serie, number, revision, body)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                         ON CONFLICT (tenant, order_id, cnpj, serie, number) DO NOTHING",
                    )
                    .db()?
                    .execute(params![tenant, order, cnpj, serie, number, revision, body])
                    .db()?;
                if inserted == 0 {
                    return Err(StoreError::AlreadyExists);
                }
            } else {
                let updated = tx
                    .prepare_cached(
                        "UPDATE invoices SET revision = ?1, body = ?2
                         WHERE tenant = ?3 AND order_id = ?4 AND cnpj = ?5 AND serie = ?6 AND number = ?7
                         AND revision = ?8",
                    )
                    .db()?
                    .execute(params![revision, body, tenant, order, cnpj, serie, number, expected])
                    .db()?;
                if updated == 0 {
                    let current: Option<i64> = tx
                        .prepare_cached(
                            "SELECT revision FROM invoices
                             WHERE tenant = ?1 AND order_id = ?2 AND cnpj = ?3 AND serie = ?4 AND number = ?5",
                        )
                        .db()?
                        .query_row(params![tenant, order, cnpj, serie, number], |r| r.get(0))
                        .optional()
                        .db()?;
                    return Err(match current {
                        None => StoreError::NotFound,
                        Some(r) => StoreError::Conflict { current_version: r as u64 },
                    });
                }
            }
            tx.commit().db()
        })
        .await
    }

    async fn invoices(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<Vec<InvoiceRecord>> {
        let (tenant, order) = (tenant.as_str().to_owned(), order.to_string());
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT number, body FROM invoices WHERE tenant = ?1 AND order_id = ?2
                     ORDER BY number, cnpj, serie",
                )
                .db()?;
            let rows = stmt.query_map([&tenant, &order], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).db()?;
            let mut out = Vec::new();
            for row in rows {
                let (n, body) = row.db()?;
                out.push(from_json(&body, || format!("invoice {tenant}/{order}/{n}"))?);
            }
            Ok(out)
        })
        .await
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn get_idempotency(
        &self,
        tenant: &TenantId,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let (tenant, key, now) = (tenant.as_str().to_owned(), key.to_owned(), nanos(now)?);
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM idempotency WHERE tenant = ?1 AND key = ?2 AND expires_at > ?3")
                .db()?
                .query_row(params![tenant, key, now], |r| r.get(0))
                .optional()
                .db()?;
            body.map(|b| from_json(&b, || format!("idempotency record {tenant}/{key}"))).transpose()
        })
        .await
    }
}

#[async_trait]
impl Outbox for SqliteStore {
    async fn pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT seq, tenant, order_id, body FROM events WHERE relayed_at IS NULL ORDER BY seq LIMIT ?1",
                )
                .db()?;
            let mut rows = stmt.query([limit]).db()?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().db()? {
                let seq: i64 = row.get(0).db()?;
                let corrupt = |what: &str| StoreError::Corrupt(format!("outbox entry {seq}: {what}"));
                let tenant = row.get_ref(1).db()?.as_str().map_err(|_| corrupt("tenant is not text"))?;
                let tenant = TenantId::parse(tenant).map_err(|_| corrupt("invalid tenant"))?;
                let order_id = row.get_ref(2).db()?.as_str().map_err(|_| corrupt("order id is not text"))?;
                let order_id = OrderId::parse(order_id).map_err(|_| corrupt("invalid order id"))?;
                let body = row.get_ref(3).db()?.as_str().map_err(|_| corrupt("body is not text"))?;
                let event = from_json(body, || format!("outbox entry {seq}"))?;
                out.push(OutboxEntry { seq: seq as u64, tenant, order_id, event });
            }
            Ok(out)
        })
        .await
    }

    async fn mark_relayed(&self, seqs: &[u64], at: DateTime<Utc>) -> StoreResult<()> {
        if seqs.is_empty() {
            return Ok(());
        }
        let seqs = seqs.iter().map(|s| version_column(*s)).collect::<StoreResult<Vec<i64>>>()?;
        let at = nanos(at)?;
        self.write(move |conn| {
            let tx = immediate(conn)?;
            {
                let mut stmt = tx
                    .prepare_cached("UPDATE events SET relayed_at = ?1 WHERE seq = ?2 AND relayed_at IS NULL")
                    .db()?;
                for seq in &seqs {
                    stmt.execute(params![at, seq]).db()?;
                }
            }
            tx.commit().db()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_queries_walk_their_indexes() {
        let store = SqliteStore::open_temporary().unwrap();
        let conn = store.inner.readers.take();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let by_status = plan(
            "SELECT id, updated_at, body FROM orders WHERE tenant = 'a' AND status = 'b'
             AND (updated_at, id) > (1, 'x') ORDER BY updated_at, id LIMIT 21",
        );
        assert!(by_status.contains("orders_by_status") && !by_status.contains("TEMP B-TREE"), "{by_status}");
        let by_customer = plan(
            "SELECT id, created_at, body FROM orders WHERE tenant = 'a' AND document = 'b'
             AND (created_at, id) < (1, 'x') ORDER BY created_at DESC, id DESC LIMIT 21",
        );
        assert!(by_customer.contains("orders_by_customer") && !by_customer.contains("TEMP B-TREE"), "{by_customer}");
        let pending =
            plan("SELECT seq, tenant, order_id, body FROM events WHERE relayed_at IS NULL ORDER BY seq LIMIT 10");
        assert!(pending.contains("events_unrelayed") && !pending.contains("TEMP B-TREE"), "{pending}");
    }
}
