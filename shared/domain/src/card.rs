//! An order's card: what a list of orders shows of each one and what the searches filter on. A store keeps it
//! beside the order, written with every change, so that a list page never decodes whole orders.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::flow::StatusKey;
use crate::order::Order;
use crate::values::{Document, Money, OrderId, UserId};

/// The card of an order at one version ([`Order::card`]). Its serde form is a stored form, compact to read back
/// (instants as Unix nanoseconds), not an API shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCard {
    pub id: OrderId,
    pub number: u64,
    pub version: u64,
    pub flow_version: u32,
    pub status: StatusKey,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub status_since: DateTime<Utc>,
    pub customer_name: String,
    pub customer_document: Document,
    /// The equipment's description.
    pub equipment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub service_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technician: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    /// Total of the current quote revision (zero without one).
    pub quote_total: Money,
    pub amount_due: Money,
    pub balance: Money,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_nanoseconds")]
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// The order's card at its current version.
    pub fn card(&self) -> OrderCard {
        OrderCard {
            id: self.id,
            number: self.number,
            version: self.version,
            flow_version: self.flow_version,
            status: self.status.clone(),
            status_since: self.status_since,
            customer_name: self.customer.name.clone(),
            customer_document: self.customer.document,
            equipment: self.equipment.description.clone(),
            serial: self.equipment.serial.clone(),
            service_type: self.service.kind.clone(),
            technician: self.technician.clone(),
            due_date: self.due_date,
            quote_total: self.current_revision().map_or(Money::zero(), |r| r.total),
            amount_due: self.amount_due(),
            balance: self.balance(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}
