//! What starts the reporter function (feature `consumer`): a batch of the `reports` queue, the SLA check, or a
//! scheduled report — three payloads on one Lambda, told apart here and run by [`run`].

use osflow_app::App;
use osflow_bus::SqsEvent;
use serde_json::{Value, json};

use crate::{Announcer, ReportError, Reporter, Schedule};

/// One invocation of the reporter.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// A batch of the `reports` queue (the event source mapping, with `ReportBatchItemFailures`).
    Queue(SqsEvent),
    /// EventBridge Scheduler `{"check": "sla"}` (every 15 minutes): one alert per stay over its status's limit.
    SlaCheck,
    /// EventBridge Scheduler `{"schedule": "daily" | "weekly" | "monthly"}`: the reports of the last complete
    /// period for every company active in it.
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
}

/// Runs one invocation and gives its answer: the batch response (`batchItemFailures`), `{"sla_alerts": n}`, or
/// `{"reports": [ids]}`.
pub async fn run(
    trigger: Trigger,
    app: &App,
    reporter: &Reporter,
    announcer: Option<&Announcer>,
) -> Result<Value, TriggerError> {
    Ok(match trigger {
        Trigger::Queue(batch) => {
            let response = osflow_bus::consume_with(batch, reporter).await;
            serde_json::to_value(response).expect("a batch response serializes")
        }
        Trigger::SlaCheck => json!({ "sla_alerts": crate::check_sla(app).await? }),
        Trigger::Schedule(schedule) => {
            let made = crate::run_schedule(app, schedule, app.clock.now(), announcer).await?;
            json!({ "reports": made.iter().map(|r| r.id.clone()).collect::<Vec<_>>() })
        }
    })
}
