//! The consumer side: the partial-batch driver of the SQS-triggered functions and the [`Consumer`] trait that the
//! same consumer code implements for Lambda and for the embedded relay.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;

use crate::envelope::{Envelope, EnvelopeError};
use crate::queues::Queue;

/// Why a message was not handled. Whatever the reason, the message is reported as a batch item failure: SQS
/// makes it visible again after the visibility timeout, and moves it to the DLQ after `maxReceiveCount`
/// receives.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsumeError {
    /// The body is not an envelope this consumer reads.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The handler failed.
    #[error("{0}")]
    Failed(String),
    /// Not handled now, and not worth handling again before `after` (a provider's throttling, a budget used up):
    /// reported as a batch item failure like the others, and the SQS driver
    /// ([`VisibilityBackoff`](crate::VisibilityBackoff)) hides the message for at least that long.
    #[error("{reason} (again in {after:?} at the earliest)")]
    Later { after: Duration, reason: String },
}

impl ConsumeError {
    /// A handler failure.
    pub fn failed(reason: impl fmt::Display) -> ConsumeError {
        ConsumeError::Failed(reason.to_string())
    }

    /// A failure to retry no sooner than `after`.
    pub fn later(after: Duration, reason: impl fmt::Display) -> ConsumeError {
        ConsumeError::Later { after, reason: reason.to_string() }
    }

    /// The earliest a retry is worth it, for [`ConsumeError::Later`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConsumeError::Later { after, .. } => Some(*after),
            _ => None,
        }
    }
}

/// A consumer of one queue. Idempotent on `event_id`: every message may come more than once (SQS standard
/// queues, relay retries, the embedded relay after a restart).
#[async_trait]
pub trait Consumer: Send + Sync {
    /// The queue it consumes (the embedded relay hands it the envelopes [`route`](crate::route) sends there).
    fn queue(&self) -> Queue;

    async fn handle(&self, envelope: &Envelope) -> Result<(), ConsumeError>;
}

/// How a batch is processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Standard queues: every record at once.
    Concurrent,
    /// FIFO queues: the records of one message group in order, one at a time; after a failure, every later record
    /// of the same group fails without being handled (so that SQS redelivers them in order). Groups are
    /// processed concurrently.
    Ordered,
}

impl Mode {
    /// [`Mode::Ordered`] for a FIFO queue, [`Mode::Concurrent`] otherwise.
    pub fn for_queue(queue: Queue) -> Mode {
        if queue.is_fifo() { Mode::Ordered } else { Mode::Concurrent }
    }
}

/// The SQS system attribute holding a FIFO message's group.
const MESSAGE_GROUP_ID: &str = "MessageGroupId";

/// What became of one record.
enum Outcome {
    Done,
    /// Failed; `Some(after)`: not worth handling again before `after` ([`ConsumeError::Later`]).
    Failed(String, Option<Duration>),
    /// Not handled: an earlier record of its group failed.
    Skipped,
}

/// Handles every record of an SQS event and returns the failures for `ReportBatchItemFailures`: the message ids
/// of the records that were not handled (an unreadable body, an unsupported schema, a handler error, or — in
/// [`Mode::Ordered`] — a record after a failure in its group). Records without a message id cannot be reported
/// one by one: when one of them fails, an empty identifier is reported, which makes Lambda retry the whole batch.
pub async fn consume<F, Fut>(event: SqsEvent, mode: Mode, handler: F) -> SqsBatchResponse
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), ConsumeError>>,
{
    consume_detailed(event, mode, handler).await.response
}

/// What [`consume_detailed`] did with a batch.
#[derive(Debug, Clone, Default)]
pub struct Consumed {
    /// The batch item failures, for `ReportBatchItemFailures`.
    pub response: SqsBatchResponse,
    /// The records that failed with [`ConsumeError::Later`]: their index in the event and the wait they asked for.
    pub later: Vec<(usize, Duration)>,
}

/// [`consume`], telling also which failed records asked to come back later (and when).
pub async fn consume_detailed<F, Fut>(event: SqsEvent, mode: Mode, handler: F) -> Consumed
where
    F: Fn(Envelope) -> Fut,
    Fut: Future<Output = Result<(), ConsumeError>>,
{
    let records = event.records;
    let handle_one = |record: &SqsMessage| {
        let parsed =
            record.body.as_deref().ok_or(EnvelopeError::Malformed("no body".into())).and_then(Envelope::from_json);
        async {
            match parsed {
                Ok(envelope) => handler(envelope).await,
                Err(e) => Err(ConsumeError::from(e)),
            }
        }
    };
    let outcomes: Vec<Outcome> = match mode {
        Mode::Concurrent => {
            join_all(records.iter().map(|r| async {
                match handle_one(r).await {
                    Ok(()) => Outcome::Done,
                    Err(e) => Outcome::Failed(e.to_string(), e.retry_after()),
                }
            }))
            .await
        }
        Mode::Ordered => {
            let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, record) in records.iter().enumerate() {
                let group = record.attributes.get(MESSAGE_GROUP_ID).map(String::as_str).unwrap_or("");
                groups.entry(group).or_default().push(i);
            }
            let per_group = join_all(groups.into_values().map(|indexes| {
                let records = &records;
                let handle_one = &handle_one;
                async move {
                    let mut outcomes = Vec::with_capacity(indexes.len());
                    let mut failed = false;
                    for i in indexes {
                        let outcome = if failed {
                            Outcome::Skipped
                        } else {
                            match handle_one(&records[i]).await {
                                Ok(()) => Outcome::Done,
                                Err(e) => {
                                    failed = true;
                                    Outcome::Failed(e.to_string(), e.retry_after())
                                }
                            }
                        };
                        outcomes.push((i, outcome));
                    }
                    outcomes
                }
            }))
            .await;
            let mut outcomes: Vec<(usize, Outcome)> = per_group.into_iter().flatten().collect();
            outcomes.sort_by_key(|(i, _)| *i);
            outcomes.into_iter().map(|(_, o)| o).collect()
        }
    };

    let mut response = SqsBatchResponse::default();
    let mut later = Vec::new();
    for (i, (record, outcome)) in records.iter().zip(outcomes).enumerate() {
        let id = record.message_id.as_deref().unwrap_or("");
        match outcome {
            Outcome::Done => {}
            Outcome::Failed(reason, after) => {
                tracing::warn!(message_id = id, %reason, "message not handled; reported as a batch item failure");
                response.add_failure(id);
                if let Some(after) = after {
                    later.push((i, after));
                }
            }
            Outcome::Skipped => {
                tracing::info!(message_id = id, "message skipped after a failure in its group");
                response.add_failure(id);
            }
        }
    }
    Consumed { response, later }
}

/// [`consume`] with a [`Consumer`], in the mode of its queue ([`Mode::for_queue`]).
pub async fn consume_with(event: SqsEvent, consumer: &dyn Consumer) -> SqsBatchResponse {
    consume(event, Mode::for_queue(consumer.queue()), |envelope| async move { consumer.handle(&envelope).await }).await
}
