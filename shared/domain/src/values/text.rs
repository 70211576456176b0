//! The characters free text may hold.
//!
//! Everything a user types ends up in events, and events travel through SQS, which accepts only the characters
//! of XML 1.0 (tab, line feed, carriage return, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF) and refuses the
//! whole message otherwise. Unicode non-characters (U+FDD0–U+FDEF and the last two code points of every plane,
//! U+xFFFE and U+xFFFF) are never meant for interchange either. Both are refused where text comes in, so an
//! accepted value always travels.

/// Whether `c` is a Unicode non-character: U+FDD0–U+FDEF, or U+xFFFE/U+xFFFF of any plane.
pub fn is_noncharacter(c: char) -> bool {
    let u = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&u) || (u & 0xFFFE) == 0xFFFE
}

/// Whether `c` may appear in text that travels on the bus: allowed by SQS (XML 1.0) and not a non-character.
/// Tab, line feed and carriage return pass; what a single-line field refuses beyond this is the field's rule.
pub fn is_transportable(c: char) -> bool {
    let u = u32::from(c);
    let xml = matches!(u, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF);
    xml && !is_noncharacter(c)
}

/// The first character of `s` that may not travel (see [`is_transportable`]), if any.
pub fn untransportable(s: &str) -> Option<char> {
    s.chars().find(|c| !is_transportable(*c))
}

/// Why a character was refused, for a problem's detail (never echoes the text itself).
pub fn refusal(c: char) -> String {
    if is_noncharacter(c) {
        format!("contains the Unicode non-character U+{:04X}", u32::from(c))
    } else {
        format!("contains the control character U+{:04X}", u32::from(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noncharacters() {
        for u in [0xFDD0, 0xFDEF, 0xFFFE, 0xFFFF, 0x1FFFE, 0x1FFFF, 0x10FFFE, 0x10FFFF] {
            let c = char::from_u32(u).unwrap();
            assert!(is_noncharacter(c), "U+{u:X}");
            assert!(!is_transportable(c), "U+{u:X}");
        }
        for u in [0xFDCF, 0xFDF0, 0xFFFD, 0x1F600, 0x10000, 0xE000] {
            let c = char::from_u32(u).unwrap();
            assert!(!is_noncharacter(c), "U+{u:X}");
            assert!(is_transportable(c), "U+{u:X}");
        }
    }

    #[test]
    fn controls_sqs_refuses() {
        for c in ['\0', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1f}'] {
            assert!(!is_transportable(c), "{c:?}");
        }
        for c in ['\t', '\n', '\r', ' ', 'ç', 'Ã', '€', '\u{85}'] {
            assert!(is_transportable(c), "{c:?}");
        }
        assert_eq!(untransportable("Não liga"), None);
        assert_eq!(untransportable("a\u{FFFF}b\u{1}"), Some('\u{FFFF}'));
        assert_eq!(refusal('\u{FFFE}'), "contains the Unicode non-character U+FFFE");
        assert_eq!(refusal('\u{1}'), "contains the control character U+0001");
    }
}
