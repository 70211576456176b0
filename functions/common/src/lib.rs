//! What the Lambda functions wire and no shared crate provides yet.

use async_trait::async_trait;
use osflow_app::{Blob, BlobStore, StoreError, StoreResult};
use osflow_domain::values::TenantId;

/// The blob port of the Lambda functions until an S3 adapter exists: attachments (presigned uploads) and the
/// fiscal XML answer an error that says so; every other route is unaffected. The analogue of
/// `osflow_app::NoInvoicing` for files.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBlobStore;

const NOT_WIRED: &str =
    "files (attachments, fiscal XML) need the S3 blob store, which the Lambda functions do not have yet";

#[async_trait]
impl BlobStore for NoBlobStore {
    async fn presign_put(&self, _tenant: &TenantId, _key: &str, _content_type: &str) -> StoreResult<String> {
        Err(StoreError::Other(NOT_WIRED.to_owned()))
    }

    async fn get(&self, _tenant: &TenantId, _key: &str) -> StoreResult<Option<Blob>> {
        Err(StoreError::Other(NOT_WIRED.to_owned()))
    }

    async fn put(&self, _tenant: &TenantId, _key: &str, _blob: &Blob) -> StoreResult<()> {
        Err(StoreError::Other(NOT_WIRED.to_owned()))
    }
}
