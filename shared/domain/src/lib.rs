//! osflow's pure domain: the service order (OS), its configurable flow and the state machine.
//!
//! No I/O, no async, no clock, no randomness: time and ids come in as arguments.

pub mod allowed;
pub mod bounds;
pub mod card;
pub mod discount;
pub mod event;
pub mod fiscal;
pub mod flow;
pub mod machine;
pub mod order;
pub mod overdue;
pub mod records;
pub mod report;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod timeline;
pub mod values;
pub mod warranty;

pub use allowed::{AllowedAction, allowed_actions, may_give};
pub use card::OrderCard;
pub use discount::Discount;
pub use event::{Actor, Change, DecisionEvidence, Event, Opened, QuoteDecision};
pub use fiscal::{
    DocumentKind, Invoicing, IssuedElsewhere, OWN_NFSE_ISSUER_CITIES, external_key, nfse_notice, own_nfse_issuer,
    same_nfe,
};
pub use flow::{Action, Channel, Flow, FlowDef, FlowError, Guard, Role, StatusDef, StatusKey, StatusKind, Transition};
pub use machine::{
    Command, Context, DomainError, MAX_CORRECTIONS, OpenOrder, RefundInput, ReplayError, decide, decide_open, step,
};
pub use order::{
    Address, Attachment, ChecklistItem, Customer, Equipment, InvoiceCorrection, InvoiceInfo, InvoiceState,
    LineDecision, LineInput, LineKind, MaterialWait, Note, Notification, Order, Payment, PaymentMethod, QuoteLine,
    QuoteRevision, Refund, RevisionStatus, Service,
};
pub use overdue::{Deadlines, is_overdue, sla_used};
pub use records::{CustomerId, CustomerRecord, EquipmentId, EquipmentRecord};
pub use timeline::{Stay, stays, time_in_status};
pub use warranty::{Intake, LineWarranty, WarrantyDefaults, WarrantyError, WarrantyLink};
