//! The order page's fiscal documents: every document of the OS with its downloads (NF-e XML and DANFE, NFS-e XML
//! and DANFSe, the cancellation and each carta de correção of an NF-e), and the forms of an authorized NF-e's
//! life — its cancellation and its cartas de correção — for the roles the API allows. The forms post to the
//! console, which calls the API's routes in process (the same use cases, lengths and roles); the downloads read
//! the same use cases the API's downloads read.

use lambda_http::http::{Method, header};
use maud::{Markup, html};
use osflow_app::{AppError, Blob, Caller, InvoiceRecord};
use osflow_domain::{InvoiceState, Order};
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
                    @if nfe && inv.state == InvoiceState::Cancelled {
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
                }
            } }
        }
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

/// `GET /os/{id}/nfe/{key}/cancelamento`: the procEventoNFe of the NF-e's cancellation.
pub(crate) async fn cancellation_xml(cx: &Cx<'_>, id: &str, key: &str) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    match cx.app().invoice_cancellation_xml(cx.caller, &id, key).await {
        Ok(blob) => xml(blob, &format!("{key}-110111-01-procEventoNFe.xml")),
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
    let (suffix, body, done) = match kind {
        "cancelar" => ("cancel", json!({"justification": form.text("justification")}), "cancel_nfe"),
        _ => ("corrections", json!({"text": form.text("text")}), "correct_nfe"),
    };
    let path = format!("/v1/orders/{oid}/invoices/{key}/{suffix}");
    let answer = api::call(cx.app(), cx.caller, Method::POST, &path, Some(&body)).await;
    if answer.ok() {
        return crate::Reply::redirect(&format!("/os/{oid}?feito={done}#notas"));
    }
    match answer.status {
        404 => cx.refusal(&AppError::NotFound),
        status => order_page(cx, id, Some((false, answer.message())), status).await,
    }
}
