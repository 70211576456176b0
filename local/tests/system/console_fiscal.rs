//! The console's fiscal screens in headless Chromium over WebDriver, against the real binary (whose console sends
//! the fiscal routes as the Lambda events the console function sends fiscal-admin in AWS): the labor's NFS-e of a
//! Campinas company — its DANFSe read back by pdftotext, its cancellation (cMotivo and justification) by clicking,
//! the DANFSe drawn again as cancelled, and the roles; an NFS-e issued elsewhere (São Paulo) recorded with its PDF
//! uploaded from the form; the gaps of the NF-e sequence, listed and voided from their page.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::console::{
    cookie_header, css, fill, form_body, no_redirects, open_form, shot, sign_in, sign_out, submit_form, wait_left,
};
use crate::nfse::{
    CAMPINAS, SAO_PAULO, TRICKY, all_authorized, cnpj_buyer, company, emitter, labor, nfse_part, order, wait_documents,
};
use crate::portal::{ChromeDriver, wait_for_text};
use crate::support::*;

/// The text pdftotext (poppler-utils, not osflow's code) reads from `pdf`.
fn pdf_text(pdf: &[u8]) -> String {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("doc.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils, scripts/setup)");
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// GETs a console path with the browser's session.
async fn download(browser: &fantoccini::Client, base: &str, href: &str) -> (StatusCode, String, Vec<u8>) {
    let r = no_redirects().get(format!("{base}{href}")).header("cookie", cookie_header(browser).await).send().await;
    let r = r.unwrap();
    let status = r.status();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

async fn href(browser: &fantoccini::Client, selector: &str) -> String {
    css(browser, selector).await.attr("href").await.unwrap().expect("a link")
}

/// A consultancy in Campinas (NFS-e Nacional through the Sefin simulator): the financeiro downloads the labor's
/// DANFSe and cancels the NFS-e from the order page; a técnico sees no form and a direct POST is refused.
#[tokio::test]
async fn the_labor_s_nfse_danfse_and_cancellation_in_the_console() {
    let dir = data_dir();
    let company = company();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let tenant = "consultoria-console";
    let rep = local.api(&local.token(tenant, "representante"));
    let fin = rep.with_token(&local.token(tenant, "financeiro"));
    rep.put("/v1/fiscal/emitter", emitter(Some(&company), CAMPINAS, "homologation", Some(nfse_part())))
        .await
        .ok(StatusCode::OK);
    let created = rep.post("/v1/orders", order(cnpj_buyer(), vec![labor("S-100", TRICKY, "1500.00")])).await;
    let id = created.ok(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "1500.00", "method": "pix"})).await;
    wait_documents(&rep, &id, "the NFS-e", |d| all_authorized(d, 0, 1)).await;
    let listed = rep.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    let item = listed["items"].as_array().unwrap().iter().find(|i| i["kind"] == "nfse").unwrap().clone();
    let dps = item["access_key"].as_str().unwrap().to_owned();
    let nfse_key = item["protocol"].as_str().unwrap().to_owned();
    assert_eq!(nfse_key.len(), 50, "{item}");

    let driver = ChromeDriver::start();
    let browser = driver.session().await;
    sign_in(&browser, &base, tenant, "financeiro").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    wait_for_text(&browser, "DANFSe (PDF)").await;
    // The DANFSe as the console serves it, read back by pdftotext: the NFS-e's key, the buyer, the value.
    let danfse = href(&browser, &format!("a[href='/os/{id}/danfse/{dps}']")).await;
    let (status, ct, pdf) = download(&browser, &base, &danfse).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/pdf"));
    let text = pdf_text(&pdf);
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    assert!(digits.contains(&nfse_key), "the DANFSe shows the key {nfse_key}: {text}");
    assert!(text.contains("Padaria Pão & Cia Ltda") && text.contains("1.500,00"), "{text}");
    assert!(!text.contains("CANCELADA"), "{text}");

    // A técnico sees the document and no cancellation form; a direct POST of it is the API's 403.
    sign_out(&browser).await;
    sign_in(&browser, &base, tenant, "tecnico").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    let page = wait_for_text(&browser, "DANFSe (PDF)").await;
    assert!(!page.contains("cancel_nfse") && !page.contains("record_external_nfse"), "no fiscal form for a técnico");
    let csrf = css(&browser, "input[name=csrf]").await.attr("value").await.unwrap().unwrap();
    let direct = no_redirects()
        .post(format!("{base}/os/{id}/nfe/{dps}/cancelar"))
        .header("cookie", cookie_header(&browser).await)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", &csrf), ("reason", "2"), ("justification", "Tentativa sem permissão de cancelar")]))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::FORBIDDEN);
    sign_out(&browser).await;

    // The financeiro cancels it: a justification too short is the API's refusal, shown on the page; then the
    // reason "serviço não prestado" and a justification with what XML escapes.
    sign_in(&browser, &base, tenant, "financeiro").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    let scope = open_form(&browser, "cancel_nfse").await;
    let options: Vec<String> = {
        let mut v = Vec::new();
        for o in
            browser.find_all(fantoccini::Locator::Css(&format!("{scope} select[name=reason] option"))).await.unwrap()
        {
            v.push(o.attr("value").await.unwrap().unwrap());
        }
        v
    };
    assert_eq!(options, ["1", "2", "9"], "cMotivo 1, 2, 9");
    // (the browser's own minlength check is left out to see the API's)
    browser
        .execute(&format!("document.querySelector('{scope} textarea').removeAttribute('minlength')"), vec![])
        .await
        .unwrap();
    fill(&browser, &format!("{scope} textarea[name=justification]"), "curta").await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "class=\"err\"").await;
    assert_eq!(rep.order(&id).await["invoices"][0]["state"], "authorized", "nothing cancelled");
    let why = "Serviço não prestado: cliente \"desistiu\" & <reagendou>";
    let scope = open_form(&browser, "cancel_nfse").await;
    css(&browser, &format!("{scope} select[name=reason]")).await.select_by_value("2").await.unwrap();
    fill(&browser, &format!("{scope} textarea[name=justification]"), why).await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Cancelar NFS-e").await;
    shot(&browser, "nfse-cancelled-phone").await;
    let order = rep.order(&id).await;
    let shown = order["invoices"].as_array().unwrap().iter().find(|d| d["key"] == dps.as_str()).unwrap().clone();
    assert_eq!(shown["state"], "cancelled", "{shown}");
    assert!(!browser.source().await.unwrap().contains("data-action=\"cancel_nfse\""), "no form once cancelled");
    // The event Sefin returned, from the page's link: e101101 with the reason and the justification.
    let (status, _, event) = download(&browser, &base, &href(&browser, "a[href$='/cancelamento']").await).await;
    assert_eq!(status, StatusCode::OK);
    let event = String::from_utf8(event).unwrap();
    assert!(event.contains("<cMotivo>2</cMotivo>") && event.contains("101101"), "{event}");
    assert!(event.contains("cliente \"desistiu\" &amp; &lt;reagendou&gt;"), "{event}");
    // The DANFSe is drawn again as cancelled.
    let (_, _, pdf) = download(&browser, &base, &danfse).await;
    assert!(pdf_text(&pdf).contains("CANCELADA"), "the DANFSe of a cancelled NFS-e");
    browser.close().await.unwrap();
}

/// A shop in São Paulo capital (the city keeps its own NFS-e issuer): the financeiro records the labor's NFS-e
/// from the order page with its PDF chosen in the form; the file comes back as uploaded and the release follows.
#[tokio::test]
async fn an_nfse_issued_elsewhere_is_recorded_from_the_order_page_with_its_pdf() {
    let dir = data_dir();
    let company = company();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let tenant = "oficina-sp-console";
    let rep = local.api(&local.token(tenant, "representante"));
    let fin = rep.with_token(&local.token(tenant, "financeiro"));
    rep.put("/v1/fiscal/emitter", emitter(Some(&company), SAO_PAULO, "homologation", Some(json!("elsewhere"))))
        .await
        .ok(StatusCode::OK);
    let id = rep.open_example().await;
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    wait_documents(&rep, &id, "the NF-e", |d| all_authorized(d, 1, 0)).await;

    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n% NFS-e 4521 - Prefeitura de Sao Paulo\n%%EOF\n";
    let file = dir.path().join("nfse-4521.pdf");
    std::fs::write(&file, pdf).unwrap();
    let driver = ChromeDriver::start();
    let browser = driver.session().await;
    sign_in(&browser, &base, tenant, "financeiro").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    wait_for_text(&browser, "as notas fiscais ainda não foram autorizadas").await;
    let scope = open_form(&browser, "record_external_nfse").await;
    fill(&browser, &format!("{scope} input[name=number]"), "4521").await;
    fill(&browser, &format!("{scope} input[name=verification_code]"), "AB12-CD34").await;
    css(&browser, &format!("{scope} input[type=file]")).await.send_keys(&file.display().to_string()).await.unwrap();
    submit_form(&browser, &scope).await;
    let page = wait_for_text(&browser, "Feito: Registrar NFS-e emitida fora do osflow").await;
    assert!(page.contains("NFS-e nº 4521") && page.contains("AB12-CD34"), "listed on the order");
    assert!(!page.contains("data-action=\"record_external_nfse\""), "recorded once");
    let (status, ct, got) = download(&browser, &base, &href(&browser, "a[href$='/nfse-externa/EXT4521']").await).await;
    assert_eq!((status, ct.as_str(), got.as_slice()), (StatusCode::OK, "application/pdf", pdf.as_slice()));
    let (_, _, via_api) = rep.bytes(&format!("/v1/orders/{id}/invoices/EXT4521/file")).await;
    assert_eq!(via_api, pdf, "the API serves the same bytes");
    // The release no longer waits.
    let release = css(&browser, "button[data-action=release]").await;
    release.clone().click().await.unwrap();
    wait_left(&release).await;
    wait_for_text(&browser, "Feito: Liberar equipamento").await;
    assert_eq!(rep.status_of(&id).await, "liberada");
    browser.close().await.unwrap();
}

/// The production NF-e number 1 given up (the emitter was in production by mistake; the NF-e was issued again in
/// homologação): the financeiro finds it on the inutilização page, with its reason and order, and asks for its
/// inutilização; the SEFAZ simulator answers only homologação, so the refusal is what the page shows, and the
/// number stays a gap. The homologation sequence has none.
#[tokio::test]
async fn the_gaps_of_the_nfe_sequence_are_listed_and_voided_from_their_page() {
    use base64::Engine;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let tenant = "oficina-lacunas";
    let rep = local.api(&local.token(tenant, "representante"));
    let fin = rep.with_token(&local.token(tenant, "financeiro"));
    let cnpj = osflow_nfe::Cnpj::parse("11222333000181").unwrap();
    let cert = osflow_nfe::Certificate::generate_for_homologation(&cnpj, "OFICINA FISCAL LTDA", 30).unwrap();
    let pkcs12 = base64::engine::general_purpose::STANDARD.encode(cert.to_pkcs12("senha-do-a1").unwrap());
    let body = |env: &str, certificate: bool| {
        let mut b = crate::nfe::emitter_body(env, None);
        if certificate {
            b["certificate"] = json!({"pkcs12": pkcs12, "password": "senha-do-a1"});
        }
        b
    };
    rep.put("/v1/fiscal/emitter", body("production", true)).await.ok(StatusCode::OK);
    let id = rep.open_example().await;
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    crate::nfe::wait_for_invoice(&rep, &id, "rejected").await;
    rep.put("/v1/fiscal/emitter", body("homologation", false)).await.ok(StatusCode::OK);
    fin.step_ok(&id, "invoices/retry", json!({})).await;
    crate::nfe::wait_for_invoice(&rep, &id, "authorized").await;

    let driver = ChromeDriver::start();
    let browser = driver.session().await;
    // An atendente has no such page.
    sign_in(&browser, &base, tenant, "atendente").await;
    assert!(!browser.source().await.unwrap().contains("href=\"/inutilizacao\""));
    browser.goto(&format!("{base}/inutilizacao")).await.unwrap();
    wait_for_text(&browser, "Sem permissão").await;
    sign_out(&browser).await;

    sign_in(&browser, &base, tenant, "financeiro").await;
    css(&browser, "a[href='/inutilizacao']").await.click().await.unwrap();
    // The emitter's environment first: homologação has nothing to void.
    wait_for_text(&browser, "Nenhum número abandonado nesta numeração").await;
    css(&browser, "#ambiente").await.select_by_value("production").await.unwrap();
    let see = css(&browser, "form.filters button[type=submit]").await;
    see.clone().click().await.unwrap();
    wait_left(&see).await;
    let page = wait_for_text(&browser, "NF-e emitida de novo com outro número").await;
    assert!(page.contains("tr data-number=\"1\"") && page.contains(&format!("/os/{id}")), "{page}");
    assert!(page.contains("Produção"), "{page}");
    let justification = "NF-e emitida em produção por engano & reemitida em homologação";
    fill(&browser, "#justificativa", justification).await;
    let scope = "details:has(summary[data-action=void_nfe])";
    submit_form(&browser, scope).await;
    // SEFAZ's refusal, on the page; nothing voided.
    let page = wait_for_text(&browser, "class=\"err\"").await;
    assert!(page.contains("NF-e emitida de novo com outro número"), "the gaps still listed: {page}");
    shot(&browser, "gaps-refused-phone").await;
    let gaps = fin.get("/v1/fiscal/nfe/gaps?environment=production").await.ok(StatusCode::OK);
    assert_eq!(gaps["gaps"][0]["number"], 1, "still a gap: {gaps}");
    let voids: Vec<Value> = gaps["voids"].as_array().cloned().unwrap_or_default();
    assert!(voids.iter().all(|v| v["state"] != "voided"), "{gaps}");
    // A number that is no gap is the API's refusal too, named on the page.
    browser.goto(&format!("{base}/inutilizacao?ambiente=production")).await.unwrap();
    fill(&browser, "#primeiro", "7").await;
    fill(&browser, "#ultimo", "7").await;
    fill(&browser, "#justificativa", justification).await;
    submit_form(&browser, scope).await;
    wait_for_text(&browser, "class=\"err\"").await;
    browser.close().await.unwrap();
}
