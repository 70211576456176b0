//! The staff console in headless Chromium over WebDriver, against the real binary: one OS through the eight
//! steps by clicking as atendente, técnico and financeiro (with a material wait, a photo, a supplementary quote
//! approved on the customer's page, a split payment, the NF-e download and the release); roles and companies;
//! the representante's new status; sessions, CSRF and escaping. Screenshots are left in the target folder
//! (`console-*.png`).

use std::path::Path;
use std::time::Duration;

use fantoccini::Locator;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::nfe::homologation_emitter;
use crate::portal::{ChromeDriver, eml_body, wait_for_text};
use crate::support::*;

/// A 1×1 PNG (the photo the técnico takes).
pub(crate) const PNG_BASE64: &str =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

fn shot_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("console-{name}.png"))
}

pub(crate) async fn shot(browser: &fantoccini::Client, name: &str) {
    let png = browser.screenshot().await.expect("screenshot");
    std::fs::write(shot_path(name), png).expect("save the screenshot");
}

/// A desktop-sized headless Chromium session (the phone-sized one is `ChromeDriver::session`).
pub(crate) async fn desktop(driver: &ChromeDriver) -> fantoccini::Client {
    let profile = tempfile::Builder::new().prefix("osflow-chromium-").tempdir().expect("temp dir");
    crate::portal::chromium(driver, &profile.keep(), &["--window-size=1440,1000"], json!({})).await
}

pub(crate) async fn css(browser: &fantoccini::Client, selector: &str) -> fantoccini::elements::Element {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        match browser.find(Locator::Css(selector)).await {
            Ok(e) => return e,
            Err(_) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            Err(e) => panic!("{selector}: {e}; page: {}", browser.source().await.unwrap_or_default()),
        }
    }
}

pub(crate) async fn fill(browser: &fantoccini::Client, selector: &str, text: &str) {
    let e = css(browser, selector).await;
    e.clear().await.expect("clear");
    e.send_keys(text).await.expect("type");
}

/// Sets a date input's value (the date picker's typing order depends on the locale).
pub(crate) async fn set_date(browser: &fantoccini::Client, selector: &str, date: &str) {
    css(browser, selector).await;
    browser
        .execute("document.querySelector(arguments[0]).value = arguments[1];", vec![json!(selector), json!(date)])
        .await
        .expect("set the date");
}

/// Signs in on the sign-in page as `role` of `tenant`.
pub(crate) async fn sign_in(browser: &fantoccini::Client, base: &str, tenant: &str, role: &str) {
    browser.goto(&format!("{base}/entrar")).await.expect("open the sign-in page");
    fill(browser, "#empresa", tenant).await;
    css(browser, "#papel").await.select_by_value(role).await.expect("pick the role");
    css(browser, "form[action='/entrar'] button[type=submit]").await.click().await.expect("sign in");
    wait_for_text(browser, "Quadro de OS").await;
}

pub(crate) async fn sign_out(browser: &fantoccini::Client) {
    css(browser, "form[action='/sair'] button").await.click().await.expect("sign out");
    wait_for_text(browser, "Entrar no osflow").await;
}

/// Waits until the page that held `element` is gone (the form was posted and the answer loaded).
pub(crate) async fn wait_left(element: &fantoccini::elements::Element) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while element.tag_name().await.is_ok() {
        assert!(std::time::Instant::now() < deadline, "the page did not change");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

/// Clicks an action that needs no form.
pub(crate) async fn click_action(browser: &fantoccini::Client, action: &str) {
    let button = css(browser, &format!("button[data-action={action}]")).await;
    button.clone().click().await.expect("click the action");
    wait_left(&button).await;
    wait_for_text(browser, "Feito: ").await;
}

/// Opens an action's form (its `<details>`).
pub(crate) async fn open_form(browser: &fantoccini::Client, action: &str) -> String {
    css(browser, &format!("summary[data-action={action}]")).await.click().await.expect("open the form");
    format!("details:has(summary[data-action={action}])")
}

pub(crate) async fn submit_form(browser: &fantoccini::Client, scope: &str) {
    let button = css(browser, &format!("{scope} button[type=submit]")).await;
    button.clone().click().await.expect("submit");
    wait_left(&button).await;
}

async fn status_of(api: &Api, id: &str) -> String {
    api.status_of(id).await
}

async fn wait_status(api: &Api, id: &str, status: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while status_of(api, id).await != status {
        assert!(std::time::Instant::now() < deadline, "{id} never reached {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The session cookie of the browser (HttpOnly: only WebDriver sees it), as a `Cookie` header.
pub(crate) async fn cookie_header(browser: &fantoccini::Client) -> String {
    let cookies = browser.get_all_cookies().await.expect("cookies");
    let c = cookies.iter().find(|c| c.name() == "osflow_sessao").expect("a session cookie");
    assert_eq!(c.http_only(), Some(true), "HttpOnly");
    assert_eq!(format!("{:?}", c.same_site()), "Some(Strict)", "SameSite=Strict");
    format!("osflow_sessao={}", c.value())
}

/// An `application/x-www-form-urlencoded` body.
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

/// An HTTP client that does not follow redirects (to see the console's 303s).
pub(crate) fn no_redirects() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The link of the newest customer e-mail about OS `number` that is newer than the `seen` first ones.
fn newest_quote_link(data: &Path, base: &str, number: u64, seen: usize) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let mails = mailbox(data);
        let found: Vec<String> = mails
            .iter()
            .skip(seen)
            .map(|m| eml_body(m))
            .filter(|b| b.contains(&format!("O orçamento da OS {number} ")) && b.contains(&format!("{base}/p/")))
            .collect();
        if let Some(body) = found.last() {
            let at = body.find(&format!("{base}/p/")).unwrap();
            return body[at..].split_whitespace().next().unwrap().to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "no new quote e-mail for OS {number}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn one_os_through_the_eight_steps_by_clicking_in_the_console() {
    use base64::Engine;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let tenant = "oficina-console";
    let rep = local.api(&local.token(tenant, "representante"));
    // Setup through the API: the company's name and an NF-e emitter (homologação, SEFAZ simulator).
    rep.put("/v1/settings/notifications", json!({"company_name": "Oficina do Zé"})).await.ok(StatusCode::OK);
    homologation_emitter(&rep, "OFICINA FISCAL LTDA").await;

    let driver = ChromeDriver::start();
    let browser = driver.session().await;

    // 1. Abertura — the atendente opens the OS with the form; the CPF is checked as typed.
    sign_in(&browser, &base, tenant, "atendente").await;
    shot(&browser, "board-empty-phone").await;
    css(&browser, "a[href='/os/nova']").await.click().await.unwrap();
    fill(&browser, "#nome", "Maria Souza").await;
    fill(&browser, "#documento", "529.982.247-26").await;
    wait_for_text(&browser, "Documento inválido").await;
    fill(&browser, "#documento", "529.982.247-25").await;
    wait_for_text(&browser, "CPF válido").await;
    fill(&browser, "#email", "maria@example.com").await;
    fill(&browser, "#equip", "Notebook Dell Inspiron 15").await;
    fill(&browser, "#serie", "BR123456").await;
    fill(&browser, "#problema", "Não liga").await;
    fill(&browser, "#tec", "tecnico@oficina-console").await;
    css(&browser, "select[name=kind_0]").await.select_by_value("part").await.unwrap();
    fill(&browser, "input[name=description_0]", "Fonte 65W").await;
    fill(&browser, "input[name=ncm_0]", "85044010").await;
    fill(&browser, "input[name=unit_price_0]", "149,90").await;
    fill(&browser, "input[name=description_1]", "Diagnóstico e reparo").await;
    fill(&browser, "input[name=unit_price_1]", "120,00").await;
    shot(&browser, "new-order-phone").await;
    css(&browser, "form[action='/os/nova'] button[type=submit]").await.click().await.unwrap();
    let page = wait_for_text(&browser, "OS 1").await;
    assert!(page.contains("R$ 269,90") && page.contains("Aberta"), "{page}");
    let url = browser.current_url().await.unwrap();
    let id = url.path().trim_start_matches("/os/").to_owned();
    assert_eq!(status_of(&rep, &id).await, "aberta");

    // 2. Aprovação — sent to the customer, who approves by phone; the atendente records it.
    click_action(&browser, "send_quote").await;
    let scope = open_form(&browser, "decide_quote").await;
    css(&browser, &format!("{scope} input[value=approve]")).await.click().await.unwrap();
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Registrar decisão").await;
    assert_eq!(status_of(&rep, &id).await, "aprovada");
    sign_out(&browser).await;

    // 3–5. The técnico: starts, waits for material, resumes, takes a photo, finishes.
    sign_in(&browser, &base, tenant, "tecnico").await;
    // "Minhas": the técnico's own OS.
    css(&browser, "input[name=minhas]").await.click().await.unwrap();
    css(&browser, "form.filters button[type=submit]").await.click().await.unwrap();
    while !browser.current_url().await.unwrap().as_str().contains("minhas=1") {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_text(&browser, "Notebook Dell").await;
    css(&browser, &format!("a[href='/os/{id}']")).await.click().await.unwrap();
    wait_for_text(&browser, "Iniciar execução").await;
    let page = browser.source().await.unwrap();
    assert!(!page.contains("data-action=\"register_payment\""), "no payment for the técnico");
    click_action(&browser, "start").await;
    let scope = open_form(&browser, "wait_material").await;
    fill(&browser, &format!("{scope} input[name=reason]"), "Fonte em falta").await;
    fill(&browser, &format!("{scope} textarea[name=parts]"), "Fonte 65W original").await;
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(3)).format("%Y-%m-%d").to_string();
    set_date(&browser, &format!("{scope} input[name=expected_at]"), &tomorrow).await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Aguardar material").await;
    assert_eq!(status_of(&rep, &id).await, "aguardando_material");
    click_action(&browser, "resume").await;
    assert_eq!(status_of(&rep, &id).await, "em_execucao");
    // The photo: the file goes straight to the blob store's signed URL.
    let photo = dir.path().join("placa.png");
    std::fs::write(&photo, base64::engine::general_purpose::STANDARD.decode(PNG_BASE64).unwrap()).unwrap();
    let scope = open_form(&browser, "add_attachment").await;
    let input = css(&browser, &format!("{scope} input[type=file]")).await;
    assert_eq!(input.attr("capture").await.unwrap().as_deref(), Some("environment"));
    input.send_keys(&photo.display().to_string()).await.unwrap();
    fill(&browser, &format!("{scope} input[name=caption]"), "Placa após limpeza").await;
    css(&browser, &format!("{scope} input[name=visible_to_customer]")).await.click().await.unwrap();
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Adicionar foto").await;
    let page = wait_for_text(&browser, "visível ao cliente").await;
    assert!(page.contains(&format!("/os/{id}/anexos/0")), "the photo is shown");
    let http = no_redirects();
    let cookie = cookie_header(&browser).await;
    let img = http.get(format!("{base}/os/{id}/anexos/0")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(img.headers()["content-type"], "image/png");
    assert!(img.bytes().await.unwrap().starts_with(b"\x89PNG"), "the uploaded bytes");
    let scope = open_form(&browser, "finish").await;
    fill(&browser, &format!("{scope} textarea[name=tests_performed]"), "Ligou e carregou").await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Finalizar").await;

    // 6. Validação — checklist ok and an extra item: a supplementary quote goes to the customer.
    let mails_before = mailbox(dir.path()).len();
    let scope = open_form(&browser, "validate").await;
    fill(&browser, &format!("{scope} input[name=item_0]"), "Equipamento liga").await;
    css(&browser, &format!("{scope} input[name=ok_0]")).await.click().await.unwrap();
    css(&browser, &format!("{scope} details summary")).await.click().await.unwrap();
    fill(&browser, &format!("{scope} input[name=extra_description_0]"), "Limpeza interna").await;
    fill(&browser, &format!("{scope} input[name=extra_unit_price_0]"), "50,00").await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Validar").await;
    assert_eq!(status_of(&rep, &id).await, "aguardando_aprovacao");
    shot(&browser, "order-phone").await;
    // The técnico may not ask for the payment: no button, and a direct POST of it is refused by the API (403).
    let page = browser.source().await.unwrap();
    assert!(!page.contains("request_payment") && !page.contains("register_payment"));
    let csrf = css(&browser, "input[name=csrf]").await.attr("value").await.unwrap().unwrap();
    let direct = http
        .post(format!("{base}/os/{id}/acao/register_payment"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", csrf.as_str()), ("amount", "10,00"), ("method", "pix")]))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::FORBIDDEN);
    assert!(direct.text().await.unwrap().contains("Acesso negado para o seu perfil"));

    // The customer approves the supplementary quote on the customer's page.
    let link = newest_quote_link(dir.path(), &base, 1, mails_before);
    browser.goto(&link).await.unwrap();
    wait_for_text(&browser, "Limpeza interna").await;
    fill(&browser, "#nome", "Maria Souza").await;
    css(&browser, "button[value=aprovar]").await.click().await.unwrap();
    wait_for_text(&browser, "Resposta registrada").await;
    wait_status(&rep, &id, "em_execucao").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    let scope = open_form(&browser, "finish").await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Finalizar").await;
    let scope = open_form(&browser, "validate").await;
    // The checklist shown is the one recorded: submit it as it is.
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Validar").await;
    assert_eq!(status_of(&rep, &id).await, "em_validacao");
    sign_out(&browser).await;

    // 7. Pagamento e liberação — the financeiro: the payment in two parts, the NF-e, the release.
    sign_in(&browser, &base, tenant, "financeiro").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    click_action(&browser, "request_payment").await;
    let scope = open_form(&browser, "register_payment").await;
    let page = browser.source().await.unwrap();
    assert!(page.contains("R$ 319,90"), "the balance with the extra item");
    fill(&browser, &format!("{scope} input[name=amount]"), "200,00").await;
    css(&browser, &format!("{scope} select[name=method]")).await.select_by_value("cash").await.unwrap();
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Registrar pagamento").await;
    // The release is blocked until the rest is paid: shown, disabled, with the reason.
    wait_for_text(&browser, "o pagamento não está quitado").await;
    let scope = open_form(&browser, "register_payment").await;
    fill(&browser, &format!("{scope} input[name=amount]"), "119,90").await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Registrar pagamento").await;
    let order = rep.order(&id).await;
    assert_eq!((order["amount_paid"].as_str(), order["balance"].as_str()), (Some("319.90"), Some("0.00")));
    // The NF-e is issued once paid: its XML is offered for download.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        browser.refresh().await.unwrap();
        if browser.source().await.unwrap().contains("baixar XML") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no NF-e to download");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let href = css(&browser, "a[download]").await.attr("href").await.unwrap().unwrap();
    let cookie = cookie_header(&browser).await;
    let xml = http.get(format!("{base}{href}")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(xml.status(), StatusCode::OK);
    assert!(xml.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"NFe"));
    let xml = xml.text().await.unwrap();
    assert!(xml.contains("<infNFe") && xml.contains("Fonte 65W"), "{xml}");
    // And its DANFE, read back by poppler's pdftotext: the access key the link names is printed on it.
    let danfe = css(&browser, "a[href*='/danfe/']").await.attr("href").await.unwrap().unwrap();
    let key = danfe.rsplit('/').next().unwrap().to_owned();
    let pdf = http.get(format!("{base}{danfe}")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(pdf.status(), StatusCode::OK);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("danfe.pdf");
    std::fs::write(&file, pdf.bytes().await.unwrap()).unwrap();
    let text = std::process::Command::new("pdftotext")
        .args([file.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils, scripts/setup)");
    let text: String = String::from_utf8_lossy(&text.stdout).chars().filter(|c| c.is_ascii_digit()).collect();
    assert!(key.len() == 44 && text.contains(&key), "the DANFE shows the key {key}");
    // The invoicer stores the authorized NF-e before it records it on the order: the release is offered once the
    // order has it (until then the button is shown disabled, with the reason).
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !browser.source().await.unwrap().contains("data-action=\"release\"") {
        assert!(std::time::Instant::now() < deadline, "the release never offered");
        tokio::time::sleep(Duration::from_millis(200)).await;
        browser.refresh().await.unwrap();
    }
    click_action(&browser, "release").await;
    assert_eq!(status_of(&rep, &id).await, "liberada");

    // The NF-e after its authorization, by clicking as financeiro: a carta de correção (its text as the API
    // keeps it, its procEventoNFe downloaded from the list), then the cancellation (its procEventoNFe too).
    let correction = "Endereço do destinatário: Rua Augusta, 100 — fundos \"B\" & <loja 2> 'térreo'";
    let scope = open_form(&browser, "correct_nfe").await;
    fill(&browser, &format!("{scope} textarea[name=text]"), correction).await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Registrar carta de correção").await;
    let listed = rep.get(&format!("/v1/orders/{id}/invoices/{key}/corrections")).await.ok(StatusCode::OK);
    assert_eq!(listed["items"][0]["text"], correction, "{listed}");
    let cce = css(&browser, "a[href$='/cce/1']").await.attr("href").await.unwrap().unwrap();
    let cce = http.get(format!("{base}{cce}")).header("cookie", cookie_header(&browser).await).send().await.unwrap();
    assert_eq!(cce.status(), StatusCode::OK);
    let cce = cce.text().await.unwrap();
    assert!(cce.contains("<tpEvento>110110</tpEvento>") && cce.contains("térreo"), "{cce}");
    // A técnico sees neither form, and a direct POST of the cancellation is refused by the API (403).
    sign_out(&browser).await;
    sign_in(&browser, &base, tenant, "tecnico").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    let page = wait_for_text(&browser, "DANFE (PDF)").await;
    assert!(!page.contains("cancel_nfe") && !page.contains("correct_nfe"), "no NF-e event form for a técnico");
    let csrf = css(&browser, "input[name=csrf]").await.attr("value").await.unwrap().unwrap();
    let direct = http
        .post(format!("{base}/os/{id}/nfe/{key}/cancelar"))
        .header("cookie", cookie_header(&browser).await)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("csrf", csrf.as_str()), ("justification", "Tentativa de cancelar sem permissão")]))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::FORBIDDEN);
    sign_out(&browser).await;
    sign_in(&browser, &base, tenant, "financeiro").await;
    browser.goto(&format!("{base}/os/{id}")).await.unwrap();
    let scope = open_form(&browser, "cancel_nfe").await;
    fill(&browser, &format!("{scope} textarea[name=justification]"), "Cliente desistiu das peças após a entrega").await;
    submit_form(&browser, &scope).await;
    wait_for_text(&browser, "Feito: Cancelar NF-e").await;
    let cancel = css(&browser, "a[href$='/cancelamento']").await.attr("href").await.unwrap().unwrap();
    let cancel =
        http.get(format!("{base}{cancel}")).header("cookie", cookie_header(&browser).await).send().await.unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    assert!(cancel.text().await.unwrap().contains("<tpEvento>110111</tpEvento>"));
    assert_eq!(rep.order(&id).await["invoice"]["state"], "cancelled");
    // Neither form is offered once cancelled.
    assert!(!browser.source().await.unwrap().contains("data-action=\"cancel_nfe\""));

    // 8. Encerramento.
    click_action(&browser, "close").await;
    assert_eq!(status_of(&rep, &id).await, "encerrada");
    let page = browser.source().await.unwrap();
    for shown in ["Encerrado", "Pagamento de R$ 200,00 (Dinheiro)", "Aguardando material: Fonte em falta", "NF-e nº"] {
        assert!(page.contains(shown), "{shown:?} on the timeline");
    }
    shot(&browser, "order-closed-phone").await;

    // Another company's OS is not found.
    sign_out(&browser).await;
    sign_in(&browser, &base, "outra-oficina", "atendente").await;
    let other =
        http.get(format!("{base}/os/{id}")).header("cookie", cookie_header(&browser).await).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    browser.close().await.unwrap();
}

#[tokio::test]
async fn a_new_status_published_by_the_representante_applies_to_new_orders_only() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let tenant = "oficina-fluxo";
    let api = local.api(&local.token(tenant, "representante"));
    let old = api.open_example().await;
    let driver = ChromeDriver::start();
    let browser = desktop(&driver).await;
    sign_in(&browser, &base, tenant, "representante").await;
    css(&browser, "a[href='/fluxo']").await.click().await.unwrap();
    wait_for_text(&browser, "Versão 1: 1 OS").await;
    // A status that the API refuses (unreachable) is shown with the API's reason.
    let n = 11; // the default flow's statuses fill rows 0..=10
    fill(&browser, &format!("input[name=s_key_{n}]"), "em_testes").await;
    fill(&browser, &format!("input[name=s_label_{n}]"), "Em Testes").await;
    css(&browser, "form.flow button[type=submit]").await.click().await.unwrap();
    // In Portuguese, naming the row at fault.
    let refused = wait_for_text(&browser, "o status em_testes não é alcançável a partir do inicial").await;
    assert!(refused.contains("Fluxo inválido (status 12)"), "the editor again, the row named");
    let t = browser.source().await.unwrap().matches("name=\"t_from_").count() - 2;
    fill(&browser, &format!("input[name=s_key_{n}]"), "em_testes").await;
    fill(&browser, &format!("input[name=s_label_{n}]"), "Em Testes").await;
    fill(&browser, &format!("input[name=s_sla_{n}]"), "8").await;
    for (i, (from, to)) in [("em_execucao", "em_testes"), ("em_testes", "finalizada")].into_iter().enumerate() {
        fill(&browser, &format!("input[name=t_from_{}]", t + i), from).await;
        css(&browser, &format!("select[name=t_action_{}]", t + i)).await.select_by_value("move").await.unwrap();
        fill(&browser, &format!("input[name=t_to_{}]", t + i), to).await;
        css(&browser, &format!("input[name=t_roles_{}][value=tecnico]", t + i)).await.click().await.unwrap();
    }
    shot(&browser, "flow-desktop").await;
    css(&browser, "form.flow button[type=submit]").await.click().await.unwrap();
    wait_for_text(&browser, "Versão 2 publicada").await;
    let flow = api.get("/v1/flow").await.ok(StatusCode::OK);
    assert_eq!(flow["version"], 2);
    assert!(flow["statuses"].as_array().unwrap().iter().any(|s| s["key"] == "em_testes" && s["sla_hours"] == 8));

    let new = api.open_example().await;
    for id in [&old, &new] {
        walk_to(&api, id, "em_execucao").await;
    }
    let order = |id: &str| format!("{base}/os/{id}");
    browser.goto(&order(&new)).await.unwrap();
    let page = wait_for_text(&browser, "fluxo versão 2").await;
    // The move is the técnico's only (as published): not offered to the representante.
    assert!(!page.contains("Mover para Em Testes"), "only to the roles of the transition");
    browser.goto(&order(&old)).await.unwrap();
    wait_for_text(&browser, "fluxo versão 1").await;
    // The board has the new column; the flow page counts the versions in use.
    browser.goto(&format!("{base}/")).await.unwrap();
    wait_for_text(&browser, "Em Testes").await;
    shot(&browser, "board-desktop").await;
    browser.goto(&format!("{base}/fluxo")).await.unwrap();
    let page = wait_for_text(&browser, "Versão 2: 1 OS").await;
    assert!(page.contains("Versão 1: 1 OS"));
    // The reports: the period's tables, the two charts (drawn: the images loaded) and the CSV.
    css(&browser, "a[href='/relatorios']").await.click().await.unwrap();
    let page = wait_for_text(&browser, "Tempo por status").await;
    assert!(page.contains("OS abertas") && page.contains("Abertas e encerradas por dia"), "{page}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let drawn = browser
            .execute("return [...document.querySelectorAll('img.chart')].map(i => i.naturalWidth > 0);", vec![])
            .await
            .unwrap();
        if drawn == json!([true, true]) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "charts not drawn: {drawn}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(&browser, "reports-desktop").await;
    let href = css(&browser, "a[href^='/relatorios/resumo.csv']").await.attr("href").await.unwrap().unwrap();
    let csv = no_redirects().get(format!("{base}{href}")).header("cookie", cookie_header(&browser).await).send().await;
    let csv = csv.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.text().await.unwrap().lines().count() > 1, "a CSV with rows");
    // The notification settings: a message edited, previewed with sample values (an unknown variable refused in
    // the preview, as the API refuses it), then saved.
    css(&browser, "a[href='/avisos']").await.click().await.unwrap();
    wait_for_text(&browser, "Avisos ao cliente").await;
    fill(&browser, "#empresa-nome", "Oficina Fluxo").await;
    let scope = "details:has(textarea[name=body_awaiting_approval])";
    css(&browser, &format!("{scope} summary")).await.click().await.unwrap();
    fill(&browser, &format!("{scope} textarea"), "Oi {cliente}, orçamento da OS {os}: {valor}. {nome}").await;
    let preview = css(&browser, "button[value=previa]").await;
    preview.clone().click().await.unwrap();
    wait_left(&preview).await;
    wait_for_text(&browser, "Modelo inválido").await;
    let scope = "details:has(textarea[name=body_awaiting_approval])";
    css(&browser, &format!("{scope} summary")).await.click().await.unwrap();
    fill(&browser, &format!("{scope} textarea"), "Oi {cliente}, orçamento da OS {os}: {valor}.").await;
    let preview = css(&browser, "button[value=previa]").await;
    preview.clone().click().await.unwrap();
    wait_left(&preview).await;
    wait_for_text(&browser, "Oi Maria, orçamento da OS 123: R$ 269,90.").await;
    let save = css(&browser, "button[value=salvar]").await;
    save.clone().click().await.unwrap();
    wait_left(&save).await;
    wait_for_text(&browser, "Avisos salvos.").await;
    let saved = api.get("/v1/settings/notifications").await.ok(StatusCode::OK);
    assert_eq!(saved["company_name"], "Oficina Fluxo");
    assert_eq!(saved["templates"]["awaiting_approval"]["body"], "Oi {cliente}, orçamento da OS {os}: {valor}.");
    assert_eq!(saved["templates"].as_object().map(|t| t.len()), Some(1), "the defaults are not stored: {saved}");
    // The NF-e emitter with its A1 certificate uploaded from a file.
    css(&browser, "a[href='/emissor']").await.click().await.unwrap();
    wait_for_text(&browser, "Nenhum certificado guardado").await;
    for (id, value) in [
        ("cnpj", "11.222.333/0001-81"),
        ("ie", "110042490114"),
        ("razao", "Oficina Fluxo Ltda"),
        ("rua", "Rua Augusta"),
        ("numero", "100"),
        ("bairro", "Consolação"),
        ("cidade", "São Paulo"),
        ("ibge", "3550308"),
        ("uf", "SP"),
        ("cep", "01305-000"),
        ("rt-cnpj", "11222333000181"),
        ("rt-contato", "Suporte"),
        ("rt-email", "suporte@exemplo.com.br"),
        ("rt-fone", "11987654321"),
        ("senha", "senha-do-a1"),
    ] {
        fill(&browser, &format!("#{id}"), value).await;
    }
    let cnpj = osflow_nfe::Cnpj::parse("11222333000181").unwrap();
    let cert = osflow_nfe::Certificate::generate_for_homologation(&cnpj, "OFICINA FLUXO LTDA", 30).unwrap();
    let p12 = dir.path().join("a1.pfx");
    std::fs::write(&p12, cert.to_pkcs12("senha-do-a1").unwrap()).unwrap();
    css(&browser, "#arquivo").await.send_keys(&p12.display().to_string()).await.unwrap();
    let save = css(&browser, "form.cert button[type=submit]").await;
    save.clone().click().await.unwrap();
    wait_left(&save).await;
    let page = wait_for_text(&browser, "Emissor salvo.").await;
    assert!(page.contains("OFICINA FLUXO LTDA"), "the certificate shown");
    assert!(!page.contains("senha-do-a1"), "the password is never shown");
    let emitter = api.get("/v1/fiscal/emitter").await.ok(StatusCode::OK);
    assert_eq!(emitter["certificate"]["cnpj"], "11222333000181", "{emitter}");
    // The new OS moves to the new status by clicking, as a técnico.
    sign_out(&browser).await;
    sign_in(&browser, &base, tenant, "tecnico").await;
    browser.goto(&order(&old)).await.unwrap();
    let page = wait_for_text(&browser, "fluxo versão 1").await;
    assert!(!page.contains("Em Testes"), "the old OS keeps its version");
    browser.goto(&order(&new)).await.unwrap();
    wait_for_text(&browser, "Mover para Em Testes").await;
    click_action(&browser, "move").await;
    assert_eq!(api.status_of(&new).await, "em_testes");
    browser.close().await.unwrap();
}

/// The console's key as osflow-local derives it from the data folder's token key.
fn console_key(data: &Path) -> osflow_console::SessionKey {
    let token_key = std::fs::read(data.join("token.key")).expect("the token key");
    let key = osflow_lambda_kit::blob::hmac_sha256(&token_key, b"osflow-local console sessions");
    osflow_console::SessionKey::new(key.to_vec()).unwrap()
}

#[tokio::test]
async fn sessions_forms_and_user_text_are_guarded() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let http = no_redirects();
    let api = local.api(&local.token("oficina-seg", "atendente"));

    // No session: the sign-in page, for pages and for forms.
    for (method, path) in [("GET", "/"), ("GET", "/fluxo"), ("POST", "/os/nova")] {
        let r = http.request(method.parse().unwrap(), format!("{base}{path}")).send().await.unwrap();
        assert_eq!((r.status(), r.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/entrar"));
    }
    // A forged cookie and an expired one (signed with the right key): the sign-in page, and the cookie removed.
    let key = console_key(dir.path());
    let tenant = osflow_domain::values::TenantId::parse("oficina-seg").unwrap();
    let user = osflow_domain::values::UserId::parse("ana").unwrap();
    let now = chrono::Utc::now().timestamp();
    let expired =
        osflow_console::Session::new(&tenant, &user, vec![osflow_domain::Role::Atendente], "ana", now - 13 * 3600);
    let valid = osflow_console::Session::new(&tenant, &user, vec![osflow_domain::Role::Atendente], "ana", now);
    let forged = key.seal(&valid).replace('.', "x.");
    for cookie in [key.seal(&expired), forged, "lixo".to_owned()] {
        let r = http.get(format!("{base}/")).header("cookie", format!("osflow_sessao={cookie}")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(r.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    }
    let cookie = format!("osflow_sessao={}", key.seal(&valid));
    let r = http.get(format!("{base}/")).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let csp = r.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    // A form without its CSRF token, or with another session's: 403, nothing done.
    let id = api.open_example().await;
    let other = key.csrf(&osflow_console::Session::new(&tenant, &user, vec![], "x", now));
    for form in [vec![("reason", "teste")], vec![("reason", "teste"), ("csrf", other.as_str())]] {
        let r = http
            .post(format!("{base}/os/{id}/acao/cancel"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form_body(&form))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(api.status_of(&id).await, "aberta");
    let csrf = key.csrf(&valid);
    let r = http
        .post(format!("{base}/os/{id}/acao/cancel"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(&[("reason", "teste"), ("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(api.status_of(&id).await, "cancelada");

    // User text is shown, not run: a customer named <script>, on the board, the order page and the records' pages.
    let evil = "<script>document.title='pwned'</script>";
    let body = {
        let mut v = example_order();
        v["customer"]["name"] = json!(evil);
        v["equipment"]["description"] = json!("<img src=x onerror=alert(1)>");
        v
    };
    let created: Value = api.post("/v1/orders", body).await.ok(StatusCode::CREATED);
    let evil_id = created["id"].as_str().unwrap().to_owned();
    let driver = ChromeDriver::start();
    let browser = driver.session().await;
    sign_in(&browser, &base, "oficina-seg", "atendente").await;
    // And on the records' pages: the customers' search (the name of the OS found), the equipment's OS history.
    let records = ["/clientes?q=script".to_owned()];
    for path in ["/".to_owned(), format!("/os/{evil_id}")].into_iter().chain(records) {
        browser.goto(&format!("{base}{path}")).await.unwrap();
        wait_for_text(&browser, "&lt;script&gt;").await;
        assert_ne!(browser.title().await.unwrap(), "pwned");
        assert!(browser.get_alert_text().await.is_err(), "no alert opened");
        let shown = css(&browser, "main").await.text().await.unwrap();
        assert!(shown.contains("<script>document.title='pwned'</script>"), "shown as text: {shown}");
    }
    let equipment = created["equipment_id"].as_str().unwrap();
    browser.goto(&format!("{base}/equipamentos/{equipment}")).await.unwrap();
    wait_for_text(&browser, "&lt;img src=x").await;
    assert!(browser.get_alert_text().await.is_err(), "no alert opened");
    let history = css(&browser, "table.history").await.text().await.unwrap();
    assert!(history.contains("<img src=x onerror=alert(1)>"), "shown as text: {history}");
    shot(&browser, "escaped-phone").await;
    browser.close().await.unwrap();
}

/// Presses each key of `keys` (characters, or `Key` codes such as `Key::Tab`) as a keyboard does.
async fn press(browser: &fantoccini::Client, keys: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    let mut actions = KeyActions::new("teclado".into());
    for c in keys.chars() {
        actions = actions.then(KeyAction::Down { value: c }).then(KeyAction::Up { value: c });
    }
    browser.perform_actions(actions).await.expect("keys pressed");
}

/// The focused element's attribute (empty when it has none).
async fn focused(browser: &fantoccini::Client, attribute: &str) -> String {
    let e = browser.active_element().await.expect("an element has the focus");
    e.attr(attribute).await.ok().flatten().unwrap_or_default()
}

/// Presses Tab until the focused element's `attribute` is `value`.
async fn tab_to(browser: &fantoccini::Client, attribute: &str, value: &str) {
    let tab = char::from(fantoccini::key::Key::Tab).to_string();
    for _ in 0..80 {
        if focused(browser, attribute).await == value {
            return;
        }
        press(browser, &tab).await;
    }
    panic!("Tab never reached [{attribute}={value}]; page: {}", browser.source().await.unwrap_or_default());
}

/// Types `text` into the focused field, replacing what it held.
async fn type_over(browser: &fantoccini::Client, text: &str) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    let select_all = KeyActions::new("teclado".into())
        .then(KeyAction::Down { value: Key::Control.into() })
        .then(KeyAction::Down { value: 'a' })
        .then(KeyAction::Up { value: 'a' })
        .then(KeyAction::Up { value: Key::Control.into() })
        .then(KeyAction::Down { value: Key::Backspace.into() })
        .then(KeyAction::Up { value: Key::Backspace.into() });
    browser.perform_actions(select_all).await.expect("clear the field");
    press(browser, text).await;
}

#[tokio::test]
async fn the_counter_opens_and_quotes_an_os_with_the_keyboard_only() {
    use fantoccini::key::Key;
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let base = local.url.clone();
    let api = local.api(&local.token("oficina-teclado", "atendente"));
    let (tab, enter, down) =
        (char::from(Key::Tab).to_string(), char::from(Key::Enter).to_string(), char::from(Key::Down).to_string());
    let driver = ChromeDriver::start();
    let browser = desktop(&driver).await;

    // Sign in: company, role (the arrow picks Atendente, after Representante), Enter.
    browser.goto(&format!("{base}/entrar")).await.unwrap();
    tab_to(&browser, "id", "empresa").await;
    type_over(&browser, "oficina-teclado").await;
    tab_to(&browser, "id", "papel").await;
    press(&browser, &down).await;
    tab_to(&browser, "type", "submit").await;
    press(&browser, &enter).await;
    wait_for_text(&browser, "Quadro de OS").await;

    // The first Tab reaches the skip link, drawn with a visible focus ring; Enter moves to the content.
    press(&browser, &tab).await;
    assert_eq!(focused(&browser, "href").await, "#conteudo");
    let ring = browser.execute("return getComputedStyle(document.activeElement).outlineStyle", vec![]).await.unwrap();
    assert_eq!(ring, json!("solid"), "the keyboard focus is visible");
    press(&browser, &enter).await;
    assert_eq!(focused(&browser, "id").await, "conteudo");

    // Nova OS from the navigation, the form filled field by field.
    browser.goto(&format!("{base}/")).await.unwrap();
    tab_to(&browser, "href", "/os/nova").await;
    press(&browser, &enter).await;
    wait_for_text(&browser, "Nova OS").await;
    for (name, text) in [
        ("customer_name", "Cliente do Teclado"),
        ("customer_document", "529.982.247-25"),
        ("equipment_description", "Impressora"),
        ("equipment_serial", "TEC-0001"),
        ("reported_problem", "Não puxa papel"),
        ("description_0", "Revisão do tracionador"),
        ("unit_price_0", "80,00"),
    ] {
        tab_to(&browser, "name", name).await;
        type_over(&browser, text).await;
    }
    tab_to(&browser, "type", "submit").await;
    assert_eq!(browser.active_element().await.unwrap().text().await.unwrap(), "Abrir OS");
    press(&browser, &enter).await;
    wait_for_text(&browser, "Feito: ").await;
    let url = browser.current_url().await.unwrap();
    let id = url.path().rsplit('/').next().unwrap().to_owned();
    assert_eq!(api.status_of(&id).await, "aberta");

    // An action without a form: Tab to its button, Enter.
    tab_to(&browser, "data-action", "send_quote").await;
    press(&browser, &enter).await;
    wait_for_text(&browser, "Feito: Enviar orçamento").await;
    assert_eq!(api.status_of(&id).await, "aguardando_aprovacao");
    // An action with a form: Enter opens it (a <details>), Tab to its fields and its button.
    tab_to(&browser, "data-action", "decide_quote").await;
    press(&browser, &enter).await;
    tab_to(&browser, "name", "comment").await;
    type_over(&browser, "Aprovado no balcão").await;
    press(&browser, &tab).await;
    assert!(browser.active_element().await.unwrap().text().await.unwrap().starts_with("Confirmar"));
    press(&browser, &enter).await;
    wait_for_text(&browser, "Feito: Registrar decisão").await;
    assert_eq!(api.status_of(&id).await, "aprovada");
    shot(&browser, "keyboard").await;
    browser.close().await.unwrap();
}
