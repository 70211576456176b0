//! SEFAZ's contingency on osflow-local: with the simulator's outage switch on (`<data>/sefaz-outage`), an OS
//! walked to payment gets its NF-e from SVC-AN (tpEmis 6 in a new key, dhCont and xJust in the stored XML, checked
//! by xmllint and xmlsec1), the order, the invoice list, the DANFE and `GET /v1/fiscal/emitter` show the
//! contingency; with the switch off the next NF-e finds SEFAZ SP in operation and the company back to normal.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::nfe::{homologation_emitter, run, wait_for_invoice, xmllint, xmlsec_verify};
use crate::support::*;

/// The stored nfeProc passes the official schema and its signature verifies with the company's certificate.
fn check_proc(dir: &std::path::Path, xml: &[u8], cert_pem: &std::path::Path) {
    let schemas = std::env::var_os("NFE_SCHEMA_DIR").expect("NFE_SCHEMA_DIR (the nfelib schemas): run scripts/test");
    let schema = std::path::Path::new(&schemas).join("procNFe_v4.00.xsd");
    let f = dir.join("procNFe.xml");
    std::fs::write(&f, xml).unwrap();
    xmllint(&schema, &f);
    xmlsec_verify("http://www.portalfiscal.inf.br/nfe:infNFe", cert_pem, &f);
}

async fn paid(rep: &Api, fin: &Api) -> String {
    let id = rep.open_example().await;
    walk_to(rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    id
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> &'a str {
    let i = s.find(a).unwrap_or_else(|| panic!("{a} in {s}")) + a.len();
    &s[i..i + s[i..].find(b).unwrap()]
}

#[tokio::test]
async fn an_outage_issues_the_nfe_in_svc_an_and_the_authorizer_back_returns_to_normal() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-svc", "representante"));
    let fin = rep.with_token(&local.token("oficina-svc", "financeiro"));
    let cert = homologation_emitter(&rep, "OFICINA FISCAL LTDA").await;
    let work = tempfile::tempdir().unwrap();
    let cert_pem = work.path().join("a1.pem");
    std::fs::write(&cert_pem, cert.x509().to_pem().unwrap()).unwrap();
    assert_eq!(rep.get("/v1/fiscal/emitter").await.ok(StatusCode::OK)["contingency"], Value::Null);

    // SEFAZ SP down (108 to every request), SVC-AN on.
    let switch = dir.path().join("sefaz-outage");
    std::fs::write(&switch, b"").unwrap();
    let id = paid(&rep, &fin).await;
    let invoice = wait_for_invoice(&rep, &id, "authorized").await;
    let key = invoice["key"].as_str().unwrap().to_owned();
    assert_eq!(&key[34..35], "6", "tpEmis 6 in the access key: {invoice}");
    assert_eq!(invoice["contingency"], "SVC-AN", "{invoice}");

    // The company shows its contingency: the SVC, since when, why.
    let emitter = rep.get("/v1/fiscal/emitter").await.ok(StatusCode::OK);
    let contingency = emitter["contingency"].clone();
    assert_eq!(contingency["authorizer"], "SVC-AN", "{emitter}");
    let reason = contingency["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("cStat 108") && reason.contains("SVC-AN"), "{reason}");
    let since = chrono::DateTime::parse_from_rfc3339(contingency["since"].as_str().unwrap()).unwrap();

    // The invoice list: the NF-e under its SVC key with the entry it was signed with.
    let invoices = rep.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    let items = invoices["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one NF-e for the OS: {invoices}");
    assert_eq!(items[0]["access_key"], key.as_str());
    assert_eq!(items[0]["contingency"], contingency, "{invoices}");

    // The stored XML: schema and signature, tpEmis 6, dhCont (the entry's instant, Brasília time), xJust.
    let (status, ct, xml) = rep.bytes(&format!("/v1/orders/{id}/invoices/{key}/xml")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/xml"));
    check_proc(work.path(), &xml, &cert_pem);
    let text = String::from_utf8(xml).unwrap();
    assert!(text.contains(&format!("Id=\"NFe{key}\"")) && text.contains(&format!("<chNFe>{key}</chNFe>")));
    assert_eq!(between(&text, "<tpEmis>", "</tpEmis>"), "6");
    let dh_cont = chrono::DateTime::parse_from_rfc3339(between(&text, "<dhCont>", "</dhCont>")).unwrap();
    assert_eq!(dh_cont, since, "dhCont is when the company entered contingency");
    assert_eq!(dh_cont.offset().local_minus_utc(), -3 * 3600);
    assert_eq!(between(&text, "<xJust>", "</xJust>"), reason);
    assert_eq!(between(&text, "<cStat>", "</cStat>"), "100");

    // The DANFE says so (read by pdftotext).
    let (status, _, pdf) = rep.bytes(&format!("/v1/orders/{id}/invoices/{key}/danfe.pdf")).await;
    assert_eq!(status, StatusCode::OK);
    let pdf_path = work.path().join("danfe.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let danfe = run("pdftotext", &["-layout", pdf_path.to_str().unwrap(), "-"]);
    assert!(danfe.contains("EMITIDA EM CONTINGÊNCIA SVC-AN"), "{danfe}");
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");

    // SEFAZ SP back: the next NF-e asks its status (107), the company returns to normal, tpEmis 1.
    std::fs::remove_file(&switch).unwrap();
    let id2 = paid(&rep, &fin).await;
    let invoice2 = wait_for_invoice(&rep, &id2, "authorized").await;
    let key2 = invoice2["key"].as_str().unwrap().to_owned();
    assert_eq!(&key2[34..35], "1", "{invoice2}");
    assert_eq!(invoice2["number"], 2, "{invoice2}");
    assert_eq!(invoice2.get("contingency"), None, "{invoice2}");
    assert_eq!(rep.get("/v1/fiscal/emitter").await.ok(StatusCode::OK)["contingency"], Value::Null);
    let (_, _, xml2) = rep.bytes(&format!("/v1/orders/{id2}/invoices/{key2}/xml")).await;
    check_proc(work.path(), &xml2, &cert_pem);
    let text2 = String::from_utf8(xml2).unwrap();
    assert_eq!(between(&text2, "<tpEmis>", "</tpEmis>"), "1");
    assert!(!text2.contains("<dhCont>") && !text2.contains("<xJust>"));
    // The first OS still has its one NF-e, the SVC one.
    assert_eq!(rep.order(&id).await["invoice"]["key"], key.as_str());
}
