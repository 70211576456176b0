//! Refusals: bad input, tokens and roles, tenants, uploads, the public OpenAPI document.

use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::support::*;

#[tokio::test]
async fn bad_inputs_are_refused_with_problems() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-g", "representante"));

    // Malformed JSON.
    let raw = b"{\"customer\": ".to_vec();
    api.send(reqwest::Method::POST, "/v1/orders", Some(raw), &[])
        .await
        .problem(StatusCode::BAD_REQUEST, "/problems/malformed-json");

    // Invalid CPF (check digits).
    let mut bad_cpf = example_order();
    bad_cpf["customer"]["document"] = json!("529.982.247-26");
    let p = api.post("/v1/orders", bad_cpf).await.problem(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FIELD);
    assert_eq!(p["field"], "customer.document");

    // More than two decimals in money.
    let mut bad_money = example_order();
    bad_money["items"][0]["unit_price"] = json!("149.901");
    let p = api.post("/v1/orders", bad_money).await.problem(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FIELD);
    assert_eq!(p["field"], "items[0].unit_price");

    // A body over 1 MiB.
    let mut huge = example_order();
    huge["service"]["reported_problem"] = json!("x".repeat(1024 * 1024 + 1));
    api.post("/v1/orders", huge).await.problem(StatusCode::PAYLOAD_TOO_LARGE, "/problems/payload-too-large");

    // No number was burnt by the refusals.
    let opened = api.post("/v1/orders", example_order()).await.ok(StatusCode::CREATED);
    let id = opened["id"].as_str().unwrap().to_owned();

    // A step the status does not allow: 409 naming the status.
    let p = api.step(&id, "start", json!({})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
    assert_eq!(p["status_key"], "aberta");
    assert!(p["detail"].to_string().contains("aberta") || p["status_key"] == "aberta");

    // A stale If-Match: 412 with the current version.
    let body = json!({"text": "Cliente ligou", "visible_to_customer": false}).to_string().into_bytes();
    let path = format!("/v1/orders/{id}/notes");
    let p = api
        .send(reqwest::Method::POST, &path, Some(body.clone()), &[("If-Match", "\"7\"")])
        .await
        .problem(StatusCode::PRECONDITION_FAILED, "/problems/precondition-failed");
    assert_eq!(p["current_version"], 1);
    let fresh = api.send(reqwest::Method::POST, &path, Some(body), &[("If-Match", "\"1\"")]).await;
    assert_eq!(fresh.ok(StatusCode::OK)["version"], 2);

    // Unknown route, and a known path with the wrong method.
    api.get("/v1/nada").await.problem(StatusCode::NOT_FOUND, "/problems/not-found");
    let resp = api.send(reqwest::Method::DELETE, &format!("/v1/orders/{id}"), None, &[]).await;
    let allow = resp.headers.get(header::ALLOW).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    resp.problem(StatusCode::METHOD_NOT_ALLOWED, "/problems/method-not-allowed");
    assert!(allow.contains("GET"), "Allow: {allow}");

    // An id that is not an order id.
    api.get("/v1/orders/nao-e-um-id").await.problem(StatusCode::NOT_FOUND, "/problems/not-found");
}

#[tokio::test]
async fn tokens_and_roles_are_checked() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-h", "representante"));
    let id = rep.open_example().await;
    let path = format!("/v1/orders/{id}");

    // Missing token.
    let p = local.anonymous().get(&path).await.problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated");
    assert_eq!(p["title"], "Autenticação necessária");
    // Not a bearer token.
    let p = local.anonymous().send(reqwest::Method::GET, &path, None, &[("Authorization", "Basic Zm9vOmJhcg==")]).await;
    p.problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated");

    // Expired: signed with the real key, expired an hour ago.
    let key = std::fs::read(dir.path().join("token.key")).expect("the token key is in the data folder");
    let expired = sign(
        &key,
        json!({"custom:tenant": "oficina-h", "sub": "x", "cognito:groups": ["representante"],
                                    "iss": "osflow-local", "iat": unix_now() - 7200, "exp": unix_now() - 3600}),
    );
    let p = rep.with_token(&expired).get(&path).await.problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated");
    assert_eq!(p["title"], "Autenticação necessária");

    // Forged: the right claims, another key.
    let forged = sign(
        b"not the key of this installation, not at all, no",
        json!({"custom:tenant": "oficina-h", "sub": "x",
        "cognito:groups": ["representante"], "iss": "osflow-local", "iat": unix_now(), "exp": unix_now() + 3600}),
    );
    rep.with_token(&forged).get(&path).await.problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated");
    // Signed by hand with the real key: a standard HS256 token from another signer is accepted…
    let claims = json!({"custom:tenant": "oficina-h", "sub": "x", "cognito:groups": ["representante"],
                        "iss": "osflow-local", "iat": unix_now(), "exp": unix_now() + 3600});
    let by_hand = sign(&key, claims.clone());
    rep.with_token(&by_hand).get(&path).await.ok(StatusCode::OK);
    // …but not unsigned (alg none) nor under another algorithm, whatever the signature says.
    {
        use base64::Engine as _;
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let payload = b64(claims.to_string().as_bytes());
        let signature = by_hand.rsplit('.').next().expect("a signature");
        for header in [r#"{"alg":"none","typ":"JWT"}"#, r#"{"alg":"HS512","typ":"JWT"}"#] {
            for token in [
                format!("{}.{payload}.", b64(header.as_bytes())),
                format!("{}.{payload}.{signature}", b64(header.as_bytes())),
            ] {
                rep.with_token(&token).get(&path).await.problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated");
            }
        }
    }
    // Tampered: a valid token with its payload swapped for another tenant's.
    let good = local.token("oficina-h", "representante");
    let other = local.token("oficina-x", "representante");
    let parts: Vec<&str> = good.split('.').collect();
    let other_parts: Vec<&str> = other.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], other_parts[1], parts[2]);
    rep.with_token(&tampered).get(&path).await.problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated");
    // Garbage.
    rep.with_token("abc.def.ghi").get(&path).await.problem(StatusCode::UNAUTHORIZED, "/problems/unauthenticated");

    // Roles: a técnico registers no payment, a financeiro opens no order, only the representante edits the flow.
    let tecnico = rep.with_token(&local.token("oficina-h", "tecnico"));
    let financeiro = rep.with_token(&local.token("oficina-h", "financeiro"));
    walk_to(&rep, &id, "aprovada").await;
    tecnico
        .step(&id, "payments", json!({"amount": "10.00", "method": "pix"}))
        .await
        .problem(StatusCode::FORBIDDEN, FORBIDDEN);
    financeiro.post("/v1/orders", example_order()).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);
    tecnico.get("/v1/flow/versions").await.problem(StatusCode::FORBIDDEN, FORBIDDEN);
    // But every role reads.
    assert_eq!(tecnico.order(&id).await["id"], id.as_str());
}

/// Another company's order is indistinguishable from a missing one, for reads and for steps.
#[tokio::test]
async fn tenants_are_isolated() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let a = local.api(&local.token("empresa-a", "representante"));
    let b = local.api(&local.token("empresa-b", "representante"));
    let id = a.open_example().await;
    a.step_ok(&id, "quote/send", json!({})).await;

    b.get(&format!("/v1/orders/{id}")).await.problem(StatusCode::NOT_FOUND, "/problems/not-found");
    b.get(&format!("/v1/orders/{id}/timeline")).await.problem(StatusCode::NOT_FOUND, "/problems/not-found");
    b.step(&id, "quote/decision", json!({"decision": "approve"}))
        .await
        .problem(StatusCode::NOT_FOUND, "/problems/not-found");
    b.step(&id, "cancel", json!({"reason": "Sonda"})).await.problem(StatusCode::NOT_FOUND, "/problems/not-found");
    b.put(
        &format!("/v1/orders/{id}/quote"),
        json!({"items": [{"kind": "labor", "description": "X", "quantity": "1", "unit_price": "1.00"}]}),
    )
    .await
    .problem(StatusCode::NOT_FOUND, "/problems/not-found");
    let listed = b.get("/v1/orders?status=aguardando_aprovacao").await.ok(StatusCode::OK);
    assert!(list_ids(&listed).is_empty(), "company B lists none of A's orders: {listed}");
    let history = b.get("/v1/customers/52998224725/orders").await.ok(StatusCode::OK);
    assert!(list_ids(&history).is_empty(), "company B sees none of A's customer history: {history}");
    // B's own numbering starts at 1.
    assert_eq!(b.post("/v1/orders", example_order()).await.ok(StatusCode::CREATED)["number"], 1);
    // A's order is untouched.
    let order = a.order(&id).await;
    assert_eq!(order["status"], "aguardando_aprovacao");
    assert_eq!(staff_event_types(&a, &id).await, ["order.opened", "order.quote_sent"]);
    // A published flow is the company's own.
    let mut def = b.get("/v1/flow").await.ok(StatusCode::OK);
    def.as_object_mut().unwrap().remove("version");
    b.put("/v1/flow", def).await.ok(StatusCode::OK);
    assert_eq!(a.get("/v1/flow").await.ok(StatusCode::OK)["version"], 1);
}

/// An attachment is recorded with a presigned upload form; the file goes to the data folder with a
/// `multipart/form-data` POST of that form, as to S3: only with the signed fields untouched, a file of at most
/// `max_bytes` and not empty.
#[tokio::test]
async fn attachments_are_uploaded_through_the_presigned_form() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-k", "tecnico"));
    let id = api.open_example().await;
    let created = api
        .step(
            &id,
            "attachments",
            json!({"content_type": "image/jpeg", "caption": "Placa antes da limpeza",
                                          "visible_to_customer": true}),
        )
        .await
        .ok(StatusCode::CREATED);
    assert_eq!(created["upload"]["method"], "POST");
    let max = created["upload"]["max_bytes"].as_u64().expect("max_bytes");
    assert_eq!(max, 8 * 1024 * 1024);
    let url = created["upload"]["url"].as_str().expect("an upload URL").to_owned();
    let key = created["attachment"]["key"].as_str().expect("a key").to_owned();
    assert_eq!(url, format!("{}/blobs/oficina-k/{key}", local.url), "uploads go to this server");
    assert_eq!(created["order"]["attachments"].as_array().map(Vec::len), Some(1));
    let fields: Vec<(String, String)> = created["upload"]["fields"]
        .as_object()
        .expect("the form's fields")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a text field").to_owned()))
        .collect();

    let photo = b"\xff\xd8\xff\xe0 a photo of the board".to_vec();
    let http = http_client();
    let post = |url: String, change: Option<(&'static str, String)>, file: Vec<u8>| {
        let mut fields = fields.clone();
        if let Some((name, value)) = change {
            fields.iter_mut().filter(|(n, _)| n == name).for_each(|(_, v)| *v = value.clone());
        }
        let (content_type, body) = multipart_form(&fields, &file);
        http.post(url).header(header::CONTENT_TYPE, content_type).body(body).send()
    };
    let status = |r: reqwest::Response| r.status();
    let refused = post(url.clone(), Some(("Content-Type", "image/png".into())), photo.clone()).await.unwrap();
    assert_eq!(status(refused), StatusCode::FORBIDDEN, "another content type than the signed one");
    let refused = post(url.clone(), Some(("signature", "0".repeat(64))), photo.clone()).await.unwrap();
    assert_eq!(status(refused), StatusCode::FORBIDDEN, "a tampered signature");
    let refused = post(url.clone(), Some(("max-bytes", (max * 2).to_string())), photo.clone()).await.unwrap();
    assert_eq!(status(refused), StatusCode::FORBIDDEN, "a raised size limit");
    let other = url.replace("/blobs/oficina-k/", "/blobs/oficina-z/");
    assert_eq!(status(post(other, None, photo.clone()).await.unwrap()), StatusCode::FORBIDDEN, "another company");
    let too_big = vec![0xffu8; usize::try_from(max).unwrap() + 1];
    assert_eq!(status(post(url.clone(), None, too_big).await.unwrap()), StatusCode::PAYLOAD_TOO_LARGE, "over max");
    let empty = status(post(url.clone(), None, Vec::new()).await.unwrap());
    assert!(empty.is_client_error(), "an empty file is refused: {empty}");
    let file = std::path::Path::new(dir.path()).join("blobs").join("oficina-k").join(&key);
    assert!(!file.exists(), "nothing stored by a refused upload");
    assert_eq!(status(post(url.clone(), None, photo.clone()).await.unwrap()), StatusCode::NO_CONTENT);
    assert_eq!(std::fs::read(&file).expect("the stored file"), photo);
    let exact = vec![0xffu8; usize::try_from(max).unwrap()];
    assert_eq!(status(post(url.clone(), None, exact).await.unwrap()), StatusCode::NO_CONTENT, "max_bytes exactly");
}

/// A `multipart/form-data` body as a browser sends an HTML form (RFC 7578): the text fields, then the file as
/// `file`. Written here, apart from the server's parser.
fn multipart_form(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----osflow-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"foto.jpg\"\r\n\
             Content-Type: image/jpeg\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The OpenAPI document is public, as its API Gateway route has no authorizer.
#[tokio::test]
async fn the_openapi_document_needs_no_token() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let doc = local.anonymous().get("/v1/openapi.json").await.ok(StatusCode::OK);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")),
        "an OpenAPI 3.1 document: {}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/v1/orders/{id}/start"].is_object(), "with the step routes");
}

/// An HS256 JWT made by hand (RFC 7519 over RFC 7515's compact form), independent of the code under test.
fn sign(key: &[u8], claims: Value) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::{KeyInit, Mac};
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims"));
    let signing_input = format!("{header}.{payload}");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}
