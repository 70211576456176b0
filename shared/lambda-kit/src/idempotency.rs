//! `Idempotency-Key`: a retried write with the same key and the same request gets the first response again.

use lambda_http::http::HeaderMap;
use osflow_app::Idempotency;
use sha2::{Digest, Sha256};

use crate::problem::{Problem, ProblemType};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The response header set on a replayed response.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` of the request, if sent: 1 to 255 visible ASCII characters (`!` to `~`), else a 400
/// problem naming the header.
pub fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let mut values = headers.get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else { return Ok(None) };
    let bad = |detail: &str| Problem::field(ProblemType::InvalidHeader, "Idempotency-Key", detail);
    if values.next().is_some() {
        return Err(bad("send a single key"));
    }
    let key = value.as_bytes();
    if key.is_empty() || key.len() > 255 || !key.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(bad("the key must have 1 to 255 visible ASCII characters"));
    }
    Ok(Some(String::from_utf8(key.to_vec()).expect("visible ASCII is UTF-8")))
}

/// SHA-256 (lower-case hex) of the request: method, path and body, each length-prefixed so that no two requests
/// share a hash by moving bytes between the parts.
pub fn request_hash(method: &str, path: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), body] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

/// The prefix of every stored client key. Keys the system makes itself (`portal:<order>:<revision>` for a
/// customer's decision, `notify:<event>:<channel>` for a notification's record) never start with it, so a
/// client can neither read nor take them.
pub const CLIENT_KEY_PREFIX: &str = "client:";

/// The stored key of a client's `Idempotency-Key`: scoped to `scope` (the caller and the operation), so that
/// the same key from another user or on another route is another key. `client:` + SHA-256 (hex) of both,
/// length-prefixed: at most 71 characters, whatever the user id.
pub fn client_key(scope: &str, key: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [scope.as_bytes(), key.as_bytes()] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    format!("{CLIENT_KEY_PREFIX}{}", hex::encode(hasher.finalize()))
}

/// The [`Idempotency`] of a write: the key from the headers, scoped to `scope` (see [`client_key`]), with the
/// hash of this request.
pub fn idempotency(
    headers: &HeaderMap,
    scope: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Option<Idempotency>, Problem> {
    Ok(idempotency_key(headers)?
        .map(|key| Idempotency { key: client_key(scope, &key), request_hash: request_hash(method, path, body) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    #[test]
    fn key_rules() {
        let mut headers = HeaderMap::new();
        assert_eq!(idempotency_key(&headers), Ok(None));
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("a1b2-c3~!"));
        assert_eq!(idempotency_key(&headers), Ok(Some("a1b2-c3~!".to_owned())));
        let long = "k".repeat(255);
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_str(&long).unwrap());
        assert_eq!(idempotency_key(&headers), Ok(Some(long)));
        for bad in ["", "with space", &"k".repeat(256)] {
            headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_str(bad).unwrap());
            let err = idempotency_key(&headers).unwrap_err();
            assert_eq!((err.status, err.field.as_deref()), (400, Some("Idempotency-Key")), "{bad:?}");
        }
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap());
        assert_eq!(idempotency_key(&headers).unwrap_err().status, 400);
    }

    #[test]
    fn client_keys_are_scoped_and_never_internal() {
        let a = client_key("ana|add_note", "k-1");
        assert!(a.starts_with(CLIENT_KEY_PREFIX) && a.len() == CLIENT_KEY_PREFIX.len() + 64, "{a}");
        assert_ne!(a, client_key("bia|add_note", "k-1"), "another user");
        assert_ne!(a, client_key("ana|cancel", "k-1"), "another operation");
        assert_ne!(client_key("a", "bc"), client_key("ab", "c"), "no shifting between the parts");
        assert!(!client_key("ana|add_note", "portal:x:1").starts_with("portal:"));
        let mut headers = HeaderMap::new();
        headers.insert(IDEMPOTENCY_KEY, HeaderValue::from_static("notify:e:email"));
        let idem = idempotency(&headers, "ana|add_note", "POST", "/v1/x", b"{}").unwrap().unwrap();
        assert_eq!(idem.key, client_key("ana|add_note", "notify:e:email"));
    }

    #[test]
    fn hash_covers_method_path_and_body() {
        let h = request_hash("POST", "/v1/orders", b"{}");
        assert_eq!(h.len(), 64);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(h, request_hash("POST", "/v1/orders", b"{}"));
        assert_ne!(h, request_hash("PUT", "/v1/orders", b"{}"));
        assert_ne!(h, request_hash("POST", "/v1/orders/x", b"{}"));
        assert_ne!(h, request_hash("POST", "/v1/orders", b"{ }"));
        assert_ne!(request_hash("POST", "/a", b"b"), request_hash("POST", "/ab", b""));
        // SHA-256 of the empty string, to pin the digest.
        assert_eq!(
            hex::encode(Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
