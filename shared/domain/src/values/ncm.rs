//! NCM: the Mercosur Common Nomenclature code of a product.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ascii::{self, AsciiBuf, CollectError};
use super::{ValueError, ValueKind};

/// An 8-digit NCM code (Nomenclatura Comum do Mercosul), the product
/// classification required on NF-e items.
///
/// `parse` accepts "8504.40.10" or "85044010". Only the shape is checked:
/// 8 digits whose chapter (first two digits) is 01 to 97, the chapters of
/// the Harmonized System; whether the code is in force is for the NCM table
/// to tell. [`as_str`](Self::as_str) and serde give "85044010"; `Display`
/// gives "8504.40.10".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Ncm(AsciiBuf<8>);

impl Ncm {
    /// Parses an NCM code.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let buf = ascii::collect::<8>(input, &['.'], ascii::digit).map_err(|e| match e {
            CollectError::InvalidChar => error("NCM must contain only digits"),
            CollectError::Length => error("NCM must have 8 digits"),
        })?;
        let ncm = Self(buf);
        if !("01"..="97").contains(&ncm.chapter()) {
            return Err(error("NCM chapter must be 01 to 97"));
        }
        Ok(ncm)
    }

    /// The 8 digits, e.g. "85044010".
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The chapter: the first two digits, e.g. "85".
    pub fn chapter(&self) -> &str {
        &self.as_str()[..2]
    }
}

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Ncm, message)
}

impl fmt::Display for Ncm {
    /// Formats as "8504.40.10".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.as_str();
        write!(f, "{}.{}.{}", &d[..4], &d[4..6], &d[6..])
    }
}

impl_text_conversions!(Ncm, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    #[test]
    fn accepts_dotted_and_bare_codes() {
        for input in ["8504.40.10", "85044010", " 8504.4010 "] {
            let ncm = Ncm::parse(input).unwrap();
            assert_eq!(ncm.as_str(), "85044010");
            assert_eq!(ncm.to_string(), "8504.40.10");
            assert_eq!(ncm.chapter(), "85");
        }
        assert!(Ncm::parse("0101.21.00").is_ok());
        assert!(Ncm::parse("9706.10.00").is_ok());
    }

    #[test]
    fn rejects_bad_shapes_and_chapters() {
        let message = |s: &str| Ncm::parse(s).unwrap_err().message();
        assert_eq!(message("8504.40.1"), "NCM must have 8 digits");
        assert_eq!(message("8504.40.100"), "NCM must have 8 digits");
        assert_eq!(message("8504-40-10"), "NCM must contain only digits");
        assert_eq!(message("0000.00.00"), "NCM chapter must be 01 to 97");
        assert_eq!(message("9801.00.00"), "NCM chapter must be 01 to 97");
    }

    #[test]
    fn serde_goes_through_parse() {
        let de: StrDeserializer<'_, DeError> = "8471.30.12".into_deserializer();
        let ncm = Ncm::deserialize(de).unwrap();
        assert_eq!(String::from(ncm), "84713012");
    }
}
