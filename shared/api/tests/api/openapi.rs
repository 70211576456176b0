//! The OpenAPI document: generated from the code, served, committed at the repository root, and in step with the
//! route table. Update the committed file with `UPDATE_OPENAPI=1 cargo test -p osflow-api openapi`.

use std::collections::BTreeSet;
use std::path::PathBuf;

use osflow_api::{ROUTES, openapi_json};
use serde_json::Value;

use crate::support::*;

fn committed_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../openapi.json")
}

#[test]
fn openapi_document_is_up_to_date() {
    let generated = openapi_json();
    let path = committed_path();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, generated).expect("write openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi.json at the repository root is not the generated document; run \
         `UPDATE_OPENAPI=1 cargo test -p osflow-api openapi` and commit it"
    );
}

#[test]
fn openapi_document_covers_every_route() {
    let doc: Value = serde_json::from_str(openapi_json()).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert((method.to_uppercase(), path.clone(), op["operationId"].as_str().unwrap().to_owned()));
        }
    }
    let routes: BTreeSet<(String, String, String)> =
        ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned(), r.operation.to_owned())).collect();
    assert_eq!(documented, routes);

    // Writes document the problems, the idempotency and concurrency headers.
    let start = &doc["paths"]["/v1/orders/{id}/start"]["post"];
    for status in ["200", "400", "401", "403", "404", "409", "412", "413", "422", "503"] {
        assert!(start["responses"].get(status).is_some(), "start lacks {status}");
    }
    assert_eq!(start["responses"]["422"]["$ref"], "#/components/responses/Problem422");
    let problem422 = &doc["components"]["responses"]["Problem422"];
    assert_eq!(problem422["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");
    assert!(problem422["description"].as_str().unwrap().contains("/problems/invalid-field"));
    assert!(doc["components"]["responses"]["Problem503"]["headers"]["Retry-After"].is_object());
    let params: Vec<&str> =
        start["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(params.contains(&"Idempotency-Key") && params.contains(&"If-Match") && params.contains(&"id"));
    // Money travels as strings; the problem schema has its type and field.
    let line = &doc["components"]["schemas"]["LineInput"]["properties"];
    assert_eq!(line["unit_price"]["type"], "string");
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    assert!(problem["type"].is_object() && problem["field"].is_object());
    assert_eq!(doc["paths"]["/v1/openapi.json"]["get"]["security"], serde_json::json!([]));
}

#[tokio::test]
async fn openapi_is_served() {
    let api = Api::new();
    let r = api.send(Call::get("/v1/openapi.json").by(&Who::tecnico(SHOP))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, openapi_json());
}
