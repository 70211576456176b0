//! The order page's fiscal documents: every document of the OS with its downloads (NF-e XML and DANFE, NFS-e XML
//! and DANFSe, the cancellation of either and each carta de correção of an NF-e, the file of an NFS-e issued
//! elsewhere), and the forms of their life — an NF-e's cancellation and cartas de correção, an NFS-e's
//! cancellation (cMotivo and justification), an NFS-e issued outside osflow recorded with its file — for the
//! roles the API allows. The forms post to the console, which calls the API's routes ([`api::send`]: in process,
//! or through the fiscal function); the downloads read the same use cases the API's downloads read.

use lambda_http::http::{Method, header};
use maud::{Markup, html};
use osflow_app::{AppError, Blob, Caller, InvoiceRecord};
use osflow_domain::{DocumentKind, InvoiceState, Order};
use serde_json::json;

use crate::forms::Form;
use crate::{Body, Cx, Reply, api, order_id, order_page};

/// Whether the caller may cancel or correct an NF-e (the API's rule, asked of the same roles list).
pub(crate) fn may_register_events(caller: &Caller) -> bool {
    caller.roles.iter().any(|r| osflow_app::NFE_EVENT_ROLES.contains(r))
}

/// The "Notas fiscais" card of the order page.
pub(crate) fn section(order: &Order, invoices: &[InvoiceRecord], csrf: &str, may_register: bool) -> Markup {
    let id = order.id.to_string();
    let (jmin, jmax) = osflow_app::JUSTIFICATION_CHARS;
    let (cmin, cmax) = osflow_app::CORRECTION_CHARS;
    html! {
        section.card id="notas" {
            h2 { "Notas fiscais" }
            @if invoices.is_empty() { p.muted { "Nenhuma nota emitida." } }
            ul.invoices { @for inv in invoices {
                @let nfe = inv.numbering.document.is_nfe();
                @let key = inv.access_key.as_str();
                li data-key=(key) {
                    (if nfe { "NF-e" } else { "NFS-e (DPS)" }) " nº " (inv.number) " — " (crate::pages::invoice_state_label(inv.state))
                    @if let Some(m) = inv.message.as_deref().filter(|_| inv.state != InvoiceState::Authorized) {
                        " (" @if let Some(c) = inv.cstat { (c) " " } (m) ")"
                    }
                    @if inv.xml_ref.is_some() {
                        " · " a href=(format!("/os/{id}/nfe/{key}")) download { (if nfe { "baixar XML" } else { "baixar XML da NFS-e" }) }
                    }
                    @if nfe && matches!(inv.state, InvoiceState::Authorized | InvoiceState::Cancelled) {
                        " · " a href=(format!("/os/{id}/danfe/{key}")) target="_blank" { "DANFE (PDF)" }
                    }
                    @if !nfe && inv.protocol.is_some() && matches!(inv.state, InvoiceState::Authorized | InvoiceState::Cancelled) {
                        " · " a href=(format!("/os/{id}/danfse/{key}")) target="_blank" { "DANFSe (PDF)" }
                    }
                    @if inv.state == InvoiceState::Cancelled {
                        " · " a href=(format!("/os/{id}/nfe/{key}/cancelamento")) download { "XML do cancelamento" }
                    }
                    @if nfe {
                        @let corrections: Vec<_> = order.corrections_of(key).collect();
                        @if !corrections.is_empty() {
                            ul.corrections { @for c in &corrections {
                                li { "Carta de correção nº " (c.seq) ": " (c.text) " · "
                                    a href=(format!("/os/{id}/nfe/{key}/cce/{}", c.seq)) download { "baixar XML" } }
                            } }
                        }
                    }
                    @if nfe && may_register && inv.state == InvoiceState::Authorized {
                        details.action {
                            summary data-action="correct_nfe" { "Carta de correção" }
                            form method="post" action=(format!("/os/{id}/nfe/{key}/corrigir")) {
                                input type="hidden" name="csrf" value=(csrf);
                                label { "Correção (" (cmin) " a " (cmax) " caracteres)"
                                    textarea name="text" required minlength=(cmin) maxlength=(cmax) rows="3" {} }
                                button.primary type="submit" { "Registrar carta de correção" }
                            }
                        }
                        details.action {
                            summary data-action="cancel_nfe" { "Cancelar NF-e" }
                            form method="post" action=(format!("/os/{id}/nfe/{key}/cancelar")) {
                                input type="hidden" name="csrf" value=(csrf);
                                label { "Justificativa (" (jmin) " a " (jmax) " caracteres)"
                                    textarea name="justification" required minlength=(jmin) maxlength=(jmax) rows="2" {} }
                                button.danger type="submit" { "Cancelar NF-e na SEFAZ" }
                            }
                        }
                    }
                    @if !nfe && may_register && inv.state == InvoiceState::Authorized && inv.protocol.is_some() {
                        (nfse_cancel_form(&id, key, csrf))
                    }
                }
            } }
            (elsewhere(order, invoices, csrf, may_register))
        }
    }
}

/// The cancellation of an issued NFS-e: `cMotivo` and `xMotivo`, as the API takes them.
fn nfse_cancel_form(id: &str, key: &str, csrf: &str) -> Markup {
    let (jmin, jmax) = osflow_app::JUSTIFICATION_CHARS;
    let reason = |code: u8| match code {
        1 => "1 — Erro na emissão",
        2 => "2 — Serviço não prestado",
        _ => "9 — Outros",
    };
    html! {
        details.action {
            summary data-action="cancel_nfse" { "Cancelar NFS-e" }
            form method="post" action=(format!("/os/{id}/nfe/{key}/cancelar")) {
                input type="hidden" name="csrf" value=(csrf);
                label for=(format!("motivo-{key}")) { "Motivo" }
                select id=(format!("motivo-{key}")) name="reason" required {
                    @for code in osflow_app::NFSE_CANCEL_REASONS { option value=(code) { (reason(code)) } }
                }
                label { "Justificativa (" (jmin) " a " (jmax) " caracteres)"
                    textarea name="justification" required minlength=(jmin) maxlength=(jmax) rows="2" {} }
                button.danger type="submit" { "Cancelar NFS-e na Sefin Nacional" }
            }
        }
    }
}

/// The NFS-e issued outside osflow recorded on the order (with their files), and the form that records one: for
/// the roles that may, on an order with labor and no NFS-e yet (its city issues elsewhere).
fn elsewhere(order: &Order, invoices: &[InvoiceRecord], csrf: &str, may_register: bool) -> Markup {
    let id = order.id.to_string();
    let recorded: Vec<_> = order.invoices.iter().filter(|d| d.issued_elsewhere.is_some()).collect();
    let offered = may_register
        && order.has_approved_labor()
        && !invoices.iter().any(|r| !r.numbering.document.is_nfe())
        && !order.invoices.iter().any(|d| d.kind == DocumentKind::Nfse);
    html! {
        @if !recorded.is_empty() {
            ul.invoices.elsewhere { @for d in &recorded {
                @let e = d.issued_elsewhere.as_ref().expect("filtered");
                li data-key=(d.key) {
                    "NFS-e nº " (d.number) " (emitida fora do osflow) — código de verificação " (e.verification_code)
                    @if e.file.is_some() {
                        " · " a href=(format!("/os/{id}/nfse-externa/{}", d.key)) target="_blank" { "arquivo da NFS-e" }
                    }
                }
            } }
        }
        @if offered {
            details.action {
                summary data-action="record_external_nfse" { "Registrar NFS-e emitida fora do osflow" }
                form.nfse-file method="post" action=(format!("/os/{id}/nfse-externa")) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="file_data" value="";
                    input type="hidden" name="file_type" value="";
                    label for="nfse-numero" { "Número da NFS-e" }
                    input id="nfse-numero" name="number" type="number" min="1" step="1" required inputmode="numeric";
                    label for="nfse-codigo" { "Código de verificação" }
                    input id="nfse-codigo" name="verification_code" type="text" required maxlength="60" autocomplete="off";
                    label for="nfse-arquivo" { "Arquivo da NFS-e (PDF ou XML, opcional)" }
                    input id="nfse-arquivo" name="file" type="file" accept=".pdf,.xml,application/pdf,application/xml,text/xml";
                    button.primary type="submit" { "Registrar NFS-e" }
                }
            }
        }
    }
}

/// Largest form of an NFS-e issued elsewhere (its file in base64, form-encoded); the API checks the file itself.
pub(crate) const EXTERNAL_FORM_BYTES: usize = 2 * 1024 * 1024;

/// Whether `path` is where the form of an NFS-e issued elsewhere posts.
pub(crate) fn is_external_nfse_form(path: &str) -> bool {
    path.starts_with("/os/") && path.trim_end_matches('/').ends_with("/nfse-externa")
}

/// `POST /os/{id}/nfse-externa`: the API's `POST /v1/orders/{id}/invoices/external`, the file (read by the
/// page's script into the form as base64) as its `file`.
pub(crate) async fn record_external(cx: &Cx<'_>, id: &str, form: &Form) -> Reply {
    let Some(oid) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    let number = form.text("number");
    let mut body = json!({
        "number": number.trim().parse::<u64>().map_or(json!(number), |n| json!(n)),
        "verification_code": form.text("verification_code"),
    });
    if let Some(data) = form.get("file_data") {
        body["file"] = json!({"content_type": form.text("file_type"), "data": data});
    }
    let path = format!("/v1/orders/{oid}/invoices/external");
    let answer = api::send(cx.console, cx.caller, Method::POST, &path, Some(&body)).await;
    if answer.ok() {
        return Reply::redirect(&format!("/os/{oid}?feito=record_external_nfse#notas"));
    }
    match answer.status {
        404 => cx.refusal(&AppError::NotFound),
        status => order_page(cx, id, Some((false, answer.message())), status).await,
    }
}

/// `GET /os/{id}/nfse-externa/{key}`: the file of an NFS-e issued elsewhere, as uploaded.
pub(crate) async fn external_file(cx: &Cx<'_>, id: &str, key: &str) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    match cx.app().external_nfse_file(cx.caller, &id, key).await {
        Ok(blob) if blob.content_type.starts_with("application/pdf") => pdf(blob, &format!("NFSe-{key}.pdf")),
        Ok(blob) => xml(blob, &format!("NFSe-{key}.xml")),
        Err(e) => cx.refusal(&e),
    }
}

fn pdf(blob: Blob, name: &str) -> Reply {
    Reply { status: 200, content_type: "application/pdf".into(), body: Body::Binary(blob.bytes), headers: vec![] }
        .with(header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\""))
        .with(header::CACHE_CONTROL, "private, max-age=300".to_owned())
}

fn xml(blob: Blob, name: &str) -> Reply {
    Reply { status: 200, content_type: "application/xml".into(), body: Body::Binary(blob.bytes), headers: vec![] }
        .with(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\""))
}

/// `GET /os/{id}/danfse/{key}`: the DANFSe of one of the order's NFS-e.
pub(crate) async fn danfse(cx: &Cx<'_>, id: &str, key: &str) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    match cx.app().invoice_danfse(cx.caller, &id, key).await {
        Ok(blob) => pdf(blob, &format!("DANFSe-{key}.pdf")),
        Err(e) => cx.refusal(&e),
    }
}

/// `GET /os/{id}/nfe/{key}/cancelamento`: the procEventoNFe of an NF-e's cancellation, the `evento` of an
/// NFS-e's (by the document's kind, as the API's route).
pub(crate) async fn cancellation_xml(cx: &Cx<'_>, id: &str, key: &str) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    let app = cx.app();
    let found = match app.document_kind(cx.caller, &id, key).await {
        Ok(DocumentKind::Nfse) => {
            app.nfse_cancellation_xml(cx.caller, &id, key).await.map(|b| (b, format!("{key}-e101101-evento.xml")))
        }
        Ok(DocumentKind::Nfe) => app
            .invoice_cancellation_xml(cx.caller, &id, key)
            .await
            .map(|b| (b, format!("{key}-110111-01-procEventoNFe.xml"))),
        Err(e) => Err(e),
    };
    match found {
        Ok((blob, name)) => xml(blob, &name),
        Err(e) => cx.refusal(&e),
    }
}

/// `GET /os/{id}/nfe/{key}/cce/{seq}`: the procEventoNFe of a carta de correção.
pub(crate) async fn correction_xml(cx: &Cx<'_>, id: &str, key: &str, seq: &str) -> Reply {
    let (Some(id), Ok(seq)) = (order_id(id), seq.parse::<u8>()) else { return cx.refusal(&AppError::NotFound) };
    match cx.app().invoice_correction_xml(cx.caller, &id, key, seq).await {
        Ok(blob) => xml(blob, &format!("{key}-110110-{seq:02}-procEventoNFe.xml")),
        Err(e) => cx.refusal(&e),
    }
}

/// `POST /os/{id}/nfe/{key}/cancelar` and `…/corrigir`: the API's cancel and corrections routes, in process.
pub(crate) async fn register_event(cx: &Cx<'_>, id: &str, key: &str, kind: &str, form: &Form) -> Reply {
    let Some(oid) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    let (suffix, body, done) = match (kind, form.get("reason")) {
        // An NFS-e's cancellation names its cMotivo.
        ("cancelar", Some(reason)) => {
            let reason = reason.parse::<u8>().map_or_else(|_| json!(reason), |n| json!(n));
            ("cancel", json!({"reason": reason, "justification": form.text("justification")}), "cancel_nfse")
        }
        ("cancelar", None) => ("cancel", json!({"justification": form.text("justification")}), "cancel_nfe"),
        _ => ("corrections", json!({"text": form.text("text")}), "correct_nfe"),
    };
    let path = format!("/v1/orders/{oid}/invoices/{key}/{suffix}");
    let answer = api::send(cx.console, cx.caller, Method::POST, &path, Some(&body)).await;
    if answer.ok() {
        return crate::Reply::redirect(&format!("/os/{oid}?feito={done}#notas"));
    }
    match answer.status {
        404 => cx.refusal(&AppError::NotFound),
        status => order_page(cx, id, Some((false, answer.message())), status).await,
    }
}
