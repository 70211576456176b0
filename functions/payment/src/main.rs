//! Lambda `payment` (step 7, payment and release): `POST /v1/orders/{id}/payment/request`, `/payments`, `/release`,
//! `GET /v1/orders/{id}/invoices`, `GET /v1/orders/{id}/invoices/{key}/xml`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Payment>().await
}
