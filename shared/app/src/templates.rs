//! Message templates: pt-BR defaults per status kind (and for a changed material or due date), company overrides, and
//! `{variable}` rendering. An override naming an unknown variable is refused when the settings are saved.

use std::collections::BTreeMap;

use crate::ports::{NotificationSettings, TemplateOverride};

/// The variables a template may use.
/// `danfe` is the link to the DANFE of the order's authorized NF-e on the customer's page (empty without one);
/// `danfse` the links to the DANFSe of its issued NFS-e there, one a line (empty without any).
pub const VARIABLES: [&str; 11] = [
    "cliente",
    "os",
    "equipamento",
    "status",
    "valor",
    "data_prevista",
    "motivo",
    "empresa",
    "link",
    "danfe",
    "danfse",
];

/// The template names: the status kinds that notify, plus `material_date_changed` and `due_date_changed`, plus
/// `customer_link` (the order's link sent again by staff), plus `sla_breached` (the alert to the company itself,
/// not to the customer).
pub const TEMPLATE_NAMES: [&str; 16] = [
    "open",
    "awaiting_approval",
    "approved",
    "in_progress",
    "waiting_material",
    "material_date_changed",
    "due_date_changed",
    "finished",
    "validation",
    "awaiting_payment",
    "released",
    "closed",
    "cancelled",
    "custom",
    "customer_link",
    "sla_breached",
];

/// Why a template was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("templates.{template}: unknown template (one of {known})", known = TEMPLATE_NAMES.join(", "))]
    UnknownTemplate { template: String },
    #[error("templates.{template}: unknown variable {{{variable}}}")]
    UnknownVariable { template: String, variable: String },
    #[error("templates.{template}: unclosed '{{' at character {at}")]
    Unclosed { template: String, at: usize },
    #[error("templates.{template}: the body must not be empty")]
    EmptyBody { template: String },
}

/// A subject and a body with `{variables}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template<'a> {
    pub subject: &'a str,
    pub body: &'a str,
}

/// The default pt-BR message of a template name (`custom` for unknown names).
pub fn default_template(name: &str) -> Template<'static> {
    let (subject, body) = match name {
        "open" => ("OS {os} aberta", "Olá, {cliente}. Abrimos a OS {os} para {equipamento}."),
        "awaiting_approval" => (
            "Orçamento da OS {os}",
            "Olá, {cliente}. O orçamento da OS {os} ({equipamento}) está pronto: {valor}. \
             Aguardamos a sua aprovação.\n{link}",
        ),
        "approved" => (
            "Aprovação recebida — OS {os}",
            "Olá, {cliente}. Recebemos a aprovação do orçamento da OS {os} ({equipamento}). Obrigado!",
        ),
        "in_progress" => {
            ("Serviço iniciado — OS {os}", "Olá, {cliente}. Iniciamos o serviço da OS {os} ({equipamento}).")
        }
        "waiting_material" => (
            "Aguardando material — OS {os}",
            "Olá, {cliente}. A OS {os} ({equipamento}) aguarda material: {motivo}. Previsão de chegada: {data_prevista}.",
        ),
        "customer_link" => {
            ("Acompanhe a OS {os}", "Olá, {cliente}. Acompanhe a OS {os} ({equipamento}), agora em: {status}.\n{link}")
        }
        "material_date_changed" => (
            "Nova previsão de material — OS {os}",
            "Olá, {cliente}. A previsão de chegada do material da OS {os} ({equipamento}) mudou para {data_prevista}.",
        ),
        "due_date_changed" => (
            "Nova data prevista — OS {os}",
            "Olá, {cliente}. A data prevista para a entrega da OS {os} ({equipamento}) mudou para {data_prevista}.",
        ),
        "finished" => (
            "Serviço concluído — OS {os}",
            "Olá, {cliente}. Concluímos o serviço da OS {os} ({equipamento}). Agora ele passa pela validação final.",
        ),
        "validation" => (
            "Em validação — OS {os}",
            "Olá, {cliente}. O equipamento da OS {os} ({equipamento}) está pronto para a validação.",
        ),
        "awaiting_payment" => {
            ("Pagamento — OS {os}", "Olá, {cliente}. A OS {os} ({equipamento}) aguarda o pagamento de {valor}.")
        }
        "released" => (
            "Equipamento liberado — OS {os}",
            "Olá, {cliente}. O equipamento da OS {os} ({equipamento}) está liberado para retirada.\n{danfe}\n{danfse}",
        ),
        "closed" => ("OS {os} encerrada", "Olá, {cliente}. A OS {os} foi encerrada. Obrigado pela confiança!"),
        "cancelled" => ("OS {os} cancelada", "Olá, {cliente}. A OS {os} foi cancelada. Motivo: {motivo}."),
        "sla_breached" => (
            "Prazo estourado — OS {os} em {status}",
            "A OS {os} ({equipamento}, cliente {cliente}) está em \"{status}\" além do prazo definido no fluxo \
             para essa etapa. Verifique o que a impede de seguir.",
        ),
        _ => ("OS {os}: {status}", "Olá, {cliente}. A OS {os} ({equipamento}) está agora em: {status}."),
    };
    Template { subject, body }
}

/// `R$ 1.234,56`.
pub fn brl(m: osflow_domain::values::Money) -> String {
    let s = m.to_string();
    let (int, dec) = s.split_once('.').unwrap_or((&s, "00"));
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('.');
        }
        grouped.push(c);
    }
    format!("{sign}R$ {grouped},{dec}")
}

/// The company's override of `name`, else the default.
pub fn template_for<'a>(settings: &'a NotificationSettings, name: &str) -> Template<'a> {
    let default = default_template(name);
    match settings.templates.get(name) {
        Some(o) => Template { subject: o.subject.as_deref().unwrap_or(default.subject), body: &o.body },
        None => default,
    }
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Parses `{variable}` placeholders; `{{` and `}}` stand for literal braces.
fn parse<'a>(template_name: &str, text: &'a str) -> Result<Vec<Part<'a>>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    let mut offset = 0;
    while let Some(i) = rest.find(['{', '}']) {
        if i > 0 {
            parts.push(Part::Text(&rest[..i]));
        }
        let brace = &rest[i..i + 1];
        if rest[i + 1..].starts_with(brace) {
            parts.push(Part::Text(brace));
            rest = &rest[i + 2..];
            offset += i + 2;
            continue;
        }
        if brace == "}" {
            parts.push(Part::Text("}"));
            rest = &rest[i + 1..];
            offset += i + 1;
            continue;
        }
        let Some(len) = rest[i + 1..].find('}') else {
            return Err(TemplateError::Unclosed {
                template: template_name.to_owned(),
                at: text[..offset + i].chars().count() + 1,
            });
        };
        let name = &rest[i + 1..i + 1 + len];
        if !VARIABLES.contains(&name) {
            return Err(TemplateError::UnknownVariable {
                template: template_name.to_owned(),
                variable: name.to_owned(),
            });
        }
        parts.push(Part::Var(name));
        rest = &rest[i + len + 2..];
        offset += i + len + 2;
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest));
    }
    Ok(parts)
}

/// Checks a company's overrides (called when the settings are saved).
pub fn validate_overrides(templates: &BTreeMap<String, TemplateOverride>) -> Result<(), TemplateError> {
    for (name, o) in templates {
        if !TEMPLATE_NAMES.contains(&name.as_str()) {
            return Err(TemplateError::UnknownTemplate { template: name.clone() });
        }
        if o.body.trim().is_empty() {
            return Err(TemplateError::EmptyBody { template: name.clone() });
        }
        parse(name, &o.body)?;
        if let Some(s) = &o.subject {
            parse(name, s)?;
        }
    }
    Ok(())
}

/// Renders `text` with `vars` (missing variables render empty). Lines left empty at the end are dropped, so a
/// template ending with `\n{link}` reads well without a link.
pub fn render(template_name: &str, text: &str, vars: &BTreeMap<&str, String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len() + 64);
    for part in parse(template_name, text)? {
        match part {
            Part::Text(t) => out.push_str(t),
            Part::Var(v) => out.push_str(vars.get(v).map_or("", String::as_str)),
        }
    }
    Ok(out.trim_end().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_parses_and_the_quote_reads_well_without_a_link() {
        for name in TEMPLATE_NAMES {
            let t = default_template(name);
            parse(name, t.subject).unwrap();
            parse(name, t.body).unwrap();
        }
        let vars =
            BTreeMap::from([("cliente", "Ana".to_owned()), ("os", "7".to_owned()), ("valor", "R$ 10,00".into())]);
        let body = render("awaiting_approval", default_template("awaiting_approval").body, &vars).unwrap();
        assert!(body.ends_with("Aguardamos a sua aprovação."), "{body}");
    }

    #[test]
    fn braces_and_errors() {
        let vars = BTreeMap::from([("os", "7".to_owned())]);
        assert_eq!(render("x", "{{OS}} {os} }", &vars).unwrap(), "{OS} 7 }");
        assert_eq!(
            parse("closed", "Oi {nome}").unwrap_err(),
            TemplateError::UnknownVariable { template: "closed".into(), variable: "nome".into() }
        );
        assert!(matches!(parse("closed", "Oi {os").unwrap_err(), TemplateError::Unclosed { at: 4, .. }));
    }
}
