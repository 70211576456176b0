//! What a review and a fuzzer found: text that cannot travel, idempotency keys that leak between callers, role
//! checks after body validation, bodiless PUTs, empty headers.

use serde_json::{Value, json};

use crate::support::*;

/// Free text with a character SQS refuses, or a Unicode non-character, is refused where it comes in, naming the
/// field: it would otherwise stall the outbox.
#[tokio::test]
async fn untransportable_text_is_refused_naming_the_field() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let rep = Who::representante(SHOP);
    let cases: Vec<(Value, &str)> = vec![
        (order_with(|v| v["customer"]["name"] = "Maria\u{FFFF}".into()), "customer.name"),
        (order_with(|v| v["customer"]["address"]["street"] = "Rua \u{FFFE}".into()), "customer.address.street"),
        (order_with(|v| v["equipment"]["brand"] = "Dell\u{FDD0}".into()), "equipment.brand"),
        (order_with(|v| v["items"][1]["description"] = "Reparo\u{1FFFF}".into()), "items[1].description"),
        (order_with(|v| v["service"]["reported_problem"] = "Não\u{0001}liga".into()), "service.reported_problem"),
    ];
    for (body, field) in cases {
        let r = api.send(Call::post("/v1/orders", &body).by(&staff)).await;
        r.problem_at(422, "invalid-field", field);
    }
    let id = api.open_example(&staff).await;
    let r = api.send(Call::post(&format!("/v1/orders/{id}/notes"), &json!({"text": "ok \u{FFFF}"})).by(&staff)).await;
    r.problem_at(422, "invalid-field", "text");
    let r = api
        .send(
            Call::post(
                &format!("/v1/orders/{id}/material/wait"),
                &json!({"reason": "falta", "parts": ["P-1", "P\u{FDEF}"], "expected_at": "2026-12-30"}),
            )
            .by(&staff),
        )
        .await;
    r.problem_at(422, "invalid-field", "parts[1]");
    assert_eq!(api.version(&id).await, 1, "nothing stored");
    let r = api
        .send(
            Call::new("PUT", "/v1/settings/notifications").json(&json!({"company_name": "Oficina \u{FFFE}"})).by(&rep),
        )
        .await;
    r.problem_at(422, "invalid-field", "company_name");
    // A JSON escape is the same character.
    let r = api
        .send(Call::new("POST", &format!("/v1/orders/{id}/notes")).raw_body(r#"{"text": "a\uffffb"}"#).by(&staff))
        .await;
    r.problem_at(422, "invalid-field", "text");
}

/// Client keys are scoped per user and route: another user's key, or an internal key (`portal:…`), never
/// replays someone else's saved response.
#[tokio::test]
async fn idempotency_keys_are_scoped_per_user_and_route() {
    let api = Api::new();
    let ana = Who::staff(SHOP);
    let bia = Who::new(SHOP, "bia", "[atendente tecnico financeiro]");
    let first = api.send(Call::post("/v1/orders", &example_order()).by(&ana).idem("k-1")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    // Another user with the same key and the same request opens their own order.
    let second = api.send(Call::post("/v1/orders", &example_order()).by(&bia).idem("k-1")).await;
    assert_eq!((second.status, second.header("idempotent-replayed")), (201, None), "{}", second.body);
    assert_ne!(second.json()["id"], first.json()["id"]);

    // The customer's decision is saved under `portal:<order>:<revision>`, notifications under `notify:…`: a
    // client's key never lands in (or reads from) that namespace.
    let id = api.open_example(&ana).await;
    let internal = format!("portal:{id}:1");
    let r =
        api.send(Call::post(&format!("/v1/orders/{id}/notes"), &json!({"text": "x"})).by(&ana).idem(&internal)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let tenant = osflow_domain::values::TenantId::parse(SHOP).unwrap();
    let now = chrono::DateTime::parse_from_rfc3339(NOW).unwrap().to_utc();
    let taken = osflow_app::IdempotencyStore::get_idempotency(&api.store, &tenant, &internal, now).await.unwrap();
    assert_eq!(taken, None, "the internal key stays free");
    // The same key on another route of the same user is another key, too.
    let r = api
        .send(Call::post(&format!("/v1/orders/{id}/cancel"), &json!({"reason": "desistiu"})).by(&ana).idem(&internal))
        .await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (200, None), "{}", r.body);
}

/// A caller without the role gets 403 before the body is read: no validation details leak.
#[tokio::test]
async fn roles_are_checked_before_the_body() {
    let api = Api::new();
    let atendente = Who::atendente(SHOP);
    let bad_flow = json!({"initial": "x", "statuses": [], "transitions": [], "surprise": 1});
    let r = api.send(Call::new("PUT", "/v1/flow").json(&bad_flow).by(&atendente)).await;
    r.problem(403, "forbidden");
    let r = api.send(Call::new("PUT", "/v1/flow").raw_body("{not json").by(&atendente)).await;
    r.problem(403, "forbidden");
    let r = api
        .send(Call::new("PUT", "/v1/settings/notifications").json(&json!({"reply_to": "nope"})).by(&atendente))
        .await;
    r.problem(403, "forbidden");
    let r = api.send(Call::new("PUT", "/v1/fiscal/emitter").json(&json!({"cnpj": "1"})).by(&atendente)).await;
    r.problem(403, "forbidden");
    let r = api.send(Call::post("/v1/reports", &json!({"from": "x"})).by(&atendente)).await;
    r.problem(403, "forbidden");
    // The reports' own 403 for a reader is unchanged; the representante still gets the 422 details.
    let rep = Who::representante(SHOP);
    let r = api.send(Call::new("PUT", "/v1/flow").json(&bad_flow).by(&rep)).await;
    r.problem_at(422, "unknown-field", "surprise");
}

/// A PUT without a body (or with an empty object) is refused and changes nothing: it never resets settings.
#[tokio::test]
async fn a_bodiless_put_resets_nothing() {
    let api = Api::new();
    let rep = Who::representante(SHOP);
    let settings = json!({"company_name": "Oficina do Zé", "webhook_url": "https://hooks.example.com/os",
                          "webhook_secret": "0123456789abcdef0123", "channels": ["email", "webhook"]});
    let r = api.send(Call::new("PUT", "/v1/settings/notifications").json(&settings).by(&rep)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for body in [None, Some(""), Some("  "), Some("{}")] {
        let mut call = Call::new("PUT", "/v1/settings/notifications").by(&rep);
        if let Some(b) = body {
            call = call.raw_body(b);
        }
        let r = api.send(call).await;
        assert!(r.status == 400 || r.status == 422, "{body:?}: {} {}", r.status, r.body);
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
    }
    let r = api.get(&rep, "/v1/settings/notifications").await;
    assert_eq!(r.json()["company_name"], "Oficina do Zé");
    assert_eq!(r.json()["webhook_url"], "https://hooks.example.com/os");
    // Every PUT and PATCH needs its body.
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    for (method, path) in [
        ("PUT", "/v1/flow".to_owned()),
        ("PUT", "/v1/fiscal/emitter".to_owned()),
        ("PUT", format!("/v1/orders/{id}/quote")),
        ("PATCH", format!("/v1/orders/{id}/material")),
    ] {
        let r = api.send(Call::new(method, &path).by(&rep)).await;
        assert!(r.status == 400 || r.status == 422, "{method} {path}: {} {}", r.status, r.body);
    }
}

/// An empty `Idempotency-Key` is refused on every write, not ignored.
#[tokio::test]
async fn an_empty_idempotency_key_is_refused_on_every_write() {
    let api = Api::new();
    let rep = Who::representante(SHOP);
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let writes: Vec<(&str, String, Value)> = vec![
        ("POST", "/v1/orders".into(), example_order()),
        ("POST", format!("/v1/orders/{id}/notes"), json!({"text": "x"})),
        ("POST", "/v1/reports".into(), json!({"from": "2026-11-01", "to": "2026-11-02"})),
        ("PUT", "/v1/settings/notifications".into(), json!({"company_name": "Oficina"})),
        ("POST", format!("/v1/orders/{id}/attachments"), json!({"content_type": "image/png"})),
    ];
    for (method, path, body) in writes {
        let who = if path.starts_with("/v1/orders") { &staff } else { &rep };
        let r = api.send(Call::new(method, &path).json(&body).by(who).idem("")).await;
        r.problem_at(400, "invalid-header", "Idempotency-Key");
    }
    assert_eq!(api.version(&id).await, 1);
}

/// An order that is full answers 413 with a clear problem before any write could fail at the store; it can
/// still be cancelled, and its timeline keeps every note.
#[tokio::test]
async fn a_full_order_answers_413_and_can_still_be_cancelled() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let rep = Who::representante(SHOP);
    let id = api.open_example(&staff).await;
    let note = json!({"text": "€".repeat(4000)});
    let mut accepted = 0;
    let refusal = loop {
        let r = api.send(Call::post(&format!("/v1/orders/{id}/notes"), &note).by(&staff)).await;
        if r.status != 200 {
            break r;
        }
        accepted += 1;
        assert!(accepted < 100, "never refused");
    };
    let p = refusal.problem(413, "order-too-large");
    assert_eq!(p["title"], "A OS atingiu o tamanho máximo");
    assert!(p["detail"].as_str().unwrap().contains("linha do tempo"), "{p}");
    let version = api.version(&id).await;
    let r =
        api.send(Call::post(&format!("/v1/orders/{id}/cancel"), &json!({"reason": "Cliente desistiu"})).by(&rep)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "cancelada");
    assert_eq!(api.version(&id).await, version + 1);
    let timeline = api.get(&staff, &format!("/v1/orders/{id}/timeline")).await.json();
    let notes = timeline["events"].as_array().unwrap().iter().filter(|e| e["type"] == "order.note_added").count();
    assert_eq!(notes, accepted);
}

/// Staff sends the customer the current link of an order again: an `order.link_resent` event (the notifier
/// sends it), for any staff role, never on a final order.
#[tokio::test]
async fn staff_resends_the_current_link() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    api.ok(&staff, "POST", &format!("/v1/orders/{id}/quote/send"), "{}").await;
    let r = api.send(Call::post(&format!("/v1/orders/{id}/link/resend"), &json!({})).by(&Who::tecnico(SHOP))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "aguardando_aprovacao", "no status change");
    let timeline = api.get(&staff, &format!("/v1/orders/{id}/timeline")).await.json();
    assert_eq!(timeline["events"].as_array().unwrap().last().unwrap()["type"], "order.link_resent");
    api.ok(&Who::representante(SHOP), "POST", &format!("/v1/orders/{id}/cancel"), r#"{"reason": "desistiu"}"#).await;
    let r = api.send(Call::post(&format!("/v1/orders/{id}/link/resend"), &json!({})).by(&staff)).await;
    r.problem(409, "not-allowed-in-status");
}

/// A step's role is checked before its body: a caller the flow does not allow for the step gets 403 whatever
/// the body holds, and only a caller it allows gets the details of a bad body. An order that is not there stays
/// 404, and a step the order's status does not allow stays 409.
#[tokio::test]
async fn a_step_checks_the_role_before_the_body() {
    let api = Api::new();
    let id = api.open_example(&Who::staff(SHOP)).await;
    let base = format!("/v1/orders/{id}");
    let bad_payment = json!({"amount": "10.00", "method": "cheque"});
    let r = api.send(Call::post(&format!("{base}/payments"), &bad_payment).by(&Who::tecnico(SHOP))).await;
    r.problem(403, "forbidden");
    let r = api
        .send(Call::new("POST", &format!("{base}/payments")).raw_body("{\"amount\": ").by(&Who::tecnico(SHOP)))
        .await;
    r.problem(403, "forbidden");
    let r = api.send(Call::post(&format!("{base}/payments"), &bad_payment).by(&Who::financeiro(SHOP))).await;
    r.problem_at(422, "invalid-field", "method");
    // A valid payment by financeiro on an order whose quote is not approved: the order's state, 409.
    let r = api
        .send(
            Call::post(&format!("{base}/payments"), &json!({"amount": "10.00", "method": "pix"}))
                .by(&Who::financeiro(SHOP)),
        )
        .await;
    r.problem(409, "not-allowed-in-status");
    // A transition of the flow: revising the quote is for representante, atendente and técnico.
    let bad_quote = json!({"items": [{"kind": "labor", "description": "x", "quantity": "0", "unit_price": "1"}]});
    let r = api.send(Call::new("PUT", &format!("{base}/quote")).json(&bad_quote).by(&Who::financeiro(SHOP))).await;
    r.problem(403, "forbidden");
    let r = api.send(Call::new("PUT", &format!("{base}/quote")).json(&bad_quote).by(&Who::tecnico(SHOP))).await;
    r.problem_at(422, "invalid-field", "items[0].quantity");
    // Staff with the role, a step the status does not allow, a valid body: still 409.
    let r = api.send(Call::post(&format!("{base}/finish"), &json!({})).by(&Who::tecnico(SHOP))).await;
    r.problem(409, "not-allowed-in-status");
    // An order that is not there is 404 for anyone.
    let missing = "/v1/orders/01890a5d-ac96-774b-bcce-b302099a8057/payments";
    let r = api.send(Call::post(missing, &bad_payment).by(&Who::tecnico(SHOP))).await;
    r.problem(404, "not-found");
    assert_eq!(api.version(&id).await, 1, "nothing stored");
}
