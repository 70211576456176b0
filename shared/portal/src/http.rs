//! The portal's HTTP side: the routes of the request API Gateway delivers, the client's address and agent,
//! the HTML responses and their headers.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::customer::Refusal;
use crate::{Portal, page};

/// Longest user agent kept as evidence.
const USER_AGENT_MAX: usize = 512;

/// Serves `GET /p/{token}`, `POST /p/{token}/decision`, `GET /p/{token}/danfe.pdf`, `GET /p/{token}/danfse/{key}` and
/// `GET /p/{token}/receipts/{entry|delivery}` (the printed OS); anything else is the neutral page.
pub async fn handle(portal: &Portal, req: Request) -> Response<Body> {
    let path = match req.raw_http_path() {
        "" => req.uri().path().to_owned(),
        raw => raw.to_owned(),
    };
    // API Gateway's path parameter when it gave one (a custom domain may put a base path before `/p/`), else
    // the path itself.
    let given = req.path_parameters().first("token").map(str::to_owned);
    let rest = path.strip_prefix("/p/").unwrap_or("");
    // `GET /p/{token}/receipts/{kind}`: a printed OS (PDF).
    if let Some((t, kind)) = rest.split_once("/receipts/")
        && matches!(req.method().as_str(), "GET" | "HEAD")
    {
        let token = given.as_deref().unwrap_or(t);
        return match portal.receipt(token, kind).await {
            Ok(pdf) => {
                let name = if kind == "entry" { "recibo-de-entrada.pdf" } else { "recibo-de-entrega.pdf" };
                pdf_response(format!("inline; filename=\"{name}\""), pdf)
            }
            Err(Refusal::Failed(e)) => {
                tracing::error!(error = %e, "portal receipt failed");
                html_response(StatusCode::SERVICE_UNAVAILABLE, unavailable())
            }
            Err(Refusal::Page(status, body)) => html_response(status, body),
            Err(Refusal::Neutral) => html_response(StatusCode::NOT_FOUND, page::neutral()),
        };
    }
    // `GET /p/{token}/danfse/{key}`: the DANFSe of one of the order's NFS-e (PDF).
    if let Some((t, key)) = rest.split_once("/danfse/")
        && matches!(req.method().as_str(), "GET" | "HEAD")
    {
        let token = given.as_deref().unwrap_or(t);
        return match portal.danfse(token, key).await {
            Ok(pdf) => pdf_response(format!("attachment; filename=\"DANFSe-{key}.pdf\""), pdf),
            Err(Refusal::Failed(e)) => {
                tracing::error!(error = %e, "portal DANFSe failed");
                html_response(StatusCode::SERVICE_UNAVAILABLE, unavailable())
            }
            Err(Refusal::Page(status, body)) => html_response(status, body),
            Err(Refusal::Neutral) => html_response(StatusCode::NOT_FOUND, page::neutral()),
        };
    }
    let (token, sub) = match (given.as_deref(), rest.split_once('/')) {
        (Some(t), _) => (t, path.rsplit_once('/').map(|(_, last)| last).filter(|l| *l != t).unwrap_or("")),
        (None, Some((t, sub @ ("decision" | "danfe.pdf")))) => (t, sub),
        (None, Some(_)) => ("", "?"),
        (None, None) => (rest, ""),
    };
    let method = req.method().as_str();
    let result = match (method, sub) {
        ("GET" | "HEAD", "") => portal.page(token).await,
        ("POST", "decision") => {
            let (ip, user_agent) = client(&req);
            portal.decide(token, req.body().as_ref(), ip, user_agent).await
        }
        ("GET" | "HEAD", "danfe.pdf") => match portal.danfe(token).await {
            Ok((key, pdf)) => {
                return pdf_response(format!("attachment; filename=\"DANFE-{key}.pdf\""), pdf);
            }
            Err(e) => Err(e),
        },
        _ => Err(Refusal::Neutral),
    };
    let (status, body) = match result {
        Ok(done) => done,
        Err(Refusal::Neutral) => (StatusCode::NOT_FOUND, page::neutral()),
        Err(Refusal::Page(status, body)) => (status, body),
        Err(Refusal::Failed(e)) => {
            tracing::error!(error = %e, "portal request failed");
            (StatusCode::SERVICE_UNAVAILABLE, unavailable())
        }
    };
    tracing::info!(method, status = status.as_u16(), "portal request served");
    html_response(status, body)
}

/// A PDF of the order (the DANFE, a printed OS) under the page's headers: never cached, never indexed.
fn pdf_response(disposition: String, pdf: Vec<u8>) -> Response<Body> {
    let mut r = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/pdf")
        .header(header::CONTENT_DISPOSITION, disposition)
        .body(Body::Binary(pdf))
        .expect("valid response");
    let h = r.headers_mut();
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    r
}

fn html_response(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::Text(body))
        .expect("valid response");
    let h = r.headers_mut();
    // The token is in the URL: never sent on as a Referer, never cached, never indexed.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("x-robots-tag", HeaderValue::from_static("noindex, nofollow"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    r
}

fn unavailable() -> String {
    page::outcome(
        "osflow",
        0,
        "err",
        "Serviço indisponível",
        &["Não foi possível atender agora. Tente de novo em alguns minutos.".into()],
        ".",
    )
}

/// The client's IP (API Gateway's `requestContext.http.sourceIp`) and user agent.
fn client(req: &Request) -> (String, String) {
    let (mut ip, mut ua) = (None, None);
    if let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() {
        ip = ctx.http.source_ip.clone();
        ua = ctx.http.user_agent.clone();
    }
    let ua = ua
        .or_else(|| req.headers().get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned))
        .unwrap_or_default();
    let ua: String = ua
        .chars()
        .filter(|c| !c.is_control() && osflow_domain::values::text::is_transportable(*c))
        .take(USER_AGENT_MAX)
        .collect();
    (ip.unwrap_or_default(), ua)
}
