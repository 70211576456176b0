//! Lambda `orders-query` (the reads): `GET /v1/orders`, `GET /v1/orders/{id}`, `GET /v1/orders/{id}/timeline`,
//! `GET /v1/customers/{document}/orders`, `GET /v1/openapi.json`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::OrdersQuery>().await
}
