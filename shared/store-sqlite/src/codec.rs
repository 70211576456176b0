//! Conversions between domain values and columns: instants, cursors, JSON bodies, and SQLite errors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use osflow_app::{StoreError, StoreResult};
use osflow_domain::values::OrderId;
use rusqlite::ErrorCode;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An instant as Unix nanoseconds: the column value whose numeric order is the instants' order. Instants
/// outside 1677-09-21..2262-04-11 are refused.
pub(crate) fn nanos(at: DateTime<Utc>) -> StoreResult<i64> {
    at.timestamp_nanos_opt().ok_or_else(|| StoreError::Other(format!("instant {at} is outside the storable range")))
}

pub(crate) fn to_json<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Other(format!("cannot serialize: {e}")))
}

/// A stored JSON body; unreadable bodies are `Corrupt`, naming what was read.
pub(crate) fn from_json<T: DeserializeOwned>(body: &str, what: impl FnOnce() -> String) -> StoreResult<T> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("{}: {e}", what())))
}

/// Maps SQLite failures: busy/locked are transient (`Unavailable`), the rest is `Other`.
pub(crate) fn db_error(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Unavailable(e.to_string()),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

/// `?` for rusqlite results inside store code.
pub(crate) trait Db<T> {
    fn db(self) -> StoreResult<T>;
}

impl<T> Db<T> for rusqlite::Result<T> {
    fn db(self) -> StoreResult<T> {
        self.map_err(db_error)
    }
}

/// Which list a cursor belongs to (a cursor of one list is refused by the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListKind {
    ByStatus,
    ByCustomer,
    SlaDue,
}

impl ListKind {
    fn tag(self) -> &'static str {
        match self {
            ListKind::ByStatus => "s",
            ListKind::ByCustomer => "c",
            ListKind::SlaDue => "d",
        }
    }
}

/// The sort key of the last item of a page: (instant in nanoseconds, order id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Position {
    pub(crate) at: i64,
    pub(crate) id: String,
}

/// An opaque cursor: base64url (no padding) of `<tag>:<nanos>:<id>`.
pub(crate) fn encode_cursor(kind: ListKind, position: &Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{}:{}", kind.tag(), position.at, position.id))
}

pub(crate) fn decode_cursor(kind: ListKind, cursor: &str) -> StoreResult<Position> {
    let invalid = || StoreError::Other("invalid page cursor".to_owned());
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let mut parts = text.splitn(3, ':');
    let (Some(tag), Some(at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid());
    };
    if tag != kind.tag() {
        return Err(invalid());
    }
    let at: i64 = at.parse().map_err(|_| invalid())?;
    // Only the canonical form of an order id (the one stored) is a position.
    let id = OrderId::parse(id).ok().map(|i| i.to_string()).filter(|canonical| canonical == id).ok_or_else(invalid)?;
    Ok(Position { at, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_opaque() {
        let p = Position { at: -5, id: "01900000-0000-7000-8000-000000000001".into() };
        let c = encode_cursor(ListKind::ByStatus, &p);
        assert!(c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{c}");
        assert_eq!(decode_cursor(ListKind::ByStatus, &c).unwrap(), p);
        assert!(decode_cursor(ListKind::ByCustomer, &c).is_err(), "a cursor belongs to one list");
    }

    #[test]
    fn malformed_cursors_are_refused() {
        let bad = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for c in [
            "".to_owned(),
            "!!".to_owned(),
            bad("s:1"),
            bad("s:x:01900000-0000-7000-8000-000000000001"),
            bad("s:1:not-an-id"),
            bad("s:1:01900000-0000-7000-8000-00000000000A"),
            bad("q:1:01900000-0000-7000-8000-000000000001"),
        ] {
            assert!(decode_cursor(ListKind::ByStatus, &c).is_err(), "{c}");
        }
    }

    #[test]
    fn nanos_keep_order_and_precision() {
        let a = DateTime::from_timestamp(1_800_000_000, 123_456_789).unwrap();
        let b = DateTime::from_timestamp(1_800_000_000, 123_456_790).unwrap();
        assert!(nanos(a).unwrap() < nanos(b).unwrap());
        assert_eq!(DateTime::from_timestamp_nanos(nanos(a).unwrap()), a);
        assert!(nanos(DateTime::from_timestamp(1 << 40, 0).unwrap()).is_err());
    }
}
