//! The staff's session: a cookie holding the claims the API trusts (tenant, user, roles) with an expiry and a
//! random id, signed with HMAC-SHA256 (compared in constant time); and the CSRF token of every form, an HMAC of
//! the session's id, so a form posted from elsewhere (or without its token) is refused.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use osflow_app::Caller;
use osflow_domain::Role;
use osflow_domain::values::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The cookie's name.
pub const COOKIE: &str = "osflow_sessao";
/// How long a session lasts (a shift and then some).
pub const SESSION_HOURS: i64 = 12;
/// Shortest key accepted.
pub const KEY_MIN: usize = 32;

/// The key that signs sessions and form tokens.
#[derive(Clone)]
pub struct SessionKey(Vec<u8>);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

impl SessionKey {
    /// `None` when shorter than [`KEY_MIN`] bytes.
    pub fn new(key: Vec<u8>) -> Option<SessionKey> {
        (key.len() >= KEY_MIN).then_some(SessionKey(key))
    }

    fn mac(&self, context: &[u8], data: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(context);
        mac.update(&[0]);
        mac.update(data);
        mac
    }
}

/// What the cookie carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "t")]
    pub tenant: String,
    #[serde(rename = "u")]
    pub user: String,
    #[serde(rename = "r")]
    pub roles: Vec<Role>,
    /// Expiry, Unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// Random id (hex): the CSRF token is derived from it.
    #[serde(rename = "n")]
    pub id: String,
    /// Display name (Cognito's e-mail, or the development user).
    #[serde(rename = "d", default)]
    pub display: String,
}

impl Session {
    pub fn new(tenant: &TenantId, user: &UserId, roles: Vec<Role>, display: &str, now: i64) -> Session {
        Session {
            tenant: tenant.as_str().to_owned(),
            user: user.as_str().to_owned(),
            roles,
            expires: now + SESSION_HOURS * 3600,
            id: uuid::Uuid::new_v4().simple().to_string(),
            display: display.to_owned(),
        }
    }

    /// The caller the use cases and the API see; `None` when the claims do not parse.
    pub fn caller(&self) -> Option<Caller> {
        Some(Caller {
            tenant: TenantId::parse(&self.tenant).ok()?,
            user: UserId::parse(&self.user).ok()?,
            roles: self.roles.clone(),
        })
    }
}

impl SessionKey {
    /// The cookie's value: `base64url(json).base64url(mac)`.
    pub fn seal(&self, session: &Session) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(session).expect("plain struct serializes"));
        let tag = URL_SAFE_NO_PAD.encode(self.mac(b"session", payload.as_bytes()).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    /// The session of a cookie value: signed by this key and not expired at `now`.
    pub fn open(&self, value: &str, now: i64) -> Option<Session> {
        let (payload, tag) = value.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        // The MAC first, in constant time: nothing of an unsigned payload is looked at.
        self.mac(b"session", payload.as_bytes()).verify_slice(&tag).ok()?;
        let session: Session = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (session.expires > now).then_some(session)
    }

    /// The CSRF token of the session's forms.
    pub fn csrf(&self, session: &Session) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(b"csrf", session.id.as_bytes()).finalize().into_bytes())
    }

    /// Whether `token` is the session's CSRF token (constant time).
    pub fn csrf_ok(&self, session: &Session, token: &str) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else { return false };
        self.mac(b"csrf", session.id.as_bytes()).verify_slice(&tag).is_ok()
    }

    /// A value signed for `context` (the PKCE verifier and state of a Cognito sign-in), `value.mac`.
    pub fn sign(&self, context: &str, value: &str) -> String {
        let tag = URL_SAFE_NO_PAD.encode(self.mac(context.as_bytes(), value.as_bytes()).finalize().into_bytes());
        format!("{value}.{tag}")
    }

    /// The value of [`SessionKey::sign`] when its MAC holds.
    pub fn unsign(&self, context: &str, signed: &str) -> Option<String> {
        let (value, tag) = signed.rsplit_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(context.as_bytes(), value.as_bytes()).verify_slice(&tag).ok()?;
        Some(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::new(vec![7; 32]).unwrap()
    }

    fn session(now: i64) -> Session {
        let tenant = TenantId::parse("oficina").unwrap();
        Session::new(&tenant, &UserId::parse("ana").unwrap(), vec![Role::Atendente], "Ana", now)
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires_and_not_when_forged() {
        let s = session(1_000);
        let sealed = key().seal(&s);
        assert_eq!(key().open(&sealed, 1_001), Some(s.clone()));
        assert_eq!(key().open(&sealed, 1_000 + SESSION_HOURS * 3600), None, "expired");
        assert_eq!(SessionKey::new(vec![8; 32]).unwrap().open(&sealed, 1_001), None, "another key");
        // The same MAC over a payload with more roles.
        let (_, tag) = sealed.split_once('.').unwrap();
        let forged = Session { roles: vec![Role::Representante], ..s.clone() };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(key().open(&format!("{payload}.{tag}"), 1_001), None);
        assert_eq!(key().open("garbage", 1_001), None);
    }

    #[test]
    fn the_csrf_token_is_the_sessions_own() {
        let (a, b) = (session(1), session(1));
        let token = key().csrf(&a);
        assert!(key().csrf_ok(&a, &token));
        assert!(!key().csrf_ok(&b, &token), "another session's token");
        assert!(!key().csrf_ok(&a, ""));
        assert_eq!(key().unsign("pkce", &key().sign("pkce", "abc")), Some("abc".into()));
        assert_eq!(key().unsign("state", &key().sign("pkce", "abc")), None);
    }
}
