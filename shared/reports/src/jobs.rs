//! The scheduled work, one company per message: the scheduled trigger only lists the companies (the
//! active-company index) and enqueues one [`Job`] each on the `reports` queue ([`JobSink`]); each message runs
//! the company's SLA check or report ([`run_job`]). One company's error fails only its own message (retried,
//! then its DLQ) and each invocation stays small however many companies there are.

use chrono::{DateTime, Utc};
use osflow_app::App;
use osflow_domain::values::TenantId;
use serde::{Deserialize, Serialize};

use crate::{Announcer, ReportError, Schedule};

/// One company's share of a scheduled run, the body of a `reports` queue message (`{"job": "sla", …}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    /// The SLA check of one company (run at the clock of its delivery).
    Sla { tenant: TenantId, at: DateTime<Utc> },
    /// The report of one company for the schedule's last complete period at `at` (a late delivery still makes
    /// the period it was scheduled for).
    Schedule { tenant: TenantId, schedule: Schedule, at: DateTime<Utc> },
}

impl Job {
    pub fn tenant(&self) -> &TenantId {
        match self {
            Job::Sla { tenant, .. } | Job::Schedule { tenant, .. } => tenant,
        }
    }

    /// Unique per company and scheduled run: the message's deduplication id (a retried fan-out enqueues it once).
    pub fn id(&self) -> String {
        match self {
            Job::Sla { tenant, at } => format!("sla:{tenant}:{}", at.timestamp()),
            Job::Schedule { tenant, schedule, at } => {
                let (from, _) = crate::period_of(*schedule, *at);
                format!("{}:{tenant}:{from}", schedule.period().as_str())
            }
        }
    }

    /// The message's FIFO group: per company, apart from its events (a slow report never holds its counts).
    pub fn group(&self) -> String {
        format!("job:{}", self.tenant())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a job serializes to JSON")
    }

    /// A message body that is a job (`None` for anything else, e.g. an event envelope).
    pub fn from_json(body: &str) -> Option<Job> {
        let value: serde_json::Value = serde_json::from_str(body).ok()?;
        value.get("job")?;
        serde_json::from_value(value).ok()
    }
}

/// Where the fan-out puts the jobs (the `reports` queue in AWS).
#[async_trait::async_trait]
pub trait JobSink: Send + Sync {
    async fn enqueue(&self, job: &Job) -> Result<(), String>;
}

/// Why a fan-out did not enqueue every job.
#[derive(Debug, thiserror::Error)]
pub enum FanOutError {
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("{failed} of {total} jobs not enqueued; first: {first}")]
    Enqueue { failed: usize, total: usize, first: String },
}

/// Lists the companies of `job_of`'s kind and enqueues one job each; every company is tried, the count of those
/// enqueued is returned (a retry enqueues again, deduplicated by [`Job::id`] and idempotent anyway).
async fn fan_out(
    tenants: Vec<TenantId>,
    job_of: impl Fn(TenantId) -> Job,
    sink: &dyn JobSink,
) -> Result<usize, FanOutError> {
    let total = tenants.len();
    let mut failed = 0;
    let mut first = None;
    for tenant in tenants {
        let job = job_of(tenant);
        if let Err(e) = sink.enqueue(&job).await {
            tracing::warn!(job = %job.id(), error = %e, "job not enqueued");
            failed += 1;
            first.get_or_insert(e);
        }
    }
    match first {
        Some(first) => Err(FanOutError::Enqueue { failed, total, first }),
        None => Ok(total),
    }
}

/// The SLA check's fan-out: one [`Job::Sla`] per company of [`crate::sla_tenants`].
pub async fn fan_out_sla(app: &App, sink: &dyn JobSink) -> Result<usize, FanOutError> {
    let at = app.clock.now();
    fan_out(crate::sla_tenants(app).await?, |tenant| Job::Sla { tenant, at }, sink).await
}

/// A schedule's fan-out: one [`Job::Schedule`] per company active in its last complete period.
pub async fn fan_out_schedule(app: &App, schedule: Schedule, sink: &dyn JobSink) -> Result<usize, FanOutError> {
    let at = app.clock.now();
    let tenants = crate::schedule_tenants(app, schedule, at).await?;
    fan_out(tenants, |tenant| Job::Schedule { tenant, schedule, at }, sink).await
}

/// Runs one company's job: its SLA check, or its report (announced once when an announcer is given).
pub async fn run_job(app: &App, job: &Job, announcer: Option<&Announcer>) -> Result<(), ReportError> {
    match job {
        Job::Sla { tenant, .. } => {
            let raised = crate::check_sla_for(app, tenant).await?;
            if raised > 0 {
                tracing::info!(tenant = %tenant, raised, "SLA alerts raised");
            }
        }
        Job::Schedule { tenant, schedule, at } => {
            crate::run_schedule_for(app, tenant, *schedule, *at, announcer).await?;
        }
    }
    Ok(())
}

/// The `reports` queue in AWS: FIFO, one group per company's jobs ([`Job::group`]), deduplicated by [`Job::id`].
#[cfg(feature = "consumer")]
#[derive(Debug, Clone)]
pub struct SqsJobSink {
    pub client: osflow_bus::SqsClient,
    pub urls: osflow_bus::QueueUrls,
}

#[cfg(feature = "consumer")]
impl SqsJobSink {
    /// The client and the queue's URL from the environment (`OSFLOW_QUEUE_URL_REPORTS`).
    pub async fn from_env() -> SqsJobSink {
        let client = osflow_bus::SqsClient::new(&osflow_bus::load_sdk_config().await);
        SqsJobSink { urls: osflow_bus::QueueUrls::from_env(client.clone()), client }
    }
}

#[cfg(feature = "consumer")]
#[async_trait::async_trait]
impl JobSink for SqsJobSink {
    async fn enqueue(&self, job: &Job) -> Result<(), String> {
        let url = self.urls.url(osflow_bus::Queue::Reports).await.map_err(|e| e.to_string())?;
        self.client
            .send_message()
            .queue_url(url)
            .message_body(job.to_json())
            .message_group_id(job.group())
            .message_deduplication_id(job.id())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }
}

#[cfg(feature = "consumer")]
fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
