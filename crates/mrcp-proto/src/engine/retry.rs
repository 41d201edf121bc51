//! When to retry a cloud engine that refused for a passing reason (HTTP 429 or 503, a dropped connection
//! before any audio was accepted): capped exponential backoff with full jitter, honouring the vendor's
//! `Retry-After`. Sans-IO: the caller supplies the randomness and does the sleeping.

use std::time::Duration;

/// A retry schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt; 0 never retries.
    pub max_retries: u32,
    /// The ceiling of the first backoff.
    pub base: Duration,
    /// No single wait is longer than this, whatever the vendor asks (a RECOGNIZE cannot wait long).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Two retries, 200 ms then 400 ms ceilings, never more than 2 s: a caller on the phone hears at most a
    /// short pause.
    fn default() -> Self {
        Self {
            max_retries: 2,
            base: Duration::from_millis(200),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before retry number `retry` (1 for the first retry), or `None` when the retries are
    /// spent or the vendor asks for a longer wait than [`RetryPolicy::max_delay`]. `unit` is a uniform random
    /// number in `[0, 1)` from the caller; the wait is `unit × min(base × 2^(retry-1), max_delay)`, or the
    /// vendor's `Retry-After` when it gave one.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, unit: f64) -> Option<Duration> {
        if retry == 0 || retry > self.max_retries {
            return None;
        }
        if let Some(asked) = retry_after {
            return (asked <= self.max_delay).then_some(asked);
        }
        let ceiling = self
            .base
            .saturating_mul(1u32.checked_shl(retry - 1).unwrap_or(u32::MAX))
            .min(self.max_delay);
        Some(ceiling.mul_f64(unit.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_grow_and_stop_after_the_last_retry() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, None, 0.5), Some(Duration::from_millis(100)));
        assert_eq!(policy.delay(2, None, 0.5), Some(Duration::from_millis(200)));
        assert_eq!(policy.delay(3, None, 0.5), None);
        assert_eq!(policy.delay(0, None, 0.5), None);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(
            policy.delay(1, Some(Duration::from_secs(1)), 0.0),
            Some(Duration::from_secs(1))
        );
        assert_eq!(policy.delay(1, Some(Duration::from_secs(30)), 0.0), None);
    }

    #[test]
    fn huge_retry_counts_do_not_overflow() {
        let policy = RetryPolicy {
            max_retries: u32::MAX,
            ..RetryPolicy::default()
        };
        assert_eq!(policy.delay(200, None, 1.0), Some(policy.max_delay));
    }
}
