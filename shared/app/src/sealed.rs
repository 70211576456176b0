//! Secrets at rest, sealed with AES-256-GCM (ring) under a key the store is given: the A1 certificates' passwords
//! in the embedded store (locally, `secrets.key` beside the other keys of the data folder) and the equipment's
//! unlock codes in both stores (in AWS the key is a Secrets Manager secret). What a secret belongs to (the company,
//! the company and the order) is the associated data, so that a sealed text moved elsewhere does not open.
//! Stored as `sealed1:` + base64(nonce ‖ ciphertext ‖ tag). The one sealing code of the project: the stores call
//! it, none has its own.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

use crate::ports::{StoreError, StoreResult};

const PREFIX: &str = "sealed1:";

/// The key secrets are sealed with. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretsKey([u8; 32]);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(..)")
    }
}

impl SecretsKey {
    /// The key derived from secret material (e.g. a random key file, a generated secret): SHA-256 over a label
    /// and the material.
    pub fn derive(material: &[u8]) -> SecretsKey {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"osflow A1 passwords v1\0");
        ctx.update(material);
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        SecretsKey(key)
    }

    /// A random key (a store whose data dies with it: a temporary store, a test).
    pub fn generate() -> StoreResult<SecretsKey> {
        let mut key = [0u8; 32];
        SystemRandom::new().fill(&mut key).map_err(|_| StoreError::Other("no randomness for a key".into()))?;
        Ok(SecretsKey(key))
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte AES-256 key"))
    }
}

/// Whether `stored` is a sealed text.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Seals `secret`, bound to `context` (what it belongs to: the company, or the company and the order).
pub fn seal(key: &SecretsKey, context: &str, secret: &str) -> StoreResult<String> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| StoreError::Other("no randomness for a nonce".into()))?;
    let mut data = secret.as_bytes().to_vec();
    key.aead()
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(context.as_bytes()), &mut data)
        .map_err(|_| StoreError::Other("cannot seal the secret".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
}

/// The secret of `stored` bound to `context`: opened with `key` when sealed; a text in clear (an A1 password of a
/// file no key has opened yet) as it is.
pub fn unseal(key: Option<&SecretsKey>, context: &str, stored: String) -> StoreResult<String> {
    let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(stored) };
    let refused = || StoreError::Other(format!("a secret of {context} does not open with this store's key"));
    let key = key.ok_or_else(refused)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| refused())?;
    if bytes.len() < NONCE_LEN {
        return Err(refused());
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
    let mut data = sealed.to_vec();
    let plain = key.aead().open_in_place(nonce, Aad::from(context.as_bytes()), &mut data).map_err(|_| refused())?;
    String::from_utf8(plain.to_vec()).map_err(|_| refused())
}

/// The associated data of an order's unlock code.
pub fn unlock_code_context(tenant: &osflow_domain::values::TenantId, order: &osflow_domain::values::OrderId) -> String {
    format!("unlock-code:{tenant}:{order}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let key = SecretsKey::derive(b"material");
        let sealed = seal(&key, "acme:1", "1234").unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("1234"));
        assert_ne!(seal(&key, "acme:1", "1234").unwrap(), sealed, "a fresh nonce each time");
        assert_eq!(unseal(Some(&key), "acme:1", sealed.clone()).unwrap(), "1234");
        assert!(unseal(Some(&key), "acme:2", sealed.clone()).is_err(), "another context");
        assert!(unseal(Some(&SecretsKey::derive(b"other")), "acme:1", sealed.clone()).is_err(), "another key");
        assert!(unseal(None, "acme:1", sealed).is_err(), "no key");
        assert_eq!(format!("{key:?}"), "SecretsKey(..)");
    }
}
