//! The representante's notification settings: the company's name and sender, the channels and webhook, and every
//! message's text with a preview rendered by the notifier's own template renderer (sample values). Saved through
//! `PUT /v1/settings/notifications`, which checks them.

use std::collections::BTreeMap;

use maud::{Markup, html};
use osflow_app::NotificationSettings;
use osflow_app::templates::{TEMPLATE_NAMES, default_template, render, template_for};
use serde_json::{Value, json};

use crate::forms::Form;
use crate::pages::{Frame, layout};

fn template_label(name: &str) -> &'static str {
    match name {
        "open" => "OS aberta",
        "awaiting_approval" => "Orçamento enviado",
        "approved" => "Orçamento aprovado",
        "in_progress" => "Em execução",
        "waiting_material" => "Aguardando material",
        "material_date_changed" => "Nova previsão do material",
        "due_date_changed" => "Nova data prevista da OS",
        "finished" => "Serviço finalizado",
        "validation" => "Em validação",
        "awaiting_payment" => "Aguardando pagamento",
        "released" => "Equipamento liberado",
        "closed" => "OS encerrada",
        "cancelled" => "OS cancelada",
        "custom" => "Status personalizado",
        "sla_breached" => "Alerta de prazo (para a empresa)",
        _ => "Mensagem",
    }
}

/// Sample values of the preview.
fn sample(company: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("cliente", "Maria".to_owned()),
        ("os", "123".to_owned()),
        ("equipamento", "Notebook Dell Inspiron 15".to_owned()),
        ("status", "Aguardando Aprovação".to_owned()),
        ("valor", "R$ 269,90".to_owned()),
        ("data_prevista", "10/12/2026".to_owned()),
        ("motivo", "Fonte em falta no fornecedor".to_owned()),
        ("empresa", company.to_owned()),
        ("link", "https://oficina.exemplo.com.br/p/…".to_owned()),
        ("danfe", "https://oficina.exemplo.com.br/p/…/danfe.pdf".to_owned()),
        ("danfse", "https://oficina.exemplo.com.br/p/…/danfse/…".to_owned()),
    ])
}

/// The texts shown: the posted ones (a preview or a refused save), else the saved ones or the defaults.
pub fn texts(settings: &NotificationSettings, posted: Option<&Form>) -> Vec<(&'static str, String, String)> {
    TEMPLATE_NAMES
        .iter()
        .map(|name| {
            let saved = template_for(settings, name);
            match posted {
                Some(f) => (*name, f.text(&format!("subject_{name}")), f.text(&format!("body_{name}"))),
                None => (*name, saved.subject.to_owned(), saved.body.to_owned()),
            }
        })
        .collect()
}

/// The settings form as `PUT /v1/settings/notifications` takes it: a message equal to its default is not
/// stored as an override.
pub fn request(form: &Form) -> Value {
    let mut templates = serde_json::Map::new();
    for name in TEMPLATE_NAMES {
        let (subject, body) = (form.text(&format!("subject_{name}")), form.text(&format!("body_{name}")));
        let default = default_template(name);
        if subject == default.subject && body.replace("\r\n", "\n") == default.body {
            continue;
        }
        templates.insert(name.to_owned(), json!({"subject": subject, "body": body.replace("\r\n", "\n")}));
    }
    let opt = |name: &str| form.get(name).map_or(Value::Null, |v| json!(v));
    json!({
        "company_name": opt("company_name"),
        "sender_name": opt("sender_name"),
        "sender_email": opt("sender_email"),
        "reply_to": opt("reply_to"),
        "webhook_url": opt("webhook_url"),
        "webhook_secret": opt("webhook_secret"),
        "channels": form.all("channels"),
        "templates": templates,
    })
}

pub fn page(
    frame: &Frame<'_>,
    settings: &NotificationSettings,
    posted: Option<&Form>,
    message: Option<(bool, String)>,
) -> Markup {
    let value = |name: &str, saved: &Option<String>| match posted {
        Some(f) => f.get(name).map(str::to_owned),
        None => saved.clone(),
    };
    let company = value("company_name", &settings.company_name).unwrap_or_else(|| frame.company.to_owned());
    let vars = sample(&company);
    let channel_on = |c: &str, saved: osflow_app::NotifyChannel| match posted {
        Some(f) => f.all("channels").iter().any(|v| v == c),
        None => settings.channels.contains(&saved),
    };
    layout(
        frame,
        "Avisos",
        html! {
            h1 { "Avisos ao cliente" }
            @if let Some((ok, m)) = &message { p class=(if *ok { "ok" } else { "err" }) role="alert" { (m) } }
            form.card method="post" action="/avisos" {
                input type="hidden" name="csrf" value=(frame.csrf);
                fieldset { legend { "Remetente" }
                    label for="empresa-nome" { "Nome da empresa nas mensagens" }
                    input id="empresa-nome" name="company_name" type="text" value=[value("company_name", &settings.company_name)];
                    label for="remetente" { "Nome do remetente" }
                    input id="remetente" name="sender_name" type="text" value=[value("sender_name", &settings.sender_name)];
                    label for="remetente-email" { "E-mail do remetente" }
                    input id="remetente-email" name="sender_email" type="email" value=[value("sender_email", &settings.sender_email)];
                    label for="responder" { "Responder para" }
                    input id="responder" name="reply_to" type="email" value=[value("reply_to", &settings.reply_to)];
                }
                fieldset { legend { "Canais" }
                    label.check { input type="checkbox" name="channels" value="email" checked[channel_on("email", osflow_app::NotifyChannel::Email)]; " E-mail" }
                    label.check { input type="checkbox" name="channels" value="webhook" checked[channel_on("webhook", osflow_app::NotifyChannel::Webhook)]; " WhatsApp/SMS (webhook)" }
                    label for="webhook" { "Endereço do webhook (https)" }
                    input id="webhook" name="webhook_url" type="url" value=[value("webhook_url", &settings.webhook_url)];
                    label for="segredo" { "Segredo do webhook (em branco: mantém o atual)" }
                    input id="segredo" name="webhook_secret" type="password" autocomplete="new-password";
                }
                h2 { "Mensagens" }
                p.muted { "Variáveis: {cliente}, {os}, {equipamento}, {status}, {valor}, {data_prevista}, {motivo}, {empresa}, {link}." }
                @for (name, subject, body) in texts(settings, posted) {
                    details.action {
                        summary { (template_label(name)) }
                        label { "Assunto " input type="text" name=(format!("subject_{name}")) value=(subject) size="50"; }
                        label { "Texto " textarea name=(format!("body_{name}")) rows="4" { (body) } }
                        div.preview {
                            strong { "Prévia: " }
                            @match (render(name, &subject, &vars), render(name, &body, &vars)) {
                                (Ok(s), Ok(b)) => { p { em { (s) } } p.pre { (b) } },
                                (Err(e), _) | (_, Err(e)) => { p.err { "Modelo inválido: " (e.to_string()) } },
                            }
                        }
                    }
                }
                button.primary type="submit" name="acao" value="previa" { "Pré-visualizar" }
                " "
                button.primary type="submit" name="acao" value="salvar" { "Salvar" }
            }
        },
    )
}
