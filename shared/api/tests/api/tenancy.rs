//! Another company's orders do not exist for a caller: 404, never 403, and nothing changes.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn another_tenants_order_is_not_found() {
    let api = Api::new();
    let ours = Who::staff(SHOP);
    let theirs = Who::new(OTHER_SHOP, "intruder", "[representante atendente tecnico financeiro]");
    let id = api.open_example(&ours).await;
    let base = format!("/v1/orders/{id}");

    for path in [base.clone(), format!("{base}/timeline"), format!("{base}/invoices"), format!("{base}/invoices/X/xml")]
    {
        let r = api.get(&theirs, &path).await;
        r.problem(404, "not-found");
    }
    let writes: Vec<(&str, String, serde_json::Value)> = vec![
        ("POST", format!("{base}/quote/send"), json!({})),
        (
            "PUT",
            format!("{base}/quote"),
            json!({"items": [{"kind": "labor", "description": "x", "quantity": "1", "unit_price": "1"}]}),
        ),
        ("POST", format!("{base}/notes"), json!({"text": "olá"})),
        ("POST", format!("{base}/attachments"), json!({"content_type": "image/jpeg"})),
        ("POST", format!("{base}/cancel"), json!({"reason": "sabotagem"})),
        ("POST", format!("{base}/payments"), json!({"amount": "1.00", "method": "pix"})),
    ];
    for (method, path, body) in writes {
        let r = api.send(Call::new(method, &path).json(&body).by(&theirs).if_match("\"1\"")).await;
        r.problem(404, "not-found");
    }
    // Their lists do not show our order; our customer has no history with them.
    let r = api.send(Call::get("/v1/orders").query("status", "aberta").by(&theirs)).await;
    assert_eq!(r.json()["items"], json!([]));
    let r = api.get(&theirs, "/v1/customers/52998224725/orders").await;
    assert_eq!(r.json()["items"], json!([]));
    // Nothing changed, and our order numbers are ours: their first order is number 1 too.
    assert_eq!(api.version(&id).await, 1);
    assert_eq!(api.open(&theirs, &example_order()).await.json()["number"], 1);
    // Their flow is theirs.
    let mut def = api.get(&Who::representante(OTHER_SHOP), "/v1/flow").await.json();
    def.as_object_mut().unwrap().remove("version");
    def["statuses"][0]["label"] = json!("Recebida");
    let r = api.send(Call::new("PUT", "/v1/flow").json(&def).by(&Who::representante(OTHER_SHOP))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(api.get(&ours, "/v1/flow").await.json()["statuses"][0]["label"], "Aberta");
    assert_eq!(api.order(&ours, &id).await["status_label"], "Aberta");
}

#[tokio::test]
async fn ids_that_cannot_exist_are_not_found() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    for id in ["not-a-uuid", "9c5b94b1-35ad-49bb-b118-8e8fc24abf80", "01936f5e-0000-7000-8000-000000000000"] {
        api.get(&staff, &format!("/v1/orders/{id}")).await.problem(404, "not-found");
        let r = api.send(Call::post(&format!("/v1/orders/{id}/start"), &json!({})).by(&staff)).await;
        r.problem(404, "not-found");
    }
}
