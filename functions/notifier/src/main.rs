//! Lambda `notifier`: SQS `notifications` → customer e-mail (SES v2) and the company webhook. Wiring only; see
//! the library ([`osflow_fn_notifier`]) for the environment it reads.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use osflow_fn_common::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    let notifier = Arc::new(osflow_fn_notifier::notifier(&env).await?);
    let backoff = Arc::new(osflow_fn_notifier::backoff().await);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let (notifier, backoff) = (notifier.clone(), backoff.clone());
        // Boxed: the handler's state machine nested in the runtime's exceeded rustc's query depth limit when
        // computing the layout of `main`.
        async move { Ok::<_, Infallible>(Box::pin(osflow_fn_notifier::handle(event.payload, &notifier, &backoff)).await) }
    }))
    .await
}
