//! The equipment's unlock code (function `records`): left or replaced while the order is open, and read by the
//! staff who need it. The code is answered only by its own read, never in an order, a list or a timeline.

use lambda_http::http::header;
use osflow_app::UnlockCode;
use osflow_domain::{Flow, Order};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::dto::OrderView;
use crate::errors::app_problem;
use crate::handlers::{OrderPath, stepped};
use crate::http::{Cx, Res, json_response, rendered, to_json, with_header};

/// The equipment's unlock code (password, PIN, pattern), or `null` to remove it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UnlockCodeRequest {
    /// 1 to 64 characters; `null` removes the code kept.
    #[schema(min_length = 1, max_length = 64, example = "1234")]
    pub unlock_code: Option<String>,
}

/// The unlock code, for the staff member who asked (the read is on the order's timeline).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct UnlockCodeView {
    #[schema(example = "1234")]
    pub unlock_code: String,
}

/// Leaves, replaces or removes the equipment's unlock code on an open order (representante, atendente,
/// tecnico). It is kept sealed, apart from the order: the order shows only `intake.unlock_code: true`, and its
/// timeline `order.unlock_code_changed`. It is deleted when the order closes or is cancelled.
#[utoipa::path(
    put, path = "/v1/orders/{id}/unlock-code", tag = "records",
    params(OrderPath), request_body = UnlockCodeRequest,
    responses((status = 200, description = "The order (without the code)", body = OrderView, headers(("ETag" = String))))
)]
pub(crate) async fn change_unlock_code(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let if_match = cx.if_match()?;
    let idem = cx.idempotency()?;
    let body: UnlockCodeRequest = cx.json()?;
    let code = body
        .unlock_code
        .as_deref()
        .map(|c| UnlockCode::parse("unlock_code", c))
        .transpose()
        .map_err(|e| app_problem(&e.into(), None))?;
    let render = |o: &Order, flow: &Flow| rendered(200, &OrderView::new(o, flow));
    let reply = cx
        .app
        .change_unlock_code(&caller, &id, code, if_match, idem.as_ref(), &render)
        .await
        .map_err(|e| app_problem(&e, None))?;
    stepped(reply)
}

/// The equipment's unlock code (tecnico, representante): each read is recorded on the order's timeline
/// (`order.unlock_code_read`, who and when, never the code). Not cached.
#[utoipa::path(
    get, path = "/v1/orders/{id}/unlock-code", tag = "records",
    params(OrderPath),
    responses((status = 200, description = "The code", body = UnlockCodeView))
)]
pub(crate) async fn read_unlock_code(cx: &Cx<'_>) -> Res {
    let caller = cx.caller()?;
    let id = cx.order_id()?;
    let unlock_code = cx.app.read_unlock_code(&caller, &id).await.map_err(|e| app_problem(&e, None))?;
    let response = json_response(200, to_json(&UnlockCodeView { unlock_code }), None);
    Ok(with_header(response, header::CACHE_CONTROL, "no-store"))
}
