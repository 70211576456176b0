//! `application/problem+json` errors (RFC 9457) with stable `type` URIs and Portuguese titles.
//!
//! Every refusal of the API is a [`Problem`]. Clients branch on `type` (never on `title` or `detail`, which are
//! for people); `field` names the offending input as a JSON path (`customer.document`, `items[1].unit_price`) or
//! a query/path/header name (`status`, `If-Match`).

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The content type of every error response.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The catalogue of problem types: a stable URI, its HTTP status and its Portuguese title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemType {
    /// 400: the body is not JSON (or not valid UTF-8).
    MalformedJson,
    /// 400: a header is malformed (`If-Match`, `Idempotency-Key`).
    InvalidHeader,
    /// 400: the `cursor` is not one this API gave out.
    InvalidCursor,
    /// 401: no valid token (no authorizer claims, or claims without a tenant or user).
    Unauthenticated,
    /// 403: the caller's roles do not allow the operation.
    Forbidden,
    /// 404: unknown order (or another company's), invoice, or route.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 409: the step does not apply to the order's current status.
    NotAllowedInStatus,
    /// 409: a guard of the transition failed (checklist incomplete, not paid in full…).
    GuardFailed,
    /// 409: the quote revision decided on is no longer the one waiting for a decision.
    StaleRevision,
    /// 409: concurrent writers kept winning; retry.
    Conflict,
    /// 409: only a rejected NF-e can be sent again.
    InvoiceNotRejected,
    /// 409: the order's NF-e is authorized: cancel it before the order.
    InvoiceNotCancelled,
    /// 409: the NF-e event (cancellation, carta de correção) was refused: its state, the legal window, or SEFAZ
    /// (its cStat in the detail).
    FiscalEventRefused,
    /// 412: `If-Match` names a version that is not the current one.
    PreconditionFailed,
    /// 413: the body is larger than 1 MiB.
    PayloadTooLarge,
    /// 413: the step would take the order past what one order may hold (its full history stays readable).
    OrderTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: a field is missing, of the wrong type, or invalid (CPF, e-mail, money…).
    InvalidField,
    /// 422: a field the API does not know.
    UnknownField,
    /// 422: an unknown status key.
    UnknownStatus,
    /// 422: a flow definition was refused (unreachable status, action that does not fit…).
    InvalidFlow,
    /// 422: the `Idempotency-Key` was used before with another request.
    IdempotencyKeyReused,
    /// 429: the company is over its request limit; retry after `Retry-After` seconds.
    TooManyRequests,
    /// 500: an unexpected failure (logged).
    Internal,
    /// 503: the store is unavailable for a moment; retry after `Retry-After` seconds.
    ServiceUnavailable,
}

impl ProblemType {
    pub const ALL: [ProblemType; 26] = [
        ProblemType::MalformedJson,
        ProblemType::InvalidHeader,
        ProblemType::InvalidCursor,
        ProblemType::Unauthenticated,
        ProblemType::Forbidden,
        ProblemType::NotFound,
        ProblemType::MethodNotAllowed,
        ProblemType::NotAllowedInStatus,
        ProblemType::GuardFailed,
        ProblemType::StaleRevision,
        ProblemType::Conflict,
        ProblemType::InvoiceNotRejected,
        ProblemType::InvoiceNotCancelled,
        ProblemType::FiscalEventRefused,
        ProblemType::PreconditionFailed,
        ProblemType::PayloadTooLarge,
        ProblemType::OrderTooLarge,
        ProblemType::UnsupportedMediaType,
        ProblemType::InvalidField,
        ProblemType::UnknownField,
        ProblemType::UnknownStatus,
        ProblemType::InvalidFlow,
        ProblemType::IdempotencyKeyReused,
        ProblemType::TooManyRequests,
        ProblemType::Internal,
        ProblemType::ServiceUnavailable,
    ];

    /// The stable `type` URI (relative: `/problems/<name>`).
    pub const fn uri(self) -> &'static str {
        match self {
            ProblemType::MalformedJson => "/problems/malformed-json",
            ProblemType::InvalidHeader => "/problems/invalid-header",
            ProblemType::InvalidCursor => "/problems/invalid-cursor",
            ProblemType::Unauthenticated => "/problems/unauthenticated",
            ProblemType::Forbidden => "/problems/forbidden",
            ProblemType::NotFound => "/problems/not-found",
            ProblemType::MethodNotAllowed => "/problems/method-not-allowed",
            ProblemType::NotAllowedInStatus => "/problems/not-allowed-in-status",
            ProblemType::GuardFailed => "/problems/guard-failed",
            ProblemType::StaleRevision => "/problems/stale-revision",
            ProblemType::Conflict => "/problems/conflict",
            ProblemType::InvoiceNotRejected => "/problems/invoice-not-rejected",
            ProblemType::InvoiceNotCancelled => "/problems/invoice-not-cancelled",
            ProblemType::FiscalEventRefused => "/problems/fiscal-event-refused",
            ProblemType::PreconditionFailed => "/problems/precondition-failed",
            ProblemType::PayloadTooLarge => "/problems/payload-too-large",
            ProblemType::OrderTooLarge => "/problems/order-too-large",
            ProblemType::UnsupportedMediaType => "/problems/unsupported-media-type",
            ProblemType::InvalidField => "/problems/invalid-field",
            ProblemType::UnknownField => "/problems/unknown-field",
            ProblemType::UnknownStatus => "/problems/unknown-status",
            ProblemType::InvalidFlow => "/problems/invalid-flow",
            ProblemType::IdempotencyKeyReused => "/problems/idempotency-key-reused",
            ProblemType::Internal => "/problems/internal",
            ProblemType::ServiceUnavailable => "/problems/service-unavailable",
            ProblemType::TooManyRequests => "/problems/too-many-requests",
        }
    }

    pub const fn status(self) -> u16 {
        match self {
            ProblemType::MalformedJson | ProblemType::InvalidHeader | ProblemType::InvalidCursor => 400,
            ProblemType::Unauthenticated => 401,
            ProblemType::Forbidden => 403,
            ProblemType::NotFound => 404,
            ProblemType::MethodNotAllowed => 405,
            ProblemType::NotAllowedInStatus
            | ProblemType::GuardFailed
            | ProblemType::StaleRevision
            | ProblemType::Conflict
            | ProblemType::InvoiceNotRejected
            | ProblemType::InvoiceNotCancelled
            | ProblemType::FiscalEventRefused => 409,
            ProblemType::PreconditionFailed => 412,
            ProblemType::PayloadTooLarge | ProblemType::OrderTooLarge => 413,
            ProblemType::UnsupportedMediaType => 415,
            ProblemType::InvalidField
            | ProblemType::UnknownField
            | ProblemType::UnknownStatus
            | ProblemType::InvalidFlow
            | ProblemType::IdempotencyKeyReused => 422,
            ProblemType::Internal => 500,
            ProblemType::ServiceUnavailable => 503,
            ProblemType::TooManyRequests => 429,
        }
    }

    /// The Portuguese title shown to the user.
    pub const fn title(self) -> &'static str {
        match self {
            ProblemType::MalformedJson => "Corpo da requisição não é um JSON válido",
            ProblemType::InvalidHeader => "Cabeçalho inválido",
            ProblemType::InvalidCursor => "Cursor de paginação inválido",
            ProblemType::Unauthenticated => "Autenticação necessária",
            ProblemType::Forbidden => "Acesso negado para o seu perfil",
            ProblemType::NotFound => "Não encontrado",
            ProblemType::MethodNotAllowed => "Método não permitido",
            ProblemType::NotAllowedInStatus => "Etapa não permitida no status atual",
            ProblemType::GuardFailed => "Condição da etapa não atendida",
            ProblemType::StaleRevision => "Revisão do orçamento desatualizada",
            ProblemType::Conflict => "Conflito de edição simultânea",
            ProblemType::InvoiceNotRejected => "Só uma NF-e rejeitada ou pendente pode ser reenviada",
            ProblemType::InvoiceNotCancelled => "Cancele a NF-e autorizada antes de cancelar a OS",
            ProblemType::FiscalEventRefused => "O evento da NF-e não foi registrado",
            ProblemType::PreconditionFailed => "A OS foi alterada desde a sua última leitura",
            ProblemType::PayloadTooLarge => "Corpo da requisição grande demais",
            ProblemType::OrderTooLarge => "A OS atingiu o tamanho máximo",
            ProblemType::UnsupportedMediaType => "Tipo de conteúdo não suportado",
            ProblemType::InvalidField => "Campo inválido",
            ProblemType::UnknownField => "Campo desconhecido",
            ProblemType::UnknownStatus => "Status desconhecido",
            ProblemType::InvalidFlow => "Fluxo inválido",
            ProblemType::IdempotencyKeyReused => "Chave de idempotência já usada em outra requisição",
            ProblemType::Internal => "Erro interno",
            ProblemType::ServiceUnavailable => "Serviço temporariamente indisponível",
            ProblemType::TooManyRequests => "Muitas requisições da empresa; tente novamente em instantes",
        }
    }
}

/// An error response (boxed: it travels on the error path of every handler, so it stays one pointer wide). It
/// dereferences to its [`ProblemDetails`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Problem(Box<ProblemDetails>);

impl std::ops::Deref for Problem {
    type Target = ProblemDetails;
    fn deref(&self) -> &ProblemDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Problem {
    fn deref_mut(&mut self) -> &mut ProblemDetails {
        &mut self.0
    }
}

/// The members of a problem. Only `type`, `title` and `status` are always present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDetails {
    /// Stable URI of the problem type, e.g. `/problems/invalid-field`.
    #[serde(rename = "type")]
    #[schema(example = "/problems/invalid-field")]
    pub type_uri: String,
    /// Short Portuguese summary of the problem type.
    #[schema(example = "Campo inválido")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 422)]
    pub status: u16,
    /// What went wrong in this occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "invalid CPF check digits")]
    pub detail: Option<String>,
    /// The offending input: a JSON path into the body, or a query, path or header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "customer.document")]
    pub field: Option<String>,
    /// The order's current status, when a step is refused because of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "aberta")]
    pub status_key: Option<String>,
    /// The step (flow action) refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "start")]
    pub action: Option<String>,
    /// The guard that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "paid_in_full")]
    pub guard: Option<String>,
    /// The roles that may do it, on 403.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_roles: Option<Vec<String>>,
    /// The current version of the resource, on 409/412.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_version: Option<u64>,
    /// Seconds to wait before retrying (also sent as the `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
}

impl Problem {
    pub fn new(kind: ProblemType) -> Problem {
        Problem(Box::new(ProblemDetails {
            type_uri: kind.uri().to_owned(),
            title: kind.title().to_owned(),
            status: kind.status(),
            detail: None,
            field: None,
            status_key: None,
            action: None,
            guard: None,
            allowed_roles: None,
            current_version: None,
            retry_after: None,
        }))
    }

    /// A problem about one field.
    pub fn field(kind: ProblemType, field: impl Into<String>, detail: impl Into<String>) -> Problem {
        Problem::new(kind).with_field(field).with_detail(detail)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Problem {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    pub fn with_status_key(mut self, status: impl Into<String>) -> Problem {
        self.status_key = Some(status.into());
        self
    }

    pub fn with_action(mut self, action: impl Into<String>) -> Problem {
        self.action = Some(action.into());
        self
    }

    pub fn with_guard(mut self, guard: impl Into<String>) -> Problem {
        self.guard = Some(guard.into());
        self
    }

    pub fn with_allowed_roles(mut self, roles: Vec<String>) -> Problem {
        self.allowed_roles = Some(roles);
        self
    }

    pub fn with_current_version(mut self, version: u64) -> Problem {
        self.current_version = Some(version);
        self
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Problem {
        self.retry_after = Some(seconds);
        self
    }

    /// Whether this problem is of the given type.
    pub fn is(&self, kind: ProblemType) -> bool {
        self.type_uri == kind.uri()
    }

    /// The JSON body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a problem serializes")
    }

    /// The HTTP response: the status, `Content-Type: application/problem+json`, `Retry-After` when set, and the
    /// JSON body.
    pub fn into_response(self) -> Response<Body> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut builder = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_CONTENT_TYPE))
            .header(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(seconds) = self.retry_after {
            builder = builder.header(header::RETRY_AFTER, seconds.to_string());
        }
        builder.body(Body::Text(self.to_json())).expect("static headers are valid")
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.type_uri)?;
        if let Some(field) = &self.field {
            write!(f, " [{field}]")?;
        }
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalogue_is_consistent() {
        let uris: HashSet<&str> = ProblemType::ALL.iter().map(|k| k.uri()).collect();
        assert_eq!(uris.len(), ProblemType::ALL.len(), "every type has its own URI");
        for kind in ProblemType::ALL {
            assert!(kind.uri().starts_with("/problems/"), "{kind:?}");
            assert!((400..600).contains(&kind.status()), "{kind:?}");
            assert!(!kind.title().is_empty());
        }
    }

    #[test]
    fn response_carries_content_type_retry_after_and_body() {
        let problem = Problem::field(ProblemType::InvalidField, "customer.document", "invalid CPF check digits");
        let response = problem.clone().into_response();
        assert_eq!(response.status(), 422);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_CONTENT_TYPE);
        let Body::Text(body) = response.body() else { panic!("text body") };
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["type"], "/problems/invalid-field");
        assert_eq!(json["title"], "Campo inválido");
        assert_eq!(json["status"], 422);
        assert_eq!(json["field"], "customer.document");
        assert_eq!(json["detail"], "invalid CPF check digits");
        assert!(json.get("status_key").is_none(), "absent members are omitted");
        assert_eq!(serde_json::from_str::<Problem>(body).unwrap(), problem);

        let busy = Problem::new(ProblemType::ServiceUnavailable).with_retry_after(2).into_response();
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "2");
    }
}
