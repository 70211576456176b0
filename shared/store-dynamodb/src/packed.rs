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

/// Bytes packed into one binary attribute (raw deflate).
pub(crate) fn pack_bytes(bytes: &[u8]) -> Result<AttributeValue, StoreError> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 3 + 16), Compression::best());
    encoder.write_all(bytes).map_err(|e| StoreError::Other(format!("cannot deflate: {e}")))?;
    let packed = encoder.finish().map_err(|e| StoreError::Other(format!("cannot deflate: {e}")))?;
    Ok(AttributeValue::B(Blob::new(packed)))
}

/// `value` as its JSON, packed.
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
}
