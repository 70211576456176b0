//! One handler per route. A handler reads the request (caller, headers, body), calls one use case and renders
//! its answer; it holds no business rule and no role or tenant check (the use cases do them).
//!
//! The `#[utoipa::path]` attributes are the OpenAPI document of each operation; the problem responses and the
//! `Idempotency-Key`/`If-Match` headers common to every operation are added in [`crate::openapi`].

use lambda_http::http::header;
use osflow_app::{AppError, Caller, PageRequest, ReadView, Reply, Stepped, StoreError};
use osflow_domain::values::Document;
use osflow_domain::{Change, Command, Flow, Order, OrderCard, StatusKey};
use osflow_lambda_kit::{Problem, ProblemType};
use serde::de::DeserializeOwned;
use utoipa::IntoParams;

use crate::dto::*;
use crate::errors::app_problem;
use crate::http::{Cx, Res, json_response, percent_decode, rendered, replayed, to_json, with_header};

fn problem(e: AppError) -> Problem {
    app_problem(&e, None)
}

/// Path parameter of the order routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct OrderPath {
    /// The order id (UUIDv7).
    id: String,
}

/// Path parameters of an invoice.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct InvoicePath {
    /// The order id (UUIDv7).
    id: String,
    /// The document: an NF-e's 44-character access key, an NFS-e's 45-character DPS Id, or `EXT<number>` for an
    /// NFS-e issued elsewhere.
    key: String,
}

/// Path parameter of the customer history.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct CustomerPath {
    /// The customer's CPF or CNPJ, with or without punctuation.
    document: String,
}

/// Paging of a list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PageQuery {
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// The status whose orders to list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct StatusQuery {
    /// A status key of any version of the company's flow, e.g. `em_execucao` (without it: every open status).
    status: Option<String>,
}

/// An administration route (see [`osflow_app::ADMIN_ROLES`]): the role is checked before the body is read, so
/// that a caller without it gets 403 and never the details of a validation.
pub(crate) fn admin(cx: &Cx<'_>, caller: &Caller) -> Result<(), Problem> {
    cx.app.require(caller, &osflow_app::ADMIN_ROLES).map_err(problem)
}

/// Records the id of the last event written on the request span.
pub(crate) fn record_event(order: &Order) {
    let event_id = format!("{}:{}", order.id, order.version);
    tracing::Span::current().record("event_id", event_id.as_str());
    tracing::info!(event_id, status = %order.status, "order changed");
}

/// The flows of the given versions (for the labels of a list).
async fn flows(cx: &Cx<'_>, caller: &Caller, versions: impl Iterator<Item = u32>) -> Result<Vec<Flow>, Problem> {
    let mut wanted: Vec<u32> = versions.collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut out = Vec::with_capacity(wanted.len());
    for v in wanted {
        out.push(cx.app.flow_version(&caller.tenant, v).await.map_err(problem)?);
    }
    Ok(out)
}

/// A step on an order: parses the body into the command, applies it, answers with the order (rendered once, inside
/// the use case, on the flow the step was decided on). A body that does not parse is answered with 403 rather than
/// its details when the caller may not take a step named `name` (`Command::name`) on the order at all; a body that
/// parses reaches `decide`, which checks the role first, so the happy path reads the order once.
pub(crate) async fn step<T: DeserializeOwned>(
    cx: &Cx<'_>,
    name: &'static str,
    make: impl FnOnce(T) -> Result<Command, Problem>,
) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let if_match = cx.if_match()?;
    let idem = cx.idempotency()?;
    let cmd = match cx.json::<T>().and_then(make) {
        Ok(cmd) => cmd,
        Err(bad_body) => {
            cx.app.may_step(&caller, &id, name).await.map_err(problem)?;
            return Err(bad_body);
        }
    };
    debug_assert_eq!(cmd.name(), name, "the step's name is its command's");
    let render = |o: &Order, flow: &Flow| rendered(200, &OrderView::new(o, flow));
    stepped(cx.app.step(&caller, &id, cmd, if_match, idem.as_ref(), &render).await.map_err(problem)?)
}

/// The answer of a step on an order: the response rendered by the use case with the order's version as its
/// `ETag` (the event's id on the request span), or the saved answer of the same request.
pub(crate) fn stepped(reply: Reply<Stepped>) -> Res {
    match reply {
        Reply::Fresh(done) => {
            record_event(&done.order);
            Ok(json_response(done.rendered.status, done.rendered.body, Some(done.order.version)))
        }
        Reply::Replayed(r) => Ok(replayed(r, false)),
    }
}

/// Opens an order (step 1: Abertura).
///
/// The order starts in the initial status of the company's current flow, with quote revision 1 made of `items`.
#[utoipa::path(
    post, path = "/v1/orders", tag = "open-order",
    request_body = OpenOrderRequest,
    responses((status = 201, description = "The order opened", body = OrderView,
        headers(("ETag" = String, description = "The version"), ("Location" = String, description = "The order's URL"))))
)]
pub(crate) async fn open_order(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let idem = cx.idempotency()?;
    let body: OpenOrderRequest = cx.json()?;
    let unlock_code =
        body.intake.as_ref().map(IntakeInput::unlock_code).transpose().map_err(|e| problem(e.into()))?.flatten();
    let render = |o: &Order, flow: &Flow| rendered(201, &OrderView::new(o, flow));
    let opened = cx.app.open_order_with_unlock_code(&caller, body.into(), unlock_code.as_ref(), idem.as_ref(), &render);
    match opened.await.map_err(problem)? {
        Reply::Fresh(done) => {
            let order = done.order;
            tracing::Span::current().record("order_id", tracing::field::display(&order.id));
            record_event(&order);
            let response = json_response(201, done.rendered.body, Some(order.version));
            Ok(with_header(response, header::LOCATION, &format!("/v1/orders/{}", order.id)))
        }
        Reply::Replayed(r) => Ok(replayed(r, true)),
    }
}

/// Sends the quote to the customer (step 2).
#[utoipa::path(
    post, path = "/v1/orders/{id}/quote/send", tag = "quote",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order, waiting for approval", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn send_quote(cx: &Cx<'_>) -> Res {
    step(cx, "send_quote", |_: EmptyRequest| Ok(Command::SendQuote)).await
}

/// Makes a new quote revision (step 2), replacing the one not decided yet.
///
/// Sent at once when the order is waiting for approval.
#[utoipa::path(
    put, path = "/v1/orders/{id}/quote", tag = "quote",
    params(OrderPath), request_body = ReviseQuoteRequest,
    responses((status = 200, description = "The order with the new revision", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn revise_quote(cx: &Cx<'_>) -> Res {
    step(cx, "revise_quote", |r: ReviseQuoteRequest| Ok(r.into())).await
}

/// Records the customer's decision on the quote (step 2), as staff.
///
/// `approve` (optionally per line), `reject` (cancels the order) or `adjust` (back to the initial status, with
/// the customer's `comment`). A supplementary quote approved goes back to execution.
#[utoipa::path(
    post, path = "/v1/orders/{id}/quote/decision", tag = "quote",
    params(OrderPath), request_body = DecisionRequest,
    responses((status = 200, description = "The order after the decision", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn decide_quote(cx: &Cx<'_>) -> Res {
    step(cx, "decide_quote", |r: DecisionRequest| Ok(r.into())).await
}

/// Sends the customer the current link of the order again (any staff role): the quote's message with its
/// decision link while the quote waits for the customer, else a message with the link to follow the order.
#[utoipa::path(
    post, path = "/v1/orders/{id}/link/resend", tag = "quote",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order (the message leaves through the outbox)", body = OrderView,
        headers(("ETag" = String))))
)]
pub(crate) async fn resend_link(cx: &Cx<'_>) -> Res {
    step(cx, "resend_link", |_: EmptyRequest| Ok(Command::ResendLink)).await
}

/// Starts the execution (step 3).
#[utoipa::path(
    post, path = "/v1/orders/{id}/start", tag = "execution",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order in execution", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn start(cx: &Cx<'_>) -> Res {
    step(cx, "start", |_: EmptyRequest| Ok(Command::Start)).await
}

/// Adds a note to the timeline (any non-final status; no status change).
#[utoipa::path(
    post, path = "/v1/orders/{id}/notes", tag = "execution",
    params(OrderPath), request_body = NoteRequest,
    responses((status = 200, description = "The order with the note", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn add_note(cx: &Cx<'_>) -> Res {
    step(cx, "add_note", |r: NoteRequest| Ok(r.into())).await
}

/// The file types an attachment may have, with the extension of their key.
const ATTACHMENT_TYPES: [(&str, &str); 7] = [
    ("image/jpeg", "jpg"),
    ("image/png", "png"),
    ("image/webp", "webp"),
    ("image/heic", "heic"),
    ("application/pdf", "pdf"),
    ("video/mp4", "mp4"),
    ("text/plain", "txt"),
];

/// The largest attachment accepted (the blob store refuses a bigger upload; under osflow-local's request limit).
pub const MAX_ATTACHMENT_BYTES: u64 = 8 * 1024 * 1024;

/// Records an attachment (a photo, a PDF…) on the order and tells where to upload the file (step 3).
///
/// The answer carries a presigned upload form: POST it with the file (at most 8 MiB, of the given
/// `Content-Type`) within a few minutes.
#[utoipa::path(
    post, path = "/v1/orders/{id}/attachments", tag = "execution",
    params(OrderPath), request_body = AttachmentRequest,
    responses((status = 201, description = "The attachment recorded, and where to upload it", body = AttachmentCreated,
        headers(("ETag" = String, description = "The order's version"))))
)]
pub(crate) async fn add_attachment(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let if_match = cx.if_match()?;
    let idem = cx.idempotency()?;
    // 403 before the body's details, 404 before handing out an upload URL for an order that is not there.
    cx.app.may_step(&caller, &id, "add_attachment").await.map_err(problem)?;
    let body: AttachmentRequest = cx.json()?;
    let content_type = body.content_type.clone();
    let ext = ATTACHMENT_TYPES.iter().find(|(t, _)| *t == content_type).map(|(_, e)| *e).ok_or_else(|| {
        let allowed: Vec<&str> = ATTACHMENT_TYPES.iter().map(|(t, _)| *t).collect();
        Problem::field(
            ProblemType::InvalidField,
            "content_type",
            format!("tipo de arquivo não aceito; use um destes: {}", allowed.join(", ")),
        )
    })?;
    let key = format!("orders/{id}/attachments/{}.{ext}", uuid::Uuid::now_v7());
    let form = cx
        .app
        .blobs
        .presign_upload(&caller.tenant, &key, &content_type, MAX_ATTACHMENT_BYTES)
        .await
        .map_err(|e| problem(e.into()))?;
    let upload = UploadView {
        method: "POST".into(),
        url: form.url,
        fields: form.fields.into_iter().collect(),
        content_type: content_type.clone(),
        max_bytes: MAX_ATTACHMENT_BYTES,
    };
    let cmd = Command::AddAttachment {
        key: key.clone(),
        content_type,
        caption: body.caption,
        visible_to_customer: body.visible_to_customer,
        intake: body.intake,
    };
    let view = |o: &Order, flow: &Flow| {
        let attachment = o.attachments.iter().rev().find(|a| a.key == key).map(AttachmentView::from);
        attachment.map(|attachment| AttachmentCreated {
            attachment,
            upload: upload.clone(),
            order: OrderView::new(o, flow),
        })
    };
    let render = |o: &Order, flow: &Flow| rendered(201, &view(o, flow));
    stepped(cx.app.step(&caller, &id, cmd, if_match, idem.as_ref(), &render).await.map_err(problem)?)
}

/// Cancels the order, with a reason (any non-final status).
#[utoipa::path(
    post, path = "/v1/orders/{id}/cancel", tag = "execution",
    params(OrderPath), request_body = CancelRequest,
    responses((status = 200, description = "The order cancelled", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn cancel(cx: &Cx<'_>) -> Res {
    step(cx, "cancel", |r: CancelRequest| Ok(r.into())).await
}

/// Moves the order to or from a custom status of the company's flow.
#[utoipa::path(
    post, path = "/v1/orders/{id}/move", tag = "execution",
    params(OrderPath), request_body = MoveRequest,
    responses((status = 200, description = "The order in its new status", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn move_order(cx: &Cx<'_>) -> Res {
    step(cx, "move", |r: MoveRequest| {
        let to = StatusKey::parse(r.to.trim()).map_err(|_| unknown_status("to", &r.to))?;
        Ok(Command::Move { to })
    })
    .await
}

fn unknown_status(field: &str, value: &str) -> Problem {
    Problem::field(ProblemType::UnknownStatus, field, format!("status desconhecido no fluxo da empresa: {value:?}"))
}

/// Pauses for missing material (step 4); the customer is notified.
#[utoipa::path(
    post, path = "/v1/orders/{id}/material/wait", tag = "material",
    params(OrderPath), request_body = WaitMaterialRequest,
    responses((status = 200, description = "The order waiting for material", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn wait_material(cx: &Cx<'_>) -> Res {
    step(cx, "wait_material", |r: WaitMaterialRequest| Ok(r.into())).await
}

/// Changes the expected date of the missing material (step 4; notifies, no status change).
#[utoipa::path(
    patch, path = "/v1/orders/{id}/material", tag = "material",
    params(OrderPath), request_body = ChangeMaterialRequest,
    responses((status = 200, description = "The order with the new date", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn change_material_date(cx: &Cx<'_>) -> Res {
    step(cx, "change_material_date", |r: ChangeMaterialRequest| Ok(r.into())).await
}

/// The material arrived: back to execution (step 4).
#[utoipa::path(
    post, path = "/v1/orders/{id}/material/arrived", tag = "material",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order back in execution", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn material_arrived(cx: &Cx<'_>) -> Res {
    step(cx, "resume", |_: EmptyRequest| Ok(Command::MaterialArrived)).await
}

/// Finishes the execution, with the tests performed (step 5).
#[utoipa::path(
    post, path = "/v1/orders/{id}/finish", tag = "finish",
    params(OrderPath), request_body = FinishRequest,
    responses((status = 200, description = "The order finished", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn finish(cx: &Cx<'_>) -> Res {
    step(cx, "finish", |r: FinishRequest| Ok(r.into())).await
}

/// Validation (step 6): the quality checklist and the extra items found.
///
/// Extra items make a supplementary quote sent to the customer for approval.
#[utoipa::path(
    post, path = "/v1/orders/{id}/validation", tag = "validation",
    params(OrderPath), request_body = ValidationRequest,
    responses((status = 200, description = "The order in validation (or waiting for approval of extra items)",
        body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn validate(cx: &Cx<'_>) -> Res {
    step(cx, "validate", |r: ValidationRequest| Ok(r.into())).await
}

/// Asks for payment (step 7): the checklist is complete and no extra item is pending.
#[utoipa::path(
    post, path = "/v1/orders/{id}/payment/request", tag = "payment",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order waiting for payment", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn request_payment(cx: &Cx<'_>) -> Res {
    step(cx, "request_payment", |_: EmptyRequest| Ok(Command::RequestPayment)).await
}

/// Registers a payment (step 7): partial payments and several methods; a deposit from `aprovada` on.
#[utoipa::path(
    post, path = "/v1/orders/{id}/payments", tag = "payment",
    params(OrderPath), request_body = PaymentRequest,
    responses((status = 200, description = "The order with the payment", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn register_payment(cx: &Cx<'_>) -> Res {
    step(cx, "register_payment", |r: PaymentRequest| Ok(r.into())).await
}

/// Releases the product (step 7): paid in full (and the NF-e authorized when the company issues NF-e).
#[utoipa::path(
    post, path = "/v1/orders/{id}/release", tag = "payment",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order released", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn release(cx: &Cx<'_>) -> Res {
    step(cx, "release", |_: EmptyRequest| Ok(Command::Release)).await
}

/// Closes the order (step 8): archived in the customer's history.
#[utoipa::path(
    post, path = "/v1/orders/{id}/close", tag = "close",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order closed", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn close(cx: &Cx<'_>) -> Res {
    step(cx, "close", |_: EmptyRequest| Ok(Command::Close)).await
}

/// The order's fiscal documents: its NF-e and NFS-e (empty until one is numbered), then the NFS-e issued
/// elsewhere recorded on it. An NFS-e's `danfse_url` is given only when its DANFSe is stored.
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices", tag = "payment",
    params(OrderPath),
    responses((status = 200, description = "The order's fiscal documents: those osflow issues, ascending by number, then the NFS-e issued elsewhere", body = InvoiceList))
)]
pub(crate) async fn list_invoices(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let docs = cx.app.order_documents(&caller, &id).await.map_err(problem)?;
    let items = docs.records.iter().map(|r| {
        let mut view = InvoiceView::from(r);
        view.danfse_url = view.danfse_url.filter(|_| docs.danfse.contains(&r.access_key));
        view
    });
    let elsewhere = docs.elsewhere.iter().map(|(i, at)| InvoiceView::elsewhere(&id, i, *at));
    let list = InvoiceList { items: items.chain(elsewhere).collect() };
    Ok(json_response(200, to_json(&list), None))
}

/// The XML of one NF-e of the order (the signed NF-e, or the nfeProc once authorized).
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices/{key}/xml", tag = "payment",
    params(InvoicePath),
    responses((status = 200, description = "The XML", body = String, content_type = "application/xml"))
)]
pub(crate) async fn invoice_xml(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let key = cx.param("key").unwrap_or_default();
    let (_, blob) = cx.app.invoice_xml(&caller, &id, key).await.map_err(problem)?;
    crate::nfe::download(blob, "application/xml", &format!("NFe{key}.xml"))
}

/// Sends the order's rejected NF-e again, once its cause is fixed (the emitter's settings, the customer's data):
/// same number and access key; the NF-e shows `pending` until the new answer (representante, financeiro).
#[utoipa::path(
    post, path = "/v1/orders/{id}/invoices/retry", tag = "payment",
    params(OrderPath), request_body = EmptyRequest,
    responses((status = 200, description = "The order, its NF-e pending again", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn retry_invoice(cx: &Cx<'_>) -> Res {
    step(cx, "retry_invoice", |_: EmptyRequest| Ok(Command::RetryInvoice { key: None })).await
}

/// The company's NF-e emitter and the facts of its A1 certificate (representante, financeiro); 404 while none
/// is configured.
#[utoipa::path(
    get, path = "/v1/fiscal/emitter", tag = "fiscal-admin",
    responses((status = 200, description = "The emitter", body = EmitterSettingsView))
)]
pub(crate) async fn get_fiscal_emitter(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let view = cx.app.fiscal_emitter(&caller).await.map_err(problem)?;
    Ok(json_response(200, to_json(&EmitterSettingsView::from(&view)), None))
}

/// Configures the company's NF-e emitter (representante only): CNPJ, IE, names, address with the IBGE city
/// code, CRT and tax rates, série, environment (homologação by default; `production` to issue for real), CFOP,
/// IBS/CBS, infRespTec, and the A1 certificate (PKCS#12 in base64 + password, required the first time; kept in
/// Secrets Manager in AWS, in the data folder locally; never shown). Everything is checked before anything is
/// stored: the NF-e rules, the certificate opens, is valid now and belongs to the CNPJ.
#[utoipa::path(
    put, path = "/v1/fiscal/emitter", tag = "fiscal-admin",
    request_body = EmitterInput,
    responses((status = 200, description = "The emitter as stored", body = EmitterSettingsView))
)]
pub(crate) async fn put_fiscal_emitter(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    admin(cx, &caller)?;
    let body: EmitterInput = cx.json()?;
    let (config, certificate) = body.into_parts()?;
    let replaced = certificate.is_some();
    let view = cx.app.put_fiscal_emitter(&caller, config, certificate).await.map_err(problem)?;
    tracing::info!(environment = ?view.config.environment, certificate_replaced = replaced, "NF-e emitter configured");
    Ok(json_response(200, to_json(&EmitterSettingsView::from(&view)), None))
}

fn page_request(cx: &Cx<'_>) -> Result<PageRequest, Problem> {
    let q = cx.query();
    let limit = match q.first("limit") {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| Problem::field(ProblemType::InvalidField, "limit", "use um número de 1 a 100"))?,
    };
    let cursor = q.first("cursor").map(str::to_owned).filter(|c| !c.is_empty());
    Ok(PageRequest { limit, cursor })
}

/// A list failure: a cursor the store refuses is 400 (the store gave no such cursor).
fn list_problem(e: AppError, page: &PageRequest) -> Problem {
    match e {
        AppError::Store(StoreError::Other(_) | StoreError::Corrupt(_)) if page.cursor.is_some() => {
            Problem::field(ProblemType::InvalidCursor, "cursor", "use o next_cursor da página anterior")
        }
        e => problem(e),
    }
}

async fn order_list(cx: &Cx<'_>, caller: &Caller, page: osflow_app::Page<OrderCard>) -> Res {
    let view = order_list_view(cx, caller, page).await?;
    Ok(json_response(200, view.body, None))
}

async fn order_list_view(cx: &Cx<'_>, caller: &Caller, page: osflow_app::Page<OrderCard>) -> Result<ReadView, Problem> {
    let flows = flows(cx, caller, page.items.iter().map(|o| o.flow_version)).await?;
    let list = OrderList {
        items: page.items.iter().map(|o| OrderSummary::new(o, flows.as_slice())).collect(),
        next_cursor: page.next,
    };
    Ok(ReadView { body: to_json(&list), version: None })
}

/// The company's orders: one status (oldest change first, a work queue), or a search with filters.
///
/// With only `status`: that status's work queue. With any filter (`technician`, `mine`, `service_type`,
/// `overdue`, `q`) or without `status`: a search over every open status in flow order (or the given status);
/// `q` is an OS number, a customer's CPF/CNPJ (then the customer's whole history, every status, newest first)
/// or a part of the customer's name or of the equipment's serial number. A search page may hold fewer than
/// `limit` orders and still have a `next_cursor`.
#[utoipa::path(
    get, path = "/v1/orders", tag = "orders-query",
    params(StatusQuery, crate::search::SearchQuery, PageQuery),
    responses((status = 200, description = "A page of orders", body = OrderList))
)]
pub(crate) async fn list_orders(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let q = cx.query();
    // A page is remembered while nothing is written (it depends on the store, the caller and the query), except
    // an `overdue` search, which also depends on the hour.
    if q.first("overdue").is_some() {
        return list_orders_view(cx, &caller).await.map(|v| json_response(200, v.body, None));
    }
    let mut what: Vec<(&str, &str)> = q.iter().collect();
    what.sort_unstable();
    let what = what.iter().fold(String::from("GET /v1/orders?"), |mut w, (k, v)| {
        w.push_str(k);
        w.push('=');
        w.push_str(v);
        w.push('&');
        w
    });
    let view = cx.app.remembered(&caller, &what, || list_orders_view(cx, &caller)).await?;
    Ok(json_response(200, view.body, None))
}

async fn list_orders_view(cx: &Cx<'_>, caller: &Caller) -> Result<ReadView, Problem> {
    let caller = caller.clone();
    let q = cx.query();
    let page = page_request(cx)?;
    let Some(raw) = q.first("status").map(str::trim).filter(|s| !s.is_empty()) else {
        return search_orders(cx, &caller, None, page).await;
    };
    let key = StatusKey::parse(raw).map_err(|_| unknown_status("status", raw))?;
    let current = cx.app.get_flow(&caller).await.map_err(problem)?;
    if current.status(&key).is_none() {
        // A status of an older flow version still lists the orders that run on it.
        // (Version 1 is the default flow until a company publishes its own.)
        let mut older = cx.app.flows.versions(&caller.tenant).await.map_err(|e| problem(e.into()))?;
        older.push(Flow::default_flow());
        if !older.iter().any(|f| f.status(&key).is_some()) {
            return Err(unknown_status("status", raw));
        }
    }
    if crate::search::has_filters(cx) {
        return search_orders(cx, &caller, Some(key), page).await;
    }
    let found = cx.app.list_by_status(&caller, &key, &page).await.map_err(|e| list_problem(e, &page))?;
    order_list_view(cx, &caller, found).await
}

/// `GET /v1/orders` with the search's filters (or without `status`).
async fn search_orders(
    cx: &Cx<'_>,
    caller: &Caller,
    status: Option<StatusKey>,
    page: PageRequest,
) -> Result<ReadView, Problem> {
    let query = crate::search::order_query(cx, caller, status)?;
    let found = cx.app.search_orders(caller, &query, &page).await.map_err(|e| list_problem(e, &page))?;
    order_list_view(cx, caller, found).await
}

/// One order, with its `ETag`.
#[utoipa::path(
    get, path = "/v1/orders/{id}", tag = "orders-query",
    params(OrderPath),
    responses((status = 200, description = "The order", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn get_order(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    // Remembered while nothing is written: the view depends on the order, its flow version (immutable), the
    // caller, the company's invoicing and the day only.
    let what = format!("GET /v1/orders/{id}");
    let view = cx
        .app
        .remembered(&caller, &what, || async {
            let order = cx.app.get_order(&caller, &id).await.map_err(problem)?;
            let flow = cx.app.flow_version(&caller.tenant, order.flow_version).await.map_err(problem)?;
            let allowed = cx.app.allowed_actions_on(&caller, &order, Some(&flow)).await.map_err(problem)?;
            let mut view = OrderView::new(&order, &flow);
            view.allowed_actions = Some(allowed.iter().map(|a| AllowedActionView::new(a, &flow)).collect());
            Ok::<_, Problem>(ReadView { body: to_json(&view), version: Some(order.version) })
        })
        .await?;
    Ok(json_response(200, view.body, view.version))
}

/// The order's history: every change, oldest first.
#[utoipa::path(
    get, path = "/v1/orders/{id}/timeline", tag = "orders-query",
    params(OrderPath),
    responses((status = 200, description = "The events", body = Timeline))
)]
pub(crate) async fn timeline(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let events = cx.app.timeline(&caller, &id).await.map_err(problem)?;
    let flow_version = events
        .iter()
        .find_map(|e| match &e.change {
            Change::Opened(o) => Some(o.flow_version),
            _ => None,
        })
        .unwrap_or(1);
    let flow = cx.app.flow_version(&caller.tenant, flow_version).await.map_err(problem)?;
    let timeline = Timeline { events: events.iter().map(|e| EventView::new(&id, flow_version, e, &flow)).collect() };
    let version = events.last().map(|e| e.version);
    Ok(json_response(200, to_json(&timeline), version))
}

/// The messages sent to the customer about the order (e-mail, webhook), oldest first.
#[utoipa::path(
    get, path = "/v1/orders/{id}/notifications", tag = "orders-query",
    params(OrderPath),
    responses((status = 200, description = "The notifications", body = NotificationList))
)]
pub(crate) async fn order_notifications(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let events = cx.app.timeline(&caller, &id).await.map_err(problem)?;
    let version = events.last().map(|e| e.version);
    Ok(json_response(200, to_json(&NotificationList::new(&id, &events)), version))
}

/// The customer's history: their orders, newest first, paginated.
#[utoipa::path(
    get, path = "/v1/customers/{document}/orders", tag = "orders-query",
    params(CustomerPath, PageQuery),
    responses((status = 200, description = "A page of the customer's orders", body = OrderList))
)]
pub(crate) async fn customer_orders(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let raw = percent_decode(cx.param("document").unwrap_or_default());
    let document = Document::parse(&raw)
        .map_err(|e| Problem::field(ProblemType::InvalidField, "document", e.message().to_owned()))?;
    let page = page_request(cx)?;
    let found = cx.app.customer_orders(&caller, &document, &page).await.map_err(|e| list_problem(e, &page))?;
    order_list(cx, &caller, found).await
}

/// This document.
#[utoipa::path(
    get, path = "/v1/openapi.json", tag = "orders-query",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
pub(crate) async fn openapi(_cx: &Cx<'_>) -> Res {
    Ok(json_response(200, crate::http::SERVED_OPENAPI.to_owned(), None))
}

/// The company's current flow (every staff role: the labels are needed everywhere).
#[utoipa::path(
    get, path = "/v1/flow", tag = "flow-admin",
    responses((status = 200, description = "The current flow", body = FlowView,
        headers(("ETag" = String, description = "The flow version"))))
)]
pub(crate) async fn get_flow(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let flow = cx.app.get_flow(&caller).await.map_err(problem)?;
    Ok(json_response(200, to_json(&FlowView::from(&flow)), Some(flow.version.into())))
}

/// Publishes a new flow version (representante only).
///
/// The definition is validated (every status reachable, a closed status reachable from every status, actions
/// that fit the kinds of their statuses). Orders stay on the version they were opened with; new orders use the
/// new one. Publishing the definition of the current version again publishes nothing and answers it (PUT is
/// idempotent). `If-Match` (or the body's `version`) pins the version the edit started from.
#[utoipa::path(
    put, path = "/v1/flow", tag = "flow-admin",
    request_body = FlowDefinition,
    responses((status = 200, description = "The published flow", body = FlowView,
        headers(("ETag" = String, description = "The new flow version"))))
)]
pub(crate) async fn publish_flow(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    admin(cx, &caller)?;
    let if_match = cx.if_match()?;
    let body: FlowDefinition = cx.json()?;
    let base = match if_match {
        Some(v) => Some(
            u32::try_from(v)
                .map_err(|_| Problem::field(ProblemType::InvalidHeader, "If-Match", "versão de fluxo inválida"))?,
        ),
        None => body.version,
    };
    let def: osflow_domain::FlowDef = body.into();
    let flow = cx.app.publish_flow(&caller, def.clone(), base).await.map_err(|e| app_problem(&e, Some(&def)))?;
    tracing::info!(flow_version = flow.version, "flow published");
    Ok(json_response(200, to_json(&FlowView::from(&flow)), Some(flow.version.into())))
}

/// The company's notification settings (representante only); the webhook secret is never shown.
#[utoipa::path(
    get, path = "/v1/settings/notifications", tag = "flow-admin",
    responses((status = 200, description = "The settings (defaults when never saved)", body = NotificationSettingsView))
)]
pub(crate) async fn get_notification_settings(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let settings = cx.app.notification_settings(&caller).await.map_err(problem)?;
    Ok(json_response(200, to_json(&NotificationSettingsView::from(&settings)), None))
}

/// Replaces the company's notification settings (representante only): sender, reply-to, the webhook of its
/// WhatsApp/SMS provider (https, with an HMAC secret), message templates, channels. Templates are checked when
/// saved (known messages and `{variables}`).
#[utoipa::path(
    put, path = "/v1/settings/notifications", tag = "flow-admin",
    request_body = NotificationSettingsInput,
    responses((status = 200, description = "The saved settings", body = NotificationSettingsView))
)]
pub(crate) async fn put_notification_settings(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    admin(cx, &caller)?;
    let body: NotificationSettingsInput = cx.json()?;
    let saved = cx.app.put_notification_settings(&caller, body.into()).await.map_err(problem)?;
    tracing::info!("notification settings saved");
    Ok(json_response(200, to_json(&NotificationSettingsView::from(&saved)), None))
}

/// Every version of the company's flow (representante only).
#[utoipa::path(
    get, path = "/v1/flow/versions", tag = "flow-admin",
    responses((status = 200, description = "Every published version, oldest first", body = FlowVersions))
)]
pub(crate) async fn flow_versions(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let versions = cx.app.flow_versions(&caller).await.map_err(problem)?;
    Ok(json_response(200, to_json(&FlowVersions { items: versions.iter().map(FlowView::from).collect() }), None))
}
