//! Events: the only way an order changes. They are at once the history, the timeline and the outbox.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::flow::{Action, Role, StatusKey};
use crate::order::{
    Attachment, ChecklistItem, Customer, Equipment, InvoiceCorrection, InvoiceInfo, LineDecision, MaterialWait, Note,
    Payment, QuoteRevision, Refund, Service,
};
use crate::records::{CustomerId, EquipmentId};
use crate::values::{Money, OrderId, TenantId, UserId};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// A company user, with the roles of their token.
    Staff { user: UserId, roles: Vec<Role> },
    /// The customer, through a signed link.
    Customer {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// An osflow component (the invoicer, the notifier…).
    System { component: String },
}

impl Actor {
    pub fn staff(user: UserId, roles: impl Into<Vec<Role>>) -> Actor {
        Actor::Staff { user, roles: roles.into() }
    }

    pub fn has_any_role(&self, allowed: &[Role]) -> bool {
        match self {
            Actor::Staff { roles, .. } => roles.iter().any(|r| allowed.contains(r)),
            _ => false,
        }
    }
}

/// The customer's decision on a quote revision as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteDecision {
    Approve,
    Reject,
    Adjust,
}

/// What the customer's page records when the customer decides (LGPD: only what proves the decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionEvidence {
    pub ip: String,
    pub user_agent: String,
    /// The name the customer typed.
    pub name: String,
    /// SHA-256 (hex) of the quote as shown to the customer.
    pub quote_sha256: String,
}

/// The data of a newly opened order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Opened {
    pub id: OrderId,
    pub tenant: TenantId,
    pub number: u64,
    pub flow_version: u32,
    pub customer: Customer,
    pub equipment: Equipment,
    pub service: Service,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technician: Option<UserId>,
    pub quote: QuoteRevision,
    /// The customer record the order belongs to (absent on orders opened before records were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// The equipment record (an order whose equipment has a serial or tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment_id: Option<EquipmentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<crate::warranty::Intake>,
    /// The order this one is a warranty return of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty_of: Option<crate::warranty::WarrantyLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Opened(Box<Opened>),
    /// A new quote revision (sent at once when the order already waits for approval).
    QuoteRevised {
        revision: QuoteRevision,
    },
    QuoteSent {
        revision: u32,
    },
    QuoteDecided {
        revision: u32,
        decision: QuoteDecision,
        /// Per-line decisions (every line of the revision).
        lines: Vec<(u32, LineDecision)>,
        approved_total: Money,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        comment: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evidence: Option<DecisionEvidence>,
    },
    Started,
    NoteAdded {
        note: Note,
    },
    AttachmentAdded {
        attachment: Attachment,
    },
    MaterialAwaited {
        material: MaterialWait,
    },
    MaterialDateChanged {
        previous: NaiveDate,
        expected_at: NaiveDate,
    },
    MaterialArrived,
    Finished {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tests_performed: Option<String>,
    },
    Validated {
        checklist: Vec<ChecklistItem>,
    },
    PaymentRequested {
        amount_due: Money,
    },
    PaymentRegistered {
        payment: Payment,
        /// Balance after this payment; zero means settled (the invoicing trigger).
        balance: Money,
    },
    InvoiceUpdated {
        invoice: InvoiceInfo,
    },
    /// Staff asked to send the rejected NF-e with this access key again (it goes to the invoicer).
    InvoiceRetryRequested {
        key: String,
    },
    /// A carta de correção SEFAZ registered for the order's NF-e (recorded by the invoicer).
    InvoiceCorrected {
        correction: InvoiceCorrection,
    },
    /// Money given back to the customer (with the cancellation of a paid order).
    PaymentRefunded {
        refund: Refund,
    },
    Released,
    Closed,
    Cancelled {
        reason: String,
    },
    Moved,
    /// The order has stayed in its status (entered at `since`) beyond the status's limit: the company is alerted.
    SlaBreached {
        since: DateTime<Utc>,
        limit_hours: u32,
    },
    /// Staff asked to send the customer the current link of the order again (the quote's decision link while it
    /// waits for the customer): the notifier sends it.
    LinkResent,
    /// A warranty return was opened for this order (recorded on the first order; the return names it too).
    WarrantyReturnOpened {
        link: crate::warranty::WarrantyLink,
    },
    /// A message the notifier sent to the customer (or failed to send), recorded on the timeline by a System
    /// actor. It changes no status and never notifies by itself.
    NotificationSent {
        /// `email` or `webhook`.
        channel: String,
        /// The recipient with most of it hidden (`jo***@exemplo.com.br`, `https://hooks.exemplo.com/…`).
        to_masked: String,
        /// The template used (the status kind or event it was rendered for, e.g. `awaiting_approval`).
        template: String,
        ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The version of the event the message was about (absent on records made before it was kept).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        for_version: Option<u64>,
    },
    /// The customer's data changed (on the order, or on the customer's record, which every open order of the
    /// customer takes): the NF-e issued from now on carries it; issued ones keep theirs.
    CustomerEdited {
        customer: Customer,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_id: Option<CustomerId>,
    },
    /// The equipment's data changed (a serial added links the order to that equipment's record).
    EquipmentEdited {
        equipment: Equipment,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        equipment_id: Option<EquipmentId>,
    },
    /// A new due date.
    DueDateChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<NaiveDate>,
        due_date: NaiveDate,
    },
    /// The technician in charge, assigned or replaced.
    TechnicianAssigned {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<UserId>,
        technician: UserId,
    },
    /// The customer's personal data was erased at their request (LGPD): the order keeps what it did, with a
    /// placeholder customer.
    CustomerAnonymized,
    /// The equipment's unlock code was left, replaced (`set`) or removed while the order is open (never the code).
    UnlockCodeChanged {
        set: bool,
    },
    /// A staff member read the unlock code (who and when are the event's; never the code).
    UnlockCodeRead,
    /// The unlock code was deleted, as the order closed or was cancelled.
    UnlockCodeDeleted,
}

impl Change {
    /// Whether the event ends the keeping of the order's unlock code (removed while open, or deleted as the order
    /// closed or was cancelled): the store deletes the sealed code in the event's own write.
    pub fn forgets_unlock_code(&self) -> bool {
        matches!(self, Change::UnlockCodeDeleted | Change::UnlockCodeChanged { set: false })
    }

    /// Stable name of the event type (`order.opened`, `order.quote_sent`…), used on the bus.
    pub fn type_name(&self) -> &'static str {
        match self {
            Change::Opened(_) => "order.opened",
            Change::QuoteRevised { .. } => "order.quote_revised",
            Change::QuoteSent { .. } => "order.quote_sent",
            Change::QuoteDecided { .. } => "order.quote_decided",
            Change::Started => "order.started",
            Change::NoteAdded { .. } => "order.note_added",
            Change::AttachmentAdded { .. } => "order.attachment_added",
            Change::MaterialAwaited { .. } => "order.material_awaited",
            Change::MaterialDateChanged { .. } => "order.material_date_changed",
            Change::MaterialArrived => "order.material_arrived",
            Change::Finished { .. } => "order.finished",
            Change::Validated { .. } => "order.validated",
            Change::PaymentRequested { .. } => "order.payment_requested",
            Change::PaymentRegistered { .. } => "order.payment_registered",
            Change::InvoiceUpdated { .. } => "order.invoice_updated",
            Change::InvoiceRetryRequested { .. } => "order.invoice_retry_requested",
            Change::InvoiceCorrected { .. } => "order.invoice_corrected",
            Change::PaymentRefunded { .. } => "order.payment_refunded",
            Change::Released => "order.released",
            Change::Closed => "order.closed",
            Change::Cancelled { .. } => "order.cancelled",
            Change::Moved => "order.moved",
            Change::SlaBreached { .. } => "order.sla_breached",
            Change::LinkResent => "order.link_resent",
            Change::NotificationSent { .. } => "order.notification_sent",
            Change::CustomerEdited { .. } => "order.customer_edited",
            Change::EquipmentEdited { .. } => "order.equipment_edited",
            Change::DueDateChanged { .. } => "order.due_date_changed",
            Change::TechnicianAssigned { .. } => "order.technician_assigned",
            Change::CustomerAnonymized => "order.customer_anonymized",
            Change::WarrantyReturnOpened { .. } => "order.warranty_return_opened",
            Change::UnlockCodeChanged { .. } => "order.unlock_code_changed",
            Change::UnlockCodeRead => "order.unlock_code_read",
            Change::UnlockCodeDeleted => "order.unlock_code_deleted",
        }
    }
}

/// One change of one order. `version` is the order's version after the event (1 for `Opened`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub version: u64,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// The flow action taken, when the event is a transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// Status before the event (`None` for `Opened`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_before: Option<StatusKey>,
    pub status_after: StatusKey,
    /// When the event moved the order into a status with an SLA (`sla_hours` of its flow version): the instant
    /// that stay goes over it. Absent otherwise (and on events recorded before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_due: Option<DateTime<Utc>>,
    pub change: Change,
}

impl Event {
    /// Whether the event moved the order to another status.
    pub fn changes_status(&self) -> bool {
        self.status_before.as_ref() != Some(&self.status_after)
    }
}
