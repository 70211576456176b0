//! The paperwork routes: the company's paperwork settings (function `flow-admin`), the warranty return
//! (function `open-order`) and the printed OS (function `orders-query`).

use lambda_http::http::header;
use lambda_http::{Body, Response};
use osflow_app::{ReceiptKind, Reply};
use osflow_domain::{Flow, Order};

use crate::dto::*;
use crate::errors::app_problem;
use crate::handlers::{OrderPath, admin};
use crate::http::{Cx, Res, json_response, rendered, replayed, to_json, with_header};

fn problem(e: osflow_app::AppError) -> osflow_lambda_kit::Problem {
    app_problem(&e, None)
}

/// The company's paperwork settings: default warranty per line kind, the name and document printed on the
/// receipts, the terms of the entry receipt and the warranty term of the delivery receipt (any staff role).
#[utoipa::path(
    get, path = "/v1/settings/company", tag = "flow-admin",
    responses((status = 200, description = "The settings (defaults when never saved)", body = CompanySettingsView))
)]
pub(crate) async fn get_company_settings(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let settings = cx.app.company_settings(&caller).await.map_err(problem)?;
    Ok(json_response(200, to_json(&CompanySettingsView::from(&settings)), None))
}

/// Replaces the company's paperwork settings (representante only). Lines typed without a warranty take the
/// default of their kind from then on; lines already typed keep theirs.
#[utoipa::path(
    put, path = "/v1/settings/company", tag = "flow-admin",
    request_body = CompanySettingsInput,
    responses((status = 200, description = "The saved settings", body = CompanySettingsView))
)]
pub(crate) async fn put_company_settings(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    admin(cx, &caller)?;
    let body: CompanySettingsInput = cx.json()?;
    let saved = cx.app.put_company_settings(&caller, body.into()).await.map_err(problem)?;
    Ok(json_response(200, to_json(&CompanySettingsView::from(&saved)), None))
}

/// Opens a warranty return of a released order: a new OS for the same customer and equipment with the chosen
/// lines still under warranty, at zero price; both orders show the link (`warranty_of`, `warranty_returns`).
///
/// With an `Idempotency-Key`, a retry opens no second OS: it gets the same answer, and the link on the first
/// order is written if an interrupted request left it unwritten.
#[utoipa::path(
    post, path = "/v1/orders/{id}/warranty-return", tag = "open-order",
    params(OrderPath), request_body = WarrantyReturnRequest,
    responses((status = 201, description = "The warranty return opened", body = OrderView,
        headers(("ETag" = String, description = "The version"), ("Location" = String, description = "The order's URL"))))
)]
pub(crate) async fn warranty_return(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let idem = cx.idempotency()?;
    let body: WarrantyReturnRequest = cx.json()?;
    let render = |o: &Order, flow: &Flow| rendered(201, &OrderView::new(o, flow));
    match cx.app.open_warranty_return(&caller, &id, body.into(), idem.as_ref(), &render).await.map_err(problem)? {
        Reply::Fresh(done) => {
            let order = done.order;
            tracing::info!(order_id = %order.id, warranty_of = %id, "warranty return opened");
            let response = json_response(201, done.rendered.body, Some(order.version));
            Ok(with_header(response, header::LOCATION, &format!("/v1/orders/{}", order.id)))
        }
        Reply::Replayed(r) => Ok(replayed(r, true)),
    }
}

fn pdf(bytes: Vec<u8>, name: &str) -> Res {
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\""))
        .body(Body::Binary(bytes))
        .expect("valid response"))
}

/// The entry receipt (PDF, in Portuguese): company, OS number, customer, equipment, what was received with it,
/// the reported problem, the estimate, the terms and signature lines.
#[utoipa::path(
    get, path = "/v1/orders/{id}/receipts/entry", tag = "orders-query",
    params(OrderPath),
    responses((status = 200, description = "The PDF", body = Vec<u8>, content_type = "application/pdf"))
)]
pub(crate) async fn entry_receipt(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let bytes = cx.app.receipt(&caller, &id, ReceiptKind::Entry).await.map_err(problem)?;
    pdf(bytes, &format!("os-{id}-entrada.pdf"))
}

/// The delivery receipt with the warranty term (PDF, in Portuguese): the warranty of each line with its dates
/// (from the release), the company's warranty term and signature lines.
#[utoipa::path(
    get, path = "/v1/orders/{id}/receipts/delivery", tag = "orders-query",
    params(OrderPath),
    responses((status = 200, description = "The PDF", body = Vec<u8>, content_type = "application/pdf"))
)]
pub(crate) async fn delivery_receipt(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let bytes = cx.app.receipt(&caller, &id, ReceiptKind::Delivery).await.map_err(problem)?;
    pdf(bytes, &format!("os-{id}-entrega.pdf"))
}
