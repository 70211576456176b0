//! The shop's paperwork through osflow-local: the printed OS (checked with poppler's `pdftotext`, which did not
//! make them), the warranty return at zero price linked both ways, and an NF-e with discounts through the schema
//! (`xmllint`), the signature (`xmlsec1`) and its totals.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use reqwest::StatusCode;
use serde_json::json;

use crate::nfe::{homologation_emitter, wait_for_invoice};
use crate::support::*;

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
        .unwrap_or_default();
    found.unwrap_or_else(|| panic!("`{name}` is not installed: run scripts/setup"))
}

/// The bytes of a GET (PDF, XML) with the caller's token, and its content type.
async fn download(api: &Api, path: &str) -> (String, Vec<u8>) {
    let mut req = api.http.get(format!("{}{}", api.base, path));
    if let Some(token) = &api.token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.expect("request to osflow-local");
    assert_eq!(resp.status(), StatusCode::OK, "GET {path}");
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (content_type, resp.bytes().await.unwrap().to_vec())
}

/// The text of a PDF as poppler reads it (layout kept, so a table row stays on one line).
pub(crate) fn pdf_text(dir: &Path, name: &str, pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let file = dir.join(name);
    std::fs::write(&file, pdf).unwrap();
    let out = Process::new(tool("pdftotext")).arg("-layout").arg(&file).arg("-").output().expect("run pdftotext");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

async fn receipt(api: &Api, id: &str, kind: &str, dir: &Path) -> String {
    let (content_type, pdf) = download(api, &format!("/v1/orders/{id}/receipts/{kind}")).await;
    assert_eq!(content_type, "application/pdf");
    pdf_text(dir, &format!("{id}-{kind}.pdf"), &pdf)
}

/// The company sets its warranty defaults (parts 30 days, labor 90); the notebook is left with its charger and
/// bag, as the entry receipt says; once released, each line has its warranty from the release day; the customer
/// comes back with the labor covered: a new OS opens linked to the first, its line at zero price, and each order
/// shows the other; the delivery receipt prints each line's warranty.
#[tokio::test]
async fn a_warranty_return_at_zero_price_linked_both_ways_and_the_receipts() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-garantia", "representante"));
    let settings = json!({"company_name": "Oficina Garantia Ltda", "company_document": "11.222.333/0001-81",
                          "warranty_parts_days": 30, "warranty_labor_days": 90});
    let saved = rep.put("/v1/settings/company", settings).await.ok(StatusCode::OK);
    assert_eq!((saved["warranty_parts_days"].as_u64(), saved["warranty_labor_days"].as_u64()), (Some(30), Some(90)));
    let tec = rep.with_token(&local.token("oficina-garantia", "tecnico"));
    tec.put("/v1/settings/company", json!({})).await.problem(StatusCode::FORBIDDEN, FORBIDDEN);

    let mut body = example_order();
    body["intake"] = json!({"accessories": ["Carregador Dell 65W", "Mochila preta"], "condition": "Tampa riscada"});
    let first = rep.post("/v1/orders", body).await.ok(StatusCode::CREATED);
    let id = first["id"].as_str().unwrap().to_owned();
    let number = first["number"].as_u64().unwrap();
    assert_eq!(first["intake"]["accessories"][0], "Carregador Dell 65W");
    assert_eq!(first["quote"]["lines"][0]["warranty_days"], 30, "the parts default");
    assert_eq!(first["quote"]["lines"][1]["warranty_days"], 90, "the labor default");
    // An intake photo of the equipment as received: on the order, and listed on the entry receipt.
    let photo = json!({"content_type": "image/jpeg", "caption": "Canto da tampa riscado", "intake": true});
    let added = rep.post(&format!("/v1/orders/{id}/attachments"), photo.clone()).await.ok(StatusCode::CREATED);
    assert_eq!(added["attachment"]["intake"], true, "{added}");
    assert_eq!(rep.order(&id).await["attachments"][0]["intake"], true);

    let entry = receipt(&rep, &id, "entry", dir.path()).await;
    for expected in [
        &format!("OS nº {number}") as &str,
        "RECIBO DE ENTRADA",
        "Oficina Garantia Ltda",
        "Carregador Dell 65W, Mochila preta",
        "Tampa riscada",
        "Fotos de entrada: 1 (Canto da tampa riscado)",
        "Não liga",
        "Fonte 65W",
        "R$ 269,90",
        "Assinatura do cliente",
    ] {
        assert!(entry.contains(expected), "the entry receipt has no {expected:?}:\n{entry}");
    }

    // Not released yet: no warranty to return to.
    let early = json!({"lines": [{"revision": 1, "line": 2}], "reported_problem": "Desliga sozinho"});
    rep.post(&format!("/v1/orders/{id}/warranty-return"), early.clone())
        .await
        .problem(StatusCode::CONFLICT, NOT_ALLOWED);
    walk_to(&rep, &id, "aguardando_pagamento").await;
    // The work started: no more intake photos.
    rep.post(&format!("/v1/orders/{id}/attachments"), photo)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FIELD);
    rep.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    let released = rep.step_ok(&id, "release", json!({})).await;
    let warranties = released["warranties"].as_array().expect("warranties");
    assert_eq!(warranties.len(), 2, "{released}");
    assert_eq!((warranties[0]["days"].as_u64(), warranties[1]["days"].as_u64()), (Some(30), Some(90)));
    assert_eq!(warranties[1]["from"], warranties[0]["from"]);

    // A line the order does not have is refused, naming it; the covered labor opens the return.
    let bad = json!({"lines": [{"revision": 1, "line": 7}], "reported_problem": "Desliga sozinho"});
    rep.post(&format!("/v1/orders/{id}/warranty-return"), bad)
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, INVALID_FIELD);
    let ret = rep.post(&format!("/v1/orders/{id}/warranty-return"), early).await.ok(StatusCode::CREATED);
    let ret_id = ret["id"].as_str().unwrap().to_owned();
    assert_eq!(ret["warranty_of"], json!({"id": id, "number": number}));
    assert_eq!(ret["customer"], first["customer"]);
    assert_eq!(ret["equipment"], first["equipment"]);
    assert_eq!(ret["service"]["reported_problem"], "Desliga sozinho");
    let lines = ret["quote"]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!((&lines[0]["description"], &lines[0]["unit_price"]), (&json!("Diagnóstico e reparo"), &json!("0.00")));
    assert_eq!(ret["quote"]["total"], "0.00");

    let again = rep.order(&id).await;
    assert_eq!(again["warranty_returns"], json!([{"id": ret_id, "number": ret["number"]}]));
    assert!(staff_event_types(&rep, &id).await.contains(&"order.warranty_return_opened".to_owned()));
    assert_eq!(rep.order(&ret_id).await["warranty_of"]["id"], json!(id));

    let delivery = receipt(&rep, &id, "delivery", dir.path()).await;
    for expected in ["TERMO DE GARANTIA", "30 dias", "90 dias", "Fonte 65W", "Diagnóstico e reparo", "R$ 269,90"] {
        assert!(delivery.contains(expected), "the delivery receipt has no {expected:?}:\n{delivery}");
    }
    let ret_entry = receipt(&rep, &ret_id, "entry", dir.path()).await;
    assert!(ret_entry.contains(&format!("Retorno em garantia da OS nº: {number}")), "{ret_entry}");
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Vec<&'a str> {
    s.split(a).skip(1).filter_map(|p| p.split(b).next()).collect()
}

fn cents(v: &str) -> i64 {
    let (i, d) = v.split_once('.').expect("two decimals");
    i.parse::<i64>().unwrap() * 100 + d.parse::<i64>().unwrap()
}

/// Discounts on a part, on the labor and on the whole quote: the NF-e osflow-local issues passes the official
/// schema and the signature check, declares each part's vDesc, their sum in ICMSTot, and vNF = vProd − vDesc.
#[tokio::test]
async fn an_nfe_with_discounts_passes_the_schema_the_signature_and_its_totals() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-desconto", "representante"));
    let cert = homologation_emitter(&rep, "OFICINA DESCONTO LTDA").await;

    let mut body = example_order();
    body["items"][0]["discount"] = json!({"type": "value", "value": "9.90"});
    body["items"][1]["discount"] = json!({"type": "percent", "percent": "10"});
    body["items"].as_array_mut().unwrap().push(json!({"kind": "part", "code": "P-002", "description": "Cabo",
        "ncm": "85444900", "quantity": "3", "unit_price": "10.05"}));
    body["discount"] = json!({"type": "percent", "percent": "5"});
    let opened = rep.post("/v1/orders", body).await.ok(StatusCode::CREATED);
    let id = opened["id"].as_str().unwrap().to_owned();
    // after their own: 140.00, 108.00, 30.15 (278.15); 5 % = 13.91 shared as 7.00, 5.40, 1.51
    assert_eq!(opened["quote"]["discount_total"], "35.81", "{}", opened["quote"]);
    assert_eq!(opened["quote"]["total"], "264.24");
    walk_to(&rep, &id, "aguardando_pagamento").await;
    let due = rep.order(&id).await["amount_due"].as_str().unwrap().to_owned();
    assert_eq!(due, "264.24");
    rep.step_ok(&id, "payments", json!({"amount": due, "method": "pix"})).await;
    let invoice = wait_for_invoice(&rep, &id, "authorized").await;
    let key = invoice["key"].as_str().unwrap();
    let (_, xml) = download(&rep, &format!("/v1/orders/{id}/invoices/{key}/xml")).await;
    let xml = String::from_utf8(xml).unwrap();

    let work = dir.path().join("nfe-check");
    std::fs::create_dir_all(&work).unwrap();
    let doc = work.join("proc.xml");
    std::fs::write(&doc, &xml).unwrap();
    let schemas = PathBuf::from(std::env::var_os("NFE_SCHEMA_DIR").expect("NFE_SCHEMA_DIR: run scripts/test"));
    let out = Process::new(tool("xmllint"))
        .args(["--noout", "--nonet", "--schema"])
        .arg(schemas.join("procNFe_v4.00.xsd"))
        .arg(&doc)
        .output()
        .unwrap();
    assert!(out.status.success(), "xmllint: {}", String::from_utf8_lossy(&out.stderr));
    let pem = work.join("cert.pem");
    std::fs::write(&pem, cert.x509().to_pem().unwrap()).unwrap();
    let out = Process::new(tool("xmlsec1"))
        .args(["--verify", "--enabled-reference-uris", "same-doc", "--id-attr:Id"])
        .arg("http://www.portalfiscal.inf.br/nfe:infNFe")
        .arg("--trusted-pem")
        .arg(&pem)
        .arg(&doc)
        .output()
        .unwrap();
    assert!(out.status.success(), "xmlsec1: {}", String::from_utf8_lossy(&out.stderr));

    // Per item 149.90 − 16.90 and 30.15 − 1.51 (labor is on no NF-e); the totals add up to the centavo.
    let prods = between(&xml, "<vProd>", "</vProd>");
    let descs = between(&xml, "<vDesc>", "</vDesc>");
    assert_eq!(prods, ["149.90", "30.15", "180.05"]);
    assert_eq!(descs, ["16.90", "1.51", "18.41"]);
    assert_eq!(cents(descs[2]), cents(descs[0]) + cents(descs[1]));
    let v_nf = between(&xml, "<vNF>", "</vNF>");
    assert_eq!(cents(v_nf[0]), cents(prods[2]) - cents(descs[2]));
    assert_eq!(v_nf, ["161.64"]);
}
