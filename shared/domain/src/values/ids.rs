//! Identifiers. They are generated outside the domain (which has no clock
//! or randomness) and validated here.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::{Uuid, Variant, Version};

use super::{ValueError, ValueKind};

/// The id of a service order: a UUIDv7 (RFC 9562).
///
/// UUIDv7 starts with a 48-bit Unix timestamp in milliseconds, so ordering
/// `OrderId`s (`Ord` compares the bytes) orders them by creation time, to
/// the millisecond; ties within a millisecond are ordered by whatever the
/// generator put after the timestamp (a counter or random bits).
///
/// `parse` accepts the hyphenated, simple (32 hex digits), braced and URN
/// forms in either case; `Display` and serde give the lower-case
/// hyphenated form. Any UUID other than version 7 with the RFC variant is
/// rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OrderId(Uuid);

impl OrderId {
    /// Wraps a UUID generated elsewhere (e.g. `Uuid::now_v7()`), checking
    /// that it is a version-7 UUID.
    pub fn from_uuid(uuid: Uuid) -> Result<Self, ValueError> {
        if uuid.get_version() != Some(Version::SortRand) || uuid.get_variant() != Variant::RFC4122 {
            return Err(ValueError::new(ValueKind::OrderId, "order id must be a version 7 UUID"));
        }
        Ok(Self(uuid))
    }

    /// Parses a UUIDv7.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let uuid = Uuid::try_parse(input.trim())
            .map_err(|_| ValueError::new(ValueKind::OrderId, "order id is not a valid UUID"))?;
        Self::from_uuid(uuid)
    }

    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The creation time embedded in the UUID, to the millisecond.
    pub fn created_at(&self) -> DateTime<Utc> {
        let bytes = self.0.as_bytes();
        let millis = bytes[..6].iter().fold(0i64, |acc, &b| (acc << 8) | i64::from(b));
        // A 48-bit millisecond count (up to year 10889) is always in range.
        DateTime::from_timestamp_millis(millis).expect("48-bit Unix millisecond timestamps are within chrono's range")
    }
}

impl From<OrderId> for Uuid {
    fn from(id: OrderId) -> Uuid {
        id.0
    }
}

impl fmt::Display for OrderId {
    /// The lower-case hyphenated form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl_text_conversions!(OrderId, |v| v.to_string());

const MAX_TENANT_ID_LEN: usize = 63;

/// The id of a tenant (a repair shop): a slug `[a-z0-9][a-z0-9-]{0,62}`,
/// e.g. "oficina-do-ze".
///
/// `parse` trims surrounding whitespace but does not lower-case: ids come
/// from systems, and silently folding case could alias two tenants.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    /// Parses a tenant slug.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        let error = |message| ValueError::new(ValueKind::TenantId, message);
        if s.is_empty() || s.len() > MAX_TENANT_ID_LEN {
            return Err(error("tenant id must have 1 to 63 characters"));
        }
        let valid_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if !s.bytes().all(valid_char) {
            return Err(error("tenant id may only contain a-z, 0-9 and '-'"));
        }
        if s.starts_with('-') {
            return Err(error("tenant id must start with a letter or digit"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl_text_conversions!(TenantId, |v| v.as_str().to_owned());

const MAX_USER_ID_CHARS: usize = 128;

/// The id of a user as given by the identity provider (e.g. a Cognito
/// `sub`): 1 to 128 characters, no control characters. Surrounding
/// whitespace is trimmed; the content is otherwise kept as is.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserId(String);

impl UserId {
    /// Parses a user id.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        let error = |message| ValueError::new(ValueKind::UserId, message);
        if s.is_empty() {
            return Err(error("user id is empty"));
        }
        if s.chars().count() > MAX_USER_ID_CHARS {
            return Err(error("user id is longer than 128 characters"));
        }
        if s.chars().any(char::is_control) {
            return Err(error("user id must not contain control characters"));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl_text_conversions!(UserId, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    /// A UUIDv7 built by hand: 48-bit timestamp, version 7, RFC variant.
    fn v7(millis: u64, tail: u8) -> Uuid {
        let mut bytes = [tail; 16];
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        bytes[6] = 0x70 | (tail & 0x0f);
        bytes[8] = 0x80 | (tail & 0x3f);
        Uuid::from_bytes(bytes)
    }

    #[test]
    fn order_id_accepts_only_uuid_v7() {
        let uuid = v7(1_767_225_600_000, 0xab); // 2026-01-01T00:00:00Z
        let id = OrderId::from_uuid(uuid).unwrap();
        assert_eq!(id.as_uuid(), uuid);
        assert_eq!(Uuid::from(id), uuid);
        assert_eq!(id.created_at().to_rfc3339(), "2026-01-01T00:00:00+00:00");

        let text = id.to_string();
        assert_eq!(text, uuid.hyphenated().to_string());
        assert_eq!(OrderId::parse(&text).unwrap(), id);
        assert_eq!(OrderId::parse(&text.to_uppercase()).unwrap(), id);
        assert_eq!(OrderId::parse(&uuid.simple().to_string()).unwrap(), id);
        assert_eq!(OrderId::parse(&format!(" {{{text}}} ")).unwrap(), id);
        assert_eq!(OrderId::parse(&uuid.urn().to_string()).unwrap(), id);

        let message = |s: &str| OrderId::parse(s).unwrap_err().message();
        // A version 4 UUID.
        assert_eq!(message("9c5b94b1-35ad-49bb-b118-8e8fc24abf80"), "order id must be a version 7 UUID");
        assert_eq!(message("00000000-0000-0000-0000-000000000000"), "order id must be a version 7 UUID");
        assert_eq!(message("not-a-uuid"), "order id is not a valid UUID");
        assert_eq!(message(""), "order id is not a valid UUID");
        // Version 7 nibble but a non-RFC variant (0b110x).
        let mut bytes = *uuid.as_bytes();
        bytes[8] = 0xc0;
        assert!(OrderId::from_uuid(Uuid::from_bytes(bytes)).is_err());
        assert!(OrderId::from_uuid(Uuid::from_u128(1)).is_err());
        assert!(OrderId::from_uuid(Uuid::max()).is_err());
    }

    #[test]
    fn order_ids_sort_by_creation_time() {
        let earlier = OrderId::from_uuid(v7(1_000, 0xff)).unwrap();
        let later = OrderId::from_uuid(v7(1_001, 0x00)).unwrap();
        assert!(earlier < later);
        assert!(earlier.created_at() < later.created_at());
    }

    #[test]
    fn order_id_serde_uses_the_hyphenated_form() {
        let id = OrderId::from_uuid(v7(42, 1)).unwrap();
        let text = String::from(id);
        assert_eq!(text.len(), 36);
        let de: StrDeserializer<'_, DeError> = text.as_str().into_deserializer();
        assert_eq!(OrderId::deserialize(de).unwrap(), id);
        let de: StrDeserializer<'_, DeError> = "9c5b94b1-35ad-49bb-b118-8e8fc24abf80".into_deserializer();
        assert!(OrderId::deserialize(de).is_err());
    }

    #[test]
    fn tenant_id_is_a_slug() {
        for valid in ["a", "0", "oficina-do-ze", "loja-42-", &"x".repeat(63)] {
            assert_eq!(TenantId::parse(valid).unwrap().as_str(), valid);
        }
        assert_eq!(TenantId::parse(" acme ").unwrap().to_string(), "acme");
        let message = |s: &str| TenantId::parse(s).unwrap_err().message();
        assert_eq!(message(""), "tenant id must have 1 to 63 characters");
        assert_eq!(message(&"x".repeat(64)), "tenant id must have 1 to 63 characters");
        assert_eq!(message("-acme"), "tenant id must start with a letter or digit");
        assert_eq!(message("Acme"), "tenant id may only contain a-z, 0-9 and '-'");
        assert_eq!(message("acme_shop"), "tenant id may only contain a-z, 0-9 and '-'");
        assert_eq!(message("oficina do zé"), "tenant id may only contain a-z, 0-9 and '-'");
        let de: StrDeserializer<'_, DeError> = "acme".into_deserializer();
        assert_eq!(String::from(TenantId::deserialize(de).unwrap()), "acme");
    }

    #[test]
    fn user_id_is_bounded_and_printable() {
        let sub = "3f1c2a4e-0b7d-4c1e-9a55-1d2e3f4a5b6c";
        assert_eq!(UserId::parse(sub).unwrap().as_str(), sub);
        assert_eq!(UserId::parse(" google_1234 ").unwrap().to_string(), "google_1234");
        // Length counts characters, not bytes.
        assert!(UserId::parse(&"é".repeat(128)).is_ok());
        let message = |s: &str| UserId::parse(s).unwrap_err().message();
        assert_eq!(message(""), "user id is empty");
        assert_eq!(message(" \t "), "user id is empty");
        assert_eq!(message(&"a".repeat(129)), "user id is longer than 128 characters");
        assert_eq!(message("ab\u{0}cd"), "user id must not contain control characters");
        assert_eq!(message("ab\ncd"), "user id must not contain control characters");
        let de: StrDeserializer<'_, DeError> = "user-1".into_deserializer();
        assert_eq!(String::from(UserId::deserialize(de).unwrap()), "user-1");
    }
}
