//! Text rules of the NF-e schema (`TString`) and the escaping of Canonical XML 1.0.
//!
//! The schema's `TString` accepts only U+0020..U+00FF, no leading/trailing space and no control
//! characters. [`clean`] turns what a user typed into such a string, deterministically:
//! - leading/trailing whitespace is trimmed and inner whitespace runs become one space;
//! - control characters (tab, CR, LF, C1 controls) are an error: they are invisible and the
//!   schema refuses them (a newline in a field is a classic cause of rejection 225/297);
//! - typographic punctuation is transliterated (curly quotes to `"`/`'`, dashes to `-`,
//!   ellipsis to `...`, exotic spaces to a space);
//! - pictographs (emoji, their variation selectors and joiners) are dropped: they carry no
//!   fiscal meaning and cannot be written;
//! - any other character outside Latin-1 (e.g. `ł`, Cyrillic, CJK) is an error naming it.

use std::borrow::Cow;

use crate::error::{BuildError, Problem};

fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x200B..=0x200F | 0x2060..=0x206F | 0x20D0..=0x20FF | 0x2190..=0x2BFF | 0x3030 | 0x303D
        | 0x3297 | 0x3299 | 0xFE00..=0xFE0F | 0x1F000..=0x1FAFF | 0xE0000..=0xE007F)
}

fn transliterate(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' | '\u{2032}' | '\u{02BC}' => "'",
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' | '\u{2033}' => "\"",
        '\u{2010}' | '\u{2011}' | '\u{2012}' | '\u{2013}' | '\u{2014}' | '\u{2015}' | '\u{2212}' => "-",
        '\u{2026}' => "...",
        '\u{2022}' => "-",
        '\u{20AC}' => "EUR",
        '\u{2122}' => "TM",
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => " ",
        _ => return None,
    })
}

/// Normalizes a user text for a `TString` field and checks its length in characters.
/// `min == 0` means the field is optional: an empty result is returned as `None`.
pub fn clean<'a, F: std::fmt::Display + ?Sized>(
    field: &F,
    input: &'a str,
    min: usize,
    max: usize,
) -> Result<Option<Cow<'a, str>>, BuildError> {
    let trimmed = input.trim();
    // Fast path: printable ASCII without double spaces (one pass over the bytes).
    let mut prev_space = false;
    let simple = trimmed.bytes().all(|b| {
        let ok = (0x20..0x7F).contains(&b) && !(b == b' ' && prev_space);
        prev_space = b == b' ';
        ok
    });
    let out: Cow<'a, str> = if simple {
        Cow::Borrowed(trimmed)
    } else {
        let mut s = String::with_capacity(trimmed.len());
        let mut pending_space = false;
        for c in trimmed.chars() {
            let piece: Cow<'static, str> = if c == ' ' || (c.is_whitespace() && !c.is_control()) {
                Cow::Borrowed(" ")
            } else if c.is_control() {
                return Err(BuildError::new(field.to_string(), Problem::ControlCharacter { ch: c }));
            } else if (c as u32) <= 0xFF {
                Cow::Owned(c.to_string())
            } else if let Some(t) = transliterate(c) {
                Cow::Borrowed(t)
            } else if is_pictograph(c) {
                continue;
            } else {
                return Err(BuildError::new(field.to_string(), Problem::UnsupportedCharacter { ch: c }));
            };
            for pc in piece.chars() {
                if pc == ' ' {
                    pending_space = !s.is_empty();
                } else {
                    if pending_space {
                        s.push(' ');
                        pending_space = false;
                    }
                    s.push(pc);
                }
            }
        }
        Cow::Owned(s)
    };
    let len = if simple { out.len() } else { out.chars().count() };
    if len == 0 {
        return if min == 0 { Ok(None) } else { Err(BuildError::new(field.to_string(), Problem::Empty)) };
    }
    if len < min {
        return Err(BuildError::new(field.to_string(), Problem::TooShort { min, len }));
    }
    if len > max {
        return Err(BuildError::new(field.to_string(), Problem::TooLong { max, len }));
    }
    Ok(Some(out))
}

/// Like [`clean`] for a required field.
pub fn required<'a, F: std::fmt::Display + ?Sized>(
    field: &F,
    input: &'a str,
    min: usize,
    max: usize,
) -> Result<Cow<'a, str>, BuildError> {
    clean(field, input, min.max(1), max)?.ok_or_else(|| BuildError::new(field.to_string(), Problem::Empty))
}

/// Checks that `s` is exactly `n` ASCII digits (`min..=max` digits when `min != max`).
pub fn digits<F: std::fmt::Display + ?Sized>(
    field: &F,
    s: &str,
    min: usize,
    max: usize,
    what: &'static str,
) -> Result<(), BuildError> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(BuildError::new(field.to_string(), Problem::Format(what)));
    }
    Ok(())
}

/// Appends `s` escaped as Canonical XML 1.0 escapes character content:
/// `&` `<` `>` become entity references and CR becomes `&#xD;`; everything else is literal.
pub fn push_text(out: &mut String, s: &str) {
    push_escaped(out, s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Appends `s` escaped as Canonical XML 1.0 escapes attribute values:
/// `&` `<` `"` become entity references and TAB, LF, CR become `&#x9;` `&#xA;` `&#xD;`.
pub fn push_attr(out: &mut String, s: &str) {
    push_escaped(out, s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '"' => Some("&quot;"),
        '\t' => Some("&#x9;"),
        '\n' => Some("&#xA;"),
        '\r' => Some("&#xD;"),
        _ => None,
    });
}

/// Appends `s` with each character that `escape` maps (ASCII only) replaced by its escape; `s` as it is when it
/// has none.
fn push_escaped(out: &mut String, s: &str, escape: impl Fn(char) -> Option<&'static str>) {
    // A byte of a multi-byte character is 0x80 or more: never one of the ASCII characters escaped.
    if !s.bytes().any(|b| escape(char::from(b)).is_some()) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match escape(c) {
            Some(escaped) => out.push_str(escaped),
            None => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c14n_text_and_attribute_escaping() {
        let mut t = String::new();
        push_text(&mut t, "a&b<c>d\"e'f\r\n\tç😀");
        assert_eq!(t, "a&amp;b&lt;c&gt;d\"e'f&#xD;\n\tç😀");
        let mut a = String::new();
        push_attr(&mut a, "a&b<c>d\"e'f\r\n\tç😀");
        assert_eq!(a, "a&amp;b&lt;c>d&quot;e'f&#xD;&#xA;&#x9;ç😀");
    }

    #[test]
    fn clean_normalizes_and_rejects() {
        let c = |s| clean("f", s, 1, 60).map(|o| o.map(|c| c.into_owned()));
        assert_eq!(c("  Tela   nova ").unwrap().unwrap(), "Tela nova");
        assert_eq!(
            c("Tela 📱 “premium” — A&B <x> 'y' ção…").unwrap().unwrap(),
            "Tela \"premium\" - A&B <x> 'y' ção..."
        );
        assert_eq!(c("👍🏽").unwrap_err().problem, Problem::Empty);
        assert!(matches!(c("linha1\nlinha2").unwrap_err().problem, Problem::ControlCharacter { ch: '\n' }));
        assert!(matches!(c("Łódź").unwrap_err().problem, Problem::UnsupportedCharacter { ch: 'Ł' }));
        assert!(matches!(clean("f", "abc", 1, 2).unwrap_err().problem, Problem::TooLong { max: 2, len: 3 }));
        assert!(matches!(clean("f", "a", 2, 60).unwrap_err().problem, Problem::TooShort { min: 2, len: 1 }));
        assert_eq!(clean("f", "  ", 0, 60).unwrap(), None);
    }
}
