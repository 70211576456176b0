//! Bad input: a clear 4xx application/problem+json naming the field, and nothing stored.

use serde_json::{Value, json};

use crate::support::*;

/// Number of orders in `aberta` (nothing stored by a refused opening).
async fn open_orders(api: &Api) -> usize {
    let r =
        api.send(Call::get("/v1/orders").query("status", "aberta").query("limit", "100").by(&Who::staff(SHOP))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["items"].as_array().unwrap().len()
}

#[tokio::test]
async fn invalid_openings_name_the_field_and_store_nothing() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    api.open_example(&staff).await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            order_with(|v| v["customer"]["document"] = "529.982.247-24".into()),
            422,
            "invalid-field",
            "customer.document",
        ),
        (
            order_with(|v| v["customer"]["document"] = "11.222.333/0001-82".into()),
            422,
            "invalid-field",
            "customer.document",
        ),
        (order_with(|v| v["customer"]["document"] = "123".into()), 422, "invalid-field", "customer.document"),
        (order_with(|v| v["customer"]["email"] = "maria@".into()), 422, "invalid-field", "customer.email"),
        (order_with(|v| v["customer"]["phone"] = "12".into()), 422, "invalid-field", "customer.phone"),
        (order_with(|v| v["customer"]["address"]["uf"] = "XX".into()), 422, "invalid-field", "customer.address.uf"),
        (order_with(|v| v["customer"]["address"]["zip"] = "0130".into()), 422, "invalid-field", "customer.address.zip"),
        (order_with(|v| v["customer"]["name"] = "   ".into()), 422, "invalid-field", "customer.name"),
        (order_with(|v| v["customer"]["name"] = "".into()), 422, "invalid-field", "customer.name"),
        (
            order_with(|v| {
                v["customer"].as_object_mut().unwrap().remove("name");
            }),
            422,
            "invalid-field",
            "customer.name",
        ),
        (order_with(|v| v["items"][0]["quantity"] = "0".into()), 422, "invalid-field", "items[0].quantity"),
        (order_with(|v| v["items"][1]["quantity"] = "-1".into()), 422, "invalid-field", "items[1].quantity"),
        (order_with(|v| v["items"][1]["unit_price"] = "-120.00".into()), 422, "invalid-field", "items[1].unit_price"),
        (order_with(|v| v["items"][1]["unit_price"] = "120.001".into()), 422, "invalid-field", "items[1].unit_price"),
        (order_with(|v| v["items"][0]["unit_price"] = 149.9.into()), 422, "invalid-field", "items[0].unit_price"),
        (order_with(|v| v["items"][0]["kind"] = "gift".into()), 422, "invalid-field", "items[0].kind"),
        (
            order_with(|v| v["items"][1]["discount"] = serde_json::json!({"type": "value", "value": "120.01"})),
            422,
            "invalid-field",
            "items[1].discount",
        ),
        (
            order_with(|v| v["items"][1]["discount"] = serde_json::json!({"type": "percent", "percent": "100.5"})),
            422,
            "invalid-field",
            "items[1].discount",
        ),
        (
            order_with(|v| v["discount"] = serde_json::json!({"type": "value", "value": "269.91"})),
            422,
            "invalid-field",
            "discount",
        ),
        (
            order_with(|v| {
                v["items"][0].as_object_mut().unwrap().remove("ncm");
            }),
            422,
            "invalid-field",
            "items[0].ncm",
        ),
        (order_with(|v| v["due_date"] = "10/12/2026".into()), 422, "invalid-field", "due_date"),
        (order_with(|v| v["due_date"] = "2026-01-10".into()), 422, "invalid-field", "due_date"),
        (order_with(|v| v["equipment"]["colour"] = "preto".into()), 422, "unknown-field", "equipment.colour"),
        (order_with(|v| v["priority"] = "alta".into()), 422, "unknown-field", "priority"),
        (order_with(|v| v["items"][1]["discount"] = "1.00".into()), 422, "invalid-field", "items[1].discount"),
        (order_with(|v| v["items"][1]["rebate"] = "1.00".into()), 422, "unknown-field", "items[1].rebate"),
    ];
    for (body, status, kind, field) in cases {
        let r = api.send(Call::post("/v1/orders", &body).by(&staff)).await;
        let p = r.problem_at(status, kind, field);
        assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()), "{p}");
    }
    assert_eq!(open_orders(&api).await, 1, "no refused opening was stored");
    // The next order still gets number 2: refused input burns no number.
    let r = api.open(&staff, &example_order()).await;
    assert_eq!(r.json()["number"], 2);
}

#[tokio::test]
async fn malformed_bodies() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    for body in ["{", "{\"customer\": }", "not json", "{} trailing"] {
        let r = api.send(Call::new("POST", "/v1/orders").raw_body(body).by(&staff)).await;
        r.problem(400, "malformed-json");
    }
    let r = api.send(Call::new("POST", "/v1/orders").raw_body("[1, 2]").by(&staff)).await;
    r.problem(422, "invalid-field");
    let r = api
        .send(
            Call::new("POST", "/v1/orders").raw_body("customer=maria").header("content-type", "text/plain").by(&staff),
        )
        .await;
    r.problem_at(415, "unsupported-media-type", "Content-Type");
    // Over 1 MiB.
    let big = json!({"customer": {"name": "x".repeat(1024 * 1024)}});
    let r = api.send(Call::post("/v1/orders", &big).by(&staff)).await;
    r.problem(413, "payload-too-large");
    assert_eq!(open_orders(&api).await, 0);
}

#[tokio::test]
async fn refused_steps_leave_the_version_alone() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");

    // Not allowed from the current status: 409 naming the status.
    let r = api.send(Call::post(&format!("{base}/start"), &json!({})).by(&staff)).await;
    let p = r.problem(409, "not-allowed-in-status");
    assert_eq!(p["status_key"], "aberta");
    assert_eq!(p["action"], "start");
    let r = api.send(Call::post(&format!("{base}/release"), &json!({})).by(&staff)).await;
    assert_eq!(r.problem(409, "not-allowed-in-status")["status_key"], "aberta");

    let cases: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "PUT",
            "quote",
            json!({"items": [{"kind": "labor", "description": "x", "quantity": "0", "unit_price": "1"}]}),
            "invalid-field",
            "items[0].quantity",
        ),
        (
            "PUT",
            "quote",
            json!({"items": [{"kind": "labor", "description": "x", "quantity": "1", "unit_price": "-1"}]}),
            "invalid-field",
            "items[0].unit_price",
        ),
        (
            "PUT",
            "quote",
            json!({"items": [{"kind": "labor", "description": "x", "quantity": "1.5", "unit_price": "9.999"}]}),
            "invalid-field",
            "items[0].unit_price",
        ),
        ("PUT", "quote", json!({"items": []}), "invalid-field", "items"),
        (
            "PUT",
            "quote",
            json!({"items": [{"kind": "labor", "description": "  ", "quantity": "1", "unit_price": "1"}]}),
            "invalid-field",
            "items[0].description",
        ),
        ("POST", "quote/send", json!({"now": true}), "unknown-field", "now"),
        ("POST", "notes", json!({"text": ""}), "invalid-field", "text"),
        ("POST", "notes", json!({"visible_to_customer": true}), "invalid-field", "text"),
        ("POST", "notes", json!({"text": "ok", "visible": true}), "unknown-field", "visible"),
        ("POST", "cancel", json!({"reason": " "}), "invalid-field", "reason"),
        ("POST", "quote/decision", json!({"decision": "maybe"}), "invalid-field", "decision"),
        ("POST", "move", json!({"to": "em_diagnostico"}), "unknown-status", "to"),
        ("POST", "move", json!({"to": "Não É Chave"}), "unknown-status", "to"),
        ("POST", "payments", json!({"amount": "10.00", "method": "cheque"}), "invalid-field", "method"),
        ("POST", "payments", json!({"amount": "10.001", "method": "pix"}), "invalid-field", "amount"),
        ("POST", "material/wait", json!({"reason": "x", "expected_at": "amanhã"}), "invalid-field", "expected_at"),
        ("POST", "attachments", json!({"content_type": "application/x-msdownload"}), "invalid-field", "content_type"),
        (
            "POST",
            "validation",
            json!({"checklist": [{"item": "Liga", "ok": true}],
                   "extra_items": [{"kind": "part", "description": "Cooler", "ncm": "84145990", "quantity": "1", "unit_price": "1.999"}]}),
            "invalid-field",
            "extra_items[0].unit_price",
        ),
        (
            "POST",
            "validation",
            json!({"checklist": [{"item": "Liga", "ok": "sim"}]}),
            "invalid-field",
            "checklist[0].ok",
        ),
    ];
    for (method, path, body, kind, field) in cases {
        let r = api.send(Call::new(method, &format!("{base}/{path}")).json(&body).by(&staff)).await;
        let p = r.problem_at(422, kind, field);
        if kind == "unknown-status" {
            assert!(p["detail"].as_str().unwrap().contains(body["to"].as_str().unwrap()), "{p}");
        }
    }
    let r = api.send(Call::new("POST", &format!("{base}/notes")).raw_body("{\"text\": ").by(&staff)).await;
    r.problem(400, "malformed-json");
    let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "x".repeat(1024 * 1024)})).by(&staff)).await;
    r.problem(413, "payload-too-large");
    assert_eq!(api.version(&id).await, 1, "nothing was stored");
}

#[tokio::test]
async fn stale_if_match_is_412_and_a_fresh_one_passes() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    let r = api.send(Call::post(&format!("{base}/quote/send"), &json!({})).by(&staff).if_match("\"1\"")).await;
    assert_eq!((r.status, r.header("etag")), (200, Some("\"2\"")));
    // Another client still holds version 1.
    let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "x"})).by(&staff).if_match("\"1\"")).await;
    let p = r.problem_at(412, "precondition-failed", "If-Match");
    assert_eq!(p["current_version"], 2);
    // Weak and bare forms of the current version pass.
    let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "a"})).by(&staff).if_match("W/\"2\"")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "b"})).by(&staff).if_match("3")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A malformed If-Match is 400.
    let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "c"})).by(&staff).if_match("v4")).await;
    r.problem_at(400, "invalid-header", "If-Match");
    assert_eq!(api.version(&id).await, 4);
}

#[tokio::test]
async fn authentication_and_roles() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;

    // No claims (no token, or a token the authorizer refused): 401.
    let r = api.send(Call::get(&format!("/v1/orders/{id}"))).await;
    r.problem(401, "unauthenticated");
    let r = api.send(Call::post("/v1/orders", &example_order())).await;
    r.problem(401, "unauthenticated");
    // Claims without a tenant, or with a tenant that is no slug: 401.
    let r = api.send(Call::get(&format!("/v1/orders/{id}")).by(&Who::new("", "u", "[atendente]"))).await;
    r.problem(401, "unauthenticated");
    let r = api.send(Call::get(&format!("/v1/orders/{id}")).by(&Who::new("Oficina do Zé", "u", "[atendente]"))).await;
    r.problem(401, "unauthenticated");

    // Roles: financeiro may not open an order; nobody without an osflow role reads; tecnico may not decide.
    let r = api.send(Call::post("/v1/orders", &example_order()).by(&Who::financeiro(SHOP))).await;
    r.problem(403, "forbidden");
    let r = api.send(Call::get(&format!("/v1/orders/{id}")).by(&Who::new(SHOP, "u", "[admins]"))).await;
    r.problem(403, "forbidden");
    api.ok(&staff, "POST", &format!("/v1/orders/{id}/quote/send"), "{}").await;
    let r = api
        .send(
            Call::post(&format!("/v1/orders/{id}/quote/decision"), &json!({"decision": "approve"}))
                .by(&Who::tecnico(SHOP)),
        )
        .await;
    let p = r.problem(403, "forbidden");
    assert_eq!(p["action"], "decide_quote");
    assert_eq!(api.version(&id).await, 2);
    // Groups as a JSON array (osflow-local's tokens) work as well.
    let r = api.send(Call::get(&format!("/v1/orders/{id}")).by(&Who::new(SHOP, "u", r#"["tecnico"]"#))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn store_unavailable_is_503_with_retry_after() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    // Another process holds the database's write lock longer than the store waits.
    let blocker = rusqlite::Connection::open(api.store.path()).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let r = api.send(Call::post(&format!("/v1/orders/{id}/notes"), &json!({"text": "x"})).by(&staff)).await;
    let p = r.problem(503, "service-unavailable");
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(p["retry_after"], 2);
    let r = api.send(Call::post("/v1/orders", &example_order()).by(&staff)).await;
    r.problem(503, "service-unavailable");
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(api.version(&id).await, 1);
    let r = api.send(Call::post(&format!("/v1/orders/{id}/notes"), &json!({"text": "x"})).by(&staff)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
