//! Conditional writes and transactions.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use osflow_app::StoreError;

use crate::DynamoStore;
use crate::error::{TRANSIENT_REASONS, build_error, sdk_error};
use crate::items::Item;
use crate::table::PK;

/// Attempts of a transaction cancelled only by `TransactionConflict` (another transaction on one of its items)
/// or throttling: nothing was written, so it is sent again, after a jittered pause.
const TRANSACTION_ATTEMPTS: u32 = 4;

/// The condition of an item that must not exist yet.
pub(crate) const NEW_ITEM: &str = "attribute_not_exists(#pk)";

/// A conditional Put of a transaction.
#[derive(Debug)]
pub(crate) struct CondPut {
    item: Item,
    condition: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    return_old: bool,
}

impl CondPut {
    /// A Put of an item that must not exist yet.
    pub(crate) fn new_item(item: Item) -> CondPut {
        CondPut::when(item, NEW_ITEM)
    }

    /// A Put under `condition` (`#pk` names the partition key attribute).
    pub(crate) fn when(item: Item, condition: impl Into<String>) -> CondPut {
        CondPut {
            item,
            condition: condition.into(),
            names: HashMap::from([("#pk".to_owned(), PK.to_owned())]),
            values: HashMap::new(),
            return_old: false,
        }
    }

    pub(crate) fn name(mut self, placeholder: &str, attribute: &str) -> CondPut {
        self.names.insert(placeholder.to_owned(), attribute.to_owned());
        self
    }

    pub(crate) fn value(mut self, placeholder: &str, value: AttributeValue) -> CondPut {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    /// Asks for the stored item in the cancellation reason when the condition fails (no second read).
    pub(crate) fn return_old(mut self) -> CondPut {
        self.return_old = true;
        self
    }

    pub(crate) fn into_put(self, table: &str) -> Result<Put, StoreError> {
        // DynamoDB refuses placeholders that the expression does not use.
        let names = self.names.into_iter().filter(|(placeholder, _)| self.condition.contains(placeholder.as_str()));
        let mut put = Put::builder()
            .table_name(table)
            .set_item(Some(self.item))
            .set_expression_attribute_names(Some(names.collect()))
            .condition_expression(self.condition);
        if !self.values.is_empty() {
            put = put.set_expression_attribute_values(Some(self.values));
        }
        if self.return_old {
            put = put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        }
        put.build().map_err(build_error)
    }
}

/// How a transaction ended when it did not fail outright.
#[derive(Debug)]
pub(crate) enum TxOutcome {
    Committed,
    /// Cancelled; one reason per item, in the order of the items.
    Cancelled(Vec<CancellationReason>),
}

/// The outcome of one item of a cancelled transaction.
pub(crate) fn failed_condition(reason: &CancellationReason) -> bool {
    reason.code() == Some("ConditionalCheckFailed")
}

/// A cancellation with no failed condition: transient (conflict, throttling) or a refusal of the request.
pub(crate) fn cancelled_without_condition(reasons: &[CancellationReason]) -> StoreError {
    let codes: Vec<&str> = reasons.iter().filter_map(CancellationReason::code).filter(|c| *c != "None").collect();
    if codes.iter().any(|c| TRANSIENT_REASONS.contains(c)) {
        StoreError::Unavailable(format!("transaction cancelled: {codes:?}"))
    } else {
        StoreError::Other(format!("transaction cancelled: {codes:?}"))
    }
}

/// The pause between attempts: osflow-app's one helper (full jitter up to `base * 2^attempt`, capped).
pub(crate) use osflow_app::backoff;

impl DynamoStore {
    /// One `TransactWriteItems` of `puts`. A cancellation by a failed condition is returned to the caller, who
    /// knows what each item means; a cancellation by transaction conflicts or throttling alone is retried a few
    /// times, then reported as [`TxOutcome::Cancelled`] with those reasons.
    pub(crate) async fn transact(&self, puts: Vec<CondPut>) -> Result<TxOutcome, StoreError> {
        self.transact_items(self.put_items(puts)?).await
    }

    /// The transaction items of `puts`.
    pub(crate) fn put_items(&self, puts: Vec<CondPut>) -> Result<Vec<TransactWriteItem>, StoreError> {
        puts.into_iter()
            .map(|p| Ok(TransactWriteItem::builder().put(p.into_put(&self.table)?).build()))
            .collect::<Result<Vec<_>, StoreError>>()
    }

    /// One `TransactWriteItems` of `items` (puts and deletes), as [`DynamoStore::transact`].
    pub(crate) async fn transact_items(&self, items: Vec<TransactWriteItem>) -> Result<TxOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            let sent = self.client.transact_write_items().set_transact_items(Some(items.clone())).send().await;
            let err = match sent {
                Ok(_) => return Ok(TxOutcome::Committed),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) = err.as_service_error() else {
                return Err(sdk_error(err));
            };
            let reasons = cancelled.cancellation_reasons().to_vec();
            let transient_only = !reasons.iter().any(failed_condition)
                && reasons.iter().filter_map(CancellationReason::code).any(|c| TRANSIENT_REASONS.contains(&c));
            attempt += 1;
            if !transient_only || attempt >= TRANSACTION_ATTEMPTS {
                return Ok(TxOutcome::Cancelled(reasons));
            }
            backoff(attempt, Duration::from_millis(20), Duration::from_millis(400)).await;
        }
    }
}
