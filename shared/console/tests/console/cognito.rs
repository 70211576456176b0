//! The Cognito sign-in over real HTTP. The emulator (moto) holds the user pool, its app clients, the staff user
//! (custom:tenant, a group per role) and issues its RS256 ID tokens, whose keys it serves at the pool's JWKS
//! address; it has no hosted UI, so a stand-in server plays `/oauth2/authorize` (the user signs in, the browser
//! is sent back with a code) and `/oauth2/token` (the code is exchanged once, for the verifier whose S256 hash
//! was the challenge, for the emulator's ID token of the user). The console is called as API Gateway calls the
//! function.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};
use osflow_app::App;
use osflow_console::cognito::{Cognito, CognitoConfig, PKCE_COOKIE, challenge};
use osflow_console::session::COOKIE;
use osflow_console::{Console, SessionKey, SignIn, handle};
use osflow_domain::Role;
use osflow_store_sqlite::SqliteStore;
use osflow_testkit::unique;
use serde_json::{Value, json};

const HOST: &str = "console.test";
const CALLBACK: &str = "https://console.test/entrar/retorno";
const PASSWORD: &str = "Senha-forte-123";

fn endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:45660".into())
}

/// One call of the emulator's Cognito JSON API (the SDK crate of Cognito is not a dependency of the workspace
/// for six calls of a test; the emulator does not check signatures, only which service the credential names).
async fn moto(action: &str, body: Value) -> Value {
    // reqwest is built on rustls without a default provider: ring, as everywhere in the workspace.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let resp = reqwest::Client::new()
        .post(format!("{}/", endpoint()))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{action}"))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("the AWS emulator at {} (cognito-idp {action}): {e}", endpoint()));
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "{action}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A user pool as the template makes it: custom:tenant, a group per role, the console's app client (code flow,
/// PKCE, public) and another client of the same pool.
struct Pool {
    id: String,
    console_client: String,
    other_client: String,
}

async fn client(pool: &str, name: &str) -> String {
    let c = moto(
        "CreateUserPoolClient",
        json!({"UserPoolId": pool, "ClientName": name, "GenerateSecret": false,
               "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": true,
               "AllowedOAuthScopes": ["openid", "email", "profile"], "SupportedIdentityProviders": ["COGNITO"],
               "CallbackURLs": [CALLBACK], "LogoutURLs": ["https://console.test/entrar"],
               "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await;
    c["UserPoolClient"]["ClientId"].as_str().unwrap().to_owned()
}

async fn pool() -> Pool {
    let p = moto(
        "CreateUserPool",
        json!({"PoolName": format!("staff-{}", unique()), "UsernameAttributes": ["email"],
               "Schema": [{"Name": "tenant", "AttributeDataType": "String", "Mutable": true}]}),
    )
    .await;
    let id = p["UserPool"]["Id"].as_str().unwrap().to_owned();
    // A group per role, and groups of the pool that are not osflow roles.
    for group in Role::ALL.iter().map(|r| r.as_str()).chain(["not-a-role", "visitante"]) {
        moto("CreateGroup", json!({"UserPoolId": id, "GroupName": group})).await;
    }
    Pool { console_client: client(&id, "console").await, other_client: client(&id, "app").await, id }
}

async fn user(pool: &Pool, email: &str, tenant: Option<&str>, groups: &[&str]) {
    let mut attributes = vec![json!({"Name": "email", "Value": email})];
    if let Some(t) = tenant {
        attributes.push(json!({"Name": "custom:tenant", "Value": t}));
    }
    moto(
        "AdminCreateUser",
        json!({"UserPoolId": pool.id, "Username": email, "UserAttributes": attributes, "MessageAction": "SUPPRESS"}),
    )
    .await;
    moto(
        "AdminSetUserPassword",
        json!({"UserPoolId": pool.id, "Username": email, "Password": PASSWORD, "Permanent": true}),
    )
    .await;
    for g in groups {
        moto("AdminAddUserToGroup", json!({"UserPoolId": pool.id, "Username": email, "GroupName": g})).await;
    }
}

/// What the stand-in remembers of each code it handed out.
#[derive(Clone)]
struct Grant {
    challenge: String,
    redirect_uri: String,
    client_id: String,
}

/// The stand-in hosted UI: the user who "signs in" at its authorize page, and whose client's token it hands out.
struct HostedUi {
    pool: String,
    client_id: String,
    /// The app client whose ID token the token endpoint returns (another one: a token not meant for the console).
    token_client: Mutex<String>,
    email: Mutex<String>,
    /// Hands out the token with its payload changed (another company), the signature kept.
    tamper: Mutex<bool>,
    codes: Mutex<HashMap<String, Grant>>,
    /// What the token endpoint was sent, for the assertions.
    exchanges: Mutex<Vec<HashMap<String, String>>>,
}

fn reply(status: u16, headers: &[(&str, String)], body: String) -> hyper::Response<Full<Bytes>> {
    let mut b = hyper::Response::builder().status(status);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    b.body(Full::new(Bytes::from(body))).unwrap()
}

async fn serve_idp(ui: Arc<HostedUi>, req: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let query: HashMap<String, String> =
        req.uri().query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let method = req.method().clone();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    match (method.as_str(), path.as_str()) {
        ("GET", "/oauth2/authorize") => {
            let ok = query.get("response_type").map(String::as_str) == Some("code")
                && query.get("client_id") == Some(&ui.client_id)
                && query.get("redirect_uri").map(String::as_str) == Some(CALLBACK)
                && query.get("code_challenge_method").map(String::as_str) == Some("S256")
                && query.get("scope").is_some_and(|s| s.split(' ').any(|s| s == "openid"));
            if !ok {
                return reply(400, &[], "invalid_request".into());
            }
            let code = unique();
            let grant = Grant {
                challenge: query["code_challenge"].clone(),
                redirect_uri: query["redirect_uri"].clone(),
                client_id: query["client_id"].clone(),
            };
            ui.codes.lock().unwrap().insert(code.clone(), grant);
            let back = form_urlencoded::Serializer::new(String::new())
                .append_pair("code", &code)
                .append_pair("state", &query["state"])
                .finish();
            reply(302, &[("location", format!("{CALLBACK}?{back}"))], String::new())
        }
        ("POST", "/oauth2/token") => {
            let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
            ui.exchanges.lock().unwrap().push(form.clone());
            let invalid =
                || reply(400, &[("content-type", "application/json".into())], r#"{"error":"invalid_grant"}"#.into());
            // A code is good once.
            let Some(grant) = form.get("code").and_then(|c| ui.codes.lock().unwrap().remove(c)) else {
                return invalid();
            };
            let verifier = form.get("code_verifier").cloned().unwrap_or_default();
            if form.get("grant_type").map(String::as_str) != Some("authorization_code")
                || form.get("client_id") != Some(&grant.client_id)
                || form.get("redirect_uri") != Some(&grant.redirect_uri)
                || challenge(&verifier) != grant.challenge
            {
                return invalid();
            }
            let client = ui.token_client.lock().unwrap().clone();
            let email = ui.email.lock().unwrap().clone();
            let auth = moto(
                "AdminInitiateAuth",
                json!({"UserPoolId": ui.pool, "ClientId": client, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": email, "PASSWORD": PASSWORD}}),
            )
            .await;
            let r = &auth["AuthenticationResult"];
            let mut id_token = r["IdToken"].as_str().unwrap().to_owned();
            if *ui.tamper.lock().unwrap() {
                id_token = tampered(&id_token);
            }
            let tokens = json!({"id_token": id_token, "access_token": r["AccessToken"], "token_type": "Bearer",
                                "expires_in": 3600});
            reply(200, &[("content-type", "application/json".into())], tokens.to_string())
        }
        _ => reply(404, &[], String::new()),
    }
}

/// The token with `custom:tenant` changed to another company, its signature kept.
fn tampered(token: &str) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["custom:tenant"] = json!("outra-empresa");
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

/// Starts the stand-in on a free loopback port; its base URL.
async fn start_idp(ui: Arc<HostedUi>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let ui = ui.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let ui = ui.clone();
                    async move { Ok::<_, Infallible>(serve_idp(ui, req).await) }
                });
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    format!("http://{addr}")
}

struct Setup {
    console: Console,
    ui: Arc<HostedUi>,
    pool: Pool,
    idp: String,
}

async fn setup() -> Setup {
    let pool = pool().await;
    let ui = Arc::new(HostedUi {
        pool: pool.id.clone(),
        client_id: pool.console_client.clone(),
        token_client: Mutex::new(pool.console_client.clone()),
        email: Mutex::new(String::new()),
        tamper: Mutex::new(false),
        codes: Mutex::new(HashMap::new()),
        exchanges: Mutex::new(Vec::new()),
    });
    let idp = start_idp(ui.clone()).await;
    let mut config = CognitoConfig::new(
        &idp,
        &pool.console_client,
        &format!("https://cognito-idp.us-east-1.amazonaws.com/{}", pool.id),
    );
    // The emulator serves the pool's keys under its own address (Cognito: the issuer's).
    config.jwks_url = format!("{}/{}/.well-known/jwks.json", endpoint(), pool.id);
    let console = Console {
        app: App::over(Arc::new(SqliteStore::open_temporary().unwrap())),
        key: SessionKey::new(unique().into_bytes()).unwrap(),
        sign_in: SignIn::Cognito(Arc::new(Cognito::new(config).unwrap())),
        secure: true,
        upload_origins: vec![],
        fiscal_function: None,
    };
    Setup { console, ui, pool, idp }
}

/// A request as API Gateway hands it to the function (the host of the API's domain).
fn get(path_and_query: &str, cookies: &[String]) -> Request {
    let mut b =
        lambda_http::http::Request::builder().method(Method::GET).uri(path_and_query).header(header::HOST, HOST);
    if !cookies.is_empty() {
        b = b.header(header::COOKIE, cookies.join("; "));
    }
    b.body(Body::Empty).unwrap()
}

fn set_cookies(resp: &Response<Body>) -> Vec<String> {
    resp.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// `name=value` of the Set-Cookie of `name`, with its attributes.
fn cookie_named<'a>(set: &'a [String], name: &str) -> Option<&'a String> {
    set.iter().find(|c| c.starts_with(&format!("{name}=")))
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

fn location(resp: &Response<Body>) -> String {
    resp.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn text(resp: Response<Body>) -> String {
    match resp.into_body() {
        Body::Text(t) => t,
        Body::Binary(b) => String::from_utf8(b).unwrap(),
        _ => String::new(),
    }
}

/// The browser at the hosted UI: follows the authorize URL and comes back with Cognito's redirect.
async fn at_hosted_ui(authorize: &str) -> reqwest::Response {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    browser.get(authorize).send().await.unwrap()
}

/// From `GET /entrar` to Cognito's redirect back: (the callback's path and query, the sign-in cookie).
async fn sign_in_at_cognito(s: &Setup, email: &str) -> (String, String) {
    *s.ui.email.lock().unwrap() = email.to_owned();
    let start = handle(&s.console, get("/entrar", &[])).await;
    assert_eq!(start.status(), 303);
    let set = set_cookies(&start);
    let pkce = cookie_named(&set, PKCE_COOKIE).expect("the sign-in cookie").clone();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/entrar"] {
        assert!(pkce.contains(attribute), "{pkce}: {attribute}");
    }
    let authorize = location(&start);
    assert!(authorize.starts_with(&format!("{}/oauth2/authorize?", s.idp)), "{authorize}");
    let back = at_hosted_ui(&authorize).await;
    assert_eq!(back.status(), 302, "the stand-in accepted the authorize request");
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let path = callback.strip_prefix("https://console.test").expect("back to the registered callback").to_owned();
    (path, pair(&pkce))
}

#[tokio::test]
async fn a_staff_member_signs_in_through_the_hosted_ui_with_pkce_and_gets_a_session_with_the_apis_claims() {
    let s = setup().await;
    user(&s.pool, "ana@oficina.com.br", Some("oficina-ana"), &["tecnico", "atendente", "not-a-role"]).await;

    // No session: the board sends the browser to the sign-in, which sends it to Cognito.
    let board = handle(&s.console, get("/", &[])).await;
    assert_eq!((board.status().as_u16(), location(&board).as_str()), (303, "/entrar"));
    let (callback, pkce) = sign_in_at_cognito(&s, "ana@oficina.com.br").await;

    let done = handle(&s.console, get(&callback, std::slice::from_ref(&pkce))).await;
    assert_eq!(done.status(), 200);
    let set = set_cookies(&done);
    let session = cookie_named(&set, COOKIE).expect("the session cookie").clone();
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attribute), "{session}: {attribute}");
    }
    assert!(cookie_named(&set, PKCE_COOKIE).is_some_and(|c| c.contains("Max-Age=0")), "the sign-in cookie is spent");
    assert!(text(done).contains(r#"http-equiv="refresh" content="0;url=/""#), "a same-site step to the board");

    // The code went with the verifier whose S256 hash was the challenge (the stand-in checked it).
    let exchanges = s.ui.exchanges.lock().unwrap().clone();
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0]["client_id"], s.pool.console_client);
    assert_eq!(exchanges[0]["redirect_uri"], CALLBACK);
    assert!(exchanges[0]["code_verifier"].len() >= 43);

    // The session holds what the API would trust from the same token.
    let value = pair(&session).split_once('=').unwrap().1.to_owned();
    let opened = s.console.key.open(&value, chrono::Utc::now().timestamp()).expect("a sealed session");
    assert_eq!(opened.tenant, "oficina-ana");
    assert_eq!(opened.roles, vec![Role::Atendente, Role::Tecnico], "the osflow roles among the groups");
    assert_eq!(opened.display, "ana@oficina.com.br");
    assert!(!opened.user.is_empty() && opened.user != opened.display, "the user is the token's sub");

    // The board opens with it, and shows who is signed in.
    let board = handle(&s.console, get("/", &[pair(&session)])).await;
    assert_eq!(board.status(), 200);
    let html = text(board);
    assert!(html.contains("ana@oficina.com.br"), "{html}");
    // Sign-out ends Cognito's session too and comes back to the console's sign-in.
    let csrf = s.console.key.csrf(&opened);
    let out = handle(
        &s.console,
        lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("/sair")
            .header(header::HOST, HOST)
            .header(header::COOKIE, pair(&session))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::Text(format!("csrf={csrf}")))
            .unwrap(),
    )
    .await;
    assert_eq!(out.status(), 303);
    let to = location(&out);
    assert!(to.starts_with(&format!("{}/logout?", s.idp)), "{to}");
    assert!(to.contains("logout_uri=https%3A%2F%2Fconsole.test%2Fentrar"), "{to}");
    assert!(cookie_named(&set_cookies(&out), COOKIE).is_some_and(|c| c.contains("Max-Age=0")));
    let csp = out.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().to_owned();
    assert!(csp.contains(&format!("form-action 'self' {}", s.idp)), "{csp}");
}

#[tokio::test]
async fn a_callback_without_its_own_sign_in_or_with_a_reused_code_makes_no_session() {
    let s = setup().await;
    user(&s.pool, "bia@oficina.com.br", Some("oficina-bia"), &["financeiro"]).await;
    let no_session = |resp: &Response<Body>| cookie_named(&set_cookies(resp), COOKIE).is_none();

    // A callback with no sign-in cookie (a code injected from elsewhere): refused, nothing exchanged.
    let (callback, pkce) = sign_in_at_cognito(&s, "bia@oficina.com.br").await;
    let refused = handle(&s.console, get(&callback, &[])).await;
    assert_eq!(refused.status(), 400);
    assert!(no_session(&refused));
    assert!(s.ui.exchanges.lock().unwrap().is_empty(), "no code is sent without the verifier's cookie");

    // Another sign-in's cookie (state mismatch).
    let (_, other_pkce) = sign_in_at_cognito(&s, "bia@oficina.com.br").await;
    let refused = handle(&s.console, get(&callback, std::slice::from_ref(&other_pkce))).await;
    assert_eq!(refused.status(), 400);
    assert!(no_session(&refused));

    // A forged cookie: the state of this sign-in with another verifier, unsigned.
    let (name, value) = pkce.split_once('=').unwrap();
    let (signed, _) = value.rsplit_once('.').unwrap();
    let mut parts: Vec<&str> = signed.split('.').collect();
    parts[1] = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let forged = format!("{name}={}.AAAA", parts.join("."));
    let refused = handle(&s.console, get(&callback, &[forged])).await;
    assert_eq!(refused.status(), 400);
    assert!(no_session(&refused));
    assert!(s.ui.exchanges.lock().unwrap().is_empty());

    // Its own cookie: signed in; the same callback again: the code is spent at the token endpoint.
    let ok = handle(&s.console, get(&callback, std::slice::from_ref(&pkce))).await;
    assert_eq!(ok.status(), 200);
    assert!(!no_session(&ok));
    let again = handle(&s.console, get(&callback, std::slice::from_ref(&pkce))).await;
    assert_eq!(again.status(), 503);
    assert!(no_session(&again));
    let page = text(again);
    assert!(page.contains("Não foi possível entrar") && page.contains(r#"href="/entrar""#), "{page}");

    // Cognito's own refusal (the user cancelled): no exchange.
    let (callback, pkce) = sign_in_at_cognito(&s, "bia@oficina.com.br").await;
    let state = callback.split("state=").nth(1).unwrap().to_owned();
    let before = s.ui.exchanges.lock().unwrap().len();
    let refused = handle(&s.console, get(&format!("/entrar/retorno?error=access_denied&state={state}"), &[pkce])).await;
    assert_eq!(refused.status(), 400);
    assert!(no_session(&refused));
    assert_eq!(s.ui.exchanges.lock().unwrap().len(), before);
}

#[tokio::test]
async fn a_token_of_another_client_or_without_a_company_or_role_makes_no_session() {
    let s = setup().await;
    user(&s.pool, "caio@oficina.com.br", Some("oficina-caio"), &["representante"]).await;
    user(&s.pool, "sem-empresa@oficina.com.br", None, &["representante"]).await;
    user(&s.pool, "sem-papel@oficina.com.br", Some("oficina-caio"), &["visitante"]).await;

    // The pool's other app client's ID token (valid signature and issuer, audience not the console's).
    *s.ui.token_client.lock().unwrap() = s.pool.other_client.clone();
    let (callback, pkce) = sign_in_at_cognito(&s, "caio@oficina.com.br").await;
    let refused = handle(&s.console, get(&callback, &[pkce])).await;
    assert_eq!(refused.status(), 400);
    assert!(cookie_named(&set_cookies(&refused), COOKIE).is_none());
    *s.ui.token_client.lock().unwrap() = s.pool.console_client.clone();

    for email in ["sem-empresa@oficina.com.br", "sem-papel@oficina.com.br"] {
        let (callback, pkce) = sign_in_at_cognito(&s, email).await;
        let refused = handle(&s.console, get(&callback, &[pkce])).await;
        assert_eq!(refused.status(), 403, "{email}");
        assert!(cookie_named(&set_cookies(&refused), COOKIE).is_none(), "{email}");
        assert!(text(refused).contains("não tem empresa ou papel"), "{email}");
    }

    // A token whose payload was changed after Cognito signed it (another company).
    *s.ui.tamper.lock().unwrap() = true;
    let (callback, pkce) = sign_in_at_cognito(&s, "caio@oficina.com.br").await;
    let refused = handle(&s.console, get(&callback, &[pkce])).await;
    assert_eq!(refused.status(), 400);
    assert!(cookie_named(&set_cookies(&refused), COOKIE).is_none());
    *s.ui.tamper.lock().unwrap() = false;

    // The same user of the console's client signs in.
    let (callback, pkce) = sign_in_at_cognito(&s, "caio@oficina.com.br").await;
    let ok = handle(&s.console, get(&callback, &[pkce])).await;
    assert_eq!(ok.status(), 200);
    assert!(cookie_named(&set_cookies(&ok), COOKIE).is_some());
}

#[tokio::test]
async fn the_development_sign_in_is_not_served_in_aws() {
    let s = setup().await;
    let resp = handle(
        &s.console,
        lambda_http::http::Request::builder()
            .method(Method::POST)
            .uri("/entrar")
            .header(header::HOST, HOST)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::Text("tenant=oficina&role=representante".into()))
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), 404);
    assert!(cookie_named(&set_cookies(&resp), COOKIE).is_none());
    // The API's paths are not the console's (the catch-all route of the HTTP API sees what no route serves).
    let api = handle(&s.console, get("/v1/nada", &[])).await;
    assert_eq!(api.status(), 404);
    assert_eq!(api.headers()[header::CONTENT_TYPE], "application/problem+json");
}

#[tokio::test]
async fn an_id_token_is_checked_for_its_signature_issuer_audience_use_and_expiry() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let s = setup().await;
    user(&s.pool, "davi@oficina.com.br", Some("oficina-davi"), &["atendente"]).await;
    let SignIn::Cognito(cognito) = &s.console.sign_in else { unreachable!() };
    let token = |client: &str| {
        let client = client.to_owned();
        let pool = s.pool.id.clone();
        async move {
            let auth = moto(
                "AdminInitiateAuth",
                json!({"UserPoolId": pool, "ClientId": client, "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
                       "AuthParameters": {"USERNAME": "davi@oficina.com.br", "PASSWORD": PASSWORD}}),
            )
            .await;
            (
                auth["AuthenticationResult"]["IdToken"].as_str().unwrap().to_owned(),
                auth["AuthenticationResult"]["AccessToken"].as_str().unwrap().to_owned(),
            )
        }
    };
    let now = chrono::Utc::now().timestamp();
    let (id, access) = token(&s.pool.console_client).await;
    let (caller, display) = cognito.verify(&id, now).await.expect("the emulator's token verifies");
    assert_eq!(
        (caller.tenant.as_str(), caller.roles.as_slice(), display.as_str()),
        ("oficina-davi", &[Role::Atendente][..], "davi@oficina.com.br")
    );
    // Expired an hour (and the leeway) later.
    assert!(cognito.verify(&id, now + 3600 + 120).await.is_err(), "expired");
    // The access token of the same client: not an ID token.
    assert!(cognito.verify(&access, now).await.is_err(), "an access token");
    // Another client's ID token.
    let (other, _) = token(&s.pool.other_client).await;
    assert!(cognito.verify(&other, now).await.is_err(), "another audience");
    // alg none, the payload kept.
    let parts: Vec<&str> = id.split('.').collect();
    let none = format!("{}.{}.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"dummy"}"#), parts[1]);
    assert!(cognito.verify(&none, now).await.is_err(), "alg none");
    // Another issuer (another pool's tokens are signed by the same emulator key: the issuer tells them apart).
    let mut config = cognito.config.clone();
    config.issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_outro".into();
    let elsewhere = Cognito::new(config).unwrap();
    assert!(elsewhere.verify(&id, now).await.is_err(), "another issuer");
}
