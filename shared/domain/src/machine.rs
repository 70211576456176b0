//! The state machine: `decide` turns (order, flow, command, actor, context) into events or a typed refusal;
//! `apply` folds an event into the order. Both are pure.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::discount::{Discount, DiscountError};
use crate::event::{Actor, Change, DecisionEvidence, Event, Opened, QuoteDecision};
use crate::fiscal::{DocumentKind, Invoicing, IssuedElsewhere};
use crate::flow::{Action, Flow, Guard, Role, StatusKey, StatusKind, Transition};
use crate::order::{
    Attachment, ChecklistItem, Customer, Equipment, InvoiceCorrection, InvoiceInfo, InvoiceState, LineDecision,
    LineInput, LineKind, MaterialWait, Note, Notification, Order, Payment, PaymentMethod, QuoteRevision, Refund,
    RevisionStatus, Service,
};
use crate::records::{CustomerId, EquipmentId};
use crate::values::{Money, OrderId, TenantId, UserId};
use crate::warranty::{Intake, MAX_ACCESSORIES, MAX_WARRANTY_DAYS, WarrantyLink};

/// Facts from outside the order that rules depend on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub now: DateTime<Utc>,
    /// The documents the company issues through osflow (NF-e: it has an emitter; NFS-e: the emitter has the
    /// municipal part).
    pub invoicing: Invoicing,
}

impl Context {
    /// At `now`, for a company that issues no fiscal document.
    pub fn at(now: DateTime<Utc>) -> Context {
        Context { now, invoicing: Invoicing::default() }
    }

    /// With the documents the company issues.
    pub fn invoicing(self, invoicing: Invoicing) -> Context {
        Context { invoicing, ..self }
    }
}

/// Opening an order: the data of step 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenOrder {
    pub id: OrderId,
    pub tenant: TenantId,
    pub number: u64,
    pub customer: Customer,
    pub equipment: Equipment,
    pub service: Service,
    pub items: Vec<LineInput>,
    /// The discount of the whole quote (off the lines after their own discounts).
    pub discount: Option<Discount>,
    pub due_date: Option<NaiveDate>,
    pub technician: Option<UserId>,
    /// What was received with the equipment.
    pub intake: Option<Intake>,
    /// The order this one is a warranty return of (its lines at zero price come from
    /// [`Order::warranty_return_lines`]).
    pub warranty_of: Option<WarrantyLink>,
}

/// Every step of the seed after opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    SendQuote,
    ReviseQuote {
        items: Vec<LineInput>,
        /// The discount of the whole revision (off the lines after their own discounts).
        discount: Option<Discount>,
        due_date: Option<NaiveDate>,
    },
    DecideQuote {
        /// The revision the decider saw; refused when it is no longer the one waiting.
        revision: Option<u32>,
        decision: QuoteDecision,
        lines: Vec<(u32, LineDecision)>,
        comment: Option<String>,
        evidence: Option<DecisionEvidence>,
    },
    Start,
    AddNote {
        text: String,
        visible_to_customer: bool,
    },
    AddAttachment {
        key: String,
        content_type: String,
        caption: Option<String>,
        visible_to_customer: bool,
        /// An intake photo (the equipment as received): only a photo, and only before the work starts.
        intake: bool,
    },
    WaitMaterial {
        reason: String,
        parts: Vec<String>,
        expected_at: NaiveDate,
    },
    ChangeMaterialDate {
        expected_at: NaiveDate,
    },
    MaterialArrived,
    Finish {
        tests_performed: Option<String>,
    },
    Validate {
        checklist: Vec<ChecklistItem>,
        extra_items: Vec<LineInput>,
    },
    RequestPayment,
    RegisterPayment {
        amount: Money,
        method: PaymentMethod,
        reference: Option<String>,
    },
    RecordInvoice {
        invoice: InvoiceInfo,
    },
    /// A carta de correção SEFAZ registered (System actor only: the invoicer).
    RecordInvoiceCorrection {
        correction: InvoiceCorrection,
    },
    /// Sends a rejected (or pending) fiscal document again after the cause was fixed (the emitter's settings, the
    /// customer's data): same number and key (NF-e: same cNF; NFS-e: same DPS); the invoicer rebuilds, signs and
    /// transmits it, consulting first. `key` names one document; without it, every rejected or pending one.
    RetryInvoice {
        key: Option<String>,
    },
    /// Records an NFS-e issued outside osflow (a municipality with its own issuer): it stands for the labor's
    /// NFS-e on the order, and so satisfies the release's `invoice_authorized` guard.
    RecordExternalNfse {
        number: u64,
        verification_code: String,
        /// The NFS-e's file (PDF or XML) already kept in the blob store.
        file: Option<String>,
    },
    Release,
    Close,
    /// Cancels the order. An order whose NF-e is authorized is cancelled only after its NF-e (event 110111);
    /// an order the customer paid needs the refund of what was paid.
    Cancel {
        reason: String,
        refund: Option<RefundInput>,
    },
    Move {
        to: StatusKey,
    },
    /// The order stayed in its status beyond the status's SLA (`sla_hours`): the alert to the company, raised once
    /// per stay by the SLA check (System actor only).
    FlagSlaBreach,
    /// Sends the customer the current link of the order again (any staff role; no status change).
    ResendLink,
    /// The notifier records a message it sent (System actor only; allowed in every status, final ones included).
    RecordNotification {
        channel: String,
        to_masked: String,
        template: String,
        ok: bool,
        error: Option<String>,
        /// The version of the event the message was about.
        for_version: Option<u64>,
    },
    /// New data of the order's customer (staff; also how an edit of the customer's record reaches each open
    /// order). `customer_id`: the record the order belongs to from now on.
    EditCustomer {
        customer: Customer,
        customer_id: Option<CustomerId>,
    },
    /// New data of the order's equipment; `equipment_id`: the record it links to from now on.
    EditEquipment {
        equipment: Equipment,
        equipment_id: Option<EquipmentId>,
    },
    /// A new due date (the customer is told).
    ChangeDueDate {
        due_date: NaiveDate,
    },
    /// Assigns the technician in charge, or replaces them (the use case checks that the user is one of the
    /// company's).
    AssignTechnician {
        technician: UserId,
    },
    /// Erases the customer's personal data from the order (LGPD), in any status: the representante, on the
    /// customer's request.
    AnonymizeCustomer,
    /// Records on a released order the warranty return opened for it (any status after release, final ones
    /// included; staff who may open orders).
    RecordWarrantyReturn {
        link: WarrantyLink,
    },
    /// The equipment's unlock code left, replaced (`set`) or removed while the order is open (the code itself
    /// goes to the store's sealed keeping, never into the command).
    ChangeUnlockCode {
        set: bool,
    },
    /// Records that a staff member (tecnico, representante) read the unlock code.
    ReadUnlockCode,
}

/// The most cartas de correção of one NF-e (`nSeqEvento` 1–20).
pub const MAX_CORRECTIONS: u8 = 20;

/// The money given back when a paid order is cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundInput {
    pub amount: Money,
    pub method: PaymentMethod,
    pub reference: Option<String>,
}

impl Command {
    /// Stable name of the command, used in refusals.
    pub fn name(&self) -> &'static str {
        match self {
            Command::SendQuote => "send_quote",
            Command::ReviseQuote { .. } => "revise_quote",
            Command::DecideQuote { .. } => "decide_quote",
            Command::Start => "start",
            Command::AddNote { .. } => "add_note",
            Command::AddAttachment { .. } => "add_attachment",
            Command::WaitMaterial { .. } => "wait_material",
            Command::ChangeMaterialDate { .. } => "change_material_date",
            Command::MaterialArrived => "resume",
            Command::Finish { .. } => "finish",
            Command::Validate { .. } => "validate",
            Command::RequestPayment => "request_payment",
            Command::RegisterPayment { .. } => "register_payment",
            Command::RecordInvoice { .. } => "record_invoice",
            Command::RecordInvoiceCorrection { .. } => "record_invoice_correction",
            Command::RetryInvoice { .. } => "retry_invoice",
            Command::RecordExternalNfse { .. } => "record_external_nfse",
            Command::Release => "release",
            Command::Close => "close",
            Command::Cancel { .. } => "cancel",
            Command::Move { .. } => "move",
            Command::FlagSlaBreach => "flag_sla_breach",
            Command::ResendLink => "resend_link",
            Command::RecordNotification { .. } => "record_notification",
            Command::EditCustomer { .. } => "edit_customer",
            Command::EditEquipment { .. } => "edit_equipment",
            Command::ChangeDueDate { .. } => "change_due_date",
            Command::AssignTechnician { .. } => "assign_technician",
            Command::AnonymizeCustomer => "anonymize_customer",
            Command::RecordWarrantyReturn { .. } => "record_warranty_return",
            Command::ChangeUnlockCode { .. } => "change_unlock_code",
            Command::ReadUnlockCode => "read_unlock_code",
        }
    }
}

/// Why a command is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DomainError {
    /// The command does not apply to the order's current status.
    #[error("{action} is not allowed in status {status}")]
    NotAllowedInStatus { action: String, status: StatusKey },
    /// The actor has none of the roles the flow allows for this command.
    #[error("{action} requires one of the roles {allowed:?}")]
    RoleNotAllowed { action: String, allowed: Vec<Role> },
    /// A guard of the transition failed.
    #[error("{action}: guard {guard} failed")]
    GuardFailed { action: String, guard: Guard },
    /// The decision refers to a quote revision that is no longer waiting for a decision.
    #[error("quote revision {revision} is not the one waiting for a decision")]
    StaleRevision { revision: u32 },
    /// The order's NF-e is authorized: it must be cancelled (event 110111) before the order is.
    #[error("the order's NF-e {key} is authorized: cancel it first")]
    InvoiceNotCancelled { key: String },
    /// A field of the command is invalid.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// A status key that the order's flow does not define.
    #[error("{field}: unknown status {status:?}")]
    UnknownStatus { field: String, status: String },
    /// Only a rejected or pending NF-e can be sent again (`None`: the order has no NF-e).
    #[error("the order's NF-e is {state:?}, only a rejected or pending one can be sent again")]
    InvoiceNotRejected { state: Option<InvoiceState> },
    /// A record of a fiscal document the order already shows, or older than what it shows (a pending record
    /// after the authorization: a late, concurrent delivery): nothing to record.
    #[error("the order already shows this state of document {key}, or a later one")]
    InvoiceRecordStale { key: String },
    /// The flow passed in is not the version the order runs on.
    #[error("order runs on flow version {expected}, got {got}")]
    FlowVersionMismatch { expected: u32, got: u32 },
    /// The step would take the order past what one order may hold (see [`crate::bounds`]).
    #[error("the order would have {bytes} bytes, over its limit of {limit}")]
    OrderTooLarge { bytes: usize, limit: usize },
}

fn invalid(field: &str, reason: impl Into<String>) -> DomainError {
    DomainError::Invalid { field: field.to_owned(), reason: reason.into() }
}

/// A trimmed, non-empty text of at most `max` characters without control characters.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(invalid(field, format!("must have at most {max} characters")));
    }
    if v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(field, "must not contain control characters"));
    }
    if let Some(c) = crate::values::text::untransportable(v) {
        return Err(invalid(field, crate::values::text::refusal(c)));
    }
    Ok(v.to_owned())
}

pub(crate) fn opt_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, DomainError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// Largest total of one quote line (R$ 1 trillion): with at most 500 lines, sums stay far inside [`Money`]'s range.
pub const MAX_LINE_TOTAL_CENTS: i64 = 100_000_000_000_000;

const STAFF_OPEN: [Role; 3] = [Role::Representante, Role::Atendente, Role::Tecnico];
const STAFF_ALL: [Role; 4] = [Role::Representante, Role::Atendente, Role::Tecnico, Role::Financeiro];
const PAYMENT_ROLES: [Role; 3] = [Role::Representante, Role::Atendente, Role::Financeiro];
const INVOICE_RETRY_ROLES: [Role; 2] = [Role::Representante, Role::Financeiro];

fn check_lines(field: &str, items: &[LineInput], allow_empty: bool) -> Result<Vec<LineInput>, DomainError> {
    if items.is_empty() && !allow_empty {
        return Err(invalid(field, "must have at least one line"));
    }
    if items.len() > crate::bounds::MAX_QUOTE_LINES {
        return Err(invalid(field, format!("must have at most {} lines", crate::bounds::MAX_QUOTE_LINES)));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = |name: &str| format!("{field}[{i}].{name}");
            if l.unit_price.is_negative() {
                return Err(invalid(&f("unit_price"), "must not be negative"));
            }
            match l.unit_price.checked_mul_quantity(l.quantity) {
                Some(total) if total.cents() <= MAX_LINE_TOTAL_CENTS => {}
                _ => return Err(invalid(&f("quantity"), "quantity × unit_price is too large")),
            }
            if let Some(d) = l.discount {
                let total = l.unit_price.checked_mul_quantity(l.quantity).unwrap_or_default();
                check_discount(&f("discount"), d, total, "the line's total")?;
            }
            if l.warranty_days.is_some_and(|d| d > MAX_WARRANTY_DAYS) {
                return Err(invalid(&f("warranty_days"), format!("must be at most {MAX_WARRANTY_DAYS} days")));
            }
            if l.kind == LineKind::Part && l.ncm.is_none() {
                return Err(invalid(&f("ncm"), "is required for parts (it goes on the NF-e)"));
            }
            let code = if l.code.trim().is_empty() { String::new() } else { text(&f("code"), &l.code, 60)? };
            Ok(LineInput { code, description: text(&f("description"), &l.description, 120)?, ..l.clone() })
        })
        .collect()
}

fn check_discount(field: &str, discount: Discount, base: Money, of_what: &str) -> Result<Money, DomainError> {
    discount.on(base).map_err(|e| match e {
        DiscountError::Negative => invalid(field, "must not be negative"),
        DiscountError::OverAmount => invalid(field, format!("must not exceed {of_what} ({base})")),
    })
}

/// Checks the revision's discount against its lines (checked by [`check_lines`]) after their own discounts.
fn check_revision_discount(lines: &[LineInput], discount: Option<Discount>) -> Result<(), DomainError> {
    let Some(d) = discount else { return Ok(()) };
    let after: Money = lines
        .iter()
        .map(|l| {
            let total = l.unit_price.checked_mul_quantity(l.quantity).unwrap_or_default();
            total - l.discount.and_then(|d| d.on(total).ok()).unwrap_or_default()
        })
        .sum();
    check_discount("discount", d, after, "the lines' total after their discounts").map(drop)
}

/// Decides the opening of an order (step 1) on the company's current flow.
pub fn decide_open(flow: &Flow, cmd: OpenOrder, actor: &Actor, now: DateTime<Utc>) -> Result<Event, DomainError> {
    if !actor.has_any_role(&STAFF_OPEN) {
        return Err(DomainError::RoleNotAllowed { action: "open".into(), allowed: STAFF_OPEN.to_vec() });
    }
    let customer = crate::records::check_customer("customer", cmd.customer)?;
    let equipment = crate::records::check_equipment("equipment", cmd.equipment)?;
    let service = Service {
        kind: text("service.type", &cmd.service.kind, 60)?,
        reported_problem: text("service.reported_problem", &cmd.service.reported_problem, 2000)?,
    };
    if let Some(d) = cmd.due_date
        && d < now.date_naive()
    {
        return Err(invalid("due_date", "must not be in the past"));
    }
    let items = check_lines("items", &cmd.items, true)?;
    check_revision_discount(&items, cmd.discount)?;
    let intake = match cmd.intake {
        None => None,
        Some(i) => {
            if i.accessories.len() > MAX_ACCESSORIES {
                return Err(invalid("intake.accessories", format!("must have at most {MAX_ACCESSORIES} items")));
            }
            let accessories = i
                .accessories
                .iter()
                .enumerate()
                .map(|(n, a)| text(&format!("intake.accessories[{n}]"), a, 120))
                .collect::<Result<Vec<_>, _>>()?;
            Some(Intake {
                accessories,
                condition: opt_text("intake.condition", i.condition.as_deref(), 1000)?,
                unlock_code: i.unlock_code,
            })
        }
    };
    let quote = QuoteRevision::new(1, false, items, cmd.discount, cmd.due_date, now);
    Ok(Event {
        version: 1,
        at: now,
        actor: actor.clone(),
        action: None,
        status_before: None,
        status_after: flow.initial().clone(),
        sla_due: sla_due(flow, flow.initial(), now),
        change: Change::Opened(Box::new(Opened {
            id: cmd.id,
            tenant: cmd.tenant,
            number: cmd.number,
            flow_version: flow.version,
            customer,
            equipment,
            service,
            due_date: cmd.due_date,
            technician: cmd.technician,
            quote,
            customer_id: None,
            equipment_id: None,
            intake,
            warranty_of: cmd.warranty_of,
        })),
    })
}

/// When a stay in `status` entered at `entered` goes over the status's SLA (`sla_hours` of the flow), if it has one.
fn sla_due(flow: &Flow, status: &StatusKey, entered: DateTime<Utc>) -> Option<DateTime<Utc>> {
    flow.status(status).and_then(|s| s.sla_hours).map(|h| entered + chrono::Duration::hours(i64::from(h)))
}

/// Decides a command on an existing order. Returns the events to append (versions `order.version + 1…`).
pub fn decide(
    order: &Order,
    flow: &Flow,
    cmd: Command,
    actor: &Actor,
    ctx: &Context,
) -> Result<Vec<Event>, DomainError> {
    decide_sized(order, flow, cmd, actor, ctx, true)
}

/// [`decide`]; with `check_size` false, without the size check (it serializes the order): only for a caller that
/// knows the order after the command's events stays below the limits (see `allowed_actions`).
pub(crate) fn decide_sized(
    order: &Order,
    flow: &Flow,
    cmd: Command,
    actor: &Actor,
    ctx: &Context,
    check_size: bool,
) -> Result<Vec<Event>, DomainError> {
    if flow.version != order.flow_version {
        return Err(DomainError::FlowVersionMismatch { expected: order.flow_version, got: flow.version });
    }
    let status_kind = flow.kind_of(&order.status).unwrap_or(StatusKind::Custom);
    let name = cmd.name();
    let size_limit = crate::bounds::limit_for(crate::bounds::adds_content(&cmd));
    let not_allowed = || DomainError::NotAllowedInStatus { action: name.to_owned(), status: order.status.clone() };
    // The changes decided before the status checks: one event each, without a transition.
    let single = |change: Change| {
        let mut out = Emitter { order, flow, actor, ctx, events: Vec::new(), status: order.status.clone() };
        out.push(None, change);
        out.events
    };
    // The notifier's record: only the system, in any status (a closing or cancelling message comes after the
    // order reached its final status), without a transition.
    if let Command::RecordNotification { channel, to_masked, template, ok, error, for_version } = cmd {
        if !matches!(actor, Actor::System { .. }) {
            return Err(DomainError::RoleNotAllowed { action: name.to_owned(), allowed: vec![] });
        }
        let change = Change::NotificationSent {
            channel: text("channel", &channel, 40)?,
            // A message of an order whose customer was anonymized meanwhile names no recipient.
            to_masked: if order.customer_anonymized() { "***".to_owned() } else { text("to_masked", &to_masked, 320)? },
            template: text("template", &template, 80)?,
            ok,
            error: error.map(|e| e.chars().filter(|c| !c.is_control()).take(500).collect()),
            for_version,
        };
        return Ok(single(change));
    }
    // A fiscal document's state, recorded by the system in any status: an NFS-e may be cancelled (or a late
    // answer arrive) after the order was released, closed or cancelled.
    if let (Actor::System { .. }, Command::RecordInvoice { invoice }) = (actor, &cmd) {
        stale_record(order, invoice)?;
        if status_kind.is_final() {
            return Ok(single(Change::InvoiceUpdated { invoice: invoice.clone() }));
        }
    }
    // The LGPD erasure: the representante, in any status (closed orders hold personal data too).
    if let Command::AnonymizeCustomer = cmd {
        if !actor.has_any_role(&[Role::Representante]) {
            return Err(DomainError::RoleNotAllowed { action: name.to_owned(), allowed: vec![Role::Representante] });
        }
        if order.customer_anonymized() {
            return Err(invalid("customer", "is anonymized already"));
        }
        return Ok(single(Change::CustomerAnonymized));
    }
    // The link to a warranty return: on a released order, in any status from then on (closed included).
    if let Command::RecordWarrantyReturn { link } = cmd {
        if !actor.has_any_role(&STAFF_OPEN) {
            return Err(DomainError::RoleNotAllowed { action: name.to_owned(), allowed: STAFF_OPEN.to_vec() });
        }
        if order.released_at.is_none() || order.warranty_returns.contains(&link) || link.order == order.id {
            return Err(not_allowed());
        }
        return Ok(single(Change::WarrantyReturnOpened { link }));
    }
    if status_kind.is_final() {
        return Err(not_allowed());
    }
    // The customer acts only on quotes; the system only records invoices.
    match (actor, &cmd) {
        (Actor::Customer { .. }, Command::DecideQuote { .. })
        | (
            Actor::System { .. },
            Command::RecordInvoice { .. } | Command::RecordInvoiceCorrection { .. } | Command::FlagSlaBreach,
        ) => {}
        (
            Actor::Staff { .. },
            Command::RecordInvoice { .. } | Command::RecordInvoiceCorrection { .. } | Command::FlagSlaBreach,
        )
        | (Actor::Customer { .. }, _)
        | (Actor::System { .. }, _) => {
            return Err(DomainError::RoleNotAllowed { action: name.to_owned(), allowed: vec![] });
        }
        (Actor::Staff { .. }, _) => {}
    }
    let mut out = Emitter { order, flow, actor, ctx, events: Vec::new(), status: order.status.clone() };
    let d = Deciding { order, flow, actor, ctx, name, status_kind };
    match cmd {
        cmd @ (Command::SendQuote | Command::ReviseQuote { .. } | Command::DecideQuote { .. }) => {
            decide_quote(&d, &mut out, cmd)?
        }
        cmd @ (Command::Start
        | Command::AddNote { .. }
        | Command::ResendLink
        | Command::AddAttachment { .. }
        | Command::Finish { .. }
        | Command::Validate { .. }) => decide_execution(&d, &mut out, cmd)?,
        cmd @ (Command::WaitMaterial { .. } | Command::ChangeMaterialDate { .. } | Command::MaterialArrived) => {
            decide_material(&d, &mut out, cmd)?
        }
        cmd @ (Command::RequestPayment | Command::RegisterPayment { .. } | Command::Release) => {
            decide_payment(&d, &mut out, cmd)?
        }
        cmd @ (Command::RecordInvoice { .. }
        | Command::RecordInvoiceCorrection { .. }
        | Command::RetryInvoice { .. }
        | Command::RecordExternalNfse { .. }
        | Command::FlagSlaBreach) => decide_system(&d, &mut out, cmd)?,
        cmd @ (Command::Close | Command::Cancel { .. } | Command::Move { .. }) => decide_closing(&d, &mut out, cmd)?,
        cmd @ (Command::EditCustomer { .. }
        | Command::EditEquipment { .. }
        | Command::ChangeDueDate { .. }
        | Command::AssignTechnician { .. }
        | Command::ChangeUnlockCode { .. }
        | Command::ReadUnlockCode) => decide_edit(&d, &mut out, cmd)?,
        Command::RecordNotification { .. } | Command::AnonymizeCustomer | Command::RecordWarrantyReturn { .. } => {
            unreachable!("decided before the status checks")
        }
    }
    // An order that reaches a final status (closed, cancelled) forgets its unlock code: the store deletes it
    // with this event, in the same write.
    if order.has_unlock_code() && flow.kind_of(&out.status).is_some_and(StatusKind::is_final) {
        out.push(None, Change::UnlockCodeDeleted);
    }
    if check_size {
        crate::bounds::check(order, &out.events, size_limit)
            .map_err(|bytes| DomainError::OrderTooLarge { bytes, limit: size_limit })?;
    }
    Ok(out.events)
}

/// What every group of commands decides with: the order, its flow, who asks, the facts from outside.
#[derive(Clone, Copy)]
struct Deciding<'a> {
    order: &'a Order,
    flow: &'a Flow,
    actor: &'a Actor,
    ctx: &'a Context,
    /// The command's name (`Command::name`).
    name: &'static str,
    status_kind: StatusKind,
}

impl Deciding<'_> {
    fn not_allowed(&self) -> DomainError {
        DomainError::NotAllowedInStatus { action: self.name.to_owned(), status: self.order.status.clone() }
    }

    fn require_roles(&self, allowed: &[Role]) -> Result<(), DomainError> {
        if self.actor.has_any_role(allowed) {
            Ok(())
        } else {
            Err(DomainError::RoleNotAllowed { action: self.name.to_owned(), allowed: allowed.to_vec() })
        }
    }
}

/// The quote: sending it, a new revision, the decision (staff or the customer).
fn decide_quote(d: &Deciding<'_>, out: &mut Emitter<'_>, cmd: Command) -> Result<(), DomainError> {
    let Deciding { order, flow, actor, ctx, name, .. } = *d;
    let not_allowed = || d.not_allowed();
    let require_roles = |allowed: &[Role]| d.require_roles(allowed);
    match cmd {
        Command::SendQuote => {
            let t = out.transition(flow, Action::SendQuote, |_| true)?;
            let rev = order.current_revision().filter(|r| r.status == RevisionStatus::Draft).ok_or_else(not_allowed)?;
            if rev.lines.is_empty() {
                return Err(invalid("quote", "the quote has no lines to send"));
            }
            out.push(Some(t), Change::QuoteSent { revision: rev.revision });
        }
        Command::ReviseQuote { items, discount, due_date } => {
            let t = out.transition(flow, Action::ReviseQuote, |_| true)?;
            if let Some(d) = due_date
                && d < ctx.now.date_naive()
            {
                return Err(invalid("due_date", "must not be in the past"));
            }
            let items = check_lines("items", &items, false)?;
            check_revision_discount(&items, discount)?;
            let current = order.current_revision();
            let supplementary = current.is_some_and(|r| r.supplementary && r.is_pending());
            let mut revision = QuoteRevision::new(
                current.map_or(1, |r| r.revision + 1),
                supplementary,
                items,
                discount,
                due_date.or(order.due_date),
                ctx.now,
            );
            if flow.kind_of(&t.to) == Some(StatusKind::AwaitingApproval) {
                revision.status = RevisionStatus::Sent;
                revision.sent_at = Some(ctx.now);
            }
            out.push(Some(t), Change::QuoteRevised { revision });
        }
        Command::DecideQuote { revision, decision, lines, comment, evidence } => {
            let rev = order.current_revision().filter(|r| r.status == RevisionStatus::Sent).ok_or_else(not_allowed)?;
            if let Some(n) = revision
                && n != rev.revision
            {
                return Err(DomainError::StaleRevision { revision: n });
            }
            let comment = opt_text("comment", comment.as_deref(), 1000)?;
            if decision == QuoteDecision::Adjust && comment.is_none() {
                return Err(invalid("comment", "is required when asking for adjustments"));
            }
            let line_decisions = decide_lines(flow, rev, decision, &lines)?;
            let approved_total = rev
                .lines
                .iter()
                .zip(&line_decisions)
                .filter(|(_, (_, d))| *d == LineDecision::Approve)
                .map(|(l, _)| l.net())
                .sum::<Money>();
            let wanted: &[StatusKind] = match (decision, rev.supplementary) {
                (QuoteDecision::Approve, false) => &[StatusKind::Approved],
                (QuoteDecision::Approve, true) => &[StatusKind::InProgress, StatusKind::Approved],
                (QuoteDecision::Adjust, false) => &[StatusKind::Open],
                (QuoteDecision::Reject, false) => &[StatusKind::Cancelled],
                (QuoteDecision::Adjust | QuoteDecision::Reject, true) => &[StatusKind::Validation],
            };
            let t = wanted
                .iter()
                .find_map(|k| {
                    flow.transitions_from(&order.status, Action::DecideQuote).find(|t| flow.kind_of(&t.to) == Some(*k))
                })
                .ok_or_else(not_allowed)?;
            if !matches!(actor, Actor::Customer { .. }) {
                require_roles(&t.roles)?;
            }
            out.check_guards(name, t)?;
            out.push(
                Some(t),
                Change::QuoteDecided {
                    revision: rev.revision,
                    decision,
                    lines: line_decisions,
                    approved_total,
                    comment,
                    evidence,
                },
            );
        }
        _ => unreachable!("{} is decided by another group", cmd.name()),
    }
    Ok(())
}

/// The work: starting it, notes and photos, finishing, validation (with extra items sent as a supplementary quote).
fn decide_execution(d: &Deciding<'_>, out: &mut Emitter<'_>, cmd: Command) -> Result<(), DomainError> {
    let Deciding { order, flow, ctx, status_kind, .. } = *d;
    let require_roles = |allowed: &[Role]| d.require_roles(allowed);
    match cmd {
        Command::Start => {
            let t = out.transition(flow, Action::Start, |_| true)?;
            out.push(Some(t), Change::Started);
        }
        Command::AddNote { text: t, visible_to_customer } => {
            require_roles(&STAFF_ALL)?;
            let note = Note { text: text("text", &t, 4000)?, visible_to_customer, at: ctx.now };
            out.push(None, Change::NoteAdded { note });
        }
        Command::ResendLink => {
            require_roles(&STAFF_ALL)?;
            out.push(None, Change::LinkResent);
        }
        Command::AddAttachment { key, content_type, caption, visible_to_customer, intake } => {
            require_roles(&STAFF_ALL)?;
            if intake && !matches!(status_kind, StatusKind::Open | StatusKind::AwaitingApproval | StatusKind::Approved)
            {
                return Err(invalid("intake", "intake photos are taken before the work starts"));
            }
            if intake && !content_type.starts_with("image/") {
                return Err(invalid("intake", "only a photo is an intake photo"));
            }
            let attachment = Attachment {
                key: text("key", &key, 512)?,
                content_type: text("content_type", &content_type, 100)?,
                caption: opt_text("caption", caption.as_deref(), 200)?,
                visible_to_customer,
                at: ctx.now,
                intake,
            };
            out.push(None, Change::AttachmentAdded { attachment });
        }
        Command::Finish { tests_performed } => {
            let t = out.transition(flow, Action::Finish, |_| true)?;
            let tests_performed = opt_text("tests_performed", tests_performed.as_deref(), 4000)?;
            out.push(Some(t), Change::Finished { tests_performed });
        }
        Command::Validate { checklist, extra_items } => {
            if checklist.len() > crate::bounds::MAX_CHECKLIST_ITEMS {
                let most = crate::bounds::MAX_CHECKLIST_ITEMS;
                return Err(invalid("checklist", format!("must have at most {most} items")));
            }
            let checklist = checklist
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    Ok(ChecklistItem {
                        item: text(&format!("checklist[{i}].item"), &c.item, 200)?,
                        ok: c.ok,
                        note: opt_text(&format!("checklist[{i}].note"), c.note.as_deref(), 500)?,
                    })
                })
                .collect::<Result<Vec<_>, DomainError>>()?;
            let extra_items = check_lines("extra_items", &extra_items, true)?;
            let t = if status_kind == StatusKind::Validation {
                // Updating the checklist while already in validation: no transition.
                require_roles(&[Role::Representante, Role::Atendente, Role::Tecnico])?;
                None
            } else {
                Some(out.transition(flow, Action::Validate, |_| true)?)
            };
            out.push(t, Change::Validated { checklist });
            if !extra_items.is_empty() {
                let send = out.transition(flow, Action::SendQuote, |_| true)?;
                let next = order.current_revision().map_or(1, |r| r.revision + 1);
                let revision = QuoteRevision::new(next, true, extra_items, None, order.due_date, ctx.now);
                out.push(None, Change::QuoteRevised { revision });
                out.push(Some(send), Change::QuoteSent { revision: next });
            }
        }
        _ => unreachable!("{} is decided by another group", cmd.name()),
    }
    Ok(())
}

/// The pause for materials: waiting, a new expected date, arrival.
fn decide_material(d: &Deciding<'_>, out: &mut Emitter<'_>, cmd: Command) -> Result<(), DomainError> {
    let Deciding { order, flow, ctx, status_kind, .. } = *d;
    let not_allowed = || d.not_allowed();
    let require_roles = |allowed: &[Role]| d.require_roles(allowed);
    match cmd {
        Command::WaitMaterial { reason, parts, expected_at } => {
            let t = out.transition(flow, Action::WaitMaterial, |_| true)?;
            if parts.len() > crate::bounds::MAX_MATERIAL_PARTS {
                return Err(invalid("parts", format!("must have at most {} parts", crate::bounds::MAX_MATERIAL_PARTS)));
            }
            if expected_at < ctx.now.date_naive() {
                return Err(invalid("expected_at", "must not be in the past"));
            }
            let parts = parts
                .iter()
                .enumerate()
                .map(|(i, p)| text(&format!("parts[{i}]"), p, 120))
                .collect::<Result<Vec<_>, _>>()?;
            let material = MaterialWait { reason: text("reason", &reason, 500)?, parts, expected_at, since: ctx.now };
            out.push(Some(t), Change::MaterialAwaited { material });
        }
        Command::ChangeMaterialDate { expected_at } => {
            let roles: Vec<Role> =
                flow.transitions_from(&order.status, Action::Resume).flat_map(|t| t.roles.iter().copied()).collect();
            let current = order.material.as_ref().filter(|_| status_kind == StatusKind::WaitingMaterial);
            let current = current.ok_or_else(not_allowed)?;
            require_roles(&roles)?;
            if expected_at < ctx.now.date_naive() {
                return Err(invalid("expected_at", "must not be in the past"));
            }
            if expected_at == current.expected_at {
                return Err(invalid("expected_at", "is the date already recorded"));
            }
            out.push(None, Change::MaterialDateChanged { previous: current.expected_at, expected_at });
        }
        Command::MaterialArrived => {
            let t = out.transition(flow, Action::Resume, |_| true)?;
            out.push(Some(t), Change::MaterialArrived);
        }
        _ => unreachable!("{} is decided by another group", cmd.name()),
    }
    Ok(())
}

/// Payment and release.
fn decide_payment(d: &Deciding<'_>, out: &mut Emitter<'_>, cmd: Command) -> Result<(), DomainError> {
    let Deciding { order, flow, ctx, .. } = *d;
    let not_allowed = || d.not_allowed();
    let require_roles = |allowed: &[Role]| d.require_roles(allowed);
    match cmd {
        Command::RequestPayment => {
            let t = out.transition(flow, Action::RequestPayment, |_| true)?;
            out.push(Some(t), Change::PaymentRequested { amount_due: order.amount_due() });
        }
        Command::RegisterPayment { amount, method, reference } => {
            require_roles(&PAYMENT_ROLES)?;
            if !order.quote_approved() {
                return Err(not_allowed());
            }
            if amount.is_negative() || amount.is_zero() {
                return Err(invalid("amount", "must be greater than zero"));
            }
            let balance = order.balance();
            if amount > balance {
                return Err(invalid("amount", format!("exceeds the balance of {balance}")));
            }
            let payment = Payment {
                seq: order.payments.len() as u32 + 1,
                amount,
                method,
                at: ctx.now,
                reference: opt_text("reference", reference.as_deref(), 120)?,
            };
            out.push(None, Change::PaymentRegistered { payment, balance: balance - amount });
        }
        Command::Release => {
            let t = out.transition(flow, Action::Release, |_| true)?;
            out.push(Some(t), Change::Released);
        }
        _ => unreachable!("{} is decided by another group", cmd.name()),
    }
    Ok(())
}

/// How far a document's state is along: pending or rejected, then authorized or denied, then cancelled.
fn state_rank(state: InvoiceState) -> u8 {
    match state {
        InvoiceState::Pending | InvoiceState::Rejected => 0,
        InvoiceState::Authorized | InvoiceState::Denied | InvoiceState::Voided => 1,
        InvoiceState::Cancelled => 2,
    }
}

/// Refuses a record the order shows already, or one behind what it shows. A record of another DPS sequence under
/// the same DPS Id (the Id does not hold the environment) is another document: never stale.
fn stale_record(order: &Order, invoice: &InvoiceInfo) -> Result<(), DomainError> {
    match order.invoices.iter().find(|i| i.is_record_of(invoice)) {
        Some(shown)
            if shown == invoice
                || (shown.sequence == invoice.sequence && state_rank(invoice.state) < state_rank(shown.state)) =>
        {
            Err(DomainError::InvoiceRecordStale { key: invoice.key.clone() })
        }
        _ => Ok(()),
    }
}

/// The system's records and the staff's retry of a rejected NF-e: invoice states, SLA breaches.
fn decide_system(d: &Deciding<'_>, out: &mut Emitter<'_>, cmd: Command) -> Result<(), DomainError> {
    let Deciding { order, flow, ctx, .. } = *d;
    let not_allowed = || d.not_allowed();
    let require_roles = |allowed: &[Role]| d.require_roles(allowed);
    match cmd {
        Command::RecordInvoice { invoice } => {
            out.push(None, Change::InvoiceUpdated { invoice });
        }
        Command::RecordInvoiceCorrection { correction } => {
            // One registration per sequence number, in sequence: a second writer of the same number loses.
            let next = order.corrections_of(&correction.key).count() + 1;
            if usize::from(correction.seq) != next || next > usize::from(MAX_CORRECTIONS) {
                return Err(invalid("correction.seq", format!("the next carta de correção of this NF-e is {next}")));
            }
            out.push(None, Change::InvoiceCorrected { correction });
        }
        Command::RetryInvoice { key } => {
            require_roles(&INVOICE_RETRY_ROLES)?;
            // A pending one too: its message may have been lost or parked; the invoicer consults it first. A
            // voided one is issued again under a new number.
            let retryable = |i: &&InvoiceInfo| {
                i.issued_elsewhere.is_none()
                    && matches!(i.state, InvoiceState::Rejected | InvoiceState::Pending | InvoiceState::Voided)
                    && !order.superseded(i)
            };
            let chosen: Vec<&InvoiceInfo> = match &key {
                Some(k) => {
                    let doc = order.document(k).ok_or(DomainError::InvoiceNotRejected { state: None })?;
                    vec![
                        Some(doc)
                            .filter(retryable)
                            .ok_or(DomainError::InvoiceNotRejected { state: Some(doc.state) })?,
                    ]
                }
                None => order.invoices.iter().filter(retryable).collect(),
            };
            if chosen.is_empty() {
                let state = order.nfe().or(order.invoices.last()).map(|i| i.state);
                return Err(DomainError::InvoiceNotRejected { state });
            }
            for i in chosen {
                out.push(None, Change::InvoiceRetryRequested { key: i.key.clone() });
            }
        }
        Command::RecordExternalNfse { number, verification_code, file } => {
            require_roles(&INVOICE_RETRY_ROLES)?;
            if !order.has_approved_labor() {
                return Err(invalid("number", "the order has no approved labor to invoice on an NFS-e"));
            }
            if number == 0 {
                return Err(invalid("number", "must be positive"));
            }
            let key = crate::fiscal::external_key(number);
            if order.document(&key).is_some() {
                return Err(invalid("number", format!("NFS-e {number} is already recorded on this order")));
            }
            let verification_code = text("verification_code", &verification_code, 60)?;
            let invoice = InvoiceInfo {
                kind: DocumentKind::Nfse,
                state: InvoiceState::Authorized,
                serie: 0,
                number,
                key,
                protocol: None,
                cstat: None,
                message: None,
                issued_elsewhere: Some(IssuedElsewhere { verification_code, file }),
                sequence: None,
            };
            out.push(None, Change::InvoiceUpdated { invoice });
        }
        Command::FlagSlaBreach => {
            // Nothing to flag (no limit, not over it yet, or flagged for this stay already): refused, so the
            // check may run any number of times.
            let limit_hours = flow.status(&order.status).and_then(|s| s.sla_hours).ok_or_else(not_allowed)?;
            let over = (ctx.now - order.status_since).num_seconds() > i64::from(limit_hours) * 3600;
            if !over || order.sla_alerted_since == Some(order.status_since) {
                return Err(not_allowed());
            }
            out.push(None, Change::SlaBreached { since: order.status_since, limit_hours });
        }
        _ => unreachable!("{} is decided by another group", cmd.name()),
    }
    Ok(())
}

/// Closing, cancelling, and the moves of a custom flow.
fn decide_closing(d: &Deciding<'_>, out: &mut Emitter<'_>, cmd: Command) -> Result<(), DomainError> {
    let Deciding { order, flow, .. } = *d;
    match cmd {
        Command::Close => {
            let t = out.transition(flow, Action::Close, |_| true)?;
            out.push(Some(t), Change::Closed);
        }
        Command::Cancel { reason, refund } => {
            let reason = text("reason", &reason, 500)?;
            let t = out.transition(flow, Action::Cancel, |_| true)?;
            // Every document osflow issued is cancelled first (one issued elsewhere is the municipality's).
            if let Some(i) =
                order.invoices.iter().find(|i| i.state == InvoiceState::Authorized && i.issued_elsewhere.is_none())
            {
                return Err(DomainError::InvoiceNotCancelled { key: i.key.clone() });
            }
            // What the customer paid goes back, all of it, recorded with the cancellation.
            let kept = order.amount_kept();
            match refund {
                None if kept.is_zero() => {}
                None => return Err(invalid("refund", format!("a OS tem R$ {kept} pagos: registre o estorno"))),
                Some(_) if kept.is_zero() => return Err(invalid("refund", "nada foi pago nesta OS")),
                Some(r) => {
                    if r.amount != kept {
                        return Err(invalid("refund.amount", format!("o estorno deve ser de R$ {kept}, o valor pago")));
                    }
                    let reference = opt_text("refund.reference", r.reference.as_deref(), 120)?;
                    let refund = Refund { amount: r.amount, method: r.method, at: d.ctx.now, reference };
                    out.push(None, Change::PaymentRefunded { refund });
                }
            }
            out.push(Some(t), Change::Cancelled { reason });
        }
        Command::Move { to } => {
            if flow.status(&to).is_none() {
                return Err(DomainError::UnknownStatus { field: "to".into(), status: to.to_string() });
            }
            let t = out.transition(flow, Action::Move, |t| t.to == to)?;
            out.push(Some(t), Change::Moved);
        }
        _ => unreachable!("{} is decided by another group", cmd.name()),
    }
    Ok(())
}

/// The edits of an open order's data: its customer, its equipment, its due date, its technician.
fn decide_edit(d: &Deciding<'_>, out: &mut Emitter<'_>, cmd: Command) -> Result<(), DomainError> {
    let Deciding { order, ctx, .. } = *d;
    match cmd {
        Command::EditCustomer { customer, customer_id } => {
            d.require_roles(&STAFF_ALL)?;
            if order.customer_anonymized() {
                return Err(invalid("customer", "was anonymized at the customer's request"));
            }
            let customer = crate::records::check_customer("customer", customer)?;
            if customer == order.customer && customer_id.is_none_or(|id| order.customer_id == Some(id)) {
                return Err(invalid("customer", "is the data already recorded"));
            }
            out.push(None, Change::CustomerEdited { customer, customer_id });
        }
        Command::EditEquipment { equipment, equipment_id } => {
            d.require_roles(&STAFF_OPEN)?;
            let equipment = crate::records::check_equipment("equipment", equipment)?;
            if equipment == order.equipment && equipment_id.is_none_or(|id| order.equipment_id == Some(id)) {
                return Err(invalid("equipment", "is the data already recorded"));
            }
            out.push(None, Change::EquipmentEdited { equipment, equipment_id });
        }
        Command::ChangeDueDate { due_date } => {
            d.require_roles(&[Role::Representante, Role::Atendente])?;
            if due_date < ctx.now.date_naive() {
                return Err(invalid("due_date", "must not be in the past"));
            }
            if order.due_date == Some(due_date) {
                return Err(invalid("due_date", "is the date already recorded"));
            }
            out.push(None, Change::DueDateChanged { previous: order.due_date, due_date });
        }
        Command::AssignTechnician { technician } => {
            d.require_roles(&[Role::Representante, Role::Atendente])?;
            if order.technician.as_ref() == Some(&technician) {
                return Err(invalid("technician", "is the technician already assigned"));
            }
            out.push(None, Change::TechnicianAssigned { previous: order.technician.clone(), technician });
        }
        Command::ChangeUnlockCode { set } => {
            d.require_roles(&STAFF_OPEN)?;
            if !set && !order.has_unlock_code() {
                return Err(invalid("unlock_code", "no unlock code was left"));
            }
            out.push(None, Change::UnlockCodeChanged { set });
        }
        Command::ReadUnlockCode => {
            d.require_roles(&[Role::Tecnico, Role::Representante])?;
            if !order.has_unlock_code() {
                return Err(invalid("unlock_code", "no unlock code was left"));
            }
            out.push(None, Change::UnlockCodeRead);
        }
        _ => unreachable!("{} is decided by another group", cmd.name()),
    }
    Ok(())
}

fn decide_lines(
    flow: &Flow,
    rev: &QuoteRevision,
    decision: QuoteDecision,
    lines: &[(u32, LineDecision)],
) -> Result<Vec<(u32, LineDecision)>, DomainError> {
    let whole = match decision {
        QuoteDecision::Approve => LineDecision::Approve,
        QuoteDecision::Reject | QuoteDecision::Adjust => LineDecision::Reject,
    };
    if lines.is_empty() {
        return Ok(rev.lines.iter().map(|l| (l.line, whole)).collect());
    }
    if decision != QuoteDecision::Approve {
        return Err(invalid("lines", "per-line decisions go with \"approve\""));
    }
    if !flow.def.per_line_approval {
        return Err(invalid("lines", "the company's flow does not allow per-line approval"));
    }
    for (i, (n, _)) in lines.iter().enumerate() {
        if !rev.lines.iter().any(|l| l.line == *n) {
            return Err(invalid(&format!("lines[{i}].line"), format!("revision {} has no line {n}", rev.revision)));
        }
        if lines[..i].iter().any(|(m, _)| m == n) {
            return Err(invalid(&format!("lines[{i}].line"), format!("line {n} is decided twice")));
        }
    }
    let decided: Vec<(u32, LineDecision)> = rev
        .lines
        .iter()
        .map(|l| (l.line, lines.iter().find(|(n, _)| *n == l.line).map_or(LineDecision::Approve, |(_, d)| *d)))
        .collect();
    if !decided.iter().any(|(_, d)| *d == LineDecision::Approve) {
        return Err(invalid("lines", "approve at least one line, or reject the quote"));
    }
    Ok(decided)
}

/// Collects the events of one command, threading the status through them.
struct Emitter<'a> {
    order: &'a Order,
    flow: &'a Flow,
    actor: &'a Actor,
    ctx: &'a Context,
    events: Vec<Event>,
    status: StatusKey,
}

impl<'a> Emitter<'a> {
    /// Finds the transition for `action` from the current status, checks roles and guards.
    fn transition<'f>(
        &self,
        flow: &'f Flow,
        action: Action,
        pick: impl Fn(&Transition) -> bool,
    ) -> Result<&'f Transition, DomainError> {
        let candidates: Vec<&Transition> =
            flow.def.transitions.iter().filter(|t| t.from == self.status && t.action == action && pick(t)).collect();
        let Some(first) = candidates.first() else {
            return Err(DomainError::NotAllowedInStatus {
                action: action.as_str().to_owned(),
                status: self.status.clone(),
            });
        };
        let t = candidates.iter().find(|t| self.actor.has_any_role(&t.roles)).ok_or_else(|| {
            DomainError::RoleNotAllowed { action: action.as_str().to_owned(), allowed: first.roles.clone() }
        })?;
        self.check_guards(action.as_str(), t)?;
        Ok(t)
    }

    fn check_guards(&self, action: &str, t: &Transition) -> Result<(), DomainError> {
        let o = self.order;
        for guard in &t.guards {
            let ok = match guard {
                Guard::QuoteApproved => o.quote_approved(),
                Guard::ChecklistComplete => o.checklist_complete(),
                Guard::AtLeastOnePhoto => o.has_photo(),
                Guard::PaidInFull => o.paid_in_full(),
                Guard::InvoiceAuthorized => o.fiscal_documents_ready(self.ctx.invoicing),
                Guard::NoPendingExtraItems => !o.pending_extra_items(),
            };
            if !ok {
                return Err(DomainError::GuardFailed { action: action.to_owned(), guard: *guard });
            }
        }
        Ok(())
    }

    fn push(&mut self, t: Option<&Transition>, change: Change) {
        let before = self.status.clone();
        if let Some(t) = t {
            self.status = t.to.clone();
        }
        let sla_due = if self.status != before { sla_due(self.flow, &self.status, self.ctx.now) } else { None };
        self.events.push(Event {
            version: self.order.version + self.events.len() as u64 + 1,
            at: self.ctx.now,
            actor: self.actor.clone(),
            action: t.map(|t| t.action),
            status_before: Some(before),
            status_after: self.status.clone(),
            sla_due,
            change,
        });
    }
}

/// Why a list of events cannot be folded into an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("the first event must be order.opened with version 1")]
    NotOpened,
    #[error("event version {got} follows version {previous}")]
    Gap { previous: u64, got: u64 },
    #[error("order.opened found at version {0}")]
    OpenedTwice(u64),
}

impl Order {
    /// The order an `Opened` event creates.
    pub fn from_opened(event: &Event) -> Option<Order> {
        let Change::Opened(o) = &event.change else { return None };
        let o = o.as_ref().clone();
        Some(Order {
            customer_id: o.customer_id,
            equipment_id: o.equipment_id,
            id: o.id,
            tenant: o.tenant,
            number: o.number,
            version: event.version,
            flow_version: o.flow_version,
            status: event.status_after.clone(),
            status_since: event.at,
            customer: o.customer,
            equipment: o.equipment,
            service: o.service,
            due_date: o.due_date,
            technician: o.technician,
            quote: vec![o.quote],
            payments: vec![],
            checklist: vec![],
            notes: vec![],
            attachments: vec![],
            notifications: vec![],
            intake: o.intake,
            released_at: None,
            warranty_of: o.warranty_of,
            warranty_returns: vec![],
            material: None,
            tests_performed: None,
            invoices: vec![],
            cancel_reason: None,
            sla_alerted_since: None,
            invoice_corrections: Vec::new(),
            refunds: Vec::new(),
            sla_due: event.sla_due,
            created_at: event.at,
            updated_at: event.at,
        })
    }

    /// Folds one event into the order.
    pub fn apply(&mut self, event: &Event) {
        let now = event.at;
        match &event.change {
            Change::Opened(_) => {}
            Change::QuoteRevised { revision } => {
                for r in self.quote.iter_mut().filter(|r| r.is_pending()) {
                    r.status = RevisionStatus::Superseded;
                }
                if let Some(d) = revision.due_date {
                    self.due_date = Some(d);
                }
                self.quote.push(revision.clone());
            }
            Change::QuoteSent { revision } => {
                if let Some(r) = self.revision_mut(*revision) {
                    r.status = RevisionStatus::Sent;
                    r.sent_at = Some(now);
                }
            }
            Change::QuoteDecided { revision, decision, lines, approved_total, comment, .. } => {
                if let Some(r) = self.revision_mut(*revision) {
                    r.status = match decision {
                        QuoteDecision::Approve => RevisionStatus::Approved,
                        QuoteDecision::Reject => RevisionStatus::Rejected,
                        QuoteDecision::Adjust => RevisionStatus::AdjustmentRequested,
                    };
                    r.decided_at = Some(now);
                    r.customer_comment = comment.clone();
                    r.approved_total = *approved_total;
                    for (n, d) in lines {
                        if let Some(l) = r.lines.iter_mut().find(|l| l.line == *n) {
                            l.decision = Some(*d);
                        }
                    }
                }
                if *decision == QuoteDecision::Reject && event.action == Some(Action::DecideQuote) {
                    let main = self.revision(*revision).is_some_and(|r| !r.supplementary);
                    if main {
                        self.cancel_reason =
                            Some(comment.clone().unwrap_or_else(|| "Orçamento recusado pelo cliente".to_owned()));
                    }
                }
            }
            Change::Released => self.released_at = Some(now),
            Change::WarrantyReturnOpened { link } => self.warranty_returns.push(link.clone()),
            Change::Started | Change::Closed | Change::Moved | Change::LinkResent => {}
            Change::NoteAdded { note } => self.notes.push(note.clone()),
            Change::AttachmentAdded { attachment } => self.attachments.push(attachment.clone()),
            Change::MaterialAwaited { material } => self.material = Some(material.clone()),
            Change::MaterialDateChanged { expected_at, .. } => {
                if let Some(m) = self.material.as_mut() {
                    m.expected_at = *expected_at;
                }
            }
            Change::MaterialArrived => self.material = None,
            Change::Finished { tests_performed } => self.tests_performed = tests_performed.clone(),
            Change::Validated { checklist } => self.checklist = checklist.clone(),
            Change::PaymentRequested { .. } => {}
            Change::PaymentRegistered { payment, .. } => self.payments.push(payment.clone()),
            Change::InvoiceUpdated { invoice } => self.record_document(invoice),
            // The document goes back to pending (sent again) until the invoicer records the new answer. Records
            // made when an order held one NF-e name its key. A voided one stays voided: the retry is issued under a
            // new number and key.
            Change::InvoiceRetryRequested { key } => {
                if let Some(i) = self.invoices.iter_mut().find(|i| &i.key == key && i.state != InvoiceState::Voided) {
                    i.state = InvoiceState::Pending;
                    i.cstat = None;
                    i.message = None;
                }
            }
            Change::Cancelled { reason } => self.cancel_reason = Some(reason.clone()),
            Change::InvoiceCorrected { correction } => self.invoice_corrections.push(correction.clone()),
            Change::PaymentRefunded { refund } => self.refunds.push(refund.clone()),
            Change::SlaBreached { since, .. } => {
                self.sla_alerted_since = Some(*since);
                self.sla_due = None;
            }
            Change::NotificationSent { channel, to_masked, template, ok, error, .. } => {
                self.notifications.push(Notification {
                    channel: channel.clone(),
                    to_masked: to_masked.clone(),
                    template: template.clone(),
                    ok: *ok,
                    error: error.clone(),
                    at: now,
                });
                // The item keeps the latest ones; the timeline keeps them all.
                let over = self.notifications.len().saturating_sub(crate::bounds::NOTIFICATIONS_KEPT);
                self.notifications.drain(..over);
            }
            Change::CustomerEdited { customer, customer_id } => {
                self.customer = customer.clone();
                if customer_id.is_some() {
                    self.customer_id = *customer_id;
                }
            }
            Change::EquipmentEdited { equipment, equipment_id } => {
                self.equipment = equipment.clone();
                if equipment_id.is_some() {
                    self.equipment_id = *equipment_id;
                }
            }
            Change::DueDateChanged { due_date, .. } => self.due_date = Some(*due_date),
            Change::UnlockCodeChanged { set } => self.intake.get_or_insert_default().unlock_code = *set,
            Change::UnlockCodeDeleted => {
                if let Some(i) = &mut self.intake {
                    i.unlock_code = false;
                }
            }
            Change::UnlockCodeRead => {}
            Change::TechnicianAssigned { technician, .. } => self.technician = Some(technician.clone()),
            Change::CustomerAnonymized => {
                self.customer = crate::records::anonymized_customer();
                for n in &mut self.notifications {
                    n.to_masked = "***".to_owned();
                }
                for r in &mut self.quote {
                    r.customer_comment = None;
                }
            }
        }
        if event.status_after != self.status {
            self.status = event.status_after.clone();
            self.status_since = now;
            self.sla_due = event.sla_due;
        }
        self.version = event.version;
        self.updated_at = now;
    }

    /// Rebuilds an order from its whole history.
    pub fn replay<'e>(events: impl IntoIterator<Item = &'e Event>) -> Result<Order, ReplayError> {
        let mut it = events.into_iter();
        let first = it.next().filter(|e| e.version == 1).ok_or(ReplayError::NotOpened)?;
        let mut order = Order::from_opened(first).ok_or(ReplayError::NotOpened)?;
        for e in it {
            if e.version != order.version + 1 {
                return Err(ReplayError::Gap { previous: order.version, got: e.version });
            }
            if matches!(e.change, Change::Opened(_)) {
                return Err(ReplayError::OpenedTwice(e.version));
            }
            order.apply(e);
        }
        Ok(order)
    }
}

impl Event {
    /// An opening linked to the company's records: the customer's and the equipment's (the use case finds or
    /// creates them before the order is stored). Other events are returned as they are.
    pub fn with_records(mut self, customer: Option<CustomerId>, equipment: Option<EquipmentId>) -> Event {
        if let Change::Opened(o) = &mut self.change {
            o.customer_id = customer;
            o.equipment_id = equipment;
        }
        self
    }
}

/// Convenience: decides and applies, returning the events and the new state.
pub fn step(
    order: &Order,
    flow: &Flow,
    cmd: Command,
    actor: &Actor,
    ctx: &Context,
) -> Result<(Vec<Event>, Order), DomainError> {
    let events = decide(order, flow, cmd, actor, ctx)?;
    let mut next = order.clone();
    for e in &events {
        next.apply(e);
    }
    Ok((events, next))
}
