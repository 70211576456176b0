//! Monetary amounts in reais.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::number::{FixedError, parse_fixed};
use super::{Quantity, ValueError, ValueKind};

/// Largest integer part: 15 digits, beyond any NF-e total (13 digits).
const MAX_INTEGER_DIGITS: usize = 15;
/// Largest magnitude in centavos: 999 999 999 999 999.99.
const MAX_CENTS: i64 = 10_i64.pow(MAX_INTEGER_DIGITS as u32 + 2) - 1;

/// An amount of money in reais, exact to the centavo (always scale 2).
///
/// Stored as a whole number of centavos, so arithmetic is exact (no
/// floating point) and every value has exactly two decimal places; it is
/// exchanged as a [`Decimal`] of scale 2 ([`as_decimal`](Self::as_decimal),
/// [`from_decimal`](Self::from_decimal)). Amounts are signed (refunds and
/// discounts can be negative) with at most 15 integer digits.
///
/// `parse` accepts "149.90", "149.9", "149", "-10.5", "+3" and the Brazilian
/// decimal comma "149,90"; it rejects more than 2 significant decimal places
/// ("1.005"; "1.500" is fine), thousands separators ("1.234,56"), exponent
/// forms ("1e3"), currency symbols and anything that is not a number.
/// `Display` and serde give exactly two decimals with a `.` separator:
/// "149.90", "-10.50". Deserialization only accepts strings, never JSON
/// numbers (which would go through binary floating point).
///
/// `+`, `-` and `Sum` panic if the result leaves the 15-digit range, like
/// integer overflow; use [`checked_add`](Self::checked_add) and
/// [`checked_sub`](Self::checked_sub) where that can happen.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Money {
    cents: i64,
}

impl Money {
    /// Parses an amount with at most two decimal places.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let fixed = parse_fixed(input, 2, MAX_INTEGER_DIGITS).map_err(|e| match e {
            FixedError::Empty => error("amount is empty"),
            FixedError::NotANumber => error("amount is not a valid number"),
            FixedError::TooManyDecimals => error("amount has more than 2 decimal places"),
            FixedError::TooManyIntegerDigits => error(OUT_OF_RANGE),
        })?;
        // At most 17 digits, so the magnitude fits in an i64.
        let magnitude = fixed.units as i64;
        Ok(Self { cents: if fixed.negative { -magnitude } else { magnitude } })
    }

    /// R$ 0.00.
    pub const fn zero() -> Self {
        Self { cents: 0 }
    }

    /// The amount of `cents` centavos (`from_cents(14990)` is R$ 149.90),
    /// or an error if it exceeds 15 integer digits (|cents| ≥ 10^17).
    pub fn from_cents(cents: i64) -> Result<Self, ValueError> {
        Self::from_cents_i128(i128::from(cents)).ok_or(error(OUT_OF_RANGE))
    }

    /// Converts a decimal with at most two significant decimal places
    /// (trailing zeros are fine: 1.500 is R$ 1.50). Never rounds.
    pub fn from_decimal(value: Decimal) -> Result<Self, ValueError> {
        let normalized = value.normalize();
        let scale = normalized.scale();
        if scale > 2 {
            return Err(error("amount has more than 2 decimal places"));
        }
        normalized
            .mantissa()
            .checked_mul(10_i128.pow(2 - scale))
            .and_then(Self::from_cents_i128)
            .ok_or(error(OUT_OF_RANGE))
    }

    fn from_cents_i128(cents: i128) -> Option<Self> {
        if cents.unsigned_abs() > MAX_CENTS as u128 {
            return None;
        }
        i64::try_from(cents).ok().map(|cents| Self { cents })
    }

    /// The amount in centavos.
    pub const fn cents(self) -> i64 {
        self.cents
    }

    /// The amount as a decimal of scale 2 (e.g. `149.90`).
    pub fn as_decimal(self) -> Decimal {
        Decimal::new(self.cents, 2)
    }

    pub const fn is_zero(self) -> bool {
        self.cents == 0
    }

    pub const fn is_negative(self) -> bool {
        self.cents < 0
    }

    pub const fn is_positive(self) -> bool {
        self.cents > 0
    }

    pub const fn abs(self) -> Self {
        Self { cents: self.cents.abs() }
    }

    /// `self + other`, or `None` if the result exceeds 15 integer digits.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        Self::from_cents_i128(i128::from(self.cents) + i128::from(other.cents))
    }

    /// `self - other`, or `None` if the result exceeds 15 integer digits.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        Self::from_cents_i128(i128::from(self.cents) - i128::from(other.cents))
    }

    /// `self × quantity`, computed exactly and rounded to the centavo, or
    /// `None` if the result exceeds 15 integer digits (a valid price times a
    /// valid quantity can: R$ 10^10 × 10^6).
    ///
    /// The exact product (at most 6 decimal places) is rounded half away
    /// from zero (`RoundingStrategy::MidpointAwayFromZero`), the rule used
    /// by SEFAZ validation and sped-nfe for item totals (`vProd` =
    /// `qCom × vUnCom`): 0.025 → 0.03 and -0.025 → -0.03, where banker's
    /// rounding would give 0.02.
    pub fn checked_mul_quantity(self, quantity: Quantity) -> Option<Self> {
        // centavos × ten-thousandths = millionths of a real; both factors are
        // below 10^17 and 10^15, so the product fits easily in an i128.
        let millionths = i128::from(self.cents) * i128::from(quantity.ten_thousandths());
        Self::from_cents_i128(div_round_half_away_from_zero(millionths, 10_000))
    }
}

/// `n / d` rounded half away from zero, for `d > 0`.
fn div_round_half_away_from_zero(n: i128, d: i128) -> i128 {
    let quotient = n / d;
    let remainder = n % d;
    if remainder.abs() * 2 >= d { quotient + n.signum() } else { quotient }
}

const OUT_OF_RANGE: &str = "amount exceeds 15 integer digits";

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Money, message)
}

impl fmt::Display for Money {
    /// Formats with exactly two decimals: "149.90", "-0.50".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let magnitude = self.cents.unsigned_abs();
        write!(f, "{sign}{}.{:02}", magnitude / 100, magnitude % 100)
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

impl Add for Money {
    type Output = Money;

    /// Panics if the sum exceeds 15 integer digits.
    fn add(self, other: Money) -> Money {
        self.checked_add(other).expect("Money addition overflowed 15 integer digits")
    }
}

impl Sub for Money {
    type Output = Money;

    /// Panics if the difference exceeds 15 integer digits.
    fn sub(self, other: Money) -> Money {
        self.checked_sub(other).expect("Money subtraction overflowed 15 integer digits")
    }
}

impl Neg for Money {
    type Output = Money;

    /// Never overflows: the range is symmetric.
    fn neg(self) -> Money {
        Money { cents: -self.cents }
    }
}

impl AddAssign for Money {
    fn add_assign(&mut self, other: Money) {
        *self = *self + other;
    }
}

impl SubAssign for Money {
    fn sub_assign(&mut self, other: Money) {
        *self = *self - other;
    }
}

impl Mul<Quantity> for Money {
    type Output = Money;

    /// [`Money::checked_mul_quantity`], panicking if the result exceeds 15
    /// integer digits.
    fn mul(self, quantity: Quantity) -> Money {
        self.checked_mul_quantity(quantity).expect("Money × Quantity overflowed 15 integer digits")
    }
}

impl Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        iter.fold(Money::zero(), Add::add)
    }
}

impl<'a> Sum<&'a Money> for Money {
    fn sum<I: Iterator<Item = &'a Money>>(iter: I) -> Money {
        iter.copied().sum()
    }
}

impl_text_conversions!(Money, |v| v.to_string());

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::RoundingStrategy;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};
    use std::str::FromStr;

    fn money(s: &str) -> Money {
        Money::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn quantity(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn deserialize(s: &str) -> Result<Money, DeError> {
        let de: StrDeserializer<'_, DeError> = s.into_deserializer();
        Money::deserialize(de)
    }

    #[test]
    fn parses_human_formats_to_two_decimals() {
        for (input, expected) in [
            ("149.90", "149.90"),
            ("149.9", "149.90"),
            ("149", "149.00"),
            ("149,90", "149.90"),
            (" -10.5 ", "-10.50"),
            ("+3", "3.00"),
            ("0.01", "0.01"),
            ("-0", "0.00"),
            ("-0.00", "0.00"),
            ("1.500", "1.50"),
            ("000123.40", "123.40"),
            ("999999999999999.99", "999999999999999.99"),
            ("-999999999999999.99", "-999999999999999.99"),
        ] {
            let m = money(input);
            assert_eq!(m.to_string(), expected, "{input}");
            assert_eq!(m.as_decimal().scale(), 2);
            assert_eq!(m.as_decimal().to_string(), expected);
        }
        assert!(!money("-0").is_negative());
        assert_eq!(money("-0"), Money::zero());
    }

    #[test]
    fn rejects_non_amounts() {
        let message = |s: &str| Money::parse(s).unwrap_err().message();
        assert_eq!(message(""), "amount is empty");
        assert_eq!(message("1.005"), "amount has more than 2 decimal places");
        assert_eq!(message("0,001"), "amount has more than 2 decimal places");
        assert_eq!(message("1000000000000000"), "amount exceeds 15 integer digits");
        for s in ["1e3", "1E2", "1.5e1", "1.234,56", "1,234.56", "R$ 10,00", "abc", "NaN", "5.", ".5", "1 000"] {
            assert_eq!(message(s), "amount is not a valid number", "{s}");
        }
        assert_eq!(Money::parse("abc").unwrap_err().kind(), ValueKind::Money);
    }

    #[test]
    fn converts_from_cents_and_decimals_without_rounding() {
        assert_eq!(Money::from_cents(14990).unwrap(), money("149.90"));
        assert_eq!(Money::from_cents(-5).unwrap().to_string(), "-0.05");
        assert_eq!(money("149.90").cents(), 14990);
        assert_eq!(Money::from_cents(MAX_CENTS).unwrap().cents(), MAX_CENTS);
        assert_eq!(Money::from_cents(MAX_CENTS + 1).unwrap_err().message(), "amount exceeds 15 integer digits");
        assert!(Money::from_cents(-MAX_CENTS - 1).is_err());
        assert!(Money::from_cents(i64::MIN).is_err());
        assert_eq!(Money::from_decimal(Decimal::new(15, 1)).unwrap().to_string(), "1.50");
        assert_eq!(Money::from_decimal(Decimal::new(1500, 3)).unwrap().to_string(), "1.50");
        assert_eq!(Money::from_decimal(Decimal::new(-7, 0)).unwrap().to_string(), "-7.00");
        assert_eq!(
            Money::from_decimal(Decimal::new(1005, 3)).unwrap_err().message(),
            "amount has more than 2 decimal places"
        );
        assert!(Money::from_decimal(Decimal::MAX).is_err());
    }

    #[test]
    fn sign_predicates_and_abs() {
        assert!(Money::zero().is_zero() && !Money::zero().is_negative() && !Money::zero().is_positive());
        assert!(money("-0.01").is_negative());
        assert!(money("0.01").is_positive());
        assert_eq!(money("-2.50").abs(), money("2.50"));
        assert_eq!(Money::default(), Money::zero());
    }

    #[test]
    fn arithmetic_is_exact() {
        let ten_cents = money("0.10");
        let total: Money = std::iter::repeat_n(ten_cents, 10).sum();
        assert_eq!(total, money("1.00"));
        assert_eq!(money("0.10") + money("0.20"), money("0.30"));
        assert_eq!(money("10.00") - money("12.50"), money("-2.50"));
        assert_eq!(-money("3.00"), money("-3.00"));
        let mut m = money("1.00");
        m += money("0.99");
        m -= money("0.49");
        assert_eq!(m, money("1.50"));
        let items = [money("149.90"), money("-10.00"), money("0.10")];
        assert_eq!(items.iter().sum::<Money>(), money("140.00"));
        assert!(money("1.00") < money("1.01") && money("-1.00") < money("0.00"));
    }

    #[test]
    fn checked_arithmetic_detects_overflow() {
        let max = Money::from_cents(MAX_CENTS).unwrap();
        assert_eq!(max.checked_add(money("0.01")), None);
        assert_eq!((-max).checked_sub(money("0.01")), None);
        assert_eq!(max.checked_add(money("-0.01")), Some(money("999999999999999.98")));
    }

    #[test]
    #[should_panic(expected = "Money addition overflowed")]
    fn add_panics_on_overflow() {
        let _ = Money::from_cents(MAX_CENTS).unwrap() + money("0.01");
    }

    #[test]
    fn multiplies_by_quantity_rounding_half_away_from_zero() {
        for (price, qty, expected) in [
            ("149.90", "3", "449.70"),
            ("10.00", "0.3333", "3.33"),
            ("1.99", "2.5", "4.98"),   // 4.975
            ("0.05", "0.5", "0.03"),   // 0.025: banker's rounding would give 0.02
            ("-0.05", "0.5", "-0.03"), // symmetric for negatives
            ("0.01", "0.5", "0.01"),   // 0.005
            ("0.01", "0.4999", "0.00"),
            ("-0.01", "0.4999", "0.00"),
            ("2.35", "1.0001", "2.35"), // 2.350235
            ("0.00", "7", "0.00"),
        ] {
            assert_eq!(money(price).checked_mul_quantity(quantity(qty)), Some(money(expected)), "{price} × {qty}");
            assert_eq!(money(price) * quantity(qty), money(expected));
        }
        let max = Money::from_cents(MAX_CENTS).unwrap();
        assert_eq!(max.checked_mul_quantity(quantity("2")), None);
        assert_eq!(max.checked_mul_quantity(quantity("1")), Some(max));
        // The largest price times the largest quantity stays in i128.
        let most = quantity("99999999999.9999");
        assert_eq!(max.checked_mul_quantity(most), None);
        assert_eq!((-max).checked_mul_quantity(most), None);
    }

    #[test]
    #[should_panic(expected = "Money × Quantity overflowed")]
    fn mul_operator_panics_on_overflow() {
        let _ = Money::from_cents(MAX_CENTS).unwrap() * quantity("1.01");
    }

    #[test]
    fn serde_uses_two_decimal_strings() {
        assert_eq!(String::from(money("149.9")), "149.90");
        assert_eq!(deserialize("149.9").unwrap(), money("149.90"));
        assert_eq!(deserialize("-0.5").unwrap(), money("-0.50"));
        assert!(deserialize("1.001").is_err());
        assert!(deserialize("1e2").is_err());
        assert_eq!(format!("{:?}", money("-1.5")), "Money(-1.50)");
    }

    fn amount_text() -> impl Strategy<Value = (bool, u64, u64)> {
        (any::<bool>(), 0u64..1_000_000_000_000_000, 0u64..100)
    }

    proptest! {
        #[test]
        fn parse_format_round_trip((negative, integer, fraction) in amount_text()) {
            let sign = if negative { "-" } else { "" };
            let text = format!("{sign}{integer}.{fraction:02}");
            let m = Money::parse(&text).unwrap();
            let expected = if integer == 0 && fraction == 0 { "0.00".to_owned() } else { text.clone() };
            prop_assert_eq!(m.to_string(), expected.clone());
            prop_assert_eq!(Money::parse(&text.replace('.', ",")).unwrap(), m);
            prop_assert_eq!(Money::parse(&m.to_string()).unwrap(), m);
            prop_assert_eq!(deserialize(&String::from(m)).unwrap(), m);
            // The decimal view agrees with rust_decimal's own parser.
            prop_assert_eq!(m.as_decimal(), Decimal::from_str(&text).unwrap());
            prop_assert_eq!(Money::from_decimal(m.as_decimal()).unwrap(), m);
        }

        #[test]
        fn sums_are_exact(texts in proptest::collection::vec(
            (any::<bool>(), 0u64..10_000_000_000_000, 0u64..100), 0..60,
        )) {
            let texts: Vec<String> = texts
                .into_iter()
                .map(|(negative, integer, fraction)| {
                    format!("{}{integer}.{fraction:02}", if negative { "-" } else { "" })
                })
                .collect();
            let total: Money = texts.iter().map(|t| Money::parse(t).unwrap()).sum();
            let reference: Decimal = texts.iter().map(|t| Decimal::from_str(t).unwrap()).sum();
            prop_assert_eq!(total.as_decimal(), reference);
            let cents: i64 = texts.iter().map(|t| Money::parse(t).unwrap().cents()).sum();
            prop_assert_eq!(total, Money::from_cents(cents).unwrap());
            // Subtracting everything back gives exactly zero.
            let back = texts.iter().fold(total, |acc, t| acc - Money::parse(t).unwrap());
            prop_assert!(back.is_zero());
        }

        /// Agrees with rust_decimal's MidpointAwayFromZero rounding of the
        /// exact product. Prices below R$ 10^9 and quantities below 10^5
        /// keep the product in range and the Decimal product exact.
        #[test]
        fn mul_quantity_matches_decimal_rounding(
            cents in -100_000_000_000i64..100_000_000_000,
            units in 1u64..1_000_000_000,
        ) {
            let price = Money::from_cents(cents).unwrap();
            let qty = Quantity::from_decimal(Decimal::new(units as i64, 4)).unwrap();
            let exact = price.as_decimal() * qty.as_decimal();
            let expected = exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
            let product = price.checked_mul_quantity(qty).unwrap();
            prop_assert_eq!(product.as_decimal(), expected);
        }
    }
}
