//! Fixed-length ASCII storage shared by the digit-string value types.

use std::fmt;

/// `N` ASCII bytes. Only built from ASCII input, so viewing it as `&str`
/// cannot fail.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct AsciiBuf<const N: usize>([u8; N]);

impl<const N: usize> AsciiBuf<N> {
    /// Wraps `bytes` if they are all ASCII.
    pub(crate) fn new(bytes: [u8; N]) -> Option<Self> {
        bytes.is_ascii().then_some(Self(bytes))
    }

    pub(crate) fn bytes(&self) -> &[u8; N] {
        &self.0
    }

    pub(crate) fn as_str(&self) -> &str {
        match std::str::from_utf8(&self.0) {
            Ok(s) => s,
            Err(_) => unreachable!("AsciiBuf only holds ASCII bytes"),
        }
    }
}

impl<const N: usize> fmt::Debug for AsciiBuf<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Why [`collect`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CollectError {
    /// A character that is neither accepted nor a separator.
    InvalidChar,
    /// Not exactly `N` significant characters.
    Length,
}

/// Trims `input`, skips `separators` and maps every other character through
/// `accept` (which returns the byte to store, or `None` to reject it).
pub(crate) fn collect<const N: usize>(
    input: &str,
    separators: &[char],
    accept: impl Fn(char) -> Option<u8>,
) -> Result<AsciiBuf<N>, CollectError> {
    let mut out = [0u8; N];
    let mut len = 0usize;
    let mut too_long = false;
    for c in input.trim().chars() {
        if separators.contains(&c) {
            continue;
        }
        let byte = accept(c).ok_or(CollectError::InvalidChar)?;
        if len < N {
            out[len] = byte;
            len += 1;
        } else {
            too_long = true;
        }
    }
    if too_long || len != N {
        return Err(CollectError::Length);
    }
    AsciiBuf::new(out).ok_or(CollectError::InvalidChar)
}

/// `accept` for [`collect`]: ASCII digits only.
pub(crate) fn digit(c: char) -> Option<u8> {
    c.is_ascii_digit().then_some(c as u8)
}

/// Whether every byte equals the first one.
pub(crate) fn all_same(bytes: &[u8]) -> bool {
    bytes.windows(2).all(|w| w[0] == w[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collect_skips_separators_and_checks_length_and_chars() {
        let buf: AsciiBuf<4> = collect(" 12-34 ", &['-'], digit).unwrap();
        assert_eq!(buf.as_str(), "1234");
        assert_eq!(collect::<4>("123", &['-'], digit), Err(CollectError::Length));
        assert_eq!(collect::<4>("12345", &['-'], digit), Err(CollectError::Length));
        assert_eq!(collect::<4>("12a4", &['-'], digit), Err(CollectError::InvalidChar));
        assert_eq!(collect::<4>("", &['-'], digit), Err(CollectError::Length));
    }

    #[test]
    fn all_same_detects_repeated_bytes() {
        assert!(all_same(b"1111"));
        assert!(!all_same(b"1112"));
    }
}
