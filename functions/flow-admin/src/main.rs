//! Lambda `flow-admin` (the flow editor): `GET|PUT /v1/flow`, `GET /v1/flow/versions`.
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::FlowAdmin>().await
}
