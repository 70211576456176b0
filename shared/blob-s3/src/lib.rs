//! osflow's S3 adapter: [`S3BlobStore`] implements the `BlobStore` port of `osflow-app` on one bucket, for the
//! Lambda functions (attachments uploaded through presigned URLs, NF-e XML, reports). It mirrors the embedded
//! `osflow_lambda_kit::LocalBlobStore`:
//!
//! - the object of `key` for `tenant` is `t/<tenant>/<key>` ([`object_key`]): a key never reaches another
//!   tenant's object, and another tenant's file reads as missing;
//! - keys are checked with `osflow_lambda_kit::blob::check_key` (1–512 chars of `[A-Za-z0-9._/-]`, no empty or
//!   dot segments) before any request, and refused with `StoreError::Other`;
//! - the content type is stored as the object's `Content-Type` and returned by `get`
//!   (`application/octet-stream` when an object has none);
//! - an upload URL is valid for `UPLOAD_URL_TTL_MINUTES` (15) and binds the content type into its signature
//!   (`X-Amz-SignedHeaders` includes `content-type`): the client must `PUT` with exactly that `Content-Type`.
//!
//! # Requests
//!
//! `presign_put` sends nothing (it signs locally); `get` is one `GetObject`; `head` is one `HeadObject` (the size
//! before the body); `put` is one `PutObject`.
//!
//! # Addressing
//!
//! With an endpoint override (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`, i.e. the emulator), requests and
//! upload URLs are path-style (`http://host:port/<bucket>/<object>`): an emulator on `127.0.0.1` has no
//! per-bucket host names. Without one (AWS), they are virtual-hosted (`https://<bucket>.s3.<region>.amazonaws.com/…`),
//! the style AWS recommends. [`S3BlobStore::new`] takes any client for other set-ups.
//!
//! # Permissions
//!
//! The functions' role needs `s3:GetObject` and `s3:PutObject` on `arn:aws:s3:::<bucket>/t/*` and
//! `s3:ListBucket` on the bucket: without `ListBucket`, S3 answers a missing object with 403 (`AccessDenied`)
//! instead of 404, and `get` reports an error instead of `None`.

use std::time::Duration;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use osflow_app::{Blob, BlobHead, BlobStore, StoreError, StoreResult};
use osflow_domain::values::TenantId;
use osflow_lambda_kit::blob::{UPLOAD_URL_TTL_MINUTES, check_key};

/// The content type of an object stored without one.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// How long an upload URL stays valid (the port's "minutes", the same as the embedded store's).
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(UPLOAD_URL_TTL_MINUTES as u64 * 60);

/// The object key of a tenant's blob key: `t/<tenant>/<key>`, after checking `key`.
pub fn object_key(tenant: &TenantId, key: &str) -> StoreResult<String> {
    check_key(key)?;
    Ok(format!("t/{}/{key}", tenant.as_str()))
}

/// The SDK configuration every AWS adapter shares (see `osflow-aws-kit`).
pub use osflow_aws_kit::load_sdk_config;

/// The S3 client of `config`: path-style when an endpoint override is configured (see the crate docs).
pub fn client(config: &SdkConfig) -> Client {
    let overridden = config.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(overridden).build())
}

/// The blob store on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore { client, bucket: bucket.into() }
    }

    /// A store on `bucket` with the client of [`load_sdk_config`] (see [`client`]).
    pub async fn from_env(bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore::new(client(&load_sdk_config().await), bucket)
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn presign_put(&self, tenant: &TenantId, key: &str, content_type: &str) -> StoreResult<String> {
        let object = object_key(tenant, key)?;
        let presigning = PresigningConfig::expires_in(UPLOAD_URL_TTL)
            .map_err(|e| StoreError::Other(format!("presigning config: {e}")))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .content_type(content_type)
            .presigned(presigning)
            .await
            .map_err(sdk_error)?;
        // The port hands out a URL and a content type only: a header the signature needs besides
        // `Content-Type` (a checksum, say, if an SDK update added one) would make every upload fail with 403.
        let extra: Vec<&str> =
            request.headers().map(|(name, _)| name).filter(|name| !name.eq_ignore_ascii_case("content-type")).collect();
        if !extra.is_empty() {
            return Err(StoreError::Other(format!("the upload URL would need headers {extra:?} besides Content-Type")));
        }
        Ok(request.uri().to_owned())
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Blob>> {
        let object = object_key(tenant, key)?;
        let output = match self.client.get_object().bucket(&self.bucket).key(object).send().await {
            Ok(output) => output,
            Err(SdkError::ServiceError(e)) if matches!(e.err(), GetObjectError::NoSuchKey(_)) => return Ok(None),
            Err(e) => return Err(sdk_error(e)),
        };
        let content_type = output.content_type().unwrap_or(DEFAULT_CONTENT_TYPE).to_owned();
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading object body: {}", DisplayErrorContext(&e))))?
            .into_bytes()
            .to_vec();
        Ok(Some(Blob { content_type, bytes }))
    }

    async fn head(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<BlobHead>> {
        let object = object_key(tenant, key)?;
        let output = match self.client.head_object().bucket(&self.bucket).key(object).send().await {
            Ok(output) => output,
            Err(SdkError::ServiceError(e)) if matches!(e.err(), HeadObjectError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(sdk_error(e)),
        };
        let content_type = output.content_type().unwrap_or(DEFAULT_CONTENT_TYPE).to_owned();
        let size = output.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        Ok(Some(BlobHead { content_type, size }))
    }

    async fn put(&self, tenant: &TenantId, key: &str, blob: &Blob) -> StoreResult<()> {
        let object = object_key(tenant, key)?;
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(object)
            .content_type(&blob.content_type)
            .body(ByteStream::from(blob.bytes.clone()))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

/// Error codes of S3 that mean "try again later" (besides any 5xx answer).
const TRANSIENT_CODES: &[&str] = &["SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"];

/// Maps an SDK failure (see `osflow_aws_kit::store_error`).
fn sdk_error<E>(err: SdkError<E>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    osflow_aws_kit::store_error(err, |code| TRANSIENT_CODES.contains(&code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_are_scoped_by_tenant_and_checked() {
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(object_key(&acme, "orders/1/a.jpg").unwrap(), "t/acme/orders/1/a.jpg");
        for bad in ["", "../x", "a//b", ".hidden", "sp ace"] {
            assert!(matches!(object_key(&acme, bad), Err(StoreError::Other(_))), "{bad}");
        }
    }
}
