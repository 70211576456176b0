//! Lambda `finish` (step 5, finishing): `POST /v1/orders/{id}/finish`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Finish>().await
}
