//! The reports page: the live summary of a period (tables), its two SVG charts and its CSV — the reports
//! crate's use case and renderers, the same the reports API serves.

use chrono::{Duration, FixedOffset, NaiveDate};
use maud::{Markup, html};
use osflow_app::templates::brl;
use osflow_domain::Flow;
use osflow_domain::report::Summary;
use osflow_reports::render;

use crate::pages::{Frame, elapsed, layout};

/// The period asked (`de`, `ate`), by default the last 30 days (São Paulo dates).
pub fn period(from: Option<&str>, to: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> (NaiveDate, NaiveDate) {
    let today = now.with_timezone(&FixedOffset::west_opt(3 * 3600).expect("valid offset")).date_naive();
    let to = to.and_then(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").ok()).unwrap_or(today);
    let from = from.and_then(|f| NaiveDate::parse_from_str(f, "%Y-%m-%d").ok()).unwrap_or(to - Duration::days(29));
    (from, to)
}

fn avg(secs: Option<i64>) -> String {
    secs.map_or_else(|| "—".to_owned(), elapsed)
}

pub fn page(frame: &Frame<'_>, s: &Summary, flow: &Flow, error: Option<&str>) -> Markup {
    let q = format!("de={}&ate={}", s.from, s.to);
    let label = |k: &osflow_domain::StatusKey| flow.status(k).map_or_else(|| k.to_string(), |d| d.label.clone());
    // Statuses in flow order, then any the current flow dropped.
    let mut statuses: Vec<&osflow_domain::report::StatusSummary> = Vec::new();
    for def in &flow.def.statuses {
        statuses.extend(s.statuses.iter().filter(|st| st.status == def.key));
    }
    statuses.extend(s.statuses.iter().filter(|st| flow.status(&st.status).is_none()));
    layout(
        frame,
        "Relatórios",
        html! {
            h1 { "Relatórios" }
            @if let Some(e) = error { p.err role="alert" { (e) } }
            form.filters method="get" action="/relatorios" {
                label for="de" { "De" } input id="de" name="de" type="date" value=(s.from.to_string());
                label for="ate" { "Até" } input id="ate" name="ate" type="date" value=(s.to.to_string());
                button type="submit" { "Ver período" }
                a href=(format!("/relatorios/resumo.csv?{q}")) download { "Baixar CSV" }
            }
            div.grid {
                section.card {
                    h2 { "Resumo de " (crate::pages::date(s.from)) " a " (crate::pages::date(s.to)) }
                    table { tbody {
                        tr { th { "OS abertas" } td.n { (s.opened) } }
                        tr { th { "Orçamentos aprovados" } td.n { (s.approved) } }
                        tr { th { "Orçamentos recusados" } td.n { (s.rejected) } }
                        tr { th { "Canceladas" } td.n { (s.cancelled) } }
                        tr { th { "Encerradas" } td.n { (s.closed) } }
                        tr { th { "Retrabalho (voltas à execução)" } td.n { (s.rework_loops) } }
                        tr { th { "Esperas por material" } td.n { (s.material_waits) } }
                        tr { th { "Prazos estourados" } td.n { (s.sla_breaches) } }
                        @if let Some(b) = &s.bottleneck { tr { th { "Gargalo" } td.n { (label(b)) } } }
                    } }
                }
                @if let Some(r) = &s.revenue {
                    section.card {
                        h2 { "Receita" }
                        table { tbody {
                            tr { th { "Total recebido" } td.n { (brl(r.total)) } }
                            tr { th { "Pagamentos" } td.n { (r.payments) } }
                            @if let Some(t) = r.average_ticket { tr { th { "Tíquete médio" } td.n { (brl(t)) } } }
                            @for (m, v) in &r.by_method { tr { th { (m) } td.n { (brl(*v)) } } }
                        } }
                    }
                }
            }
            section.card {
                h2 { "Tempo por status" }
                div.scroll { table {
                    thead { tr { th { "Status" } th.n { "Entradas" } th.n { "Saídas" } th.n { "Média" } th.n { "Mediana" } th.n { "90%" } th.n { "Prazos estourados" } } }
                    tbody { @for st in &statuses {
                        tr { td { (label(&st.status)) } td.n { (st.entered) } td.n { (st.left) } td.n { (avg(st.avg_secs)) }
                             td.n { (avg(st.p50_secs)) } td.n { (avg(st.p90_secs)) } td.n { (st.sla_breaches) } }
                    } }
                } }
                img.chart src=(format!("/relatorios/tempo-por-status.svg?{q}")) alt="Gráfico: tempo médio por status";
            }
            section.card {
                h2 { "Abertas e encerradas por dia" }
                img.chart src=(format!("/relatorios/abertas-encerradas.svg?{q}")) alt="Gráfico: OS abertas e encerradas por dia";
            }
            div.grid {
                section.card {
                    h2 { "Por técnico" }
                    table { thead { tr { th { "Técnico" } th.n { "Etapas concluídas" } th.n { "Média" } } }
                        tbody { @for g in &s.technicians { tr { td { (g.key) } td.n { (g.left) } td.n { (avg(g.avg_secs)) } } } } }
                }
                section.card {
                    h2 { "Por tipo de serviço" }
                    table { thead { tr { th { "Serviço" } th.n { "Etapas concluídas" } th.n { "Média" } } }
                        tbody { @for g in &s.services { tr { td { (g.key) } td.n { (g.left) } td.n { (avg(g.avg_secs)) } } } } }
                }
            }
        },
    )
}

/// A chart of the summary by its file name.
pub fn chart(s: &Summary, name: &str) -> Option<Result<String, String>> {
    match name {
        "tempo-por-status.svg" => Some(render::time_per_stage_svg(s)),
        "abertas-encerradas.svg" => Some(render::opened_closed_svg(s)),
        _ => None,
    }
}

pub fn csv(s: &Summary) -> String {
    render::csv(s)
}
