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
use std::collections::BTreeMap;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};

use utoipa::openapi::link::{Link, LinkBuilder};
use utoipa::openapi::schema::{ArrayItems, ObjectBuilder, Schema, SchemaType, Type};
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
        (name = "records", description = "The company's customers and equipment, LGPD export and anonymization, edits of an open order's data, the company's users (function records)"),
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
const PROBLEM_STATUSES: [u16; 12] = [400, 401, 403, 404, 409, 412, 413, 415, 422, 429, 500, 503];

fn problem_response_name(status: u16) -> String {
    format!("Problem{status}")
}

fn problem_response(status: u16) -> RefOr<utoipa::openapi::Response> {
    let content = Content::new(Some(Ref::from_schema_name("Problem")));
    let mut response =
        ResponseBuilder::new().description(problem_description(status)).content(PROBLEM_CONTENT_TYPE, content);
    if status == 503 || status == 429 {
        let seconds = ObjectBuilder::new().schema_type(Type::Integer).build();
        response = response.header(
            "Retry-After",
            HeaderBuilder::new().schema(seconds).description(Some("Seconds to wait before retrying")).build(),
        );
    }
    RefOr::T(response.build())
}

/// What `Idempotency-Key` accepts: 1 to 255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]{1,255}$";
/// What `If-Match` accepts: `*`, or one entity tag of a version, strong, weak or bare, with spaces around.
pub const IF_MATCH_PATTERN: &str = r#"^[ \t]*(\*|(W/)?"[0-9]{1,19}"|[0-9]{1,19})[ \t]*$"#;

/// The characters free text refuses (see `osflow_domain::values::text` and the domain's text rule): C0 controls
/// but the line feed, DEL and the C1 controls, the non-characters of the Basic Multilingual Plane (those of the
/// other planes are refused too; a pattern without the `u` flag cannot name them).
const REFUSED: &str = r"\u0000-\u0009\u000B-\u001F\u007F-\u009F\uFDD0-\uFDEF\uFFFE\uFFFF";

/// The pattern of a text that must say something (trimmed, not empty): one character that is neither refused nor
/// white space.
fn required_text_pattern() -> String {
    format!(r"^[^{REFUSED}]*[^\s{REFUSED}][^{REFUSED}]*$")
}

/// The pattern of an optional text (empty or blank reads as absent).
fn optional_text_pattern() -> String {
    format!(r"^[^{REFUSED}]*$")
}

fn is_string(t: &SchemaType) -> bool {
    match t {
        SchemaType::Type(Type::String) => true,
        SchemaType::Array(types) => types.contains(&Type::String),
        _ => false,
    }
}

/// Free text as the API enforces it: every string property with a `maxLength` and no other format gets the text
/// pattern (`minLength: 1`: it must say something).
fn declare_text(schema: &mut Schema) {
    match schema {
        Schema::Object(object) => {
            if is_string(&object.schema_type)
                && object.max_length.is_some()
                && object.pattern.is_none()
                && object.format.is_none()
                && object.enum_values.is_none()
            {
                object.pattern =
                    Some(if object.min_length == Some(1) { required_text_pattern() } else { optional_text_pattern() });
            }
            for property in object.properties.values_mut() {
                if let RefOr::T(p) = property {
                    declare_text(p);
                }
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(item) = items.as_mut()
            {
                declare_text(item);
            }
        }
        Schema::OneOf(one) => one.items.iter_mut().for_each(|i| {
            if let RefOr::T(i) = i {
                declare_text(i)
            }
        }),
        Schema::AllOf(all) => all.items.iter_mut().for_each(|i| {
            if let RefOr::T(i) = i {
                declare_text(i)
            }
        }),
        Schema::AnyOf(any) => any.items.iter_mut().for_each(|i| {
            if let RefOr::T(i) = i {
                declare_text(i)
            }
        }),
        _ => {}
    }
}

/// The items of a list of texts (`parts`: each 1 to 120 characters).
fn text_items(schema: &mut Schema, property: &str, max_length: usize) {
    if let Schema::Object(object) = schema
        && let Some(RefOr::T(Schema::Array(array))) = object.properties.get_mut(property)
        && let ArrayItems::RefOrSchema(items) = &mut array.items
        && let RefOr::T(Schema::Object(item)) = items.as_mut()
    {
        item.min_length = Some(1);
        item.max_length = Some(max_length);
    }
}

/// The operations a stateful run may chain from an order's answer (its `id`), and what a created report leads to.
fn order_links() -> BTreeMap<String, RefOr<Link>> {
    ROUTES
        .iter()
        .filter(|r| r.path.starts_with("/v1/orders/{id}") && !r.path.contains("{key}"))
        .map(|r| {
            let link = LinkBuilder::new()
                .operation_id(r.operation)
                .parameter("id", "$response.body#/id")
                .description(format!("{} {} of this order", r.method, r.path))
                .build();
            (r.operation.to_owned(), RefOr::T(link))
        })
        .collect()
}

fn header_param(
    name: &str,
    description: &str,
    max_length: Option<usize>,
    pattern: &str,
) -> utoipa::openapi::path::Parameter {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(max_length.map(|_| 1))
        .max_length(max_length)
        .pattern(Some(pattern));
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

        for schema in components.schemas.values_mut() {
            if let RefOr::T(schema) = schema {
                declare_text(schema);
            }
        }
        if let Some(RefOr::T(wait)) = components.schemas.get_mut("WaitMaterialRequest") {
            text_items(wait, "parts", 120);
        }
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
    // 429: the company is over its request limit (every authenticated route).
    let mut statuses: Vec<u16> = vec![401, 403, 404, 429, 500, 503];
    if write {
        statuses.extend([400, 409, 412, 413, 415, 422]);
    } else if op.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Query) {
        statuses.extend([400, 422]);
    }
    // Reading the unlock code is a step recorded on the order, refused as one: 409 once the order is closed or
    // cancelled, 422 when no code was left.
    if route.operation == "read_unlock_code" {
        statuses.extend([409, 422]);
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
            IDEMPOTENCY_KEY_PATTERN,
        ));
        params.push(header_param(
            "If-Match",
            "The `ETag` last read (`\"3\"`, `W/\"3\"` or `3`, or `*`): the write is refused with 412 when the version \
moved.",
            None,
            IF_MATCH_PATTERN,
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
    // An order's answer (opened, or after a step) leads to every operation on that order.
    let answers_an_order = route.operation == "open_order"
        || (write
            && route.path.starts_with("/v1/orders/{id}")
            && route.operation != "add_attachment"
            // The events of an NF-e answer the NF-e, not the order.
            && !route.path.starts_with("/v1/orders/{id}/invoices/{key}/"))
        || route.operation == "get_order";
    if answers_an_order {
        for (status, response) in op.responses.responses.iter_mut() {
            if status.starts_with('2')
                && let RefOr::T(r) = response
            {
                r.links = order_links();
            }
        }
    }
    // A report made now leads to the report and its first file.
    if route.operation == "create_report"
        && let Some(RefOr::T(created)) = op.responses.responses.get_mut("201")
    {
        let get = LinkBuilder::new().operation_id("get_report").parameter("id", "$response.body#/id").build();
        let file = LinkBuilder::new()
            .operation_id("report_file")
            .parameter("id", "$response.body#/id")
            .parameter("file", "$response.body#/files/0")
            .build();
        created.links =
            BTreeMap::from([("get_report".to_owned(), RefOr::T(get)), ("report_file".to_owned(), RefOr::T(file))]);
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
    // utoipa 5.5 writes a link's members in snake case; OpenAPI names them `operationId`, `operationRef`,
    // `requestBody` (only links have such members).
    let mut json = doc
        .to_pretty_json()
        .expect("the document serializes")
        .replace("\"operation_id\": ", "\"operationId\": ")
        .replace("\"operation_ref\": ", "\"operationRef\": ")
        .replace("\"request_body\": ", "\"requestBody\": ");
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
