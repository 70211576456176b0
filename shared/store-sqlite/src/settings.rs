//! [`SettingsStore`] on SQLite: the companies' notification settings (tables of migration 3 in `schema.rs`) and
//! paperwork settings (migration 5).

use async_trait::async_trait;
use osflow_app::{CompanySettings, NotificationSettings, SettingsStore, StoreResult};
use osflow_domain::values::TenantId;
use rusqlite::{OptionalExtension, params};

use crate::SqliteStore;
use crate::codec::{Db, from_json, to_json};

#[async_trait]
impl SettingsStore for SqliteStore {
    async fn notification_settings(&self, tenant: &TenantId) -> StoreResult<Option<NotificationSettings>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM notification_settings WHERE tenant = ?1")
                .and_then(|mut s| s.query_row([&tenant], |r| r.get(0)).optional())
                .db()?;
            body.map(|b| from_json(&b, || format!("notification settings of {tenant}"))).transpose()
        })
        .await
    }

    async fn put_notification_settings(&self, tenant: &TenantId, settings: &NotificationSettings) -> StoreResult<()> {
        let (tenant, body) = (tenant.as_str().to_owned(), to_json(settings)?);
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO notification_settings (tenant, body) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET body = excluded.body",
            )
            .db()?
            .execute(params![tenant, body])
            .db()?;
            Ok(())
        })
        .await
    }

    async fn company_settings(&self, tenant: &TenantId) -> StoreResult<Option<CompanySettings>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM company_settings WHERE tenant = ?1")
                .and_then(|mut s| s.query_row([&tenant], |r| r.get(0)).optional())
                .db()?;
            body.map(|b| from_json(&b, || format!("company settings of {tenant}"))).transpose()
        })
        .await
    }

    async fn put_company_settings(&self, tenant: &TenantId, settings: &CompanySettings) -> StoreResult<()> {
        let (tenant, body) = (tenant.as_str().to_owned(), to_json(settings)?);
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO company_settings (tenant, body) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET body = excluded.body",
            )
            .db()?
            .execute(params![tenant, body])
            .db()?;
            Ok(())
        })
        .await
    }
}
