//! The files of a report: the JSON document, a CSV, and two SVG charts (rendered with `plotters`' SVG backend,
//! 480 px wide: readable on a phone).

use osflow_app::ReportRecord;
use osflow_domain::report::Summary;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// Width of the charts in pixels (a phone screen).
const WIDTH: u32 = 480;
const BAR: RGBColor = RGBColor(0x3b, 0x6e, 0xa5);
const BOTTLENECK: RGBColor = RGBColor(0xd6, 0x33, 0x2b);
const OPENED: RGBColor = RGBColor(0x3b, 0x6e, 0xa5);
const CLOSED: RGBColor = RGBColor(0x2e, 0x9e, 0x5b);

/// The report as pretty JSON.
pub fn json(report: &ReportRecord) -> Vec<u8> {
    serde_json::to_vec_pretty(report).expect("a report serializes to JSON")
}

/// Hours with one decimal, for people.
fn hours(secs: Option<i64>) -> String {
    secs.map(|s| format!("{:.1}", s as f64 / 3600.0)).unwrap_or_default()
}

/// The field separator of the CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvDelimiter {
    /// `,` (the stored `report.csv`).
    #[default]
    Comma,
    /// `;`: what spreadsheets in pt-BR expect (`,` is their decimal separator).
    Semicolon,
}

impl CsvDelimiter {
    fn byte(self) -> u8 {
        match self {
            CsvDelimiter::Comma => b',',
            CsvDelimiter::Semicolon => b';',
        }
    }
}

/// A cell a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a tab or carriage return before one)
/// gets a leading apostrophe, so it is shown as text.
fn neutralized(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{cell}").into() } else { cell.into() }
}

/// The CSV with `,`: see [`csv_with`].
pub fn csv(s: &Summary) -> String {
    csv_with(s, CsvDelimiter::Comma)
}

/// The CSV: one line per figure, `section,key,metric,value` (a header line first). Durations in seconds, money
/// as decimal strings. Cells are quoted as needed by a CSV writer, and formulas neutralized.
pub fn csv_with(s: &Summary, delimiter: CsvDelimiter) -> String {
    let mut writer = ::csv::WriterBuilder::new().delimiter(delimiter.byte()).from_writer(Vec::new());
    let mut line = |section: &str, key: &str, metric: &str, value: String| {
        // Writing to memory cannot fail.
        writer
            .write_record([section, &neutralized(key), metric, &neutralized(&value)])
            .expect("a CSV record written to memory");
    };
    line("section", "key", "metric", "value".into());
    line("period", "", "from", s.from.to_string());
    line("period", "", "to", s.to.to_string());
    for (metric, value) in [
        ("opened", s.opened),
        ("approved", s.approved),
        ("rejected", s.rejected),
        ("cancelled", s.cancelled),
        ("closed", s.closed),
        ("rework_loops", s.rework_loops),
        ("material_waits", s.material_waits),
        ("sla_breaches", s.sla_breaches),
    ] {
        line("totals", "", metric, value.to_string());
    }
    line("totals", "", "material_wait_secs", s.material_wait_secs.to_string());
    line("totals", "", "bottleneck", s.bottleneck.as_ref().map(|b| b.to_string()).unwrap_or_default());
    for st in &s.statuses {
        let k = st.status.as_str();
        line("status", k, "entered", st.entered.to_string());
        line("status", k, "left", st.left.to_string());
        line("status", k, "total_secs", st.total_secs.to_string());
        line("status", k, "avg_secs", st.avg_secs.map(|v| v.to_string()).unwrap_or_default());
        line("status", k, "p50_secs", st.p50_secs.map(|v| v.to_string()).unwrap_or_default());
        line("status", k, "p90_secs", st.p90_secs.map(|v| v.to_string()).unwrap_or_default());
        line("status", k, "sla_breaches", st.sla_breaches.to_string());
    }
    for (section, groups) in [("technician", &s.technicians), ("service", &s.services)] {
        for g in groups {
            line(section, &g.key, "left", g.left.to_string());
            line(section, &g.key, "avg_secs", g.avg_secs.map(|v| v.to_string()).unwrap_or_default());
        }
    }
    for d in &s.days {
        line("day", &d.day.to_string(), "opened", d.opened.to_string());
        line("day", &d.day.to_string(), "closed", d.closed.to_string());
    }
    if let Some(r) = &s.revenue {
        line("revenue", "", "total", r.total.to_string());
        line("revenue", "", "payments", r.payments.to_string());
        line("revenue", "", "average_ticket", r.average_ticket.map(|m| m.to_string()).unwrap_or_default());
        for (method, amount) in &r.by_method {
            line("revenue", method, "amount", amount.to_string());
        }
    }
    let bytes = writer.into_inner().expect("an in-memory CSV writer flushes");
    String::from_utf8(bytes).expect("the CSV of UTF-8 cells is UTF-8")
}

fn chart_error<E: std::fmt::Debug>(e: E) -> String {
    format!("chart: {e:?}")
}

/// Average time per stage as horizontal bars (hours), the bottleneck in red.
pub fn time_per_stage_svg(s: &Summary) -> Result<String, String> {
    let stages: Vec<(&str, f64, bool)> = s
        .statuses
        .iter()
        .filter_map(|st| {
            st.avg_secs.map(|a| (st.status.as_str(), a as f64 / 3600.0, s.bottleneck.as_ref() == Some(&st.status)))
        })
        .collect();
    let n = stages.len().max(1) as i32;
    let max = stages.iter().map(|(_, h, _)| *h).fold(0.0_f64, f64::max).max(1.0) * 1.15;
    let mut svg = String::new();
    {
        let height = 110 + 40 * n as u32;
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Tempo médio por etapa (h)", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(150)
            .build_cartesian_2d(0.0..max, (0..n).into_segmented())
            .map_err(chart_error)?;
        let labels: Vec<&str> = stages.iter().map(|(k, _, _)| *k).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n as usize)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => labels.get(*i as usize).copied().unwrap_or("").to_owned(),
                _ => String::new(),
            })
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(stages.iter().enumerate().map(|(i, (_, h, bottleneck))| {
                let color = if *bottleneck { BOTTLENECK } else { BAR };
                let mut bar = Rectangle::new(
                    [(0.0, SegmentValue::Exact(i as i32)), (*h, SegmentValue::Exact(i as i32 + 1))],
                    color.filled(),
                );
                bar.set_margin(6, 6, 0, 0);
                bar
            }))
            .map_err(chart_error)?;
        chart
            .draw_series(stages.iter().enumerate().map(|(i, (_, h, _))| {
                Text::new(format!("{h:.1}"), (*h, SegmentValue::CenterOf(i as i32)), ("sans-serif", 13))
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Orders opened and closed per day, as two lines.
pub fn opened_closed_svg(s: &Summary) -> Result<String, String> {
    let days = &s.days;
    let n = days.len().max(1) as i32;
    let top = days.iter().map(|d| d.opened.max(d.closed)).max().unwrap_or(0).max(1) as f64 * 1.2;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("OS abertas x encerradas por dia", ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(36)
            .build_cartesian_2d(0..(n - 1).max(1), 0.0..top)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .x_labels(days.len().min(7))
            .x_label_formatter(&|i| {
                days.get(*i as usize).map(|d| d.day.format("%d/%m").to_string()).unwrap_or_default()
            })
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(LineSeries::new(
                days.iter().enumerate().map(|(i, d)| (i as i32, d.opened as f64)),
                OPENED.stroke_width(3),
            ))
            .map_err(chart_error)?
            .label("abertas")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], OPENED.stroke_width(3)));
        chart
            .draw_series(LineSeries::new(
                days.iter().enumerate().map(|(i, d)| (i as i32, d.closed as f64)),
                CLOSED.stroke_width(3),
            ))
            .map_err(chart_error)?
            .label("encerradas")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], CLOSED.stroke_width(3)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Hours with one decimal (for the e-mail).
pub fn hours_text(secs: Option<i64>) -> String {
    hours(secs)
}
