//! The flows: the default flow and its variants (a shop's own flow, custom statuses, revisions, extra items,
//! partial payments).

use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;

use osflow_testkit::days_ahead;

use crate::support::*;

/// The eight steps of the default flow with the reference example's requests (ARCHITECTURE.md), verbatim.
#[tokio::test]
async fn default_flow_runs_the_eight_steps_with_the_design_examples() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-a", "representante"));

    // 1. Abertura
    let opened = api.post("/v1/orders", example_order()).await.ok(StatusCode::CREATED);
    assert_eq!(opened["number"], 1);
    assert_eq!(opened["status"], "aberta");
    assert_eq!(opened["version"], 1);
    assert_eq!(opened["quote"]["revision"], 1);
    assert_eq!(opened["quote"]["total"], "269.90");
    let id = opened["id"].as_str().expect("id").to_owned();

    // 2. Aprovação do cliente
    assert_eq!(api.step_ok(&id, "quote/send", json!({})).await["status"], "aguardando_aprovacao");
    assert_eq!(api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await["status"], "aprovada");

    // 3. Execução
    assert_eq!(api.step_ok(&id, "start", json!({})).await["status"], "em_execucao");
    let noted = api.step_ok(&id, "notes", json!({"text": "Placa limpa", "visible_to_customer": true})).await;
    assert_eq!(noted["status"], "em_execucao", "a note changes no status");

    // 4. Pausa para materiais
    let waiting = api
        .step_ok(
            &id,
            "material/wait",
            json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": days_ahead(1)}),
        )
        .await;
    assert_eq!(waiting["status"], "aguardando_material");
    let moved = api.patch(&format!("/v1/orders/{id}/material"), json!({"expected_at": days_ahead(4)})).await;
    assert_eq!(moved.ok(StatusCode::OK)["status"], "aguardando_material", "a new date changes no status");
    assert_eq!(api.step_ok(&id, "material/arrived", json!({})).await["status"], "em_execucao");

    // 5. Finalização
    let finished = api.step_ok(&id, "finish", json!({"tests_performed": "Ligou e carregou por 2 h"})).await;
    assert_eq!(finished["status"], "finalizada");

    // 6. Validação
    let validated = api
        .step_ok(&id, "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        .await;
    assert_eq!(validated["status"], "em_validacao");

    // 7. Pagamento e liberação
    assert_eq!(api.step_ok(&id, "payment/request", json!({})).await["status"], "aguardando_pagamento");
    let paid = api.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    assert_eq!(paid["status"], "aguardando_pagamento", "a payment changes no status");
    assert_eq!(api.step_ok(&id, "release", json!({})).await["status"], "liberada");

    // 8. Encerramento
    let closed = api.step_ok(&id, "close", json!({})).await;
    assert_eq!(closed["status"], "encerrada");

    // The reads: the order with its ETag, the timeline, the status list, the customer's history.
    let resp = api.get(&format!("/v1/orders/{id}")).await;
    let etag = resp.headers.get(header::ETAG).and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
    let order = resp.ok(StatusCode::OK);
    assert_eq!(order["status"], "encerrada");
    assert_eq!(order["id"], id.as_str());
    let version = order["version"].as_u64().expect("version");
    assert!(etag.contains(&version.to_string()), "ETag {etag} names version {version}");

    let timeline = api.get(&format!("/v1/orders/{id}/timeline")).await.ok(StatusCode::OK);
    let events = timeline["events"].as_array().expect("events");
    // The notifier may have recorded a message since the GET: compare the timeline with itself.
    assert!(events.len() as u64 >= version);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["version"].as_u64(), Some(i as u64 + 1), "one event per version");
    }

    let listed = api.get("/v1/orders?status=encerrada").await.ok(StatusCode::OK);
    assert!(list_ids(&listed).contains(&id), "the closed order is listed: {listed}");
    let history = api.get("/v1/customers/52998224725/orders").await.ok(StatusCode::OK);
    assert!(list_ids(&history).contains(&id), "the customer's history has the order: {history}");

    // A final status takes no step.
    api.step(&id, "notes", json!({"text": "Depois de encerrada"})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
}

/// A shop that drops the validation step: finished orders go straight to payment. The flow is published as a
/// new version; orders opened before stay on the old one.
#[tokio::test]
async fn a_shop_flow_without_validation_published_with_put_flow() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-b", "representante"));

    let before = rep.open_example().await;

    let current = rep.get("/v1/flow").await.ok(StatusCode::OK);
    assert_eq!(current["version"], 1);
    let mut def = current.clone();
    def.as_object_mut().unwrap().remove("version");
    def["statuses"].as_array_mut().unwrap().retain(|s| s["key"] != "em_validacao");
    let transitions = def["transitions"].as_array_mut().unwrap();
    transitions.retain(|t| t["from"] != "em_validacao" && t["to"] != "em_validacao");
    transitions.push(json!({"from": "finalizada", "to": "aguardando_pagamento", "action": "request_payment",
                            "roles": ["representante", "atendente", "financeiro"], "guards": []}));

    // Only the representante edits the flow.
    let atendente = rep.with_token(&local.token("oficina-b", "atendente"));
    atendente.put("/v1/flow", def.clone()).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);

    let published = rep.put("/v1/flow", def).await.ok(StatusCode::OK);
    assert_eq!(published["version"], 2);
    let versions = rep.get("/v1/flow/versions").await.ok(StatusCode::OK);
    let numbers: Vec<u64> =
        versions["items"].as_array().expect("items").iter().filter_map(|f| f["version"].as_u64()).collect();
    assert_eq!(numbers, [1, 2], "the default flow and the published one: {versions}");

    let id = rep.open_example().await;
    assert_eq!(rep.order(&id).await["flow_version"], 2);
    walk_to(&rep, &id, "finalizada").await;
    rep.step(&id, "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        .await
        .problem(StatusCode::CONFLICT, NOT_ALLOWED);
    assert_eq!(rep.step_ok(&id, "payment/request", json!({})).await["status"], "aguardando_pagamento");
    rep.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    rep.step_ok(&id, "release", json!({})).await;
    assert_eq!(rep.step_ok(&id, "close", json!({})).await["status"], "encerrada");

    // The order opened before keeps the default flow: it still needs the validation step.
    assert_eq!(rep.order(&before).await["flow_version"], 1);
    walk_to(&rep, &before, "finalizada").await;
    rep.step(&before, "payment/request", json!({})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
    let validated = rep
        .step_ok(
            &before,
            "validation",
            json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}),
        )
        .await;
    assert_eq!(validated["status"], "em_validacao");

    // A flow that cannot close from some status is refused, naming it.
    let mut broken = rep.get("/v1/flow").await.ok(StatusCode::OK);
    broken.as_object_mut().unwrap().remove("version");
    broken["statuses"].as_array_mut().unwrap().push(json!({"key": "limbo", "label": "Limbo", "kind": "custom"}));
    broken["transitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "aberta", "to": "limbo", "action": "move", "roles": ["representante"], "guards": []}));
    let refused = rep.put("/v1/flow", broken).await.problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-flow");
    assert!(refused.to_string().contains("limbo"), "the refusal names the status: {refused}");
}

/// A custom "Diagnóstico" status entered and left with `move`.
#[tokio::test]
async fn a_custom_status_is_entered_and_left_with_move() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-c", "representante"));

    let mut def = rep.get("/v1/flow").await.ok(StatusCode::OK);
    def.as_object_mut().unwrap().remove("version");
    def["statuses"].as_array_mut().unwrap().push(
        json!({"key": "diagnostico", "label": "Diagnóstico", "kind": "custom", "notify": true, "channels": ["email"]}),
    );
    let transitions = def["transitions"].as_array_mut().unwrap();
    transitions
        .push(json!({"from": "aberta", "to": "diagnostico", "action": "move", "roles": ["representante", "tecnico"]}));
    transitions
        .push(json!({"from": "diagnostico", "to": "aberta", "action": "move", "roles": ["representante", "tecnico"]}));
    transitions.push(json!({"from": "diagnostico", "to": "cancelada", "action": "cancel", "roles": ["representante"]}));
    rep.put("/v1/flow", def).await.ok(StatusCode::OK);

    let id = rep.open_example().await;
    let tecnico = rep.with_token(&local.token("oficina-c", "tecnico"));
    assert_eq!(tecnico.step_ok(&id, "move", json!({"to": "diagnostico"})).await["status"], "diagnostico");
    // Steps of the default vocabulary do not apply in the custom status; the refusal names the status.
    let refused = tecnico.step(&id, "start", json!({})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
    assert_eq!(refused["status_key"], "diagnostico");
    // Roles come from the flow: atendente may not move.
    let atendente = rep.with_token(&local.token("oficina-c", "atendente"));
    atendente.step(&id, "move", json!({"to": "aberta"})).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);
    // An unknown target is refused.
    tecnico
        .step(&id, "move", json!({"to": "nao_existe"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/unknown-status");
    assert_eq!(tecnico.step_ok(&id, "move", json!({"to": "aberta"})).await["status"], "aberta");
    assert_eq!(rep.step_ok(&id, "quote/send", json!({})).await["status"], "aguardando_aprovacao");
    let listed = rep.get("/v1/orders?status=diagnostico").await.ok(StatusCode::OK);
    assert!(list_ids(&listed).is_empty(), "nothing is left in diagnostico: {listed}");
}

/// The customer asks for adjustments: the order goes back to aberta, a new revision is made and sent, and the
/// approval applies to the new total.
#[tokio::test]
async fn adjustments_make_a_new_quote_revision() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-d", "atendente"));
    let id = api.open_example().await;
    api.step_ok(&id, "quote/send", json!({})).await;
    let adjusted = api
        .step_ok(&id, "quote/decision", json!({"decision": "adjust", "comment": "Sem o diagnóstico, por favor"}))
        .await;
    assert_eq!(adjusted["status"], "aberta");

    let revised = api
        .put(
            &format!("/v1/orders/{id}/quote"),
            json!({"items": [{"kind": "part", "code": "P-001", "description": "Fonte 65W", "ncm": "85044010",
                              "quantity": "1", "unit_price": "149.90"},
                             {"kind": "labor", "code": "S-001", "description": "Reparo", "quantity": "1",
                              "unit_price": "80.00"}]}),
        )
        .await
        .ok(StatusCode::OK);
    assert_eq!(revised["quote"]["revision"], 2);
    assert_eq!(revised["quote"]["total"], "229.90");
    assert_eq!(revised["status"], "aberta");

    api.step_ok(&id, "quote/send", json!({})).await;
    let approved = api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await;
    assert_eq!(approved["status"], "aprovada");
    assert_eq!(approved["quote"]["revision"], 2);
    assert_eq!(approved["quote"]["total"], "229.90");

    // A new revision is no longer possible once approved.
    api.put(
        &format!("/v1/orders/{id}/quote"),
        json!({"items": [{"kind": "labor", "description": "X", "quantity": "1", "unit_price": "1.00"}]}),
    )
    .await
    .problem(StatusCode::CONFLICT, NOT_ALLOWED);
}

/// Extra items found at validation need the customer's approval: a supplementary quote is sent, payment waits
/// for it, and once approved the order goes back to execution with the new amount due.
#[tokio::test]
async fn extra_items_found_at_validation_go_back_for_approval() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-e", "representante"));
    let id = api.open_example().await;
    walk_to(&api, &id, "finalizada").await;

    let validated = api
        .step_ok(
            &id,
            "validation",
            json!({"checklist": [{"item": "Equipamento liga", "ok": true}],
                   "extra_items": [{"kind": "part", "code": "P-002", "description": "Bateria", "ncm": "85076000",
                                    "quantity": "1", "unit_price": "350.00"}]}),
        )
        .await;
    // The extra items make a supplementary quote revision, sent to the customer at once.
    assert_eq!(validated["status"], "aguardando_aprovacao");
    assert_eq!(validated["quote"]["revision"], 2);
    assert_eq!(validated["quote"]["supplementary"], true);
    assert_eq!(validated["quote"]["total"], "350.00");
    assert_eq!(validated["amount_due"], "269.90", "extra items are not due before the customer approves them");
    let refused = api.step(&id, "payment/request", json!({})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
    assert_eq!(refused["status_key"], "aguardando_aprovacao");

    let approved = api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await;
    assert_eq!(approved["status"], "em_execucao", "an approved supplementary quote goes back to execution");
    assert_eq!(approved["amount_due"], "619.90");

    api.step_ok(&id, "finish", json!({"tests_performed": "Bateria nova segura carga"})).await;
    api.step_ok(&id, "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        .await;
    assert_eq!(api.step_ok(&id, "payment/request", json!({})).await["status"], "aguardando_pagamento");
    api.step_ok(&id, "payments", json!({"amount": "619.90", "method": "credit"})).await;
    assert_eq!(api.step_ok(&id, "release", json!({})).await["status"], "liberada");
}

/// A deposit once approved, the rest in two payments of other methods; release waits for the full amount.
#[tokio::test]
async fn partial_payments_and_release_when_paid_in_full() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-f", "representante"));
    let fin = rep.with_token(&local.token("oficina-f", "financeiro"));
    let id = rep.open_example().await;

    fin.step(&id, "payments", json!({"amount": "50.00", "method": "pix"}))
        .await
        .problem(StatusCode::CONFLICT, NOT_ALLOWED);
    walk_to(&rep, &id, "aprovada").await;
    let deposit = fin.step_ok(&id, "payments", json!({"amount": "100.00", "method": "pix"})).await;
    assert_eq!(deposit["status"], "aprovada");

    walk_to(&rep, &id, "aguardando_pagamento").await;
    let refused = fin.step(&id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
    assert_eq!(refused["guard"], "paid_in_full");

    // A retried payment with the same Idempotency-Key is recorded once.
    let body = json!({"amount": "100.00", "method": "cash"}).to_string().into_bytes();
    let path = format!("/v1/orders/{id}/payments");
    let first = fin.send(reqwest::Method::POST, &path, Some(body.clone()), &[("Idempotency-Key", "pay-2")]).await;
    let first = first.ok(StatusCode::OK);
    let again = fin.send(reqwest::Method::POST, &path, Some(body), &[("Idempotency-Key", "pay-2")]).await;
    assert_eq!(again.ok(StatusCode::OK), first, "the replay is the saved response");

    fin.step(&id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
    fin.step_ok(&id, "payments", json!({"amount": "69.90", "method": "debit"})).await;
    let order = fin.order(&id).await;
    assert_eq!(order["payments"].as_array().map(Vec::len), Some(3), "three payments: {order}");
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");
}
