//! Staff sign-in in AWS: Cognito's hosted UI with the authorization code flow and PKCE (RFC 7636, `S256`).
//!
//! 1. `GET /entrar` makes a random verifier and state, keeps them in a short-lived cookie signed with the session
//!    key ([`PKCE_COOKIE`]: HttpOnly, Secure, SameSite=Lax so that it comes back with Cognito's redirect, path
//!    `/entrar`) and sends the browser to `/oauth2/authorize` with the verifier's SHA-256 as the challenge.
//! 2. Cognito sends the browser back to `/entrar/retorno?code=…&state=…`: the state must be the cookie's; the code
//!    and the verifier are exchanged at `/oauth2/token` (a public client: no secret, the verifier proves the
//!    exchange is this browser's); the ID token is verified (RS256 against the pool's JWKS, issuer, audience =
//!    the console's app client, `token_use` = id, expiry).
//!    The signature is checked with `ring` (already in the tree through rustls) on the key of the JWKS entry the
//!    token's `kid` names: the workspace's jsonwebtoken (12) takes its cryptography from one process-wide
//!    provider, which osflow-local sets to HS256 only for its development tokens.
//! 3. Its claims become the session through the same function the API reads its JWT authorizer's claims with
//!    ([`osflow_lambda_kit::caller::caller_from_claims`]): `custom:tenant`, `sub`, `cognito:groups`.
//!
//! Sign-out ends the console's session and Cognito's (`/logout`), whose page sends the browser back to the
//! console.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use osflow_app::Caller;
use osflow_lambda_kit::caller::{GROUPS_CLAIM, TENANT_CLAIM, USER_CLAIM, caller_from_claims};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::session::SessionKey;

/// The cookie holding the sign-in in progress (state and verifier), signed.
pub const PKCE_COOKIE: &str = "osflow_entrada";
/// How long a sign-in may take at Cognito's page.
pub const SIGN_IN_SECONDS: i64 = 600;
/// The callback path registered in the app client.
pub const CALLBACK_PATH: &str = "/entrar/retorno";
/// The scopes asked for.
const SCOPES: &str = "openid email profile";
/// Each request to Cognito (token, keys) gives up after this long.
const HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Clock skew accepted on the token's times.
const LEEWAY_SECONDS: i64 = 60;

/// One key of the pool's JWKS (RSA: modulus and exponent, base64url).
#[derive(Debug, Clone, Deserialize)]
struct Jwk {
    kid: String,
    kty: String,
    #[serde(default)]
    alg: Option<String>,
    #[serde(default)]
    n: String,
    #[serde(default)]
    e: String,
}

#[derive(Debug, Clone, Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

impl JwkSet {
    fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid == kid && k.kty == "RSA" && k.alg.as_deref().is_none_or(|a| a == "RS256"))
    }
}

/// Where the user pool and the console's app client are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoConfig {
    /// The hosted UI's base URL (`https://<prefix>.auth.<region>.amazoncognito.com`), without a trailing `/`.
    pub domain: String,
    /// The console's app client (public: no secret).
    pub client_id: String,
    /// The pool's issuer, `https://cognito-idp.<region>.amazonaws.com/<pool id>`.
    pub issuer: String,
    /// The pool's signing keys; [`CognitoConfig::new`] makes it `<issuer>/.well-known/jwks.json`.
    pub jwks_url: String,
}

impl CognitoConfig {
    pub fn new(domain: &str, client_id: &str, issuer: &str) -> CognitoConfig {
        let issuer = issuer.trim_end_matches('/').to_owned();
        CognitoConfig {
            domain: domain.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            jwks_url: format!("{issuer}/.well-known/jwks.json"),
            issuer,
        }
    }
}

/// Why a sign-in did not complete (logged; the user reads a Portuguese page).
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("no sign-in in progress, or its cookie is forged or expired")]
    NoPendingSignIn,
    #[error("the state does not match the sign-in in progress")]
    StateMismatch,
    #[error("Cognito answered the sign-in with error {0}")]
    Refused(String),
    #[error("the callback has no code")]
    NoCode,
    #[error("the token endpoint failed: {0}")]
    TokenEndpoint(String),
    #[error("the ID token is not valid: {0}")]
    BadToken(String),
    #[error("the signing keys could not be read: {0}")]
    Keys(String),
    #[error("the token's claims are not a staff member's: {0}")]
    Claims(String),
}

/// The hosted UI sign-in of one app client.
#[derive(Debug)]
pub struct Cognito {
    pub config: CognitoConfig,
    http: reqwest::Client,
    /// The pool's keys, read once and again when a token names a key not among them (rotation).
    keys: Mutex<Option<JwkSet>>,
}

/// A sign-in started: where to send the browser and the cookie to set.
#[derive(Debug, Clone)]
pub struct Started {
    pub location: String,
    pub cookie_value: String,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// The S256 challenge of a verifier.
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Cognito {
    pub fn new(config: CognitoConfig) -> Result<Cognito, reqwest::Error> {
        // The process-wide rustls provider: ring (an error only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .connect_timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Cognito { config, http, keys: Mutex::new(None) })
    }

    /// The hosted UI's sign-out, coming back to `return_to`.
    pub fn logout_url(&self, return_to: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("client_id", &self.config.client_id)
            .append_pair("logout_uri", return_to)
            .finish();
        format!("{}/logout?{query}", self.config.domain)
    }

    /// Starts a sign-in whose callback is `redirect_uri`.
    pub fn start(&self, key: &SessionKey, redirect_uri: &str, now: i64) -> Started {
        let state = random_token(16);
        // 32 random bytes: a 43-character verifier, the shortest RFC 7636 allows, with 256 bits.
        let verifier = random_token(32);
        let expires = now + SIGN_IN_SECONDS;
        let cookie_value = key.sign("pkce", &format!("{state}.{verifier}.{expires}"));
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", &state)
            .append_pair("code_challenge", &challenge(&verifier))
            .append_pair("code_challenge_method", "S256")
            .finish();
        Started { location: format!("{}/oauth2/authorize?{query}", self.config.domain), cookie_value }
    }

    /// Completes the sign-in of the callback's query with the cookie of [`Cognito::start`]: the caller the
    /// ID token names and the e-mail to show.
    pub async fn finish(
        &self,
        key: &SessionKey,
        redirect_uri: &str,
        query: &HashMap<String, String>,
        cookie: Option<&str>,
        now: i64,
    ) -> Result<(Caller, String), SignInError> {
        let pending = cookie.and_then(|c| key.unsign("pkce", c)).ok_or(SignInError::NoPendingSignIn)?;
        let mut parts = pending.split('.');
        let (Some(state), Some(verifier), Some(expires)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SignInError::NoPendingSignIn);
        };
        if expires.parse::<i64>().map_or(true, |e| e <= now) {
            return Err(SignInError::NoPendingSignIn);
        }
        if query.get("state").map(String::as_str) != Some(state) {
            return Err(SignInError::StateMismatch);
        }
        if let Some(error) = query.get("error") {
            return Err(SignInError::Refused(error.chars().take(64).collect()));
        }
        let code = query.get("code").filter(|c| !c.is_empty()).ok_or(SignInError::NoCode)?;
        let id_token = self.exchange(code, verifier, redirect_uri).await?;
        self.verify(&id_token, now).await
    }

    async fn exchange(&self, code: &str, verifier: &str, redirect_uri: &str) -> Result<String, SignInError> {
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        let failed = |e: reqwest::Error| SignInError::TokenEndpoint(e.without_url().to_string());
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.config.domain))
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(failed)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(failed)?;
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if !status.is_success() {
            let error = json["error"].as_str().unwrap_or("no error code").chars().take(64).collect::<String>();
            return Err(SignInError::TokenEndpoint(format!("{status}: {error}")));
        }
        json["id_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SignInError::TokenEndpoint("the answer has no id_token".into()))
    }

    async fn jwks(&self, refresh: bool) -> Result<JwkSet, SignInError> {
        if !refresh && let Some(keys) = self.keys.lock().expect("keys lock").clone() {
            return Ok(keys);
        }
        let failed = |e: reqwest::Error| SignInError::Keys(e.without_url().to_string());
        let resp = self.http.get(&self.config.jwks_url).send().await.map_err(failed)?;
        if !resp.status().is_success() {
            return Err(SignInError::Keys(format!("HTTP {}", resp.status())));
        }
        let body = resp.bytes().await.map_err(failed)?;
        let keys: JwkSet = serde_json::from_slice(&body).map_err(|e| SignInError::Keys(e.to_string()))?;
        *self.keys.lock().expect("keys lock") = Some(keys.clone());
        Ok(keys)
    }

    /// The caller of a verified ID token of this app client, at `now` (Unix seconds).
    pub async fn verify(&self, id_token: &str, now: i64) -> Result<(Caller, String), SignInError> {
        let bad = |why: &str| SignInError::BadToken(why.to_owned());
        let mut parts = id_token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not a compact JWS"));
        };
        let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| bad("not base64url"));
        let header: Value = serde_json::from_slice(&decode(header)?).map_err(|_| bad("header"))?;
        if header["alg"] != "RS256" {
            return Err(bad("algorithm other than RS256"));
        }
        let kid = header["kid"].as_str().ok_or_else(|| bad("no kid"))?;
        let jwk = match self.jwks(false).await?.find(kid) {
            Some(k) => k.clone(),
            None => self.jwks(true).await?.find(kid).cloned().ok_or_else(|| bad("signed by an unknown key"))?,
        };
        let key = RsaPublicKeyComponents { n: decode(&jwk.n)?, e: decode(&jwk.e)? };
        let signed = &id_token[..id_token.len() - signature.len() - 1];
        key.verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &decode(signature)?)
            .map_err(|_| bad("the signature does not hold"))?;
        let claims: HashMap<String, Value> =
            serde_json::from_slice(&decode(payload)?).map_err(|_| bad("the payload is not a JSON object"))?;
        let number = |name: &str| claims.get(name).and_then(Value::as_i64);
        if claims.get("iss").and_then(Value::as_str) != Some(self.config.issuer.as_str()) {
            return Err(bad("another issuer"));
        }
        let audience = match claims.get("aud") {
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        if !audience.contains(&self.config.client_id.as_str()) {
            return Err(bad("another audience"));
        }
        if claims.get("token_use").and_then(Value::as_str) != Some("id") {
            return Err(bad("not an ID token"));
        }
        if number("exp").is_none_or(|exp| exp + LEEWAY_SECONDS <= now) {
            return Err(bad("expired"));
        }
        if number("iat").is_some_and(|iat| iat - LEEWAY_SECONDS > now) {
            return Err(bad("issued in the future"));
        }
        // The claims as API Gateway's JWT authorizer hands them to the API (strings; the groups a JSON array).
        let text = |name: &str| match claims.get(name) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(v @ Value::Array(_)) => Some(v.to_string()),
            _ => None,
        };
        let flat: HashMap<String, String> = [TENANT_CLAIM, USER_CLAIM, GROUPS_CLAIM]
            .into_iter()
            .filter_map(|name| text(name).map(|v| (name.to_owned(), v)))
            .collect();
        let caller =
            caller_from_claims(&flat).map_err(|p| SignInError::Claims(p.detail.clone().unwrap_or_default()))?;
        if caller.roles.is_empty() {
            return Err(SignInError::Claims("no osflow role among cognito:groups".into()));
        }
        let display = text("email").unwrap_or_else(|| caller.user.to_string());
        Ok((caller, display))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_rfc_7636_s256() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_sign_in_sends_the_browser_to_the_hosted_ui_with_the_challenge_of_its_cookie() {
        let key = SessionKey::new(vec![1; 32]).unwrap();
        let cognito = Cognito::new(CognitoConfig::new(
            "https://oficina.auth.us-east-1.amazoncognito.com/",
            "client1",
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
        ))
        .unwrap();
        assert_eq!(
            cognito.config.jwks_url,
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc/.well-known/jwks.json"
        );
        let started = cognito.start(&key, "https://console.example/entrar/retorno", 100);
        let (base, query) = started.location.split_once('?').unwrap();
        assert_eq!(base, "https://oficina.auth.us-east-1.amazoncognito.com/oauth2/authorize");
        let q: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        let pending = key.unsign("pkce", &started.cookie_value).unwrap();
        let parts: Vec<&str> = pending.split('.').collect();
        assert_eq!(q["state"], parts[0]);
        assert_eq!(parts[1].len(), 43);
        assert_eq!(q["code_challenge"], challenge(parts[1]));
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["redirect_uri"], "https://console.example/entrar/retorno");
        assert_eq!(q["response_type"], "code");
        assert_eq!(parts[2], (100 + SIGN_IN_SECONDS).to_string());
        // Two sign-ins never share a state or a verifier.
        let other = key.unsign("pkce", &cognito.start(&key, "x", 100).cookie_value).unwrap();
        assert_ne!(other.split('.').next(), Some(parts[0]));
    }
}
