//! [`LocalBlobStore`]: the [`BlobStore`] port on a local folder, for osflow-local and tests. (The S3 adapter
//! belongs with the AWS adapters.)
//!
//! Files live at `<root>/<tenant>/<key>`, their content type at `<root>/.meta/<tenant>/<key>`. Upload forms
//! post to the embedded server (`<base_url>/<tenant>/<key>`) with the fields `Content-Type`, `expires`,
//! `max-bytes` and `signature` (HMAC-SHA256 under a secret of the store over the tenant, the key and those
//! fields), as S3's presigned POST does; the server checks them with [`LocalBlobStore::verify_upload`], refuses
//! a file over `max-bytes` and then calls [`BlobStore::put`].

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use osflow_app::{Blob, BlobHead, BlobStore, StoreError, StoreResult, UploadForm};
use osflow_domain::values::TenantId;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::Sha256;

/// How long an upload URL stays valid.
pub const UPLOAD_URL_TTL_MINUTES: i64 = 15;

/// Checks a blob key: 1–512 chars of `[A-Za-z0-9._/-]`, segments non-empty and not starting with a dot.
pub fn check_key(key: &str) -> StoreResult<()> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'/' | b'-'))
        && key.split('/').all(|seg| !seg.is_empty() && !seg.starts_with('.'));
    if ok { Ok(()) } else { Err(StoreError::Other(format!("invalid blob key {key:?}"))) }
}

/// The signed fields of a local upload form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalUpload {
    pub content_type: String,
    /// Unix seconds.
    pub expires: i64,
    pub max_bytes: u64,
}

/// The blob store on a local folder.
#[derive(Clone)]
pub struct LocalBlobStore {
    root: PathBuf,
    base_url: String,
    secret: Vec<u8>,
}

impl std::fmt::Debug for LocalBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBlobStore").field("root", &self.root).field("base_url", &self.base_url).finish()
    }
}

impl LocalBlobStore {
    /// A store under `root`, whose upload URLs start with `base_url` (e.g. `http://127.0.0.1:3000/blobs`) and are
    /// signed with `secret`.
    pub fn new(root: impl Into<PathBuf>, base_url: impl Into<String>, secret: impl Into<Vec<u8>>) -> LocalBlobStore {
        LocalBlobStore {
            root: root.into(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            secret: secret.into(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn paths(&self, tenant: &TenantId, key: &str) -> StoreResult<(PathBuf, PathBuf)> {
        check_key(key)?;
        let data = self.root.join(tenant.as_str()).join(key);
        let meta = self.root.join(".meta").join(tenant.as_str()).join(key);
        Ok((data, meta))
    }

    fn mac(&self, tenant: &TenantId, key: &str, form: &LocalUpload) -> HmacSha256 {
        let LocalUpload { content_type, expires, max_bytes } = form;
        let message = format!("POST\n{tenant}\n{key}\n{content_type}\n{expires}\n{max_bytes}");
        mac_of(&self.secret, message.as_bytes())
    }

    /// The signed upload form of `key` (at most `max_bytes`), valid until `now` + [`UPLOAD_URL_TTL_MINUTES`].
    pub fn upload_form(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
        max_bytes: u64,
        now: DateTime<Utc>,
    ) -> StoreResult<UploadForm> {
        check_key(key)?;
        let expires = (now + Duration::minutes(UPLOAD_URL_TTL_MINUTES)).timestamp();
        let form = LocalUpload { content_type: content_type.to_owned(), expires, max_bytes };
        let signature = hex::encode(self.mac(tenant, key, &form).finalize().into_bytes());
        Ok(UploadForm {
            url: format!("{}/{tenant}/{key}", self.base_url),
            fields: vec![
                ("Content-Type".into(), form.content_type),
                ("expires".into(), expires.to_string()),
                ("max-bytes".into(), max_bytes.to_string()),
                ("signature".into(), signature),
            ],
        })
    }

    /// Whether an upload of `key` with these form fields is allowed at `now`: the signature matches and has not
    /// expired. The server also refuses a file over `form.max_bytes`, or empty.
    pub fn verify_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        form: &LocalUpload,
        signature: &str,
        now: DateTime<Utc>,
    ) -> bool {
        if check_key(key).is_err() || now.timestamp() > form.expires {
            return false;
        }
        // The MAC's own constant-time comparison.
        let Ok(given) = hex::decode(signature) else { return false };
        self.mac(tenant, key, form).verify_slice(&given).is_ok()
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Other(format!("blob i/o: {e}"))
}

/// The content type a blob was stored with (its `meta` file; `application/octet-stream` without one).
async fn content_type(meta: &Path) -> StoreResult<String> {
    match tokio::fs::read_to_string(meta).await {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok("application/octet-stream".to_owned()),
        Err(e) => Err(io(e)),
    }
}

async fn write_atomically(path: &Path, bytes: &[u8]) -> StoreResult<()> {
    let dir = path.parent().expect("blob paths have a parent");
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let tmp = dir.join(format!(".tmp-{}", uuid::Uuid::now_v7().simple()));
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)
}

#[async_trait]
impl BlobStore for LocalBlobStore {
    async fn presign_upload(
        &self,
        tenant: &TenantId,
        key: &str,
        content_type: &str,
        max_bytes: u64,
    ) -> StoreResult<UploadForm> {
        self.upload_form(tenant, key, content_type, max_bytes, Utc::now())
    }

    async fn get(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<Blob>> {
        let (data, meta) = self.paths(tenant, key)?;
        let bytes = match tokio::fs::read(&data).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        Ok(Some(Blob { content_type: content_type(&meta).await?, bytes }))
    }

    async fn head(&self, tenant: &TenantId, key: &str) -> StoreResult<Option<BlobHead>> {
        let (data, meta) = self.paths(tenant, key)?;
        let size = match tokio::fs::metadata(&data).await {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        Ok(Some(BlobHead { content_type: content_type(&meta).await?, size }))
    }

    async fn put(&self, tenant: &TenantId, key: &str, blob: &Blob) -> StoreResult<()> {
        let (data, meta) = self.paths(tenant, key)?;
        write_atomically(&meta, blob.content_type.as_bytes()).await?;
        write_atomically(&data, &blob.bytes).await
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac_of(key: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac
}

/// HMAC-SHA256 (RFC 2104), from the `hmac` crate.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    mac_of(key, message).finalize().into_bytes().into()
}

/// Everything but the unreserved characters of RFC 3986 (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn keys_are_checked() {
        for ok in ["a", "orders/0190/attachments/x.jpg", "nfe/35-1.xml"] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/abs", "a//b", "../x", "a/../b", ".hidden", "a/.b", "sp ace", "a\\b", &"k".repeat(513)] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn put_get_and_tenant_isolation() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::new(dir.path(), "http://127.0.0.1:3000/blobs/", b"secret".to_vec());
        let (acme, other) = (tenant("acme"), tenant("other"));
        assert_eq!(store.get(&acme, "a/b.txt").await.unwrap(), None);
        assert_eq!(store.head(&acme, "a/b.txt").await.unwrap(), None);
        let blob = Blob { content_type: "text/plain".into(), bytes: b"hello".to_vec() };
        store.put(&acme, "a/b.txt", &blob).await.unwrap();
        let head = BlobHead { content_type: "text/plain".into(), size: 5 };
        assert_eq!(store.head(&acme, "a/b.txt").await.unwrap(), Some(head));
        assert_eq!(store.head(&other, "a/b.txt").await.unwrap(), None);
        assert_eq!(store.get(&acme, "a/b.txt").await.unwrap(), Some(blob.clone()));
        assert_eq!(store.get(&other, "a/b.txt").await.unwrap(), None, "another tenant's key is another file");
        let replaced = Blob { content_type: "application/xml".into(), bytes: b"<a/>".to_vec() };
        store.put(&acme, "a/b.txt", &replaced).await.unwrap();
        assert_eq!(store.get(&acme, "a/b.txt").await.unwrap(), Some(replaced));
        assert!(store.put(&acme, "../escape", &blob).await.is_err());
        assert!(store.get(&acme, "a/../../x").await.is_err());
    }

    #[test]
    fn upload_forms_are_signed_bounded_and_expire() {
        let store = LocalBlobStore::new("/nowhere", "http://127.0.0.1:3000/blobs", b"secret".to_vec());
        let acme = tenant("acme");
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let form = store.upload_form(&acme, "orders/1/a.jpg", "image/jpeg", 1000, now).unwrap();
        assert_eq!(form.url, "http://127.0.0.1:3000/blobs/acme/orders/1/a.jpg");
        let field = |name: &str| form.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap();
        let expires = now.timestamp() + UPLOAD_URL_TTL_MINUTES * 60;
        assert_eq!(
            (field("Content-Type"), field("expires"), field("max-bytes")),
            ("image/jpeg".into(), expires.to_string(), "1000".into())
        );
        let signature = field("signature");
        let signed = LocalUpload { content_type: "image/jpeg".into(), expires, max_bytes: 1000 };
        assert!(store.verify_upload(&acme, "orders/1/a.jpg", &signed, &signature, now));
        let later = now + Duration::minutes(UPLOAD_URL_TTL_MINUTES + 1);
        assert!(!store.verify_upload(&acme, "orders/1/a.jpg", &signed, &signature, later));
        assert!(!store.verify_upload(&acme, "orders/1/b.jpg", &signed, &signature, now));
        assert!(!store.verify_upload(&tenant("other"), "orders/1/a.jpg", &signed, &signature, now));
        for forged in [
            LocalUpload { content_type: "image/png".into(), ..signed.clone() },
            LocalUpload { expires: expires + 60, ..signed.clone() },
            LocalUpload { max_bytes: 1_000_000, ..signed.clone() },
        ] {
            assert!(!store.verify_upload(&acme, "orders/1/a.jpg", &forged, &signature, now), "{forged:?}");
        }
    }
}
