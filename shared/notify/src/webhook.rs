//! The webhook channel: a JSON POST signed with the company's secret.
//!
//! Headers: `X-Osflow-Timestamp: <unix seconds>` and `X-Osflow-Signature: v1=<hex HMAC-SHA256(secret,
//! timestamp + "." + body)>`. The receiver recomputes the signature over the raw body and refuses old timestamps.

use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use osflow_app::{SendError, WebhookCall, WebhookSender};
use sha2::Sha256;

pub const TIMESTAMP_HEADER: &str = "X-Osflow-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Osflow-Signature";

/// `v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature in constant time (for receivers and tests).
pub fn verify(secret: &str, timestamp: &str, body: &str, header: &str) -> bool {
    let Some(sig) = header.strip_prefix("v1=").and_then(|h| hex::decode(h).ok()) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// reqwest over rustls (ring).
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
}

impl HttpWebhookSender {
    pub fn new(timeout: Duration) -> Result<HttpWebhookSender, reqwest::Error> {
        // The process-wide rustls provider: ring (an error only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder().timeout(timeout).connect_timeout(timeout).build()?;
        Ok(HttpWebhookSender { client })
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn post(&self, call: &WebhookCall) -> Result<(), SendError> {
        let ts = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(&call.url)
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, signature(&call.secret, ts, &call.body))
            .body(call.body.clone())
            .send()
            .await
            .map_err(|e| SendError::Transient(format!("webhook: {e}")))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            Err(SendError::Transient(format!("webhook answered {status}")))
        } else {
            Err(SendError::Permanent(format!("webhook answered {status}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trip() {
        let s = signature("segredo", 1_700_000_000, r#"{"a":1}"#);
        assert!(s.starts_with("v1=") && s.len() == 3 + 64);
        assert!(verify("segredo", "1700000000", r#"{"a":1}"#, &s));
        assert!(!verify("outro", "1700000000", r#"{"a":1}"#, &s));
        assert!(!verify("segredo", "1700000001", r#"{"a":1}"#, &s));
    }
}
