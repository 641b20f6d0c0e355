//! e-conomic's rate limit as observed LIVE: every answer carries
//! `X-RateLimiting: token-limit-10000-per-60-seconds: <used>/10000` and
//! `X-CallCost: <n>`; calls cost tokens and an empty bucket answers 429.
//!
//! Modelled as a token bucket per agreement (whether e-conomic's bucket is
//! per agreement or per app is unconfirmed; per agreement is what a
//! bridge serving many shops cares about) that refills continuously at
//! `limit / window` tokens per second. `used` is what the bucket holds
//! spent: it rises by each call's cost and drains back to 0 at the refill
//! rate. A call that would take `used` past `limit` is refused and costs
//! nothing (also unconfirmed; the cheaper reading for the caller).

use std::time::{Duration, Instant};

/// How big the bucket is and how fast it refills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketShape {
    pub limit: u32,
    pub window_seconds: u64,
}

impl BucketShape {
    /// Tokens regained per second.
    fn refill_per_second(&self) -> f64 {
        f64::from(self.limit) / self.window_seconds as f64
    }

    /// The `X-RateLimiting` value for `used` spent tokens.
    pub fn header(&self, used: u32) -> String {
        format!(
            "token-limit-{}-per-{}-seconds: {}/{}",
            self.limit, self.window_seconds, used, self.limit
        )
    }
}

/// What the bucket said to one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spend {
    /// Charged; `used` includes this call.
    Paid { used: u32 },
    /// Refused (429); `used` as it stands, and how long until the bucket
    /// could pay this call.
    Refused { used: u32, wait: Duration },
}

#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    /// Spent tokens at `at` (fractional: the refill is continuous).
    used: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket (nothing spent).
    pub fn full(now: Instant) -> Self {
        TokenBucket { used: 0.0, at: now }
    }

    fn used_at(&self, shape: BucketShape, now: Instant) -> f64 {
        let refilled =
            now.saturating_duration_since(self.at).as_secs_f64() * shape.refill_per_second();
        (self.used - refilled).max(0.0)
    }

    /// Charges `cost` tokens at `now`, or refuses when the bucket cannot
    /// pay them. `used` in the answer is rounded up: the header never shows
    /// more room than there is.
    pub fn spend(&mut self, shape: BucketShape, cost: u32, now: Instant) -> Spend {
        let used = self.used_at(shape, now);
        let shown = |used: f64| (used.ceil() as u32).min(shape.limit);
        if used + f64::from(cost) <= f64::from(shape.limit) {
            self.used = used + f64::from(cost);
            self.at = now;
            Spend::Paid {
                used: shown(self.used),
            }
        } else {
            self.used = used;
            self.at = now;
            let short = used + f64::from(cost) - f64::from(shape.limit);
            Spend::Refused {
                used: shown(used),
                wait: Duration::from_secs_f64(short / shape.refill_per_second()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: BucketShape = BucketShape {
        limit: 10,
        window_seconds: 5,
    };

    #[test]
    fn the_header_is_economics_format() {
        let shape = BucketShape {
            limit: 10_000,
            window_seconds: 60,
        };
        assert_eq!(
            shape.header(37),
            "token-limit-10000-per-60-seconds: 37/10000"
        );
    }

    #[test]
    fn spends_until_empty_then_refuses_without_charging() {
        let now = Instant::now();
        let mut bucket = TokenBucket::full(now);
        for n in 1..=5 {
            assert_eq!(bucket.spend(SHAPE, 2, now), Spend::Paid { used: 2 * n });
        }
        // 2 tokens per second come back: one token takes 0.5 s.
        assert_eq!(
            bucket.spend(SHAPE, 1, now),
            Spend::Refused {
                used: 10,
                wait: Duration::from_millis(500)
            }
        );
        // The refusal cost nothing: after 0.5 s one token is there.
        let later = now + Duration::from_millis(500);
        assert_eq!(bucket.spend(SHAPE, 1, later), Spend::Paid { used: 10 });
    }

    #[test]
    fn refills_continuously_and_never_below_zero() {
        let now = Instant::now();
        let mut bucket = TokenBucket::full(now);
        assert_eq!(bucket.spend(SHAPE, 10, now), Spend::Paid { used: 10 });
        // 1.25 s later 2.5 tokens are back; shown rounded up.
        let t1 = now + Duration::from_millis(1250);
        assert_eq!(bucket.spend(SHAPE, 1, t1), Spend::Paid { used: 9 });
        // Long idle: empty, not negative.
        let t2 = t1 + Duration::from_secs(3600);
        assert_eq!(bucket.spend(SHAPE, 1, t2), Spend::Paid { used: 1 });
    }

    #[test]
    fn a_call_dearer_than_the_bucket_is_always_refused() {
        let now = Instant::now();
        let mut bucket = TokenBucket::full(now);
        assert!(matches!(
            bucket.spend(SHAPE, 11, now),
            Spend::Refused { used: 0, .. }
        ));
    }
}
