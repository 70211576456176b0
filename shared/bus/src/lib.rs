//! osflow's message bus.
//!
//! - [`Envelope`]: the versioned message schema (JSON in the SQS body): `{schema, event_id, type, tenant,
//!   order_id, version, occurred_at, data}`.
//! - [`queues()`] / [`QueueSpec`]: the queues and their DLQs as data — the single source for the queue creation
//!   ([`create_queues`]) and the SAM template.
//! - [`route`]: which queues want an event (notifications, reports, invoicing.fifo).
//! - [`SqsPublisher`]: SendMessageBatch in chunks of 10, retrying only the failed entries; FIFO group and
//!   deduplication ids.
//! - [`consume`]: the partial-batch driver of the SQS-triggered functions (`ReportBatchItemFailures`), in
//!   [`Mode::Concurrent`] or [`Mode::Ordered`]; [`Consumer`]: the consumer code both Lambda and the embedded
//!   relay call. [`VisibilityBackoff`]: the same driver for a consumer whose failures say "not before" (throttling):
//!   such a message is hidden with `ChangeMessageVisibility` for a delay growing with its receives.
//! - [`EmbeddedRelay`]: the outbox of the embedded store to the in-process consumers (osflow-local).
//!
//! The DynamoDB Stream → SQS relay is the `outbox-relay` function (it reads stream images through
//! `osflow-store-dynamodb`, which alone knows the item layout, and publishes with [`SqsPublisher`]).
//!
//! Delivery is at least once everywhere (stream retries, SQS standard queues, the embedded relay after a
//! restart): every consumer is idempotent on `event_id`.

mod consume;
mod envelope;
mod queues;
mod relay;
mod sqs;

pub use consume::{ConsumeError, Consumed, Consumer, Mode, consume, consume_detailed, consume_with};
pub use envelope::{Envelope, EnvelopeError, SCHEMA_VERSION, event_id};
pub use queues::{
    MAX_RECEIVE_COUNT, Queue, QueueSpec, RELAY_DLQ, RELAY_DLQ_RETENTION_SECS, can_notify, message_group_id, queues,
    route, triggers_invoicing,
};
pub use relay::{EmbeddedRelay, RelayOptions, RelayPass};
pub use sqs::{
    APPROXIMATE_RECEIVE_COUNT, BackedOff, CreatedQueue, Delayed, FailedMessage, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES,
    MAX_VISIBILITY, PublishError, QUEUE_PREFIX_ENV, QUEUE_URL_ENV_PREFIX, QueueUrls, RELAY_DLQ_URL_ENV, RetryPolicy,
    SqsError, SqsPublisher, VisibilityBackoff, create_queues, create_relay_dlq, load_sdk_config,
};

/// Re-exported so that consumers and tests name the same event types as [`consume`].
pub use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
/// Re-exported: the SQS client type of [`SqsPublisher::new`] and [`create_queues`].
pub use aws_sdk_sqs::Client as SqsClient;
