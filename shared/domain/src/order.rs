//! The service order (OS) and its parts: customer, equipment, quote revisions, payments, checklist, notes.
//!
//! An [`Order`] is only ever changed by folding [`crate::Event`]s into it (see [`crate::machine`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::discount::{Discount, apportion};
use crate::fiscal::{DocumentKind, IssuedElsewhere};
use crate::flow::StatusKey;
use crate::records::{CustomerId, EquipmentId};
use crate::values::{CityCode, Document, Email, Money, Ncm, OrderId, Phone, Quantity, TenantId, Uf, UserId, Zip};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
    pub number: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    pub city_code: CityCode,
    pub uf: Uf,
    pub zip: Zip,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    pub name: String,
    pub document: Document,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Phone>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Equipment {
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Free service type of the company, e.g. "reparo", "instalação", "consultoria".
    #[serde(rename = "type")]
    pub kind: String,
    pub reported_problem: String,
}

fn is_zero(m: &Money) -> bool {
    m.is_zero()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// A part: goes on the NF-e (needs an NCM).
    Part,
    /// Labor: goes on the NFS-e.
    Labor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineDecision {
    Approve,
    Reject,
}

/// A line of a quote as typed by staff (parsed values; validated again by [`QuoteLine::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineInput {
    pub kind: LineKind,
    #[serde(default)]
    pub code: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncm: Option<Ncm>,
    pub quantity: Quantity,
    pub unit_price: Money,
    /// The line's own discount (off quantity × unit price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    /// The line's warranty in days from release (the company's default for its kind when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    /// 1-based position in the revision.
    pub line: u32,
    pub kind: LineKind,
    pub code: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ncm: Option<Ncm>,
    pub quantity: Quantity,
    pub unit_price: Money,
    /// quantity × unit price, rounded half away from zero to the centavo (before discounts: the NF-e `vProd`).
    pub total: Money,
    /// The line's own discount as typed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    /// The whole discount of the line: its own plus its share of the revision's (the NF-e `vDesc`); at most
    /// `total`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discount_total: Money,
    /// The line's warranty in days from release (`None` on lines typed before warranties were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty_days: Option<u32>,
    /// The customer's decision on this line, once the revision is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<LineDecision>,
}

impl QuoteLine {
    pub fn is_approved(&self) -> bool {
        self.decision == Some(LineDecision::Approve)
    }

    /// What the line costs the customer: `total − discount_total`, never negative.
    pub fn net(&self) -> Money {
        self.total - self.discount_total
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevisionStatus {
    /// Being prepared by staff.
    Draft,
    /// Sent to the customer, waiting for a decision.
    Sent,
    Approved,
    Rejected,
    /// The customer asked for adjustments.
    AdjustmentRequested,
    /// Replaced by a later revision before a decision.
    Superseded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteRevision {
    pub revision: u32,
    /// A supplementary quote of extra items found during execution/validation.
    #[serde(default)]
    pub supplementary: bool,
    pub status: RevisionStatus,
    pub lines: Vec<QuoteLine>,
    /// The revision's discount as typed (off the lines' amounts after their own discounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<Discount>,
    /// Every discount of the revision (the lines' own and the revision's): the sum of the lines'
    /// `discount_total`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub discount_total: Money,
    /// The part lines after discounts.
    pub parts_total: Money,
    /// The labor lines after discounts.
    pub labor_total: Money,
    /// What the revision costs: `parts_total + labor_total` (after discounts).
    pub total: Money,
    /// Sum of the approved lines (after discounts) once decided.
    pub approved_total: Money,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_comment: Option<String>,
}

impl QuoteRevision {
    /// Builds a revision from lines checked by the state machine (line totals within
    /// [`crate::machine::MAX_LINE_TOTAL_CENTS`], each discount within its line, the revision's discount within
    /// the lines after theirs), numbering them and computing discounts and totals.
    pub(crate) fn new(
        revision: u32,
        supplementary: bool,
        inputs: Vec<LineInput>,
        discount: Option<Discount>,
        due_date: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> QuoteRevision {
        let mut lines: Vec<QuoteLine> = inputs
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let total = l.unit_price.checked_mul_quantity(l.quantity).expect("line totals are checked before");
                let own = l.discount.map_or(Money::zero(), |d| d.on(total).expect("line discounts are checked before"));
                QuoteLine {
                    line: i as u32 + 1,
                    total,
                    kind: l.kind,
                    code: l.code,
                    description: l.description,
                    ncm: l.ncm,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    discount: l.discount,
                    discount_total: own,
                    warranty_days: l.warranty_days,
                    decision: None,
                }
            })
            .collect();
        let bases: Vec<Money> = lines.iter().map(QuoteLine::net).collect();
        let whole = discount.map_or(Money::zero(), |d| {
            d.on(bases.iter().copied().sum()).expect("the revision's discount is checked before")
        });
        for (line, share) in lines.iter_mut().zip(apportion(whole, &bases)) {
            line.discount_total += share;
        }
        let sum = |kind: LineKind| lines.iter().filter(|l| l.kind == kind).map(QuoteLine::net).sum::<Money>();
        let (parts_total, labor_total) = (sum(LineKind::Part), sum(LineKind::Labor));
        QuoteRevision {
            revision,
            supplementary,
            status: RevisionStatus::Draft,
            discount,
            discount_total: lines.iter().map(|l| l.discount_total).sum(),
            parts_total,
            labor_total,
            total: parts_total + labor_total,
            approved_total: Money::zero(),
            lines,
            due_date,
            created_at: now,
            sent_at: None,
            decided_at: None,
            customer_comment: None,
        }
    }

    pub fn is_pending(&self) -> bool {
        matches!(self.status, RevisionStatus::Draft | RevisionStatus::Sent)
    }

    /// The lines before any discount: `total + discount_total`.
    pub fn subtotal(&self) -> Money {
        self.total + self.discount_total
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    Pix,
    Cash,
    Credit,
    Debit,
    Boleto,
    Transfer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    /// 1-based sequence within the order.
    pub seq: u32,
    pub amount: Money,
    pub method: PaymentMethod,
    pub at: DateTime<Utc>,
    /// Card authorization code, PIX end-to-end id, boleto number…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// Money given back to the customer when an order that was paid is cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    pub amount: Money,
    pub method: PaymentMethod,
    pub at: DateTime<Utc>,
    /// The refund's PIX end-to-end id, the card chargeback code…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// A carta de correção (event 110110) SEFAZ registered for one of the order's NF-e.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceCorrection {
    /// The NF-e's access key.
    pub key: String,
    /// `nSeqEvento`, 1–20 per NF-e; the latest supersedes the earlier ones.
    pub seq: u8,
    /// `xCorrecao`.
    pub text: String,
    /// `nProt` of the registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecklistItem {
    pub item: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub text: String,
    pub visible_to_customer: bool,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// Storage key of the file (S3 key or path in the data folder); never a public URL.
    pub key: String,
    pub content_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    pub visible_to_customer: bool,
    pub at: DateTime<Utc>,
    /// An intake photo: the equipment as it was received (taken at opening or before the work starts).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub intake: bool,
}

impl Attachment {
    pub fn is_photo(&self) -> bool {
        self.content_type.starts_with("image/")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialWait {
    pub reason: String,
    pub parts: Vec<String>,
    pub expected_at: NaiveDate,
    pub since: DateTime<Utc>,
}

/// A message sent to the customer about the order, as recorded by `order.notification_sent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// `email` or `webhook`.
    pub channel: String,
    pub to_masked: String,
    pub template: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceState {
    Pending,
    Authorized,
    Rejected,
    Denied,
    /// Authorized, then cancelled by the event 110111 registered at SEFAZ.
    Cancelled,
    /// Never authorized, and its number voided at SEFAZ (inutilização): given up for good. The order's next
    /// attempt takes a new number.
    Voided,
}

/// A fiscal document of the order as the invoicer (or staff, for an NFS-e issued elsewhere) last reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceInfo {
    /// NF-e (absent on records made before the NFS-e: they are all NF-e) or NFS-e.
    #[serde(default)]
    pub kind: DocumentKind,
    pub state: InvoiceState,
    pub serie: u32,
    pub number: u64,
    /// NF-e: the 44-character access key. NFS-e: the 45-character DPS Id (its 50-digit NFS-e key is the
    /// `protocol`), or [`crate::fiscal::external_key`] for one issued elsewhere.
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cstat: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// An NFS-e issued outside osflow, recorded by staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_elsewhere: Option<IssuedElsewhere>,
    /// An NFS-e issued through osflow: the DPS sequence it was numbered in (emitter CNPJ, série and environment,
    /// as the invoicer names it). The order's latest sequence decides its release: a DPS of an earlier one (the
    /// emitter moved between homologação and produção) is superseded. Absent on records made before the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub tenant: TenantId,
    /// Human number of the OS within the company (1, 2, 3…).
    pub number: u64,
    /// Number of events folded into this state; the version writes are conditional on.
    pub version: u64,
    /// The flow version the order runs on, for its whole life.
    pub flow_version: u32,
    pub status: StatusKey,
    pub status_since: DateTime<Utc>,
    pub customer: Customer,
    pub equipment: Equipment,
    pub service: Service,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<NaiveDate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technician: Option<UserId>,
    pub quote: Vec<QuoteRevision>,
    #[serde(default)]
    pub payments: Vec<Payment>,
    #[serde(default)]
    pub checklist: Vec<ChecklistItem>,
    #[serde(default)]
    pub notes: Vec<Note>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The messages sent to the customer (`order.notification_sent`), oldest first.
    #[serde(default)]
    pub notifications: Vec<Notification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<MaterialWait>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests_performed: Option<String>,
    /// The fiscal documents (NF-e, NFS-e), in the order they were first recorded (see [`crate::fiscal`]).
    #[serde(default, alias = "invoice", deserialize_with = "crate::fiscal::one_or_many")]
    pub invoices: Vec<InvoiceInfo>,
    /// The cartas de correção of the order's NF-e, in the order registered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invoice_corrections: Vec<InvoiceCorrection>,
    /// Money given back (a paid order cancelled).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<Refund>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_reason: Option<String>,
    /// What was received with the equipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intake: Option<crate::warranty::Intake>,
    /// When the order was released (its lines' warranties start that day).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<DateTime<Utc>>,
    /// The order this one is a warranty return of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warranty_of: Option<crate::warranty::WarrantyLink>,
    /// The warranty returns opened for this order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warranty_returns: Vec<crate::warranty::WarrantyLink>,
    /// The stay (`status_since` of the status) the SLA alert was raised for: one alert per stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_alerted_since: Option<DateTime<Utc>>,
    /// When the current stay goes over its status's SLA, until its alert is raised (`None`: no limit, or
    /// alerted): the SLA check reads only the orders due by now, through the stores' index on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_due: Option<DateTime<Utc>>,
    /// The customer record the order belongs to (absent on orders opened before records were kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<CustomerId>,
    /// The equipment record, when the equipment has a serial (or tag).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equipment_id: Option<EquipmentId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Order {
    /// The latest main (non-supplementary) revision.
    pub fn main_revision(&self) -> Option<&QuoteRevision> {
        self.quote.iter().rev().find(|r| !r.supplementary)
    }

    /// The latest revision of any kind.
    pub fn current_revision(&self) -> Option<&QuoteRevision> {
        self.quote.last()
    }

    pub fn revision(&self, n: u32) -> Option<&QuoteRevision> {
        self.quote.iter().find(|r| r.revision == n)
    }

    pub(crate) fn revision_mut(&mut self, n: u32) -> Option<&mut QuoteRevision> {
        self.quote.iter_mut().find(|r| r.revision == n)
    }

    /// Whether the main quote has been approved by the customer.
    pub fn quote_approved(&self) -> bool {
        self.quote.iter().any(|r| !r.supplementary && r.status == RevisionStatus::Approved)
    }

    /// Amount the customer owes: the approved lines of every approved revision.
    pub fn amount_due(&self) -> Money {
        self.quote.iter().filter(|r| r.status == RevisionStatus::Approved).map(|r| r.approved_total).sum()
    }

    pub fn amount_paid(&self) -> Money {
        self.payments.iter().map(|p| p.amount).sum()
    }

    pub fn amount_refunded(&self) -> Money {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    /// What the customer paid and was not given back.
    pub fn amount_kept(&self) -> Money {
        self.amount_paid() - self.amount_refunded()
    }

    /// The cartas de correção of the NF-e `key`, in sequence.
    pub fn corrections_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a InvoiceCorrection> + 'a {
        self.invoice_corrections.iter().filter(move |c| c.key == key)
    }

    pub fn balance(&self) -> Money {
        self.amount_due() - self.amount_paid()
    }

    pub fn paid_in_full(&self) -> bool {
        self.balance().is_zero()
    }

    /// Approved part lines that cost something after their discounts: what goes on the NF-e (a line at zero,
    /// given away or covered by a warranty, is not sold).
    pub fn approved_parts(&self) -> impl Iterator<Item = &QuoteLine> {
        self.approved_lines(LineKind::Part)
    }

    /// Approved lines of `kind` that cost something after their discounts: what the NF-e (parts) or the NFS-e
    /// (labor) declares.
    pub fn approved_lines(&self, kind: LineKind) -> impl Iterator<Item = &QuoteLine> {
        self.quote
            .iter()
            .filter(|r| r.status == RevisionStatus::Approved)
            .flat_map(|r| r.lines.iter())
            .filter(move |l| l.kind == kind && l.is_approved() && l.net().is_positive())
    }

    pub fn checklist_complete(&self) -> bool {
        !self.checklist.is_empty() && self.checklist.iter().all(|c| c.ok)
    }

    pub fn pending_extra_items(&self) -> bool {
        self.quote.iter().any(|r| r.supplementary && r.is_pending())
    }

    pub fn has_photo(&self) -> bool {
        self.attachments.iter().any(Attachment::is_photo)
    }

    /// Whether the order's NF-e is authorized.
    pub fn invoice_authorized(&self) -> bool {
        self.nfe().is_some_and(|i| i.state == InvoiceState::Authorized)
    }
}
