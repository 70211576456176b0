//! Lambda `reporter`, three triggers (told apart by [`osflow_reports::Trigger`]):
//! - the SQS `reports` queue (event source mapping with `FunctionResponseTypes: [ReportBatchItemFailures]`):
//!   every event counted once into its day's aggregate ([`osflow_reports::Reporter`]);
//! - EventBridge Scheduler with `{"check": "sla"}` (every 15 minutes) or `{"schedule": "daily" | "weekly" |
//!   "monthly"}`: only the fan-out — one job per company on the `reports` queue ([`osflow_reports::Job`]); each
//!   job, delivered by the queue, runs one company's SLA check or report (stored in S3, announced by e-mail (SES)
//!   once). A company's failure fails only its message (retried, then the DLQ); a failed fan-out fails the
//!   invocation, so the scheduler's retry policy runs it again (jobs are deduplicated and idempotent).
//!
//! Wiring only. Environment ([`osflow_fn_common::Env`]): `OSFLOW_TABLE`, `OSFLOW_BUCKET`, `OSFLOW_SENDER_EMAIL`
//! (an SES-verified identity) and `OSFLOW_SENDER_NAME`, as the notifier; `OSFLOW_QUEUE_URL_REPORTS` (the jobs).

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use osflow_fn_common::Env;
use osflow_notify::SesEmailSender;
use osflow_reports::{Announcer, Reporter, SqsJobSink, Trigger};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    // The report files in S3; no unlock code (the Secrets Manager client is not linked).
    let (app, store) = osflow_fn_common::app_for::<osflow_fn_common::Wiring<true, false>>(&env).await?;
    let announcer = Arc::new(Announcer {
        dedupe: store,
        email: Arc::new(SesEmailSender::from_env().await),
        sender_name: env.sender_name.clone(),
        sender_email: env.sender_email.clone(),
    });
    let reporter = Arc::new(Reporter::new(app.clone()));
    let jobs = Arc::new(SqsJobSink::from_env().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (app, reporter, announcer, jobs) = (app.clone(), reporter.clone(), announcer.clone(), jobs.clone());
        async move {
            let trigger = Trigger::parse(event.payload)?;
            Ok::<Value, Error>(osflow_reports::run(trigger, &app, &reporter, Some(&announcer), jobs.as_ref()).await?)
        }
    }))
    .await
}
