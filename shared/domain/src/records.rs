//! The company's records: its customers (one per CPF/CNPJ) and their equipment (one per serial number, or the
//! shop's internal tag when it has none), which the orders link to; the LGPD anonymization of a customer.
//!
//! A record is created on the first order for its document (or serial), or directly; an edit is a new version of
//! the record, and the company's open orders of that customer (or equipment) take the new data through an event
//! on each (`order.customer_edited`, `order.equipment_edited`); closed orders and issued invoices keep theirs.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::{Uuid, Variant, Version};

use crate::event::{Change, Event};
use crate::machine::{DomainError, opt_text, text};
use crate::order::{Address, Customer, Equipment, Order};
use crate::values::{Document, TenantId, ValueError, ValueKind};

macro_rules! record_id {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID generated elsewhere, checking that it is a version-7 UUID.
            pub fn from_uuid(uuid: Uuid) -> Result<Self, ValueError> {
                if uuid.get_version() != Some(Version::SortRand) || uuid.get_variant() != Variant::RFC4122 {
                    return Err(ValueError::new(ValueKind::OrderId, concat!($what, " id must be a version 7 UUID")));
                }
                Ok(Self(uuid))
            }

            /// Parses a UUIDv7.
            pub fn parse(input: &str) -> Result<Self, ValueError> {
                let uuid = Uuid::try_parse(input.trim())
                    .map_err(|_| ValueError::new(ValueKind::OrderId, concat!($what, " id is not a valid UUID")))?;
                Self::from_uuid(uuid)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValueError;

            fn try_from(s: String) -> Result<Self, ValueError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.to_string()
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValueError;

            fn from_str(s: &str) -> Result<Self, ValueError> {
                Self::parse(s)
            }
        }
    };
}

record_id!(
    /// The id of a customer record (UUIDv7).
    CustomerId,
    "customer"
);
record_id!(
    /// The id of an equipment record (UUIDv7).
    EquipmentId,
    "equipment"
);

/// The name an anonymized customer is shown with.
pub const ANONYMIZED_NAME: &str = "Cliente anonimizado";

/// The document an anonymized customer holds instead of theirs: an alphanumeric CNPJ no company is given
/// ("AN.ONI.MIZ/ADO0-76", its check digits valid so that it parses like any stored document). Opening an order
/// or editing a customer with it is refused.
pub fn anonymized_document() -> Document {
    Document::parse("ANONIMIZADO076").expect("the anonymized document's check digits are valid")
}

/// A customer of the company.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRecord {
    pub id: CustomerId,
    pub tenant: TenantId,
    /// Name, document, contacts and address, as the orders hold them.
    pub customer: Customer,
    /// 1 when created, +1 per edit: writes are conditional on it.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the customer's personal data was erased at their request (LGPD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymized_at: Option<DateTime<Utc>>,
}

impl CustomerRecord {
    pub fn is_anonymized(&self) -> bool {
        self.anonymized_at.is_some()
    }

    /// The record with the customer's personal data erased: a placeholder name and document, no contacts, no
    /// address.
    pub fn anonymized(&self, now: DateTime<Utc>) -> CustomerRecord {
        CustomerRecord {
            customer: anonymized_customer(),
            version: self.version + 1,
            updated_at: now,
            anonymized_at: Some(now),
            ..self.clone()
        }
    }
}

/// An equipment of a customer, known by its serial number (or the shop's internal tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EquipmentRecord {
    pub id: EquipmentId,
    pub tenant: TenantId,
    /// The customer it belongs to.
    pub customer: CustomerId,
    /// Description, brand, model and serial (always present on a record: it is the record's key).
    pub equipment: Equipment,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EquipmentRecord {
    /// The serial (or tag) the record is found by.
    pub fn serial(&self) -> &str {
        self.equipment.serial.as_deref().unwrap_or_default()
    }
}

/// The customer every anonymized order and record holds.
pub fn anonymized_customer() -> Customer {
    Customer {
        name: ANONYMIZED_NAME.to_owned(),
        document: anonymized_document(),
        email: None,
        phone: None,
        address: None,
    }
}

/// A customer's data as typed (by staff, on an order or on the record), checked: the limits of an order's
/// customer, and never the anonymized placeholder document. `field` prefixes the names of refused fields
/// (`customer`).
pub fn check_customer(field: &str, c: Customer) -> Result<Customer, DomainError> {
    let f = |name: &str| format!("{field}.{name}");
    if c.document == anonymized_document() {
        return Err(DomainError::Invalid { field: f("document"), reason: "is reserved".into() });
    }
    let address = match c.address {
        None => None,
        Some(a) => Some(Address {
            street: text(&f("address.street"), &a.street, 60)?,
            number: text(&f("address.number"), &a.number, 60)?,
            complement: opt_text(&f("address.complement"), a.complement.as_deref(), 60)?,
            district: text(&f("address.district"), &a.district, 60)?,
            city: text(&f("address.city"), &a.city, 60)?,
            ..a
        }),
    };
    Ok(Customer { name: text(&f("name"), &c.name, 60)?, address, ..c })
}

/// An equipment's data as typed, checked with the limits of an order's equipment (`field` prefixes the names of
/// refused fields).
pub fn check_equipment(field: &str, e: Equipment) -> Result<Equipment, DomainError> {
    let f = |name: &str| format!("{field}.{name}");
    Ok(Equipment {
        description: text(&f("description"), &e.description, 120)?,
        brand: opt_text(&f("brand"), e.brand.as_deref(), 60)?,
        model: opt_text(&f("model"), e.model.as_deref(), 60)?,
        serial: opt_text(&f("serial"), e.serial.as_deref(), 60)?,
    })
}

/// The key an equipment is found by: its serial (or tag) without surrounding spaces, in upper case, so that
/// "br123456" typed on one order finds "BR123456" typed on another.
pub fn serial_key(serial: &str) -> String {
    serial.trim().to_uppercase()
}

impl Event {
    /// The event with the customer's personal data erased (the LGPD anonymization rewrites the stored history
    /// with it): the customer of an opening or an edit, the name and address the customer's page recorded with a
    /// decision and the decision's comment (but a rejection's: the order's cancellation reason), the masked recipient of a message. What the event did is kept.
    pub fn anonymized(&self) -> Event {
        let mut e = self.clone();
        if let crate::event::Actor::Customer { name } = &mut e.actor {
            *name = None;
        }
        match &mut e.change {
            Change::Opened(o) => o.customer = anonymized_customer(),
            Change::CustomerEdited { customer, .. } => *customer = anonymized_customer(),
            Change::QuoteDecided { evidence, comment, decision, .. } => {
                // The fold of `order.customer_anonymized` erases the revisions' comments too; a rejection's
                // comment is the order's cancellation reason, which the order keeps as what happened.
                if *decision != crate::QuoteDecision::Reject {
                    *comment = None;
                }
                if let Some(ev) = evidence {
                    ev.name = ANONYMIZED_NAME.to_owned();
                    ev.ip = String::new();
                    ev.user_agent = String::new();
                }
            }
            Change::NotificationSent { to_masked, .. } => *to_masked = "***".to_owned(),
            _ => {}
        }
        e
    }

    /// The event as the anonymization at `version` (its `order.customer_anonymized`) rewrites it: erased up to
    /// that version, kept as it is after (what came later is new, and the order's state holds it), so the
    /// rewritten history folds into the same state.
    pub fn anonymized_up_to(&self, version: u64) -> Event {
        if self.version <= version { self.anonymized() } else { self.clone() }
    }
}

/// The version of the order's anonymization (`order.customer_anonymized`) in its history.
pub fn anonymized_at(events: &[Event]) -> Option<u64> {
    events.iter().find(|e| matches!(e.change, Change::CustomerAnonymized)).map(|e| e.version)
}

impl Order {
    /// Whether the order's customer was anonymized.
    pub fn customer_anonymized(&self) -> bool {
        self.customer.document == anonymized_document()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anonymized_document_parses_and_is_refused_as_input() {
        let d = anonymized_document();
        assert_eq!(d.to_string(), "AN.ONI.MIZ/ADO0-76");
        let c = Customer { document: d, ..anonymized_customer() };
        let err = check_customer("customer", c).unwrap_err();
        assert_eq!(err, DomainError::Invalid { field: "customer.document".into(), reason: "is reserved".into() });
    }

    #[test]
    fn ids_are_uuid_v7() {
        assert!(CustomerId::parse("0190c1a2-0000-7000-8000-000000000001").is_ok());
        assert!(EquipmentId::parse("550e8400-e29b-41d4-a716-446655440000").is_err());
        assert!(CustomerId::parse("x").is_err());
    }

    #[test]
    fn serial_keys_ignore_case_and_spaces() {
        assert_eq!(serial_key(" br123456 "), "BR123456");
    }
}
