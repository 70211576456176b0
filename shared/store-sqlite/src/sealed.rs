//! The A1 certificate's password at rest: sealed with AES-256-GCM under a key the store is opened with (locally,
//! `secrets.key` beside the other keys of the data folder), the company as associated data so that a sealed text
//! moved to another company does not open. Stored as `sealed1:` + base64(nonce ‖ ciphertext ‖ tag).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use osflow_app::{StoreError, StoreResult};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};

const PREFIX: &str = "sealed1:";

/// The key the A1 passwords are sealed with. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretsKey([u8; 32]);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(..)")
    }
}

impl SecretsKey {
    /// The key derived from secret material (e.g. a random key file): SHA-256 over a label and the material.
    pub fn derive(material: &[u8]) -> SecretsKey {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"osflow A1 passwords v1\0");
        ctx.update(material);
        let mut key = [0u8; 32];
        key.copy_from_slice(ctx.finish().as_ref());
        SecretsKey(key)
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).expect("a 32-byte AES-256 key"))
    }
}

/// Whether `stored` is a sealed text.
pub(crate) fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Seals `password` for `tenant`.
pub(crate) fn seal(key: &SecretsKey, tenant: &str, password: &str) -> StoreResult<String> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new().fill(&mut nonce).map_err(|_| StoreError::Other("no randomness for a nonce".into()))?;
    let mut data = password.as_bytes().to_vec();
    key.aead()
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(tenant.as_bytes()), &mut data)
        .map_err(|_| StoreError::Other("cannot seal the A1 password".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&data);
    Ok(format!("{PREFIX}{}", STANDARD.encode(out)))
}

/// The password of `stored` for `tenant`: opened with `key` when sealed; a text in clear (a file no key has
/// opened yet) as it is.
pub(crate) fn unseal(key: Option<&SecretsKey>, tenant: &str, stored: String) -> StoreResult<String> {
    let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(stored) };
    let refused =
        || StoreError::Other(format!("the A1 password of {tenant} does not open with this data folder's key"));
    let key = key.ok_or_else(refused)?;
    let bytes = STANDARD.decode(encoded).map_err(|_| refused())?;
    if bytes.len() < NONCE_LEN {
        return Err(refused());
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
    let mut data = sealed.to_vec();
    let plain = key.aead().open_in_place(nonce, Aad::from(tenant.as_bytes()), &mut data).map_err(|_| refused())?;
    String::from_utf8(plain.to_vec()).map_err(|_| refused())
}
