//! Fault injection settings and the `/_sandbox/...` control endpoints.
//!
//! | Method + path | Body / effect |
//! |---|---|
//! | `GET /_sandbox/faults`, `PUT /_sandbox/faults` | [`Faults`] as JSON (camelCase) |
//! | `POST /_sandbox/reset` | all agreements back to seeded data, log emptied |
//! | `GET /_sandbox/requests`, `DELETE /_sandbox/requests` | request log |
//! | `GET /_sandbox/state` | per agreement: drafts, booked invoices, debtors, counts |
//! | `PUT /_sandbox/vat-zones` | `{agreement?, vatZoneNumber, name, ratePercent}` |
//! | `PUT /_sandbox/products` | `{agreement?, productNumber, name, vatExempt}` |
//! | `PUT /_sandbox/settings` | `{agreement?, acceptUnknownProducts}` |
//!
//! `agreement` is the index of the agreement (default: all agreements); an
//! index the sandbox does not have answers 404, one that is not a
//! non-negative integer 400. `PUT /_sandbox/faults` refuses unknown fields
//! with 400.

use serde::{Deserialize, Serialize};

/// What to do to a request chosen to fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailMode {
    /// Close the connection without an answer.
    Drop,
    /// Answer 504 Gateway Timeout.
    GatewayTimeout,
    /// Answer 500.
    ServerError,
    /// Answer 429 with `Retry-After`.
    TooManyRequests,
    /// Hold the answer for `holdMs` (past the client's timeout), then drop.
    Hold,
}

/// A PUT replaces all settings; omitted fields take their defaults. Unknown
/// fields are refused (400 naming the field): a misspelt one would
/// otherwise reset every fault to its default with a 200.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every API request.
    pub latency_ms: u64,
    /// Requests per second per agreement before 429 (0 = unlimited).
    pub rate_limit_per_second: u32,
    /// Probabilities (0..=1) per API request, drawn from a seeded RNG.
    pub rate_429: f64,
    pub rate_500: f64,
    pub rate_timeout: f64,
    pub rate_drop: f64,
    /// `Retry-After` seconds sent with 429.
    pub retry_after_seconds: u64,
    /// How long a "timeout" holds the answer.
    pub hold_ms: u64,
    pub seed: u64,
    /// The next N creates (POST /invoices/drafts) are carried out and then
    /// their answer is lost this way (the lost-response case).
    pub fail_next_creates_after_commit: u32,
    pub fail_after_commit_mode: FailMode,
    /// The N-th API request from now (1 = next) fails before processing.
    pub fail_request_number: Option<u64>,
    pub fail_request_mode: FailMode,
    /// Also lose the answer of the next N bookings after committing.
    pub fail_next_bookings_after_commit: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            rate_limit_per_second: 0,
            rate_429: 0.0,
            rate_500: 0.0,
            rate_timeout: 0.0,
            rate_drop: 0.0,
            retry_after_seconds: 1,
            hold_ms: 15_000,
            seed: 1,
            fail_next_creates_after_commit: 0,
            fail_after_commit_mode: FailMode::Drop,
            fail_request_number: None,
            fail_request_mode: FailMode::ServerError,
            fail_next_bookings_after_commit: 0,
        }
    }
}
