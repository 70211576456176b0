//! Lambda `material` (step 4, the pause for materials): `POST /v1/orders/{id}/material/wait`, `PATCH /v1/orders/{id}/material` (new date),
//! `POST /v1/orders/{id}/material/arrived`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Material>().await
}
