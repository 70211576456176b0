//! The query of the order search (`GET /v1/orders` with filters): parsed into [`OrderQuery`].

use osflow_app::{Caller, OrderQuery};
use osflow_domain::StatusKey;
use osflow_domain::values::UserId;
use osflow_lambda_kit::{Problem, ProblemType};
use utoipa::IntoParams;

use crate::http::Cx;

/// The search's filters (all optional, combined).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub(crate) struct SearchQuery {
    /// Only the orders of this technician (user id).
    technician: Option<String>,
    /// `true`: only the caller's own orders as technician.
    mine: Option<bool>,
    /// Only this service type (case-insensitive), e.g. `reparo`.
    service_type: Option<String>,
    /// `true`: only orders past their due date or their status's SLA.
    overdue: Option<bool>,
    /// OS number, CPF/CNPJ, or a part of the customer's name or of the equipment's serial number.
    q: Option<String>,
}

const FILTERS: [&str; 5] = ["technician", "mine", "service_type", "overdue", "q"];

/// Whether the request has any of the search's filters.
pub(crate) fn has_filters(cx: &Cx<'_>) -> bool {
    let q = cx.query();
    FILTERS.iter().any(|f| q.first(f).is_some_and(|v| !v.trim().is_empty()))
}

fn flag(cx: &Cx<'_>, name: &str) -> Result<bool, Problem> {
    match cx.query().first(name).map(str::trim) {
        None | Some("") | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Problem::field(ProblemType::InvalidField, name, "use true ou false")),
    }
}

fn text(cx: &Cx<'_>, name: &str, max: usize) -> Result<Option<String>, Problem> {
    match cx.query().first(name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if v.chars().count() > max || v.chars().any(char::is_control) => {
            Err(Problem::field(ProblemType::InvalidField, name, format!("use até {max} caracteres")))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

/// The filters of the request.
pub(crate) fn order_query(cx: &Cx<'_>, caller: &Caller, status: Option<StatusKey>) -> Result<OrderQuery, Problem> {
    let technician = match text(cx, "technician", 128)? {
        Some(t) => Some(
            UserId::parse(&t)
                .map_err(|_| Problem::field(ProblemType::InvalidField, "technician", "não é um usuário válido"))?,
        ),
        None => None,
    };
    let mine = flag(cx, "mine")?;
    if mine && technician.as_ref().is_some_and(|t| *t != caller.user) {
        return Err(Problem::field(ProblemType::InvalidField, "mine", "use mine ou technician, não os dois"));
    }
    Ok(OrderQuery {
        status,
        technician: if mine { Some(caller.user.clone()) } else { technician },
        service_type: text(cx, "service_type", 60)?,
        overdue: flag(cx, "overdue")?,
        text: text(cx, "q", 120)?,
    })
}
