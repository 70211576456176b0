//! Whether an order is late: past its due date (a São Paulo date) or past its status's SLA.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::card::OrderCard;
use crate::flow::{Flow, StatusKey};
use crate::order::Order;

/// What the lateness rules read of an order: its status, since when, and its due date. An [`Order`] and its
/// card ([`crate::OrderCard`]) both have them.
pub trait Deadlines {
    fn status(&self) -> &StatusKey;
    fn status_since(&self) -> DateTime<Utc>;
    fn due_date(&self) -> Option<NaiveDate>;
}

/// [`Deadlines`] read from the fields of the same names, the one way both types have them.
macro_rules! deadlines_from_fields {
    ($($holder:ty),+) => {$(
        impl Deadlines for $holder {
            fn status(&self) -> &StatusKey {
                &self.status
            }
            fn status_since(&self) -> DateTime<Utc> {
                self.status_since
            }
            fn due_date(&self) -> Option<NaiveDate> {
                self.due_date
            }
        }
    )+};
}

deadlines_from_fields!(Order, OrderCard);

/// How far the order's current stay is into its status's SLA (`sla_hours`): 0.0 at entry, 1.0 at the limit;
/// `None` when the status has no limit.
pub fn sla_used(order: &impl Deadlines, flow: &Flow, now: DateTime<Utc>) -> Option<f64> {
    let hours = flow.status(order.status())?.sla_hours?;
    let seconds = (now - order.status_since()).num_seconds().max(0) as f64;
    Some(seconds / (f64::from(hours) * 3600.0))
}

/// Past the due date (the day after it began in São Paulo, UTC−03:00) or past the status's SLA.
pub fn is_overdue(order: &impl Deadlines, flow: &Flow, now: DateTime<Utc>) -> bool {
    if flow.status(order.status()).is_some_and(|s| s.kind.is_final()) {
        return false;
    }
    let today = now.with_timezone(&FixedOffset::west_opt(3 * 3600).expect("valid offset")).date_naive();
    order.due_date().is_some_and(|d| d < today) || sla_used(order, flow, now).is_some_and(|u| u > 1.0)
}
