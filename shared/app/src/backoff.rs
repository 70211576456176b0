//! The pause between the attempts of a write that lost a race or was throttled (the steps, the DynamoDB store's
//! transactions, counters and claims): one helper.

use std::time::Duration;

/// A random pause before attempt `attempt + 1` ("full jitter": uniform up to `base · 2^attempt`, at most `cap`),
/// so that writers that collided do not keep colliding.
pub async fn backoff(attempt: u32, base: Duration, cap: Duration) {
    tokio::time::sleep(jitter(attempt, base, cap)).await;
}

/// The pause [`backoff`] sleeps.
pub fn jitter(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.min(16)).min(cap);
    let ceiling_ns = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    // The random low bits of a UUIDv7 (no second source of randomness needed here).
    let random = uuid::Uuid::now_v7().as_u128() as u64;
    Duration::from_nanos(random % ceiling_ns.saturating_add(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_under_the_doubling_ceiling_and_the_cap() {
        let (base, cap) = (Duration::from_millis(2), Duration::from_millis(64));
        for attempt in 0..10 {
            let ceiling = (base * 2u32.pow(attempt)).min(cap);
            for _ in 0..200 {
                assert!(jitter(attempt, base, cap) <= ceiling, "attempt {attempt}");
            }
        }
        // Spread, not a constant: 200 draws under 64 ms are not all the same.
        let draws: std::collections::BTreeSet<Duration> = (0..200).map(|_| jitter(9, base, cap)).collect();
        assert!(draws.len() > 100, "{} distinct pauses", draws.len());
        assert_eq!(jitter(3, Duration::ZERO, cap), Duration::ZERO);
    }
}
