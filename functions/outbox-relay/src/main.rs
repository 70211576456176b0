//! Lambda `outbox-relay`: the table's DynamoDB Stream (NEW_IMAGE) → SQS (notifications, reports, invoicing.fifo).
//!
//! Wiring only (the relay is [`outbox_relay::relay`]): the SQS client from the standard AWS environment, queue
//! URLs from `OSFLOW_QUEUE_URL_NOTIFICATIONS`, `OSFLOW_QUEUE_URL_REPORTS`, `OSFLOW_QUEUE_URL_INVOICING` (or looked
//! up once by name, `OSFLOW_QUEUE_PREFIX` + name), and the relay's DLQ from `OSFLOW_RELAY_DLQ_URL` (where a
//! message SQS refuses is parked). The event source mapping needs `FunctionResponseTypes:
//! [ReportBatchItemFailures]`.

use std::convert::Infallible;

use aws_lambda_events::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use osflow_bus::SqsPublisher;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let publisher = SqsPublisher::from_env().await;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let publisher = publisher.clone();
        async move { Ok::<_, Infallible>(outbox_relay::relay(event.payload, &publisher).await) }
    }))
    .await
}
