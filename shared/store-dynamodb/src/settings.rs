//! `SettingsStore`: a company's notification settings, one item `T#<tenant>#SETTINGS` / `NOTIFICATIONS`, and its
//! paperwork settings, `T#<tenant>#SETTINGS` / `COMPANY` (each one `GetItem`, strongly consistent; one
//! unconditional `PutItem` that replaces it).

use async_trait::async_trait;
use osflow_app::{CompanySettings, NotificationSettings, SettingsStore, StoreResult};
use osflow_domain::values::TenantId;

use crate::DynamoStore;
use crate::items;
use crate::keys;

#[async_trait]
impl SettingsStore for DynamoStore {
    async fn notification_settings(&self, tenant: &TenantId) -> StoreResult<Option<NotificationSettings>> {
        self.get_item(keys::settings_pk(tenant), keys::NOTIFICATIONS_SK)
            .await?
            .map(items::read_notification_settings)
            .transpose()
    }

    async fn put_notification_settings(&self, tenant: &TenantId, settings: &NotificationSettings) -> StoreResult<()> {
        self.put_item(items::notification_settings_item(tenant, settings)?).await
    }

    async fn company_settings(&self, tenant: &TenantId) -> StoreResult<Option<CompanySettings>> {
        self.get_item(keys::settings_pk(tenant), keys::COMPANY_SK).await?.map(items::read_company_settings).transpose()
    }

    async fn put_company_settings(&self, tenant: &TenantId, settings: &CompanySettings) -> StoreResult<()> {
        self.put_item(items::company_settings_item(tenant, settings)?).await
    }
}
