//! The webhook channel: a JSON POST signed with the company's secret.
//!
//! Headers: `X-Osflow-Timestamp: <unix seconds>` and `X-Osflow-Signature: v1=<hex HMAC-SHA256(secret,
//! timestamp + "." + body)>`. The receiver recomputes the signature over the raw body and refuses old timestamps.
//!
//! The URL is the company's: it must never make the platform reach what the company cannot (SSRF). It is parsed
//! once, `https://` only in AWS, without credentials; redirects are not followed; and every address a name
//! resolves to is checked when connecting, so internal addresses are refused even when DNS changes after the
//! settings were saved. A failure is recorded in generic words.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit, Mac};
use osflow_app::{SendError, WebhookCall, WebhookSender};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use sha2::Sha256;
use url::{Host, Url};

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

/// Where the webhook may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookTargets {
    /// Production: `https://` to public addresses only.
    Public,
    /// Public addresses, `http://` allowed too (to test the address check on its own).
    PublicAnyScheme,
    /// osflow-local: `http://` too, and this machine's loopback addresses (a local integration, a test receiver).
    Local,
}

impl WebhookTargets {
    fn allows_http(self) -> bool {
        self != WebhookTargets::Public
    }

    fn allows_loopback(self) -> bool {
        self == WebhookTargets::Local
    }
}

/// Whether the webhook may connect to `ip`: never to an unspecified, private, shared (CGNAT), link-local,
/// unique-local, multicast, broadcast or documentation address, nor to loopback unless `loopback` (an IPv4
/// address mapped in IPv6 is judged as the IPv4 one).
pub fn public_address(ip: IpAddr, loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            if v4.is_loopback() {
                return loopback;
            }
            !(v4.is_unspecified()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return public_address(IpAddr::V4(v4), loopback);
            }
            if v6.is_loopback() {
                return loopback;
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                || first == 0x0064 && v6.segments()[1] == 0xff9b)
        }
    }
}

/// A resolver that keeps only the addresses [`public_address`] allows, at connect time: a name that resolves to
/// an internal address (now, or after it was checked: DNS rebinding) is refused.
#[derive(Debug, Clone, Copy)]
struct CheckedResolver {
    loopback: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let loopback = self.loopback;
        Box::pin(async move {
            let found = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| public_address(a.ip(), loopback)).collect();
            if allowed.is_empty() {
                return Err(format!("{} has no address a webhook may reach", name.as_str()).into());
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// reqwest over rustls (ring): no redirects, the address checked at connect time ([`WebhookTargets`]).
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    targets: WebhookTargets,
}

impl HttpWebhookSender {
    /// The production sender ([`WebhookTargets::Public`]).
    pub fn new(timeout: Duration) -> Result<HttpWebhookSender, reqwest::Error> {
        HttpWebhookSender::with_targets(timeout, WebhookTargets::Public)
    }

    pub fn with_targets(timeout: Duration, targets: WebhookTargets) -> Result<HttpWebhookSender, reqwest::Error> {
        // The process-wide rustls provider: ring (an error only means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver { loopback: targets.allows_loopback() }))
            .build()?;
        Ok(HttpWebhookSender { client, targets })
    }

    /// The URL, parsed once (this same value is what is requested): its scheme, and an address literal's
    /// address (names are checked by the resolver when connecting).
    fn target(&self, url: &str) -> Result<Url, SendError> {
        let refused = |why: &str| {
            tracing::warn!(reason = why, "webhook URL refused");
            SendError::Permanent(REFUSED.into())
        };
        let url = Url::parse(url).map_err(|_| refused("not a URL"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.targets.allows_http() => {}
            _ => return Err(refused("scheme")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused("credentials in the URL"));
        }
        match url.host() {
            Some(Host::Domain(_)) => {}
            Some(Host::Ipv4(ip)) if public_address(IpAddr::V4(ip), self.targets.allows_loopback()) => {}
            Some(Host::Ipv6(ip)) if public_address(IpAddr::V6(ip), self.targets.allows_loopback()) => {}
            _ => return Err(refused("address")),
        }
        Ok(url)
    }
}

/// What is recorded when the endpoint refuses, or cannot be reached: never its status or the network error
/// (shown back to the company, those would make the webhook a probe of what the platform can reach). The
/// details go to the logs.
const REFUSED: &str = "webhook: the endpoint did not accept the notification";
const UNAVAILABLE: &str = "webhook: the endpoint is unavailable; retried";

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    async fn post(&self, call: &WebhookCall) -> Result<(), SendError> {
        let url = self.target(&call.url)?;
        let ts = chrono::Utc::now().timestamp();
        let response = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, signature(&call.secret, ts, &call.body))
            .body(call.body.clone())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            // The resolver refused every address: nothing to retry.
            Err(e) if e.is_connect() && is_refused_address(&e) => {
                tracing::warn!(error = %e, "webhook address refused");
                return Err(SendError::Permanent(REFUSED.into()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "webhook call failed");
                return Err(SendError::Transient(UNAVAILABLE.into()));
            }
        };
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else if status.is_server_error() || status.as_u16() == 408 || status.as_u16() == 429 {
            tracing::warn!(%status, "webhook answered");
            Err(SendError::Transient(UNAVAILABLE.into()))
        } else {
            // 3xx (redirects are not followed) and 4xx.
            tracing::warn!(%status, "webhook answered");
            Err(SendError::Permanent(REFUSED.into()))
        }
    }
}

/// Whether the error chain holds the resolver's refusal.
fn is_refused_address(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("has no address a webhook may reach") {
            return true;
        }
        source = err.source();
    }
    false
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
