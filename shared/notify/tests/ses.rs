//! The SES v2 adapter of the EmailSender port against the emulator (moto over real HTTP): a verified sender, a
//! non-ASCII subject, body and display name, and what moto recorded (`GET /moto-api/data.json`, `ses.Message`);
//! an unverified sender is a permanent error; an endpoint nobody listens on is a transient one.
//!
//! Needs `AWS_ENDPOINT_URL` (set by `scripts/test`); without it these tests fail saying so. Built with the
//! feature `ses` (on in `cargo test --workspace`: the osflow-fn-notifier member enables it).

use aws_sdk_sesv2::config::retry::RetryConfig;
use osflow_app::{EmailMessage, EmailSender, SendError};
use osflow_notify::{SesEmailSender, base64, ses_from_address};
use osflow_testkit::unique;
use serde_json::Value;

const RUN_SCRIPTS_TEST: &str = "these tests need the SES emulator: run `scripts/test` (or `scripts/emulator start` \
                                and export AWS_ENDPOINT_URL=http://127.0.0.1:45660, AWS_REGION, AWS_ACCESS_KEY_ID \
                                and AWS_SECRET_ACCESS_KEY as scripts/test does)";

fn require_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url.trim().trim_end_matches('/').to_owned(),
        _ => panic!("AWS_ENDPOINT_URL is not set; {RUN_SCRIPTS_TEST}"),
    }
}

/// A sender whose address is a verified identity on the emulator.
async fn verified_sender() -> (SesEmailSender, String) {
    let endpoint = require_endpoint();
    let sender = SesEmailSender::from_env().await;
    let address = format!("os-{}@oficinadoze.com.br", unique());
    sender
        .client()
        .create_email_identity()
        .email_identity(&address)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateEmailIdentity on {endpoint}: {e:?}; {RUN_SCRIPTS_TEST}"));
    (sender, address)
}

/// The messages moto's SES recorded (every account and region of the emulator).
async fn sent_messages() -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", require_endpoint());
    // reqwest is built without a default TLS provider: ring, as the webhook sender installs it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let data: Value = serde_json::from_str(&text).unwrap();
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

fn unbase64(s: &str) -> Vec<u8> {
    let value = |c: u8| base64_alphabet().iter().position(|&a| a == c).expect("base64") as u32;
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
        let n = data.iter().enumerate().fold(0u32, |n, (i, &c)| n | (value(c) << (18 - 6 * i)));
        out.extend_from_slice(&n.to_be_bytes()[1..data.len()]);
    }
    out
}

fn base64_alphabet() -> &'static [u8] {
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
}

fn message(from: &str, to: &str) -> EmailMessage {
    EmailMessage {
        from_name: "Oficina do Zé — Assistência Técnica em Informática e Eletrônica".into(),
        from_email: from.into(),
        reply_to: Some("contato@oficinadoze.com.br".into()),
        to: to.into(),
        subject: "Orçamento da OS nº 7: aguardando sua aprovação".into(),
        body: "Olá, Joana!\nO orçamento do seu Notebook Dell é R$ 269,90.\nAtenção: válido por 7 dias.".into(),
    }
}

#[tokio::test]
async fn an_email_with_a_non_ascii_subject_and_name_is_sent_once_through_ses_v2() {
    let (sender, from) = verified_sender().await;
    let to = format!("joana-{}@exemplo.com.br", unique());
    let m = message(&from, &to);
    let id = sender.send_email(&m).await.expect("SendEmail from a verified identity");
    assert!(!id.is_empty());

    let recorded: Vec<Value> = sent_messages().await.into_iter().filter(|s| s["id"] == id.as_str()).collect();
    assert_eq!(recorded.len(), 1, "moto recorded message {id} once");
    let r = &recorded[0];
    assert_eq!(r["subject"], m.subject.as_str(), "UTF-8 subject as sent");
    assert_eq!(r["body"], m.body.as_str(), "UTF-8 body as sent");
    assert_eq!(r["destinations"]["ToAddresses"], serde_json::json!([to]));
    // The display name as RFC 2047 encoded-words, on one line, and the address as is.
    let source = r["source"].as_str().unwrap();
    assert_eq!(source, ses_from_address(&m.from_name, &from).unwrap());
    assert!(source.ends_with(&format!(" <{from}>")) && source.is_ascii() && !source.contains(['\r', '\n']));
    assert_eq!(unbase64(&base64("Zé —".as_bytes())), "Zé —".as_bytes(), "the test's decoder");
    let words: Vec<&str> = source.trim_end_matches(&format!(" <{from}>")).split(' ').collect();
    assert!(words.len() > 1, "a long name takes several words: {source}");
    let decoded: Vec<u8> = words
        .iter()
        .flat_map(|w| {
            let b64 = w.strip_prefix("=?UTF-8?B?").and_then(|w| w.strip_suffix("?=")).expect("an encoded-word");
            let bytes = unbase64(b64);
            assert!(std::str::from_utf8(&bytes).is_ok(), "each word holds whole characters");
            bytes
        })
        .collect();
    assert_eq!(String::from_utf8(decoded).unwrap(), m.from_name);
}

#[tokio::test]
async fn an_unverified_sender_is_a_permanent_error() {
    let (sender, _) = verified_sender().await;
    let before = sent_messages().await.len();
    let unverified = format!("os-{}@nao-verificado.com.br", unique());
    let to = format!("joana-{}@exemplo.com.br", unique());
    match sender.send_email(&message(&unverified, &to)).await {
        Err(SendError::Permanent(reason)) => assert!(reason.contains("MessageRejected"), "{reason}"),
        other => panic!("expected a permanent error, got {other:?}"),
    }
    let after = sent_messages().await;
    assert!(after.len() >= before);
    assert!(after.iter().all(|s| s["destinations"]["ToAddresses"][0] != to.as_str()), "nothing sent to {to}");
}

#[tokio::test]
async fn bad_addresses_are_refused_before_any_request() {
    let (sender, from) = verified_sender().await;
    let mut m = message(&from, "joana@exemplo.com.br\r\nBcc: todos@exemplo.com.br");
    assert!(matches!(sender.send_email(&m).await, Err(SendError::Permanent(_))));
    m.to = "joana@exemplo.com.br".into();
    m.reply_to = Some("<x@y>".into());
    assert!(matches!(sender.send_email(&m).await, Err(SendError::Permanent(_))));
}

#[tokio::test]
async fn an_endpoint_nobody_answers_is_a_transient_error() {
    require_endpoint();
    let sdk = osflow_bus::load_sdk_config().await;
    // A port nothing listens on: the connection is refused (a dispatch failure).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let config = aws_sdk_sesv2::config::Builder::from(&sdk)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(RetryConfig::disabled())
        .build();
    let sender = SesEmailSender::new(aws_sdk_sesv2::Client::from_conf(config));
    match sender.send_email(&message("os@oficinadoze.com.br", "joana@exemplo.com.br")).await {
        Err(SendError::Transient(reason)) => assert!(reason.starts_with("SES"), "{reason}"),
        other => panic!("expected a transient error, got {other:?}"),
    }
}
