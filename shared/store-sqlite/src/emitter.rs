//! [`EmitterStore`] on the same SQLite file: the emitter configuration (JSON body) and, in a separate table, the
//! A1 certificate (PKCS#12 bytes and password), which no read of the configuration touches (tables of migration
//! 2 in `schema.rs`). The embedded mode keeps the password in the database file, which is as private as the
//! rest of the company's data on that machine; the AWS adapter keeps it in Secrets Manager (later work).

use async_trait::async_trait;
use osflow_app::{EmitterCertificate, EmitterConfig, EmitterStore, StoreResult};
use osflow_domain::values::TenantId;
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, from_json, to_json};
use crate::{SqliteStore, immediate};

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
        self.read(move |conn| {
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
        .await
    }

    async fn put_certificate(&self, tenant: &TenantId, pkcs12: &[u8], password: &str) -> StoreResult<u64> {
        let (tenant, pkcs12, password) = (tenant.as_str().to_owned(), pkcs12.to_vec(), password.to_owned());
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
}
