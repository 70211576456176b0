//! The company's users: an order's technician (at opening, assigned, reassigned) must be one of the company's users
//! with the `tecnico` role — otherwise 422 naming `technician` and nothing stored — and `GET /v1/users?role=…`
//! lists them. The directory is the development users' (osflow-local's), and the per-process cache in front of
//! it (Cognito's in AWS) asks it once per user within its time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use osflow_app::{DirectoryUser, StoreResult, UserDirectory};
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use serde_json::json;

use crate::support::*;

fn shop() -> TenantId {
    TenantId::parse(SHOP).unwrap()
}

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

#[tokio::test]
async fn an_order_is_given_only_a_technician_of_the_company() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    api.users.register(&shop(), &user("joana"), &[Role::Tecnico]).unwrap();
    api.users.register(&shop(), &user("bia"), &[Role::Atendente]).unwrap();

    // At opening: an unknown user, a user without the role, another company's technician: refused, nothing kept.
    let other_shops = format!("tecnico@{OTHER_SHOP}");
    for who in ["fantasma", "bia", "atendente@oficina-do-ze", other_shops.as_str()] {
        let r = api.send(Call::post("/v1/orders", &order_with(|o| o["technician"] = json!(who))).by(&staff)).await;
        r.problem_at(422, "invalid-field", "technician");
    }
    let listed = api.send(Call::get("/v1/orders").query("status", "aberta").by(&staff)).await.json();
    assert_eq!(listed["items"], json!([]), "no order stored: {listed}");
    assert_eq!(api.get(&staff, "/v1/customers/52998224725").await.status, 404, "no customer record either");

    // A technician of the company: opened with them.
    let opened = api.open(&staff, &order_with(|o| o["technician"] = json!("joana"))).await;
    assert_eq!(opened.status, 201, "{}", opened.body);
    let id = opened.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(opened.json()["technician"], "joana");

    // Reassigned: only to a technician of the company; a refusal changes nothing.
    let path = format!("/v1/orders/{id}/technician");
    for who in ["fantasma", "bia", other_shops.as_str()] {
        let r = api.send(Call::new("PUT", &path).json(&json!({"technician": who})).by(&staff)).await;
        r.problem_at(422, "invalid-field", "technician");
    }
    // Who may not reassign learns nothing of the user: refused for the role first.
    let r = api.send(Call::new("PUT", &path).json(&json!({"technician": "fantasma"})).by(&Who::tecnico(SHOP))).await;
    r.problem(403, "forbidden");
    assert_eq!(api.version(&id).await, 1, "nothing stored");
    let r = api.send(Call::new("PUT", &path).json(&json!({"technician": "tecnico@oficina-do-ze"})).by(&staff)).await;
    assert_eq!((r.status, r.json()["technician"].clone()), (200, json!("tecnico@oficina-do-ze")), "{}", r.body);
    let timeline = api.get(&staff, &format!("/v1/orders/{id}/timeline")).await.json();
    let assigned = timeline["events"].as_array().unwrap().iter().filter(|e| e["type"] == "order.technician_assigned");
    assert_eq!(assigned.count(), 1, "{timeline}");
}

#[tokio::test]
async fn the_company_users_are_listed_by_role() {
    let api = Api::new();
    api.users.register(&shop(), &user("joana"), &[Role::Tecnico, Role::Atendente]).unwrap();
    api.users.register(&TenantId::parse(OTHER_SHOP).unwrap(), &user("rafael"), &[Role::Tecnico]).unwrap();
    let r = api.send(Call::get("/v1/users").query("role", "tecnico").by(&Who::tecnico(SHOP))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"items": [
            {"id": "joana", "name": "joana", "roles": ["atendente", "tecnico"]},
            {"id": "tecnico@oficina-do-ze", "name": "tecnico@oficina-do-ze", "roles": ["tecnico"]},
        ]})
    );
    let r = api.send(Call::get("/v1/users").query("role", "financeiro").by(&Who::atendente(SHOP))).await;
    let ids: Vec<_> = r.json()["items"].as_array().unwrap().iter().map(|u| u["id"].clone()).collect();
    assert_eq!(ids, [json!("financeiro@oficina-do-ze")]);
    for bad in [Call::get("/v1/users"), Call::get("/v1/users").query("role", "chefe")] {
        api.send(bad.by(&Who::staff(SHOP))).await.problem_at(422, "invalid-field", "role");
    }
}

/// A directory that counts the questions reaching it.
struct Counted {
    inner: Arc<dyn UserDirectory>,
    asked: AtomicUsize,
}

#[async_trait::async_trait]
impl UserDirectory for Counted {
    async fn user(&self, tenant: &TenantId, id: &UserId) -> StoreResult<Option<DirectoryUser>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.inner.user(tenant, id).await
    }

    async fn users_with_role(&self, tenant: &TenantId, role: Role) -> StoreResult<Vec<DirectoryUser>> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.inner.users_with_role(tenant, role).await
    }
}

#[tokio::test]
async fn the_directory_cache_asks_once_per_user_within_its_time() {
    let mut api = Api::new();
    let counted = Arc::new(Counted { inner: api.users.clone(), asked: AtomicUsize::new(0) });
    api.app = api.app.clone().with_users(counted.clone()).with_user_cache(60);
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let path = format!("/v1/orders/{id}/technician");
    let assign = |who: &str| Call::new("PUT", &path).json(&json!({"technician": who})).by(&staff);
    assert_eq!(api.send(assign("tecnico@oficina-do-ze")).await.status, 200);
    assert_eq!(api.send(assign("fantasma")).await.status, 422);
    api.users.register(&shop(), &user("fantasma"), &[Role::Tecnico]).unwrap();
    assert_eq!(api.send(assign("fantasma")).await.status, 200, "a user not found is asked again: known at once");
    assert_eq!(api.send(assign("tecnico@oficina-do-ze")).await.status, 200);
    assert_eq!(counted.asked.load(Ordering::SeqCst), 3, "the technician found was remembered");

    // Removed from the technicians: still trusted within the cache's time, refused after it.
    api.users.register(&shop(), &user("fantasma"), &[Role::Atendente]).unwrap();
    assert_eq!(api.send(assign("fantasma")).await.status, 200);
    api.clock.advance(chrono::Duration::seconds(61));
    api.send(assign("tecnico@oficina-do-ze")).await;
    api.send(assign("fantasma")).await.problem_at(422, "invalid-field", "technician");

    let list = || Call::get("/v1/users").query("role", "tecnico").by(&staff);
    let before = counted.asked.load(Ordering::SeqCst);
    let first = api.send(list()).await.json();
    assert_eq!(api.send(list()).await.json(), first);
    assert_eq!(counted.asked.load(Ordering::SeqCst), before + 1);
}
