//! The e-mail pace: a token bucket shared by the process keeps the sends below the SES quota (the queue mapping's
//! maximum concurrency bounds the processes), and a token bucket per company keeps one company's burst from
//! using everyone's quota. A company over its budget is refused with the wait: the message comes back later
//! (SQS visibility), instead of a blind retry into SES's throttling.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use osflow_domain::values::TenantId;
use tokio::time::Instant;

/// The longest a send waits for the shared pace before it is refused (and comes back later).
const MAX_WAIT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(burst: f64) -> Bucket {
        Bucket { tokens: burst, at: Instant::now() }
    }

    fn refill(&mut self, rate: f64, burst: f64) {
        let now = Instant::now();
        self.tokens = (self.tokens + (now - self.at).as_secs_f64() * rate).min(burst);
        self.at = now;
    }

    /// The wait until one token is there (zero when there is one).
    fn wait_for_one(&self, rate: f64) -> Duration {
        if self.tokens >= 1.0 { Duration::ZERO } else { Duration::from_secs_f64((1.0 - self.tokens) / rate) }
    }
}

/// See the module documentation.
#[derive(Debug)]
pub struct SendPace {
    rate: f64,
    burst: f64,
    company_rate: f64,
    company_burst: f64,
    shared: Mutex<Option<Bucket>>,
    companies: Mutex<HashMap<TenantId, Bucket>>,
}

impl SendPace {
    /// `per_second` e-mails a second in all (bursts of `burst`), and per company `company_per_second` (bursts of
    /// `company_burst`).
    pub fn new(per_second: f64, burst: f64, company_per_second: f64, company_burst: f64) -> SendPace {
        SendPace {
            rate: per_second.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
            company_rate: company_per_second.max(f64::MIN_POSITIVE),
            company_burst: company_burst.max(1.0),
            shared: Mutex::new(None),
            companies: Mutex::new(HashMap::new()),
        }
    }

    /// No pace (the mailbox folder of osflow-local, tests).
    pub fn unlimited() -> SendPace {
        SendPace::new(f64::MAX, f64::MAX, f64::MAX, f64::MAX)
    }

    /// The provider throttled a send: the shared pace starts from a second's debt, so the process's next sends
    /// wait (and, when the debt is over [`MAX_WAIT`], are refused and come back later).
    pub fn throttled(&self) {
        if self.rate == f64::MAX {
            return;
        }
        let mut shared = self.shared.lock().expect("pace state");
        let bucket = shared.get_or_insert_with(|| Bucket::full(self.burst));
        bucket.refill(self.rate, self.burst);
        bucket.tokens = bucket.tokens.min(0.0) - self.rate;
    }

    /// Takes one e-mail of `tenant`'s budget and waits for the shared pace. `Err(wait)`: the company's budget is
    /// used up (or the shared pace is too far behind) for that long; nothing was taken.
    pub async fn admit(&self, tenant: &TenantId) -> Result<(), Duration> {
        if self.rate == f64::MAX {
            return Ok(());
        }
        {
            let mut companies = self.companies.lock().expect("pace state");
            let bucket = companies.entry(tenant.clone()).or_insert_with(|| Bucket::full(self.company_burst));
            bucket.refill(self.company_rate, self.company_burst);
            let wait = bucket.wait_for_one(self.company_rate);
            if !wait.is_zero() {
                return Err(wait);
            }
            bucket.tokens -= 1.0;
        }
        // The shared bucket: a token is reserved now (it may go negative) and the send waits its turn.
        let wait = {
            let mut shared = self.shared.lock().expect("pace state");
            let bucket = shared.get_or_insert_with(|| Bucket::full(self.burst));
            bucket.refill(self.rate, self.burst);
            let wait = bucket.wait_for_one(self.rate);
            if wait > MAX_WAIT {
                return Err(wait);
            }
            bucket.tokens -= 1.0;
            wait
        };
        tokio::time::sleep(wait).await;
        Ok(())
    }
}
