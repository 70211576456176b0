//! System tests of osflow-local: the real binary on a free loopback port with a temporary data folder, tokens
//! from `osflow-local token`, and every request over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_osflow-local");

/// Upper bound on how long a healthy binary needs to start or stop; only guards against a hung test.
const PROCESS_DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------------------------
// The harness: the binary as a child process

/// A running osflow-local. Killed when dropped.
struct Local {
    child: Child,
    url: String,
    data: PathBuf,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Local {
    /// Starts the binary on a free port with `data` and waits until it has printed its banner.
    fn start(data: &Path, extra: &[&str]) -> Local {
        let mut child = Command::new(BIN)
            .args(["--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .env_remove("OSFLOW_ADDR")
            .env_remove("OSFLOW_DATA_DIR")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn osflow-local");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = stdout.clone();
        let out = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            let mut url = None;
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(u) = line.strip_prefix("Listening on ") {
                    url = Some(u.trim().to_owned());
                }
                // The banner's last line: everything before it has been printed.
                let ready = line.starts_with("Ctrl-C stops");
                lines.lock().unwrap().push(line);
                if ready && let Some(url) = url.take() {
                    let _ = tx.send(url);
                }
            }
        });
        let err = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[osflow-local] {line}");
            }
        });
        let url = match rx.recv_timeout(PROCESS_DEADLINE) {
            Ok(url) => url,
            Err(_) => {
                let status = child.try_wait().ok().flatten();
                let _ = child.kill();
                panic!("osflow-local did not print its URL (exit: {status:?}); stdout: {:?}", stdout.lock().unwrap());
            }
        };
        Local { child, url, data: data.to_path_buf(), stdout }
    }

    /// Sends SIGTERM and waits for the process to end.
    fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(killed.success(), "kill -TERM {pid} failed");
        let status = wait_with_deadline(&mut self.child);
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        let lines = self.stdout.lock().unwrap().clone();
        (status, lines)
    }

    fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    fn api(&self, token: &str) -> Api {
        Api { http: http_client(), base: self.url.clone(), token: Some(token.to_owned()) }
    }

    fn anonymous(&self) -> Api {
        Api { http: http_client(), base: self.url.clone(), token: None }
    }

    fn token(&self, tenant: &str, role: &str) -> String {
        token(&self.data, tenant, role)
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client for the tests (plain HTTP; the TLS provider is installed because reqwest needs one).
fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn wait_with_deadline(child: &mut Child) -> ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for osflow-local") {
            return status;
        }
        if start.elapsed() > PROCESS_DEADLINE {
            let _ = child.kill();
            panic!("osflow-local did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `osflow-local token --tenant T --role R --data DIR`: the last line of its output.
fn token(data: &Path, tenant: &str, role: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "--tenant", tenant, "--role", role, "--data"])
        .arg(data)
        .env_remove("OSFLOW_DATA_DIR")
        .output()
        .expect("run osflow-local token");
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    assert!(out.status.success(), "token command failed: {stdout} {}", String::from_utf8_lossy(&out.stderr));
    let last = stdout.lines().last().expect("a last line").trim().to_owned();
    assert_eq!(last.split('.').count(), 3, "the last line is a JWT: {last}");
    last
}

fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("osflow-local-test-").tempdir().expect("temp dir")
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

#[derive(Debug)]
struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    fn ok(self, expected: StatusCode) -> Value {
        assert_eq!(self.status, expected, "unexpected status; body: {}", self.body);
        self.body
    }

    /// Asserts a problem+json response of `status` and `type` and returns its body.
    fn problem(self, status: StatusCode, type_: &str) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        let ct = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with("application/problem+json"), "content type {ct:?} for {}", self.body);
        assert_eq!(self.body["type"], type_, "problem type; body: {}", self.body);
        assert_eq!(self.body["status"], status.as_u16(), "problem status; body: {}", self.body);
        self.body
    }
}

#[derive(Debug, Clone)]
struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    fn with_token(&self, token: &str) -> Api {
        Api { token: Some(token.to_owned()), ..self.clone() }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Vec<u8>>, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.header(header::CONTENT_TYPE, "application/json").body(body);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("request to osflow-local");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("response body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Resp { status, headers, body }
    }

    async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body.to_string().into_bytes()), &[]).await
    }

    async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PUT, path, Some(body.to_string().into_bytes()), &[]).await
    }

    async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(body.to_string().into_bytes()), &[]).await
    }

    /// A step on an order: `POST /v1/orders/{id}/{step}`.
    async fn step(&self, id: &str, step: &str, body: Value) -> Resp {
        self.post(&format!("/v1/orders/{id}/{step}"), body).await
    }

    /// A step that must succeed; returns the order after it.
    async fn step_ok(&self, id: &str, step: &str, body: Value) -> Value {
        let resp = self.step(id, step, body).await;
        assert!(resp.status.is_success(), "{step} on {id}: {} {}", resp.status, resp.body);
        resp.body
    }

    async fn order(&self, id: &str) -> Value {
        self.get(&format!("/v1/orders/{id}")).await.ok(StatusCode::OK)
    }

    async fn status_of(&self, id: &str) -> String {
        self.order(id).await["status"].as_str().expect("status is a string").to_owned()
    }

    /// Opens DESIGN §4's example order and returns its id.
    async fn open_example(&self) -> String {
        let body = self.post("/v1/orders", example_order()).await.ok(StatusCode::CREATED);
        body["id"].as_str().expect("id").to_owned()
    }
}

/// DESIGN §4's `POST /v1/orders` body, verbatim.
fn example_order() -> Value {
    serde_json::from_str(
        r#"{"customer": {"name": "Maria Souza", "document": "529.982.247-25", "email": "maria@example.com",
              "phone": "+55 11 98765-4321",
              "address": {"street": "Rua Augusta", "number": "100", "district": "Consolação", "city": "São Paulo",
                          "city_code": "3550308", "uf": "SP", "zip": "01305-000"}},
 "equipment": {"description": "Notebook", "brand": "Dell", "model": "Inspiron 15", "serial": "BR123456"},
 "service": {"type": "reparo", "reported_problem": "Não liga"},
 "items": [{"kind": "part", "code": "P-001", "description": "Fonte 65W", "ncm": "85044010",
            "quantity": "1", "unit_price": "149.90"},
           {"kind": "labor", "code": "S-001", "description": "Diagnóstico e reparo", "quantity": "1", "unit_price": "120.00"}],
 "due_date": "2026-12-10"}"#,
    )
    .expect("the DESIGN example is JSON")
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

// ---------------------------------------------------------------------------------------------------------------
// The flows

/// The eight steps of the default flow with DESIGN §4's requests, verbatim.
#[tokio::test]
async fn default_flow_runs_the_eight_steps_with_the_design_examples() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-a", "representante"));

    // 1. Abertura
    let opened = api.post("/v1/orders", example_order()).await.ok(StatusCode::CREATED);
    assert_eq!(opened["number"], 1);
    assert_eq!(opened["status"], "aberta");
    assert_eq!(opened["version"], 1);
    assert_eq!(opened["quote"]["revision"], 1);
    assert_eq!(opened["quote"]["total"], "269.90");
    let id = opened["id"].as_str().expect("id").to_owned();

    // 2. Aprovação do cliente
    assert_eq!(api.step_ok(&id, "quote/send", json!({})).await["status"], "aguardando_aprovacao");
    assert_eq!(api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await["status"], "aprovada");

    // 3. Execução
    assert_eq!(api.step_ok(&id, "start", json!({})).await["status"], "em_execucao");
    let noted = api.step_ok(&id, "notes", json!({"text": "Placa limpa", "visible_to_customer": true})).await;
    assert_eq!(noted["status"], "em_execucao", "a note changes no status");

    // 4. Pausa para materiais
    let waiting = api
        .step_ok(
            &id,
            "material/wait",
            json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": "2026-12-05"}),
        )
        .await;
    assert_eq!(waiting["status"], "aguardando_material");
    let moved = api.patch(&format!("/v1/orders/{id}/material"), json!({"expected_at": "2026-12-08"})).await;
    assert_eq!(moved.ok(StatusCode::OK)["status"], "aguardando_material", "a new date changes no status");
    assert_eq!(api.step_ok(&id, "material/arrived", json!({})).await["status"], "em_execucao");

    // 5. Finalização
    let finished = api.step_ok(&id, "finish", json!({"tests_performed": "Ligou e carregou por 2 h"})).await;
    assert_eq!(finished["status"], "finalizada");

    // 6. Validação
    let validated = api
        .step_ok(&id, "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        .await;
    assert_eq!(validated["status"], "em_validacao");

    // 7. Pagamento e liberação
    assert_eq!(api.step_ok(&id, "payment/request", json!({})).await["status"], "aguardando_pagamento");
    let paid = api.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    assert_eq!(paid["status"], "aguardando_pagamento", "a payment changes no status");
    assert_eq!(api.step_ok(&id, "release", json!({})).await["status"], "liberada");

    // 8. Encerramento
    let closed = api.step_ok(&id, "close", json!({})).await;
    assert_eq!(closed["status"], "encerrada");

    // The reads: the order with its ETag, the timeline, the status list, the customer's history.
    let resp = api.get(&format!("/v1/orders/{id}")).await;
    let etag = resp.headers.get(header::ETAG).and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
    let order = resp.ok(StatusCode::OK);
    assert_eq!(order["status"], "encerrada");
    assert_eq!(order["id"], id.as_str());
    let version = order["version"].as_u64().expect("version");
    assert!(etag.contains(&version.to_string()), "ETag {etag} names version {version}");

    let timeline = api.get(&format!("/v1/orders/{id}/timeline")).await.ok(StatusCode::OK);
    let events = timeline["events"].as_array().expect("events");
    // The notifier may have recorded a message since the GET: compare the timeline with itself.
    assert!(events.len() as u64 >= version);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["version"].as_u64(), Some(i as u64 + 1), "one event per version");
    }

    let listed = api.get("/v1/orders?status=encerrada").await.ok(StatusCode::OK);
    assert!(list_ids(&listed).contains(&id), "the closed order is listed: {listed}");
    let history = api.get("/v1/customers/52998224725/orders").await.ok(StatusCode::OK);
    assert!(list_ids(&history).contains(&id), "the customer's history has the order: {history}");

    // A final status takes no step.
    api.step(&id, "notes", json!({"text": "Depois de encerrada"})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
}

/// A shop that drops the validation step: finished orders go straight to payment. The flow is published as a
/// new version; orders opened before stay on the old one.
#[tokio::test]
async fn a_shop_flow_without_validation_published_with_put_flow() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-b", "representante"));

    let before = rep.open_example().await;

    let current = rep.get("/v1/flow").await.ok(StatusCode::OK);
    assert_eq!(current["version"], 1);
    let mut def = current.clone();
    def.as_object_mut().unwrap().remove("version");
    def["statuses"].as_array_mut().unwrap().retain(|s| s["key"] != "em_validacao");
    let transitions = def["transitions"].as_array_mut().unwrap();
    transitions.retain(|t| t["from"] != "em_validacao" && t["to"] != "em_validacao");
    transitions.push(json!({"from": "finalizada", "to": "aguardando_pagamento", "action": "request_payment",
                            "roles": ["representante", "atendente", "financeiro"], "guards": []}));

    // Only the representante edits the flow.
    let atendente = rep.with_token(&local.token("oficina-b", "atendente"));
    atendente.put("/v1/flow", def.clone()).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);

    let published = rep.put("/v1/flow", def).await.ok(StatusCode::OK);
    assert_eq!(published["version"], 2);
    let versions = rep.get("/v1/flow/versions").await.ok(StatusCode::OK);
    let numbers: Vec<u64> =
        versions["items"].as_array().expect("items").iter().filter_map(|f| f["version"].as_u64()).collect();
    assert_eq!(numbers, [1, 2], "the default flow and the published one: {versions}");

    let id = rep.open_example().await;
    assert_eq!(rep.order(&id).await["flow_version"], 2);
    walk_to(&rep, &id, "finalizada").await;
    rep.step(&id, "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        .await
        .problem(StatusCode::CONFLICT, NOT_ALLOWED);
    assert_eq!(rep.step_ok(&id, "payment/request", json!({})).await["status"], "aguardando_pagamento");
    rep.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    rep.step_ok(&id, "release", json!({})).await;
    assert_eq!(rep.step_ok(&id, "close", json!({})).await["status"], "encerrada");

    // The order opened before keeps the default flow: it still needs the validation step.
    assert_eq!(rep.order(&before).await["flow_version"], 1);
    walk_to(&rep, &before, "finalizada").await;
    rep.step(&before, "payment/request", json!({})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
    let validated = rep
        .step_ok(
            &before,
            "validation",
            json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}),
        )
        .await;
    assert_eq!(validated["status"], "em_validacao");

    // A flow that cannot close from some status is refused, naming it.
    let mut broken = rep.get("/v1/flow").await.ok(StatusCode::OK);
    broken.as_object_mut().unwrap().remove("version");
    broken["statuses"].as_array_mut().unwrap().push(json!({"key": "limbo", "label": "Limbo", "kind": "custom"}));
    broken["transitions"]
        .as_array_mut()
        .unwrap()
        .push(json!({"from": "aberta", "to": "limbo", "action": "move", "roles": ["representante"], "guards": []}));
    let refused = rep.put("/v1/flow", broken).await.problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-flow");
    assert!(refused.to_string().contains("limbo"), "the refusal names the status: {refused}");
}

/// A custom "Diagnóstico" status entered and left with `move`.
#[tokio::test]
async fn a_custom_status_is_entered_and_left_with_move() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-c", "representante"));

    let mut def = rep.get("/v1/flow").await.ok(StatusCode::OK);
    def.as_object_mut().unwrap().remove("version");
    def["statuses"].as_array_mut().unwrap().push(
        json!({"key": "diagnostico", "label": "Diagnóstico", "kind": "custom", "notify": true, "channels": ["email"]}),
    );
    let transitions = def["transitions"].as_array_mut().unwrap();
    transitions
        .push(json!({"from": "aberta", "to": "diagnostico", "action": "move", "roles": ["representante", "tecnico"]}));
    transitions
        .push(json!({"from": "diagnostico", "to": "aberta", "action": "move", "roles": ["representante", "tecnico"]}));
    transitions.push(json!({"from": "diagnostico", "to": "cancelada", "action": "cancel", "roles": ["representante"]}));
    rep.put("/v1/flow", def).await.ok(StatusCode::OK);

    let id = rep.open_example().await;
    let tecnico = rep.with_token(&local.token("oficina-c", "tecnico"));
    assert_eq!(tecnico.step_ok(&id, "move", json!({"to": "diagnostico"})).await["status"], "diagnostico");
    // Steps of the default vocabulary do not apply in the custom status; the refusal names the status.
    let refused = tecnico.step(&id, "start", json!({})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
    assert_eq!(refused["status_key"], "diagnostico");
    // Roles come from the flow: atendente may not move.
    let atendente = rep.with_token(&local.token("oficina-c", "atendente"));
    atendente.step(&id, "move", json!({"to": "aberta"})).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);
    // An unknown target is refused.
    tecnico
        .step(&id, "move", json!({"to": "nao_existe"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/unknown-status");
    assert_eq!(tecnico.step_ok(&id, "move", json!({"to": "aberta"})).await["status"], "aberta");
    assert_eq!(rep.step_ok(&id, "quote/send", json!({})).await["status"], "aguardando_aprovacao");
    let listed = rep.get("/v1/orders?status=diagnostico").await.ok(StatusCode::OK);
    assert!(list_ids(&listed).is_empty(), "nothing is left in diagnostico: {listed}");
}

/// The customer asks for adjustments: the order goes back to aberta, a new revision is made and sent, and the
/// approval applies to the new total.
#[tokio::test]
async fn adjustments_make_a_new_quote_revision() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-d", "atendente"));
    let id = api.open_example().await;
    api.step_ok(&id, "quote/send", json!({})).await;
    let adjusted = api
        .step_ok(&id, "quote/decision", json!({"decision": "adjust", "comment": "Sem o diagnóstico, por favor"}))
        .await;
    assert_eq!(adjusted["status"], "aberta");

    let revised = api
        .put(
            &format!("/v1/orders/{id}/quote"),
            json!({"items": [{"kind": "part", "code": "P-001", "description": "Fonte 65W", "ncm": "85044010",
                              "quantity": "1", "unit_price": "149.90"},
                             {"kind": "labor", "code": "S-001", "description": "Reparo", "quantity": "1",
                              "unit_price": "80.00"}]}),
        )
        .await
        .ok(StatusCode::OK);
    assert_eq!(revised["quote"]["revision"], 2);
    assert_eq!(revised["quote"]["total"], "229.90");
    assert_eq!(revised["status"], "aberta");

    api.step_ok(&id, "quote/send", json!({})).await;
    let approved = api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await;
    assert_eq!(approved["status"], "aprovada");
    assert_eq!(approved["quote"]["revision"], 2);
    assert_eq!(approved["quote"]["total"], "229.90");

    // A new revision is no longer possible once approved.
    api.put(
        &format!("/v1/orders/{id}/quote"),
        json!({"items": [{"kind": "labor", "description": "X", "quantity": "1", "unit_price": "1.00"}]}),
    )
    .await
    .problem(StatusCode::CONFLICT, NOT_ALLOWED);
}

/// Extra items found at validation need the customer's approval: a supplementary quote is sent, payment waits
/// for it, and once approved the order goes back to execution with the new amount due.
#[tokio::test]
async fn extra_items_found_at_validation_go_back_for_approval() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-e", "representante"));
    let id = api.open_example().await;
    walk_to(&api, &id, "finalizada").await;

    let validated = api
        .step_ok(
            &id,
            "validation",
            json!({"checklist": [{"item": "Equipamento liga", "ok": true}],
                   "extra_items": [{"kind": "part", "code": "P-002", "description": "Bateria", "ncm": "85076000",
                                    "quantity": "1", "unit_price": "350.00"}]}),
        )
        .await;
    // The extra items make a supplementary quote revision, sent to the customer at once.
    assert_eq!(validated["status"], "aguardando_aprovacao");
    assert_eq!(validated["quote"]["revision"], 2);
    assert_eq!(validated["quote"]["supplementary"], true);
    assert_eq!(validated["quote"]["total"], "350.00");
    assert_eq!(validated["amount_due"], "269.90", "extra items are not due before the customer approves them");
    let refused = api.step(&id, "payment/request", json!({})).await.problem(StatusCode::CONFLICT, NOT_ALLOWED);
    assert_eq!(refused["status_key"], "aguardando_aprovacao");

    let approved = api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await;
    assert_eq!(approved["status"], "em_execucao", "an approved supplementary quote goes back to execution");
    assert_eq!(approved["amount_due"], "619.90");

    api.step_ok(&id, "finish", json!({"tests_performed": "Bateria nova segura carga"})).await;
    api.step_ok(&id, "validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}))
        .await;
    assert_eq!(api.step_ok(&id, "payment/request", json!({})).await["status"], "aguardando_pagamento");
    api.step_ok(&id, "payments", json!({"amount": "619.90", "method": "credit"})).await;
    assert_eq!(api.step_ok(&id, "release", json!({})).await["status"], "liberada");
}

/// A deposit once approved, the rest in two payments of other methods; release waits for the full amount.
#[tokio::test]
async fn partial_payments_and_release_when_paid_in_full() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-f", "representante"));
    let fin = rep.with_token(&local.token("oficina-f", "financeiro"));
    let id = rep.open_example().await;

    fin.step(&id, "payments", json!({"amount": "50.00", "method": "pix"}))
        .await
        .problem(StatusCode::CONFLICT, NOT_ALLOWED);
    walk_to(&rep, &id, "aprovada").await;
    let deposit = fin.step_ok(&id, "payments", json!({"amount": "100.00", "method": "pix"})).await;
    assert_eq!(deposit["status"], "aprovada");

    walk_to(&rep, &id, "aguardando_pagamento").await;
    let refused = fin.step(&id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
    assert_eq!(refused["guard"], "paid_in_full");

    // A retried payment with the same Idempotency-Key is recorded once.
    let body = json!({"amount": "100.00", "method": "cash"}).to_string().into_bytes();
    let path = format!("/v1/orders/{id}/payments");
    let first = fin.send(reqwest::Method::POST, &path, Some(body.clone()), &[("Idempotency-Key", "pay-2")]).await;
    let first = first.ok(StatusCode::OK);
    let again = fin.send(reqwest::Method::POST, &path, Some(body), &[("Idempotency-Key", "pay-2")]).await;
    assert_eq!(again.ok(StatusCode::OK), first, "the replay is the saved response");

    fin.step(&id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
    fin.step_ok(&id, "payments", json!({"amount": "69.90", "method": "debit"})).await;
    let order = fin.order(&id).await;
    assert_eq!(order["payments"].as_array().map(Vec::len), Some(3), "three payments: {order}");
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");
}

// ---------------------------------------------------------------------------------------------------------------
// Refusals

const NOT_ALLOWED: &str = "/problems/not-allowed-in-status";
const FORBIDDEN: &str = "/problems/forbidden";
const INVALID_FIELD: &str = "/problems/invalid-field";

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

/// An attachment is recorded with a presigned upload URL; the file goes to the data folder with a PUT to that
/// URL, which only accepts the signed content type and an untouched signature.
#[tokio::test]
async fn attachments_are_uploaded_through_the_presigned_url() {
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
    assert_eq!(created["upload"]["method"], "PUT");
    let url = created["upload"]["url"].as_str().expect("an upload URL").to_owned();
    assert!(url.starts_with(&format!("{}/blobs/oficina-k/", local.url)), "uploads go to this server: {url}");
    let key = created["attachment"]["key"].as_str().expect("a key").to_owned();
    assert_eq!(created["order"]["attachments"].as_array().map(Vec::len), Some(1));

    let photo = b"\xff\xd8\xff\xe0 a photo of the board".to_vec();
    let http = http_client();
    let put = |url: String, content_type: &'static str| {
        http.put(url).header(header::CONTENT_TYPE, content_type).body(photo.clone()).send()
    };
    let refused = put(url.clone(), "image/png").await.expect("PUT");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "another content type than the signed one");
    let refused = put(url.replace("signature=", "signature=0"), "image/jpeg").await.expect("PUT");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "a tampered signature");
    let refused = put(url.replace("/blobs/oficina-k/", "/blobs/oficina-z/"), "image/jpeg").await.expect("PUT");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN, "another company's folder");
    assert_eq!(put(url.clone(), "image/jpeg").await.expect("PUT").status(), StatusCode::OK);
    let stored = std::fs::read(dir.path().join("blobs").join("oficina-k").join(&key)).expect("the stored file");
    assert_eq!(stored, photo);
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

// ---------------------------------------------------------------------------------------------------------------
// The process

#[tokio::test]
async fn a_second_instance_on_the_same_data_folder_is_refused() {
    let dir = data_dir();
    let first = Local::start(dir.path(), &[]);
    let out = Command::new(BIN)
        .args(["--addr", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env_remove("OSFLOW_ADDR")
        .output()
        .expect("run a second osflow-local");
    assert!(!out.status.success(), "the second instance must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already using the data folder"), "clear message: {stderr}");
    assert!(stderr.contains(&first.child.id().to_string()), "names the holder's pid: {stderr}");
    // The first one still serves.
    let api = first.api(&first.token("oficina-i", "atendente"));
    api.open_example().await;
    // Once it stops, the folder is free again.
    let (status, _) = first.stop();
    assert!(status.success());
    let again = Local::start(dir.path(), &[]);
    again.stop();
}

#[tokio::test]
async fn restart_keeps_the_data_and_the_tokens() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let token = local.token("oficina-j", "representante");
    let api = local.api(&token);
    let id = api.open_example().await;
    api.step_ok(&id, "quote/send", json!({})).await;
    let (status, lines) = local.stop();
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
    assert!(lines.iter().any(|l| l.contains("stopped")), "says it stopped: {lines:?}");

    let key = std::fs::metadata(dir.path().join("token.key")).expect("token key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(key.permissions().mode() & 0o777, 0o600, "the token key is private");

    let local = Local::start(dir.path(), &[]);
    let api = local.api(&token);
    let order = api.order(&id).await;
    assert_eq!(order["status"], "aguardando_aprovacao");
    assert_eq!(staff_event_types(&api, &id).await, ["order.opened", "order.quote_sent"]);
    assert_eq!(api.post("/v1/orders", example_order()).await.ok(StatusCode::CREATED)["number"], 2);
}

/// The types of the order's events, without the notifier's records (which arrive asynchronously).
async fn staff_event_types(api: &Api, id: &str) -> Vec<String> {
    let timeline = api.get(&format!("/v1/orders/{id}/timeline")).await.ok(StatusCode::OK);
    timeline["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_owned())
        .filter(|t| t != "order.notification_sent")
        .collect()
}

/// Polls `GET /v1/orders/{id}/notifications` until it lists `n` messages (the relay is asynchronous).
async fn wait_for_notifications(api: &Api, id: &str, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let list = api.get(&format!("/v1/orders/{id}/notifications")).await.ok(StatusCode::OK);
        let found = list["notifications"].as_array().expect("notifications").clone();
        if found.len() >= n || std::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `.eml` files in the data folder's mailbox.
fn mailbox(data: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data.join("mailbox")) else { return Vec::new() };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("mailbox entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).expect("read .eml")).collect()
}

/// Sending the quote notifies the customer: one e-mail in the mailbox folder, listed on the order.
#[tokio::test]
async fn the_quote_sent_reaches_the_customer_by_e_mail_once() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-n", "representante"));
    let id = api.open_example().await;
    assert!(wait_for_notifications(&api, &id, 0).await.is_empty(), "opening notifies nobody in the default flow");
    api.step_ok(&id, "quote/send", json!({})).await;
    let sent = wait_for_notifications(&api, &id, 1).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["channel"], "email");
    assert_eq!(sent[0]["to"], "ma***@example.com");
    assert_eq!(sent[0]["template"], "awaiting_approval");
    assert_eq!(sent[0]["ok"], true);
    let mails = mailbox(dir.path());
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: <maria@example.com>"), "{}", mails[0]);
    // A note is not announced; the approval is (its status has `notify` in the default flow).
    api.step_ok(&id, "notes", json!({"text": "Peça encomendada"})).await;
    api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await;
    let after = wait_for_notifications(&api, &id, 2).await;
    let templates: Vec<_> = after.iter().map(|n| n["template"].as_str().unwrap().to_owned()).collect();
    assert_eq!(templates, ["awaiting_approval", "approved"]);
    assert_eq!(mailbox(dir.path()).len(), 2, "one e-mail per notification");
}

/// Crash between commit and relay: the step is committed while the events are held, the process is killed;
/// the next start sends the message once, and a further restart sends nothing more.
#[tokio::test]
async fn events_committed_before_a_crash_are_sent_once_after_restart() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &["--hold-events"]);
    let api = local.api(&local.token("oficina-c", "representante"));
    let id = api.open_example().await;
    api.step_ok(&id, "quote/send", json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mailbox(dir.path()).is_empty(), "held: nothing sent");
    drop(local); // SIGKILL

    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-c", "representante"));
    assert_eq!(wait_for_notifications(&api, &id, 1).await.len(), 1);
    assert_eq!(mailbox(dir.path()).len(), 1);
    let (status, _) = local.stop();
    assert!(status.success());

    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-c", "representante"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(wait_for_notifications(&api, &id, 0).await.len(), 1, "not sent again");
    assert_eq!(mailbox(dir.path()).len(), 1);
}

#[tokio::test]
async fn the_banner_prints_a_working_token_per_role_for_demo() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let lines = local.stdout();
    for role in ["representante", "atendente", "tecnico", "financeiro"] {
        let line =
            lines.iter().find(|l| l.trim_start().starts_with(role)).unwrap_or_else(|| panic!("{role}: {lines:?}"));
        let token = line.split_whitespace().last().unwrap();
        let flow = local.api(token).get("/v1/flow").await.ok(StatusCode::OK);
        assert_eq!(flow["version"], 1, "company demo starts on the default flow");
    }
    // The demo company is empty without --demo.
    let api = local.api(&local.token("demo", "representante"));
    let listed = api.get("/v1/orders?status=aberta").await.ok(StatusCode::OK);
    assert!(list_ids(&listed).is_empty());
}

#[tokio::test]
async fn demo_is_created_once() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &["--demo"]);
    assert!(local.stdout().iter().any(|l| l.contains("created with")), "{:?}", local.stdout());
    let api = local.api(&local.token("demo", "atendente"));
    let first = demo_census(&api).await;
    let statuses: Vec<&String> = first.iter().filter(|(_, n)| *n > 0).map(|(s, _)| s).collect();
    assert!(statuses.len() >= 4, "example orders in several statuses: {first:?}");
    assert!(first.iter().any(|(s, n)| s == "encerrada" && *n == 1), "one walked to the end: {first:?}");
    local.stop();

    let local = Local::start(dir.path(), &["--demo"]);
    assert!(local.stdout().iter().any(|l| l.contains("already has its data")), "{:?}", local.stdout());
    let api = local.api(&local.token("demo", "atendente"));
    assert_eq!(demo_census(&api).await, first, "a restart with --demo creates nothing new");

    // The order walked to the end was invoiced at payment (the SEFAZ simulator) before its release: its NF-e
    // is authorized, listed, and its nfeProc XML can be downloaded.
    let closed = api.get("/v1/orders?status=encerrada").await.ok(StatusCode::OK);
    let id = list_ids(&closed).pop().expect("the closed demo order");
    let order = api.order(&id).await;
    assert_eq!(order["invoice"]["state"], "authorized", "{}", order["invoice"]);
    assert_eq!(order["invoice"]["number"], 1);
    let key = order["invoice"]["key"].as_str().expect("access key").to_owned();
    assert_eq!(key.len(), 44);
    assert_eq!(&key[6..20], "11222333000181", "the key names the emitter's CNPJ");
    let invoices = api.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    assert_eq!(invoices["items"][0]["access_key"], key.as_str(), "{invoices}");
    let xml = api.get(invoices["items"][0]["xml_url"].as_str().expect("xml_url")).await;
    assert_eq!(xml.status, StatusCode::OK);
    let xml = xml.body.as_str().expect("XML text").to_owned();
    assert!(xml.contains("<nfeProc") && xml.contains("<protNFe") && xml.contains(&format!("NFe{key}")), "{xml}");
    assert!(xml.contains("<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">"), "signed");
}

#[tokio::test]
async fn the_token_command_refuses_bad_arguments() {
    let dir = data_dir();
    for args in [
        vec!["token", "--tenant", "demo", "--role", "chefe"],
        vec!["token", "--tenant", "Demo Inc", "--role", "tecnico"],
        vec!["token", "--role", "tecnico"],
    ] {
        let out = Command::new(BIN).args(&args).arg("--data").arg(dir.path()).output().expect("run token");
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(!out.stderr.is_empty(), "{args:?} says why");
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/// The number of orders per status of the default flow.
async fn demo_census(api: &Api) -> Vec<(String, usize)> {
    let mut census = Vec::new();
    for status in [
        "aberta",
        "aguardando_aprovacao",
        "aprovada",
        "em_execucao",
        "aguardando_material",
        "finalizada",
        "em_validacao",
        "aguardando_pagamento",
        "liberada",
        "encerrada",
        "cancelada",
    ] {
        let listed = api.get(&format!("/v1/orders?status={status}&limit=100")).await.ok(StatusCode::OK);
        census.push((status.to_owned(), list_ids(&listed).len()));
    }
    census
}

/// The ids in a list response.
fn list_ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|o| o["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Takes an order of DESIGN's example from wherever it is along the default path to `target`.
async fn walk_to(api: &Api, id: &str, target: &str) {
    let path: [(&str, &str, Value); 7] = [
        ("aberta", "quote/send", json!({})),
        ("aguardando_aprovacao", "quote/decision", json!({"decision": "approve"})),
        ("aprovada", "start", json!({})),
        ("em_execucao", "finish", json!({"tests_performed": "Ligou"})),
        (
            "finalizada",
            "validation",
            json!({"checklist": [{"item": "Equipamento liga", "ok": true}], "extra_items": []}),
        ),
        ("em_validacao", "payment/request", json!({})),
        ("aguardando_pagamento", "release", json!({})),
    ];
    loop {
        let status = api.status_of(id).await;
        if status == target {
            return;
        }
        let (_, step, body) = path
            .iter()
            .find(|(from, _, _)| *from == status)
            .unwrap_or_else(|| panic!("no way from {status} to {target}"));
        api.step_ok(id, step, body.clone()).await;
    }
}

fn sign(key: &[u8], claims: Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(key),
    )
    .expect("sign")
}

/// A minimal webhook receiver on a free port: records (headers, body) of each POST and answers 204.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/whatsapp", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else { continue };
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() < length {
                        continue;
                    }
                    record.lock().unwrap().push((head.to_owned(), body[..length].to_owned()));
                    let _ = socket.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
                    return;
                }
            });
        }
    });
    (url, seen)
}

/// The company's settings route messages to its WhatsApp provider too: the webhook gets the message signed
/// with the company's secret, and the timeline records both channels.
#[tokio::test]
async fn settings_send_the_quote_to_the_company_webhook_signed() {
    let (url, seen) = webhook_receiver().await;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-w", "representante"));
    let secret = "segredo-do-webhook-123";
    let settings = json!({"company_name": "Oficina W", "webhook_url": url, "webhook_secret": secret,
                          "channels": ["email", "webhook"]});
    let saved = api.put("/v1/settings/notifications", settings).await.ok(StatusCode::OK);
    assert_eq!(saved["webhook_secret_set"], true);
    let id = api.open_example().await;
    api.step_ok(&id, "quote/send", json!({})).await;
    let sent = wait_for_notifications(&api, &id, 2).await;
    let mut channels: Vec<_> = sent.iter().map(|n| n["channel"].as_str().unwrap().to_owned()).collect();
    channels.sort();
    assert_eq!(channels, ["email", "webhook"], "{sent:?}");
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    let (head, body) = &calls[0];
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim()))
            .unwrap_or_else(|| panic!("no {name} header in {head}"))
            .to_owned()
    };
    let timestamp = header("x-osflow-timestamp");
    assert!(osflow_notify::verify(secret, &timestamp, body, &header("x-osflow-signature")), "signature verifies");
    assert!(!osflow_notify::verify("outro-segredo-qualquer", &timestamp, body, &header("x-osflow-signature")));
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["template"], "awaiting_approval");
    assert_eq!(payload["order_id"], id.as_str());
    assert!(payload["message"].as_str().unwrap().contains("Maria Souza"), "{payload}");
}

// ---------------------------------------------------------------------------------------------------------------
// The customer's page in a real browser (headless Chromium driven over WebDriver)

/// A `chromedriver` on a free loopback port, stopped when dropped.
struct ChromeDriver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; scripts/setup installs it)");
        let profile = tempfile::Builder::new().prefix("osflow-chromium-").tempdir().expect("temp dir");
        let url = format!("http://127.0.0.1:{port}");
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < PROCESS_DEADLINE, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        ChromeDriver { child, url, profile }
    }

    /// A headless Chromium session with a phone-sized window and a fresh profile; no network but loopback is used.
    async fn session(&self) -> fantoccini::Client {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--user-data-dir={}", self.profile.path().display()),
                ],
                // A phone's viewport (CSS pixels).
                "mobileEmulation": {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 1.0}},
            }),
        );
        fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a Chromium session through chromedriver")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text body of an `.eml` (base64, CRLF lines).
fn eml_body(eml: &str) -> String {
    use base64::Engine as _;
    let (_, body) = eml.split_once("\r\n\r\n").expect("headers and body");
    let compact: String = body.split_whitespace().collect();
    String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).expect("base64 body")).expect("utf-8")
}

/// The customer's page link in the quote e-mail of OS `number`.
fn quote_link(data: &Path, base: &str, number: u64) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        for eml in mailbox(data) {
            let body = eml_body(&eml);
            if body.contains(&format!("O orçamento da OS {number} ")) {
                let at = body.find(&format!("{base}/p/")).unwrap_or_else(|| panic!("no page link in: {body}"));
                return body[at..].split_whitespace().next().unwrap().to_owned();
            }
        }
        assert!(std::time::Instant::now() < deadline, "no quote e-mail for OS {number}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the page's source contains `text`.
async fn wait_for_text(browser: &fantoccini::Client, text: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let source = browser.source().await.expect("page source");
        if source.contains(text) {
            return source;
        }
        assert!(std::time::Instant::now() < deadline, "{text:?} never appeared in {source}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The quote e-mail links to the customer's page; in Chromium the customer approves one OS and asks for
/// adjustments on another, and staff see the result through the API. A screenshot of the page at a phone's
/// width is left in the target folder (`portal-phone.png`).
#[tokio::test]
async fn the_customer_decides_in_a_browser_from_the_e_mail_link() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-p", "representante"));
    api.put("/v1/settings/notifications", json!({"company_name": "Oficina do Zé"})).await.ok(StatusCode::OK);
    let first = api.open_example().await;
    api.step_ok(&first, "notes", json!({"text": "Equipamento recebido na loja", "visible_to_customer": true})).await;
    api.step_ok(&first, "quote/send", json!({})).await;
    let link = quote_link(dir.path(), &local.url, 1);

    let driver = ChromeDriver::start();
    let browser = driver.session().await;
    browser.goto(&link).await.expect("open the link");
    let page = wait_for_text(&browser, "Aprovar orçamento").await;
    for shown in
        ["Oficina do Zé", "OS 1 — Notebook Dell Inspiron 15", "Olá, Maria.", "R$ 269,90", "Equipamento recebido"]
    {
        assert!(page.contains(shown), "{shown:?} missing");
    }
    assert!(!page.contains("529.982.247-25") && !page.contains("Augusta"), "personal data on the page");
    let shot = browser.screenshot().await.expect("screenshot");
    assert!(shot.starts_with(b"\x89PNG"), "a PNG");
    let artifact = Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-phone.png");
    std::fs::write(&artifact, &shot).expect("save the screenshot");
    eprintln!("screenshot: {}", artifact.display());
    // The rest of the page (the form and the timeline); the test scrolls, the page itself has no script.
    browser.execute("window.scrollTo(0, document.body.scrollHeight)", vec![]).await.expect("scroll");
    let bottom = Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-phone-bottom.png");
    std::fs::write(&bottom, browser.screenshot().await.expect("screenshot")).expect("save the screenshot");

    use fantoccini::Locator;
    browser.find(Locator::Css("#nome")).await.unwrap().send_keys("Maria Souza").await.unwrap();
    browser.find(Locator::Css("button[value=aprovar]")).await.unwrap().click().await.unwrap();
    let done = wait_for_text(&browser, "Resposta registrada").await;
    assert!(done.contains("Orçamento aprovado."), "{done}");
    std::fs::write(
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("portal-phone-approved.png"),
        browser.screenshot().await.unwrap(),
    )
    .unwrap();
    assert_eq!(api.status_of(&first).await, "aprovada");
    let timeline = api.get(&format!("/v1/orders/{first}/timeline")).await.ok(StatusCode::OK);
    let decided = timeline["events"].as_array().unwrap().iter().find(|e| e["type"] == "order.quote_decided").unwrap();
    assert_eq!(decided["actor"]["type"], "customer");
    assert_eq!(decided["data"]["evidence"]["name"], "Maria Souza");
    assert_eq!(decided["data"]["evidence"]["ip"], "127.0.0.1");
    assert!(decided["data"]["evidence"]["user_agent"].as_str().unwrap().contains("Chrome"), "{decided}");
    // The browser's back button and a second submission change nothing.
    let version = api.order(&first).await["version"].clone();
    browser.back().await.unwrap();
    browser.refresh().await.unwrap();
    let again = wait_for_text(&browser, "Aprovada").await;
    assert!(!again.contains("<form"), "no form once decided");
    assert_eq!(api.order(&first).await["version"], version);

    // A second OS: the customer asks for adjustments with a comment.
    let second = api.open_example().await;
    api.step_ok(&second, "quote/send", json!({})).await;
    let link = quote_link(dir.path(), &local.url, 2);
    browser.goto(&link).await.unwrap();
    wait_for_text(&browser, "Pedir ajustes").await;
    browser.find(Locator::Css("#nome")).await.unwrap().send_keys("Maria Souza").await.unwrap();
    browser.find(Locator::Css("#comentario")).await.unwrap().send_keys("Prefiro uma fonte original").await.unwrap();
    browser.find(Locator::Css("button[value=ajustar]")).await.unwrap().click().await.unwrap();
    wait_for_text(&browser, "Pedido de ajustes enviado").await;
    let order = api.order(&second).await;
    assert_eq!(order["status"], "aberta");
    browser.close().await.unwrap();
    let timeline = api.get(&format!("/v1/orders/{second}/timeline")).await.ok(StatusCode::OK);
    let decided = timeline["events"].as_array().unwrap().iter().find(|e| e["type"] == "order.quote_decided").unwrap();
    assert_eq!(decided["data"]["decision"], "adjust");
    assert_eq!(decided["data"]["comment"], "Prefiro uma fonte original");
}

// ---------------------------------------------------------------------------------------------------------------
// NF-e

/// The company's emitter as `PUT /v1/fiscal/emitter` takes it, with a generated e-CNPJ-shaped A1 certificate.
fn emitter_body(environment: &str, certificate: Option<(&str, &str)>) -> Value {
    let mut body = json!({
        "cnpj": "11.222.333/0001-81", "ie": "110042490114", "legal_name": "Oficina Fiscal Ltda",
        "address": {"street": "Rua Augusta", "number": "100", "district": "Consolação", "city": "São Paulo",
                    "city_code": "3550308", "uf": "SP", "zip": "01305-000"},
        "environment": environment, "tax": {"crt": "simples_nacional"},
        "tech_responsible": {"cnpj": "11222333000181", "contact": "Suporte", "email": "suporte@exemplo.com.br",
                             "phone": "11987654321"}
    });
    if let Some((pkcs12, password)) = certificate {
        body["certificate"] = json!({"pkcs12": pkcs12, "password": password});
    }
    body
}

/// Polls the order until its NF-e is in `state`.
async fn wait_for_invoice(api: &Api, id: &str, state: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let order = api.order(id).await;
        if order["invoice"]["state"] == state {
            return order["invoice"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "the NF-e never became {state}: {}", order["invoice"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A company configures its emitter through the API (with the PKCS#12 upload), by mistake in production — the
/// homologation authority rejects the NF-e (cStat 252) and the release waits; the representante switches to
/// homologação (the stored certificate is kept), asks for the retry, and the same NF-e (number, key) is
/// authorized, so the product is released.
#[tokio::test]
async fn an_emitter_configured_through_the_api_and_a_rejected_nfe_sent_again() {
    use base64::Engine;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-fiscal", "representante"));
    let fin = rep.with_token(&local.token("oficina-fiscal", "financeiro"));

    let cnpj = osflow_nfe::Cnpj::parse("11222333000181").unwrap();
    let cert = osflow_nfe::Certificate::generate_for_homologation(&cnpj, "OFICINA FISCAL LTDA", 30).unwrap();
    let pkcs12 = base64::engine::general_purpose::STANDARD.encode(cert.to_pkcs12("senha-do-a1").unwrap());
    let saved = rep
        .put("/v1/fiscal/emitter", emitter_body("production", Some((&pkcs12, "senha-do-a1"))))
        .await
        .ok(StatusCode::OK);
    assert_eq!(saved["certificate"]["cnpj"], "11222333000181", "{saved}");
    assert!(!saved.to_string().contains("senha-do-a1"));

    let id = rep.open_example().await;
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    let rejected = wait_for_invoice(&rep, &id, "rejected").await;
    assert_eq!(rejected["cstat"], 252, "{rejected}");
    let refused = fin.step(&id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
    assert_eq!(refused["guard"], "invoice_authorized");

    // Fixed: homologação, the certificate stays.
    let fixed = rep.put("/v1/fiscal/emitter", emitter_body("homologation", None)).await.ok(StatusCode::OK);
    assert_eq!(fixed["environment"], "homologation");
    assert_eq!(fixed["certificate"], saved["certificate"]);
    let retried = fin.step_ok(&id, "invoices/retry", json!({})).await;
    assert_eq!(retried["invoice"]["state"], "pending", "{}", retried["invoice"]);
    let authorized = wait_for_invoice(&rep, &id, "authorized").await;
    assert_eq!((&authorized["number"], &authorized["key"]), (&rejected["number"], &rejected["key"]));
    let invoices = rep.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    assert_eq!(invoices["items"].as_array().map(Vec::len), Some(1), "one NF-e: {invoices}");
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");
    // Nothing left to retry.
    fin.step(&id, "invoices/retry", json!({})).await.problem(StatusCode::CONFLICT, "/problems/invoice-not-rejected");
}

// ---------------------------------------------------------------------------------------------------------------
// Reports

/// Walks an order of DESIGN §4's example through the whole default flow (paid by PIX) and returns its id.
async fn walk_to_closed(api: &Api) -> String {
    let id = api.open_example().await;
    api.step_ok(&id, "quote/send", json!({})).await;
    api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await;
    api.step_ok(&id, "start", json!({})).await;
    api.step_ok(
        &id,
        "material/wait",
        json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": "2026-12-05"}),
    )
    .await;
    api.step_ok(&id, "material/arrived", json!({})).await;
    api.step_ok(&id, "finish", json!({})).await;
    api.step_ok(&id, "validation", json!({"checklist": [{"item": "Liga", "ok": true}], "extra_items": []})).await;
    api.step_ok(&id, "payment/request", json!({})).await;
    api.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    api.step_ok(&id, "release", json!({})).await;
    assert_eq!(api.step_ok(&id, "close", json!({})).await["status"], "encerrada");
    id
}

/// The element names of an SVG document (it must parse).
fn svg_elements(svg: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("the SVG parses") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    names
}

/// Orders walked through osflow-local reach the report aggregates through the embedded relay; a report asked
/// for now has the walked numbers, and its CSV and SVG files exist and parse; roles limit revenue and reports.
#[tokio::test]
async fn reports_count_the_walked_orders_and_their_files_parse() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-r", "representante"));
    walk_to_closed(&rep).await;
    walk_to_closed(&rep).await;
    let cancelled = rep.open_example().await;
    rep.step_ok(&cancelled, "quote/send", json!({})).await;
    rep.step_ok(&cancelled, "cancel", json!({"reason": "Cliente desistiu"})).await;
    rep.open_example().await;

    // Report days are São Paulo dates: yesterday..tomorrow holds "now" whatever the clock.
    let today = (chrono::Utc::now() - chrono::Duration::hours(3)).date_naive();
    let (from, to) = (today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    let summary_path = format!("/v1/reports/summary?from={from}&to={to}");
    // The relay counts the events in the background: wait (bounded) until every order is counted.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let summary = loop {
        let s = rep.get(&summary_path).await.ok(StatusCode::OK);
        if s["opened"] == 4 && s["closed"] == 2 && s["cancelled"] == 1 {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "the events were not counted: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(summary["approved"], 2);
    assert_eq!(summary["material_waits"], 2);
    assert_eq!(summary["revenue"]["total"], "539.80");
    assert_eq!(summary["revenue"]["by_method"]["pix"], "539.80");
    assert_eq!(summary["revenue"]["average_ticket"], "269.90");
    let statuses = summary["statuses"].as_array().expect("statuses");
    let exec = statuses.iter().find(|s| s["status"] == "em_execucao").expect("em_execucao");
    assert_eq!(exec["entered"], 4, "started and resumed, twice: {exec}");
    assert_eq!(exec["left"], 4);
    assert!(summary["bottleneck"].is_string(), "{summary}");

    // Other roles: the technician gets the summary without revenue, and no reports.
    let tec = local.api(&local.token("oficina-r", "tecnico"));
    let s = tec.get(&summary_path).await.ok(StatusCode::OK);
    assert_eq!(s["opened"], 4);
    assert!(s.get("revenue").is_none(), "{s}");
    tec.get("/v1/reports").await.problem(StatusCode::FORBIDDEN, "/problems/forbidden");
    // Another company sees nothing of it.
    let other = local.api(&local.token("outra", "representante"));
    assert_eq!(other.get(&summary_path).await.ok(StatusCode::OK)["opened"], 0);
    // A bad period names its field.
    let bad = rep.get(&format!("/v1/reports/summary?from={to}&to={from}")).await;
    assert_eq!(bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field")["field"], "to");

    // A report now (what the timer does for yesterday, last week and last month).
    let report =
        rep.post("/v1/reports", json!({"from": from.to_string(), "to": to.to_string()})).await.ok(StatusCode::CREATED);
    let id = report["id"].as_str().expect("id").to_owned();
    assert_eq!(report["summary"]["opened"], 4);
    assert_eq!(report["summary"]["closed"], 2);
    let listed = rep.get("/v1/reports").await.ok(StatusCode::OK);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let fin = local.api(&local.token("oficina-r", "financeiro"));
    assert_eq!(fin.get(&format!("/v1/reports/{id}")).await.ok(StatusCode::OK)["summary"]["closed"], 2);

    let csv = rep.get(&format!("/v1/reports/{id}/files/report.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.body.as_str().expect("CSV text").to_owned();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], ["section", "key", "metric", "value"]);
    assert!(rows.iter().all(|r| r.len() == 4), "{csv}");
    for expected in
        [["totals", "", "opened", "4"], ["totals", "", "closed", "2"], ["revenue", "pix", "amount", "539.80"]]
    {
        assert!(rows.iter().any(|r| r.as_slice() == expected), "{expected:?} in {csv}");
    }
    for (file, shape) in [("time-per-stage.svg", "rect"), ("opened-closed.svg", "polyline")] {
        let svg = rep.get(&format!("/v1/reports/{id}/files/{file}")).await;
        assert_eq!(svg.status, StatusCode::OK, "{file}");
        assert_eq!(svg.headers[header::CONTENT_TYPE], "image/svg+xml");
        let elements = svg_elements(svg.body.as_str().expect("SVG text"));
        assert_eq!(elements.first().map(String::as_str), Some("svg"));
        assert!(elements.iter().any(|e| e == shape), "{file}: {elements:?}");
    }
    rep.get(&format!("/v1/reports/{id}/files/nada.svg")).await.problem(StatusCode::NOT_FOUND, "/problems/not-found");
}
