//! NF-e through osflow-local: the emitter configured over the API, a rejection, the retry.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::*;

/// The company's emitter as `PUT /v1/fiscal/emitter` takes it, with a generated e-CNPJ-shaped A1 certificate.
pub(crate) fn emitter_body(environment: &str, certificate: Option<(&str, &str)>) -> Value {
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

    // Fixed: homologação, the certificate stays. Homologation numbers its own sequence: the retry issues the
    // homologation NF-e (number 1 there, a key of its own); the rejected production attempt stays listed.
    let fixed = rep.put("/v1/fiscal/emitter", emitter_body("homologation", None)).await.ok(StatusCode::OK);
    assert_eq!(fixed["environment"], "homologation");
    assert_eq!(fixed["certificate"], saved["certificate"]);
    let retried = fin.step_ok(&id, "invoices/retry", json!({})).await;
    assert_eq!(retried["invoice"]["state"], "pending", "{}", retried["invoice"]);
    let authorized = wait_for_invoice(&rep, &id, "authorized").await;
    assert_eq!(authorized["number"], 1, "{authorized}");
    assert_ne!(authorized["key"], rejected["key"]);
    let invoices = rep.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    assert_eq!(invoices["items"].as_array().map(Vec::len), Some(2), "the production attempt and the NF-e: {invoices}");
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");
    // Nothing left to retry.
    fin.step(&id, "invoices/retry", json!({})).await.problem(StatusCode::CONFLICT, "/problems/invoice-not-rejected");

    // The A1 password is nowhere in the data folder in clear (it is sealed with the folder's secrets.key).
    let (status, _) = local.stop();
    assert!(status.success());
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(!bytes.windows(11).any(|w| w == b"senha-do-a1"), "the A1 password in clear in {}", path.display());
        }
    }
    // And it is still usable after a restart: the stored certificate signs the next NF-e.
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-fiscal", "representante"));
    let fin = rep.with_token(&local.token("oficina-fiscal", "financeiro"));
    let id = rep.open_example().await;
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    wait_for_invoice(&rep, &id, "authorized").await;
}
