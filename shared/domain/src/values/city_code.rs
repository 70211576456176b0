//! IBGE municipality code.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ascii::{self, AsciiBuf, CollectError};
use super::{Uf, ValueError, ValueKind};

/// An IBGE municipality code (código do município, `cMun` in NF-e), e.g.
/// "3550308" for São Paulo.
///
/// Only the shape is validated: 7 digits whose first two are the IBGE code
/// of a [`Uf`]. The 7th digit is a check digit, but IBGE's rule for it has
/// known exceptions (codes issued with a digit that does not follow it), so
/// it is deliberately not verified here; use the IBGE table to check that a
/// municipality exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CityCode(AsciiBuf<7>);

impl CityCode {
    /// Parses a 7-digit code with a valid UF prefix.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let buf = ascii::collect::<7>(input, &[], ascii::digit).map_err(|e| match e {
            CollectError::InvalidChar => error("city code must contain only digits"),
            CollectError::Length => error("city code must have 7 digits"),
        })?;
        let code = buf.as_str();
        let prefix: u8 = code[..2].parse().map_err(|_| error("city code must contain only digits"))?;
        if Uf::from_code(prefix).is_none() {
            return Err(error("city code does not start with a UF code"));
        }
        Ok(Self(buf))
    }

    /// The 7 digits, e.g. "3550308".
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The federative unit given by the first two digits.
    pub fn uf(&self) -> Uf {
        let b = self.0.bytes();
        let code = (b[0] - b'0') * 10 + (b[1] - b'0');
        match Uf::from_code(code) {
            Some(uf) => uf,
            None => unreachable!("the UF prefix is validated by parse"),
        }
    }
}

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::CityCode, message)
}

impl fmt::Display for CityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl_text_conversions!(CityCode, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    #[test]
    fn accepts_seven_digits_with_a_uf_prefix() {
        let sao_paulo = CityCode::parse(" 3550308 ").unwrap();
        assert_eq!(sao_paulo.as_str(), "3550308");
        assert_eq!(sao_paulo.to_string(), "3550308");
        assert_eq!(sao_paulo.uf(), Uf::SP);
        assert_eq!(CityCode::parse("5300108").unwrap().uf(), Uf::DF);
        assert_eq!(CityCode::parse("1100015").unwrap().uf(), Uf::RO);
        for uf in Uf::ALL {
            let code = CityCode::parse(&format!("{:02}00000", uf.code())).unwrap();
            assert_eq!(code.uf(), uf);
        }
    }

    #[test]
    fn rejects_bad_shapes_and_prefixes() {
        let message = |s: &str| CityCode::parse(s).unwrap_err().message();
        assert_eq!(message("355030"), "city code must have 7 digits");
        assert_eq!(message("35503080"), "city code must have 7 digits");
        assert_eq!(message(""), "city code must have 7 digits");
        assert_eq!(message("35503O8"), "city code must contain only digits");
        assert_eq!(message("3550-308"), "city code must contain only digits");
        for prefix in ["00", "10", "18", "34", "36", "54", "99"] {
            assert_eq!(message(&format!("{prefix}50308")), "city code does not start with a UF code");
        }
    }

    #[test]
    fn serde_goes_through_parse() {
        let de: StrDeserializer<'_, DeError> = "3304557".into_deserializer();
        let rio = CityCode::deserialize(de).unwrap();
        assert_eq!(rio.uf(), Uf::RJ);
        assert_eq!(String::from(rio), "3304557");
        let de: StrDeserializer<'_, DeError> = "9904557".into_deserializer();
        assert!(CityCode::deserialize(de).is_err());
    }
}
