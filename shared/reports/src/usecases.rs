//! The report use cases: the live summary, the generated reports and their files, generation and the schedule.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use osflow_app::{
    App, AppError, Blob, Caller, Claim, DedupeKey, DedupeOutcome, DedupeStore, EmailMessage, EmailSender, ReportPeriod,
    ReportRecord, SendError,
};
use osflow_domain::Role;
use osflow_domain::report::{Summary, report_day};
use osflow_domain::values::TenantId;
use serde::{Deserialize, Serialize};

use crate::render;

/// The roles that see revenue and the generated reports.
pub const REVENUE_ROLES: [Role; 2] = [Role::Representante, Role::Financeiro];
const READERS: [Role; 4] = [Role::Representante, Role::Atendente, Role::Tecnico, Role::Financeiro];
/// The longest period of a summary or a report.
pub const MAX_PERIOD_DAYS: i64 = 366;
/// The files of every report.
pub const FILES: [&str; 4] = ["report.json", "report.csv", "time-per-stage.svg", "opened-closed.svg"];

/// Why a report use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    App(#[from] AppError),
    /// The period is not valid: `field` names the query or body field at fault.
    #[error("{field}: {message}")]
    Period { field: &'static str, message: String },
    /// A chart could not be drawn.
    #[error("render: {0}")]
    Render(String),
    /// The announcement could not be sent now (the schedule retries).
    #[error("announcement: {0}")]
    Announce(String),
}

impl From<osflow_app::StoreError> for ReportError {
    fn from(e: osflow_app::StoreError) -> ReportError {
        ReportError::App(AppError::from(e))
    }
}

fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), ReportError> {
    if to < from {
        return Err(ReportError::Period { field: "to", message: "must not be before from".into() });
    }
    if (to - from).num_days() >= MAX_PERIOD_DAYS {
        return Err(ReportError::Period {
            field: "from",
            message: format!("the period is at most {MAX_PERIOD_DAYS} days"),
        });
    }
    Ok(())
}

fn require(caller: &Caller, roles: &[Role]) -> Result<(), ReportError> {
    if caller.has_any(roles) { Ok(()) } else { Err(AppError::Forbidden { allowed: roles.to_vec() }.into()) }
}

/// The live summary of `from..=to` (report days, America/Sao_Paulo) from the day aggregates: every staff role;
/// revenue only for `representante` and `financeiro`.
pub async fn summary(app: &App, caller: &Caller, from: NaiveDate, to: NaiveDate) -> Result<Summary, ReportError> {
    require(caller, &READERS)?;
    check_period(from, to)?;
    let days = app.reports.days(&caller.tenant, from, to).await?;
    Ok(Summary::of(from, to, &days, caller.has_any(&REVENUE_ROLES)))
}

/// The company's generated reports, newest first (`representante`, `financeiro`).
pub async fn list_reports(app: &App, caller: &Caller, limit: u32) -> Result<Vec<ReportRecord>, ReportError> {
    require(caller, &REVENUE_ROLES)?;
    Ok(app.reports.reports(&caller.tenant, limit).await?)
}

/// One generated report (`representante`, `financeiro`).
pub async fn get_report(app: &App, caller: &Caller, id: &str) -> Result<ReportRecord, ReportError> {
    require(caller, &REVENUE_ROLES)?;
    app.reports.report(&caller.tenant, id).await?.ok_or(ReportError::App(AppError::NotFound))
}

fn blob_key(id: &str, file: &str) -> String {
    format!("reports/{id}/{file}")
}

/// A file of a generated report (`representante`, `financeiro`); `NotFound` for a file the report does not have.
pub async fn report_file(app: &App, caller: &Caller, id: &str, file: &str) -> Result<Blob, ReportError> {
    let report = get_report(app, caller, id).await?;
    if !report.files.iter().any(|f| f == file) {
        return Err(AppError::NotFound.into());
    }
    app.blobs.get(&caller.tenant, &blob_key(id, file)).await?.ok_or(ReportError::App(AppError::NotFound))
}

/// A file of a generated report, its CSV with `delimiter`: the stored `report.csv` has `,`; another delimiter
/// renders it again from the report's summary (the same figures).
pub async fn report_file_with(
    app: &App,
    caller: &Caller,
    id: &str,
    file: &str,
    delimiter: crate::render::CsvDelimiter,
) -> Result<Blob, ReportError> {
    if file != "report.csv" || delimiter == crate::render::CsvDelimiter::Comma {
        return report_file(app, caller, id, file).await;
    }
    let report = get_report(app, caller, id).await?;
    if !report.files.iter().any(|f| f == file) {
        return Err(AppError::NotFound.into());
    }
    let bytes = crate::render::csv_with(&report.summary, delimiter).into_bytes();
    Ok(Blob { content_type: content_type(file).to_owned(), bytes })
}

/// The id of a report: the same period gives the same id (a rerun replaces the report).
fn report_id(period: ReportPeriod, from: NaiveDate, to: NaiveDate) -> String {
    match period {
        ReportPeriod::Daily => format!("daily-{from}"),
        ReportPeriod::Weekly => format!("weekly-{from}"),
        ReportPeriod::Monthly => format!("monthly-{}", from.format("%Y-%m")),
        ReportPeriod::Custom => format!("custom-{from}-{to}"),
    }
}

fn content_type(file: &str) -> &'static str {
    if file.ends_with(".json") {
        "application/json"
    } else if file.ends_with(".csv") {
        "text/csv; charset=utf-8"
    } else {
        "image/svg+xml"
    }
}

/// Generates the report of `from..=to` for a company: the summary (revenue included), its files in the blob
/// store, the record; scheduled reports are announced (once) when an announcer is given.
pub async fn generate(
    app: &App,
    tenant: &TenantId,
    period: ReportPeriod,
    from: NaiveDate,
    to: NaiveDate,
    announcer: Option<&Announcer>,
) -> Result<ReportRecord, ReportError> {
    check_period(from, to)?;
    let days = app.reports.days(tenant, from, to).await?;
    let summary = Summary::of(from, to, &days, true);
    let record = ReportRecord {
        tenant: tenant.clone(),
        id: report_id(period, from, to),
        period,
        from,
        to,
        generated_at: app.clock.now(),
        files: FILES.iter().map(|f| (*f).to_owned()).collect(),
        summary,
    };
    let contents: [Vec<u8>; 4] = [
        render::json(&record),
        render::csv(&record.summary).into_bytes(),
        render::time_per_stage_svg(&record.summary).map_err(ReportError::Render)?.into_bytes(),
        render::opened_closed_svg(&record.summary).map_err(ReportError::Render)?.into_bytes(),
    ];
    for (file, bytes) in FILES.iter().zip(contents) {
        let blob = Blob { content_type: content_type(file).to_owned(), bytes };
        app.blobs.put(tenant, &blob_key(&record.id, file), &blob).await?;
    }
    // The record last: a listed report has its files.
    app.reports.save_report(&record).await?;
    if let Some(announcer) = announcer.filter(|_| period != ReportPeriod::Custom) {
        announcer.announce(app, &record).await?;
    }
    Ok(record)
}

/// A report of `from..=to` asked for now (`representante`): generated at once, not announced.
pub async fn request_report(
    app: &App,
    caller: &Caller,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<ReportRecord, ReportError> {
    require(caller, &osflow_app::ADMIN_ROLES)?;
    generate(app, &caller.tenant, ReportPeriod::Custom, from, to, None).await
}

/// A schedule of the reports (the EventBridge Scheduler payload `{"schedule": "daily"}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Schedule {
    Daily,
    Weekly,
    Monthly,
}

impl Schedule {
    pub fn period(self) -> ReportPeriod {
        match self {
            Schedule::Daily => ReportPeriod::Daily,
            Schedule::Weekly => ReportPeriod::Weekly,
            Schedule::Monthly => ReportPeriod::Monthly,
        }
    }
}

/// The last complete period of a schedule at `now` (report days): yesterday; last Monday–Sunday; last month.
pub fn period_of(schedule: Schedule, now: DateTime<Utc>) -> (NaiveDate, NaiveDate) {
    let today = report_day(now);
    match schedule {
        Schedule::Daily => {
            let d = today - Duration::days(1);
            (d, d)
        }
        Schedule::Weekly => {
            let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
            (monday - Duration::days(7), monday - Duration::days(1))
        }
        Schedule::Monthly => {
            let first = today.with_day(1).expect("day 1 exists");
            let last = first - Duration::days(1);
            (last.with_day(1).expect("day 1 exists"), last)
        }
    }
}

/// The companies a schedule reports on at `now`: those active in its last complete period (the active-company
/// index, never a scan of the orders).
pub async fn schedule_tenants(app: &App, schedule: Schedule, now: DateTime<Utc>) -> Result<Vec<TenantId>, ReportError> {
    let (from, to) = period_of(schedule, now);
    let mut tenants = BTreeSet::new();
    let mut day = from;
    while day <= to {
        tenants.extend(app.reports.active_tenants(day).await?);
        day += Duration::days(1);
    }
    Ok(tenants.into_iter().collect())
}

/// Generates the schedule's report of the last complete period at `now` for one company (a retry regenerates:
/// ids are per period, announcements are deduplicated).
pub async fn run_schedule_for(
    app: &App,
    tenant: &TenantId,
    schedule: Schedule,
    now: DateTime<Utc>,
    announcer: Option<&Announcer>,
) -> Result<ReportRecord, ReportError> {
    let (from, to) = period_of(schedule, now);
    generate(app, tenant, schedule.period(), from, to, announcer).await
}

/// Generates the schedule's reports of the last complete period for every company active in it, one at a time
/// ([`run_schedule_for`]). Every company is tried; the first failure is returned after.
pub async fn run_schedule(
    app: &App,
    schedule: Schedule,
    now: DateTime<Utc>,
    announcer: Option<&Announcer>,
) -> Result<Vec<ReportRecord>, ReportError> {
    let mut done = Vec::new();
    let mut first_error = None;
    for tenant in schedule_tenants(app, schedule, now).await? {
        match run_schedule_for(app, &tenant, schedule, now, announcer).await {
            Ok(r) => done.push(r),
            Err(e) => {
                tracing::warn!(tenant = %tenant, error = %e, "scheduled report failed");
                first_error.get_or_insert(e);
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(done),
    }
}

/// Announces a generated report to the company (its `reply_to` or sender address of the notification settings)
/// by e-mail, once per report id (DedupeStore).
#[derive(Clone)]
pub struct Announcer {
    pub dedupe: Arc<dyn DedupeStore>,
    pub email: Arc<dyn EmailSender>,
    pub sender_name: String,
    pub sender_email: String,
}

impl std::fmt::Debug for Announcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Announcer").field("sender_email", &self.sender_email).finish_non_exhaustive()
    }
}

fn period_name(p: ReportPeriod) -> &'static str {
    match p {
        ReportPeriod::Daily => "diário",
        ReportPeriod::Weekly => "semanal",
        ReportPeriod::Monthly => "mensal",
        ReportPeriod::Custom => "avulso",
    }
}

/// The e-mail of a report (pt-BR).
pub fn announcement(record: &ReportRecord) -> (String, String) {
    let s = &record.summary;
    let (from, to) = (record.from.format("%d/%m/%Y"), record.to.format("%d/%m/%Y"));
    let subject = format!("Relatório {} de OS — {from} a {to}", period_name(record.period));
    let mut body = format!(
        "Olá,\n\nO relatório {} de {from} a {to} está pronto.\n\nOS abertas: {}\nOS encerradas: {}\nOS canceladas: {}\n\
         Retrabalhos: {}\nAlertas de prazo (SLA): {}\n",
        period_name(record.period),
        s.opened,
        s.closed,
        s.cancelled,
        s.rework_loops,
        s.sla_breaches
    );
    if let Some(b) = &s.bottleneck {
        let avg = s.statuses.iter().find(|x| &x.status == b).and_then(|x| x.avg_secs);
        body.push_str(&format!("Gargalo: {b} (média de {} h)\n", render::hours_text(avg)));
    }
    if let Some(r) = &s.revenue {
        body.push_str(&format!("Faturamento: R$ {}\n", r.total.to_string().replace('.', ",")));
    }
    body.push_str(&format!(
        "\nArquivos (GET, com o seu token):\n/v1/reports/{id}/files/report.csv\n/v1/reports/{id}/files/time-per-stage.svg\n\
         /v1/reports/{id}/files/opened-closed.svg\n\nosflow\n",
        id = record.id
    ));
    (subject, body)
}

impl Announcer {
    /// Sends the announcement of `record` unless it was sent. A company without an address is skipped (recorded
    /// as such). A transient failure releases the claim and fails (the schedule's retry sends it).
    pub async fn announce(&self, app: &App, record: &ReportRecord) -> Result<(), ReportError> {
        let now = app.clock.now();
        let key = DedupeKey {
            tenant: record.tenant.clone(),
            consumer: crate::CONSUMER.to_owned(),
            event_id: format!("report:{}", record.id),
            channel: "email".to_owned(),
        };
        match self.dedupe.claim(&key, now, Duration::minutes(2), now + Duration::days(400)).await? {
            Claim::Claimed => {}
            Claim::Done(_) => return Ok(()),
            Claim::InFlight { .. } => return Err(ReportError::Announce("another delivery is sending it".into())),
        }
        let settings = match app.settings.notification_settings(&record.tenant).await {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                self.dedupe.release(&key).await?;
                return Err(e.into());
            }
        };
        let Some(to) = settings.reply_to.clone().or(settings.sender_email.clone()) else {
            let outcome = DedupeOutcome { ok: false, detail: "no company address".into(), completed_at: now };
            self.dedupe.complete(&key, &outcome).await?;
            return Ok(());
        };
        let (subject, body) = announcement(record);
        let message = EmailMessage {
            from_name: settings.sender_name.clone().unwrap_or_else(|| self.sender_name.clone()),
            from_email: self.sender_email.clone(),
            reply_to: None,
            to,
            subject,
            body,
        };
        match self.email.send_email(&message).await {
            Ok(id) => {
                self.dedupe.complete(&key, &DedupeOutcome { ok: true, detail: id, completed_at: now }).await?;
                Ok(())
            }
            Err(SendError::Permanent(e)) => {
                self.dedupe.complete(&key, &DedupeOutcome { ok: false, detail: e, completed_at: now }).await?;
                Ok(())
            }
            Err(SendError::Transient(e) | SendError::Throttled(e)) => {
                self.dedupe.release(&key).await?;
                Err(ReportError::Announce(e))
            }
        }
    }
}
