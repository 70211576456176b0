//! The signed links: `base64url(payload ‖ MAC)`, where the payload names one company, one order and one purpose
//! (view, or decide quote revision r) with an expiry, and the MAC is HMAC-SHA256 under the deployment's portal key,
//! truncated to 128 bits and compared in constant time.
//!
//! Payload (big-endian): version `1` (1 byte), purpose (1 byte: 0 view, 1 decide), revision (u32; 0 for view),
//! expiry (u64 Unix seconds), order id (16 bytes), tenant length (1 byte) and tenant (ASCII). A token is about 75
//! characters; nothing in it is secret, only unforgeable.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, KeyInit, Mac};
use osflow_domain::values::{OrderId, TenantId};
use sha2::Sha256;

/// The shortest portal key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;
/// Bytes of the truncated MAC (128 bits).
pub const MAC_LEN: usize = 16;
/// How long a link is valid unless configured otherwise.
pub const DEFAULT_TTL_DAYS: i64 = 7;

const VERSION: u8 = 1;
const FIXED_LEN: usize = 1 + 1 + 4 + 8 + 16 + 1;
/// Domain separation of the MACs made with the one key.
const TOKEN_CONTEXT: &[u8] = b"osflow-portal/token/v1\0";
const FORM_CONTEXT: &[u8] = b"osflow-portal/form/v1\0";

/// What a link allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Follow the order (status, timeline, quotes): no decision.
    View,
    /// Follow the order and decide quote revision `revision` while it is the one waiting.
    Decide { revision: u32 },
}

/// The verified content of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub tenant: TenantId,
    pub order: OrderId,
    pub purpose: Purpose,
    /// Unix seconds.
    pub expires: i64,
}

/// Why a token was refused. The page never says which: every refusal looks the same to the visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
    #[error("expired token")]
    Expired,
}

/// The deployment's portal key (Secrets Manager in AWS, `<data>/portal.key` locally).
#[derive(Clone)]
pub struct PortalKey {
    key: Vec<u8>,
}

impl std::fmt::Debug for PortalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortalKey(…)")
    }
}

/// A key shorter than [`MIN_KEY_LEN`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the portal key must have at least {MIN_KEY_LEN} bytes (it has {0})")]
pub struct KeyTooShort(pub usize);

impl PortalKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Result<PortalKey, KeyTooShort> {
        let key = key.into();
        if key.len() < MIN_KEY_LEN {
            return Err(KeyTooShort(key.len()));
        }
        Ok(PortalKey { key })
    }

    fn mac(&self, context: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(context);
        mac
    }

    /// A link token for `order` of `tenant`, valid until `expires`.
    pub fn mint(&self, tenant: &TenantId, order: &OrderId, purpose: Purpose, expires: DateTime<Utc>) -> String {
        let (kind, revision) = match purpose {
            Purpose::View => (0u8, 0u32),
            Purpose::Decide { revision } => (1u8, revision),
        };
        let t = tenant.as_str().as_bytes();
        let mut bytes = Vec::with_capacity(FIXED_LEN + t.len() + MAC_LEN);
        bytes.push(VERSION);
        bytes.push(kind);
        bytes.extend_from_slice(&revision.to_be_bytes());
        bytes.extend_from_slice(&expires.timestamp().max(0).to_be_bytes());
        bytes.extend_from_slice(order.as_uuid().as_bytes());
        bytes.push(t.len() as u8);
        bytes.extend_from_slice(t);
        let mut mac = self.mac(TOKEN_CONTEXT);
        mac.update(&bytes);
        let tag = mac.finalize().into_bytes();
        bytes.extend_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The claims of a token this key signed and that has not expired at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
        if token.len() > 256 {
            return Err(TokenError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| TokenError::Malformed)?;
        if bytes.len() < FIXED_LEN + 1 + MAC_LEN {
            return Err(TokenError::Malformed);
        }
        let (payload, tag) = bytes.split_at(bytes.len() - MAC_LEN);
        // The MAC first, in constant time: nothing of an unsigned payload is looked at.
        let mut mac = self.mac(TOKEN_CONTEXT);
        mac.update(payload);
        mac.verify_truncated_left(tag).map_err(|_| TokenError::BadSignature)?;
        if payload[0] != VERSION || payload[FIXED_LEN - 1] as usize != payload.len() - FIXED_LEN {
            return Err(TokenError::Malformed);
        }
        let revision = u32::from_be_bytes(payload[2..6].try_into().expect("4 bytes"));
        let purpose = match payload[1] {
            0 => Purpose::View,
            1 => Purpose::Decide { revision },
            _ => return Err(TokenError::Malformed),
        };
        let expires = i64::from_be_bytes(payload[6..14].try_into().expect("8 bytes"));
        let uuid = uuid::Uuid::from_slice(&payload[14..30]).map_err(|_| TokenError::Malformed)?;
        let order = OrderId::from_uuid(uuid).map_err(|_| TokenError::Malformed)?;
        let tenant = std::str::from_utf8(&payload[FIXED_LEN..]).map_err(|_| TokenError::Malformed)?;
        let tenant = TenantId::parse(tenant).map_err(|_| TokenError::Malformed)?;
        if now.timestamp() >= expires {
            return Err(TokenError::Expired);
        }
        Ok(Claims { tenant, order, purpose, expires })
    }

    /// The form nonce of the decision form: bound to the token and to the quote as shown (its SHA-256), so a form
    /// is good only for the link it was served under and the quote it showed.
    pub fn form_nonce(&self, token: &str, quote_sha256: &str) -> String {
        let mut mac = self.mac(FORM_CONTEXT);
        mac.update(token.as_bytes());
        mac.update(b"\0");
        mac.update(quote_sha256.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..MAC_LEN])
    }

    /// Whether `nonce` is the form nonce of (`token`, `quote_sha256`), compared in constant time.
    pub fn check_form_nonce(&self, token: &str, quote_sha256: &str, nonce: &str) -> bool {
        let Ok(given) = URL_SAFE_NO_PAD.decode(nonce) else { return false };
        if given.len() != MAC_LEN {
            return false;
        }
        let mut mac = self.mac(FORM_CONTEXT);
        mac.update(token.as_bytes());
        mac.update(b"\0");
        mac.update(quote_sha256.as_bytes());
        mac.verify_truncated_left(&given).is_ok()
    }
}

/// The link lifetime: [`DEFAULT_TTL_DAYS`] unless configured.
pub fn default_ttl() -> Duration {
    Duration::days(DEFAULT_TTL_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> PortalKey {
        PortalKey::new(vec![b; 32]).unwrap()
    }

    fn ids() -> (TenantId, OrderId) {
        (TenantId::parse("oficina-1").unwrap(), OrderId::parse("01936b2e-7c3a-7f00-8000-000000000001").unwrap())
    }

    #[test]
    fn round_trip_and_refusals() {
        let (t, o) = ids();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let k = key(7);
        let token = k.mint(&t, &o, Purpose::Decide { revision: 3 }, now + default_ttl());
        assert!(token.len() < 100, "{token}");
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let c = k.verify(&token, now).unwrap();
        assert_eq!((c.tenant, c.order, c.purpose), (t.clone(), o, Purpose::Decide { revision: 3 }));
        // Expired at the expiry second.
        assert_eq!(k.verify(&token, now + default_ttl()), Err(TokenError::Expired));
        // Another key, a flipped bit anywhere, a truncation: refused.
        assert_eq!(key(8).verify(&token, now), Err(TokenError::BadSignature));
        let raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..raw.len() {
            let mut forged = raw.clone();
            forged[i] ^= 1;
            assert!(k.verify(&URL_SAFE_NO_PAD.encode(&forged), now).is_err(), "bit flip at {i}");
        }
        assert!(k.verify(&token[..token.len() - 4], now).is_err());
        assert_eq!(k.verify("", now), Err(TokenError::Malformed));
        assert_eq!(k.verify("!!!", now), Err(TokenError::Malformed));
        assert!(PortalKey::new(vec![0; 31]).is_err());
    }

    #[test]
    fn form_nonces_bind_token_and_quote() {
        let (t, o) = ids();
        let k = key(1);
        let now = Utc::now();
        let a = k.mint(&t, &o, Purpose::Decide { revision: 1 }, now + default_ttl());
        let b = k.mint(&t, &o, Purpose::Decide { revision: 2 }, now + default_ttl());
        let n = k.form_nonce(&a, "abc");
        assert!(k.check_form_nonce(&a, "abc", &n));
        assert!(!k.check_form_nonce(&b, "abc", &n));
        assert!(!k.check_form_nonce(&a, "abd", &n));
        assert!(!key(2).check_form_nonce(&a, "abc", &n));
        assert!(!k.check_form_nonce(&a, "abc", "x"));
    }
}
