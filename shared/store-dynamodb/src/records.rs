//! `RecordStore`: the company's customers and equipment, small items apart from the orders.
//!
//! | item | PK | SK | attributes |
//! |---|---|---|---|
//! | customer | `T#<tenant>#CUSTOMER#<id>` | `CUSTOMER` | `tenant`, `version`, `data` (the record as JSON) |
//! | document index | `T#<tenant>#CUSTDOC#<document>` | `CUSTDOC` | `customer_id` (gone once anonymized) |
//! | equipment | `T#<tenant>#EQUIP#<id>` | `EQUIP` | `tenant`, `version`, `data` |
//! | serial index | `T#<tenant>#SERIAL#<serial key>` | `SERIAL` | `equipment_id` |
//! | customer's equipment | `T#<tenant>#CUSTOMER#<id>` | `EQUIP#<equipment id>` | `data` (a copy, rewritten with the record) |
//! | history link | `T#<tenant>#CUSTOMER#<id>` or `T#<tenant>#EQUIP#<id>` | `OS#<order id>` | — |
//!
//! A read by document or serial is two `GetItem`s (the index, then the record), strongly consistent: no index
//! that could lag, no Scan. A write is one `TransactWriteItems`: the record conditional on its version (or on not
//! existing), the index item conditional on not existing when the document (serial) is new to the record, the old
//! index item deleted when it changed. A history is one `Query` of the `OS#` items, newest first (order ids are
//! UUIDv7: their text order is their creation order).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use osflow_app::{RecordStore, StoreError, StoreResult};
use osflow_domain::records::serial_key;
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{CustomerId, CustomerRecord, EquipmentId, EquipmentRecord, Event};

use crate::DynamoStore;
use crate::error::{build_error, corrupt, sdk_error};
use crate::items::{Item, attr, event_item, get_u64, key, n, s};

use crate::table::{PK, SK};
use crate::tx::{CondPut, TxOutcome, cancelled_without_condition, failed_condition};

const DATA: &str = "data";
const CUSTOMER_SK: &str = "CUSTOMER";
const CUSTDOC_SK: &str = "CUSTDOC";
const EQUIP_SK: &str = "EQUIP";
const SERIAL_SK: &str = "SERIAL";
const EQUIP_PREFIX: &str = "EQUIP#";
const ORDER_LINK_PREFIX: &str = "OS#";
const RECORD_ID: &str = "record_id";

/// A customer's partition (`id`: a `CustomerId`, or its text as an index item holds it).
fn customer_pk(tenant: &TenantId, id: impl std::fmt::Display) -> String {
    format!("T#{tenant}#CUSTOMER#{id}")
}

fn custdoc_pk(tenant: &TenantId, document: &Document) -> String {
    format!("T#{tenant}#CUSTDOC#{}", document.as_str())
}

/// An equipment's partition (`id`: an `EquipmentId`, or its text as an index item holds it).
fn equipment_pk(tenant: &TenantId, id: impl std::fmt::Display) -> String {
    format!("T#{tenant}#EQUIP#{id}")
}

fn serial_pk(tenant: &TenantId, serial: &str) -> String {
    format!("T#{tenant}#SERIAL#{}", serial_key(serial))
}

fn data_of<T: serde::de::DeserializeOwned>(item: &Item, what: &str) -> StoreResult<T> {
    match item.get(DATA) {
        Some(AttributeValue::S(json)) => serde_json::from_str(json).map_err(|e| corrupt(what, e)),
        _ => Err(StoreError::Corrupt(format!("{what}: attribute {DATA} is missing"))),
    }
}

fn record_item<T: serde::Serialize>(
    pk: String,
    sk: &str,
    entity: &str,
    tenant: &TenantId,
    version: u64,
    value: &T,
) -> StoreResult<Item> {
    let mut item = key(pk, sk);
    item.insert(attr::ENTITY.to_owned(), s(entity));
    item.insert(attr::TENANT.to_owned(), s(tenant.as_str()));
    item.insert(attr::VERSION.to_owned(), n(version));
    let json = serde_json::to_string(value).map_err(|e| StoreError::Other(format!("cannot serialize: {e}")))?;
    item.insert(DATA.to_owned(), s(json));
    Ok(item)
}

fn index_item(pk: String, sk: &str, entity: &str, record: String) -> Item {
    let mut item = key(pk, sk);
    item.insert(attr::ENTITY.to_owned(), s(entity));
    item.insert(RECORD_ID.to_owned(), s(record));
    item
}

/// The write of one record: its Put, the index moves, any extra Puts (unconditional).
struct RecordWrite {
    record: CondPut,
    new_index: Option<Item>,
    old_index: Option<Item>,
    extra: Vec<Item>,
}

impl DynamoStore {
    /// The record an index item points to.
    async fn by_index(
        &self,
        index_pk: String,
        index_sk: &str,
        record_pk: impl Fn(&str) -> String,
        record_sk: &str,
    ) -> StoreResult<Option<Item>> {
        let Some(index) = self.get_item(index_pk, index_sk).await? else { return Ok(None) };
        let Some(AttributeValue::S(id)) = index.get(RECORD_ID) else {
            return Err(StoreError::Corrupt("index item without record_id".into()));
        };
        self.get_item(record_pk(id), record_sk).await
    }

    /// One transaction for a record's write ([`DynamoStore::transact_items`]: a cancellation by transaction
    /// conflicts or throttling alone is sent again). A failed condition on the record is `Conflict` (with the
    /// stored version) or `AlreadyExists` (a create); on the new index item, `AlreadyExists`.
    async fn write_record(&self, w: RecordWrite, creating: bool) -> StoreResult<()> {
        let mut items = vec![TransactWriteItem::builder().put(w.record.return_old().into_put(self.table())?).build()];
        let index_at = w.new_index.as_ref().map(|_| items.len());
        if let Some(index) = w.new_index {
            items.push(TransactWriteItem::builder().put(CondPut::new_item(index).into_put(self.table())?).build());
        }
        if let Some(old) = w.old_index {
            let delete =
                Delete::builder().table_name(self.table()).set_key(Some(key_of(&old))).build().map_err(build_error)?;
            items.push(TransactWriteItem::builder().delete(delete).build());
        }
        for extra in w.extra {
            let put = aws_sdk_dynamodb::types::Put::builder()
                .table_name(self.table())
                .set_item(Some(extra))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let reasons = match self.transact_items(items).await? {
            TxOutcome::Committed => return Ok(()),
            TxOutcome::Cancelled(reasons) => reasons,
        };
        if let Some(on_record) = reasons.first().filter(|r| failed_condition(r)) {
            if creating {
                return Err(StoreError::AlreadyExists);
            }
            return match on_record.item().filter(|i| !i.is_empty()) {
                Some(old) => Err(StoreError::Conflict { current_version: get_u64(old, attr::VERSION)? }),
                None => Err(StoreError::NotFound),
            };
        }
        if index_at.and_then(|i| reasons.get(i)).is_some_and(failed_condition) {
            return Err(StoreError::AlreadyExists);
        }
        Err(cancelled_without_condition(&reasons))
    }

    async fn order_links(&self, pk: String, limit: u32) -> StoreResult<Vec<OrderId>> {
        let out = self
            .prefix_query(pk, ORDER_LINK_PREFIX)
            .scan_index_forward(false)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items
            .unwrap_or_default()
            .iter()
            .map(|i| match i.get(SK) {
                Some(AttributeValue::S(sk)) => {
                    OrderId::parse(sk.trim_start_matches(ORDER_LINK_PREFIX)).map_err(|e| corrupt("order link", e))
                }
                _ => Err(StoreError::Corrupt("order link without SK".into())),
            })
            .collect()
    }
}

fn key_of(item: &Item) -> Item {
    item.iter().filter(|(k, _)| *k == PK || *k == SK).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn versioned(item: Item, expected: Option<u64>) -> CondPut {
    match expected {
        None => CondPut::new_item(item),
        Some(v) => CondPut::when(item, "attribute_exists(#pk) AND #version = :expected")
            .name("#version", attr::VERSION)
            .value(":expected", n(v)),
    }
}

#[async_trait]
impl RecordStore for DynamoStore {
    async fn customer(&self, tenant: &TenantId, id: &CustomerId) -> StoreResult<Option<CustomerRecord>> {
        self.get_item(customer_pk(tenant, id), CUSTOMER_SK).await?.map(|i| data_of(&i, "customer")).transpose()
    }

    async fn customer_by_document(
        &self,
        tenant: &TenantId,
        document: &Document,
    ) -> StoreResult<Option<CustomerRecord>> {
        let found =
            self.by_index(custdoc_pk(tenant, document), CUSTDOC_SK, |id| customer_pk(tenant, id), CUSTOMER_SK).await?;
        let record: Option<CustomerRecord> = found.map(|i| data_of(&i, "customer")).transpose()?;
        // An index item left by an interrupted move never finds another document's customer.
        Ok(record.filter(|r| !r.is_anonymized() && r.customer.document == *document))
    }

    async fn put_customer(&self, record: &CustomerRecord, expected: Option<u64>) -> StoreResult<()> {
        let tenant = &record.tenant;
        let old = match expected {
            None => None,
            Some(_) => {
                let stored = self.customer(tenant, &record.id).await?.ok_or(StoreError::NotFound)?;
                Some(stored)
            }
        };
        let keeps = |c: &CustomerRecord| !c.is_anonymized();
        let new_doc = keeps(record).then_some(record.customer.document);
        let old_doc = old.as_ref().filter(|o| keeps(o)).map(|o| o.customer.document);
        let index =
            |d: &Document| index_item(custdoc_pk(tenant, d), CUSTDOC_SK, "customer_index", record.id.to_string());
        let item =
            record_item(customer_pk(tenant, record.id), CUSTOMER_SK, "customer", tenant, record.version, record)?;
        let write = RecordWrite {
            record: versioned(item, expected),
            new_index: new_doc.filter(|d| Some(*d) != old_doc).map(|d| index(&d)),
            old_index: old_doc.filter(|d| Some(*d) != new_doc).map(|d| index(&d)),
            extra: vec![],
        };
        self.write_record(write, expected.is_none()).await
    }

    async fn equipment(&self, tenant: &TenantId, id: &EquipmentId) -> StoreResult<Option<EquipmentRecord>> {
        self.get_item(equipment_pk(tenant, id), EQUIP_SK).await?.map(|i| data_of(&i, "equipment")).transpose()
    }

    async fn equipment_by_serial(&self, tenant: &TenantId, serial: &str) -> StoreResult<Option<EquipmentRecord>> {
        let found =
            self.by_index(serial_pk(tenant, serial), SERIAL_SK, |id| equipment_pk(tenant, id), EQUIP_SK).await?;
        let record: Option<EquipmentRecord> = found.map(|i| data_of(&i, "equipment")).transpose()?;
        Ok(record.filter(|r| serial_key(r.serial()) == serial_key(serial)))
    }

    async fn put_equipment(&self, record: &EquipmentRecord, expected: Option<u64>) -> StoreResult<()> {
        let tenant = &record.tenant;
        let old = match expected {
            None => None,
            Some(_) => Some(self.equipment(tenant, &record.id).await?.ok_or(StoreError::NotFound)?),
        };
        let new_serial = serial_key(record.serial());
        let old_serial = old.as_ref().map(|o| serial_key(o.serial()));
        let index =
            |serial: &str| index_item(serial_pk(tenant, serial), SERIAL_SK, "equipment_index", record.id.to_string());
        let item = record_item(equipment_pk(tenant, record.id), EQUIP_SK, "equipment", tenant, record.version, record)?;
        let copy = record_item(
            customer_pk(tenant, record.customer),
            &format!("{EQUIP_PREFIX}{}", record.id),
            "customer_equipment",
            tenant,
            record.version,
            record,
        )?;
        let write = RecordWrite {
            record: versioned(item, expected),
            new_index: (Some(&new_serial) != old_serial.as_ref()).then(|| index(&new_serial)),
            old_index: old_serial.filter(|o| *o != new_serial).map(|o| index(&o)),
            extra: vec![copy],
        };
        self.write_record(write, expected.is_none()).await
    }

    async fn equipment_of_customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
    ) -> StoreResult<Vec<EquipmentRecord>> {
        let found = self.query_prefix(customer_pk(tenant, customer), EQUIP_PREFIX).await?;
        let mut all: Vec<EquipmentRecord> =
            found.iter().map(|i| data_of(i, "equipment")).collect::<StoreResult<_>>()?;
        all.sort_by(|a, b| a.created_at.cmp(&b.created_at).then_with(|| a.id.cmp(&b.id)));
        Ok(all)
    }

    async fn link_order(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        customer: Option<&CustomerId>,
        equipment: Option<&EquipmentId>,
    ) -> StoreResult<()> {
        let pks =
            customer.map(|c| customer_pk(tenant, c)).into_iter().chain(equipment.map(|e| equipment_pk(tenant, e)));
        for pk in pks {
            let mut item = key(pk, format!("{ORDER_LINK_PREFIX}{order}"));
            item.insert(attr::ENTITY.to_owned(), s("order_link"));
            self.put_item(item).await?;
        }
        Ok(())
    }

    async fn orders_of_customer(
        &self,
        tenant: &TenantId,
        customer: &CustomerId,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>> {
        self.order_links(customer_pk(tenant, customer), limit).await
    }

    async fn orders_of_equipment(
        &self,
        tenant: &TenantId,
        equipment: &EquipmentId,
        limit: u32,
    ) -> StoreResult<Vec<OrderId>> {
        self.order_links(equipment_pk(tenant, equipment), limit).await
    }

    async fn rewrite_events(
        &self,
        tenant: &TenantId,
        order: &OrderId,
        rewrite: &(dyn for<'e> Fn(&'e Event) -> Event + Sync),
    ) -> StoreResult<()> {
        let events = osflow_app::OrderStore::timeline(self, tenant, order).await?;
        for e in &events {
            let new = rewrite(e);
            if new.version != e.version || new.change.type_name() != e.change.type_name() {
                return Err(StoreError::Other("a rewrite keeps each event's version and type".into()));
            }
            if new == *e {
                continue;
            }
            let item = event_item(tenant, order, &new)?;
            self.client
                .put_item()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#pk", PK)
                .send()
                .await
                .map_err(sdk_error)?;
        }
        Ok(())
    }
}
