//! The `…XmlGZipB64` payloads of the Sefin API: base64 of the gzip of the UTF-8 XML.

use std::io::{Read, Write};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

/// gzip + base64 (standard alphabet, with padding, no line breaks).
pub fn encode(xml: &str) -> String {
    let mut enc = GzEncoder::new(Vec::with_capacity(xml.len() / 3 + 64), Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(xml.as_bytes());
    let gz = enc.finish().unwrap_or_default();
    BASE64.encode(gz)
}

/// base64 + gunzip back to the XML text. At most 16 MiB once inflated.
pub fn decode(b64: &str) -> Result<String, String> {
    let clean: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let gz = BASE64.decode(clean).map_err(|e| format!("base64: {e}"))?;
    let mut out = String::new();
    GzDecoder::new(&gz[..]).take(16 << 20).read_to_string(&mut out).map_err(|e| format!("gzip: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let x = "<DPS xmlns=\"http://www.sped.fazenda.gov.br/nfse\">ação &amp; ç</DPS>";
        assert_eq!(super::decode(&super::encode(x)).unwrap(), x);
        assert!(super::decode("not base64!").is_err());
        assert!(super::decode("aGVsbG8=").is_err());
    }
}
