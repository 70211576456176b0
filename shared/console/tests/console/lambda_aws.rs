//! The console's Lambda API client (`forward::LambdaFunction`, feature `aws`) against the AWS emulator over HTTP.
//!
//! moto keeps functions and answers Invoke, but it runs a function's code only in a Docker container (there is no
//! Docker daemon here, and moto's images are its own runtimes, not a provided.al2023 bootstrap): with its
//! `lambda.use_docker` setting off (moto's config API), its Lambda answers an invocation with the payload it got,
//! or with the answers queued at `/moto-api/static/lambda-simple/response`. So the emulator shows the event reaching
//! the Invoke API unchanged (the function's name, the credentials, the payload) and a queued HTTP API response
//! read as the API's answer (the docker-less backend answers even for a function that does not exist, so the
//! Lambda API's refusals are not checked against it); the fiscal function's handler behind such an event is
//! tested through `InProcess` (the `forward` module, and the browser tests of osflow-local). What moto cannot
//! produce — a function that ran and failed (`X-Amz-Function-Error`), the Lambda API's refusals — is played by a
//! small HTTP server of the test, over real HTTP too.
//!
//! This test runs its own moto server (the same one `scripts/test` starts, from `$OSFLOW_VENV`, on a free port):
//! once a Lambda function exists in a moto server, its `/moto-api/data.json` (how the SES tests read the e-mails
//! sent) answers 500, since listing the function asks for a Docker client; and the docker-less setting and the
//! queued answers are the whole server's. Nothing of it reaches the emulator the other tests share.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, Runtime};
use lambda_http::http::Method;
use osflow_app::Caller;
use osflow_console::forward::{Forward, FunctionInvoker, InvokeError, LambdaFunction, answered, event, forward};
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use osflow_testkit::unique;
use serde_json::{Value, json};

/// A moto server of this test's own, stopped when dropped.
struct OwnEmulator {
    child: std::process::Child,
    url: String,
}

impl Drop for OwnEmulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a moto server from the project's virtualenv (`OSFLOW_VENV`, set by `scripts/test`; else `.venv` at the
/// workspace root) on a free loopback port, and waits until it answers.
async fn own_emulator() -> OwnEmulator {
    let venv = std::env::var_os("OSFLOW_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv"));
    let server = venv.join("bin/moto_server");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new(&server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{} (scripts/setup installs it): {e}", server.display()));
    let own = OwnEmulator { child, url: format!("http://127.0.0.1:{port}") };
    for _ in 0..150 {
        if http().get(format!("{}/moto-api/", own.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            return own;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("moto did not answer at {}", own.url);
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// One call of the emulator's IAM query API (the SDK crate of IAM is not a dependency for one call of a test).
async fn create_role(endpoint: &str, name: &str) -> String {
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", name),
            ("AssumeRolePolicyDocument", &policy.to_string()),
        ])
        .finish();
    let resp = http()
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the AWS emulator at {endpoint}: {e}"));
    let status = resp.status();
    let text = resp.text().await.unwrap();
    assert!(status.is_success(), "CreateRole: {status} {text}");
    let arn = text.split("<Arn>").nth(1).and_then(|t| t.split("</Arn>").next()).expect("the role's ARN");
    arn.to_owned()
}

/// moto's Lambda without Docker: it answers invocations without running code.
async fn lambda_without_docker(endpoint: &str) {
    let r = http()
        .post(format!("{endpoint}/moto-api/config"))
        .header("content-type", "application/json")
        .body(json!({"lambda": {"use_docker": false}}).to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "moto config: {}", r.status());
}

/// The SDK configuration as the console's function builds it, its endpoint `endpoint`.
fn config(endpoint: &str) -> osflow_aws_kit::SdkConfig {
    osflow_aws_kit::sdk_config_from_vars(|name| match name {
        "AWS_ENDPOINT_URL" => Some(endpoint.to_owned()),
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("testing".into()),
        _ => None,
    })
}

/// The SDK's Lambda client on this test's emulator (to create the function).
fn client(endpoint: &str) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&config(endpoint))
}

/// A function as the template declares the fiscal one (a provided.al2023 bootstrap; moto keeps the zip).
async fn function(endpoint: &str, client: &aws_sdk_lambda::Client) -> String {
    let name = format!("fiscal-admin-{}", &unique()[..12]);
    let role = create_role(endpoint, &format!("role-{name}")).await;
    // The smallest zip there is: its end-of-central-directory record alone.
    let mut zip = b"PK\x05\x06".to_vec();
    zip.extend([0u8; 18]);
    client
        .create_function()
        .function_name(&name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateFunction: {}", osflow_aws_kit::error_text(&e)));
    name
}

fn caller() -> Caller {
    Caller {
        tenant: TenantId::parse("oficina-aws").unwrap(),
        user: UserId::parse("fin-1").unwrap(),
        roles: vec![Role::Financeiro],
    }
}

#[tokio::test]
async fn the_event_reaches_the_function_through_the_lambda_api_and_its_response_is_the_answer() {
    let own = own_emulator().await;
    let endpoint = own.url.as_str();
    lambda_without_docker(endpoint).await;
    let client = client(endpoint);
    let name = function(endpoint, &client).await;
    let fiscal = LambdaFunction::new(&config(endpoint), &name);
    let who = caller();
    let query = vec![("environment".to_owned(), "homologation".to_owned())];
    let f = Forward {
        route_key: "POST /v1/fiscal/nfe/voids".into(),
        params: vec![],
        method: Method::POST,
        path: "/v1/fiscal/nfe/voids",
        query: &query,
        caller: &who,
        body: Some(json!({"first": 5, "last": 7, "justification": "Números abandonados & <rejeitados>"}).to_string()),
    };
    // The docker-less Lambda answers with what it was given: the event crossed the Invoke API unchanged.
    let sent = event(&f);
    let echoed = fiscal.invoke(sent.clone()).await.unwrap();
    assert_eq!(echoed, sent);
    let e: Value = serde_json::from_slice(&echoed).unwrap();
    assert_eq!(e["requestContext"]["authorizer"]["jwt"]["claims"]["custom:tenant"], "oficina-aws");
    // lambda_http reads it as the request the function's handler gets.
    let req = lambda_http::request::from_str(std::str::from_utf8(&echoed).unwrap()).unwrap();
    assert_eq!((req.method(), req.uri().path()), (&Method::POST, "/v1/fiscal/nfe/voids"));
    assert_eq!(osflow_lambda_kit::caller::route_key(&req), Some("POST /v1/fiscal/nfe/voids"));

    // The function's answer (queued in the emulator, as the fiscal function's runtime would write it: a problem in
    // JSON; then an XML download in base64) is the API's answer.
    let problem = json!({"type": "/problems/fiscal-event-refused", "title": "O evento da NF-e não foi registrado",
                         "status": 409, "detail": "SEFAZ recusou a inutilização: 252"});
    let xml = "<procInutNFe versao=\"4.00\">ação &amp; &lt;</procInutNFe>";
    use base64::Engine;
    let responses = [
        json!({"statusCode": 409, "headers": {"content-type": "application/problem+json"},
               "body": problem.to_string(), "isBase64Encoded": false, "cookies": []}),
        json!({"statusCode": 200, "headers": {"content-type": "application/xml"}, "cookies": [],
               "body": base64::engine::general_purpose::STANDARD.encode(xml), "isBase64Encoded": true}),
    ];
    let queued = json!({"results": responses.iter().map(Value::to_string).collect::<Vec<_>>(), "region": "us-east-1"});
    let r = http()
        .post(format!("{endpoint}/moto-api/static/lambda-simple/response"))
        .header("content-type", "application/json")
        .body(queued.to_string())
        .send()
        .await;
    assert!(r.unwrap().status().is_success());
    let refused = forward(&fiscal, &f).await.unwrap();
    assert_eq!((refused.status, refused.content_type.as_str()), (409, "application/problem+json"));
    assert_eq!(serde_json::from_slice::<Value>(&refused.body).unwrap(), problem);
    let file = forward(&fiscal, &f).await.unwrap();
    assert_eq!(
        (file.status, file.content_type.as_str(), file.body.as_slice()),
        (200, "application/xml", xml.as_bytes())
    );
}

/// An answer of the played Lambda API: status, headers, body.
type Scripted = (u16, Vec<(&'static str, &'static str)>, &'static str);

/// What the Lambda API answers, as a small HTTP server plays it: each request recorded (path, signature, body),
/// answered with the next of `answers` (status, headers, body).
struct LambdaApi {
    answers: Mutex<Vec<Scripted>>,
    seen: Mutex<Vec<(String, String, Vec<u8>)>>,
}

async fn serve_lambda_api(api: Arc<LambdaApi>) -> String {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let api = api.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let api = api.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let auth = req.headers().get("authorization").map(|v| v.to_str().unwrap().to_owned());
                        let body = req.into_body().collect().await.unwrap().to_bytes().to_vec();
                        api.seen.lock().unwrap().push((path, auth.unwrap_or_default(), body));
                        let (status, headers, body) = api.answers.lock().unwrap().remove(0);
                        let mut response = hyper::Response::builder().status(status);
                        for (name, value) in headers {
                            response = response.header(name, value);
                        }
                        Ok::<_, Infallible>(response.body(Full::new(Bytes::from(body))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

/// What the emulator cannot produce: the function ran and failed (`X-Amz-Function-Error: Unhandled`, its error
/// document as the payload) — an error, never a response to show; the Lambda API throttling (tried again) or
/// refusing (the function did not run).
#[tokio::test]
async fn a_function_that_fails_is_an_error_not_an_answer() {
    let failed = r#"{"errorType":"Runtime.ExitError","errorMessage":"RequestId: 1 Error: Runtime exited"}"#;
    let throttled = r#"{"Type":"User","message":"Rate exceeded"}"#;
    let missing = r#"{"Type":"User","message":"Function not found: arn:aws:lambda:us-east-1:1:function:fiscal"}"#;
    let json = ("content-type", "application/json");
    let api = Arc::new(LambdaApi {
        answers: Mutex::new(vec![
            (200, vec![json, ("x-amz-function-error", "Unhandled")], failed),
            (429, vec![json, ("x-amzn-errortype", "TooManyRequestsException")], throttled),
            (200, vec![json], r#"{"statusCode":204,"headers":{},"cookies":[],"body":"","isBase64Encoded":false}"#),
            (404, vec![json, ("x-amzn-errortype", "ResourceNotFoundException")], missing),
        ]),
        seen: Mutex::new(Vec::new()),
    });
    let endpoint = serve_lambda_api(api.clone()).await;
    let fiscal = LambdaFunction::new(&config(&endpoint), "arn:aws:lambda:us-east-1:1:function:fiscal");
    match fiscal.invoke(b"{\"a\":1}".to_vec()).await {
        Err(InvokeError::Failed(m)) => assert!(m.starts_with("Unhandled") && m.contains("Runtime exited"), "{m}"),
        other => panic!("{other:?}"),
    }
    // Throttled, then answered: the second attempt's answer.
    let answer = fiscal.invoke(b"{}".to_vec()).await.unwrap();
    assert_eq!(answered(&answer).unwrap().status, 204);
    // Refused: the function did not run.
    match fiscal.invoke(b"{}".to_vec()).await {
        Err(InvokeError::Unavailable(m)) => {
            assert!(m.starts_with("ResourceNotFoundException: Function not found"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let seen = api.seen.lock().unwrap();
    assert_eq!(seen.len(), 4);
    // The Invoke API's path (the ARN's colons encoded), a SigV4 signature of the service `lambda`, the event.
    assert_eq!(seen[0].0, "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Afiscal/invocations");
    assert!(seen[0].1.starts_with("AWS4-HMAC-SHA256 Credential=testing/") && seen[0].1.contains("/us-east-1/lambda/"));
    assert_eq!(seen[0].2, b"{\"a\":1}");
    // And a payload that is not an HTTP API response is no answer either.
    assert!(matches!(answered(b"\"Simple Lambda happy path OK\""), Err(InvokeError::Failed(_))));
}
