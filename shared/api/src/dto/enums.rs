//! The domain's enums as the API exchanges them (snake_case strings), with their schemas.

use osflow_domain as d;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Declares an API enum mirroring a domain enum, with conversions both ways.
macro_rules! mirror {
    ($(#[$meta:meta])* $name:ident <=> $domain:path { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl From<$name> for $domain {
            fn from(v: $name) -> $domain {
                match v {
                    $($name::$variant => <$domain>::$variant),+
                }
            }
        }

        impl From<$domain> for $name {
            fn from(v: $domain) -> $name {
                match v {
                    $(<$domain>::$variant => $name::$variant),+
                }
            }
        }
    };
}

mirror! {
    /// `part` goes on the NF-e (needs an NCM); `labor` on the NFS-e.
    LineKind <=> d::LineKind { Part, Labor }
}

mirror! {
    /// The customer's decision on one quote line.
    LineDecision <=> d::LineDecision { Approve, Reject }
}

mirror! {
    /// The customer's decision on a quote: approve, reject, or ask for adjustments (with a comment).
    QuoteDecision <=> d::QuoteDecision { Approve, Reject, Adjust }
}

mirror! {
    /// The life of a quote revision.
    RevisionStatus <=> d::RevisionStatus { Draft, Sent, Approved, Rejected, AdjustmentRequested, Superseded }
}

mirror! {
    /// How a payment was made.
    PaymentMethod <=> d::PaymentMethod { Pix, Cash, Credit, Debit, Boleto, Transfer }
}

mirror! {
    /// The state of the order's NF-e.
    InvoiceState <=> d::InvoiceState { Pending, Authorized, Rejected, Denied, Cancelled, Voided }
}

mirror! {
    /// Staff roles.
    Role <=> d::Role { Representante, Atendente, Tecnico, Financeiro }
}

mirror! {
    /// What a status means to the rules, whatever the company calls it.
    StatusKind <=> d::StatusKind {
        Open, AwaitingApproval, Approved, InProgress, WaitingMaterial, Finished, Validation, AwaitingPayment,
        Released, Closed, Cancelled, Custom,
    }
}

mirror! {
    /// The fixed vocabulary of transitions.
    Action <=> d::Action {
        SendQuote, DecideQuote, ReviseQuote, Start, WaitMaterial, Resume, Finish, Validate, RequestPayment,
        Release, Close, Cancel, Move,
    }
}

mirror! {
    /// Notification channels.
    Channel <=> d::Channel { Email, Whatsapp, Sms }
}

mirror! {
    /// Conditions a transition may require.
    Guard <=> d::Guard {
        QuoteApproved, ChecklistComplete, AtLeastOnePhoto, PaidInFull, InvoiceAuthorized, NoPendingExtraItems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_domain() {
        // The API and the domain spell every value the same way.
        for a in d::Action::ALL {
            assert_eq!(serde_json::to_value(Action::from(a)).unwrap(), serde_json::to_value(a).unwrap());
        }
        for r in d::Role::ALL {
            assert_eq!(serde_json::to_value(Role::from(r)).unwrap(), r.as_str());
        }
        assert_eq!(serde_json::to_value(StatusKind::AwaitingApproval).unwrap(), "awaiting_approval");
        assert_eq!(serde_json::to_value(Guard::NoPendingExtraItems).unwrap(), d::Guard::NoPendingExtraItems.as_str());
        assert_eq!(serde_json::to_value(RevisionStatus::AdjustmentRequested).unwrap(), "adjustment_requested");
    }
}

mirror! {
    /// A channel of customer notifications: `email`, or `webhook` (the company's WhatsApp/SMS provider).
    NotifyChannel <=> osflow_app::NotifyChannel { Email, Webhook }
}

mirror! {
    /// `tpAmb`: `homologation` (2, no fiscal value; the default) or `production` (1).
    FiscalEnvironment <=> osflow_app::FiscalEnvironment { Homologation, Production }
}

mirror! {
    /// Why a number is a gap: `rejected` (SEFAZ rejected its NF-e and it was not authorized since),
    /// `order_cancelled` (its order was cancelled first), `superseded` (its order's NF-e was issued again under
    /// another number or sequence).
    GapReason <=> osflow_app::GapReason { Rejected, OrderCancelled, Superseded }
}

mirror! {
    /// An inutilização: `pending` (sent, no answer kept: the same request sends it again), `voided` (SEFAZ voided
    /// the range), `rejected` (SEFAZ refused it; nothing voided).
    VoidState <=> osflow_app::VoidState { Pending, Voided, Rejected }
}

/// A discount: an amount in reais (`{"type": "value", "value": "10.00"}`) or a percentage from 0 to 100
/// (`{"type": "percent", "percent": "12.5"}`). It never takes what it applies to below zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Discount {
    Value {
        /// Not negative, at most 2 decimals.
        #[schema(value_type = String, example = "10.00")]
        value: d::values::Money,
    },
    Percent {
        /// From 0 to 100, at most 2 decimals.
        #[schema(value_type = String, example = "10")]
        percent: d::values::Percent,
    },
}

impl From<Discount> for d::Discount {
    fn from(v: Discount) -> d::Discount {
        match v {
            Discount::Value { value } => d::Discount::Value { value },
            Discount::Percent { percent } => d::Discount::Percent { percent },
        }
    }
}

impl From<d::Discount> for Discount {
    fn from(v: d::Discount) -> Discount {
        match v {
            d::Discount::Value { value } => Discount::Value { value },
            d::Discount::Percent { percent } => Discount::Percent { percent },
        }
    }
}
