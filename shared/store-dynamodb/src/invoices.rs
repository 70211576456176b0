//! `InvoiceStore`: gapless NF-e numbering and the invoice records.
//!
//! Numbering, per sequence (tenant, emitter CNPJ, série):
//! 1. one `TransactGetItems` reads the order's claim in the sequence and the counter;
//! 2. a claim found is the answer (a retry for the same order gets the same number);
//! 3. otherwise one `TransactWriteItems` moves the counter from n-1 to n (conditioned on the value read, or on
//!    its absence for the first number), puts the claim item of number n (which must not exist) and the order's
//!    claim (which must not exist);
//! 4. a failed condition means a concurrent claimer won this round. The cancellation carries the stored items
//!    (`ReturnValuesOnConditionCheckFailure::AllOld`): the order's claim, if a concurrent retry of this order
//!    won, is the answer; otherwise the counter's current value gives the next try, after a jittered pause, with
//!    no read in between. At most [`CLAIM_ATTEMPTS`] rounds, then `Unavailable`.
//!
//! The counter never moves without a claim: no gap, no duplicate, never an `ADD`. Within one process the claims
//! of a sequence also queue up in memory first, so that they do not mostly lose to each other.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{Get, TransactGetItem};
use osflow_app::{ClaimedNumber, InvoiceRecord, InvoiceStore, NumberingKey, StoreError, StoreResult, VoidRecord};
use osflow_domain::values::{OrderId, TenantId};

use crate::DynamoStore;
use crate::error::{build_error, sdk_error};
use crate::items::{self, Item, attr, entity, get_u64, key, n, s};
use crate::keys;
use crate::tx::{CondPut, NEW_ITEM, TxOutcome, backoff, cancelled_without_condition, failed_condition};

/// The attribute naming the order that holds a number.
const ORDER_ID: &str = "order_id";
/// The attribute of a voided number.
const VOIDED: &str = "voided";

/// Rounds of a claim before giving up with `Unavailable` (each lost round means another claim succeeded).
pub const CLAIM_ATTEMPTS: u32 = 60;

fn check_numbering(key: &NumberingKey) -> StoreResult<()> {
    if keys::valid_numbering(key) {
        Ok(())
    } else {
        Err(StoreError::Other("numbering CNPJ must be 14 ASCII letters or digits".into()))
    }
}

impl DynamoStore {
    /// The in-process queue of a numbering sequence.
    fn claim_queue(&self, sequence: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut queues = self.claim_queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.entry(sequence.to_owned()).or_default().clone()
    }

    /// The order's claim in the sequence (if any) and the counter's last number (0 when none), in one read.
    async fn read_claim_state(&self, order_key: &Item, counter_key: &Item) -> StoreResult<(Option<u64>, u64)> {
        let get = |k: &Item| -> StoreResult<TransactGetItem> {
            let get = Get::builder().table_name(self.table()).set_key(Some(k.clone())).build().map_err(build_error)?;
            Ok(TransactGetItem::builder().get(get).build())
        };
        let out = self
            .client
            .transact_get_items()
            .transact_items(get(order_key)?)
            .transact_items(get(counter_key)?)
            .send()
            .await
            .map_err(sdk_error)?;
        let responses = out.responses();
        let item = |i: usize| responses.get(i).and_then(|r| r.item()).filter(|item| !item.is_empty());
        let mine = item(0).map(|claim| get_u64(claim, attr::NUMBER)).transpose()?;
        let last = item(1).map(|counter| get_u64(counter, attr::LAST)).transpose()?.unwrap_or(0);
        Ok((mine, last))
    }

    /// Puts a record's item written over `expected_revision` (0: a new item): AlreadyExists when a new one is
    /// there already, Conflict naming the stored revision when another write came first.
    pub(crate) async fn put_revision(&self, item: Item, expected_revision: u64) -> StoreResult<()> {
        let mut put = self.client.put_item().table_name(self.table()).set_item(Some(item));
        put = if expected_revision == 0 {
            put.condition_expression(NEW_ITEM).expression_attribute_names("#pk", crate::table::PK)
        } else {
            put.condition_expression("#revision = :expected")
                .expression_attribute_names("#revision", attr::REVISION)
                .expression_attribute_values(":expected", n(expected_revision))
                .return_values_on_condition_check_failure(
                    aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
                )
        };
        let err = match put.send().await {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        match err.as_service_error() {
            Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(failed)) => {
                if expected_revision == 0 {
                    return Err(StoreError::AlreadyExists);
                }
                match failed.item() {
                    Some(old) => Err(StoreError::Conflict { current_version: get_u64(old, attr::REVISION)? }),
                    None => Err(StoreError::NotFound),
                }
            }
            _ => Err(sdk_error(err)),
        }
    }
}

#[async_trait]
impl InvoiceStore for DynamoStore {
    async fn claim_number(&self, tenant: &TenantId, key_: &NumberingKey, order: &OrderId) -> StoreResult<u64> {
        check_numbering(key_)?;
        let order_claim_key = key(keys::order_pk(tenant, order), keys::order_claim_sk(key_));
        let sequence = keys::nfe_counter_pk(tenant, key_);
        // Claims of this process for one sequence go one at a time (a herd of them would mostly lose to each
        // other); claims of other processes are kept apart by the conditions below.
        let queue = self.claim_queue(&sequence);
        let _turn = queue.lock().await;
        let counter_key = key(sequence.clone(), keys::COUNTER_SK);
        // The counter's value when a lost round told it (the stored item comes back with the cancellation);
        // `None`: read it (and the order's claim) first.
        let mut known_last: Option<u64> = None;
        for attempt in 0..CLAIM_ATTEMPTS {
            if attempt > 0 {
                backoff(attempt, Duration::from_millis(10), Duration::from_millis(500)).await;
            }
            let last = match known_last.take() {
                Some(last) => last,
                None => match self.read_claim_state(&order_claim_key, &counter_key).await? {
                    (Some(number), _) => return Ok(number),
                    (None, last) => last,
                },
            };
            let number = last + 1;

            let mut counter = counter_key.clone();
            counter.insert(attr::ENTITY.into(), s(entity::NFE_COUNTER));
            counter.insert(attr::LAST.into(), n(number));
            let counter = if last == 0 {
                CondPut::new_item(counter)
            } else {
                CondPut::when(counter, "#last = :previous").name("#last", attr::LAST).value(":previous", n(last))
            };
            let mut claim = key(sequence.clone(), keys::nfe_number_sk(number));
            claim.insert(attr::ENTITY.into(), s(entity::NFE_CLAIM));
            claim.insert(ORDER_ID.into(), s(order.to_string()));
            claim.insert(attr::NUMBER.into(), n(number));
            let mut mine = order_claim_key.clone();
            mine.insert(attr::ENTITY.into(), s(entity::NFE_ORDER_CLAIM));
            mine.insert(attr::NUMBER.into(), n(number));

            let mut puts = vec![counter.return_old(), CondPut::new_item(claim), CondPut::new_item(mine).return_old()];
            // An NF-e number stays open (a candidate gap) until its NF-e is settled or the number voided.
            if key_.document.is_nfe() {
                let mut open = key(sequence.clone(), keys::nfe_open_sk(number));
                open.insert(attr::ENTITY.into(), s(entity::NFE_OPEN));
                open.insert(ORDER_ID.into(), s(order.to_string()));
                open.insert(attr::NUMBER.into(), n(number));
                puts.push(CondPut::new_item(open));
            }
            let reasons = match self.transact(puts).await? {
                TxOutcome::Committed => return Ok(number),
                TxOutcome::Cancelled(reasons) => reasons,
            };
            let failed: Vec<bool> = reasons.iter().map(failed_condition).collect();
            match failed.as_slice() {
                // This order claimed a number meanwhile (a concurrent retry): that is the answer.
                [_, _, true, ..] => {
                    if let Some(claim) = reasons[2].item() {
                        return get_u64(claim, attr::NUMBER);
                    }
                }
                // The counter says n-1 but number n is taken: the sequence is damaged; retrying cannot help.
                [false, true, false, ..] | [false, false, false, true] => {
                    return Err(StoreError::Corrupt(format!(
                        "NF-e number {number} of {}/{} is claimed but the counter is at {last}",
                        key_.cnpj, key_.serie
                    )));
                }
                // Another claimer moved the counter: try the next number from the value it holds now.
                [true, _, false, ..] => {
                    known_last = reasons[0].item().map(|counter| get_u64(counter, attr::LAST)).transpose()?;
                }
                // Transaction conflicts that outlasted the retries of `transact`: another round.
                _ if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) => {}
                _ => return Err(cancelled_without_condition(&reasons)),
            }
        }
        Err(StoreError::Unavailable(format!(
            "NF-e numbering of {}/{}: no number claimed after {CLAIM_ATTEMPTS} contended rounds",
            key_.cnpj, key_.serie
        )))
    }

    async fn save_invoice(&self, record: &InvoiceRecord, expected_revision: u64) -> StoreResult<()> {
        check_numbering(&record.numbering)?;
        if record.revision != expected_revision + 1 {
            return Err(StoreError::Other(format!(
                "an invoice saved over revision {expected_revision} must have revision {}",
                expected_revision + 1
            )));
        }
        let item = items::invoice_item(record)?;
        self.put_revision(item, expected_revision).await
    }

    async fn invoices(&self, tenant: &TenantId, order: &OrderId) -> StoreResult<Vec<InvoiceRecord>> {
        let items = self.query_prefix(keys::order_pk(tenant, order), keys::INVOICE_PREFIX).await?;
        items.into_iter().map(items::read_invoice).collect()
    }

    async fn open_numbers(
        &self,
        tenant: &TenantId,
        key_: &NumberingKey,
        from: u64,
        limit: usize,
    ) -> StoreResult<Vec<ClaimedNumber>> {
        check_numbering(key_)?;
        let sequence = keys::nfe_counter_pk(tenant, key_);
        let range = (keys::nfe_open_sk(from), keys::nfe_open_sk(999_999_999));
        let items = self.query_between(sequence, Some(range), Some(limit)).await?;
        items.iter().map(|item| read_claim(item, true)).collect()
    }

    async fn claimed_numbers(
        &self,
        tenant: &TenantId,
        key_: &NumberingKey,
        first: u64,
        last: u64,
    ) -> StoreResult<Vec<ClaimedNumber>> {
        check_numbering(key_)?;
        if last < first {
            return Ok(Vec::new());
        }
        let sequence = keys::nfe_counter_pk(tenant, key_);
        let limit = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
        let range = (keys::nfe_number_sk(first), keys::nfe_number_sk(last));
        let numbers = self.query_between(sequence.clone(), Some(range), Some(limit)).await?;
        let range = (keys::nfe_open_sk(first), keys::nfe_open_sk(last));
        let open = self.query_between(sequence, Some(range), Some(limit)).await?;
        let open: Vec<u64> = open.iter().map(|item| get_u64(item, attr::NUMBER)).collect::<StoreResult<_>>()?;
        numbers
            .iter()
            .map(|item| {
                let number = get_u64(item, attr::NUMBER)?;
                read_claim(item, open.contains(&number))
            })
            .collect()
    }

    async fn settle_number(&self, tenant: &TenantId, key_: &NumberingKey, number: u64) -> StoreResult<()> {
        check_numbering(key_)?;
        let open = key(keys::nfe_counter_pk(tenant, key_), keys::nfe_open_sk(number));
        self.client.delete_item().table_name(self.table()).set_key(Some(open)).send().await.map_err(sdk_error)?;
        Ok(())
    }

    async fn void_number(&self, tenant: &TenantId, key_: &NumberingKey, number: u64) -> StoreResult<()> {
        check_numbering(key_)?;
        let sequence = keys::nfe_counter_pk(tenant, key_);
        // The number item first (it names the order): marked voided, conditional on existing.
        let out = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(sequence.clone(), keys::nfe_number_sk(number))))
            .update_expression("SET #voided = :yes")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#voided", VOIDED)
            .expression_attribute_names("#pk", crate::table::PK)
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        let item = match out {
            Ok(out) => out.attributes.unwrap_or_default(),
            Err(err) => {
                return Err(match err.as_service_error() {
                    Some(
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(_),
                    ) => StoreError::NotFound,
                    _ => sdk_error(err),
                });
            }
        };
        let claim = read_claim(&item, false)?;
        // The order releases the number (only if it is still the one it holds): its next claim is a new number.
        let released = self
            .client
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key(keys::order_pk(tenant, &claim.order_id), keys::order_claim_sk(key_))))
            .condition_expression("#number = :number")
            .expression_attribute_names("#number", attr::NUMBER)
            .expression_attribute_values(":number", n(number))
            .send()
            .await;
        if let Err(err) = released {
            match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::delete_item::DeleteItemError::ConditionalCheckFailedException(_)) => {
                }
                _ => return Err(sdk_error(err)),
            }
        }
        self.settle_number(tenant, key_, number).await
    }

    async fn save_void(&self, record: &VoidRecord, expected_revision: u64) -> StoreResult<()> {
        check_numbering(&record.numbering)?;
        if record.revision != expected_revision + 1 {
            return Err(StoreError::Other(format!(
                "an inutilização saved over revision {expected_revision} must have revision {}",
                expected_revision + 1
            )));
        }
        let body = serde_json::to_string(record).map_err(|e| StoreError::Other(format!("inutilização: {e}")))?;
        let mut item = key(keys::nfe_counter_pk(&record.tenant, &record.numbering), keys::nfe_void_sk(record.first));
        item.insert(attr::ENTITY.into(), s(entity::NFE_VOID));
        item.insert(attr::REVISION.into(), n(record.revision));
        item.insert(attr::BODY.into(), s(body));
        self.put_revision(item, expected_revision).await
    }

    async fn voids(&self, tenant: &TenantId, key_: &NumberingKey) -> StoreResult<Vec<VoidRecord>> {
        check_numbering(key_)?;
        let items = self.query_prefix(keys::nfe_counter_pk(tenant, key_), keys::VOID_PREFIX).await?;
        items
            .iter()
            .map(|item| match item.get(attr::BODY) {
                Some(AttributeValue::S(body)) => {
                    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("inutilização item: {e}")))
                }
                _ => Err(StoreError::Corrupt("inutilização item without its body".into())),
            })
            .collect()
    }
}

/// A number item or an open marker as a claim.
fn read_claim(item: &Item, open: bool) -> StoreResult<ClaimedNumber> {
    let number = get_u64(item, attr::NUMBER)?;
    let order_id = match item.get(ORDER_ID) {
        Some(AttributeValue::S(id)) => {
            OrderId::parse(id).map_err(|_| StoreError::Corrupt(format!("number {number}: order id {id:?}")))?
        }
        _ => return Err(StoreError::Corrupt(format!("number {number} names no order"))),
    };
    let voided = matches!(item.get(VOIDED), Some(AttributeValue::Bool(true)));
    Ok(ClaimedNumber { number, order_id, open, voided })
}
