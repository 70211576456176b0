//! Lambda `notifier`: the SQS `notifications` queue → the customer's e-mail (Amazon SES v2) and the company's
//! signed webhook, through [`osflow_notify::Notifier`] (the rules: what is notified, templates, dedupe per (event,
//! channel), the timeline record).
//!
//! Wiring only. The adapters: the App and the DynamoDB store (settings + dedupe) of [`osflow_fn_common::app`]
//! (`OSFLOW_TABLE`, `OSFLOW_BUCKET`), [`SesEmailSender`] and [`HttpWebhookSender`] from the standard AWS
//! environment. The event source mapping needs `FunctionResponseTypes: [ReportBatchItemFailures]`: the records
//! that failed (a transient send failure, an unreadable body) come back after the visibility timeout.
//!
//! Environment, besides lambda-kit's `Config`:
//! - `OSFLOW_SENDER_EMAIL`: the `From` address of companies that did not set one in their notification settings
//!   (default [`DEFAULT_SENDER_EMAIL`]); it must be an identity verified in SES (address or domain), else every
//!   such e-mail is refused (`MessageRejected`, recorded as a failed notification).
//! - `OSFLOW_SENDER_NAME`: the display name when the company has neither a sender name nor a company name
//!   (default [`DEFAULT_SENDER_NAME`]).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use osflow_lambda_kit::Config;
use osflow_notify::{HttpWebhookSender, Notifier, NotifierDefaults, SesEmailSender};

pub const SENDER_EMAIL_ENV: &str = "OSFLOW_SENDER_EMAIL";
pub const SENDER_NAME_ENV: &str = "OSFLOW_SENDER_NAME";
pub const DEFAULT_SENDER_EMAIL: &str = "nao-responda@osflow.com.br";
pub const DEFAULT_SENDER_NAME: &str = "osflow";
/// The time a company's webhook has to answer (connect and whole request).
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The sender defaults from `var` ([`SENDER_EMAIL_ENV`], [`SENDER_NAME_ENV`]; blank means unset).
pub fn defaults_from_vars(var: impl Fn(&str) -> Option<String>) -> NotifierDefaults {
    let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    NotifierDefaults {
        sender_name: get(SENDER_NAME_ENV).unwrap_or_else(|| DEFAULT_SENDER_NAME.to_owned()),
        sender_email: get(SENDER_EMAIL_ENV).unwrap_or_else(|| DEFAULT_SENDER_EMAIL.to_owned()),
    }
}

/// The notifier over the AWS adapters.
pub async fn notifier(config: &Config, defaults: NotifierDefaults) -> Result<Notifier, Error> {
    let (app, store) = osflow_fn_common::app(config).await?;
    Ok(Notifier {
        app,
        settings: store.clone(),
        dedupe: store,
        email: Arc::new(SesEmailSender::from_env().await),
        webhook: Arc::new(HttpWebhookSender::new(WEBHOOK_TIMEOUT)?),
        defaults,
    })
}

/// One invocation: every record through the notifier, the failed ones reported for `ReportBatchItemFailures`.
pub async fn handle(event: SqsEvent, notifier: &Notifier) -> SqsBatchResponse {
    osflow_bus::consume_with(event, notifier).await
}
