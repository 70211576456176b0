//! [`RecordStore`] on SQLite (tables of migration 6 in `schema.rs`): `customers` (the document unique in the
//! company while the customer holds one), `equipment` (the serial key unique in the company) and `record_orders`
//! (the histories). A record's write is conditional on its version; a taken document or serial is the unique
//! index's refusal, `AlreadyExists`.

use async_trait::async_trait;
use osflow_app::{RecordStore, StoreError, StoreResult};
use osflow_domain::records::serial_key;
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{CustomerId, CustomerRecord, EquipmentId, EquipmentRecord, Event};
use rusqlite::{Connection, OptionalExtension, params};

use crate::codec::{Db, from_json, nanos, to_json};
use crate::{SqliteStore, immediate, version_column};

fn unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation)
}

/// Inserts (`expected` `None`) or updates at the expected version: the shared write of both record kinds.
fn put_row(
    conn: &mut Connection,
    table: &'static str,
    tenant: &str,
    id: &str,
    expected: Option<i64>,
    insert: (&str, &[&dyn rusqlite::ToSql]),
    update: (&str, &[&dyn rusqlite::ToSql]),
) -> StoreResult<()> {
    let tx = immediate(conn)?;
    let current: Option<i64> = tx
        .prepare_cached(&format!("SELECT version FROM {table} WHERE tenant = ?1 AND id = ?2"))
        .db()?
        .query_row(params![tenant, id], |r| r.get(0))
        .optional()
        .db()?;
    let (sql, args) = match (expected, current) {
        (None, None) => insert,
        (None, Some(_)) => return Err(StoreError::AlreadyExists),
        (Some(_), None) => return Err(StoreError::NotFound),
        (Some(e), Some(c)) if e != c => {
            return Err(StoreError::Conflict { current_version: u64::try_from(c).unwrap_or_default() });
        }
        (Some(_), Some(_)) => update,
    };
    match tx.prepare_cached(sql).db()?.execute(args) {
        Ok(_) => {}
        Err(e) if unique_violation(&e) => return Err(StoreError::AlreadyExists),
        Err(e) => return Err(crate::codec::db_error(e)),
    }
    tx.commit().db()
}

fn bodies<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    args: impl rusqlite::Params,
    what: &str,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).db()?;
    let rows = stmt.query_map(args, |r| r.get::<_, String>(0)).db()?;
    let mut out = Vec::new();
    for row in rows {
        let body = row.db()?;
        out.push(from_json(&body, || what.to_owned())?);
    }
    Ok(out)
}

fn order_ids(conn: &Connection, tenant: &str, kind: &str, record: &str, limit: u32) -> StoreResult<Vec<OrderId>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT order_id FROM record_orders WHERE tenant = ?1 AND kind = ?2 AND record = ?3
             ORDER BY order_id DESC LIMIT ?4",
        )
        .db()?;
    let rows = stmt.query_map(params![tenant, kind, record, i64::from(limit)], |r| r.get::<_, String>(0)).db()?;
    let mut out = Vec::new();
    for row in rows {
        let id = row.db()?;
        out.push(OrderId::parse(&id).map_err(|e| StoreError::Corrupt(format!("order id {id:?}: {e}")))?);
    }
    Ok(out)
}

#[async_trait]
impl RecordStore for SqliteStore {
    async fn customer(&self, tenant: &TenantId, id: &CustomerId) -> StoreResult<Option<CustomerRecord>> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_string());
        self.read(move |conn| {
            let sql = "SELECT body FROM customers WHERE tenant = ?1 AND id = ?2";
            Ok(bodies(conn, sql, params![tenant, id], "customer")?.pop())
        })
        .await
    }

    async fn customer_by_document(
        &self,
        tenant: &TenantId,
        document: &Document,
    ) -> StoreResult<Option<CustomerRecord>> {
        let (tenant, document) = (tenant.as_str().to_owned(), document.as_str().to_owned());
        self.read(move |conn| {
            let sql = "SELECT body FROM customers WHERE tenant = ?1 AND document = ?2";
            Ok(bodies(conn, sql, params![tenant, document], "customer")?.pop())
        })
        .await
    }

    async fn put_customer(&self, record: &CustomerRecord, expected: Option<u64>) -> StoreResult<()> {
        let tenant = record.tenant.as_str().to_owned();
        let id = record.id.to_string();
        let document = (!record.is_anonymized()).then(|| record.customer.document.as_str().to_owned());
        let version = version_column(record.version)?;
        let expected = expected.map(version_column).transpose()?;
        let body = to_json(record)?;
        self.write(move |conn| {
            put_row(
                conn,
                "customers",
                &tenant,
                &id,
                expected,
                (
                    "INSERT INTO customers (tenant, id, document, version, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![tenant, id, document, version, body],
                ),
                (
                    "UPDATE customers SET document = ?3, version = ?4, body = ?5 WHERE tenant = ?1 AND id = ?2",
                    params![tenant, id, document, version, body],
                ),
            )
        })
        .await
    }

    async fn equipment(&self, tenant: &TenantId, id: &EquipmentId) -> StoreResult<Option<EquipmentRecord>> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_string());
        self.read(move |conn| {
            let sql = "SELECT body FROM equipment WHERE tenant = ?1 AND id = ?2";
            Ok(bodies(conn, sql, params![tenant, id], "equipment")?.pop())
        })
        .await
    }

    async fn equipment_by_serial(&self, tenant: &TenantId, serial: &str) -> StoreResult<Option<EquipmentRecord>> {
        let (tenant, serial) = (tenant.as_str().to_owned(), serial_key(serial));
        self.read(move |conn| {
            let sql = "SELECT body FROM equipment WHERE tenant = ?1 AND serial = ?2";
            Ok(bodies(conn, sql, params![tenant, serial], "equipment")?.pop())
        })
        .await
    }

    async fn put_equipment(&self, record: &EquipmentRecord, expected: Option<u64>) -> StoreResult<()> {
        let tenant = record.tenant.as_str().to_owned();
        let id = record.id.to_string();
        let customer = record.customer.to_string();
        let serial = serial_key(record.serial());
        let version = version_column(record.version)?;
        let created_at = nanos(record.created_at)?;
        let expected = expected.map(version_column).transpose()?;
        let body = to_json(record)?;
        self.write(move |conn| {
            put_row(
                conn,
                "equipment",
                &tenant,
                &id,
                expected,
                (
                    "INSERT INTO equipment (tenant, id, customer, serial, version, created_at, body)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![tenant, id, customer, serial, version, created_at, body],
                ),
                (
                    "UPDATE equipment SET customer = ?3, serial = ?4, version = ?5, body = ?6 WHERE tenant = ?1 AND id = ?2",
                    params![tenant, id, customer, serial, version, body],
                ),
            )
        })
        .await
    }

    async fn equipment_of_customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> StoreResult<Vec<EquipmentRecord>> {
        let (tenant, customer) = (tenant.as_str().to_owned(), customer.to_string());
        self.read(move |conn| {
            let sql = "SELECT body FROM equipment WHERE tenant = ?1 AND customer = ?2 ORDER BY created_at, id";
            bodies(conn, sql, params![tenant, customer], "equipment")
        })
        .await
    }

    async fn link_order(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        customer: Option<&CustomerId>,
        equipment: Option<&EquipmentId>,
    ) -> StoreResult<()> {
        let tenant = tenant.as_str().to_owned();
        let order = order.to_string();
        let links: Vec<(&'static str, String)> =
            customer.map(|c| ("C", c.to_string())).into_iter().chain(equipment.map(|e| ("E", e.to_string()))).collect();
        self.write(move |conn| {
            let tx = immediate(conn)?;
            {
                let mut stmt = tx
                    .prepare_cached(
                        "INSERT INTO record_orders (tenant, kind, record, order_id) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT DO NOTHING",
                    )
                    .db()?;
                for (kind, record) in &links {
                    stmt.execute(params![tenant, kind, record, order]).db()?;
                }
            }
            tx.commit().db()
        })
        .await
    }

    async fn orders_of_customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>> {
        let (tenant, record) = (tenant.as_str().to_owned(), customer.to_string());
        self.read(move |conn| order_ids(conn, &tenant, "C", &record, limit)).await
    }

    async fn orders_of_equipment(
        &self,
        tenant: &TenantId,
        equipment: &EquipmentId,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>> {
        let (tenant, record) = (tenant.as_str().to_owned(), equipment.to_string());
        self.read(move |conn| order_ids(conn, &tenant, "E", &record, limit)).await
    }

    async fn rewrite_events(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        rewrite: &(dyn for<'e> Fn(&'e Event) -> Event + Sync),
    ) -> StoreResult<()> {
        let events = osflow_app::OrderStore::timeline(self, tenant, order).await?;
        let mut rows = Vec::with_capacity(events.len());
        for e in &events {
            let new = rewrite(e);
            if new.version != e.version || new.change.type_name() != e.change.type_name() {
                return Err(StoreError::Other("a rewrite keeps each event's version and type".into()));
            }
            rows.push((version_column(e.version)?, to_json(&new)?));
        }
        let (tenant, order) = (tenant.as_str().to_owned(), order.to_string());
        self.write(move |conn| {
            let tx = immediate(conn)?;
            {
                let mut stmt = tx
                    .prepare_cached("UPDATE events SET body = ?4 WHERE tenant = ?1 AND order_id = ?2 AND version = ?3")
                    .db()?;
                for (version, body) in &rows {
                    stmt.execute(params![tenant, order, version, body]).db()?;
                }
            }
            tx.commit().db()
        })
        .await
    }
}
