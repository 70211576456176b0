//! The company's records through osflow-local: a customer's data fixed on an open order reaches the NF-e; the
//! LGPD anonymization leaves no personal data of the customer in any API answer while the invoices stay
//! downloadable; an order opened for a known serial links to its equipment.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::nfe::{homologation_emitter, wait_for_invoice};
use crate::support::*;

/// A company with an NF-e emitter in homologação (a generated A1 certificate), and its representante's client.
async fn company_with_emitter(local: &Local, tenant: &str) -> Api {
    let rep = local.api(&local.token(tenant, "representante"));
    homologation_emitter(&rep, "OFICINA FISCAL LTDA").await;
    rep
}

/// The order once its NF-e is authorized.
async fn wait_for_authorized(api: &Api, id: &str) -> Value {
    wait_for_invoice(api, id, "authorized").await;
    api.order(id).await
}

/// The NF-e XML of the order (its single invoice), downloaded.
async fn invoice_xml(api: &Api, id: &str) -> String {
    let invoices = api.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    let url = invoices["items"][0]["xml_url"].as_str().unwrap_or_else(|| panic!("an invoice: {invoices}")).to_owned();
    let xml = api.get(&url).await;
    assert_eq!(xml.status, StatusCode::OK, "{}", xml.body);
    xml.body.as_str().expect("XML text").to_owned()
}

fn customer_with_phone(phone: &str) -> Value {
    let mut customer = example_order()["customer"].clone();
    customer["phone"] = phone.into();
    customer
}

/// Open → fix the customer's phone on the order → the NF-e issued at payment carries the new phone; the
/// customer's record and their other open order take it too, and the edit is an event on each timeline.
#[tokio::test]
async fn a_phone_fixed_on_an_open_order_reaches_the_nfe_and_the_customers_other_orders() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = company_with_emitter(&local, "oficina-fone").await;
    let id = rep.open_example().await;
    let other = rep.open_example().await;
    let opened = rep.order(&id).await;
    assert_eq!(opened["customer"]["phone"], "+5511987654321");
    let customer_id = opened["customer_id"].as_str().expect("the order links to the customer's record").to_owned();
    assert_eq!(rep.order(&other).await["customer_id"], customer_id.as_str(), "one record per document");

    let fixed = rep.put(&format!("/v1/orders/{id}/customer"), customer_with_phone("(11) 91234-5678")).await;
    let fixed = fixed.ok(StatusCode::OK);
    assert_eq!(fixed["customer"]["phone"], "+5511912345678");
    assert_eq!(fixed["status"], "aberta", "no status change");
    assert!(staff_event_types(&rep, &id).await.contains(&"order.customer_edited".to_owned()));
    // The record and the customer's other open order took it.
    let record = rep.get("/v1/customers/529.982.247-25").await.ok(StatusCode::OK);
    assert_eq!(record["id"], customer_id.as_str());
    assert_eq!(record["customer"]["phone"], "+5511912345678");
    let mut history: Vec<&str> =
        record["orders"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    history.sort_unstable();
    let mut both = vec![id.as_str(), other.as_str()];
    both.sort_unstable();
    assert_eq!(history, both, "{record}");
    assert_eq!(rep.order(&other).await["customer"]["phone"], "+5511912345678");
    assert_eq!(staff_event_types(&rep, &other).await, ["order.opened", "order.customer_edited"]);
    // The same data again is refused on the order (nothing to change), and a bad phone names its field.
    rep.put(&format!("/v1/orders/{id}/customer"), customer_with_phone("(11) 91234-5678"))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FIELD);
    let bad = rep.put(&format!("/v1/orders/{id}/customer"), customer_with_phone("12")).await;
    assert_eq!(bad.problem(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FIELD)["field"], "phone");

    walk_to(&rep, &id, "aguardando_pagamento").await;
    rep.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    wait_for_authorized(&rep, &id).await;
    let xml = invoice_xml(&rep, &id).await;
    let dest = &xml[xml.find("<dest>").expect("dest")..xml.find("</dest>").expect("/dest")];
    assert!(dest.contains("<fone>11912345678</fone>"), "the NF-e carries the new phone: {dest}");
    assert!(xml.contains("<CPF>52998224725</CPF>"));

    // Once released and closed, the order keeps the data it was invoiced with: a later edit of the customer
    // reaches only open orders.
    walk_to(&rep, &id, "liberada").await;
    rep.step_ok(&id, "close", json!({})).await;
    let later = rep.put(&format!("/v1/customers/{customer_id}"), customer_with_phone("(11) 95555-0000")).await;
    assert_eq!(later.ok(StatusCode::OK)["customer"]["phone"], "+5511955550000");
    assert_eq!(rep.order(&id).await["customer"]["phone"], "+5511912345678", "the closed order keeps its data");
    assert_eq!(rep.order(&other).await["customer"]["phone"], "+5511955550000");
    assert_eq!(invoice_xml(&rep, &id).await, xml, "the issued NF-e is unchanged");
}

/// Waits until the order's notifications stop arriving (the relay and the notifier are asynchronous).
async fn settle_notifications(api: &Api, id: &str) {
    let mut last = usize::MAX;
    for _ in 0..40 {
        let n = wait_for_notifications(api, id, 0).await.len();
        if n == last {
            return;
        }
        last = n;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("the notifications of {id} still arrive after 20 s ({last} so far)");
}

/// Every answer of the API about the customer's orders, records and lists: one line per request, the path and
/// the status, then the body after a tab.
async fn every_answer(api: &Api, ids: &[&str], customer_id: &str, equipment_id: &str) -> String {
    let mut all = String::new();
    let mut paths = vec![
        format!("/v1/customers/{customer_id}"),
        format!("/v1/customers/{customer_id}/export"),
        format!("/v1/equipment/{equipment_id}"),
        "/v1/equipment?serial=BR123456".to_owned(),
        "/v1/orders".to_owned(),
        "/v1/orders?q=souza".to_owned(),
        "/v1/orders?status=encerrada".to_owned(),
        "/v1/orders?status=aberta".to_owned(),
        "/v1/customers/52998224725/orders".to_owned(),
        "/v1/customers/52998224725".to_owned(),
    ];
    for id in ids {
        for tail in ["", "/timeline", "/notifications", "/invoices"] {
            paths.push(format!("/v1/orders/{id}{tail}"));
        }
    }
    for path in paths {
        let r = api.get(&path).await;
        all.push_str(&format!("\n{path} {}\t{}", r.status, r.body));
    }
    all
}

/// LGPD: the representante exports the customer's data, then anonymizes the customer at their request. After
/// it, no answer of the API holds the customer's name, document, e-mail or phone; the issued NF-e stays
/// downloadable (a fiscal record the law requires to keep), and a new order with the same document makes a new
/// customer.
#[tokio::test]
async fn an_anonymized_customer_is_in_no_answer_and_the_invoices_stay_downloadable() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = company_with_emitter(&local, "oficina-lgpd").await;
    let atendente = rep.with_token(&local.token("oficina-lgpd", "atendente"));
    let invoiced = rep.open_example().await;
    let open = rep.open_example().await;
    rep.step_ok(&open, "quote/send", json!({})).await;
    wait_for_notifications(&rep, &open, 1).await;
    walk_to(&rep, &invoiced, "aguardando_pagamento").await;
    rep.step_ok(&invoiced, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    let order = wait_for_authorized(&rep, &invoiced).await;
    walk_to(&rep, &invoiced, "liberada").await;
    rep.step_ok(&invoiced, "close", json!({})).await;
    settle_notifications(&rep, &invoiced).await;
    let customer_id = order["customer_id"].as_str().unwrap().to_owned();
    let equipment_id = order["equipment_id"].as_str().expect("the serial made an equipment record").to_owned();

    // The export holds everything (the data subject's copy); only the representante may take it.
    atendente.get(&format!("/v1/customers/{customer_id}/export")).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);
    let export = rep.get(&format!("/v1/customers/{customer_id}/export")).await.ok(StatusCode::OK);
    assert_eq!(export["customer"]["customer"]["email"], "maria@example.com");
    assert_eq!(export["orders"].as_array().map(Vec::len), Some(2), "{export}");
    assert!(export["orders"][0]["events"].as_array().is_some_and(|e| !e.is_empty()));
    let before = every_answer(&rep, &[&invoiced, &open], &customer_id, &equipment_id).await;
    assert!(before.contains("Maria Souza") && before.contains("52998224725"), "the check sees the data before");

    atendente
        .post(&format!("/v1/customers/{customer_id}/anonymize"), json!({}))
        .await
        .problem(StatusCode::FORBIDDEN, FORBIDDEN);
    let done = rep.post("/v1/customers/529.982.247-25/anonymize", json!({})).await.ok(StatusCode::OK);
    assert_eq!(done["anonymized"], true);
    assert_eq!(done["customer"]["name"], "Cliente anonimizado");
    // Running it again (by id: the document is gone) changes nothing more.
    rep.post(&format!("/v1/customers/{customer_id}/anonymize"), json!({})).await.ok(StatusCode::OK);
    rep.get("/v1/customers/52998224725").await.problem(StatusCode::NOT_FOUND, "/problems/not-found");

    let after = every_answer(&rep, &[&invoiced, &open], &customer_id, &equipment_id).await;
    for personal in
        ["Maria", "Souza", "52998224725", "529.982.247-25", "maria@example.com", "ma***@", "98765", "8765-4321"]
    {
        let found: Vec<&str> =
            after.lines().filter(|l| l.split_once('\t').is_some_and(|(_, body)| body.contains(personal))).collect();
        assert!(
            found.is_empty(),
            "{personal:?} is still in an answer: {}",
            found.join("\n").chars().take(3000).collect::<String>()
        );
    }
    assert!(after.contains("Cliente anonimizado"), "{after}");
    for event in ["order.customer_anonymized"] {
        assert!(staff_event_types(&rep, &invoiced).await.contains(&event.to_owned()));
        assert!(staff_event_types(&rep, &open).await.contains(&event.to_owned()));
    }
    // The fiscal record is kept and downloadable, as issued.
    let xml = invoice_xml(&rep, &invoiced).await;
    assert!(xml.contains("<nfeProc") && xml.contains("<CPF>52998224725</CPF>"), "the NF-e as authorized: {xml}");
    // The open order goes on, without the customer's contacts; its data cannot be typed back on it.
    rep.step_ok(&open, "quote/decision", json!({"decision": "approve"})).await;
    rep.put(&format!("/v1/orders/{open}/customer"), example_order()["customer"].clone())
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FIELD);
    // The same person comes back: a new customer record.
    let again = rep.open_example().await;
    let new_id = rep.order(&again).await["customer_id"].as_str().unwrap().to_owned();
    assert_ne!(new_id, customer_id);
}

/// An order opened for a serial the company knows links to that equipment (and its customer); the equipment
/// lists both orders; a serial typed in another case is the same equipment; a new serial on an order links it
/// to a new equipment.
#[tokio::test]
async fn an_order_for_a_known_serial_links_to_the_equipment() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-serie", "atendente"));
    let tecnico = api.with_token(&local.token("oficina-serie", "tecnico"));
    let first = api.open_example().await;
    let first_order = api.order(&first).await;
    let equipment_id = first_order["equipment_id"].as_str().expect("linked").to_owned();

    let mut body = example_order();
    body["equipment"]["serial"] = " br123456 ".into();
    body["service"]["reported_problem"] = "Tela piscando".into();
    let second = api.post("/v1/orders", body).await.ok(StatusCode::CREATED);
    assert_eq!(second["equipment_id"], equipment_id.as_str(), "the known serial links to the equipment");
    assert_eq!(second["customer_id"], first_order["customer_id"]);

    let equipment = api.get("/v1/equipment?serial=BR123456").await.ok(StatusCode::OK);
    assert_eq!(equipment["id"], equipment_id.as_str());
    assert_eq!(equipment["customer_id"], first_order["customer_id"]);
    let listed: Vec<&str> = equipment["orders"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(listed, [second["id"].as_str().unwrap(), first.as_str()], "newest first");
    let customer = api.get(&format!("/v1/customers/{}", first_order["customer_id"].as_str().unwrap())).await;
    let customer = customer.ok(StatusCode::OK);
    assert_eq!(customer["equipment"][0]["id"], equipment_id.as_str(), "{customer}");

    // Staff fix the model on the order: the record and the equipment's other open order take it.
    let mut fixed = example_order()["equipment"].clone();
    fixed["model"] = "Inspiron 15 3520".into();
    let edited = api.put(&format!("/v1/orders/{first}/equipment"), fixed).await.ok(StatusCode::OK);
    assert_eq!(edited["equipment"]["model"], "Inspiron 15 3520");
    let second_id = second["id"].as_str().unwrap();
    assert_eq!(api.order(second_id).await["equipment"]["model"], "Inspiron 15 3520");
    assert_eq!(
        api.get(&format!("/v1/equipment/{equipment_id}")).await.ok(StatusCode::OK)["equipment"]["model"],
        "Inspiron 15 3520"
    );

    // An order opened without a serial gets one later: a new equipment, linked.
    let mut no_serial = example_order();
    no_serial["equipment"] = json!({"description": "Impressora"});
    let third = api.post("/v1/orders", no_serial).await.ok(StatusCode::CREATED);
    assert!(third["equipment_id"].is_null());
    let third_id = third["id"].as_str().unwrap();
    let tagged = api
        .put(&format!("/v1/orders/{third_id}/equipment"), json!({"description": "Impressora", "serial": "ETQ-0042"}))
        .await
        .ok(StatusCode::OK);
    let tag_id = tagged["equipment_id"].as_str().expect("linked to a new equipment").to_owned();
    assert_ne!(tag_id, equipment_id);
    assert_eq!(api.get("/v1/equipment?serial=etq-0042").await.ok(StatusCode::OK)["id"], tag_id.as_str());

    // Due date and technician: events on the timeline; the technician may not reassign.
    let due = osflow_testkit::days_ahead(9);
    let moved = api.put(&format!("/v1/orders/{first}/due-date"), json!({"due_date": due})).await.ok(StatusCode::OK);
    assert_eq!(moved["due_date"], due.as_str());
    // The customer is told the new date, by e-mail (the open status has no channel of its own).
    let (y, rest) = due.split_once('-').unwrap();
    let (m, d) = rest.split_once('-').unwrap();
    let told =
        format!("A data prevista para a entrega da OS {} (Notebook) mudou para {d}/{m}/{y}.", first_order["number"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !mailbox(dir.path()).iter().any(|eml| crate::portal::eml_body(eml).contains(&told)) {
        assert!(std::time::Instant::now() < deadline, "no e-mail with the new due date: {told}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Only one of the company's technicians: joana is not one until a token is made for her with the role
    // (the development users), the attendant never is.
    let path = format!("/v1/orders/{first}/technician");
    let assign = |who: &str| api.put(&path, json!({"technician": who}));
    for who in ["joana@oficina", "atendente@oficina-serie", "tecnico@outra-oficina"] {
        let refused = assign(who).await.problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field");
        assert_eq!(refused["field"], "technician", "{refused}");
    }
    token_of(dir.path(), "oficina-serie", Some("joana@oficina"), "tecnico");
    let technicians = api.get("/v1/users?role=tecnico").await.ok(StatusCode::OK);
    let ids: Vec<&str> = technicians["items"].as_array().unwrap().iter().filter_map(|u| u["id"].as_str()).collect();
    assert_eq!(ids, ["joana@oficina", "tecnico@oficina-serie"], "{technicians}");
    let assigned = assign("joana@oficina").await;
    assert_eq!(assigned.ok(StatusCode::OK)["technician"], "joana@oficina");
    tecnico
        .put(&format!("/v1/orders/{first}/technician"), json!({"technician": "rafael@oficina"}))
        .await
        .problem(StatusCode::FORBIDDEN, FORBIDDEN);
    let types = staff_event_types(&api, &first).await;
    for t in ["order.equipment_edited", "order.due_date_changed", "order.technician_assigned"] {
        assert!(types.contains(&t.to_owned()), "{t} in {types:?}");
    }
}

/// Every file under `dir` (the data folder: the SQLite file and its WAL, the mailbox, the blobs), with its path.
fn every_file(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            out.extend(every_file(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

/// The unlock code left at the counter: answered only by its own read (the tecnico's, on the timeline), in no
/// other API answer, no event, no e-mail and no file of the data folder in clear; once the order closes it is
/// deleted (the timeline says so) and can no longer be read.
#[tokio::test]
async fn the_unlock_code_is_in_no_answer_mail_or_file_and_gone_after_close() {
    const CODE: &str = "DESBLOQUEIO-9137-XZ";
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-senha", "representante"));
    let tecnico = rep.with_token(&local.token("oficina-senha", "tecnico"));
    let atendente = rep.with_token(&local.token("oficina-senha", "atendente"));
    let mut body = example_order();
    body["intake"] = json!({"accessories": ["Carregador"], "unlock_code": CODE});
    let opened = atendente.post("/v1/orders", body).await.ok(StatusCode::CREATED);
    assert_eq!(opened["intake"]["unlock_code"], true, "{opened}");
    let id = opened["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/unlock-code");
    atendente.get(&path).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);
    assert_eq!(tecnico.get(&path).await.ok(StatusCode::OK)["unlock_code"], CODE);

    walk_to(&rep, &id, "aguardando_pagamento").await;
    rep.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    walk_to(&rep, &id, "liberada").await;
    rep.step_ok(&id, "close", json!({})).await;
    settle_notifications(&rep, &id).await;

    let types = staff_event_types(&rep, &id).await;
    for t in ["order.unlock_code_read", "order.unlock_code_deleted"] {
        assert!(types.contains(&t.to_owned()), "{t} in {types:?}");
    }
    let order = rep.order(&id).await;
    assert_eq!(order["intake"]["unlock_code"], false);
    tecnico.get(&path).await.problem(StatusCode::CONFLICT, "/problems/not-allowed-in-status");

    let customer_id = order["customer_id"].as_str().unwrap();
    let equipment_id = order["equipment_id"].as_str().unwrap();
    let answers = every_answer(&rep, &[&id], customer_id, equipment_id).await;
    assert!(answers.contains("order.unlock_code_read"), "the check sees the timeline");
    assert!(!answers.contains(CODE), "the code in an answer: {answers}");
    let mails = mailbox(dir.path());
    assert!(mails.len() >= 5, "the customer was e-mailed along the way: {}", mails.len());
    for eml in &mails {
        assert!(!eml.contains(CODE) && !crate::portal::eml_body(eml).contains(CODE), "the code in an e-mail");
    }
    let files = every_file(dir.path());
    assert!(files.iter().any(|(p, _)| p.ends_with("osflow.db")), "the database is among the files read");
    for (file, bytes) in files {
        assert!(!String::from_utf8_lossy(&bytes).contains(CODE), "the code in clear in {}", file.display());
    }
}
