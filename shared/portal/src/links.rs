//! The links the notifier puts in its messages (`{link}`): [`PortalLinks`] implements the app's
//! [`CustomerLinks`] port with the portal key.

use chrono::{DateTime, Duration, Utc};
use osflow_app::CustomerLinks;
use osflow_domain::{Flow, Order};

use crate::token::{PortalKey, Purpose, default_ttl};

/// Mints page links under a base URL (`https://portal.example.com`, or osflow-local's own address).
#[derive(Debug, Clone)]
pub struct PortalLinks {
    base_url: String,
    key: PortalKey,
    ttl: Duration,
}

impl PortalLinks {
    /// Links valid for `ttl` (default 7 days: [`default_ttl`]).
    pub fn new(base_url: impl Into<String>, key: PortalKey, ttl: Option<Duration>) -> PortalLinks {
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        PortalLinks { base_url, key, ttl: ttl.unwrap_or_else(default_ttl) }
    }

    /// The URL of a token.
    pub fn url(&self, token: &str) -> String {
        format!("{}/p/{token}", self.base_url)
    }
}

impl CustomerLinks for PortalLinks {
    fn link(&self, order: &Order, flow: &Flow, now: DateTime<Utc>) -> String {
        let purpose = if crate::awaits_decision(order, flow) {
            Purpose::Decide { revision: order.current_revision().map_or(0, |r| r.revision) }
        } else {
            Purpose::View
        };
        self.url(&self.key.mint(&order.tenant, &order.id, purpose, now + self.ttl))
    }
}
