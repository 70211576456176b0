//! `FlowStore`: immutable flow versions and the `CURRENT` pointer, under `T#<tenant>#FLOW`.

use async_trait::async_trait;
use osflow_app::{FlowStore, StoreError, StoreResult};
use osflow_domain::Flow;
use osflow_domain::values::TenantId;

use crate::DynamoStore;
use crate::items::{self, attr, get_u64, n};
use crate::keys;
use crate::tx::{CondPut, NEW_ITEM, TxOutcome, cancelled_without_condition, failed_condition};

impl DynamoStore {
    async fn flow_item(&self, tenant: &TenantId, sk: String) -> StoreResult<Option<Flow>> {
        self.get_item(keys::flow_pk(tenant), sk).await?.map(items::read_flow).transpose()
    }
}

#[async_trait]
impl FlowStore for DynamoStore {
    /// One transaction: Put `V#<n>` if new, Put `CURRENT` (with a copy of the flow) if it still points at
    /// `expected_current` (or does not exist, for `None`).
    async fn publish(&self, tenant: &TenantId, flow: &Flow, expected_current: Option<u32>) -> StoreResult<()> {
        let version = CondPut::new_item(items::flow_version_item(tenant, flow)?);
        let current = items::flow_current_item(tenant, flow)?;
        let current = match expected_current {
            None => CondPut::when(current, NEW_ITEM),
            Some(expected) => CondPut::when(current, "#version = :expected")
                .name("#version", attr::VERSION)
                .value(":expected", n(expected)),
        }
        .return_old();
        let reasons = match self.transact(vec![version, current]).await? {
            TxOutcome::Committed => return Ok(()),
            TxOutcome::Cancelled(reasons) => reasons,
        };
        match (reasons.first().filter(|r| failed_condition(r)), reasons.get(1).filter(|r| failed_condition(r))) {
            (Some(_), _) => Err(StoreError::AlreadyExists),
            (None, Some(on_current)) => {
                let current_version = on_current.item().map(|old| get_u64(old, attr::VERSION)).transpose()?;
                Err(StoreError::Conflict { current_version: current_version.unwrap_or(0) })
            }
            (None, None) => Err(cancelled_without_condition(&reasons)),
        }
    }

    async fn current(&self, tenant: &TenantId) -> StoreResult<Option<Flow>> {
        self.flow_item(tenant, keys::FLOW_CURRENT_SK.to_owned()).await
    }

    async fn version(&self, tenant: &TenantId, version: u32) -> StoreResult<Option<Flow>> {
        self.flow_item(tenant, keys::flow_version_sk(version)).await
    }

    async fn versions(&self, tenant: &TenantId) -> StoreResult<Vec<Flow>> {
        let items = self.query_prefix(keys::flow_pk(tenant), keys::FLOW_VERSION_PREFIX).await?;
        items.into_iter().map(items::read_flow).collect()
    }
}
