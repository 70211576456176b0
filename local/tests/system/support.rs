//! The harness: the osflow-local binary as a child process, its tokens, an HTTP client of its API, and the
//! helpers the tests share.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use osflow_testkit::walk::next_request;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap};
use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_osflow-local");

/// Upper bound on how long a healthy binary needs to start or stop; only guards against a hung test.
pub(crate) const PROCESS_DEADLINE: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------------------------
// The harness: the binary as a child process

/// A running osflow-local. Killed when dropped.
pub(crate) struct Local {
    pub(crate) child: Child,
    pub(crate) url: String,
    pub(crate) data: PathBuf,
    pub(crate) stdout: Arc<Mutex<Vec<String>>>,
}

impl Local {
    /// Starts the binary on a free port with `data` and waits until it has printed its banner.
    pub(crate) fn start(data: &Path, extra: &[&str]) -> Local {
        Local::start_with_env(data, extra, &[])
    }

    /// [`Local::start`] with these environment variables set.
    pub(crate) fn start_with_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Local {
        let mut child = Command::new(BIN)
            .args(["--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(extra)
            .envs(env.iter().copied())
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
    pub(crate) fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(killed.success(), "kill -TERM {pid} failed");
        let status = wait_with_deadline(&mut self.child);
        // Let the reader thread take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        let lines = self.stdout.lock().unwrap().clone();
        (status, lines)
    }

    pub(crate) fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub(crate) fn api(&self, token: &str) -> Api {
        Api { http: http_client(), base: self.url.clone(), token: Some(token.to_owned()) }
    }

    pub(crate) fn anonymous(&self) -> Api {
        Api { http: http_client(), base: self.url.clone(), token: None }
    }

    pub(crate) fn token(&self, tenant: &str, role: &str) -> String {
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
pub(crate) fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub(crate) fn wait_with_deadline(child: &mut Child) -> ExitStatus {
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
pub(crate) fn token(data: &Path, tenant: &str, role: &str) -> String {
    token_of(data, tenant, None, role)
}

/// `osflow-local token --tenant T --user U --role R --data DIR` (the user becomes one of the company's development
/// users, with that role): the last line of its output.
pub(crate) fn token_of(data: &Path, tenant: &str, user: Option<&str>, role: &str) -> String {
    let mut args = vec!["token", "--tenant", tenant, "--role", role];
    if let Some(user) = user {
        args.extend(["--user", user]);
    }
    let out = Command::new(BIN)
        .args(args)
        .arg("--data")
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

pub(crate) fn data_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("osflow-local-test-").tempdir().expect("temp dir")
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP

#[derive(Debug)]
pub(crate) struct Resp {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Value,
}

impl Resp {
    pub(crate) fn ok(self, expected: StatusCode) -> Value {
        assert_eq!(self.status, expected, "unexpected status; body: {}", self.body);
        self.body
    }

    /// Asserts a problem+json response of `status` and `type` and returns its body.
    pub(crate) fn problem(self, status: StatusCode, type_: &str) -> Value {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        let ct = self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(ct.starts_with("application/problem+json"), "content type {ct:?} for {}", self.body);
        assert_eq!(self.body["type"], type_, "problem type; body: {}", self.body);
        assert_eq!(self.body["status"], status.as_u16(), "problem status; body: {}", self.body);
        self.body
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Api {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
    pub(crate) token: Option<String>,
}

impl Api {
    pub(crate) fn with_token(&self, token: &str) -> Api {
        Api { token: Some(token.to_owned()), ..self.clone() }
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Resp {
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

    /// A download: the status, the content type and the body's bytes as sent.
    pub(crate) async fn bytes(&self, path: &str) -> (StatusCode, String, Vec<u8>) {
        let mut req = self.http.get(format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        let resp = req.send().await.expect("request to osflow-local");
        let status = resp.status();
        let ct = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (status, ct, resp.bytes().await.expect("response body").to_vec())
    }

    pub(crate) async fn get(&self, path: &str) -> Resp {
        self.send(reqwest::Method::GET, path, None, &[]).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::POST, path, Some(body.to_string().into_bytes()), &[]).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PUT, path, Some(body.to_string().into_bytes()), &[]).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> Resp {
        self.send(reqwest::Method::PATCH, path, Some(body.to_string().into_bytes()), &[]).await
    }

    /// A step on an order: `POST /v1/orders/{id}/{step}`.
    pub(crate) async fn step(&self, id: &str, step: &str, body: Value) -> Resp {
        self.post(&format!("/v1/orders/{id}/{step}"), body).await
    }

    /// A step that must succeed; returns the order after it.
    pub(crate) async fn step_ok(&self, id: &str, step: &str, body: Value) -> Value {
        let resp = self.step(id, step, body).await;
        assert!(resp.status.is_success(), "{step} on {id}: {} {}", resp.status, resp.body);
        resp.body
    }

    pub(crate) async fn order(&self, id: &str) -> Value {
        self.get(&format!("/v1/orders/{id}")).await.ok(StatusCode::OK)
    }

    pub(crate) async fn status_of(&self, id: &str) -> String {
        self.order(id).await["status"].as_str().expect("status is a string").to_owned()
    }

    /// Opens the reference example order and returns its id.
    pub(crate) async fn open_example(&self) -> String {
        let body = self.post("/v1/orders", example_order()).await.ok(StatusCode::CREATED);
        body["id"].as_str().expect("id").to_owned()
    }
}

pub(crate) use osflow_testkit::example_order_on_real_clock as example_order;

pub(crate) fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

// Problem types

pub(crate) const NOT_ALLOWED: &str = "/problems/not-allowed-in-status";
pub(crate) const FORBIDDEN: &str = "/problems/forbidden";
pub(crate) const INVALID_FIELD: &str = "/problems/invalid-field";

/// The types of the order's events, without the notifier's records (which arrive asynchronously).
pub(crate) async fn staff_event_types(api: &Api, id: &str) -> Vec<String> {
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
pub(crate) async fn wait_for_notifications(api: &Api, id: &str, n: usize) -> Vec<Value> {
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
pub(crate) fn mailbox(data: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(data.join("mailbox")) else { return Vec::new() };
    let mut files: Vec<_> = entries
        .map(|e| e.expect("mailbox entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read_to_string(p).expect("read .eml")).collect()
}

/// The ids in a list response.
pub(crate) fn list_ids(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|o| o["id"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Takes an order of the reference example from wherever it is along the default path to `target` (the
/// reference example's requests, `osflow_testkit::walk::next_request`).
pub(crate) async fn walk_to(api: &Api, id: &str, target: &str) {
    loop {
        let status = api.status_of(id).await;
        if status == target {
            return;
        }
        let (step, body) = next_request(&status).unwrap_or_else(|| panic!("no way from {status} to {target}"));
        api.step_ok(id, step, body).await;
    }
}
