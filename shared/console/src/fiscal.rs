//! The representante's NF-e emitter: the company's fiscal data and its A1 certificate, read and saved through
//! `GET|PUT /v1/fiscal/emitter` (which checks them: CNPJ, IE, address, the certificate's owner and validity).
//! The certificate file is read by the page's script into the form (base64), never kept by the console.

use maud::{Markup, html};
use serde_json::{Value, json};

use crate::forms::Form;
use crate::pages::{Frame, layout};

/// The form as `PUT /v1/fiscal/emitter` takes it.
pub fn request(form: &Form) -> Value {
    let opt = |name: &str| form.get(name).map_or(Value::Null, |v| json!(v));
    let tax = match form.get("crt") {
        Some("regime_normal") => json!({
            "crt": "regime_normal",
            "icms_percent": form.text("icms_percent"),
            "pis_percent": form.text("pis_percent"),
            "cofins_percent": form.text("cofins_percent"),
        }),
        _ => json!({"crt": "simples_nacional", "csosn": form.get("csosn").unwrap_or("102")}),
    };
    let mut body = json!({
        "cnpj": form.text("cnpj"),
        "ie": form.text("ie"),
        "legal_name": form.text("legal_name"),
        "trade_name": opt("trade_name"),
        "address": {
            "street": form.text("street"), "number": form.text("number"), "district": form.text("district"),
            "city": form.text("city"), "city_code": form.text("city_code"), "uf": form.text("uf"), "zip": form.text("zip"),
        },
        "phone": opt("phone"),
        "serie": form.get("serie").and_then(|s| s.parse::<u32>().ok()).unwrap_or(1),
        "environment": form.get("environment").unwrap_or("homologation"),
        "tax": tax,
        "tech_responsible": {
            "cnpj": form.text("tech_cnpj"), "contact": form.text("tech_contact"),
            "email": form.text("tech_email"), "phone": form.text("tech_phone"),
        },
    });
    if let Some(pkcs12) = form.get("pkcs12") {
        body["certificate"] = json!({"pkcs12": pkcs12, "password": form.text("certificate_password")});
    }
    body
}

pub fn page(frame: &Frame<'_>, saved: &Value, message: Option<(bool, String)>) -> Markup {
    let v = |path: &[&str]| {
        let mut at = saved;
        for p in path {
            at = &at[*p];
        }
        match at {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        }
    };
    let text = |id: &str, name: &str, label: &str, value: String| {
        html! { label for=(id) { (label) } input id=(id) name=(name) type="text" value=(value); }
    };
    let normal = v(&["tax", "crt"]) == "regime_normal";
    layout(
        frame,
        "Emissor de NF-e",
        html! {
            h1 { "Emissor de NF-e" }
            @if let Some((ok, m)) = &message { p class=(if *ok { "ok" } else { "err" }) role="alert" { (m) } }
            section.card {
                h2 { "Certificado A1" }
                @if saved["certificate"].is_object() {
                    p { (v(&["certificate", "common_name"])) br;
                        span.muted { "CNPJ " (v(&["certificate", "cnpj"])) " · válido até " (v(&["certificate", "not_after"])) } }
                } @else { p.muted { "Nenhum certificado guardado." } }
            }
            form.card.cert method="post" action="/emissor" {
                input type="hidden" name="csrf" value=(frame.csrf);
                input type="hidden" name="pkcs12" value="";
                fieldset { legend { "Empresa" }
                    (text("cnpj", "cnpj", "CNPJ", v(&["cnpj"])))
                    (text("ie", "ie", "Inscrição estadual (ou ISENTO)", v(&["ie"])))
                    (text("razao", "legal_name", "Razão social", v(&["legal_name"])))
                    (text("fantasia", "trade_name", "Nome fantasia", v(&["trade_name"])))
                    (text("fone", "phone", "Telefone", v(&["phone"])))
                }
                fieldset { legend { "Endereço" }
                    (text("rua", "street", "Logradouro", v(&["address", "street"])))
                    (text("numero", "number", "Número", v(&["address", "number"])))
                    (text("bairro", "district", "Bairro", v(&["address", "district"])))
                    (text("cidade", "city", "Município", v(&["address", "city"])))
                    (text("ibge", "city_code", "Código IBGE do município", v(&["address", "city_code"])))
                    (text("uf", "uf", "UF", v(&["address", "uf"])))
                    (text("cep", "zip", "CEP", v(&["address", "zip"])))
                }
                fieldset { legend { "Emissão" }
                    label for="ambiente" { "Ambiente" }
                    select id="ambiente" name="environment" {
                        option value="homologation" selected[v(&["environment"]) != "production"] { "Homologação (testes)" }
                        option value="production" selected[v(&["environment"]) == "production"] { "Produção" }
                    }
                    (text("serie", "serie", "Série", { let s = v(&["serie"]); if s.is_empty() { "1".to_owned() } else { s } }))
                    label for="crt" { "Regime tributário" }
                    select id="crt" name="crt" {
                        option value="simples_nacional" selected[!normal] { "Simples Nacional" }
                        option value="regime_normal" selected[normal] { "Regime normal" }
                    }
                    (text("csosn", "csosn", "CSOSN (Simples)", { let s = v(&["tax", "csosn"]); if s.is_empty() { "102".to_owned() } else { s } }))
                    (text("icms", "icms_percent", "ICMS % (regime normal)", v(&["tax", "icms_percent"])))
                    (text("pis", "pis_percent", "PIS % (regime normal)", v(&["tax", "pis_percent"])))
                    (text("cofins", "cofins_percent", "COFINS % (regime normal)", v(&["tax", "cofins_percent"])))
                }
                fieldset { legend { "Responsável técnico" }
                    (text("rt-cnpj", "tech_cnpj", "CNPJ", v(&["tech_responsible", "cnpj"])))
                    (text("rt-contato", "tech_contact", "Contato", v(&["tech_responsible", "contact"])))
                    (text("rt-email", "tech_email", "E-mail", v(&["tech_responsible", "email"])))
                    (text("rt-fone", "tech_phone", "Telefone", v(&["tech_responsible", "phone"])))
                }
                fieldset { legend { "Novo certificado A1 (opcional)" }
                    label for="arquivo" { "Arquivo .pfx/.p12" }
                    input id="arquivo" name="certificate_file" type="file" accept=".pfx,.p12,application/x-pkcs12";
                    label for="senha" { "Senha do certificado" }
                    input id="senha" name="certificate_password" type="password" autocomplete="off";
                }
                button.primary type="submit" { "Salvar emissor" }
            }
        },
    )
}
