//! `IdempotencyStore`, and the idempotency Put that `create` and `apply` add to their transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_app::{IdempotencyRecord, IdempotencyStore, StoreResult};
use osflow_domain::values::TenantId;

use crate::DynamoStore;
use crate::error::sdk_error;
use crate::items::{self, attr, key, n};
use crate::keys;
use crate::tx::{CondPut, NEW_ITEM};

/// The Put of an idempotency record: only if the key is unused, or its record expired by the new record's
/// creation (DynamoDB's TTL deletes expired items lazily, so an expired record may still be there).
pub(crate) fn idempotency_put(record: &IdempotencyRecord) -> StoreResult<CondPut> {
    Ok(CondPut::when(items::idempotency_item(record)?, format!("{NEW_ITEM} OR #expires <= :now"))
        .name("#expires", attr::EXPIRES_AT_US)
        .value(":now", n(record.created_at.timestamp_micros())))
}

#[async_trait]
impl IdempotencyStore for DynamoStore {
    async fn get_idempotency(
        &self,
        tenant: &TenantId,
        key_text: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(keys::idem_pk(tenant, key_text), keys::IDEM_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let Some(item) = out.item else { return Ok(None) };
        let record = items::read_idempotency(item)?;
        Ok((now < record.expires_at).then_some(record))
    }
}
