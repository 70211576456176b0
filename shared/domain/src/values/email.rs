//! E-mail address with pragmatic validation.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ValueError, ValueKind};

const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;
const MAX_LABEL_LEN: usize = 63;

/// An e-mail address, validated pragmatically rather than per full RFC 5322.
///
/// Accepted: `local@domain`, at most 254 characters, with
/// - exactly one `@`, no whitespace or control characters;
/// - a local part of 1 to 64 ASCII characters from letters, digits and
///   ``!#$%&'*+/=?^_`{|}~.-``, not starting or ending with `.` and without
///   `..` (quoted local parts are not accepted);
/// - a domain of at least two dot-separated labels of 1 to 63 characters
///   `[A-Za-z0-9-]`, not starting or ending with `-`, whose last label is not
///   all digits (internationalized domains must be given in punycode).
///
/// The domain is lower-cased; the local part keeps its case (it is
/// case-sensitive in principle). Surrounding whitespace is trimmed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    /// The normalized address.
    address: String,
    /// Byte index of the `@` in `address`.
    at: usize,
}

impl Email {
    /// Parses and normalizes an e-mail address.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(error("email is empty"));
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(error("email must not contain spaces or control characters"));
        }
        if s.len() > MAX_LEN {
            return Err(error("email is longer than 254 characters"));
        }
        let (local, domain) = match s.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => (local, domain),
            _ => return Err(error("email must contain exactly one '@'")),
        };
        validate_local(local)?;
        let domain = domain.to_ascii_lowercase();
        validate_domain(&domain)?;
        Ok(Self { address: format!("{local}@{domain}"), at: local.len() })
    }

    /// The normalized address (domain in lower case).
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The part before the `@`.
    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    /// The lower-cased part after the `@`.
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }
}

fn validate_local(local: &str) -> Result<(), ValueError> {
    if local.is_empty() {
        return Err(error("email local part is empty"));
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err(error("email local part is longer than 64 characters"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
    if !local.chars().all(allowed) {
        return Err(error("email local part has invalid characters"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(error("email local part has a misplaced dot"));
    }
    Ok(())
}

fn validate_domain(domain: &str) -> Result<(), ValueError> {
    if !domain.contains('.') {
        return Err(error("email domain must contain a dot"));
    }
    for label in domain.split('.') {
        let valid = !label.is_empty()
            && label.len() <= MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(error("email domain is invalid"));
        }
    }
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Err(error("email domain is invalid"));
    }
    Ok(())
}

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Email, message)
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl_text_conversions!(Email, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    #[test]
    fn accepts_and_normalizes_common_addresses() {
        let email = Email::parse("  Maria.Silva+os@Oficina.COM.br ").unwrap();
        assert_eq!(email.as_str(), "Maria.Silva+os@oficina.com.br");
        assert_eq!(email.local_part(), "Maria.Silva+os");
        assert_eq!(email.domain(), "oficina.com.br");
        assert_eq!(email.to_string(), "Maria.Silva+os@oficina.com.br");
        for valid in ["a@b.co", "joao_123@sub-dominio.example.org", "x@xn--fiqs8s.xn--p1ai", "o'neil@example.com"] {
            assert!(Email::parse(valid).is_ok(), "{valid} should be valid");
        }
    }

    #[test]
    fn rejects_invalid_addresses_with_a_precise_message() {
        let message = |s: &str| Email::parse(s).unwrap_err().message();
        assert_eq!(message(""), "email is empty");
        assert_eq!(message("   "), "email is empty");
        assert_eq!(message("maria silva@example.com"), "email must not contain spaces or control characters");
        assert_eq!(message("maria@exam\tple.com"), "email must not contain spaces or control characters");
        assert_eq!(message("maria.example.com"), "email must contain exactly one '@'");
        assert_eq!(message("maria@@example.com"), "email must contain exactly one '@'");
        assert_eq!(message("a@b@example.com"), "email must contain exactly one '@'");
        assert_eq!(message("@example.com"), "email local part is empty");
        assert_eq!(message("maria@localhost"), "email domain must contain a dot");
        assert_eq!(message("maria@"), "email domain must contain a dot");
        assert_eq!(message("maria@example..com"), "email domain is invalid");
        assert_eq!(message("maria@.example.com"), "email domain is invalid");
        assert_eq!(message("maria@example.com."), "email domain is invalid");
        assert_eq!(message("maria@-example.com"), "email domain is invalid");
        assert_eq!(message("maria@example-.com"), "email domain is invalid");
        assert_eq!(message("maria@exa_mple.com"), "email domain is invalid");
        assert_eq!(message("maria@10.0.0.1"), "email domain is invalid");
        assert_eq!(message("maria@exámple.com"), "email domain is invalid");
        assert_eq!(message(".maria@example.com"), "email local part has a misplaced dot");
        assert_eq!(message("maria.@example.com"), "email local part has a misplaced dot");
        assert_eq!(message("ma..ria@example.com"), "email local part has a misplaced dot");
        assert_eq!(message("ma(ria)@example.com"), "email local part has invalid characters");
        assert_eq!(message("joão@example.com"), "email local part has invalid characters");
        assert_eq!(message("\"maria\"@example.com"), "email local part has invalid characters");
    }

    #[test]
    fn enforces_length_limits() {
        let local_64 = "a".repeat(64);
        assert!(Email::parse(&format!("{local_64}@example.com")).is_ok());
        assert_eq!(
            Email::parse(&format!("a{local_64}@example.com")).unwrap_err().message(),
            "email local part is longer than 64 characters"
        );
        let label_63 = "b".repeat(63);
        assert!(Email::parse(&format!("a@{label_63}.com")).is_ok());
        assert_eq!(Email::parse(&format!("a@b{label_63}.com")).unwrap_err().message(), "email domain is invalid");
        // A 251-character domain: "ab@" makes 254 characters (accepted),
        // "abc@" makes 255.
        let domain = format!("{0}.{0}.{0}.{0}.com", "c".repeat(61));
        let at_limit = format!("ab@{domain}");
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        assert_eq!(
            Email::parse(&format!("abc@{domain}")).unwrap_err().message(),
            "email is longer than 254 characters"
        );
    }

    #[test]
    fn serde_goes_through_parse() {
        let de: StrDeserializer<'_, DeError> = "Ana@Example.com".into_deserializer();
        let email = Email::deserialize(de).unwrap();
        assert_eq!(String::from(email), "Ana@example.com");
        let de: StrDeserializer<'_, DeError> = "not an email".into_deserializer();
        assert!(Email::deserialize(de).is_err());
    }
}
