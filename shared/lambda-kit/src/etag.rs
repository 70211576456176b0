//! Versions as entity tags: reads send `ETag: "<version>"`, writes accept `If-Match` with that tag.

use lambda_http::http::HeaderMap;
use lambda_http::http::header::IF_MATCH;

use crate::problem::{Problem, ProblemType};

/// The entity tag of a version: `"7"`.
pub fn etag(version: u64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header pins, if any.
///
/// Accepts the strong tag we send (`"7"`), a weak one (`W/"7"`) and a bare number (`7`), with surrounding
/// whitespace; `*` pins nothing (the resource only has to exist). A list of tags or anything else is a 400
/// problem naming the header.
pub fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Problem> {
    let mut values = headers.get_all(IF_MATCH).iter();
    let Some(value) = values.next() else { return Ok(None) };
    let bad = |detail: &str| Problem::field(ProblemType::InvalidHeader, "If-Match", detail);
    if values.next().is_some() {
        return Err(bad("send a single entity tag"));
    }
    let text = value.to_str().map_err(|_| bad("the header is not visible ASCII"))?;
    parse_if_match(text).map_err(|InvalidIfMatch| bad("expected the ETag of the resource, e.g. \"3\""))
}

/// An `If-Match` value that is not one entity tag of a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid If-Match value")]
pub struct InvalidIfMatch;

/// Parses one `If-Match` value (see [`if_match`]).
pub fn parse_if_match(value: &str) -> Result<Option<u64>, InvalidIfMatch> {
    let v = value.trim();
    if v == "*" {
        return Ok(None);
    }
    let v = v.strip_prefix("W/").unwrap_or(v);
    let v = match v.strip_prefix('"') {
        Some(rest) => rest.strip_suffix('"').ok_or(InvalidIfMatch)?,
        None => v,
    };
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(InvalidIfMatch);
    }
    v.parse::<u64>().map(Some).map_err(|_| InvalidIfMatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    #[test]
    fn etag_is_the_quoted_version() {
        assert_eq!(etag(7), "\"7\"");
        assert_eq!(parse_if_match(&etag(42)), Ok(Some(42)));
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(parse_if_match("\"3\""), Ok(Some(3)));
        assert_eq!(parse_if_match("3"), Ok(Some(3)));
        assert_eq!(parse_if_match("W/\"3\""), Ok(Some(3)));
        assert_eq!(parse_if_match("  \"12\" "), Ok(Some(12)));
        assert_eq!(parse_if_match("*"), Ok(None));
        for bad in ["", "\"\"", "\"3", "3\"", "abc", "\"-1\"", "\"1\", \"2\"", "W/3x", "99999999999999999999999"] {
            assert_eq!(parse_if_match(bad), Err(InvalidIfMatch), "{bad}");
        }
    }

    #[test]
    fn if_match_header() {
        let mut headers = HeaderMap::new();
        assert_eq!(if_match(&headers), Ok(None));
        headers.insert(IF_MATCH, HeaderValue::from_static("W/\"5\""));
        assert_eq!(if_match(&headers), Ok(Some(5)));
        headers.insert(IF_MATCH, HeaderValue::from_static("banana"));
        let err = if_match(&headers).unwrap_err();
        assert_eq!((err.status, err.field.as_deref()), (400, Some("If-Match")));
        headers.insert(IF_MATCH, HeaderValue::from_static("\"1\""));
        headers.append(IF_MATCH, HeaderValue::from_static("\"2\""));
        assert_eq!(if_match(&headers).unwrap_err().status, 400);
    }
}
