//! [`ReportStore`] on the same SQLite file (tables of migration 4 in `schema.rs`): one row per company and day
//! (`report_days`, versioned), the counted events (`report_events`), the generated reports (`reports`).
//!
//! `count_event` is one transaction on the single writer: the event's row is inserted (a primary-key conflict
//! means it was counted: `AlreadyExists`), the day's row is written if its version is the expected one
//! (`Conflict` otherwise) — both or neither.

use async_trait::async_trait;
use chrono::NaiveDate;
use osflow_app::{ReportRecord, ReportStore, StoreError, StoreResult, StoredDay};
use osflow_domain::report::DayAggregate;
use osflow_domain::values::TenantId;
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, from_json, nanos, to_json};
use crate::{SqliteStore, immediate};

fn day_text(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

fn version_of(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("report day version {v}")))
}

#[async_trait]
impl ReportStore for SqliteStore {
    async fn day(&self, tenant: &TenantId, day: NaiveDate) -> StoreResult<Option<StoredDay>> {
        let (tenant, day) = (tenant.as_str().to_owned(), day_text(day));
        self.read(move |conn| {
            let row: Option<(i64, String)> = conn
                .prepare_cached("SELECT version, body FROM report_days WHERE tenant = ?1 AND day = ?2")
                .db()?
                .query_row(params![tenant, day], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db()?;
            row.map(|(version, body)| {
                Ok(StoredDay {
                    aggregate: from_json(&body, || format!("report day {tenant}/{day}"))?,
                    version: version_of(version)?,
                })
            })
            .transpose()
        })
        .await
    }

    async fn days(&self, tenant: &TenantId, from: NaiveDate, to: NaiveDate) -> StoreResult<Vec<DayAggregate>> {
        let (tenant, from, to) = (tenant.as_str().to_owned(), day_text(from), day_text(to));
        self.read_blocking(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT day, body FROM report_days WHERE tenant = ?1 AND day >= ?2 AND day <= ?3 ORDER BY day",
                )
                .db()?;
            let rows = stmt
                .query_map(params![tenant, from, to], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .db()?;
            let mut out = Vec::new();
            for row in rows {
                let (day, body) = row.db()?;
                out.push(from_json(&body, || format!("report day {tenant}/{day}"))?);
            }
            Ok(out)
        })
        .await
    }

    async fn active_tenants(&self, day: NaiveDate) -> StoreResult<Vec<TenantId>> {
        let day = day_text(day);
        self.read(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT tenant FROM report_days WHERE day = ?1 ORDER BY tenant").db()?;
            let rows = stmt.query_map(params![day], |r| r.get::<_, String>(0)).db()?;
            let mut out = Vec::new();
            for row in rows {
                let t = row.db()?;
                out.push(TenantId::parse(&t).map_err(|e| StoreError::Corrupt(format!("tenant {t:?}: {e}")))?);
            }
            Ok(out)
        })
        .await
    }

    async fn event_counted(&self, tenant: &TenantId, event_id: &str) -> StoreResult<bool> {
        let (tenant, event_id) = (tenant.as_str().to_owned(), event_id.to_owned());
        self.read(move |conn| {
            conn.prepare_cached("SELECT 1 FROM report_events WHERE tenant = ?1 AND event_id = ?2")
                .db()?
                .query_row(params![tenant, event_id], |_| Ok(()))
                .optional()
                .db()
                .map(|r| r.is_some())
        })
        .await
    }

    async fn count_event(
        &self,
        tenant: &TenantId,
        event_id: &str,
        aggregate: &DayAggregate,
        expected_version: u64,
    ) -> StoreResult<()> {
        let (tenant, event_id) = (tenant.as_str().to_owned(), event_id.to_owned());
        let day = day_text(aggregate.day);
        let body = to_json(aggregate)?;
        let expected = i64::try_from(expected_version).map_err(|_| StoreError::Other("version out of range".into()))?;
        self.write(move |conn| {
            let tx = immediate(conn)?;
            let inserted = tx
                .prepare_cached("INSERT INTO report_events (tenant, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING")
                .db()?
                .execute(params![tenant, event_id])
                .db()?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists);
            }
            let current: i64 = tx
                .prepare_cached("SELECT version FROM report_days WHERE tenant = ?1 AND day = ?2")
                .db()?
                .query_row(params![tenant, day], |r| r.get(0))
                .optional()
                .db()?
                .unwrap_or(0);
            if current != expected {
                // Dropping the savepoint rolls the event's row back.
                return Err(StoreError::Conflict { current_version: version_of(current)? });
            }
            tx.prepare_cached(
                "INSERT INTO report_days (tenant, day, version, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, day) DO UPDATE SET version = excluded.version, body = excluded.body",
            )
            .db()?
            .execute(params![tenant, day, expected + 1, body])
            .db()?;
            tx.commit().db()
        })
        .await
    }

    async fn save_report(&self, report: &ReportRecord) -> StoreResult<()> {
        let (tenant, id) = (report.tenant.as_str().to_owned(), report.id.clone());
        let at = nanos(report.generated_at)?;
        let body = to_json(report)?;
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO reports (tenant, id, generated_at, body) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, id) DO UPDATE SET generated_at = excluded.generated_at, body = excluded.body",
            )
            .db()?
            .execute(params![tenant, id, at, body])
            .db()?;
            Ok(())
        })
        .await
    }

    async fn report(&self, tenant: &TenantId, id: &str) -> StoreResult<Option<ReportRecord>> {
        let (tenant, id) = (tenant.as_str().to_owned(), id.to_owned());
        self.read(move |conn| {
            let body: Option<String> = conn
                .prepare_cached("SELECT body FROM reports WHERE tenant = ?1 AND id = ?2")
                .db()?
                .query_row(params![tenant, id], |r| r.get(0))
                .optional()
                .db()?;
            body.map(|b| from_json(&b, || format!("report {tenant}/{id}"))).transpose()
        })
        .await
    }

    async fn reports(&self, tenant: &TenantId, limit: u32) -> StoreResult<Vec<ReportRecord>> {
        let tenant = tenant.as_str().to_owned();
        let limit = i64::from(limit.clamp(1, 100));
        self.read(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, body FROM reports WHERE tenant = ?1 ORDER BY generated_at DESC, id DESC LIMIT ?2",
                )
                .db()?;
            let rows = stmt
                .query_map(params![tenant, limit], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
                .db()?;
            let mut out = Vec::new();
            for row in rows {
                let (id, body) = row.db()?;
                out.push(from_json(&body, || format!("report {tenant}/{id}"))?);
            }
            Ok(out)
        })
        .await
    }
}
