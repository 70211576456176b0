//! Response bodies. Money and quantities are decimal strings, dates ISO 8601; absent values are `null`.

use chrono::{DateTime, NaiveDate, Utc};
use osflow_app::InvoiceRecord;
use osflow_domain as d;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enums::{
    Discount, InvoiceState, LineDecision, LineKind, NotifyChannel, PaymentMethod, RevisionStatus, Role,
};
use super::instant::{rfc3339, rfc3339_opt};
use super::requests::{MessageTemplate, StatusDefDto, TransitionDto};

/// Labels of the statuses of the flow versions an answer touches.
pub trait Labels {
    /// The pt-BR label of `status` in flow `version` (the key itself when unknown).
    fn label(&self, version: u32, status: &d::StatusKey) -> String;
}

impl Labels for d::Flow {
    fn label(&self, _version: u32, status: &d::StatusKey) -> String {
        self.status(status).map_or_else(|| status.to_string(), |s| s.label.clone())
    }
}

impl Labels for [d::Flow] {
    fn label(&self, version: u32, status: &d::StatusKey) -> String {
        match self.iter().find(|f| f.version == version) {
            Some(f) => f.label(version, status),
            None => status.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddressView {
    pub street: String,
    pub number: String,
    pub complement: Option<String>,
    pub district: String,
    pub city: String,
    #[schema(example = "3550308")]
    pub city_code: String,
    #[schema(example = "SP")]
    pub uf: String,
    #[schema(example = "01305000")]
    pub zip: String,
}

impl From<&d::Address> for AddressView {
    fn from(a: &d::Address) -> AddressView {
        AddressView {
            street: a.street.clone(),
            number: a.number.clone(),
            complement: a.complement.clone(),
            district: a.district.clone(),
            city: a.city.clone(),
            city_code: a.city_code.as_str().to_owned(),
            uf: a.uf.as_str().to_owned(),
            zip: a.zip.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    pub name: String,
    /// The document's characters without punctuation.
    #[schema(example = "52998224725")]
    pub document: String,
    /// `CPF` or `CNPJ`.
    #[schema(example = "CPF")]
    pub document_type: String,
    /// The document with its usual punctuation.
    #[schema(example = "529.982.247-25")]
    pub document_formatted: String,
    pub email: Option<String>,
    /// E.164.
    #[schema(example = "+5511987654321")]
    pub phone: Option<String>,
    pub address: Option<AddressView>,
}

impl From<&d::Customer> for CustomerView {
    fn from(c: &d::Customer) -> CustomerView {
        CustomerView {
            name: c.name.clone(),
            document: c.document.as_str().to_owned(),
            document_type: c.document.kind().as_str().to_owned(),
            document_formatted: c.document.to_string(),
            email: c.email.as_ref().map(|e| e.as_str().to_owned()),
            phone: c.phone.as_ref().map(|p| p.as_str().to_owned()),
            address: c.address.as_ref().map(AddressView::from),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EquipmentView {
    pub description: String,
    pub brand: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServiceView {
    #[serde(rename = "type")]
    pub kind: String,
    pub reported_problem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteLineView {
    /// 1-based position in the revision.
    pub line: u32,
    pub kind: LineKind,
    pub code: String,
    pub description: String,
    pub ncm: Option<String>,
    #[schema(example = "1")]
    pub quantity: String,
    #[schema(example = "149.90")]
    pub unit_price: String,
    /// quantity × unit price, rounded to the centavo (before discounts).
    #[schema(example = "149.90")]
    pub total: String,
    /// The line's own discount as typed.
    pub discount: Option<Discount>,
    /// The line's warranty in days from release.
    pub warranty_days: Option<u32>,
    /// The line's whole discount: its own plus its share of the revision's (the NF-e `vDesc`).
    #[schema(example = "0.00")]
    pub discount_total: String,
    /// What the line costs: `total − discount_total`.
    #[schema(example = "149.90")]
    pub net: String,
    /// The customer's decision on this line, once decided.
    pub decision: Option<LineDecision>,
}

/// A quote revision.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct QuoteView {
    pub revision: u32,
    /// A supplementary quote of extra items found during execution or validation.
    pub supplementary: bool,
    pub status: RevisionStatus,
    pub lines: Vec<QuoteLineView>,
    /// The revision's discount as typed (off the lines after their own).
    pub discount: Option<Discount>,
    /// The lines before any discount.
    #[schema(example = "269.90")]
    pub subtotal: String,
    /// Every discount of the revision (the lines' own and the revision's).
    #[schema(example = "0.00")]
    pub discount_total: String,
    /// The part lines after discounts.
    #[schema(example = "149.90")]
    pub parts_total: String,
    /// The labor lines after discounts.
    #[schema(example = "120.00")]
    pub labor_total: String,
    /// `subtotal − discount_total`.
    #[schema(example = "269.90")]
    pub total: String,
    /// Sum of the approved lines (after discounts) once decided.
    #[schema(example = "0.00")]
    pub approved_total: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<NaiveDate>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "rfc3339_opt")]
    pub decided_at: Option<DateTime<Utc>>,
    pub customer_comment: Option<String>,
}

impl From<&d::QuoteRevision> for QuoteView {
    fn from(r: &d::QuoteRevision) -> QuoteView {
        QuoteView {
            revision: r.revision,
            supplementary: r.supplementary,
            status: r.status.into(),
            lines: r
                .lines
                .iter()
                .map(|l| QuoteLineView {
                    line: l.line,
                    kind: l.kind.into(),
                    code: l.code.clone(),
                    description: l.description.clone(),
                    ncm: l.ncm.map(|n| n.as_str().to_owned()),
                    quantity: l.quantity.to_string(),
                    unit_price: l.unit_price.to_string(),
                    total: l.total.to_string(),
                    discount: l.discount.map(Into::into),
                    warranty_days: l.warranty_days,
                    discount_total: l.discount_total.to_string(),
                    net: l.net().to_string(),
                    decision: l.decision.map(Into::into),
                })
                .collect(),
            discount: r.discount.map(Into::into),
            subtotal: r.subtotal().to_string(),
            discount_total: r.discount_total.to_string(),
            parts_total: r.parts_total.to_string(),
            labor_total: r.labor_total.to_string(),
            total: r.total.to_string(),
            approved_total: r.approved_total.to_string(),
            due_date: r.due_date,
            created_at: r.created_at,
            sent_at: r.sent_at,
            decided_at: r.decided_at,
            customer_comment: r.customer_comment.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PaymentView {
    /// 1-based sequence within the order.
    pub seq: u32,
    #[schema(example = "100.00")]
    pub amount: String,
    pub method: PaymentMethod,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub reference: Option<String>,
}

/// Money given back to the customer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RefundView {
    #[schema(example = "269.90")]
    pub amount: String,
    pub method: PaymentMethod,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChecklistItemView {
    pub item: String,
    pub ok: bool,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NoteView {
    pub text: String,
    pub visible_to_customer: bool,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentView {
    /// Storage key of the file (never a public URL).
    pub key: String,
    pub content_type: String,
    pub caption: Option<String>,
    pub visible_to_customer: bool,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// An intake photo (the equipment as received).
    #[serde(default)]
    pub intake: bool,
}

impl From<&d::Attachment> for AttachmentView {
    fn from(a: &d::Attachment) -> AttachmentView {
        AttachmentView {
            key: a.key.clone(),
            content_type: a.content_type.clone(),
            caption: a.caption.clone(),
            visible_to_customer: a.visible_to_customer,
            at: a.at,
            intake: a.intake,
        }
    }
}

/// The pause for missing material.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MaterialView {
    pub reason: String,
    pub parts: Vec<String>,
    #[schema(value_type = String, format = Date)]
    pub expected_at: NaiveDate,
    #[serde(serialize_with = "rfc3339")]
    pub since: DateTime<Utc>,
}

/// A fiscal document of the order as the invoicer (or staff, for an NFS-e issued elsewhere) last reported it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceSummaryView {
    /// `nfe` (parts) or `nfse` (labor).
    #[schema(example = "nfe")]
    pub kind: String,
    pub state: InvoiceState,
    pub serie: u32,
    pub number: u64,
    /// NF-e: the 44-character access key. NFS-e: the 45-character DPS Id (`EXT<number>` for one issued
    /// elsewhere).
    pub key: String,
    /// NF-e: the authorization protocol. NFS-e: its 50-digit access key.
    pub protocol: Option<String>,
    pub cstat: Option<u16>,
    pub message: Option<String>,
    /// An NFS-e issued outside osflow: the municipality's verification code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
    /// An NF-e issued in SEFAZ's contingency (tpEmis 6/7 in its key): `SVC-AN` or `SVC-RS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "SVC-AN")]
    pub contingency: Option<String>,
}

impl From<&osflow_domain::InvoiceInfo> for InvoiceSummaryView {
    fn from(i: &osflow_domain::InvoiceInfo) -> InvoiceSummaryView {
        InvoiceSummaryView {
            kind: i.kind.as_str().to_owned(),
            state: i.state.into(),
            serie: i.serie,
            number: i.number,
            key: i.key.clone(),
            protocol: i.protocol.clone(),
            cstat: i.cstat,
            message: i.message.clone(),
            verification_code: i.issued_elsewhere.as_ref().map(|e| e.verification_code.clone()),
            contingency: i.contingency().map(str::to_owned),
        }
    }
}

/// A service order (OS).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderView {
    /// UUIDv7.
    #[schema(example = "0193a1f2-5c3e-7a10-9b2c-1d2e3f4a5b6c")]
    pub id: String,
    /// Human number of the OS within the company.
    #[schema(example = 1)]
    pub number: u64,
    /// Status key in the order's flow version.
    #[schema(example = "aberta")]
    pub status: String,
    /// pt-BR label of the status.
    #[schema(example = "Aberta")]
    pub status_label: String,
    #[serde(serialize_with = "rfc3339")]
    pub status_since: DateTime<Utc>,
    /// Bumped by every change; the `ETag`.
    #[schema(example = 1)]
    pub version: u64,
    /// The flow version the order runs on for its whole life.
    #[schema(example = 1)]
    pub flow_version: u32,
    pub customer: CustomerView,
    pub equipment: EquipmentView,
    pub service: ServiceView,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<NaiveDate>,
    pub technician: Option<String>,
    /// The current (latest) quote revision.
    pub quote: Option<QuoteView>,
    /// Every revision, oldest first.
    pub quote_revisions: Vec<QuoteView>,
    pub payments: Vec<PaymentView>,
    /// The approved lines of every approved revision.
    #[schema(example = "269.90")]
    pub amount_due: String,
    #[schema(example = "0.00")]
    pub amount_paid: String,
    #[schema(example = "269.90")]
    pub balance: String,
    /// Money given back (a paid order cancelled).
    pub refunds: Vec<RefundView>,
    pub checklist: Vec<ChecklistItemView>,
    pub notes: Vec<NoteView>,
    pub attachments: Vec<AttachmentView>,
    pub material: Option<MaterialView>,
    pub tests_performed: Option<String>,
    /// The order's NF-e (the latest one); every fiscal document is in `invoices`.
    pub invoice: Option<InvoiceSummaryView>,
    /// Every fiscal document of the order (NF-e and NFS-e), in the order they were first recorded.
    pub invoices: Vec<InvoiceSummaryView>,
    pub cancel_reason: Option<String>,
    /// The customer's record (`GET /v1/customers/{id}`), absent on orders opened before records were kept.
    pub customer_id: Option<String>,
    /// The equipment's record (`GET /v1/equipment/{id}`), when the equipment has a serial or tag.
    pub equipment_id: Option<String>,
    /// What was received with the equipment.
    pub intake: Option<IntakeView>,
    /// When the order was released: the lines' warranties start that day.
    #[serde(serialize_with = "rfc3339_opt")]
    pub released_at: Option<DateTime<Utc>>,
    /// The warranty of each approved line with one, once released.
    pub warranties: Vec<WarrantyView>,
    /// The order this one is a warranty return of.
    pub warranty_of: Option<OrderLinkView>,
    /// The warranty returns opened for this order.
    pub warranty_returns: Vec<OrderLinkView>,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// What the caller may do now (only in `GET /v1/orders/{id}`): from the order's flow version, the caller's
    /// roles and the guards.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_actions: Option<Vec<AllowedActionView>>,
}

/// What was received with the equipment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntakeView {
    pub accessories: Vec<String>,
    pub condition: Option<String>,
    /// Whether an unlock code was left: the code itself is read only through `GET /v1/orders/{id}/unlock-code`.
    #[serde(default)]
    pub unlock_code: bool,
}

/// A line's warranty: `days` from the release day `from` up to and including `until`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WarrantyView {
    pub revision: u32,
    pub line: u32,
    pub description: String,
    #[schema(example = 90)]
    pub days: u32,
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    #[schema(value_type = String, format = Date)]
    pub until: NaiveDate,
}

/// Another order: its id and number.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderLinkView {
    pub id: String,
    pub number: u64,
}

impl From<&d::WarrantyLink> for OrderLinkView {
    fn from(l: &d::WarrantyLink) -> OrderLinkView {
        OrderLinkView { id: l.order.to_string(), number: l.number }
    }
}

/// A company's paperwork settings: the default warranty per line kind and the texts of the printed OS.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CompanySettingsView {
    pub company_name: Option<String>,
    pub company_document: Option<String>,
    /// Default warranty of part lines, in days.
    #[schema(example = 90)]
    pub warranty_parts_days: u32,
    /// Default warranty of labor lines, in days.
    #[schema(example = 90)]
    pub warranty_labor_days: u32,
    /// The warranty term of the delivery receipt (`null`: the default text).
    pub warranty_terms: Option<String>,
    /// The terms of the entry receipt (`null`: the default text).
    pub entry_terms: Option<String>,
}

impl From<&osflow_app::CompanySettings> for CompanySettingsView {
    fn from(s: &osflow_app::CompanySettings) -> CompanySettingsView {
        CompanySettingsView {
            company_name: s.company_name.clone(),
            company_document: s.company_document.clone(),
            warranty_parts_days: s.warranty.parts_days,
            warranty_labor_days: s.warranty.labor_days,
            warranty_terms: s.warranty_terms.clone(),
            entry_terms: s.entry_terms.clone(),
        }
    }
}

/// A command the caller may give the order now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AllowedActionView {
    /// The operation: `send_quote`, `revise_quote`, `decide_quote`, `start`, `add_note`, `add_attachment`,
    /// `wait_material`, `change_material_date`, `resume`, `finish`, `validate`, `request_payment`,
    /// `register_payment`, `retry_invoice`, `release`, `close`, `cancel` or `move`.
    #[schema(example = "send_quote")]
    pub action: String,
    /// The status the order goes to (when known before the request's body; `null` for `decide_quote`).
    #[schema(example = "aguardando_aprovacao")]
    pub to: Option<String>,
    /// pt-BR label of `to`.
    #[schema(example = "Aguardando Aprovação")]
    pub to_label: Option<String>,
    /// The guard that fails now (`null`: the step would be accepted with a valid body); a front end shows the
    /// action disabled with the reason.
    #[schema(example = "checklist_complete")]
    pub blocked_by: Option<String>,
}

impl AllowedActionView {
    pub fn new(a: &d::AllowedAction, flow: &d::Flow) -> AllowedActionView {
        AllowedActionView {
            action: a.action.to_owned(),
            to: a.to.as_ref().map(|s| s.to_string()),
            to_label: a.to.as_ref().map(|s| flow.label(flow.version, s)),
            blocked_by: a.blocked_by.map(|g| g.as_str().to_owned()),
        }
    }
}

impl OrderView {
    pub fn new(o: &d::Order, labels: &(impl Labels + ?Sized)) -> OrderView {
        OrderView {
            id: o.id.to_string(),
            number: o.number,
            status: o.status.to_string(),
            status_label: labels.label(o.flow_version, &o.status),
            status_since: o.status_since,
            version: o.version,
            flow_version: o.flow_version,
            customer: (&o.customer).into(),
            equipment: EquipmentView {
                description: o.equipment.description.clone(),
                brand: o.equipment.brand.clone(),
                model: o.equipment.model.clone(),
                serial: o.equipment.serial.clone(),
            },
            service: ServiceView { kind: o.service.kind.clone(), reported_problem: o.service.reported_problem.clone() },
            due_date: o.due_date,
            technician: o.technician.as_ref().map(|t| t.to_string()),
            quote: o.current_revision().map(Into::into),
            quote_revisions: o.quote.iter().map(Into::into).collect(),
            payments: o
                .payments
                .iter()
                .map(|p| PaymentView {
                    seq: p.seq,
                    amount: p.amount.to_string(),
                    method: p.method.into(),
                    at: p.at,
                    reference: p.reference.clone(),
                })
                .collect(),
            amount_due: o.amount_due().to_string(),
            amount_paid: o.amount_paid().to_string(),
            balance: o.balance().to_string(),
            refunds: o
                .refunds
                .iter()
                .map(|r| RefundView {
                    amount: r.amount.to_string(),
                    method: r.method.into(),
                    at: r.at,
                    reference: r.reference.clone(),
                })
                .collect(),
            checklist: o
                .checklist
                .iter()
                .map(|c| ChecklistItemView { item: c.item.clone(), ok: c.ok, note: c.note.clone() })
                .collect(),
            notes: o
                .notes
                .iter()
                .map(|n| NoteView { text: n.text.clone(), visible_to_customer: n.visible_to_customer, at: n.at })
                .collect(),
            attachments: o.attachments.iter().map(Into::into).collect(),
            material: o.material.as_ref().map(|m| MaterialView {
                reason: m.reason.clone(),
                parts: m.parts.clone(),
                expected_at: m.expected_at,
                since: m.since,
            }),
            tests_performed: o.tests_performed.clone(),
            invoice: o.nfe().map(Into::into),
            invoices: o.invoices.iter().map(Into::into).collect(),
            cancel_reason: o.cancel_reason.clone(),
            customer_id: o.customer_id.map(|c| c.to_string()),
            equipment_id: o.equipment_id.map(|e| e.to_string()),
            intake: o.intake.as_ref().map(|i| IntakeView {
                accessories: i.accessories.clone(),
                condition: i.condition.clone(),
                unlock_code: i.unlock_code,
            }),
            released_at: o.released_at,
            warranties: o
                .warranties()
                .iter()
                .map(|w| WarrantyView {
                    revision: w.revision,
                    line: w.line.line,
                    description: w.line.description.clone(),
                    days: w.days,
                    from: w.from,
                    until: w.until,
                })
                .collect(),
            warranty_of: o.warranty_of.as_ref().map(OrderLinkView::from),
            warranty_returns: o.warranty_returns.iter().map(OrderLinkView::from).collect(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            allowed_actions: None,
        }
    }
}

/// An order in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    pub id: String,
    pub number: u64,
    pub status: String,
    pub status_label: String,
    pub version: u64,
    pub flow_version: u32,
    pub customer_name: String,
    #[schema(example = "52998224725")]
    pub customer_document: String,
    pub equipment: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub due_date: Option<NaiveDate>,
    /// Total of the current quote revision.
    #[schema(example = "269.90")]
    pub quote_total: String,
    #[schema(example = "269.90")]
    pub amount_due: String,
    #[schema(example = "0.00")]
    pub balance: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl OrderSummary {
    pub fn new(o: &d::OrderCard, labels: &(impl Labels + ?Sized)) -> OrderSummary {
        OrderSummary {
            id: o.id.to_string(),
            number: o.number,
            status: o.status.to_string(),
            status_label: labels.label(o.flow_version, &o.status),
            version: o.version,
            flow_version: o.flow_version,
            customer_name: o.customer_name.clone(),
            customer_document: o.customer_document.as_str().to_owned(),
            equipment: o.equipment.clone(),
            due_date: o.due_date,
            quote_total: o.quote_total.to_string(),
            amount_due: o.amount_due.to_string(),
            balance: o.balance.to_string(),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// A page of orders.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OrderList {
    pub items: Vec<OrderSummary>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Who did it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ActorView {
    /// `staff`, `customer` (through the portal link) or `system`.
    #[serde(rename = "type")]
    #[schema(example = "staff")]
    pub kind: String,
    /// The staff user.
    pub user: Option<String>,
    pub roles: Vec<Role>,
    /// The name the customer typed.
    pub name: Option<String>,
    /// The osflow component (invoicer, notifier…).
    pub component: Option<String>,
}

impl From<&d::Actor> for ActorView {
    fn from(a: &d::Actor) -> ActorView {
        let empty = ActorView { kind: String::new(), user: None, roles: vec![], name: None, component: None };
        match a {
            d::Actor::Staff { user, roles } => ActorView {
                kind: "staff".into(),
                user: Some(user.to_string()),
                roles: roles.iter().map(|r| (*r).into()).collect(),
                ..empty
            },
            d::Actor::Customer { name } => ActorView { kind: "customer".into(), name: name.clone(), ..empty },
            d::Actor::System { component } => {
                ActorView { kind: "system".into(), component: Some(component.clone()), ..empty }
            }
        }
    }
}

/// One change of the order, as the timeline shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    /// `<order id>:<version>`: the id consumers deduplicate on.
    pub event_id: String,
    pub version: u64,
    /// `order.opened`, `order.quote_sent`…
    #[serde(rename = "type")]
    #[schema(example = "order.opened")]
    pub kind: String,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    pub actor: ActorView,
    /// The flow action, when the event is a transition.
    pub action: Option<String>,
    pub status_before: Option<String>,
    pub status_after: String,
    /// pt-BR label of `status_after`.
    pub status_label: String,
    /// The data of the change (its members depend on `type`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl EventView {
    pub fn new(
        order: &d::values::OrderId,
        flow_version: u32,
        e: &d::Event,
        labels: &(impl Labels + ?Sized),
    ) -> EventView {
        let mut data = serde_json::to_value(&e.change).unwrap_or(serde_json::Value::Null);
        if let Some(map) = data.as_object_mut() {
            map.remove("type");
        }
        EventView {
            event_id: format!("{order}:{}", e.version),
            version: e.version,
            kind: e.change.type_name().to_owned(),
            at: e.at,
            actor: (&e.actor).into(),
            action: e.action.map(|a| a.as_str().to_owned()),
            status_before: e.status_before.as_ref().map(|s| s.to_string()),
            status_after: e.status_after.to_string(),
            status_label: labels.label(flow_version, &e.status_after),
            data,
        }
    }
}

/// The order's history, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Timeline {
    pub events: Vec<EventView>,
}

/// The messages sent to the customer about an order, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationList {
    pub notifications: Vec<NotificationView>,
}

/// One message sent (or refused for good) on one channel, as recorded on the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    /// The timeline entry that records it (`<order id>:<version>`).
    pub event_id: String,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// `email` or `webhook`.
    #[schema(example = "email")]
    pub channel: String,
    /// The recipient, mostly hidden.
    #[schema(example = "ma***@example.com")]
    pub to: String,
    /// The message: the status kind it announced (`awaiting_approval`…), `material_date_changed` or
    /// `due_date_changed`.
    #[schema(example = "awaiting_approval")]
    pub template: String,
    /// Delivered (`false`: refused for good, see `error`).
    pub ok: bool,
    pub error: Option<String>,
}

impl NotificationList {
    pub fn new(order: &d::values::OrderId, events: &[d::Event]) -> NotificationList {
        let notifications = events
            .iter()
            .filter_map(|e| match &e.change {
                d::Change::NotificationSent { channel, to_masked, template, ok, error, .. } => Some(NotificationView {
                    event_id: format!("{order}:{}", e.version),
                    at: e.at,
                    channel: channel.clone(),
                    to: to_masked.clone(),
                    template: template.clone(),
                    ok: *ok,
                    error: error.clone(),
                }),
                _ => None,
            })
            .collect();
        NotificationList { notifications }
    }
}

/// Where and how to upload an announced file: a `multipart/form-data` POST (an HTML form) to `url` with every
/// field of `fields` as given, then the file as the field `file`, last. The store refuses another content type,
/// an empty file or one over `max_bytes`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadView {
    /// Always `POST`.
    #[schema(example = "POST")]
    pub method: String,
    /// The form's target (valid for a few minutes).
    pub url: String,
    /// The form's fields, sent as they are before the file.
    pub fields: std::collections::BTreeMap<String, String>,
    /// The file's `Content-Type` (also in `fields`).
    #[schema(example = "image/jpeg")]
    pub content_type: String,
    /// The largest file accepted, in bytes.
    #[schema(example = 8388608)]
    pub max_bytes: u64,
}

/// The attachment recorded on the order, and where to upload its file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AttachmentCreated {
    pub attachment: AttachmentView,
    pub upload: UploadView,
    pub order: OrderView,
}

/// A fiscal document of the order: the NF-e of the parts or an NFS-e of the labor (one per service code).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceView {
    /// `nfe` (parts) or `nfse` (labor, NFS-e Nacional).
    #[schema(example = "nfe")]
    pub kind: String,
    /// NF-e: the 44-character access key. NFS-e: the 45-character DPS Id (the NFS-e's own 50-digit key is in
    /// `protocol` once issued).
    pub access_key: String,
    pub number: u64,
    pub serie: u32,
    /// Emitter CNPJ (`null` for an NFS-e issued elsewhere: osflow did not issue it).
    pub emitter: Option<String>,
    pub state: InvoiceState,
    /// SEFAZ's last status code and message (NFS-e: Sefin's error codes and messages in `message`).
    pub cstat: Option<u16>,
    pub message: Option<String>,
    /// NF-e: the authorization protocol. NFS-e: the NFS-e access key (50 digits).
    pub protocol: Option<String>,
    /// Where to download the XML (`null` until signed).
    pub xml_url: Option<String>,
    /// NF-e once authorized: where to download its DANFE (PDF).
    pub danfe_url: Option<String>,
    /// NF-e cancelled: where to download the cancellation's procEventoNFe.
    pub cancellation_xml_url: Option<String>,
    /// NFS-e once issued: where to download its DANFSe (PDF).
    pub danfse_url: Option<String>,
    /// An NFS-e issued elsewhere (`access_key` `EXT<number>`, `serie` 0): the municipality's verification code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
    /// An NFS-e issued elsewhere with its file: where to download it as uploaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_url: Option<String>,
    /// An NF-e issued in SEFAZ's contingency: the SVC, `dhCont` and `xJust` it was signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contingency: Option<ContingencyView>,
    /// An NFS-e issued elsewhere: both the instant it was recorded on the order.
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl InvoiceView {
    /// An NFS-e issued elsewhere as the order records it (no invoice record), recorded at `at`.
    pub fn elsewhere(order: &osflow_domain::values::OrderId, i: &d::InvoiceInfo, at: DateTime<Utc>) -> InvoiceView {
        InvoiceView {
            kind: i.kind.as_str().to_owned(),
            access_key: i.key.clone(),
            number: i.number,
            serie: i.serie,
            emitter: None,
            state: i.state.into(),
            cstat: i.cstat,
            message: i.message.clone(),
            protocol: i.protocol.clone(),
            xml_url: None,
            danfe_url: None,
            cancellation_xml_url: None,
            danfse_url: None,
            verification_code: i.issued_elsewhere.as_ref().map(|e| e.verification_code.clone()),
            file_url: i
                .issued_elsewhere
                .as_ref()
                .and_then(|e| e.file.as_ref())
                .map(|_| format!("/v1/orders/{order}/invoices/{}/file", i.key)),
            contingency: None,
            created_at: at,
            updated_at: at,
        }
    }
}

impl From<&InvoiceRecord> for InvoiceView {
    fn from(r: &InvoiceRecord) -> InvoiceView {
        InvoiceView {
            kind: match r.numbering.document {
                osflow_app::FiscalDocument::Nfe => "nfe".into(),
                osflow_app::FiscalDocument::Dps => "nfse".into(),
            },
            access_key: r.access_key.clone(),
            number: r.number,
            serie: r.numbering.serie,
            emitter: Some(r.numbering.cnpj.clone()),
            state: r.state.into(),
            cstat: r.cstat,
            message: r.message.clone(),
            protocol: r.protocol.clone(),
            xml_url: r.xml_ref.as_ref().map(|_| format!("/v1/orders/{}/invoices/{}/xml", r.order_id, r.access_key)),
            danfe_url: (r.numbering.document == osflow_app::FiscalDocument::Nfe
                && matches!(r.state, d::InvoiceState::Authorized | d::InvoiceState::Cancelled))
            .then(|| format!("/v1/orders/{}/invoices/{}/danfe.pdf", r.order_id, r.access_key)),
            cancellation_xml_url: (r.numbering.document == osflow_app::FiscalDocument::Nfe
                && r.state == d::InvoiceState::Cancelled)
                .then(|| format!("/v1/orders/{}/invoices/{}/cancel/xml", r.order_id, r.access_key)),
            danfse_url: (r.numbering.document == osflow_app::FiscalDocument::Dps && r.protocol.is_some())
                .then(|| format!("/v1/orders/{}/invoices/{}/danfse.pdf", r.order_id, r.access_key)),
            verification_code: None,
            file_url: None,
            contingency: r.contingency.as_ref().map(Into::into),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// SEFAZ's contingency: the NF-e go to the SVC of the UF (SVC-AN, tpEmis 6; SVC-RS, tpEmis 7) while its
/// authorizer is down.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ContingencyView {
    #[schema(example = "SVC-AN")]
    pub authorizer: String,
    /// `dhCont`: when the company entered it.
    #[serde(serialize_with = "rfc3339")]
    pub since: DateTime<Utc>,
    /// `xJust`: why.
    pub reason: String,
}

impl From<&osflow_app::ContingencyEntry> for ContingencyView {
    fn from(c: &osflow_app::ContingencyEntry) -> ContingencyView {
        ContingencyView { authorizer: c.authorizer.label().to_owned(), since: c.since, reason: c.reason.clone() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InvoiceList {
    pub items: Vec<InvoiceView>,
}

/// A published flow version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FlowView {
    /// The flow version; the `ETag`.
    #[schema(example = 1)]
    pub version: u32,
    #[schema(example = "aberta")]
    pub initial: String,
    pub statuses: Vec<StatusDefDto>,
    pub transitions: Vec<TransitionDto>,
    pub per_line_approval: bool,
}

impl From<&d::Flow> for FlowView {
    fn from(f: &d::Flow) -> FlowView {
        let def = super::requests::FlowDefinition::from(&f.def);
        FlowView {
            version: f.version,
            initial: f.def.initial.to_string(),
            statuses: def.statuses,
            transitions: def.transitions,
            per_line_approval: f.def.per_line_approval,
        }
    }
}

/// Every published flow version, oldest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FlowVersions {
    pub items: Vec<FlowView>,
}

/// The company's notification settings as shown: the webhook secret is never returned.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationSettingsView {
    pub company_name: Option<String>,
    pub sender_name: Option<String>,
    pub sender_email: Option<String>,
    pub reply_to: Option<String>,
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is saved.
    pub webhook_secret_set: bool,
    pub templates: std::collections::BTreeMap<String, MessageTemplate>,
    /// The channels in use (empty: e-mail only).
    pub channels: Vec<NotifyChannel>,
}

impl From<&osflow_app::NotificationSettings> for NotificationSettingsView {
    fn from(s: &osflow_app::NotificationSettings) -> NotificationSettingsView {
        NotificationSettingsView {
            company_name: s.company_name.clone(),
            sender_name: s.sender_name.clone(),
            sender_email: s.sender_email.clone(),
            reply_to: s.reply_to.clone(),
            webhook_url: s.webhook_url.clone(),
            webhook_secret_set: s.webhook_secret.is_some(),
            templates: s
                .templates
                .iter()
                .map(|(k, t)| (k.clone(), MessageTemplate { subject: t.subject.clone(), body: t.body.clone() }))
                .collect(),
            channels: s.channels.iter().copied().map(Into::into).collect(),
        }
    }
}

/// A carta de correção registered at SEFAZ for an NF-e.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CorrectionView {
    /// `nSeqEvento`, 1–20; the latest supersedes the earlier ones.
    pub seq: u8,
    /// `xCorrecao`.
    pub text: String,
    /// `nProt` of the registration.
    pub protocol: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    pub at: DateTime<Utc>,
    /// Where to download its procEventoNFe.
    pub xml_url: String,
}

impl CorrectionView {
    pub fn new(order: &osflow_domain::values::OrderId, c: &d::InvoiceCorrection) -> CorrectionView {
        CorrectionView {
            seq: c.seq,
            text: c.text.clone(),
            protocol: c.protocol.clone(),
            at: c.at,
            xml_url: format!("/v1/orders/{order}/invoices/{}/corrections/{}/xml", c.key, c.seq),
        }
    }
}

/// The cartas de correção of an NF-e, in sequence.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CorrectionList {
    pub items: Vec<CorrectionView>,
}
