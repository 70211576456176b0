//! What starts the reporter function (feature `consumer`): a batch of the `reports` queue (events to count and
//! per-company jobs), the SLA check, or a scheduled report — three payloads on one Lambda, told apart here and
//! run by [`run`]. The scheduled ones only fan out: one [`Job`] per company on the `reports` queue.

use osflow_app::App;
use osflow_bus::SqsEvent;
use serde_json::{Value, json};

use crate::jobs::{FanOutError, Job, JobSink, fan_out_schedule, fan_out_sla, run_job};
use crate::{Announcer, ReportError, Reporter, Schedule};

/// One invocation of the reporter.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A batch of the `reports` queue (the event source mapping, with `ReportBatchItemFailures`): events to
    /// count and [`Job`]s, each company's job run on its own (its failure fails only its message).
    Queue(SqsEvent),
    /// EventBridge Scheduler `{"check": "sla"}` (every 15 minutes): one [`Job::Sla`] per company enqueued, each
    /// raising one alert per stay over its status's limit.
    SlaCheck,
    /// EventBridge Scheduler `{"schedule": "daily" | "weekly" | "monthly"}`: one [`Job::Schedule`] per company
    /// active in the last complete period enqueued, each making that company's report.
    Schedule(Schedule),
}

/// A payload that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected an SQS event, {{\"schedule\": \"daily|weekly|monthly\"}} or {{\"check\": \"sla\"}}: {0}")]
pub struct UnknownTrigger(pub String);

impl Trigger {
    /// Tells the payload apart: `Records` is a queue batch, `check` the SLA check, `schedule` a schedule.
    pub fn parse(payload: Value) -> Result<Trigger, UnknownTrigger> {
        if payload.get("Records").is_some() {
            return serde_json::from_value(payload).map(Trigger::Queue).map_err(|e| UnknownTrigger(e.to_string()));
        }
        if let Some(check) = payload.get("check") {
            return match check.as_str() {
                Some("sla") => Ok(Trigger::SlaCheck),
                _ => Err(UnknownTrigger(format!("unknown check {check}"))),
            };
        }
        serde_json::from_value(payload.get("schedule").cloned().unwrap_or(Value::Null))
            .map(Trigger::Schedule)
            .map_err(|e| UnknownTrigger(e.to_string()))
    }
}

/// Why an invocation failed (the scheduler's retry policy runs it again: reports are replaced, alerts and
/// announcements deduplicated).
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error(transparent)]
    Unknown(#[from] UnknownTrigger),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error(transparent)]
    FanOut(#[from] FanOutError),
}

/// Runs one invocation and gives its answer: the batch response (`batchItemFailures`) or `{"enqueued": n}` (the
/// jobs of a fan-out put on `jobs`).
pub async fn run(
    trigger: Trigger,
    app: &App,
    reporter: &Reporter,
    announcer: Option<&Announcer>,
    jobs: &dyn JobSink,
) -> Result<Value, TriggerError> {
    Ok(match trigger {
        Trigger::Queue(batch) => {
            serde_json::to_value(run_batch(batch, app, reporter, announcer).await).expect("a batch response serializes")
        }
        Trigger::SlaCheck => json!({ "enqueued": fan_out_sla(app, jobs).await? }),
        Trigger::Schedule(schedule) => json!({ "enqueued": fan_out_schedule(app, schedule, jobs).await? }),
    })
}

/// A batch of the `reports` queue: the jobs run one by one (a failed job is a batch item failure of its own), the
/// events go to the reporter (in the queue's mode).
async fn run_batch(
    mut batch: SqsEvent,
    app: &App,
    reporter: &Reporter,
    announcer: Option<&Announcer>,
) -> osflow_bus::SqsBatchResponse {
    let (jobs, events): (Vec<_>, Vec<_>) = std::mem::take(&mut batch.records)
        .into_iter()
        .partition(|r| r.body.as_deref().and_then(Job::from_json).is_some());
    batch.records = events;
    let mut response = osflow_bus::consume_with(batch, reporter).await;
    for record in jobs {
        let Some(job) = record.body.as_deref().and_then(Job::from_json) else { continue };
        if let Err(e) = run_job(app, &job, announcer).await {
            let id = record.message_id.as_deref().unwrap_or("");
            tracing::warn!(job = %job.id(), message_id = id, error = %e, "job failed; its message comes back");
            response.add_failure(id);
        }
    }
    response
}
