//! Decimal text parsing shared by [`Money`](super::Money) and
//! [`Quantity`](super::Quantity).

/// A parsed decimal: sign and magnitude in units of `10^-scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fixed {
    pub(crate) negative: bool,
    pub(crate) units: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FixedError {
    Empty,
    NotANumber,
    TooManyDecimals,
    TooManyIntegerDigits,
}

/// Parses `[+-]digits[(.|,)digits]` after trimming, into units of
/// `10^-scale`.
///
/// Both `.` and `,` are accepted as the decimal separator; thousands
/// separators, exponents, a missing integer or fraction part ("5.", ".5")
/// and anything else are rejected. Trailing zeros of the fraction are not
/// significant ("1.500" has 2 decimal places for `scale = 2`), and leading
/// zeros of the integer part are not counted.
pub(crate) fn parse_fixed(input: &str, scale: usize, max_integer_digits: usize) -> Result<Fixed, FixedError> {
    // The magnitude must fit in a u64 (19 digits are always safe).
    debug_assert!(scale + max_integer_digits <= 19);
    let s = input.trim();
    if s.is_empty() {
        return Err(FixedError::Empty);
    }
    let (negative, body) = match s.as_bytes()[0] {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (integer, fraction) = match body.find(['.', ',']) {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(integer) || fraction.is_some_and(|f| !all_digits(f)) {
        return Err(FixedError::NotANumber);
    }
    let fraction = fraction.unwrap_or_default().trim_end_matches('0');
    if fraction.len() > scale {
        return Err(FixedError::TooManyDecimals);
    }
    let integer = integer.trim_start_matches('0');
    if integer.len() > max_integer_digits {
        return Err(FixedError::TooManyIntegerDigits);
    }
    let padding = std::iter::repeat_n(b'0', scale - fraction.len());
    let units =
        integer.bytes().chain(fraction.bytes()).chain(padding).fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0'));
    Ok(Fixed { negative, units })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(negative: bool, units: u64) -> Result<Fixed, FixedError> {
        Ok(Fixed { negative, units })
    }

    #[test]
    fn parses_plain_decimals_into_units() {
        assert_eq!(parse_fixed("149.90", 2, 15), fixed(false, 14990));
        assert_eq!(parse_fixed("149,9", 2, 15), fixed(false, 14990));
        assert_eq!(parse_fixed(" -7 ", 2, 15), fixed(true, 700));
        assert_eq!(parse_fixed("+0.5", 4, 11), fixed(false, 5000));
        assert_eq!(parse_fixed("0012.5000", 2, 2), fixed(false, 1250));
        assert_eq!(parse_fixed("0", 2, 15), fixed(false, 0));
    }

    #[test]
    fn rejects_everything_else() {
        assert_eq!(parse_fixed("  ", 2, 15), Err(FixedError::Empty));
        for s in [
            "-", "+", "5.", ".5", "1.2.3", "1,234.56", "1 000", "1e3", "1E-2", "NaN", "inf", "--1", "+-1", "R$ 10",
            "0x10", "١٢",
        ] {
            assert_eq!(parse_fixed(s, 2, 15), Err(FixedError::NotANumber), "{s}");
        }
        assert_eq!(parse_fixed("1.001", 2, 15), Err(FixedError::TooManyDecimals));
        assert_eq!(parse_fixed("123", 2, 2), Err(FixedError::TooManyIntegerDigits));
    }
}
