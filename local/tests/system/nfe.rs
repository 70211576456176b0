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

/// Configures `rep`'s company as an NF-e emitter in homologação ([`emitter_body`]) with a generated A1 certificate
/// in the name of `legal_name`; the certificate.
pub(crate) async fn homologation_emitter(rep: &Api, legal_name: &str) -> osflow_nfe::Certificate {
    use base64::Engine;
    let cnpj = osflow_nfe::Cnpj::parse("11222333000181").unwrap();
    let cert = osflow_nfe::Certificate::generate_for_homologation(&cnpj, legal_name, 30).unwrap();
    let pkcs12 = base64::engine::general_purpose::STANDARD.encode(cert.to_pkcs12("senha-do-a1").unwrap());
    rep.put("/v1/fiscal/emitter", emitter_body("homologation", Some((&pkcs12, "senha-do-a1"))))
        .await
        .ok(StatusCode::OK);
    cert
}

/// Polls the order until its NF-e is in `state`.
pub(crate) async fn wait_for_invoice(api: &Api, id: &str, state: &str) -> Value {
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

    // The production number 1 was given up (superseded by the homologation NF-e): a gap of the production
    // sequence, none in homologation's.
    let gaps = fin.get("/v1/fiscal/nfe/gaps?environment=production").await.ok(StatusCode::OK);
    assert_eq!(gaps["gaps"][0]["number"], 1, "{gaps}");
    assert_eq!(gaps["gaps"][0]["reason"], "superseded", "{gaps}");
    assert_eq!(gaps["gaps"][0]["key"], rejected["key"], "{gaps}");
    let homologation = fin.get("/v1/fiscal/nfe/gaps").await.ok(StatusCode::OK);
    assert_eq!(homologation["gaps"], json!([]), "{homologation}");

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

/// Runs a tool the project does not make (poppler-utils, zbar-tools, libxml2-utils, xmlsec1: scripts/setup).
pub(crate) fn run(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("`{cmd}` is required (scripts/setup installs it): {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `file` is valid against the schema `xsd` (xmllint, no network).
pub(crate) fn xmllint(xsd: &std::path::Path, file: &std::path::Path) {
    run("xmllint", &["--noout", "--nonet", "--schema", xsd.to_str().unwrap(), file.to_str().unwrap()]);
}

/// The signature in `file` over the element whose `Id` is named by `id_attr` (`namespace:element`) verifies with
/// the certificate `cert_pem` (xmlsec1).
pub(crate) fn xmlsec_verify(id_attr: &str, cert_pem: &std::path::Path, file: &std::path::Path) {
    run(
        "xmlsec1",
        &[
            "--verify",
            "--enabled-reference-uris",
            "same-doc",
            "--id-attr:Id",
            id_attr,
            "--pubkey-cert-pem",
            cert_pem.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
}

/// The folder of an nfelib schema package (`nfe_evento_cce`…), next to the NF-e's (`NFE_SCHEMA_DIR`).
fn nfelib_schemas(package: &str) -> std::path::PathBuf {
    let nfe = std::env::var_os("NFE_SCHEMA_DIR")
        .map(std::path::PathBuf::from)
        .expect("NFE_SCHEMA_DIR (the nfelib schemas): run scripts/test");
    let dir = nfe.ancestors().nth(3).expect("nfelib/nfe/schemas/v4_0").join(package).join("schemas").join("v1_0");
    assert!(dir.is_dir(), "nfelib has no {}", dir.display());
    dir
}

/// A procEventoNFe as downloaded: valid against the official schema, signature verified by xmlsec1 with the
/// company's certificate.
fn check_event(dir: &std::path::Path, xml: &[u8], package: &str, xsd: &str, cert_pem: &std::path::Path) {
    let f = dir.join(xsd.replace(".xsd", ".xml"));
    std::fs::write(&f, xml).unwrap();
    let schema = nfelib_schemas(package).join(xsd);
    xmllint(&schema, &f);
    xmlsec_verify("http://www.portalfiscal.inf.br/nfe:infEvento", cert_pem, &f);
}

/// The life of an NF-e after its authorization, on the real binary: the OS paid and released, a carta de
/// correção (listed, its procEventoNFe checked by xmllint and xmlsec1), the DANFE downloaded (pdftotext finds the
/// key and the protocol; the barcode pdftoppm renders decodes with zbarimg to the key), the OS refused while its
/// NF-e stands, the NF-e cancelled (a short justification named), then the OS cancelled with the refund — and
/// the order shows all of it.
#[tokio::test]
async fn an_nfe_corrected_printed_and_cancelled_with_the_order_and_its_refund() {
    use base64::Engine;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-eventos", "representante"));
    let fin = rep.with_token(&local.token("oficina-eventos", "financeiro"));
    let cert = homologation_emitter(&rep, "OFICINA FISCAL LTDA").await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let work = tempfile::tempdir().unwrap();
    let cert_pem = work.path().join("a1.pem");
    let der = b64.encode(cert.cert_der());
    let lines: Vec<&str> = der.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    std::fs::write(
        &cert_pem,
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n")),
    )
    .unwrap();

    let id = rep.open_example().await;
    walk_to(&rep, &id, "aguardando_pagamento").await;
    fin.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix", "reference": "E1"})).await;
    let invoice = wait_for_invoice(&rep, &id, "authorized").await;
    assert_eq!(fin.step_ok(&id, "release", json!({})).await["status"], "liberada");
    let key = invoice["key"].as_str().unwrap().to_owned();
    let protocol = invoice["protocol"].as_str().unwrap().to_owned();
    let base = format!("/v1/orders/{id}/invoices/{key}");

    // A carta de correção with what XML escapes and accents.
    let text = "Endereço de entrega: Rua D'Ávila, 10 — \"fundos\" & <portão azul>";
    let c = fin.post(&format!("{base}/corrections"), json!({"text": text})).await.ok(StatusCode::CREATED);
    assert_eq!(c["seq"], 1, "{c}");
    let list = rep.get(&format!("{base}/corrections")).await.ok(StatusCode::OK);
    assert_eq!(list["items"][0]["text"], text, "{list}");
    let (status, ct, xml) = rep.bytes(&format!("{base}/corrections/1/xml")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/xml"));
    check_event(work.path(), &xml, "nfe_evento_cce", "procCCeNFe_v1.00.xsd", &cert_pem);

    // The DANFE, read back by tools that did not make it.
    let invoices = rep.get(&format!("/v1/orders/{id}/invoices")).await.ok(StatusCode::OK);
    assert_eq!(invoices["items"][0]["danfe_url"], format!("{base}/danfe.pdf"));
    let (status, ct, pdf) = rep.bytes(&format!("{base}/danfe.pdf")).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/pdf"));
    let pdf_path = work.path().join("danfe.pdf");
    std::fs::write(&pdf_path, &pdf).unwrap();
    let text_of_pdf = run("pdftotext", &["-layout", pdf_path.to_str().unwrap(), "-"]);
    let grouped: Vec<&str> = key.as_bytes().chunks(4).map(|c| std::str::from_utf8(c).unwrap()).collect();
    assert!(text_of_pdf.contains(&grouped.join(" ")), "the key in the DANFE:\n{text_of_pdf}");
    assert!(text_of_pdf.contains(&protocol), "the protocol in the DANFE:\n{text_of_pdf}");
    assert!(text_of_pdf.contains("SEM VALOR FISCAL"), "homologation:\n{text_of_pdf}");
    let png_prefix = work.path().join("danfe");
    run(
        "pdftoppm",
        &["-r", "300", "-f", "1", "-l", "1", "-png", pdf_path.to_str().unwrap(), png_prefix.to_str().unwrap()],
    );
    let png = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "png"))
        .expect("pdftoppm wrote a PNG");
    let decoded = run("zbarimg", &["--quiet", "--raw", "-Scode128.enable", png.to_str().unwrap()]);
    assert_eq!(decoded.trim(), key, "the barcode decodes to the access key");

    // The release e-mail links the DANFE on the customer's page (no login: the signed link), and the page shows
    // the same link; both give the same PDF.
    let danfe_link = {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let found = mailbox(dir.path()).iter().map(|m| crate::portal::eml_body(m)).find_map(|body| {
                let at = body.find("/danfe.pdf")?;
                let start = body[..at].rfind("http")?;
                Some(body[start..at + "/danfe.pdf".len()].to_owned())
            });
            if let Some(link) = found {
                break link;
            }
            assert!(std::time::Instant::now() < deadline, "no release e-mail with the DANFE link");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let customer = local.anonymous();
    let path = danfe_link.split_once("/p/").map(|(_, rest)| format!("/p/{rest}")).unwrap();
    let (status, ct, customer_pdf) = customer.bytes(&path).await;
    assert_eq!((status, ct.as_str()), (StatusCode::OK, "application/pdf"));
    assert_eq!(customer_pdf, pdf, "the customer's DANFE is the staff's");
    let page_path = path.trim_end_matches("/danfe.pdf").to_owned();
    let page = customer.get(&page_path).await.ok(StatusCode::OK);
    let page = page.as_str().unwrap_or_default();
    assert!(page.contains("/danfe.pdf") && page.contains("Baixar o DANFE"), "{page}");

    // The OS cannot be cancelled while its NF-e stands.
    let refund = json!({"amount": "269.90", "method": "pix", "reference": "D-E1"});
    let refused = rep
        .step(&id, "cancel", json!({"reason": "Cliente devolveu a peça", "refund": refund}))
        .await
        .problem(StatusCode::CONFLICT, "/problems/invoice-not-cancelled");
    assert!(refused["detail"].as_str().unwrap().contains(&key), "{refused}");

    // The NF-e's cancellation: the field named when short; then registered, its document checked.
    let short = fin
        .post(&format!("{base}/cancel"), json!({"justification": "devolvida"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field");
    assert_eq!(short["field"], "justification");
    let cancelled = fin
        .post(&format!("{base}/cancel"), json!({"justification": "Cliente devolveu a peça: \"Fonte\" & cabo"}))
        .await
        .ok(StatusCode::OK);
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    let (status, _, xml) = rep.bytes(&format!("{base}/cancel/xml")).await;
    assert_eq!(status, StatusCode::OK);
    check_event(work.path(), &xml, "nfe_evento_cancel", "procEventoCancNFe_v1.00.xsd", &cert_pem);

    // Now the OS, with the refund of what was paid; the order shows the NF-e cancelled and the refund, the
    // timeline the correction, the NF-e's cancellation, the refund and the OS's cancellation.
    rep.step(&id, "cancel", json!({"reason": "Cliente devolveu a peça"}))
        .await
        .problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field");
    let order = rep.step_ok(&id, "cancel", json!({"reason": "Cliente devolveu a peça", "refund": refund})).await;
    assert_eq!(order["status"], "cancelada");
    assert_eq!(order["invoice"]["state"], "cancelled");
    assert_eq!(order["refunds"][0]["amount"], "269.90");
    assert_eq!(order["refunds"][0]["method"], "pix");
    let types = staff_event_types(&rep, &id).await;
    for t in ["order.invoice_corrected", "order.invoice_updated", "order.payment_refunded", "order.cancelled"] {
        assert!(types.iter().any(|x| x == t), "{t} on the timeline: {types:?}");
    }
}

/// The inutilização on the real binary. SEFAZ (the homologation simulator) rejects an NF-e for good — 778, an
/// NCM of chapter 77, reserved in the HS, which no resend under the same key cures — and the staff gives its
/// number up: listed at `GET /v1/fiscal/nfe/gaps`, voided (`POST /v1/fiscal/nfe/voids`), its procInutNFe valid
/// against the official schema (xmllint) and signed by the company (xmlsec1). The number is never given again:
/// the next OS's NF-e takes the next one, and the voided OS's own retry a new one.
#[tokio::test]
async fn a_rejected_number_given_up_is_voided_and_never_reused() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-inutiliza", "representante"));
    let fin = rep.with_token(&local.token("oficina-inutiliza", "financeiro"));
    let cert = homologation_emitter(&rep, "OFICINA INUTILIZA LTDA").await;

    let mut body = example_order();
    body["items"][0]["ncm"] = json!("77011000");
    let wrong = rep.post("/v1/orders", body).await.ok(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    walk_to(&rep, &wrong, "aguardando_pagamento").await;
    fin.step_ok(&wrong, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    let rejected = wait_for_invoice(&rep, &wrong, "rejected").await;
    assert_eq!((rejected["cstat"].clone(), rejected["number"].clone()), (json!(778), json!(1)), "{rejected}");

    // A gap: rejected, not authorized since.
    let gaps = fin.get("/v1/fiscal/nfe/gaps").await.ok(StatusCode::OK);
    assert_eq!(gaps["environment"], "homologation", "{gaps}");
    let gap = &gaps["gaps"][0];
    assert_eq!((gap["number"].clone(), gap["reason"].clone()), (json!(1), json!("rejected")), "{gaps}");
    assert_eq!(
        (gap["order_id"].as_str(), gap["key"].clone(), gap["cstat"].clone()),
        (Some(wrong.as_str()), rejected["key"].clone(), json!(778))
    );
    assert_eq!(gaps["gaps"].as_array().map(Vec::len), Some(1), "{gaps}");

    // Voided, with a justification holding what XML escapes and accents.
    let why = "NCM 7701 inexistente & sem correção: \"peça\" <importada> d'água";
    let void = json!({"first": 1, "last": 1, "justification": why});
    rep.with_token(&local.token("oficina-inutiliza", "tecnico"))
        .post("/v1/fiscal/nfe/voids", void.clone())
        .await
        .problem(StatusCode::FORBIDDEN, FORBIDDEN);
    let voided = fin.post("/v1/fiscal/nfe/voids", void.clone()).await.ok(StatusCode::OK);
    assert_eq!((voided["state"].clone(), voided["cstat"].clone()), (json!("voided"), json!(102)), "{voided}");
    assert_eq!(voided["protocol"].as_str().map(str::len), Some(15), "{voided}");
    assert_eq!(fin.post("/v1/fiscal/nfe/voids", void).await.ok(StatusCode::OK), voided, "asked again: the one made");
    let xml_url = voided["xml_url"].as_str().expect("the procInutNFe's link").to_owned();
    let (status, content_type, xml) = fin.bytes(&xml_url).await;
    assert_eq!((status, content_type.as_str()), (StatusCode::OK, "application/xml"));
    let text = String::from_utf8(xml.clone()).unwrap();
    assert!(text.starts_with("<ProcInutNFe"), "{text}");
    assert!(text.contains("&amp; sem correção: \"peça\" &lt;importada&gt; d'água"), "{text}");
    let files = tempfile::tempdir().unwrap();
    let f = files.path().join("procInutNFe.xml");
    std::fs::write(&f, &xml).unwrap();
    let schema =
        std::path::PathBuf::from(std::env::var_os("NFE_SCHEMA_DIR").expect("NFE_SCHEMA_DIR: run scripts/test"))
            .join("procInutNFe_v4.00.xsd");
    xmllint(&schema, &f);
    let pem = files.path().join("a1.pem");
    std::fs::write(&pem, cert.x509().to_pem().unwrap()).unwrap();
    xmlsec_verify("http://www.portalfiscal.inf.br/nfe:infInut", &pem, &f);
    // The OS shows its NF-e voided; no gap left, the inutilização listed.
    assert_eq!(rep.order(&wrong).await["invoice"]["state"], "voided");
    let after = fin.get("/v1/fiscal/nfe/gaps").await.ok(StatusCode::OK);
    assert_eq!(after["gaps"], json!([]), "{after}");
    assert_eq!(
        (after["voids"][0]["first"].clone(), after["voids"][0]["last"].clone()),
        (json!(1), json!(1)),
        "{after}"
    );

    // Never given again: the next OS takes 2, the voided OS's retry 3 (rejected again: its NCM is still wrong).
    let next = rep.open_example().await;
    walk_to(&rep, &next, "aguardando_pagamento").await;
    fin.step_ok(&next, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    assert_eq!(wait_for_invoice(&rep, &next, "authorized").await["number"], 2);
    fin.step_ok(&wrong, "invoices/retry", json!({})).await;
    let again = wait_for_invoice(&rep, &wrong, "rejected").await;
    assert_eq!((again["number"].clone(), again["cstat"].clone()), (json!(3), json!(778)), "{again}");
    assert_ne!(again["key"], rejected["key"]);
    let gaps = fin.get("/v1/fiscal/nfe/gaps").await.ok(StatusCode::OK);
    let numbers: Vec<&Value> = gaps["gaps"].as_array().unwrap().iter().map(|g| &g["number"]).collect();
    assert_eq!(numbers, [&json!(3)], "{gaps}");
}
