//! The default flow through the Lambda handlers wired to the DynamoDB store, on the local emulator: every
//! request goes, shaped as API Gateway shapes it, to the function that owns its route.

use lambda_http::http::StatusCode;
use osflow_api::Function;
use osflow_domain::Role;
use osflow_system_tests::{DynamoHarness, Who, gateway_request};
use serde_json::{Value, json};

use osflow_testkit::{days_ahead, example_order_on_real_clock as example_order};

#[tokio::test]
async fn the_default_flow_runs_on_dynamodb_through_the_lambda_handlers() {
    let h = DynamoHarness::new().await;
    let staff = Who::new("oficina-dynamo", "maria@oficina", &Role::ALL);
    let who = Some(&staff);

    // 1. Abertura
    let opened = h.call(who, "POST", "/v1/orders", Some(&example_order())).await.expect(StatusCode::CREATED);
    assert_eq!(opened["number"], 1);
    assert_eq!(opened["status"], "aberta");
    assert_eq!(opened["version"], 1);
    assert_eq!(opened["quote"]["revision"], 1);
    assert_eq!(opened["quote"]["total"], "269.90");
    let id = opened["id"].as_str().expect("id").to_owned();

    // 2–8, the reference example's requests in order, with the status each leaves the order in.
    let steps: [(&str, &str, Value, &str); 14] = [
        ("POST", "quote/send", json!({}), "aguardando_aprovacao"),
        ("POST", "quote/decision", json!({"decision": "approve"}), "aprovada"),
        ("POST", "start", json!({}), "em_execucao"),
        ("POST", "notes", json!({"text": "Placa limpa", "visible_to_customer": true}), "em_execucao"),
        (
            "POST",
            "material/wait",
            json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": days_ahead(1)}),
            "aguardando_material",
        ),
        ("PATCH", "material", json!({"expected_at": days_ahead(4)}), "aguardando_material"),
        ("POST", "material/arrived", json!({}), "em_execucao"),
        ("POST", "finish", json!({"tests_performed": "Ligou e carregou por 2 h"}), "finalizada"),
        (
            "POST",
            "validation",
            json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}),
            "em_validacao",
        ),
        ("POST", "payment/request", json!({}), "aguardando_pagamento"),
        ("POST", "payments", json!({"amount": "269.90", "method": "pix"}), "aguardando_pagamento"),
        ("POST", "release", json!({}), "liberada"),
        ("POST", "close", json!({}), "encerrada"),
        ("POST", "notes", json!({"text": "Depois de encerrada"}), "encerrada"),
    ];
    let mut version = 1;
    for (method, step, body, status) in steps.iter().take(13) {
        let path = format!("/v1/orders/{id}/{step}");
        let order = h.call(who, method, &path, Some(body)).await.expect(StatusCode::OK);
        version += 1;
        assert_eq!(order["status"], *status, "after {method} {step}: {order}");
        assert_eq!(order["version"], version, "one version per step: {order}");
    }
    // A closed order takes no further step; the refusal names the status.
    let (method, step, body, _) = &steps[13];
    let refused = h.call(who, method, &format!("/v1/orders/{id}/{step}"), Some(body)).await;
    let problem = refused.expect(StatusCode::CONFLICT);
    assert_eq!(problem["type"], "/problems/not-allowed-in-status");
    assert_eq!(problem["status_key"], "encerrada");

    // The reads, from the orders-query function.
    let reply = h.call(who, "GET", &format!("/v1/orders/{id}"), None).await;
    assert!(reply.headers.contains_key("etag"), "reads carry an ETag");
    let order = reply.expect(StatusCode::OK);
    assert_eq!(order["status"], "encerrada");
    assert_eq!(order["version"], version);
    let timeline = h.call(who, "GET", &format!("/v1/orders/{id}/timeline"), None).await.expect(StatusCode::OK);
    assert_eq!(timeline["events"].as_array().map(Vec::len), Some(version as usize), "one event per version");
    let listed = h.call(who, "GET", "/v1/orders?status=encerrada", None).await.expect(StatusCode::OK);
    assert!(listed.to_string().contains(&id), "listed by status (GSI1): {listed}");
    let history = h.call(who, "GET", "/v1/customers/52998224725/orders", None).await.expect(StatusCode::OK);
    assert!(history.to_string().contains(&id), "the customer's history (GSI2): {history}");

    // Another company's caller sees nothing.
    let other = Who::new("outra-oficina", "joao@outra", &Role::ALL);
    let hidden = h.call(Some(&other), "GET", &format!("/v1/orders/{id}"), None).await;
    assert_eq!(hidden.expect(StatusCode::NOT_FOUND)["type"], "/problems/not-found");
    let probe =
        h.call(Some(&other), "POST", &format!("/v1/orders/{id}/cancel"), Some(&json!({"reason": "Sonda"}))).await;
    assert_eq!(probe.expect(StatusCode::NOT_FOUND)["type"], "/problems/not-found");

    h.drop_table().await;
}

/// A Lambda function serves only its own routes: a request for another function's route is a 404, whatever
/// the route, and a request without authorizer claims is a 401.
#[tokio::test]
async fn each_function_serves_only_its_routes() {
    let h = DynamoHarness::new().await;
    let staff = Who::new("oficina-rotas", "ana@oficina", &Role::ALL);
    let (owner, req) = gateway_request(Some(&staff), "POST", "/v1/orders", Some(&example_order()), &[]);
    assert_eq!(owner, Function::OpenOrder);
    let id = h.call_function(owner, req).await.expect(StatusCode::CREATED)["id"].as_str().expect("id").to_owned();

    for function in Function::ALL.into_iter().filter(|f| *f != Function::OrdersQuery) {
        let (_, req) = gateway_request(Some(&staff), "GET", &format!("/v1/orders/{id}"), None, &[]);
        let reply = h.call_function(function, req).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{} must not serve GET /v1/orders/{{id}}", function.package());
    }
    let (owner, req) = gateway_request(Some(&staff), "GET", &format!("/v1/orders/{id}"), None, &[]);
    assert_eq!(owner, Function::OrdersQuery);
    assert_eq!(h.call_function(owner, req).await.expect(StatusCode::OK)["id"], id.as_str());

    let (owner, req) = gateway_request(None, "GET", &format!("/v1/orders/{id}"), None, &[]);
    assert_eq!(h.call_function(owner, req).await.status, StatusCode::UNAUTHORIZED);

    h.drop_table().await;
}

/// The drift test of infra/template.yaml (no emulator needed), in this test binary.
mod template;

/// The requests and write units of a step on DynamoDB.
mod cost;
