//! Opaque list cursors: base64url (no padding) of the JSON object of the last returned item's key attributes
//! (the table key and the index key), i.e. the `ExclusiveStartKey` of the next Query.
//!
//! A cursor is checked before use: exactly the expected attributes, all strings, on the partition of the list
//! being read (so a cursor of another tenant's or another status's list is refused, never followed).

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use osflow_app::StoreError;

use crate::items::{Item, s};

/// The key attributes of an index query's position: table PK, table SK, index PK, index SK.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CursorShape {
    pub names: [&'static str; 4],
    /// The index partition key attribute (one of `names`).
    pub partition: &'static str,
}

fn invalid(why: &str) -> StoreError {
    StoreError::Other(format!("invalid cursor: {why}"))
}

/// The cursor pointing after `item` (an index entry: the table key and the index key).
pub(crate) fn encode(shape: CursorShape, item: &Item) -> Result<String, StoreError> {
    let mut map = BTreeMap::new();
    for name in shape.names {
        match item.get(name) {
            Some(AttributeValue::S(value)) => {
                map.insert(name, value.as_str());
            }
            _ => return Err(StoreError::Corrupt(format!("listed item lacks the key attribute {name}"))),
        }
    }
    let json = serde_json::to_vec(&map).map_err(|e| StoreError::Other(format!("cursor: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The `ExclusiveStartKey` of `cursor`, which must lie in the index partition `partition_value`.
pub(crate) fn decode(shape: CursorShape, cursor: &str, partition_value: &str) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.as_bytes()).map_err(|_| invalid("not base64url"))?;
    let map: BTreeMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| invalid("not a key object"))?;
    if map.len() != shape.names.len() || !shape.names.iter().all(|n| map.contains_key(*n)) {
        return Err(invalid("unexpected key attributes"));
    }
    if map.get(shape.partition).map(String::as_str) != Some(partition_value) {
        return Err(invalid("it belongs to another list"));
    }
    if map.values().any(String::is_empty) {
        return Err(invalid("empty key attribute"));
    }
    Ok(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: CursorShape = CursorShape { names: ["PK", "SK", "GSI1PK", "GSI1SK"], partition: "GSI1PK" };

    fn item() -> Item {
        [("PK", "T#a#ORDER#1"), ("SK", "ORDER"), ("GSI1PK", "T#a#STATUS#aberta"), ("GSI1SK", "x#1"), ("other", "y")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), s(v)))
            .collect()
    }

    #[test]
    fn round_trips_only_the_key() {
        let cursor = encode(SHAPE, &item()).unwrap();
        assert!(cursor.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        let key = decode(SHAPE, &cursor, "T#a#STATUS#aberta").unwrap();
        assert_eq!(key.len(), 4);
        assert_eq!(key.get("GSI1SK"), Some(&s("x#1")));
    }

    #[test]
    fn refuses_foreign_or_malformed_cursors() {
        let cursor = encode(SHAPE, &item()).unwrap();
        assert!(decode(SHAPE, &cursor, "T#b#STATUS#aberta").is_err());
        for bad in ["not a cursor!", "AAAA", "%%%", "eyJ4IjoxfQ", ""] {
            assert!(decode(SHAPE, bad, "T#a#STATUS#aberta").is_err(), "{bad}");
        }
        let mut missing = item();
        missing.remove("SK");
        assert!(encode(SHAPE, &missing).is_err());
    }
}
