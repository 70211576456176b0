//! Lambda `validation` (step 6, validation): `POST /v1/orders/{id}/validation` (checklist, extra items).
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Validation>().await
}
