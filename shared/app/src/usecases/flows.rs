//! The flow editor and the flow an order runs on: published versions are immutable (and cached per process by
//! [`CachedFlowStore`]); the default flow is version 1 of every company until it publishes another.

use std::sync::Arc;

use osflow_domain::values::TenantId;
use osflow_domain::{Flow, FlowDef};

use crate::ports::{FlowStore, StoreError};
use crate::usecases::{ADMIN_ROLES, App, AppError, AppResult, Caller, READERS};

impl App {
    /// The flow an order runs on (the default flow is version 1 of every company until it publishes another).
    pub async fn flow_version(&self, tenant: &TenantId, version: u32) -> AppResult<Flow> {
        match self.flows.version(tenant, version).await? {
            Some(f) => Ok(f),
            None if version == 1 => Ok(Flow::default_flow()),
            None => Err(AppError::Store(StoreError::Corrupt(format!("flow version {version} is missing")))),
        }
    }

    /// The company's current flow.
    pub async fn current_flow(&self, tenant: &TenantId) -> AppResult<Flow> {
        Ok(self.flows.current(tenant).await?.unwrap_or_else(Flow::default_flow))
    }
    /// The flow editor: reads are for every staff role (they need the labels), publishing is `representante` only.
    pub async fn get_flow(&self, caller: &Caller) -> AppResult<Flow> {
        self.require(caller, &READERS)?;
        self.current_flow(&caller.tenant).await
    }

    pub async fn flow_versions(&self, caller: &Caller) -> AppResult<Vec<Flow>> {
        self.require(caller, &ADMIN_ROLES)?;
        let mut versions = self.flows.versions(&caller.tenant).await?;
        if versions.first().is_none_or(|f| f.version != 1) {
            versions.insert(0, Flow::default_flow());
        }
        Ok(versions)
    }

    /// Publishes a new flow version (validated); existing orders stay on the version they were opened with.
    /// The current definition sent again publishes nothing and answers the current version.
    pub async fn publish_flow(&self, caller: &Caller, def: FlowDef, if_match: Option<u32>) -> AppResult<Flow> {
        self.require(caller, &ADMIN_ROLES)?;
        let stored = self.flows.current(&caller.tenant).await?;
        let current = stored.as_ref().map_or(1, |f| f.version);
        // Publishing the current definition again is a no-op (a retried PUT publishes no second version).
        if stored.as_ref().map_or_else(|| Flow::default_flow().def == def, |f| f.def == def) {
            return Ok(stored.unwrap_or_else(Flow::default_flow));
        }
        if let Some(v) = if_match
            && v != current
        {
            return Err(AppError::PreconditionFailed { current_version: current as u64 });
        }
        let flow = Flow::publish(def, current + 1)?;
        match self.flows.publish(&caller.tenant, &flow, stored.map(|f| f.version)).await {
            Ok(()) => Ok(flow),
            Err(StoreError::Conflict { .. } | StoreError::AlreadyExists) => {
                // Another representante published meanwhile.
                let now = self.flows.current(&caller.tenant).await?.map_or(1, |f| f.version);
                Err(AppError::Conflict { current_version: now as u64 })
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// A [`FlowStore`] decorator that remembers published versions: they are immutable, so a warm process reads each
/// (tenant, version) once. `current` and `versions` always go to the store.
pub struct CachedFlowStore {
    inner: Arc<dyn FlowStore>,
    cache: std::sync::RwLock<std::collections::HashMap<(TenantId, u32), Option<Flow>>>,
}

impl CachedFlowStore {
    pub fn new(inner: Arc<dyn FlowStore>) -> CachedFlowStore {
        CachedFlowStore { inner, cache: Default::default() }
    }
}

impl std::fmt::Debug for CachedFlowStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedFlowStore").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl FlowStore for CachedFlowStore {
    async fn publish(&self, tenant: &TenantId, flow: &Flow, expected_current: Option<u32>) -> Result<(), StoreError> {
        self.inner.publish(tenant, flow, expected_current).await
    }

    async fn current(&self, tenant: &TenantId) -> Result<Option<Flow>, StoreError> {
        self.inner.current(tenant).await
    }

    async fn version(&self, tenant: &TenantId, version: u32) -> Result<Option<Flow>, StoreError> {
        let key = (tenant.clone(), version);
        if let Some(hit) = self.cache.read().expect("flow cache lock").get(&key) {
            return Ok(hit.clone());
        }
        let found = self.inner.version(tenant, version).await?;
        // A missing version stays missing only for version 1 (the implicit default flow: publishing starts at 2);
        // any other miss may be a version being published right now, so it is not remembered.
        if found.is_some() || version == 1 {
            self.cache.write().expect("flow cache lock").insert(key, found.clone());
        }
        Ok(found)
    }

    async fn versions(&self, tenant: &TenantId) -> Result<Vec<Flow>, StoreError> {
        self.inner.versions(tenant).await
    }
}
