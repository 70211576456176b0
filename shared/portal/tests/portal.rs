//! The customer's page through `osflow_portal::handle`, with requests as API Gateway delivers them, on the
//! embedded store; orders are set up through the staff API (`osflow_api::handle`). Every refusal is checked to
//! change nothing: the order's version and status are read again after it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use lambda_http::Body;
use osflow_app::{App, Clock};
use osflow_domain::values::{OrderId, TenantId};
use osflow_lambda_kit::LocalBlobStore;
use osflow_portal::{Portal, PortalKey, Purpose, default_ttl};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::{Call, TestClock, Who, example_order};
use serde_json::{Value, json};

const NOW: &str = "2026-11-20T12:00:00Z";
const SHOP: &str = "oficina-do-ze";
const OTHER_SHOP: &str = "assistencia-sul";
const IP: &str = osflow_testkit::gateway::SOURCE_IP;
const UA: &str = "Mozilla/5.0 (Linux; Android 14) osflow-tests";

struct H {
    portal: Portal,
    clock: Arc<TestClock>,
    /// The blob keys whose bytes were read.
    read: Arc<std::sync::Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

struct Page {
    status: u16,
    body: String,
}

impl Page {
    /// The hidden fields of the decision form (nonce, orcamento).
    fn form(&self) -> (String, String) {
        let hidden = |name: &str| {
            let marker = format!("name=\"{name}\" value=\"");
            let at = self.body.find(&marker).unwrap_or_else(|| panic!("no {name} in {}", self.body)) + marker.len();
            self.body[at..].split('"').next().unwrap().to_owned()
        };
        (hidden("nonce"), hidden("orcamento"))
    }
}

fn encode(s: &str) -> String {
    osflow_lambda_kit::blob::percent_encode(s)
}

/// Reads of the keys in `broken` fail as S3 fails them for an object never uploaded when the role may not list
/// the bucket (403, an unavailable store): a failure the file store cannot produce.
struct BrokenReads {
    inner: LocalBlobStore,
    broken: Arc<std::sync::Mutex<Vec<String>>>,
    /// The keys whose bytes were read (`get`).
    read: Arc<std::sync::Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl osflow_app::BlobStore for BrokenReads {
    async fn presign_upload(
        &self,
        t: &TenantId,
        key: &str,
        ct: &str,
        max: u64,
    ) -> osflow_app::StoreResult<osflow_app::UploadForm> {
        self.inner.presign_upload(t, key, ct, max).await
    }

    async fn get(&self, t: &TenantId, key: &str) -> osflow_app::StoreResult<Option<osflow_app::Blob>> {
        self.read.lock().unwrap().push(key.to_owned());
        if self.broken.lock().unwrap().iter().any(|k| k == key) {
            return Err(osflow_app::StoreError::Unavailable("AccessDenied: 403".into()));
        }
        self.inner.get(t, key).await
    }

    async fn head(&self, t: &TenantId, key: &str) -> osflow_app::StoreResult<Option<osflow_app::BlobHead>> {
        if self.broken.lock().unwrap().iter().any(|k| k == key) {
            return Err(osflow_app::StoreError::Unavailable("AccessDenied: 403".into()));
        }
        self.inner.head(t, key).await
    }

    async fn put(&self, t: &TenantId, key: &str, blob: &osflow_app::Blob) -> osflow_app::StoreResult<()> {
        self.inner.put(t, key, blob).await
    }
}

impl H {
    fn new() -> H {
        H::with_broken_reads(Arc::default())
    }

    /// Reads of the keys put in `broken` fail.
    fn with_broken_reads(broken: Arc<std::sync::Mutex<Vec<String>>>) -> H {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Arc::new(SqliteStore::open(dir.path().join("osflow.db")).expect("sqlite store"));
        let local = LocalBlobStore::new(dir.path().join("blobs"), "http://127.0.0.1:3000/blobs", b"k".to_vec());
        let read: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
        let blobs = BrokenReads { inner: local, broken, read: read.clone() };
        let clock = Arc::new(TestClock::parse(NOW));
        let app = App::over(store).with_blobs(Arc::new(blobs)).with_clock(clock.clone());
        let portal = Portal { app, key: PortalKey::new(vec![42u8; 32]).unwrap() };
        H { portal, clock, read, _dir: dir }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A call to the customer's page as API Gateway delivers it: from a phone's browser, route key only.
    fn customer(call: Call, route_key: &str) -> Call {
        let mut call = call.header("user-agent", UA).route(route_key.to_owned(), vec![]);
        call.domain = "portal.example.com".into();
        call
    }

    /// A staff call (representante + atendente) through the HTTP API.
    async fn staff(&self, tenant: &str, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (route, params) =
            osflow_api::match_route(method, path).unwrap_or_else(|| panic!("no route {method} {path}"));
        let mut call = Call::new(method, path).route(osflow_api::route_key(route), params).by(&Who::new(
            tenant,
            "ana",
            "[representante atendente]",
        ));
        if method != "GET" {
            call = call.json(&body);
        }
        let resp = osflow_api::handle(&self.portal.app, None, call.request()).await;
        let status = resp.status().as_u16();
        let text = match resp.into_body() {
            Body::Text(t) => t,
            Body::Empty => String::new(),
            Body::Binary(b) => String::from_utf8(b).unwrap(),
            _ => unreachable!(),
        };
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn ok(&self, tenant: &str, method: &str, path: &str, body: Value) -> Value {
        let (status, v) = self.staff(tenant, method, path, body).await;
        assert!(status == 200 || status == 201, "{method} {path}: {status} {v}");
        v
    }

    /// An order of `tenant` with its quote sent (revision 1 waiting for the customer).
    async fn quoted(&self, tenant: &str) -> String {
        let id = self.ok(tenant, "POST", "/v1/orders", example_order()).await["id"].as_str().unwrap().to_owned();
        self.ok(tenant, "POST", &format!("/v1/orders/{id}/quote/send"), json!({})).await;
        id
    }

    /// (status, version) of an order.
    async fn state(&self, tenant: &str, id: &str) -> (String, u64) {
        let o = self.ok(tenant, "GET", &format!("/v1/orders/{id}"), Value::Null).await;
        (o["status"].as_str().unwrap().to_owned(), o["version"].as_u64().unwrap())
    }

    fn token(&self, tenant: &str, id: &str, purpose: Purpose) -> String {
        self.token_until(tenant, id, purpose, self.now() + default_ttl())
    }

    fn token_until(&self, tenant: &str, id: &str, purpose: Purpose, until: DateTime<Utc>) -> String {
        self.portal.key.mint(&TenantId::parse(tenant).unwrap(), &OrderId::parse(id).unwrap(), purpose, until)
    }

    async fn portal(&self, call: Call) -> Page {
        let resp = osflow_portal::handle(&self.portal, call.request()).await;
        let status = resp.status().as_u16();
        assert_eq!(resp.headers()["content-type"], "text/html; charset=utf-8");
        assert_eq!(resp.headers()["referrer-policy"], "no-referrer");
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let body = match resp.into_body() {
            Body::Text(t) => t,
            other => panic!("unexpected body {other:?}"),
        };
        Page { status, body }
    }

    async fn page(&self, token: &str) -> Page {
        self.portal(H::customer(
            Call::get(&format!("/p/{token}")).header("content-type", "text/html"),
            "GET /p/{token}",
        ))
        .await
    }

    async fn post(&self, token: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
        let path = format!("/p/{token}/decision");
        let call = Call::new("POST", &path).header("content-type", "application/x-www-form-urlencoded").raw_body(&body);
        self.portal(H::customer(call, "POST /p/{token}/decision")).await
    }

    /// Opens the page of `token` and answers its form.
    async fn answer(&self, token: &str, decision: &str, name: &str, comment: &str) -> Page {
        let (nonce, quote) = self.page(token).await.form();
        self.post(
            token,
            &[("nonce", &nonce), ("orcamento", &quote), ("decisao", decision), ("nome", name), ("comentario", comment)],
        )
        .await
    }
}

#[tokio::test]
async fn the_page_shows_the_order_and_approving_records_the_evidence() {
    let h = H::new();
    h.ok(SHOP, "PUT", "/v1/settings/notifications", json!({"company_name": "Oficina do Zé"})).await;
    let id = h.quoted(SHOP).await;
    h.ok(
        SHOP,
        "POST",
        &format!("/v1/orders/{id}/notes"),
        json!({"text": "Orçamento conferido", "visible_to_customer": true}),
    )
    .await;
    h.ok(
        SHOP,
        "POST",
        &format!("/v1/orders/{id}/notes"),
        json!({"text": "cliente difícil", "visible_to_customer": false}),
    )
    .await;
    let token = h.token(SHOP, &id, Purpose::Decide { revision: 1 });
    let page = h.page(&token).await;
    assert_eq!(page.status, 200);
    for shown in [
        "Oficina do Zé",
        "OS 1 — Notebook Dell Inspiron 15",
        "Olá, Maria.",
        "Aguardando Aprovação",
        "Fonte 65W",
        "Diagnóstico e reparo",
        "R$ 149,90",
        "R$ 269,90",
        "10/12/2026",
        "Orçamento conferido",
        "Orçamento enviado (versão 1)",
        "Aprovar orçamento",
        "Pedir ajustes",
        "Recusar orçamento",
    ] {
        assert!(page.body.contains(shown), "{shown:?} missing from {}", page.body);
    }
    // LGPD: no document, no address, no contact, no surname; internal notes stay internal; no script at all.
    for hidden in
        // The CPF whole, formatted and bare: a part of it ("529") also turns up in the quote's hex fingerprint.
        [
            "529.982.247-25",
            "52998224725",
            "Augusta",
            "Consolação",
            "01305",
            "maria@example.com",
            "98765",
            "Souza",
            "cliente difícil",
            "<script",
        ]
    {
        assert!(!page.body.contains(hidden), "{hidden:?} shown in {}", page.body);
    }
    let (nonce, quote) = page.form();
    let form = [("nonce", nonce.as_str()), ("orcamento", &quote), ("decisao", "aprovar"), ("nome", "Maria Souza")];
    let done = h.post(&token, &form).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Obrigado, Maria. Orçamento aprovado."), "{}", done.body);
    let (status, version) = h.state(SHOP, &id).await;
    assert_eq!(status, "aprovada");

    // The event: the staff's decide_quote, by the customer, with the evidence.
    let timeline = h.ok(SHOP, "GET", &format!("/v1/orders/{id}/timeline"), Value::Null).await;
    let decided = timeline["events"].as_array().unwrap().iter().find(|e| e["type"] == "order.quote_decided").unwrap();
    assert_eq!(decided["actor"]["type"], "customer");
    assert_eq!(decided["actor"]["name"], "Maria Souza");
    assert_eq!(decided["at"].as_str().unwrap()[..10], NOW[..10]);
    let evidence = &decided["data"]["evidence"];
    assert_eq!(evidence["ip"], IP);
    assert_eq!(evidence["user_agent"], UA);
    assert_eq!(evidence["name"], "Maria Souza");
    assert_eq!(evidence["quote_sha256"], quote.as_str());
    assert_eq!(quote.len(), 64);

    // The same form again (a double click, a reload): the same answer, nothing changed.
    let again = h.post(&token, &form).await;
    assert_eq!((again.status, &again.body), (200, &done.body));
    // Another answer with the same (valid) form: refused, nothing changed.
    let mut other = form;
    other[2] = ("decisao", "recusar");
    let refused = h.post(&token, &other).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("já recebeu uma resposta"));
    assert_eq!(h.state(SHOP, &id).await, (status, version));
    // The link still follows the order, without a form now.
    let after = h.page(&token).await;
    assert!(after.body.contains("Aprovada") && !after.body.contains("<form"), "{}", after.body);
}

#[tokio::test]
async fn forged_expired_and_other_order_links_get_the_same_neutral_page_and_change_nothing() {
    let h = H::new();
    let id = h.quoted(SHOP).await;
    let other = h.quoted(OTHER_SHOP).await;
    let before = h.state(SHOP, &id).await;
    let good = h.token(SHOP, &id, Purpose::Decide { revision: 1 });
    let (nonce, quote) = h.page(&good).await.form();

    let forged = {
        // One character of the signature changed.
        let mut t = good.clone().into_bytes();
        let last = t.len() - 3;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).unwrap()
    };
    let other_key = PortalKey::new(vec![7u8; 32]).unwrap().mint(
        &TenantId::parse(SHOP).unwrap(),
        &OrderId::parse(&id).unwrap(),
        Purpose::Decide { revision: 1 },
        h.now() + default_ttl(),
    );
    let expired = h.token_until(SHOP, &id, Purpose::Decide { revision: 1 }, h.now() - Duration::seconds(1));
    // Another company's order under this company's name, and an order that does not exist.
    let cross_tenant = h.token(SHOP, &other, Purpose::Decide { revision: 1 });
    let unknown = h.token(SHOP, "01936b2e-7c3a-7f00-8000-000000000001", Purpose::Decide { revision: 1 });
    let neutral = h.page("nada").await;
    assert_eq!(neutral.status, 404);
    assert!(neutral.body.contains("Este link não é válido ou expirou."));
    for bad in [&forged, &other_key, &expired, &cross_tenant, &unknown, &"x".repeat(300), &String::new()] {
        let page = h.page(bad).await;
        assert_eq!((page.status, &page.body), (404, &neutral.body), "GET with {bad}");
        let post =
            h.post(bad, &[("nonce", &nonce), ("orcamento", &quote), ("decisao", "aprovar"), ("nome", "Maria")]).await;
        assert_eq!((post.status, &post.body), (404, &neutral.body), "POST with {bad}");
    }
    assert_eq!(h.state(SHOP, &id).await, before);
    assert_eq!(h.state(OTHER_SHOP, &other).await.0, "aguardando_aprovacao");

    // A link that expires while the page is open: the form no longer works.
    h.clock.advance(default_ttl() + chrono::Duration::milliseconds(1));
    let late =
        h.post(&good, &[("nonce", &nonce), ("orcamento", &quote), ("decisao", "aprovar"), ("nome", "Maria")]).await;
    assert_eq!((late.status, &late.body), (404, &neutral.body));
    assert_eq!(h.state(SHOP, &id).await, before);
}

#[tokio::test]
async fn forms_need_the_nonce_of_their_own_link_and_quote() {
    let h = H::new();
    let a = h.quoted(SHOP).await;
    let b = h.quoted(SHOP).await;
    let before = (h.state(SHOP, &a).await, h.state(SHOP, &b).await);
    let token_a = h.token(SHOP, &a, Purpose::Decide { revision: 1 });
    let token_b = h.token(SHOP, &b, Purpose::Decide { revision: 1 });
    let (nonce_a, quote_a) = h.page(&token_a).await.form();
    let (_, quote_b) = h.page(&token_b).await.form();
    // No nonce, a made-up one, and A's nonce on B's link (a form of another OS).
    for (token, nonce, quote) in [
        (&token_a, "", quote_a.as_str()),
        (&token_a, "AAAAAAAAAAAAAAAAAAAAAA", &quote_a),
        (&token_b, &nonce_a, &quote_a),
        (&token_b, &nonce_a, &quote_b),
    ] {
        let r =
            h.post(token, &[("nonce", nonce), ("orcamento", quote), ("decisao", "aprovar"), ("nome", "Maria")]).await;
        assert_eq!(r.status, 403, "{}", r.body);
        assert!(r.body.contains("Formulário inválido"));
    }
    // A view link decides nothing (the neutral page), even with a valid form of a decision link.
    let view = h.token(SHOP, &a, Purpose::View);
    let page = h.page(&view).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Fonte 65W") && !page.body.contains("<form"), "{}", page.body);
    let r =
        h.post(&view, &[("nonce", &nonce_a), ("orcamento", &quote_a), ("decisao", "aprovar"), ("nome", "Maria")]).await;
    assert_eq!(r.status, 404);
    // A decision link of another revision number (never issued for this order) decides nothing either.
    let rev2 = h.token(SHOP, &a, Purpose::Decide { revision: 2 });
    assert!(!h.page(&rev2).await.body.contains("<form"));
    assert_eq!((h.state(SHOP, &a).await, h.state(SHOP, &b).await), before);
}

#[tokio::test]
async fn a_revised_quote_makes_the_old_decision_link_useless() {
    let h = H::new();
    let id = h.quoted(SHOP).await;
    let old = h.token(SHOP, &id, Purpose::Decide { revision: 1 });
    // The customer opens the page; meanwhile the shop sends revision 2.
    let (nonce, quote) = h.page(&old).await.form();
    let items = json!({"items": [{"kind": "labor", "code": "S-001", "description": "Diagnóstico e reparo",
                                  "quantity": "1", "unit_price": "100.00"}]});
    h.ok(SHOP, "PUT", &format!("/v1/orders/{id}/quote"), items).await;
    let before = h.state(SHOP, &id).await;
    assert_eq!(before.0, "aguardando_aprovacao");
    let r = h.post(&old, &[("nonce", &nonce), ("orcamento", &quote), ("decisao", "aprovar"), ("nome", "Maria")]).await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("Orçamento substituído"));
    let page = h.page(&old).await;
    assert!(page.body.contains("versão anterior do orçamento") && !page.body.contains("<form"), "{}", page.body);
    assert_eq!(h.state(SHOP, &id).await, before);
    // The new link decides revision 2.
    let new = h.token(SHOP, &id, Purpose::Decide { revision: 2 });
    let done = h.answer(&new, "aprovar", "Maria Souza", "").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(h.state(SHOP, &id).await.0, "aprovada");
    // The old link's form, even rebuilt with a fresh nonce, stays refused after the decision.
    let r = h.post(&old, &[("nonce", &nonce), ("orcamento", &quote), ("decisao", "recusar"), ("nome", "Maria")]).await;
    assert_eq!(r.status, 409);
    assert_eq!(h.state(SHOP, &id).await.0, "aprovada");
}

#[tokio::test]
async fn adjustments_need_a_comment_and_a_name() {
    let h = H::new();
    let id = h.quoted(SHOP).await;
    let token = h.token(SHOP, &id, Purpose::Decide { revision: 1 });
    let before = h.state(SHOP, &id).await;
    let no_comment = h.answer(&token, "ajustar", "Maria Souza", "").await;
    assert_eq!(no_comment.status, 422, "{}", no_comment.body);
    assert!(no_comment.body.contains("escreva no comentário"));
    let no_name = h.answer(&token, "aprovar", " ", "").await;
    assert_eq!(no_name.status, 422);
    assert!(no_name.body.contains("Informe o seu nome"));
    let no_decision = h.answer(&token, "talvez", "Maria", "").await;
    assert_eq!(no_decision.status, 422);
    assert_eq!(h.state(SHOP, &id).await, before);
    let done = h.answer(&token, "ajustar", "Maria Souza", "Troque a fonte por uma original").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(h.state(SHOP, &id).await.0, "aberta");
    let timeline = h.ok(SHOP, "GET", &format!("/v1/orders/{id}/timeline"), Value::Null).await;
    let decided = timeline["events"].as_array().unwrap().iter().find(|e| e["type"] == "order.quote_decided").unwrap();
    assert_eq!(decided["data"]["decision"], "adjust");
    assert_eq!(decided["data"]["comment"], "Troque a fonte por uma original");
    // While the shop prepares revision 2 (a draft), the link shows revision 1 as answered, without a form.
    let items = json!({"items": [{"kind": "labor", "code": "S-001", "description": "Reparo com fonte original",
                                  "quantity": "1", "unit_price": "300.00"}]});
    h.ok(SHOP, "PUT", &format!("/v1/orders/{id}/quote"), items).await;
    let page = h.page(&token).await;
    assert!(page.body.contains("ajustes pedidos") && page.body.contains("Troque a fonte por uma original"));
    assert!(!page.body.contains("Reparo com fonte original") && !page.body.contains("<form"), "{}", page.body);
}

/// The customer's name and comment refuse what could not travel on the queues (Unicode non-characters, controls
/// SQS refuses): the answer is refused with the page naming what to fix, and nothing is stored.
#[tokio::test]
async fn untransportable_text_from_the_page_is_refused_and_nothing_stored() {
    let h = H::new();
    let id = h.quoted(SHOP).await;
    let token = h.token(SHOP, &id, Purpose::Decide { revision: 1 });
    let before = h.state(SHOP, &id).await;
    let bad_name = h.answer(&token, "aprovar", "Maria \u{FFFF}", "").await;
    assert_eq!(bad_name.status, 422, "{}", bad_name.body);
    assert!(bad_name.body.contains("Informe o seu nome"));
    let bad_comment = h.answer(&token, "ajustar", "Maria Souza", "Troque a fonte \u{FDD0}").await;
    assert_eq!(bad_comment.status, 422, "{}", bad_comment.body);
    assert!(bad_comment.body.contains("caractere que não pode ser enviado"), "{}", bad_comment.body);
    assert_eq!(h.state(SHOP, &id).await, before);
}

/// The Lambda functions' key: the Secrets Manager secret (against the emulator; needs `AWS_ENDPOINT_URL`, set by
/// `scripts/test`). Built with the feature `secrets` (on in `cargo test --workspace`: the portal and notifier
/// functions enable it).
#[cfg(feature = "secrets")]
#[tokio::test]
async fn the_key_comes_from_the_secret() {
    use osflow_portal::secrets::key_from_secret;
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|u| !u.trim().is_empty()),
        "AWS_ENDPOINT_URL is not set: run scripts/test, or start scripts/emulator and export what it prints"
    );
    let client = aws_sdk_secretsmanager::Client::new(&osflow_aws_kit::load_sdk_config().await);
    let unique = uuid::Uuid::now_v7().simple().to_string();
    let value = format!("{unique}{unique}");
    let name = format!("osflow/test/portal-key-{unique}");
    client.create_secret().name(&name).secret_string(&value).send().await.expect("CreateSecret on the emulator");
    let key = key_from_secret(&name).await.expect("the key");
    let (tenant, order) =
        (TenantId::parse(SHOP).unwrap(), OrderId::parse("01936b2e-7c3a-7f00-8000-000000000001").unwrap());
    let now = Utc::now();
    let token =
        PortalKey::new(value.clone().into_bytes()).unwrap().mint(&tenant, &order, Purpose::View, now + default_ttl());
    assert_eq!(key.verify(&token, now).expect("signed with the secret's value").order, order);
    // A binary secret: its bytes are the key (decoded from the answer's base64).
    let binary = format!("{name}-binary");
    let blob = aws_sdk_secretsmanager::primitives::Blob::new(value.as_bytes());
    client.create_secret().name(&binary).secret_binary(blob).send().await.expect("CreateSecret on the emulator");
    let key = key_from_secret(&binary).await.expect("the key");
    assert_eq!(key.verify(&token, now).expect("signed with the secret's bytes").order, order);

    let short = format!("osflow/test/portal-short-{unique}");
    client.create_secret().name(&short).secret_string("too short").send().await.unwrap();
    let e = key_from_secret(&short).await.unwrap_err();
    assert!(e.contains("at least 32 bytes"), "{e}");
    let e = key_from_secret(&format!("osflow/test/missing-{unique}")).await.unwrap_err();
    assert!(e.contains("reading the portal key secret") && e.contains("ResourceNotFoundException"), "{e}");
}

#[tokio::test]
async fn per_line_approval_photos_and_the_supplementary_quote_on_the_same_page() {
    let h = H::new();
    let id = h.quoted(SHOP).await;
    let token = h.token(SHOP, &id, Purpose::Decide { revision: 1 });
    let page = h.page(&token).await;
    // The default flow allows per-line approval: one choice per line.
    assert!(page.body.contains("name=\"linha_1\"") && page.body.contains("name=\"linha_2\""), "{}", page.body);
    let (nonce, quote) = page.form();
    let form = [
        ("nonce", nonce.as_str()),
        ("orcamento", &quote),
        ("decisao", "aprovar"),
        ("nome", "Maria Souza"),
        ("linha_1", "aprovar"),
        ("linha_2", "recusar"),
    ];
    assert_eq!(h.post(&token, &form).await.status, 200);
    let order = h.ok(SHOP, "GET", &format!("/v1/orders/{id}"), Value::Null).await;
    assert_eq!(order["status"], "aprovada");
    assert_eq!(order["amount_due"], "149.90", "only the approved line is due: {order}");

    // A photo for the customer (and one that is not), then the work until validation finds an extra item.
    let path = format!("/v1/orders/{id}");
    h.ok(SHOP, "POST", &format!("{path}/start"), json!({})).await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\nnot really a png";
    for (caption, visible) in [("Placa limpa", true), ("Foto interna", false)] {
        let created = h
            .ok(
                SHOP,
                "POST",
                &format!("{path}/attachments"),
                json!({"content_type": "image/png", "caption": caption, "visible_to_customer": visible}),
            )
            .await;
        let key = created["attachment"]["key"].as_str().unwrap();
        let blob = osflow_app::Blob { content_type: "image/png".into(), bytes: png.to_vec() };
        h.portal.app.blobs.put(&TenantId::parse(SHOP).unwrap(), key, &blob).await.unwrap();
    }
    h.ok(SHOP, "POST", &format!("{path}/finish"), json!({"tests_performed": "Ligou"})).await;
    let extra = json!({"checklist": [{"item": "Equipamento liga", "ok": true}],
                       "extra_items": [{"kind": "part", "code": "P-002", "description": "Bateria", "ncm": "85076000",
                                        "quantity": "1", "unit_price": "350.00"}]});
    h.ok(SHOP, "POST", &format!("{path}/validation"), extra).await;
    // The supplementary quote is revision 2: the old link shows it without a form, a new link decides it.
    assert!(!h.page(&token).await.body.contains("<form"));
    let token2 = h.token(SHOP, &id, Purpose::Decide { revision: 2 });
    let page = h.page(&token2).await;
    for shown in ["Orçamento complementar — versão 2", "Bateria", "R$ 350,00", "Placa limpa", "data:image/png;base64,"]
    {
        assert!(page.body.contains(shown), "{shown:?} missing from {}", page.body);
    }
    assert!(!page.body.contains("Foto interna"), "an internal photo is shown");
    let done = h.answer(&token2, "aprovar", "Maria Souza", "").await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(h.state(SHOP, &id).await.0, "em_execucao", "an approved supplementary quote goes back to execution");
}

/// A photo whose upload never came, or that the store cannot read, is left out: the page still shows the order
/// and the other photos.
#[tokio::test]
async fn a_photo_that_cannot_be_read_never_hides_the_page() {
    let broken: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let h = H::with_broken_reads(broken.clone());
    let id = h.quoted(SHOP).await;
    let path = format!("/v1/orders/{id}");
    h.ok(SHOP, "POST", &format!("{path}/quote/decision"), json!({"decision": "approve"})).await;
    h.ok(SHOP, "POST", &format!("{path}/start"), json!({})).await;
    let png: &[u8] = b"\x89PNG\r\n\x1a\nnot really a png";
    for caption in ["Foto perdida", "Placa limpa"] {
        let created = h
            .ok(
                SHOP,
                "POST",
                &format!("{path}/attachments"),
                json!({"content_type": "image/png", "caption": caption, "visible_to_customer": true}),
            )
            .await;
        let key = created["attachment"]["key"].as_str().unwrap().to_owned();
        let blob = osflow_app::Blob { content_type: "image/png".into(), bytes: png.to_vec() };
        h.portal.app.blobs.put(&TenantId::parse(SHOP).unwrap(), &key, &blob).await.unwrap();
        if caption == "Foto perdida" {
            broken.lock().unwrap().push(key);
        }
    }
    let token = h.token(SHOP, &id, Purpose::View);
    let page = h.page(&token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in ["Foto perdida", "Placa limpa", "data:image/png;base64,"] {
        assert!(page.body.contains(shown), "{shown:?} missing");
    }
    assert_eq!(page.body.matches("data:image/png;base64,").count(), 1, "the unreadable photo is left out");
}

/// A photo over the page's limit (512 KiB) is sized before it is read and never read: left out like a missing
/// one, and the page shows the others.
#[tokio::test]
async fn a_photo_too_big_for_the_page_is_sized_not_read() {
    let h = H::new();
    let id = h.quoted(SHOP).await;
    let path = format!("/v1/orders/{id}");
    h.ok(SHOP, "POST", &format!("{path}/quote/decision"), json!({"decision": "approve"})).await;
    h.ok(SHOP, "POST", &format!("{path}/start"), json!({})).await;
    let mut keys = Vec::new();
    for (caption, size) in [("Foto enorme", 600 * 1024), ("Foto pequena", 1024)] {
        let created = h
            .ok(
                SHOP,
                "POST",
                &format!("{path}/attachments"),
                json!({"content_type": "image/jpeg", "caption": caption, "visible_to_customer": true}),
            )
            .await;
        let key = created["attachment"]["key"].as_str().unwrap().to_owned();
        let blob = osflow_app::Blob { content_type: "image/jpeg".into(), bytes: vec![0xff; size] };
        h.portal.app.blobs.put(&TenantId::parse(SHOP).unwrap(), &key, &blob).await.unwrap();
        keys.push(key);
    }
    let token = h.token(SHOP, &id, Purpose::View);
    let page = h.page(&token).await;
    assert_eq!(page.status, 200, "{}", page.body);
    for shown in ["Foto enorme", "Foto pequena"] {
        assert!(page.body.contains(shown), "{shown:?} missing");
    }
    assert_eq!(page.body.matches("data:image/jpeg;base64,").count(), 1, "only the small photo is embedded");
    let read = h.read.lock().unwrap().clone();
    assert!(!read.contains(&keys[0]), "the big photo was read: {read:?}");
    assert!(read.contains(&keys[1]), "{read:?}");
}
