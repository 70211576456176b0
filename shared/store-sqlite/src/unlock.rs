//! [`UnlockCodeStore`] on SQLite: the equipment's unlock codes, sealed (`osflow_app::sealed`, under the store's
//! secrets key, bound to the company and the order) in their own table (migration 9 in `schema.rs`); the step
//! that closes or cancels the order deletes its row in the step's transaction (`orders.rs`). Without a secrets
//! key no code is kept: the file never holds one in clear.

use async_trait::async_trait;
use osflow_app::sealed::{seal, unlock_code_context, unseal};
use osflow_app::{IdempotencyRecord, StoreError, StoreResult, UnlockCodeStore};
use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{Event, Order};
use rusqlite::{OptionalExtension, params};

use crate::SqliteStore;
use crate::codec::Db;

/// Deletes the order's unlock code (inside a step's transaction, or alone).
pub(crate) fn delete_code(conn: &rusqlite::Connection, tenant: &str, order: &str) -> StoreResult<()> {
    conn.prepare_cached("DELETE FROM unlock_codes WHERE tenant = ?1 AND order_id = ?2")
        .db()?
        .execute(params![tenant, order])
        .db()?;
    Ok(())
}

/// Keeps (or replaces) the order's sealed code (inside the opening's transaction, or alone).
pub(crate) fn put_code(conn: &rusqlite::Connection, tenant: &str, order: &str, sealed: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO unlock_codes (tenant, order_id, sealed) VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant, order_id) DO UPDATE SET sealed = excluded.sealed",
    )
    .db()?
    .execute(params![tenant, order, sealed])
    .db()?;
    Ok(())
}

impl SqliteStore {
    /// The code sealed under the store's secrets key, bound to the company and the order.
    fn seal_code(&self, tenant: &TenantId, order: &OrderId, code: &str) -> StoreResult<String> {
        let key = self.inner.secrets_key.as_ref().ok_or_else(|| {
            StoreError::Other("the store was opened without a secrets key: an unlock code cannot be kept".into())
        })?;
        seal(key, &unlock_code_context(tenant, order), code)
    }
}

#[async_trait]
impl UnlockCodeStore for SqliteStore {
    async fn put_unlock_code(&self, tenant: &TenantId, order: &OrderId, code: &str) -> StoreResult<()> {
        let sealed = self.seal_code(tenant, order, code)?;
        let (tenant, order) = (tenant.as_str().to_owned(), order.to_string());
        self.write(move |conn| put_code(conn, &tenant, &order, &sealed)).await
    }

    async fn create_with_unlock_code(
        &self,
        order: &Order,
        opened: &Event,
        idem: Option<&IdempotencyRecord>,
        code: &str,
    ) -> StoreResult<()> {
        let sealed = self.seal_code(&order.tenant, &order.id, code)?;
        self.create_order(order, opened, idem, Some(sealed)).await
    }

    async fn unlock_code(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<Option<String>> {
        let context = unlock_code_context(tenant, order);
        let (t, o) = (tenant.as_str().to_owned(), order.to_string());
        let sealed: Option<String> = self
            .read(move |conn| {
                conn.prepare_cached("SELECT sealed FROM unlock_codes WHERE tenant = ?1 AND order_id = ?2")
                    .and_then(|mut s| s.query_row([&t, &o], |r| r.get(0)).optional())
                    .db()
            })
            .await?;
        sealed.map(|s| unseal(self.inner.secrets_key.as_ref(), &context, s)).transpose()
    }

    async fn delete_unlock_code(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<()> {
        let (tenant, order) = (tenant.as_str().to_owned(), order.to_string());
        self.write(move |conn| delete_code(conn, &tenant, &order)).await
    }
}
