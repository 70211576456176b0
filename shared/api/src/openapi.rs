//! The OpenAPI 3.1 document, generated from the code: the DTOs' `ToSchema` derives, the handlers'
//! `#[utoipa::path]` attributes (listed by the route table, whose operation names are their `operationId`s), and
//! [`Common`], which adds what every operation shares (the JWT security, the
//! problem responses by status, the `Idempotency-Key`/`If-Match` headers of writes).
//!
//! It is served at `GET /v1/openapi.json` and committed at the repository root as `openapi.json`; the test
//! `openapi_document_is_up_to_date` fails when they differ. To update the committed file:
//! `UPDATE_OPENAPI=1 cargo test -p osflow-api openapi`.

use std::sync::LazyLock;

use osflow_lambda_kit::{PROBLEM_CONTENT_TYPE, ProblemDetails, ProblemType};
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes::{ROUTES, RoutePaths, by_operation};

/// The API document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "osflow API",
        description = "The service-order (OS) flow of Brazilian repair shops: opening, quote approval, execution, \
material, finish, validation, payment and release, closing. Money and quantities are decimal strings (\"149.90\"), \
dates ISO 8601. Errors are application/problem+json with a stable `type` (see `Problem`). Writes accept \
`Idempotency-Key`; reads of an order return its version as `ETag`, and writes accept `If-Match`."
    ),
    components(schemas(ProblemDetails)),
    tags(
        (name = "open-order", description = "Step 1, Abertura (function open-order)"),
        (name = "quote", description = "Step 2, Aprovação do cliente (function quote)"),
        (name = "execution", description = "Step 3, Execução; notes, attachments, cancel, move (function execution)"),
        (name = "material", description = "Step 4, Pausa para materiais (function material)"),
        (name = "finish", description = "Step 5, Finalização (function finish)"),
        (name = "validation", description = "Step 6, Validação (function validation)"),
        (name = "payment", description = "Step 7, Pagamento e liberação; invoices (function payment)"),
        (name = "close", description = "Step 8, Encerramento (function close)"),
        (name = "orders-query", description = "Reads (function orders-query)"),
        (name = "flow-admin", description = "The company's flow editor (function flow-admin)"),
        (name = "fiscal-admin", description = "The company's NF-e emitter and A1 certificate (function fiscal-admin)"),
        (name = "reports", description = "Reports: live summary, scheduled reports and their files (function reports)"),
    )
)]
#[derive(Debug)]
/// The frame of the document (info, tags, the problem schema); [`document`] adds the paths of the route table.
pub struct ApiDoc;

/// The security scheme name.
const JWT: &str = "jwt";

/// What every operation shares.
struct Common;

/// The problem types of a status, for the description of its response.
fn problem_description(status: u16) -> String {
    let types: Vec<&str> = ProblemType::ALL.iter().filter(|k| k.status() == status).map(|k| k.uri()).collect();
    format!("Problem: {}", types.join(", "))
}

/// The statuses of the problem responses (components `Problem<status>`).
const PROBLEM_STATUSES: [u16; 11] = [400, 401, 403, 404, 409, 412, 413, 415, 422, 500, 503];

fn problem_response_name(status: u16) -> String {
    format!("Problem{status}")
}

fn problem_response(status: u16) -> RefOr<utoipa::openapi::Response> {
    let content = Content::new(Some(Ref::from_schema_name("Problem")));
    let mut response =
        ResponseBuilder::new().description(problem_description(status)).content(PROBLEM_CONTENT_TYPE, content);
    if status == 503 {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).build();
        response = response.header(
            "Retry-After",
            HeaderBuilder::new().schema(seconds).description(Some("Seconds to wait before retrying")).build(),
        );
    }
    RefOr::T(response.build())
}

fn header_param(name: &str, description: &str, max_length: Option<usize>) -> utoipa::openapi::path::Parameter {
    let schema =
        ObjectBuilder::new().schema_type(Type::String).min_length(max_length.map(|_| 1)).max_length(max_length);
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema.build()))
        .build()
}

impl Modify for Common {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".to_owned());
        bearer.description = Some(
            "A JWT of the company's user pool (API Gateway's JWT authorizer): `custom:tenant` is the company, `sub` \
the user, `cognito:groups` the roles (representante, atendente, tecnico, financeiro)."
                .to_owned(),
        );
        components.security_schemes.insert(JWT.to_owned(), SecurityScheme::Http(bearer));
        for status in PROBLEM_STATUSES {
            components.responses.insert(problem_response_name(status), problem_response(status));
        }
        doc.security = Some(vec![SecurityRequirement::new(JWT, Vec::<String>::new())]);

        for item in doc.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.patch, &mut item.delete];
            for op in ops.into_iter().flatten() {
                decorate(op);
            }
        }
    }
}

fn decorate(op: &mut Operation) {
    let Some(route) = op.operation_id.as_deref().and_then(by_operation) else { return };
    if route.operation == "openapi" {
        op.security = Some(vec![]);
        return;
    }
    let write = route.method != "GET";
    let order_write = write && route.path.starts_with("/v1/orders");
    let mut statuses: Vec<u16> = vec![401, 403, 404, 500, 503];
    if write {
        statuses.extend([400, 409, 412, 413, 415, 422]);
    } else if op.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query) {
        statuses.extend([400, 422]);
    }
    if write {
        let params = op.parameters.get_or_insert_with(Vec::new);
        params.push(header_param(
            "Idempotency-Key",
            if order_write {
                "1 to 255 visible ASCII characters. A retry with the same key and request gets the first response \
again (with `Idempotent-Replayed: true`); the same key with another request is a 422 problem. Kept 24 hours."
            } else {
                "Accepted for uniformity; publishing the current definition again publishes nothing."
            },
            Some(255),
        ));
        params.push(header_param(
            "If-Match",
            "The `ETag` last read (`\"3\"`, `W/\"3\"` or `3`): the write is refused with 412 when the version moved.",
            None,
        ));
        if order_write {
            for response in op.responses.responses.values_mut() {
                if let RefOr::T(r) = response {
                    let flag = ObjectBuilder::new().schema_type(Type::Boolean).build();
                    r.headers.insert(
                        "Idempotent-Replayed".to_owned(),
                        HeaderBuilder::new().schema(flag).description(Some("`true` on a replayed response")).build(),
                    );
                }
            }
        }
    }
    statuses.sort_unstable();
    for status in statuses {
        let response = RefOr::Ref(Ref::from_response_name(problem_response_name(status)));
        op.responses.responses.entry(status.to_string()).or_insert(response);
    }
}

/// The whole document: [`ApiDoc`] with the paths of the route table, decorated with what every operation shares.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(RoutePaths::openapi());
    Common.modify(&mut doc);
    doc
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let doc = document();
    debug_assert_eq!(doc.paths.paths.values().map(count_ops).sum::<usize>(), ROUTES.len());
    let mut json = doc.to_pretty_json().expect("the document serializes");
    json.push('\n');
    json
});

fn count_ops(item: &utoipa::openapi::PathItem) -> usize {
    [&item.get, &item.put, &item.post, &item.patch, &item.delete].into_iter().filter(|o| o.is_some()).count()
}

/// The document generated from the code (pretty JSON, final newline): what `openapi.json` at the repository root
/// must be (a test compares them; `UPDATE_OPENAPI=1` rewrites the file).
pub fn openapi_json() -> &'static str {
    &DOCUMENT
}

pub use crate::http::SERVED_OPENAPI;
