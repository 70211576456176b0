//! The report routes (function `reports`): the live summary, the generated reports and their files, and a
//! report asked for now. Roles are checked by the use cases of `osflow-reports`.

use chrono::NaiveDate;
use lambda_http::http::header;
use lambda_http::{Body, Response};
use osflow_lambda_kit::{Problem, ProblemType};
use osflow_reports::ReportError;
use osflow_reports::render::CsvDelimiter;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::errors::app_problem;
use crate::http::{Cx, Res, json_response, to_json};

fn report_problem(e: ReportError) -> Problem {
    match e {
        ReportError::App(osflow_app::AppError::NotFound) => {
            Problem::new(ProblemType::NotFound).with_detail("relatório não encontrado")
        }
        ReportError::App(e) => app_problem(&e, None),
        ReportError::Period { field, message } => Problem::field(ProblemType::InvalidField, field, &message),
        ReportError::Render(_) | ReportError::Announce(_) => Problem::new(ProblemType::Internal),
    }
}

/// The period of a summary.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct PeriodQuery {
    /// First day, `yyyy-mm-dd` (days are São Paulo dates, UTC−03:00).
    #[param(format = Date)]
    from: String,
    /// Last day, `yyyy-mm-dd` (at most 366 days after `from`).
    #[param(format = Date)]
    to: String,
}

/// Path parameter of a report.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct ReportPath {
    /// The report id, e.g. `daily-2026-11-29`.
    id: String,
}

/// Path parameters of a report file.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(crate) struct ReportFilePath {
    /// The report id.
    id: String,
    /// `report.json`, `report.csv`, `time-per-stage.svg` or `opened-closed.svg`.
    file: String,
}

/// A report asked for now.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// First day, `yyyy-mm-dd`.
    #[schema(value_type = String, format = Date)]
    pub from: NaiveDate,
    /// Last day, `yyyy-mm-dd`.
    #[schema(value_type = String, format = Date)]
    pub to: NaiveDate,
}

fn date(cx: &Cx<'_>, field: &'static str) -> Result<NaiveDate, Problem> {
    let q = cx.query();
    let raw = q.first(field).map(str::trim).unwrap_or_default();
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| Problem::field(ProblemType::InvalidField, field, "informe uma data aaaa-mm-dd"))
}

/// The company's figures over a period, live from the day aggregates: orders opened, approved, rejected,
/// cancelled and closed, time per status (average, median and 90th percentile interpolated within their
/// bucket, SLA breaches), the bottleneck, rework loops, time waiting for material, per technician and service
/// type, opened/closed per day, and revenue (`representante` and `financeiro` only; other roles get the
/// summary without it).
#[utoipa::path(
    get, path = "/v1/reports/summary", tag = "reports",
    params(PeriodQuery),
    responses((status = 200, description = "The summary", body = Object))
)]
pub(crate) async fn report_summary(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let (from, to) = (date(cx, "from")?, date(cx, "to")?);
    let s = osflow_reports::summary(cx.app, &caller, from, to).await.map_err(report_problem)?;
    Ok(json_response(200, to_json(&s), None))
}

/// The company's generated reports (daily, weekly, monthly, asked for), newest first (`representante`,
/// `financeiro`).
#[utoipa::path(
    get, path = "/v1/reports", tag = "reports",
    responses((status = 200, description = "`{\"items\": [report…]}`", body = Object))
)]
pub(crate) async fn list_reports(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let items = osflow_reports::list_reports(cx.app, &caller, 100).await.map_err(report_problem)?;
    Ok(json_response(200, to_json(&serde_json::json!({ "items": items })), None))
}

/// One generated report: its period, summary and file names (`representante`, `financeiro`).
#[utoipa::path(
    get, path = "/v1/reports/{id}", tag = "reports",
    params(ReportPath),
    responses((status = 200, description = "The report", body = Object))
)]
pub(crate) async fn get_report(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.param("id").unwrap_or_default();
    let r = osflow_reports::get_report(cx.app, &caller, id).await.map_err(report_problem)?;
    Ok(json_response(200, to_json(&r), None))
}

/// The CSV's separator.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct CsvQuery {
    /// `report.csv` only: `comma` (default) or `semicolon` (`;`, for spreadsheets in pt-BR).
    #[param(pattern = "^(comma|semicolon)$")]
    delimiter: Option<String>,
}

fn delimiter(cx: &Cx<'_>) -> Result<CsvDelimiter, Problem> {
    match cx.query().first("delimiter").map(str::trim) {
        None | Some("comma") => Ok(CsvDelimiter::Comma),
        Some("semicolon") => Ok(CsvDelimiter::Semicolon),
        Some(_) => Err(Problem::field(ProblemType::InvalidField, "delimiter", "use comma ou semicolon")),
    }
}

/// A file of a report: the JSON document, the CSV (`section,key,metric,value`; `?delimiter=semicolon` for `;`)
/// or an SVG chart. CSV cells a spreadsheet would run as formulas start with an apostrophe.
#[utoipa::path(
    get, path = "/v1/reports/{id}/files/{file}", tag = "reports",
    params(ReportFilePath, CsvQuery),
    responses((status = 200, description = "The file: `report.json`, `report.csv` or an SVG chart",
        content((Object = "application/json"), (String = "text/csv"), (String = "image/svg+xml"))))
)]
pub(crate) async fn report_file(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let (id, file) = (cx.param("id").unwrap_or_default(), cx.param("file").unwrap_or_default());
    let blob = match delimiter(cx) {
        Ok(delimiter) => osflow_reports::report_file_with(cx.app, &caller, id, file, delimiter).await,
        // The caller's right to the report (403, 404) comes before the parameter's problem.
        Err(problem) => {
            osflow_reports::report_file(cx.app, &caller, id, file).await.map_err(report_problem)?;
            return Err(problem);
        }
    }
    .map_err(report_problem)?;
    let body = match String::from_utf8(blob.bytes) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Ok(Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, blob.content_type)
        .header(header::CONTENT_DISPOSITION, format!("inline; filename=\"{file}\""))
        .body(body)
        .expect("valid response"))
}

/// Generates the report of a period now (`representante`): the same files as the scheduled reports; asking
/// again for the same period replaces it.
#[utoipa::path(
    post, path = "/v1/reports", tag = "reports",
    request_body = ReportRequest,
    responses((status = 201, description = "The report", body = Object))
)]
pub(crate) async fn create_report(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    crate::handlers::admin(cx, &caller)?;
    let body: ReportRequest = cx.json()?;
    let r = osflow_reports::request_report(cx.app, &caller, body.from, body.to).await.map_err(report_problem)?;
    Ok(json_response(201, to_json(&r), None))
}
