//! Percentages (of a discount).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::number::{FixedError, parse_fixed};
use super::{Money, ValueError, ValueKind};

/// A percentage from 0 to 100 with at most 2 decimal places, kept exactly as hundredths of a percent.
///
/// `parse` accepts "10", "12.5", "12,5", "100" and rejects negatives, more than 100, more than two decimals and
/// anything that is not a number. `Display` and serde give the shortest form: "10", "12.5", "0.25".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Percent {
    hundredths: u32,
}

impl Percent {
    /// Parses a percentage between 0 and 100.
    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let fixed = parse_fixed(input, 2, 3).map_err(|e| match e {
            FixedError::Empty => error("percentage is empty"),
            FixedError::NotANumber => error("percentage is not a valid number"),
            FixedError::TooManyDecimals => error("percentage has more than 2 decimal places"),
            FixedError::TooManyIntegerDigits => error(OUT_OF_RANGE),
        })?;
        if fixed.negative && fixed.units != 0 || fixed.units > 10_000 {
            return Err(error(OUT_OF_RANGE));
        }
        Ok(Self { hundredths: fixed.units as u32 })
    }

    /// The percentage in hundredths of a percent (12.5 % is 1250).
    pub const fn hundredths(self) -> u32 {
        self.hundredths
    }

    /// `amount × self`, rounded half away from zero to the centavo (the rule of every line total).
    pub fn of(self, amount: Money) -> Money {
        let n = i128::from(amount.cents()) * i128::from(self.hundredths);
        let (q, r) = (n / 10_000, n % 10_000);
        let cents = if r.abs() * 2 >= 10_000 { q + n.signum() } else { q };
        // |result| ≤ |amount|, so it stays in Money's range.
        Money::from_cents(cents as i64).expect("a percentage of an amount is within the amount")
    }
}

const OUT_OF_RANGE: &str = "percentage must be between 0 and 100";

const fn error(message: &'static str) -> ValueError {
    ValueError::new(ValueKind::Percent, message)
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (whole, frac) = (self.hundredths / 100, self.hundredths % 100);
        match frac {
            0 => write!(f, "{whole}"),
            f2 if f2 % 10 == 0 => write!(f, "{whole}.{}", f2 / 10),
            f2 => write!(f, "{whole}.{f2:02}"),
        }
    }
}

impl fmt::Debug for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Percent({self})")
    }
}

impl_text_conversions!(Percent, |p| p.to_string());

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(s: &str) -> Percent {
        Percent::parse(s).unwrap()
    }

    #[test]
    fn parses_and_prints_the_shortest_form() {
        assert_eq!(pct("10").hundredths(), 1000);
        assert_eq!(pct("12,5").to_string(), "12.5");
        assert_eq!(pct("0.25").to_string(), "0.25");
        assert_eq!(pct("100.00").to_string(), "100");
        assert_eq!(pct("-0").hundredths(), 0);
        for bad in ["-1", "100.01", "1000", "1.005", "", "dez", "5%"] {
            assert!(Percent::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_percentage_of_an_amount_rounds_half_away_from_zero() {
        let m = |s: &str| Money::parse(s).unwrap();
        assert_eq!(pct("10").of(m("149.90")), m("14.99"));
        // 0.05 × 12.5 % = 0.00625 → 0.01
        assert_eq!(pct("12.5").of(m("0.05")), m("0.01"));
        // 0.02 × 25 % = 0.005 → 0.01 (half away from zero)
        assert_eq!(pct("25").of(m("0.02")), m("0.01"));
        assert_eq!(pct("100").of(m("269.90")), m("269.90"));
        assert_eq!(pct("0").of(m("269.90")), Money::zero());
    }
}
