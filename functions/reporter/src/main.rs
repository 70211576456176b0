//! Lambda `reporter`, three triggers (told apart by [`osflow_reports::Trigger`]):
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

use lambda_runtime::{Error, LambdaEvent, service_fn};
use osflow_fn_common::Env;
use osflow_notify::SesEmailSender;
use osflow_reports::{Announcer, Reporter, Trigger};
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
    let reporter = Arc::new(Reporter::new(app.clone()));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (app, reporter, announcer) = (app.clone(), reporter.clone(), announcer.clone());
        async move {
            let trigger = Trigger::parse(event.payload)?;
            Ok::<Value, Error>(osflow_reports::run(trigger, &app, &reporter, Some(&announcer)).await?)
        }
    }))
    .await
}
