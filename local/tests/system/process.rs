//! The process (a second instance, restarts, a crash before the relay, the demo, the token command) and the
//! notifications it sends (the mailbox folder, the company webhook).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::portal::eml_body;
use crate::support::*;

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
    assert!(first.iter().any(|(s, n)| s == "encerrada" && *n >= 1), "walked to the end: {first:?}");
    // Three weeks of history, dated in the past: the oldest order was opened about 21 days ago.
    let listed = api.get("/v1/orders?status=encerrada&limit=100").await.ok(StatusCode::OK);
    let first_closed = listed["items"][0]["created_at"].as_str().unwrap().to_owned();
    let age = chrono::Utc::now() - chrono::DateTime::parse_from_rfc3339(&first_closed).unwrap().to_utc();
    assert!(age > chrono::Duration::days(14), "history in the past: {first_closed}");
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
    let items = invoices["items"].as_array().expect("items").clone();
    let nfe = items.iter().find(|i| i["kind"] == "nfe").expect("the NF-e listed");
    assert_eq!(nfe["access_key"], key.as_str(), "{invoices}");
    let xml = api.get(nfe["xml_url"].as_str().expect("xml_url")).await;
    assert_eq!(xml.status, StatusCode::OK);
    let xml = xml.body.as_str().expect("XML text").to_owned();
    assert!(xml.contains("<nfeProc") && xml.contains("<protNFe") && xml.contains(&format!("NFe{key}")), "{xml}");
    assert!(xml.contains("<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">"), "signed");
    // Its labor's NFS-e too (the demo company is in Campinas, on the national system), through the Sefin
    // simulator in produção restrita.
    let nfse = items.iter().find(|i| i["kind"] == "nfse").expect("the NFS-e listed");
    assert_eq!(nfse["state"], "authorized", "{invoices}");
    let dps_id = nfse["access_key"].as_str().expect("DPS Id");
    assert!(dps_id.starts_with("DPS350950221122233300018100001"), "Campinas, the CNPJ, série 1: {dps_id}");
    let xml = api.get(nfse["xml_url"].as_str().expect("xml_url")).await.body.as_str().expect("XML").to_owned();
    assert!(xml.contains("<NFSe") && xml.contains("<tpAmb>2</tpAmb>") && xml.contains("<ambGer>2</ambGer>"), "{xml}");
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

/// A data folder and its files made readable by others (an old version, a copy, a umask) are private again after
/// every start: the folders 0700, the files 0600.
#[tokio::test]
async fn an_existing_data_folder_is_made_private_on_every_start() {
    use std::os::unix::fs::PermissionsExt;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-p", "representante"));
    api.open_example().await;
    let (status, _) = local.stop();
    assert!(status.success());
    let entries = |p: &Path| -> Vec<PathBuf> { std::fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect() };
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    for path in entries(dir.path()) {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    let local = Local::start(dir.path(), &[]);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir.path()), 0o700, "the data folder");
    let mut files = 0;
    for path in entries(dir.path()) {
        if path.is_dir() {
            assert_eq!(mode(&path), 0o700, "{}", path.display());
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
            files += 1;
        }
    }
    for name in ["osflow.db", "token.key", "portal.key", "secrets.key"] {
        assert_eq!(mode(&dir.path().join(name)), 0o600, "{name}");
    }
    assert!(files >= 4);
    drop(local);
}

/// Messages sent late tell what happened then, in the order it happened: with the events held, an order waits
/// for material (which arrives), is finished, validated, asked for payment and paid; at the next start the
/// mailbox gets "aguarda material" with the reason and the expected date, "aguarda o pagamento" with the amount
/// due then (not R$ 0,00), every message in the order of its event.
#[tokio::test]
async fn held_messages_tell_what_happened_then_in_order() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &["--hold-events"]);
    let api = local.api(&local.token("oficina-h", "representante,atendente,tecnico,financeiro"));
    let id = api.open_example().await;
    let expected = (chrono::Utc::now() + chrono::Duration::days(10)).date_naive();
    for (step, body) in [
        ("quote/send", json!({})),
        ("quote/decision", json!({"decision": "approve"})),
        ("start", json!({})),
        ("material/wait", json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": expected.to_string()})),
        ("material/arrived", json!({})),
        ("finish", json!({"tests_performed": "Ligou"})),
        ("validation", json!({"checklist": [{"item": "Equipamento liga", "ok": true}]})),
        ("payment/request", json!({})),
        ("payments", json!({"amount": "269.90", "method": "pix"})),
    ] {
        api.step_ok(&id, step, body).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(mailbox(dir.path()).is_empty(), "held: nothing sent");
    let (status, _) = local.stop();
    assert!(status.success());

    let local = Local::start(dir.path(), &[]);
    let api = local.api(&local.token("oficina-h", "representante"));
    let templates = [
        "awaiting_approval",
        "approved",
        "in_progress",
        "waiting_material",
        "in_progress",
        "finished",
        "validation",
        "awaiting_payment",
    ];
    let sent = wait_for_notifications(&api, &id, templates.len()).await;
    let emails: Vec<&str> =
        sent.iter().filter(|n| n["channel"] == "email").map(|n| n["template"].as_str().unwrap()).collect();
    assert_eq!(emails, templates, "in the order of the events");
    let bodies: Vec<String> = mailbox(dir.path()).iter().map(|m| eml_body(m)).collect();
    assert_eq!(bodies.len(), templates.len());
    let material = bodies.iter().find(|b| b.contains("aguarda material")).expect("the material message");
    let date = expected.format("%d/%m/%Y").to_string();
    assert!(
        material.contains(&format!("aguarda material: Fonte em falta. Previsão de chegada: {date}.")),
        "{material}"
    );
    let payment = bodies.iter().find(|b| b.contains("aguarda o pagamento")).expect("the payment message");
    assert!(payment.contains("aguarda o pagamento de R$ 269,90."), "{payment}");
    // The mailbox (files named by a time-ordered id) has them in the same order.
    let order_in_mailbox: Vec<usize> = [
        "está pronto: R$",
        "Recebemos a aprovação",
        "aguarda material",
        "Concluímos o serviço",
        "pronto para a validação",
        "aguarda o pagamento",
    ]
    .iter()
    .map(|needle| bodies.iter().position(|b| b.contains(needle)).unwrap_or_else(|| panic!("{needle}: {bodies:?}")))
    .collect();
    assert!(order_in_mailbox.windows(2).all(|w| w[0] < w[1]), "{order_in_mailbox:?}: {bodies:#?}");
}
