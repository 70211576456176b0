//! CEP: the Brazilian postal code.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ascii::{self, AsciiBuf, CollectError};
use super::{ValueError, ValueKind};

/// A CEP (Código de Endereçamento Postal): 8 digits.
///
/// `parse` accepts "01305-000", "01305000" and "01.305-000". Only the shape
/// is checked, plus that it is not "00000-000" (CEPs start at 01000-000);
/// whether the CEP exists is for an address lookup to tell.
/// [`as_str`](Self::as_str) and serde give "01305000"; `Display` gives
/// "01305-000".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Zip(AsciiBuf<8>);

impl Zip {
    /// Parses a CEP.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let buf = ascii::collect::<8>(input, &['.', '-'], ascii::digit).map_err(|e| match e {
            CollectError::InvalidChar => error("CEP must contain only digits"),
            CollectError::Length => error("CEP must have 8 digits"),
        })?;
        if buf.bytes().iter().all(|&b| b == b'0') {
            return Err(error("CEP must not be all zeros"));
        }
        Ok(Self(buf))
    }

    /// The 8 digits, e.g. "01305000".
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Zip, message)
}

impl fmt::Display for Zip {
    /// Formats as "01305-000".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.as_str();
        write!(f, "{}-{}", &d[..5], &d[5..])
    }
}

impl_text_conversions!(Zip, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    #[test]
    fn accepts_the_usual_formats() {
        for input in ["01305-000", "01305000", " 01.305-000 "] {
            let zip = Zip::parse(input).unwrap();
            assert_eq!(zip.as_str(), "01305000");
            assert_eq!(zip.to_string(), "01305-000");
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        let message = |s: &str| Zip::parse(s).unwrap_err().message();
        assert_eq!(message("01305-00"), "CEP must have 8 digits");
        assert_eq!(message("01305-0000"), "CEP must have 8 digits");
        assert_eq!(message(""), "CEP must have 8 digits");
        assert_eq!(message("01305 000"), "CEP must contain only digits");
        assert_eq!(message("0130A-000"), "CEP must contain only digits");
        assert_eq!(message("00000-000"), "CEP must not be all zeros");
    }

    #[test]
    fn serde_goes_through_parse() {
        let de: StrDeserializer<'_, DeError> = "20040-020".into_deserializer();
        let zip = Zip::deserialize(de).unwrap();
        assert_eq!(String::from(zip), "20040020");
    }
}
