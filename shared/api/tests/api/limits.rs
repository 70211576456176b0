//! The per-company request limit: a company over it gets 429 problem+json with `Retry-After`, before anything is
//! read or written; the other companies are served as before.

use std::num::NonZeroU32;
use std::sync::Arc;

use osflow_api::TenantRateLimit;
use osflow_app::OrderStore;
use osflow_domain::values::{OrderId, TenantId};

use crate::support::*;

#[tokio::test]
async fn a_company_over_its_request_limit_gets_429_and_the_others_do_not() {
    let mut api = Api::new();
    let staff = Who::staff(SHOP);
    let other = Who::staff(OTHER_SHOP);
    let id = api.open_example(&staff).await;
    // One request a second, bursts of 3, for every company.
    let one = NonZeroU32::new(1).unwrap();
    let limit = TenantRateLimit::new(one, NonZeroU32::new(3).unwrap());
    api.app = api.app.clone().with_request_limit(Arc::new(limit));

    for _ in 0..3 {
        assert_eq!(api.get(&staff, &format!("/v1/orders/{id}")).await.status, 200, "the burst is served");
    }
    // At one a second, the next requests soon run over (bounded, so a slow machine cannot make it pass).
    let mut refused = None;
    for _ in 0..20 {
        let r = api.get(&staff, &format!("/v1/orders/{id}")).await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200);
    }
    let r = refused.expect("the company runs over its limit");
    let p = r.problem(429, "too-many-requests");
    let retry: u32 = r.header("retry-after").expect("Retry-After").parse().expect("whole seconds");
    assert!(retry >= 1, "{retry}");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("limite")), "{p}");

    // A write of the company is refused too, before it is read: nothing is stored.
    let r = api.send(Call::post("/v1/orders", &order_with(|_| {})).by(&staff)).await;
    r.problem(429, "too-many-requests");
    let stored = || async {
        let (t, o) = (TenantId::parse(SHOP).unwrap(), OrderId::parse(&id).unwrap());
        api.store.get(&t, &o).await.unwrap().unwrap().version
    };
    let version_before = stored().await;
    let r = api.send(Call::post(&format!("/v1/orders/{id}/notes"), &serde_json::json!({"text": "x"})).by(&staff)).await;
    r.problem(429, "too-many-requests");
    assert_eq!(stored().await, version_before, "nothing stored");

    // Another company is served: its own limit is untouched.
    let other_id = api.open_example(&other).await;
    let r = api.get(&other, &format!("/v1/orders/{other_id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let listed = api.send(Call::get("/v1/orders").query("status", "aberta").by(&other)).await;
    assert_eq!(listed.status, 200, "{}", listed.body);

    // No token: the handler's 401, not the limit (the limit is per company).
    let r = api.send(Call::get(&format!("/v1/orders/{id}"))).await;
    r.problem(401, "unauthenticated");
}
