//! Item quantities.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::number::{FixedError, parse_fixed};
use super::{ValueError, ValueKind};

/// At most 11 integer digits and 4 decimals: the NF-e `qCom` format.
const MAX_INTEGER_DIGITS: usize = 11;
const SCALE: usize = 4;
const UNITS_PER_ONE: u64 = 10_000;
const MAX_UNITS: u64 = 10_u64.pow((MAX_INTEGER_DIGITS + SCALE) as u32) - 1;

/// A strictly positive quantity with at most 4 decimal places and 11
/// integer digits, the limits of `qCom` in the NF-e.
///
/// Stored exactly as a whole number of ten-thousandths.
/// `parse` accepts "2", "2.5", "2,5", "0.0001" (trailing zeros are not
/// significant: "1.50000" is 1.5) and rejects zero, negatives, more than 4
/// significant decimals, exponents and thousands separators. `Display` and
/// serde give the shortest form: "1", "2.5", "0.0001".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Quantity {
    ten_thousandths: u64,
}

impl Quantity {
    /// The quantity 1.
    pub const ONE: Quantity = Quantity { ten_thousandths: UNITS_PER_ONE };

    /// Parses a positive quantity.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let fixed = parse_fixed(input, SCALE, MAX_INTEGER_DIGITS).map_err(|e| match e {
            FixedError::Empty => error("quantity is empty"),
            FixedError::NotANumber => error("quantity is not a valid number"),
            FixedError::TooManyDecimals => error(TOO_MANY_DECIMALS),
            FixedError::TooManyIntegerDigits => error(TOO_MANY_INTEGER_DIGITS),
        })?;
        if fixed.negative || fixed.units == 0 {
            return Err(error(NOT_POSITIVE));
        }
        Ok(Self { ten_thousandths: fixed.units })
    }

    /// Converts a decimal, which must be positive with at most 4
    /// significant decimal places and 11 integer digits. Never rounds.
    pub fn from_decimal(value: Decimal) -> Result<Self, ValueError> {
        if value <= Decimal::ZERO {
            return Err(error(NOT_POSITIVE));
        }
        let normalized = value.normalize();
        let scale = normalized.scale();
        if scale > SCALE as u32 {
            return Err(error(TOO_MANY_DECIMALS));
        }
        normalized
            .mantissa()
            .checked_mul(10_i128.pow(SCALE as u32 - scale))
            .and_then(|units| u64::try_from(units).ok())
            .filter(|&units| units <= MAX_UNITS)
            .map(|ten_thousandths| Self { ten_thousandths })
            .ok_or(error(TOO_MANY_INTEGER_DIGITS))
    }

    /// The quantity as a normalized decimal (no trailing zeros).
    pub fn as_decimal(self) -> Decimal {
        // MAX_UNITS < 10^15 fits in an i64.
        Decimal::new(self.ten_thousandths as i64, SCALE as u32).normalize()
    }

    /// The quantity in ten-thousandths (2.5 → 25 000).
    pub(crate) const fn ten_thousandths(self) -> u64 {
        self.ten_thousandths
    }
}

const NOT_POSITIVE: &str = "quantity must be greater than zero";
const TOO_MANY_DECIMALS: &str = "quantity has more than 4 decimal places";
const TOO_MANY_INTEGER_DIGITS: &str = "quantity has more than 11 integer digits";

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Quantity, message)
}

impl fmt::Display for Quantity {
    /// The shortest form: "1", "2.5", "0.0001".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let integer = self.ten_thousandths / UNITS_PER_ONE;
        let fraction = self.ten_thousandths % UNITS_PER_ONE;
        if fraction == 0 {
            return write!(f, "{integer}");
        }
        let digits = format!("{fraction:04}");
        write!(f, "{integer}.{}", digits.trim_end_matches('0'))
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({self})")
    }
}

impl_text_conversions!(Quantity, |v| v.to_string());

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};
    use std::str::FromStr;

    fn deserialize(s: &str) -> Result<Quantity, DeError> {
        let de: StrDeserializer<'_, DeError> = s.into_deserializer();
        Quantity::deserialize(de)
    }

    #[test]
    fn parses_and_normalizes() {
        for (input, expected) in [
            ("1", "1"),
            ("2.5", "2.5"),
            ("2,50", "2.5"),
            ("0.0001", "0.0001"),
            ("1.50000", "1.5"),
            ("+3", "3"),
            ("100", "100"),
            ("0010.0100", "10.01"),
            ("99999999999.9999", "99999999999.9999"),
        ] {
            let q = Quantity::parse(input).unwrap();
            assert_eq!(q.to_string(), expected, "{input}");
            assert_eq!(q.as_decimal().to_string(), expected);
        }
        assert_eq!(Quantity::ONE, Quantity::parse("1.0").unwrap());
        assert_eq!(format!("{:?}", Quantity::ONE), "Quantity(1)");
    }

    #[test]
    fn rejects_invalid_quantities() {
        let message = |s: &str| Quantity::parse(s).unwrap_err().message();
        assert_eq!(message(""), "quantity is empty");
        assert_eq!(message("0"), "quantity must be greater than zero");
        assert_eq!(message("0.0000"), "quantity must be greater than zero");
        assert_eq!(message("-1"), "quantity must be greater than zero");
        assert_eq!(message("0.00001"), "quantity has more than 4 decimal places");
        assert_eq!(message("100000000000"), "quantity has more than 11 integer digits");
        for s in ["1e2", "1.000,5", "abc", "1/2", ".5"] {
            assert_eq!(message(s), "quantity is not a valid number", "{s}");
        }
    }

    #[test]
    fn converts_from_decimals_without_rounding() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(Quantity::from_decimal(d("2.5000")).unwrap().to_string(), "2.5");
        assert_eq!(Quantity::from_decimal(d("0.0001")).unwrap().to_string(), "0.0001");
        assert_eq!(
            Quantity::from_decimal(d("0.00001")).unwrap_err().message(),
            "quantity has more than 4 decimal places"
        );
        assert_eq!(Quantity::from_decimal(d("-2")).unwrap_err().message(), "quantity must be greater than zero");
        assert_eq!(Quantity::from_decimal(Decimal::ZERO).unwrap_err().message(), "quantity must be greater than zero");
        assert_eq!(
            Quantity::from_decimal(d("100000000000")).unwrap_err().message(),
            "quantity has more than 11 integer digits"
        );
        assert!(Quantity::from_decimal(d("99999999999.9999")).is_ok());
    }

    #[test]
    fn serde_uses_the_normalized_string() {
        let q = Quantity::parse("2.50").unwrap();
        assert_eq!(String::from(q), "2.5");
        assert_eq!(deserialize("2,5").unwrap(), q);
        assert!(deserialize("0").is_err());
    }

    proptest! {
        #[test]
        fn parse_format_round_trip(units in 1u64..=MAX_UNITS) {
            let decimal = Decimal::new(units as i64, 4);
            let q = Quantity::from_decimal(decimal).unwrap();
            let text = q.to_string();
            // The shortest form is rust_decimal's normalized form.
            prop_assert_eq!(&text, &decimal.normalize().to_string());
            prop_assert_eq!(Quantity::parse(&text).unwrap(), q);
            prop_assert_eq!(Quantity::parse(&decimal.to_string()).unwrap(), q);
            prop_assert_eq!(deserialize(&String::from(q)).unwrap(), q);
            prop_assert_eq!(q.as_decimal(), decimal);
        }
    }
}
