//! The route table: every route of the API, the Lambda function and the handler that serve it, and path matching.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::LazyLock;

use crate::http::{Cx, Res};
use crate::{handlers, nfe, nfse, paperwork, records, reports, unlock, users};

/// The functions, written once: `Name => "package",` makes the enum [`Function`], [`Function::ALL`],
/// [`Function::package`] and the marker type [`only`]`::Name` of each.
macro_rules! functions {
    ($($name:ident => $package:literal,)*) => {
        /// The Lambda functions of the HTTP API (one package each under `functions/`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Function {
            $($name,)*
        }

        impl Function {
            pub const ALL: [Function; [$(Function::$name),*].len()] = [$(Function::$name),*];

            /// The package (and folder) name under `functions/`.
            pub fn package(self) -> &'static str {
                match self {
                    $(Function::$name => $package,)*
                }
            }
        }

        /// One type per function, for [`Serves`]: `osflow_fn_common::serve::<osflow_api::only::Close>()`.
        pub mod only {
            use super::{Function, Serves};

            $(
                #[doc = concat!("The handlers of [`Function::", stringify!($name), "`] only.")]
                #[derive(Debug, Clone, Copy)]
                pub struct $name;

                impl Serves for $name {
                    const ONLY: Option<Function> = Some(Function::$name);
                }
            )*
        }
    };
}

functions! {
    OpenOrder => "open-order",
    Quote => "quote",
    Execution => "execution",
    Material => "material",
    Finish => "finish",
    Validation => "validation",
    Payment => "payment",
    Close => "close",
    OrdersQuery => "orders-query",
    FlowAdmin => "flow-admin",
    FiscalAdmin => "fiscal-admin",
    Reports => "reports",
    Records => "records",
}

impl Function {
    /// The routes this function serves.
    pub fn routes(self) -> impl Iterator<Item = &'static Route> {
        ROUTES.iter().filter(move |r| r.function == self)
    }

    /// Whether this function's routes give an order a technician or list the company's users (the user
    /// directory: Cognito in the functions).
    pub const fn uses_users(self) -> bool {
        matches!(self, Function::OpenOrder | Function::Records)
    }

    /// Whether this function's routes read or write blobs (attachments, fiscal XML, the DANFE, report files):
    /// the others are wired without the S3 client.
    pub const fn uses_blobs(self) -> bool {
        matches!(self, Function::Execution | Function::Payment | Function::FiscalAdmin | Function::Reports)
    }

    /// Whether this function's routes seal or open the equipment's unlock codes (opening an order with one, the
    /// records' change and read): only they read the sealing key, so only they link the Secrets Manager client.
    pub const fn keeps_unlock_codes(self) -> bool {
        matches!(self, Function::OpenOrder | Function::Records)
    }
}

/// The handlers a binary can run, known when it is compiled: [`handle_only`](crate::handle_only) dispatches
/// through a `match` whose arms for other functions are constant-false, so a function's bootstrap references
/// (and links) only its own handlers and what they use — not the report charts, the PDFs or the OpenAPI document
/// of the routes it does not serve.
pub trait Serves {
    /// `Some(f)`: only `f`'s routes (a Lambda function); `None`: every route (osflow-local, the console).
    const ONLY: Option<Function>;
    /// Whether the binary needs a blob store (S3 in the functions).
    const BLOBS: bool = match Self::ONLY {
        Some(f) => f.uses_blobs(),
        None => true,
    };
    /// Whether the binary seals or opens unlock codes (the sealing key from Secrets Manager in the functions).
    const UNLOCK_CODES: bool = match Self::ONLY {
        Some(f) => f.keeps_unlock_codes(),
        None => true,
    };
    /// Whether the binary needs the company's user directory (Cognito in the functions).
    const USERS: bool = match Self::ONLY {
        Some(f) => f.uses_users(),
        None => true,
    };
}

/// Every route's handler (osflow-local, the console, the tests).
#[derive(Debug, Clone, Copy)]
pub struct Every;

impl Serves for Every {
    const ONLY: Option<Function> = None;
}

/// Whether a binary of `S` runs the handlers of `function` (constant for each `S`).
const fn serves<S: Serves>(function: Function) -> bool {
    match S::ONLY {
        Some(only) => only as u8 == function as u8,
        None => true,
    }
}

/// One route: method, path template (API Gateway syntax, `{id}`), the function serving it, the operation (the
/// handler's name, also the OpenAPI `operationId`); its handler is run by [`dispatch`].
#[derive(Clone, Copy)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    pub operation: &'static str,
    pub(crate) op: Op,
}

/// Routes are the same when their method and path are (the table has each once).
impl PartialEq for Route {
    fn eq(&self, other: &Route) -> bool {
        self.method == other.method && self.path == other.path
    }
}

impl Eq for Route {}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("function", &self.function)
            .field("operation", &self.operation)
            .finish_non_exhaustive()
    }
}

/// The future of a handler.
pub(crate) type Handled<'a> = Pin<Box<dyn Future<Output = Res> + Send + 'a>>;

/// The route table, written once: `METHOD "path", Function => module::handler;`. It makes [`ROUTES`] (the
/// routes as data; the operation is the handler's name), [`dispatch`] (a handler the compiler checks for every
/// route) and [`RoutePaths`] (the handlers' `#[utoipa::path]` documents, whose `operationId` is the same name).
macro_rules! routes {
    ($($method:ident $path:literal, $function:ident => $module:ident :: $handler:ident;)*) => {
        /// Every route of the API (the customer's page `/p/{token}` is served by the portal function, outside this
        /// API).
        pub const ROUTES: &[Route] = &[$(
            Route {
                method: stringify!($method),
                path: $path,
                function: Function::$function,
                operation: stringify!($handler),
                op: Op::$handler,
            },
        )*];

        /// The routes' handlers, one variant each.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Op { $($handler,)* }

        /// Runs `route`'s handler when a binary of `S` runs it (`None`: a route of another function). The guards
        /// are constants for each `S`: the other functions' handlers are not referenced by its code.
        pub(crate) fn dispatch<'a, S: Serves>(route: &Route, cx: &'a Cx<'a>) -> Option<Handled<'a>> {
            match route.op {
                $(Op::$handler if const { serves::<S>(Function::$function) } => {
                    Some(Box::pin($module::$handler(cx)) as Handled<'a>)
                })*
                _ => None,
            }
        }

        /// The OpenAPI paths of [`ROUTES`], from the handlers' `#[utoipa::path]` attributes (only the document's
        /// generator uses it: the functions serve the committed document).
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($module::$handler),*))]
        pub(crate) struct RoutePaths;
    };
}

routes! {
    // 1. Abertura
    POST "/v1/orders", OpenOrder => handlers::open_order;
    POST "/v1/orders/{id}/warranty-return", OpenOrder => paperwork::warranty_return;
    // 2. Aprovação
    POST "/v1/orders/{id}/quote/send", Quote => handlers::send_quote;
    PUT "/v1/orders/{id}/quote", Quote => handlers::revise_quote;
    POST "/v1/orders/{id}/quote/decision", Quote => handlers::decide_quote;
    POST "/v1/orders/{id}/link/resend", Quote => handlers::resend_link;
    // 3. Execução
    POST "/v1/orders/{id}/start", Execution => handlers::start;
    POST "/v1/orders/{id}/notes", Execution => handlers::add_note;
    POST "/v1/orders/{id}/attachments", Execution => handlers::add_attachment;
    POST "/v1/orders/{id}/cancel", Execution => handlers::cancel;
    POST "/v1/orders/{id}/move", Execution => handlers::move_order;
    // 4. Pausa para materiais
    POST "/v1/orders/{id}/material/wait", Material => handlers::wait_material;
    PATCH "/v1/orders/{id}/material", Material => handlers::change_material_date;
    POST "/v1/orders/{id}/material/arrived", Material => handlers::material_arrived;
    // 5. Finalização
    POST "/v1/orders/{id}/finish", Finish => handlers::finish;
    // 6. Validação
    POST "/v1/orders/{id}/validation", Validation => handlers::validate;
    // 7. Pagamento e liberação
    POST "/v1/orders/{id}/payment/request", Payment => handlers::request_payment;
    POST "/v1/orders/{id}/payments", Payment => handlers::register_payment;
    POST "/v1/orders/{id}/release", Payment => handlers::release;
    GET "/v1/orders/{id}/invoices", Payment => handlers::list_invoices;
    GET "/v1/orders/{id}/invoices/{key}/xml", Payment => handlers::invoice_xml;
    POST "/v1/orders/{id}/invoices/retry", Payment => handlers::retry_invoice;
    GET "/v1/orders/{id}/invoices/{key}/danfe.pdf", Payment => nfe::invoice_danfe;
    GET "/v1/orders/{id}/invoices/{key}/danfse.pdf", Payment => nfe::invoice_danfse;
    GET "/v1/orders/{id}/invoices/{key}/cancel/xml", Payment => nfe::invoice_cancellation_xml;
    GET "/v1/orders/{id}/invoices/{key}/corrections", Payment => nfe::list_corrections;
    GET "/v1/orders/{id}/invoices/{key}/corrections/{seq}/xml", Payment => nfe::correction_xml;
    POST "/v1/orders/{id}/invoices/{key}/retry", Payment => nfse::retry_document;
    GET "/v1/orders/{id}/invoices/{key}/file", Payment => nfse::external_nfse_file;
    // 8. Encerramento
    POST "/v1/orders/{id}/close", Close => handlers::close;
    // Reads
    GET "/v1/orders", OrdersQuery => handlers::list_orders;
    GET "/v1/orders/{id}", OrdersQuery => handlers::get_order;
    GET "/v1/orders/{id}/timeline", OrdersQuery => handlers::timeline;
    GET "/v1/orders/{id}/notifications", OrdersQuery => handlers::order_notifications;
    GET "/v1/customers/{document}/orders", OrdersQuery => handlers::customer_orders;
    GET "/v1/orders/{id}/receipts/entry", OrdersQuery => paperwork::entry_receipt;
    GET "/v1/orders/{id}/receipts/delivery", OrdersQuery => paperwork::delivery_receipt;
    GET "/v1/openapi.json", OrdersQuery => handlers::openapi;
    // Flow editor
    GET "/v1/flow", FlowAdmin => handlers::get_flow;
    PUT "/v1/flow", FlowAdmin => handlers::publish_flow;
    GET "/v1/flow/versions", FlowAdmin => handlers::flow_versions;
    GET "/v1/settings/notifications", FlowAdmin => handlers::get_notification_settings;
    PUT "/v1/settings/notifications", FlowAdmin => handlers::put_notification_settings;
    GET "/v1/settings/company", FlowAdmin => paperwork::get_company_settings;
    PUT "/v1/settings/company", FlowAdmin => paperwork::put_company_settings;
    // NF-e emitter (the only function that links the NF-e library: certificates are opened here)
    GET "/v1/fiscal/emitter", FiscalAdmin => handlers::get_fiscal_emitter;
    PUT "/v1/fiscal/emitter", FiscalAdmin => handlers::put_fiscal_emitter;
    // Events of an authorized NF-e or an issued NFS-e (signed with the company's certificate: the function that links the library)
    POST "/v1/orders/{id}/invoices/{key}/cancel", FiscalAdmin => nfe::cancel_invoice;
    POST "/v1/orders/{id}/invoices/{key}/corrections", FiscalAdmin => nfe::correct_invoice;
    // The NF-e numbers given up and their inutilização (signed with the company's certificate)
    GET "/v1/fiscal/nfe/gaps", FiscalAdmin => nfe::nfe_gaps;
    POST "/v1/fiscal/nfe/voids", FiscalAdmin => nfe::void_nfe_numbers;
    GET "/v1/fiscal/nfe/voids/{first}/xml", FiscalAdmin => nfe::nfe_void_xml;
    // An NFS-e issued elsewhere, recorded with its file (the fiscal function writes fiscal files)
    POST "/v1/orders/{id}/invoices/external", FiscalAdmin => nfse::record_external_nfse;
    // Reports
    GET "/v1/reports/summary", Reports => reports::report_summary;
    GET "/v1/reports", Reports => reports::list_reports;
    POST "/v1/reports", Reports => reports::create_report;
    GET "/v1/reports/{id}", Reports => reports::get_report;
    GET "/v1/reports/{id}/files/{file}", Reports => reports::report_file;
    // The company's records: customers, equipment, and the edits of an open order's data
    POST "/v1/customers", Records => records::create_customer;
    GET "/v1/customers/{document}", Records => records::get_customer;
    PUT "/v1/customers/{document}", Records => records::edit_customer;
    GET "/v1/customers/{document}/export", Records => records::export_customer;
    POST "/v1/customers/{document}/anonymize", Records => records::anonymize_customer;
    POST "/v1/customers/{document}/equipment", Records => records::create_equipment;
    GET "/v1/equipment", Records => records::find_equipment;
    GET "/v1/equipment/{id}", Records => records::get_equipment;
    PUT "/v1/equipment/{id}", Records => records::edit_equipment;
    PUT "/v1/orders/{id}/customer", Records => records::edit_order_customer;
    PUT "/v1/orders/{id}/equipment", Records => records::edit_order_equipment;
    PUT "/v1/orders/{id}/due-date", Records => records::change_due_date;
    PUT "/v1/orders/{id}/technician", Records => records::assign_technician;
    PUT "/v1/orders/{id}/unlock-code", Records => unlock::change_unlock_code;
    GET "/v1/orders/{id}/unlock-code", Records => unlock::read_unlock_code;
    GET "/v1/users", Records => users::list_users;
}

/// API Gateway's route key of a route: `"POST /v1/orders/{id}/start"`.
pub fn route_key(r: &Route) -> String {
    format!("{} {}", r.method, r.path)
}

/// The route with this route key.
pub fn by_route_key(key: &str) -> Option<&'static Route> {
    let (method, path) = key.split_once(' ')?;
    ROUTES.iter().find(|r| r.method == method && r.path == path)
}

/// The route with this operation name.
pub fn by_operation(operation: &str) -> Option<&'static Route> {
    ROUTES.iter().find(|r| r.operation == operation)
}

/// Path template → (method → route index).
static ROUTER: LazyLock<matchit::Router<BTreeMap<&'static str, usize>>> = LazyLock::new(|| {
    let mut by_path: BTreeMap<&'static str, BTreeMap<&'static str, usize>> = BTreeMap::new();
    for (i, r) in ROUTES.iter().enumerate() {
        by_path.entry(r.path).or_default().insert(r.method, i);
    }
    let mut router = matchit::Router::new();
    for (path, methods) in by_path {
        router.insert(path, methods).expect("the route table has no conflicting paths");
    }
    router
});

/// The outcome of matching a request line against the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matched {
    Route(&'static Route, Vec<(String, String)>),
    /// The path exists with other methods.
    MethodNotAllowed(Vec<&'static str>),
    NotFound,
}

/// Matches a method and a path (without query string) against [`ROUTES`]; also gives the methods of a path
/// that exists with other methods.
pub fn resolve(method: &str, path: &str) -> Matched {
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    let Ok(m) = ROUTER.at(path) else { return Matched::NotFound };
    match m.value.get(method) {
        Some(&i) => {
            let params = m.params.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
            Matched::Route(&ROUTES[i], params)
        }
        None => Matched::MethodNotAllowed(m.value.keys().copied().collect()),
    }
}

/// The route a request line goes to and its path parameters (raw, as in the path), as API Gateway would find
/// them; osflow-local uses it to build the request context.
pub fn match_route(method: &str, path: &str) -> Option<(&'static Route, Vec<(String, String)>)> {
    match resolve(method, path) {
        Matched::Route(r, params) => Some((r, params)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn table_is_consistent() {
        let keys: HashSet<String> = ROUTES.iter().map(route_key).collect();
        assert_eq!(keys.len(), ROUTES.len(), "route keys are unique");
        let ops: HashSet<&str> = ROUTES.iter().map(|r| r.operation).collect();
        assert_eq!(ops.len(), ROUTES.len(), "operations are unique");
        for f in Function::ALL {
            assert!(f.routes().next().is_some(), "{} serves no route", f.package());
        }
        for r in ROUTES {
            assert_eq!(by_route_key(&route_key(r)), Some(r));
            assert_eq!(by_operation(r.operation), Some(r));
        }
        assert_eq!(route_key(by_operation("start").unwrap()), "POST /v1/orders/{id}/start");
    }

    #[test]
    fn every_route_matches_itself() {
        for r in ROUTES {
            let concrete = r
                .path
                .replace("{id}", "0190c1a2-0000-7000-8000-000000000001")
                .replace("{key}", "K")
                .replace("{seq}", "1")
                .replace("{document}", "52998224725");
            let (found, params) = match_route(r.method, &concrete).unwrap_or_else(|| panic!("{}", route_key(r)));
            assert_eq!(found, r);
            for (name, value) in params {
                assert!(r.path.contains(&format!("{{{name}}}")));
                assert!(!value.is_empty());
            }
        }
    }

    #[test]
    fn matching_gives_params_405_and_404() {
        let (r, params) = match_route("POST", "/v1/orders/abc/quote/send").unwrap();
        assert_eq!(r.operation, "send_quote");
        assert_eq!(params, [("id".to_owned(), "abc".to_owned())]);
        let (r, params) = match_route("GET", "/v1/orders/abc/invoices/3525/xml").unwrap();
        assert_eq!(r.operation, "invoice_xml");
        assert_eq!(params.len(), 2);
        assert_eq!(match_route("GET", "/v1/orders/").unwrap().0.operation, "list_orders");
        assert_eq!(resolve("DELETE", "/v1/orders/abc"), Matched::MethodNotAllowed(vec!["GET"]));
        let mut methods = match resolve("PATCH", "/v1/flow") {
            Matched::MethodNotAllowed(m) => m,
            other => panic!("{other:?}"),
        };
        methods.sort();
        assert_eq!(methods, ["GET", "PUT"]);
        assert_eq!(resolve("POST", "/v1/orders/abc/fly"), Matched::NotFound);
        assert_eq!(resolve("GET", "/v2/orders"), Matched::NotFound);
    }
}
