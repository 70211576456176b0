//! The company's records and paperwork in the console: the customers (search, their page with their equipment
//! and orders, the edit, the LGPD export and anonymization), the equipment (its page and orders, the edit), the
//! company's paperwork settings (warranty defaults and terms), and the order page's records part: what was
//! received at the counter (the unlock code read on demand), the edits of an open order (customer, equipment,
//! due date, technician), the printed receipts and the warranty return.
//!
//! Reads call the same use cases as the API; writes go through the API's routes in process ([`api::call_with`]):
//! a record's edit conditional on the version the form was made from (`If-Match`), a warranty return under the
//! form's own `Idempotency-Key`. Whether an edit is offered is asked of the domain's `decide` with a placeholder
//! payload, as the order's actions are: no rule is copied here.

use lambda_http::http::{Method, header};
use maud::{Markup, html};
use osflow_app::templates::brl;
use osflow_app::{ADMIN_ROLES, AppError, CompanySettings, OrderQuery, PageRequest, ReceiptKind};
use osflow_domain::values::{Document, OrderId};
use osflow_domain::{
    Command, Context, Customer, CustomerId, CustomerRecord, DomainError, Equipment, EquipmentId, Flow, Order, decide,
};
use serde_json::{Value, json};

use crate::forms::{self, Form};
use crate::pages::{self, date, date_time, layout};
use crate::{Body, Cx, Reply, SignIn, api, order_page};

/// Most customers the search lists.
const SEARCH_MAX: usize = 50;
/// Most pages of the order search a customers' search reads.
const SEARCH_PAGES: usize = 5;

/// The records' routes: `GET /clientes` (`?q=`), `GET|POST /clientes/{document or id}`,
/// `GET /clientes/{id}/exportar`, `POST /clientes/{id}/anonimizar`, `GET|POST /equipamentos/{id}`,
/// `GET|POST /empresa`, `POST /os/{id}/editar/{cliente|equipamento|entrega|tecnico|senha}`,
/// `GET /os/{id}/recibo/{entrada|entrega}`, `POST /os/{id}/senha`, `POST /os/{id}/garantia`.
pub(crate) async fn route(cx: &Cx<'_>, segments: &[&str], form: &Form) -> Reply {
    match (&cx.r.method, segments) {
        (&Method::GET, ["clientes"]) => customers(cx).await,
        (&Method::GET, ["clientes", key]) => customer_page(cx, key, None, 200).await,
        (&Method::POST, ["clientes", key]) => edit_customer(cx, key, form).await,
        (&Method::GET, ["clientes", key, "exportar"]) => export(cx, key).await,
        (&Method::POST, ["clientes", key, "anonimizar"]) => anonymize(cx, key, form).await,
        (&Method::GET, ["equipamentos", id]) => equipment_page(cx, id, None, 200).await,
        (&Method::POST, ["equipamentos", id]) => edit_equipment(cx, id, form).await,
        (&Method::GET, ["empresa"]) => company_page(cx, None, None, 200).await,
        (&Method::POST, ["empresa"]) => save_company(cx, form).await,
        (&Method::POST, ["os", id, "editar", what]) => edit_order(cx, id, what, form).await,
        (&Method::GET, ["os", id, "recibo", kind]) => receipt(cx, id, kind).await,
        (&Method::POST, ["os", id, "senha"]) => unlock_code(cx, id).await,
        (&Method::POST, ["os", id, "garantia"]) => warranty_return(cx, id, form).await,
        _ => Reply::html(404, pages::message(cx.frame, "Página não encontrada", "Esta página não existe.")),
    }
}

fn not_found(cx: &Cx<'_>, what: &str) -> Reply {
    Reply::html(404, pages::message(cx.frame, &format!("{what} não encontrado"), "Não há registro com este endereço."))
}

fn refusal(cx: &Cx<'_>, e: &AppError, what: &str) -> Reply {
    match e {
        AppError::NotFound => not_found(cx, what),
        e => cx.refusal(e),
    }
}

fn if_match(version: Option<&str>) -> Vec<(header::HeaderName, String)> {
    version.map(|v| (header::IF_MATCH, format!("\"{v}\""))).into_iter().collect()
}

fn notice(message: &Option<(bool, String)>) -> Markup {
    html! { @if let Some((ok, m)) = message { p class=(if *ok { "ok" } else { "err" }) role="alert" { (m) } } }
}

// ---------------------------------------------------------------------------------------------------------------
// Customers

/// The customer of a path segment: by id (a UUID, the only way to an anonymized customer) or by CPF/CNPJ.
async fn customer_of(cx: &Cx<'_>, key: &str) -> Result<CustomerRecord, AppError> {
    if let Ok(id) = CustomerId::parse(key) {
        return cx.app().get_customer(cx.caller, &id).await;
    }
    let document = Document::parse(key).map_err(|_| AppError::NotFound)?;
    cx.app().customer_by_document(cx.caller, &document).await
}

/// One customer found by the search: document (bare), name, their latest order found.
struct Found {
    document: Document,
    name: String,
    last_order: u64,
}

/// `GET /clientes?q=`: a CPF/CNPJ opens the customer; any other text finds the customers of the orders whose
/// customer name or equipment serial match it (the order search, every status), and the equipment of that
/// serial; without a query, the customers of the open orders.
async fn customers(cx: &Cx<'_>) -> Reply {
    let q = cx.r.q("q").unwrap_or_default().to_owned();
    if let Ok(document) = Document::parse(&q) {
        return match cx.app().customer_by_document(cx.caller, &document).await {
            Ok(c) => Reply::redirect(&format!("/clientes/{}", c.id)),
            Err(AppError::NotFound) => customers_page(cx, &q, &[], None, Some("Nenhum cliente com este CPF/CNPJ.")),
            Err(e) => cx.refusal(&e),
        };
    }
    let query = OrderQuery { text: Some(q.clone()).filter(|s| !s.is_empty()), ..OrderQuery::default() };
    let mut found: Vec<Found> = Vec::new();
    let mut page = PageRequest { limit: 100, cursor: None };
    for _ in 0..SEARCH_PAGES {
        let cards = match cx.app().search_orders(cx.caller, &query, &page).await {
            Ok(cards) => cards,
            Err(e) => return cx.refusal(&e),
        };
        for c in &cards.items {
            if found.len() < SEARCH_MAX && !found.iter().any(|f| f.document == c.customer_document) {
                let name = c.customer_name.clone();
                found.push(Found { document: c.customer_document, name, last_order: c.number });
            }
        }
        match cards.next {
            Some(next) if found.len() < SEARCH_MAX => page.cursor = Some(next),
            _ => break,
        }
    }
    let equipment =
        if q.is_empty() { None } else { cx.app().equipment_by_serial(cx.caller, &q).await.ok().map(|h| h.record) };
    customers_page(cx, &q, &found, equipment.as_ref(), None)
}

fn customers_page(
    cx: &Cx<'_>,
    q: &str,
    found: &[Found],
    equipment: Option<&osflow_domain::EquipmentRecord>,
    message: Option<&str>,
) -> Reply {
    Reply::html(
        200,
        layout(
            cx.frame,
            "Clientes",
            html! {
                h1 { "Clientes" }
                form.filters method="get" action="/clientes" role="search" {
                    label for="busca-cliente" { "Buscar" }
                    input id="busca-cliente" name="q" type="search" value=(q) placeholder="Nome, CPF/CNPJ ou nº de série";
                    button type="submit" { "Buscar" }
                }
                @if let Some(m) = message { p.err role="alert" { (m) } }
                @if let Some(e) = equipment {
                    section.card { h2 { "Equipamento com esta série" }
                        p { a href=(format!("/equipamentos/{}", e.id)) { (e.equipment.description) " · série " (e.equipment.serial.as_deref().unwrap_or_default()) } }
                    }
                }
                section.card {
                    h2 { @if q.is_empty() { "Clientes das OS em aberto" } @else { "Clientes encontrados" } }
                    @if found.is_empty() { p.muted { "Nenhum cliente encontrado." } }
                    @else {
                        div.scroll { table.customers {
                            thead { tr { th { "Nome" } th { "CPF/CNPJ" } th.n { "OS mais recente" } } }
                            tbody { @for f in found {
                                tr {
                                    td { a href=(format!("/clientes/{}", f.document.as_str())) { (f.name) } }
                                    td { (f.document.to_string()) }
                                    td.n { (f.last_order) }
                                }
                            } }
                        } }
                    }
                }
            },
        ),
    )
}

/// The labels of the statuses of `orders`, by the flow version each runs on.
async fn status_labels(cx: &Cx<'_>, orders: &[Order]) -> Result<Vec<String>, AppError> {
    let mut flows: Vec<Flow> = Vec::new();
    let mut labels = Vec::with_capacity(orders.len());
    for o in orders {
        if !flows.iter().any(|f| f.version == o.flow_version) {
            flows.push(cx.app().flow_version(&cx.caller.tenant, o.flow_version).await?);
        }
        let flow = flows.iter().find(|f| f.version == o.flow_version).expect("loaded above");
        labels.push(flow.status(&o.status).map_or_else(|| o.status.to_string(), |s| s.label.clone()));
    }
    Ok(labels)
}

fn history_table(orders: &[Order], labels: &[String]) -> Markup {
    html! {
        @if orders.is_empty() { p.muted { "Nenhuma OS." } }
        @else {
            div.scroll { table.history {
                thead { tr { th { "OS" } th { "Aberta em" } th { "Equipamento" } th { "Status" } th.n { "Orçamento" } } }
                tbody { @for (o, label) in orders.iter().zip(labels) {
                    tr {
                        td { a href=(format!("/os/{}", o.id)) { "OS " (o.number) } }
                        td { (date_time(o.created_at)) }
                        td { (o.equipment.description) @if let Some(s) = &o.equipment.serial { " · " (s) } }
                        td { (label) }
                        td.n { (brl(o.current_revision().map_or(osflow_domain::values::Money::zero(), |r| r.total))) }
                    }
                } }
            } }
        }
    }
}

/// The customer's fields, filled with `c` (the names the form maps to the API's customer).
pub(crate) fn customer_fields(c: Option<&Customer>) -> Markup {
    let a = c.and_then(|c| c.address.as_ref());
    html! {
        label { "Nome " input name="customer_name" type="text" required value=[c.map(|c| c.name.as_str())] autocomplete="name"; }
        label { "CPF ou CNPJ " input name="customer_document" type="text" required value=[c.map(|c| c.document.to_string())]; }
        label { "E-mail " input name="customer_email" type="email" value=[c.and_then(|c| c.email.as_ref()).map(|e| e.to_string())] autocomplete="email"; }
        label { "Telefone " input name="customer_phone" type="tel" value=[c.and_then(|c| c.phone.as_ref()).map(|p| p.to_string())] autocomplete="tel"; }
        fieldset { legend { "Endereço (opcional; a NF-e precisa dele)" }
            label { "CEP " input name="address_zip" type="text" inputmode="numeric" value=[a.map(|a| a.zip.to_string())]; }
            label { "Logradouro " input name="address_street" type="text" value=[a.map(|a| a.street.as_str())]; }
            label { "Número " input name="address_number" type="text" value=[a.map(|a| a.number.as_str())]; }
            label { "Complemento " input name="address_complement" type="text" value=[a.and_then(|a| a.complement.as_deref())]; }
            label { "Bairro " input name="address_district" type="text" value=[a.map(|a| a.district.as_str())]; }
            label { "Cidade " input name="address_city" type="text" value=[a.map(|a| a.city.as_str())]; }
            label { "Código IBGE da cidade " input name="address_city_code" type="text" inputmode="numeric" value=[a.map(|a| a.city_code.to_string())]; }
            label { "UF " input name="address_uf" type="text" maxlength="2" value=[a.map(|a| a.uf.to_string())]; }
        }
    }
}

/// The equipment's fields, filled with `e`.
pub(crate) fn equipment_fields(e: Option<&Equipment>) -> Markup {
    html! {
        label { "Descrição " input name="equipment_description" type="text" required value=[e.map(|e| e.description.as_str())]; }
        label { "Marca " input name="equipment_brand" type="text" value=[e.and_then(|e| e.brand.as_deref())]; }
        label { "Modelo " input name="equipment_model" type="text" value=[e.and_then(|e| e.model.as_deref())]; }
        label { "Nº de série ou etiqueta " input name="equipment_serial" type="text" value=[e.and_then(|e| e.serial.as_deref())]; }
    }
}

fn customer_data(c: &Customer) -> Markup {
    html! {
        p { strong.name { (c.name) } br; (c.document.to_string()) }
        @if let Some(e) = &c.email { p.email { (e.to_string()) } }
        @if let Some(ph) = &c.phone { p.phone { (ph.to_string()) } }
        @if let Some(a) = &c.address {
            p.address { (a.street) ", " (a.number) @if let Some(x) = &a.complement { " " (x) } br;
                (a.district) " · " (a.city) "/" (a.uf.to_string()) " · CEP " (a.zip.to_string()) }
        }
    }
}

async fn customer_page(cx: &Cx<'_>, key: &str, message: Option<(bool, String)>, status: u16) -> Reply {
    let record = match customer_of(cx, key).await {
        Ok(r) => r,
        Err(e) => return refusal(cx, &e, "Cliente"),
    };
    let loaded = async {
        let h = cx.app().customer_history(cx.caller, &record.id).await?;
        let labels = status_labels(cx, &h.orders).await?;
        Ok::<_, AppError>((h, labels))
    }
    .await;
    let (h, labels) = match loaded {
        Ok(l) => l,
        Err(e) => return refusal(cx, &e, "Cliente"),
    };
    let message = message
        .or_else(|| cx.r.q("salvo").map(|_| (true, "Dados do cliente salvos.".to_owned())))
        .or_else(|| cx.r.q("anonimizado").map(|_| (true, "Dados pessoais do cliente anonimizados.".to_owned())));
    let r = &h.record;
    let id = r.id.to_string();
    let admin = cx.caller.has_any(&ADMIN_ROLES);
    let title = if r.is_anonymized() { "Cliente anonimizado".to_owned() } else { r.customer.name.clone() };
    Reply::html(
        status,
        layout(
            cx.frame,
            &title,
            html! {
                p { a href="/clientes" { "← Clientes" } }
                h1 { (title) }
                (notice(&message))
                div.grid {
                    section.card.customer {
                        h2 { "Dados" }
                        @if let Some(at) = r.anonymized_at {
                            p.muted { "Dados pessoais apagados a pedido do cliente (LGPD) em " (date_time(at)) "." }
                        } @else { (customer_data(&r.customer)) }
                        p.muted { "Cliente desde " (date_time(r.created_at)) " · versão " (r.version) }
                        @if !r.is_anonymized() {
                            details.action {
                                summary data-action="edit_customer_record" { "Editar dados do cliente" }
                                form method="post" action=(format!("/clientes/{id}")) {
                                    input type="hidden" name="csrf" value=(cx.frame.csrf);
                                    input type="hidden" name="version" value=(r.version);
                                    (customer_fields(Some(&r.customer)))
                                    p.muted { "As OS abertas do cliente passam a ter estes dados; as encerradas e as notas já emitidas mantêm os seus." }
                                    button.primary type="submit" { "Salvar dados do cliente" }
                                }
                            }
                        }
                    }
                    section.card {
                        h2 { "Equipamentos" }
                        @if h.equipment.is_empty() { p.muted { "Nenhum equipamento registrado." } }
                        ul.equipment { @for e in &h.equipment {
                            li { a href=(format!("/equipamentos/{}", e.id)) { (e.equipment.description) }
                                @if let Some(s) = &e.equipment.serial { " · série " (s) } }
                        } }
                    }
                }
                section.card { h2 { "Histórico de OS" } (history_table(&h.orders, &labels)) }
                @if admin {
                    section.card.lgpd {
                        h2 { "LGPD" }
                        p { a href=(format!("/clientes/{id}/exportar")) download { "Exportar os dados do cliente (JSON)" } }
                        @if !r.is_anonymized() {
                            details.action {
                                summary data-action="anonymize_customer" { "Anonimizar o cliente" }
                                form method="post" action=(format!("/clientes/{id}/anonimizar")) {
                                    input type="hidden" name="csrf" value=(cx.frame.csrf);
                                    p { "Apaga o nome, o documento, os contatos e o endereço do cliente em todas as suas OS e históricos. "
                                        "As notas fiscais já emitidas são mantidas, como a lei exige. Não pode ser desfeito." }
                                    label.check { input type="checkbox" name="confirmar" value="1" required; " Confirmo que o cliente pediu a exclusão dos seus dados" }
                                    br;
                                    button.danger type="submit" { "Anonimizar definitivamente" }
                                }
                            }
                        }
                    }
                }
            },
        ),
    )
}

async fn edit_customer(cx: &Cx<'_>, key: &str, form: &Form) -> Reply {
    let record = match customer_of(cx, key).await {
        Ok(r) => r,
        Err(e) => return refusal(cx, &e, "Cliente"),
    };
    let path = format!("/v1/customers/{}", record.id);
    let body = forms::customer(form);
    let answer =
        api::call_with(cx.app(), cx.caller, Method::PUT, &path, Some(&body), &if_match(form.get("version"))).await;
    if answer.ok() {
        return Reply::redirect(&format!("/clientes/{}?salvo=1", record.id));
    }
    customer_page(cx, &record.id.to_string(), Some((false, answer.message())), answer.status).await
}

/// `GET /clientes/{id}/exportar`: everything kept about the customer, as the API's export (the same use case).
async fn export(cx: &Cx<'_>, key: &str) -> Reply {
    let record = match customer_of(cx, key).await {
        Ok(r) => r,
        Err(e) => return refusal(cx, &e, "Cliente"),
    };
    match cx.app().export_customer(cx.caller, &record.id).await {
        Ok(export) => Reply {
            status: 200,
            content_type: "application/json".into(),
            body: Body::Text(serde_json::to_string(&export).expect("the export serializes")),
            headers: vec![],
        }
        .with(header::CONTENT_DISPOSITION, format!("attachment; filename=\"cliente-{}.json\"", record.id))
        .with(header::CACHE_CONTROL, "no-store".to_owned()),
        Err(e) => refusal(cx, &e, "Cliente"),
    }
}

async fn anonymize(cx: &Cx<'_>, key: &str, form: &Form) -> Reply {
    let record = match customer_of(cx, key).await {
        Ok(r) => r,
        Err(e) => return refusal(cx, &e, "Cliente"),
    };
    let id = record.id.to_string();
    if !form.checked("confirmar") {
        let m = "Marque a confirmação de que o cliente pediu a exclusão dos dados.".to_owned();
        return customer_page(cx, &id, Some((false, m)), 422).await;
    }
    let path = format!("/v1/customers/{id}/anonymize");
    let answer = api::call(cx.app(), cx.caller, Method::POST, &path, Some(&json!({}))).await;
    if answer.ok() {
        return Reply::redirect(&format!("/clientes/{id}?anonimizado=1"));
    }
    customer_page(cx, &id, Some((false, answer.message())), answer.status).await
}

// ---------------------------------------------------------------------------------------------------------------
// Equipment

async fn equipment_page(cx: &Cx<'_>, id: &str, message: Option<(bool, String)>, status: u16) -> Reply {
    let Ok(eid) = EquipmentId::parse(id) else { return not_found(cx, "Equipamento") };
    let loaded = async {
        let h = cx.app().equipment_history(cx.caller, &eid).await?;
        let labels = status_labels(cx, &h.orders).await?;
        Ok::<_, AppError>((h, labels))
    }
    .await;
    let (h, labels) = match loaded {
        Ok(l) => l,
        Err(e) => return refusal(cx, &e, "Equipamento"),
    };
    let e = &h.record;
    let message = message.or_else(|| cx.r.q("salvo").map(|_| (true, "Dados do equipamento salvos.".to_owned())));
    Reply::html(
        status,
        layout(
            cx.frame,
            &e.equipment.description,
            html! {
                p { a href=(format!("/clientes/{}", e.customer)) { "← Cliente" } }
                h1 { (e.equipment.description) }
                (notice(&message))
                section.card.equipment {
                    p.muted {
                        @if let Some(b) = &e.equipment.brand { (b) " " }
                        @if let Some(m) = &e.equipment.model { (m) " " }
                        @if let Some(s) = &e.equipment.serial { "· série " span.serial { (s) } }
                    }
                    p.muted { "Registrado em " (date_time(e.created_at)) " · versão " (e.version) }
                    details.action {
                        summary data-action="edit_equipment_record" { "Editar equipamento" }
                        form method="post" action=(format!("/equipamentos/{}", e.id)) {
                            input type="hidden" name="csrf" value=(cx.frame.csrf);
                            input type="hidden" name="version" value=(e.version);
                            (equipment_fields(Some(&e.equipment)))
                            button.primary type="submit" { "Salvar equipamento" }
                        }
                    }
                }
                section.card { h2 { "Histórico de OS" } (history_table(&h.orders, &labels)) }
            },
        ),
    )
}

async fn edit_equipment(cx: &Cx<'_>, id: &str, form: &Form) -> Reply {
    let Ok(eid) = EquipmentId::parse(id) else { return not_found(cx, "Equipamento") };
    let body = forms::equipment(form);
    let path = format!("/v1/equipment/{eid}");
    let answer =
        api::call_with(cx.app(), cx.caller, Method::PUT, &path, Some(&body), &if_match(form.get("version"))).await;
    if answer.ok() {
        return Reply::redirect(&format!("/equipamentos/{eid}?salvo=1"));
    }
    equipment_page(cx, id, Some((false, answer.message())), answer.status).await
}

// ---------------------------------------------------------------------------------------------------------------
// The company's paperwork settings

async fn company_page(cx: &Cx<'_>, posted: Option<&Form>, message: Option<(bool, String)>, status: u16) -> Reply {
    if !cx.caller.has_any(&ADMIN_ROLES) {
        return cx.refusal(&AppError::Forbidden { allowed: ADMIN_ROLES.to_vec() });
    }
    let saved = match cx.app().company_settings(cx.caller).await {
        Ok(s) => s,
        Err(e) => return cx.refusal(&e),
    };
    let message = message.or_else(|| cx.r.q("salvo").map(|_| (true, "Dados da empresa salvos.".to_owned())));
    Reply::html(status, company_form(cx, &saved, posted, message))
}

fn company_form(
    cx: &Cx<'_>,
    saved: &CompanySettings,
    posted: Option<&Form>,
    message: Option<(bool, String)>,
) -> Markup {
    let text = |name: &str, saved: Option<&str>| match posted {
        Some(f) => f.get(name).map(str::to_owned),
        None => saved.map(str::to_owned),
    };
    let days = |name: &str, saved: u32| match posted {
        Some(f) => f.text(name),
        None => saved.to_string(),
    };
    let max = osflow_domain::warranty::MAX_WARRANTY_DAYS;
    layout(
        cx.frame,
        "Empresa",
        html! {
            h1 { "Empresa: recibos e garantia" }
            (notice(&message))
            form.card.company method="post" action="/empresa" {
                input type="hidden" name="csrf" value=(cx.frame.csrf);
                fieldset { legend { "Nos recibos" }
                    label { "Nome da empresa " input name="company_name" type="text" maxlength="120" value=[text("company_name", saved.company_name.as_deref())]; }
                    label { "CNPJ ou CPF da empresa " input name="company_document" type="text" maxlength="40" value=[text("company_document", saved.company_document.as_deref())]; }
                }
                fieldset { legend { "Garantia padrão (dias a partir da liberação)" }
                    label { "Peças " input name="warranty_parts_days" type="number" min="0" max=(max) value=(days("warranty_parts_days", saved.warranty.parts_days)); }
                    label { "Serviços " input name="warranty_labor_days" type="number" min="0" max=(max) value=(days("warranty_labor_days", saved.warranty.labor_days)); }
                    p.muted { "Valem para os itens do orçamento lançados sem garantia própria." }
                }
                label { "Termo de garantia (recibo de entrega) "
                    textarea name="warranty_terms" rows="6" maxlength="4000" { (text("warranty_terms", saved.warranty_terms.as_deref()).unwrap_or_default()) } }
                label { "Termos do recibo de entrada "
                    textarea name="entry_terms" rows="6" maxlength="4000" { (text("entry_terms", saved.entry_terms.as_deref()).unwrap_or_default()) } }
                p.muted { "Em branco: o texto padrão." }
                button.primary type="submit" { "Salvar" }
            }
        },
    )
}

/// The settings form as `PUT /v1/settings/company` takes it.
fn company_request(form: &Form) -> Value {
    let mut body = serde_json::Map::new();
    for name in ["company_name", "company_document", "warranty_terms", "entry_terms"] {
        if let Some(v) = form.get(name) {
            body.insert(name.into(), json!(v.replace("\r\n", "\n")));
        }
    }
    for name in ["warranty_parts_days", "warranty_labor_days"] {
        if let Some(v) = form.get(name) {
            body.insert(name.into(), v.parse::<u64>().map_or_else(|_| json!(v), |n| json!(n)));
        }
    }
    Value::Object(body)
}

async fn save_company(cx: &Cx<'_>, form: &Form) -> Reply {
    let answer =
        api::call(cx.app(), cx.caller, Method::PUT, "/v1/settings/company", Some(&company_request(form))).await;
    if answer.ok() {
        return Reply::redirect("/empresa?salvo=1");
    }
    company_page(cx, Some(form), Some((false, answer.message())), answer.status).await
}

// ---------------------------------------------------------------------------------------------------------------
// The order page's records part

/// What `decide` answers the caller's `cmd` on the order now.
fn decided(cx: &Cx<'_>, order: &Order, flow: &Flow, cmd: Command) -> Result<(), DomainError> {
    decide(order, flow, cmd, &cx.caller.actor(), &Context::at(cx.app().clock.now())).map(|_| ())
}

/// Whether the caller may give `cmd` now, whatever its payload (a placeholder payload's refusal is the form's
/// to fix).
pub(crate) fn may(cx: &Cx<'_>, order: &Order, flow: &Flow, cmd: Command) -> bool {
    matches!(decided(cx, order, flow, cmd), Ok(()) | Err(DomainError::Invalid { .. }))
}

/// Whether a photo may be marked as an intake photo now (the payload is the question: only `Ok` says yes).
pub(crate) fn may_intake_photo(cx: &Cx<'_>, order: &Order, flow: &Flow) -> bool {
    decided(cx, order, flow, intake_photo_probe()).is_ok()
}

fn intake_photo_probe() -> Command {
    Command::AddAttachment {
        key: "-".into(),
        content_type: "image/jpeg".into(),
        caption: None,
        visible_to_customer: false,
        intake: true,
    }
}

/// The technicians to choose from, until the company has a user directory: the company's development technician
/// (osflow-local's sign-in) and the ones of its open orders (one page of the order search), with the order's own.
async fn technicians(cx: &Cx<'_>, order: &Order) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if matches!(cx.console.sign_in, SignIn::Development { .. }) {
        out.push(format!("tecnico@{}", cx.caller.tenant));
    }
    if let Ok(found) =
        cx.app().search_orders(cx.caller, &OrderQuery::default(), &PageRequest { limit: 100, cursor: None }).await
    {
        out.extend(found.items.iter().filter_map(|c| c.technician.as_ref().map(|t| t.to_string())));
    }
    out.extend(order.technician.as_ref().map(|t| t.to_string()));
    out.sort();
    out.dedup();
    out
}

/// The order page's records part: intake, receipts, warranty, and the edits the caller may make now.
pub(crate) async fn order_section(cx: &Cx<'_>, order: &Order, flow: &Flow) -> Markup {
    let id = order.id.to_string();
    let csrf = cx.frame.csrf;
    let today = osflow_domain::warranty::today(cx.app().clock.now());
    let open = flow.status(&order.status).is_some_and(|s| !s.kind.is_final());
    let edit_customer = open
        && !order.customer_anonymized()
        && may(cx, order, flow, Command::EditCustomer { customer: order.customer.clone(), customer_id: None });
    let edit_equipment =
        open && may(cx, order, flow, Command::EditEquipment { equipment: order.equipment.clone(), equipment_id: None });
    let probe_date = today + chrono::Days::new(3650);
    let change_due = open && may(cx, order, flow, Command::ChangeDueDate { due_date: probe_date });
    let assign = open && may(cx, order, flow, Command::AssignTechnician { technician: cx.caller.user.clone() });
    let read_code = order.has_unlock_code() && may(cx, order, flow, Command::ReadUnlockCode);
    let change_code = open && may(cx, order, flow, Command::ChangeUnlockCode { set: true });
    let technicians = if assign { technicians(cx, order).await } else { vec![] };
    let warranties = order.warranties();
    let covered: Vec<_> = warranties.iter().filter(|w| today <= w.until).collect();
    let released = order.released_at.is_some();
    html! {
        section.card.intake id="entrada" {
            h2 { "Entrada e documentos" }
            @match &order.intake {
                Some(i) => {
                    @if !i.accessories.is_empty() { p.accessories { "Acessórios: " (i.accessories.join(", ")) } }
                    @if let Some(c) = &i.condition { p.condition { "Estado ao receber: " (c) } }
                }
                None => { p.muted { "Nenhum acessório ou estado registrado na entrada." } }
            }
            @if order.has_unlock_code() {
                p { "Senha de desbloqueio registrada (guardada cifrada; apagada ao encerrar)." }
                @if read_code {
                    form.action method="post" action=(format!("/os/{id}/senha")) {
                        input type="hidden" name="csrf" value=(csrf);
                        button.primary type="submit" data-action="read_unlock_code" { "Ver senha de desbloqueio" }
                    }
                }
            }
            @if change_code {
                details.action {
                    summary data-action="change_unlock_code" { @if order.has_unlock_code() { "Trocar a senha de desbloqueio" } @else { "Registrar senha de desbloqueio" } }
                    form method="post" action=(format!("/os/{id}/editar/senha")) {
                        input type="hidden" name="csrf" value=(csrf);
                        label { "Senha, PIN ou padrão " input name="unlock_code" type="password" autocomplete="off" required maxlength=(osflow_app::UNLOCK_CODE_MAX); }
                        button.primary type="submit" { "Salvar senha" }
                    }
                }
            }
            p.receipts {
                a href=(format!("/os/{id}/recibo/entrada")) target="_blank" { "Recibo de entrada (PDF)" }
                @if released { " · " a href=(format!("/os/{id}/recibo/entrega")) target="_blank" { "Recibo de entrega com termo de garantia (PDF)" } }
            }
            @if let Some(w) = &order.warranty_of {
                p.warranty-of { "Retorno em garantia da " a href=(format!("/os/{}", w.order)) { "OS " (w.number) } "." }
            }
            @if !order.warranty_returns.is_empty() {
                p.warranty-returns { "Retornos em garantia: "
                    @for (n, w) in order.warranty_returns.iter().enumerate() {
                        @if n > 0 { ", " } a href=(format!("/os/{}", w.order)) { "OS " (w.number) }
                    }
                }
            }
            @if !warranties.is_empty() {
                h3 { "Garantia" }
                ul.warranties { @for w in &warranties {
                    li { (w.line.description) ": " (w.days) " dias, até " (date(w.until)) @if today > w.until { " (vencida)" } }
                } }
            }
            @if released && !covered.is_empty() {
                details.action {
                    summary data-action="warranty_return" { "Abrir retorno em garantia" }
                    form method="post" action=(format!("/os/{id}/garantia")) {
                        input type="hidden" name="csrf" value=(csrf);
                        input type="hidden" name="chave" value=(uuid::Uuid::new_v4().simple().to_string());
                        fieldset { legend { "Itens que voltaram (cobertos, sem custo)" }
                            @for w in &covered {
                                label.check { input type="checkbox" name="linha" value=(format!("{}:{}", w.revision, w.line.line)) checked; " " (w.line.description) }
                            }
                        }
                        label { "Problema relatado " textarea name="reported_problem" required {} }
                        label { "Previsão de entrega " input type="date" name="due_date" min=(today.to_string()); }
                        button.primary type="submit" { "Abrir OS de garantia" }
                    }
                }
            }
        }
        @if edit_customer || edit_equipment || change_due || assign {
            section.card.edits id="editar" {
                h2 { "Editar OS" }
                @if change_due {
                    (edit_form(&id, "entrega", "change_due_date", "Alterar data prevista", csrf, html! {
                        label { "Nova data prevista " input type="date" name="due_date" required min=(today.to_string()) value=[order.due_date.map(|d| d.to_string())]; }
                        p.muted { "O cliente é avisado da nova data." }
                    }))
                }
                @if assign {
                    (edit_form(&id, "tecnico", "assign_technician", "Técnico responsável", csrf, html! {
                        label { "Técnico "
                            select name="technician" required {
                                option value="" { "— escolha —" }
                                @for t in &technicians { option value=(t) selected[order.technician.as_ref().is_some_and(|o| o.as_str() == t)] { (t) } }
                            }
                        }
                    }))
                }
                @if edit_customer {
                    (edit_form(&id, "cliente", "edit_customer", "Corrigir dados do cliente", csrf, customer_fields(Some(&order.customer))))
                }
                @if edit_equipment {
                    (edit_form(&id, "equipamento", "edit_equipment", "Corrigir dados do equipamento", csrf, equipment_fields(Some(&order.equipment))))
                }
            }
        }
    }
}

/// One edit of the open order: its summary, its fields and the button that saves them.
fn edit_form(id: &str, what: &str, action: &str, title: &str, csrf: &str, fields: Markup) -> Markup {
    html! {
        details.action {
            summary data-action=(action) { (title) }
            form method="post" action=(format!("/os/{id}/editar/{what}")) {
                input type="hidden" name="csrf" value=(csrf);
                (fields)
                button.primary type="submit" { "Salvar" }
            }
        }
    }
}

/// `POST /os/{id}/editar/{what}`: the API's edit routes of an open order.
async fn edit_order(cx: &Cx<'_>, id: &str, what: &str, form: &Form) -> Reply {
    let Ok(oid) = OrderId::parse(id) else { return not_found(cx, "Registro") };
    let (suffix, body, done) = match what {
        "cliente" => ("customer", forms::customer(form), "edit_customer"),
        "equipamento" => ("equipment", forms::equipment(form), "edit_equipment"),
        "entrega" => ("due-date", json!({"due_date": form.text("due_date")}), "change_due_date"),
        "tecnico" => ("technician", json!({"technician": form.text("technician")}), "assign_technician"),
        "senha" => {
            // The code as typed: spaces may be part of it.
            let code = form.all("unlock_code").into_iter().next().unwrap_or_default();
            ("unlock-code", json!({"unlock_code": code}), "change_unlock_code")
        }
        _ => return Reply::html(404, pages::message(cx.frame, "Página não encontrada", "Esta página não existe.")),
    };
    // Not conditional on the order's version the form was made from: the order moves on by itself (its
    // notifications are events too), and each edit replaces one whole part of it, decided on the order as it is.
    let path = format!("/v1/orders/{oid}/{suffix}");
    let answer = api::call(cx.app(), cx.caller, Method::PUT, &path, Some(&body)).await;
    if answer.ok() {
        return Reply::redirect(&format!("/os/{oid}?feito={done}"));
    }
    match answer.status {
        404 => cx.refusal(&AppError::NotFound),
        status => order_page(cx, id, Some((false, answer.message())), status).await,
    }
}

/// `GET /os/{id}/recibo/{entrada|entrega}`: the printed OS (the same use case as the API's receipts).
async fn receipt(cx: &Cx<'_>, id: &str, kind: &str) -> Reply {
    let (Ok(oid), Some(kind)) = (
        OrderId::parse(id),
        match kind {
            "entrada" => Some(ReceiptKind::Entry),
            "entrega" => Some(ReceiptKind::Delivery),
            _ => None,
        },
    ) else {
        return cx.refusal(&AppError::NotFound);
    };
    match cx.app().receipt(cx.caller, &oid, kind).await {
        Ok(bytes) => {
            let name = if kind == ReceiptKind::Entry { "entrada" } else { "entrega" };
            Reply { status: 200, content_type: "application/pdf".into(), body: Body::Binary(bytes), headers: vec![] }
                .with(header::CONTENT_DISPOSITION, format!("inline; filename=\"os-{oid}-{name}.pdf\""))
        }
        Err(e) => cx.refusal(&e),
    }
}

/// `POST /os/{id}/senha`: the unlock code for the staff who may read it (the read is recorded on the order's
/// timeline by the use case); never cached.
async fn unlock_code(cx: &Cx<'_>, id: &str) -> Reply {
    let Ok(oid) = OrderId::parse(id) else { return cx.refusal(&AppError::NotFound) };
    let code = match cx.app().read_unlock_code(cx.caller, &oid).await {
        Ok(c) => c,
        Err(AppError::Domain(_)) => {
            let m = "Não há senha de desbloqueio para ver: nenhuma foi registrada ou a OS já foi encerrada.";
            return order_page(cx, id, Some((false, m.to_owned())), 422).await;
        }
        Err(e) => return cx.refusal(&e),
    };
    Reply::html(
        200,
        layout(
            cx.frame,
            "Senha de desbloqueio",
            html! {
                section.card.narrow {
                    h1 { "Senha de desbloqueio" }
                    p { "Senha: " code.unlock-code { (code) } }
                    p.muted { "Esta consulta ficou registrada no histórico da OS." }
                    p { a href=(format!("/os/{oid}")) { "← Voltar à OS" } }
                }
            },
        ),
    )
    .with(header::CACHE_CONTROL, "no-store".to_owned())
}

/// `POST /os/{id}/garantia`: a warranty return of the chosen lines, under the form's own idempotency key (the
/// same form sent twice opens one OS).
async fn warranty_return(cx: &Cx<'_>, id: &str, form: &Form) -> Reply {
    let Ok(oid) = OrderId::parse(id) else { return cx.refusal(&AppError::NotFound) };
    let lines: Vec<Value> = form
        .all("linha")
        .iter()
        .filter_map(|l| l.split_once(':'))
        .filter_map(|(r, l)| Some(json!({"revision": r.parse::<u32>().ok()?, "line": l.parse::<u32>().ok()?})))
        .collect();
    let mut body = json!({"lines": lines, "reported_problem": form.text("reported_problem")});
    if let Some(d) = form.get("due_date") {
        body["due_date"] = json!(d);
    }
    let key: Vec<_> = form
        .get("chave")
        .map(|k| (header::HeaderName::from_static("idempotency-key"), format!("console-{k}")))
        .into_iter()
        .collect();
    let path = format!("/v1/orders/{oid}/warranty-return");
    let answer = api::call_with(cx.app(), cx.caller, Method::POST, &path, Some(&body), &key).await;
    match answer.body["id"].as_str() {
        Some(new) if answer.ok() => Reply::redirect(&format!("/os/{new}?feito=warranty_return")),
        _ if answer.status == 404 => cx.refusal(&AppError::NotFound),
        _ => order_page(cx, id, Some((false, answer.message())), answer.status).await,
    }
}

/// The opening form's intake fields (accessories, condition, unlock code).
pub(crate) fn intake_fields() -> Markup {
    html! {
        fieldset.intake { legend { "Entrada do equipamento" }
            label for="acessorios" { "Acessórios deixados (um por linha)" }
            textarea id="acessorios" name="intake_accessories" rows="2" {}
            label for="estado" { "Estado ao receber" }
            textarea id="estado" name="intake_condition" rows="2" {}
            label for="senha" { "Senha de desbloqueio (opcional; guardada cifrada, apagada ao encerrar)" }
            input id="senha" name="intake_unlock_code" type="password" autocomplete="off" maxlength=(osflow_app::UNLOCK_CODE_MAX);
            p.muted { "As fotos de entrada são anexadas na página da OS, antes de iniciar o serviço." }
        }
    }
}
