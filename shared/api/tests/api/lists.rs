//! Lists: by status (a work queue, oldest change first) and a customer's history (newest first), paginated.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn list_by_status_pages_with_a_cursor() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let mut ids = vec![];
    for _ in 0..5 {
        ids.push(api.open_example(&staff).await);
        api.clock.advance(chrono::Duration::minutes(1));
    }
    // One of them moves on: it leaves the `aberta` queue.
    api.ok(&staff, "POST", &format!("/v1/orders/{}/quote/send", ids[1]), "{}").await;

    let mut seen = vec![];
    for item in api.all_pages(Call::get("/v1/orders").query("status", "aberta").query("limit", "2").by(&staff)).await {
        assert_eq!(item["status"], "aberta");
        assert_eq!(item["status_label"], "Aberta");
        assert_eq!(item["quote_total"], "269.90");
        assert_eq!(item["customer_name"], "Maria Souza");
        seen.push(item["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, [ids[0].clone(), ids[2].clone(), ids[3].clone(), ids[4].clone()], "oldest change first");

    let r = api.send(Call::get("/v1/orders").query("status", "aguardando_aprovacao").by(&staff)).await;
    let page = r.json();
    assert_eq!(page["items"][0]["id"], ids[1].as_str());
    assert_eq!(page["items"][0]["status_label"], "Aguardando Aprovação");
    assert_eq!(page["next_cursor"], serde_json::Value::Null);
}

#[tokio::test]
async fn list_parameters_are_checked() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    api.open_example(&staff).await;
    // Without `status` the list is a search of the open statuses.
    let r = api.send(Call::get("/v1/orders").by(&staff)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    for (name, value) in [("overdue", "sim"), ("mine", "1")] {
        let r = api.send(Call::get("/v1/orders").query(name, value).by(&staff)).await;
        r.problem_at(422, "invalid-field", name);
    }
    let r = api.send(Call::get("/v1/orders").query("status", "em_conserto").by(&staff)).await;
    let p = r.problem_at(422, "unknown-status", "status");
    assert!(p["detail"].as_str().unwrap().contains("em_conserto"));
    for limit in ["0", "101", "dez"] {
        let r = api.send(Call::get("/v1/orders").query("status", "aberta").query("limit", limit).by(&staff)).await;
        r.problem_at(422, "invalid-field", "limit");
    }
    for cursor in ["not a cursor!", "AAAA", "eyJ4IjoxfQ"] {
        let r = api.send(Call::get("/v1/orders").query("status", "aberta").query("cursor", cursor).by(&staff)).await;
        r.problem_at(400, "invalid-cursor", "cursor");
    }
}

#[tokio::test]
async fn customer_history_newest_first() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let first = api.open_example(&staff).await;
    api.clock.advance(chrono::Duration::minutes(5));
    let second = api.open_example(&staff).await;
    let cnpj_customer = order_with(|v| {
        v["customer"]["name"] = json!("Loja ABC Ltda");
        v["customer"]["document"] = json!("12.ABC.345/01DE-35");
    });
    api.open(&staff, &cnpj_customer).await;

    for doc in ["529.982.247-25", "52998224725"] {
        let r = api.get(&staff, &format!("/v1/customers/{doc}/orders")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let ids: Vec<String> =
            r.json()["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, [second.clone(), first.clone()]);
    }
    let r = api.get(&staff, "/v1/customers/12ABC34501DE35/orders").await;
    assert_eq!(r.json()["items"][0]["customer_document"], "12ABC34501DE35");
    let r = api.send(Call::get("/v1/customers/52998224725/orders").query("limit", "1").by(&staff)).await;
    let page = r.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next_cursor"].as_str().unwrap().to_owned();
    let r = api
        .send(Call::get("/v1/customers/52998224725/orders").query("limit", "1").query("cursor", &next).by(&staff))
        .await;
    assert_eq!(r.json()["items"][0]["id"], first.as_str());

    let r = api.get(&staff, "/v1/customers/529.982.247-24/orders").await;
    r.problem_at(422, "invalid-field", "document");
}
