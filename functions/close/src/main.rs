//! Lambda `close` (step 8, closing): `POST /v1/orders/{id}/close`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Close>().await
}
