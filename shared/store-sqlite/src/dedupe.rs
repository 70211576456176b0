//! [`DedupeStore`] on SQLite: the consumers' dedupe records (tables of migration 3 in `schema.rs`).
//!
//! Claims run in one transaction on the single writer, so two claims never both win; expired records are swept
//! by the claims.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use osflow_app::{Claim, DedupeKey, DedupeOutcome, DedupeStore, StoreResult};
use rusqlite::{OptionalExtension, params};

use crate::codec::{Db, from_json, nanos, to_json};
use crate::{SqliteStore, immediate};

fn from_nanos(n: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(n)
}

fn key_params(key: &DedupeKey) -> [String; 4] {
    [key.tenant.as_str().to_owned(), key.consumer.clone(), key.event_id.clone(), key.channel.clone()]
}

#[async_trait]
impl DedupeStore for SqliteStore {
    async fn claim(
        &self,
        key: &DedupeKey,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Claim> {
        let [tenant, consumer, event_id, channel] = key_params(key);
        let (now_n, stale_n, expires_n) = (nanos(now)?, nanos(now - lease)?, nanos(expires_at)?);
        self.write(move |conn| {
            let tx = immediate(conn)?;
            tx.prepare_cached("DELETE FROM dedupe WHERE expires_at <= ?1").db()?.execute([now_n]).db()?;
            let row: Option<(i64, Option<String>)> = tx
                .prepare_cached(
                    "SELECT claimed_at, outcome FROM dedupe
                     WHERE tenant = ?1 AND consumer = ?2 AND event_id = ?3 AND channel = ?4",
                )
                .db()?
                .query_row(params![tenant, consumer, event_id, channel], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .db()?;
            let claim = match row {
                Some((_, Some(outcome))) => {
                    Claim::Done(from_json(&outcome, || format!("dedupe record {tenant}/{event_id}/{channel}"))?)
                }
                Some((claimed_at, None)) if claimed_at > stale_n => {
                    Claim::InFlight { claimed_at: from_nanos(claimed_at) }
                }
                _ => {
                    tx.prepare_cached(
                        "INSERT INTO dedupe (tenant, consumer, event_id, channel, claimed_at, expires_at, outcome)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL)
                         ON CONFLICT (tenant, consumer, event_id, channel)
                         DO UPDATE SET claimed_at = excluded.claimed_at, expires_at = excluded.expires_at",
                    )
                    .db()?
                    .execute(params![tenant, consumer, event_id, channel, now_n, expires_n])
                    .db()?;
                    Claim::Claimed
                }
            };
            tx.commit().db()?;
            Ok(claim)
        })
        .await
    }

    async fn complete(&self, key: &DedupeKey, outcome: &DedupeOutcome) -> StoreResult<()> {
        let [tenant, consumer, event_id, channel] = key_params(key);
        let body = to_json(outcome)?;
        let at = nanos(outcome.completed_at)?;
        self.write(move |conn| {
            // A completion without a claim (swept meanwhile) still records the outcome, kept for a day.
            conn.prepare_cached(
                "INSERT INTO dedupe (tenant, consumer, event_id, channel, claimed_at, expires_at, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5 + 86400000000000, ?6)
                 ON CONFLICT (tenant, consumer, event_id, channel)
                 DO UPDATE SET outcome = excluded.outcome WHERE dedupe.outcome IS NULL",
            )
            .db()?
            .execute(params![tenant, consumer, event_id, channel, at, body])
            .db()?;
            Ok(())
        })
        .await
    }

    async fn release(&self, key: &DedupeKey) -> StoreResult<()> {
        let [tenant, consumer, event_id, channel] = key_params(key);
        self.write(move |conn| {
            conn.prepare_cached(
                "DELETE FROM dedupe
                 WHERE tenant = ?1 AND consumer = ?2 AND event_id = ?3 AND channel = ?4 AND outcome IS NULL",
            )
            .db()?
            .execute(params![tenant, consumer, event_id, channel])
            .db()?;
            Ok(())
        })
        .await
    }
}
