//! The local e-mail channel: one RFC 5322 `.eml` file per message in a mailbox folder (osflow-local, tests).
//!
//! Headers are ASCII: the subject and display names are RFC 2047 encoded-words (`=?UTF-8?B?…?=`), the body is
//! UTF-8 text in base64 (lines of 76 characters), CRLF line ends.

use std::path::PathBuf;

use async_trait::async_trait;
use chrono::Utc;
use osflow_app::{EmailMessage, EmailSender, SendError};

/// Writes every message as `<mailbox>/<uuid>.eml` (written to a temporary name, then renamed).
#[derive(Debug, Clone)]
pub struct MailboxSender {
    dir: PathBuf,
}

impl MailboxSender {
    pub fn new(dir: impl Into<PathBuf>) -> MailboxSender {
        MailboxSender { dir: dir.into() }
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A header value: as is when printable ASCII, else encoded-words of at most 45 input bytes each (whole
/// characters), folded.
pub fn encode_header(value: &str) -> String {
    if value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return value.to_owned();
    }
    let mut words = Vec::new();
    let mut start = 0;
    let mut end = 0;
    for (i, c) in value.char_indices() {
        if i + c.len_utf8() - start > 45 {
            words.push(&value[start..end]);
            start = i;
        }
        end = i + c.len_utf8();
    }
    words.push(&value[start..end]);
    words.iter().map(|w| format!("=?UTF-8?B?{}?=", base64(w.as_bytes()))).collect::<Vec<_>>().join("\r\n ")
}

fn mailbox(name: &str, address: &str) -> String {
    if name.is_empty() { format!("<{address}>") } else { format!("{} <{address}>", encode_header(name)) }
}

/// Whether an address can go in a header as is (no line breaks or angle brackets smuggled in).
pub(crate) fn safe_address(a: &str) -> bool {
    !a.is_empty() && a.contains('@') && a.chars().all(|c| c.is_ascii_graphic() && c != '<' && c != '>')
}

/// The message as RFC 5322 bytes.
pub fn to_eml(m: &EmailMessage, message_id: &str) -> Result<String, SendError> {
    for a in [Some(&m.from_email), Some(&m.to), m.reply_to.as_ref()].into_iter().flatten() {
        if !safe_address(a) {
            return Err(SendError::Permanent(format!("invalid address {a:?}")));
        }
    }
    let mut eml = String::new();
    eml.push_str(&format!("From: {}\r\n", mailbox(&m.from_name, &m.from_email)));
    eml.push_str(&format!("To: <{}>\r\n", m.to));
    if let Some(r) = &m.reply_to {
        eml.push_str(&format!("Reply-To: <{r}>\r\n"));
    }
    eml.push_str(&format!("Subject: {}\r\n", encode_header(&m.subject)));
    eml.push_str(&format!("Date: {}\r\n", Utc::now().to_rfc2822()));
    eml.push_str(&format!("Message-ID: <{message_id}>\r\n"));
    eml.push_str("MIME-Version: 1.0\r\n");
    eml.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    eml.push_str("Content-Transfer-Encoding: base64\r\n\r\n");
    let body = m.body.replace("\r\n", "\n").replace('\n', "\r\n");
    let encoded = base64(body.as_bytes());
    for line in encoded.as_bytes().chunks(76) {
        eml.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        eml.push_str("\r\n");
    }
    Ok(eml)
}

#[async_trait]
impl EmailSender for MailboxSender {
    async fn send_email(&self, message: &EmailMessage) -> Result<String, SendError> {
        let id = uuid::Uuid::now_v7().to_string();
        let eml = to_eml(message, &format!("{id}@osflow.local"))?;
        let io = |e: std::io::Error| SendError::Transient(format!("mailbox {}: {e}", self.dir.display()));
        tokio::fs::create_dir_all(&self.dir).await.map_err(io)?;
        let tmp = self.dir.join(format!(".{id}.tmp"));
        tokio::fs::write(&tmp, eml).await.map_err(io)?;
        tokio::fs::rename(&tmp, self.dir.join(format!("{id}.eml"))).await.map_err(io)?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_encoded_words() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode_header("OS 7"), "OS 7");
        assert_eq!(encode_header("Orçamento"), format!("=?UTF-8?B?{}?=", base64("Orçamento".as_bytes())));
        let long = "ç".repeat(40);
        let folded = encode_header(&long);
        assert_eq!(folded.matches("=?UTF-8?B?").count(), 2);
        assert!(folded.lines().all(|l| l.len() <= 76));
    }

    #[test]
    fn header_injection_is_refused() {
        let m = EmailMessage {
            from_name: "Oficina".into(),
            from_email: "os@oficina.com.br".into(),
            reply_to: None,
            to: "a@b.com\r\nBcc: x@y.com".into(),
            subject: "x".into(),
            body: "y".into(),
        };
        assert!(matches!(to_eml(&m, "id"), Err(SendError::Permanent(_))));
    }
}
