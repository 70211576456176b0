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
//! - an upload is a presigned POST form ([`post_form`]) valid for `UPLOAD_URL_TTL_MINUTES` (15): its signed policy
//!   binds the bucket, the object key, the `Content-Type` and a `content-length-range` of 1 to the maximum, so S3
//!   refuses another type, an empty file or a bigger one (`EntityTooLarge`) before storing anything.
//!
//! # Requests
//!
//! `presign_upload` sends nothing (it signs locally, with the client's credentials); `get` is one `GetObject`; `head` is one `HeadObject` (the size
//! before the body); `put` is one `PutObject`.
//!
//! # Addressing
//!
//! With an endpoint override (`AWS_ENDPOINT_URL`, i.e. the emulator), requests and
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
use aws_sdk_s3::Client;
use aws_sdk_s3::config::ProvideCredentials as _;
use aws_sdk_s3::config::SharedCredentialsProvider;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use osflow_app::{Blob, BlobHead, BlobStore, StoreError, StoreResult, UploadForm};
use osflow_aws_kit::SdkConfig;
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
pub use osflow_aws_kit::{load_sdk_config, sdk_config_from_env};

/// The S3 client of `config`: path-style when an endpoint override is configured (see the crate docs).
pub fn client(config: &SdkConfig) -> Client {
    let overridden = config.endpoint_url().is_some();
    Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(overridden).build())
}

/// The blob store on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    /// Signs the upload forms (a client does not hand its credentials out).
    credentials: Option<SharedCredentialsProvider>,
}

impl S3BlobStore {
    /// A store on `bucket` through `client`; upload forms need [`with_credentials`](Self::with_credentials).
    pub fn new(client: Client, bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore { client, bucket: bucket.into(), credentials: None }
    }

    /// The credentials the upload forms are signed with (those of the client's configuration).
    pub fn with_credentials(mut self, credentials: Option<SharedCredentialsProvider>) -> S3BlobStore {
        self.credentials = credentials;
        self
    }

    /// A store on `bucket` with the client and credentials of `config` (see [`client`]).
    pub fn from_config(config: &SdkConfig, bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore::new(client(config), bucket).with_credentials(config.credentials_provider())
    }

    /// A store on `bucket` with the configuration of [`load_sdk_config`].
    pub async fn from_env(bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore::from_config(&load_sdk_config().await, bucket)
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
    async fn presign_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
        max_bytes: u64,
    ) -> StoreResult<UploadForm> {
        let object = object_key(tenant, key)?;
        // The bucket's URL in the client's addressing style (path-style on an emulator, virtual-hosted in AWS):
        // a presigned GetObject of the object (signed locally, never sent) with the object's path cut off.
        let presigning = PresigningConfig::expires_in(UPLOAD_URL_TTL)
            .map_err(|e| StoreError::Other(format!("presigning config: {e}")))?;
        let get = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object)
            .presigned(presigning)
            .await
            .map_err(sdk_error)?;
        let path = get.uri().split('?').next().unwrap_or_default();
        let url = path
            .strip_suffix(&format!("/{object}"))
            .ok_or_else(|| StoreError::Other(format!("unexpected object URL {path}")))?
            .to_owned();
        let config = self.client.config();
        let region = config.region().ok_or_else(|| StoreError::Other("no region configured".into()))?.to_string();
        let credentials = self
            .credentials
            .as_ref()
            .ok_or_else(|| StoreError::Other("no credentials configured".into()))?
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Unavailable(format!("credentials: {}", DisplayErrorContext(&e))))?;
        let policy = PostPolicy {
            bucket: &self.bucket,
            object: &object,
            content_type,
            max_bytes,
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
            region: &region,
        };
        Ok(post_form(&policy, url, std::time::SystemTime::now()))
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

/// What a presigned POST form binds.
#[derive(Debug, Clone, Copy)]
pub struct PostPolicy<'a> {
    pub bucket: &'a str,
    pub object: &'a str,
    pub content_type: &'a str,
    pub max_bytes: u64,
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
}

/// The presigned POST form of `policy` at `url`, signed at `now` and valid for [`UPLOAD_URL_TTL`] (S3's
/// "browser-based upload using HTTP POST", SigV4): the policy document (base64 JSON of the expiration and the
/// conditions: bucket, key, `Content-Type`, `content-length-range` 1 to `max_bytes`, the algorithm, credential,
/// date and session token) and its signature, `hex(HMAC-SHA256(signing key, policy))` with the SigV4 signing key
/// of the date, region and `s3`.
pub fn post_form(policy: &PostPolicy<'_>, url: String, now: std::time::SystemTime) -> UploadForm {
    use base64::Engine as _;
    let at: chrono::DateTime<chrono::Utc> = now.into();
    let date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let credential = format!("{}/{}/{}/s3/aws4_request", policy.access_key_id, at.format("%Y%m%d"), policy.region);
    let expiration = (at + chrono::Duration::from_std(UPLOAD_URL_TTL).expect("15 minutes"))
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut fields: Vec<(String, String)> = vec![
        ("key".into(), policy.object.into()),
        ("Content-Type".into(), policy.content_type.into()),
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), date),
    ];
    if let Some(token) = policy.session_token {
        fields.push(("x-amz-security-token".into(), token.into()));
    }
    let mut conditions = vec![
        serde_json::json!({"bucket": policy.bucket}),
        serde_json::json!(["content-length-range", 1, policy.max_bytes]),
    ];
    conditions.extend(fields.iter().map(|(name, value)| serde_json::json!({ name.as_str(): value })));
    let document = serde_json::json!({"expiration": expiration, "conditions": conditions});
    let encoded = base64::engine::general_purpose::STANDARD.encode(document.to_string());
    let key = aws_sigv4::sign::v4::generate_signing_key(policy.secret_access_key, now, policy.region, "s3");
    let signature = aws_sigv4::sign::v4::calculate_signature(key, encoded.as_bytes());
    fields.push(("policy".into(), encoded));
    fields.push(("x-amz-signature".into(), signature));
    UploadForm { url, fields }
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
