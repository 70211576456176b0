//! The per-company request limit ([`osflow_app::RequestLimit`]) of the API: each company (the `custom:tenant` of
//! the caller's token) may send `per_second` requests a second with bursts of `burst`; over it, the request is
//! answered 429 `/problems/too-many-requests` with `Retry-After`, before any store is read.
//!
//! The state is one GCRA cell per company (governor's keyed limiter over a sharded map): a check is one atomic
//! compare-and-swap, no lock is held across requests. It lives in the process: osflow-local limits each company
//! exactly; in AWS each warm function instance limits the companies it serves (API Gateway's route throttling
//! bounds the total).

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use osflow_app::RequestLimit;
use osflow_domain::values::TenantId;

/// The default rate of a company's requests, per second (osflow-local and each function instance).
pub const DEFAULT_TENANT_REQUESTS_PER_SECOND: u32 = 50;
/// The default burst of a company's requests.
pub const DEFAULT_TENANT_BURST: u32 = 100;

/// Each company limited to `per_second` requests a second, with bursts of `burst`.
pub struct TenantRateLimit {
    limiter: DefaultKeyedRateLimiter<TenantId>,
    clock: DefaultClock,
}

impl TenantRateLimit {
    pub fn new(per_second: NonZeroU32, burst: NonZeroU32) -> TenantRateLimit {
        let clock = DefaultClock::default();
        let quota = Quota::per_second(per_second).allow_burst(burst);
        TenantRateLimit { limiter: RateLimiter::dashmap_with_clock(quota, clock.clone()), clock }
    }
}

impl std::fmt::Debug for TenantRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRateLimit").finish_non_exhaustive()
    }
}

impl RequestLimit for TenantRateLimit {
    fn check(&self, tenant: &TenantId) -> Result<(), Duration> {
        self.limiter.check_key(tenant).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// `OSFLOW_TENANT_RPS`: a company's requests a second (default [`DEFAULT_TENANT_REQUESTS_PER_SECOND`]; `0`: no
/// limit).
pub const TENANT_RPS_ENV: &str = "OSFLOW_TENANT_RPS";
/// `OSFLOW_TENANT_BURST`: a company's burst (default [`DEFAULT_TENANT_BURST`]).
pub const TENANT_BURST_ENV: &str = "OSFLOW_TENANT_BURST";

impl TenantRateLimit {
    /// The limit from the settings `OSFLOW_TENANT_RPS` and `OSFLOW_TENANT_BURST` as read (blank: the default);
    /// `None` when the rate is `0` (no limit). A value that is not a whole number is an error naming it.
    pub fn from_settings(rps: Option<&str>, burst: Option<&str>) -> Result<Option<TenantRateLimit>, String> {
        let number = |name: &str, value: Option<&str>, default: u32| match value.map(str::trim) {
            None | Some("") => Ok(default),
            Some(v) => v.parse::<u32>().map_err(|_| format!("{name} must be a whole number, not {v:?}")),
        };
        let rps = number(TENANT_RPS_ENV, rps, DEFAULT_TENANT_REQUESTS_PER_SECOND)?;
        let burst = number(TENANT_BURST_ENV, burst, DEFAULT_TENANT_BURST.max(rps))?;
        match (NonZeroU32::new(rps), NonZeroU32::new(burst)) {
            (None, _) => Ok(None),
            (Some(rps), Some(burst)) => Ok(Some(TenantRateLimit::new(rps, burst))),
            (Some(_), None) => Err(format!("{TENANT_BURST_ENV} must be at least 1")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_default_switch_off_and_name_a_bad_value() {
        assert!(TenantRateLimit::from_settings(None, None).unwrap().is_some());
        assert!(TenantRateLimit::from_settings(Some(" "), Some("")).unwrap().is_some());
        assert!(TenantRateLimit::from_settings(Some("0"), None).unwrap().is_none());
        let err = TenantRateLimit::from_settings(Some("muitos"), None).unwrap_err();
        assert!(err.contains(TENANT_RPS_ENV), "{err}");
        let err = TenantRateLimit::from_settings(Some("5"), Some("0")).unwrap_err();
        assert!(err.contains(TENANT_BURST_ENV), "{err}");
    }
}
