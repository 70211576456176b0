//! A company's NF-e emitter configuration: one item `T#<tenant>#EMITTER` / `CONFIG` (one `GetItem`, strongly
//! consistent; one unconditional `PutItem` that replaces it). The A1 certificate is not here: its pointer is the
//! item `T#<tenant>#EMITTER` / `CERT` and its bytes are in Secrets Manager (see `DynamoEmitterStore`, feature
//! `secrets`).

use osflow_app::{EmitterConfig, StoreResult};
use osflow_domain::values::TenantId;

use crate::DynamoStore;
use crate::error::sdk_error;
use crate::items::{self, key};
use crate::keys;

impl DynamoStore {
    /// The emitter configuration of `tenant`, or `None` when the company issues no NF-e.
    pub async fn emitter_config(&self, tenant: &TenantId) -> StoreResult<Option<EmitterConfig>> {
        let out = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(keys::emitter_pk(tenant), keys::EMITTER_CONFIG_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item.filter(|item| !item.is_empty()).map(items::read_emitter).transpose()
    }

    /// Stores (or replaces) the emitter configuration of `tenant`.
    pub async fn put_emitter_config(&self, tenant: &TenantId, config: &EmitterConfig) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(self.table())
            .set_item(Some(items::emitter_item(tenant, config)?))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

/// Invoicing is on for a company exactly when its emitter is configured (the rule of
/// `osflow_invoicing::EmitterPolicy`, read here from the configuration item alone, so that the HTTP functions
/// need neither Secrets Manager nor the NF-e crates): the release guard `invoice_authorized` depends on it.
#[async_trait::async_trait]
impl osflow_app::InvoicingPolicy for DynamoStore {
    async fn invoicing_enabled(&self, tenant: &TenantId) -> StoreResult<bool> {
        Ok(self.emitter_config(tenant).await?.is_some())
    }

    async fn documents(&self, tenant: &TenantId) -> StoreResult<osflow_domain::Invoicing> {
        let config = self.emitter_config(tenant).await?;
        Ok(osflow_domain::Invoicing { nfe: config.is_some(), nfse: config.is_some_and(|c| c.nfse.is_some()) })
    }
}
