//! AWS requests without a service's SDK crate: [`SignedHttp`] signs a request with SigV4 (`aws-sigv4`, the
//! SDK's own signer) and sends it with the connector of `aws-smithy-http-client` (the SDK's own HTTPS stack,
//! rustls on ring), with the SDK configuration's region, credentials, endpoint override and connect timeout, and
//! retries it as the SDK's standard mode does (3 attempts; a failed connection, a 5xx or a throttling code);
//! [`JsonService`] is the AWS JSON 1.1 protocol on top of it (one `POST /` with `X-Amz-Target`, the protocol of
//! Cognito's user pools and of Secrets Manager).
//!
//! # Why not the services' SDK crates
//!
//! osflow calls a handful of operations of S3 (three), Lambda (`Invoke`), Cognito (three reads) and Secrets
//! Manager (`GetSecretValue`). Each SDK crate links its whole client (every operation's serializers, its endpoint
//! rules, S3's checksum tables) into the bootstrap of each function that calls one of them: measured (stripped
//! x86_64), `aws-sdk-s3` was about 1.4 MB of a 7.6 MB bootstrap, `aws-sdk-lambda` 0.37 MB of the console's (and it
//! turned on `event-stream` in the SDK runtime of every function: Cargo unifies features, close was 6.05 MB built
//! with the others and 6.00 alone), `aws-sdk-cognitoidentityprovider` about 0.46 MB of open-order (6.84 → 6.33 MB
//! without it and the Lambda client's features). The bootstraps must stay near 6 MB (cold starts). DynamoDB, SQS,
//! SES and the certificate store's secret writes keep their SDK crates: osflow uses many of their operations and
//! types.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials as _, SharedCredentialsProvider};
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings, UriPathNormalizationMode,
    sign,
};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::http::Headers;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use bytes::Bytes;
use osflow_app::{StoreError, StoreResult};

use crate::SdkConfig;

/// Attempts of a request, as the SDK's standard retry mode.
const ATTEMPTS: u32 = 3;

/// How a service wants its requests signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Every service but S3: the path percent-encoded twice and normalized, no payload header.
    Standard,
    /// S3: the path encoded once and kept as it is, `x-amz-content-sha256` of the body.
    S3,
}

/// Signed requests to one AWS service (`service`: its signing name, `s3`, `lambda`, `cognito-idp`).
#[derive(Debug, Clone)]
pub struct SignedHttp {
    http: Arc<aws_smithy_http_client::Connector>,
    /// The endpoint override (`AWS_ENDPOINT_URL`, without a trailing `/`).
    endpoint: Option<String>,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    service: &'static str,
    signing: Signing,
}

/// An answer of the service.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Headers,
    pub body: Vec<u8>,
}

impl Answer {
    /// The value of the header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl SignedHttp {
    /// The service `service` with the configuration's region, credentials, endpoint override and connect timeout;
    /// `read_timeout` bounds the wait for the answer's start and each read after it (the configuration's read
    /// timeout wins when it sets one; `None`: no bound but the caller's).
    pub fn new(config: &SdkConfig, service: &'static str, signing: Signing, read_timeout: Option<Duration>) -> Self {
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let endpoint = config.endpoint_url().map(|e| e.trim_end_matches('/').to_owned());
        let timeouts = config.timeout_config();
        let mut settings = HttpConnectorSettings::builder();
        if let Some(read) = timeouts.and_then(|t| t.read_timeout()).or(read_timeout) {
            settings = settings.read_timeout(read);
        }
        if let Some(connect) = timeouts.and_then(|t| t.connect_timeout()) {
            settings = settings.connect_timeout(connect);
        }
        let mut connector = aws_smithy_http_client::Connector::builder().connector_settings(settings.build());
        if let Some(sleep) = config.sleep_impl() {
            connector = connector.sleep_impl(sleep);
        }
        let http = connector.tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build();
        let credentials = config.credentials_provider();
        SignedHttp { http: Arc::new(http), endpoint, region, credentials, service, signing }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The endpoint override, without a trailing `/` (an emulator); `None` in AWS.
    pub fn endpoint_override(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// The service's URL, without a trailing `/`: the endpoint override, else
    /// `https://<prefix>.<region>.amazonaws.com` (`prefix`: the service's endpoint prefix).
    pub fn service_url(&self, prefix: &str) -> String {
        match &self.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => format!("https://{prefix}.{}.amazonaws.com", self.region),
        }
    }

    /// The credentials the requests are signed with.
    pub async fn credentials(&self) -> StoreResult<Credentials> {
        self.credentials
            .as_ref()
            .ok_or_else(|| StoreError::Other("no credentials configured".into()))?
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Unavailable(format!("credentials: {e}")))
    }

    /// Sends one signed request to `url` (already percent-encoded), tried again after a failed connection, an
    /// unreadable answer or an answer `retry` says is worth another attempt; the last answer, whatever its status.
    /// `Unavailable` when no attempt got an answer.
    pub async fn send(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
        retry: impl Fn(&Answer) -> bool,
    ) -> StoreResult<Answer> {
        let mut failure = StoreError::Unavailable("no attempt".into());
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                osflow_app::backoff(attempt - 1, Duration::from_millis(50), Duration::from_secs(2)).await;
            }
            let request = self.signed(method, url, headers, body.clone()).await?;
            let response = match self.http.call(request).await {
                Ok(response) => response,
                Err(e) => {
                    failure = StoreError::Unavailable(format!("{method} {url}: {e}"));
                    continue;
                }
            };
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let answer = match ByteStream::new(response.into_body()).collect().await {
                Ok(bytes) => Answer { status, headers, body: bytes.into_bytes().to_vec() },
                Err(e) => {
                    failure = StoreError::Unavailable(format!("{method} {url}: reading the answer: {e}"));
                    continue;
                }
            };
            if attempt + 1 < ATTEMPTS && (answer.status >= 500 || retry(&answer)) {
                continue;
            }
            return Ok(answer);
        }
        Err(failure)
    }

    /// The request signed with SigV4.
    async fn signed(
        &self,
        method: &'static str,
        url: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> StoreResult<HttpRequest> {
        let credentials = self.credentials().await?;
        let identity = credentials.into();
        let mut settings = SigningSettings::default();
        if self.signing == Signing::S3 {
            settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
            settings.percent_encoding_mode = PercentEncodingMode::Single;
            settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        }
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(self.service)
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| StoreError::Other(format!("signing: {e}")))?
            .into();
        let mut builder = http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if !body.is_empty() || method == "PUT" || method == "POST" {
            builder = builder.header("content-length", body.len().to_string());
        }
        let mut request =
            builder.body(SdkBody::empty()).map_err(|e| StoreError::Other(format!("request {url}: {e}")))?;
        let signed_headers = request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
        let signable = SignableRequest::new(method, url, signed_headers, SignableBody::Bytes(&body))
            .map_err(|e| StoreError::Other(format!("signing {url}: {e}")))?;
        let (instructions, _) =
            sign(signable, &params).map_err(|e| StoreError::Other(format!("signing {url}: {e}")))?.into_parts();
        instructions.apply_to_request_http1x(&mut request);
        *request.body_mut() = SdkBody::from(body);
        HttpRequest::try_from(request).map_err(|e| StoreError::Other(format!("request {url}: {e}")))
    }
}

/// Why a JSON 1.1 call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The service refused the request with its error `code` (`UserNotFoundException`) and `message`; not worth
    /// another attempt.
    Service { status: u16, code: String, message: String },
    /// No answer, a 5xx or a throttling code after every attempt, or an answer that cannot be read.
    Failed(StoreError),
}

impl CallError {
    /// The service's error code, when the service answered one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CallError::Service { code, .. } => Some(code),
            CallError::Failed(_) => None,
        }
    }
}

impl From<CallError> for StoreError {
    fn from(e: CallError) -> StoreError {
        match e {
            CallError::Service { code, message, .. } => StoreError::Other(format!("{code}: {message}")),
            CallError::Failed(e) => e,
        }
    }
}

/// A service of the AWS JSON 1.1 protocol: every operation a `POST /` of a JSON document, named by
/// `X-Amz-Target: <target prefix>.<operation>`; an error is a 4xx or 5xx whose JSON names it in `__type`
/// (`[namespace#]Code`) or whose `X-Amzn-ErrorType` header does (`Code[:details]`).
#[derive(Debug, Clone)]
pub struct JsonService {
    http: SignedHttp,
    url: String,
    target: &'static str,
    transient: &'static [&'static str],
}

impl JsonService {
    /// The service signed as `service`, at `https://<prefix>.<region>.amazonaws.com/` (or the endpoint override),
    /// its operations `<target>.<Operation>`; `transient`: its error codes that mean "try again later".
    pub fn new(
        config: &SdkConfig,
        service: &'static str,
        prefix: &str,
        target: &'static str,
        transient: &'static [&'static str],
    ) -> Self {
        let http = SignedHttp::new(config, service, Signing::Standard, None);
        let url = format!("{}/", http.service_url(prefix));
        JsonService { http, url, target, transient }
    }

    /// Calls `operation` with `input`; its output read as `O`.
    pub async fn call<O: serde::de::DeserializeOwned>(
        &self,
        operation: &str,
        input: &serde_json::Value,
    ) -> Result<O, CallError> {
        let target = format!("{}.{operation}", self.target);
        let headers = [("content-type", "application/x-amz-json-1.1"), ("x-amz-target", target.as_str())];
        let body = Bytes::from(input.to_string());
        let transient =
            |answer: &Answer| error_code(answer).is_some_and(|code| self.transient.contains(&code.as_str()));
        let answer = self.http.send("POST", &self.url, &headers, body, transient).await.map_err(CallError::Failed)?;
        if !answer.is_success() {
            let code = error_code(&answer).unwrap_or_else(|| format!("HTTP {}", answer.status));
            let message = error_message(&answer).unwrap_or_default();
            let text = format!("{operation}: {code}: {message}");
            if answer.status >= 500 || self.transient.contains(&code.as_str()) {
                return Err(CallError::Failed(StoreError::Unavailable(text)));
            }
            return Err(CallError::Service { status: answer.status, code, message });
        }
        serde_json::from_slice(&answer.body)
            .map_err(|e| CallError::Failed(StoreError::Unavailable(format!("{operation}: unreadable answer: {e}"))))
    }
}

/// The error code of a JSON protocol answer: `X-Amzn-ErrorType` (`Code:details`), else the body's `__type`
/// (`namespace#Code`), else its `code`.
pub fn error_code(answer: &Answer) -> Option<String> {
    let from_header = answer.header("x-amzn-errortype").map(|v| v.split(':').next().unwrap_or(v).to_owned());
    let code = from_header.filter(|c| !c.is_empty()).or_else(|| {
        let body: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
        let raw = body.get("__type").or_else(|| body.get("code")).or_else(|| body.get("Code"))?.as_str()?;
        Some(raw.to_owned())
    })?;
    let code = code.rsplit('#').next().unwrap_or(&code).to_owned();
    Some(code).filter(|c| !c.is_empty())
}

/// The error message of a JSON protocol answer (`message` or `Message`).
pub fn error_message(answer: &Answer) -> Option<String> {
    let body: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    Some(body.get("message").or_else(|| body.get("Message"))?.as_str()?.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, header: Option<&str>, body: &str) -> Answer {
        let mut headers = Headers::new();
        if let Some(h) = header {
            headers.insert("x-amzn-errortype", h.to_owned());
        }
        Answer { status, headers, body: body.as_bytes().to_vec() }
    }

    #[test]
    fn error_codes_are_read_as_the_json_protocol_writes_them() {
        let typed = answer(400, None, r#"{"__type":"com.amazonaws.cognito#UserNotFoundException","message":"m"}"#);
        assert_eq!(error_code(&typed).as_deref(), Some("UserNotFoundException"));
        assert_eq!(error_message(&typed).as_deref(), Some("m"));
        let header = answer(429, Some("TooManyRequestsException:http://internal"), "{}");
        assert_eq!(error_code(&header).as_deref(), Some("TooManyRequestsException"));
        let plain = answer(400, None, r#"{"__type":"ResourceNotFoundException","Message":"no group"}"#);
        assert_eq!(error_code(&plain).as_deref(), Some("ResourceNotFoundException"));
        assert_eq!(error_message(&plain).as_deref(), Some("no group"));
        assert_eq!(error_code(&answer(502, None, "<html>bad gateway</html>")), None);
    }

    #[test]
    fn the_service_url_is_the_override_or_the_regional_endpoint() {
        let config = |endpoint: Option<&'static str>| {
            crate::sdk_config_from_vars(move |name| match name {
                "AWS_REGION" => Some("sa-east-1".to_owned()),
                "AWS_ENDPOINT_URL" => endpoint.map(str::to_owned),
                _ => None,
            })
        };
        let aws = SignedHttp::new(&config(None), "cognito-idp", Signing::Standard, None);
        assert_eq!(aws.service_url("cognito-idp"), "https://cognito-idp.sa-east-1.amazonaws.com");
        assert_eq!(aws.endpoint_override(), None);
        let emulator = SignedHttp::new(&config(Some("http://127.0.0.1:45660/")), "lambda", Signing::Standard, None);
        assert_eq!(emulator.service_url("lambda"), "http://127.0.0.1:45660");
        assert_eq!(emulator.region(), "sa-east-1");
    }
}
