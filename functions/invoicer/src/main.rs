//! Lambda `invoicer`: the `invoicing.fifo` queue → the order's NF-e, issued at SEFAZ.
//!
//! Wiring only (see the library): the DynamoDB store (`OSFLOW_TABLE`), the S3 bucket of the nfeProc
//! (`OSFLOW_BUCKET`), the certificates in Secrets Manager (`OSFLOW_SECRETS_PREFIX`), the ICP-Brasil roots SEFAZ
//! is trusted with (`OSFLOW_SEFAZ_TRUST_ROOTS`). The event source mapping needs
//! `FunctionResponseTypes: [ReportBatchItemFailures]`.

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use osflow_fn_common::Env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    osflow_lambda_kit::init_tracing();
    let env = Env::from_env()?;
    let invoicer = Arc::new(osflow_fn_invoicer::from_env(&env).await?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let invoicer = invoicer.clone();
        async move { Ok::<_, Infallible>(osflow_fn_invoicer::handle(event.payload, &invoicer).await) }
    }))
    .await
}
