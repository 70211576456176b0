//! The API routes of another function. In AWS the console function does not link the fiscal crates (the A1
//! certificate, the signatures, the clients of SEFAZ and Sefin: its bootstrap stays small, and only the fiscal
//! function's role reads the certificates' secrets): the routes of the `fiscal-admin` function (the emitter and its
//! certificate, the events of an NF-e or an NFS-e, the inutilização, an NFS-e issued elsewhere) are sent to that
//! function as API Gateway sends them — an HTTP API payload 2.0 event of the route, the session's claims as the
//! JWT authorizer's — and its answer is the API's answer. The function decodes the event with
//! `osflow_lambda_kit::gateway` and runs `osflow_api::handle` as for any request: the rules, the roles and the
//! problems stay the API's, in one place.
//!
//! [`FunctionInvoker`] is how the event reaches the function: [`LambdaFunction`] (feature `aws`) invokes it
//! through the Lambda API; [`InProcess`] runs its handler in this process through the same event and response
//! encodings (osflow-local, so its console's fiscal writes take the path they take in AWS).

use std::collections::HashMap;
use std::fmt::Debug;

use async_trait::async_trait;
use base64::Engine;
use lambda_http::Body;
use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::{HeaderMap, HeaderValue, Method, header};
use lambda_http::request::RequestContext;
use osflow_api::Function;
use osflow_app::{App, Caller};
use osflow_lambda_kit::caller::{api_gateway_context, claims_of};
use osflow_lambda_kit::gateway;

/// Why a function gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function could not be reached (the Lambda API refused or did not answer): nothing was done there.
    #[error("the function could not be invoked: {0}")]
    Unavailable(String),
    /// The function failed (an unhandled error, a timeout) or answered something that is not an HTTP response.
    #[error("the function failed: {0}")]
    Failed(String),
}

/// How the console reaches a function.
#[async_trait]
pub trait FunctionInvoker: Send + Sync + Debug {
    /// Invokes the function, waiting for its answer, with `event` (an API Gateway HTTP API payload 2.0 event, as
    /// JSON); answers the function's response (the payload 2.0 response, as JSON).
    async fn invoke(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError>;
}

/// One request for another function.
#[derive(Debug, Clone)]
pub struct Forward<'a> {
    /// The route key API Gateway would have matched (`"POST /v1/fiscal/nfe/voids"`) and its path parameters.
    pub route_key: String,
    pub params: Vec<(String, String)>,
    pub method: Method,
    pub path: &'a str,
    pub query: &'a [(String, String)],
    pub caller: &'a Caller,
    /// A JSON body.
    pub body: Option<String>,
}

/// The API's answer, as the function gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The event API Gateway would send the function for `f`.
pub fn event(f: &Forward<'_>) -> Vec<u8> {
    let claims = claims_of(f.caller.tenant.as_str(), f.caller.user.as_str(), &f.caller.roles);
    let RequestContext::ApiGatewayV2(ctx) =
        api_gateway_context(&f.route_key, f.method.clone(), f.path, None, Some(claims))
    else {
        unreachable!("api_gateway_context builds an HTTP API context")
    };
    let mut headers = HeaderMap::new();
    if f.body.is_some() {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let query: HashMap<String, Vec<String>> = f.query.iter().fold(HashMap::new(), |mut m, (k, v)| {
        m.entry(k.clone()).or_default().push(v.clone());
        m
    });
    let raw_query = form_urlencoded::Serializer::new(String::new()).extend_pairs(f.query).finish();
    let mut e = ApiGatewayV2httpRequest::default();
    e.version = Some("2.0".to_owned());
    e.route_key = Some(f.route_key.clone());
    e.raw_path = Some(f.path.to_owned());
    e.raw_query_string = Some(raw_query);
    e.headers = headers;
    e.query_string_parameters = QueryMap::from(query);
    e.path_parameters = f.params.iter().cloned().collect();
    e.request_context = ctx;
    e.body = f.body.clone();
    e.is_base64_encoded = false;
    serde_json::to_vec(&e).expect("an API Gateway event serializes")
}

/// The function's response as the API's answer.
pub fn answered(payload: &[u8]) -> Result<Answered, InvokeError> {
    let r: ApiGatewayV2httpResponse =
        serde_json::from_slice(payload).map_err(|e| InvokeError::Failed(format!("not an HTTP API response ({e})")))?;
    let status = u16::try_from(r.status_code)
        .ok()
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| InvokeError::Failed(format!("status {}", r.status_code)))?;
    let content_type = r
        .headers
        .get(header::CONTENT_TYPE)
        .or_else(|| r.multi_value_headers.get(header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match r.body {
        None | Some(Body::Empty) => Vec::new(),
        Some(Body::Text(t)) if r.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(t.trim())
            .map_err(|e| InvokeError::Failed(format!("a base64 body that does not decode ({e})")))?,
        Some(Body::Text(t)) => t.into_bytes(),
        Some(Body::Binary(b)) => b,
        Some(_) => Vec::new(),
    };
    Ok(Answered { status, content_type, body })
}

/// Sends `f` to the function behind `invoker`.
pub async fn forward(invoker: &dyn FunctionInvoker, f: &Forward<'_>) -> Result<Answered, InvokeError> {
    let payload = invoker.invoke(event(f)).await?;
    answered(&payload)
}

/// A function's handler in this process, reached through the event and the response Lambda carries, each mapped
/// by `osflow_lambda_kit::gateway` as the function's own loop maps them.
#[derive(Debug, Clone)]
pub struct InProcess {
    app: App,
    function: Function,
}

impl InProcess {
    /// `function`'s routes over `app` (an App with the ports that function has).
    pub fn new(app: App, function: Function) -> InProcess {
        InProcess { app, function }
    }
}

#[async_trait]
impl FunctionInvoker for InProcess {
    async fn invoke(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        let event: ApiGatewayV2httpRequest =
            serde_json::from_slice(&event).map_err(|e| InvokeError::Failed(format!("the event ({e})")))?;
        let event = lambda_http::LambdaEvent::new(event, lambda_http::Context::default());
        let response = osflow_api::handle(&self.app, Some(self.function), gateway::request(event)).await;
        serde_json::to_vec(&gateway::answer(response)).map_err(|e| InvokeError::Failed(e.to_string()))
    }
}

/// A Lambda function invoked through the Lambda API (`lambda:InvokeFunction`, synchronous): `POST
/// /2015-03-31/functions/<name>/invocations`, signed and sent by `osflow_aws_kit::signed` (not `aws-sdk-lambda`:
/// its client was 0.37 MB of the console's bootstrap for one operation, and turned on the SDK runtime's
/// `event-stream` in every function). No read timeout: the fiscal function answers within its own time limit.
#[cfg(feature = "aws")]
#[derive(Debug, Clone)]
pub struct LambdaFunction {
    http: osflow_aws_kit::signed::SignedHttp,
    url: String,
}

#[cfg(feature = "aws")]
impl LambdaFunction {
    /// The function `name` (its name or ARN), reached with the configuration from the process environment.
    pub async fn from_env(name: &str) -> LambdaFunction {
        LambdaFunction::new(&osflow_aws_kit::load_sdk_config().await, name)
    }

    /// The function `name` (its name or ARN), reached with `config`'s region, credentials and endpoint override.
    pub fn new(config: &osflow_aws_kit::SdkConfig, name: &str) -> LambdaFunction {
        use osflow_aws_kit::signed::{SignedHttp, Signing};
        let http = SignedHttp::new(config, "lambda", Signing::Standard, None);
        let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        let url = format!("{}/2015-03-31/functions/{name}/invocations", http.service_url("lambda"));
        LambdaFunction { http, url }
    }
}

#[cfg(feature = "aws")]
#[async_trait]
impl FunctionInvoker for LambdaFunction {
    async fn invoke(&self, event: Vec<u8>) -> Result<Vec<u8>, InvokeError> {
        use osflow_aws_kit::signed::{error_code, error_message};
        let throttled = |answer: &osflow_aws_kit::signed::Answer| answer.status == 429;
        let headers = [("content-type", "application/json")];
        let answer = self
            .http
            .send("POST", &self.url, &headers, event.into(), throttled)
            .await
            .map_err(|e| InvokeError::Unavailable(e.to_string()))?;
        if !answer.is_success() {
            // The Lambda API refused the invocation (throttled, no such function, not allowed): the function did
            // not run.
            let code = error_code(&answer).unwrap_or_else(|| format!("HTTP {}", answer.status));
            return Err(InvokeError::Unavailable(format!("{code}: {}", error_message(&answer).unwrap_or_default())));
        }
        match answer.header("x-amz-function-error") {
            // The function's error document (errorType, errorMessage), for the logs.
            Some(kind) => Err(InvokeError::Failed(format!("{kind}: {}", String::from_utf8_lossy(&answer.body)))),
            None => Ok(answer.body),
        }
    }
}
