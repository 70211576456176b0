//! The staff console: the shop's day in a browser — the board, the order page with exactly the actions the flow
//! allows the user now, the opening form, photo uploads from a phone, and the representante's flow editor.
//!
//! Server-rendered pt-BR HTML (maud), one same-origin stylesheet and one small same-origin script (the board's
//! refresh, the CPF/CNPJ check as typed, the photo upload straight to the blob store); a strict CSP with no
//! inline script or style. Reads call the use cases of [`osflow_app::App`]; every write goes through the API's
//! own handler in process ([`api::call`]) with the session's claims, so the rules, the parsing and the refusals
//! are the API's (a técnico's payment is the API's 403).
//!
//! Sessions ([`session`]): a signed cookie (HttpOnly, SameSite=Strict, Secure over https) with the claims the API
//! trusts; every form carries the session's CSRF token; no session, or a forged or expired one, is sent to the
//! sign-in page. Locally the sign-in picks a development user and role (as `osflow-local token` does).
//!
//! Sessions ([`session`]) in AWS come from Cognito's hosted UI, authorization code + PKCE ([`cognito`]).
//!
//! Routes (everything outside `/v1`, `/p` and `/blobs`): `GET /` (board; `?parcial=1` the columns only),
//! `GET|POST /entrar`, `GET /entrar/retorno` (Cognito's callback), `POST /sair`, `GET|POST /os/nova`,
//! `GET /os/{id}`, `POST /os/{id}/acao/{action}`, `GET /os/{id}/anexos/{n}`, `GET /os/{id}/nfe/{key}`,
//! `POST /os/{id}/nfe/{key}/cancelar|corrigir` (an NF-e's or NFS-e's events), `POST /os/{id}/nfse-externa` and
//! `GET /os/{id}/nfse-externa/{key}` (an NFS-e issued elsewhere), `GET|POST /inutilizacao` and
//! `GET /inutilizacao/{first}/xml` (the NF-e gaps and their inutilização),
//! `GET /documento?valor=`, `GET|POST /fluxo`, `GET|POST /avisos`, `GET|POST /emissor`, `GET /relatorios`
//! (`?de=&ate=`; `/relatorios/resumo.csv`, `/relatorios/tempo-por-status.svg`, `/relatorios/abertas-encerradas.svg`),
//! `GET /static/console.css|console.js`; the records' pages (`records.rs`): `GET /clientes`,
//! `GET|POST /clientes/{document or id}`, `GET /clientes/{id}/exportar`, `POST /clientes/{id}/anonimizar`,
//! `GET|POST /equipamentos/{id}`, `GET|POST /empresa`, `POST /os/{id}/editar/{what}`, `GET /os/{id}/recibo/{kind}`,
//! `POST /os/{id}/senha`, `POST /os/{id}/garantia`.

pub mod api;
pub mod cognito;
pub mod fiscal;
pub mod forms;
pub mod forward;
mod gaps;
mod invoices;
pub mod messages;
pub mod pages;
mod records;
pub mod reports;
#[cfg(feature = "aws")]
pub mod secrets;
pub mod session;
pub mod settings;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lambda_http::http::{HeaderValue, Method, header};
use lambda_http::{Body, Request, RequestExt, Response};
use maud::Markup;
use osflow_app::{App, AppError, Caller, OrderQuery, PageRequest};
use osflow_domain::values::{Document, OrderId, TenantId, UserId};
use osflow_domain::{Flow, OrderCard, Role, StatusKey, is_overdue, sla_used};
use serde_json::{Value, json};

use crate::forms::Form;
use crate::pages::{BoardFilters, Card, Frame};
use crate::session::COOKIE;

pub use session::{Session, SessionKey};

const CSS: &str = include_str!("../static/console.css");
const JS: &str = include_str!("../static/console.js");

/// Largest form accepted.
const MAX_FORM_BYTES: usize = 256 * 1024;
/// Most orders the board shows (the board's search reads pages of 100 up to this).
pub const BOARD_MAX: usize = 2_000;
/// Rows of the flow editor read (statuses and transitions each).
const MAX_FLOW_ROWS: usize = 500;
/// How long the sign-in form's token is good for.
const SIGN_IN_FORM_SECONDS: i64 = 3600;

/// How staff sign in.
#[derive(Debug, Clone)]
pub enum SignIn {
    /// Development users: pick a company, a user and a role (osflow-local).
    Development { default_tenant: String },
    /// Cognito's hosted UI, authorization code + PKCE (AWS).
    Cognito(Arc<cognito::Cognito>),
}

/// The console: the use cases, the session key and the sign-in.
#[derive(Debug, Clone)]
pub struct Console {
    pub app: App,
    pub key: SessionKey,
    pub sign_in: SignIn,
    /// Cookies marked `Secure` (served over https).
    pub secure: bool,
    /// Origins the page's script may upload to besides its own (the S3 bucket's, in AWS).
    pub upload_origins: Vec<String>,
    /// The fiscal-admin function, when its routes are not served in this process's App (in AWS the console
    /// links no fiscal crates): the emitter page, the NF-e and NFS-e events and the inutilização go to it
    /// ([`forward`]).
    pub fiscal_function: Option<Arc<dyn forward::FunctionInvoker>>,
}

/// Whether a path is the console's (osflow-local routes everything else to the API, the portal or the blobs).
pub fn is_console_path(path: &str) -> bool {
    !(path.starts_with("/v1/") || path == "/v1" || path.starts_with("/p/") || path.starts_with("/blobs/"))
}

struct Reply {
    status: u16,
    content_type: String,
    body: Body,
    headers: Vec<(header::HeaderName, String)>,
}

impl Reply {
    fn html(status: u16, markup: Markup) -> Reply {
        Reply {
            status,
            content_type: "text/html; charset=utf-8".into(),
            body: Body::Text(markup.into_string()),
            headers: vec![],
        }
    }

    fn json(status: u16, value: Value) -> Reply {
        Reply { status, content_type: "application/json".into(), body: Body::Text(value.to_string()), headers: vec![] }
    }

    fn redirect(to: &str) -> Reply {
        Reply {
            status: 303,
            content_type: "text/plain; charset=utf-8".into(),
            body: Body::Empty,
            headers: vec![(header::LOCATION, to.to_owned())],
        }
    }

    fn with(mut self, name: header::HeaderName, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

/// The request as the console reads it.
struct Req<'a> {
    method: Method,
    path: String,
    /// The host the request came to (API Gateway's domain name, else the Host header).
    host: String,
    query: BTreeMap<String, String>,
    headers: &'a lambda_http::http::HeaderMap,
    body: &'a [u8],
}

impl Req<'_> {
    fn q(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(|s| s.trim()).filter(|s| !s.is_empty())
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|all| {
            all.split(';').filter_map(|c| c.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v.to_owned())
        })
    }

    fn wants_json(&self) -> bool {
        self.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|a| a.contains("application/json"))
    }
}

fn now_unix(app: &App) -> i64 {
    app.clock.now().timestamp()
}

/// Serves one request of the console.
pub async fn handle(console: &Console, req: Request) -> Response<Body> {
    let path = match req.raw_http_path() {
        "" => req.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    let query: BTreeMap<String, String> =
        req.uri().query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    if !is_console_path(&path) {
        // The API's and the portal's paths are theirs (in AWS the console's catch-all route sees what they
        // do not serve).
        return Response::builder()
            .status(404)
            .header(header::CONTENT_TYPE, "application/problem+json")
            .body(Body::Text(
                json!({"type": "/problems/not-found", "title": "Não encontrado", "status": 404}).to_string(),
            ))
            .expect("valid response parts");
    }
    let host = match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => c.domain_name.clone(),
        _ => None,
    }
    .or_else(|| req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_owned))
    .unwrap_or_default();
    let body: &[u8] = req.body().as_ref();
    let r = Req { method: req.method().clone(), path, host, query, headers: req.headers(), body };
    let limit = if invoices::is_external_nfse_form(&r.path) { invoices::EXTERNAL_FORM_BYTES } else { MAX_FORM_BYTES };
    let reply = if r.body.len() > limit {
        Reply::html(413, pages::message(&anonymous(), "Formulário grande demais", "Envie menos dados de uma vez."))
    } else {
        route(console, &r).await
    };
    finish(console, reply)
}

fn anonymous() -> Frame<'static> {
    Frame { session: None, csrf: "", company: "" }
}

/// Security headers on every answer.
fn finish(console: &Console, reply: Reply) -> Response<Body> {
    let mut connect = String::from("'self'");
    for o in &console.upload_origins {
        connect.push(' ');
        connect.push_str(o);
    }
    // Sign-out posts to the console, which sends the browser on to Cognito's /logout: form-action covers it.
    let form_action = match &console.sign_in {
        SignIn::Cognito(c) => format!("'self' {}", c.config.domain),
        SignIn::Development { .. } => "'self'".to_owned(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data: blob:; connect-src {connect}; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    );
    let own_csp = reply.headers.iter().any(|(n, _)| *n == header::CONTENT_SECURITY_POLICY);
    let mut builder = Response::builder().status(reply.status).header(header::CONTENT_TYPE, reply.content_type);
    if !own_csp {
        builder = builder.header(header::CONTENT_SECURITY_POLICY, csp);
    }
    builder = builder
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::REFERRER_POLICY, "same-origin")
        .header(header::X_FRAME_OPTIONS, "DENY");
    let cacheable = reply.headers.iter().any(|(n, _)| *n == header::CACHE_CONTROL);
    if !cacheable {
        builder = builder.header(header::CACHE_CONTROL, "no-store");
    }
    for (name, value) in reply.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            builder = builder.header(name, v);
        }
    }
    builder.body(reply.body).expect("valid response parts")
}

fn cookie(console: &Console, value: &str, max_age: i64) -> String {
    let secure = if console.secure { "; Secure" } else { "" };
    format!("{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

async fn route(console: &Console, r: &Req<'_>) -> Reply {
    let segments: Vec<&str> = r.path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match (&r.method, segments.as_slice()) {
        (&Method::GET, ["static", "console.css"]) => static_file(CSS, "text/css; charset=utf-8"),
        (&Method::GET, ["static", "console.js"]) => static_file(JS, "text/javascript; charset=utf-8"),
        (&Method::GET, ["entrar"]) => sign_in_page(console, r, None, 200),
        (&Method::POST, ["entrar"]) => sign_in(console, r),
        (&Method::GET, ["entrar", "retorno"]) => sign_in_callback(console, r).await,
        _ => {
            // Everything else needs a session.
            let now = now_unix(&console.app);
            let session = r.cookie(COOKIE).and_then(|c| console.key.open(&c, now));
            let Some((session, caller)) = session.and_then(|s| s.caller().map(|c| (s, c))) else {
                let reply = Reply::redirect("/entrar");
                // A cookie that did not open (forged, expired) is removed.
                return if r.cookie(COOKIE).is_some() {
                    reply.with(header::SET_COOKIE, cookie(console, "", 0))
                } else {
                    reply
                };
            };
            let csrf = console.key.csrf(&session);
            let company = company_name(console, &caller).await;
            let frame = Frame { session: Some(&session), csrf: &csrf, company: &company };
            let form = if r.method == Method::POST {
                let form = Form::parse(r.body);
                if !form.get("csrf").is_some_and(|t| console.key.csrf_ok(&session, t)) {
                    return Reply::html(
                        403,
                        pages::message(
                            &frame,
                            "Formulário recusado",
                            "O formulário expirou ou não veio desta página. Recarregue e tente de novo.",
                        ),
                    );
                }
                form
            } else {
                Form::default()
            };
            let cx = Cx { console, caller: &caller, frame: &frame, r };
            match (&r.method, segments.as_slice()) {
                (&Method::GET, []) => board(&cx).await,
                (&Method::POST, ["sair"]) => {
                    let to = match &console.sign_in {
                        // Cognito's session ends too; its page sends the browser back to the sign-in.
                        SignIn::Cognito(c) => c.logout_url(&format!("{}/entrar", base_url(console, r))),
                        SignIn::Development { .. } => "/entrar".to_owned(),
                    };
                    Reply::redirect(&to).with(header::SET_COOKIE, cookie(console, "", 0))
                }
                (&Method::GET, ["os", "nova"]) => new_order_page(&cx, None, 200).await,
                (&Method::POST, ["os", "nova"]) => open_order(&cx, &form).await,
                (&Method::GET, ["os", id]) => order_page(&cx, id, None, 200).await,
                (&Method::POST, ["os", id, "acao", action]) => order_action(&cx, id, action, &form).await,
                (&Method::GET, ["os", id, "anexos", n]) => attachment(&cx, id, n).await,
                (&Method::GET, ["os", id, "nfe", key]) => invoice_xml(&cx, id, key).await,
                (&Method::GET, ["os", id, "danfe", key]) => invoice_danfe(&cx, id, key).await,
                (&Method::GET, ["os", id, "danfse", key]) => invoices::danfse(&cx, id, key).await,
                (&Method::GET, ["os", id, "nfe", key, "cancelamento"]) => {
                    invoices::cancellation_xml(&cx, id, key).await
                }
                (&Method::GET, ["os", id, "nfe", key, "cce", seq]) => invoices::correction_xml(&cx, id, key, seq).await,
                (&Method::POST, ["os", id, "nfe", key, kind @ ("cancelar" | "corrigir")]) => {
                    invoices::register_event(&cx, id, key, kind, &form).await
                }
                (&Method::POST, ["os", id, "nfse-externa"]) => invoices::record_external(&cx, id, &form).await,
                (&Method::GET, ["os", id, "nfse-externa", key]) => invoices::external_file(&cx, id, key).await,
                (&Method::GET, ["inutilizacao"]) => gaps::page(&cx, None, None, 200).await,
                (&Method::POST, ["inutilizacao"]) => gaps::void(&cx, &form).await,
                (&Method::GET, ["inutilizacao", first, "xml"]) => gaps::xml(&cx, first).await,
                (&Method::GET, ["documento"]) => document_check(r),
                (_, ["clientes", ..] | ["equipamentos", ..] | ["empresa"]) => {
                    records::route(&cx, &segments, &form).await
                }
                (_, ["os", _, "editar" | "recibo" | "senha" | "garantia", ..]) => {
                    records::route(&cx, &segments, &form).await
                }
                (&Method::GET, ["relatorios"]) => reports_page(&cx).await,
                (&Method::GET, ["relatorios", file]) => report_file(&cx, file).await,
                (&Method::GET, ["avisos"]) => settings_page(&cx, None, None, 200).await,
                (&Method::POST, ["avisos"]) => save_settings(&cx, &form).await,
                (&Method::GET, ["emissor"]) => emitter_page(&cx, None, 200).await,
                (&Method::POST, ["emissor"]) => save_emitter(&cx, &form).await,
                (&Method::GET, ["fluxo"]) => flow_page(&cx, None, 200).await,
                (&Method::POST, ["fluxo"]) => publish_flow(&cx, &form).await,
                _ => Reply::html(404, pages::message(&frame, "Página não encontrada", "Esta página não existe.")),
            }
        }
    }
}

fn static_file(text: &'static str, content_type: &'static str) -> Reply {
    Reply { status: 200, content_type: content_type.into(), body: Body::Text(text.to_owned()), headers: vec![] }
        .with(header::CACHE_CONTROL, "public, max-age=300".to_owned())
}

struct Cx<'a> {
    console: &'a Console,
    caller: &'a Caller,
    frame: &'a Frame<'a>,
    r: &'a Req<'a>,
}

impl Cx<'_> {
    fn app(&self) -> &App {
        &self.console.app
    }

    /// The page for a use case's refusal.
    fn refusal(&self, e: &AppError) -> Reply {
        match e {
            AppError::NotFound => Reply::html(
                404,
                pages::message(self.frame, "OS não encontrada", "Não há OS com este endereço nesta empresa."),
            ),
            AppError::Forbidden { .. } => Reply::html(
                403,
                pages::message(
                    self.frame,
                    "Sem permissão",
                    "Seu papel não permite abrir esta página ou fazer esta ação.",
                ),
            ),
            e => {
                tracing::error!(error = %e, "console read failed");
                Reply::html(
                    503,
                    pages::message(self.frame, "Indisponível", "Não foi possível ler os dados agora. Tente de novo."),
                )
            }
        }
    }
}

async fn company_name(console: &Console, caller: &Caller) -> String {
    match console.app.settings.notification_settings(&caller.tenant).await {
        Ok(Some(s)) => s.company_name.unwrap_or_else(|| caller.tenant.to_string()),
        _ => caller.tenant.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Sign-in

/// The console's own origin, as the browser reached it.
fn base_url(console: &Console, r: &Req<'_>) -> String {
    format!("{}://{}", if console.secure { "https" } else { "http" }, r.host)
}

fn pkce_cookie(console: &Console, value: &str, max_age: i64) -> String {
    // Lax: it must come back with Cognito's redirect (a cross-site top-level GET); only the sign-in reads it.
    let secure = if console.secure { "; Secure" } else { "" };
    format!("{}={value}; Path=/entrar; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", cognito::PKCE_COOKIE)
}

fn sign_in_page(console: &Console, r: &Req<'_>, message: Option<&str>, status: u16) -> Reply {
    match &console.sign_in {
        SignIn::Development { default_tenant } => {
            let token = console.key.sign("entrar", &now_unix(&console.app).to_string());
            Reply::html(status, pages::sign_in(&token, message, default_tenant))
        }
        SignIn::Cognito(c) => {
            let callback = format!("{}{}", base_url(console, r), cognito::CALLBACK_PATH);
            let started = c.start(&console.key, &callback, now_unix(&console.app));
            Reply::redirect(&started.location)
                .with(header::SET_COOKIE, pkce_cookie(console, &started.cookie_value, cognito::SIGN_IN_SECONDS))
        }
    }
}

/// Cognito's redirect back: the session from the verified ID token.
async fn sign_in_callback(console: &Console, r: &Req<'_>) -> Reply {
    let SignIn::Cognito(c) = &console.sign_in else {
        return Reply::html(404, pages::message(&anonymous(), "Página não encontrada", "Esta página não existe."));
    };
    let callback = format!("{}{}", base_url(console, r), cognito::CALLBACK_PATH);
    let query: HashMap<String, String> = r.query.clone().into_iter().collect();
    let now = now_unix(&console.app);
    let pending = r.cookie(cognito::PKCE_COOKIE);
    let done = c.finish(&console.key, &callback, &query, pending.as_deref(), now).await;
    let clear = pkce_cookie(console, "", 0);
    match done {
        Ok((caller, display)) => {
            let session = Session::new(&caller.tenant, &caller.user, caller.roles.clone(), &display, now);
            let sealed = console.key.seal(&session);
            Reply::html(200, pages::signed_in())
                .with(header::SET_COOKIE, clear)
                .with(header::SET_COOKIE, cookie(console, &sealed, session::SESSION_HOURS * 3600))
        }
        Err(e) => {
            tracing::warn!(error = %e, "Cognito sign-in failed");
            let (status, text) = match e {
                cognito::SignInError::Keys(_) | cognito::SignInError::TokenEndpoint(_) => {
                    (503, "O serviço de login não respondeu como esperado. Tente entrar de novo.")
                }
                cognito::SignInError::Claims(_) => {
                    (403, "Seu usuário não tem empresa ou papel no osflow. Fale com o representante da empresa.")
                }
                _ => (400, "O login expirou ou não começou nesta página. Entre de novo."),
            };
            Reply::html(status, pages::sign_in_failed(text)).with(header::SET_COOKIE, clear)
        }
    }
}

fn sign_in(console: &Console, r: &Req<'_>) -> Reply {
    if !matches!(console.sign_in, SignIn::Development { .. }) {
        return Reply::html(404, pages::message(&anonymous(), "Página não encontrada", "Esta página não existe."));
    }
    let form = Form::parse(r.body);
    let now = now_unix(&console.app);
    let fresh = form
        .get("csrf")
        .and_then(|t| console.key.unsign("entrar", t))
        .and_then(|at| at.parse::<i64>().ok())
        .is_some_and(|at| now - at < SIGN_IN_FORM_SECONDS && at <= now);
    if !fresh {
        return sign_in_page(console, r, Some("O formulário expirou; tente de novo."), 403);
    }
    let Some(tenant) = form.get("tenant").and_then(|t| TenantId::parse(t).ok()) else {
        return sign_in_page(console, r, Some("Empresa inválida: use letras minúsculas, números e hífen."), 422);
    };
    let Some(role) = form.get("role").and_then(Role::parse) else {
        return sign_in_page(console, r, Some("Escolha um papel."), 422);
    };
    let user = form.get("user").map_or_else(|| format!("{}@{}", role.as_str(), tenant), str::to_owned);
    let Ok(user) = UserId::parse(&user) else {
        return sign_in_page(console, r, Some("Usuário inválido."), 422);
    };
    let session = Session::new(&tenant, &user, vec![role], user.as_str(), now);
    let sealed = console.key.seal(&session);
    Reply::redirect("/").with(header::SET_COOKIE, cookie(console, &sealed, session::SESSION_HOURS * 3600))
}

// ---------------------------------------------------------------------------------------------------------------
// Board

/// The flows of the versions the orders run on, loaded once each.
async fn flows_of(app: &App, tenant: &TenantId, orders: &[OrderCard]) -> Result<Vec<Flow>, AppError> {
    let mut flows: Vec<Flow> = Vec::new();
    for o in orders {
        if !flows.iter().any(|f| f.version == o.flow_version) {
            flows.push(app.flow_version(tenant, o.flow_version).await?);
        }
    }
    Ok(flows)
}

/// Every order a search finds, up to [`BOARD_MAX`].
async fn all_orders(app: &App, caller: &Caller, query: &OrderQuery) -> Result<Vec<OrderCard>, AppError> {
    let mut orders = Vec::new();
    let mut page = PageRequest { limit: 100, cursor: None };
    loop {
        let found = app.search_orders(caller, query, &page).await?;
        orders.extend(found.items);
        match found.next {
            Some(next) if orders.len() < BOARD_MAX => page.cursor = Some(next),
            _ => break,
        }
    }
    Ok(orders)
}

async fn board(cx: &Cx<'_>) -> Reply {
    let r = cx.r;
    let filters = BoardFilters {
        q: r.q("q").unwrap_or_default().to_owned(),
        technician: r.q("tecnico").unwrap_or_default().to_owned(),
        service_type: r.q("tipo").unwrap_or_default().to_owned(),
        mine: r.q("minhas").is_some(),
        overdue: r.q("atrasadas").is_some(),
    };
    let technician = if filters.mine { Some(cx.caller.user.clone()) } else { UserId::parse(&filters.technician).ok() };
    let query = OrderQuery {
        status: None,
        technician,
        service_type: Some(filters.service_type.clone()).filter(|s| !s.is_empty()),
        overdue: filters.overdue,
        text: Some(filters.q.clone()).filter(|s| !s.is_empty()),
    };
    let app = cx.app();
    let result = async {
        let current = app.current_flow(&cx.caller.tenant).await?;
        let orders = all_orders(app, cx.caller, &query).await?;
        let flows = flows_of(app, &cx.caller.tenant, &orders).await?;
        Ok::<_, AppError>((current, orders, flows))
    }
    .await;
    let (current, orders, flows) = match result {
        Ok(found) => found,
        Err(e) => return cx.refusal(&e),
    };
    let now = app.clock.now();
    let mut columns: Vec<(String, String, Vec<Card<'_>>)> = current
        .def
        .statuses
        .iter()
        .filter(|s| !s.kind.is_final())
        .map(|s| (s.key.to_string(), s.label.clone(), Vec::new()))
        .collect();
    for o in &orders {
        let flow = flows.iter().find(|f| f.version == o.flow_version).expect("loaded above");
        let card = Card { order: o, sla_used: sla_used(o, flow, now), overdue: is_overdue(o, flow, now) };
        match columns.iter_mut().find(|c| c.0 == o.status.as_str()) {
            Some(col) => col.2.push(card),
            None => {
                // A status the current flow dropped (orders keep their version) or a final one found by search.
                let label = flow.status(&o.status).map_or_else(|| o.status.to_string(), |s| s.label.clone());
                columns.push((o.status.to_string(), label, vec![card]));
            }
        }
    }
    if r.q("parcial").is_some() {
        return Reply::html(200, pages::board_columns(&columns, now));
    }
    let mut technicians: Vec<String> =
        orders.iter().filter_map(|o| o.technician.as_ref().map(|t| t.to_string())).collect();
    technicians.sort();
    technicians.dedup();
    Reply::html(200, pages::board(cx.frame, &filters, &columns, &technicians, now))
}

// ---------------------------------------------------------------------------------------------------------------
// The order

fn order_id(id: &str) -> Option<OrderId> {
    OrderId::parse(id).ok()
}

async fn order_page(cx: &Cx<'_>, id: &str, message: Option<(bool, String)>, status: u16) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    let app = cx.app();
    let loaded = async {
        let order = app.get_order(cx.caller, &id).await?;
        let flow = app.flow_version(&cx.caller.tenant, order.flow_version).await?;
        let events = app.timeline(cx.caller, &id).await?;
        let invoices = app.order_invoices(cx.caller, &id).await?;
        let actions = app.allowed_actions(cx.caller, &order).await?;
        Ok::<_, AppError>((order, flow, events, invoices, actions))
    }
    .await;
    let (order, flow, events, invoices, actions) = match loaded {
        Ok(l) => l,
        Err(e) => return cx.refusal(&e),
    };
    let message = message.or_else(|| cx.r.q("feito").map(|a| (true, format!("Feito: {}.", pages::action_label(a)))));
    let page = pages::OrderPage {
        order: &order,
        flow: &flow,
        events: &events,
        invoices: &invoices,
        actions: &actions,
        // The forms only where this process can reach SEFAZ/Sefin (osflow-local; in AWS, fiscal-admin serves them).
        may_register_events: (app.nfe_events.is_some() || cx.console.fiscal_function.is_some())
            && invoices::may_register_events(cx.caller),
        message,
        now: app.clock.now(),
        extras: records::order_section(cx, &order, &flow).await,
        intake_photos: records::may_intake_photo(cx, &order, &flow),
    };
    Reply::html(status, pages::order(cx.frame, &page))
}

async fn order_action(cx: &Cx<'_>, id: &str, action: &str, form: &Form) -> Reply {
    let Some(oid) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    if action == "add_attachment" {
        return upload_start(cx, &oid, form).await;
    }
    let Some((method, suffix, body)) = forms::action_request(action, form) else {
        return Reply::html(404, pages::message(cx.frame, "Ação desconhecida", "Esta ação não existe."));
    };
    let answer = api::call(cx.app(), cx.caller, method, &format!("/v1/orders/{oid}/{suffix}"), Some(&body)).await;
    if answer.ok() {
        return Reply::redirect(&format!("/os/{oid}?feito={action}"));
    }
    match answer.status {
        404 => cx.refusal(&AppError::NotFound),
        status => order_page(cx, id, Some((false, answer.message())), status).await,
    }
}

/// A photo or file: the API records the attachment and hands out the blob store's upload form, which the page's
/// script then POSTs with the file (S3's presigned POST in AWS, bounded in type and size).
async fn upload_start(cx: &Cx<'_>, id: &OrderId, form: &Form) -> Reply {
    let mut body = json!({
        "content_type": form.text("content_type"),
        "visible_to_customer": form.checked("visible_to_customer"),
        "intake": form.checked("intake"),
    });
    if let Some(c) = form.get("caption") {
        body["caption"] = json!(c);
    }
    let answer =
        api::call(cx.app(), cx.caller, Method::POST, &format!("/v1/orders/{id}/attachments"), Some(&body)).await;
    if cx.r.wants_json() {
        return if answer.ok() {
            Reply::json(201, json!({"upload": answer.body["upload"], "done": format!("/os/{id}?feito=add_attachment")}))
        } else {
            Reply::json(answer.status, json!({"message": answer.message()}))
        };
    }
    // Without the script the file cannot go to the blob store.
    let message = if answer.ok() {
        "O anexo foi registrado, mas o arquivo só é enviado com o JavaScript ativo.".to_owned()
    } else {
        answer.message()
    };
    order_page(cx, &id.to_string(), Some((false, message)), if answer.ok() { 200 } else { answer.status }).await
}

async fn attachment(cx: &Cx<'_>, id: &str, n: &str) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    let order = match cx.app().get_order(cx.caller, &id).await {
        Ok(o) => o,
        Err(e) => return cx.refusal(&e),
    };
    let Some(a) = n.parse::<usize>().ok().and_then(|i| order.attachments.get(i)) else {
        return cx.refusal(&AppError::NotFound);
    };
    let blob = match cx.app().blobs.get(&cx.caller.tenant, &a.key).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return Reply::html(
                404,
                pages::message(
                    cx.frame,
                    "Arquivo ainda não enviado",
                    "O arquivo deste anexo não chegou ao armazenamento.",
                ),
            );
        }
        Err(e) => return cx.refusal(&AppError::Store(e)),
    };
    let name = a.key.rsplit('/').next().unwrap_or("anexo");
    let inline = a.is_photo() && cx.r.q("baixar").is_none();
    let disposition = format!("{}; filename=\"{name}\"", if inline { "inline" } else { "attachment" });
    let content_type =
        if a.is_photo() || inline { blob.content_type.clone() } else { "application/octet-stream".to_owned() };
    Reply { status: 200, content_type, body: Body::Binary(blob.bytes), headers: vec![] }
        .with(header::CONTENT_DISPOSITION, disposition)
        .with(header::CACHE_CONTROL, "private, max-age=300".to_owned())
}

async fn invoice_xml(cx: &Cx<'_>, id: &str, key: &str) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    match cx.app().invoice_xml(cx.caller, &id, key).await {
        Ok((record, blob)) => Reply {
            status: 200,
            content_type: "application/xml".into(),
            body: Body::Binary(blob.bytes),
            headers: vec![],
        }
        .with(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}{}.xml\"",
                if record.numbering.document.is_nfe() { "NFe" } else { "NFSe" },
                record.access_key
            ),
        ),
        Err(e) => cx.refusal(&e),
    }
}

/// The DANFE of an authorized NF-e of the order, as the invoicer printed it (the same use case as the API's).
async fn invoice_danfe(cx: &Cx<'_>, id: &str, key: &str) -> Reply {
    let Some(id) = order_id(id) else { return cx.refusal(&AppError::NotFound) };
    match cx.app().invoice_danfe(cx.caller, &id, key).await {
        Ok(blob) => Reply {
            status: 200,
            content_type: "application/pdf".into(),
            body: Body::Binary(blob.bytes),
            headers: vec![],
        }
        .with(header::CONTENT_DISPOSITION, format!("inline; filename=\"DANFE-{key}.pdf\""))
        .with(header::CACHE_CONTROL, "private, max-age=300".to_owned()),
        Err(e) => cx.refusal(&e),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// New order

async fn new_order_page(cx: &Cx<'_>, message: Option<&str>, status: u16) -> Reply {
    let technicians: Vec<String> = Vec::new();
    Reply::html(status, pages::new_order(cx.frame, message, &technicians))
}

async fn open_order(cx: &Cx<'_>, form: &Form) -> Reply {
    let body = forms::open_request(form);
    let answer = api::call(cx.app(), cx.caller, Method::POST, "/v1/orders", Some(&body)).await;
    match answer.body["id"].as_str() {
        Some(id) if answer.ok() => Reply::redirect(&format!("/os/{id}?feito=open")),
        _ => new_order_page(cx, Some(&answer.message()), answer.status).await,
    }
}

/// The CPF/CNPJ check as typed: the same parser the API uses.
fn document_check(r: &Req<'_>) -> Reply {
    let typed = r.q("valor").unwrap_or_default();
    match Document::parse(typed) {
        Ok(d) => Reply::json(200, json!({"ok": true, "mensagem": format!("{} válido: {d}", d.kind())})),
        Err(e) => Reply::json(
            200,
            json!({"ok": false, "mensagem": format!("Documento inválido: {}", messages::value_detail(e.message()))}),
        ),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The flow editor

async fn flow_page(cx: &Cx<'_>, message: Option<(bool, String)>, status: u16) -> Reply {
    let app = cx.app();
    let loaded = async {
        // The versions are the representante's only: a técnico gets the use case's 403.
        app.flow_versions(cx.caller).await?;
        let flow = app.current_flow(&cx.caller.tenant).await?;
        let orders = all_orders(app, cx.caller, &OrderQuery::default()).await?;
        Ok::<_, AppError>((flow, orders))
    }
    .await;
    let (flow, orders) = match loaded {
        Ok(l) => l,
        Err(e) => return cx.refusal(&e),
    };
    let mut running: BTreeMap<u32, usize> = BTreeMap::new();
    for o in &orders {
        *running.entry(o.flow_version).or_default() += 1;
    }
    let running: Vec<(u32, usize)> = running.into_iter().collect();
    let message = message.or_else(|| cx.r.q("publicado").map(|v| (true, format!("Versão {v} publicada."))));
    Reply::html(status, pages::flow_editor(cx.frame, &flow, message, &running))
}

// ---------------------------------------------------------------------------------------------------------------
// Notification settings

async fn settings_page(cx: &Cx<'_>, posted: Option<&Form>, message: Option<(bool, String)>, status: u16) -> Reply {
    match cx.app().notification_settings(cx.caller).await {
        Ok(saved) => {
            let message = message.or_else(|| cx.r.q("salvo").map(|_| (true, "Avisos salvos.".to_owned())));
            Reply::html(status, settings::page(cx.frame, &saved, posted, message))
        }
        Err(e) => cx.refusal(&e),
    }
}

async fn save_settings(cx: &Cx<'_>, form: &Form) -> Reply {
    if form.get("acao") == Some("previa") {
        return settings_page(cx, Some(form), None, 200).await;
    }
    let body = settings::request(form);
    let answer = api::call(cx.app(), cx.caller, Method::PUT, "/v1/settings/notifications", Some(&body)).await;
    if answer.ok() {
        return Reply::redirect("/avisos?salvo=1");
    }
    settings_page(cx, Some(form), Some((false, answer.message())), answer.status).await
}

// ---------------------------------------------------------------------------------------------------------------
// The NF-e emitter

/// The emitter's settings need the certificate checks (the fiscal crates), which only some deployments link (in AWS, the
/// fiscal-admin function): elsewhere the page says where to configure it.
fn emitter_elsewhere(cx: &Cx<'_>) -> Option<Reply> {
    (cx.app().fiscal.is_none() && cx.console.fiscal_function.is_none()).then(|| {
        Reply::html(
            404,
            pages::message(
                cx.frame,
                "Emissor de NF-e",
                "O emissor de NF-e e o certificado A1 são configurados pela API (PUT /v1/fiscal/emitter) nesta \
                 instalação.",
            ),
        )
    })
}

async fn emitter_page(cx: &Cx<'_>, message: Option<(bool, String)>, status: u16) -> Reply {
    if let Some(reply) = emitter_elsewhere(cx) {
        return reply;
    }
    let saved = api::send(cx.console, cx.caller, Method::GET, "/v1/fiscal/emitter", None).await;
    let body = match saved.status {
        200 => saved.body,
        // Not configured yet: an empty form.
        404 => Value::Null,
        403 => return cx.refusal(&AppError::Forbidden { allowed: vec![Role::Representante] }),
        _ => return Reply::html(saved.status, pages::message(cx.frame, "Indisponível", &saved.message())),
    };
    let message = message.or_else(|| cx.r.q("salvo").map(|_| (true, "Emissor salvo.".to_owned())));
    Reply::html(status, fiscal::page(cx.frame, &body, message))
}

async fn save_emitter(cx: &Cx<'_>, form: &Form) -> Reply {
    if let Some(reply) = emitter_elsewhere(cx) {
        return reply;
    }
    let body = fiscal::request(form);
    let answer = api::send(cx.console, cx.caller, Method::PUT, "/v1/fiscal/emitter", Some(&body)).await;
    if answer.ok() {
        return Reply::redirect("/emissor?salvo=1");
    }
    emitter_page(cx, Some((false, answer.message())), answer.status).await
}

// ---------------------------------------------------------------------------------------------------------------
// Reports

async fn summary_of(cx: &Cx<'_>) -> Result<osflow_domain::report::Summary, Reply> {
    let (from, to) = reports::period(cx.r.q("de"), cx.r.q("ate"), cx.app().clock.now());
    osflow_reports::summary(cx.app(), cx.caller, from, to).await.map_err(|e| match e {
        osflow_reports::ReportError::App(e) => cx.refusal(&e),
        osflow_reports::ReportError::Period { message, .. } => Reply::html(
            422,
            pages::message(cx.frame, "Período inválido", &format!("Escolha outro período: {message}.")),
        ),
        e => {
            tracing::error!(error = %e, "report summary failed");
            Reply::html(503, pages::message(cx.frame, "Indisponível", "Não foi possível montar o relatório agora."))
        }
    })
}

async fn reports_page(cx: &Cx<'_>) -> Reply {
    let summary = match summary_of(cx).await {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    match cx.app().current_flow(&cx.caller.tenant).await {
        Ok(flow) => Reply::html(200, reports::page(cx.frame, &summary, &flow, None)),
        Err(e) => cx.refusal(&e),
    }
}

async fn report_file(cx: &Cx<'_>, file: &str) -> Reply {
    let summary = match summary_of(cx).await {
        Ok(s) => s,
        Err(reply) => return reply,
    };
    if file == "resumo.csv" {
        return Reply {
            status: 200,
            content_type: "text/csv; charset=utf-8".into(),
            body: Body::Text(reports::csv(&summary)),
            headers: vec![],
        }
        .with(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"resumo-{}-{}.csv\"", summary.from, summary.to),
        );
    }
    match reports::chart(&summary, file) {
        Some(Ok(svg)) => {
            Reply { status: 200, content_type: "image/svg+xml".into(), body: Body::Text(svg), headers: vec![] }
                // An image: no script, its own styles only.
                .with(header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'".to_owned())
        }
        Some(Err(e)) => {
            tracing::error!(error = %e, "chart failed");
            Reply::html(503, pages::message(cx.frame, "Indisponível", "Não foi possível desenhar o gráfico."))
        }
        None => Reply::html(404, pages::message(cx.frame, "Página não encontrada", "Este arquivo não existe.")),
    }
}

/// The editor's rows as the flow definition `PUT /v1/flow` takes.
fn flow_definition(form: &Form) -> Value {
    let mut statuses = Vec::new();
    for i in 0..MAX_FLOW_ROWS {
        let Some(key) = form.get(&format!("s_key_{i}")) else { continue };
        let mut s = json!({
            "key": key,
            "label": form.text(&format!("s_label_{i}")),
            "kind": form.get(&format!("s_kind_{i}")).unwrap_or("custom"),
            "notify": form.checked(&format!("s_notify_{i}")),
            "channels": form.all(&format!("s_channel_{i}")),
        });
        if let Some(h) = form.get(&format!("s_sla_{i}")) {
            s["sla_hours"] = h.parse::<u64>().map_or(json!(h), |n| json!(n));
        }
        statuses.push(s);
    }
    let mut transitions = Vec::new();
    for i in 0..MAX_FLOW_ROWS {
        let (from, action, to) =
            (form.get(&format!("t_from_{i}")), form.get(&format!("t_action_{i}")), form.get(&format!("t_to_{i}")));
        if from.is_none() && action.is_none() && to.is_none() {
            continue;
        }
        transitions.push(json!({
            "from": from.unwrap_or_default(),
            "action": action.unwrap_or_default(),
            "to": to.unwrap_or_default(),
            "roles": form.all(&format!("t_roles_{i}")),
            "guards": form.all(&format!("t_guards_{i}")),
        }));
    }
    let mut def = json!({
        "initial": form.text("initial"),
        "statuses": statuses,
        "transitions": transitions,
        "per_line_approval": form.checked("per_line_approval"),
    });
    if let Some(v) = form.get("version").and_then(|v| v.parse::<u32>().ok()) {
        def["version"] = json!(v);
    }
    def
}

async fn publish_flow(cx: &Cx<'_>, form: &Form) -> Reply {
    let def = flow_definition(form);
    let answer = api::call(cx.app(), cx.caller, Method::PUT, "/v1/flow", Some(&def)).await;
    if answer.ok() {
        let v = answer.body["version"].as_u64().unwrap_or_default();
        return Reply::redirect(&format!("/fluxo?publicado={v}"));
    }
    flow_page(cx, Some((false, answer.message())), answer.status).await
}

/// A status key of the board's columns (for tests and the bench).
pub fn status_key(s: &str) -> Option<StatusKey> {
    StatusKey::parse(s).ok()
}
