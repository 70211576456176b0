//! Packed attributes: a value's JSON, deflated, as one binary attribute. The order item and the idempotency
//! record keep their content this way: DynamoDB bills writes per started KB of the whole item (twice in a
//! transaction, and again in every index that projects it), and JSON text deflates to a third or less.

use std::io::{Read, Write};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use osflow_app::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::corrupt;

/// Bytes packed into one binary attribute (raw deflate), as items were written before the dictionaries: the tests
/// write such items to check that they still read.
#[cfg(test)]
pub(crate) fn pack_bytes(bytes: &[u8]) -> Result<AttributeValue, StoreError> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 3 + 16), Compression::best());
    encoder.write_all(bytes).map_err(|e| StoreError::Other(format!("cannot deflate: {e}")))?;
    let packed = encoder.finish().map_err(|e| StoreError::Other(format!("cannot deflate: {e}")))?;
    Ok(AttributeValue::B(Blob::new(packed)))
}

/// `value` as its JSON, packed (as [`pack_bytes`]).
#[cfg(test)]
pub(crate) fn pack<T: Serialize>(what: &str, value: &T) -> Result<AttributeValue, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| StoreError::Other(format!("cannot write {what}: {e}")))?;
    pack_bytes(&json)
}

/// The bytes of a packed attribute.
pub(crate) fn unpack_bytes(what: &str, value: &AttributeValue) -> Result<Vec<u8>, StoreError> {
    let AttributeValue::B(blob) = value else {
        return Err(StoreError::Corrupt(format!("{what}: the packed attribute is not binary")));
    };
    let mut out = Vec::with_capacity(blob.as_ref().len() * 4);
    DeflateDecoder::new(blob.as_ref()).read_to_end(&mut out).map_err(|e| corrupt(what, e))?;
    Ok(out)
}

/// `value`'s JSON deflated against a preset `dictionary` ([`crate::dictionary`]): the bytes after the dictionary's
/// own compressed part. The dictionary is compressed first and sync-flushed (the block ends on a byte boundary),
/// so what follows starts a new block whose matches may reach back into the dictionary; those bytes are kept.
pub(crate) fn pack_with<T: Serialize>(what: &str, dictionary: &str, value: &T) -> Result<AttributeValue, StoreError> {
    let json = serde_json::to_vec(value).map_err(|e| StoreError::Other(format!("cannot write {what}: {e}")))?;
    pack_bytes_with(dictionary, &json)
}

/// Bytes deflated against a preset dictionary (see [`pack_with`]).
pub(crate) fn pack_bytes_with(dictionary: &str, bytes: &[u8]) -> Result<AttributeValue, StoreError> {
    let fail = |e: std::io::Error| StoreError::Other(format!("cannot deflate: {e}"));
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 3 + 64), Compression::best());
    encoder.write_all(dictionary.as_bytes()).map_err(fail)?;
    // A sync flush: every byte of the dictionary is out, and the next block starts on a byte boundary.
    encoder.flush().map_err(fail)?;
    let mark = encoder.get_ref().len();
    encoder.write_all(bytes).map_err(fail)?;
    let mut packed = encoder.finish().map_err(fail)?;
    packed.drain(..mark);
    Ok(AttributeValue::B(Blob::new(packed)))
}

/// The bytes of an attribute packed against `dictionary`: the dictionary as stored (uncompressed) deflate blocks,
/// then the packed bytes, inflated; the dictionary's bytes are dropped from the front.
pub(crate) fn unpack_bytes_with(what: &str, dictionary: &str, value: &AttributeValue) -> Result<Vec<u8>, StoreError> {
    let AttributeValue::B(blob) = value else {
        return Err(StoreError::Corrupt(format!("{what}: the packed attribute is not binary")));
    };
    let dictionary = dictionary.as_bytes();
    let mut stream = Vec::with_capacity(dictionary.len() + dictionary.len() / 65_535 * 5 + 5 + blob.as_ref().len());
    for chunk in dictionary.chunks(usize::from(u16::MAX)) {
        // A stored block, not the last: header bits 000 (then padding to the byte), LEN and its complement.
        let len = u16::try_from(chunk.len()).expect("chunks of at most u16::MAX bytes");
        stream.push(0);
        stream.extend_from_slice(&len.to_le_bytes());
        stream.extend_from_slice(&(!len).to_le_bytes());
        stream.extend_from_slice(chunk);
    }
    stream.extend_from_slice(blob.as_ref());
    let mut out = Vec::with_capacity(stream.len() * 3);
    DeflateDecoder::new(stream.as_slice()).read_to_end(&mut out).map_err(|e| corrupt(what, e))?;
    if !out.starts_with(dictionary) {
        return Err(StoreError::Corrupt(format!("{what}: the packed attribute does not follow its dictionary")));
    }
    out.drain(..dictionary.len());
    Ok(out)
}

/// The value an attribute packed against `dictionary` holds.
pub(crate) fn unpack_with<T: DeserializeOwned>(
    what: &str,
    dictionary: &str,
    value: &AttributeValue,
) -> Result<T, StoreError> {
    serde_json::from_slice(&unpack_bytes_with(what, dictionary, value)?).map_err(|e| corrupt(what, e))
}

/// The value a packed attribute holds.
pub(crate) fn unpack<T: DeserializeOwned>(what: &str, value: &AttributeValue) -> Result<T, StoreError> {
    serde_json::from_slice(&unpack_bytes(what, value)?).map_err(|e| corrupt(what, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_value_reads_back_and_is_smaller() {
        let text = serde_json::json!({"notes": vec!["Placa limpa, fonte trocada"; 40], "total": "269.90"});
        let packed = pack("test", &text).unwrap();
        let AttributeValue::B(blob) = &packed else { panic!("binary") };
        assert!(blob.as_ref().len() * 3 < serde_json::to_vec(&text).unwrap().len());
        assert_eq!(unpack::<serde_json::Value>("test", &packed).unwrap(), text);
        assert!(matches!(
            unpack::<serde_json::Value>("test", &AttributeValue::S("x".into())),
            Err(StoreError::Corrupt(_))
        ));
        let damaged = AttributeValue::B(Blob::new(vec![0xff, 0x00, 0x13]));
        assert!(matches!(unpack::<serde_json::Value>("test", &damaged), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn a_value_packed_against_a_dictionary_reads_back_and_is_smaller_still() {
        let text =
            serde_json::json!({"notes": [{"text": "Placa limpa", "visible_to_customer": true}], "total": "269.90"});
        let dictionary = r#"{"notes":[{"text":"","visible_to_customer":true}],"total":"0.00"}"#;
        let with = pack_with("test", dictionary, &text).unwrap();
        let without = pack("test", &text).unwrap();
        let (AttributeValue::B(with_bytes), AttributeValue::B(without_bytes)) = (&with, &without) else {
            panic!("binary")
        };
        assert!(with_bytes.as_ref().len() < without_bytes.as_ref().len(), "{with:?} {without:?}");
        assert_eq!(unpack_with::<serde_json::Value>("test", dictionary, &with).unwrap(), text);
        // Another dictionary does not give the value back.
        let other = r#"{"checklist":[{"item":"","ok":false}],"due":"2026-01-01"}"#;
        assert_ne!(unpack_with::<serde_json::Value>("test", other, &with).ok(), Some(text.clone()));
        // Dictionaries longer than one stored block (64 KiB), and an empty value.
        let long = "x".repeat(70_000) + dictionary;
        let packed = pack_with("test", &long, &text).unwrap();
        assert_eq!(unpack_with::<serde_json::Value>("test", &long, &packed).unwrap(), text);
        assert_eq!(unpack_bytes_with("test", dictionary, &pack_bytes_with(dictionary, b"").unwrap()).unwrap(), b"");
        let damaged = AttributeValue::B(Blob::new(vec![0xff, 0x00, 0x13]));
        assert!(matches!(unpack_with::<serde_json::Value>("test", dictionary, &damaged), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn the_dictionaries_are_the_stored_ones() {
        // Items packed against a dictionary read only with the same bytes: a change needs a new attribute name.
        let crc = |text: &str| {
            let mut crc = flate2::Crc::new();
            crc.update(text.as_bytes());
            (text.len(), crc.sum())
        };
        assert_eq!(crc(crate::dictionary::ORDER), (1635, 375_007_046));
        assert_eq!(crc(crate::dictionary::RESPONSE), (2854, 1_445_657_124));
    }

    #[test]
    fn attributes_packed_by_an_earlier_build_still_read() {
        // `b1` attributes as this format's first build wrote them (the dictionary as stored blocks before the
        // packed bytes, matches reaching back into it). The checksums above pin the dictionaries' bytes; these pin
        // the framing: a change to how the bytes are packed that still round-trips would fail here, as the items
        // already in a table would.
        let stored = |bytes: &[u8]| AttributeValue::B(Blob::new(bytes.to_vec()));
        let order = stored(&[
            125, 212, 177, 9, 0, 32, 12, 4, 192, 85, 220, 194, 53, 92, 225, 177, 18, 34, 88, 216, 137, 187, 39, 129,
            144, 164, 74, 251, 213, 243, 240, 247, 252, 179, 61, 239, 37, 201, 213, 66, 65, 135, 161, 48, 8, 19, 141,
            214, 62, 168, 125, 248, 12,
        ]);
        let order_json =
            br#"{"number":7,"status":"aberta","notes":[{"text":"Placa limpa","visible_to_customer":true}]}"#;
        assert_eq!(unpack_bytes_with("order", crate::dictionary::ORDER, &order).unwrap(), order_json);
        let response = stored(&[
            101, 150, 177, 9, 0, 48, 8, 192, 126, 233, 1, 165, 116, 104, 113, 244, 20, 127, 112, 19, 127, 215, 69, 81,
            92, 51, 135, 16, 201, 227, 251, 53, 212, 78, 152, 230, 236, 98, 240, 230, 241, 125, 176, 225, 44, 53,
        ]);
        assert_eq!(
            unpack_bytes_with("response", crate::dictionary::RESPONSE, &response).unwrap(),
            br#"{"number":7,"status":"aberta","status_label":"Aberta","amount_due":"269.90"}"#
        );
        // The matches reach into the dictionary: under the other one, the order does not read back.
        assert_ne!(
            unpack_bytes_with("order", crate::dictionary::RESPONSE, &order).ok().as_deref(),
            Some(&order_json[..])
        );
    }
}
