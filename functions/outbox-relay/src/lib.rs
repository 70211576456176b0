//! The DynamoDB Stream → SQS relay: every new event item (`EVT#<version>`, as a NEW_IMAGE) becomes an
//! [`Envelope`] on the queues [`route`] chooses; every other item of the table (orders, invoices, counters,
//! idempotency records, TTL deletions) is ignored.
//!
//! The stream is the outbox: a step's TransactWriteItems writes the event item, and this relay is the only path
//! from it to SQS. A batch is answered with partial failures (`ReportBatchItemFailures` on the event source
//! mapping): the sequence number of the first record that was not relayed. Lambda checkpoints the records before
//! it and sends that record and every later one again, so some messages after it may be sent twice; the FIFO
//! queue drops those duplicates (deduplication id = `event_id`) and the other consumers are idempotent on
//! `event_id`.
//!
//! A message SQS refuses for its content can never be sent: the publisher parks it on the relay's DLQ
//! (`relay-dlq`, a record naming the event and the queue) and the relay moves on, so one event never blocks its
//! shard. The stream mapping bounds the rest (bisect on error, a few retries, a maximum record age, the same DLQ
//! as its on-failure destination).

use std::collections::HashMap;

use aws_lambda_events::dynamodb::{Event as StreamEvent, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use osflow_bus::{Envelope, Queue, SqsPublisher, route};
use osflow_store_dynamodb::decode_event_image;

/// Relays one batch of stream records; the response names the first record not relayed, if any.
pub async fn relay(event: StreamEvent, publisher: &SqsPublisher) -> DynamoDbEventResponse {
    let records = event.records;

    // Read the records in order up to the first one that is an unreadable event item: that one fails, and so
    // will every later one (Lambda retries from it), so they are not published now.
    let mut first_failed: Option<usize> = None;
    let mut messages: Vec<(Queue, Envelope)> = Vec::new();
    let mut record_of_event: HashMap<String, usize> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        match envelope_of(record) {
            Ok(None) => {}
            Ok(Some(envelope)) => {
                record_of_event.entry(envelope.event_id.clone()).or_insert(i);
                messages.extend(route(&envelope).into_iter().map(|queue| (queue, envelope.clone())));
            }
            Err(reason) => {
                tracing::error!(
                    record = %record.event_id, sequence_number = ?record.change.sequence_number, %reason,
                    "unreadable event item in the stream"
                );
                first_failed = Some(i);
                break;
            }
        }
    }

    let events = record_of_event.len();
    let sent = messages.len();
    if let Err(error) = publisher.publish(&messages).await {
        for failed in &error.failed {
            tracing::warn!(event_id = %failed.event_id, queue = %failed.queue, reason = %failed.reason, "message not sent");
            if let Some(&i) = record_of_event.get(&failed.event_id) {
                first_failed = Some(first_failed.map_or(i, |f| f.min(i)));
            }
        }
    }

    let mut response = DynamoDbEventResponse::default();
    match first_failed {
        None => tracing::info!(records = records.len(), events, messages = sent, "stream batch relayed"),
        Some(i) => {
            let record = &records[i];
            // Lambda needs the sequence number; a record without one (never seen in practice) can only be
            // reported by failing the whole batch, which an empty identifier does.
            let id = record.change.sequence_number.clone().unwrap_or_default();
            tracing::warn!(
                records = records.len(), relayed_records = i, sequence_number = %id,
                "stream batch partly relayed; Lambda retries from the first failed record"
            );
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(id);
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// The envelope of a record's NEW_IMAGE when it is an event item; `None` for other items and for records without
/// a new image (deletions).
fn envelope_of(record: &EventRecord) -> Result<Option<Envelope>, String> {
    // Only a new event item is an event to send: an event item rewritten in place (the LGPD erasure of a
    // customer's data from the history) was sent when it was inserted.
    if record.change.new_image.is_empty() || record.event_name != "INSERT" {
        return Ok(None);
    }
    let Some(stored) = decode_event_image(record.change.new_image.clone()).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let envelope = Envelope::from_event(&stored.tenant, &stored.order_id, &stored.event);
    if envelope.event_id != stored.event_id || envelope.kind != stored.event_type {
        return Err(format!(
            "event item {} ({}) does not match its event ({}, {})",
            stored.event_id, stored.event_type, envelope.event_id, envelope.kind
        ));
    }
    Ok(Some(envelope))
}
