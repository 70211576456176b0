//! Brazilian telephone number.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{ValueError, ValueKind};

/// The 67 area codes (DDD) of the Anatel numbering plan.
const AREA_CODES: [u8; 67] = [
    11, 12, 13, 14, 15, 16, 17, 18, 19, // SP
    21, 22, 24, // RJ
    27, 28, // ES
    31, 32, 33, 34, 35, 37, 38, // MG
    41, 42, 43, 44, 45, 46, // PR
    47, 48, 49, // SC
    51, 53, 54, 55, // RS
    61, // DF
    62, 64, // GO
    63, // TO
    65, 66, // MT
    67, // MS
    68, // AC
    69, // RO
    71, 73, 74, 75, 77, // BA
    79, // SE
    81, 87, // PE
    82, // AL
    83, // PB
    84, // RN
    85, 88, // CE
    86, 89, // PI
    91, 93, 94, // PA
    92, 97, // AM
    95, // RR
    96, // AP
    98, 99, // MA
];

/// Inputs with more digits than an E.164 number can have are rejected early.
const MAX_INPUT_DIGITS: usize = 15;

/// A Brazilian phone number, stored in E.164 ("+5511987654321").
///
/// `parse` trims and ignores spaces, `-`, `.`, `(` and `)`, and accepts:
/// - "+55 11 98765-4321" or "5511987654321" (country code 55);
/// - "(11) 98765-4321" or "11987654321" (area code and number);
/// - "(011) 98765-4321" (with the national trunk prefix 0).
///
/// The area code (DDD) must be one of the 67 in use. The number must be a
/// mobile (9 digits starting with 9) or a landline (8 digits starting with
/// 2 to 5, the fixed-line ranges of the numbering plan). Other countries,
/// carrier-selection codes and non-geographic numbers (0800, 4004, ...) are
/// rejected. `Display` gives "+55 11 98765-4321" or "+55 11 3456-7890".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses a Brazilian phone number.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(error("phone number is empty"));
        }
        let mut digits = String::with_capacity(MAX_INPUT_DIGITS);
        let mut international = false;
        for (i, c) in s.char_indices() {
            match c {
                '0'..='9' if digits.len() < MAX_INPUT_DIGITS => digits.push(c),
                '0'..='9' => return Err(error("phone number has too many digits")),
                '+' if i == 0 => international = true,
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(error("phone number has invalid characters")),
            }
        }
        let national = if international {
            digits.strip_prefix("55").ok_or(error("only Brazilian (+55) phone numbers are accepted"))?
        } else {
            match digits.len() {
                12 | 13 if digits.starts_with("55") => &digits[2..],
                11 | 12 if digits.starts_with('0') => &digits[1..],
                _ => &digits,
            }
        };
        if !matches!(national.len(), 10 | 11) {
            return Err(error("phone number must have an area code and 8 or 9 digits"));
        }
        let ddd: u8 = national[..2].parse().map_err(|_| error("unknown area code (DDD)"))?;
        if !AREA_CODES.contains(&ddd) {
            return Err(error("unknown area code (DDD)"));
        }
        let first = national.as_bytes()[2];
        if national.len() == 11 && first != b'9' {
            return Err(error("9-digit phone numbers must start with 9"));
        }
        if national.len() == 10 && !(b'2'..=b'5').contains(&first) {
            return Err(error("8-digit phone numbers must start with 2 to 5"));
        }
        Ok(Self(format!("+55{national}")))
    }

    /// The E.164 form, e.g. "+5511987654321".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The area code (DDD), e.g. 11.
    pub fn ddd(&self) -> u8 {
        let b = self.0.as_bytes();
        (b[3] - b'0') * 10 + (b[4] - b'0')
    }

    /// The 8 or 9 digits after the area code.
    pub fn number(&self) -> &str {
        &self.0[5..]
    }

    /// Whether this is a mobile number (9 digits).
    pub fn is_mobile(&self) -> bool {
        self.number().len() == 9
    }

    /// The national format "(11) 98765-4321".
    pub fn national(&self) -> String {
        let (head, tail) = self.split_number();
        format!("({:02}) {head}-{tail}", self.ddd())
    }

    fn split_number(&self) -> (&str, &str) {
        let number = self.number();
        number.split_at(number.len() - 4)
    }
}

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Phone, message)
}

impl fmt::Display for Phone {
    /// Formats as "+55 11 98765-4321".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (head, tail) = self.split_number();
        write!(f, "+55 {:02} {head}-{tail}", self.ddd())
    }
}

impl_text_conversions!(Phone, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    #[test]
    fn accepts_the_usual_mobile_formats() {
        for input in [
            "+55 11 98765-4321",
            "(11) 98765-4321",
            "11987654321",
            "11 98765 4321",
            "+55 (11) 98765-4321",
            "5511987654321",
            "+5511987654321",
            "(011) 98765-4321",
            " 011.98765.4321 ",
        ] {
            let phone = Phone::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(phone.as_str(), "+5511987654321", "{input}");
            assert_eq!(phone.to_string(), "+55 11 98765-4321");
            assert_eq!(phone.national(), "(11) 98765-4321");
            assert_eq!(phone.ddd(), 11);
            assert_eq!(phone.number(), "987654321");
            assert!(phone.is_mobile());
        }
    }

    #[test]
    fn accepts_landlines() {
        for input in ["(21) 3456-7890", "+55 21 3456-7890", "552134567890", "02134567890"] {
            let phone = Phone::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(phone.as_str(), "+552134567890");
            assert_eq!(phone.to_string(), "+55 21 3456-7890");
            assert_eq!(phone.national(), "(21) 3456-7890");
            assert!(!phone.is_mobile());
        }
        // Rio Grande do Sul's DDD 55 is not mistaken for the country code.
        let rs = Phone::parse("(55) 99123-4567").unwrap();
        assert_eq!(rs.as_str(), "+5555991234567");
        assert_eq!(rs.ddd(), 55);
        assert_eq!(Phone::parse("+55 55 99123-4567").unwrap(), rs);
    }

    #[test]
    fn checks_every_area_code() {
        let mut valid = 0;
        for ddd in 10..=99u8 {
            let result = Phone::parse(&format!("({ddd}) 99123-4567"));
            if AREA_CODES.contains(&ddd) {
                assert_eq!(result.unwrap().ddd(), ddd);
                valid += 1;
            } else {
                assert_eq!(result.unwrap_err().message(), "unknown area code (DDD)");
            }
        }
        assert_eq!(valid, 67);
        for unused in [20, 23, 25, 26, 29, 30, 36, 39, 40, 50, 52, 56, 60, 70, 72, 76, 78, 80, 90] {
            assert!(!AREA_CODES.contains(&unused), "{unused}");
        }
    }

    #[test]
    fn rejects_invalid_numbers_with_a_precise_message() {
        let message = |s: &str| Phone::parse(s).unwrap_err().message();
        assert_eq!(message(""), "phone number is empty");
        assert_eq!(message("(11) 88765-4321"), "9-digit phone numbers must start with 9");
        assert_eq!(message("(11) 9876-5432"), "8-digit phone numbers must start with 2 to 5");
        assert_eq!(message("(11) 1234-5678"), "8-digit phone numbers must start with 2 to 5");
        assert_eq!(message("(11) 98765-43"), "phone number must have an area code and 8 or 9 digits");
        // Ten digits read as a DDD and an 8-digit number, which must be a landline.
        assert_eq!(message("(11) 98765-432"), "8-digit phone numbers must start with 2 to 5");
        assert_eq!(message("98765-4321"), "phone number must have an area code and 8 or 9 digits");
        assert_eq!(message("+55 11 98765-43210"), "phone number must have an area code and 8 or 9 digits");
        assert_eq!(message("+1 415 555 0100"), "only Brazilian (+55) phone numbers are accepted");
        assert_eq!(message("11 98765-4321 ramal 2"), "phone number has invalid characters");
        assert_eq!(message("11+987654321"), "phone number has invalid characters");
        assert_eq!(message("0800 123 4567"), "unknown area code (DDD)");
        assert_eq!(message("12345678901234"), "phone number must have an area code and 8 or 9 digits");
        assert_eq!(message("1234567890123456"), "phone number has too many digits");
    }

    #[test]
    fn serde_uses_e164() {
        let phone = Phone::parse("(11) 98765-4321").unwrap();
        assert_eq!(String::from(phone.clone()), "+5511987654321");
        let de: StrDeserializer<'_, DeError> = "+5511987654321".into_deserializer();
        assert_eq!(Phone::deserialize(de).unwrap(), phone);
    }
}
