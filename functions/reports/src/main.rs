//! Lambda `reports`: `GET /v1/reports/summary`, `GET|POST /v1/reports`, `GET /v1/reports/{id}`,
//! `GET /v1/reports/{id}/files/{file}`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Reports>().await
}
