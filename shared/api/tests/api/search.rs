//! What a front end needs beyond the steps: the actions allowed to the caller on an order, and the search of
//! the company's orders with filters and cursor paging.

use serde_json::{Value, json};

use crate::support::*;

fn actions(order: &Value) -> Vec<(String, Value, Value)> {
    order["allowed_actions"]
        .as_array()
        .expect("allowed_actions on GET /v1/orders/{id}")
        .iter()
        .map(|a| (a["action"].as_str().unwrap().to_owned(), a["to"].clone(), a["blocked_by"].clone()))
        .collect()
}

fn names(order: &Value) -> Vec<String> {
    actions(order).into_iter().map(|(a, _, _)| a).collect()
}

#[tokio::test]
async fn the_order_lists_the_actions_its_flow_allows_the_caller_now() {
    let api = Api::new();
    let atendente = Who::atendente(SHOP);
    let tecnico = Who::tecnico(SHOP);
    let financeiro = Who::financeiro(SHOP);
    let id = api.open_example(&atendente).await;
    let order = api.order(&atendente, &id).await;
    assert_eq!(names(&order), ["revise_quote", "send_quote", "cancel", "add_note", "add_attachment"]);
    let send = actions(&order).into_iter().find(|(a, _, _)| a == "send_quote").unwrap();
    assert_eq!(send.1, "aguardando_aprovacao");
    assert_eq!(order["allowed_actions"][1]["to_label"], "Aguardando Aprovação");
    assert_eq!(names(&api.order(&financeiro, &id).await), ["add_note", "add_attachment"]);
    // A step's answer carries no allowed actions (it is saved for replays, whoever replays it).
    let sent = api.ok(&atendente, "POST", &format!("/v1/orders/{id}/quote/send"), "{}").await;
    assert!(sent.get("allowed_actions").is_none(), "{sent}");
    api.ok(&atendente, "POST", &format!("/v1/orders/{id}/quote/decision"), r#"{"decision":"approve"}"#).await;
    // Approved: the financeiro may register a payment, the técnico may start but not take payments.
    assert!(names(&api.order(&financeiro, &id).await).contains(&"register_payment".to_owned()));
    let for_tecnico = names(&api.order(&tecnico, &id).await);
    assert!(for_tecnico.contains(&"start".to_owned()) && !for_tecnico.contains(&"register_payment".to_owned()));
    for step in ["start", "finish"] {
        api.ok(&tecnico, "POST", &format!("/v1/orders/{id}/{step}"), "{}").await;
    }
    let body = json!({"checklist": [{"item": "Liga", "ok": false}]}).to_string();
    api.ok(&atendente, "POST", &format!("/v1/orders/{id}/validation"), &body).await;
    // In validation with a failed checklist item: the payment request is there, blocked, with its guard named.
    let request = actions(&api.order(&atendente, &id).await).into_iter().find(|(a, _, _)| a == "request_payment");
    let (_, to, blocked) = request.expect("request_payment listed");
    assert_eq!((to, blocked), (json!("aguardando_pagamento"), json!("checklist_complete")));
    // The guard's problem names the same guard when the step is tried.
    let r = api.send(Call::post(&format!("/v1/orders/{id}/payment/request"), &json!({})).by(&atendente)).await;
    assert!(r.problem(409, "guard-failed")["detail"].as_str().unwrap().contains("checklist"), "{}", r.body);
}

#[tokio::test]
async fn the_search_filters_and_pages_over_every_open_status() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let tec = osflow_domain::values::UserId::parse("tec-1").unwrap();
    let shop = osflow_domain::values::TenantId::parse(SHOP).unwrap();
    api.users.register(&shop, &tec, &[osflow_domain::Role::Tecnico]).unwrap();
    let mut ids = vec![];
    for i in 0..7 {
        let body = order_with(|v| {
            v["customer"]["name"] = json!(format!("Cliente {i} {}", if i % 2 == 0 { "Silva" } else { "Souza" }));
            v["equipment"]["serial"] = json!(format!("SN-{i:04}"));
            v["service"]["type"] = json!(if i < 3 { "instalação" } else { "reparo" });
            if i == 5 {
                v["technician"] = json!("tec-1");
            }
        });
        ids.push(api.open(&staff, &body).await.json()["id"].as_str().unwrap().to_owned());
        api.clock.advance(chrono::Duration::minutes(1));
    }
    // Two move on: the search covers every open status in flow order.
    for id in &ids[..2] {
        api.ok(&staff, "POST", &format!("/v1/orders/{id}/quote/send"), "{}").await;
    }
    let search = |query: Vec<(&'static str, String)>| {
        let api = &api;
        let staff = staff.clone();
        async move {
            let mut call = Call::get("/v1/orders").query("limit", "2").by(&staff);
            for (k, v) in &query {
                call = call.query(k, v);
            }
            api.all_pages(call).await.iter().map(|item| item["number"].as_u64().unwrap()).collect::<Vec<_>>()
        }
    };
    // Every open order: "aberta" (oldest change first) before "aguardando_aprovacao".
    assert_eq!(search(vec![]).await, [3, 4, 5, 6, 7, 1, 2]);
    assert_eq!(search(vec![("service_type", "Instalação".into())]).await, [3, 1, 2]);
    assert_eq!(search(vec![("q", "silva".into())]).await, [3, 5, 7, 1]);
    assert_eq!(search(vec![("q", "sn-0004".into())]).await, [5]);
    assert_eq!(search(vec![("q", "7".into())]).await, [7]);
    assert_eq!(search(vec![("q", "0006".into())]).await, [6, 7], "OS 6, and OS 7 by its serial");
    assert_eq!(search(vec![("technician", "tec-1".into())]).await, [6]);
    assert_eq!(search(vec![("status", "aguardando_aprovacao".into()), ("q", "souza".into())]).await, [2]);
    // The customer's document: the customer's whole history (every status), newest first.
    assert_eq!(search(vec![("q", "529.982.247-25".into())]).await, [7, 6, 5, 4, 3, 2, 1]);
    // `mine`: the técnico's own orders.
    let r = api.send(Call::get("/v1/orders").query("mine", "true").by(&Who::new(SHOP, "tec-1", "[tecnico]"))).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    // Overdue: past the SLA of "aberta" (24 h) — all five still there after two days; none before.
    assert!(search(vec![("overdue", "true".into())]).await.is_empty());
    api.clock.advance(chrono::Duration::hours(48));
    assert_eq!(search(vec![("overdue", "true".into())]).await, [3, 4, 5, 6, 7]);
    // Another company sees none of them.
    let r = api.send(Call::get("/v1/orders").query("q", "silva").by(&Who::staff(OTHER_SHOP))).await;
    assert_eq!(r.json()["items"], json!([]));
    let r = api.send(Call::get("/v1/orders").query("q", "x").query("cursor", "s99:").by(&staff)).await;
    r.problem_at(400, "invalid-cursor", "cursor");
}
