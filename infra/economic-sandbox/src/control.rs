//! Fault injection settings and the `/_sandbox/...` control endpoints.
//!
//! | Method + path | Body / effect |
//! |---|---|
//! | `GET /_sandbox/faults`, `PUT /_sandbox/faults` | [`Faults`] as JSON (camelCase) |
//! | `POST /_sandbox/reset` | all agreements back to seeded data, token buckets full, log emptied |
//! | `GET /_sandbox/requests`, `DELETE /_sandbox/requests` | request log |
//! | `GET /_sandbox/state` | per agreement: drafts, order drafts, booked invoices, debtors, counts |
//! | `PUT /_sandbox/vat-zones` | `{agreement?, vatZoneNumber, name, ratePercent}` |
//! | `PUT /_sandbox/products` | `{agreement?, productNumber, name, vatExempt, vatRatePercent?}` (`vatRatePercent`: the rate of its account where not the zone's, as a string) |
//! | `PUT /_sandbox/settings` | `{agreement?, acceptUnknownProducts?, vatRounding?}` (at least one; `vatRounding`: `"per_line"` or `"per_invoice"`) |
//! | `PUT /_sandbox/idempotency` | `{lifetimeSeconds}`: how long `Idempotency-Key`s are remembered |
//! | `DELETE /_sandbox/idempotency` | every remembered key expires now |
//!
//! `agreement` is the index of the agreement (default: all agreements); an
//! index the sandbox does not have answers 404, one that is not a
//! non-negative integer 400. `PUT /_sandbox/faults` refuses unknown fields
//! with 400.

use crate::answer::{answer, no_content, Answer};
use crate::data::{ProductRecord, VatZoneRule};
use crate::Shared;
use bridge::domain::money::VatRounding;
use hyper::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

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
    /// e-conomic's token bucket per agreement (see [`crate::token_bucket`]):
    /// `tokenLimit` tokens, refilled continuously over `tokenWindowSeconds`.
    /// A limit or window of 0 turns the bucket off, and with it the
    /// `X-RateLimiting` and `X-CallCost` headers. Changing either refills
    /// the buckets.
    pub token_limit: u32,
    pub token_window_seconds: u64,
    /// Tokens a GET costs, and a POST, PUT or DELETE. e-conomic does not
    /// publish its costs; 1 each is the assumption.
    pub read_call_cost: u32,
    pub write_call_cost: u32,
    /// Whether a 429 for an empty bucket carries `Retry-After` (the seconds
    /// until the bucket could pay, rounded up). Unconfirmed LIVE, so both.
    pub retry_after_on_token_limit: bool,
    /// Probabilities (0..=1) per API request, drawn from a seeded RNG.
    pub rate_429: f64,
    pub rate_500: f64,
    pub rate_timeout: f64,
    pub rate_drop: f64,
    /// `Retry-After` seconds sent with an injected 429.
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
    /// And of the next N journal vouchers (customer payments).
    pub fail_next_vouchers_after_commit: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            token_limit: 10_000,
            token_window_seconds: 60,
            read_call_cost: 1,
            write_call_cost: 1,
            retry_after_on_token_limit: false,
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
            fail_next_vouchers_after_commit: 0,
        }
    }
}

/// Answers one `/_sandbox/...` request (`rest` is the path after the
/// prefix); control requests bypass faults, auth and the request log.
pub(crate) fn handle_request(shared: &Shared, method: &Method, rest: &str, body: &[u8]) -> Answer {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let bad = |m: String| answer(400, json!({"message": m}));
    // The agreements a PUT applies to: `agreement` (an index) or all.
    let agreements_of = |s: &crate::State, v: &Option<Value>| -> Result<Vec<usize>, Answer> {
        let given = v.as_ref().and_then(|v| v.get("agreement"));
        let Some(given) = given.filter(|g| !g.is_null()) else {
            return Ok((0..s.agreements.len()).collect());
        };
        let count = s.agreements.len();
        match given.as_u64() {
            Some(index) if index < count as u64 => Ok(vec![index as usize]),
            Some(index) => Err(answer(
                404,
                json!({"message": format!(
                    "agreement {index} does not exist: the sandbox has {count} agreement(s), \
                     indexes 0 to {}", count.saturating_sub(1)
                )}),
            )),
            None => Err(bad(format!(
                "agreement: expected the agreement's index (a non-negative integer), got {given}"
            ))),
        }
    };
    let mut s = shared.lock();
    match (method.as_str(), rest.trim_end_matches('/')) {
        ("GET", "faults") => answer(200, serde_json::to_value(&s.faults).unwrap_or(Value::Null)),
        ("PUT", "faults") | ("POST", "faults") => {
            match serde_json::from_slice::<crate::Faults>(body) {
                Ok(f) => {
                    s.set_faults(f);
                    answer(200, serde_json::to_value(&s.faults).unwrap_or(Value::Null))
                }
                Err(e) => bad(format!("faults: {e}")),
            }
        }
        ("POST", "reset") => {
            s.reset();
            no_content()
        }
        ("PUT", "idempotency") => {
            let seconds = parsed
                .as_ref()
                .and_then(|v| v.get("lifetimeSeconds"))
                .and_then(Value::as_u64);
            match seconds {
                Some(seconds) => {
                    s.idempotency
                        .set_lifetime(std::time::Duration::from_secs(seconds));
                    no_content()
                }
                None => bad("idempotency: expected {\"lifetimeSeconds\": N}".into()),
            }
        }
        ("DELETE", "idempotency") => {
            s.idempotency.forget_all();
            no_content()
        }
        ("GET", "requests") => answer(200, serde_json::to_value(&s.log).unwrap_or(Value::Null)),
        ("DELETE", "requests") => {
            s.log.clear();
            no_content()
        }
        ("GET", "state") => {
            let list: Vec<Value> = s
                .agreements
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    json!({
                        "agreement": i,
                        "draftCount": a.drafts.len(),
                        "bookedCount": a.booked.len(),
                        "customerCount": a.customers.len(),
                        "drafts": a.drafts.values().map(|d| json!({
                            "draftInvoiceNumber": d.draft_invoice_number, "customerNumber": d.customer_number,
                            "reference": d.reference, "netAmount": d.net_amount.to_string(),
                            "vatAmount": d.vat_amount.to_string(), "grossAmount": d.gross_amount.to_string()})).collect::<Vec<_>>(),
                        "orderDraftCount": a.order_drafts.len(),
                        "orderDrafts": a.order_drafts.values().map(|d| json!({
                            "orderNumber": d.draft_invoice_number, "customerNumber": d.customer_number,
                            "reference": d.reference, "netAmount": d.net_amount.to_string(),
                            "vatAmount": d.vat_amount.to_string(), "grossAmount": d.gross_amount.to_string()})).collect::<Vec<_>>(),
                        "booked": a.booked.values().map(|d| json!({
                            "bookedInvoiceNumber": d.booked_invoice_number, "fromDraft": d.from_draft,
                            "customerNumber": d.customer_number, "reference": d.reference,
                            "netAmount": d.net_amount.to_string(), "vatAmount": d.vat_amount.to_string(),
                            "grossAmount": d.gross_amount.to_string(), "sendBy": d.send_by,
                            "remainder": d.remainder.to_string()})).collect::<Vec<_>>(),
                        "journals": a.journals.values().map(|j| json!({
                            "journalNumber": j.journal_number, "name": j.name,
                            "entries": j.entries.iter().map(crate::journals::JournalEntry::json).collect::<Vec<_>>()})).collect::<Vec<_>>(),
                        "postedEntries": a.posted_entries.iter().map(crate::journals::JournalEntry::json).collect::<Vec<_>>(),
                        "customers": a.customers.values().cloned().collect::<Vec<_>>(),
                    })
                })
                .collect();
            answer(
                200,
                json!({"agreements": list, "requestCount": s.log.len()}),
            )
        }
        ("POST", path) if path.starts_with("journals/") && path.ends_with("/book") => {
            let number = path
                .trim_start_matches("journals/")
                .trim_end_matches("/book")
                .parse::<u32>();
            let Ok(number) = number else {
                return bad(format!(
                    "book: expected /_sandbox/journals/N/book, got {path}"
                ));
            };
            match agreements_of(&s, &parsed) {
                Ok(indexes) => {
                    let mut booked = 0;
                    for i in indexes {
                        match s
                            .agreements
                            .get_mut(i)
                            .and_then(|a| crate::journals::book_journal(a, number))
                        {
                            Some(count) => booked += count,
                            None => {
                                return answer(
                                    404,
                                    json!({"message": format!("journal {number} does not exist")}),
                                )
                            }
                        }
                    }
                    answer(200, json!({"bookedEntries": booked}))
                }
                Err(refused) => refused,
            }
        }
        ("PUT", "vat-zones") => match serde_json::from_slice::<VatZoneRule>(body) {
            Ok(rule) => match agreements_of(&s, &parsed) {
                Ok(indexes) => {
                    for i in indexes {
                        if let Some(a) = s.agreements.get_mut(i) {
                            a.vat_zones.insert(rule.vat_zone_number, rule.clone());
                        }
                    }
                    no_content()
                }
                Err(refused) => refused,
            },
            Err(e) => bad(format!("vat zone: {e}")),
        },
        ("PUT", "products") => match (
            serde_json::from_slice::<ProductRecord>(body),
            product_rate(&parsed),
        ) {
            (Ok(p), Ok(rate)) => match agreements_of(&s, &parsed) {
                Ok(indexes) => {
                    for i in indexes {
                        if let Some(a) = s.agreements.get_mut(i) {
                            a.products.insert(p.product_number.clone(), p.clone());
                            match rate {
                                Some(rate) => {
                                    a.product_vat_rates.insert(p.product_number.clone(), rate)
                                }
                                None => a.product_vat_rates.remove(&p.product_number),
                            };
                        }
                    }
                    no_content()
                }
                Err(refused) => refused,
            },
            (Err(e), _) => bad(format!("product: {e}")),
            (_, Err(message)) => bad(message),
        },
        ("PUT", "settings") => {
            let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name)).cloned();
            let accept = field("acceptUnknownProducts").map(|v| v.as_bool().ok_or(v));
            let rounding = field("vatRounding")
                .map(|v| serde_json::from_value::<VatRounding>(v.clone()).map_err(|_| v));
            let expected = "settings: expected {\"acceptUnknownProducts\": bool} and/or \
                            {\"vatRounding\": \"per_line\" | \"per_invoice\"}";
            match (accept, rounding) {
                (None, None) | (Some(Err(_)), _) | (_, Some(Err(_))) => bad(expected.into()),
                (accept, rounding) => match agreements_of(&s, &parsed) {
                    Ok(indexes) => {
                        for i in indexes {
                            if let Some(a) = s.agreements.get_mut(i) {
                                if let Some(Ok(accept)) = accept {
                                    a.accept_unknown_products = accept;
                                }
                                if let Some(Ok(rounding)) = rounding {
                                    a.vat_rounding = rounding;
                                }
                            }
                        }
                        no_content()
                    }
                    Err(refused) => refused,
                },
            }
        }
        _ => answer(
            404,
            json!({"message": format!("unknown control endpoint {method} /_sandbox/{rest}")}),
        ),
    }
}

/// `vatRatePercent` of a product: absent or null is the zone's rate.
fn product_rate(parsed: &Option<Value>) -> Result<Option<rust_decimal::Decimal>, String> {
    match parsed.as_ref().and_then(|v| v.get("vatRatePercent")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => text
            .parse::<rust_decimal::Decimal>()
            .ok()
            .filter(|r| !r.is_sign_negative() && *r < rust_decimal::Decimal::ONE_HUNDRED)
            .map(Some)
            .ok_or_else(|| format!("product: vatRatePercent `{text}` is not a rate from 0 to 100")),
        Some(other) => Err(format!(
            "product: vatRatePercent must be a string such as \"7\", got {other}"
        )),
    }
}
