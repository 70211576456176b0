//! Instants in the views: the same RFC 3339 text chrono's serde writes for a `DateTime<Utc>` (seconds, then 3, 6
//! or 9 decimals as needed, `Z`), written straight into a small buffer. chrono's goes through the formatting
//! machinery a character at a time, and a view holds many instants (an order's notes, events, revisions; a list's
//! rows): that was a tenth of the CPU of a list page.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

/// `#[serde(serialize_with = "rfc3339")]` on a `DateTime<Utc>`.
pub(crate) fn rfc3339<S: Serializer>(at: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; 30];
    match write(at, &mut buf) {
        Some(len) => s.serialize_str(std::str::from_utf8(&buf[..len]).expect("ASCII digits and separators")),
        // A year outside 0000–9999 or a leap second: chrono's own text.
        None => at.serialize(s),
    }
}

/// `#[serde(serialize_with = "rfc3339_opt")]` on an `Option<DateTime<Utc>>`.
pub(crate) fn rfc3339_opt<S: Serializer>(at: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => rfc3339(at, s),
        None => s.serialize_none(),
    }
}

/// Writes `at` into `buf`; `None` for the instants chrono writes otherwise (signed years, leap seconds).
fn write(at: &DateTime<Utc>, buf: &mut [u8; 30]) -> Option<usize> {
    let year = at.year();
    let nano = at.nanosecond();
    if !(0..=9999).contains(&year) || nano >= 1_000_000_000 {
        return None;
    }
    let mut put = |at: usize, value: u32, digits: usize| {
        let mut v = value;
        for i in (0..digits).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, year as u32, 4);
    put(5, at.month(), 2);
    put(8, at.day(), 2);
    put(11, at.hour(), 2);
    put(14, at.minute(), 2);
    put(17, at.second(), 2);
    let (digits, fraction) = match nano {
        0 => (0, 0),
        n if n % 1_000_000 == 0 => (3, n / 1_000_000),
        n if n % 1_000 == 0 => (6, n / 1_000),
        n => (9, n),
    };
    put(20, fraction, digits);
    for (i, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        buf[i] = c;
    }
    let mut len = 19;
    if digits > 0 {
        buf[19] = b'.';
        len = 20 + digits;
    }
    buf[len] = b'Z';
    Some(len + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Fast(#[serde(serialize_with = "rfc3339")] DateTime<Utc>);

    #[derive(Serialize)]
    struct FastOpt(#[serde(serialize_with = "rfc3339_opt")] Option<DateTime<Utc>>);

    #[test]
    fn writes_what_chrono_writes() {
        let mut instants: Vec<DateTime<Utc>> = Vec::new();
        for secs in [0i64, 1, 59, 951_782_400, 1_764_880_000, 1_800_000_000, 253_402_300_799, -1, -62_167_219_200] {
            for nanos in [0u32, 1, 7_000_000, 123_000, 123_456_789, 999_999_999, 500_000_000, 10] {
                instants.push(DateTime::from_timestamp(secs, nanos).unwrap());
            }
        }
        // Outside the fast path: signed years and a leap second.
        instants.push(DateTime::from_timestamp(253_402_300_800, 0).unwrap());
        instants.push(DateTime::from_timestamp(-62_167_219_201, 5).unwrap());
        instants.push(DateTime::from_timestamp(1_483_228_799, 1_500_000_000).unwrap());
        for at in instants {
            let chrono = serde_json::to_string(&at).unwrap();
            assert_eq!(serde_json::to_string(&Fast(at)).unwrap(), chrono, "{at:?}");
            assert_eq!(serde_json::to_string(&FastOpt(Some(at))).unwrap(), chrono, "{at:?}");
        }
        assert_eq!(serde_json::to_string(&FastOpt(None)).unwrap(), "null");
    }
}
