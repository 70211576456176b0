//! Routing: API Gateway's route key, a Lambda serving only its function's routes, and osflow-local's requests.

use std::collections::HashMap;

use lambda_http::http::Method;
use lambda_http::{Body, RequestExt};
use osflow_api::{Function, ROUTES, handle, match_route, route_key};
use osflow_domain::Role;
use osflow_lambda_kit::{api_gateway_context, claims_of};
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn a_function_serves_only_its_routes() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let send = Call::post(&format!("/v1/orders/{id}/quote/send"), &json!({})).by(&staff);
    api.send_to(Some(Function::Execution), send.clone()).await.problem(404, "not-found");
    assert_eq!(api.version(&id).await, 1);
    let r = api.send_to(Some(Function::Quote), send).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.send_to(Some(Function::OrdersQuery), Call::get(&format!("/v1/orders/{id}")).by(&staff)).await;
    assert_eq!(r.status, 200);

    // Every route belongs to exactly one function and reaches a handler there (never a routing 404).
    for route in ROUTES {
        let path = route.path.replace("{id}", &id).replace("{key}", "K").replace("{document}", "52998224725");
        let call = Call::new(route.method, &path).raw_body("{}").by(&staff);
        let r = api.send_to(Some(route.function), call).await;
        if r.status == 404 {
            let detail = r.json()["detail"].as_str().unwrap_or_default().to_owned();
            assert!(!detail.contains("rota"), "{}: {detail}", route_key(route));
        }
        assert_ne!(r.status, 405, "{}", route_key(route));
        assert_ne!(r.status, 500, "{}: {}", route_key(route), r.body);
    }
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let r = api.send(Call::get("/v1/nothing").by(&staff)).await;
    r.problem(404, "not-found");
    let r = api.send(Call::new("DELETE", "/v1/flow").by(&staff)).await;
    r.problem(405, "method-not-allowed");
    assert_eq!(r.header("allow"), Some("GET, PUT"));
    // The OpenAPI document needs no token.
    let r = api.send(Call::get("/v1/openapi.json")).await;
    assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")));
    assert_eq!(r.json()["openapi"], "3.1.0");
}

#[tokio::test]
async fn osflow_local_requests_built_with_request_ext() {
    // osflow-local builds the request with `RequestExt` after verifying its own token; no raw path, no event.
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let path = format!("/v1/orders/{id}/notes");
    let (route, params) = match_route("POST", &path).unwrap();
    let claims = claims_of(SHOP, "local-user", &[Role::Tecnico]);
    let ctx = api_gateway_context(&route_key(route), Method::POST, &path, Some("127.0.0.1"), Some(claims));
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("http://127.0.0.1:3000{path}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"text": "via osflow-local"}"#))
        .unwrap()
        .with_path_parameters(params.into_iter().collect::<HashMap<_, _>>())
        .with_request_context(ctx);
    let response = handle(&api.app, None, req).await;
    assert_eq!(response.status(), 200);
    assert_eq!(api.order(&staff, &id).await["notes"][0]["text"], "via osflow-local");

    // Query parameters given as a map.
    let ctx = api_gateway_context(
        "GET /v1/orders",
        Method::GET,
        "/v1/orders",
        None,
        Some(claims_of(SHOP, "u", &[Role::Atendente])),
    );
    let req = lambda_http::http::Request::builder()
        .method("GET")
        .uri("/v1/orders?status=aberta")
        .body(Body::Empty)
        .unwrap()
        .with_query_string_parameters(HashMap::from([("status".to_owned(), "aberta".to_owned())]))
        .with_request_context(ctx);
    let response = handle(&api.app, None, req).await;
    assert_eq!(response.status(), 200);
    let Body::Text(body) = response.body() else { panic!("text body") };
    let list: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(list["items"][0]["id"], id.as_str());

    // Without a route key in the context, the path is matched.
    let mut call = Call::get(&format!("/v1/orders/{id}")).by(&staff);
    call.route_key = Some("$default".into());
    assert_eq!(api.send(call).await.status, 200);
}
