//! The read cache (`App::with_read_cache`, on in every test of this harness): an answer is remembered only while
//! nothing is written, per caller and company; every write, through the API or straight through the store as
//! the consumers write, is seen by the next read.

use std::sync::Arc;

use osflow_app::{App, Clock, OrderStore};
use osflow_domain::Role;
use osflow_domain::values::{OrderId, TenantId};
use osflow_testkit::conformance::{advance, note};

use crate::support::*;

/// The answer of an App over the same store without a read cache.
async fn uncached(api: &Api, call: Call) -> Resp {
    let app = App::over(Arc::new(api.store.clone())).with_clock(api.clock.clone());
    send_with(&app, None, call).await
}

/// The request answered by the harness (cached) and without a cache: the same status and body.
async fn same_as_uncached(api: &Api, who: &Who, path: &str, query: &[(&str, &str)]) -> Resp {
    let call = || query.iter().fold(Call::get(path).by(who), |c, (k, v)| c.query(k, v));
    let cached = api.send(call()).await;
    let fresh = uncached(api, call()).await;
    assert_eq!((cached.status, &cached.body), (fresh.status, &fresh.body), "{path} {query:?}");
    assert_eq!(cached.header("etag"), fresh.header("etag"), "{path}");
    cached
}

#[tokio::test]
async fn an_order_read_again_after_a_write_is_the_written_one() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let path = format!("/v1/orders/{id}");
    // Read twice: the second answer is the remembered one.
    for _ in 0..2 {
        let r = same_as_uncached(&api, &staff, &path, &[]).await;
        assert_eq!(r.json()["version"], 1);
    }
    // A step through the API.
    api.ok(&staff, "POST", &format!("{path}/quote/send"), "{}").await;
    let r = same_as_uncached(&api, &staff, &path, &[]).await;
    assert_eq!((r.json()["version"].as_u64(), r.json()["status"].as_str()), (Some(2), Some("aguardando_aprovacao")));
    assert_eq!(r.header("etag"), Some("\"2\""));

    // A write straight through the store, as the consumers (notifier, invoicer, reporter) record theirs.
    let tenant = TenantId::parse(SHOP).unwrap();
    let order_id = OrderId::parse(&id).unwrap();
    let order = api.store.get(&tenant, &order_id).await.unwrap().unwrap();
    let (events, next) = advance(&order, note("Registrado pelo consumidor"), api.clock.now());
    api.store.apply(order.version, &next, &events, None).await.unwrap();
    let r = same_as_uncached(&api, &staff, &path, &[]).await;
    assert_eq!(r.json()["version"], 3);
    assert!(r.body.contains("Registrado pelo consumidor"), "{}", r.body);
}

#[tokio::test]
async fn the_board_read_again_after_a_write_shows_it() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let first = api.open_example(&staff).await;
    let board = [("limit", "50")];
    let r = same_as_uncached(&api, &staff, "/v1/orders", &board).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    same_as_uncached(&api, &staff, "/v1/orders", &board).await;

    let second = api.open_example(&staff).await;
    let r = same_as_uncached(&api, &staff, "/v1/orders", &board).await;
    let ids: Vec<String> =
        r.json()["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert!(ids.contains(&first) && ids.contains(&second), "{ids:?}");

    // The first one moves on: its row shows the new status.
    api.ok(&staff, "POST", &format!("/v1/orders/{first}/quote/send"), "{}").await;
    let r = same_as_uncached(&api, &staff, "/v1/orders", &board).await;
    let row = r.json()["items"].as_array().unwrap().iter().find(|o| o["id"] == first.as_str()).cloned().unwrap();
    assert_eq!(row["status"], "aguardando_aprovacao");
    // Other queries are answered apart.
    let r = same_as_uncached(&api, &staff, "/v1/orders", &[("status", "aberta"), ("limit", "50")]).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
    same_as_uncached(&api, &staff, "/v1/orders", &[("limit", "1")]).await;
}

#[tokio::test]
async fn answers_are_remembered_per_caller_and_company() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let path = format!("/v1/orders/{id}");
    let representante = Who::with_roles(SHOP, "rep", &[Role::Representante]);
    let tecnico = Who::tecnico(SHOP);
    let mut answers = Vec::new();
    for who in [&staff, &representante, &tecnico, &staff] {
        answers.push(same_as_uncached(&api, who, &path, &[]).await.json()["allowed_actions"].clone());
    }
    assert_ne!(answers[1], answers[2], "the roles' actions differ, each answered its own");
    assert_eq!(answers[0], answers[3]);
    // Another company never reads what this one's reads left.
    let other = Who::staff(OTHER_SHOP);
    api.get(&other, &path).await.problem(404, "not-found");
    let r = same_as_uncached(&api, &other, "/v1/orders", &[("limit", "50")]).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 0);
}
