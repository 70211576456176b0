//! The routes of the labor's NFS-e that the NF-e does not share: one document sent again by its key, an NFS-e
//! issued outside osflow recorded with its file, and that file. (The cancellation and its event share the NF-e's
//! routes: `nfe.rs` dispatches by the document's kind.)

use osflow_domain::{Command, Flow, Order};

use crate::dto::*;
use crate::handlers::{InvoicePath, OrderPath, step, stepped};
use crate::http::{Cx, Res, rendered};
use crate::nfe::{download, key, problem};

/// Sends one rejected (or pending) fiscal document of the order again, once its cause is fixed: an NF-e by its
/// access key, an NFS-e by its DPS Id (same number and Id; Sefin is asked for the DPS first). The document shows
/// `pending` until the new answer (representante, financeiro).
#[utoipa::path(
    post, path = "/v1/orders/{id}/invoices/{key}/retry", tag = "payment",
    params(InvoicePath), request_body = EmptyRequest,
    responses((status = 200, description = "The order, the document pending again", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn retry_document(cx: &Cx<'_>) -> Res {
    let k = key(cx).to_owned();
    step(cx, "retry_invoice", move |_: EmptyRequest| Ok(Command::RetryInvoice { key: Some(k) })).await
}

/// Records on the order an NFS-e of its labor issued outside osflow (a municipality that keeps its own issuer,
/// such as São Paulo capital): its number, verification code and, optionally, its file (PDF or XML, base64, up to
/// 2 MiB). It stands for the labor's NFS-e: the release no longer waits for one (representante, financeiro).
#[utoipa::path(
    post, path = "/v1/orders/{id}/invoices/external", tag = "payment",
    params(OrderPath), request_body = ExternalNfseRequest,
    responses((status = 201, description = "The order with the NFS-e recorded (key `EXT<number>`)", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn record_external_nfse(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let if_match = cx.if_match()?;
    let idem = cx.idempotency()?;
    // 403 before the body's details, 404 before anything is kept for an order that is not there.
    cx.app.may_step(&caller, &id, "record_external_nfse").await.map_err(problem)?;
    let body: ExternalNfseRequest = cx.json()?;
    let file = match &body.file {
        None => None,
        Some(f) => {
            let bytes = crate::dto::fiscal::base64_file(&f.data, "file.data", "o arquivo deve vir em base64")?;
            Some((f.content_type.as_str(), bytes))
        }
    };
    let render = |o: &Order, flow: &Flow| rendered(201, &OrderView::new(o, flow));
    let recorded = cx.app.record_external_nfse(
        &caller,
        &id,
        body.number,
        body.verification_code,
        file,
        if_match,
        idem.as_ref(),
        &render,
    );
    stepped(recorded.await.map_err(problem)?)
}

/// The file (PDF or XML) of an NFS-e issued elsewhere, as it was uploaded (`key`: `EXT<number>`).
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices/{key}/file", tag = "payment",
    params(InvoicePath),
    responses((status = 200, description = "The NFS-e's file", body = Vec<u8>, content_type = "application/octet-stream"))
)]
pub(crate) async fn external_nfse_file(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let blob = cx.app.external_nfse_file(&caller, &id, key(cx)).await.map_err(problem)?;
    let ext = if blob.content_type.starts_with("application/pdf") { "pdf" } else { "xml" };
    download(blob, "application/octet-stream", &format!("NFSe-{}.{ext}", key(cx)))
}
