//! Lambda `open-order` (step 1, opening an order): `POST /v1/orders`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::OpenOrder>().await
}
