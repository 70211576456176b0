//! What every AWS SDK adapter of osflow (`store-dynamodb`, `blob-s3`, `bus`, the SES sender) shares:
//!
//! - [`load_sdk_config`]: the SDK configuration from the standard AWS environment (region, credentials,
//!   `AWS_ENDPOINT_URL` to point at an emulator) with [`https_client`] — hyper with rustls on the `ring` crypto
//!   provider (the SDK's default would build aws-lc-rs, a much longer C build); plain `http://` endpoints (the
//!   local emulator) go through it as well;
//! - [`store_error`]: an SDK failure as a [`StoreError`] — timeouts, connection failures, unreadable answers,
//!   5xx and the service's own "try again" codes are `Unavailable` (the caller may retry), anything else `Other`.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use osflow_app::StoreError;

/// The HTTPS client of the SDK clients.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// The SDK configuration from the standard AWS environment (`aws_config::defaults`), with [`https_client`].
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client()).load().await
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
