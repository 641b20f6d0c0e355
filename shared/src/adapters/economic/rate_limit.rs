//! Client-side pacing of e-conomic calls per agreement.
//!
//! e-conomic answers 429 when an agreement sends too fast; a burst of
//! orders (promotion day) would otherwise spend calls on 429s and sleep on
//! `Retry-After`. With a rate set, each agreement's calls are spaced at
//! least `1 / rate` apart within this process: a call takes the next free
//! slot and waits for it. Off (no waiting) unless a rate is set.
//!
//! The limit is per process, i.e. per Lambda execution environment: with
//! `MaximumConcurrency` N transfer environments, set it to the agreement's
//! allowance ÷ N. 429 handling stays in place for whatever gets past it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on agreements tracked; on overflow the table is cleared (a cleared
/// entry only forgets one pending slot).
const MAX_AGREEMENTS: usize = 10_000;

#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Nanoseconds between two calls of one agreement; 0 = unlimited.
    interval_nanos: AtomicU64,
    next_free: Mutex<HashMap<String, Instant>>,
}

impl RateLimiter {
    /// Calls per second per agreement; 0 turns pacing off.
    pub fn set_rate(&self, calls_per_second: u32) {
        let interval = if calls_per_second == 0 {
            0
        } else {
            1_000_000_000 / u64::from(calls_per_second)
        };
        self.interval_nanos.store(interval, Ordering::Relaxed);
    }

    pub fn interval(&self) -> Option<Duration> {
        match self.interval_nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Reserves the agreement's next slot at or after `now`; returns how
    /// long to wait for it (zero when pacing is off or the slot is free).
    pub fn reserve(&self, agreement_key: &str, now: Instant) -> Duration {
        let Some(interval) = self.interval() else {
            return Duration::ZERO;
        };
        let mut slots = self
            .next_free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slots.len() >= MAX_AGREEMENTS && !slots.contains_key(agreement_key) {
            slots.clear();
        }
        let next = slots.entry(agreement_key.to_owned()).or_insert(now);
        let slot = (*next).max(now);
        *next = slot + interval;
        slot - now
    }

    /// Waits for the agreement's next slot.
    pub async fn acquire(&self, agreement_key: &str) {
        let wait = self.reserve(agreement_key, Instant::now());
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(limiter.reserve("a", now), Duration::ZERO);
        }
    }

    #[test]
    fn spaces_calls_of_one_agreement() {
        let limiter = RateLimiter::default();
        limiter.set_rate(10);
        let now = Instant::now();
        let waits: Vec<u128> = (0..4)
            .map(|_| limiter.reserve("a", now).as_millis())
            .collect();
        assert_eq!(waits, vec![0, 100, 200, 300]);
        // Another agreement has its own slots.
        assert_eq!(limiter.reserve("b", now), Duration::ZERO);
        // Idle time is not banked: after a pause the next call goes at once
        // and the one after waits a full interval.
        let later = now + Duration::from_secs(5);
        assert_eq!(limiter.reserve("a", later), Duration::ZERO);
        assert_eq!(limiter.reserve("a", later), Duration::from_millis(100));
    }

    #[test]
    fn rate_zero_turns_pacing_off_again() {
        let limiter = RateLimiter::default();
        limiter.set_rate(2);
        let now = Instant::now();
        let _ = limiter.reserve("a", now);
        assert_eq!(limiter.reserve("a", now), Duration::from_millis(500));
        limiter.set_rate(0);
        assert_eq!(limiter.reserve("a", now), Duration::ZERO);
    }
}
