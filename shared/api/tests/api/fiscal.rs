//! The company's NF-e emitter (`GET|PUT /v1/fiscal/emitter`) and the retry of a rejected NF-e.

use base64::Engine;
use osflow_app::EmitterStore;
use osflow_domain::values::TenantId;
use osflow_nfe::{Certificate, Cnpj};
use serde_json::{Value, json};

use crate::support::*;

const CNPJ: &str = "11222333000181";
const PASSWORD: &str = "s3nh@-do-A1";

/// A certificate shaped like an ICP-Brasil e-CNPJ of `cnpj`, as the PKCS#12 a user uploads, in base64.
fn pkcs12_b64(cnpj: &str, days: u32, password: &str) -> String {
    let cert = Certificate::generate_for_homologation(&Cnpj::parse(cnpj).unwrap(), "OFICINA DO ZE LTDA", days).unwrap();
    base64::engine::general_purpose::STANDARD.encode(cert.to_pkcs12(password).unwrap())
}

fn emitter(certificate: Option<(&str, &str)>) -> Value {
    let mut body = json!({
        "cnpj": "11.222.333/0001-81", "ie": "110042490114", "legal_name": "Oficina do Zé Ltda",
        "trade_name": "Oficina do Zé",
        "address": {"street": "Rua Augusta", "number": "100", "district": "Consolação", "city": "São Paulo",
                    "city_code": "3550308", "uf": "SP", "zip": "01305-000"},
        "phone": "(11) 3333-4444", "serie": 1, "cfop": "5102",
        "tax": {"crt": "simples_nacional", "csosn": "102"},
        "tech_responsible": {"cnpj": "11222333000181", "contact": "Suporte", "email": "suporte@exemplo.com.br",
                             "phone": "11987654321"}
    });
    if let Some((pkcs12, password)) = certificate {
        body["certificate"] = json!({"pkcs12": pkcs12, "password": password});
    }
    body
}

/// The harness with its clock at the real time (generated certificates are valid from now).
fn api_now() -> Api {
    let api = Api::new();
    api.clock.advance(chrono::Utc::now() - osflow_app::Clock::now(api.clock.as_ref()));
    api
}

async fn put(api: &Api, who: &Who, body: &Value) -> Resp {
    api.send(Call::new("PUT", "/v1/fiscal/emitter").json(body).by(who)).await
}

async fn nothing_stored(api: &Api) {
    let tenant = TenantId::parse(SHOP).unwrap();
    assert_eq!(api.store.emitter(&tenant).await.unwrap(), None, "no configuration stored");
    assert!(api.store.certificate(&tenant).await.unwrap().is_none(), "no certificate stored");
}

#[tokio::test]
async fn the_representante_configures_the_emitter_with_its_certificate() {
    let api = api_now();
    let rep = Who::representante(SHOP);
    api.get(&rep, "/v1/fiscal/emitter").await.problem(404, "not-found");

    let pkcs12 = pkcs12_b64(CNPJ, 365, PASSWORD);
    let r = put(&api, &rep, &emitter(Some((&pkcs12, PASSWORD)))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let view = r.json();
    assert_eq!(view["cnpj"], CNPJ);
    assert_eq!(view["environment"], "homologation");
    assert_eq!(view["tax"], json!({"crt": "simples_nacional", "csosn": "102"}));
    assert_eq!(view["certificate"]["cnpj"], CNPJ);
    assert!(view["certificate"]["common_name"].as_str().unwrap().ends_with(":11222333000181"));
    assert!(!r.body.contains(PASSWORD) && !r.body.contains(&pkcs12[..40]), "the certificate is never returned");

    // Stored: the configuration, and the certificate apart (for the invoicer).
    let tenant = TenantId::parse(SHOP).unwrap();
    assert_eq!(api.store.emitter(&tenant).await.unwrap().unwrap().legal_name, "Oficina do Zé Ltda");
    let stored = api.store.certificate(&tenant).await.unwrap().unwrap();
    assert_eq!(stored.password, PASSWORD);
    assert_eq!(
        stored.pkcs12,
        base64::engine::general_purpose::STANDARD.decode(&pkcs12).unwrap(),
        "the uploaded file as sent"
    );

    // The financial staff reads it; others do not; only the representante changes it.
    let read = api.get(&Who::financeiro(SHOP), "/v1/fiscal/emitter").await;
    assert_eq!(read.status, 200);
    assert_eq!(read.json(), view);
    for who in [Who::atendente(SHOP), Who::tecnico(SHOP)] {
        api.get(&who, "/v1/fiscal/emitter").await.problem(403, "forbidden");
    }
    for who in [Who::atendente(SHOP), Who::tecnico(SHOP), Who::financeiro(SHOP)] {
        put(&api, &who, &emitter(None)).await.problem(403, "forbidden");
    }
    // Another company sees nothing.
    api.get(&Who::representante(OTHER_SHOP), "/v1/fiscal/emitter").await.problem(404, "not-found");

    // Homologação → produção, keeping the stored certificate (no upload).
    let mut production = emitter(None);
    production["environment"] = json!("production");
    let r = put(&api, &rep, &production).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["environment"], "production");
    assert_eq!(r.json()["certificate"], view["certificate"]);
    assert_eq!(api.store.certificate(&tenant).await.unwrap().unwrap().revision, stored.revision, "kept");
}

#[tokio::test]
async fn bad_emitter_input_names_the_field_and_stores_nothing() {
    let api = api_now();
    let rep = Who::representante(SHOP);
    let good = pkcs12_b64(CNPJ, 365, PASSWORD);

    // The first configuration needs the certificate.
    put(&api, &rep, &emitter(None)).await.problem_at(422, "invalid-field", "certificate");
    // Wrong password; not base64; not a PKCS#12 at all.
    put(&api, &rep, &emitter(Some((&good, "errada")))).await.problem_at(422, "invalid-field", "certificate.password");
    put(&api, &rep, &emitter(Some(("não é base64!", PASSWORD)))).await.problem_at(
        422,
        "invalid-field",
        "certificate.pkcs12",
    );
    let garbage = base64::engine::general_purpose::STANDARD.encode(b"this is not a PKCS#12 file at all");
    let r = put(&api, &rep, &emitter(Some((&garbage, PASSWORD)))).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.json()["field"].as_str().unwrap().starts_with("certificate."), "{}", r.body);
    // Another company's certificate (SEFAZ would reject it: 213).
    let other = pkcs12_b64("11444777000161", 365, PASSWORD);
    let p = put(&api, &rep, &emitter(Some((&other, PASSWORD)))).await.problem_at(
        422,
        "invalid-field",
        "certificate.pkcs12",
    );
    assert!(p["detail"].as_str().unwrap().contains("213"), "{p}");
    // An expired certificate.
    let short = pkcs12_b64(CNPJ, 1, PASSWORD);
    api.clock.advance(chrono::Duration::days(2));
    let p = put(&api, &rep, &emitter(Some((&short, PASSWORD)))).await.problem_at(
        422,
        "invalid-field",
        "certificate.pkcs12",
    );
    assert!(p["detail"].as_str().unwrap().contains("venceu"), "{p}");
    let good = pkcs12_b64(CNPJ, 365, PASSWORD);
    api.clock.advance(chrono::Duration::days(-2));

    // The configuration's own rules, each naming its field.
    // (field named, JSON pointer edited, bad value)
    let cases = [
        ("cnpj", "/cnpj", json!("11.222.333/0001-82")),
        ("ie", "/ie", json!("IE-123")),
        ("serie", "/serie", json!(1000)),
        ("cfop", "/cfop", json!("6102")),
        ("tax.csosn", "/tax/csosn", json!("900")),
        (
            "tax.icms_percent",
            "/tax",
            json!({"crt": "regime_normal", "icms_percent": "180", "pis_percent": "1.65", "cofins_percent": "7.6"}),
        ),
        ("address.city_code", "/address/city_code", json!("35503")),
        ("tech_responsible.cnpj", "/tech_responsible/cnpj", json!("123")),
    ];
    for (field, pointer, value) in cases {
        let mut body = emitter(Some((&good, PASSWORD)));
        *body.pointer_mut(pointer).unwrap() = value;
        put(&api, &rep, &body).await.problem_at(422, "invalid-field", field);
    }
    let mut body = emitter(Some((&good, PASSWORD)));
    body["certificate"]["pin"] = json!("1234");
    put(&api, &rep, &body).await.problem_at(422, "unknown-field", "certificate.pin");
    let mut body = emitter(Some((&good, PASSWORD)));
    body["environment"] = json!("producao");
    put(&api, &rep, &body).await.problem_at(422, "invalid-field", "environment");
    nothing_stored(&api).await;
}

#[tokio::test]
async fn only_a_rejected_invoice_can_be_sent_again() {
    let api = api_now();
    let staff = Who::staff(SHOP);
    let id = api.open_example(&staff).await;
    let path = format!("/v1/orders/{id}/invoices/retry");
    api.send(Call::post(&path, &json!({})).by(&Who::tecnico(SHOP))).await.problem(403, "forbidden");
    let p =
        api.send(Call::post(&path, &json!({})).by(&Who::financeiro(SHOP))).await.problem(409, "invoice-not-rejected");
    assert_eq!(p["detail"], "a OS ainda não tem NF-e");
    api.send(Call::post(&path, &json!({})).by(&Who::representante(OTHER_SHOP))).await.problem(404, "not-found");
    assert_eq!(api.version(&id).await, 1, "nothing changed");
}
