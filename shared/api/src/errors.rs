//! Every failure as a [`Problem`]: use case refusals, domain refusals, flow validation and body parsing.

use osflow_app::{AppError, StoreError};
use osflow_domain::{DomainError, FlowDef, FlowError, Guard};
use osflow_lambda_kit::{Problem, ProblemType};
use serde::de::DeserializeOwned;

/// Seconds a client should wait before retrying when the store is unavailable.
pub const RETRY_AFTER_SECONDS: u32 = 2;

/// Largest accepted body: 1 MiB.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

fn guard_detail(guard: Guard) -> &'static str {
    match guard {
        Guard::QuoteApproved => "o orçamento ainda não foi aprovado pelo cliente",
        Guard::ChecklistComplete => "o checklist de qualidade não está completo, ou tem item não conforme",
        Guard::AtLeastOnePhoto => "é preciso anexar ao menos uma foto",
        Guard::PaidInFull => "o pagamento não foi quitado",
        Guard::InvoiceAuthorized => {
            "as notas fiscais da OS (NF-e das peças, NFS-e dos serviços) ainda não foram autorizadas"
        }
        Guard::NoPendingExtraItems => "há itens extras aguardando a aprovação do cliente",
    }
}

fn invoice_state_label(state: osflow_domain::InvoiceState) -> &'static str {
    match state {
        osflow_domain::InvoiceState::Pending => "pendente",
        osflow_domain::InvoiceState::Authorized => "autorizada",
        osflow_domain::InvoiceState::Rejected => "rejeitada",
        osflow_domain::InvoiceState::Denied => "denegada",
        osflow_domain::InvoiceState::Cancelled => "cancelada",
        osflow_domain::InvoiceState::Voided => "inutilizada",
    }
}

/// A refusal of the state machine.
pub fn domain_problem(e: &DomainError) -> Problem {
    match e {
        DomainError::NotAllowedInStatus { action, status } => Problem::new(ProblemType::NotAllowedInStatus)
            .with_detail(format!("a etapa {action} não é permitida no status {status}"))
            .with_action(action.clone())
            .with_status_key(status.to_string()),
        DomainError::RoleNotAllowed { action, allowed } => Problem::new(ProblemType::Forbidden)
            .with_detail(format!("o seu perfil não permite a etapa {action}"))
            .with_action(action.clone())
            .with_allowed_roles(allowed.iter().map(|r| r.as_str().to_owned()).collect()),
        DomainError::GuardFailed { action, guard } => Problem::new(ProblemType::GuardFailed)
            .with_detail(format!("{action}: {}", guard_detail(*guard)))
            .with_action(action.clone())
            .with_guard(guard.as_str()),
        DomainError::StaleRevision { revision } => Problem::field(
            ProblemType::StaleRevision,
            "revision",
            format!("a revisão {revision} do orçamento não é a que aguarda decisão"),
        ),
        DomainError::Invalid { field, reason } => {
            Problem::field(ProblemType::InvalidField, field.clone(), reason.clone())
        }
        DomainError::UnknownStatus { field, status } => Problem::field(
            ProblemType::UnknownStatus,
            field.clone(),
            format!("status desconhecido no fluxo da empresa: {status:?}"),
        ),
        DomainError::InvoiceRecordStale { key } => {
            Problem::new(ProblemType::Conflict).with_detail(format!("a OS já mostra este estado da nota {key}"))
        }
        DomainError::InvoiceNotRejected { state } => {
            Problem::new(ProblemType::InvoiceNotRejected).with_detail(match state {
                None => "a OS ainda não tem NF-e".to_owned(),
                Some(s) => format!("a NF-e da OS está {}", invoice_state_label(*s)),
            })
        }
        DomainError::InvoiceNotCancelled { key } => Problem::new(ProblemType::InvoiceNotCancelled).with_detail(
            format!("a NF-e {key} está autorizada: cancele-a antes (POST /v1/orders/{{id}}/invoices/{key}/cancel)"),
        ),
        DomainError::OrderTooLarge { bytes, limit } => Problem::new(ProblemType::OrderTooLarge).with_detail(format!(
            "esta etapa levaria a OS a {} KiB, acima do limite de {} KiB para acrescentar conteúdo (notas, anexos, \
             revisões…); o histórico completo continua na linha do tempo. A OS ainda pode seguir o fluxo (executar, \
             pagar, encerrar, cancelar). / This step would take the order to {} KiB, over the {} KiB limit for new \
             content; its full history stays in the timeline, and it can still move on or be cancelled.",
            bytes / 1024,
            limit / 1024,
            bytes / 1024,
            limit / 1024
        )),
        DomainError::FlowVersionMismatch { .. } => {
            tracing::error!(error = %e, "flow version mismatch");
            Problem::new(ProblemType::Internal)
        }
    }
}

fn status_index(def: &FlowDef, key: &osflow_domain::StatusKey, nth: usize) -> Option<usize> {
    def.statuses.iter().enumerate().filter(|(_, s)| &s.key == key).nth(nth).map(|(i, _)| i)
}

/// A refused flow definition, naming the field of the definition at fault when `def` is given.
pub fn flow_problem(e: &FlowError, def: Option<&FlowDef>) -> Problem {
    let status_field = |key: &osflow_domain::StatusKey, nth: usize, member: &str| {
        def.and_then(|d| status_index(d, key, nth))
            .map_or_else(|| "statuses".to_owned(), |i| format!("statuses[{i}]{member}"))
    };
    let (kind, field) = match e {
        FlowError::InvalidStatusKey(_) => (ProblemType::InvalidFlow, None),
        FlowError::DuplicateStatus(k) => (ProblemType::InvalidFlow, Some(status_field(k, 1, ".key"))),
        FlowError::BadLabel(k) => (ProblemType::InvalidFlow, Some(status_field(k, 0, ".label"))),
        FlowError::BadSla(k) => (ProblemType::InvalidFlow, Some(status_field(k, 0, ".sla_hours"))),
        FlowError::UnknownInitial(_) => (ProblemType::UnknownStatus, Some("initial".to_owned())),
        FlowError::InitialNotOpen(_) => (ProblemType::InvalidFlow, Some("initial".to_owned())),
        FlowError::UnknownStatus { index, status, .. } => {
            let end = match def.and_then(|d| d.transitions.get(*index)) {
                Some(t) if &t.from == status => "from",
                _ => "to",
            };
            (ProblemType::UnknownStatus, Some(format!("transitions[{index}].{end}")))
        }
        FlowError::ActionDoesNotFit { index, .. } => {
            (ProblemType::InvalidFlow, Some(format!("transitions[{index}].action")))
        }
        FlowError::DuplicateTransition { index, .. } => {
            (ProblemType::InvalidFlow, Some(format!("transitions[{index}]")))
        }
        FlowError::NoRoles { index, .. } => (ProblemType::InvalidFlow, Some(format!("transitions[{index}].roles"))),
        FlowError::NoClosedStatus => (ProblemType::InvalidFlow, Some("statuses".to_owned())),
        FlowError::Unreachable(k) | FlowError::CannotClose(k) => {
            (ProblemType::InvalidFlow, Some(status_field(k, 0, "")))
        }
    };
    let mut p = Problem::new(kind).with_detail(e.to_string());
    if let Some(f) = field {
        p = p.with_field(f);
    }
    p
}

/// A store failure: 503 (with `Retry-After`) when transient, 500 otherwise (logged).
pub fn store_problem(e: &StoreError) -> Problem {
    match e {
        StoreError::Unavailable(reason) => {
            tracing::warn!(%reason, "store unavailable");
            Problem::new(ProblemType::ServiceUnavailable)
                .with_detail("o armazenamento está indisponível no momento; tente novamente")
                .with_retry_after(RETRY_AFTER_SECONDS)
        }
        StoreError::NotFound => Problem::new(ProblemType::NotFound),
        StoreError::Conflict { current_version } => {
            Problem::new(ProblemType::Conflict).with_current_version(*current_version)
        }
        StoreError::AlreadyExists => {
            Problem::new(ProblemType::Conflict).with_detail("outra requisição fez esta alteração ao mesmo tempo")
        }
        StoreError::IdempotencyMismatch => idempotency_reused(),
        StoreError::Corrupt(_) | StoreError::Other(_) => {
            tracing::error!(error = %e, "store failure");
            Problem::new(ProblemType::Internal)
        }
    }
}

fn idempotency_reused() -> Problem {
    Problem::field(
        ProblemType::IdempotencyKeyReused,
        "Idempotency-Key",
        "esta chave já foi usada com outra requisição; use uma chave nova para uma requisição nova",
    )
}

/// A use case failure (`def`: the flow definition being published, to name its fields).
pub fn app_problem(e: &AppError, def: Option<&FlowDef>) -> Problem {
    match e {
        AppError::NotFound => Problem::new(ProblemType::NotFound).with_detail("OS não encontrada"),
        AppError::Forbidden { allowed } => Problem::new(ProblemType::Forbidden)
            .with_detail("o seu perfil não permite esta operação")
            .with_allowed_roles(allowed.iter().map(|r| r.as_str().to_owned()).collect()),
        AppError::Domain(d) => domain_problem(d),
        AppError::Flow(f) => flow_problem(f, def),
        AppError::PreconditionFailed { current_version } => Problem::new(ProblemType::PreconditionFailed)
            .with_field("If-Match")
            .with_detail(format!("a versão atual é {current_version}; leia de novo e refaça a operação"))
            .with_current_version(*current_version),
        AppError::Conflict { current_version } => Problem::new(ProblemType::Conflict)
            .with_detail("outras alterações simultâneas venceram; tente novamente")
            .with_current_version(*current_version),
        AppError::IdempotencyMismatch => idempotency_reused(),
        AppError::Store(s) => store_problem(s),
        AppError::NfeEvent(osflow_app::NfeEventError::Unavailable(reason)) => {
            tracing::warn!(%reason, "SEFAZ unavailable");
            Problem::new(ProblemType::ServiceUnavailable)
                .with_detail("a SEFAZ não respondeu; nada foi registrado, tente novamente")
                .with_retry_after(RETRY_AFTER_SECONDS)
        }
        AppError::NfeEvent(e) => Problem::new(ProblemType::FiscalEventRefused).with_detail(e.to_string()),
    }
}

/// Parses a JSON body into `T`, naming the offending field: 400 for what is not JSON, 422 for a JSON that does
/// not fit (a missing, unknown or invalid field). An empty body reads as `{}`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, Problem> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    // Well-formedness first, so that a syntax error is 400 whatever the content.
    let whole: serde_json::Value = serde_json::from_slice(body).map_err(|e| json_problem(&e, None))?;
    // Every request body is an object: serde would read a struct from an array of its fields in order.
    if !whole.is_object() {
        return Err(
            Problem::new(ProblemType::InvalidField).with_detail("o corpo da requisição deve ser um objeto JSON")
        );
    }
    // Then text that could not travel on the bus, wherever it is (see `osflow_domain::values::text`).
    untransportable_text(&whole, None)?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        json_problem(e.inner(), (path != ".").then_some(path))
    })?;
    de.end().map_err(|e| json_problem(&e, None))?;
    Ok(value)
}

/// Refuses a string (or a member name) holding a character SQS refuses or a Unicode non-character, naming its
/// path as the typed parse would (`items[1].description`).
fn untransportable_text(value: &serde_json::Value, path: Option<&str>) -> Result<(), Problem> {
    use osflow_domain::values::text::{refusal, untransportable};
    let refuse = |field: String, c: char| Problem::field(ProblemType::InvalidField, field, refusal(c));
    match value {
        serde_json::Value::String(s) => match untransportable(s) {
            Some(c) => Err(refuse(path.unwrap_or_default().to_owned(), c)),
            None => Ok(()),
        },
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| untransportable_text(item, Some(&format!("{}[{i}]", path.unwrap_or_default())))),
        serde_json::Value::Object(members) => members.iter().try_for_each(|(name, member)| {
            let field = join(path, name);
            if let Some(c) = untransportable(name) {
                return Err(refuse(field, c));
            }
            untransportable_text(member, Some(&field))
        }),
        _ => Ok(()),
    }
}

/// The text between the first pair of backquotes of a serde message (the field or variant it names).
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(&message[start..start + len])
}

fn join(path: Option<&str>, name: &str) -> String {
    match path {
        Some(p) => format!("{p}.{name}"),
        None => name.to_owned(),
    }
}

fn json_problem(e: &serde_json::Error, path: Option<String>) -> Problem {
    use serde_json::error::Category;
    let message = e.to_string();
    // serde_json appends the position; the field is a better pointer for data errors.
    let detail = match message.rfind(" at line ") {
        Some(i) if e.classify() == Category::Data => message[..i].to_owned(),
        _ => message.clone(),
    };
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            Problem::new(ProblemType::MalformedJson).with_detail(message)
        }
        Category::Data => {
            if detail.starts_with("unknown field") {
                // The path already ends with the unknown member.
                let name = quoted(&detail).unwrap_or_default();
                let field = match path {
                    Some(p) if p == name || p.ends_with(&format!(".{name}")) => p,
                    other => join(other.as_deref(), name),
                };
                Problem::field(ProblemType::UnknownField, field, detail)
            } else if detail.starts_with("missing field") {
                let name = quoted(&detail).unwrap_or_default();
                Problem::field(ProblemType::InvalidField, join(path.as_deref(), name), "campo obrigatório ausente")
            } else {
                let p = Problem::new(ProblemType::InvalidField).with_detail(detail);
                match path {
                    Some(f) => p.with_field(f),
                    None => p.with_detail("o corpo deve ser um objeto JSON"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dto::OpenOrderRequest;

    fn open_body(edit: impl FnOnce(&mut serde_json::Value)) -> Vec<u8> {
        let mut v = serde_json::json!({
            "customer": {"name": "Maria", "document": "529.982.247-25"},
            "equipment": {"description": "Notebook"},
            "service": {"type": "reparo", "reported_problem": "Não liga"},
            "items": [
                {"kind": "labor", "description": "Diagnóstico", "quantity": "1", "unit_price": "10.00"},
                {"kind": "labor", "description": "Reparo", "quantity": "1", "unit_price": "20.00"}
            ]
        });
        edit(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    fn problem(body: &[u8]) -> Problem {
        parse_json::<OpenOrderRequest>(body).unwrap_err()
    }

    #[test]
    fn valid_body_parses() {
        let r: OpenOrderRequest = parse_json(&open_body(|_| {})).unwrap();
        assert_eq!(r.items.len(), 2);
    }

    #[test]
    fn a_body_that_is_not_an_object_is_refused() {
        use crate::dto::requests::CompanySettingsInput;
        // serde reads a struct from an array of its fields in order: `[null, null]` would be settings of defaults.
        for body in [&b"[null, null]"[..], b"[]", b"42", b"\"x\"", b"null"] {
            let p = parse_json::<CompanySettingsInput>(body).unwrap_err();
            assert_eq!((p.status, p.type_uri.as_str()), (422, "/problems/invalid-field"), "{body:?}");
            assert_eq!(p.detail.as_deref(), Some("o corpo da requisição deve ser um objeto JSON"));
        }
        assert!(parse_json::<CompanySettingsInput>(b"{}").is_ok());
    }

    #[test]
    fn syntax_errors_are_400() {
        for body in [&b"{"[..], b"not json", b"{\"customer\": }", b"{} {}"] {
            let p = problem(body);
            assert_eq!((p.status, p.type_uri.as_str()), (400, "/problems/malformed-json"), "{body:?}");
        }
    }

    #[test]
    fn data_errors_name_the_field() {
        let p = problem(&open_body(|v| v["items"][1]["unit_price"] = "1.005".into()));
        assert_eq!((p.status, p.field.as_deref()), (422, Some("items[1].unit_price")));
        assert_eq!(p.detail.as_deref(), Some("amount has more than 2 decimal places"));

        let p = problem(&open_body(|v| v["customer"]["document"] = "529.982.247-24".into()));
        assert_eq!((p.type_uri.as_str(), p.field.as_deref()), ("/problems/invalid-field", Some("customer.document")));

        let p = problem(&open_body(|v| v["items"][0]["quantity"] = 1.into()));
        assert_eq!(p.field.as_deref(), Some("items[0].quantity"));

        let p = problem(&open_body(|v| v["customer"].as_object_mut().unwrap().remove("name").map(|_| ()).unwrap()));
        assert_eq!(p.field.as_deref(), Some("customer.name"));

        let p = problem(&open_body(|v| v["equipment"]["colour"] = "red".into()));
        assert_eq!((p.type_uri.as_str(), p.field.as_deref()), ("/problems/unknown-field", Some("equipment.colour")));

        let p = problem(&open_body(|v| v["surprise"] = 1.into()));
        assert_eq!(p.field.as_deref(), Some("surprise"));

        let p = problem(b"[]");
        assert_eq!((p.status, p.field.as_deref()), (422, None));
    }

    #[test]
    fn domain_and_app_errors_map_to_statuses() {
        let e = AppError::Store(StoreError::Unavailable("busy".into()));
        let p = app_problem(&e, None);
        assert_eq!((p.status, p.retry_after), (503, Some(RETRY_AFTER_SECONDS)));
        let p = app_problem(&AppError::PreconditionFailed { current_version: 4 }, None);
        assert_eq!((p.status, p.current_version), (412, Some(4)));
        let p = domain_problem(&DomainError::GuardFailed { action: "release".into(), guard: Guard::PaidInFull });
        assert_eq!((p.status, p.guard.as_deref()), (409, Some("paid_in_full")));
        assert_eq!(app_problem(&AppError::IdempotencyMismatch, None).status, 422);
    }
}
