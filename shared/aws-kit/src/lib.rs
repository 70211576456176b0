//! What every AWS SDK adapter of osflow (`store-dynamodb`, `blob-s3`, `bus`, the SES sender) shares:
//!
//! - [`load_sdk_config`]: the SDK configuration from the process environment alone (region, credentials,
//!   `AWS_ENDPOINT_URL` to point at an emulator) with [`https_client`] — hyper with rustls on the `ring` crypto
//!   provider (the SDK's default would build aws-lc-rs, a much longer C build); plain `http://` endpoints (the
//!   local emulator) go through it as well;
//! - [`store_error`]: an SDK failure as a [`StoreError`] — timeouts, connection failures, unreadable answers,
//!   5xx and the service's own "try again" codes are `Unavailable` (the caller may retry), anything else `Other`;
//! - [`SecretsReader`]: a Secrets Manager secret read (the store's sealing key and A1 certificates);
//!   [`secret_value`], the same read with the process environment's configuration (the portal's and the
//!   console's keys);
//! - [`signed`]: requests signed and sent without a service's SDK crate ([`signed::SignedHttp`]; the JSON 1.1
//!   protocol, [`signed::JsonService`]): S3's objects, Lambda's `Invoke`, Cognito's user reads.
//!
//! # Why not `aws-config`
//!
//! Lambda hands a function its region and its role's credentials as environment variables (`AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), valid for the life of the execution
//! environment; the tests give the emulator's the same way. `aws-config`'s default chain also reads profile
//! files, SSO, STS web identity, ECS and EC2 metadata (with the STS client compiled in): none of which a function
//! uses, and about half a megabyte of every bootstrap. The configuration is built here instead, with the
//! defaults `aws-config` would give: standard retries (3 attempts), a 3.1 s connect timeout, the latest behavior
//! version. Elsewhere than in Lambda (a laptop with a profile, ECS), export the credentials as variables.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SystemTimeSource;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use aws_types::region::Region;
use osflow_app::StoreError;

pub use aws_types::SdkConfig;

pub mod signed;

/// The connect timeout `aws-config` sets by default.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The HTTPS client of the SDK clients.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration from the process environment ([`sdk_config_from_vars`]), with [`https_client`].
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_from_env()
}

/// [`load_sdk_config`] without an `.await` (nothing is read but the environment).
pub fn sdk_config_from_env() -> SdkConfig {
    sdk_config_from_vars(|name| std::env::var(name).ok())
}

/// The SDK configuration from the variables `var` gives (a blank value is unset): the region from `AWS_REGION`
/// (else `AWS_DEFAULT_REGION`); static credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN` (none when the key pair is incomplete: every request then fails, saying so); the endpoint
/// from `AWS_ENDPOINT_URL` (an emulator; unset in AWS); [`https_client`]; standard retries; a 3.1 s connect
/// timeout.
pub fn sdk_config_from_vars(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let get = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let credentials = match (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Some(SharedCredentialsProvider::new(Credentials::new(
            id,
            secret,
            get("AWS_SESSION_TOKEN"),
            None,
            "Environment",
        ))),
        _ => None,
    };
    let mut builder = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")).map(Region::new))
        .http_client(https_client())
        .retry_config(RetryConfig::standard())
        .timeout_config(TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).build())
        .time_source(SystemTimeSource::new());
    builder.set_sleep_impl(default_async_sleep());
    builder.set_credentials_provider(credentials);
    builder.set_endpoint_url(get("AWS_ENDPOINT_URL"));
    builder.build()
}

/// The text of an SDK failure: the service's code and message when it answered, the whole chain otherwise.
pub fn error_text<E>(err: &SdkError<E, Response>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err.as_service_error() {
        Some(service) => {
            format!("{}: {}", service.code().unwrap_or("unknown error"), service.message().unwrap_or("(no message)"))
        }
        None => DisplayErrorContext(err).to_string(),
    }
}

/// Error codes of Secrets Manager that mean "try again later" (a 5xx answer is one whatever its code).
const SECRETS_TRANSIENT_CODES: &[&str] = &["ThrottlingException", "InternalServiceError"];

/// A failed Secrets Manager request of the SDK's client as a [`StoreError`] ([`store_error`] with Secrets
/// Manager's transient codes): the certificate store's writes.
pub fn secrets_error<E>(err: SdkError<E, Response>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    store_error(err, |code| SECRETS_TRANSIENT_CODES.contains(&code))
}

/// A secret's value as `GetSecretValue` answers it.
#[derive(Clone, Default, serde::Deserialize)]
pub struct SecretValue {
    /// The secret's string, when it has one.
    #[serde(rename = "SecretString", default)]
    pub string: Option<String>,
    /// The secret's binary value (base64 in the answer, decoded here), when it has one.
    #[serde(rename = "SecretBinary", default, deserialize_with = "base64_blob")]
    pub binary: Option<Vec<u8>>,
    /// The version read.
    #[serde(rename = "VersionId", default)]
    pub version_id: Option<String>,
}

impl std::fmt::Debug for SecretValue {
    /// The version only: a secret's value never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretValue").field("version_id", &self.version_id).finish_non_exhaustive()
    }
}

fn base64_blob<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    use base64::Engine as _;
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    text.map(|t| base64::engine::general_purpose::STANDARD.decode(t).map_err(serde::de::Error::custom)).transpose()
}

/// The one `GetSecretValue` of osflow, through [`signed::JsonService`] (not `aws-sdk-secretsmanager`: a read of
/// one operation in the functions that keep unlock codes, the portal and the console; the SDK's client stays
/// for the certificate store's writes).
#[derive(Debug, Clone)]
pub struct SecretsReader {
    service: signed::JsonService,
}

impl SecretsReader {
    pub fn new(config: &SdkConfig) -> SecretsReader {
        let service = signed::JsonService::new(
            config,
            "secretsmanager",
            "secretsmanager",
            "secretsmanager",
            SECRETS_TRANSIENT_CODES,
        );
        SecretsReader { service }
    }

    /// The value of the secret `id` (its name or ARN) at `version` (its current version when `None`); a failure
    /// as a [`StoreError`] (`Unavailable` when worth another try).
    pub async fn read(&self, id: &str, version: Option<&str>) -> Result<SecretValue, StoreError> {
        let mut input = serde_json::json!({ "SecretId": id });
        if let Some(version) = version {
            input["VersionId"] = version.into();
        }
        Ok(self.service.call("GetSecretValue", &input).await?)
    }
}

/// The value of the Secrets Manager secret `name`, read with the configuration from the process environment; a
/// failure names the secret as `what` (`"portal key secret"`).
pub async fn secret_value(name: &str, what: &str) -> Result<SecretValue, String> {
    let reader = SecretsReader::new(&load_sdk_config().await);
    reader.read(name, None).await.map_err(|e| format!("reading the {what} {name}: {e}"))
}

/// Maps an SDK failure; `transient` says which of the service's error codes mean "try again later".
pub fn store_error<E>(err: SdkError<E, Response>, transient: impl Fn(&str) -> bool) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let text = error_text(&err);
    match &err {
        SdkError::TimeoutError(_) => StoreError::Unavailable(format!("timeout: {text}")),
        SdkError::DispatchFailure(_) => StoreError::Unavailable(format!("dispatch failure: {text}")),
        SdkError::ResponseError(_) => StoreError::Unavailable(format!("unreadable response: {text}")),
        SdkError::ServiceError(service) => {
            if service.err().code().is_some_and(&transient) || service.raw().status().is_server_error() {
                StoreError::Unavailable(text)
            } else {
                StoreError::Other(text)
            }
        }
        _ => StoreError::Other(text),
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::ProvideCredentials;

    use super::*;

    #[tokio::test]
    async fn the_configuration_is_the_environment_s() {
        let vars = |name: &str| {
            match name {
                "AWS_DEFAULT_REGION" => Some("sa-east-1"),
                "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE"),
                "AWS_SECRET_ACCESS_KEY" => Some("secret"),
                "AWS_SESSION_TOKEN" => Some("token"),
                "AWS_ENDPOINT_URL" => Some(" http://127.0.0.1:4566 "),
                _ => None,
            }
            .map(str::to_owned)
        };
        let config = sdk_config_from_vars(vars);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("sa-east-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:4566"));
        let credentials = config.credentials_provider().expect("credentials").provide_credentials().await.unwrap();
        assert_eq!(
            (credentials.access_key_id(), credentials.secret_access_key(), credentials.session_token()),
            ("AKIDEXAMPLE", "secret", Some("token"))
        );
        assert_eq!(config.retry_config().map(|r| r.max_attempts()), Some(3));
        assert_eq!(config.timeout_config().and_then(|t| t.connect_timeout()), Some(CONNECT_TIMEOUT));
        assert!(config.http_client().is_some() && config.sleep_impl().is_some());

        // AWS_REGION wins over AWS_DEFAULT_REGION; no endpoint (AWS); an incomplete key pair gives no credentials.
        let config = sdk_config_from_vars(|name| match name {
            "AWS_REGION" => Some("us-east-1".to_owned()),
            "AWS_DEFAULT_REGION" => Some("sa-east-1".to_owned()),
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".to_owned()),
            "AWS_ENDPOINT_URL" => Some("  ".to_owned()),
            _ => None,
        });
        assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(config.endpoint_url(), None);
        assert!(config.credentials_provider().is_none());
    }
}
