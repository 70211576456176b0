//! The customer's page in a real browser (headless Chromium driven over WebDriver).

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::*;

/// A `chromedriver` on a free loopback port, stopped when dropped.
pub(crate) struct ChromeDriver {
    child: Child,
    pub(crate) url: String,
    profile: tempfile::TempDir,
}

impl ChromeDriver {
    pub(crate) fn start() -> ChromeDriver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
        // Its own process group: the Chromium it starts is in it, and goes with it (below).
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .process_group(0)
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
    pub(crate) async fn session(&self) -> fantoccini::Client {
        // A phone's viewport (CSS pixels).
        let phone = json!({"mobileEmulation": {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 1.0}}});
        let args = ["--disable-quic", "--disable-component-update"];
        chromium(self, self.profile.path(), &args, phone).await
    }
}

/// A headless Chromium session through `driver` on the profile folder `profile`: the flags every session has,
/// then `args`; `options` adds to `goog:chromeOptions` (a phone's window).
pub(crate) async fn chromium(
    driver: &ChromeDriver,
    profile: &Path,
    args: &[&str],
    options: serde_json::Value,
) -> fantoccini::Client {
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-sync",
        "--hide-scrollbars",
    ];
    let mut flags: Vec<String> = common.iter().chain(args).map(|a| (*a).to_owned()).collect();
    flags.push(format!("--user-data-dir={}", profile.display()));
    let mut chrome = serde_json::Map::new();
    chrome.insert("binary".into(), json!("/usr/bin/chromium"));
    chrome.insert("args".into(), json!(flags));
    chrome.extend(options.as_object().cloned().unwrap_or_default());
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), serde_json::Value::Object(chrome));
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    fantoccini::ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session through chromedriver")
}

impl Drop for ChromeDriver {
    /// Stops chromedriver and every Chromium it started: a session a test did not close (a failed assertion, an
    /// early return) would otherwise outlive the test run, its browser orphaned when chromedriver is killed.
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The text body of an `.eml` (base64, CRLF lines).
pub(crate) fn eml_body(eml: &str) -> String {
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
pub(crate) async fn wait_for_text(browser: &fantoccini::Client, text: &str) -> String {
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
