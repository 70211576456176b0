//! A company's NF-e emitter configuration: one item `T#<tenant>#EMITTER` / `CONFIG` (one `GetItem`, strongly
//! consistent; one unconditional `PutItem` that replaces it). The A1 certificate is not here: its pointer is the
//! item `T#<tenant>#EMITTER` / `CERT` and its bytes are in Secrets Manager (see `DynamoEmitterStore`, feature
//! `secrets`). The SEFAZ contingency state is the item `T#<tenant>#EMITTER` / `CONTINGENCY`, written conditionally
//! on its `revision`.

use osflow_app::{ContingencyState, EmitterConfig, StoreError, StoreResult};
use osflow_domain::values::TenantId;

use crate::DynamoStore;
use crate::items;
use crate::keys;

impl DynamoStore {
    /// The emitter configuration of `tenant`, or `None` when the company issues no NF-e.
    pub async fn emitter_config(&self, tenant: &TenantId) -> StoreResult<Option<EmitterConfig>> {
        self.get_item(keys::emitter_pk(tenant), keys::EMITTER_CONFIG_SK).await?.map(items::read_emitter).transpose()
    }

    /// Stores (or replaces) the emitter configuration of `tenant`.
    pub async fn put_emitter_config(&self, tenant: &TenantId, config: &EmitterConfig) -> StoreResult<()> {
        self.put_item(items::emitter_item(tenant, config)?).await
    }

    /// The SEFAZ contingency state of `tenant` (one strongly consistent `GetItem`).
    pub async fn contingency_state(&self, tenant: &TenantId) -> StoreResult<Option<ContingencyState>> {
        self.get_item(keys::emitter_pk(tenant), keys::EMITTER_CONTINGENCY_SK)
            .await?
            .map(items::read_contingency)
            .transpose()
    }

    /// Saves the contingency state of `tenant` by a `PutItem` conditional on the stored revision
    /// (`EmitterStore::save_contingency`).
    pub async fn save_contingency_state(
        &self,
        tenant: &TenantId,
        state: &ContingencyState,
        expected_revision: u64,
    ) -> StoreResult<()> {
        if state.revision != expected_revision + 1 {
            return Err(StoreError::Other(format!(
                "a contingency state saved over revision {expected_revision} must have revision {}",
                expected_revision + 1
            )));
        }
        self.put_revision(items::contingency_item(tenant, state)?, expected_revision).await
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
