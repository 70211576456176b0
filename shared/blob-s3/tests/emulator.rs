//! The S3 adapter against the emulator (moto, over real HTTP): presigned uploads with a plain HTTP client, the
//! put/get round trip, missing keys, tenant isolation and key checking. Each test has its own bucket.
//!
//! These tests need `AWS_ENDPOINT_URL` (set by `scripts/test`). Without it, or with nothing listening there, they
//! fail with a message saying so: they never pass silently.

use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_s3::Client;
use osflow_app::{Blob, BlobHead, BlobStore, StoreError};
use osflow_blob_s3::{S3BlobStore, client, load_sdk_config};
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
    let client = client(&load_sdk_config().await);
    let bucket = unique_bucket_name();
    if let Err(e) = client.create_bucket().bucket(&bucket).send().await {
        panic!("cannot create bucket {bucket}: {}; {RUN_SCRIPTS_TEST}", aws_sdk_s3::error::DisplayErrorContext(&e));
    }
    (S3BlobStore::new(client.clone(), bucket), client)
}

#[tokio::test]
async fn a_presigned_put_uploads_the_file_with_its_content_type() {
    let (store, client) = fresh_store().await;
    let acme = tenant("acme");
    let key = "orders/0190/attachments/photo.jpg";
    let url = store.presign_put(&acme, key, "image/jpeg").await.unwrap();

    // Path-style on the emulator, and the content type is part of what the URL signs. (The emulator does not
    // check signatures, so it would accept another content type: S3 answers that with 403.)
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let expected_prefix = format!("{}/{}/t/acme/{key}?", endpoint.trim_end_matches('/'), store.bucket());
    assert!(url.starts_with(&expected_prefix), "{url} does not start with {expected_prefix}");
    let signed_headers = url.split('&').find_map(|p| p.split_once("X-Amz-SignedHeaders=")).map(|(_, v)| v);
    assert_eq!(signed_headers.map(|v| v.contains("content-type")), Some(true), "{url}");
    assert!(url.contains("X-Amz-Expires=900"), "15 minutes: {url}");

    // Signing writes nothing.
    assert_eq!(store.get(&acme, key).await.unwrap(), None);

    let bytes = b"\xff\xd8\xff\xe0 not really a jpeg".to_vec();
    let response = reqwest::Client::new()
        .put(&url)
        .header("content-type", "image/jpeg")
        .body(bytes.clone())
        .send()
        .await
        .expect("the upload reaches the emulator");
    assert!(response.status().is_success(), "upload answered {}: {:?}", response.status(), response.text().await);

    assert_eq!(store.get(&acme, key).await.unwrap(), Some(Blob { content_type: "image/jpeg".into(), bytes }));
    // The object lives under the tenant's prefix.
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
            matches!(store.presign_put(&acme, bad, "text/plain").await, Err(StoreError::Other(_))),
            "presign {bad:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_bucket_is_an_error_not_none() {
    let (store, client) = fresh_store().await;
    let gone = S3BlobStore::new(client, format!("{}-missing", store.bucket()));
    let err = gone.get(&tenant("acme"), "a.txt").await.unwrap_err();
    assert!(matches!(&err, StoreError::Other(text) if text.contains("NoSuchBucket")), "{err:?}");
}
