//! [`IdempotencyStore`] on SQLite: the saved responses of writes, kept until they expire; a step saves its
//! record in its own transaction ([`put_idempotency`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_app::{IdempotencyRecord, IdempotencyStore, StoreError, StoreResult};
use osflow_domain::values::TenantId;
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::codec::{Db, from_json, nanos, to_json};

pub(crate) struct IdemRow {
    tenant: String,
    key: String,
    created_at: i64,
    expires_at: i64,
    body: String,
}

impl IdemRow {
    pub(crate) fn new(record: &IdempotencyRecord) -> StoreResult<IdemRow> {
        Ok(IdemRow {
            tenant: record.tenant.as_str().to_owned(),
            key: record.key.clone(),
            created_at: nanos(record.created_at)?,
            expires_at: nanos(record.expires_at)?,
            body: to_json(record)?,
        })
    }
}

/// Saves an idempotency record in the step's transaction: `AlreadyExists` when the key holds a record that has
/// not expired by the new record's `created_at` (an expired one is replaced).
pub(crate) fn put_idempotency(tx: &Connection, row: &IdemRow) -> StoreResult<()> {
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
