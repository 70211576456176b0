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

/// An authorized NF-e after the fact, through the routes: a carta de correção (listed, downloaded), the
/// cancellation (a short justification refused naming the field first), and the order's cancellation, refused
/// while the NF-e is authorized and without the refund of what was paid.
#[tokio::test]
async fn an_authorized_nfe_is_corrected_then_cancelled_and_the_order_cancelled_with_its_refund() {
    use std::sync::Arc;
    let mut api = api_now();
    let rep = Who::representante(SHOP);
    let fin = Who::financeiro(SHOP);
    let staff = Who::staff(SHOP);
    assert_eq!(put(&api, &rep, &emitter(Some((&pkcs12_b64(CNPJ, 30, PASSWORD), PASSWORD)))).await.status, 200);
    let simulator = Arc::new(osflow_nfe::simulator::Simulator::new());
    let invoicer = Arc::new(osflow_invoicing::Invoicer::new(
        api.app.clone(),
        Arc::new(api.store.clone()),
        Arc::new(osflow_invoicing::SharedAuthority(simulator)),
    ));
    api.app = api.app.clone().with_nfe_events(invoicer.clone());

    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve"}"#).await;
    api.ok(&staff, "POST", &format!("{base}/payments"), r#"{"amount": "269.90", "method": "pix"}"#).await;
    let tenant = TenantId::parse(SHOP).unwrap();
    let order_id = osflow_domain::values::OrderId::parse(&id).unwrap();
    invoicer.issue(&tenant, &order_id).await.unwrap();
    let order = api.order(&staff, &id).await;
    assert_eq!(order["invoice"]["state"], "authorized", "{}", order["invoice"]);
    let key = order["invoice"]["key"].as_str().unwrap().to_owned();
    let invoices = api.get(&staff, &format!("{base}/invoices")).await.json();
    assert_eq!(invoices["items"][0]["danfe_url"], format!("{base}/invoices/{key}/danfe.pdf"));

    // A carta de correção: text checked, numbered, listed, downloadable; the same text again is the same one.
    let corrections = format!("{base}/invoices/{key}/corrections");
    let short = api.send(Call::post(&corrections, &json!({"text": "curto"})).by(&fin)).await;
    short.problem_at(422, "invalid-field", "text");
    api.send(Call::post(&corrections, &json!({"text": "x".repeat(20)})).by(&Who::tecnico(SHOP)))
        .await
        .problem(403, "forbidden");
    let text = "Endereço do destinatário: Rua Augusta, 100 — apto \"12\" & fundos";
    let first = api.send(Call::post(&corrections, &json!({"text": text})).by(&fin)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.json()["seq"], 1);
    let again = api.send(Call::post(&corrections, &json!({"text": text})).by(&fin)).await.json();
    assert_eq!(again["seq"], 1, "the same correction, registered once");
    let second =
        api.send(Call::post(&corrections, &json!({"text": "Número do pedido do cliente: 4471"})).by(&rep)).await;
    assert_eq!(second.json()["seq"], 2, "{}", second.body);
    let list = api.get(&staff, &corrections).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "{list}");
    assert_eq!(list["items"][0]["text"], text);
    let xml = api.get(&staff, &format!("{corrections}/1/xml")).await;
    assert_eq!(xml.status, 200);
    assert!(xml.body.starts_with("<procEventoNFe") && xml.body.contains("<tpEvento>110110</tpEvento>"), "{}", xml.body);
    api.get(&staff, &format!("{corrections}/3/xml")).await.problem(404, "not-found");
    api.get(&staff, &format!("{corrections}/21/xml")).await.problem(404, "not-found");
    api.get(&staff, &format!("{corrections}/um/xml")).await.problem(404, "not-found");

    // The order cannot be cancelled while its NF-e stands.
    let cancel_order = |body: Value| Call::post(&format!("{base}/cancel"), &body).by(&rep);
    let refund = json!({"amount": "269.90", "method": "pix", "reference": "E0000000001"});
    api.send(cancel_order(json!({"reason": "Cliente desistiu", "refund": refund})))
        .await
        .problem(409, "invoice-not-cancelled");

    // The NF-e's cancellation: the justification named when too short; nothing registered by it.
    let cancel = format!("{base}/invoices/{key}/cancel");
    api.send(Call::post(&cancel, &json!({"justification": "engano"})).by(&fin)).await.problem_at(
        422,
        "invalid-field",
        "justification",
    );
    assert_eq!(api.order(&staff, &id).await["invoice"]["state"], "authorized");
    api.send(
        Call::post(&cancel, &json!({"justification": "Cliente desistiu da peça"})).by(&Who::representante(OTHER_SHOP)),
    )
    .await
    .problem(404, "not-found");
    let cancelled = api.send(Call::post(&cancel, &json!({"justification": "Cliente desistiu da peça"})).by(&fin)).await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["state"], "cancelled");
    assert_eq!(api.order(&staff, &id).await["invoice"]["state"], "cancelled");
    let proc_ = api.get(&staff, &format!("{cancel}/xml")).await;
    assert!(proc_.body.contains("<tpEvento>110111</tpEvento>"), "{}", proc_.body);
    // A correction of a cancelled NF-e is refused.
    api.send(Call::post(&corrections, &json!({"text": "Outra correção qualquer aqui"})).by(&fin))
        .await
        .problem(409, "fiscal-event-refused");

    // Now the order: the refund of what was paid is required, and recorded with the cancellation.
    api.send(cancel_order(json!({"reason": "Cliente desistiu"}))).await.problem_at(422, "invalid-field", "refund");
    let done = api
        .ok(
            &rep,
            "POST",
            &format!("{base}/cancel"),
            &json!({"reason": "Cliente desistiu", "refund": refund}).to_string(),
        )
        .await;
    assert_eq!(done["status"], "cancelada");
    assert_eq!(done["refunds"][0]["amount"], "269.90");
    assert_eq!(done["refunds"][0]["reference"], "E0000000001");
    let timeline = api.get(&staff, &format!("{base}/timeline")).await.json().to_string();
    for event in ["order.invoice_corrected", "order.payment_refunded", "order.cancelled"] {
        assert!(timeline.contains(event), "{event} on the timeline: {timeline}");
    }
}

#[tokio::test]
async fn the_gaps_and_their_inutilizacao_through_the_routes() {
    use std::sync::Arc;
    let mut api = api_now();
    let rep = Who::representante(SHOP);
    let fin = Who::financeiro(SHOP);
    let simulator = Arc::new(osflow_nfe::simulator::Simulator::new());
    let invoicer = Arc::new(osflow_invoicing::Invoicer::new(
        api.app.clone(),
        Arc::new(api.store.clone()),
        Arc::new(osflow_invoicing::SharedAuthority(simulator)),
    ));
    api.app = api.app.clone().with_nfe_events(invoicer);
    // No emitter yet: no sequence, nothing to list or download (404, as the emitter itself).
    api.get(&fin, "/v1/fiscal/nfe/gaps").await.problem(404, "not-found");
    api.get(&fin, "/v1/fiscal/nfe/voids/1/xml").await.problem(404, "not-found");
    assert_eq!(put(&api, &rep, &emitter(Some((&pkcs12_b64(CNPJ, 30, PASSWORD), PASSWORD)))).await.status, 200);

    for who in [Who::atendente(SHOP), Who::tecnico(SHOP)] {
        api.get(&who, "/v1/fiscal/nfe/gaps").await.problem(403, "forbidden");
    }
    let gaps = api.get(&fin, "/v1/fiscal/nfe/gaps").await.json();
    assert_eq!((gaps["environment"].as_str(), gaps["serie"].as_u64()), (Some("homologation"), Some(1)));
    assert_eq!(gaps["gaps"], json!([]));
    api.send(Call::get("/v1/fiscal/nfe/gaps").query("environment", "mars").by(&fin)).await.problem_at(
        422,
        "invalid-field",
        "environment",
    );
    let production = api.send(Call::get("/v1/fiscal/nfe/gaps").query("environment", "production").by(&fin)).await;
    assert_eq!(production.json()["environment"], "production");

    let void = |body: Value| Call::post("/v1/fiscal/nfe/voids", &body);
    api.send(void(json!({"first": 1, "last": 1, "justification": "curta"})).by(&rep)).await.problem_at(
        422,
        "invalid-field",
        "justification",
    );
    api.send(void(json!({"first": 1, "last": 1, "justification": "Número pulado por engano", "extra": 1})).by(&rep))
        .await
        .problem(422, "unknown-field");
    api.send(
        void(json!({"first": 1, "last": 1, "justification": "Número pulado por engano"})).by(&Who::atendente(SHOP)),
    )
    .await
    .problem(403, "forbidden");
    // Nothing was numbered yet: no gap to void.
    let refused = api
        .send(void(json!({"first": 1, "last": 1, "justification": "Número pulado por engano"})).by(&rep))
        .await
        .problem(409, "fiscal-event-refused");
    assert!(refused["detail"].as_str().unwrap().contains("nº 1"), "{refused}");
    api.get(&rep, "/v1/fiscal/nfe/voids/1/xml").await.problem(404, "not-found");
}
