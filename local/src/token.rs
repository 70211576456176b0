//! Development tokens: HS256 JWTs signed with the data folder's key, carrying the claims the API Gateway JWT
//! authorizer passes on in production (`custom:tenant`, `sub`, `cognito:groups`).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result as JwtResult};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Header, Validation};
use osflow_domain::Role;
use serde::{Deserialize, Serialize};

/// Issuer of every development token.
pub const ISSUER: &str = "osflow-local";

/// How long a printed token is valid by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// The claims of a development token, named as Cognito names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "custom:tenant")]
    pub tenant: String,
    pub sub: String,
    #[serde(rename = "cognito:groups")]
    pub groups: Vec<String>,
    pub iss: String,
    pub iat: u64,
    pub exp: u64,
}

/// Why a token was refused. Deliberately coarse: the client learns only that it is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Expired,
    Invalid,
}

impl TokenError {
    /// The detail shown to the client (pt-BR).
    pub fn detail(&self) -> &'static str {
        match self {
            TokenError::Missing => "Envie o cabeçalho Authorization: Bearer <token>.",
            TokenError::Expired => "O token expirou; gere outro com `osflow-local token`.",
            TokenError::Invalid => "Token inválido.",
        }
    }
}

/// Seconds a token is still accepted after its expiry (clock skew).
const LEEWAY_SECS: u64 = 5;
/// Tokens remembered as verified; past this many the memory is emptied (a client sends one token many times).
const VERIFIED_KEPT: usize = 1024;

/// Signs and verifies development tokens with one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// The claims of the tokens verified lately, by the token's text: a client sends the same token with every
    /// request, and checking it (base64, JSON, HMAC) again costs more than the rest of the gateway's work. Only
    /// a token that passed [`TokenKeys::verify`] is here; its expiry is checked again at every use.
    verified: Mutex<HashMap<String, Claims>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Keys over `secret`; refused when it is empty (the data folder's keys never are).
    pub fn from_secret(secret: &[u8]) -> Result<TokenKeys, String> {
        install_hs256_provider();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = LEEWAY_SECS;
        let refused = |e: jsonwebtoken::errors::Error| format!("the token key cannot sign: {e}");
        Ok(TokenKeys {
            encoding: EncodingKey::from_secret(secret).map_err(refused)?,
            decoding: DecodingKey::from_secret(secret).map_err(refused)?,
            validation,
            verified: Mutex::default(),
        })
    }

    /// A token for `user` of `tenant` with `roles`, valid for `ttl` from now.
    pub fn issue(&self, tenant: &str, user: &str, roles: &[Role], ttl: Duration) -> String {
        let now = unix_now();
        let claims = Claims {
            tenant: tenant.to_owned(),
            sub: user.to_owned(),
            groups: roles.iter().map(|r| r.as_str().to_owned()).collect(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// Checks the signature, the algorithm, the issuer and the expiry (a token verified lately: the expiry).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(claims) = verified.get(token) {
            if claims.exp.saturating_add(LEEWAY_SECS) < unix_now() {
                verified.remove(token);
                return Err(TokenError::Expired);
            }
            return Ok(claims.clone());
        }
        drop(verified);
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => {
                let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
                if verified.len() >= VERIFIED_KEPT {
                    verified.clear();
                }
                verified.insert(token.to_owned(), data.claims.clone());
                Ok(data.claims)
            }
            Err(e) if matches!(e.kind(), jsonwebtoken::errors::ErrorKind::ExpiredSignature) => Err(TokenError::Expired),
            Err(_) => Err(TokenError::Invalid),
        }
    }

    /// The claims of the `Authorization: Bearer …` header value.
    pub fn verify_header(&self, authorization: Option<&[u8]>) -> Result<Claims, TokenError> {
        let value = authorization.ok_or(TokenError::Missing)?;
        let value = std::str::from_utf8(value).map_err(|_| TokenError::Invalid)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(TokenError::Invalid)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(TokenError::Invalid);
        }
        self.verify(token.trim())
    }
}

/// jsonwebtoken's cryptography is pluggable: its built-in providers bring RSA, P-256, P-384 and Ed25519 (RustCrypto)
/// or a C build (aws-lc). Development tokens need only HMAC-SHA-256, which the `hmac` and `sha2` crates already in
/// the tree provide; this provider offers exactly that and refuses every other algorithm.
static HS256_ONLY: CryptoProvider = CryptoProvider {
    signer_factory: hs256_signer,
    verifier_factory: hs256_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::InvalidAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        ed_pub_components_from_private_key: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
        compute_digest: |_, _| Err(ErrorKind::InvalidAlgorithm.into()),
    },
};

/// Makes [`HS256_ONLY`] the process's provider (once; later calls find it installed).
fn install_hs256_provider() {
    // Err means a provider is already installed: ours, by an earlier call.
    let _ = HS256_ONLY.install_default();
}

type HmacSha256 = Hmac<sha2::Sha256>;

struct Hs256(HmacSha256);

impl Hs256 {
    fn new(algorithm: Algorithm, family: AlgorithmFamily, secret: &[u8]) -> JwtResult<Hs256> {
        if algorithm != Algorithm::HS256 || family != AlgorithmFamily::Hmac {
            return Err(ErrorKind::InvalidAlgorithm.into());
        }
        HmacSha256::new_from_slice(secret).map(Hs256).map_err(|_| ErrorKind::InvalidKeyFormat.into())
    }
}

impl Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, SignatureError> {
        let mut mac = self.0.clone();
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }
}

impl Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, message: &[u8], signature: &Vec<u8>) -> Result<(), SignatureError> {
        let mut mac = self.0.clone();
        mac.update(message);
        // Constant-time comparison.
        mac.verify_slice(signature).map_err(|_| SignatureError::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn hs256_signer(algorithm: &Algorithm, key: &EncodingKey) -> JwtResult<Box<dyn JwtSigner>> {
    Ok(Box::new(Hs256::new(*algorithm, key.family(), key.as_bytes())?))
}

fn hs256_verifier(algorithm: &Algorithm, key: &DecodingKey) -> JwtResult<Box<dyn JwtVerifier>> {
    Ok(Box::new(Hs256::new(*algorithm, key.family(), key.try_get_as_bytes()?)?))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
