//! [`FlowStore`] on SQLite: the published versions of a company's flow and the pointer to the current one.

use async_trait::async_trait;
use osflow_app::{FlowStore, StoreError, StoreResult};
use osflow_domain::Flow;
use osflow_domain::values::TenantId;
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, from_json, to_json};
use crate::{SqliteStore, immediate};

fn flow_from(body: &str, tenant: &str, version: i64) -> StoreResult<Flow> {
    from_json(body, || format!("flow {tenant}/{version}"))
}

#[async_trait]
impl FlowStore for SqliteStore {
    async fn publish(&self, tenant: &TenantId, flow: &Flow, expected_current: Option<u32>) -> StoreResult<()> {
        let (tenant, version, body) = (tenant.as_str().to_owned(), flow.version, to_json(flow)?);
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let current: Option<u32> = tx
                .prepare_cached("SELECT version FROM flow_current WHERE tenant = ?1")
                .db()?
                .query_row([&tenant], |r| r.get(0))
                .optional()
                .db()?;
            if current != expected_current {
                return Err(StoreError::Conflict { current_version: u64::from(current.unwrap_or(0)) });
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO flows (tenant, version, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant, version) DO NOTHING",
                )
                .db()?
                .execute(params![tenant, version, body])
                .db()?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            tx.prepare_cached(
                "INSERT INTO flow_current (tenant, version) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET version = excluded.version",
            )
            .db()?
            .execute(params![tenant, version])
            .db()?;
            tx.commit().db()
        })
        .await
    }

    async fn current(&self, tenant: &TenantId) -> StoreResult<Option<Flow>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let found: Option<(i64, String)> = conn
                .prepare_cached(
                    "SELECT f.version, f.body FROM flow_current c JOIN flows f
                     ON f.tenant = c.tenant AND f.version = c.version WHERE c.tenant = ?1",
                )
                .db()?
                .query_row([&tenant], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db()?;
            found.map(|(v, body)| flow_from(&body, &tenant, v)).transpose()
        })
        .await
    }

    async fn version(&self, tenant: &TenantId, version: u32) -> StoreResult<Option<Flow>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM flows WHERE tenant = ?1 AND version = ?2")
                .db()?
                .query_row(params![tenant, version], |r| r.get(0))
                .optional()
                .db()?;
            body.map(|b| flow_from(&b, &tenant, i64::from(version))).transpose()
        })
        .await
    }

    async fn versions(&self, tenant: &TenantId) -> StoreResult<Vec<Flow>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let mut stmt =
                conn.prepare_cached("SELECT version, body FROM flows WHERE tenant = ?1 ORDER BY version").db()?;
            let rows = stmt.query_map([&tenant], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).db()?;
            let mut flows = Vec::new();
            for row in rows {
                let (v, body) = row.db()?;
                flows.push(flow_from(&body, &tenant, v)?);
            }
            Ok(flows)
        })
        .await
    }
}
