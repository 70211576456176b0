//! The route table: every route of the API, the Lambda function that serves it, and path matching.

use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The Lambda functions of the HTTP API (one package each under `functions/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    OpenOrder,
    Quote,
    Execution,
    Material,
    Finish,
    Validation,
    Payment,
    Close,
    OrdersQuery,
    FlowAdmin,
    FiscalAdmin,
    Reports,
}

impl Function {
    pub const ALL: [Function; 12] = [
        Function::OpenOrder,
        Function::Quote,
        Function::Execution,
        Function::Material,
        Function::Finish,
        Function::Validation,
        Function::Payment,
        Function::Close,
        Function::OrdersQuery,
        Function::FlowAdmin,
        Function::FiscalAdmin,
        Function::Reports,
    ];

    /// The package (and folder) name under `functions/`.
    pub fn package(self) -> &'static str {
        match self {
            Function::OpenOrder => "open-order",
            Function::Quote => "quote",
            Function::Execution => "execution",
            Function::Material => "material",
            Function::Finish => "finish",
            Function::Validation => "validation",
            Function::Payment => "payment",
            Function::Close => "close",
            Function::OrdersQuery => "orders-query",
            Function::FlowAdmin => "flow-admin",
            Function::FiscalAdmin => "fiscal-admin",
            Function::Reports => "reports",
        }
    }

    /// The routes this function serves.
    pub fn routes(self) -> impl Iterator<Item = &'static Route> {
        ROUTES.iter().filter(move |r| r.function == self)
    }
}

/// One route: method, path template (API Gateway syntax, `{id}`), the function serving it, and the operation
/// (also the OpenAPI `operationId`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub function: Function,
    pub operation: &'static str,
}

const fn route(method: &'static str, path: &'static str, function: Function, operation: &'static str) -> Route {
    Route { method, path, function, operation }
}

use Function as F;

/// Every route of the API (DESIGN §4; the customer portal `/p/{token}` is served by the portal function, outside
/// this API).
pub const ROUTES: &[Route] = &[
    // 1. Abertura
    route("POST", "/v1/orders", F::OpenOrder, "open_order"),
    // 2. Aprovação
    route("POST", "/v1/orders/{id}/quote/send", F::Quote, "send_quote"),
    route("PUT", "/v1/orders/{id}/quote", F::Quote, "revise_quote"),
    route("POST", "/v1/orders/{id}/quote/decision", F::Quote, "decide_quote"),
    // 3. Execução
    route("POST", "/v1/orders/{id}/start", F::Execution, "start"),
    route("POST", "/v1/orders/{id}/notes", F::Execution, "add_note"),
    route("POST", "/v1/orders/{id}/attachments", F::Execution, "add_attachment"),
    route("POST", "/v1/orders/{id}/cancel", F::Execution, "cancel"),
    route("POST", "/v1/orders/{id}/move", F::Execution, "move_order"),
    // 4. Pausa para materiais
    route("POST", "/v1/orders/{id}/material/wait", F::Material, "wait_material"),
    route("PATCH", "/v1/orders/{id}/material", F::Material, "change_material_date"),
    route("POST", "/v1/orders/{id}/material/arrived", F::Material, "material_arrived"),
    // 5. Finalização
    route("POST", "/v1/orders/{id}/finish", F::Finish, "finish"),
    // 6. Validação
    route("POST", "/v1/orders/{id}/validation", F::Validation, "validate"),
    // 7. Pagamento e liberação
    route("POST", "/v1/orders/{id}/payment/request", F::Payment, "request_payment"),
    route("POST", "/v1/orders/{id}/payments", F::Payment, "register_payment"),
    route("POST", "/v1/orders/{id}/release", F::Payment, "release"),
    route("GET", "/v1/orders/{id}/invoices", F::Payment, "list_invoices"),
    route("GET", "/v1/orders/{id}/invoices/{key}/xml", F::Payment, "invoice_xml"),
    route("POST", "/v1/orders/{id}/invoices/retry", F::Payment, "retry_invoice"),
    // 8. Encerramento
    route("POST", "/v1/orders/{id}/close", F::Close, "close"),
    // Reads
    route("GET", "/v1/orders", F::OrdersQuery, "list_orders"),
    route("GET", "/v1/orders/{id}", F::OrdersQuery, "get_order"),
    route("GET", "/v1/orders/{id}/timeline", F::OrdersQuery, "timeline"),
    route("GET", "/v1/orders/{id}/notifications", F::OrdersQuery, "order_notifications"),
    route("GET", "/v1/customers/{document}/orders", F::OrdersQuery, "customer_orders"),
    route("GET", "/v1/openapi.json", F::OrdersQuery, "openapi"),
    // Flow editor
    route("GET", "/v1/flow", F::FlowAdmin, "get_flow"),
    route("PUT", "/v1/flow", F::FlowAdmin, "publish_flow"),
    route("GET", "/v1/flow/versions", F::FlowAdmin, "flow_versions"),
    route("GET", "/v1/settings/notifications", F::FlowAdmin, "get_notification_settings"),
    route("PUT", "/v1/settings/notifications", F::FlowAdmin, "put_notification_settings"),
    // NF-e emitter (the only function that links the NF-e library: certificates are opened here)
    route("GET", "/v1/fiscal/emitter", F::FiscalAdmin, "get_fiscal_emitter"),
    route("PUT", "/v1/fiscal/emitter", F::FiscalAdmin, "put_fiscal_emitter"),
    // Reports
    route("GET", "/v1/reports/summary", F::Reports, "report_summary"),
    route("GET", "/v1/reports", F::Reports, "list_reports"),
    route("POST", "/v1/reports", F::Reports, "create_report"),
    route("GET", "/v1/reports/{id}", F::Reports, "get_report"),
    route("GET", "/v1/reports/{id}/files/{file}", F::Reports, "report_file"),
];

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
