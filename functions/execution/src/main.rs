//! Lambda `execution` (step 3, execution (and cancel, move)): `POST /v1/orders/{id}/start`, `/notes`, `/attachments`, `/cancel`, `/move`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Execution>().await
}
