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
//! the style AWS recommends.
//!
//! # Not the AWS SDK's S3 client
//!
//! The three operations are plain REST requests sent by `osflow_aws_kit::signed::SignedHttp`: signed with SigV4
//! by `aws-sigv4` (the SDK's own signer), sent by the connector of `aws-smithy-http-client` (the SDK's own HTTPS
//! stack, rustls on ring) with the configuration's connect timeout and a read timeout, and retried as the SDK
//! retries (3 attempts, a 5xx, a throttling code or a failed connection). `aws-sdk-s3` linked its checksum algorithms (CRC32/CRC32C/CRC64-NVME tables, about 0.7 MB),
//! S3's endpoint rules and its client into every function that keeps files, about 1.4 MB of a 7.6 MB bootstrap,
//! for three requests osflow makes without checksums or endpoint rules.
//!
//! # Permissions
//!
//! The functions' role needs `s3:GetObject` and `s3:PutObject` on `arn:aws:s3:::<bucket>/t/*` and
//! `s3:ListBucket` on the bucket: without `ListBucket`, S3 answers a missing object with 403 (`AccessDenied`)
//! instead of 404, and `get` reports an error instead of `None`.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use osflow_app::{Blob, BlobHead, BlobStore, StoreError, StoreResult, UploadForm};
use osflow_aws_kit::SdkConfig;
use osflow_aws_kit::signed::{Answer, SignedHttp, Signing};
use osflow_domain::values::TenantId;
use osflow_lambda_kit::blob::{UPLOAD_URL_TTL_MINUTES, check_key};

/// The content type reported for an object stored without one.
pub const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// How long a presigned upload stays valid.
pub const UPLOAD_URL_TTL: Duration = Duration::from_secs(UPLOAD_URL_TTL_MINUTES as u64 * 60);

/// How long a response may take to start, and each read after it, when the SDK configuration sets no read
/// timeout (osflow's sets none: its DynamoDB requests end with the Lambda's own time limit). An object is a file
/// of a few MB at most; a stalled read is tried again rather than waited on until the function times out.
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The object key of `key` for `tenant`, after checking `key`.
pub fn object_key(tenant: &TenantId, key: &str) -> StoreResult<String> {
    check_key(key)?;
    Ok(format!("t/{}/{key}", tenant.as_str()))
}

pub use osflow_aws_kit::{load_sdk_config, sdk_config_from_env};

/// The `BlobStore` on one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    http: SignedHttp,
    bucket: String,
}

impl S3BlobStore {
    /// The store on `bucket` with the configuration's region, credentials, endpoint override and timeouts.
    pub fn from_config(config: &SdkConfig, bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore { http: SignedHttp::new(config, "s3", Signing::S3, Some(READ_TIMEOUT)), bucket: bucket.into() }
    }

    /// [`S3BlobStore::from_config`] with the configuration from the process environment.
    pub async fn from_env(bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore::from_config(&load_sdk_config().await, bucket)
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The same store on another bucket (tests).
    pub fn on_bucket(&self, bucket: &str) -> S3BlobStore {
        S3BlobStore { bucket: bucket.to_owned(), ..self.clone() }
    }

    /// The bucket's URL, without a trailing `/`: `<endpoint>/<bucket>` on an endpoint override (path-style),
    /// `https://<bucket>.s3.<region>.amazonaws.com` in AWS (virtual-hosted).
    fn bucket_url(&self) -> String {
        match self.http.endpoint_override() {
            Some(endpoint) => format!("{endpoint}/{}", self.bucket),
            None => format!("https://{}.s3.{}.amazonaws.com", self.bucket, self.http.region()),
        }
    }

    /// The object's URL (each key segment percent-encoded as SigV4 canonicalizes it).
    fn object_url(&self, object: &str) -> String {
        use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
        const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
        let path: Vec<String> = object.split('/').map(|s| utf8_percent_encode(s, SEGMENT).to_string()).collect();
        format!("{}/{}", self.bucket_url(), path.join("/"))
    }

    /// Sends one signed request, retried on a failed connection, a 5xx or a throttling code (as the SDK does);
    /// the last answer (a success or a failure not worth retrying).
    async fn send(&self, method: &'static str, object: &str, put: Option<&Blob>) -> StoreResult<Answer> {
        let url = self.object_url(object);
        // The body copied once; each attempt sends the same bytes.
        let body = put.map(|blob| bytes::Bytes::from(blob.bytes.clone())).unwrap_or_default();
        let headers: &[(&str, &str)] = match put {
            Some(blob) => &[("content-type", blob.content_type.as_str())],
            None => &[],
        };
        let retry = |answer: &Answer| matches!(failure(answer, method, object), Some(StoreError::Unavailable(_)));
        self.http.send(method, &url, headers, body, retry).await
    }

    /// A GET or HEAD of the object of `key`: `None` when S3 has no such key, the failure of any other error.
    async fn read(&self, method: &'static str, tenant: &TenantId, key: &str) -> StoreResult<Option<Answer>> {
        let object = object_key(tenant, key)?;
        let answer = self.send(method, &object, None).await?;
        if is_missing_key(&answer, method) {
            return Ok(None);
        }
        match failure(&answer, method, &object) {
            Some(failure) => Err(failure),
            None => Ok(Some(answer)),
        }
    }
}

/// What a non-2xx answer of S3 means: `Unavailable` for a 5xx or a throttling code (tried again), `Other` with
/// S3's code and message otherwise (a 404's code tells a missing key from a missing bucket).
fn failure(answer: &Answer, method: &str, object: &str) -> Option<StoreError> {
    if answer.is_success() {
        return None;
    }
    let code = code(answer);
    let message = element(answer, "Message").unwrap_or_default();
    let text = format!("{method} {object}: {code}: {message}");
    if answer.status >= 500 || TRANSIENT_CODES.contains(&code.as_str()) {
        Some(StoreError::Unavailable(text))
    } else {
        Some(StoreError::Other(text))
    }
}

/// S3's error code (the `<Code>` of its XML error), or `HTTP <status>` for an answer without one.
fn code(answer: &Answer) -> String {
    element(answer, "Code").unwrap_or_else(|| format!("HTTP {}", answer.status))
}

/// The text of the error document's element `name`.
fn element(answer: &Answer, name: &str) -> Option<String> {
    let text = std::str::from_utf8(&answer.body).ok()?;
    let start = text.find(&format!("<{name}>"))? + name.len() + 2;
    let end = text[start..].find(&format!("</{name}>"))? + start;
    Some(text[start..end].to_owned())
}

/// A missing object: 404 with `NoSuchKey` (for a HEAD, which has no body, any 404).
fn is_missing_key(answer: &Answer, method: &str) -> bool {
    answer.status == 404 && (method == "HEAD" || code(answer) == "NoSuchKey")
}

/// The answer's content type (`application/octet-stream` when it has none).
fn content_type(answer: &Answer) -> String {
    answer.header("content-type").unwrap_or(DEFAULT_CONTENT_TYPE).to_owned()
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
        let credentials = self.http.credentials().await?;
        let policy = PostPolicy {
            bucket: &self.bucket,
            object: &object,
            content_type,
            max_bytes,
            access_key_id: credentials.access_key_id(),
            secret_access_key: credentials.secret_access_key(),
            session_token: credentials.session_token(),
            region: self.http.region(),
        };
        Ok(post_form(&policy, self.bucket_url(), SystemTime::now()))
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Blob>> {
        Ok(self
            .read("GET", tenant, key)
            .await?
            .map(|answer| Blob { content_type: content_type(&answer), bytes: answer.body }))
    }

    async fn head(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<BlobHead>> {
        Ok(self.read("HEAD", tenant, key).await?.map(|answer| BlobHead {
            content_type: content_type(&answer),
            size: answer.header("content-length").and_then(|n| n.parse().ok()).unwrap_or(0),
        }))
    }

    async fn put(&self, tenant: &TenantId, key: &str, blob: &Blob) -> StoreResult<()> {
        let object = object_key(tenant, key)?;
        match failure(&self.send("PUT", &object, Some(blob)).await?, "PUT", &object) {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, code: Option<&str>) -> Answer {
        let body = code.map(|c| format!("<?xml version=\"1.0\"?><Error><Code>{c}</Code><Message>m</Message></Error>"));
        Answer { status, headers: Default::default(), body: body.unwrap_or_default().into_bytes() }
    }

    #[test]
    fn answers_are_classified_as_the_sdk_classifies_them() {
        assert!(failure(&answer(200, None), "GET", "o").is_none());
        // Tried again: a 5xx, a throttling code.
        for retried in [answer(503, Some("SlowDown")), answer(500, None), answer(400, Some("RequestTimeout"))] {
            assert!(matches!(failure(&retried, "PUT", "o"), Some(StoreError::Unavailable(_))), "{retried:?}");
        }
        // Not: the others, with S3's code and message.
        let denied = failure(&answer(403, Some("AccessDenied")), "GET", "t/a/x");
        assert_eq!(denied, Some(StoreError::Other("GET t/a/x: AccessDenied: m".into())));
        // Missing: a key (any 404 of a HEAD, which has no body), not a bucket.
        assert!(is_missing_key(&answer(404, Some("NoSuchKey")), "GET"));
        assert!(!is_missing_key(&answer(404, Some("NoSuchBucket")), "GET"));
        assert!(is_missing_key(&answer(404, None), "HEAD"));
        assert!(!is_missing_key(&answer(403, None), "HEAD"));
    }

    #[test]
    fn addressing_is_path_style_on_an_endpoint_and_virtual_hosted_on_aws() {
        let config = |endpoint: Option<&'static str>| {
            osflow_aws_kit::sdk_config_from_vars(move |name| match name {
                "AWS_REGION" => Some("sa-east-1".to_owned()),
                "AWS_ENDPOINT_URL" => endpoint.map(str::to_owned),
                _ => None,
            })
        };
        let aws = S3BlobStore::from_config(&config(None), "osflow-files");
        assert_eq!(aws.object_url("t/acme/a.pdf"), "https://osflow-files.s3.sa-east-1.amazonaws.com/t/acme/a.pdf");
        let emulator = S3BlobStore::from_config(&config(Some("http://127.0.0.1:45660/")), "b1");
        assert_eq!(emulator.object_url("t/acme/x y.pdf"), "http://127.0.0.1:45660/b1/t/acme/x%20y.pdf");
        assert_eq!(emulator.on_bucket("b2").object_url("k"), "http://127.0.0.1:45660/b2/k");
        assert_eq!(aws.on_bucket("b2").object_url("k"), "https://b2.s3.sa-east-1.amazonaws.com/k");
    }

    #[test]
    fn object_keys_are_scoped_by_tenant_and_checked() {
        let acme = TenantId::parse("acme").unwrap();
        assert_eq!(object_key(&acme, "orders/1/a.jpg").unwrap(), "t/acme/orders/1/a.jpg");
        for bad in ["", "../x", "a//b", ".hidden", "sp ace"] {
            assert!(matches!(object_key(&acme, bad), Err(StoreError::Other(_))), "{bad}");
        }
    }
}
