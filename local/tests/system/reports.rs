//! Reports: the walked orders counted through the embedded relay, the files of a report.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;

use osflow_testkit::days_ahead;

use crate::support::*;

/// Walks an order of the reference example through the whole default flow (paid by PIX) and returns its id.
async fn walk_to_closed(api: &Api) -> String {
    let id = api.open_example().await;
    api.step_ok(&id, "quote/send", json!({})).await;
    api.step_ok(&id, "quote/decision", json!({"decision": "approve"})).await;
    api.step_ok(&id, "start", json!({})).await;
    api.step_ok(
        &id,
        "material/wait",
        json!({"reason": "Fonte em falta", "parts": ["P-001"], "expected_at": days_ahead(1)}),
    )
    .await;
    api.step_ok(&id, "material/arrived", json!({})).await;
    api.step_ok(&id, "finish", json!({})).await;
    api.step_ok(&id, "validation", json!({"checklist": [{"item": "Liga", "ok": true}], "extra_items": []})).await;
    api.step_ok(&id, "payment/request", json!({})).await;
    api.step_ok(&id, "payments", json!({"amount": "269.90", "method": "pix"})).await;
    api.step_ok(&id, "release", json!({})).await;
    assert_eq!(api.step_ok(&id, "close", json!({})).await["status"], "encerrada");
    id
}

/// The element names of an SVG document (it must parse).
fn svg_elements(svg: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(svg);
    let mut names = Vec::new();
    loop {
        match reader.read_event().expect("the SVG parses") {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                names.push(String::from_utf8_lossy(e.name().as_ref()).into_owned())
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    names
}

/// Orders walked through osflow-local reach the report aggregates through the embedded relay; a report asked
/// for now has the walked numbers, and its CSV and SVG files exist and parse; roles limit revenue and reports.
#[tokio::test]
async fn reports_count_the_walked_orders_and_their_files_parse() {
    let dir = data_dir();
    let local = Local::start(dir.path(), &[]);
    let rep = local.api(&local.token("oficina-r", "representante"));
    walk_to_closed(&rep).await;
    walk_to_closed(&rep).await;
    let cancelled = rep.open_example().await;
    rep.step_ok(&cancelled, "quote/send", json!({})).await;
    rep.step_ok(&cancelled, "cancel", json!({"reason": "Cliente desistiu"})).await;
    rep.open_example().await;

    // Report days are São Paulo dates: yesterday..tomorrow holds "now" whatever the clock.
    let today = (chrono::Utc::now() - chrono::Duration::hours(3)).date_naive();
    let (from, to) = (today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    let summary_path = format!("/v1/reports/summary?from={from}&to={to}");
    // The relay counts the events in the background: wait (bounded) until every order is counted.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let summary = loop {
        let s = rep.get(&summary_path).await.ok(StatusCode::OK);
        if s["opened"] == 4 && s["closed"] == 2 && s["cancelled"] == 1 {
            break s;
        }
        assert!(std::time::Instant::now() < deadline, "the events were not counted: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(summary["approved"], 2);
    assert_eq!(summary["material_waits"], 2);
    assert_eq!(summary["revenue"]["total"], "539.80");
    assert_eq!(summary["revenue"]["by_method"]["pix"], "539.80");
    assert_eq!(summary["revenue"]["average_ticket"], "269.90");
    let statuses = summary["statuses"].as_array().expect("statuses");
    let exec = statuses.iter().find(|s| s["status"] == "em_execucao").expect("em_execucao");
    assert_eq!(exec["entered"], 4, "started and resumed, twice: {exec}");
    assert_eq!(exec["left"], 4);
    assert!(summary["bottleneck"].is_string(), "{summary}");

    // Other roles: the technician gets the summary without revenue, and no reports.
    let tec = local.api(&local.token("oficina-r", "tecnico"));
    let s = tec.get(&summary_path).await.ok(StatusCode::OK);
    assert_eq!(s["opened"], 4);
    assert!(s.get("revenue").is_none(), "{s}");
    tec.get("/v1/reports").await.problem(StatusCode::FORBIDDEN, "/problems/forbidden");
    // Another company sees nothing of it.
    let other = local.api(&local.token("outra", "representante"));
    assert_eq!(other.get(&summary_path).await.ok(StatusCode::OK)["opened"], 0);
    // A bad period names its field.
    let bad = rep.get(&format!("/v1/reports/summary?from={to}&to={from}")).await;
    assert_eq!(bad.problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field")["field"], "to");

    // A report now (what the timer does for yesterday, last week and last month).
    let report =
        rep.post("/v1/reports", json!({"from": from.to_string(), "to": to.to_string()})).await.ok(StatusCode::CREATED);
    let id = report["id"].as_str().expect("id").to_owned();
    assert_eq!(report["summary"]["opened"], 4);
    assert_eq!(report["summary"]["closed"], 2);
    let listed = rep.get("/v1/reports").await.ok(StatusCode::OK);
    assert_eq!(listed["items"][0]["id"], id.as_str());
    let fin = local.api(&local.token("oficina-r", "financeiro"));
    assert_eq!(fin.get(&format!("/v1/reports/{id}")).await.ok(StatusCode::OK)["summary"]["closed"], 2);

    let csv = rep.get(&format!("/v1/reports/{id}/files/report.csv")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let csv = csv.body.as_str().expect("CSV text").to_owned();
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(rows[0], ["section", "key", "metric", "value"]);
    assert!(rows.iter().all(|r| r.len() == 4), "{csv}");
    for expected in
        [["totals", "", "opened", "4"], ["totals", "", "closed", "2"], ["revenue", "pix", "amount", "539.80"]]
    {
        assert!(rows.iter().any(|r| r.as_slice() == expected), "{expected:?} in {csv}");
    }
    // For spreadsheets in pt-BR: the same lines with `;`; another separator is refused, naming the parameter.
    let semicolon = rep.get(&format!("/v1/reports/{id}/files/report.csv?delimiter=semicolon")).await;
    assert_eq!(semicolon.status, StatusCode::OK);
    let semicolon = semicolon.body.as_str().expect("CSV text").to_owned();
    assert_eq!(semicolon.lines().count(), csv.lines().count());
    assert_eq!(semicolon.lines().next(), Some("section;key;metric;value"));
    assert!(semicolon.lines().any(|l| l == "totals;;opened;4"), "{semicolon}");
    let refused = rep.get(&format!("/v1/reports/{id}/files/report.csv?delimiter=tab")).await;
    assert_eq!(refused.problem(StatusCode::UNPROCESSABLE_ENTITY, "/problems/invalid-field")["field"], "delimiter");
    for (file, shape) in [("time-per-stage.svg", "rect"), ("opened-closed.svg", "polyline")] {
        let svg = rep.get(&format!("/v1/reports/{id}/files/{file}")).await;
        assert_eq!(svg.status, StatusCode::OK, "{file}");
        assert_eq!(svg.headers[header::CONTENT_TYPE], "image/svg+xml");
        let elements = svg_elements(svg.body.as_str().expect("SVG text"));
        assert_eq!(elements.first().map(String::as_str), Some("svg"));
        assert!(elements.iter().any(|e| e == shape), "{file}: {elements:?}");
    }
    rep.get(&format!("/v1/reports/{id}/files/nada.svg")).await.problem(StatusCode::NOT_FOUND, "/problems/not-found");
}
