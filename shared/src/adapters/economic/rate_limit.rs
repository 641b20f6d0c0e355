//! Client-side pacing of e-conomic calls per agreement, steered by
//! e-conomic's own rate-limit headers.
//!
//! e-conomic meters calls in tokens (LIVE): every answer carries
//! `X-RateLimiting: token-limit-10000-per-60-seconds: <used>/10000` and
//! `X-CallCost: <n>`, and an agreement whose bucket is empty gets 429.
//! Whether that 429 carries `Retry-After` is unconfirmed, and so is whether
//! the bucket is per agreement or per app; it is tracked per agreement key
//! here (a per-app bucket shows up as the same `used` on every agreement,
//! which the same arithmetic follows).
//!
//! **The header is the shared truth.** On Lambda, several execution
//! environments send calls for the same agreement and none sees the
//! others' calls, but every answer's `used` counts all of them. So each
//! process keeps a mirror of the agreement's bucket: every answer resets
//! it to the header's `used`; between answers it refills at
//! `limit / window` per second and rises by each call this process sends
//! (at the last `X-CallCost` seen).
//!
//! **Pacing.** While the mirror has more than [`LOW_WATER`] of the limit
//! left, calls go at once: a promotion spends that much of the bucket at
//! once. Below that, each call waits `cost / refill rate × low water / remaining`
//! after this process's previous one, `remaining` judged at the call's
//! turn (what will have refilled by then counts). One process alone then
//! spends just under the refill rate; `N` processes, each seeing the shared
//! `used`, settle where their combined spending equals the refill rate
//! (remaining = low water ÷ `N`), without knowing `N`. A call the mirror
//! says the bucket cannot pay waits until it can.
//!
//! **429.** `Retry-After`, when sent, is obeyed (see `retry`). Without it
//! the wait is the time the bucket needs to refill the call's cost, by the
//! 429's own header, plus jitter of up to that time and two more calls'
//! worth, so environments refused together do not return together.
//!
//! **No or unreadable headers** (another API version, a proxy): no
//! adaptive pacing, 429s are retried with the retry policy's exponential
//! backoff, as before. Nothing here panics on a header.
//!
//! A static rate per process (`set_rate`, from
//! `ECONOMIC_AGREEMENT_CALLS_PER_SECOND`) stays available as an optional
//! cap on top; it is off by default.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on agreements tracked; on overflow the table is cleared (a cleared
/// entry forgets one bucket reading and one pending slot).
const MAX_AGREEMENTS: usize = 10_000;

/// Below this share of the limit left, calls are spaced. N processes settle
/// at low water ÷ N left, which has to cover what each process cannot see
/// yet (the others' calls since its last answer); a higher mark also
/// slows the approach (combined spending falls towards the refill rate over
/// low water ÷ (N × refill)), which damps the overshoot from stale
/// readings. Its cost is the tokens held back at the end: low water ÷ N.
/// Five processes on a 120-token bucket (promotion day): at 10 % and 25 %
/// they drew 4–6 % 429s; at 50 %, 0–0.3 % in 1.05–1.14 × the floor.
pub const LOW_WATER: f64 = 0.5;

/// One `X-RateLimiting` reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketReading {
    pub limit: u32,
    pub window: Duration,
    pub used: u32,
}

impl BucketReading {
    fn refill_per_second(&self) -> f64 {
        f64::from(self.limit) / self.window.as_secs_f64()
    }
}

/// Parses `token-limit-<limit>-per-<n>-seconds: <used>/<limit>`. Should
/// e-conomic send several limits separated by commas, the one with the
/// least room left counts. `None` for anything else.
pub fn parse_rate_limiting(value: &str) -> Option<BucketReading> {
    value
        .split(',')
        .filter_map(parse_one_limit)
        .min_by_key(|r| r.limit.saturating_sub(r.used))
}

fn parse_one_limit(text: &str) -> Option<BucketReading> {
    let (name, count) = text.trim().split_once(':')?;
    let rest = name.trim().strip_prefix("token-limit-")?;
    let (limit, rest) = rest.split_once("-per-")?;
    let seconds = rest
        .strip_suffix("-seconds")
        .or_else(|| rest.strip_suffix("-second"))?;
    let (used, limit_again) = count.trim().split_once('/')?;
    let limit: u32 = limit.parse().ok()?;
    let seconds: u64 = seconds.parse().ok()?;
    let used: u32 = used.trim().parse().ok()?;
    if limit == 0 || seconds == 0 || limit_again.trim().parse::<u32>().ok()? != limit {
        return None;
    }
    Some(BucketReading {
        limit,
        window: Duration::from_secs(seconds),
        used: used.min(limit),
    })
}

/// Parses `X-CallCost`: a whole number of tokens.
pub fn parse_call_cost(value: &str) -> Option<u32> {
    value.trim().parse().ok()
}

/// One agreement's mirror of e-conomic's bucket and its pending slots.
#[derive(Debug, Clone, Copy)]
struct Pace {
    /// The last header's shape; `None` until one was read.
    limit: f64,
    refill_per_second: f64,
    /// Tokens spent as of `at`, by the header and this process's calls since.
    used: f64,
    at: Instant,
    /// Tokens a call costs, by the last `X-CallCost` above 0.
    cost: f64,
    /// Earliest moment of this process's next call to the agreement.
    next_free: Instant,
    /// The static cap's next slot.
    static_next_free: Instant,
    /// Where the next message handed back for the budget is sent to, and
    /// the paced slot after the last call let through (see
    /// [`RateLimiter::deferral`]).
    deferred_until: Instant,
    admitted_next: Instant,
    read_header: bool,
}

impl Pace {
    fn new(now: Instant) -> Self {
        Pace {
            limit: 0.0,
            refill_per_second: 0.0,
            used: 0.0,
            at: now,
            cost: 1.0,
            next_free: now,
            static_next_free: now,
            deferred_until: now,
            admitted_next: now,
            read_header: false,
        }
    }

    /// Spent tokens at `now` (at least what was recorded for `at`, should
    /// `at` lie ahead).
    fn used_at(&self, now: Instant) -> f64 {
        let refilled =
            now.saturating_duration_since(self.at).as_secs_f64() * self.refill_per_second;
        (self.used - refilled).max(0.0)
    }

    /// Adaptive wait for a call at `now`, and the spending recorded.
    fn reserve(&mut self, now: Instant) -> Duration {
        if !self.read_header {
            return Duration::ZERO;
        }
        let low_water = (self.limit * LOW_WATER).max(self.cost);
        if self.limit - self.used_at(now) >= low_water {
            self.used = self.used_at(now) + self.cost;
            self.at = now;
            return Duration::ZERO;
        }
        // Judged at the call's slot, not now: calls queued behind others
        // go later, when more has refilled (judging them all by now's
        // level would space a batch of calls far wider than needed).
        let mut slot = now.max(self.next_free);
        let mut remaining = self.limit - self.used_at(slot);
        if remaining < self.cost {
            slot += Duration::from_secs_f64((self.cost - remaining) / self.refill_per_second);
            remaining = self.cost;
        }
        let interval = if remaining >= low_water {
            0.0
        } else {
            self.cost / self.refill_per_second * low_water / remaining
        };
        self.next_free = slot + Duration::from_secs_f64(interval);
        self.used = self.used_at(slot) + self.cost;
        // `at` may lie ahead: until then the mirror holds this call's
        // tokens as spent (an answer sets it to the header again).
        self.at = slot;
        slot - now
    }

    /// How long a call at `now` would wait, without reserving it: what
    /// [`Pace::reserve`] would answer.
    #[cfg(test)]
    fn wait_at(&self, now: Instant) -> Duration {
        let mut probe = *self;
        probe.reserve(now)
    }

    /// A call that would wait longer than `max_inline` is handed back: the
    /// delay after which to try it again. Successive hand-backs get
    /// successive slots, `environments` calls' refill apart: each of the
    /// environments calling the agreement hands back its own share of the
    /// backlog, so together they bring it back at the refill rate instead
    /// of `environments` times faster (and hand most of it back again). A
    /// call let through holds its paced slot (`admitted_next`), so the
    /// orders of one batch, checked together before any of them calls, are
    /// not all let through to queue up behind each other here.
    fn deferral(
        &mut self,
        now: Instant,
        max_inline: Duration,
        environments: u32,
    ) -> Option<Duration> {
        let mut probe = *self;
        let paced = probe.reserve(now);
        let slot = (now + paced).max(self.admitted_next);
        let wait = slot - now;
        if wait <= max_inline {
            let interval = probe.next_free.saturating_duration_since(now + paced);
            self.admitted_next = slot + interval;
            return None;
        }
        let handed_back = self.deferred_until.max(slot);
        self.deferred_until = handed_back
            + Duration::from_secs_f64(
                f64::from(environments.max(1)) * self.cost / self.refill_per_second,
            );
        Some(handed_back - now)
    }

    fn observe(&mut self, reading: Option<BucketReading>, cost: Option<u32>, now: Instant) {
        if let Some(cost) = cost.filter(|c| *c > 0) {
            self.cost = f64::from(cost);
        }
        if let Some(reading) = reading {
            self.limit = f64::from(reading.limit);
            self.refill_per_second = reading.refill_per_second();
            self.used = f64::from(reading.used);
            self.at = now;
            self.read_header = true;
            // A call dearer than the whole bucket would never be paced
            // into a slot; treat it as costing the bucket.
            self.cost = self.cost.min(self.limit);
        }
    }

    /// How long until the bucket can pay one call, plus jitter (`unit`
    /// uniform in [0, 1)); `None` without a reading.
    fn backoff_after_429(&self, now: Instant, unit: f64) -> Option<Duration> {
        if !self.read_header {
            return None;
        }
        let short = (self.used_at(now) + self.cost - self.limit).max(0.0);
        let refill = short / self.refill_per_second;
        let spread = refill + 2.0 * self.cost / self.refill_per_second;
        Some(Duration::from_secs_f64(
            refill + unit.clamp(0.0, 1.0) * spread,
        ))
    }
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    /// Nanoseconds between two calls of one agreement in this process
    /// (the optional static cap); 0 = no cap.
    interval_nanos: AtomicU64,
    /// Execution environments that may call one agreement at once (the
    /// event source's maximum concurrency); 0 is taken as 1.
    environments: AtomicU32,
    paces: Mutex<HashMap<String, Pace>>,
}

impl RateLimiter {
    /// Caps calls per second per agreement in this process; 0 removes the
    /// cap (the header-driven pacing stays on either way).
    pub fn set_rate(&self, calls_per_second: u32) {
        let interval = if calls_per_second == 0 {
            0
        } else {
            1_000_000_000 / u64::from(calls_per_second)
        };
        self.interval_nanos.store(interval, Ordering::Relaxed);
    }

    /// How many execution environments may call an agreement at once:
    /// each spaces its hand-backs that many refills apart (see
    /// [`RateLimiter::deferral`]).
    pub fn set_environments(&self, environments: u32) {
        self.environments.store(environments, Ordering::Relaxed);
    }

    pub fn interval(&self) -> Option<Duration> {
        match self.interval_nanos.load(Ordering::Relaxed) {
            0 => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    fn with_pace<R>(&self, agreement_key: &str, now: Instant, f: impl FnOnce(&mut Pace) -> R) -> R {
        let mut paces = self
            .paces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paces.len() >= MAX_AGREEMENTS && !paces.contains_key(agreement_key) {
            paces.clear();
        }
        let pace = paces
            .entry(agreement_key.to_owned())
            .or_insert_with(|| Pace::new(now));
        f(pace)
    }

    /// Reserves the agreement's next call at or after `now` and records its
    /// cost; returns how long to wait before sending it.
    pub fn reserve(&self, agreement_key: &str, now: Instant) -> Duration {
        let cap = self.interval();
        self.with_pace(agreement_key, now, |pace| {
            let adaptive = pace.reserve(now);
            let Some(interval) = cap else {
                return adaptive;
            };
            let slot = (now + adaptive).max(pace.static_next_free);
            pace.static_next_free = slot + interval;
            slot - now
        })
    }

    /// Whether a call for the agreement at `now` should be handed back
    /// rather than wait here: `Some(delay)` when the bucket, as its headers
    /// describe it, would keep the call waiting longer than `max_inline`
    /// (pacing in place would hold a Lambda slot that other agreements'
    /// orders need). Without a header reading, `None`.
    pub fn deferral(
        &self,
        agreement_key: &str,
        now: Instant,
        max_inline: Duration,
    ) -> Option<Duration> {
        let environments = self.environments.load(Ordering::Relaxed);
        self.with_pace(agreement_key, now, |pace| {
            pace.deferral(now, max_inline, environments)
        })
    }

    /// Takes in an answer's `X-RateLimiting` and `X-CallCost` (raw header
    /// values; absent or unreadable ones change nothing).
    pub fn observe(
        &self,
        agreement_key: &str,
        rate_limiting: Option<&str>,
        call_cost: Option<&str>,
        now: Instant,
    ) {
        let reading = rate_limiting.and_then(parse_rate_limiting);
        let cost = call_cost.and_then(parse_call_cost);
        if reading.is_none() && cost.is_none() {
            return;
        }
        self.with_pace(agreement_key, now, |pace| pace.observe(reading, cost, now));
    }

    /// The wait after a 429 without `Retry-After`: until the bucket, as the
    /// headers describe it, can pay one call, with jitter. `None` when no
    /// header was ever read (the retry policy's backoff then applies).
    pub fn backoff_after_429(&self, agreement_key: &str, now: Instant) -> Option<Duration> {
        let unit = (rand::random::<u64>() >> 11) as f64 / (1u64 << 53) as f64;
        self.with_pace(agreement_key, now, |pace| pace.backoff_after_429(now, unit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(limit: u32, seconds: u32, used: u32) -> String {
        format!("token-limit-{limit}-per-{seconds}-seconds: {used}/{limit}")
    }

    #[test]
    fn reads_economics_headers_and_refuses_anything_else() {
        assert_eq!(
            parse_rate_limiting("token-limit-10000-per-60-seconds: 37/10000"),
            Some(BucketReading {
                limit: 10_000,
                window: Duration::from_secs(60),
                used: 37
            })
        );
        // Several limits: the one with the least room left.
        assert_eq!(
            parse_rate_limiting(
                "token-limit-10000-per-60-seconds: 37/10000, token-limit-100-per-1-second: 99/100"
            )
            .map(|r| r.limit),
            Some(100)
        );
        for bad in [
            "",
            "token-limit-10000-per-60-seconds",
            "token-limit-10000-per-60-minutes: 1/10000",
            "token-limit-0-per-60-seconds: 0/0",
            "token-limit-10000-per-0-seconds: 1/10000",
            "token-limit-10000-per-60-seconds: 1/9999",
            "token-limit-10000-per-60-seconds: -1/10000",
            "token-limit-x-per-60-seconds: 1/x",
            "token-limit-99999999999-per-60-seconds: 1/99999999999",
            "10000 per minute",
        ] {
            assert_eq!(parse_rate_limiting(bad), None, "{bad:?}");
        }
        // More used than the limit reads as full.
        assert_eq!(
            parse_rate_limiting("token-limit-10-per-60-seconds: 12/10").map(|r| r.used),
            Some(10)
        );
        assert_eq!(parse_call_cost(" 3 "), Some(3));
        assert_eq!(parse_call_cost("three"), None);
        assert_eq!(parse_call_cost("-1"), None);
    }

    #[test]
    fn without_headers_nothing_waits() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(limiter.reserve("a", now), Duration::ZERO);
        }
        // Unreadable headers change nothing.
        limiter.observe("a", Some("garbage"), Some("x"), now);
        assert_eq!(limiter.reserve("a", now), Duration::ZERO);
        assert_eq!(limiter.backoff_after_429("a", now), None);
    }

    #[test]
    fn a_bucket_with_room_is_spent_at_once() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        // 100 tokens per 10 s (10/s), 25 used: 75 left, low water is 50.
        limiter.observe("a", Some(&header(100, 10, 25)), Some("1"), now);
        for _ in 0..25 {
            assert_eq!(limiter.reserve("a", now), Duration::ZERO);
        }
        // The 26th call sees 50 left: still at the low water mark.
        assert_eq!(limiter.reserve("a", now), Duration::ZERO);
        // From 49 left on, calls are spaced: 1/10 s × 50/49; the next one
        // is judged at its slot, when 1.02 tokens more are back (49.02
        // left): + 1/10 s × 50/49.02.
        assert_eq!(limiter.reserve("a", now), Duration::ZERO);
        let second = limiter.reserve("a", now).as_micros();
        assert!(second.abs_diff(102_041) <= 1, "{second}");
        let third = limiter.reserve("a", now).as_micros();
        assert!(third.abs_diff(204_039) <= 2, "{third}");
        // Another agreement has its own bucket.
        assert_eq!(limiter.reserve("b", now), Duration::ZERO);
    }

    #[test]
    fn an_empty_bucket_waits_for_the_refill_of_one_call() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        // 60 tokens per 60 s: 1/s. Writes cost 3.
        limiter.observe("a", Some(&header(60, 60, 59)), Some("3"), now);
        // 1 left: the 3-token call waits 2 s for the refill.
        assert_eq!(limiter.reserve("a", now), Duration::from_secs(2));
        // The next one waits for that call's slot and spacing: 2 s + 3 s ×
        // 30/3; by then 30 tokens (low water) are back, so no more.
        assert_eq!(limiter.reserve("a", now), Duration::from_secs(32));
    }

    #[test]
    fn the_header_resets_the_mirror_and_refill_is_counted() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        // 100 per 10 s, full: one token takes 0.1 s.
        limiter.observe("a", Some(&header(100, 10, 100)), None, now);
        assert_eq!(limiter.reserve("a", now), Duration::from_millis(100));
        // That call's slot spaces the next one by 0.1 s × 50/1 = 5 s; 6 s
        // later 59 tokens are back, above low water: no wait.
        let later = now + Duration::from_secs(6);
        assert_eq!(limiter.reserve("a", later), Duration::ZERO);
        // Other environments' calls show up in the next header: full
        // again, so this process waits again.
        limiter.observe("a", Some(&header(100, 10, 100)), None, later);
        assert_eq!(limiter.reserve("a", later), Duration::from_millis(100));
    }

    /// N processes that each see the shared header drain a backlog with
    /// the promotion-day targets met: 429s under 1 % of calls and drain
    /// within 1.15 × the bucket's floor, whatever N is. Simulated on a
    /// virtual clock: each process sends when its slot comes, the bucket
    /// charges, and the answer's header goes back to that process only.
    /// The backlog is 3,000 one-token calls on 600 tokens per 60 s: floor
    /// (3,000 − 600) / 10 per s = 240 s. N processes end holding about
    /// low water ÷ N, unspent: 30 s late for one process, 6 s for five.
    #[test]
    fn processes_sharing_a_bucket_drain_near_the_floor_without_429s() {
        let (limit, window, backlog) = (600u32, 60u32, 3_000u32);
        let refill = f64::from(limit) / f64::from(window);
        let floor = f64::from(backlog - limit) / refill;
        for processes in [1usize, 3, 5, 8] {
            let start = Instant::now();
            let limiters: Vec<RateLimiter> =
                (0..processes).map(|_| RateLimiter::default()).collect();
            let mut bucket_used = 0.0f64;
            let mut bucket_at = start;
            let mut next_send: Vec<Instant> = vec![start; processes];
            let (mut sent, mut refused) = (0u32, 0u32);
            let mut last_paid = start;
            while sent < backlog {
                let (p, &at) = next_send
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, t)| **t)
                    .expect("processes");
                // The bucket at `at`.
                bucket_used =
                    (bucket_used - at.duration_since(bucket_at).as_secs_f64() * refill).max(0.0);
                bucket_at = at;
                let paid = bucket_used + 1.0 <= f64::from(limit);
                if paid {
                    bucket_used += 1.0;
                    sent += 1;
                    last_paid = at;
                } else {
                    refused += 1;
                }
                let shown = header(limit, window, bucket_used.ceil() as u32);
                let answered = at + Duration::from_millis(50);
                limiters[p].observe(
                    "a",
                    Some(&shown),
                    Some(if paid { "1" } else { "0" }),
                    answered,
                );
                let wait = if paid {
                    Duration::ZERO
                } else {
                    limiters[p]
                        .with_pace("a", answered, |pace| pace.backoff_after_429(answered, 0.5))
                        .expect("reading")
                };
                let ready = answered + wait;
                next_send[p] = ready + limiters[p].reserve("a", ready);
            }
            let drain = last_paid.duration_since(start).as_secs_f64();
            let refused_share = f64::from(refused) / f64::from(sent + refused);
            eprintln!(
                "{processes} processes: drain {drain:.1} s = {:.3} × floor, {refused} × 429 ({:.2} %)",
                drain / floor,
                100.0 * refused_share
            );
            // Nothing beats the bucket: a drain under the floor would mean
            // the simulated bucket paid calls it had no tokens for.
            assert!(drain >= floor, "{processes}: {drain} s");
            assert!(
                drain <= 1.15 * floor,
                "{processes} processes drained in {drain} s, floor {floor} s"
            );
            assert!(
                refused_share < 0.01,
                "{processes} processes: {refused} refused of {}",
                sent + refused
            );
        }
    }

    #[test]
    fn a_429_waits_for_the_refill_of_its_cost_with_jitter() {
        let now = Instant::now();
        let mut pace = Pace::new(now);
        // 10/s, full, a call costs 2: 0.2 s to refill, then jitter of up
        // to 0.2 s + two calls' 0.4 s.
        pace.observe(parse_rate_limiting(&header(100, 10, 100)), Some(2), now);
        assert_eq!(
            pace.backoff_after_429(now, 0.0),
            Some(Duration::from_millis(200))
        );
        let most = pace.backoff_after_429(now, 0.999_999).expect("reading");
        assert!(most <= Duration::from_millis(800) && most > Duration::from_millis(799));
        // Half a second later the tokens are back: only jitter is left.
        let later = now + Duration::from_millis(500);
        assert_eq!(pace.backoff_after_429(later, 0.0), Some(Duration::ZERO));
    }

    #[test]
    fn a_call_the_bucket_keeps_waiting_is_handed_back_in_refill_spaced_slots() {
        let limiter = RateLimiter::default();
        let now = Instant::now();
        let inline = Duration::from_secs(2);
        // No reading yet: nothing to judge by.
        assert_eq!(limiter.deferral("a", now, inline), None);
        // 60 per 60 s (1/s), 30 used: above low water, calls go at once.
        limiter.observe("a", Some(&header(60, 60, 30)), Some("1"), now);
        assert_eq!(limiter.deferral("a", now, inline), None);
        // Empty: the next call waits 1 s for its token, short enough to
        // pace in place. It holds its slot: the call after it would wait
        // 1 s + 1 s × 30/1, so three more are handed back, in slots one
        // refill (1 s) apart.
        limiter.observe("a", Some(&header(60, 60, 60)), Some("1"), now);
        assert_eq!(limiter.deferral("a", now, inline), None);
        let delays: Vec<u64> = (0..3)
            .map(|_| {
                limiter
                    .deferral("a", now, inline)
                    .expect("handed back")
                    .as_secs()
            })
            .collect();
        assert_eq!(delays, vec![31, 32, 33]);
        // The let-through call then paces as before.
        assert_eq!(limiter.reserve("a", now), Duration::from_secs(1));
        // The hand-backs spent nothing: the pacer's own queue is unchanged.
        let probe = limiter.with_pace("a", now, |pace| pace.wait_at(now));
        assert_eq!(probe, Duration::from_secs(31));
        // Another agreement is not affected.
        assert_eq!(limiter.deferral("b", now, inline), None);
    }

    #[test]
    fn environments_sharing_an_agreement_space_their_hand_backs_by_their_number() {
        let now = Instant::now();
        let inline = Duration::from_secs(2);
        // Five environments, each with its own mirror of the same empty
        // bucket (60 per 60 s, 1/s), each handing back three calls.
        let limiters: Vec<RateLimiter> = (0..5)
            .map(|_| {
                let limiter = RateLimiter::default();
                limiter.set_environments(5);
                limiter.observe("a", Some(&header(60, 60, 60)), Some("1"), now);
                assert_eq!(limiter.deferral("a", now, inline), None);
                limiter
            })
            .collect();
        let mut returns: Vec<u64> = limiters
            .iter()
            .flat_map(|limiter| {
                (0..3).map(|_| {
                    limiter
                        .deferral("a", now, inline)
                        .expect("handed back")
                        .as_secs()
                })
            })
            .collect();
        // Each environment's slots are five refills apart ...
        assert_eq!(returns[..3], [31, 36, 41]);
        // ... so the fifteen come back over 15 s, at the refill rate
        // (one environment alone spacing by one refill: within 3 s).
        returns.sort_unstable();
        let span = returns[returns.len() - 1] - returns[0] + 5;
        assert_eq!((returns.len(), span), (15, 15));
        // 0 (unset) is one environment.
        let alone = RateLimiter::default();
        alone.set_environments(0);
        alone.observe("a", Some(&header(60, 60, 60)), Some("1"), now);
        assert_eq!(alone.deferral("a", now, inline), None);
        let delays: Vec<u64> = (0..2)
            .map(|_| {
                alone
                    .deferral("a", now, inline)
                    .expect("handed back")
                    .as_secs()
            })
            .collect();
        assert_eq!(delays, vec![31, 32]);
    }

    #[test]
    fn the_static_cap_spaces_calls_on_top() {
        let limiter = RateLimiter::default();
        limiter.set_rate(10);
        let now = Instant::now();
        let waits: Vec<u128> = (0..4)
            .map(|_| limiter.reserve("a", now).as_millis())
            .collect();
        assert_eq!(waits, vec![0, 100, 200, 300]);
        assert_eq!(limiter.reserve("b", now), Duration::ZERO);
        // Idle time is not banked.
        let later = now + Duration::from_secs(5);
        assert_eq!(limiter.reserve("a", later), Duration::ZERO);
        assert_eq!(limiter.reserve("a", later), Duration::from_millis(100));
        limiter.set_rate(0);
        assert_eq!(limiter.reserve("a", later), Duration::ZERO);
    }
}
