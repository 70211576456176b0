//! The HTML: the order page, the answer to a decision and the neutral page. Server-rendered (maud), in
//! Portuguese, one column that fits a phone, no JavaScript, no external resource (styles inline, photos as
//! `data:` URLs). LGPD: the customer's first name only; no document, no address, no contact.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use maud::{Markup, PreEscaped, html};
use osflow_domain::{LineDecision, QuoteRevision, RevisionStatus};

use crate::quote::{brl, quantity};

/// Brasília time (UTC−3, no daylight saving since 2019): the dates the customer reads.
fn brasilia(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&FixedOffset::west_opt(3 * 3600).expect("valid offset"))
}

pub(crate) fn date_time(at: DateTime<Utc>) -> String {
    brasilia(at).format("%d/%m/%Y %H:%M").to_string()
}

pub(crate) fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1c2430;background:#f3f5f8}
main{max-width:40rem;margin:0 auto;padding:1rem}
header{background:#17457a;color:#fff;padding:1rem}
header p{margin:0;font-size:.9rem;opacity:.85}
header h1{margin:.2rem 0 0;font-size:1.35rem}
section{background:#fff;border-radius:.6rem;padding:1rem;margin:0 0 1rem;box-shadow:0 1px 2px rgba(0,0,0,.08)}
h2{font-size:1.1rem;margin:0 0 .6rem}
.status{display:inline-block;background:#e7f0fb;color:#17457a;border-radius:1rem;padding:.15rem .7rem;font-weight:600}
.notice{background:#fff6dc;border-left:4px solid #d9a400}
.ok{background:#e6f6ea;border-left:4px solid #2e8b46}
.err{background:#fdecec;border-left:4px solid #c0392b}
table{width:100%;border-collapse:collapse;font-size:.95rem}
td,th{padding:.45rem .2rem;border-bottom:1px solid #e3e7ee;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;white-space:nowrap}
tfoot td{font-weight:700;border-bottom:0}
.muted{color:#5d6878;font-size:.9rem}
ol.tl{list-style:none;margin:0;padding:0}
ol.tl li{border-left:3px solid #c9d3e0;padding:0 0 .8rem .8rem;margin-left:.3rem}
ol.tl time{display:block;color:#5d6878;font-size:.85rem}
img{max-width:100%;height:auto;border-radius:.4rem;margin-top:.3rem}
label{display:block;font-weight:600;margin:.7rem 0 .25rem}
input[type=text],textarea{width:100%;font:inherit;padding:.6rem;border:1px solid #aab4c3;border-radius:.4rem}
textarea{min-height:4.5rem}
button{display:block;width:100%;font:inherit;font-weight:600;padding:.8rem;margin:.6rem 0 0;border:0;border-radius:.5rem;color:#fff;cursor:pointer}
.approve{background:#2e8b46}.adjust{background:#17457a}.reject{background:#b03a2e}
fieldset{border:1px solid #e3e7ee;border-radius:.4rem;margin:.5rem 0;padding:.5rem}
fieldset label{display:inline;font-weight:400;margin-right:1rem}
a{color:#17457a}
"#;

/// The frame of every page.
fn layout(title: &str, company: &str, heading: &str, body: Markup) -> Markup {
    osflow_html::page(
        html! {
            title { (title) }
            style { (PreEscaped(STYLE)) }
        },
        html! {
            header {
                p { (company) }
                h1 { (heading) }
            }
            main { (body) }
        },
    )
}

/// The page every refused link gets: the same words whatever was wrong (unknown, expired, forged, another
/// company's), so a visitor learns nothing about which orders exist.
pub(crate) fn neutral() -> String {
    layout(
        "Link indisponível",
        "osflow",
        "Link indisponível",
        html! {
            section {
                p { "Este link não é válido ou expirou." }
                p.muted { "Se você recebeu um orçamento ou acompanha um serviço, peça um novo link à empresa que o atende." }
            }
        },
    )
    .into_string()
}

/// One entry of the customer's timeline.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub at: DateTime<Utc>,
    pub text: String,
    /// A photo as a `data:` URL, with its caption.
    pub photo: Option<String>,
}

/// The decision form of a quote revision waiting for the customer.
#[derive(Debug, Clone)]
pub(crate) struct Form {
    /// Relative URL of the decision endpoint.
    pub action: String,
    pub nonce: String,
    pub quote_sha256: String,
    pub per_line: bool,
}

/// What the order page shows.
#[derive(Debug, Clone)]
pub(crate) struct OrderPage<'a> {
    pub company: &'a str,
    pub first_name: &'a str,
    pub number: u64,
    pub equipment: String,
    pub status_label: String,
    pub status_since: DateTime<Utc>,
    pub due_date: Option<NaiveDate>,
    pub quote: Option<&'a QuoteRevision>,
    pub form: Option<Form>,
    pub notice: Option<String>,
    pub timeline: Vec<Entry>,
    /// The authorized NF-e's number and the link to its DANFE.
    pub danfe: Option<(u64, String)>,
    /// The DANFSe of each issued NFS-e: (DPS number, href).
    pub danfses: Vec<(u64, String)>,
    /// The printed OS the customer may download: (label, relative URL).
    pub receipts: Vec<(&'static str, String)>,
}

fn revision_state(rev: &QuoteRevision) -> &'static str {
    match rev.status {
        RevisionStatus::Draft => "em preparação",
        RevisionStatus::Sent => "aguardando a sua resposta",
        RevisionStatus::Approved => "aprovado",
        RevisionStatus::Rejected => "recusado",
        RevisionStatus::AdjustmentRequested => "ajustes pedidos",
        RevisionStatus::Superseded => "substituído por uma nova versão",
    }
}

fn quote_section(rev: &QuoteRevision, form: Option<&Form>) -> Markup {
    let title = if rev.supplementary { "Orçamento complementar" } else { "Orçamento" };
    html! {
        section id="orcamento" {
            h2 { (title) " — versão " (rev.revision) }
            p.muted { "Situação: " (revision_state(rev)) }
            @if rev.supplementary {
                p { "Itens adicionais encontrados durante o serviço; eles precisam da sua aprovação." }
            }
            table {
                thead { tr { th { "Item" } th.n { "Qtd." } th.n { "Valor" } } }
                tbody {
                    @for l in &rev.lines {
                        tr {
                            td {
                                (l.description)
                                br;
                                span.muted { (brl(l.unit_price)) " cada" }
                                @if !l.discount_total.is_zero() {
                                    br;
                                    span.muted { "desconto de " (brl(l.discount_total)) ": " (brl(l.net())) }
                                }
                                @if let Some(d) = l.decision {
                                    br;
                                    span.muted { @if d == LineDecision::Approve { "aprovado" } @else { "recusado" } }
                                }
                            }
                            td.n { (quantity(l.quantity)) }
                            td.n { (brl(l.total)) }
                        }
                    }
                }
                tfoot {
                    @if !rev.discount_total.is_zero() {
                        tr { td colspan="2" { "Subtotal" } td.n { (brl(rev.subtotal())) } }
                        tr { td colspan="2" { "Descontos" } td.n { "− " (brl(rev.discount_total)) } }
                    }
                    tr { td colspan="2" { "Total" } td.n { (brl(rev.total)) } }
                    @if rev.status == RevisionStatus::Approved && rev.approved_total != rev.total {
                        tr { td colspan="2" { "Total aprovado" } td.n { (brl(rev.approved_total)) } }
                    }
                }
            }
            @if let Some(d) = rev.due_date {
                p { "Prazo de entrega: " strong { (date(d)) } }
            }
            @if let Some(c) = &rev.customer_comment {
                p.muted { "Seu comentário: " (c) }
            }
            @if let Some(f) = form {
                (decision_form(rev, f))
            }
        }
    }
}

fn decision_form(rev: &QuoteRevision, f: &Form) -> Markup {
    html! {
        form method="post" action=(f.action) {
            input type="hidden" name="nonce" value=(f.nonce);
            input type="hidden" name="orcamento" value=(f.quote_sha256);
            @if f.per_line {
                p.muted { "Você pode aprovar só alguns itens (vale para o botão Aprovar)." }
                @for l in &rev.lines {
                    fieldset {
                        legend { (l.description) }
                        label { input type="radio" name=(format!("linha_{}", l.line)) value="aprovar" checked; " aprovar" }
                        label { input type="radio" name=(format!("linha_{}", l.line)) value="recusar"; " recusar" }
                    }
                }
            }
            label for="nome" { "Seu nome completo" }
            input id="nome" type="text" name="nome" required minlength="2" maxlength="100" autocomplete="name";
            label for="comentario" { "Comentário (obrigatório para pedir ajustes)" }
            textarea id="comentario" name="comentario" maxlength="1000" {}
            p.muted { "Ao responder, registramos a data e a hora, o seu nome, o endereço IP e o navegador, como comprovante." }
            button.approve type="submit" name="decisao" value="aprovar" { "Aprovar orçamento" }
            button.adjust type="submit" name="decisao" value="ajustar" { "Pedir ajustes" }
            button.reject type="submit" name="decisao" value="recusar" { "Recusar orçamento" }
        }
    }
}

/// The order page.
pub(crate) fn order_page(p: &OrderPage<'_>) -> String {
    let heading = format!("OS {} — {}", p.number, p.equipment);
    layout(
        &format!("OS {} — {}", p.number, p.company),
        p.company,
        &heading,
        html! {
            @if let Some(n) = &p.notice {
                section.notice { p { (n) } }
            }
            section {
                p { "Olá, " (p.first_name) "." }
                p { "Situação: " span.status { (p.status_label) } }
                p.muted { "Desde " (date_time(p.status_since)) }
                @if let Some(d) = p.due_date {
                    p.muted { "Previsão de entrega: " (date(d)) }
                }
            }
            @if let Some(rev) = p.quote {
                (quote_section(rev, p.form.as_ref()))
            }
            @if let Some((number, href)) = &p.danfe {
                section {
                    h2 { "Nota fiscal" }
                    p { "NF-e nº " (number) " autorizada. " a href=(href) download { "Baixar o DANFE (PDF)" } }
                }
            }
            @if !p.danfses.is_empty() {
                section id="nfse" {
                    h2 { "Nota fiscal de serviço" }
                    ul {
                        @for (number, href) in &p.danfses {
                            li { "NFS-e (DPS nº " (number) ") emitida. " a href=(href) download { "Baixar o DANFSe (PDF)" } }
                        }
                    }
                }
            }
            @if !p.receipts.is_empty() {
                section id="documentos" {
                    h2 { "Documentos" }
                    ul {
                        @for (label, href) in &p.receipts {
                            li { a href=(href) { (label) } }
                        }
                    }
                }
            }
            section {
                h2 { "Acompanhamento" }
                ol.tl {
                    @for e in p.timeline.iter().rev() {
                        li {
                            time datetime=(e.at.to_rfc3339()) { (date_time(e.at)) }
                            (e.text)
                            @if let Some(src) = &e.photo {
                                br;
                                img src=(src) alt=(e.text);
                            }
                        }
                    }
                }
            }
        },
    )
    .into_string()
}

/// The answer to a decision form: what happened, and the way back to the order page.
pub(crate) fn outcome(company: &str, number: u64, class: &str, title: &str, lines: &[String], back: &str) -> String {
    layout(
        &format!("OS {number} — {title}"),
        company,
        &format!("OS {number}"),
        html! {
            section class=(class) {
                h2 { (title) }
                @for l in lines { p { (l) } }
            }
            p { a href=(back) { "Voltar ao acompanhamento da OS" } }
        },
    )
    .into_string()
}
