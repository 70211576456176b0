//! The console's fiscal routes sent to the fiscal function (what the console function does in AWS): a console
//! whose App has no fiscal ports, a fiscal function whose handler decodes the Lambda event as `lambda_http` does
//! ([`InProcess`], over the same store), the event checked for the route, its path parameters, the session's
//! claims and the form's body; a function that cannot be reached leaves nothing done. With the feature `aws`, the
//! Lambda API client against the emulator (`lambda_aws`).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use lambda_http::http::Method;
use lambda_http::{Body, Response};
use osflow_api::Function;
use osflow_app::App;
use osflow_console::forward::{FunctionInvoker, InProcess, InvokeError};
use osflow_console::session::COOKIE;
use osflow_console::{Console, Session, SessionKey, SignIn, handle};
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::{Call, MemoryBlobs, Who, example_order, unique};
use serde_json::{Value, json};

/// The function's handler behind the events it is given, which it keeps.
#[derive(Debug)]
struct Recorded {
    function: Option<InProcess>,
    events: Mutex<Vec<Value>>,
}

#[async_trait]
impl FunctionInvoker for Recorded {
    async fn invoke(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        self.events.lock().unwrap().push(serde_json::from_slice(&event).unwrap());
        match &self.function {
            Some(f) => f.invoke(event).await,
            None => Err(InvokeError::Unavailable("connection refused".into())),
        }
    }
}

struct Setup {
    console: Console,
    fiscal: Arc<Recorded>,
    app: App,
    cookie: String,
    csrf: String,
    tenant: String,
}

async fn setup(reachable: bool) -> Setup {
    let store = Arc::new(SqliteStore::open_temporary().unwrap());
    let blobs = Arc::new(MemoryBlobs::default());
    // The fiscal function's App and the console's share the store and the files, as the functions share the
    // table and the bucket.
    let app = App::over(store.clone()).with_blobs(blobs.clone());
    let fiscal = Arc::new(Recorded {
        function: reachable.then(|| InProcess::new(app.clone(), Function::FiscalAdmin)),
        events: Mutex::default(),
    });
    let key = SessionKey::new(unique().into_bytes()).unwrap();
    let tenant = format!("fwd-{}", &unique()[..8]);
    let t = TenantId::parse(&tenant).unwrap();
    let session = Session::new(
        &t,
        &UserId::parse("fin-1").unwrap(),
        vec![Role::Financeiro],
        "Fin",
        chrono::Utc::now().timestamp(),
    );
    let cookie = format!("{COOKIE}={}", key.seal(&session));
    let csrf = key.csrf(&session);
    let console = Console {
        app: App::over(store).with_blobs(blobs),
        key,
        sign_in: SignIn::Development { default_tenant: tenant.clone() },
        secure: true,
        upload_origins: vec![],
        fiscal_function: Some(fiscal.clone()),
    };
    Setup { console, fiscal, app, cookie, csrf, tenant }
}

async fn api(app: &App, call: Call) -> Value {
    let resp = osflow_api::handle(app, None, call.request()).await;
    assert!(resp.status().is_success(), "{}", resp.status());
    match resp.into_body() {
        Body::Text(t) => serde_json::from_str(&t).unwrap(),
        _ => Value::Null,
    }
}

/// An order whose labor is approved (the quote sent and approved).
async fn approved_order(s: &Setup) -> String {
    let rep = Who::representante(&s.tenant);
    let order = api(&s.app, Call::post("/v1/orders", &example_order()).by(&rep)).await;
    let id = order["id"].as_str().unwrap().to_owned();
    api(&s.app, Call::post(&format!("/v1/orders/{id}/quote/send"), &json!({})).by(&rep)).await;
    let decision = json!({"decision": "approve"});
    api(&s.app, Call::post(&format!("/v1/orders/{id}/quote/decision"), &decision).by(&rep)).await;
    id
}

async fn post_form(s: &Setup, path: &str, pairs: &[(&str, &str)]) -> Response<Body> {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    let req = lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri(format!("https://console.test{path}"))
        .header("host", "console.test")
        .header("cookie", &s.cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text(body))
        .unwrap();
    handle(&s.console, req).await
}

fn text(resp: Response<Body>) -> String {
    match resp.into_body() {
        Body::Text(t) => t,
        Body::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
        _ => String::new(),
    }
}

#[tokio::test]
async fn the_fiscal_routes_travel_to_the_fiscal_function_as_api_gateway_events_with_the_sessions_claims() {
    let s = setup(true).await;
    let id = approved_order(&s).await;
    let pdf = b"%PDF-1.4\n% NFS-e 88 da prefeitura\n%%EOF\n";
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(pdf);
    let resp = post_form(
        &s,
        &format!("/os/{id}/nfse-externa"),
        &[
            ("csrf", &s.csrf),
            ("number", "88"),
            ("verification_code", "XY-77"),
            ("file_data", &data),
            ("file_type", "application/pdf"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 303, "{}", text(resp));

    // One event, as API Gateway would have sent it: the route, its parameter, the claims, the JSON body.
    let events = s.fiscal.events.lock().unwrap().clone();
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["version"], "2.0");
    assert_eq!(e["routeKey"], "POST /v1/orders/{id}/invoices/external");
    assert_eq!(e["rawPath"], format!("/v1/orders/{id}/invoices/external"));
    assert_eq!(e["pathParameters"]["id"], id.as_str());
    assert_eq!(e["requestContext"]["http"]["method"], "POST");
    let claims = &e["requestContext"]["authorizer"]["jwt"]["claims"];
    assert_eq!(claims["custom:tenant"], s.tenant.as_str(), "{claims}");
    assert_eq!(claims["sub"], "fin-1");
    assert!(claims["cognito:groups"].as_str().unwrap().contains("financeiro"), "{claims}");
    let body: Value = serde_json::from_str(e["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["number"], 88);
    assert_eq!(body["verification_code"], "XY-77");
    assert_eq!(body["file"], json!({"content_type": "application/pdf", "data": data}));

    // The function did it: the order shows the NFS-e, and the file is the one sent.
    let fin = Who::financeiro(&s.tenant);
    let order = api(&s.app, Call::get(&format!("/v1/orders/{id}")).by(&fin)).await;
    let shown = order["invoices"].as_array().unwrap().iter().find(|d| d["key"] == "EXT88").unwrap().clone();
    assert_eq!(shown["verification_code"], "XY-77", "{shown}");
    let req = lambda_http::http::Request::builder()
        .uri(format!("https://console.test/os/{id}/nfse-externa/EXT88"))
        .header("cookie", &s.cookie)
        .body(Body::Empty)
        .unwrap();
    let file = handle(&s.console, req).await;
    assert_eq!(file.headers()["content-type"], "application/pdf");
    match file.into_body() {
        Body::Binary(b) => assert_eq!(b, pdf),
        other => panic!("{other:?}"),
    }

    // A read of the fiscal function (the inutilização page): its problem comes back as the API's (no emitter).
    let req = lambda_http::http::Request::builder()
        .uri("https://console.test/inutilizacao?ambiente=production")
        .header("cookie", &s.cookie)
        .body(Body::Empty)
        .unwrap();
    let page = handle(&s.console, req).await;
    assert_eq!(page.status(), 404);
    let e = s.fiscal.events.lock().unwrap().last().cloned().unwrap();
    assert_eq!(e["routeKey"], "GET /v1/fiscal/nfe/gaps");
    assert_eq!(e["rawQueryString"], "environment=production");
    assert_eq!(e["queryStringParameters"]["environment"], "production");
}

#[tokio::test]
async fn a_fiscal_function_that_cannot_be_reached_leaves_nothing_done() {
    let s = setup(false).await;
    let id = approved_order(&s).await;
    let resp = post_form(
        &s,
        &format!("/os/{id}/nfse-externa"),
        &[("csrf", &s.csrf), ("number", "89"), ("verification_code", "AB")],
    )
    .await;
    assert_eq!(resp.status(), 503);
    assert!(text(resp).contains("Serviço fiscal indisponível"));
    assert_eq!(s.fiscal.events.lock().unwrap().len(), 1, "asked once");
    let order = api(&s.app, Call::get(&format!("/v1/orders/{id}")).by(&Who::financeiro(&s.tenant))).await;
    assert!(order["invoices"].as_array().is_none_or(Vec::is_empty), "nothing recorded: {order}");
}
