//! [`Outbox`] on SQLite: the events table is the outbox (`seq` is the commit order, `relayed_at` marks what the
//! embedded relay has published).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_app::{Outbox, OutboxEntry, StoreError, StoreResult};
use osflow_domain::values::{OrderId, TenantId};
use rusqlite::params;

use crate::codec::{Db, from_json, nanos};
use crate::{SqliteStore, immediate, version_column};

#[async_trait]
impl Outbox for SqliteStore {
    async fn pending(&self, limit: u32) -> StoreResult<Vec<OutboxEntry>> {
        self.read_blocking(move |conn| {
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
