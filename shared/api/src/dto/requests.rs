//! Request bodies. Every field is parsed into its domain value on the way in (a CPF with its check digits, money
//! with at most two decimals…), so a parse error names the JSON path of the field; unknown fields are refused.

use chrono::NaiveDate;
use osflow_app::OpenOrderInput;
use osflow_domain as d;
use osflow_domain::values::{CityCode, Document, Email, Money, Ncm, Phone, Quantity, Uf, UserId, Zip};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::enums::{
    Action, Channel, Discount, Guard, LineDecision, LineKind, NotifyChannel, PaymentMethod, QuoteDecision, Role,
    StatusKind,
};

/// An empty body (`{}`, or no body at all).
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyRequest {}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    #[schema(example = "Rua Augusta", min_length = 1, max_length = 60)]
    pub street: String,
    #[schema(example = "100", min_length = 1, max_length = 60)]
    pub number: String,
    #[serde(default)]
    #[schema(max_length = 60)]
    pub complement: Option<String>,
    #[schema(example = "Consolação", min_length = 1, max_length = 60)]
    pub district: String,
    #[schema(example = "São Paulo", min_length = 1, max_length = 60)]
    pub city: String,
    /// IBGE code of the city (7 digits).
    #[schema(value_type = String, example = "3550308")]
    pub city_code: CityCode,
    #[schema(value_type = String, example = "SP")]
    pub uf: Uf,
    /// CEP, with or without the hyphen.
    #[schema(value_type = String, example = "01305-000")]
    pub zip: Zip,
}

impl From<AddressInput> for d::Address {
    fn from(a: AddressInput) -> d::Address {
        d::Address {
            street: a.street,
            number: a.number,
            complement: a.complement.filter(|c| !c.trim().is_empty()),
            district: a.district,
            city: a.city,
            city_code: a.city_code,
            uf: a.uf,
            zip: a.zip,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerInput {
    #[schema(example = "Maria Souza", min_length = 1, max_length = 60)]
    pub name: String,
    /// CPF or CNPJ (alphanumeric CNPJ accepted), with or without punctuation.
    #[schema(value_type = String, example = "529.982.247-25")]
    pub document: Document,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "maria@example.com")]
    pub email: Option<Email>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "+55 11 98765-4321")]
    pub phone: Option<Phone>,
    #[serde(default)]
    pub address: Option<AddressInput>,
}

impl From<CustomerInput> for d::Customer {
    fn from(c: CustomerInput) -> d::Customer {
        d::Customer {
            name: c.name,
            document: c.document,
            email: c.email,
            phone: c.phone,
            address: c.address.map(Into::into),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EquipmentInput {
    #[schema(example = "Notebook", min_length = 1, max_length = 120)]
    pub description: String,
    #[serde(default)]
    #[schema(example = "Dell", max_length = 60)]
    pub brand: Option<String>,
    #[serde(default)]
    #[schema(example = "Inspiron 15", max_length = 60)]
    pub model: Option<String>,
    #[serde(default)]
    #[schema(example = "BR123456", max_length = 60)]
    pub serial: Option<String>,
}

impl From<EquipmentInput> for d::Equipment {
    fn from(e: EquipmentInput) -> d::Equipment {
        d::Equipment { description: e.description, brand: e.brand, model: e.model, serial: e.serial }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceInput {
    /// The company's service type ("reparo", "instalação"…).
    #[serde(rename = "type")]
    #[schema(example = "reparo", min_length = 1, max_length = 60)]
    pub kind: String,
    #[schema(example = "Não liga", min_length = 1, max_length = 2000)]
    pub reported_problem: String,
}

impl From<ServiceInput> for d::Service {
    fn from(s: ServiceInput) -> d::Service {
        d::Service { kind: s.kind, reported_problem: s.reported_problem }
    }
}

/// A quote line: money and quantities as decimal strings.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineInput {
    pub kind: LineKind,
    #[serde(default)]
    #[schema(example = "P-001", max_length = 60)]
    pub code: Option<String>,
    #[schema(example = "Fonte 65W", min_length = 1, max_length = 120)]
    pub description: String,
    /// Required for parts (8 digits).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "85044010")]
    pub ncm: Option<Ncm>,
    /// Greater than zero, at most 4 decimals.
    #[schema(value_type = String, example = "1")]
    pub quantity: Quantity,
    /// Not negative, at most 2 decimals.
    #[schema(value_type = String, example = "149.90")]
    pub unit_price: Money,
    /// The line's discount, off quantity × unit price (at most that).
    #[serde(default)]
    pub discount: Option<Discount>,
    /// The line's warranty in days from release (0 to 3650); the company's default for its kind when absent.
    #[serde(default)]
    #[schema(maximum = 3650, example = 90)]
    pub warranty_days: Option<u32>,
}

impl From<LineInput> for d::LineInput {
    fn from(l: LineInput) -> d::LineInput {
        d::LineInput {
            kind: l.kind.into(),
            code: l.code.unwrap_or_default(),
            description: l.description,
            ncm: l.ncm,
            quantity: l.quantity,
            unit_price: l.unit_price,
            discount: l.discount.map(Into::into),
            warranty_days: l.warranty_days,
        }
    }
}

fn lines(items: Vec<LineInput>) -> Vec<d::LineInput> {
    items.into_iter().map(Into::into).collect()
}

/// What was received with the equipment at the counter.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntakeInput {
    /// Accessories left with the equipment (each 1 to 120 characters).
    #[serde(default)]
    #[schema(max_items = 30, example = json!(["Carregador", "Capa"]))]
    pub accessories: Vec<String>,
    /// The equipment's condition as received.
    #[serde(default)]
    #[schema(max_length = 1000, example = "Tela riscada no canto")]
    pub condition: Option<String>,
    /// The equipment's unlock code (password, PIN, pattern; 1 to 64 characters), when the work needs it: kept
    /// sealed apart from the order, never answered with it (`intake.unlock_code` is `true`); read through
    /// `GET /v1/orders/{id}/unlock-code`; deleted when the order closes or is cancelled.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 64, example = "1234")]
    pub unlock_code: Option<String>,
}

impl From<IntakeInput> for d::Intake {
    fn from(i: IntakeInput) -> d::Intake {
        d::Intake { accessories: i.accessories, condition: i.condition, unlock_code: i.unlock_code.is_some() }
    }
}

impl IntakeInput {
    /// The unlock code typed, parsed (a problem naming `intake.unlock_code`).
    pub(crate) fn unlock_code(&self) -> Result<Option<osflow_app::UnlockCode>, d::DomainError> {
        self.unlock_code.as_deref().map(|c| osflow_app::UnlockCode::parse("intake.unlock_code", c)).transpose()
    }
}

/// Step 1: opens an order.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenOrderRequest {
    pub customer: CustomerInput,
    pub equipment: EquipmentInput,
    pub service: ServiceInput,
    /// The estimate: parts and labor lines (may be empty and revised later).
    #[serde(default)]
    #[schema(max_items = 200)]
    pub items: Vec<LineInput>,
    /// The discount of the whole quote, off the lines after their own discounts (shared over the lines in
    /// proportion to them).
    #[serde(default)]
    pub discount: Option<Discount>,
    /// Promised delivery date.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-10")]
    pub due_date: Option<NaiveDate>,
    /// The technician in charge (user id).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub technician: Option<UserId>,
    /// What was received with the equipment.
    #[serde(default)]
    pub intake: Option<IntakeInput>,
}

impl From<OpenOrderRequest> for OpenOrderInput {
    fn from(r: OpenOrderRequest) -> OpenOrderInput {
        OpenOrderInput {
            customer: r.customer.into(),
            equipment: r.equipment.into(),
            service: r.service.into(),
            items: lines(r.items),
            discount: r.discount.map(Into::into),
            due_date: r.due_date,
            technician: r.technician,
            intake: r.intake.map(Into::into),
        }
    }
}

/// A new quote revision (replaces the one not yet decided).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviseQuoteRequest {
    #[schema(min_items = 1, max_items = 200)]
    pub items: Vec<LineInput>,
    /// The discount of the whole revision, off the lines after their own discounts (shared over the lines in
    /// proportion to them).
    #[serde(default)]
    pub discount: Option<Discount>,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-15")]
    pub due_date: Option<NaiveDate>,
}

impl From<ReviseQuoteRequest> for d::Command {
    fn from(r: ReviseQuoteRequest) -> d::Command {
        d::Command::ReviseQuote { items: lines(r.items), discount: r.discount.map(Into::into), due_date: r.due_date }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineDecisionInput {
    /// 1-based line number of the revision.
    #[schema(example = 1)]
    pub line: u32,
    pub decision: LineDecision,
}

/// The customer's decision, recorded by staff.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: QuoteDecision,
    /// Per-line decisions (with `approve`, when the flow allows per-line approval); lines not listed are approved.
    #[serde(default)]
    pub lines: Vec<LineDecisionInput>,
    /// Required with `adjust`.
    #[serde(default)]
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
    /// The revision the customer saw; refused (409) when another one is waiting now.
    #[serde(default)]
    pub revision: Option<u32>,
}

impl From<DecisionRequest> for d::Command {
    fn from(r: DecisionRequest) -> d::Command {
        d::Command::DecideQuote {
            revision: r.revision,
            decision: r.decision.into(),
            lines: r.lines.into_iter().map(|l| (l.line, l.decision.into())).collect(),
            comment: r.comment,
            evidence: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRequest {
    #[schema(example = "Placa limpa", min_length = 1, max_length = 4000)]
    pub text: String,
    #[serde(default)]
    pub visible_to_customer: bool,
}

impl From<NoteRequest> for d::Command {
    fn from(r: NoteRequest) -> d::Command {
        d::Command::AddNote { text: r.text, visible_to_customer: r.visible_to_customer }
    }
}

/// Announces a file (a photo, a PDF…); the response tells where to upload it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachmentRequest {
    /// One of image/jpeg, image/png, image/webp, image/heic, application/pdf, video/mp4, text/plain.
    #[schema(
        example = "image/jpeg",
        pattern = "^(image/jpeg|image/png|image/webp|image/heic|application/pdf|video/mp4|text/plain)$"
    )]
    pub content_type: String,
    #[serde(default)]
    #[schema(example = "Placa antes da limpeza", max_length = 200)]
    pub caption: Option<String>,
    #[serde(default)]
    pub visible_to_customer: bool,
    /// An intake photo: the equipment as received (a photo, at opening or before the work starts), listed on
    /// the entry receipt.
    #[serde(default)]
    pub intake: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitMaterialRequest {
    #[schema(example = "Fonte em falta", min_length = 1, max_length = 500)]
    pub reason: String,
    /// Codes or descriptions of the missing parts (each 1 to 120 characters).
    #[serde(default)]
    #[schema(example = json!(["P-001"]), max_items = 50)]
    pub parts: Vec<String>,
    #[schema(value_type = String, format = Date, example = "2026-12-05")]
    pub expected_at: NaiveDate,
}

impl From<WaitMaterialRequest> for d::Command {
    fn from(r: WaitMaterialRequest) -> d::Command {
        d::Command::WaitMaterial { reason: r.reason, parts: r.parts, expected_at: r.expected_at }
    }
}

/// A new expected date for the missing material (notifies the customer; no status change).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeMaterialRequest {
    #[schema(value_type = String, format = Date, example = "2026-12-08")]
    pub expected_at: NaiveDate,
}

impl From<ChangeMaterialRequest> for d::Command {
    fn from(r: ChangeMaterialRequest) -> d::Command {
        d::Command::ChangeMaterialDate { expected_at: r.expected_at }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FinishRequest {
    #[serde(default)]
    #[schema(example = "Ligou e carregou por 2 h", max_length = 4000)]
    pub tests_performed: Option<String>,
}

impl From<FinishRequest> for d::Command {
    fn from(r: FinishRequest) -> d::Command {
        d::Command::Finish { tests_performed: r.tests_performed }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecklistInput {
    #[schema(example = "Equipamento liga", min_length = 1, max_length = 200)]
    pub item: String,
    pub ok: bool,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Validation: the quality checklist and the extra items found (sent to the customer for approval).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidationRequest {
    #[serde(default)]
    #[schema(max_items = 100)]
    pub checklist: Vec<ChecklistInput>,
    #[serde(default)]
    #[schema(max_items = 200)]
    pub extra_items: Vec<LineInput>,
}

impl From<ValidationRequest> for d::Command {
    fn from(r: ValidationRequest) -> d::Command {
        d::Command::Validate {
            checklist: r
                .checklist
                .into_iter()
                .map(|c| d::ChecklistItem { item: c.item, ok: c.ok, note: c.note })
                .collect(),
            extra_items: lines(r.extra_items),
        }
    }
}

/// A payment (partial payments and several methods allowed; a deposit from `aprovada` on).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRequest {
    #[schema(value_type = String, example = "269.90")]
    pub amount: Money,
    pub method: PaymentMethod,
    /// Card authorization code, PIX end-to-end id, boleto number…
    #[serde(default)]
    #[schema(max_length = 120)]
    pub reference: Option<String>,
}

impl From<PaymentRequest> for d::Command {
    fn from(r: PaymentRequest) -> d::Command {
        d::Command::RegisterPayment { amount: r.amount, method: r.method.into(), reference: r.reference }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[schema(example = "Cliente desistiu", min_length = 1, max_length = 500)]
    pub reason: String,
    /// Required when the customer paid: all that was paid goes back (an authorized NF-e is cancelled first,
    /// at `POST /v1/orders/{id}/invoices/{key}/cancel`).
    #[serde(default)]
    pub refund: Option<RefundRequest>,
}

/// Money given back to the customer.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// All that was paid.
    #[schema(value_type = String, example = "269.90")]
    pub amount: Money,
    pub method: PaymentMethod,
    /// The refund's PIX end-to-end id, the card's chargeback code…
    #[serde(default)]
    #[schema(max_length = 120)]
    pub reference: Option<String>,
}

impl From<CancelRequest> for d::Command {
    fn from(r: CancelRequest) -> d::Command {
        d::Command::Cancel {
            reason: r.reason,
            refund: r.refund.map(|f| d::RefundInput {
                amount: f.amount,
                method: f.method.into(),
                reference: f.reference,
            }),
        }
    }
}

/// Cancels an authorized NF-e (event 110111) or an issued NFS-e (event e101101).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceCancelRequest {
    /// Why the document is cancelled: the NF-e's `xJust`, the NFS-e's `xMotivo`.
    #[schema(example = "Cliente desistiu da compra da peça", min_length = 15, max_length = 255)]
    pub justification: String,
    /// NFS-e only (required there): `cMotivo` — 1 erro na emissão, 2 serviço não prestado, 9 outros.
    #[serde(default)]
    #[schema(example = 1, minimum = 1, maximum = 9)]
    pub reason: Option<u8>,
}

/// An NFS-e of the order's labor issued outside osflow (the municipality's own issuer).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalNfseRequest {
    /// The NFS-e's number at the municipality.
    #[schema(example = 12345, minimum = 1)]
    pub number: u64,
    /// Its verification code (código de verificação), up to 60 characters.
    #[schema(example = "AB12-CD34")]
    pub verification_code: String,
    /// The NFS-e's PDF or XML, kept with the record.
    #[serde(default)]
    pub file: Option<ExternalNfseFile>,
}

/// A file sent in the body.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalNfseFile {
    /// `application/pdf`, `application/xml` or `text/xml`.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    /// The file's bytes in base64 (standard alphabet), at most 2 MiB decoded.
    pub data: String,
}

/// A carta de correção (event 110110) of an authorized NF-e.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionRequest {
    /// `xCorrecao`: what is corrected (not values, taxes, the parties or the dates).
    #[schema(example = "Complemento do endereço do destinatário: apto 12", min_length = 15, max_length = 1000)]
    pub text: String,
}

/// Moves the order to or from a custom status of the company's flow.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The status key to move to.
    #[schema(example = "diagnostico")]
    pub to: String,
}

/// A status of a flow.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusDefDto {
    /// 1–40 chars of `[a-z0-9_]`, starting with a letter.
    #[schema(value_type = String, example = "aguardando_aprovacao")]
    pub key: d::StatusKey,
    /// pt-BR label shown to staff and customers.
    #[schema(example = "Aguardando Aprovação")]
    pub label: String,
    pub kind: StatusKind,
    /// Whether entering this status notifies the customer.
    #[serde(default)]
    pub notify: bool,
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// Time limit in this status, in hours, after which an alert is raised.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 8760)]
    pub sla_hours: Option<u32>,
}

/// A transition of a flow.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionDto {
    #[schema(value_type = String, example = "aberta")]
    pub from: d::StatusKey,
    #[schema(value_type = String, example = "aguardando_aprovacao")]
    pub to: d::StatusKey,
    pub action: Action,
    pub roles: Vec<Role>,
    #[serde(default)]
    pub guards: Vec<Guard>,
}

/// A flow definition as the company's representante edits it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FlowDefinition {
    /// The version this edit starts from, as `GET /v1/flow` returned it; when sent (and `If-Match` is not), the
    /// publish is refused with 412 if another version was published meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0, maximum = 4294967295_u64, format = Int64)]
    pub version: Option<u32>,
    /// The status new orders start in (kind `open`).
    #[schema(value_type = String, example = "aberta")]
    pub initial: d::StatusKey,
    pub statuses: Vec<StatusDefDto>,
    pub transitions: Vec<TransitionDto>,
    /// Whether the customer may approve or reject each quote line separately.
    #[serde(default)]
    pub per_line_approval: bool,
}

impl From<FlowDefinition> for d::FlowDef {
    fn from(f: FlowDefinition) -> d::FlowDef {
        d::FlowDef {
            initial: f.initial,
            statuses: f
                .statuses
                .into_iter()
                .map(|s| d::StatusDef {
                    key: s.key,
                    label: s.label,
                    kind: s.kind.into(),
                    notify: s.notify,
                    channels: s.channels.into_iter().map(Into::into).collect(),
                    sla_hours: s.sla_hours,
                })
                .collect(),
            transitions: f
                .transitions
                .into_iter()
                .map(|t| d::Transition {
                    from: t.from,
                    to: t.to,
                    action: t.action.into(),
                    roles: t.roles.into_iter().map(Into::into).collect(),
                    guards: t.guards.into_iter().map(Into::into).collect(),
                })
                .collect(),
            per_line_approval: f.per_line_approval,
        }
    }
}

impl From<&d::FlowDef> for FlowDefinition {
    fn from(f: &d::FlowDef) -> FlowDefinition {
        FlowDefinition {
            version: None,
            initial: f.initial.clone(),
            statuses: f
                .statuses
                .iter()
                .map(|s| StatusDefDto {
                    key: s.key.clone(),
                    label: s.label.clone(),
                    kind: s.kind.into(),
                    notify: s.notify,
                    channels: s.channels.iter().map(|c| (*c).into()).collect(),
                    sla_hours: s.sla_hours,
                })
                .collect(),
            transitions: f
                .transitions
                .iter()
                .map(|t| TransitionDto {
                    from: t.from.clone(),
                    to: t.to.clone(),
                    action: t.action.into(),
                    roles: t.roles.iter().map(|r| (*r).into()).collect(),
                    guards: t.guards.iter().map(|g| (*g).into()).collect(),
                })
                .collect(),
            per_line_approval: f.per_line_approval,
        }
    }
}

/// A company's override of one message.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTemplate {
    /// The e-mail subject; `{variables}` allowed.
    #[schema(example = "Orçamento da OS {os}", max_length = 200)]
    pub subject: Option<String>,
    /// The text: `{cliente}`, `{os}`, `{equipamento}`, `{status}`, `{valor}`, `{data_prevista}`, `{motivo}`,
    /// `{empresa}`, `{link}`.
    #[schema(
        example = "Olá, {cliente}! O orçamento da OS {os} é de {valor}: {link}",
        min_length = 1,
        max_length = 4000
    )]
    pub body: String,
}

/// The company's notification settings (`PUT /v1/settings/notifications` replaces them whole; an empty object is
/// refused, never read as a reset).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
pub struct NotificationSettingsInput {
    /// The company's name in the messages (`{empresa}`).
    #[schema(min_length = 1, max_length = 200)]
    pub company_name: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    pub sender_name: Option<String>,
    /// The From address of e-mails (a verified SES identity in AWS).
    pub sender_email: Option<String>,
    pub reply_to: Option<String>,
    /// The company's endpoint for WhatsApp/SMS (https).
    #[schema(max_length = 2000)]
    pub webhook_url: Option<String>,
    /// The HMAC-SHA256 key of the webhook signature (16 to 256 characters). Write-only: never returned;
    /// omitted, the saved one is kept.
    #[schema(min_length = 16, max_length = 256)]
    pub webhook_secret: Option<String>,
    /// Overrides by message: a status kind (`awaiting_approval`, `waiting_material`…),
    /// `material_date_changed` or `due_date_changed`.
    #[serde(default)]
    pub templates: std::collections::BTreeMap<String, MessageTemplate>,
    /// The channels the company uses (default: e-mail).
    #[serde(default)]
    pub channels: Vec<NotifyChannel>,
}

impl From<NotificationSettingsInput> for osflow_app::NotificationSettings {
    fn from(i: NotificationSettingsInput) -> osflow_app::NotificationSettings {
        osflow_app::NotificationSettings {
            company_name: i.company_name,
            sender_name: i.sender_name,
            sender_email: i.sender_email,
            reply_to: i.reply_to,
            webhook_url: i.webhook_url,
            webhook_secret: i.webhook_secret,
            templates: i
                .templates
                .into_iter()
                .map(|(k, t)| (k, osflow_app::TemplateOverride { subject: t.subject, body: t.body }))
                .collect(),
            channels: i.channels.into_iter().map(Into::into).collect(),
        }
    }
}

/// A line of the first order, by revision and line number.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineRefInput {
    #[schema(example = 1)]
    pub revision: u32,
    #[schema(example = 1)]
    pub line: u32,
}

/// A warranty return: a new OS for the lines of this order still under warranty, at zero price.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WarrantyReturnRequest {
    /// The covered lines the customer brings back.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<LineRefInput>,
    #[schema(example = "Voltou a desligar sozinho", min_length = 1, max_length = 2000)]
    pub reported_problem: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, example = "2026-12-20")]
    pub due_date: Option<NaiveDate>,
    #[serde(default)]
    pub intake: Option<IntakeInput>,
}

impl From<WarrantyReturnRequest> for osflow_app::WarrantyReturnInput {
    fn from(r: WarrantyReturnRequest) -> osflow_app::WarrantyReturnInput {
        osflow_app::WarrantyReturnInput {
            lines: r.lines.into_iter().map(|l| (l.revision, l.line)).collect(),
            reported_problem: r.reported_problem,
            due_date: r.due_date,
            intake: r.intake.map(Into::into),
        }
    }
}

/// A company's paperwork settings (the whole value is replaced).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompanySettingsInput {
    /// The name printed on the receipts (the notification settings' name when absent).
    #[serde(default)]
    #[schema(max_length = 120, example = "Assistência Técnica Exemplo")]
    pub company_name: Option<String>,
    #[serde(default)]
    #[schema(max_length = 40, example = "12.345.678/0001-95")]
    pub company_document: Option<String>,
    /// Default warranty of part lines, in days (90 when absent).
    #[serde(default)]
    #[schema(maximum = 3650, example = 90)]
    pub warranty_parts_days: Option<u32>,
    /// Default warranty of labor lines, in days (90 when absent).
    #[serde(default)]
    #[schema(maximum = 3650, example = 90)]
    pub warranty_labor_days: Option<u32>,
    /// The warranty term of the delivery receipt.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub warranty_terms: Option<String>,
    /// The terms of the entry receipt.
    #[serde(default)]
    #[schema(max_length = 4000)]
    pub entry_terms: Option<String>,
}

impl From<CompanySettingsInput> for osflow_app::CompanySettings {
    fn from(i: CompanySettingsInput) -> osflow_app::CompanySettings {
        let default = d::WarrantyDefaults::default();
        osflow_app::CompanySettings {
            company_name: i.company_name,
            company_document: i.company_document,
            warranty: d::WarrantyDefaults {
                parts_days: i.warranty_parts_days.unwrap_or(default.parts_days),
                labor_days: i.warranty_labor_days.unwrap_or(default.labor_days),
            },
            warranty_terms: i.warranty_terms,
            entry_terms: i.entry_terms,
        }
    }
}
