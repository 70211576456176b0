//! Lambda `reporter`, two triggers:
//! - the SQS `reports` queue (event source mapping with `FunctionResponseTypes: [ReportBatchItemFailures]`):
//!   every event counted once into its day's aggregate ([`osflow_reports::Reporter`]);
//! - EventBridge Scheduler with `{"check": "sla"}` (every 15 minutes): the SLA alerts, once per stay over the limit;
//! - EventBridge Scheduler with the payload `{"schedule": "daily" | "weekly" | "monthly"}`: the reports of the
//!   last complete period for every company active in it, stored in S3 and announced by e-mail (SES) once.
//!   A failure fails the invocation, so the scheduler's retry policy runs it again (reports are replaced,
//!   announcements deduplicated).
//!
//! Wiring only. Environment ([`osflow_fn_common::Env`]): `OSFLOW_TABLE`, `OSFLOW_BUCKET`, `OSFLOW_SENDER_EMAIL`
//! (an SES-verified identity) and `OSFLOW_SENDER_NAME`, as the notifier.

use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use osflow_fn_common::Env;
use osflow_notify::SesEmailSender;
use osflow_reports::{Announcer, Reporter, Schedule};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    let (app, store) = osflow_fn_common::app(&env).await?;
    let announcer = Arc::new(Announcer {
        dedupe: store,
        email: Arc::new(SesEmailSender::from_env().await),
        sender_name: env.sender_name.clone(),
        sender_email: env.sender_email.clone(),
    });
    let reporter = Arc::new(Reporter { app: app.clone() });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (app, reporter, announcer) = (app.clone(), reporter.clone(), announcer.clone());
        async move {
            let payload = event.payload;
            if payload.get("Records").is_some() {
                let sqs: SqsEvent = serde_json::from_value(payload)?;
                let response = osflow_bus::consume_with(sqs, reporter.as_ref()).await;
                return Ok::<Value, Error>(serde_json::to_value(response)?);
            }
            if payload.get("check").and_then(Value::as_str) == Some("sla") {
                let raised = osflow_reports::check_sla(&app).await?;
                return Ok(serde_json::json!({ "sla_alerts": raised }));
            }
            let schedule: Schedule = serde_json::from_value(payload.get("schedule").cloned().unwrap_or(Value::Null))
                .map_err(|e| {
                    format!("expected an SQS event, {{\"schedule\": \"daily|weekly|monthly\"}} or {{\"check\": \"sla\"}}: {e}")
                })?;
            let made = osflow_reports::run_schedule(&app, schedule, chrono::Utc::now(), Some(&announcer)).await?;
            Ok(serde_json::json!({ "reports": made.iter().map(|r| r.id.clone()).collect::<Vec<_>>() }))
        }
    }))
    .await
}
