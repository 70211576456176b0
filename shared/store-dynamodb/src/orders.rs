//! `OrderStore`: orders and their events.

use async_trait::async_trait;
use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ReturnValue};
use chrono::{DateTime, Utc};
use osflow_app::{IdempotencyRecord, OrderStore, Page, PageRequest, StoreError, StoreResult, check_step};
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{Event, Order, StatusKey};

use crate::DynamoStore;
use crate::cursor::{self, CursorShape};
use crate::error::{build_error, sdk_error};
use crate::idempotency::idempotency_put;
use crate::items::{self, Item, attr, entity, get_u64, key, n, s};
use crate::keys;
use crate::table::{GSI1, GSI1PK, GSI1SK, GSI2, GSI2PK, GSI2SK, GSI3, GSI3PK, GSI3SK, PK, SK};
use crate::tx::{CondPut, TxOutcome, backoff, cancelled_without_condition, failed_condition};

/// The most items one `TransactWriteItems` may hold (DynamoDB's limit).
const MAX_TRANSACTION_ITEMS: usize = 100;
/// The most keys one `BatchGetItem` may ask for (DynamoDB's limit).
const MAX_BATCH_GET: usize = 100;
/// Attempts of a `BatchGetItem` whose keys DynamoDB left unprocessed (throttling, the 16 MB answer limit).
const BATCH_ATTEMPTS: u32 = 5;

const STATUS_LIST: CursorShape = CursorShape { names: [PK, SK, GSI1PK, GSI1SK], partition: GSI1PK };
const CUSTOMER_LIST: CursorShape = CursorShape { names: [PK, SK, GSI2PK, GSI2SK], partition: GSI2PK };
const SLA_LIST: CursorShape = CursorShape { names: [PK, SK, GSI3PK, GSI3SK], partition: GSI3PK };

/// The checks every store makes before a step ([`check_step`]), and that the step fits one transaction: the
/// order, its events, the idempotency record and, when an event forgets it, the unlock code's deletion.
fn check_versions(from: u64, order: &Order, events: &[Event], idem: Option<&IdempotencyRecord>) -> StoreResult<()> {
    check_step(from, order, events, idem)?;
    let unlock = usize::from(forgets_unlock_code(events));
    if events.len() + 2 + unlock > MAX_TRANSACTION_ITEMS {
        return Err(StoreError::Other(format!("a step of {} events does not fit one transaction", events.len())));
    }
    Ok(())
}

/// Whether a step's events forget the order's unlock code (its item is deleted in the step's transaction).
fn forgets_unlock_code(events: &[Event]) -> bool {
    events.iter().any(|e| e.change.forgets_unlock_code())
}

impl DynamoStore {
    /// One page of an index list: one Query of `size + 1` items, so that `next` is `None` on the last page;
    /// `below`: only the index sort keys before it.
    async fn index_page(
        &self,
        shape: CursorShape,
        index: &str,
        partition: String,
        below: Option<String>,
        forward: bool,
        page: &PageRequest,
    ) -> StoreResult<Page<Item>> {
        let size = page.size() as usize;
        let start = page.cursor.as_deref().map(|c| cursor::decode(shape, c, &partition)).transpose()?;
        let query = self
            .client
            .query()
            .table_name(self.table())
            .index_name(index)
            .expression_attribute_names("#ipk", shape.partition)
            .expression_attribute_values(":ipk", s(partition.as_str()));
        let query = match below {
            None => query.key_condition_expression("#ipk = :ipk"),
            Some(bound) => query
                .key_condition_expression("#ipk = :ipk AND #isk < :bound")
                .expression_attribute_names("#isk", shape.names[3])
                .expression_attribute_values(":bound", s(bound)),
        };
        let out = query
            .scan_index_forward(forward)
            .limit(size as i32 + 1)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let mut raw: Vec<Item> = out.items.unwrap_or_default();
        let next = if raw.len() > size {
            raw.truncate(size);
            Some(cursor::encode(shape, &raw[size - 1])?)
        } else if let Some(last) = out.last_evaluated_key.filter(|_| !raw.is_empty()) {
            // The Query stopped at its 1 MB limit before `size + 1` items: go on from where it stopped.
            Some(cursor::encode(shape, &last)?)
        } else {
            None
        };
        Ok(Page { items: raw, next })
    }

    /// One page of orders of an index: its keys, then the orders ([`DynamoStore::orders_of`]).
    async fn list_page(
        &self,
        shape: CursorShape,
        index: &str,
        partition: String,
        forward: bool,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>> {
        let found = self.index_page(shape, index, partition.clone(), None, forward, page).await?;
        let items = self.orders_of(&found.items, shape.partition, &partition).await?;
        Ok(Page { items, next: found.next })
    }

    /// The orders an index page points at, in the page's order: one `BatchGetItem` (strongly consistent) of
    /// their items, as the indexes project only keys. An order that left the list since the index was read
    /// (its index partition changed: another status) is left out, as the index will soon do.
    async fn orders_of(&self, listed: &[Item], index_pk: &str, partition: &str) -> StoreResult<Vec<Order>> {
        let keys: Vec<Item> = listed
            .iter()
            .map(|i| [PK, SK].into_iter().filter_map(|k| Some((k.to_owned(), i.get(k)?.clone()))).collect())
            .collect();
        let mut found: Vec<Item> = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(MAX_BATCH_GET) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            for attempt in 0.. {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table(), pending)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                found.extend(out.responses.unwrap_or_default().remove(self.table()).unwrap_or_default());
                match out.unprocessed_keys.unwrap_or_default().remove(self.table()) {
                    Some(rest) if !rest.keys().is_empty() => {
                        if attempt + 1 >= BATCH_ATTEMPTS {
                            return Err(StoreError::Unavailable("the orders of a list page stayed unprocessed".into()));
                        }
                        backoff(attempt + 1, Duration::from_millis(20), Duration::from_millis(400)).await;
                        pending = rest;
                    }
                    _ => break,
                }
            }
        }
        let text = |i: &Item, name: &str| match i.get(name) {
            Some(AttributeValue::S(v)) => v.clone(),
            _ => String::new(),
        };
        let key_of = |i: &Item| (text(i, PK), text(i, SK));
        let mut by_key: HashMap<_, Item> = found.into_iter().map(|i| (key_of(&i), i)).collect();
        let mut orders = Vec::with_capacity(listed.len());
        for listed in listed {
            let Some(item) = by_key.remove(&key_of(listed)) else { continue };
            if item.get(index_pk) != Some(&s(partition)) {
                continue;
            }
            orders.push(items::read_order(item)?);
        }
        Ok(orders)
    }
}

impl DynamoStore {
    /// [`OrderStore::create`], with the order's unlock code item (already sealed) in the same transaction when
    /// given.
    pub(crate) async fn create_order(
        &self,
        order: &Order,
        opened: &Event,
        idem: Option<&IdempotencyRecord>,
        unlock_code: Option<Item>,
    ) -> StoreResult<()> {
        check_versions(0, order, std::slice::from_ref(opened), idem)?;
        let mut puts = vec![
            CondPut::new_item(items::order_item(order)?),
            CondPut::new_item(items::event_item(&order.tenant, &order.id, opened)?),
        ];
        if let Some(code) = unlock_code {
            puts.push(CondPut::new_item(code));
        }
        if let Some(record) = idem {
            puts.push(idempotency_put(record)?);
        }
        match self.transact(puts).await? {
            TxOutcome::Committed => Ok(()),
            TxOutcome::Cancelled(reasons) if reasons.iter().any(failed_condition) => Err(StoreError::AlreadyExists),
            TxOutcome::Cancelled(reasons) => Err(cancelled_without_condition(&reasons)),
        }
    }
}

#[async_trait]
impl OrderStore for DynamoStore {
    async fn next_order_number(&self, tenant: &TenantId) -> StoreResult<u64> {
        let out = self
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(keys::order_counter_pk(tenant), keys::COUNTER_SK)))
            .update_expression("ADD #last :one SET #entity = :entity")
            .expression_attribute_names("#last", attr::LAST)
            .expression_attribute_names("#entity", attr::ENTITY)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":entity", s(entity::ORDER_COUNTER))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(sdk_error)?;
        get_u64(&out.attributes.unwrap_or_default(), attr::LAST)
    }

    async fn create(&self, order: &Order, opened: &Event, idem: Option<&IdempotencyRecord>) -> StoreResult<()> {
        self.create_order(order, opened, idem, None).await
    }

    async fn get(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Option<Order>> {
        self.get_item(keys::order_pk(tenant, id), keys::ORDER_SK).await?.map(items::read_order).transpose()
    }

    async fn apply(
        &self,
        expected_version: u64,
        order: &Order,
        events: &[Event],
        idem: Option<&IdempotencyRecord>,
    ) -> StoreResult<()> {
        check_versions(expected_version, order, events, idem)?;
        let mut puts = vec![
            CondPut::when(items::order_item(order)?, "#version = :expected")
                .name("#version", attr::VERSION)
                .value(":expected", n(expected_version))
                .return_old(),
        ];
        for event in events {
            puts.push(CondPut::new_item(items::event_item(&order.tenant, &order.id, event)?));
        }
        let mut tx_items = self.put_items(puts)?;
        // The order's unlock code goes with the event that forgets it, in the same transaction (before the
        // idempotency record, which stays the last item).
        if forgets_unlock_code(events) {
            tx_items.push(crate::unlock::delete_item(self.table(), &order.tenant, &order.id)?);
        }
        if let Some(record) = idem {
            tx_items.extend(self.put_items(vec![idempotency_put(record)?])?);
        }
        let reasons = match self.transact_items(tx_items).await? {
            TxOutcome::Committed => return Ok(()),
            TxOutcome::Cancelled(reasons) => reasons,
        };
        if let Some(on_order) = reasons.first().filter(|r| failed_condition(r)) {
            // The old item comes back with the cancellation reason: no second read.
            return match on_order.item() {
                Some(stored) => Err(StoreError::Conflict { current_version: get_u64(stored, attr::VERSION)? }),
                None => Err(StoreError::NotFound),
            };
        }
        if idem.is_some() && reasons.last().is_some_and(failed_condition) {
            return Err(StoreError::AlreadyExists);
        }
        if reasons.iter().any(failed_condition) {
            return Err(StoreError::Corrupt(format!(
                "order {} is at version {expected_version} but an event after it exists",
                order.id
            )));
        }
        Err(cancelled_without_condition(&reasons))
    }

    async fn list_by_status(
        &self,
        tenant: &TenantId,
        status: &StatusKey,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>> {
        self.list_page(STATUS_LIST, GSI1, keys::status_pk(tenant, status), true, page).await
    }

    async fn list_by_customer(
        &self,
        tenant: &TenantId,
        document: &Document,
        page: &PageRequest,
    ) -> StoreResult<Page<Order>> {
        self.list_page(CUSTOMER_LIST, GSI2, keys::customer_pk(tenant, document), false, page).await
    }

    async fn sla_due(&self, tenant: &TenantId, until: DateTime<Utc>, page: &PageRequest) -> StoreResult<Page<OrderId>> {
        // The sparse, keys-only SLA index: only the orders due by `until` are read.
        let found =
            self.index_page(SLA_LIST, GSI3, keys::sla_pk(tenant), Some(keys::sla_bound(&until)), true, page).await?;
        let ids = found
            .items
            .iter()
            .map(|item| match item.get(GSI3SK) {
                Some(AttributeValue::S(sk)) => sk
                    .split_once('#')
                    .and_then(|(_, id)| OrderId::parse(id).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("SLA index key {sk} names no order"))),
                _ => Err(StoreError::Corrupt("SLA index item without its sort key".into())),
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Page { items: ids, next: found.next })
    }

    async fn timeline(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Vec<Event>> {
        let items = self.query_prefix(keys::order_pk(tenant, id), keys::EVENT_PREFIX).await?;
        items.into_iter().map(items::read_event).collect()
    }
}

impl DynamoStore {
    /// The item (`pk`, `sk`), strongly consistent (`None` when there is none).
    pub(crate) async fn get_item(&self, pk: String, sk: impl Into<String>) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item.filter(|i| !i.is_empty()))
    }

    /// Writes `item`, replacing whatever has its key (no condition).
    pub(crate) async fn put_item(&self, item: Item) -> StoreResult<()> {
        self.client.put_item().table_name(self.table()).set_item(Some(item)).send().await.map_err(sdk_error)?;
        Ok(())
    }

    /// The items of partition `pk` (strongly consistent, ascending, as many Query pages as needed), those whose
    /// sort key is within `range` (inclusive) when one is given, at most `limit` when one is given (then read in
    /// pages no bigger than what is left, up to 1000: an open-gap list or a range never reads more).
    pub(crate) async fn query_between(
        &self,
        pk: String,
        range: Option<(String, String)>,
        limit: Option<usize>,
    ) -> StoreResult<Vec<Item>> {
        let query = self
            .client
            .query()
            .table_name(self.table())
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(pk.as_str()));
        let query = match &range {
            Some((low, high)) => query
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                .expression_attribute_names("#sk", SK)
                .expression_attribute_values(":low", s(low.as_str()))
                .expression_attribute_values(":high", s(high.as_str())),
            None => query.key_condition_expression("#pk = :pk"),
        };
        self.query_pages(query, limit).await
    }

    /// Every item of partition `pk` whose sort key starts with `prefix`, ascending, strongly consistent (as many
    /// Query pages as needed).
    pub(crate) async fn query_prefix(&self, pk: String, prefix: &str) -> StoreResult<Vec<Item>> {
        self.query_pages(self.prefix_query(pk, prefix), None).await
    }

    /// A Query of the items of partition `pk` whose sort key starts with `prefix`.
    pub(crate) fn prefix_query(&self, pk: String, prefix: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(self.table())
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":prefix", s(prefix))
    }

    /// The items `query` finds, strongly consistent, in as many Query pages as needed: at most `limit` when one is
    /// given (then read in pages no bigger than what is left, up to 1000).
    async fn query_pages(&self, query: QueryFluentBuilder, limit: Option<usize>) -> StoreResult<Vec<Item>> {
        let mut all = Vec::new();
        let mut start: Option<Item> = None;
        while limit.is_none_or(|limit| all.len() < limit) {
            let page = limit.map(|limit| i32::try_from(limit - all.len()).unwrap_or(i32::MAX).min(1000));
            let out = query
                .clone()
                .set_limit(page)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            all.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(last) if !last.is_empty() => start = Some(last),
                _ => break,
            }
        }
        if let Some(limit) = limit {
            all.truncate(limit);
        }
        Ok(all)
    }
}
