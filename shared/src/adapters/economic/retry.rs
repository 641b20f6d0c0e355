//! Retry policy for transient e-conomic errors: exponential backoff with
//! full jitter, `Retry-After` honoured, never waiting past the caller's
//! deadline (a Lambda must finish before its timeout; the queue retries
//! later).

use std::time::{Duration, Instant};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First backoff ceiling; doubles per attempt.
    pub base_delay: Duration,
    /// Upper bound of one backoff ceiling.
    pub max_delay: Duration,
    /// Total attempts including the first.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            max_attempts: 5,
        }
    }
}

impl RetryPolicy {
    /// Backoff ceiling before attempt `attempt + 1` (attempt counts from 1).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32
            .checked_shl(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Wait before the next attempt: `Retry-After` when the server sent one,
    /// otherwise uniformly random in `[0, ceiling]` ("full jitter", so many
    /// throttled Lambdas do not retry in lock-step). `random` supplies a
    /// uniform u64 (injected for tests).
    pub fn wait(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        random: impl FnOnce() -> u64,
    ) -> Duration {
        if let Some(server_says) = retry_after {
            return server_says;
        }
        let ceiling_ms = self.ceiling(attempt).as_millis() as u64;
        Duration::from_millis(random() % (ceiling_ms + 1))
    }

    /// Whether to retry after failed attempt `attempt`, and how long to wait
    /// first. `None` when attempts are used up or the wait would cross the
    /// deadline.
    pub fn next_wait(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        now: Instant,
        deadline: Instant,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let wait = self.wait(attempt, retry_after, rand::random::<u64>);
        // Leave room for the request itself: waiting until the deadline and
        // then sending is pointless.
        let earliest_send = now.checked_add(wait)?;
        if earliest_send + Duration::from_millis(50) >= deadline {
            return None;
        }
        Some(wait)
    }
}

/// Parses a `Retry-After` value: delta seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    let delta = at - now;
    if delta.is_negative() {
        Some(Duration::ZERO)
    } else {
        Some(Duration::from_millis(delta.whole_milliseconds() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn ceiling_doubles_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_millis(200));
        assert_eq!(p.ceiling(2), Duration::from_millis(400));
        assert_eq!(p.ceiling(3), Duration::from_millis(800));
        assert_eq!(p.ceiling(10), Duration::from_secs(5));
        assert_eq!(p.ceiling(200), Duration::from_secs(5));
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling() {
        let p = RetryPolicy::default();
        for r in [0u64, 1, 199, 200, 201, u64::MAX] {
            assert!(p.wait(1, None, || r) <= Duration::from_millis(200));
        }
        assert_eq!(p.wait(1, None, || 0), Duration::ZERO);
        assert_eq!(
            p.wait(3, Some(Duration::from_secs(2)), || 0),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn no_retry_past_the_deadline_or_the_attempt_budget() {
        let p = RetryPolicy::default();
        let now = Instant::now();
        assert!(p
            .next_wait(
                1,
                Some(Duration::from_secs(3)),
                now,
                now + Duration::from_secs(2)
            )
            .is_none());
        assert_eq!(
            p.next_wait(
                1,
                Some(Duration::from_secs(1)),
                now,
                now + Duration::from_secs(2)
            ),
            Some(Duration::from_secs(1))
        );
        assert!(p
            .next_wait(5, None, now, now + Duration::from_secs(60))
            .is_none());
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        let now = datetime!(2015-10-21 07:28:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
