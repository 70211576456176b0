//! The labor's NFS-e Nacional through osflow-local (the Sefin simulator, produção restrita): a consultancy OS
//! (labor only: only the NFS-e), a mixed OS with two service codes (one NF-e, two DPS; the release waits for all of
//! them), text with what XML escapes and accents, every DPS and event checked with xmllint against nfelib's NFS-e
//! 1.01 schemas (`NFSE_SCHEMA_DIR`) and xmlsec1; the cancellation (e101101); an emitter in production refused by
//! produção restrita (tpAmb); an NFS-e issued elsewhere recorded with its file; 20 OS paid at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::nfe::{xmllint, xmlsec_verify};
use crate::support::*;

const CNPJ: &str = "11222333000181";
const NFSE_NS: &str = "http://www.sped.fazenda.gov.br/nfse";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The emitter's A1 certificate (PKCS#12 in base64) and its PEM for xmlsec1.
pub(crate) struct Company {
    pkcs12: String,
    cert_pem: PathBuf,
    _dir: tempfile::TempDir,
}

pub(crate) fn company() -> Company {
    let cnpj = osflow_nfe::Cnpj::parse(CNPJ).unwrap();
    let cert = osflow_nfe::Certificate::generate_for_homologation(&cnpj, "CONSULTORIA TESTE LTDA", 30).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cert_pem = dir.path().join("a1.pem");
    let der = b64(cert.cert_der());
    let lines: Vec<&str> = der.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    std::fs::write(
        &cert_pem,
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n")),
    )
    .unwrap();
    Company { pkcs12: b64(&cert.to_pkcs12("senha-a1").unwrap()), cert_pem, _dir: dir }
}

/// The emitter in `city` (IBGE code) with its municipal part (`nfse`), or `nfse_elsewhere`.
pub(crate) fn emitter(company: Option<&Company>, city: (&str, &str), environment: &str, nfse: Option<Value>) -> Value {
    let mut body = json!({
        "cnpj": CNPJ, "ie": "110042490114", "legal_name": "Consultoria Teste Ltda",
        "address": {"street": "Rua Barão de Jaguara", "number": "900", "district": "Centro", "city": city.1,
                    "city_code": city.0, "uf": "SP", "zip": "13015-002"},
        "phone": "(19) 3333-4444", "environment": environment, "tax": {"crt": "simples_nacional"},
        "tech_responsible": {"cnpj": CNPJ, "contact": "Suporte", "email": "suporte@exemplo.com.br",
                             "phone": "11987654321"}
    });
    match nfse {
        Some(n) if n == json!("elsewhere") => body["nfse_elsewhere"] = json!(true),
        Some(n) => body["nfse"] = n,
        None => {}
    }
    if let Some(c) = company {
        body["certificate"] = json!({"pkcs12": c.pkcs12, "password": "senha-a1"});
    }
    body
}

pub(crate) const CAMPINAS: (&str, &str) = ("3509502", "Campinas");
pub(crate) const SAO_PAULO: (&str, &str) = ("3550308", "São Paulo");

/// Simples Nacional ME/EPP, item 14.01 by default and 14.02 for the `instalacao` labor.
pub(crate) fn nfse_part() -> Value {
    json!({"municipal_registration": "123456", "simples_option": 3, "simples_regime": 1, "special_regime": 0,
           "serie": 1, "service": {"c_trib_nac": "140101", "c_nbs": "120012000"},
           "services_by_type": {"instalacao": {"c_trib_nac": "140201", "c_nbs": "120018100"}},
           "iss_rate": "2", "iss_withholding": 1,
           "approximate_taxes": {"form": "simples_rate", "percent": "6"}, "signature": "rsa-sha256"})
}

/// Free text with every character XML escapes, and accents.
pub(crate) const TRICKY: &str = "Consultoria \"técnica\" d'água & <rede> — ação";

pub(crate) fn labor(code: &str, description: &str, price: &str) -> Value {
    json!({"kind": "labor", "code": code, "description": description, "quantity": "1", "unit_price": price})
}

pub(crate) fn order(customer: Value, items: Vec<Value>) -> Value {
    json!({"customer": customer,
           "equipment": {"description": "Servidor", "brand": "Dell", "model": "R740", "serial": format!("SRV-{}", unique_suffix())},
           "service": {"type": "consultoria", "reported_problem": TRICKY},
           "items": items, "due_date": "2027-01-20"})
}

fn unique_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

pub(crate) fn cnpj_buyer() -> Value {
    json!({"name": "Padaria Pão & Cia Ltda", "document": "11.444.777/0001-61", "email": "compras@padaria.example.com",
           "address": {"street": "Av. Brasil", "number": "10", "district": "Jardim Guanabara", "city": "Campinas",
                       "city_code": "3509502", "uf": "SP", "zip": "13073-001"}})
}

fn cpf_buyer() -> Value {
    json!({"name": "Maria Souza", "document": "529.982.247-25", "email": "maria@example.com"})
}

/// Polls the order until `ready` holds of its documents.
pub(crate) async fn wait_documents(api: &Api, id: &str, what: &str, ready: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let order = api.order(id).await;
        let docs = order["invoices"].as_array().cloned().unwrap_or_default();
        if ready(&docs) {
            return docs;
        }
        assert!(std::time::Instant::now() < deadline, "never {what}: {}", order["invoices"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

pub(crate) fn all_authorized(docs: &[Value], nfe: usize, nfse: usize) -> bool {
    of_kind(docs, "nfe").len() == nfe
        && of_kind(docs, "nfse").len() == nfse
        && docs.iter().all(|d| d["state"] == "authorized")
}

fn schema(xsd: &str) -> PathBuf {
    let dir = std::env::var_os("NFSE_SCHEMA_DIR")
        .map(PathBuf::from)
        .expect("NFSE_SCHEMA_DIR (nfelib's nfse/schemas/v1_0): run scripts/test");
    dir.join(xsd)
}

/// The element `<name versao="1.01">…</name>` embedded in `doc` (in the inherited NFS-e namespace), as a document of
/// its own with that namespace declared (its canonical form, so its signature still verifies).
fn embedded(doc: &str, name: &str) -> String {
    let open = format!("<{name} versao=\"1.01\">");
    let start = doc.find(&open).unwrap_or_else(|| panic!("no {open} in {doc}"));
    let end = doc.rfind(&format!("</{name}>")).unwrap_or_else(|| panic!("no </{name}> in {doc}")) + name.len() + 3;
    format!("<{name} xmlns=\"{NFSE_NS}\" versao=\"1.01\">{}", &doc[start + open.len()..end])
}

/// Valid against `xsd`; with `cert`, the signature over the element `signed` (its `Id`) verified by xmlsec1 with
/// that certificate. (What Sefin returns holds the DPS or the event request, signed by the company, inside its
/// own signed element: those are checked extracted, with the company's certificate.)
fn check(dir: &Path, name: &str, xml: &str, xsd: &str, signed: &str, cert: Option<&Path>) {
    let f = dir.join(name);
    std::fs::write(&f, xml).unwrap();
    let xsd = schema(xsd);
    xmllint(&xsd, &f);
    if let Some(pem) = cert {
        xmlsec_verify(&format!("{NFSE_NS}:{signed}"), pem, &f);
    }
}

/// Downloads the NFS-e of a listed document and checks it and its DPS; returns (NFS-e XML, DPS XML).
async fn check_nfse(api: &Api, dir: &Path, doc: &Value, cert_pem: &Path) -> (String, String) {
    let key = doc["access_key"].as_str().expect("DPS Id");
    let (status, ct, xml) = api.bytes(doc["xml_url"].as_str().expect("xml_url")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/xml"));
    let xml = String::from_utf8(xml).unwrap();
    check(dir, &format!("{key}-nfse.xml"), &xml, "NFSe_v1.01.xsd", "infNFSe", None);
    let dps = embedded(&xml, "DPS");
    assert!(dps.contains(&format!("Id=\"{key}\"")), "{dps}");
    check(dir, &format!("{key}-dps.xml"), &dps, "DPS_v1.01.xsd", "infDPS", Some(cert_pem));
    // Produção restrita: the emitter is in homologação.
    assert!(dps.contains("<tpAmb>2</tpAmb>") && xml.contains("<ambGer>2</ambGer>"), "{dps}");
    (xml, dps)
}

/// The DPS of each of the order's NFS-e, with its list entry (the list has the XML link).
async fn nfse_items(api: &Api, id: &str) -> Vec<Value> {
    let list = api.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    list["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "nfse").cloned().collect()
}

/// A consultancy (labor only: only the NFS-e, to a CNPJ buyer) and a repair with parts and two service codes (one
/// NF-e and two DPS, to a CPF buyer), paid while the events are held: the release waits; once relayed, every
/// document is issued, each DPS passes the schema and its signature, the free text arrives escaped as C14N writes
/// it, and the releases go through. Then one NFS-e is cancelled (e101101): the event passes its schema and
/// signature, asking again answers the cancelled NFS-e, and the order's timeline shows it.
#[tokio::test]
async fn consultancy_and_mixed_orders_get_their_nfse_and_the_release_waits_for_every_document() {
    let dir = data_dir();
    let work = tempfile::tempdir().unwrap();
    let company = company();
    let local = Local::start(dir.path(), &["--hold-events"]);
    let rep = local.api(&local.token("consultoria", "representante"));
    let fin = rep.with_token(&local.token("consultoria", "financeiro"));
    let saved = rep
        .put("/v1/fiscal/emitter", emitter(Some(&company), CAMPINAS, "homologation", Some(nfse_part())))
        .await
        .ok(StatusCode::OK);
    assert_eq!(saved["nfse"]["service"]["c_trib_nac"], "140101", "{saved}");
    assert_eq!(saved["nfse_notice"], Value::Null, "osflow issues the NFS-e in Campinas: {saved}");

    let consultancy = rep
        .post("/v1/orders", order(cnpj_buyer(), vec![labor("S-100", TRICKY, "1500.00")]))
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut items = vec![
        json!({"kind": "part", "code": "P-001", "description": "Fonte 65W", "ncm": "85044010", "quantity": "1",
               "unit_price": "149.90"}),
        labor("S-001", "Diagnóstico & reparo", "120.00"),
        labor("instalacao", "Instalação <rack> \"19'\"", "80.00"),
    ];
    let mixed =
        rep.post("/v1/orders", order(cpf_buyer(), std::mem::take(&mut items))).await.ok(StatusCode::CREATED)["id"]
            .as_str()
            .unwrap()
            .to_owned();
    for (id, amount) in [(&consultancy, "1500.00"), (&mixed, "349.90")] {
        walk_to(&rep, id, "aguardando_pagamento").await;
        fin.step_ok(id, "payments", json!({"amount": amount, "method": "pix"})).await;
        // Nothing relayed yet: nothing issued, the release waits.
        let refused = fin.step(id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
        assert_eq!(refused["guard"], "invoice_authorized", "{refused}");
    }
    local.stop();

    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("consultoria", "representante"));
    let fin = rep.with_token(&local.token("consultoria", "financeiro"));
    let docs = wait_documents(&rep, &consultancy, "one NFS-e", |d| all_authorized(d, 0, 1)).await;
    assert_eq!(docs.len(), 1, "a labor-only OS has no NF-e: {docs:?}");
    let mixed_docs = wait_documents(&rep, &mixed, "one NF-e and two NFS-e", |d| all_authorized(d, 1, 2)).await;
    let mut numbers: Vec<u64> = [docs, mixed_docs]
        .concat()
        .iter()
        .filter(|d| d["kind"] == "nfse")
        .map(|d| d["number"].as_u64().unwrap())
        .collect();
    numbers.sort();
    assert_eq!(numbers, [1, 2, 3], "one DPS sequence, gapless");
    for id in [&consultancy, &mixed] {
        assert_eq!(fin.step_ok(id, "release", json!({})).await["status"], "liberada");
    }

    // Every DPS: schema, signature, produção restrita; the free text escaped as C14N writes it.
    let mut codes = Vec::new();
    for id in [&consultancy, &mixed] {
        for item in nfse_items(&rep, id).await {
            let (_, dps) = check_nfse(&rep, work.path(), &item, &company.cert_pem).await;
            let c_trib = dps.split("<cTribNac>").nth(1).unwrap().split('<').next().unwrap().to_owned();
            codes.push(c_trib);
            if id == &consultancy {
                assert!(dps.contains("<CNPJ>11444777000161</CNPJ>"), "the CNPJ buyer: {dps}");
                assert!(
                    // (the dash as the national system's character set has it)
                    dps.contains("Consultoria \"técnica\" d'água &amp; &lt;rede&gt; - ação"),
                    "the description as C14N writes it: {dps}"
                );
            } else {
                assert!(dps.contains("<CPF>52998224725</CPF>"), "the CPF buyer: {dps}");
            }
        }
    }
    codes.sort();
    assert_eq!(codes, ["140101", "140101", "140201"], "two service codes on the mixed OS, two DPS");

    // Cancel one NFS-e of the mixed OS.
    let target = nfse_items(&rep, &mixed).await.into_iter().max_by_key(|i| i["number"].as_u64()).unwrap();
    let key = target["access_key"].as_str().unwrap().to_owned();
    let cancel = format!("/v1/orders/{mixed}/invoices/{key}/cancel");
    let why = "Instalação não realizada: cliente \"desistiu\" & <reagendou>";
    fin.post(&cancel, json!({"justification": why}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field");
    let cancelled = fin.post(&cancel, json!({"justification": why, "reason": 2})).await.ok(StatusCode::OK);
    assert_eq!((cancelled["kind"].as_str(), cancelled["state"].as_str()), (Some("nfse"), Some("cancelled")));
    let again = rep.post(&cancel, json!({"justification": why, "reason": 2})).await.ok(StatusCode::OK);
    assert_eq!(again, cancelled, "asking again answers the cancelled NFS-e");
    let (status, _, event) = rep.bytes(&format!("{cancel}/xml")).await;
    assert_eq!(status, StatusCode::OK);
    let event = String::from_utf8(event).unwrap();
    check(work.path(), "evento.xml", &event, "evento_v1.01.xsd", "infEvento", None);
    let request = embedded(&event, "pedRegEvento");
    check(work.path(), "pedRegEvento.xml", &request, "pedRegEvento_v1.01.xsd", "infPedReg", Some(&company.cert_pem));
    assert!(request.contains("<cMotivo>2</cMotivo>") && request.contains("<tpAmb>2</tpAmb>"), "{request}");
    assert!(request.contains("cliente \"desistiu\" &amp; &lt;reagendou&gt;"), "{request}");
    let order = rep.order(&mixed).await;
    let shown = order["invoices"].as_array().unwrap().iter().find(|d| d["key"] == key.as_str()).unwrap().clone();
    assert_eq!(shown["state"], "cancelled", "{shown}");
    let timeline = rep.get(&format!("/v1/orders/{mixed}/timeline")).await.ok(StatusCode::OK).to_string();
    assert!(timeline.contains("\"cancelled\""), "the cancellation on the timeline: {timeline}");
    // A cancelled NFS-e is not sent again.
    fin.post(&format!("/v1/orders/{mixed}/invoices/{key}/retry"), json!({}))
        .await
        .problem(StatusCode::CONFLICT, "/problems/invoice-not-rejected");
}

/// An emitter left in production by mistake: its DPS carries tpAmb 1, which produção restrita refuses; the order
/// shows the refusal with Sefin's code and the release waits. Nothing was issued. Moved to homologação (signing
/// RSA-SHA1 now), the retry issues the NFS-e and the refused production DPS no longer holds the release.
#[tokio::test]
async fn a_production_dps_refused_by_producao_restrita_does_not_hold_the_release_after_the_switch() {
    let dir = data_dir();
    let company = company();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("consultoria-prod", "representante"));
    let fin = rep.with_token(&local.token("consultoria-prod", "financeiro"));
    rep.put("/v1/fiscal/emitter", emitter(Some(&company), CAMPINAS, "production", Some(nfse_part())))
        .await
        .ok(StatusCode::OK);
    let id = rep
        .post("/v1/orders", order(cnpj_buyer(), vec![labor("S-100", "Consultoria", "500.00")]))
        .await
        .ok(StatusCode::CREATED)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "500.00", "method": "pix"})).await;
    let docs = wait_documents(&rep, &id, "a rejected DPS", |d| d.iter().any(|x| x["state"] == "rejected")).await;
    assert_eq!(docs.len(), 1, "{docs:?}");
    assert!(docs[0]["message"].as_str().unwrap().contains("X0005"), "produção restrita refuses tpAmb 1: {docs:?}");
    let refused = fin.step(&id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
    assert_eq!(refused["guard"], "invoice_authorized");

    // Fixed: homologação (the certificate kept), and DPS signed RSA-SHA1 now. Homologação numbers its own DPS, so
    // the retry issues DPS 1 of that sequence, whose Id is the refused production DPS's (the Id holds no
    // environment): the latest attempt decides, so the order shows the new one, built and signed anew (tpAmb 2,
    // rsa-sha1), and the release goes through; the production attempt stays listed, rejected.
    let mut sha1 = nfse_part();
    sha1["signature"] = json!("rsa-sha1");
    rep.put("/v1/fiscal/emitter", emitter(None, CAMPINAS, "homologation", Some(sha1))).await.ok(StatusCode::OK);
    fin.step_ok(&id, "invoices/retry", json!({})).await;
    let docs = wait_documents(&rep, &id, "the NFS-e issued", |d| all_authorized(d, 0, 1)).await;
    let items = nfse_items(&rep, &id).await;
    assert_eq!(items.len(), 2, "the production attempt and the NFS-e: {items:?}");
    let issued = items.iter().find(|i| i["state"] == "authorized").expect("issued");
    let production = items.iter().find(|i| i["state"] == "rejected").expect("the production attempt");
    assert_eq!((&issued["access_key"], &production["access_key"]), (&docs[0]["key"], &docs[0]["key"]));
    let work = tempfile::tempdir().unwrap();
    let (_, dps) = check_nfse(&rep, work.path(), issued, &company.cert_pem).await;
    assert!(dps.contains("Algorithm=\"http://www.w3.org/2000/09/xmldsig#rsa-sha1\""), "{dps}");
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");
}

/// São Paulo capital keeps its own issuer: the municipal part is refused there, naming `nfse`; declared issued
/// elsewhere, the emitter says so, the release waits for the NFS-e recorded on the OS (number, verification code,
/// PDF), and the PDF is served back as uploaded.
#[tokio::test]
async fn an_nfse_issued_elsewhere_is_recorded_with_its_file_and_satisfies_the_release() {
    let dir = data_dir();
    let company = company();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-sp", "representante"));
    let fin = rep.with_token(&local.token("oficina-sp", "financeiro"));
    let refused = rep
        .put("/v1/fiscal/emitter", emitter(Some(&company), SAO_PAULO, "homologation", Some(nfse_part())))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field");
    assert_eq!(refused["field"], "nfse");
    assert!(refused["detail"].as_str().unwrap().contains("São Paulo"), "{refused}");
    let saved = rep
        .put("/v1/fiscal/emitter", emitter(Some(&company), SAO_PAULO, "homologation", Some(json!("elsewhere"))))
        .await
        .ok(StatusCode::OK);
    assert_eq!(saved["nfse_elsewhere"], true);
    let notice = saved["nfse_notice"].as_str().expect("the notice").to_owned();
    assert!(notice.contains("São Paulo") && notice.contains("liberação espera"), "{notice}");
    assert_eq!(rep.get("/v1/fiscal/emitter").await.ok(StatusCode::OK)["nfse_notice"], notice.as_str());

    let id = rep.open_example().await;
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    wait_documents(&rep, &id, "the NF-e", |d| all_authorized(d, 1, 0)).await;
    let refused = fin.step(&id, "release", json!({})).await.problem(StatusCode::CONFLICT, "/problems/guard-failed");
    assert_eq!(refused["guard"], "invoice_authorized", "the labor's NFS-e is missing: {refused}");

    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% NFS-e 4521 - Prefeitura de Sao Paulo\n%%EOF\n";
    let external = format!("/v1/orders/{id}/invoices/external");
    let bad = json!({"number": 4521, "verification_code": "AB12-CD34",
                     "file": {"content_type": "application/pdf", "data": b64(b"<html/>")}});
    let p = fin.post(&external, bad).await.problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field");
    assert_eq!(p["field"], "file.data");
    let body = json!({"number": 4521, "verification_code": "AB12-CD34",
                      "file": {"content_type": "application/pdf", "data": b64(pdf)}});
    let order = fin.post(&external, body).await.ok(StatusCode::CREATED);
    let shown = order["invoices"].as_array().unwrap().iter().find(|d| d["key"] == "EXT4521").unwrap().clone();
    assert_eq!(shown["verification_code"], "AB12-CD34", "{shown}");
    let (status, ct, file) = rep.bytes(&format!("/v1/orders/{id}/invoices/EXT4521/file")).await;
    assert_eq!((status, ct.as_str(), file.as_slice()), (StatusCode::OK, "application/pdf", pdf.as_slice()));
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");
}

/// Twenty labor-only OS paid at once: twenty NFS-e, DPS numbers 1 to 20 (distinct, no gap), each once.
#[tokio::test]
async fn twenty_orders_paid_at_once_take_dps_numbers_1_to_20() {
    let dir = data_dir();
    let company = company();
    // Paying twenty at once is more than a company's default request rate.
    let local = Local::start_with_env(dir.path(), &[], &[("OSFLOW_TENANT_RPS", "0")]);
    let rep = local.api(&local.token("consultoria-20", "representante"));
    let fin = rep.with_token(&local.token("consultoria-20", "financeiro"));
    rep.put("/v1/fiscal/emitter", emitter(Some(&company), CAMPINAS, "homologation", Some(nfse_part())))
        .await
        .ok(StatusCode::OK);
    let mut ids = Vec::new();
    for i in 0..20 {
        let body = order(cpf_buyer(), vec![labor("S-100", "Consultoria", &format!("{}.00", 100 + i))]);
        let id = rep.post("/v1/orders", body).await.ok(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
        walk_to(&rep, &id, "aguardando_pagamento").await;
        ids.push((id, format!("{}.00", 100 + i)));
    }
    let payments = ids.iter().map(|(id, amount)| {
        let fin = fin.clone();
        let (id, amount) = (id.clone(), amount.clone());
        tokio::spawn(async move { fin.step_ok(&id, "payments", json!({"amount": amount, "method": "pix"})).await })
    });
    for p in payments.collect::<Vec<_>>() {
        p.await.unwrap();
    }
    let mut numbers = Vec::new();
    for (id, _) in &ids {
        let docs = wait_documents(&rep, id, "one NFS-e", |d| all_authorized(d, 0, 1)).await;
        // The release and the close are relayed to the invoicer too: it finds the NFS-e issued, issues nothing.
        assert_eq!(fin.step_ok(id, "release", json!({})).await["status"], "liberada");
        numbers.push(docs[0]["number"].as_u64().unwrap());
    }
    for (id, _) in &ids {
        let list = rep.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "one DPS per OS: {list}");
    }
    numbers.sort();
    assert_eq!(numbers, (1..=20).collect::<Vec<u64>>());
}
