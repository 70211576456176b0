//! [`UnlockCodeStore`] on DynamoDB: an order's unlock code is the item `T#<t>#ORDER#<id>` / `UNLOCK` beside the
//! order (never in its events, so never on the stream), sealed with AES-256-GCM (`osflow_app::sealed`, the same
//! sealing as the embedded store's) under the key the store is given ([`DynamoStore::with_secrets_key`]): in AWS
//! a generated Secrets Manager secret ([`secrets_key_from_secret`]), read once per container by
//! the functions that keep or read codes. The step that closes or cancels the order deletes the item in the step's
//! transaction (`orders.rs`), so no other function needs the key.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use osflow_app::sealed::{SecretsKey, seal, unlock_code_context, unseal};
use osflow_app::{IdempotencyRecord, StoreError, StoreResult, UnlockCodeStore};
use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{Event, Order};

use crate::DynamoStore;
use crate::error::{build_error, sdk_error};
use crate::items::{key, s};
use crate::keys;

/// The sort key of an order's unlock code.
pub(crate) const UNLOCK_SK: &str = "UNLOCK";
const SEALED: &str = "sealed";

/// The transaction item that deletes an order's unlock code (nothing when none is kept).
pub(crate) fn delete_item(table: &str, tenant: &TenantId, order: &OrderId) -> StoreResult<TransactWriteItem> {
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(key(keys::order_pk(tenant, order), UNLOCK_SK)))
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

impl DynamoStore {
    /// Unlock codes sealed under `key` (without one, the store keeps none).
    pub fn with_secrets_key(mut self, key: SecretsKey) -> DynamoStore {
        self.secrets_key = Some(std::sync::Arc::new(key));
        self
    }

    /// The item of the order's code, sealed and bound to the company and the order.
    fn code_item(&self, tenant: &TenantId, order: &OrderId, code: &str) -> StoreResult<crate::items::Item> {
        let sealed = seal(self.sealing_key()?, &unlock_code_context(tenant, order), code)?;
        let mut item = key(keys::order_pk(tenant, order), UNLOCK_SK);
        item.insert(SEALED.to_owned(), s(sealed));
        Ok(item)
    }

    fn sealing_key(&self) -> StoreResult<&SecretsKey> {
        self.secrets_key.as_deref().ok_or_else(|| {
            StoreError::Other(
                "no sealing key configured (OSFLOW_SEALING_KEY_SECRET): an unlock code cannot be kept".into(),
            )
        })
    }
}

/// The sealing key from the Secrets Manager secret `secret_id` (its string, at least 32 characters, derived into
/// the AES key). Nothing of the value reaches an error message.
pub async fn secrets_key_from_secret(
    secrets: &osflow_aws_kit::SecretsReader,
    secret_id: &str,
) -> StoreResult<SecretsKey> {
    let out = secrets.read(secret_id, None).await?;
    let text = out.string.unwrap_or_default();
    if text.chars().count() < 32 {
        return Err(StoreError::Other(format!("the sealing key secret {secret_id} holds fewer than 32 characters")));
    }
    Ok(SecretsKey::derive(text.as_bytes()))
}

#[async_trait]
impl UnlockCodeStore for DynamoStore {
    async fn put_unlock_code(&self, tenant: &TenantId, order: &OrderId, code: &str) -> StoreResult<()> {
        let item = self.code_item(tenant, order, code)?;
        self.put_item(item).await?;
        Ok(())
    }

    async fn create_with_unlock_code(
        &self,
        order: &Order,
        opened: &Event,
        idem: Option<&IdempotencyRecord>,
        code: &str,
    ) -> StoreResult<()> {
        let item = self.code_item(&order.tenant, &order.id, code)?;
        self.create_order(order, opened, idem, Some(item)).await
    }

    async fn unlock_code(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<Option<String>> {
        let Some(item) = self.get_item(keys::order_pk(tenant, order), UNLOCK_SK).await? else { return Ok(None) };
        let Some(AttributeValue::S(sealed)) = item.get(SEALED) else {
            return Err(StoreError::Corrupt(format!("the unlock code item of order {order} has no sealed text")));
        };
        let key = self.sealing_key()?;
        unseal(Some(key), &unlock_code_context(tenant, order), sealed.clone()).map(Some)
    }

    async fn delete_unlock_code(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(keys::order_pk(tenant, order), UNLOCK_SK)))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}
