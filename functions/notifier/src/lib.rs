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
//! - `OSFLOW_PORTAL_URL` and `OSFLOW_PORTAL_KEY_SECRET`: the customer's page (the `portal` function's public base
//!   URL) and the Secrets Manager secret of its key; with both, the templates' `{link}` is a signed link to the
//!   page (a decision link while a quote waits for the customer), else it is empty. `OSFLOW_PORTAL_LINK_DAYS`:
//!   how long the links are valid (1 to 90 days, default 7).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use osflow_lambda_kit::Config;
use osflow_notify::{HttpWebhookSender, Notifier, NotifierDefaults, SesEmailSender};
use osflow_portal::secrets::{KEY_SECRET_ENV, URL_ENV, key_from_secret};
use osflow_portal::{LINK_DAYS_ENV, PortalLinks, ttl_from_days};

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

/// The portal links from `var` ([`URL_ENV`] and [`KEY_SECRET_ENV`], the key read from Secrets Manager;
/// [`LINK_DAYS_ENV`]), or `None` when either of the first two is unset.
pub async fn links_from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<PortalLinks>, Error> {
    let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let (Some(url), Some(secret)) = (get(URL_ENV), get(KEY_SECRET_ENV)) else { return Ok(None) };
    let ttl = ttl_from_days(var(LINK_DAYS_ENV).as_deref())?;
    let key = key_from_secret(&secret).await?;
    Ok(Some(PortalLinks::new(url, key, Some(ttl))))
}

/// The notifier over the AWS adapters; `links` fills the templates' `{link}` (see [`links_from_vars`]).
pub async fn notifier(
    config: &Config,
    defaults: NotifierDefaults,
    links: Option<PortalLinks>,
) -> Result<Notifier, Error> {
    let (app, store) = osflow_fn_common::app(config).await?;
    Ok(Notifier {
        app,
        settings: store.clone(),
        dedupe: store,
        email: Arc::new(SesEmailSender::from_env().await),
        webhook: Arc::new(HttpWebhookSender::new(WEBHOOK_TIMEOUT)?),
        defaults,
        links: links.map(|l| Arc::new(l) as Arc<dyn osflow_app::CustomerLinks>),
    })
}

/// One invocation: every record through the notifier, the failed ones reported for `ReportBatchItemFailures`.
pub async fn handle(event: SqsEvent, notifier: &Notifier) -> SqsBatchResponse {
    osflow_bus::consume_with(event, notifier).await
}
