//! Mapping of SDK failures to [`StoreError`].

use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use osflow_app::StoreError;

/// Error codes of DynamoDB that mean "try again later".
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
];

/// Cancellation reason codes of a transaction that mean "try again later".
pub(crate) const TRANSIENT_REASONS: &[&str] =
    &["ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded", "TransactionConflict"];

/// Whether a service error code is transient.
pub(crate) fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// Maps an SDK failure: throttling, capacity, timeouts, connection failures and 5xx answers are `Unavailable`
/// (the caller may retry), anything else is `Other`.
pub(crate) fn sdk_error<E>(err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    osflow_aws_kit::store_error(err, is_transient_code)
}

/// A request that could not be built (a bug: a required field missing).
pub(crate) fn build_error(err: BuildError) -> StoreError {
    StoreError::Other(format!("request build error: {err}"))
}

/// An item that does not read back into its type.
pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {err}"))
}
