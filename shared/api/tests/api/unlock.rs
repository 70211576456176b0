//! The equipment's unlock code: left at intake, kept sealed, answered only by its own read (tecnico,
//! representante; each read on the timeline), replaced or removed while open, deleted when the order is cancelled.

use serde_json::{Value, json};

use crate::support::*;

const CODE: &str = "SENHA-7788-DESBLOQUEIO";
const NEW_CODE: &str = "PADRAO-L-0742";

/// Every answer about the order a staff member can read, with its path.
async fn answers(api: &Api, who: &Who, id: &str) -> String {
    let mut all = String::new();
    for path in [
        format!("/v1/orders/{id}"),
        format!("/v1/orders/{id}/timeline"),
        format!("/v1/orders/{id}/notifications"),
        "/v1/orders?status=aberta".to_owned(),
        "/v1/orders?q=maria".to_owned(),
        "/v1/customers/52998224725".to_owned(),
        "/v1/customers/52998224725/export".to_owned(),
    ] {
        let r = api.get(who, &path).await;
        all.push_str(&format!("\n{path} {}\t{}", r.status, r.body));
    }
    all
}

fn event_types(timeline: &Value) -> Vec<String> {
    timeline["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_unlock_code_is_answered_only_by_its_read_and_deleted_at_cancel() {
    let api = Api::new();
    let rep = Who::representante(SHOP);
    let atendente = Who::atendente(SHOP);
    let tecnico = Who::tecnico(SHOP);

    // Bad input names the field and stores nothing.
    let bad = order_with(|o| o["intake"] = json!({"unlock_code": "12\u{0007}34"}));
    api.send(Call::post("/v1/orders", &bad).by(&atendente)).await.problem_at(
        422,
        "invalid-field",
        "intake.unlock_code",
    );
    let r = api.send(Call::get("/v1/orders").query("status", "aberta").by(&rep)).await;
    assert_eq!(r.json()["items"], json!([]), "nothing stored");

    let body = order_with(|o| o["intake"] = json!({"accessories": ["Carregador"], "unlock_code": CODE}));
    let opened = api.send(Call::post("/v1/orders", &body).by(&atendente)).await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    assert!(!opened.body.contains(CODE), "{}", opened.body);
    let order = opened.json();
    assert_eq!(order["intake"]["unlock_code"], true);
    let id = order["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/orders/{id}/unlock-code");

    // Only tecnico and representante read it; each read is on the timeline, without the code.
    api.get(&atendente, &path).await.problem(403, "forbidden");
    let read = api.get(&tecnico, &path).await;
    assert_eq!((read.status, read.json()), (200, json!({"unlock_code": CODE})));
    assert_eq!(read.header("cache-control"), Some("no-store"));
    assert_eq!(api.get(&rep, &path).await.json()["unlock_code"], CODE);
    let timeline = api.get(&rep, &format!("/v1/orders/{id}/timeline")).await.json();
    assert_eq!(event_types(&timeline).iter().filter(|t| *t == "order.unlock_code_read").count(), 2);
    let everything = answers(&api, &rep, &id).await;
    assert!(everything.contains("order.unlock_code_read"), "the check sees the timeline");
    assert!(!everything.contains(CODE), "the code in an answer: {everything}");

    // Replaced while open (not by financeiro), then the new one is read.
    let put = |code: Value| Call::new("PUT", &path).json(&json!({"unlock_code": code}));
    api.send(put(json!(NEW_CODE)).by(&Who::financeiro(SHOP))).await.problem(403, "forbidden");
    api.send(put(json!("")).by(&atendente)).await.problem_at(422, "invalid-field", "unlock_code");
    let changed = api.send(put(json!(NEW_CODE)).by(&atendente)).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert!(!changed.body.contains(NEW_CODE) && changed.json()["intake"]["unlock_code"] == true);
    assert_eq!(api.get(&tecnico, &path).await.json()["unlock_code"], NEW_CODE);
    // A replacement refused after the new code was kept (a stale version) leaves the code kept before.
    let stale = api.send(put(json!(CODE)).by(&atendente).if_match("\"1\"")).await;
    assert_eq!(stale.status, 412, "{}", stale.body);
    assert_eq!(api.get(&tecnico, &path).await.json()["unlock_code"], NEW_CODE);

    // The database holds it only sealed.
    let db = std::fs::read(api.store.path()).unwrap();
    let wal = std::fs::read(api.store.path().with_extension("db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(CODE) && !text.contains(NEW_CODE), "a code in clear in the SQLite file");
    }
    let stored = format!("{}{}", String::from_utf8_lossy(&db), String::from_utf8_lossy(&wal));
    assert!(stored.contains("sealed1:"), "the files read are where the sealed codes are");

    // Cancelled: the code is deleted by the same step, and the timeline says so.
    let cancelled =
        api.send(Call::post(&format!("/v1/orders/{id}/cancel"), &json!({"reason": "Cliente desistiu"})).by(&rep)).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["intake"]["unlock_code"], false);
    let timeline = api.get(&rep, &format!("/v1/orders/{id}/timeline")).await.json();
    assert_eq!(event_types(&timeline).last().map(String::as_str), Some("order.unlock_code_deleted"));
    let order_id = osflow_domain::values::OrderId::parse(&id).unwrap();
    let tenant = osflow_domain::values::TenantId::parse(SHOP).unwrap();
    assert_eq!(api.app.unlock_codes.unlock_code(&tenant, &order_id).await.unwrap(), None, "the ciphertext removed");
    assert_eq!(api.get(&tecnico, &path).await.status, 409, "nothing to read on a cancelled order");
    assert!(!answers(&api, &rep, &id).await.contains(NEW_CODE));
}
