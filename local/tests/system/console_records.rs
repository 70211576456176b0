//! The console's records and paperwork screens in headless Chromium over WebDriver, against the real binary: the
//! company's warranty defaults and terms; a new OS with its intake (accessories, condition, unlock code),
//! per-line and whole-quote discounts and a line's own warranty; the unlock code read; an intake photo; the
//! edits of the open OS (due date, technician, the customer's phone); the customer's page and search, the
//! equipment's page and its edit; the receipts; the warranty return of a released OS; the LGPD export and the
//! anonymization. Each step is checked on the screen and then in what the API answers. Screenshots are left in
//! the target folder (`console-records-*.png`).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{
    PNG_BASE64, cookie_header, css, desktop, fill, form_body, no_redirects, open_form, set_date, shot, sign_in,
    sign_out, submit_form, wait_left,
};
use crate::paperwork::pdf_text;
use crate::portal::{ChromeDriver, wait_for_text};
use crate::support::*;

/// The page after a form of the records' part was posted: its notice.
async fn submit_and_wait(browser: &fantoccini::Client, scope: &str, text: &str) -> String {
    submit_form(browser, scope).await;
    wait_for_text(browser, text).await
}

/// The id in the browser's current `/<prefix>/<id>` address.
async fn current_id(browser: &fantoccini::Client, prefix: &str) -> String {
    let url = browser.current_url().await.unwrap();
    url.path().trim_start_matches(prefix).trim_matches('/').to_owned()
}

/// A form posted to the console with the browser's session cookie (a request the page's own limits would not let
/// the browser send, or one without the form's token).
async fn post_form(base: &str, cookie: &str, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    no_redirects()
        .post(format!("{base}{path}"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// A GET of a console page with the browser's session cookie: status, content type, headers and bytes.
async fn console_get(base: &str, cookie: &str, path: &str) -> reqwest::Response {
    no_redirects().get(format!("{base}{path}")).header("cookie", cookie).send().await.unwrap()
}

#[tokio::test]
async fn records_discounts_intake_edits_warranty_and_lgpd_by_clicking_in_the_console() {
    use base64::Engine;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let tenant = "oficina-registros";
    let rep = local.api(&local.token(tenant, "representante"));
    let driver = ChromeDriver::start();
    let browser = desktop(&driver).await;

    // The representante's company page: warranty defaults and the warranty term.
    sign_in(&browser, &base, tenant, "representante").await;
    css(&browser, "a[href='/empresa']").await.click().await.unwrap();
    wait_for_text(&browser, "Empresa: recibos e garantia").await;
    fill(&browser, "input[name=company_name]", "Oficina Registro Ltda").await;
    fill(&browser, "input[name=warranty_parts_days]", "180").await;
    fill(&browser, "input[name=warranty_labor_days]", "30").await;
    fill(&browser, "textarea[name=warranty_terms]", "A garantia não cobre mau uso nem quedas.").await;
    let saved = submit_and_wait(&browser, "form.company", "Dados da empresa salvos.").await;
    assert!(saved.contains("A garantia não cobre mau uso"), "the saved term is shown");
    let settings = rep.get("/v1/settings/company").await.ok(StatusCode::OK);
    assert_eq!(
        (&settings["company_name"], &settings["warranty_parts_days"], &settings["warranty_labor_days"]),
        (&json!("Oficina Registro Ltda"), &json!(180), &json!(30))
    );
    assert_eq!(settings["warranty_terms"], "A garantia não cobre mau uso nem quedas.");
    // A day count the API refuses (the page's own limit bypassed): shown as refused, and nothing changes.
    let cookie = cookie_header(&browser).await;
    let csrf = css(&browser, "input[name=csrf]").await.attr("value").await.unwrap().unwrap();
    let refused = post_form(
        &base,
        &cookie,
        "/empresa",
        form_body(&[("csrf", csrf.as_str()), ("warranty_parts_days", "180"), ("warranty_labor_days", "99999")]),
    )
    .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("class=\"err\""), "the refusal is on the page");
    assert_eq!(rep.get("/v1/settings/company").await.ok(StatusCode::OK)["warranty_labor_days"], 30);

    // A new OS with its intake, discounts and a line's own warranty.
    css(&browser, "a[href='/os/nova']").await.click().await.unwrap();
    fill(&browser, "#nome", "Maria Souza").await;
    fill(&browser, "#documento", "529.982.247-25").await;
    fill(&browser, "#email", "maria@example.com").await;
    fill(&browser, "#telefone", "(11) 98765-4321").await;
    fill(&browser, "#equip", "Notebook Dell Inspiron 15").await;
    fill(&browser, "#serie", "BR-REG-1").await;
    fill(&browser, "#problema", "Não liga").await;
    fill(&browser, "#acessorios", "Carregador\nCapa").await;
    fill(&browser, "#estado", "Tela riscada no canto").await;
    fill(&browser, "#senha", "Zq-2468").await;
    css(&browser, "select[name=kind_0]").await.select_by_value("part").await.unwrap();
    fill(&browser, "input[name=description_0]", "Fonte 65W").await;
    fill(&browser, "input[name=ncm_0]", "85044010").await;
    fill(&browser, "input[name=unit_price_0]", "149,90").await;
    css(&browser, "select[name=discount_type_0]").await.select_by_value("value").await.unwrap();
    fill(&browser, "input[name=discount_0]", "9,90").await;
    fill(&browser, "input[name=description_1]", "Reparo da placa").await;
    fill(&browser, "input[name=unit_price_1]", "120,00").await;
    fill(&browser, "input[name=warranty_days_1]", "60").await;
    css(&browser, "select[name=discount_type]").await.select_by_value("percent").await.unwrap();
    fill(&browser, "input[name=discount_value]", "10").await;
    css(&browser, "form[action='/os/nova'] button[type=submit]").await.click().await.unwrap();
    let page = wait_for_text(&browser, "Feito: ").await;
    let id = current_id(&browser, "/os/").await;
    // (149.90 − 9.90 + 120.00) × 0.9 = 234.00; discounts 9.90 + 26.00 = 35.90.
    for shown in ["R$ 234,00", "− R$ 35,90", "Acessórios: Carregador, Capa", "Tela riscada no canto", "60 dias"] {
        assert!(page.contains(shown), "{shown:?} on the order page");
    }
    assert!(!page.contains("Zq-2468"), "the unlock code is not on the page");
    shot(&browser, "records-order").await;
    let order = rep.order(&id).await;
    let quote = &order["quote"];
    assert_eq!((quote["total"].as_str(), quote["discount_total"].as_str()), (Some("234.00"), Some("35.90")));
    assert_eq!(quote["discount"], json!({"type": "percent", "percent": "10"}));
    assert_eq!(quote["lines"][0]["discount"], json!({"type": "value", "value": "9.90"}));
    assert_eq!(quote["lines"][0]["warranty_days"], 180, "the company's default for parts");
    assert_eq!(quote["lines"][1]["warranty_days"], 60, "the line's own");
    assert_eq!(order["intake"]["accessories"], json!(["Carregador", "Capa"]));
    assert_eq!(order["intake"]["unlock_code"], true);

    // The unlock code, read by the representante: shown once, not cached, the read on the timeline.
    let read = css(&browser, "button[data-action=read_unlock_code]").await;
    read.clone().click().await.unwrap();
    wait_left(&read).await;
    let shown = wait_for_text(&browser, "Senha de desbloqueio").await;
    assert!(shown.contains("Zq-2468"), "the code is shown");
    assert!(staff_event_types(&rep, &id).await.contains(&"order.unlock_code_read".to_owned()));
    let cookie = cookie_header(&browser).await;
    let csrf = css(&browser, "input[name=csrf]").await.attr("value").await.unwrap().unwrap();
    let again = post_form(&base, &cookie, &format!("/os/{id}/senha"), form_body(&[("csrf", csrf.as_str())])).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["cache-control"], "no-store");
    // Without the form's token: refused, nothing read.
    let reads = |types: Vec<String>| types.iter().filter(|t| *t == "order.unlock_code_read").count();
    let before = reads(staff_event_types(&rep, &id).await);
    let forged = post_form(&base, &cookie, &format!("/os/{id}/senha"), "csrf=").await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(reads(staff_event_types(&rep, &id).await), before);

    // An intake photo through the presigned upload form.
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    let photo = dir.path().join("entrada.png");
    std::fs::write(&photo, base64::engine::general_purpose::STANDARD.decode(PNG_BASE64).unwrap()).unwrap();
    let scope = open_form(&browser, "add_attachment").await;
    css(&browser, &format!("{scope} input[type=file]")).await.send_keys(&photo.display().to_string()).await.unwrap();
    fill(&browser, &format!("{scope} input[name=caption]"), "Canto riscado").await;
    css(&browser, &format!("{scope} input[name=intake]")).await.click().await.unwrap();
    submit_and_wait(&browser, &scope, "Feito: Adicionar foto").await;
    let attachment = &rep.order(&id).await["attachments"][0];
    assert_eq!((attachment["intake"].as_bool(), attachment["caption"].as_str()), (Some(true), Some("Canto riscado")));

    // The open OS's edits: due date, technician, the customer's phone.
    let due = (chrono::Utc::now() + chrono::Duration::days(12)).format("%Y-%m-%d").to_string();
    let scope = open_form(&browser, "change_due_date").await;
    set_date(&browser, &format!("{scope} input[name=due_date]"), &due).await;
    submit_and_wait(&browser, &scope, "Feito: Alterar data prevista").await;
    assert_eq!(rep.order(&id).await["due_date"], due.as_str());
    let scope = open_form(&browser, "assign_technician").await;
    css(&browser, &format!("{scope} select[name=technician]"))
        .await
        .select_by_value(&format!("tecnico@{tenant}"))
        .await
        .unwrap();
    submit_and_wait(&browser, &scope, "Feito: Definir técnico").await;
    assert_eq!(rep.order(&id).await["technician"], format!("tecnico@{tenant}"));
    let scope = open_form(&browser, "edit_customer").await;
    fill(&browser, &format!("{scope} input[name=customer_phone]"), "(11) 91234-5678").await;
    submit_and_wait(&browser, &scope, "Feito: Corrigir dados do cliente").await;
    let order = rep.order(&id).await;
    assert_eq!(order["customer"]["phone"], "+5511912345678");
    let types = staff_event_types(&rep, &id).await;
    for t in ["order.due_date_changed", "order.technician_assigned", "order.customer_edited"] {
        assert!(types.contains(&t.to_owned()), "{t} on the timeline: {types:?}");
    }
    // The receipts: the entry receipt lists the accessories.
    let entry = console_get(&base, &cookie, &format!("/os/{id}/recibo/entrada")).await;
    assert_eq!(entry.headers()["content-type"], "application/pdf");
    let text = pdf_text(dir.path(), "entrada.pdf", &entry.bytes().await.unwrap());
    assert!(text.contains("Carregador") && text.contains("Oficina Registro Ltda"), "{text}");

    // The customer's page from the order, and the equipment's page from there; the equipment edited.
    css(&browser, "a[href^='/clientes/']").await.click().await.unwrap();
    let page = wait_for_text(&browser, "Histórico de OS").await;
    let customer_id = order["customer_id"].as_str().unwrap().to_owned();
    assert!(page.contains("maria@example.com") && page.contains(&format!("/os/{id}")), "{page}");
    // The record's edit is conditional on the version the form was made from: an older one is refused.
    let record = rep.get(&format!("/v1/customers/{customer_id}")).await.ok(StatusCode::OK);
    assert_eq!(record["version"], 2, "the phone fixed on the order reached the record");
    let stale = post_form(
        &base,
        &cookie,
        &format!("/clientes/{customer_id}"),
        form_body(&[
            ("csrf", csrf.as_str()),
            ("version", "1"),
            ("customer_name", "Maria S."),
            ("customer_document", "52998224725"),
        ]),
    )
    .await;
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let name = rep.get(&format!("/v1/customers/{customer_id}")).await.ok(StatusCode::OK)["customer"]["name"].clone();
    assert_eq!(name, "Maria Souza");
    css(&browser, "ul.equipment a").await.click().await.unwrap();
    let page = wait_for_text(&browser, "Registrado em").await;
    assert!(page.contains("BR-REG-1"), "the equipment's serial");
    let equipment_id = current_id(&browser, "/equipamentos/").await;
    assert_eq!(order["equipment_id"], equipment_id.as_str());
    assert!(browser.source().await.unwrap().contains(&format!("/os/{id}")), "the equipment's OS history");
    let scope = open_form(&browser, "edit_equipment_record").await;
    fill(&browser, &format!("{scope} input[name=equipment_model]"), "Inspiron 15 3000").await;
    submit_and_wait(&browser, &scope, "Dados do equipamento salvos.").await;
    let equipment = rep.get(&format!("/v1/equipment/{equipment_id}")).await.ok(StatusCode::OK);
    assert_eq!(equipment["equipment"]["model"], "Inspiron 15 3000");
    assert_eq!(rep.order(&id).await["equipment"]["model"], "Inspiron 15 3000", "the open OS takes it");

    // The customers' search: by name (the order search), by document (straight to the page).
    browser.goto(&format!("{base}/clientes?q=Maria")).await.unwrap();
    let found = wait_for_text(&browser, "Clientes encontrados").await;
    assert!(found.contains("Maria Souza") && found.contains("529.982.247-25"));
    browser.goto(&format!("{base}/clientes?q=52998224725")).await.unwrap();
    wait_for_text(&browser, "Histórico de OS").await;
    assert_eq!(current_id(&browser, "/clientes/").await, customer_id);

    // A warranty return of the OS once released: a new OS at zero price, linked both ways.
    walk_to(&rep, &id, "aguardando_pagamento").await;
    let fin = rep.with_token(&local.token(tenant, "financeiro"));
    let balance = rep.order(&id).await["balance"].as_str().unwrap().to_owned();
    assert_eq!(balance, "234.00", "the discounted total is what is due");
    fin.step_ok(&id, "payments", json!({"amount": balance, "method": "pix"})).await;
    fin.step_ok(&id, "release", json!({})).await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    let page = wait_for_text(&browser, "Recibo de entrega com termo de garantia").await;
    assert!(page.contains("180 dias, até"), "each line's warranty");
    let delivery = console_get(&base, &cookie, &format!("/os/{id}/recibo/entrega")).await;
    let text = pdf_text(dir.path(), "entrega.pdf", &delivery.bytes().await.unwrap());
    assert!(text.contains("mau uso"), "the company's warranty term: {text}");
    let scope = open_form(&browser, "warranty_return").await;
    // Only the labor comes back: the part (revision 1, line 1) is unchecked.
    css(&browser, &format!("{scope} input[name=linha][value='1:1']")).await.click().await.unwrap();
    fill(&browser, &format!("{scope} textarea[name=reported_problem]"), "Voltou a desligar").await;
    submit_and_wait(&browser, &scope, "Retorno em garantia da").await;
    let second = current_id(&browser, "/os/").await;
    assert_ne!(second, id);
    let returned = rep.order(&second).await;
    assert_eq!(returned["quote"]["lines"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        (returned["quote"]["lines"][0]["description"].as_str(), returned["quote"]["total"].as_str()),
        (Some("Reparo da placa"), Some("0.00"))
    );
    assert!(rep.order(&id).await.to_string().contains(&second), "the first OS links to the return");
    sign_out(&browser).await;

    // The atendente sees no LGPD controls, and the export is refused to them.
    sign_in(&browser, &base, tenant, "atendente").await;
    browser.goto(&format!("{base}/clientes/{customer_id}")).await.unwrap();
    let page = wait_for_text(&browser, "Histórico de OS").await;
    assert!(!page.contains("/exportar") && !page.contains("anonymize_customer"), "no LGPD for the atendente");
    let atendente_cookie = cookie_header(&browser).await;
    let refused = console_get(&base, &atendente_cookie, &format!("/clientes/{customer_id}/exportar")).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    sign_out(&browser).await;

    // The representante: the export (the API's JSON), then the anonymization after its confirmation.
    sign_in(&browser, &base, tenant, "representante").await;
    let cookie = cookie_header(&browser).await;
    let export = console_get(&base, &cookie, &format!("/clientes/{customer_id}/exportar")).await;
    assert_eq!(export.status(), StatusCode::OK);
    assert!(export.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let exported: Value = export.json().await.unwrap();
    assert_eq!(exported["customer"]["customer"]["name"], "Maria Souza");
    assert_eq!(exported["orders"].as_array().map(Vec::len), Some(2), "both OS with their histories");
    browser.goto(&format!("{base}/clientes/{customer_id}")).await.unwrap();
    let csrf = css(&browser, "input[name=csrf]").await.attr("value").await.unwrap().unwrap();
    // Without the confirmation: refused, nothing erased.
    let unconfirmed = post_form(
        &base,
        &cookie,
        &format!("/clientes/{customer_id}/anonimizar"),
        form_body(&[("csrf", csrf.as_str())]),
    )
    .await;
    assert_eq!(unconfirmed.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(rep.get(&format!("/v1/customers/{customer_id}")).await.ok(StatusCode::OK)["anonymized"], false);
    let scope = open_form(&browser, "anonymize_customer").await;
    css(&browser, &format!("{scope} input[name=confirmar]")).await.click().await.unwrap();
    let page = submit_and_wait(&browser, &scope, "Dados pessoais do cliente anonimizados.").await;
    assert!(!page.contains("Maria Souza") && !page.contains("maria@example.com"), "{page}");
    let record = rep.get(&format!("/v1/customers/{customer_id}")).await.ok(StatusCode::OK);
    assert_eq!(record["anonymized"], true);
    let answered = rep.order(&id).await.to_string();
    assert!(!answered.contains("Maria") && !answered.contains("529982247"), "{answered}");
    shot(&browser, "records-anonymized").await;
}
