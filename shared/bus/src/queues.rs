//! The queues as data, and the routing of events to them (one place).

use std::fmt;

use osflow_domain::{Change, Event, InvoiceState};

use crate::envelope::Envelope;

/// One queue and its dead-letter queue: the single source for the queue creation of the tests and for the SAM
/// template (and its drift test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    /// The queue, for code that starts from the spec.
    pub queue: Queue,
    /// The logical name (deployments may prefix it, e.g. `osflow-prod-notifications`). FIFO names end in `.fifo`.
    pub name: &'static str,
    pub fifo: bool,
    /// The dead-letter queue's logical name (FIFO for a FIFO queue).
    pub dlq: &'static str,
    /// Receives before SQS moves a message to the DLQ (the redrive policy's `maxReceiveCount`).
    pub max_receive_count: u32,
    /// The queue's visibility timeout: at least 6 × the consumer function's timeout (the Lambda guidance for
    /// SQS event sources, so that retries of a batch do not overlap a slow invocation).
    pub visibility_timeout_secs: u32,
    /// The timeout of the Lambda function consuming the queue.
    pub consumer_timeout_secs: u32,
    /// How long SQS keeps an unconsumed message on the queue.
    pub message_retention_secs: u32,
    /// How long the DLQ keeps a message (the maximum, 14 days: time to look at it and redrive it).
    pub dlq_retention_secs: u32,
}

/// The relay's dead-letter queue (standard, not consumed): a record per message SQS refused (parked by the
/// publisher so that the relay moves on) and, in AWS, the stream mapping's on-failure destination (the batches
/// the relay gave up on after its retries). Deployments prefix it like the others.
pub const RELAY_DLQ: &str = "relay-dlq";
/// How long the relay's DLQ keeps a record (14 days, the SQS maximum).
pub const RELAY_DLQ_RETENTION_SECS: u32 = RETENTION_14_DAYS;

/// Receives before a message goes to its DLQ (every queue's redrive policy).
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// 4 days, the SQS default.
const RETENTION_4_DAYS: u32 = 4 * 24 * 3600;
/// 14 days, the SQS maximum.
const RETENTION_14_DAYS: u32 = 14 * 24 * 3600;

static QUEUES: [QueueSpec; 3] = [
    QueueSpec {
        queue: Queue::Notifications,
        name: "notifications",
        fifo: false,
        dlq: "notifications-dlq",
        max_receive_count: MAX_RECEIVE_COUNT,
        // e-mail (SES) and a webhook: a few requests per message.
        consumer_timeout_secs: 30,
        visibility_timeout_secs: 6 * 30,
        message_retention_secs: RETENTION_4_DAYS,
        dlq_retention_secs: RETENTION_14_DAYS,
    },
    // FIFO, one group per company: a company's events all update its day aggregate, so they are counted one at
    // a time (never a lost race for the day item), companies in parallel.
    QueueSpec {
        queue: Queue::Reports,
        name: "reports.fifo",
        fifo: true,
        dlq: "reports-dlq.fifo",
        max_receive_count: MAX_RECEIVE_COUNT,
        consumer_timeout_secs: 60,
        visibility_timeout_secs: 6 * 60,
        message_retention_secs: RETENTION_4_DAYS,
        dlq_retention_secs: RETENTION_14_DAYS,
    },
    QueueSpec {
        queue: Queue::Invoicing,
        name: "invoicing.fifo",
        fifo: true,
        dlq: "invoicing-dlq.fifo",
        max_receive_count: MAX_RECEIVE_COUNT,
        // Signing, SEFAZ (synchronous authorization, a consult by key after a timeout) and storing the nfeProc.
        consumer_timeout_secs: 120,
        visibility_timeout_secs: 6 * 120,
        message_retention_secs: RETENTION_4_DAYS,
        dlq_retention_secs: RETENTION_14_DAYS,
    },
];

/// The queues: `notifications` (standard, DLQ after 5 receives), `reports.fifo` and `invoicing.fifo` (FIFO, FIFO
/// DLQ).
pub fn queues() -> &'static [QueueSpec] {
    &QUEUES
}

/// A queue of the bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Queue {
    /// Events that can notify the customer (the notifier decides with the company's flow and settings).
    Notifications,
    /// FIFO: every event (report aggregates), grouped per company.
    Reports,
    /// FIFO: the invoicing triggers (a payment that settles the balance, the release).
    Invoicing,
}

impl Queue {
    pub const ALL: [Queue; 3] = [Queue::Notifications, Queue::Reports, Queue::Invoicing];

    pub fn spec(self) -> &'static QueueSpec {
        match self {
            Queue::Notifications => &QUEUES[0],
            Queue::Reports => &QUEUES[1],
            Queue::Invoicing => &QUEUES[2],
        }
    }

    /// The logical queue name (`notifications`, `reports.fifo`, `invoicing.fifo`).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    pub fn is_fifo(self) -> bool {
        self.spec().fifo
    }

    /// The suffix of the queue's environment variable: `OSFLOW_QUEUE_URL_<NAME>` with `NOTIFICATIONS`,
    /// `REPORTS` or `INVOICING`.
    pub fn env_name(self) -> &'static str {
        match self {
            Queue::Notifications => "NOTIFICATIONS",
            Queue::Reports => "REPORTS",
            Queue::Invoicing => "INVOICING",
        }
    }

    /// The queue of a logical name.
    pub fn from_name(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.name() == name)
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which queues want an event, in [`Queue::ALL`] order. Routing lives here and nowhere else.
///
/// - `notifications`: the events that can notify the customer — see [`can_notify`];
/// - `reports`: every event;
/// - `invoicing.fifo`: `order.payment_registered` that brings the balance to zero, `order.released`, and
///   `order.invoice_retry_requested` (a rejected NF-e sent again).
pub fn route(envelope: &Envelope) -> Vec<Queue> {
    let mut queues = Vec::with_capacity(3);
    if can_notify(&envelope.data) {
        queues.push(Queue::Notifications);
    }
    queues.push(Queue::Reports);
    if triggers_invoicing(&envelope.data) {
        queues.push(Queue::Invoicing);
    }
    queues
}

/// Whether an event can notify the customer. Whether it does is the notifier's decision (the status's `notify`
/// flag and channels in the order's flow version, the company's settings), which the bus does not know; the bus
/// only keeps away the events that never concern the customer.
///
/// - every status change, `order.opened` included (entering a status is what the flow's `notify` flag is about);
/// - a quote sent or revised (the quote goes to the customer), the expected date of the material or the order's
///   due date changed;
/// - a note or an attachment visible to the customer;
/// - a payment registered (the receipt), an NF-e authorized;
/// - an SLA breach (the alert goes to the company, not to the customer).
///
/// Not: internal notes and photos, NF-e states other than authorized, and events that neither change the status
/// nor are listed here (the notifier's own `NotificationSent` records must never notify).
pub fn can_notify(event: &Event) -> bool {
    if event.changes_status() {
        return true;
    }
    match &event.change {
        Change::QuoteSent { .. }
        | Change::QuoteRevised { .. }
        | Change::MaterialDateChanged { .. }
        | Change::DueDateChanged { .. } => true,
        Change::NoteAdded { note } => note.visible_to_customer,
        Change::AttachmentAdded { attachment } => attachment.visible_to_customer,
        Change::PaymentRegistered { .. } | Change::SlaBreached { .. } | Change::LinkResent => true,
        Change::InvoiceUpdated { invoice } => invoice.state == InvoiceState::Authorized,
        _ => false,
    }
}

/// Whether an event starts or gates invoicing: a payment that settles the balance, the release, or a request
/// to send a rejected NF-e again.
pub fn triggers_invoicing(event: &Event) -> bool {
    match &event.change {
        Change::PaymentRegistered { balance, .. } => balance.is_zero(),
        Change::Released | Change::InvoiceRetryRequested { .. } => true,
        _ => false,
    }
}

/// The FIFO message group of an envelope on `queue`.
///
/// On `reports.fifo`, the company: its events all update the company's day aggregates, so they are counted one
/// at a time. On `invoicing.fifo`, the order: the numbers of a sequence are claimed atomically by the store
/// (gapless, one per order), so orders need no ordering among themselves, and one order whose NF-e keeps
/// failing never holds another's (a company-wide group held every NF-e of the company behind it); an order's
/// payment still comes before its release. On `notifications.fifo`, the company.
pub fn message_group_id(queue: Queue, envelope: &Envelope) -> String {
    match queue {
        Queue::Notifications | Queue::Reports => envelope.tenant.as_str().to_owned(),
        Queue::Invoicing => format!("{}#{}", envelope.tenant.as_str(), envelope.order_id),
    }
}
