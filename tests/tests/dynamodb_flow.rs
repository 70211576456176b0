//! The default flow through the Lambda handlers wired to the DynamoDB store, on the local emulator: every
//! request goes, shaped as API Gateway shapes it, to the function that owns its route.

use lambda_http::http::StatusCode;
use osflow_api::Function;
use osflow_domain::Role;
use osflow_system_tests::{DynamoHarness, Who, gateway_request};
use serde_json::json;

use osflow_testkit::walk::reference_requests;
use osflow_testkit::{days_ahead, example_order_on_real_clock as example_order};

#[tokio::test]
async fn the_default_flow_runs_on_dynamodb_through_the_lambda_handlers() {
    let h = DynamoHarness::new().await;
    let staff = Who::with_roles("oficina-dynamo", "maria@oficina", &Role::ALL);
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
    let statuses = [
        "aguardando_aprovacao",
        "aprovada",
        "em_execucao",
        "em_execucao",
        "aguardando_material",
        "aguardando_material",
        "em_execucao",
        "finalizada",
        "em_validacao",
        "aguardando_pagamento",
        "aguardando_pagamento",
        "liberada",
        "encerrada",
    ];
    let steps = reference_requests(&days_ahead(1), &days_ahead(4));
    assert_eq!(steps.len(), statuses.len());
    let mut version = 1;
    for ((method, step, body), status) in steps.iter().zip(statuses) {
        let path = format!("/v1/orders/{id}/{step}");
        let order = h.call(who, method, &path, Some(body)).await.expect(StatusCode::OK);
        version += 1;
        assert_eq!(order["status"], status, "after {method} {step}: {order}");
        assert_eq!(order["version"], version, "one version per step: {order}");
    }
    // A closed order takes no further step; the refusal names the status.
    let note = json!({"text": "Depois de encerrada"});
    let refused = h.call(who, "POST", &format!("/v1/orders/{id}/notes"), Some(&note)).await;
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
    let other = Who::with_roles("outra-oficina", "joao@outra", &Role::ALL);
    let hidden = h.call(Some(&other), "GET", &format!("/v1/orders/{id}"), None).await;
    assert_eq!(hidden.expect(StatusCode::NOT_FOUND)["type"], "/problems/not-found");
    let probe =
        h.call(Some(&other), "POST", &format!("/v1/orders/{id}/cancel"), Some(&json!({"reason": "Sonda"}))).await;
    assert_eq!(probe.expect(StatusCode::NOT_FOUND)["type"], "/problems/not-found");

    h.drop_table().await;
}

/// A warranty return without an `Idempotency-Key`, sent twice at once and once more: one OS (its id derived
/// from the first order and the lines, created only when free), linked once on the first order.
#[tokio::test]
async fn a_warranty_return_without_a_key_opens_one_os_on_dynamodb() {
    let h = DynamoHarness::new().await;
    let staff = Who::with_roles("oficina-garantia", "maria@oficina", &Role::ALL);
    let who = Some(&staff);
    let opened = h.call(who, "POST", "/v1/orders", Some(&example_order())).await.expect(StatusCode::CREATED);
    let id = opened["id"].as_str().expect("id").to_owned();
    let steps = reference_requests(&days_ahead(1), &days_ahead(4));
    // Up to the release (the last step closes).
    for (method, step, body) in &steps[..steps.len() - 1] {
        h.call(who, method, &format!("/v1/orders/{id}/{step}"), Some(body)).await.expect(StatusCode::OK);
    }
    let path = format!("/v1/orders/{id}/warranty-return");
    let body = json!({"lines": [{"revision": 1, "line": 1}], "reported_problem": "A fonte parou de novo"});
    let (a, b) = tokio::join!(h.call(who, "POST", &path, Some(&body)), h.call(who, "POST", &path, Some(&body)));
    let (a, b) = (a.expect(StatusCode::CREATED), b.expect(StatusCode::CREATED));
    assert_eq!(a["id"], b["id"]);
    let again = h.call(who, "POST", &path, Some(&body)).await.expect(StatusCode::CREATED);
    assert_eq!(again["id"], a["id"]);
    let first = h.call(who, "GET", &format!("/v1/orders/{id}"), None).await.expect(StatusCode::OK);
    assert_eq!(first["warranty_returns"], json!([{"id": a["id"], "number": a["number"]}]));
    let open = h.call(who, "GET", "/v1/orders?status=aberta", None).await.expect(StatusCode::OK);
    assert_eq!(open["items"].as_array().map(Vec::len), Some(1), "one warranty return: {open}");
    h.drop_table().await;
}

/// A Lambda function serves only its own routes: a request for another function's route is a 404, whatever
/// the route, and a request without authorizer claims is a 401.
#[tokio::test]
async fn each_function_serves_only_its_routes() {
    let h = DynamoHarness::new().await;
    let staff = Who::with_roles("oficina-rotas", "ana@oficina", &Role::ALL);
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
