//! [`SettingsStore`] on SQLite: the companies' notification settings (tables of migration 3 in `schema.rs`) and
//! paperwork settings (migration 7).

use async_trait::async_trait;
use osflow_app::{CompanySettings, NotificationSettings, SettingsStore, StoreResult};
use osflow_domain::values::TenantId;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::SqliteStore;
use crate::codec::{Db, from_json, to_json};

impl SqliteStore {
    /// A company's settings of one kind: the JSON body `select` reads by tenant.
    async fn settings<T: DeserializeOwned + Send + 'static>(
        &self,
        select: &'static str,
        what: &'static str,
        tenant: &TenantId,
    ) -> StoreResult<Option<T>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let body: Option<String> =
                conn.prepare_cached(select).and_then(|mut s| s.query_row([&tenant], |r| r.get(0)).optional()).db()?;
            body.map(|b| from_json(&b, || format!("{what} of {tenant}"))).transpose()
        })
        .await
    }

    /// Replaces a company's settings of one kind with `upsert` (tenant, JSON body).
    async fn put_settings<T: Serialize>(
        &self,
        upsert: &'static str,
        tenant: &TenantId,
        settings: &T,
    ) -> StoreResult<()> {
        let (tenant, body) = (tenant.as_str().to_owned(), to_json(settings)?);
        self.write(move |conn| {
            conn.prepare_cached(upsert).db()?.execute(params![tenant, body]).db()?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn notification_settings(&self, tenant: &TenantId) -> StoreResult<Option<NotificationSettings>> {
        let select = "SELECT body FROM notification_settings WHERE tenant = ?1";
        self.settings(select, "notification settings", tenant).await
    }

    async fn put_notification_settings(&self, tenant: &TenantId, settings: &NotificationSettings) -> StoreResult<()> {
        let upsert = "INSERT INTO notification_settings (tenant, body) VALUES (?1, ?2)
                      ON CONFLICT (tenant) DO UPDATE SET body = excluded.body";
        self.put_settings(upsert, tenant, settings).await
    }

    async fn company_settings(&self, tenant: &TenantId) -> StoreResult<Option<CompanySettings>> {
        self.settings("SELECT body FROM company_settings WHERE tenant = ?1", "company settings", tenant).await
    }

    async fn put_company_settings(&self, tenant: &TenantId, settings: &CompanySettings) -> StoreResult<()> {
        let upsert = "INSERT INTO company_settings (tenant, body) VALUES (?1, ?2)
                      ON CONFLICT (tenant) DO UPDATE SET body = excluded.body";
        self.put_settings(upsert, tenant, settings).await
    }
}
