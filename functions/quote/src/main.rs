//! Lambda `quote` (step 2, the quote): `POST /v1/orders/{id}/quote/send`, `PUT /v1/orders/{id}/quote` (new revision),
//! `POST /v1/orders/{id}/quote/decision` (staff).
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Quote>().await
}
