//! The records routes (function `records`): the company's customers and equipment, their histories, the LGPD
//! export and anonymization, and the edits of an open order's customer, equipment, due date and technician.
//! Roles and rules are the use cases' (`osflow_app`, `App::…customer…`) and the domain's.

use chrono::{DateTime, NaiveDate, Utc};
use lambda_http::http::header;
use osflow_app::{AppError, Caller, CustomerHistory, EquipmentHistory};
use osflow_domain::values::{Document, UserId};
use osflow_domain::{Command, CustomerId, CustomerRecord, EquipmentId, EquipmentRecord, Flow, Order};
use osflow_lambda_kit::{Problem, ProblemType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::{CustomerInput, CustomerView, EmptyRequest, EquipmentInput, EquipmentView, OrderSummary, OrderView};
use crate::errors::app_problem;
use crate::handlers::{OrderPath, step, stepped};
use crate::http::{Cx, Res, json_response, percent_decode, rendered, to_json, with_header};

/// Path parameter of a customer.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct CustomerRecordPath {
    /// The customer's CPF or CNPJ (with or without punctuation), or the customer's id (a UUID: the only way to
    /// reach an anonymized customer).
    document: String,
}

/// Path parameter of an equipment.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct EquipmentPath {
    /// The equipment's id (a UUID).
    id: String,
}

/// The serial an equipment is looked up by.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SerialQuery {
    /// The equipment's serial number or the shop's tag (any case).
    serial: String,
}

/// A customer of the company, with their equipment and their orders (newest first, up to 100).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CustomerRecordView {
    /// UUIDv7.
    pub id: String,
    /// Bumped by every edit; the `ETag`.
    pub version: u64,
    pub customer: CustomerView,
    /// Whether the customer's personal data was erased at their request (LGPD).
    pub anonymized: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub equipment: Vec<EquipmentRecordView>,
    pub orders: Vec<OrderSummary>,
}

/// An equipment of a customer (found by its serial or tag), with its orders when read alone.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EquipmentRecordView {
    /// UUIDv7.
    pub id: String,
    pub version: u64,
    /// The customer's id.
    pub customer_id: String,
    pub equipment: EquipmentView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its orders, newest first (up to 100).
    pub orders: Vec<OrderSummary>,
}

/// A new due date.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DueDateRequest {
    #[schema(value_type = String, format = Date, example = "2026-12-20")]
    pub due_date: NaiveDate,
}

/// The technician in charge.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicianRequest {
    /// The user id of one of the company's technicians.
    #[schema(value_type = String, example = "tecnico@demo", min_length = 1, max_length = 128)]
    pub technician: UserId,
}

fn customer_problem(e: AppError) -> Problem {
    match e {
        AppError::NotFound => Problem::new(ProblemType::NotFound).with_detail("cliente não encontrado"),
        AppError::Store(osflow_app::StoreError::AlreadyExists) => {
            Problem::field(ProblemType::Conflict, "customer.document", "outro cliente da empresa já tem este CPF/CNPJ")
        }
        e => app_problem(&e, None),
    }
}

fn equipment_problem(e: AppError) -> Problem {
    match e {
        AppError::NotFound => Problem::new(ProblemType::NotFound).with_detail("equipamento não encontrado"),
        AppError::Store(osflow_app::StoreError::AlreadyExists) => Problem::field(
            ProblemType::Conflict,
            "equipment.serial",
            "outro equipamento da empresa já tem este número de série",
        ),
        e => app_problem(&e, None),
    }
}

fn not_found_customer() -> Problem {
    Problem::new(ProblemType::NotFound).with_detail("cliente não encontrado")
}

/// The customer of the path: by id (a UUID) or by document.
async fn customer_of_path(cx: &Cx<'_>, caller: &Caller) -> Result<CustomerRecord, Problem> {
    let raw = percent_decode(cx.param("document").unwrap_or_default());
    if let Ok(id) = CustomerId::parse(&raw) {
        return cx.app.get_customer(caller, &id).await.map_err(customer_problem);
    }
    let document = Document::parse(&raw).map_err(|_| not_found_customer())?;
    cx.app.customer_by_document(caller, &document).await.map_err(customer_problem)
}

fn equipment_id(cx: &Cx<'_>) -> Result<EquipmentId, Problem> {
    cx.param("id")
        .and_then(|s| EquipmentId::parse(s).ok())
        .ok_or_else(|| Problem::new(ProblemType::NotFound).with_detail("equipamento não encontrado"))
}

async fn summaries(cx: &Cx<'_>, caller: &Caller, orders: &[Order]) -> Result<Vec<OrderSummary>, Problem> {
    let mut versions: Vec<u32> = orders.iter().map(|o| o.flow_version).collect();
    versions.sort_unstable();
    versions.dedup();
    let mut flows: Vec<Flow> = Vec::with_capacity(versions.len());
    for v in versions {
        flows.push(cx.app.flow_version(&caller.tenant, v).await.map_err(|e| app_problem(&e, None))?);
    }
    Ok(orders.iter().map(|o| OrderSummary::new(&o.card(), flows.as_slice())).collect())
}

fn equipment_view(r: &EquipmentRecord, orders: Vec<OrderSummary>) -> EquipmentRecordView {
    EquipmentRecordView {
        id: r.id.to_string(),
        version: r.version,
        customer_id: r.customer.to_string(),
        equipment: EquipmentView {
            description: r.equipment.description.clone(),
            brand: r.equipment.brand.clone(),
            model: r.equipment.model.clone(),
            serial: r.equipment.serial.clone(),
        },
        created_at: r.created_at,
        updated_at: r.updated_at,
        orders,
    }
}

fn customer_view(
    r: &CustomerRecord,
    equipment: Vec<EquipmentRecordView>,
    orders: Vec<OrderSummary>,
) -> CustomerRecordView {
    CustomerRecordView {
        id: r.id.to_string(),
        version: r.version,
        customer: (&r.customer).into(),
        anonymized: r.is_anonymized(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        equipment,
        orders,
    }
}

async fn history_view(cx: &Cx<'_>, caller: &Caller, h: CustomerHistory) -> Result<CustomerRecordView, Problem> {
    let orders = summaries(cx, caller, &h.orders).await?;
    let equipment = h.equipment.iter().map(|e| equipment_view(e, vec![])).collect();
    Ok(customer_view(&h.record, equipment, orders))
}

async fn customer_response(cx: &Cx<'_>, caller: &Caller, id: &CustomerId, status: u16) -> Res {
    let h = cx.app.customer_history(caller, id).await.map_err(customer_problem)?;
    let version = h.record.version;
    let view = history_view(cx, caller, h).await?;
    let response = json_response(status, to_json(&view), Some(version));
    Ok(if status == 201 { with_header(response, header::LOCATION, &format!("/v1/customers/{id}")) } else { response })
}

async fn equipment_response(cx: &Cx<'_>, caller: &Caller, h: EquipmentHistory, status: u16) -> Res {
    let orders = summaries(cx, caller, &h.orders).await?;
    let view = equipment_view(&h.record, orders);
    let response = json_response(status, to_json(&view), Some(h.record.version));
    Ok(if status == 201 {
        with_header(response, header::LOCATION, &format!("/v1/equipment/{}", h.record.id))
    } else {
        response
    })
}

/// Registers a customer (created too by the first order with their document).
#[utoipa::path(
    post, path = "/v1/customers", tag = "records",
    request_body = CustomerInput,
    responses((status = 201, description = "The customer", body = CustomerRecordView,
        headers(("ETag" = String), ("Location" = String))))
)]
pub(crate) async fn create_customer(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let body: CustomerInput = cx.json()?;
    let record = cx.app.create_customer(&caller, body.into()).await.map_err(customer_problem)?;
    customer_response(cx, &caller, &record.id, 201).await
}

/// A customer: their data, their equipment and their orders (newest first).
#[utoipa::path(
    get, path = "/v1/customers/{document}", tag = "records",
    params(CustomerRecordPath),
    responses((status = 200, description = "The customer", body = CustomerRecordView, headers(("ETag" = String))))
)]
pub(crate) async fn get_customer(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let record = customer_of_path(cx, &caller).await?;
    customer_response(cx, &caller, &record.id, 200).await
}

/// New data of a customer (the whole of it). Every open order of the customer takes it, as an
/// `order.customer_edited` event; closed orders and issued invoices keep theirs.
#[utoipa::path(
    put, path = "/v1/customers/{document}", tag = "records",
    params(CustomerRecordPath), request_body = CustomerInput,
    responses((status = 200, description = "The customer", body = CustomerRecordView, headers(("ETag" = String))))
)]
pub(crate) async fn edit_customer(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let if_match = cx.if_match()?;
    let record = customer_of_path(cx, &caller).await?;
    let body: CustomerInput = cx.json()?;
    let record = cx.app.edit_customer(&caller, &record.id, body.into(), if_match).await.map_err(customer_problem)?;
    customer_response(cx, &caller, &record.id, 200).await
}

/// Everything osflow keeps about the customer, as JSON (LGPD: the data subject's copy): the record, the
/// equipment, and every order with its whole history (representante).
#[utoipa::path(
    get, path = "/v1/customers/{document}/export", tag = "records",
    params(CustomerRecordPath),
    responses((status = 200, description = "The customer's data", body = Object))
)]
pub(crate) async fn export_customer(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    crate::handlers::admin(cx, &caller)?;
    let record = customer_of_path(cx, &caller).await?;
    let export = cx.app.export_customer(&caller, &record.id).await.map_err(customer_problem)?;
    let response = json_response(200, to_json(&export), None);
    let name = format!("attachment; filename=\"cliente-{}.json\"", record.id);
    Ok(with_header(response, header::CONTENT_DISPOSITION, &name))
}

/// Erases the customer's personal data at their request (LGPD; representante): their orders keep what was done
/// with a placeholder customer, their histories are rewritten without the data, the record keeps only its id.
/// The fiscal documents already issued are kept, as the law requires, and stay downloadable. Address the
/// customer by id afterwards.
#[utoipa::path(
    post, path = "/v1/customers/{document}/anonymize", tag = "records",
    params(CustomerRecordPath), request_body = EmptyRequest,
    responses((status = 200, description = "The anonymized customer", body = CustomerRecordView))
)]
pub(crate) async fn anonymize_customer(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    crate::handlers::admin(cx, &caller)?;
    let _: EmptyRequest = cx.json()?;
    let record = customer_of_path(cx, &caller).await?;
    let record = cx.app.anonymize_customer(&caller, &record.id).await.map_err(customer_problem)?;
    customer_response(cx, &caller, &record.id, 200).await
}

/// Registers an equipment of the customer (also registered by the first order with its serial).
#[utoipa::path(
    post, path = "/v1/customers/{document}/equipment", tag = "records",
    params(CustomerRecordPath), request_body = EquipmentInput,
    responses((status = 201, description = "The equipment", body = EquipmentRecordView,
        headers(("ETag" = String), ("Location" = String))))
)]
pub(crate) async fn create_equipment(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let owner = customer_of_path(cx, &caller).await?;
    let body: EquipmentInput = cx.json()?;
    let record = cx.app.create_equipment(&caller, &owner.id, body.into()).await.map_err(equipment_problem)?;
    let h = cx.app.equipment_history(&caller, &record.id).await.map_err(equipment_problem)?;
    equipment_response(cx, &caller, h, 201).await
}

/// The equipment with a serial number (or tag), with its orders.
#[utoipa::path(
    get, path = "/v1/equipment", tag = "records",
    params(SerialQuery),
    responses((status = 200, description = "The equipment", body = EquipmentRecordView, headers(("ETag" = String))))
)]
pub(crate) async fn find_equipment(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let q = cx.query();
    let serial = q.first("serial").map(str::trim).filter(|s| !s.is_empty() && s.chars().count() <= 60);
    let serial = serial
        .ok_or_else(|| {
            Problem::field(ProblemType::InvalidField, "serial", "informe o número de série (até 60 caracteres)")
        })?
        .to_owned();
    let h = cx.app.equipment_by_serial(&caller, &serial).await.map_err(equipment_problem)?;
    equipment_response(cx, &caller, h, 200).await
}

/// An equipment, with its orders (newest first).
#[utoipa::path(
    get, path = "/v1/equipment/{id}", tag = "records",
    params(EquipmentPath),
    responses((status = 200, description = "The equipment", body = EquipmentRecordView, headers(("ETag" = String))))
)]
pub(crate) async fn get_equipment(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = equipment_id(cx)?;
    let h = cx.app.equipment_history(&caller, &id).await.map_err(equipment_problem)?;
    equipment_response(cx, &caller, h, 200).await
}

/// New data of an equipment (the whole of it); its open orders take it (`order.equipment_edited`).
#[utoipa::path(
    put, path = "/v1/equipment/{id}", tag = "records",
    params(EquipmentPath), request_body = EquipmentInput,
    responses((status = 200, description = "The equipment", body = EquipmentRecordView, headers(("ETag" = String))))
)]
pub(crate) async fn edit_equipment(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let if_match = cx.if_match()?;
    let id = equipment_id(cx)?;
    let body: EquipmentInput = cx.json()?;
    let record = cx.app.edit_equipment(&caller, &id, body.into(), if_match).await.map_err(equipment_problem)?;
    let h = cx.app.equipment_history(&caller, &record.id).await.map_err(equipment_problem)?;
    equipment_response(cx, &caller, h, 200).await
}

/// New data of the order's customer (the whole of it): an `order.customer_edited` event. The customer's
/// record takes it, and so do the customer's other open orders; the NF-e issued from now on carries it (a
/// rejected one is sent again with `POST /v1/orders/{id}/invoices/retry`).
#[utoipa::path(
    put, path = "/v1/orders/{id}/customer", tag = "records",
    params(OrderPath), request_body = CustomerInput,
    responses((status = 200, description = "The order", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn edit_order_customer(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let if_match = cx.if_match()?;
    let idem = cx.idempotency()?;
    let body: CustomerInput = cx.json()?;
    let render = |o: &Order, flow: &Flow| rendered(200, &OrderView::new(o, flow));
    let reply =
        cx.app.edit_order_customer(&caller, &id, body.into(), if_match, idem.as_ref(), &render).await.map_err(|e| {
            match e {
                AppError::Store(osflow_app::StoreError::AlreadyExists) => customer_problem(e),
                e => app_problem(&e, None),
            }
        })?;
    stepped(reply)
}

/// New data of the order's equipment (the whole of it): an `order.equipment_edited` event; a serial links the
/// order to that equipment's record (created when new).
#[utoipa::path(
    put, path = "/v1/orders/{id}/equipment", tag = "records",
    params(OrderPath), request_body = EquipmentInput,
    responses((status = 200, description = "The order", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn edit_order_equipment(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let if_match = cx.if_match()?;
    let idem = cx.idempotency()?;
    let body: EquipmentInput = cx.json()?;
    let render = |o: &Order, flow: &Flow| rendered(200, &OrderView::new(o, flow));
    let reply =
        cx.app.edit_order_equipment(&caller, &id, body.into(), if_match, idem.as_ref(), &render).await.map_err(
            |e| match e {
                AppError::Store(osflow_app::StoreError::AlreadyExists) => equipment_problem(e),
                e => app_problem(&e, None),
            },
        )?;
    stepped(reply)
}

/// A new due date of the order (representante, atendente): an `order.due_date_changed` event; the customer is
/// told.
#[utoipa::path(
    put, path = "/v1/orders/{id}/due-date", tag = "records",
    params(OrderPath), request_body = DueDateRequest,
    responses((status = 200, description = "The order", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn change_due_date(cx: &Cx<'_>) -> Res {
    step(cx, "change_due_date", |r: DueDateRequest| Ok(Command::ChangeDueDate { due_date: r.due_date })).await
}

/// Assigns the order's technician, or replaces them (representante, atendente): an
/// `order.technician_assigned` event.
#[utoipa::path(
    put, path = "/v1/orders/{id}/technician", tag = "records",
    params(OrderPath), request_body = TechnicianRequest,
    responses((status = 200, description = "The order", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn assign_technician(cx: &Cx<'_>) -> Res {
    step(cx, "assign_technician", |r: TechnicianRequest| Ok(Command::AssignTechnician { technician: r.technician }))
        .await
}
