//! CPF: the individual taxpayer number (Cadastro de Pessoas Físicas).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ascii::{self, AsciiBuf, CollectError};
use super::check_digit::mod11;
use super::{ValueError, ValueKind};

/// A valid CPF: 11 digits whose last two are the mod-11 check digits.
///
/// `parse` accepts "529.982.247-25" or "52998224725" (the separators `.` and
/// `-` are ignored, surrounding whitespace is trimmed) and rejects repdigits
/// such as "111.111.111-11", which pass the check-digit test but are not
/// issued. [`as_str`](Self::as_str) and serde use the 11 bare digits;
/// `Display` gives "529.982.247-25".
///
/// A CPF is personal data under the LGPD: `Debug` prints the
/// [`masked`](Self::masked) form so it does not leak into logs.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cpf(AsciiBuf<11>);

impl Cpf {
    /// Parses and validates a CPF.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let buf = ascii::collect::<11>(input, &['.', '-'], ascii::digit).map_err(|e| match e {
            CollectError::InvalidChar => error("CPF must contain only digits"),
            CollectError::Length => error("CPF must have 11 digits"),
        })?;
        let bytes = buf.bytes();
        if ascii::all_same(bytes) {
            return Err(error("CPF must not be a single repeated digit"));
        }
        let mut base = [0u8; 9];
        base.copy_from_slice(&bytes[..9]);
        if check_digits(&base) != [bytes[9] - b'0', bytes[10] - b'0'] {
            return Err(error("invalid CPF check digits"));
        }
        Ok(Self(buf))
    }

    /// The 11 digits without separators, e.g. "52998224725".
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The customer-facing masked form "***.982.247-**": only the 4th to 9th
    /// digits are shown, the common convention for publishing CPFs under the
    /// LGPD.
    pub fn masked(&self) -> String {
        let d = self.as_str();
        format!("***.{}.{}-**", &d[3..6], &d[6..9])
    }
}

/// The two check digits (as numbers) of the 9 base digits (ASCII).
fn check_digits(base: &[u8; 9]) -> [u8; 2] {
    let values = base.map(|b| u32::from(b - b'0'));
    let first = mod11(values.iter().copied(), 11);
    let second = mod11(values.iter().copied().chain([u32::from(first)]), 11);
    [first, second]
}

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Cpf, message)
}

impl fmt::Display for Cpf {
    /// Formats as "529.982.247-25".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.as_str();
        write!(f, "{}.{}.{}-{}", &d[..3], &d[3..6], &d[6..9], &d[9..])
    }
}

impl fmt::Debug for Cpf {
    /// Masked, so a CPF never reaches logs through `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Cpf").field(&self.masked()).finish()
    }
}

impl_text_conversions!(Cpf, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    fn deserialize(s: &str) -> Result<Cpf, DeError> {
        let de: StrDeserializer<'_, DeError> = s.into_deserializer();
        Cpf::deserialize(de)
    }

    #[test]
    fn accepts_known_valid_cpfs_in_both_formats() {
        for (formatted, bare) in [("529.982.247-25", "52998224725"), ("111.444.777-35", "11144477735")] {
            let a = Cpf::parse(formatted).unwrap();
            let b = Cpf::parse(bare).unwrap();
            assert_eq!(a, b);
            assert_eq!(a.as_str(), bare);
            assert_eq!(a.to_string(), formatted);
        }
        assert_eq!(Cpf::parse("  529.982.247-25\n").unwrap().as_str(), "52998224725");
    }

    #[test]
    fn rejects_wrong_check_digits() {
        for input in ["529.982.247-24", "529.982.247-15", "111.444.777-53"] {
            let err = Cpf::parse(input).unwrap_err();
            assert_eq!(err.message(), "invalid CPF check digits");
            assert_eq!(err.kind(), ValueKind::Cpf);
        }
    }

    #[test]
    fn rejects_repdigits_even_with_matching_check_digits() {
        // 111.111.111-11 satisfies the mod-11 rule but is not a real CPF.
        for input in ["111.111.111-11", "00000000000", "99999999999"] {
            assert_eq!(Cpf::parse(input).unwrap_err().message(), "CPF must not be a single repeated digit");
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        assert_eq!(Cpf::parse("").unwrap_err().message(), "CPF must have 11 digits");
        assert_eq!(Cpf::parse("529.982.247-2").unwrap_err().message(), "CPF must have 11 digits");
        assert_eq!(Cpf::parse("529.982.247-255").unwrap_err().message(), "CPF must have 11 digits");
        assert_eq!(Cpf::parse("529.982.247/25").unwrap_err().message(), "CPF must contain only digits");
        assert_eq!(Cpf::parse("529 982 247 25").unwrap_err().message(), "CPF must contain only digits");
        assert_eq!(Cpf::parse("52998224７25").unwrap_err().message(), "CPF must contain only digits");
    }

    #[test]
    fn masks_all_but_the_middle_digits_and_debug_is_masked() {
        let cpf = Cpf::parse("529.982.247-25").unwrap();
        assert_eq!(cpf.masked(), "***.982.247-**");
        assert_eq!(format!("{cpf:?}"), "Cpf(\"***.982.247-**\")");
    }

    #[test]
    fn string_conversions_and_serde_use_the_bare_digits() {
        let cpf: Cpf = "111.444.777-35".parse().unwrap();
        assert_eq!(String::from(cpf), "11144477735");
        assert_eq!(Cpf::try_from("11144477735".to_owned()).unwrap(), cpf);
        assert_eq!(deserialize("111.444.777-35").unwrap(), cpf);
        assert!(deserialize("111.444.777-36").is_err());
    }

    /// Formats 9 base digits plus their computed check digits.
    fn with_check_digits(base: [u8; 9]) -> String {
        let ascii = base.map(|d| b'0' + d);
        let [a, b] = check_digits(&ascii);
        base.iter().chain([a, b].iter()).map(|d| char::from(b'0' + d)).collect()
    }

    fn format_cpf(d: &str) -> String {
        format!("{}.{}.{}-{}", &d[..3], &d[3..6], &d[6..9], &d[9..])
    }

    proptest! {
        // The `prop_assume!`s below discard about a quarter of the cases.
        #![proptest_config(ProptestConfig {
            max_global_rejects: 1_000_000,
            ..ProptestConfig::default()
        })]

        #[test]
        fn generated_cpfs_round_trip(base in proptest::array::uniform9(0u8..10)) {
            prop_assume!(!ascii::all_same(&base));
            let bare = with_check_digits(base);
            let formatted = format_cpf(&bare);
            let from_bare = Cpf::parse(&bare).unwrap();
            let from_formatted = Cpf::parse(&formatted).unwrap();
            prop_assert_eq!(from_bare, from_formatted);
            prop_assert_eq!(from_bare.as_str(), bare.as_str());
            prop_assert_eq!(from_bare.to_string(), formatted.clone());
            prop_assert_eq!(Cpf::parse(&from_bare.to_string()).unwrap(), from_bare);
            prop_assert_eq!(deserialize(&String::from(from_bare)).unwrap(), from_bare);
        }

        /// Changing a check digit is always caught.
        #[test]
        fn changing_a_check_digit_is_rejected(
            base in proptest::array::uniform9(0u8..10),
            pos in 9usize..11,
            delta in 1u8..10,
        ) {
            let mut digits: Vec<u8> = with_check_digits(base).into_bytes();
            digits[pos] = b'0' + (digits[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(digits).unwrap();
            prop_assert!(Cpf::parse(&changed).is_err());
        }

        /// Changing one base digit changes the first weighted sum modulo 11
        /// (weights 2..=10 and digit changes 1..=9 are non-zero mod 11). When
        /// the original first check digit is not 0 that always changes it; when
        /// it is 0 the remainders 0 and 1 collide and a few substitutions are
        /// undetectable by the official algorithm, so those are excluded here.
        #[test]
        fn changing_a_base_digit_is_rejected(
            base in proptest::array::uniform9(0u8..10),
            pos in 0usize..9,
            delta in 1u8..10,
        ) {
            let valid = with_check_digits(base);
            prop_assume!(valid.as_bytes()[9] != b'0');
            let mut digits = valid.into_bytes();
            digits[pos] = b'0' + (digits[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(digits).unwrap();
            prop_assert!(Cpf::parse(&changed).is_err());
        }
    }
}
