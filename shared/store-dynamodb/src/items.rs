//! Items: the domain values as DynamoDB items, and back. Decimals (Money, Quantity) are strings, as the domain
//! serializes them; timestamps are RFC 3339 strings (exact to the nanosecond) and, in sort keys, the fixed-width
//! form of [`keys::sortable_time`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use osflow_app::{
    CompanySettings, DedupeKey, DedupeOutcome, EmitterConfig, IdempotencyRecord, InvoiceRecord, NotificationSettings,
    StoreError,
};
use osflow_domain::values::{OrderId, TenantId};
use osflow_domain::{Event, Flow, Order};
use serde::{Deserialize, Serialize};

use crate::error::corrupt;
use crate::packed;
use crate::table::{GSI1PK, GSI1SK, GSI2PK, GSI2SK, GSI3PK, GSI3SK, PK, SK, TTL_ATTRIBUTE};
use crate::{dictionary, keys};

/// An item as the SDK holds it.
pub type Item = HashMap<String, AttributeValue>;

/// Names of the attributes the adapter reads or writes besides the serialized values.
pub mod attr {
    /// The kind of item: `order`, `event`, `flow`, `flow_current`, `invoice`, `nfe_counter`, `nfe_claim`,
    /// `nfe_order_claim`, `order_counter`, `idempotency`, `dedupe`, `notification_settings`, `emitter`,
    /// `emitter_certificate`.
    pub const ENTITY: &str = "entity";
    /// The version of an order (and of an event, and of a flow).
    pub const VERSION: &str = "version";
    /// The revision of an invoice record.
    pub const REVISION: &str = "revision";
    /// The last number given by a counter.
    pub const LAST: &str = "last";
    /// The number held by an NF-e claim.
    pub const NUMBER: &str = "number";
    /// The expiry of an idempotency record in microseconds since the epoch (a number, for exact conditions).
    pub const EXPIRES_AT_US: &str = "expires_at_us";
    /// When a dedupe record was claimed, in nanoseconds since the epoch (a number, for the lease condition).
    pub const CLAIMED_AT_NS: &str = "claimed_at_ns";
    /// The expiry of a dedupe record in nanoseconds since the epoch (reads treat an expired record as absent:
    /// TTL deletion is lazy).
    pub const EXPIRES_AT_NS: &str = "expires_at_ns";
    /// The outcome of a completed dedupe record (a map); absent while the record is only claimed.
    pub const OUTCOME: &str = "outcome";
    /// The tenant an item belongs to (in items whose key alone would have to be parsed to tell it).
    pub const TENANT: &str = "tenant";
    /// The ARN of the Secrets Manager secret holding a company's A1 certificate.
    pub const SECRET_ARN: &str = "secret_arn";
    /// The Secrets Manager version id of the secret value a certificate revision was written as.
    pub const SECRET_VERSION: &str = "secret_version";
    /// When an item was last written (RFC 3339).
    pub const UPDATED_AT: &str = "updated_at";
    /// A packed value (binary: deflated JSON, see `packed`): the order of an order item, the saved response
    /// of an idempotency record, in items written before [`BODY_D1`].
    pub const BODY: &str = "body";
    /// The same, deflated against the first preset dictionary of its item kind (`crate::dictionary`): what the
    /// order and idempotency items are written with.
    pub const BODY_D1: &str = "b1";
    /// The instant an idempotency record was made, in nanoseconds since the epoch.
    pub const CREATED_AT_NS: &str = "created_ns";
    /// The instant an idempotency record expires, in nanoseconds since the epoch (exact; `expires_at_us` is the
    /// one its conditions compare).
    pub const EXPIRES_NS: &str = "expires_ns";
    /// The request hash of an idempotency record.
    pub const REQUEST_HASH: &str = "request_hash";
    /// The HTTP status of a saved response.
    pub const STATUS: &str = "status";
}

/// Entity names (values of [`attr::ENTITY`]).
pub mod entity {
    pub const ORDER: &str = "order";
    pub const EVENT: &str = "event";
    pub const FLOW: &str = "flow";
    pub const FLOW_CURRENT: &str = "flow_current";
    pub const INVOICE: &str = "invoice";
    pub const NFE_COUNTER: &str = "nfe_counter";
    pub const NFE_CLAIM: &str = "nfe_claim";
    pub const NFE_ORDER_CLAIM: &str = "nfe_order_claim";
    pub const NFE_OPEN: &str = "nfe_open";
    pub const NFE_VOID: &str = "nfe_void";
    pub const ORDER_COUNTER: &str = "order_counter";
    pub const IDEMPOTENCY: &str = "idempotency";
    pub const DEDUPE: &str = "dedupe";
    pub const NOTIFICATION_SETTINGS: &str = "notification_settings";
    pub const COMPANY_SETTINGS: &str = "company_settings";
    pub const EMITTER: &str = "emitter";
    pub const EMITTER_CERTIFICATE: &str = "emitter_certificate";
    pub const EMITTER_CONTINGENCY: &str = "emitter_contingency";
}

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// The primary key of an item.
pub(crate) fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn to_item<T: Serialize>(what: &str, value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Other(format!("cannot write {what} as an item: {e}")))
}

/// A number attribute as `i64`.
pub(crate) fn get_i64(item: &Item, name: &str) -> Result<i64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().map_err(|e| corrupt(name, e)),
        Some(_) => Err(StoreError::Corrupt(format!("attribute {name} is not a number"))),
        None => Err(StoreError::Corrupt(format!("attribute {name} is missing"))),
    }
}

/// An instant as nanoseconds since the epoch (the form of the numeric time attributes compared in conditions).
pub(crate) fn epoch_nanos(at: DateTime<Utc>) -> Result<i64, StoreError> {
    at.timestamp_nanos_opt().ok_or_else(|| StoreError::Other(format!("instant {at} is out of range")))
}

/// The TTL attribute's value for an expiry: epoch seconds, rounded up so that DynamoDB never deletes a live item.
pub(crate) fn ttl_seconds(expires_at: DateTime<Utc>) -> i64 {
    expires_at.timestamp() + i64::from(expires_at.timestamp_subsec_nanos() > 0)
}

/// A number attribute as `u64`.
pub(crate) fn get_u64(item: &Item, name: &str) -> Result<u64, StoreError> {
    match item.get(name) {
        Some(AttributeValue::N(text)) => text.parse().map_err(|e| corrupt(name, e)),
        Some(_) => Err(StoreError::Corrupt(format!("attribute {name} is not a number"))),
        None => Err(StoreError::Corrupt(format!("attribute {name} is missing"))),
    }
}

fn insert_keys(item: &mut Item, pk: String, sk: impl Into<String>, entity: &str) {
    item.insert(PK.to_owned(), s(pk));
    item.insert(SK.to_owned(), s(sk));
    item.insert(attr::ENTITY.to_owned(), s(entity));
}

// --- orders ---------------------------------------------------------------------------------------------------

/// The order item: its keys, `version` (what every step's write is conditional on), the GSI1 (status), GSI2
/// (customer) and, while an SLA deadline is pending, GSI3 keys, and `b1`, the order's JSON packed against the
/// order dictionary ([`crate::packed::pack_with`]). Items written before (`body`, packed without a dictionary;
/// before that, the order's fields as attributes) still read.
pub(crate) fn order_item(order: &Order) -> Result<Item, StoreError> {
    let mut item = Item::new();
    insert_keys(&mut item, keys::order_pk(&order.tenant, &order.id), keys::ORDER_SK, entity::ORDER);
    item.insert(attr::VERSION.to_owned(), n(order.version));
    // The key already names the company and the order, and `version` is an attribute: not packed again.
    let mut body = serde_json::to_value(order).map_err(|e| StoreError::Other(format!("cannot write order: {e}")))?;
    if let serde_json::Value::Object(fields) = &mut body {
        for name in KEPT_OUT_OF_BODY {
            fields.remove(name);
        }
    }
    item.insert(attr::BODY_D1.to_owned(), packed::pack_with("order", dictionary::ORDER, &body)?);
    item.insert(GSI1PK.to_owned(), s(keys::status_pk(&order.tenant, &order.status)));
    item.insert(GSI1SK.to_owned(), s(keys::status_sk(&order.updated_at, &order.id)));
    item.insert(GSI2PK.to_owned(), s(keys::customer_pk(&order.tenant, &order.customer.document)));
    item.insert(GSI2SK.to_owned(), s(keys::customer_sk(&order.created_at, &order.id)));
    // In the SLA index only while a deadline is pending (the Put replaces the whole item: none, no entry).
    if let Some(due) = &order.sla_due {
        item.insert(GSI3PK.to_owned(), s(keys::sla_pk(&order.tenant)));
        item.insert(GSI3SK.to_owned(), s(keys::sla_sk(due, &order.id)));
    }
    Ok(item)
}

/// The order's fields the body leaves out (the key and `version` hold them).
const KEPT_OUT_OF_BODY: [&str; 3] = ["tenant", "id", "version"];

pub(crate) fn read_order(item: Item) -> Result<Order, StoreError> {
    let mut body: serde_json::Value = match (item.get(attr::BODY_D1), item.get(attr::BODY)) {
        (Some(packed_body), _) => packed::unpack_with("order item", dictionary::ORDER, packed_body)?,
        (None, Some(packed_body)) => packed::unpack("order item", packed_body)?,
        (None, None) => return serde_dynamo::from_item(item).map_err(|e| corrupt("order item", e)),
    };
    let serde_json::Value::Object(fields) = &mut body else {
        return Err(StoreError::Corrupt("order item: the body is not an object".into()));
    };
    let (tenant, id) = match item.get(PK) {
        Some(AttributeValue::S(pk)) => keys::parse_order_pk(pk)
            .ok_or_else(|| StoreError::Corrupt(format!("order item: {pk} is not an order's key")))?,
        _ => return Err(StoreError::Corrupt("order item: no key".into())),
    };
    fields.insert("tenant".into(), serde_json::Value::String(tenant));
    fields.insert("id".into(), serde_json::Value::String(id));
    fields.insert("version".into(), serde_json::Value::from(get_u64(&item, attr::VERSION)?));
    serde_json::from_value(body).map_err(|e| corrupt("order item", e))
}

// --- events ---------------------------------------------------------------------------------------------------

/// The event item. Self-contained, so that a stream NEW_IMAGE of it is a whole bus message: `event_id`, `type`,
/// `tenant`, `order_id`, `occurred_at`, `version` and the event itself in `data`.
#[derive(Debug, Serialize, Deserialize)]
struct EventItem<E> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    event_id: String,
    #[serde(rename = "type")]
    event_type: String,
    tenant: TenantId,
    order_id: OrderId,
    occurred_at: DateTime<Utc>,
    version: u64,
    data: E,
}

pub(crate) fn event_item(tenant: &TenantId, order: &OrderId, event: &Event) -> Result<Item, StoreError> {
    to_item(
        "event",
        &EventItem {
            pk: keys::order_pk(tenant, order),
            sk: keys::event_sk(event.version),
            entity: entity::EVENT.to_owned(),
            event_id: keys::event_id(order, event.version),
            event_type: event.change.type_name().to_owned(),
            tenant: tenant.clone(),
            order_id: *order,
            occurred_at: event.at,
            version: event.version,
            data: event,
        },
    )
}

pub(crate) fn read_event(item: Item) -> Result<Event, StoreError> {
    let stored: EventItem<Event> = serde_dynamo::from_item(item).map_err(|e| corrupt("event item", e))?;
    Ok(stored.data)
}

/// An event as the outbox relay reads it from a DynamoDB Streams NEW_IMAGE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// `<order>:<version>`.
    pub event_id: String,
    /// `order.opened`, `order.quote_sent`…
    pub event_type: String,
    pub tenant: TenantId,
    pub order_id: OrderId,
    pub occurred_at: DateTime<Utc>,
    pub event: Event,
}

/// Decodes a stream image (`NEW_IMAGE`, as `aws_lambda_events` gives it, or an SDK item): `Some` for an event
/// item, `None` for every other kind of item (orders, invoices, counters… also change the table).
pub fn decode_event_image(image: impl Into<serde_dynamo::Item>) -> Result<Option<StoredEvent>, StoreError> {
    let image: serde_dynamo::Item = image.into();
    match image.get(attr::ENTITY) {
        Some(serde_dynamo::AttributeValue::S(kind)) if kind == entity::EVENT => {}
        _ => return Ok(None),
    }
    let stored: EventItem<Event> = serde_dynamo::from_item(image).map_err(|e| corrupt("event image", e))?;
    Ok(Some(StoredEvent {
        event_id: stored.event_id,
        event_type: stored.event_type,
        tenant: stored.tenant,
        order_id: stored.order_id,
        occurred_at: stored.occurred_at,
        event: stored.data,
    }))
}

// --- flows ----------------------------------------------------------------------------------------------------

/// A flow version (`V#<n>`) or the current pointer (`CURRENT`, which carries a copy of the current version so
/// that reading the current flow is one GetItem).
#[derive(Debug, Serialize, Deserialize)]
struct FlowItem<F> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    tenant: TenantId,
    version: u32,
    flow: F,
}

pub(crate) fn flow_version_item(tenant: &TenantId, flow: &Flow) -> Result<Item, StoreError> {
    to_item(
        "flow",
        &FlowItem {
            pk: keys::flow_pk(tenant),
            sk: keys::flow_version_sk(flow.version),
            entity: entity::FLOW.to_owned(),
            tenant: tenant.clone(),
            version: flow.version,
            flow,
        },
    )
}

pub(crate) fn flow_current_item(tenant: &TenantId, flow: &Flow) -> Result<Item, StoreError> {
    to_item(
        "flow",
        &FlowItem {
            pk: keys::flow_pk(tenant),
            sk: keys::FLOW_CURRENT_SK.to_owned(),
            entity: entity::FLOW_CURRENT.to_owned(),
            tenant: tenant.clone(),
            version: flow.version,
            flow,
        },
    )
}

pub(crate) fn read_flow(item: Item) -> Result<Flow, StoreError> {
    let stored: FlowItem<Flow> = serde_dynamo::from_item(item).map_err(|e| corrupt("flow item", e))?;
    Ok(stored.flow)
}

// --- invoices -------------------------------------------------------------------------------------------------

/// The invoice record under its order: the record's fields plus the keys.
pub(crate) fn invoice_item(record: &InvoiceRecord) -> Result<Item, StoreError> {
    let mut item = to_item("invoice", record)?;
    insert_keys(
        &mut item,
        keys::order_pk(&record.tenant, &record.order_id),
        keys::invoice_sk(&record.numbering, record.number),
        entity::INVOICE,
    );
    Ok(item)
}

pub(crate) fn read_invoice(item: Item) -> Result<InvoiceRecord, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| corrupt("invoice item", e))
}

// --- idempotency ---------------------------------------------------------------------------------------------

/// The idempotency record: the keys (which name the company and the key), `request_hash`, `status`, the instants
/// as numbers (`created_ns`, `expires_ns`; `expires_at_us` for the "expired, so free again" condition), the TTL
/// attribute (epoch seconds, rounded up so that DynamoDB never deletes a live record) and `b1`, the saved response
/// packed against the response dictionary. Records written before (the fields as attributes, the response in
/// `body`, packed or as text) still read.
pub(crate) fn idempotency_item(record: &IdempotencyRecord) -> Result<Item, StoreError> {
    let mut item = Item::new();
    insert_keys(&mut item, keys::idem_pk(&record.tenant, &record.key), keys::IDEM_SK, entity::IDEMPOTENCY);
    item.insert(attr::REQUEST_HASH.to_owned(), s(&record.request_hash));
    item.insert(attr::STATUS.to_owned(), n(record.status));
    item.insert(attr::CREATED_AT_NS.to_owned(), n(epoch_nanos(record.created_at)?));
    item.insert(attr::EXPIRES_NS.to_owned(), n(epoch_nanos(record.expires_at)?));
    item.insert(attr::BODY_D1.to_owned(), packed::pack_bytes_with(dictionary::RESPONSE, record.body.as_bytes())?);
    item.insert(attr::EXPIRES_AT_US.to_owned(), n(record.expires_at.timestamp_micros()));
    item.insert(TTL_ATTRIBUTE.to_owned(), n(ttl_seconds(record.expires_at)));
    Ok(item)
}

pub(crate) fn read_idempotency(mut item: Item) -> Result<IdempotencyRecord, StoreError> {
    let Some(packed_body) = item.remove(attr::BODY_D1) else { return read_idempotency_before_d1(item) };
    let what = "idempotency record";
    let body = String::from_utf8(packed::unpack_bytes_with(what, dictionary::RESPONSE, &packed_body)?)
        .map_err(|e| corrupt(what, e))?;
    let (tenant, key) = match item.get(PK) {
        Some(AttributeValue::S(pk)) => keys::parse_idem_pk(pk)
            .ok_or_else(|| StoreError::Corrupt(format!("{what}: {pk} is not an idempotency record's key")))?,
        _ => return Err(StoreError::Corrupt(format!("{what}: no key"))),
    };
    let instant = |name: &str| get_i64(&item, name).map(DateTime::from_timestamp_nanos);
    Ok(IdempotencyRecord {
        tenant: TenantId::parse(tenant).map_err(|e| corrupt(what, e))?,
        key: key.to_owned(),
        request_hash: match item.get(attr::REQUEST_HASH) {
            Some(AttributeValue::S(hash)) => hash.clone(),
            _ => return Err(StoreError::Corrupt(format!("{what}: attribute request_hash is missing"))),
        },
        status: u16::try_from(get_u64(&item, attr::STATUS)?).map_err(|e| corrupt(what, e))?,
        body,
        created_at: instant(attr::CREATED_AT_NS)?,
        expires_at: instant(attr::EXPIRES_NS)?,
    })
}

/// A record written before `b1`: its fields as attributes, the saved response in `body` (packed, or text).
fn read_idempotency_before_d1(mut item: Item) -> Result<IdempotencyRecord, StoreError> {
    let body = match item.remove(attr::BODY) {
        Some(AttributeValue::S(text)) => text,
        Some(packed) => String::from_utf8(packed::unpack_bytes("idempotency record", &packed)?)
            .map_err(|e| corrupt("idempotency record", e))?,
        None => return Err(StoreError::Corrupt("idempotency record: attribute body is missing".into())),
    };
    let head: IdempotencyHead = serde_dynamo::from_item(item).map_err(|e| corrupt("idempotency item", e))?;
    Ok(IdempotencyRecord {
        tenant: head.tenant,
        key: head.key,
        request_hash: head.request_hash,
        status: head.status,
        body,
        created_at: head.created_at,
        expires_at: head.expires_at,
    })
}

/// The fields of an idempotency record written before `b1`, but the saved response.
#[derive(Debug, Serialize, Deserialize)]
struct IdempotencyHead {
    tenant: TenantId,
    key: String,
    request_hash: String,
    status: u16,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

// --- dedupe records -------------------------------------------------------------------------------------------

/// The attributes naming a dedupe record (keys, entity, and the parts of its key in clear).
pub(crate) fn dedupe_identity(key: &DedupeKey) -> Item {
    let mut item = Item::new();
    insert_keys(&mut item, keys::dedupe_pk(key), keys::DEDUPE_SK, entity::DEDUPE);
    item.insert("tenant".to_owned(), s(key.tenant.as_str()));
    item.insert("consumer".to_owned(), s(&key.consumer));
    item.insert("event_id".to_owned(), s(&key.event_id));
    item.insert("channel".to_owned(), s(&key.channel));
    item
}

/// A fresh claim: the identity, `claimed_at_ns`, `expires_at_ns` and the TTL attribute; no outcome.
pub(crate) fn dedupe_claim_item(
    key: &DedupeKey,
    claimed_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<Item, StoreError> {
    let mut item = dedupe_identity(key);
    item.insert(attr::CLAIMED_AT_NS.to_owned(), n(epoch_nanos(claimed_at)?));
    item.insert(attr::EXPIRES_AT_NS.to_owned(), n(epoch_nanos(expires_at)?));
    item.insert(TTL_ATTRIBUTE.to_owned(), n(ttl_seconds(expires_at)));
    Ok(item)
}

/// The outcome as a map attribute.
pub(crate) fn dedupe_outcome_value(outcome: &DedupeOutcome) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(outcome)
        .map_err(|e| StoreError::Other(format!("cannot write a dedupe outcome as an attribute: {e}")))
}

/// A stored dedupe record as the claim logic needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DedupeRecord {
    pub claimed_at_ns: i64,
    pub expires_at_ns: i64,
    pub outcome: Option<DedupeOutcome>,
}

pub(crate) fn read_dedupe(item: &Item) -> Result<DedupeRecord, StoreError> {
    let outcome = item
        .get(attr::OUTCOME)
        .map(|value| serde_dynamo::from_attribute_value(value.clone()).map_err(|e| corrupt("dedupe outcome", e)))
        .transpose()?;
    Ok(DedupeRecord {
        claimed_at_ns: get_i64(item, attr::CLAIMED_AT_NS)?,
        expires_at_ns: get_i64(item, attr::EXPIRES_AT_NS)?,
        outcome,
    })
}

// --- settings -------------------------------------------------------------------------------------------------

/// A company's notification settings: the keys, the tenant, and the settings as one map attribute.
#[derive(Debug, Serialize, Deserialize)]
struct SettingsItem<S> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    tenant: TenantId,
    settings: S,
}

pub(crate) fn notification_settings_item(
    tenant: &TenantId,
    settings: &NotificationSettings,
) -> Result<Item, StoreError> {
    to_item(
        "notification settings",
        &SettingsItem {
            pk: keys::settings_pk(tenant),
            sk: keys::NOTIFICATIONS_SK.to_owned(),
            entity: entity::NOTIFICATION_SETTINGS.to_owned(),
            tenant: tenant.clone(),
            settings,
        },
    )
}

pub(crate) fn read_notification_settings(item: Item) -> Result<NotificationSettings, StoreError> {
    let stored: SettingsItem<NotificationSettings> =
        serde_dynamo::from_item(item).map_err(|e| corrupt("notification settings item", e))?;
    Ok(stored.settings)
}

pub(crate) fn company_settings_item(tenant: &TenantId, settings: &CompanySettings) -> Result<Item, StoreError> {
    to_item(
        "company settings",
        &SettingsItem {
            pk: keys::settings_pk(tenant),
            sk: keys::COMPANY_SK.to_owned(),
            entity: entity::COMPANY_SETTINGS.to_owned(),
            tenant: tenant.clone(),
            settings,
        },
    )
}

pub(crate) fn read_company_settings(item: Item) -> Result<CompanySettings, StoreError> {
    let stored: SettingsItem<CompanySettings> =
        serde_dynamo::from_item(item).map_err(|e| corrupt("company settings item", e))?;
    Ok(stored.settings)
}

// --- emitter --------------------------------------------------------------------------------------------------

/// A company's NF-e emitter configuration: the keys, the tenant, and the configuration as one map attribute. The
/// certificate is never part of it (its pointer is another item, its bytes are in Secrets Manager).
#[derive(Debug, Serialize, Deserialize)]
struct EmitterItem<C> {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    tenant: TenantId,
    config: C,
}

pub(crate) fn emitter_item(tenant: &TenantId, config: &EmitterConfig) -> Result<Item, StoreError> {
    to_item(
        "emitter configuration",
        &EmitterItem {
            pk: keys::emitter_pk(tenant),
            sk: keys::EMITTER_CONFIG_SK.to_owned(),
            entity: entity::EMITTER.to_owned(),
            tenant: tenant.clone(),
            config,
        },
    )
}

/// A company's contingency state: its fields as attributes (`revision` among them) under
/// `T#<tenant>#EMITTER` / `CONTINGENCY`.
pub(crate) fn contingency_item(tenant: &TenantId, state: &osflow_app::ContingencyState) -> Result<Item, StoreError> {
    let mut item = to_item("contingency state", state)?;
    insert_keys(&mut item, keys::emitter_pk(tenant), keys::EMITTER_CONTINGENCY_SK, entity::EMITTER_CONTINGENCY);
    Ok(item)
}

pub(crate) fn read_contingency(item: Item) -> Result<osflow_app::ContingencyState, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| corrupt("contingency state item", e))
}

pub(crate) fn read_emitter(item: Item) -> Result<EmitterConfig, StoreError> {
    let stored: EmitterItem<EmitterConfig> =
        serde_dynamo::from_item(item).map_err(|e| corrupt("emitter configuration item", e))?;
    Ok(stored.config)
}

/// The pointer to a company's A1 certificate: its revision and where the bytes are (a Secrets Manager secret
/// and the version written for this revision). Nothing of the certificate itself.
#[cfg_attr(not(feature = "secrets"), allow(dead_code))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CertificatePointer {
    pub revision: u64,
    pub secret_arn: String,
    pub secret_version: String,
}

#[cfg_attr(not(feature = "secrets"), allow(dead_code))]
pub(crate) fn certificate_pointer_item(
    tenant: &TenantId,
    pointer: &CertificatePointer,
    updated_at: DateTime<Utc>,
) -> Item {
    let mut item = Item::new();
    insert_keys(&mut item, keys::emitter_pk(tenant), keys::EMITTER_CERT_SK, entity::EMITTER_CERTIFICATE);
    item.insert(attr::TENANT.to_owned(), s(tenant.as_str()));
    item.insert(attr::REVISION.to_owned(), n(pointer.revision));
    item.insert(attr::SECRET_ARN.to_owned(), s(pointer.secret_arn.clone()));
    item.insert(attr::SECRET_VERSION.to_owned(), s(pointer.secret_version.clone()));
    item.insert(attr::UPDATED_AT.to_owned(), s(updated_at.to_rfc3339()));
    item
}

#[cfg_attr(not(feature = "secrets"), allow(dead_code))]
pub(crate) fn read_certificate_pointer(item: &Item) -> Result<CertificatePointer, StoreError> {
    let text = |name: &str| match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        _ => Err(StoreError::Corrupt(format!("certificate pointer: attribute {name} is missing or not a string"))),
    };
    Ok(CertificatePointer {
        revision: get_u64(item, attr::REVISION)?,
        secret_arn: text(attr::SECRET_ARN)?,
        secret_version: text(attr::SECRET_VERSION)?,
    })
}

#[cfg(test)]
mod tests {
    use osflow_domain::Command;
    use osflow_testkit::conformance::{advance, at, cpf, idem_record, open_order, tenant};

    use super::*;

    #[test]
    fn an_order_reads_back_as_written() {
        let (order, _) = open_order(&tenant("acme"), 1, cpf(1), at(0));
        assert_eq!(read_order(order_item(&order).unwrap()).unwrap(), order);
    }

    #[test]
    fn a_stream_image_of_an_event_item_is_a_whole_message() {
        let t = tenant("acme");
        let (order, opened) = open_order(&t, 1, cpf(1), at(0));
        let (events, _) = advance(&order, Command::SendQuote, at(1));
        // A Lambda gets the NEW_IMAGE as DynamoDB JSON, read into serde_dynamo's item type (aws_lambda_events).
        let item = event_item(&t, &order.id, &events[0]).unwrap();
        let json = serde_json::to_string(&serde_dynamo::Item::from(item)).unwrap();
        let image: serde_dynamo::Item = serde_json::from_str(&json).unwrap();
        let stored = decode_event_image(image).unwrap().expect("an event");
        assert_eq!(stored.event_id, format!("{}:2", order.id));
        assert_eq!(stored.event_type, "order.quote_sent");
        assert_eq!((stored.tenant, stored.order_id, stored.occurred_at), (t.clone(), order.id, at(1)));
        assert_eq!(stored.event, events[0]);
        // The images of other items are not messages.
        assert_eq!(decode_event_image(order_item(&order).unwrap()).unwrap(), None);
        assert_eq!(decode_event_image(idempotency_item(&idem_record(&t, "k", at(0))).unwrap()).unwrap(), None);
        assert_eq!(read_event(event_item(&t, &order.id, &opened).unwrap()).unwrap(), opened);
    }

    #[test]
    fn items_written_before_the_packed_body_still_read() {
        let t = tenant("acme");
        let (order, _) = open_order(&t, 1, cpf(1), at(0));
        // The order's fields as attributes.
        let mut old = to_item("order", &order).unwrap();
        insert_keys(&mut old, keys::order_pk(&t, &order.id), keys::ORDER_SK, entity::ORDER);
        assert_eq!(read_order(old).unwrap(), order);
        // `body`: packed without a dictionary.
        let mut old = order_item(&order).unwrap();
        let body = packed::unpack_bytes_with("order", dictionary::ORDER, &old.remove(attr::BODY_D1).unwrap()).unwrap();
        old.insert(attr::BODY.to_owned(), packed::pack_bytes(&body).unwrap());
        assert_eq!(read_order(old).unwrap(), order);

        let record = IdempotencyRecord {
            created_at: at(0) + chrono::Duration::nanoseconds(123_456_789),
            ..idem_record(&t, "k#1", at(0))
        };
        // The fields as attributes, the response as text; then packed without a dictionary.
        let mut old = to_item("idempotency record", &record).unwrap();
        insert_keys(&mut old, keys::idem_pk(&t, "k#1"), keys::IDEM_SK, entity::IDEMPOTENCY);
        assert!(matches!(old.get(attr::BODY), Some(AttributeValue::S(_))));
        assert_eq!(read_idempotency(old.clone()).unwrap(), record);
        old.insert(attr::BODY.to_owned(), packed::pack_bytes(record.body.as_bytes()).unwrap());
        assert_eq!(read_idempotency(old).unwrap(), record);
        // Now: exact to the nanosecond, the company and the key from the item's key.
        let item = idempotency_item(&record).unwrap();
        assert!(!item.contains_key("tenant") && !item.contains_key("key") && !item.contains_key(attr::BODY));
        assert_eq!(read_idempotency(item).unwrap(), record);
    }

    #[test]
    fn a_damaged_event_image_is_corrupt() {
        let mut image = serde_dynamo::Item::from(HashMap::<String, AttributeValue>::new());
        image.insert(attr::ENTITY.into(), serde_dynamo::AttributeValue::S(entity::EVENT.into()));
        assert!(matches!(decode_event_image(image), Err(StoreError::Corrupt(_))));
    }
}
