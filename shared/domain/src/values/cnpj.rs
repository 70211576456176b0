//! CNPJ: the company taxpayer number (Cadastro Nacional da Pessoa Jurídica),
//! including the alphanumeric format introduced by IN RFB 2.229/2024.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::ascii::{self, AsciiBuf, CollectError};
use super::check_digit::mod11;
use super::{ValueError, ValueKind};

/// A valid CNPJ: 12 characters `[0-9A-Z]` followed by 2 check digits.
///
/// Since July 2026 the Receita Federal issues alphanumeric CNPJs
/// (IN RFB 2.229/2024); numeric CNPJs stay valid and are the special case
/// with digits only. Both check digits are mod 11 with weights 2..=9 cycling
/// from the right; each character is worth its ASCII code minus 48, so
/// digits keep their value and 'A' = 17, ..., 'Z' = 42.
///
/// `parse` trims, ignores the separators `.`, `/` and `-`, upper-cases
/// letters and rejects a single repeated character ("00.000.000/0000-00").
/// [`as_str`](Self::as_str) and serde use the 14 bare characters;
/// `Display` gives "12.345.678/0001-95" (or "12.ABC.345/01DE-35").
///
/// Note that, by design of the official algorithm, replacing a character by
/// one whose value differs by a multiple of 11 (e.g. '6' and 'A') keeps the
/// check digits, so such typos cannot be detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cnpj(AsciiBuf<14>);

impl Cnpj {
    /// Parses and validates a CNPJ, numeric or alphanumeric.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let buf = ascii::collect::<14>(input, &['.', '/', '-'], |c| {
            c.is_ascii_alphanumeric().then_some(c.to_ascii_uppercase() as u8)
        })
        .map_err(|e| match e {
            CollectError::InvalidChar => error("CNPJ must contain only letters and digits"),
            CollectError::Length => error("CNPJ must have 14 characters"),
        })?;
        let bytes = buf.bytes();
        if !bytes[12..].iter().all(u8::is_ascii_digit) {
            return Err(error("CNPJ check digits must be digits"));
        }
        if ascii::all_same(bytes) {
            return Err(error("CNPJ must not be a single repeated character"));
        }
        let mut base = [0u8; 12];
        base.copy_from_slice(&bytes[..12]);
        if check_digits(&base) != [bytes[12] - b'0', bytes[13] - b'0'] {
            return Err(error("invalid CNPJ check digits"));
        }
        Ok(Self(buf))
    }

    /// The 14 characters without separators, e.g. "12345678000195".
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The root (raiz): the first 8 characters, shared by the head office
    /// and all branches of a company.
    pub fn root(&self) -> &str {
        &self.as_str()[..8]
    }

    /// The branch (ordem): characters 9 to 12, "0001" for the head office.
    pub fn branch(&self) -> &str {
        &self.as_str()[8..12]
    }

    /// Whether the CNPJ contains letters (the 2026 alphanumeric format).
    pub fn is_alphanumeric(&self) -> bool {
        self.0.bytes().iter().any(u8::is_ascii_uppercase)
    }

    /// The customer-facing masked form "**.345.678/0001-**": the first two
    /// characters and the check digits are hidden, mirroring the CPF mask.
    pub fn masked(&self) -> String {
        let c = self.as_str();
        format!("**.{}.{}/{}-**", &c[2..5], &c[5..8], &c[8..12])
    }
}

/// The two check digits (as numbers) of the 12 base characters (ASCII
/// `[0-9A-Z]`), each worth its ASCII code minus 48.
fn check_digits(base: &[u8; 12]) -> [u8; 2] {
    let values = base.map(|b| u32::from(b - b'0'));
    let first = mod11(values.iter().copied(), 9);
    let second = mod11(values.iter().copied().chain([u32::from(first)]), 9);
    [first, second]
}

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Cnpj, message)
}

impl fmt::Display for Cnpj {
    /// Formats as "12.345.678/0001-95".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.as_str();
        write!(f, "{}.{}.{}/{}-{}", &c[..2], &c[2..5], &c[5..8], &c[8..12], &c[12..])
    }
}

impl_text_conversions!(Cnpj, |v| v.as_str().to_owned());

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    fn deserialize(s: &str) -> Result<Cnpj, DeError> {
        let de: StrDeserializer<'_, DeError> = s.into_deserializer();
        Cnpj::deserialize(de)
    }

    #[test]
    fn accepts_known_valid_numeric_cnpjs() {
        for (formatted, bare) in [("11.222.333/0001-81", "11222333000181"), ("12.345.678/0001-95", "12345678000195")] {
            let a = Cnpj::parse(formatted).unwrap();
            assert_eq!(a, Cnpj::parse(bare).unwrap());
            assert_eq!(a.as_str(), bare);
            assert_eq!(a.to_string(), formatted);
            assert!(!a.is_alphanumeric());
        }
    }

    /// The example published by the Receita Federal for the alphanumeric
    /// CNPJ: the base "12ABC34501DE" has check digits 35.
    #[test]
    fn reproduces_the_official_alphanumeric_example() {
        assert_eq!(check_digits(b"12ABC34501DE"), [3, 5]);
        let cnpj = Cnpj::parse("12.ABC.345/01DE-35").unwrap();
        assert_eq!(cnpj.as_str(), "12ABC34501DE35");
        assert_eq!(cnpj.to_string(), "12.ABC.345/01DE-35");
        assert!(cnpj.is_alphanumeric());
        assert_eq!(cnpj.root(), "12ABC345");
        assert_eq!(cnpj.branch(), "01DE");
        // Lower-case input is normalized.
        assert_eq!(Cnpj::parse("12.abc.345/01de-35").unwrap(), cnpj);
        assert_eq!(Cnpj::parse(" 12abc34501DE35 ").unwrap(), cnpj);
    }

    /// Vectors from the test suite of the SERPRO-based reference validator
    /// (github.com/tiagolpadua/cnpj-alfa-validator, test/index.test.ts),
    /// each also checked by hand against the published rule.
    #[test]
    fn matches_independent_reference_vectors() {
        assert_eq!(check_digits(b"000000000001"), [9, 1]);
        assert_eq!(check_digits(b"ABCDEFGHIJKL"), [8, 0]);
        for valid in
            ["ABCDEFGHIJKL80", "00000000000191", "90.021.382/0001-22", "04.740.714/0001-97", "44.108.058/0001-29"]
        {
            assert!(Cnpj::parse(valid).is_ok(), "{valid} should be valid");
        }
        for invalid in ["ABCDEFGHIJKL81", "00000000000192"] {
            assert_eq!(Cnpj::parse(invalid).unwrap_err().message(), "invalid CNPJ check digits");
        }
    }

    #[test]
    fn rejects_wrong_check_digits() {
        for input in ["11.222.333/0001-80", "12.345.678/0001-59", "12.ABC.345/01DE-53"] {
            let err = Cnpj::parse(input).unwrap_err();
            assert_eq!(err.message(), "invalid CNPJ check digits");
            assert_eq!(err.kind(), ValueKind::Cnpj);
        }
    }

    #[test]
    fn rejects_bad_shapes() {
        let message = |s: &str| Cnpj::parse(s).unwrap_err().message();
        assert_eq!(message("00.000.000/0000-00"), "CNPJ must not be a single repeated character");
        assert_eq!(message("11111111111111"), "CNPJ must not be a single repeated character");
        assert_eq!(message("12.ABC.345/01DE-3"), "CNPJ must have 14 characters");
        assert_eq!(message(""), "CNPJ must have 14 characters");
        assert_eq!(message("12.ABC.345/01DE-355"), "CNPJ must have 14 characters");
        assert_eq!(message("12.ABC.345/01DE-3A"), "CNPJ check digits must be digits");
        assert_eq!(message("000000000001P1"), "CNPJ check digits must be digits");
        assert_eq!(message("12.ABC.345_01DE-35"), "CNPJ must contain only letters and digits");
        assert_eq!(message("12.ÁBC.345/01DE-35"), "CNPJ must contain only letters and digits");
    }

    /// The limitation documented on [`Cnpj`]: 'G' (71 - 48 = 23) and '1'
    /// differ by 22, a multiple of 11, so swapping them keeps both sums
    /// modulo 11 and the check digits.
    #[test]
    fn substitutions_differing_by_a_multiple_of_eleven_are_undetectable() {
        assert!(Cnpj::parse("G2ABC34501DE35").is_ok());
    }

    #[test]
    fn masks_and_converts() {
        let cnpj = Cnpj::parse("12.345.678/0001-95").unwrap();
        assert_eq!(cnpj.masked(), "**.345.678/0001-**");
        assert_eq!(Cnpj::parse("12.ABC.345/01DE-35").unwrap().masked(), "**.ABC.345/01DE-**");
        assert_eq!(String::from(cnpj), "12345678000195");
        assert_eq!(deserialize("12.345.678/0001-95").unwrap(), cnpj);
        assert!(deserialize("12.345.678/0001-96").is_err());
    }

    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    fn with_check_digits(base: [u8; 12]) -> String {
        let [a, b] = check_digits(&base);
        let mut s = String::from_utf8(base.to_vec()).unwrap();
        s.push(char::from(b'0' + a));
        s.push(char::from(b'0' + b));
        s
    }

    fn format_cnpj(c: &str) -> String {
        format!("{}.{}.{}/{}-{}", &c[..2], &c[2..5], &c[5..8], &c[8..12], &c[12..])
    }

    fn alphanumeric_base() -> impl Strategy<Value = [u8; 12]> {
        proptest::array::uniform12(0usize..36).prop_map(|ix| ix.map(|i| ALPHABET[i]))
    }

    fn numeric_base() -> impl Strategy<Value = [u8; 12]> {
        proptest::array::uniform12(b'0'..=b'9')
    }

    proptest! {
        // The `prop_assume!`s below discard about a quarter of the cases.
        #![proptest_config(ProptestConfig {
            max_global_rejects: 1_000_000,
            ..ProptestConfig::default()
        })]

        #[test]
        fn generated_cnpjs_round_trip(base in prop_oneof![numeric_base(), alphanumeric_base()]) {
            prop_assume!(!ascii::all_same(&base));
            let bare = with_check_digits(base);
            let formatted = format_cnpj(&bare);
            let parsed = Cnpj::parse(&bare).unwrap();
            prop_assert_eq!(parsed.as_str(), bare.as_str());
            prop_assert_eq!(parsed.to_string(), formatted.clone());
            prop_assert_eq!(Cnpj::parse(&formatted).unwrap(), parsed);
            prop_assert_eq!(Cnpj::parse(&formatted.to_lowercase()).unwrap(), parsed);
            prop_assert_eq!(deserialize(&String::from(parsed)).unwrap(), parsed);
        }

        #[test]
        fn changing_a_check_digit_is_rejected(
            base in prop_oneof![numeric_base(), alphanumeric_base()],
            pos in 12usize..14,
            delta in 1u8..10,
        ) {
            let mut chars = with_check_digits(base).into_bytes();
            chars[pos] = b'0' + (chars[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(chars).unwrap();
            prop_assert!(Cnpj::parse(&changed).is_err());
        }

        /// Changing one base character by a value that is not a multiple of
        /// 11 changes the first weighted sum modulo 11 (weights 2..=9 are
        /// invertible mod 11). When the original first check digit is not 0
        /// that always changes it; a first check digit of 0 hides the
        /// remainder collision 0/1 of the official algorithm, so it is excluded.
        #[test]
        fn changing_a_base_character_is_rejected(
            base in prop_oneof![numeric_base(), alphanumeric_base()],
            pos in 0usize..12,
            replacement in 0usize..36,
        ) {
            let valid = with_check_digits(base);
            prop_assume!(valid.as_bytes()[12] != b'0');
            let mut chars = valid.into_bytes();
            let new = ALPHABET[replacement];
            let delta = i32::from(new) - i32::from(chars[pos]);
            prop_assume!(delta % 11 != 0);
            chars[pos] = new;
            let changed = String::from_utf8(chars).unwrap();
            prop_assert!(Cnpj::parse(&changed).is_err());
        }

        /// The same for numeric CNPJs with digit-for-digit typos, where no
        /// change is a multiple of 11.
        #[test]
        fn changing_a_base_digit_of_a_numeric_cnpj_is_rejected(
            base in numeric_base(),
            pos in 0usize..12,
            delta in 1u8..10,
        ) {
            let valid = with_check_digits(base);
            prop_assume!(valid.as_bytes()[12] != b'0');
            let mut chars = valid.into_bytes();
            chars[pos] = b'0' + (chars[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(chars).unwrap();
            prop_assert!(Cnpj::parse(&changed).is_err());
        }
    }
}
