//! `DedupeStore`: one item per (tenant, consumer, event, channel) under `T#<tenant>#DEDUPE#…`, sort key `DEDUPE`.
//!
//! - `claim` is one conditional `PutItem` of a fresh claim: it succeeds when there is no item, or only a claim at
//!   or before `now - lease` (no outcome), or an expired item (`expires_at_ns <= now`: TTL deletion is lazy, so
//!   an expired item may still be there). DynamoDB evaluates the condition and writes atomically, so two
//!   concurrent claims never both succeed. A failed condition returns the stored item with the error
//!   (`ReturnValuesOnConditionCheckFailure::AllOld`), which answers `InFlight` or `Done` with no second request;
//!   should the error carry no item, one strongly consistent `GetItem` reads it.
//! - `complete` is one `UpdateItem` that sets the outcome unless the item already has one (a completed record
//!   stays completed); on a missing item it creates the completed record, kept for a day (as SQLite does).
//! - `release` is one `DeleteItem` conditioned on the item having no outcome.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use chrono::{DateTime, Utc};
use osflow_app::{Claim, DedupeKey, DedupeOutcome, DedupeStore, StoreError, StoreResult};

use crate::DynamoStore;
use crate::error::sdk_error;
use crate::items::{self, DedupeRecord, Item, attr, epoch_nanos, key, n, ttl_seconds};
use crate::keys;
use crate::table::{PK, SK, TTL_ATTRIBUTE};
use crate::tx::backoff;

/// Rounds of a claim whose condition failed on an item that, once read, no longer blocks it (released or
/// expired in between). Each such round means another request changed the item: a handful is plenty.
const CLAIM_ROUNDS: u32 = 5;

/// How long a completion without a claim keeps its record (the claim's expiry is unknown then).
const UNCLAIMED_COMPLETION_TTL: chrono::Duration = chrono::Duration::days(1);

/// What a stored record means to a claim at `now_ns` with a lease ending at `stale_ns`: `None` when the claim may
/// take it (expired, or an uncompleted claim at or before `stale_ns`).
fn blocking_answer(record: DedupeRecord, now_ns: i64, stale_ns: i64) -> Option<Claim> {
    if record.expires_at_ns <= now_ns {
        return None;
    }
    match record.outcome {
        Some(outcome) => Some(Claim::Done(outcome)),
        None if record.claimed_at_ns > stale_ns => {
            Some(Claim::InFlight { claimed_at: DateTime::from_timestamp_nanos(record.claimed_at_ns) })
        }
        None => None,
    }
}

impl DynamoStore {
    /// The dedupe item of `key`, strongly consistent.
    async fn dedupe_item(&self, key_: &DedupeKey) -> StoreResult<Option<Item>> {
        self.get_item(keys::dedupe_pk(key_), keys::DEDUPE_SK).await
    }
}

#[async_trait]
impl DedupeStore for DynamoStore {
    async fn claim(
        &self,
        key_: &DedupeKey,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Claim> {
        let now_ns = epoch_nanos(now)?;
        let stale_ns = epoch_nanos(now - lease)?;
        let item = items::dedupe_claim_item(key_, now, expires_at)?;
        for round in 0..CLAIM_ROUNDS {
            if round > 0 {
                backoff(round, Duration::from_millis(5), Duration::from_millis(100)).await;
            }
            let sent = self
                .client
                .put_item()
                .table_name(self.table())
                .set_item(Some(item.clone()))
                .condition_expression(
                    "attribute_not_exists(#pk) OR (attribute_not_exists(#outcome) AND #claimed <= :stale) \
                     OR #expires <= :now",
                )
                .expression_attribute_names("#pk", PK)
                .expression_attribute_names("#outcome", attr::OUTCOME)
                .expression_attribute_names("#claimed", attr::CLAIMED_AT_NS)
                .expression_attribute_names("#expires", attr::EXPIRES_AT_NS)
                .expression_attribute_values(":stale", n(stale_ns))
                .expression_attribute_values(":now", n(now_ns))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let err = match sent {
                Ok(_) => return Ok(Claim::Claimed),
                Err(err) => err,
            };
            let stored = match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => match failed.item() {
                    Some(old) if !old.is_empty() => Some(old.clone()),
                    _ => self.dedupe_item(key_).await?,
                },
                _ => return Err(sdk_error(err)),
            };
            if let Some(stored) = stored
                && let Some(answer) = blocking_answer(items::read_dedupe(&stored)?, now_ns, stale_ns)
            {
                return Ok(answer);
            }
            // The item that failed the condition is gone or no longer blocks: claim again.
        }
        Err(StoreError::Unavailable(format!(
            "dedupe claim of {}/{}/{}: the record kept changing for {CLAIM_ROUNDS} rounds",
            key_.consumer, key_.event_id, key_.channel
        )))
    }

    async fn complete(&self, key_: &DedupeKey, outcome: &DedupeOutcome) -> StoreResult<()> {
        let identity = items::dedupe_identity(key_);
        let expires_at = outcome.completed_at + UNCLAIMED_COMPLETION_TTL;
        let mut update = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::dedupe_pk(key_), keys::DEDUPE_SK)))
            .condition_expression("attribute_not_exists(#outcome)")
            .expression_attribute_names("#outcome", attr::OUTCOME)
            .expression_attribute_names("#claimed", attr::CLAIMED_AT_NS)
            .expression_attribute_names("#expires", attr::EXPIRES_AT_NS)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":outcome", items::dedupe_outcome_value(outcome)?)
            .expression_attribute_values(":claimed", n(epoch_nanos(outcome.completed_at)?))
            .expression_attribute_values(":expires", n(epoch_nanos(expires_at)?))
            .expression_attribute_values(":ttl", n(ttl_seconds(expires_at)));
        // A completion without a claim (released or expired meanwhile) writes the whole record.
        let mut sets = vec![
            "#outcome = :outcome".to_owned(),
            "#claimed = if_not_exists(#claimed, :claimed)".to_owned(),
            "#expires = if_not_exists(#expires, :expires)".to_owned(),
            "#ttl = if_not_exists(#ttl, :ttl)".to_owned(),
        ];
        for (name, value) in identity.into_iter().filter(|(name, _)| name != PK && name != SK) {
            sets.push(format!("#{name} = :{name}"));
            update = update
                .expression_attribute_names(format!("#{name}"), &name)
                .expression_attribute_values(format!(":{name}"), value);
        }
        let err = match update.update_expression(format!("SET {}", sets.join(", "))).send().await {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        match err.as_service_error() {
            // Already completed: the first outcome stays.
            Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(()),
            _ => Err(sdk_error(err)),
        }
    }

    async fn release(&self, key_: &DedupeKey) -> StoreResult<()> {
        let sent = self
            .client
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(keys::dedupe_pk(key_), keys::DEDUPE_SK)))
            .condition_expression("attribute_not_exists(#outcome)")
            .expression_attribute_names("#outcome", attr::OUTCOME)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Completed: left alone.
            Err(err) if matches!(err.as_service_error(), Some(DeleteItemError::ConditionalCheckFailedException(_))) => {
                Ok(())
            }
            Err(err) => Err(sdk_error(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(claimed_at_ns: i64, expires_at_ns: i64, outcome: Option<DedupeOutcome>) -> DedupeRecord {
        DedupeRecord { claimed_at_ns, expires_at_ns, outcome }
    }

    #[test]
    fn what_a_stored_record_answers() {
        let outcome = DedupeOutcome {
            ok: true,
            detail: "m***@example.com".into(),
            completed_at: DateTime::from_timestamp_nanos(5),
        };
        // now = 100, lease ends at 40, expiry at 1000.
        let answer = |r| blocking_answer(r, 100, 40);
        assert_eq!(
            answer(record(50, 1000, None)),
            Some(Claim::InFlight { claimed_at: DateTime::from_timestamp_nanos(50) })
        );
        assert_eq!(answer(record(40, 1000, None)), None, "a claim at now - lease is taken over");
        assert_eq!(answer(record(10, 1000, Some(outcome.clone()))), Some(Claim::Done(outcome.clone())));
        assert_eq!(answer(record(90, 100, Some(outcome))), None, "expired at now: absent");
        assert_eq!(answer(record(90, 99, None)), None);
    }
}
