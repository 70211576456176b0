//! The message envelope: what travels on every queue, as JSON in the SQS body.

use chrono::{DateTime, Utc};
use osflow_domain::Event;
use osflow_domain::values::{OrderId, TenantId};
use serde::{Deserialize, Serialize};

/// The version of the envelope schema this crate writes and reads.
pub const SCHEMA_VERSION: u32 = 1;

/// Version 1 of the message schema. Serialized as JSON in the SQS body.
///
/// Readers check `schema` first: a body of another version is refused ([`EnvelopeError::UnsupportedSchema`]),
/// so that a consumer older than its producer fails the message (it reaches the DLQ and can be redriven after
/// the consumer is upgraded) instead of misreading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// `<order_id>:<version>`: unique per event, the key every consumer deduplicates on.
    pub event_id: String,
    /// `Change::type_name()`, e.g. `order.quote_sent`.
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant: TenantId,
    pub order_id: OrderId,
    /// The order's version after the event.
    pub version: u64,
    pub occurred_at: DateTime<Utc>,
    /// The whole event.
    pub data: Event,
}

/// Why a body is not an envelope this crate can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the message body is not an envelope: {0}")]
    Malformed(String),
    #[error("envelope schema {found} is not supported (this consumer reads schema {SCHEMA_VERSION})")]
    UnsupportedSchema { found: u32 },
}

/// Only the schema number, read before the rest so that a newer schema is reported as such.
#[derive(Deserialize)]
struct SchemaOnly {
    schema: u32,
}

/// `<order_id>:<version>`: the id of an event on the bus.
pub fn event_id(order_id: &OrderId, version: u64) -> String {
    format!("{order_id}:{version}")
}

impl Envelope {
    /// The envelope of one event of one order.
    pub fn from_event(tenant: &TenantId, order_id: &OrderId, event: &Event) -> Envelope {
        Envelope {
            schema: SCHEMA_VERSION,
            event_id: event_id(order_id, event.version),
            kind: event.change.type_name().to_owned(),
            tenant: tenant.clone(),
            order_id: *order_id,
            version: event.version,
            occurred_at: event.at,
            data: event.clone(),
        }
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        // An envelope is plain data (strings, numbers, maps with string keys): serializing cannot fail.
        serde_json::to_string(self).expect("an envelope serializes to JSON")
    }

    /// Reads a JSON body, checking the schema version.
    pub fn from_json(body: &str) -> Result<Envelope, EnvelopeError> {
        let schema: SchemaOnly = serde_json::from_str(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if schema.schema != SCHEMA_VERSION {
            return Err(EnvelopeError::UnsupportedSchema { found: schema.schema });
        }
        let envelope: Envelope = serde_json::from_str(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if envelope.event_id != event_id(&envelope.order_id, envelope.version)
            || envelope.version != envelope.data.version
        {
            return Err(EnvelopeError::Malformed(format!(
                "event_id {} does not match order {} version {} (event version {})",
                envelope.event_id, envelope.order_id, envelope.version, envelope.data.version
            )));
        }
        Ok(envelope)
    }
}
