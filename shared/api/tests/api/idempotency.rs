//! Idempotency-Key: a retry gets the saved response byte for byte; the same key with another request is refused.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn opening_is_replayed_byte_for_byte() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let call = Call::post("/v1/orders", &example_order()).by(&staff).idem("open-7f3a");
    let first = api.send(call.clone()).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    let second = api.send(call.clone()).await;
    assert_eq!(second.status, 201);
    assert_eq!(second.body, first.body, "the same bytes");
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(second.header("location"), first.header("location"));
    assert_eq!(second.header("etag"), Some("\"1\""));
    let r = api.send(Call::get("/v1/orders").query("status", "aberta").by(&staff)).await;
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1, "one order, not two");

    // The same key with another request.
    let other = order_with(|v| v["customer"]["name"] = "João".into());
    let r = api.send(Call::post("/v1/orders", &other).by(&staff).idem("open-7f3a")).await;
    r.problem_at(422, "idempotency-key-reused", "Idempotency-Key");

    // Keys are per company: another shop may use the same key.
    let r = api.send(call.clone().by(&Who::staff(OTHER_SHOP))).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (201, None));

    // Records expire after 24 hours: the key is free again.
    api.clock.advance(chrono::Duration::hours(25));
    let r = api.send(call).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (201, None));
    assert_eq!(r.json()["number"], 2);
}

#[tokio::test]
async fn steps_are_replayed_and_applied_once() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve"}"#).await;

    let pay =
        Call::post(&format!("{base}/payments"), &json!({"amount": "100.00", "method": "pix"})).by(&staff).idem("pay-1");
    let first = api.send(pay.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // Another change in between; the retry still gets the first answer, not a second payment.
    api.ok(&staff, "POST", &format!("{base}/notes"), r#"{"text": "cliente pagou sinal"}"#).await;
    let retry = api.send(pay.clone()).await;
    assert_eq!((retry.status, retry.body.as_str()), (200, first.body.as_str()));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(retry.header("etag"), first.header("etag"));
    let order = api.order(&staff, &id).await;
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
    assert_eq!(order["amount_paid"], "100.00");

    // Same key, another order path or body: refused, nothing stored.
    let r = api
        .send(
            Call::post(&format!("{base}/payments"), &json!({"amount": "50.00", "method": "pix"}))
                .by(&staff)
                .idem("pay-1"),
        )
        .await;
    r.problem(422, "idempotency-key-reused");
    assert_eq!(api.version(&id).await, 5);
    // Keys are scoped per route (and user): the same key on another route is another key.
    let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "x"})).by(&staff).idem("pay-1")).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (200, None), "{}", r.body);
    assert_eq!(api.version(&id).await, 6);

    // Malformed keys are 400.
    for key in ["", &"k".repeat(256), "com espaço"] {
        let r = api.send(Call::post(&format!("{base}/notes"), &json!({"text": "x"})).by(&staff).idem(key)).await;
        r.problem_at(400, "invalid-header", "Idempotency-Key");
    }
    assert_eq!(api.version(&id).await, 6);
}

#[tokio::test]
async fn a_refused_step_saves_no_response() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let start = Call::post(&format!("/v1/orders/{id}/start"), &json!({})).by(&staff).idem("start-1");
    api.send(start.clone()).await.problem(409, "not-allowed-in-status");
    api.ok(&staff, "POST", &format!("/v1/orders/{id}/quote/send"), "{}").await;
    api.ok(&staff, "POST", &format!("/v1/orders/{id}/quote/decision"), r#"{"decision": "approve"}"#).await;
    // The same key now does the step: the refusal was not saved.
    let r = api.send(start).await;
    assert_eq!((r.status, r.header("idempotent-replayed")), (200, None));
    assert_eq!(r.json()["status"], "em_execucao");
}

/// The order store, with the write of a warranty return's link on the first order lost once (an interruption
/// between the warranty return's two writes: the new OS stored, the link not).
struct LinkLostOnce {
    inner: std::sync::Arc<dyn osflow_app::OrderStore>,
    lost: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl osflow_app::OrderStore for LinkLostOnce {
    async fn next_order_number(&self, tenant: &TenantId) -> StoreResult<u64> {
        self.inner.next_order_number(tenant).await
    }
    async fn create(&self, order: &Order, opened: &Event, idem: Option<&IdempotencyRecord>) -> StoreResult<()> {
        self.inner.create(order, opened, idem).await
    }
    async fn get(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Option<Order>> {
        self.inner.get(tenant, id).await
    }
    async fn apply(
        &self,
        v: u64,
        order: &Order,
        events: &[Event],
        idem: Option<&IdempotencyRecord>,
    ) -> StoreResult<()> {
        let link = events.iter().any(|e| matches!(e.change, Change::WarrantyReturnOpened { .. }));
        if link && !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the connection dropped".into()));
        }
        self.inner.apply(v, order, events, idem).await
    }
    async fn list_by_status(&self, t: &TenantId, s: &StatusKey, p: &PageRequest) -> StoreResult<Page<Order>> {
        self.inner.list_by_status(t, s, p).await
    }
    async fn list_by_customer(&self, t: &TenantId, d: &Document, p: &PageRequest) -> StoreResult<Page<Order>> {
        self.inner.list_by_customer(t, d, p).await
    }
    async fn sla_due(&self, t: &TenantId, until: DateTime<Utc>, p: &PageRequest) -> StoreResult<Page<OrderId>> {
        self.inner.sla_due(t, until, p).await
    }
    async fn timeline(&self, tenant: &TenantId, id: &OrderId) -> StoreResult<Vec<Event>> {
        self.inner.timeline(tenant, id).await
    }
}

use chrono::{DateTime, Utc};
use osflow_app::{IdempotencyRecord, Page, PageRequest, StoreError, StoreResult};
use osflow_domain::values::{Document, OrderId, TenantId};
use osflow_domain::{Change, Event, Order, StatusKey};

/// A warranty return sent again with its key opens no second OS; sent again after an interruption between its
/// two writes, it writes the link the first attempt left unwritten, once.
#[tokio::test]
async fn a_warranty_return_is_opened_once_and_its_link_completed_by_the_retry() {
    let mut api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.released_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    let body = json!({"lines": [{"revision": 1, "line": 1}], "reported_problem": "A fonte parou de novo"});
    let call = Call::post(&format!("{base}/warranty-return"), &body).by(&staff).idem("garantia-os-1");

    // The first attempt stores the new OS, then loses the link's write.
    let orders = api.app.orders.clone();
    api.app.orders = std::sync::Arc::new(LinkLostOnce { inner: orders.clone(), lost: false.into() });
    let interrupted = api.send(call.clone()).await;
    assert_eq!(interrupted.status, 503, "{}", interrupted.body);
    assert_eq!(api.order(&staff, &id).await["warranty_returns"], json!([]), "the link was lost");
    api.app.orders = orders;

    // The retry: the saved answer (the same OS), and the link written.
    let retry = api.send(call.clone()).await;
    assert_eq!(retry.status, 201, "{}", retry.body);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    let ret = retry.json();
    assert_eq!(ret["warranty_of"]["id"], json!(id));
    let link = json!([{"id": ret["id"], "number": ret["number"]}]);
    assert_eq!(api.order(&staff, &id).await["warranty_returns"], link);
    // Once more: the same answer, no second OS, no second link.
    let again = api.send(call).await;
    assert_eq!((again.status, again.body.as_str()), (201, retry.body.as_str()));
    assert_eq!(api.order(&staff, &id).await["warranty_returns"], link);
    let open = api.send(Call::get("/v1/orders").query("status", "aberta").by(&staff)).await.json();
    assert_eq!(open["items"].as_array().unwrap().len(), 1, "one warranty return: {open}");
    let timeline = api.get(&staff, &format!("{base}/timeline")).await.json();
    let events = timeline["events"].as_array().unwrap();
    let links = events.iter().filter(|e| e["type"] == "order.warranty_return_opened").count();
    assert_eq!(links, 1, "{timeline}");

    // Without a key, under another key, two at once, with another text: the same lines answer the same OS.
    let plain = json!({"lines": [{"revision": 1, "line": 1}], "reported_problem": "Outro relato"});
    let send = |call: Call| api.send(call);
    let path = format!("{base}/warranty-return");
    let (a, b, c) = tokio::join!(
        send(Call::post(&path, &plain).by(&staff)),
        send(Call::post(&path, &plain).by(&staff)),
        send(Call::post(&path, &plain).by(&staff).idem("outra-chave")),
    );
    for r in [a, b, c] {
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.header("idempotent-replayed"), Some("true"));
        assert_eq!(r.json()["id"], ret["id"], "{}", r.body);
    }
    let open = api.send(Call::get("/v1/orders").query("status", "aberta").by(&staff)).await.json();
    assert_eq!(open["items"].as_array().unwrap().len(), 1, "still one warranty return: {open}");
    assert_eq!(api.order(&staff, &id).await["warranty_returns"], link);
}

/// A warranty return without an `Idempotency-Key` is opened once per line set: sent again (or twice at once) it
/// answers the OS opened first; another line set is another return.
#[tokio::test]
async fn a_warranty_return_without_a_key_is_opened_once_per_line_set() {
    let api = Api::new();
    let staff = Who::staff(SHOP);
    let id = api.released_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    let path = format!("{base}/warranty-return");
    let both =
        json!({"lines": [{"revision": 1, "line": 2}, {"revision": 1, "line": 1}], "reported_problem": "Não liga"});
    let (a, b) =
        tokio::join!(api.send(Call::post(&path, &both).by(&staff)), api.send(Call::post(&path, &both).by(&staff)));
    assert_eq!((a.status, b.status), (201, 201), "{} {}", a.body, b.body);
    assert_eq!(a.json()["id"], b.json()["id"]);
    let first = a.json();
    // The same set in another order, later: the same OS.
    let swapped = json!({"lines": [{"revision": 1, "line": 1}, {"revision": 1, "line": 2}], "reported_problem": "x"});
    let again = api.send(Call::post(&path, &swapped).by(&staff)).await;
    assert_eq!((again.status, again.json()["id"].clone()), (201, first["id"].clone()), "{}", again.body);
    // Another line set: another return.
    let one = json!({"lines": [{"revision": 1, "line": 1}], "reported_problem": "A fonte parou"});
    let other = api.send(Call::post(&path, &one).by(&staff)).await;
    assert_eq!((other.status, other.header("idempotent-replayed")), (201, None), "{}", other.body);
    assert_ne!(other.json()["id"], first["id"]);
    let returns = api.order(&staff, &id).await["warranty_returns"].clone();
    assert_eq!(returns.as_array().unwrap().len(), 2, "{returns}");
    let open = api.send(Call::get("/v1/orders").query("status", "aberta").by(&staff)).await.json();
    assert_eq!(open["items"].as_array().unwrap().len(), 2, "{open}");
}
