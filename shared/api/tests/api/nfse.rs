//! The labor's NFS-e through the routes: its cancellation on the route the NF-e's shares (dispatched by the
//! document's kind: `reason` required, idempotent, its event downloadable), one document sent again by its key,
//! and an NFS-e issued elsewhere recorded with its file (a bad file named and nothing recorded).

use std::sync::Arc;

use base64::Engine;
use osflow_domain::values::{OrderId, TenantId};
use osflow_nfe::{Certificate, Cnpj};
use serde_json::{Value, json};

use crate::support::*;

const CNPJ: &str = "11222333000181";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// An emitter in Campinas (on the national system) with its municipal part.
fn campinas_emitter() -> Value {
    let cert = Certificate::generate_for_homologation(&Cnpj::parse(CNPJ).unwrap(), "OFICINA DO ZE LTDA", 30).unwrap();
    json!({
        "cnpj": CNPJ, "ie": "244000158110", "legal_name": "Oficina do Zé Ltda", "trade_name": "Oficina do Zé",
        "address": {"street": "Rua Barão de Jaguara", "number": "900", "district": "Centro", "city": "Campinas",
                    "city_code": "3509502", "uf": "SP", "zip": "13015-002"},
        "phone": "(19) 3333-4444", "serie": 1, "cfop": "5102",
        "tax": {"crt": "simples_nacional", "csosn": "102"},
        "tech_responsible": {"cnpj": CNPJ, "contact": "Suporte", "email": "suporte@exemplo.com.br",
                             "phone": "11987654321"},
        "nfse": {"municipal_registration": "123456", "simples_option": 3, "simples_regime": 1, "special_regime": 0,
                 "serie": 1, "service": {"c_trib_nac": "140101", "c_nbs": "120012000"},
                 "iss_rate": "2", "iss_withholding": 1,
                 "approximate_taxes": {"form": "simples_rate", "percent": "6"}, "signature": "rsa-sha256"},
        "certificate": {"pkcs12": b64(&cert.to_pkcs12("senha").unwrap()), "password": "senha"}
    })
}

#[tokio::test]
async fn an_issued_nfse_is_cancelled_on_the_shared_route_and_an_external_one_recorded_with_its_file() {
    let mut api = Api::new();
    api.clock.advance(chrono::Utc::now() - osflow_app::Clock::now(api.clock.as_ref()));
    let rep = Who::representante(SHOP);
    let fin = Who::financeiro(SHOP);
    let staff = Who::staff(SHOP);
    let r = api.send(Call::new("PUT", "/v1/fiscal/emitter").json(&campinas_emitter()).by(&rep)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sim = Arc::new(osflow_nfse::simulator::Simulator::new());
    let nfse = Arc::new(osflow_invoicing::NfseInvoicer::new(
        api.app.clone(),
        Arc::new(api.store.clone()),
        Arc::new(osflow_invoicing::SharedNfseAuthority(sim.clone())),
    ));
    api.app = api.app.clone().with_nfse_events(nfse.clone());

    let id = api.open_example(&staff).await;
    let base = format!("/v1/orders/{id}");
    api.ok(&staff, "POST", &format!("{base}/quote/send"), "{}").await;
    api.ok(&staff, "POST", &format!("{base}/quote/decision"), r#"{"decision": "approve"}"#).await;
    api.ok(&staff, "POST", &format!("{base}/payments"), r#"{"amount": "269.90", "method": "pix"}"#).await;
    let (tenant, order_id) = (TenantId::parse(SHOP).unwrap(), OrderId::parse(&id).unwrap());
    nfse.issue(&tenant, &order_id).await.unwrap();
    let order = api.order(&staff, &id).await;
    let doc = order["invoices"].as_array().unwrap().iter().find(|d| d["kind"] == "nfse").unwrap().clone();
    assert_eq!(doc["state"], "authorized", "{doc}");
    let key = doc["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 45, "the DPS Id");

    // The list links the DANFSe while it is stored: one that could not be drawn (the NFS-e stands without it) is
    // listed without a link that would answer 404.
    let listed_nfse =
        |list: Value| list["items"].as_array().unwrap().iter().find(|d| d["kind"] == "nfse").cloned().unwrap();
    let listed = listed_nfse(api.get(&staff, &format!("{base}/invoices")).await.json());
    let danfse_url = listed["danfse_url"].as_str().expect("the DANFSe's link").to_owned();
    assert_eq!(api.get(&staff, &danfse_url).await.status, 200);
    let nfse_key = doc["protocol"].as_str().unwrap();
    let drawn = api.blobs.root().join(SHOP).join(format!("orders/{id}/nfse/{nfse_key}-danfse.pdf"));
    let pdf_bytes = std::fs::read(&drawn).expect("the DANFSe drawn at issuance");
    std::fs::remove_file(&drawn).unwrap();
    let listed = listed_nfse(api.get(&staff, &format!("{base}/invoices")).await.json());
    assert_eq!(listed["danfse_url"], Value::Null, "{listed}");
    assert_eq!(api.get(&staff, &danfse_url).await.status, 404);
    std::fs::write(&drawn, pdf_bytes).unwrap();

    // The NFS-e's XML, and no retry of an issued document.
    let xml = api.get(&staff, &format!("{base}/invoices/{key}/xml")).await;
    assert_eq!(xml.status, 200);
    assert!(xml.body.contains("<NFSe") && xml.body.contains(&key), "{}", xml.body);
    api.send(Call::post(&format!("{base}/invoices/{key}/retry"), &json!({})).by(&fin))
        .await
        .problem(409, "invoice-not-rejected");

    // Cancel: cMotivo required for an NFS-e (named), the justification's length, the roles.
    let cancel = format!("{base}/invoices/{key}/cancel");
    let why = "Serviço cobrado em duplicidade & refeito";
    api.send(Call::post(&cancel, &json!({"justification": why})).by(&fin)).await.problem_at(
        422,
        "invalid-field",
        "reason",
    );
    api.send(Call::post(&cancel, &json!({"justification": why, "reason": 5})).by(&fin)).await.problem_at(
        422,
        "invalid-field",
        "reason",
    );
    api.send(Call::post(&cancel, &json!({"justification": "curto", "reason": 1})).by(&fin)).await.problem_at(
        422,
        "invalid-field",
        "justification",
    );
    // 17 characters as typed, 6 once its spaces are collapsed as the event's xMotivo is written: the event's
    // builder refuses it, named as the justification, and nothing reaches Sefin.
    let spaced = "Erro            x";
    api.send(Call::post(&cancel, &json!({"justification": spaced, "reason": 1})).by(&fin)).await.problem_at(
        422,
        "invalid-field",
        "justification",
    );
    api.send(Call::post(&cancel, &json!({"justification": why, "reason": 1})).by(&Who::tecnico(SHOP)))
        .await
        .problem(403, "forbidden");
    assert_eq!(api.order(&staff, &id).await["invoices"].to_string().matches("cancelled").count(), 0);
    let done = api.send(Call::post(&cancel, &json!({"justification": why, "reason": 1})).by(&fin)).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!((done.json()["state"].clone(), done.json()["kind"].clone()), (json!("cancelled"), json!("nfse")));
    let again = api.send(Call::post(&cancel, &json!({"justification": why, "reason": 1})).by(&rep)).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json(), done.json(), "asking again answers the cancelled NFS-e");
    let protocol = done.json()["protocol"].as_str().unwrap().to_owned();
    assert_eq!(sim.events(&osflow_nfse::NfseKey::parse(&protocol).unwrap()).len(), 1, "one event at Sefin");
    let event = api.get(&staff, &format!("{cancel}/xml")).await;
    assert_eq!(event.status, 200);
    assert!(event.body.contains("<e101101>") && event.body.contains("&amp; refeito"), "{}", event.body);
    let timeline = api.get(&staff, &format!("{base}/timeline")).await.json().to_string();
    assert!(timeline.contains("cancelled"), "the cancellation is on the timeline: {timeline}");

    // An NFS-e issued elsewhere, with its file: a file that is not what it says is named, nothing recorded.
    let external = format!("{base}/invoices/external");
    let version = api.version(&id).await;
    let fake = json!({"number": 4521, "verification_code": "AB12-CD34",
                      "file": {"content_type": "application/pdf", "data": b64(b"<html>not a pdf</html>")}});
    api.send(Call::post(&external, &fake).by(&fin)).await.problem_at(422, "invalid-field", "file.data");
    let not_b64 = json!({"number": 4521, "verification_code": "AB12", "file": {"content_type": "application/pdf", "data": "%%%"}});
    api.send(Call::post(&external, &not_b64).by(&fin)).await.problem_at(422, "invalid-field", "file.data");
    let exe = json!({"number": 4521, "verification_code": "AB12", "file": {"content_type": "application/x-msdownload", "data": "TVo="}});
    api.send(Call::post(&external, &exe).by(&fin)).await.problem_at(422, "invalid-field", "file.content_type");
    api.send(Call::post(&external, &json!({"number": 4521, "verification_code": "AB12"})).by(&Who::atendente(SHOP)))
        .await
        .problem(403, "forbidden");
    assert_eq!(api.version(&id).await, version, "nothing recorded");
    let pdf = b"%PDF-1.4\n% NFS-e 4521 da prefeitura\n%%EOF\n";
    let body = json!({"number": 4521, "verification_code": "AB12-CD34",
                      "file": {"content_type": "application/pdf", "data": b64(pdf)}});
    let recorded = api.send(Call::post(&external, &body).by(&fin)).await;
    assert_eq!(recorded.status, 201, "{}", recorded.body);
    let shown = recorded.json()["invoices"].as_array().unwrap().iter().find(|d| d["key"] == "EXT4521").unwrap().clone();
    assert_eq!((shown["kind"].clone(), shown["state"].clone()), (json!("nfse"), json!("authorized")));
    assert_eq!(shown["verification_code"], "AB12-CD34");
    let file = api.get(&staff, &format!("{base}/invoices/EXT4521/file")).await;
    assert_eq!(file.status, 200);
    assert_eq!(file.body.as_bytes(), pdf, "the file as uploaded");
    // The same number again is refused before its file is kept: the first upload is the only file.
    let kept_files = || {
        let folder = std::fs::read_dir(api.blobs.root().join(SHOP).join(format!("orders/{id}/nfse"))).unwrap();
        folder.filter(|f| f.as_ref().unwrap().file_name().to_string_lossy().starts_with("EXT")).count()
    };
    assert_eq!(kept_files(), 1);
    api.send(Call::post(&external, &body).by(&fin)).await.problem_at(422, "invalid-field", "number");
    assert_eq!(kept_files(), 1, "a refused record keeps no file");
    let too_long = json!({"number": 4522, "verification_code": "X".repeat(61),
                          "file": {"content_type": "application/pdf", "data": b64(pdf)}});
    api.send(Call::post(&external, &too_long).by(&fin)).await.problem_at(422, "invalid-field", "verification_code");
    assert_eq!(kept_files(), 1, "a refused record keeps no file");
    // The same request again (its Idempotency-Key) is answered as saved, its file not checked again.
    let once = json!({"number": 4523, "verification_code": "EF56",
                      "file": {"content_type": "application/pdf", "data": b64(pdf)}});
    let first = api.send(Call::post(&external, &once).by(&fin).idem("ext-4523")).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = api.send(Call::post(&external, &once).by(&fin).idem("ext-4523")).await;
    assert_eq!((again.status, again.json()), (201, first.json()), "the saved answer");
    assert_eq!(kept_files(), 2, "one file per record");
    // Listed with the order's invoices (as the order's `invoices` does), after the DPS, with the file's link.
    let listed = api.get(&staff, &format!("{base}/invoices")).await.json()["items"].as_array().unwrap().clone();
    let keys: Vec<&str> = listed.iter().map(|d| d["access_key"].as_str().unwrap()).collect();
    assert_eq!(&keys[keys.len() - 2..], ["EXT4521", "EXT4523"], "{listed:?}");
    assert!(keys[0].starts_with("DPS"), "{listed:?}");
    let ext = &listed[keys.len() - 2];
    assert_eq!(
        (ext["kind"].clone(), ext["state"].clone(), ext["number"].clone()),
        (json!("nfse"), json!("authorized"), json!(4521))
    );
    assert_eq!((ext["verification_code"].clone(), ext["emitter"].clone()), (json!("AB12-CD34"), Value::Null));
    assert_eq!(ext["created_at"], ext["updated_at"]);
    let file_url = ext["file_url"].as_str().unwrap();
    assert_eq!(file_url, format!("/v1/orders/{id}/invoices/EXT4521/file"));
    assert_eq!(api.get(&staff, file_url).await.body.as_bytes(), pdf);
    // Base64 with more padding than its length calls for is not base64 (without any, it is).
    let xml = b"<NFSe>4524</NFSe>";
    let padded = |data: String| {
        json!({"number": 4524, "verification_code": "GH78",
                                        "file": {"content_type": "application/xml", "data": data}})
    };
    assert!(b64(xml).ends_with('='), "the case needs padding");
    api.send(Call::post(&external, &padded(format!("{}=", b64(xml)))).by(&fin)).await.problem_at(
        422,
        "invalid-field",
        "file.data",
    );
    let unpadded = api.send(Call::post(&external, &padded(b64(xml).trim_end_matches('=').to_owned())).by(&fin)).await;
    assert_eq!(unpadded.status, 201, "{}", unpadded.body);
    assert_eq!(api.get(&staff, &format!("{base}/invoices/EXT4524/file")).await.body.as_bytes(), xml);
    // Two uploads of one number in the same instant (a race of two records; the test clock stands still) get
    // their own keys: the one refused later never replaces the file of the one recorded.
    let who = osflow_testkit::caller(&tenant, "fin-1", &[osflow_domain::Role::Financeiro]);
    let (a, b) = (b"%PDF-1.4\n% a\n".to_vec(), b"%PDF-1.4\n% b\n".to_vec());
    let ka =
        api.app.keep_external_nfse_file(&who, &order_id, 4525, "IJ90", "application/pdf", a.clone()).await.unwrap();
    let kb =
        api.app.keep_external_nfse_file(&who, &order_id, 4525, "IJ90", "application/pdf", b.clone()).await.unwrap();
    assert_ne!(ka, kb);
    assert_eq!(api.app.blobs.get(&tenant, &ka).await.unwrap().unwrap().bytes, a);
    assert_eq!(api.app.blobs.get(&tenant, &kb).await.unwrap().unwrap().bytes, b);
    // It is the municipality's: not cancelled here.
    api.send(
        Call::post(&format!("{base}/invoices/EXT4521/cancel"), &json!({"justification": why, "reason": 1})).by(&fin),
    )
    .await
    .problem(409, "fiscal-event-refused");
}
