//! The links the notifier puts in its messages (`{link}`): [`PortalLinks`] implements the app's
//! [`CustomerLinks`] port with the portal key.

use chrono::{DateTime, Duration, Utc};
use osflow_app::CustomerLinks;
use osflow_domain::{Flow, Order};

use crate::token::{PortalKey, Purpose, default_ttl};

/// The environment variable with the links' lifetime in days (1 to 90; default 7).
pub const LINK_DAYS_ENV: &str = "OSFLOW_PORTAL_LINK_DAYS";

/// The links' lifetime from the value of [`LINK_DAYS_ENV`] (`None` or blank: the default 7 days).
pub fn ttl_from_days(value: Option<&str>) -> Result<Duration, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(default_ttl()),
        Some(v) => match v.parse::<i64>() {
            Ok(days @ 1..=90) => Ok(Duration::days(days)),
            _ => Err(format!("{LINK_DAYS_ENV}={v:?}: use a number of days from 1 to 90")),
        },
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(ttl_from_days(None), Ok(Duration::days(7)));
        assert_eq!(ttl_from_days(Some(" ")), Ok(Duration::days(7)));
        assert_eq!(ttl_from_days(Some("30")), Ok(Duration::days(30)));
        assert!(ttl_from_days(Some("0")).is_err());
        assert!(ttl_from_days(Some("91")).is_err());
        assert!(ttl_from_days(Some("sete")).is_err());
    }
}
