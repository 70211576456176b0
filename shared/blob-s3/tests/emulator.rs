//! The S3 adapter against the emulator (moto, over real HTTP): presigned uploads with a plain HTTP client, the
//! put/get round trip, missing keys, tenant isolation and key checking. Each test has its own bucket.
//!
//! These tests need `AWS_ENDPOINT_URL` (set by `scripts/test`). Without it, or with nothing listening there, they
//! fail with a message saying so: they never pass silently.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::Client;
use osflow_app::{Blob, BlobHead, BlobStore, StoreError};
use osflow_blob_s3::{S3BlobStore, load_sdk_config};
use osflow_domain::values::TenantId;

const RUN_SCRIPTS_TEST: &str = "these tests need the S3 emulator: run `scripts/test` (or `scripts/emulator start` \
                                and export AWS_ENDPOINT_URL=http://127.0.0.1:45660, AWS_REGION, \
                                AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as scripts/test does)";

fn tenant(s: &str) -> TenantId {
    TenantId::parse(s).unwrap()
}

/// A bucket name unique to this process and call (3–63 chars of lower-case letters, digits and hyphens).
fn unique_bucket_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("osflow-test-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A store on a fresh bucket of the emulator, and its client.
async fn fresh_store() -> (S3BlobStore, Client) {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => {}
        _ => panic!("AWS_ENDPOINT_URL is not set; {RUN_SCRIPTS_TEST}"),
    }
    let config = load_sdk_config().await;
    // The SDK's own client (path-style on the emulator), apart from the adapter under test.
    let s3 = aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build();
    let client = Client::from_conf(s3);
    let bucket = unique_bucket_name();
    if let Err(e) = client.create_bucket().bucket(&bucket).send().await {
        panic!("cannot create bucket {bucket}: {}; {RUN_SCRIPTS_TEST}", aws_sdk_s3::error::DisplayErrorContext(&e));
    }
    (S3BlobStore::from_config(&config, bucket), client)
}

/// A `multipart/form-data` body as a browser sends an HTML form (RFC 7578): the fields, then the file as `file`.
fn multipart_form(fields: &[(String, String)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----osflow-test-boundary-3fT1lq0aZ";
    let mut body = Vec::new();
    for (name, value) in fields {
        let part = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n");
        body.extend_from_slice(part.as_bytes());
    }
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\nContent-Type: image/jpeg\r\n\r\n"
    );
    body.extend_from_slice(head.as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The presigned POST form: its policy binds the bucket, the object key under the tenant, the content type and a
/// `content-length-range` of 1 to the maximum, expires in 15 minutes, and its signature is SigV4's (recomputed here
/// from AWS's documented derivation, apart from the code under test). A right-size file posted with it lands with
/// its content type.
///
/// The emulator does not enforce the policy: moto 5.2.5's bucket POST handler (`_bucket_response_post` in
/// `moto/s3/responses.py`) reads the key and the body and stores them without looking at `policy`,
/// `x-amz-signature` or `content-length-range` (a 100-byte file against a range of 1–10 and a zeroed signature are
/// both answered 204). So the bound is tested here in the document signed, and S3 enforces it (`EntityTooLarge`);
/// osflow-local's upload route enforces the same bound and is tested on the binary.
#[tokio::test]
async fn a_presigned_post_binds_type_and_size_and_lands_the_file() {
    use base64::Engine as _;
    let (store, client) = fresh_store().await;
    let acme = tenant("acme");
    let key = "orders/0190/attachments/photo.jpg";
    let form = store.presign_upload(&acme, key, "image/jpeg", 1024).await.unwrap();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    assert_eq!(form.url, format!("{}/{}", endpoint.trim_end_matches('/'), store.bucket()), "path-style");
    let field = |name: &str| form.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(field("key"), format!("t/acme/{key}"));
    assert_eq!(field("Content-Type"), "image/jpeg");
    assert_eq!(field("x-amz-algorithm"), "AWS4-HMAC-SHA256");

    // The policy document.
    let policy: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(field("policy")).unwrap()).unwrap();
    let conditions = policy["conditions"].as_array().unwrap();
    for wanted in [
        serde_json::json!({"bucket": store.bucket()}),
        serde_json::json!({"key": format!("t/acme/{key}")}),
        serde_json::json!({"Content-Type": "image/jpeg"}),
        serde_json::json!(["content-length-range", 1, 1024]),
        serde_json::json!({"x-amz-credential": field("x-amz-credential")}),
        serde_json::json!({"x-amz-date": field("x-amz-date")}),
    ] {
        assert!(conditions.contains(&wanted), "{wanted} not in {policy}");
    }
    let expiration = chrono::DateTime::parse_from_rfc3339(policy["expiration"].as_str().unwrap()).unwrap();
    let minutes = (expiration.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_minutes();
    assert!((14..=15).contains(&minutes), "{policy}");

    // The signature: HMAC-SHA256 of the base64 policy under the SigV4 key of the credential's date and region.
    let credential = field("x-amz-credential");
    let scope: Vec<&str> = credential.split('/').collect();
    assert_eq!((scope[3], scope[4]), ("s3", "aws4_request"), "{credential}");
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap();
    let mut signing = hmac_sha256(format!("AWS4{secret}").as_bytes(), scope[1].as_bytes());
    for part in [scope[2], "s3", "aws4_request"] {
        signing = hmac_sha256(&signing, part.as_bytes());
    }
    assert_eq!(field("x-amz-signature"), hex::encode(hmac_sha256(&signing, field("policy").as_bytes())));

    // Signing writes nothing; the form lands a right-size file with its content type.
    assert_eq!(store.get(&acme, key).await.unwrap(), None);
    let bytes = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
    let (content_type, body) = multipart_form(&form.fields, &bytes);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(&form.url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the upload reaches the emulator");
    assert!(response.status().is_success(), "upload answered {}: {:?}", response.status(), response.text().await);
    assert_eq!(store.get(&acme, key).await.unwrap(), Some(Blob { content_type: "image/jpeg".into(), bytes }));
    let head = client.head_object().bucket(store.bucket()).key(format!("t/acme/{key}")).send().await.unwrap();
    assert_eq!(head.content_type(), Some("image/jpeg"));
}

#[tokio::test]
async fn put_then_get_round_trips_and_replaces() {
    let (store, _) = fresh_store().await;
    let acme = tenant("acme");
    let xml = Blob {
        content_type: "application/xml".into(),
        bytes: b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><nfeProc versao=\"4.00\"/>".to_vec(),
    };
    store.put(&acme, "nfe/35-1.xml", &xml).await.unwrap();
    // The size and type before the body (HeadObject).
    let head = BlobHead { content_type: "application/xml".into(), size: xml.bytes.len() as u64 };
    assert_eq!(store.head(&acme, "nfe/35-1.xml").await.unwrap(), Some(head));
    assert_eq!(store.get(&acme, "nfe/35-1.xml").await.unwrap(), Some(xml));

    let report = Blob { content_type: "text/csv; charset=utf-8".into(), bytes: "ordem;valor\n1;10,00\n".into() };
    store.put(&acme, "nfe/35-1.xml", &report).await.unwrap();
    assert_eq!(store.get(&acme, "nfe/35-1.xml").await.unwrap(), Some(report), "put replaces");

    let empty = Blob { content_type: "application/octet-stream".into(), bytes: Vec::new() };
    store.put(&acme, "reports/empty.bin", &empty).await.unwrap();
    assert_eq!(store.get(&acme, "reports/empty.bin").await.unwrap(), Some(empty));
}

#[tokio::test]
async fn a_missing_key_is_none() {
    let (store, _) = fresh_store().await;
    assert_eq!(store.get(&tenant("acme"), "orders/0190/attachments/nothing.jpg").await.unwrap(), None);
    assert_eq!(store.head(&tenant("acme"), "orders/0190/attachments/nothing.jpg").await.unwrap(), None);
}

#[tokio::test]
async fn a_tenant_cannot_read_another_tenants_key() {
    let (store, _) = fresh_store().await;
    let (acme, other) = (tenant("acme"), tenant("other"));
    let blob = Blob { content_type: "text/plain".into(), bytes: b"acme's secret".to_vec() };
    store.put(&acme, "a/b.txt", &blob).await.unwrap();
    assert_eq!(store.get(&other, "a/b.txt").await.unwrap(), None, "the same key of another tenant is another file");

    let others = Blob { content_type: "text/plain".into(), bytes: b"other's".to_vec() };
    store.put(&other, "a/b.txt", &others).await.unwrap();
    assert_eq!(store.get(&acme, "a/b.txt").await.unwrap(), Some(blob));
    assert_eq!(store.get(&other, "a/b.txt").await.unwrap(), Some(others));
}

#[tokio::test]
async fn bad_keys_are_refused_before_any_request() {
    let (store, _) = fresh_store().await;
    let acme = tenant("acme");
    let blob = Blob { content_type: "text/plain".into(), bytes: b"x".to_vec() };
    for bad in ["", "../other/a.txt", "a/../../x", "/abs", "a//b", ".hidden", "sp ace", "a?b", &"k".repeat(513)] {
        assert!(matches!(store.put(&acme, bad, &blob).await, Err(StoreError::Other(_))), "put {bad:?}");
        assert!(matches!(store.get(&acme, bad).await, Err(StoreError::Other(_))), "get {bad:?}");
        assert!(
            matches!(store.presign_upload(&acme, bad, "text/plain", 10).await, Err(StoreError::Other(_))),
            "presign {bad:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_bucket_is_an_error_not_none() {
    let (store, _) = fresh_store().await;
    let gone = store.on_bucket(&format!("{}-missing", store.bucket()));
    let err = gone.get(&tenant("acme"), "a.txt").await.unwrap_err();
    assert!(matches!(&err, StoreError::Other(text) if text.contains("NoSuchBucket")), "{err:?}");
}
