//! The caller, from the claims the API Gateway HTTP API JWT authorizer put in the request context.
//!
//! API Gateway has verified the token's signature, issuer, audience and expiry before the function runs; a request
//! without authorizer claims never passed through the authorizer (or comes from elsewhere) and is refused with 401.
//! osflow-local verifies its development token and fills the same context (see [`api_gateway_context`]).

use std::collections::HashMap;

use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
    ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::http::Method;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use osflow_app::Caller;
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};

use crate::problem::{Problem, ProblemType};

/// The claim holding the tenant (company) id.
pub const TENANT_CLAIM: &str = "custom:tenant";
/// The claim holding the user id.
pub const USER_CLAIM: &str = "sub";
/// The claim holding the roles (Cognito groups).
pub const GROUPS_CLAIM: &str = "cognito:groups";

fn unauthenticated(detail: &str) -> Problem {
    Problem::new(ProblemType::Unauthenticated).with_detail(detail)
}

/// The JWT claims of the request, if the authorizer put any.
pub fn claims(req: &Request) -> Option<&HashMap<String, String>> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => {
            let claims = &ctx.authorizer.as_ref()?.jwt.as_ref()?.claims;
            (!claims.is_empty()).then_some(claims)
        }
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The caller of the request: tenant from `custom:tenant`, user from `sub`, roles from `cognito:groups`.
///
/// `cognito:groups` arrives as API Gateway flattens arrays (`"[representante atendente]"`), as a JSON array
/// (`"[\"representante\",\"atendente\"]"`), or as a single or comma-separated name; groups that are not osflow
/// roles are ignored (a caller with no role is then refused by the use cases with 403). No claims, or claims
/// without a valid tenant or user, is 401.
pub fn caller_from_request(req: &Request) -> Result<Caller, Problem> {
    let claims = claims(req).ok_or_else(|| unauthenticated("a valid bearer token is required"))?;
    caller_from_claims(claims)
}

/// [`caller_from_request`] on the claims alone.
pub fn caller_from_claims(claims: &HashMap<String, String>) -> Result<Caller, Problem> {
    let tenant = claims
        .get(TENANT_CLAIM)
        .and_then(|t| TenantId::parse(t).ok())
        .ok_or_else(|| unauthenticated("the token has no valid custom:tenant claim"))?;
    let user = claims
        .get(USER_CLAIM)
        .and_then(|u| UserId::parse(u).ok())
        .ok_or_else(|| unauthenticated("the token has no valid sub claim"))?;
    let mut roles: Vec<Role> = claims.get(GROUPS_CLAIM).map(|g| parse_groups(g)).unwrap_or_default();
    roles.sort();
    roles.dedup();
    Ok(Caller { tenant, user, roles })
}

/// The osflow roles among the groups of a `cognito:groups` claim.
pub fn parse_groups(value: &str) -> Vec<Role> {
    let value = value.trim();
    let names: Vec<String> = match serde_json::from_str::<Vec<String>>(value) {
        Ok(list) => list,
        Err(_) => value
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|s| s.trim_matches('"').to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    };
    names.iter().filter_map(|n| Role::parse(n)).collect()
}

/// The claims a token of this caller carries, in API Gateway's flattened form (groups as `"[a b]"`).
pub fn claims_of(tenant: &str, user: &str, roles: &[Role]) -> HashMap<String, String> {
    let groups = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ");
    HashMap::from([
        (TENANT_CLAIM.to_owned(), tenant.to_owned()),
        (USER_CLAIM.to_owned(), user.to_owned()),
        (GROUPS_CLAIM.to_owned(), format!("[{groups}]")),
    ])
}

/// The request context API Gateway (HTTP API, payload 2.0) gives a function: the route key
/// (`"POST /v1/orders/{id}/start"`), method, path, source IP and, when the request carries a verified token, the
/// JWT authorizer's claims. The context types are `#[non_exhaustive]`; this builds them for osflow-local and
/// tests.
pub fn api_gateway_context(
    route_key: &str,
    method: Method,
    path: &str,
    source_ip: Option<&str>,
    claims: Option<HashMap<String, String>>,
) -> RequestContext {
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = method;
    http.path = Some(path.to_owned());
    http.protocol = Some("HTTP/1.1".to_owned());
    http.source_ip = source_ip.map(str::to_owned);
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.route_key = Some(route_key.to_owned());
    ctx.stage = Some("$default".to_owned());
    ctx.http = http;
    ctx.authorizer = claims.map(|claims| {
        let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
        jwt.claims = claims;
        let mut authorizer = ApiGatewayRequestAuthorizer::default();
        authorizer.jwt = Some(jwt);
        authorizer
    });
    RequestContext::ApiGatewayV2(ctx)
}

/// The route key API Gateway matched (`"POST /v1/orders/{id}/start"`), if any.
pub fn route_key(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.route_key.as_deref().filter(|k| !k.is_empty() && *k != "$default"),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// API Gateway's request id, for the logs.
pub fn request_id(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.request_id.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The client's address as API Gateway saw it.
pub fn source_ip(req: &Request) -> Option<&str> {
    match req.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.as_deref(),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::Body;

    fn request(claims: Option<HashMap<String, String>>) -> Request {
        let ctx = api_gateway_context("GET /v1/flow", Method::GET, "/v1/flow", Some("127.0.0.1"), claims);
        lambda_http::http::Request::builder()
            .method("GET")
            .uri("/v1/flow")
            .body(Body::Empty)
            .unwrap()
            .with_request_context(ctx)
    }

    #[test]
    fn caller_comes_from_the_jwt_claims() {
        let caller = caller_from_request(&request(Some(claims_of(
            "oficina-do-ze",
            "user-1",
            &[Role::Atendente, Role::Representante],
        ))))
        .unwrap();
        assert_eq!(caller.tenant.as_str(), "oficina-do-ze");
        assert_eq!(caller.user.as_str(), "user-1");
        assert_eq!(caller.roles, [Role::Representante, Role::Atendente]);
    }

    #[test]
    fn groups_in_every_shape_api_gateway_or_a_local_token_sends() {
        let both = [Role::Representante, Role::Atendente];
        assert_eq!(parse_groups("[representante atendente]"), both);
        assert_eq!(parse_groups(r#"["representante","atendente"]"#), both);
        assert_eq!(parse_groups("representante, atendente"), both);
        assert_eq!(parse_groups("tecnico"), [Role::Tecnico]);
        assert_eq!(parse_groups("[admins financeiro]"), [Role::Financeiro], "unknown groups are ignored");
        assert!(parse_groups("[]").is_empty());
        assert!(parse_groups("").is_empty());
    }

    #[test]
    fn missing_or_incomplete_claims_are_401() {
        let err = caller_from_request(&request(None)).unwrap_err();
        assert_eq!((err.status, err.type_uri.as_str()), (401, "/problems/unauthenticated"));

        let no_context = lambda_http::http::Request::builder().uri("/v1/flow").body(Body::Empty).unwrap();
        assert_eq!(caller_from_request(&no_context).unwrap_err().status, 401);

        let mut claims = claims_of("acme", "u", &[Role::Tecnico]);
        claims.remove(TENANT_CLAIM);
        assert_eq!(caller_from_request(&request(Some(claims))).unwrap_err().status, 401);

        let claims = claims_of("Not A Slug", "u", &[Role::Tecnico]);
        assert_eq!(caller_from_request(&request(Some(claims))).unwrap_err().status, 401);

        let mut claims = claims_of("acme", "u", &[Role::Tecnico]);
        claims.remove(USER_CLAIM);
        assert_eq!(caller_from_request(&request(Some(claims))).unwrap_err().status, 401);
    }

    #[test]
    fn route_key_and_source_ip_are_read_from_the_context() {
        let req = request(None);
        assert_eq!(route_key(&req), Some("GET /v1/flow"));
        assert_eq!(source_ip(&req), Some("127.0.0.1"));
    }
}
