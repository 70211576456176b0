//! Development tokens: HS256 JWTs signed with the data folder's key, carrying the claims the API Gateway JWT
//! authorizer passes on in production (`custom:tenant`, `sub`, `cognito:groups`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
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

/// Signs and verifies development tokens with one secret.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys").finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn from_secret(secret: &[u8]) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 5;
        TokenKeys { encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret), validation }
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

    /// Checks the signature, the algorithm, the issuer and the expiry.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data) => Ok(data.claims),
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

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
