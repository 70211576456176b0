//! The HTML of the console (maud: every value is escaped unless marked otherwise, and nothing here is). Pages
//! load one same-origin stylesheet and one same-origin script; no inline script or style (the CSP forbids them).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use maud::{Markup, html};
use osflow_app::InvoiceRecord;
use osflow_app::templates::brl;
use osflow_domain::values::Quantity;
use osflow_domain::{
    Actor, AllowedAction, Change, Event, Flow, Guard, LineKind, Order, OrderCard, PaymentMethod, QuoteRevision,
    RevisionStatus, Role, StatusKind,
};

use crate::session::Session;

/// Rows of a lines editor (existing lines plus blanks) and of the checklist.
pub const MAX_LINE_ROWS: usize = 40;
pub const MAX_CHECK_ROWS: usize = 12;
const BLANK_LINES: usize = 3;

fn brasilia(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&FixedOffset::west_opt(3 * 3600).expect("valid offset"))
}

pub fn date_time(at: DateTime<Utc>) -> String {
    brasilia(at).format("%d/%m/%Y %H:%M").to_string()
}

pub fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

fn quantity(q: Quantity) -> String {
    q.as_decimal().normalize().to_string().replace('.', ",")
}

/// A duration as a person reads it (`45 min`, `5 h`, `3 d 4 h`).
pub fn elapsed(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    match minutes {
        m if m < 60 => format!("{m} min"),
        m if m < 24 * 60 => format!("{} h", m / 60),
        m => {
            let (d, h) = (m / (24 * 60), (m % (24 * 60)) / 60);
            if h == 0 { format!("{d} d") } else { format!("{d} d {h} h") }
        }
    }
}

pub fn role_label(r: Role) -> &'static str {
    match r {
        Role::Representante => "Representante",
        Role::Atendente => "Atendente",
        Role::Tecnico => "Técnico",
        Role::Financeiro => "Financeiro",
    }
}

pub fn action_label(action: &str) -> &'static str {
    match action {
        "send_quote" => "Enviar orçamento ao cliente",
        "revise_quote" => "Revisar orçamento",
        "decide_quote" => "Registrar decisão do cliente",
        "start" => "Iniciar execução",
        "add_note" => "Adicionar nota",
        "add_attachment" => "Adicionar foto ou arquivo",
        "wait_material" => "Aguardar material",
        "change_material_date" => "Alterar previsão do material",
        "resume" => "Material chegou: retomar",
        "finish" => "Finalizar serviço",
        "validate" => "Validar (checklist)",
        "request_payment" => "Solicitar pagamento",
        "register_payment" => "Registrar pagamento",
        "retry_invoice" => "Reenviar NF-e",
        "cancel_nfe" => "Cancelar NF-e",
        "correct_nfe" => "Registrar carta de correção",
        "cancel_nfse" => "Cancelar NFS-e",
        "record_external_nfse" => "Registrar NFS-e emitida fora do osflow",
        "release" => "Liberar equipamento",
        "close" => "Encerrar OS",
        "cancel" => "Cancelar OS",
        "move" => "Mover",
        "edit_customer" => "Corrigir dados do cliente",
        "edit_equipment" => "Corrigir dados do equipamento",
        "change_due_date" => "Alterar data prevista",
        "assign_technician" => "Definir técnico responsável",
        "change_unlock_code" => "Registrar senha de desbloqueio",
        "warranty_return" => "Abrir retorno em garantia",
        _ => "Ação",
    }
}

pub fn guard_label(g: Guard) -> &'static str {
    match g {
        Guard::QuoteApproved => "o orçamento ainda não foi aprovado",
        Guard::ChecklistComplete => "o checklist não está completo",
        Guard::AtLeastOnePhoto => "falta ao menos uma foto",
        Guard::PaidInFull => "o pagamento não está quitado",
        Guard::InvoiceAuthorized => "as notas fiscais ainda não foram autorizadas",
        Guard::NoPendingExtraItems => "há itens extras aguardando o cliente",
    }
}

fn method_label(m: PaymentMethod) -> &'static str {
    match m {
        PaymentMethod::Pix => "Pix",
        PaymentMethod::Cash => "Dinheiro",
        PaymentMethod::Credit => "Cartão de crédito",
        PaymentMethod::Debit => "Cartão de débito",
        PaymentMethod::Boleto => "Boleto",
        PaymentMethod::Transfer => "Transferência",
    }
}

const METHODS: [(&str, &str); 6] = [
    ("pix", "Pix"),
    ("cash", "Dinheiro"),
    ("credit", "Cartão de crédito"),
    ("debit", "Cartão de débito"),
    ("boleto", "Boleto"),
    ("transfer", "Transferência"),
];

fn kind_label(k: StatusKind) -> &'static str {
    match k {
        StatusKind::Open => "aberta",
        StatusKind::AwaitingApproval => "aguardando aprovação",
        StatusKind::Approved => "aprovada",
        StatusKind::InProgress => "em execução",
        StatusKind::WaitingMaterial => "aguardando material",
        StatusKind::Finished => "finalizada",
        StatusKind::Validation => "validação",
        StatusKind::AwaitingPayment => "aguardando pagamento",
        StatusKind::Released => "liberada",
        StatusKind::Closed => "encerrada",
        StatusKind::Cancelled => "cancelada",
        StatusKind::Custom => "personalizado",
    }
}

pub const KINDS: [(StatusKind, &str); 12] = [
    (StatusKind::Open, "open"),
    (StatusKind::AwaitingApproval, "awaiting_approval"),
    (StatusKind::Approved, "approved"),
    (StatusKind::InProgress, "in_progress"),
    (StatusKind::WaitingMaterial, "waiting_material"),
    (StatusKind::Finished, "finished"),
    (StatusKind::Validation, "validation"),
    (StatusKind::AwaitingPayment, "awaiting_payment"),
    (StatusKind::Released, "released"),
    (StatusKind::Closed, "closed"),
    (StatusKind::Cancelled, "cancelled"),
    (StatusKind::Custom, "custom"),
];

/// What the page frame needs.
#[derive(Debug)]
pub struct Frame<'a> {
    pub session: Option<&'a Session>,
    pub csrf: &'a str,
    pub company: &'a str,
}

/// The frame of every page: header with the navigation and the sign-out button.
pub fn layout(frame: &Frame<'_>, title: &str, body: Markup) -> Markup {
    let head = html! {
        title { (title) " · osflow" }
        link rel="stylesheet" href="/static/console.css";
        script src="/static/console.js" defer {}
    };
    osflow_html::page(
        head,
        html! {
            a.skip href="#conteudo" { "Pular para o conteúdo" }
            header.top {
                a.brand href="/" { "osflow" }
                @if let Some(s) = frame.session {
                    nav aria-label="Principal" {
                        a href="/" { "Quadro" }
                        @if !s.roles.is_empty() && s.roles.iter().any(|r| *r != Role::Financeiro) {
                            a href="/os/nova" { "Nova OS" }
                        }
                        a href="/clientes" { "Clientes" }
                        a href="/relatorios" { "Relatórios" }
                        @if s.roles.contains(&Role::Representante) {
                            a href="/empresa" { "Empresa" }
                            a href="/fluxo" { "Fluxo" }
                            a href="/avisos" { "Avisos" }
                            a href="/emissor" { "NF-e" }
                        }
                        @if s.roles.iter().any(|r| osflow_app::NFE_EVENT_ROLES.contains(r)) {
                            a href="/inutilizacao" { "Inutilização" }
                        }
                    }
                    span.who {
                        (frame.company) " · " (s.display) " ("
                        (s.roles.iter().map(|r| role_label(*r)).collect::<Vec<_>>().join(", ")) ")"
                    }
                    form.inline method="post" action="/sair" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        button.link type="submit" { "Sair" }
                    }
                }
            }
            main id="conteudo" tabindex="-1" { (body) }
        },
    )
}

/// The sign-in page (development users).
pub fn sign_in(token: &str, message: Option<&str>, tenant: &str) -> Markup {
    let frame = Frame { session: None, csrf: "", company: "" };
    layout(
        &frame,
        "Entrar",
        html! {
            section.card.narrow {
                h1 { "Entrar no osflow" }
                @if let Some(m) = message { p.err role="alert" { (m) } }
                p.muted { "Usuários de desenvolvimento: escolha a empresa, o usuário e o papel." }
                form method="post" action="/entrar" {
                    input type="hidden" name="csrf" value=(token);
                    label for="empresa" { "Empresa" }
                    input id="empresa" name="tenant" type="text" required value=(tenant) autocomplete="organization";
                    label for="papel" { "Papel" }
                    select id="papel" name="role" {
                        @for r in Role::ALL { option value=(r.as_str()) { (role_label(r)) } }
                    }
                    label for="usuario" { "Usuário (opcional)" }
                    input id="usuario" name="user" type="text" placeholder="papel@empresa" autocomplete="username";
                    button.primary type="submit" { "Entrar" }
                }
            }
        },
    )
}

/// The end of a Cognito sign-in: the session cookie is set by this answer, and the page moves on to the board by
/// itself (a same-site navigation, so that the SameSite=Strict cookie goes with it: a redirect straight from
/// Cognito's page would be cross-site and arrive without it).
pub fn signed_in() -> Markup {
    osflow_html::page(
        html! {
            meta http-equiv="refresh" content="0;url=/";
            title { "Entrando · osflow" }
            link rel="stylesheet" href="/static/console.css";
        },
        html! { main id="conteudo" { section.card.narrow { h1 { "Entrando…" } p { a href="/" { "Abrir o quadro" } } } } },
    )
}

/// A Cognito sign-in that did not complete.
pub fn sign_in_failed(text: &str) -> Markup {
    let frame = Frame { session: None, csrf: "", company: "" };
    layout(
        &frame,
        "Não foi possível entrar",
        html! {
            section.card.narrow {
                h1 { "Não foi possível entrar" }
                p role="alert" { (text) }
                p { a href="/entrar" { "Entrar de novo" } }
            }
        },
    )
}

/// A page with a message only (refusals, not found).
pub fn message(frame: &Frame<'_>, title: &str, text: &str) -> Markup {
    layout(
        frame,
        title,
        html! {
            section.card {
                h1 { (title) }
                p role="alert" { (text) }
                p { a href="/" { "Voltar ao quadro" } }
            }
        },
    )
}

/// One card of the board.
#[derive(Debug)]
pub struct Card<'a> {
    pub order: &'a OrderCard,
    /// `None`: no SLA; else the share of the SLA used.
    pub sla_used: Option<f64>,
    pub overdue: bool,
}

/// The board's filters as given.
#[derive(Debug, Default)]
pub struct BoardFilters {
    pub q: String,
    pub technician: String,
    pub service_type: String,
    pub mine: bool,
    pub overdue: bool,
}

fn first_name(name: &str) -> &str {
    name.split_whitespace().next().unwrap_or(name)
}

fn sla_class(card: &Card<'_>) -> &'static str {
    match card.sla_used {
        _ if card.overdue => "late",
        Some(u) if u >= 0.75 => "warn",
        Some(_) => "ok",
        None => "none",
    }
}

/// The board's columns (also the fragment the page's script refreshes).
pub fn board_columns(columns: &[(String, String, Vec<Card<'_>>)], now: DateTime<Utc>) -> Markup {
    html! {
        div.board id="quadro" data-refresh="15" {
            @for (key, label, cards) in columns {
                section.column aria-labelledby=(format!("col-{key}")) {
                    h2 id=(format!("col-{key}")) { (label) " " span.count { (cards.len()) } }
                    ul {
                        @for c in cards {
                            li class=(format!("os {}", sla_class(c))) {
                                a href=(format!("/os/{}", c.order.id)) {
                                    strong { "OS " (c.order.number) }
                                    " · " (first_name(&c.order.customer_name))
                                    br;
                                    span.eq { (c.order.equipment) }
                                    br;
                                    span.meta {
                                        @if let Some(d) = c.order.due_date { "Entrega " (date(d)) " · " }
                                        span.sla title="Tempo no status" {
                                            (elapsed((now - c.order.status_since).num_seconds()))
                                            @if c.overdue { " · atrasada" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn board(
    frame: &Frame<'_>,
    filters: &BoardFilters,
    columns: &[(String, String, Vec<Card<'_>>)],
    technicians: &[String],
    now: DateTime<Utc>,
) -> Markup {
    let total: usize = columns.iter().map(|c| c.2.len()).sum();
    layout(
        frame,
        "Quadro",
        html! {
            h1 { "Quadro de OS " span.count { (total) " em aberto" } }
            form.filters method="get" action="/" role="search" {
                label for="q" { "Buscar" }
                input id="q" name="q" type="search" value=(filters.q) placeholder="Nº da OS, cliente, CPF/CNPJ ou série";
                label for="tecnico" { "Técnico" }
                input id="tecnico" name="tecnico" type="text" list="tecnicos" value=(filters.technician);
                datalist id="tecnicos" { @for t in technicians { option value=(t) {} } }
                label for="tipo" { "Tipo de serviço" }
                input id="tipo" name="tipo" type="text" value=(filters.service_type);
                label.check { input type="checkbox" name="minhas" value="1" checked[filters.mine]; " Minhas" }
                label.check { input type="checkbox" name="atrasadas" value="1" checked[filters.overdue]; " Atrasadas" }
                button type="submit" { "Filtrar" }
            }
            p.legend.muted {
                span.ok { "no prazo" } " " span.warn { "perto do limite" } " " span.late { "fora do prazo" }
                " · atualiza sozinho"
            }
            (board_columns(columns, now))
        },
    )
}

fn actor_label(a: &Actor) -> String {
    match a {
        Actor::Staff { user, .. } => user.to_string(),
        Actor::Customer { name } => format!("Cliente{}", name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()),
        Actor::System { .. } => "Sistema".to_owned(),
    }
}

fn event_text(e: &Event, flow: &Flow) -> String {
    let label = |s: &osflow_domain::StatusKey| flow.status(s).map_or_else(|| s.to_string(), |d| d.label.clone());
    let moved = e.status_before.as_ref().filter(|b| **b != e.status_after).map(|_| label(&e.status_after));
    let what = match &e.change {
        Change::Opened(_) => "OS aberta".to_owned(),
        Change::QuoteRevised { revision } => format!("Orçamento revisado (revisão {})", revision.revision),
        Change::QuoteSent { revision } => format!("Orçamento enviado (revisão {revision})"),
        Change::QuoteDecided { revision, decision, .. } => {
            let d = match decision {
                osflow_domain::QuoteDecision::Approve => "aprovado",
                osflow_domain::QuoteDecision::Reject => "recusado",
                osflow_domain::QuoteDecision::Adjust => "com pedido de ajustes",
            };
            format!("Orçamento {d} (revisão {revision})")
        }
        Change::Started => "Execução iniciada".to_owned(),
        Change::NoteAdded { note } => format!("Nota: {}", note.text),
        Change::AttachmentAdded { attachment } => {
            format!("Anexo{}", attachment.caption.as_ref().map(|c| format!(": {c}")).unwrap_or_default())
        }
        Change::MaterialAwaited { material } => {
            format!("Aguardando material: {} (previsão {})", material.reason, date(material.expected_at))
        }
        Change::MaterialDateChanged { expected_at, .. } => format!("Previsão do material: {}", date(*expected_at)),
        Change::MaterialArrived => "Material chegou".to_owned(),
        Change::Finished { .. } => "Serviço finalizado".to_owned(),
        Change::Validated { .. } => "Checklist de validação registrado".to_owned(),
        Change::PaymentRequested { amount_due } => format!("Pagamento solicitado: {}", brl(*amount_due)),
        Change::PaymentRegistered { payment, balance } => {
            format!("Pagamento de {} ({}), saldo {}", brl(payment.amount), method_label(payment.method), brl(*balance))
        }
        Change::InvoiceUpdated { invoice } => {
            format!("{} {}: {}", invoice.kind.label(), invoice.number, invoice_state_label(invoice.state))
        }
        Change::InvoiceRetryRequested { key } => {
            format!("Reenvio da {} pedido", if key.starts_with("DPS") { "NFS-e" } else { "NF-e" })
        }
        Change::InvoiceCorrected { correction } => {
            format!("Carta de correção {} da NF-e: {}", correction.seq, correction.text)
        }
        Change::PaymentRefunded { refund } => {
            format!("Estorno de {} ({})", brl(refund.amount), method_label(refund.method))
        }
        Change::Released => "Equipamento liberado".to_owned(),
        Change::Closed => "OS encerrada".to_owned(),
        Change::Cancelled { reason } => format!("OS cancelada: {reason}"),
        Change::Moved => "Status alterado".to_owned(),
        Change::LinkResent => "Link reenviado ao cliente".to_owned(),
        Change::WarrantyReturnOpened { link } => format!("Retorno em garantia aberto: OS nº {}", link.number),
        Change::SlaBreached { limit_hours, .. } => format!("Prazo do status ({limit_hours} h) estourado"),
        Change::NotificationSent { channel, to_masked, ok, .. } => {
            format!("Aviso por {channel} para {to_masked}{}", if *ok { "" } else { " (falhou)" })
        }
        Change::CustomerEdited { .. } => "Dados do cliente alterados".to_owned(),
        Change::EquipmentEdited { .. } => "Dados do equipamento alterados".to_owned(),
        Change::DueDateChanged { due_date, .. } => format!("Nova data prevista: {}", date(*due_date)),
        Change::TechnicianAssigned { technician, .. } => format!("Técnico responsável: {technician}"),
        Change::CustomerAnonymized => "Dados pessoais do cliente anonimizados (LGPD)".to_owned(),
        Change::UnlockCodeChanged { set: true } => "Senha de desbloqueio registrada".to_owned(),
        Change::UnlockCodeChanged { set: false } => "Senha de desbloqueio removida".to_owned(),
        Change::UnlockCodeRead => "Senha de desbloqueio consultada".to_owned(),
        Change::UnlockCodeDeleted => "Senha de desbloqueio apagada".to_owned(),
    };
    match moved {
        Some(to) => format!("{what} → {to}"),
        None => what,
    }
}

fn revision_status(r: &QuoteRevision) -> &'static str {
    match r.status {
        RevisionStatus::Draft => "rascunho",
        RevisionStatus::Sent => "enviado, aguardando o cliente",
        RevisionStatus::Approved => "aprovado",
        RevisionStatus::Rejected => "recusado",
        RevisionStatus::AdjustmentRequested => "ajustes pedidos",
        RevisionStatus::Superseded => "substituído",
    }
}

/// Everything the order page shows.
#[derive(Debug)]
pub struct OrderPage<'a> {
    pub order: &'a Order,
    pub flow: &'a Flow,
    pub events: &'a [Event],
    pub invoices: &'a [InvoiceRecord],
    pub actions: &'a [AllowedAction],
    /// The caller may cancel and correct an authorized NF-e.
    pub may_register_events: bool,
    pub message: Option<(bool, String)>,
    pub now: DateTime<Utc>,
    /// The records' part of the page: intake, edits of the open order, receipts, warranty (`records`).
    pub extras: Markup,
    /// A photo may be marked as the intake's now.
    pub intake_photos: bool,
}

fn lines_editor(prefix: &str, existing: &[osflow_domain::QuoteLine]) -> Markup {
    let rows = existing.len() + BLANK_LINES;
    html! {
        div.lines {
            @for i in 0..rows.min(MAX_LINE_ROWS) {
                @let l = existing.get(i);
                fieldset.line {
                    legend { "Item " (i + 1) }
                    label { "Tipo "
                        select name=(format!("{prefix}kind_{i}")) {
                            option value="labor" selected[l.is_some_and(|l| l.kind == LineKind::Labor)] { "Serviço" }
                            option value="part" selected[l.is_some_and(|l| l.kind == LineKind::Part)] { "Peça" }
                        }
                    }
                    label { "Descrição " input type="text" name=(format!("{prefix}description_{i}")) value=[l.map(|l| l.description.as_str())]; }
                    label { "Código " input type="text" name=(format!("{prefix}code_{i}")) value=[l.map(|l| l.code.as_str())]; }
                    label { "NCM (peças) " input type="text" inputmode="numeric" name=(format!("{prefix}ncm_{i}")) value=[l.and_then(|l| l.ncm.as_ref()).map(|n| n.to_string())]; }
                    label { "Qtd. " input type="text" inputmode="decimal" name=(format!("{prefix}quantity_{i}")) value=(l.map_or("1".to_owned(), |l| quantity(l.quantity))); }
                    label { "Preço unit. (R$) " input type="text" inputmode="decimal" name=(format!("{prefix}unit_price_{i}")) value=[l.map(|l| l.unit_price.to_string().replace('.', ","))]; }
                    (discount_fields(&format!("{prefix}discount_type_{i}"), &format!("{prefix}discount_{i}"), l.and_then(|l| l.discount)))
                    label { "Garantia (dias) " input type="number" min="0" max=(osflow_domain::warranty::MAX_WARRANTY_DAYS) name=(format!("{prefix}warranty_days_{i}")) value=[l.and_then(|l| l.warranty_days)] placeholder="padrão" size="5"; }
                }
            }
        }
    }
}

/// A discount's kind (none, R$, %) and amount, under the names the form maps to the API's `discount`.
pub(crate) fn discount_fields(kind: &str, amount: &str, current: Option<osflow_domain::Discount>) -> Markup {
    use osflow_domain::Discount;
    let (is_value, is_percent, typed) = match current {
        Some(Discount::Value { value }) => (true, false, Some(value.to_string().replace('.', ","))),
        Some(Discount::Percent { percent }) => (false, true, Some(percent.to_string().replace('.', ","))),
        None => (false, false, None),
    };
    html! {
        label { "Desconto "
            select name=(kind) {
                option value="" { "sem desconto" }
                option value="value" selected[is_value] { "em R$" }
                option value="percent" selected[is_percent] { "em %" }
            }
        }
        label { "Valor do desconto " input type="text" inputmode="decimal" name=(amount) value=[typed] size="8"; }
    }
}

/// The whole quote's discount (off the lines after their own), for the opening and the revision forms.
pub(crate) fn quote_discount_fields(current: Option<osflow_domain::Discount>) -> Markup {
    html! {
        fieldset.quote-discount { legend { "Desconto no orçamento todo" }
            (discount_fields("discount_type", "discount_value", current))
        }
    }
}

fn action_form(p: &OrderPage<'_>, a: &AllowedAction, csrf: &str) -> Markup {
    let o = p.order;
    let id = o.id.to_string();
    let label = match (a.action, &a.to) {
        ("move", Some(to)) => format!("Mover para {}", p.flow.status(to).map_or(to.as_str(), |s| s.label.as_str())),
        (name, _) => action_label(name).to_owned(),
    };
    let post = format!("/os/{id}/acao/{}", a.action);
    if let Some(g) = a.blocked_by {
        return html! {
            div.action.blocked {
                button type="button" disabled { (label) }
                span.muted { "Indisponível: " (guard_label(g)) "." }
            }
        };
    }
    let today = brasilia(p.now).date_naive();
    let fields: Markup = match a.action {
        "revise_quote" => {
            let existing = o.current_revision().map(|r| r.lines.clone()).unwrap_or_default();
            let discount = o.current_revision().and_then(|r| r.discount);
            html! { (lines_editor("", &existing)) (quote_discount_fields(discount)) label { "Previsão de entrega " input type="date" name="due_date"; } }
        }
        "decide_quote" => html! {
            @if let Some(r) = o.current_revision() { input type="hidden" name="revision" value=(r.revision); }
            fieldset { legend { "Decisão do cliente" }
                label.check { input type="radio" name="decision" value="approve" checked; " Aprovou" }
                label.check { input type="radio" name="decision" value="adjust"; " Pediu ajustes" }
                label.check { input type="radio" name="decision" value="reject"; " Recusou" }
            }
            @if p.flow.def.per_line_approval {
                @if let Some(r) = o.current_revision() {
                    fieldset.per-line { legend { "Aprovação por item (com “Aprovou”)" }
                        @for (i, l) in r.lines.iter().enumerate() {
                            label { (i + 1) ". " (l.description) " — " (brl(l.total)) " "
                                select name=(format!("line_{}", i + 1)) {
                                    option value="approve" selected { "aprovado" }
                                    option value="reject" { "recusado" }
                                }
                            }
                        }
                    }
                }
            }
            label { "Comentário " textarea name="comment" {} }
        },
        "add_note" => html! {
            label { "Nota " textarea name="text" required {} }
            label.check { input type="checkbox" name="visible_to_customer" value="1"; " Visível ao cliente" }
        },
        "add_attachment" => html! {
            label { "Foto ou arquivo "
                input type="file" name="file" accept="image/*,application/pdf,video/mp4,text/plain" capture="environment"
                    data-max-bytes=(osflow_api::MAX_ATTACHMENT_BYTES) required;
            }
            label { "Legenda " input type="text" name="caption"; }
            label.check { input type="checkbox" name="visible_to_customer" value="1"; " Visível ao cliente" }
            @if p.intake_photos { label.check { input type="checkbox" name="intake" value="1"; " Foto de entrada (estado ao receber)" } }
            p.muted.upload-status aria-live="polite" {}
        },
        "wait_material" => html! {
            label { "Motivo " input type="text" name="reason" required; }
            label { "Peças (uma por linha) " textarea name="parts" {} }
            label { "Previsão de chegada " input type="date" name="expected_at" required min=(today.to_string()); }
        },
        "change_material_date" => html! {
            label { "Nova previsão " input type="date" name="expected_at" required min=(today.to_string()); }
        },
        "finish" => html! { label { "Testes realizados " textarea name="tests_performed" {} } },
        "validate" => {
            let existing = &o.checklist;
            html! {
                fieldset { legend { "Checklist" }
                    @for i in 0..(existing.len() + 3).min(MAX_CHECK_ROWS) {
                        @let c = existing.get(i);
                        div.check-row {
                            label { "Item " input type="text" name=(format!("item_{i}")) value=[c.map(|c| c.item.as_str())]; }
                            label.check { input type="checkbox" name=(format!("ok_{i}")) value="1" checked[c.is_some_and(|c| c.ok)]; " OK" }
                            label { "Obs. " input type="text" name=(format!("note_{i}")) value=[c.and_then(|c| c.note.as_deref())]; }
                        }
                    }
                }
                details { summary { "Itens extras (novo orçamento ao cliente)" } (lines_editor("extra_", &[])) }
            }
        }
        "register_payment" => html! {
            label { "Valor (R$) " input type="text" inputmode="decimal" name="amount" required value=(o.balance().to_string().replace('.', ",")); }
            label { "Forma "
                select name="method" { @for (v, l) in METHODS { option value=(v) { (l) } } }
            }
            label { "Referência " input type="text" name="reference"; }
        },
        "cancel" => html! { label { "Motivo " input type="text" name="reason" required; } },
        "move" => html! { input type="hidden" name="to" value=[a.to.as_ref().map(|t| t.as_str())]; },
        _ => html! {},
    };
    let simple = matches!(
        a.action,
        "send_quote" | "start" | "resume" | "request_payment" | "release" | "close" | "retry_invoice" | "move"
    );
    let form_class = if a.action == "add_attachment" { "upload" } else { "" };
    html! {
        @if simple {
            form.action method="post" action=(post) {
                input type="hidden" name="csrf" value=(csrf);
                (fields)
                button.primary type="submit" data-action=(a.action) { (label) }
            }
        } @else {
            details.action {
                summary data-action=(a.action) { (label) }
                form method="post" action=(post) class=(form_class) data-order=(id) {
                    input type="hidden" name="csrf" value=(csrf);
                    (fields)
                    button.primary type="submit" { "Confirmar: " (label) }
                }
            }
        }
    }
}

pub fn order(frame: &Frame<'_>, p: &OrderPage<'_>) -> Markup {
    let o = p.order;
    let status = p.flow.status(&o.status).map_or(o.status.as_str(), |s| s.label.as_str());
    let id = o.id.to_string();
    layout(
        frame,
        &format!("OS {}", o.number),
        html! {
            p { a href="/" { "← Quadro" } }
            h1 { "OS " (o.number) " " span.status { (status) } }
            p.muted {
                "Desde " (date_time(o.status_since)) " (" (elapsed((p.now - o.status_since).num_seconds())) ") · fluxo versão " (o.flow_version)
                @if let Some(t) = &o.technician { " · técnico " (t.as_str()) }
                @if let Some(d) = o.due_date { " · entrega " (date(d)) }
            }
            @if let Some((ok, m)) = &p.message {
                p class=(if *ok { "ok" } else { "err" }) role="alert" { (m) }
            }
            section.card.actions aria-label="Ações" {
                h2 { "Ações" }
                @if p.actions.is_empty() { p.muted { "Nenhuma ação disponível para você neste status." } }
                @for a in p.actions { (action_form(p, a, frame.csrf)) }
            }
            (p.extras)
            div.grid {
                section.card {
                    h2 { "Cliente" }
                    p { strong { (o.customer.name) } br; (o.customer.document.to_string()) }
                    @if let Some(cid) = o.customer_id { p { a href=(format!("/clientes/{cid}")) { "Ficha do cliente" } } }
                    @if let Some(e) = &o.customer.email { p { (e.to_string()) } }
                    @if let Some(ph) = &o.customer.phone { p { (ph.to_string()) } }
                    @if let Some(a) = &o.customer.address {
                        p { (a.street) ", " (a.number) @if let Some(c) = &a.complement { " " (c) } br;
                            (a.district) " · " (a.city) "/" (a.uf.to_string()) " · CEP " (a.zip.to_string()) }
                    }
                }
                section.card {
                    h2 { "Equipamento e serviço" }
                    p { strong { (o.equipment.description) } }
                    p.muted {
                        @if let Some(b) = &o.equipment.brand { (b) " " }
                        @if let Some(m) = &o.equipment.model { (m) " " }
                        @if let Some(s) = &o.equipment.serial { "· série " (s) }
                    }
                    @if let Some(eid) = o.equipment_id { p { a href=(format!("/equipamentos/{eid}")) { "Histórico do equipamento" } } }
                    p { "Serviço: " (o.service.kind) }
                    p { "Problema relatado: " (o.service.reported_problem) }
                    @if let Some(m) = &o.material {
                        p { "Material: " (m.reason) " (previsão " (date(m.expected_at)) ")"
                            @if !m.parts.is_empty() { " — " (m.parts.join(", ")) } }
                    }
                    @if let Some(t) = &o.tests_performed { p { "Testes: " (t) } }
                }
            }
            section.card {
                h2 { "Orçamento" }
                @for r in o.quote.iter().rev() {
                    h3 { "Revisão " (r.revision) @if r.supplementary { " (itens extras)" } " — " (revision_status(r)) }
                    div.scroll { table {
                        thead { tr { th { "Item" } th { "Tipo" } th.n { "Qtd." } th.n { "Unit." } th.n { "Total" } th.n { "Desconto" } th.n { "Garantia" } th { "Decisão" } } }
                        tbody {
                            @for l in &r.lines {
                                tr {
                                    td { (l.description) @if !l.code.is_empty() { " " span.muted { (l.code) } } }
                                    td { @if l.kind == LineKind::Part { "Peça" } @else { "Serviço" } }
                                    td.n { (quantity(l.quantity)) }
                                    td.n { (brl(l.unit_price)) }
                                    td.n { (brl(l.total)) }
                                    td.n.discount { @if l.discount_total.cents() > 0 { "− " (brl(l.discount_total)) } @else { "—" } }
                                    td.n { @match l.warranty_days { Some(d) if d > 0 => { (d) " dias" }, _ => "—" } }
                                    td { @match l.decision {
                                        Some(osflow_domain::LineDecision::Approve) => "aprovado",
                                        Some(osflow_domain::LineDecision::Reject) => "recusado",
                                        None => "—",
                                    } }
                                }
                            }
                        }
                        tfoot {
                            @if r.discount_total.cents() > 0 {
                                tr.discounts { td colspan="4" { "Descontos"
                                    @match r.discount { Some(osflow_domain::Discount::Percent { percent }) => { " (orçamento: " (percent.to_string().replace('.', ",")) "%)" }, Some(osflow_domain::Discount::Value { value }) => { " (orçamento: " (brl(value)) ")" }, None => {} } }
                                    td.n colspan="2" { "− " (brl(r.discount_total)) } td colspan="2" {} }
                            }
                            tr { td colspan="4" { "Total" } td.n colspan="2" { (brl(r.total)) } td colspan="2" {} }
                        }
                    } }
                    @if let Some(c) = &r.customer_comment { p { "Comentário do cliente: " (c) } }
                }
            }
            section.card {
                h2 { "Pagamentos" }
                p { "Devido " strong { (brl(o.amount_due())) } " · pago " strong { (brl(o.amount_paid())) } " · saldo " strong.balance { (brl(o.balance())) } }
                @if !o.payments.is_empty() {
                    ul { @for pay in &o.payments { li { (date_time(pay.at)) " — " (brl(pay.amount)) " (" (method_label(pay.method)) ")" @if let Some(r) = &pay.reference { " " (r) } } } }
                }
            }
            (crate::invoices::section(o, p.invoices, frame.csrf, p.may_register_events))
            section.card {
                h2 { "Anexos" }
                @if o.attachments.is_empty() { p.muted { "Nenhum anexo." } }
                div.photos {
                    @for (i, a) in o.attachments.iter().enumerate() {
                        figure {
                            @if a.is_photo() { img src=(format!("/os/{id}/anexos/{i}")) alt=(a.caption.as_deref().unwrap_or("Foto")) loading="lazy"; }
                            figcaption {
                                (a.caption.as_deref().unwrap_or("")) " "
                                span.muted { @if a.visible_to_customer { "visível ao cliente" } @else { "interno" } }
                                " · " a href=(format!("/os/{id}/anexos/{i}?baixar=1")) { "baixar" }
                            }
                        }
                    }
                }
            }
            section.card {
                h2 { "Notificações" }
                @if o.notifications.is_empty() { p.muted { "Nenhuma notificação enviada." } }
                ul { @for n in &o.notifications { li { (date_time(n.at)) " — " (n.channel) " para " (n.to_masked) " (" (n.template) ")" @if !n.ok { " — falhou" } } } }
            }
            section.card {
                h2 { "Histórico" }
                ol.tl { @for e in p.events.iter().rev() {
                    li { time { (date_time(e.at)) " · " (actor_label(&e.actor)) } (event_text(e, p.flow)) }
                } }
            }
        },
    )
}

/// The opening form.
pub fn new_order(frame: &Frame<'_>, message: Option<&str>, technicians: &[String]) -> Markup {
    layout(
        frame,
        "Nova OS",
        html! {
            h1 { "Nova OS" }
            @if let Some(m) = message { p.err role="alert" { (m) } }
            form.card method="post" action="/os/nova" {
                input type="hidden" name="csrf" value=(frame.csrf);
                fieldset { legend { "Cliente" }
                    label for="nome" { "Nome" } input id="nome" name="customer_name" type="text" required autocomplete="name";
                    label for="documento" { "CPF ou CNPJ" }
                    input id="documento" name="customer_document" type="text" required inputmode="text" data-check="documento" aria-describedby="documento-msg";
                    span id="documento-msg" .muted aria-live="polite" {}
                    label for="email" { "E-mail" } input id="email" name="customer_email" type="email" autocomplete="email";
                    label for="telefone" { "Telefone" } input id="telefone" name="customer_phone" type="tel" autocomplete="tel";
                }
                fieldset { legend { "Endereço do cliente (opcional; a NF-e precisa dele)" }
                    label for="cep" { "CEP" } input id="cep" name="address_zip" type="text" inputmode="numeric" autocomplete="postal-code";
                    label for="logradouro" { "Logradouro" } input id="logradouro" name="address_street" type="text" autocomplete="address-line1";
                    label for="numero" { "Número" } input id="numero" name="address_number" type="text";
                    label for="complemento" { "Complemento" } input id="complemento" name="address_complement" type="text" autocomplete="address-line2";
                    label for="bairro" { "Bairro" } input id="bairro" name="address_district" type="text";
                    label for="cidade" { "Cidade" } input id="cidade" name="address_city" type="text" autocomplete="address-level2";
                    label for="ibge" { "Código IBGE da cidade" } input id="ibge" name="address_city_code" type="text" inputmode="numeric" aria-describedby="ibge-ajuda";
                    span id="ibge-ajuda" .muted { "7 dígitos (São Paulo: 3550308)." }
                    label for="uf" { "UF" } input id="uf" name="address_uf" type="text" maxlength="2" autocomplete="address-level1";
                }
                fieldset { legend { "Equipamento" }
                    label for="equip" { "Descrição" } input id="equip" name="equipment_description" type="text" required;
                    label for="marca" { "Marca" } input id="marca" name="equipment_brand" type="text";
                    label for="modelo" { "Modelo" } input id="modelo" name="equipment_model" type="text";
                    label for="serie" { "Nº de série" } input id="serie" name="equipment_serial" type="text";
                }
                fieldset { legend { "Serviço" }
                    label for="tipo" { "Tipo de serviço" } input id="tipo" name="service_type" type="text" required value="reparo";
                    label for="problema" { "Problema relatado" } textarea id="problema" name="reported_problem" required {}
                    label for="entrega" { "Previsão de entrega" } input id="entrega" name="due_date" type="date";
                    label for="tec" { "Técnico" } input id="tec" name="technician" type="text" list="tecnicos";
                    datalist id="tecnicos" { @for t in technicians { option value=(t) {} } }
                }
                (crate::records::intake_fields())
                fieldset { legend { "Estimativa" } (lines_editor("", &[])) (quote_discount_fields(None)) }
                button.primary type="submit" { "Abrir OS" }
            }
        },
    )
}

/// The flow editor: the current version in editable rows, one blank status and two blank transitions; the
/// versions the open orders run on.
pub fn flow_editor(
    frame: &Frame<'_>,
    flow: &Flow,
    message: Option<(bool, String)>,
    running: &[(u32, usize)],
) -> Markup {
    let actions = osflow_domain::Action::ALL;
    let guards = [
        Guard::QuoteApproved,
        Guard::ChecklistComplete,
        Guard::AtLeastOnePhoto,
        Guard::PaidInFull,
        Guard::InvoiceAuthorized,
        Guard::NoPendingExtraItems,
    ];
    let statuses = flow.def.statuses.len() + 1;
    let transitions = flow.def.transitions.len() + 2;
    layout(
        frame,
        "Fluxo",
        html! {
            h1 { "Fluxo da empresa — versão " (flow.version) }
            @if let Some((ok, m)) = &message { p class=(if *ok { "ok" } else { "err" }) role="alert" { (m) } }
            section.card {
                h2 { "Versões em uso pelas OS abertas" }
                ul { @for (v, n) in running { li { "Versão " (v) ": " (n) " OS" } } }
                @if running.is_empty() { p.muted { "Nenhuma OS aberta." } }
            }
            form.card.flow method="post" action="/fluxo" {
                input type="hidden" name="csrf" value=(frame.csrf);
                input type="hidden" name="version" value=(flow.version);
                h2 { "Status" }
                label { "Status inicial "
                    select name="initial" { @for s in &flow.def.statuses { option value=(s.key.as_str()) selected[s.key == flow.def.initial] { (s.label) } } }
                }
                label.check { input type="checkbox" name="per_line_approval" value="1" checked[flow.def.per_line_approval]; " Aprovação por item do orçamento" }
                div.scroll { table {
                    thead { tr { th { "Chave" } th { "Nome" } th { "Tipo" } th { "Prazo (h)" } th { "Avisar" } th { "Canais" } } }
                    tbody { @for i in 0..statuses {
                        @let s = flow.def.statuses.get(i);
                        tr {
                            td { input type="text" name=(format!("s_key_{i}")) aria-label="Chave" value=[s.map(|s| s.key.as_str())] size="14"; }
                            td { input type="text" name=(format!("s_label_{i}")) aria-label="Nome" value=[s.map(|s| s.label.as_str())] size="16"; }
                            td { select name=(format!("s_kind_{i}")) aria-label="Tipo" {
                                @for (k, v) in KINDS { option value=(v) selected[s.map_or(k == StatusKind::Custom, |s| s.kind == k)] { (kind_label(k)) } }
                            } }
                            td { input type="number" min="1" max="8760" name=(format!("s_sla_{i}")) aria-label="Prazo em horas" value=[s.and_then(|s| s.sla_hours)] size="5"; }
                            td { input type="checkbox" name=(format!("s_notify_{i}")) aria-label="Avisar o cliente" value="1" checked[s.is_some_and(|s| s.notify)]; }
                            td {
                                @for (c, l) in [(osflow_domain::Channel::Email, "email"), (osflow_domain::Channel::Whatsapp, "whatsapp"), (osflow_domain::Channel::Sms, "sms")] {
                                    label.check { input type="checkbox" name=(format!("s_channel_{i}")) value=(l) checked[s.is_some_and(|s| s.channels.contains(&c))]; " " (l) " " }
                                }
                            }
                        }
                    } }
                } }
                h2 { "Transições" }
                div.scroll { table {
                    thead { tr { th { "De" } th { "Ação" } th { "Para" } th { "Papéis" } th { "Condições" } } }
                    tbody { @for i in 0..transitions {
                        @let t = flow.def.transitions.get(i);
                        tr {
                            td { input type="text" name=(format!("t_from_{i}")) aria-label="De" value=[t.map(|t| t.from.as_str())] size="14"; }
                            td { select name=(format!("t_action_{i}")) aria-label="Ação" {
                                option value="" { "—" }
                                @for a in actions { option value=(a.as_str()) selected[t.is_some_and(|t| t.action == a)] { (action_label(a.as_str())) } }
                            } }
                            td { input type="text" name=(format!("t_to_{i}")) aria-label="Para" value=[t.map(|t| t.to.as_str())] size="14"; }
                            td { @for r in Role::ALL {
                                label.check { input type="checkbox" name=(format!("t_roles_{i}")) value=(r.as_str()) checked[t.is_some_and(|t| t.roles.contains(&r))]; " " (role_label(r)) " " }
                            } }
                            td { @for g in guards {
                                label.check { input type="checkbox" name=(format!("t_guards_{i}")) value=(g.as_str()) checked[t.is_some_and(|t| t.guards.contains(&g))]; " " (guard_label(g)) " " }
                            } }
                        }
                    } }
                } }
                button.primary type="submit" { "Publicar nova versão" }
            }
        },
    )
}

/// A fiscal document's state as a Brazilian user reads it.
pub(crate) fn invoice_state_label(state: osflow_domain::InvoiceState) -> &'static str {
    use osflow_domain::InvoiceState as S;
    match state {
        S::Pending => "pendente",
        S::Authorized => "autorizada",
        S::Rejected => "rejeitada",
        S::Denied => "denegada",
        S::Cancelled => "cancelada",
        S::Voided => "inutilizada",
    }
}
