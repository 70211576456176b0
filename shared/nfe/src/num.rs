//! Money and quantities: `rust_decimal` only, explicit rounding, schema decimal places.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{BuildError, Problem};

/// The rounding used for every computed value (commercial rounding, half away from zero).
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointAwayFromZero;

/// Rounds to centavos.
pub fn round2(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, ROUNDING)
}

/// Checks `d` has at most `max_dp` significant decimal places and lies in `[min, max]`.
pub fn check<F: std::fmt::Display + ?Sized>(
    field: &F,
    d: Decimal,
    max_dp: u32,
    min: Decimal,
    max: Decimal,
    range: &'static str,
) -> Result<Decimal, BuildError> {
    let n = d.normalize();
    if n.scale() > max_dp {
        return Err(BuildError::new(field.to_string(), Problem::TooManyDecimals { max: max_dp }));
    }
    if n < min || n > max {
        return Err(BuildError::new(field.to_string(), Problem::OutOfRange(range)));
    }
    Ok(n)
}

/// Appends `d` with exactly `places` decimals (`d` must already have at most that many).
pub fn push_fixed(out: &mut String, d: Decimal, places: u32) {
    let d = if d.scale() > places { d.round_dp_with_strategy(places, ROUNDING) } else { d };
    let mut m = d.mantissa();
    let mut scale = d.scale();
    while scale < places {
        m *= 10;
        scale += 1;
    }
    if m < 0 {
        out.push('-');
        m = -m;
    }
    let mut buf = [0u8; 48];
    // u64 arithmetic when it fits (always, for NF-e values): i128 division is a slow call.
    let i = match u64::try_from(m) {
        Ok(m) => write_digits(&mut buf, m, places),
        Err(_) => write_digits(&mut buf, m, places),
    };
    out.reserve(buf.len() - i);
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Writes `m` (not negative) at the end of `buf`, a point before its last `places` digits (when `places > 0`)
/// and at least one digit before the point; returns where it starts.
fn write_digits<T>(buf: &mut [u8], mut m: T, places: u32) -> usize
where
    T: Copy + PartialEq + From<u8> + TryInto<u8> + std::ops::Rem<Output = T> + std::ops::DivAssign,
{
    let (zero, ten) = (T::from(0), T::from(10));
    let mut i = buf.len();
    let mut digits = 0u32;
    loop {
        i -= 1;
        // A digit of a non-negative number: 0 to 9.
        buf[i] = b'0' + (m % ten).try_into().unwrap_or(0);
        m /= ten;
        digits += 1;
        if digits == places && places > 0 {
            i -= 1;
            buf[i] = b'.';
        }
        if m == zero && digits > places {
            break;
        }
    }
    i
}

/// Appends a rate (`TDec_0302a04`): at least 2 and at most 4 decimals.
pub fn push_rate(out: &mut String, d: Decimal) {
    let n = d.normalize();
    push_fixed(out, n, n.scale().clamp(2, 4));
}

/// Appends a value with two decimals (`TDec_1302`).
pub fn push_money(out: &mut String, d: Decimal) {
    push_fixed(out, d, 2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn f(s: &str, p: u32) -> String {
        let mut o = String::new();
        push_fixed(&mut o, Decimal::from_str(s).unwrap(), p);
        o
    }

    #[test]
    fn fixed_formatting() {
        assert_eq!(f("0", 2), "0.00");
        assert_eq!(f("1003.04", 2), "1003.04");
        assert_eq!(f("2", 4), "2.0000");
        assert_eq!(f("289.9", 10), "289.9000000000");
        assert_eq!(f("0.005", 2), "0.01");
        assert_eq!(f("-1.5", 2), "-1.50");
        assert_eq!(f("12", 0), "12");
        // Beyond u64 (the i128 digits).
        assert_eq!(f("123456789012345678901234.5", 2), "123456789012345678901234.50");
        assert_eq!(f("-123456789012345678901", 0), "-123456789012345678901");
        let mut o = String::new();
        push_rate(&mut o, Decimal::from_str("1.65").unwrap());
        push_rate(&mut o, Decimal::from_str("0").unwrap());
        push_rate(&mut o, Decimal::from_str("7.6000").unwrap());
        push_rate(&mut o, Decimal::from_str("0.1234").unwrap());
        assert_eq!(o, "1.650.007.600.1234");
    }

    #[test]
    fn rounding_is_half_away_from_zero() {
        assert_eq!(round2(Decimal::from_str("2.345").unwrap()).to_string(), "2.35");
        assert_eq!(round2(Decimal::from_str("2.335").unwrap()).to_string(), "2.34");
    }
}
