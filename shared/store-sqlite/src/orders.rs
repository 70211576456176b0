//! [`OrderStore`] on SQLite: the `orders` row (version-checked update), its events (the outbox too), the order
//! number counter, and the lists by status and by customer (keyset pages on their indexes).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_app::{IdempotencyRecord, OrderStore, Page, PageRequest, StoreError, StoreResult, check_step};
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{Event, Order, OrderCard, StatusKey};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{Db, ListKind, Position, decode_cursor, encode_cursor, from_json, nanos, to_json};
use crate::idempotency::{IdemRow, put_idempotency};
use crate::{SqliteStore, immediate, invalid, version_column};

/// The columns of an order row, computed before taking the writer.
pub(crate) struct OrderRow {
    tenant: String,
    id: String,
    version: i64,
    status: String,
    document: String,
    created_at: i64,
    updated_at: i64,
    sla_due: Option<i64>,
    body: String,
    card: String,
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
            sla_due: order.sla_due.map(nanos).transpose()?,
            body: to_json(order)?,
            card: to_json(&order.card())?,
        })
    }
}

/// Writes the card of every order row that has none (rows written before the cards existed). Runs once, in the
/// transaction of the migration that added the column (`schema::migrate`), before anything reads.
pub(crate) fn fill_cards(tx: &Connection) -> StoreResult<usize> {
    let mut filled = 0;
    let mut select = tx.prepare("SELECT rowid, tenant, id, body FROM orders WHERE card IS NULL").db()?;
    let mut update = tx.prepare("UPDATE orders SET card = ?1 WHERE rowid = ?2").db()?;
    let mut rows = select.query([]).db()?;
    while let Some(row) = rows.next().db()? {
        let rowid: i64 = row.get(0).db()?;
        let (tenant, id): (String, String) = (row.get(1).db()?, row.get(2).db()?);
        let body = row.get_ref(3).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("order {id}: {e}")))?;
        let order: Order = from_json(body, || format!("order {tenant}/{id}"))?;
        update.execute(params![to_json(&order.card())?, rowid]).db()?;
        filled += 1;
    }
    Ok(filled)
}

pub(crate) struct EventRow {
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

/// The keyset queries of the two lists (by status: oldest `updated_at` first; by customer: newest `created_at`
/// first), each selecting (id, sort instant, one JSON column).
pub(crate) struct ListSql {
    by_status: &'static str,
    by_status_after: &'static str,
    by_customer: &'static str,
    by_customer_before: &'static str,
}

macro_rules! list_sql {
    ($column:literal) => {
        ListSql {
            by_status: concat!(
                "SELECT id, updated_at, ",
                $column,
                " FROM orders WHERE tenant = ?1 AND status = ?2
                 ORDER BY updated_at, id LIMIT ?3"
            ),
            by_status_after: concat!(
                "SELECT id, updated_at, ",
                $column,
                " FROM orders WHERE tenant = ?1 AND status = ?2
                 AND (updated_at, id) > (?4, ?5) ORDER BY updated_at, id LIMIT ?3"
            ),
            by_customer: concat!(
                "SELECT id, created_at, ",
                $column,
                " FROM orders WHERE tenant = ?1 AND document = ?2
                 ORDER BY created_at DESC, id DESC LIMIT ?3"
            ),
            by_customer_before: concat!(
                "SELECT id, created_at, ",
                $column,
                " FROM orders WHERE tenant = ?1 AND document = ?2
                 AND (created_at, id) < (?4, ?5) ORDER BY created_at DESC, id DESC LIMIT ?3"
            ),
        }
    };
}

/// What a list reads of each order: the whole order (its `body`) or its card (`card`, which the status index
/// holds too: a page of a status is then read from the index alone).
pub(crate) trait Listed: serde::de::DeserializeOwned + Send + 'static {
    const SQL: ListSql;
    /// What a row holds, for the error of an unreadable one.
    const WHAT: &'static str;
}

impl Listed for Order {
    const SQL: ListSql = list_sql!("body");
    const WHAT: &'static str = "order";
}

impl Listed for OrderCard {
    const SQL: ListSql = list_sql!("card");
    const WHAT: &'static str = "card";
}

/// One page of a list: up to `size + 1` rows of `sql` (the extra row only tells that there is a next page).
fn read_page<T: Listed>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    size: usize,
    kind: ListKind,
) -> StoreResult<Page<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let mut rows = stmt.query(params).db()?;
    let mut found: Vec<(T, Position)> = Vec::new();
    while let Some(row) = rows.next().db()? {
        let id: String = row.get(0).db()?;
        let at: i64 = row.get(1).db()?;
        let what = || format!("{} {id}", T::WHAT);
        let json = row.get_ref(2).db()?.as_str().map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))?;
        found.push((from_json(json, what)?, Position { at, id }));
    }
    let more = found.len() > size;
    found.truncate(size);
    let next = if more { found.last().map(|(_, p)| encode_cursor(kind, p)) } else { None };
    Ok(Page { items: found.into_iter().map(|(item, _)| item).collect(), next })
}

impl SqliteStore {
    /// A page of the company's orders in a status, as `T`.
    async fn by_status<T: Listed>(
        &self,
        tenant: &TenantId,
        status: &StatusKey,
        page: &PageRequest,
    ) -> StoreResult<Page<T>> {
        let after = page.cursor.as_deref().map(|c| decode_cursor(ListKind::ByStatus, c)).transpose()?;
        let (tenant, status, size) = (tenant.as_str().to_owned(), status.as_str().to_owned(), page.size() as usize);
        self.read(move |conn| {
            let limit = size as i64 + 1;
            match &after {
                None => read_page(conn, T::SQL.by_status, params![tenant, status, limit], size, ListKind::ByStatus),
                Some(p) => read_page(
                    conn,
                    T::SQL.by_status_after,
                    params![tenant, status, limit, p.at, p.id],
                    size,
                    ListKind::ByStatus,
                ),
            }
        })
        .await
    }

    /// A page of the customer's history, as `T`.
    async fn by_customer<T: Listed>(
        &self,
        tenant: &TenantId,
        document: &Document,
        page: &PageRequest,
    ) -> StoreResult<Page<T>> {
        let before = page.cursor.as_deref().map(|c| decode_cursor(ListKind::ByCustomer, c)).transpose()?;
        let (tenant, document, size) = (tenant.as_str().to_owned(), document.as_str().to_owned(), page.size() as usize);
        self.read(move |conn| {
            let limit = size as i64 + 1;
            match &before {
                None => {
                    read_page(conn, T::SQL.by_customer, params![tenant, document, limit], size, ListKind::ByCustomer)
                }
                Some(p) => read_page(
                    conn,
                    T::SQL.by_customer_before,
                    params![tenant, document, limit, p.at, p.id],
                    size,
                    ListKind::ByCustomer,
                ),
            }
        })
        .await
    }
}

impl SqliteStore {
    /// [`OrderStore::create`], with the order's unlock code (already sealed) in the same transaction when given.
    pub(crate) async fn create_order(
        &self,
        order: &Order,
        opened: &Event,
        idem: Option<&IdempotencyRecord>,
        sealed_code: Option<String>,
    ) -> StoreResult<()> {
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
                    "INSERT INTO orders (tenant, id, version, status, document, created_at, updated_at, body, sla_due,
                     card) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT (tenant, id) DO NOTHING",
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
                    row.body,
                    row.sla_due,
                    row.card
                ])
                .db()?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            insert_events(&tx, &row.tenant, &row.id, std::slice::from_ref(&event))?;
            if let Some(sealed) = &sealed_code {
                crate::unlock::put_code(&tx, &row.tenant, &row.id, sealed)?;
            }
            if let Some(idem) = &idem {
                put_idempotency(&tx, idem)?;
            }
            tx.commit().db()
        })
        .await
    }
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
        self.create_order(order, opened, idem, None).await
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
        check_step(expected_version, order, events, idem)?;
        // The order's unlock code goes with the event that forgets it, in the same transaction.
        let forget_unlock_code = events.iter().any(|e| e.change.forgets_unlock_code());
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
                    "UPDATE orders SET version = ?1, status = ?2, updated_at = ?3, body = ?4, sla_due = ?9, card = ?10
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
                    row.document,
                    row.sla_due,
                    row.card
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
                            "UPDATE orders SET version = ?1, status = ?2, updated_at = ?3, body = ?4, document = ?5,
                             sla_due = ?9, card = ?10 WHERE tenant = ?6 AND id = ?7 AND version = ?8",
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
                            expected,
                            row.sla_due,
                            row.card
                        ])
                        .db()?;
                    }
                }
            }
            insert_events(&tx, &row.tenant, &row.id, &events)?;
            if forget_unlock_code {
                crate::unlock::delete_code(&tx, &row.tenant, &row.id)?;
            }
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
        self.by_status(tenant, status, page).await
    }

    async fn list_by_customer(
        &self,
        tenant: &TenantId,
        document: &Document,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>> {
        self.by_customer(tenant, document, page).await
    }

    async fn cards_by_status(
        &self,
        tenant: &TenantId,
        status: &StatusKey,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderCard>> {
        self.by_status(tenant, status, page).await
    }

    async fn cards_by_customer(
        &self,
        tenant: &TenantId,
        document: &Document,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderCard>> {
        self.by_customer(tenant, document, page).await
    }

    async fn sla_due(&self, tenant: &TenantId, until: DateTime<Utc>, page: &PageRequest) -> StoreResult<Page<OrderId>> {
        let after = page.cursor.as_deref().map(|c| decode_cursor(ListKind::SlaDue, c)).transpose()?;
        let (tenant, until, size) = (tenant.as_str().to_owned(), nanos(until)?, page.size() as usize);
        self.read(move |conn| {
            let limit = size as i64 + 1;
            // The partial index `orders_by_sla_due` holds only the rows with a deadline: the rows read are the
            // ones due, whatever the number of open orders.
            let (sql, after) = match &after {
                None => (
                    "SELECT id, sla_due FROM orders WHERE tenant = ?1 AND sla_due IS NOT NULL AND sla_due <= ?2
                     ORDER BY sla_due, id LIMIT ?3",
                    None,
                ),
                Some(p) => (
                    "SELECT id, sla_due FROM orders WHERE tenant = ?1 AND sla_due IS NOT NULL AND sla_due <= ?2
                     AND (sla_due, id) > (?4, ?5) ORDER BY sla_due, id LIMIT ?3",
                    Some(p),
                ),
            };
            let mut stmt = conn.prepare_cached(sql).db()?;
            let mut rows = match after {
                None => stmt.query(params![tenant, until, limit]).db()?,
                Some(p) => stmt.query(params![tenant, until, limit, p.at, p.id]).db()?,
            };
            let mut found = Vec::new();
            while let Some(row) = rows.next().db()? {
                let id: String = row.get(0).db()?;
                let at: i64 = row.get(1).db()?;
                let order_id = OrderId::parse(&id).map_err(|e| StoreError::Corrupt(format!("order id {id}: {e}")))?;
                found.push((order_id, Position { at, id }));
            }
            let more = found.len() > size;
            found.truncate(size);
            let next = if more { found.last().map(|(_, p)| encode_cursor(ListKind::SlaDue, p)) } else { None };
            Ok(Page { items: found.into_iter().map(|(id, _)| id).collect(), next })
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

    /// Every write of this store goes through its writer thread, which counts its commits; the data folder's lock
    /// keeps other processes out of the file.
    fn write_generation(&self, _tenant: &TenantId) -> Option<u64> {
        Some(self.inner.writer.generation())
    }
}
