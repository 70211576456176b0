//! Lambda `records`: the company's customers and equipment (`/v1/customers…`, `/v1/equipment…`), the LGPD
//! export and anonymization, and the edits of an open order's customer, equipment, due date and technician
//! (`PUT /v1/orders/{id}/customer|equipment|due-date|technician`).
//!
//! Wiring only: [`osflow_fn_common::serve`].

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    osflow_fn_common::serve::<osflow_api::only::Records>().await
}
