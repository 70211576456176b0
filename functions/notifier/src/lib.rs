//! Lambda `notifier`: the SQS `notifications` queue → the customer's e-mail (Amazon SES v2) and the company's
//! signed webhook, through [`osflow_notify::Notifier`] (the rules: what is notified, templates, dedupe per (event,
//! channel), the timeline record).
//!
//! Wiring only. The adapters: the App and the DynamoDB store (settings + dedupe) of [`osflow_fn_common::app`]
//! (`OSFLOW_TABLE`, `OSFLOW_BUCKET`), [`SesEmailSender`] and [`HttpWebhookSender`] from the standard AWS
//! environment. The event source mapping needs `FunctionResponseTypes: [ReportBatchItemFailures]`: the records
//! that failed (a transient send failure, an unreadable body) come back after the visibility timeout; a message SES
//! throttled comes back after a back-off ([`osflow_bus::VisibilityBackoff`]: `ChangeMessageVisibility`, 2 minutes
//! doubling with each receive, up to 15), so throttling delays it instead of spending its receives toward the DLQ.
//!
//! Environment ([`osflow_fn_common::Env`], read once), besides the table and the bucket:
//! - `OSFLOW_QUEUE_URL_NOTIFICATIONS`: the queue's URL, for the back-off (else looked up by name once).
//! - `OSFLOW_SENDER_EMAIL`: the `From` address of every e-mail (the company's name as display name, its own
//!   address as Reply-To; default `nao-responda@osflow.com.br`); it must be an identity verified in SES.
//! - `OSFLOW_EMAIL_PER_SECOND`: this notifier's e-mail pace (default [`EMAIL_PER_SECOND`]).
//! - `OSFLOW_SENDER_NAME`: the display name when the company has neither a sender name nor a company name
//!   (default `osflow`).
//! - `OSFLOW_PORTAL_URL` and `OSFLOW_PORTAL_KEY_SECRET`: the customer's page (the `portal` function's public base
//!   URL) and the Secrets Manager secret of its key; with both, the templates' `{link}` is a signed link to the
//!   page (a decision link while a quote waits for the customer), else it is empty. `OSFLOW_PORTAL_LINK_DAYS`:
//!   how long the links are valid (1 to 90 days, default 7).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::Error;
use osflow_bus::{BackedOff, VisibilityBackoff};
use osflow_fn_common::Env;
use osflow_notify::{HttpWebhookSender, Notifier, NotifierDefaults, SendPace, SesEmailSender};
use osflow_portal::secrets::key_from_secret;
use osflow_portal::{PortalLinks, ttl_from_days};

/// The time a company's webhook has to answer (connect and whole request).
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The sender defaults of the environment.
pub fn defaults(env: &Env) -> NotifierDefaults {
    NotifierDefaults { sender_name: env.sender_name.clone(), sender_email: env.sender_email.clone() }
}

/// The portal links of the environment (the portal URL and the key read from its Secrets Manager secret; the
/// links' lifetime), or `None` when either of the first two is unset.
pub async fn links(env: &Env) -> Result<Option<PortalLinks>, Error> {
    let (Some(url), Some(secret)) = (&env.portal_url, &env.portal_key_secret) else { return Ok(None) };
    let ttl = ttl_from_days(env.portal_link_days.as_deref())?;
    let key = key_from_secret(secret).await?;
    Ok(Some(PortalLinks::new(url.clone(), key, Some(ttl))))
}

/// E-mails a second per notifier: the template's queue mapping runs at most 2 notifiers, so 2 × 5 stays below
/// SES's usual production quota (14/s); `OSFLOW_EMAIL_PER_SECOND` sets it for another quota.
pub const EMAIL_PER_SECOND: f64 = 5.0;
/// Each company: bursts of 30 e-mails, then 1 a second.
pub const COMPANY_BURST: f64 = 30.0;
pub const COMPANY_PER_SECOND: f64 = 1.0;

/// The e-mail pace of this notifier.
pub fn pace() -> SendPace {
    let rate = std::env::var("OSFLOW_EMAIL_PER_SECOND").ok().and_then(|v| v.trim().parse::<f64>().ok());
    let rate = rate.filter(|r| *r > 0.0).unwrap_or(EMAIL_PER_SECOND);
    SendPace::new(rate, rate, COMPANY_PER_SECOND, COMPANY_BURST)
}

/// The notifier over the AWS adapters, as the environment configures it.
pub async fn notifier(env: &Env) -> Result<Notifier, Error> {
    let links = links(env).await?;
    // No blob and no unlock code is read (its role may read no object): neither client is linked.
    let (app, store) = osflow_fn_common::app_for::<osflow_fn_common::Wiring<false, false>>(env).await?;
    Ok(Notifier {
        app,
        settings: store.clone(),
        dedupe: store,
        email: Arc::new(SesEmailSender::from_env().await),
        webhook: Arc::new(HttpWebhookSender::new(WEBHOOK_TIMEOUT)?),
        defaults: defaults(env),
        links: links.map(|l| Arc::new(l) as Arc<dyn osflow_app::CustomerLinks>),
        pace: Arc::new(pace()),
    })
}

/// The back-off of throttled messages: `OSFLOW_QUEUE_URL_NOTIFICATIONS` names the queue whose messages it delays.
pub async fn backoff() -> VisibilityBackoff {
    VisibilityBackoff::from_env().await
}

/// One invocation: every record through the notifier, the failed ones reported for `ReportBatchItemFailures`; a
/// message SES throttled (or over its company's budget) is also hidden for a back-off growing with its receives.
pub async fn handle(event: SqsEvent, notifier: &Notifier, backoff: &VisibilityBackoff) -> SqsBatchResponse {
    handle_detailed(event, notifier, backoff).await.response
}

/// [`handle`], telling which messages were delayed and for how long.
pub async fn handle_detailed(event: SqsEvent, notifier: &Notifier, backoff: &VisibilityBackoff) -> BackedOff {
    backoff.consume(event, notifier).await
}
