//! What DynamoDB bills for the writes the store sends, computed from the items themselves.
//!
//! The emulator (moto) answers `ReturnConsumedCapacity` with nothing for `TransactWriteItems` and a flat 1.0 for
//! `PutItem` whatever the item's size and indexes, so the write units are computed here from DynamoDB's
//! published billing rules, on the exact requests the SDK sends (an interceptor reads each operation's input):
//! - an item's size is the sum, over its attributes, of the name's bytes and the value's (strings: UTF-8 bytes;
//!   numbers: one byte per two significant digits, plus one; binaries: their bytes; booleans and null: one byte;
//!   lists and maps: 3 bytes, plus one byte and the size of each element, map keys included);
//! - a write costs one unit per started KB of the larger of the old and the new item (at least one); a write in a
//!   `TransactWriteItems` costs twice that;
//! - each global secondary index the write touches costs standard writes of the projected item (keys of the
//!   table and of the index, plus the projected attributes): a new entry one write, a removed entry one write,
//!   a changed index key a removal and a new entry, a changed projected attribute one update; an item without
//!   the index's keys is not in the (sparse) index.
//!
//! - a Delete costs the units of the item it removes (one when there is none) and the removal of its index
//!   entries; an Update costs the units of the item it changes (the meter does not evaluate update expressions:
//!   it bills the old image, at least one unit, and keeps it; the store's updates are counters and markers, whose
//!   size barely changes); a transaction's ConditionCheck is billed as an Update; in a `TransactWriteItems`
//!   each costs twice that, as a Put does.
//!
//! The old image of an item is the last one written through the same [`Meter`] (the tests write every item
//! through it), so a Put that replaces an item is billed on the larger of the two, as DynamoDB does.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use osflow_store_dynamodb::TableDefinition;
use osflow_testkit::emulator::RequestCounter;

type Item = HashMap<String, AttributeValue>;

/// The billed size of one attribute value (without its name).
fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => {
            let digits = n.trim_start_matches('-').replace('.', "");
            let significant = digits.trim_start_matches('0').trim_end_matches('0').len().max(1);
            significant.div_ceil(2) + 1
        }
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>(),
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| value_size(&AttributeValue::N(n.clone()))).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// The billed size of an item: every attribute's name and value.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(name, value)| name.len() + value_size(value)).sum()
}

/// Write units of writing an item of `bytes` (at least one per write).
fn units(bytes: usize) -> u32 {
    bytes.div_ceil(1024).max(1) as u32
}

/// One write as billed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// The item's `entity` attribute (`order`, `event`, `idempotency`…), or its sort key.
    pub entity: String,
    /// The new item's size in bytes.
    pub bytes: usize,
    /// Units of the table write (transactions: twice).
    pub table_units: u32,
    /// Units of the index writes, per index name.
    pub index_units: BTreeMap<String, u32>,
}

impl Write {
    pub fn units(&self) -> u32 {
        self.table_units + self.index_units.values().sum::<u32>()
    }
}

/// What a sequence of requests cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cost {
    /// Requests per operation name (`GetItem`, `TransactWriteItems`…).
    pub requests: BTreeMap<String, u32>,
    pub writes: Vec<Write>,
}

impl Cost {
    /// Write units in all.
    pub fn units(&self) -> u32 {
        self.writes.iter().map(Write::units).sum()
    }
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} WCU; requests {:?}; writes:", self.units(), self.requests)?;
        for w in &self.writes {
            write!(f, " [{} {} B: table {}", w.entity, w.bytes, w.table_units)?;
            for (index, u) in &w.index_units {
                write!(f, ", {index} {u}")?;
            }
            write!(f, "]")?;
        }
        Ok(())
    }
}

#[derive(Debug, Default)]
struct State {
    writes: Vec<Write>,
    /// The last image written of each item, by (PK, SK).
    images: HashMap<(String, String), Item>,
}

/// An SDK interceptor that counts the requests and bills the writes of a DynamoDB client.
#[derive(Debug, Clone)]
pub struct Meter {
    table: Arc<TableDefinition>,
    state: Arc<Mutex<State>>,
    requests: RequestCounter,
}

impl Meter {
    pub fn new(table: TableDefinition) -> Meter {
        Meter { table: Arc::new(table), state: Arc::default(), requests: RequestCounter::default() }
    }

    /// The cost since the last call, and starts again from zero (the item images are kept).
    pub fn take(&self) -> Cost {
        let writes = std::mem::take(&mut self.state.lock().unwrap().writes);
        Cost { requests: self.requests.take(), writes }
    }

    fn key_of(&self, item: &Item) -> (String, String) {
        let text = |name: &str| match item.get(name) {
            Some(AttributeValue::S(s)) => s.clone(),
            _ => String::new(),
        };
        (text(self.table.partition_key.name), text(self.table.sort_key.name))
    }

    /// Bills a Put of `item` (replacing the last image of its key, if any).
    fn put(&self, state: &mut State, item: &Item, transactional: bool) {
        let key = self.key_of(item);
        let old = state.images.get(&key);
        let bytes = item_size(item);
        let table_units = units(bytes.max(old.map_or(0, item_size))) * if transactional { 2 } else { 1 };
        let index_units = self.all_index_units(old, Some(item));
        let entity = entity_of(item, &key);
        state.writes.push(Write { entity, bytes, table_units, index_units });
        state.images.insert(key, item.clone());
    }

    /// Bills a Delete of the item at `key` (its last image, if any, and that image's index entries).
    fn delete(&self, state: &mut State, key: &Item, transactional: bool) {
        let key = self.key_of(key);
        let old = state.images.remove(&key);
        let bytes = old.as_ref().map_or(0, item_size);
        let table_units = units(bytes) * if transactional { 2 } else { 1 };
        let index_units = self.all_index_units(old.as_ref(), None);
        let entity = format!("{} deleted", old.as_ref().map_or_else(|| key.1.clone(), |o| entity_of(o, &key)));
        state.writes.push(Write { entity, bytes, table_units, index_units });
    }

    /// Bills an Update (or a transaction's ConditionCheck) of the item at `key` on its last image (see the
    /// module's documentation).
    fn update(&self, state: &mut State, key: &Item, transactional: bool) {
        let key = self.key_of(key);
        let old = state.images.get(&key);
        let bytes = old.map_or(0, item_size);
        let table_units = units(bytes) * if transactional { 2 } else { 1 };
        let entity = format!("{} updated", old.map_or_else(|| key.1.clone(), |o| entity_of(o, &key)));
        state.writes.push(Write { entity, bytes, table_units, index_units: BTreeMap::new() });
    }

    /// The index units of replacing `old` by `new` (`None`: no item), per index that changes.
    fn all_index_units(&self, old: Option<&Item>, new: Option<&Item>) -> BTreeMap<String, u32> {
        let mut index_units = BTreeMap::new();
        for index in &self.table.global_secondary_indexes {
            let u = self.index_units(index, old, new);
            if u > 0 {
                index_units.insert(index.name.to_owned(), u);
            }
        }
        index_units
    }

    /// The projection of `item` in `index`, or `None` when the item is not in the (sparse) index.
    fn projection(&self, index: &osflow_store_dynamodb::table::IndexDefinition, item: &Item) -> Option<Item> {
        let keys =
            [self.table.partition_key.name, self.table.sort_key.name, index.partition_key.name, index.sort_key.name];
        if !keys[2..].iter().all(|k| item.contains_key(*k)) {
            return None;
        }
        let projected: Vec<&str> = match index.projection {
            "ALL" => return Some(item.clone()),
            "KEYS_ONLY" => vec![],
            _ => index.non_key_attributes.to_vec(),
        };
        Some(
            item.iter()
                .filter(|(name, _)| keys.contains(&name.as_str()) || projected.contains(&name.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    fn index_units(
        &self,
        index: &osflow_store_dynamodb::table::IndexDefinition,
        old: Option<&Item>,
        new: Option<&Item>,
    ) -> u32 {
        let before = old.and_then(|o| self.projection(index, o));
        let after = new.and_then(|n| self.projection(index, n));
        let index_key = |p: &Item| (p.get(index.partition_key.name).cloned(), p.get(index.sort_key.name).cloned());
        match (before, after) {
            (None, None) => 0,
            (None, Some(a)) => units(item_size(&a)),
            (Some(b), None) => units(item_size(&b)),
            (Some(b), Some(a)) if index_key(&b) != index_key(&a) => units(item_size(&b)) + units(item_size(&a)),
            (Some(b), Some(a)) if b != a => units(item_size(&b).max(item_size(&a))),
            (Some(_), Some(_)) => 0,
        }
    }
}

/// The item's `entity` attribute, or its sort key.
fn entity_of(item: &Item, key: &(String, String)) -> String {
    match item.get("entity") {
        Some(AttributeValue::S(e)) => e.clone(),
        _ => key.1.clone(),
    }
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "Meter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let mut state = self.state.lock().unwrap();
        let input = context.input();
        if let Some(tx) = input.downcast_ref::<TransactWriteItemsInput>() {
            for item in tx.transact_items() {
                if let Some(put) = item.put() {
                    self.put(&mut state, put.item(), true);
                } else if let Some(delete) = item.delete() {
                    self.delete(&mut state, delete.key(), true);
                } else if let Some(update) = item.update() {
                    self.update(&mut state, update.key(), true);
                } else if let Some(check) = item.condition_check() {
                    self.update(&mut state, check.key(), true);
                }
            }
        } else if let Some(item) = input.downcast_ref::<PutItemInput>().and_then(PutItemInput::item) {
            self.put(&mut state, item, false);
        } else if let Some(key) = input.downcast_ref::<DeleteItemInput>().and_then(DeleteItemInput::key) {
            self.delete(&mut state, key, false);
        } else if let Some(key) = input.downcast_ref::<UpdateItemInput>().and_then(UpdateItemInput::key) {
            self.update(&mut state, key, false);
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.requests.count(cfg);
        Ok(())
    }
}
