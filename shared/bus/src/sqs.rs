//! SQS: the SDK configuration, queue URLs, the publisher and the creation of the queues from [`queues()`].
//!
//! [`queues()`]: crate::queues()

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{QueueAttributeName, SendMessageBatchRequestEntry};
use futures_util::future::join_all;
use tokio::sync::OnceCell;

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use crate::envelope::Envelope;
use crate::queues::{Queue, QueueSpec, RELAY_DLQ, RELAY_DLQ_RETENTION_SECS, message_group_id};

/// Prefix of the environment variables holding queue URLs: `OSFLOW_QUEUE_URL_NOTIFICATIONS`,
/// `OSFLOW_QUEUE_URL_REPORTS`, `OSFLOW_QUEUE_URL_INVOICING` (see [`Queue::env_name`]).
pub const QUEUE_URL_ENV_PREFIX: &str = "OSFLOW_QUEUE_URL_";
/// The environment variable holding the prefix of the queue names, for queues whose URL is not given: the URL of
/// `<prefix><name>` is asked once (GetQueueUrl) and kept.
pub const QUEUE_PREFIX_ENV: &str = "OSFLOW_QUEUE_PREFIX";
/// The environment variable holding the URL of the relay's DLQ ([`RELAY_DLQ`]); without it, the URL of
/// `<prefix>relay-dlq` is asked once.
pub const RELAY_DLQ_URL_ENV: &str = "OSFLOW_RELAY_DLQ_URL";

/// Entries per SendMessageBatch (the SQS maximum).
pub const MAX_BATCH_ENTRIES: usize = 10;
/// Bytes of message bodies per SendMessageBatch, and of one message (the SQS maximum, 1 MiB).
pub const MAX_BATCH_BYTES: usize = 1024 * 1024;

/// The SDK configuration every AWS adapter shares (see `osflow-aws-kit`).
pub use osflow_aws_kit::load_sdk_config;

/// A failed SQS request (queue administration, URL lookup).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SQS {operation} failed: {message}")]
pub struct SqsError {
    pub operation: &'static str,
    pub message: String,
}

/// The text of an SDK error: the service's code and message when SQS answered, the whole chain otherwise.
fn describe<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err.as_service_error() {
        Some(service) => {
            format!("{}: {}", service.code().unwrap_or("unknown error"), service.message().unwrap_or("(no message)"))
        }
        None => aws_sdk_sqs::error::DisplayErrorContext(err).to_string(),
    }
}

fn sqs_error<E>(operation: &'static str, err: &SdkError<E>) -> SqsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    SqsError { operation, message: describe(err) }
}

/// Whether a failed call may succeed when sent again: transport failures, timeouts, throttling and 5xx. (The SDK
/// has retried these already; the publisher retries once more around them.)
fn retryable<E>(err: &SdkError<E>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ConstructionFailure(_) => false,
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
            let throttled = err.code().is_some_and(|c| c.contains("Throttl") || c.contains("OverLimit"));
            status >= 500 || status == 429 || throttled
        }
        _ => true,
    }
}

/// Whether SQS refused a call for the content of a message (a body it cannot take: characters outside its set,
/// too long), as opposed to the queue, the credentials or the service.
fn refuses_content<E>(err: &SdkError<E>) -> bool
where
    E: ProvideErrorMetadata,
{
    let Some(code) = err.code() else { return false };
    ["InvalidMessageContents", "InvalidParameterValue", "MessageTooLong", "BatchRequestTooLong"]
        .iter()
        .any(|c| code.contains(c))
}

// -------------------------------------------------------------------------------------------------------------
// Queue URLs
// -------------------------------------------------------------------------------------------------------------

/// The URLs of the bus's queues: given (from the environment) or asked once with GetQueueUrl and kept.
#[derive(Debug, Clone)]
pub struct QueueUrls {
    client: Client,
    prefix: Arc<str>,
    cells: Arc<[OnceCell<String>; 3]>,
    relay_dlq: Arc<OnceCell<String>>,
}

fn index(queue: Queue) -> usize {
    match queue {
        Queue::Notifications => 0,
        Queue::Reports => 1,
        Queue::Invoicing => 2,
    }
}

impl QueueUrls {
    /// URLs given in `known`; the others are looked up by name (`<prefix><name>`) on first use.
    pub fn new(
        client: Client,
        prefix: impl Into<String>,
        known: impl IntoIterator<Item = (Queue, String)>,
    ) -> QueueUrls {
        let mut known: HashMap<Queue, String> = known.into_iter().collect();
        let cells = Queue::ALL.map(|q| OnceCell::new_with(known.remove(&q)));
        QueueUrls {
            client,
            prefix: Arc::from(prefix.into()),
            cells: Arc::new(cells),
            relay_dlq: Arc::new(OnceCell::new()),
        }
    }

    /// The relay DLQ's URL is `url` (instead of a lookup of `<prefix>relay-dlq`).
    pub fn with_relay_dlq(mut self, url: impl Into<String>) -> QueueUrls {
        self.relay_dlq = Arc::new(OnceCell::new_with(Some(url.into())));
        self
    }

    /// From the process environment: [`QUEUE_URL_ENV_PREFIX`]`<NAME>` for each queue, else a lookup of
    /// [`QUEUE_PREFIX_ENV`]` + <name>`.
    pub fn from_env(client: Client) -> QueueUrls {
        QueueUrls::from_vars(client, |name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) through `var`.
    pub fn from_vars(client: Client, var: impl Fn(&str) -> Option<String>) -> QueueUrls {
        let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let known = Queue::ALL
            .into_iter()
            .filter_map(|q| get(&format!("{QUEUE_URL_ENV_PREFIX}{}", q.env_name())).map(|url| (q, url)));
        let urls = QueueUrls::new(client, get(QUEUE_PREFIX_ENV).unwrap_or_default(), known);
        match get(RELAY_DLQ_URL_ENV) {
            Some(url) => urls.with_relay_dlq(url),
            None => urls,
        }
    }

    /// The name looked up for `queue`: `<prefix><name>`.
    pub fn queue_name(&self, queue: Queue) -> String {
        format!("{}{}", self.prefix, queue.name())
    }

    /// The URL of `queue` (one GetQueueUrl the first time, when it was not given).
    pub async fn url(&self, queue: Queue) -> Result<&str, SqsError> {
        let url = self.cells[index(queue)].get_or_try_init(|| self.look_up(self.queue_name(queue))).await?;
        Ok(url.as_str())
    }

    /// The URL of the relay's DLQ ([`RELAY_DLQ`]; one GetQueueUrl the first time, when it was not given).
    pub async fn relay_dlq_url(&self) -> Result<&str, SqsError> {
        let url = self.relay_dlq.get_or_try_init(|| self.look_up(format!("{}{RELAY_DLQ}", self.prefix))).await?;
        Ok(url.as_str())
    }

    async fn look_up(&self, name: String) -> Result<String, SqsError> {
        let out =
            self.client.get_queue_url().queue_name(&name).send().await.map_err(|e| sqs_error("GetQueueUrl", &e))?;
        out.queue_url
            .ok_or_else(|| SqsError { operation: "GetQueueUrl", message: format!("no URL returned for {name}") })
    }
}

// -------------------------------------------------------------------------------------------------------------
// Publisher
// -------------------------------------------------------------------------------------------------------------

/// A message that could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedMessage {
    pub queue: Queue,
    pub event_id: String,
    pub reason: String,
    /// SQS refused the message itself (a sender fault): sending it again can never succeed.
    pub refused: bool,
}

/// Some messages were not sent (the others were).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PublishError {
    pub failed: Vec<FailedMessage>,
}

impl fmt::Display for PublishError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} message(s) not sent", self.failed.len())?;
        if let Some(first) = self.failed.first() {
            write!(f, " (first: {} to {}: {})", first.event_id, first.queue, first.reason)?;
        }
        Ok(())
    }
}

/// How often the publisher sends again the entries SQS failed without the sender's fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per entry, the first one included.
    pub max_attempts: u32,
    /// The wait before the second attempt; doubled before each further one.
    pub base_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(50) }
    }
}

/// Publishes envelopes to the queues with SendMessageBatch.
///
/// - Messages are grouped by queue and sent in batches of at most [`MAX_BATCH_ENTRIES`] entries and
///   [`MAX_BATCH_BYTES`] of bodies, in the order given; the queues are served concurrently.
/// - Entries a batch fails without the sender's fault (and whole calls that fail on the transport, by throttling
///   or with a 5xx) are sent again, alone, with exponential backoff ([`RetryPolicy`]).
/// - A message SQS refuses for what it is (a sender fault on the entry: a body it cannot take, too large) can
///   never be sent: it is parked on the relay's DLQ ([`RELAY_DLQ`]) as a small record naming the event and the
///   queue (the event itself stays in the store), and counts as handled, so that one message never stalls the
///   ones after it. Only when parking fails too is it reported as not sent.
/// - FIFO queues get `MessageGroupId` = [`message_group_id`] and `MessageDeduplicationId` = `event_id`, so a
///   retry (or a second relay of the same event within SQS's 5-minute window) does not make a second message.
#[derive(Debug, Clone)]
pub struct SqsPublisher {
    client: Client,
    urls: QueueUrls,
    retry: RetryPolicy,
}

/// One message ready to send.
struct Outgoing<'a> {
    envelope: &'a Envelope,
    body: String,
}

impl SqsPublisher {
    pub fn new(client: Client, urls: QueueUrls) -> SqsPublisher {
        SqsPublisher { client, urls, retry: RetryPolicy::default() }
    }

    /// The client and queue URLs from the environment ([`load_sdk_config`], [`QueueUrls::from_env`]).
    pub async fn from_env() -> SqsPublisher {
        let client = Client::new(&load_sdk_config().await);
        let urls = QueueUrls::from_env(client.clone());
        SqsPublisher::new(client, urls)
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> SqsPublisher {
        self.retry = retry;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn urls(&self) -> &QueueUrls {
        &self.urls
    }

    /// Sends every message; `Err` lists those that could not be sent (every other one was).
    pub async fn publish(&self, messages: &[(Queue, Envelope)]) -> Result<(), PublishError> {
        let per_queue = Queue::ALL.map(|queue| {
            let envelopes: Vec<&Envelope> = messages.iter().filter(|(q, _)| *q == queue).map(|(_, e)| e).collect();
            (queue, envelopes)
        });
        let sends = per_queue
            .into_iter()
            .filter(|(_, envelopes)| !envelopes.is_empty())
            .map(|(queue, envelopes)| self.publish_to(queue, envelopes));
        let (mut failed, refused): (Vec<FailedMessage>, Vec<FailedMessage>) =
            join_all(sends).await.into_iter().flatten().partition(|f| !f.refused);
        if !refused.is_empty() {
            // Boxed: the publish future stays shallow for the callers that nest it (the relay's Lambda handler).
            failed.extend(Box::pin(self.park(messages, refused)).await);
        }
        if failed.is_empty() { Ok(()) } else { Err(PublishError { failed }) }
    }

    /// Parks the messages SQS refused on the relay's DLQ; returns those that could not be parked.
    async fn park(&self, messages: &[(Queue, Envelope)], refused: Vec<FailedMessage>) -> Vec<FailedMessage> {
        let url = match self.urls.relay_dlq_url().await {
            Ok(url) => url.to_owned(),
            Err(e) => {
                tracing::error!(error = %e, count = refused.len(), "refused messages cannot be parked: no relay DLQ");
                return refused;
            }
        };
        let mut not_parked = Vec::new();
        for failed in refused {
            let envelope = messages.iter().find(|(q, e)| *q == failed.queue && e.event_id == failed.event_id);
            let Some((_, envelope)) = envelope else { continue };
            let body = parked_record(failed.queue, envelope, &failed.reason);
            match self.client.send_message().queue_url(&url).message_body(body).send().await {
                Ok(_) => tracing::error!(
                    event_id = %failed.event_id, queue = %failed.queue, reason = %failed.reason,
                    "SQS refused the message: parked on the relay DLQ"
                ),
                Err(e) => {
                    tracing::error!(event_id = %failed.event_id, error = %describe(&e), "cannot park a refused message");
                    not_parked.push(FailedMessage {
                        reason: format!("{} (not parked: {})", failed.reason, describe(&e)),
                        ..failed
                    });
                }
            }
        }
        not_parked
    }

    /// Sends to one queue; returns the messages not sent.
    async fn publish_to(&self, queue: Queue, envelopes: Vec<&Envelope>) -> Vec<FailedMessage> {
        let fail_all = |envelopes: &[&Envelope], reason: &str| {
            envelopes
                .iter()
                .map(|e| FailedMessage {
                    queue,
                    event_id: e.event_id.clone(),
                    reason: reason.to_owned(),
                    refused: false,
                })
                .collect::<Vec<_>>()
        };
        let url = match self.urls.url(queue).await {
            Ok(url) => url.to_owned(),
            Err(e) => return fail_all(&envelopes, &e.to_string()),
        };
        let mut failed = Vec::new();
        let mut batch: Vec<Outgoing<'_>> = Vec::new();
        let mut batch_bytes = 0;
        for envelope in envelopes {
            let body = envelope.to_json();
            if body.len() > MAX_BATCH_BYTES {
                let reason = format!("message of {} bytes exceeds the SQS limit", body.len());
                failed.push(FailedMessage { queue, event_id: envelope.event_id.clone(), reason, refused: true });
                continue;
            }
            if batch.len() == MAX_BATCH_ENTRIES || batch_bytes + body.len() > MAX_BATCH_BYTES {
                failed.extend(self.send_batch(queue, &url, std::mem::take(&mut batch)).await);
                batch_bytes = 0;
            }
            batch_bytes += body.len();
            batch.push(Outgoing { envelope, body });
        }
        if !batch.is_empty() {
            failed.extend(self.send_batch(queue, &url, batch).await);
        }
        failed
    }

    /// One SendMessageBatch, then again for the entries that failed and may succeed.
    async fn send_batch(&self, queue: Queue, url: &str, mut entries: Vec<Outgoing<'_>>) -> Vec<FailedMessage> {
        let mut failed = Vec::new();
        let mut attempt = 1;
        loop {
            let request: Result<Vec<SendMessageBatchRequestEntry>, _> =
                entries.iter().enumerate().map(|(i, out)| self.entry(queue, i, out)).collect();
            let request = match request {
                Ok(request) => request,
                Err(e) => {
                    let reason = format!("cannot build the batch: {e}");
                    failed.extend(entries.iter().map(|o| failure(queue, o, &reason)));
                    return failed;
                }
            };
            let (retry, reason) =
                match self.client.send_message_batch().queue_url(url).set_entries(Some(request)).send().await {
                    Ok(output) => {
                        let mut retry = vec![false; entries.len()];
                        let mut reason = String::new();
                        for entry in output.failed() {
                            let Some(i) = entry.id().parse::<usize>().ok().filter(|i| *i < entries.len()) else {
                                continue;
                            };
                            let text = format!("{}: {}", entry.code(), entry.message().unwrap_or("(no message)"));
                            if entry.sender_fault() {
                                failed.push(FailedMessage { refused: true, ..failure(queue, &entries[i], &text) });
                            } else {
                                retry[i] = true;
                                reason = text;
                            }
                        }
                        (retry, reason)
                    }
                    Err(e) => {
                        let reason = describe(&e);
                        if refuses_content(&e) {
                            // SQS may refuse a whole batch for one entry's body: each entry alone tells which.
                            if entries.len() == 1 {
                                failed.push(FailedMessage { refused: true, ..failure(queue, &entries[0], &reason) });
                                return failed;
                            }
                            for single in entries {
                                failed.extend(Box::pin(self.send_batch(queue, url, vec![single])).await);
                            }
                            return failed;
                        }
                        if !retryable(&e) {
                            failed.extend(entries.iter().map(|o| failure(queue, o, &reason)));
                            return failed;
                        }
                        (vec![true; entries.len()], reason)
                    }
                };
            entries = entries.into_iter().zip(retry).filter_map(|(o, again)| again.then_some(o)).collect();
            if entries.is_empty() {
                return failed;
            }
            if attempt >= self.retry.max_attempts {
                tracing::warn!(%queue, count = entries.len(), %reason, "SQS entries still failing after {attempt} attempts");
                failed.extend(entries.iter().map(|o| failure(queue, o, &reason)));
                return failed;
            }
            tokio::time::sleep(self.retry.base_delay * 2u32.saturating_pow(attempt - 1)).await;
            attempt += 1;
        }
    }

    fn entry(
        &self,
        queue: Queue,
        i: usize,
        out: &Outgoing<'_>,
    ) -> Result<SendMessageBatchRequestEntry, aws_sdk_sqs::error::BuildError> {
        let mut entry = SendMessageBatchRequestEntry::builder().id(i.to_string()).message_body(out.body.clone());
        if queue.is_fifo() {
            entry = entry
                .message_group_id(message_group_id(queue, out.envelope))
                .message_deduplication_id(out.envelope.event_id.clone());
        }
        entry.build()
    }
}

fn failure(queue: Queue, out: &Outgoing<'_>, reason: &str) -> FailedMessage {
    FailedMessage { queue, event_id: out.envelope.event_id.clone(), reason: reason.to_owned(), refused: false }
}

/// The record of a refused message on the relay's DLQ: which event, for which queue, and why — the event itself
/// is in the store (redrive: read it back and publish it). Printable ASCII only, so that SQS takes it whatever
/// the refused body held.
fn parked_record(queue: Queue, envelope: &Envelope, reason: &str) -> String {
    let ascii = |s: &str| s.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect::<String>();
    serde_json::json!({
        "queue": queue.name(),
        "event_id": envelope.event_id,
        "type": ascii(&envelope.kind),
        "tenant": ascii(envelope.tenant.as_str()),
        "order_id": envelope.order_id.to_string(),
        "version": envelope.version,
        "reason": ascii(reason),
    })
    .to_string()
}

/// Creates the relay's DLQ `<prefix>relay-dlq` (14 days' retention) and returns its URL and ARN.
pub async fn create_relay_dlq(client: &Client, prefix: &str) -> Result<(String, String), SqsError> {
    let attributes =
        HashMap::from([(QueueAttributeName::MessageRetentionPeriod, RELAY_DLQ_RETENTION_SECS.to_string())]);
    let url = create_queue(client, &format!("{prefix}{RELAY_DLQ}"), attributes).await?;
    let arn = queue_arn(client, &url).await?;
    Ok((url, arn))
}

// -------------------------------------------------------------------------------------------------------------
// Queue creation
// -------------------------------------------------------------------------------------------------------------

/// A queue created by [`create_queues`], with its DLQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedQueue {
    pub spec: QueueSpec,
    /// `<prefix><spec.name>`.
    pub name: String,
    pub url: String,
    pub arn: String,
    pub dlq_name: String,
    pub dlq_url: String,
    pub dlq_arn: String,
}

/// Creates each queue of `specs` (normally [`queues()`](crate::queues())) named `<prefix><name>`, after its DLQ
/// `<prefix><dlq>`, with the spec's attributes: FIFO (content-based deduplication off: the publisher sets the
/// deduplication id), visibility timeout, retention, and the redrive policy (`deadLetterTargetArn`,
/// `maxReceiveCount`). Creating a queue that exists with the same attributes is a no-op (SQS semantics).
pub async fn create_queues(client: &Client, prefix: &str, specs: &[QueueSpec]) -> Result<Vec<CreatedQueue>, SqsError> {
    let mut created = Vec::with_capacity(specs.len());
    for spec in specs {
        let dlq_name = format!("{prefix}{}", spec.dlq);
        let mut dlq_attributes =
            HashMap::from([(QueueAttributeName::MessageRetentionPeriod, spec.dlq_retention_secs.to_string())]);
        if spec.fifo {
            dlq_attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
        }
        let dlq_url = create_queue(client, &dlq_name, dlq_attributes).await?;
        let dlq_arn = queue_arn(client, &dlq_url).await?;

        let name = format!("{prefix}{}", spec.name);
        let redrive = serde_json::json!({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": spec.max_receive_count,
        });
        let mut attributes = HashMap::from([
            (QueueAttributeName::VisibilityTimeout, spec.visibility_timeout_secs.to_string()),
            (QueueAttributeName::MessageRetentionPeriod, spec.message_retention_secs.to_string()),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ]);
        if spec.fifo {
            attributes.insert(QueueAttributeName::FifoQueue, "true".to_owned());
            attributes.insert(QueueAttributeName::ContentBasedDeduplication, "false".to_owned());
        }
        let url = create_queue(client, &name, attributes).await?;
        let arn = queue_arn(client, &url).await?;
        created.push(CreatedQueue { spec: *spec, name, url, arn, dlq_name, dlq_url, dlq_arn });
    }
    Ok(created)
}

async fn create_queue(
    client: &Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
) -> Result<String, SqsError> {
    let out = client
        .create_queue()
        .queue_name(name)
        .set_attributes(Some(attributes))
        .send()
        .await
        .map_err(|e| sqs_error("CreateQueue", &e))?;
    out.queue_url.ok_or_else(|| SqsError { operation: "CreateQueue", message: format!("no URL returned for {name}") })
}

async fn queue_arn(client: &Client, url: &str) -> Result<String, SqsError> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sqs_error("GetQueueAttributes", &e))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| SqsError { operation: "GetQueueAttributes", message: format!("no QueueArn for {url}") })
}

// -------------------------------------------------------------------------------------------------------------
// Back-off through the message's visibility
// -------------------------------------------------------------------------------------------------------------

/// The SQS system attribute counting a message's receives (this one included).
pub const APPROXIMATE_RECEIVE_COUNT: &str = "ApproximateReceiveCount";
/// The longest visibility timeout SQS takes (12 hours).
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// A message hidden for a while by [`VisibilityBackoff::consume`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delayed {
    pub message_id: String,
    /// `ApproximateReceiveCount` of the record (1 when absent).
    pub receive_count: u32,
    /// The visibility set from now.
    pub delay: Duration,
    /// Whether SQS took the change (otherwise the message comes back after the queue's visibility timeout).
    pub changed: bool,
}

/// What [`VisibilityBackoff::consume`] did with a batch.
#[derive(Debug, Clone, Default)]
pub struct BackedOff {
    /// The batch item failures for `ReportBatchItemFailures` (the delayed messages among them: Lambda must not
    /// delete them).
    pub response: SqsBatchResponse,
    pub delayed: Vec<Delayed>,
}

/// The partial-batch driver for a consumer whose failures may say "not before" ([`ConsumeError::Later`]: a
/// provider's throttling, a budget used up): such a message is reported as a batch item failure (so it is not
/// deleted) and hidden with `ChangeMessageVisibility` for a delay that grows with its `ApproximateReceiveCount`
/// (`first × 2^(receives − 1)`, at most `max`, at least what the failure asked). A throttled message is delayed,
/// not lost, and its receives — which count toward the queue's DLQ — come no faster than the back-off, instead of
/// every visibility timeout.
///
/// The message's queue URL comes from [`QueueUrls`] (the function's `OSFLOW_QUEUE_URL_<NAME>`); its role needs
/// `sqs:ChangeMessageVisibility` on the queue (SAM's `SQSPollerPolicy` has it).
///
/// [`ConsumeError::Later`]: crate::ConsumeError::Later
#[derive(Debug, Clone)]
pub struct VisibilityBackoff {
    client: Client,
    urls: QueueUrls,
    first: Duration,
    max: Duration,
}

impl VisibilityBackoff {
    /// The delay of a first throttled receive.
    pub const FIRST: Duration = Duration::from_secs(120);
    /// The longest delay.
    pub const MAX: Duration = Duration::from_secs(15 * 60);

    /// Delays of [`FIRST`](Self::FIRST) doubling up to [`MAX`](Self::MAX): with the queues' 5 receives, a
    /// message throttled at every receive reaches the DLQ after about half an hour (2 + 4 + 8 + 15 minutes),
    /// beyond the "up to 10 minutes" SES asks a throttled sender to wait.
    pub fn new(client: Client, urls: QueueUrls) -> VisibilityBackoff {
        VisibilityBackoff { client, urls, first: Self::FIRST, max: Self::MAX }
    }

    /// From the process environment ([`load_sdk_config`], [`QueueUrls::from_env`]).
    pub async fn from_env() -> VisibilityBackoff {
        let client = Client::new(&load_sdk_config().await);
        VisibilityBackoff::new(client.clone(), QueueUrls::from_env(client))
    }

    /// Other delays (tests).
    pub fn with_delays(mut self, first: Duration, max: Duration) -> VisibilityBackoff {
        self.first = first;
        self.max = max.min(MAX_VISIBILITY);
        self
    }

    /// The delay of a message received `receive_count` times whose failure asked for at least `at_least`.
    pub fn delay(&self, receive_count: u32, at_least: Duration) -> Duration {
        let doublings = receive_count.saturating_sub(1).min(20);
        let grown = self.first.saturating_mul(1u32 << doublings);
        grown.min(self.max).max(at_least).min(MAX_VISIBILITY)
    }

    /// Handles the batch with `consumer` ([`crate::consume_detailed`], in the mode of its queue) and hides every
    /// message that asked to come back later.
    pub async fn consume(&self, event: SqsEvent, consumer: &dyn crate::Consumer) -> BackedOff {
        // What a delay needs of each record (not their bodies, which the consumer takes).
        let records: Vec<(Option<String>, Option<String>, u32)> = event
            .records
            .iter()
            .map(|r| {
                let receives = r.attributes.get(APPROXIMATE_RECEIVE_COUNT).and_then(|n| n.parse::<u32>().ok());
                (r.message_id.clone(), r.receipt_handle.clone(), receives.unwrap_or(1).max(1))
            })
            .collect();
        let done =
            crate::consume::consume_detailed(event, crate::Mode::for_queue(consumer.queue()), |envelope| async move {
                consumer.handle(&envelope).await
            })
            .await;
        let mut delayed = Vec::with_capacity(done.later.len());
        for (i, at_least) in done.later {
            let (message_id, receipt_handle, receive_count) = &records[i];
            let receive_count = *receive_count;
            let delay = self.delay(receive_count, at_least);
            let message_id = message_id.clone().unwrap_or_default();
            let changed = match (receipt_handle, self.urls.url(consumer.queue()).await) {
                (Some(receipt), Ok(url)) => {
                    let secs = i32::try_from(delay.as_secs()).unwrap_or(i32::MAX);
                    let sent = self
                        .client
                        .change_message_visibility()
                        .queue_url(url)
                        .receipt_handle(receipt)
                        .visibility_timeout(secs)
                        .send()
                        .await;
                    match sent {
                        Ok(_) => true,
                        Err(e) => {
                            let e = sqs_error("ChangeMessageVisibility", &e);
                            tracing::warn!(message_id, error = %e, "could not delay the message; it comes back after the visibility timeout");
                            false
                        }
                    }
                }
                (None, _) => false,
                (_, Err(e)) => {
                    tracing::warn!(message_id, error = %e, "no queue URL to delay the message");
                    false
                }
            };
            tracing::info!(message_id, receive_count, delay_secs = delay.as_secs(), changed, "message delayed");
            delayed.push(Delayed { message_id, receive_count, delay, changed });
        }
        BackedOff { response: done.response, delayed }
    }
}
