//! [`EmitterStore`] on the same SQLite file: the emitter configuration (JSON body) and, in a separate table, the
//! A1 certificate (PKCS#12 bytes and password), which no read of the configuration touches (tables of migration
//! 2 in `schema.rs`). With [`SqliteOptions::secrets_key`](crate::SqliteOptions) the password is sealed
//! (`sealed.rs`); the AWS adapter keeps it in Secrets Manager.

use async_trait::async_trait;
use osflow_app::{ContingencyState, EmitterCertificate, EmitterConfig, EmitterStore, StoreError, StoreResult};
use osflow_domain::values::TenantId;
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, from_json, to_json};
use crate::{SqliteStore, immediate};
use osflow_app::sealed::{SecretsKey, is_sealed, seal, unseal};

/// Seals the passwords stored in clear (by an older build, or an open without a key), in one transaction.
pub(crate) fn seal_clear_passwords(conn: &mut rusqlite::Connection, key: &SecretsKey) -> StoreResult<()> {
    let tx = immediate(conn)?;
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT tenant, password FROM emitter_certificates")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .db()?;
    for (tenant, password) in rows.into_iter().filter(|(_, p)| !is_sealed(p)) {
        let sealed = seal(key, &tenant, &password)?;
        tx.execute("UPDATE emitter_certificates SET password = ?1 WHERE tenant = ?2", params![sealed, tenant]).db()?;
    }
    tx.commit().db()
}

#[async_trait]
impl EmitterStore for SqliteStore {
    async fn emitter(&self, tenant: &TenantId) -> StoreResult<Option<EmitterConfig>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM emitters WHERE tenant = ?1")
                .and_then(|mut s| s.query_row([&tenant], |r| r.get(0)).optional())
                .db()?;
            body.map(|b| from_json(&b, || format!("emitter of {tenant}"))).transpose()
        })
        .await
    }

    async fn put_emitter(&self, tenant: &TenantId, config: &EmitterConfig) -> StoreResult<()> {
        let (tenant, body) = (tenant.as_str().to_owned(), to_json(config)?);
        self.write(move |conn| {
            let tx = immediate(conn)?;
            tx.prepare_cached(
                "INSERT INTO emitters (tenant, body) VALUES (?1, ?2)
                 ON CONFLICT (tenant) DO UPDATE SET body = excluded.body",
            )
            .db()?
            .execute(params![tenant, body])
            .db()?;
            tx.commit().db()
        })
        .await
    }

    async fn certificate(&self, tenant: &TenantId) -> StoreResult<Option<EmitterCertificate>> {
        let tenant = tenant.as_str().to_owned();
        let (key, name) = (self.inner.secrets_key.clone(), tenant.clone());
        let found = self
            .read(move |conn| {
                conn.prepare_cached("SELECT pkcs12, password, revision FROM emitter_certificates WHERE tenant = ?1")
                    .and_then(|mut s| {
                        s.query_row([&tenant], |r| {
                            Ok(EmitterCertificate {
                                pkcs12: r.get(0)?,
                                password: r.get(1)?,
                                revision: r.get::<_, i64>(2)? as u64,
                            })
                        })
                        .optional()
                    })
                    .db()
            })
            .await?;
        found
            .map(|mut c| {
                c.password = unseal(key.as_ref(), &name, std::mem::take(&mut c.password))?;
                Ok(c)
            })
            .transpose()
    }

    async fn put_certificate(&self, tenant: &TenantId, pkcs12: &[u8], password: &str) -> StoreResult<u64> {
        let password = match &self.inner.secrets_key {
            Some(key) => seal(key, tenant.as_str(), password)?,
            None => password.to_owned(),
        };
        let (tenant, pkcs12) = (tenant.as_str().to_owned(), pkcs12.to_vec());
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let revision: i64 = tx
                .prepare_cached(
                    "INSERT INTO emitter_certificates (tenant, pkcs12, password, revision) VALUES (?1, ?2, ?3, 1)
                     ON CONFLICT (tenant) DO UPDATE SET pkcs12 = excluded.pkcs12, password = excluded.password,
                         revision = revision + 1
                     RETURNING revision",
                )
                .db()?
                .query_row(params![tenant, pkcs12, password], |r| r.get(0))
                .db()?;
            tx.commit().db()?;
            Ok(revision as u64)
        })
        .await
    }

    async fn contingency(&self, tenant: &TenantId) -> StoreResult<Option<ContingencyState>> {
        let tenant = tenant.as_str().to_owned();
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM emitter_contingency WHERE tenant = ?1")
                .and_then(|mut s| s.query_row([&tenant], |r| r.get(0)).optional())
                .db()?;
            body.map(|b| from_json(&b, || format!("contingency state of {tenant}"))).transpose()
        })
        .await
    }

    async fn save_contingency(
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
        let (tenant, body) = (tenant.as_str().to_owned(), to_json(state)?);
        let (revision, expected) = (state.revision as i64, expected_revision as i64);
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let written = if expected == 0 {
                tx.prepare_cached(
                    "INSERT INTO emitter_contingency (tenant, revision, body) VALUES (?1, ?2, ?3)
                     ON CONFLICT (tenant) DO NOTHING",
                )
                .db()?
                .execute(params![tenant, revision, body])
                .db()?
            } else {
                tx.prepare_cached(
                    "UPDATE emitter_contingency SET revision = ?2, body = ?3 WHERE tenant = ?1 AND revision = ?4",
                )
                .db()?
                .execute(params![tenant, revision, body, expected])
                .db()?
            };
            if written == 0 {
                let current: Option<i64> = tx
                    .prepare_cached("SELECT revision FROM emitter_contingency WHERE tenant = ?1")
                    .db()?
                    .query_row([&tenant], |r| r.get(0))
                    .optional()
                    .db()?;
                return Err(match (expected, current) {
                    (0, _) => StoreError::AlreadyExists,
                    (_, None) => StoreError::NotFound,
                    (_, Some(r)) => StoreError::Conflict { current_version: r as u64 },
                });
            }
            tx.commit().db()
        })
        .await
    }
}
