//! The gaps of the company's NF-e sequence and their inutilização (representante, financeiro): the numbers given
//! up that SEFAZ expects voided (`GET /v1/fiscal/nfe/gaps`, per environment), a range voided with its
//! justification (`POST /v1/fiscal/nfe/voids`), and each inutilização's procInutNFe
//! (`GET /v1/fiscal/nfe/voids/{first}/xml`). Every call is the API's route ([`api::fetch`]: in process, or through
//! the fiscal function in AWS), read into the API's own views.

use lambda_http::http::{Method, header};
use maud::{Markup, html};
use osflow_api::dto::NfeGapsView;
use osflow_api::dto::enums::{FiscalEnvironment, GapReason, InvoiceState, VoidState};
use osflow_app::AppError;
use serde_json::json;

use crate::forms::Form;
use crate::pages::{Frame, layout};
use crate::{Body, Cx, Reply, api, pages};

/// The environment asked (`?ambiente=`), as the API names it; none: the emitter's.
fn environment(value: Option<&str>) -> Option<&'static str> {
    match value {
        Some("production") => Some("production"),
        Some("homologation") => Some("homologation"),
        _ => None,
    }
}

fn environment_name(e: FiscalEnvironment) -> &'static str {
    match e {
        FiscalEnvironment::Production => "production",
        FiscalEnvironment::Homologation => "homologation",
    }
}

fn environment_label(e: FiscalEnvironment) -> &'static str {
    match e {
        FiscalEnvironment::Production => "Produção",
        FiscalEnvironment::Homologation => "Homologação",
    }
}

fn reason_label(r: GapReason) -> &'static str {
    match r {
        GapReason::Rejected => "NF-e rejeitada pela SEFAZ",
        GapReason::OrderCancelled => "OS cancelada antes da autorização",
        GapReason::Superseded => "NF-e emitida de novo com outro número",
    }
}

fn void_state_label(s: VoidState) -> &'static str {
    match s {
        VoidState::Pending => "aguardando a SEFAZ",
        VoidState::Voided => "inutilizada",
        VoidState::Rejected => "recusada pela SEFAZ",
    }
}

fn invoice_state_label(s: InvoiceState) -> &'static str {
    match s {
        InvoiceState::Pending => "pendente",
        InvoiceState::Authorized => "autorizada",
        InvoiceState::Rejected => "rejeitada",
        InvoiceState::Denied => "denegada",
        InvoiceState::Cancelled => "cancelada",
        InvoiceState::Voided => "inutilizada",
    }
}

/// `GET /inutilizacao` (`?ambiente=production|homologation`; `env` when a posted form named it).
pub(crate) async fn page(cx: &Cx<'_>, env: Option<&str>, message: Option<(bool, String)>, status: u16) -> Reply {
    let env = environment(env.or(cx.r.q("ambiente")));
    let query: Vec<(String, String)> = env.map(|e| ("environment".to_owned(), e.to_owned())).into_iter().collect();
    let answer = api::fetch(cx.console, cx.caller, Method::GET, "/v1/fiscal/nfe/gaps", &query, None).await;
    let gaps = match answer.status {
        200 => match serde_json::from_slice::<NfeGapsView>(&answer.body) {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "gaps answer not understood");
                let text = "Não foi possível ler a numeração agora. Tente de novo.";
                return Reply::html(503, pages::message(cx.frame, "Indisponível", text));
            }
        },
        403 => return cx.refusal(&AppError::Forbidden { allowed: osflow_app::NFE_EVENT_ROLES.to_vec() }),
        404 => {
            return Reply::html(
                404,
                pages::message(
                    cx.frame,
                    "Inutilização de NF-e",
                    "A empresa ainda não tem emissor de NF-e: não há numeração a inutilizar.",
                ),
            );
        }
        _ => {
            let problem = serde_json::from_slice(&answer.body).unwrap_or(json!({}));
            let text = crate::messages::problem_text(&problem);
            return Reply::html(answer.status, pages::message(cx.frame, "Indisponível", &text));
        }
    };
    let message = message.or_else(|| cx.r.q("feito").map(|_| (true, "Inutilização registrada.".to_owned())));
    Reply::html(status, view(cx.frame, &gaps, message))
}

fn view(frame: &Frame<'_>, g: &NfeGapsView, message: Option<(bool, String)>) -> Markup {
    let env = environment_name(g.environment);
    let (jmin, jmax) = osflow_app::JUSTIFICATION_CHARS;
    let first = g.gaps.first().map(|x| x.number);
    let body = html! {
        h1 { "Inutilização de NF-e" }
        @if let Some((ok, m)) = &message { p class=(if *ok { "ok" } else { "err" }) role="alert" { (m) } }
        section.card {
            p { "Numeração: CNPJ " (g.cnpj) ", série " (g.serie) ", " (environment_label(g.environment)) "." }
            form.filters method="get" action="/inutilizacao" {
                label for="ambiente" { "Ambiente" }
                select id="ambiente" name="ambiente" {
                    option value="homologation" selected[env == "homologation"] { "Homologação" }
                    option value="production" selected[env == "production"] { "Produção" }
                }
                button type="submit" { "Ver" }
            }
        }
        section.card id="lacunas" {
            h2 { "Números a inutilizar" }
            @if g.gaps.is_empty() {
                p.muted { "Nenhum número abandonado nesta numeração." }
            } @else {
                table.gaps {
                    thead { tr { th { "Número" } th { "Motivo" } th { "OS" } th { "NF-e" } } }
                    tbody { @for x in &g.gaps {
                        tr data-number=(x.number) {
                            td { (x.number) }
                            td { (reason_label(x.reason)) }
                            td { a href=(format!("/os/{}", x.order_id)) { "abrir OS" } }
                            td {
                                @if let Some(s) = x.state { (invoice_state_label(s)) }
                                @if let Some(m) = &x.message {
                                    " (" @if let Some(c) = x.cstat { (c) " " } (m) ")"
                                }
                            }
                        }
                    } }
                }
                details.action open {
                    summary data-action="void_nfe" { "Inutilizar uma faixa" }
                    form method="post" action="/inutilizacao" {
                        input type="hidden" name="csrf" value=(frame.csrf);
                        input type="hidden" name="environment" value=(env);
                        label for="primeiro" { "Do número" }
                        input id="primeiro" name="first" type="number" min="1" step="1" required value=[first];
                        label for="ultimo" { "Até o número" }
                        input id="ultimo" name="last" type="number" min="1" step="1" required value=[first];
                        label for="justificativa" { "Justificativa (" (jmin) " a " (jmax) " caracteres)" }
                        textarea id="justificativa" name="justification" required minlength=(jmin) maxlength=(jmax) rows="2" {}
                        button.danger type="submit" { "Inutilizar na SEFAZ" }
                    }
                }
            }
        }
        section.card id="inutilizacoes" {
            h2 { "Inutilizações feitas" }
            @if g.voids.is_empty() { p.muted { "Nenhuma inutilização nesta numeração." } }
            ul.voids { @for v in &g.voids {
                li data-first=(v.first) {
                    "Números " (v.first) " a " (v.last) " — " (void_state_label(v.state))
                    @if let Some(p) = &v.protocol { " · protocolo " (p) }
                    @if let (Some(m), false) = (&v.message, v.state == VoidState::Voided) {
                        " (" @if let Some(c) = v.cstat { (c) " " } (m) ")"
                    }
                    br;
                    span.muted { (v.justification) " · " (v.created_at.format("%d/%m/%Y %H:%M")) " UTC" }
                    @if v.xml_url.is_some() {
                        " · " a href=(format!("/inutilizacao/{}/xml?ambiente={env}", v.first)) download { "procInutNFe (XML)" }
                    }
                }
            } }
        }
    };
    layout(frame, "Inutilização de NF-e", body)
}

/// `POST /inutilizacao`: the API's `POST /v1/fiscal/nfe/voids`.
pub(crate) async fn void(cx: &Cx<'_>, form: &Form) -> Reply {
    let number = |name: &str| {
        let t = form.text(name);
        t.trim().parse::<u64>().map_or(json!(t), |n| json!(n))
    };
    let env = environment(form.get("environment"));
    let mut body =
        json!({"first": number("first"), "last": number("last"), "justification": form.text("justification")});
    if let Some(e) = env {
        body["environment"] = json!(e);
    }
    let answer = api::send(cx.console, cx.caller, Method::POST, "/v1/fiscal/nfe/voids", Some(&body)).await;
    if answer.ok() {
        let at = env.map(|e| format!("&ambiente={e}")).unwrap_or_default();
        return Reply::redirect(&format!("/inutilizacao?feito=1{at}#inutilizacoes"));
    }
    match answer.status {
        403 => cx.refusal(&AppError::Forbidden { allowed: osflow_app::NFE_EVENT_ROLES.to_vec() }),
        status => page(cx, env, Some((false, answer.message())), status).await,
    }
}

/// `GET /inutilizacao/{first}/xml` (`?ambiente=`): the procInutNFe.
pub(crate) async fn xml(cx: &Cx<'_>, first: &str) -> Reply {
    let Ok(first) = first.parse::<u64>() else { return cx.refusal(&AppError::NotFound) };
    let query: Vec<(String, String)> =
        environment(cx.r.q("ambiente")).map(|e| ("environment".to_owned(), e.to_owned())).into_iter().collect();
    let path = format!("/v1/fiscal/nfe/voids/{first}/xml");
    let answer = api::fetch(cx.console, cx.caller, Method::GET, &path, &query, None).await;
    match answer.status {
        200 => Reply {
            status: 200,
            content_type: "application/xml".into(),
            body: Body::Binary(answer.body),
            headers: vec![],
        }
        .with(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{first}-procInutNFe.xml\"")),
        403 => cx.refusal(&AppError::Forbidden { allowed: osflow_app::NFE_EVENT_ROLES.to_vec() }),
        _ => cx.refusal(&AppError::NotFound),
    }
}
