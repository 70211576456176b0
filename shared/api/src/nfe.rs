//! The routes of an NF-e after its authorization: the cancellation (110111), the cartas de correção (110110),
//! the documents SEFAZ registered (procEventoNFe) and the DANFE.

use lambda_http::http::header;
use lambda_http::{Body, Response};
use osflow_app::{AppError, Blob};
use osflow_lambda_kit::{Problem, ProblemType};
use utoipa::IntoParams;

use crate::dto::enums::FiscalEnvironment;
use crate::dto::*;
use crate::errors::app_problem;
use crate::handlers::InvoicePath;
use crate::http::{Cx, Res, json_response, to_json};

pub(crate) fn problem(e: AppError) -> Problem {
    app_problem(&e, None)
}

/// Path parameters of a carta de correção.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct CorrectionPath {
    /// The order id (UUIDv7).
    id: String,
    /// The NF-e's 44-character access key.
    key: String,
    /// `nSeqEvento`, 1–20.
    #[param(minimum = 1, maximum = 20)]
    seq: u8,
}

pub(crate) fn key<'a>(cx: &'a Cx<'_>) -> &'a str {
    cx.param("key").unwrap_or_default()
}

/// A stored document as a download.
pub(crate) fn download(blob: Blob, default_type: &str, filename: &str) -> Res {
    let content_type = if blob.content_type.is_empty() { default_type.to_owned() } else { blob.content_type };
    let body = if content_type.starts_with("application/pdf") {
        Body::Binary(blob.bytes)
    } else {
        match String::from_utf8(blob.bytes) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\""))
        .body(body)
        .expect("valid response"))
}

/// Cancels a fiscal document of the order (representante, financeiro), by its kind on the order:
/// - an authorized NF-e at SEFAZ (event 110111, within 24 h of its authorization) with a `justification` of 15–255
///   characters;
/// - an issued NFS-e (`key`: its DPS Id) at Sefin Nacional (event e101101) with `reason` (`cMotivo`: 1 erro na
///   emissão, 2 serviço não prestado, 9 outros) and a `justification` (`xMotivo`) of 15–255 characters.
///
/// The cancellation goes on the order's timeline and the registered event is kept (`…/cancel/xml`); asking again
/// for a cancelled document answers it as it is.
#[utoipa::path(
    post, path = "/v1/orders/{id}/invoices/{key}/cancel", tag = "payment",
    params(InvoicePath), request_body = InvoiceCancelRequest,
    responses((status = 200, description = "The document, cancelled", body = InvoiceView))
)]
pub(crate) async fn cancel_invoice(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    cx.app.require(&caller, &osflow_app::NFE_EVENT_ROLES).map_err(problem)?;
    let id = cx.order_id()?;
    let body: InvoiceCancelRequest = cx.json()?;
    let record = match cx.app.document_kind(&caller, &id, key(cx)).await.map_err(problem)? {
        osflow_domain::DocumentKind::Nfse => {
            cx.app.cancel_nfse(&caller, &id, key(cx), body.reason, &body.justification).await.map_err(problem)?
        }
        osflow_domain::DocumentKind::Nfe => {
            if body.reason.is_some() {
                return Err(Problem::field(ProblemType::InvalidField, "reason", "o motivo (cMotivo) é só da NFS-e"));
            }
            cx.app.cancel_invoice(&caller, &id, key(cx), &body.justification).await.map_err(problem)?
        }
    };
    Ok(json_response(200, to_json(&InvoiceView::from(&record)), None))
}

/// The cancellation's registered event: the procEventoNFe of an NF-e, the `evento` Sefin Nacional returned for
/// an NFS-e.
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices/{key}/cancel/xml", tag = "payment",
    params(InvoicePath),
    responses((status = 200, description = "The procEventoNFe, or the NFS-e's evento", body = String, content_type = "application/xml"))
)]
pub(crate) async fn invoice_cancellation_xml(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    match cx.app.document_kind(&caller, &id, key(cx)).await.map_err(problem)? {
        osflow_domain::DocumentKind::Nfse => {
            let blob = cx.app.nfse_cancellation_xml(&caller, &id, key(cx)).await.map_err(problem)?;
            download(blob, "application/xml", &format!("{}-e101101-evento.xml", key(cx)))
        }
        osflow_domain::DocumentKind::Nfe => {
            let blob = cx.app.invoice_cancellation_xml(&caller, &id, key(cx)).await.map_err(problem)?;
            download(blob, "application/xml", &format!("{}-110111-01-procEventoNFe.xml", key(cx)))
        }
    }
}

/// Registers a carta de correção of the order's authorized NF-e (event 110110; 15–1000 characters; at most 20
/// per NF-e, each superseding the earlier ones; representante, financeiro). The same text as the latest
/// correction answers that one.
#[utoipa::path(
    post, path = "/v1/orders/{id}/invoices/{key}/corrections", tag = "payment",
    params(InvoicePath), request_body = CorrectionRequest,
    responses((status = 201, description = "The correction registered", body = CorrectionView))
)]
pub(crate) async fn correct_invoice(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    cx.app.require(&caller, &osflow_app::NFE_EVENT_ROLES).map_err(problem)?;
    let id = cx.order_id()?;
    let body: CorrectionRequest = cx.json()?;
    let c = cx.app.correct_invoice(&caller, &id, key(cx), &body.text).await.map_err(problem)?;
    Ok(json_response(201, to_json(&CorrectionView::new(&id, &c)), None))
}

/// The cartas de correção of the NF-e, in sequence.
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices/{key}/corrections", tag = "payment",
    params(InvoicePath),
    responses((status = 200, description = "The corrections", body = CorrectionList))
)]
pub(crate) async fn list_corrections(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let items = cx.app.invoice_corrections(&caller, &id, key(cx)).await.map_err(problem)?;
    let list = CorrectionList { items: items.iter().map(|c| CorrectionView::new(&id, c)).collect() };
    Ok(json_response(200, to_json(&list), None))
}

/// The procEventoNFe of one carta de correção.
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices/{key}/corrections/{seq}/xml", tag = "payment",
    params(CorrectionPath),
    responses((status = 200, description = "The procEventoNFe", body = String, content_type = "application/xml"))
)]
pub(crate) async fn correction_xml(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let seq = cx
        .param("seq")
        .and_then(|s| s.parse::<u8>().ok())
        .filter(|n| (1..=osflow_domain::MAX_CORRECTIONS).contains(n))
        // No such correction, as for an unknown key (the path names a document, not an input).
        .ok_or_else(|| Problem::new(ProblemType::NotFound).with_detail("carta de correção não encontrada"))?;
    let blob = cx.app.invoice_correction_xml(&caller, &id, key(cx), seq).await.map_err(problem)?;
    download(blob, "application/xml", &format!("{}-110110-{seq:02}-procEventoNFe.xml", key(cx)))
}

/// The DANFE (A4 PDF) of the order's NF-e, printed when SEFAZ authorized it.
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices/{key}/danfe.pdf", tag = "payment",
    params(InvoicePath),
    responses((status = 200, description = "The DANFE", body = Vec<u8>, content_type = "application/pdf"))
)]
pub(crate) async fn invoice_danfe(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let blob = cx.app.invoice_danfe(&caller, &id, key(cx)).await.map_err(problem)?;
    download(blob, "application/pdf", &format!("DANFE-{}.pdf", key(cx)))
}

/// The DANFSe (A4 PDF) of the order's NFS-e (`key`: its DPS Id or its 50-digit NFS-e key), stored when Sefin
/// issued it.
#[utoipa::path(
    get, path = "/v1/orders/{id}/invoices/{key}/danfse.pdf", tag = "payment",
    params(InvoicePath),
    responses((status = 200, description = "The DANFSe", body = Vec<u8>, content_type = "application/pdf"))
)]
pub(crate) async fn invoice_danfse(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let blob = cx.app.invoice_danfse(&caller, &id, key(cx)).await.map_err(problem)?;
    download(blob, "application/pdf", &format!("DANFSe-{}.pdf", key(cx)))
}

/// The environment of the NF-e sequence to read or void (the emitter's own when absent).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct EnvironmentQuery {
    /// `homologation` or `production` (default: the emitter's environment).
    environment: Option<FiscalEnvironment>,
}

/// Path parameter of an inutilização.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct VoidPath {
    /// Its first number (`nNFIni`).
    #[param(minimum = 1, maximum = 999999999)]
    first: u64,
}

fn environment(cx: &Cx<'_>) -> Result<Option<osflow_app::FiscalEnvironment>, Problem> {
    match cx.query().first("environment").map(str::trim) {
        None | Some("") => Ok(None),
        Some("homologation") => Ok(Some(osflow_app::FiscalEnvironment::Homologation)),
        Some("production") => Ok(Some(osflow_app::FiscalEnvironment::Production)),
        Some(other) => Err(Problem::field(
            ProblemType::InvalidField,
            "environment",
            format!("deve ser homologation ou production (recebido {other:?})"),
        )),
    }
}

/// The gaps of the company's NF-e sequence — numbers claimed and never authorized that SEFAZ expects voided (a
/// rejected NF-e, one whose order was cancelled, one issued again under another number) — and the inutilizações
/// made (representante, financeiro).
#[utoipa::path(
    get, path = "/v1/fiscal/nfe/gaps", tag = "fiscal-admin",
    params(EnvironmentQuery),
    responses((status = 200, description = "The gaps and the inutilizações", body = NfeGapsView))
)]
pub(crate) async fn nfe_gaps(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    cx.app.require(&caller, &osflow_app::NFE_EVENT_ROLES).map_err(problem)?;
    let gaps = cx.app.nfe_gaps(&caller, environment(cx)?).await.map_err(problem)?;
    Ok(json_response(200, to_json(&NfeGapsView::from(&gaps)), None))
}

/// Voids a range of gaps at SEFAZ (inutilização, NFeInutilizacao4) with a justification of 15–255 characters
/// (representante, financeiro): every number of the range must be a gap, and every NF-e built under one is
/// consulted first (SEFAZ must not know it). The numbers are never given again; an order whose rejected NF-e
/// was voided gets a new number when its NF-e is retried. The same range again answers the inutilização made.
#[utoipa::path(
    post, path = "/v1/fiscal/nfe/voids", tag = "fiscal-admin",
    request_body = VoidRequest,
    responses((status = 200, description = "The inutilização", body = NfeVoidView))
)]
pub(crate) async fn void_nfe_numbers(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    cx.app.require(&caller, &osflow_app::NFE_EVENT_ROLES).map_err(problem)?;
    let body: VoidRequest = cx.json()?;
    let void = cx
        .app
        .void_nfe_numbers(&caller, body.environment.map(Into::into), body.first, body.last, &body.justification)
        .await
        .map_err(problem)?;
    Ok(json_response(200, to_json(&NfeVoidView::from(&void)), None))
}

/// The procInutNFe of the inutilização starting at `first`.
#[utoipa::path(
    get, path = "/v1/fiscal/nfe/voids/{first}/xml", tag = "fiscal-admin",
    params(VoidPath, EnvironmentQuery),
    responses((status = 200, description = "The procInutNFe", body = String, content_type = "application/xml"))
)]
pub(crate) async fn nfe_void_xml(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let first = cx
        .param("first")
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| Problem::new(ProblemType::NotFound).with_detail("inutilização não encontrada"))?;
    let (void, blob) = cx.app.nfe_void_xml(&caller, environment(cx)?, first).await.map_err(problem)?;
    download(blob, "application/xml", &format!("{}-procInutNFe.xml", void.id))
}
