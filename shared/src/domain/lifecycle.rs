//! The order's life: its label, what is stored about it, who holds it, and
//! the rules that move it on. Pure data and decisions; the stores persist
//! it (every change that matters is a conditional write there).
//!
//! ```text
//!   (new) ──event before trigger──▶ recorded ──trigger──▶ pending ──push ok──▶ ok
//!     └──────────trigger event──────────────────────────▶   │ ▲
//!                                      permanent failure /  │ │ new delivery, re-send,
//!                                      retries exhausted    ▼ │ replayed dead letter
//!                                                          failed
//! ```

use crate::domain::order::EventType;
use crate::domain::shop::Trigger;
use rust_decimal::Decimal;
use std::fmt;

/// Default receives before SQS moves a message to the DLQ (template
/// parameter `MaxReceiveCount`).
pub const DEFAULT_MAX_RECEIVE_COUNT: u32 = 5;

/// History entries kept per order by ingest's writes (oldest dropped).
pub const HISTORY_LIMIT: usize = 30;
/// Webhook ids remembered per order for duplicate detection.
pub const WEBHOOK_IDS_LIMIT: usize = 50;

/// The order's state as seen by the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Seen, but the shop's trigger event has not arrived yet: nothing to do.
    Recorded,
    /// Waiting to be (or being) transferred to e-conomic.
    Pending,
    /// The invoice exists in e-conomic.
    Ok,
    /// Transfer failed permanently; `last_error` says why.
    Failed,
    /// The shop cancelled the order: no invoice (none was made, or the
    /// bridge deleted its draft), or a booked one left for a credit note;
    /// `last_error` says which. Final: later events change nothing.
    Cancelled,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Recorded => "recorded",
            Label::Pending => "e-conomic-pending",
            Label::Ok => "e-conomic-ok",
            Label::Failed => "e-conomic-failed",
            Label::Cancelled => "e-conomic-cancelled",
        }
    }

    pub fn parse(value: &str) -> Option<Label> {
        [
            Label::Recorded,
            Label::Pending,
            Label::Ok,
            Label::Failed,
            Label::Cancelled,
        ]
        .into_iter()
        .find(|l| l.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Epoch seconds.
    pub at: i64,
    pub what: String,
}

/// One order as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub shop_id: String,
    pub order_id: String,
    pub label: Label,
    pub snapshot: Option<String>,
    pub snapshot_rank: u8,
    pub events: Vec<String>,
    pub webhook_ids: Vec<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub draft_invoice_number: Option<u32>,
    pub booked_invoice_number: Option<u32>,
    pub customer_number: Option<u32>,
    pub economic_calls: Option<u32>,
    pub created_at: i64,
    pub updated_at: i64,
    pub pending_since: Option<i64>,
    pub lease_until: Option<i64>,
    pub lease_owner: Option<String>,
    pub create_started: bool,
    pub history: Vec<HistoryEntry>,
    pub version: u64,
    pub rescan_after: Option<i64>,
    pub expires_at: Option<i64>,
}

/// Everything ingest writes, computed from the previous state.
#[derive(Debug, Clone)]
pub struct IngestWrite {
    pub label: Label,
    /// `Some` replaces the stored snapshot.
    pub snapshot: Option<(String, u8)>,
    pub events: Vec<String>,
    pub webhook_ids: Vec<String>,
    pub history: Vec<HistoryEntry>,
    /// Set when the write makes the order pending.
    pub rescan_after: Option<i64>,
}

/// What a successful push left in e-conomic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    pub customer_number: u32,
    pub draft_invoice_number: Option<u32>,
    pub booked_invoice_number: Option<u32>,
    /// e-conomic's total incl. VAT of the invoice.
    pub gross_amount: Decimal,
    /// HTTP requests made for this push, retries included.
    pub calls: u32,
    /// An invoice from an earlier attempt was found and used.
    pub reused_existing: bool,
    /// The plan's warnings (the order contradicts the VAT rules and the
    /// customer's figures were kept), for the order's history.
    pub warnings: Vec<String>,
}

impl PushOutcome {
    /// The order history's entry for it.
    pub fn history_text(&self) -> String {
        let mut text = match (self.booked_invoice_number, self.draft_invoice_number) {
            (Some(booked), _) => format!("booked invoice {booked}"),
            (None, Some(draft)) => format!("draft invoice {draft}"),
            (None, None) => "invoice created".to_owned(),
        };
        for warning in &self.warnings {
            text.push_str("; warning: ");
            text.push_str(warning);
        }
        text
    }
}

/// When the order's triggering event arrived: the first history entry of
/// an order event at or after `trigger` (`"order.paid received: pending"`),
/// as (event, epoch seconds). `None` when the history no longer holds it
/// (the oldest entries are dropped).
pub fn trigger_arrival(
    history: &[HistoryEntry],
    trigger: crate::domain::order::EventType,
) -> Option<(crate::domain::order::EventType, i64)> {
    history
        .iter()
        .filter_map(|entry| {
            let (first, rest) = entry.what.split_once(' ')?;
            let event = crate::domain::order::EventType::from_type(first)?;
            (rest.starts_with("received") && event >= trigger).then_some((event, entry.at))
        })
        .min_by_key(|(_, at)| *at)
}

/// History texts the stores write with their state changes.
pub mod history {
    /// A transfer took the lease.
    pub const ATTEMPT_STARTED: &str = "transfer attempt started";

    /// The order was labelled failed.
    pub fn failed(reason: &str) -> String {
        format!("failed: {reason}")
    }

    /// A transient failure; the order stays pending.
    pub fn will_retry(error: &str) -> String {
        format!("will retry: {error}")
    }
}

/// Who holds an order's transfer lease: one receive of one queue message.
/// Stored as `<message id>#<receive count>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOwner {
    pub message_id: String,
    /// SQS `ApproximateReceiveCount` of the receive (1 on the first).
    pub receive_count: u32,
}

impl LeaseOwner {
    pub fn new(message_id: impl Into<String>, receive_count: u32) -> Self {
        LeaseOwner {
            message_id: message_id.into(),
            receive_count,
        }
    }

    /// Reads a stored owner. One without a receive count (written by an
    /// older version) keeps its whole text as the message id.
    pub fn parse(stored: &str) -> LeaseOwner {
        match stored.rsplit_once('#') {
            Some((id, count)) => match count.parse() {
                Ok(receive_count) => LeaseOwner::new(id, receive_count),
                Err(_) => LeaseOwner::new(stored, 0),
            },
            None => LeaseOwner::new(stored, 0),
        }
    }
}

impl fmt::Display for LeaseOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.message_id, self.receive_count)
    }
}

/// Whether `event` is (or comes after) the shop's trigger: created < paid <
/// shipped, so a shop invoicing on `paid` also invoices a `shipped` order
/// whose `paid` event never came.
pub fn reaches_trigger(event: EventType, trigger: Trigger) -> bool {
    event >= trigger.event()
}

/// Backoff before the next delivery after the `receive_count`-th failed
/// one: `base × 2^(receive_count−1)`, capped (SQS allows at most 12 h).
pub fn retry_delay_seconds(receive_count: u32, base_seconds: u32, cap_seconds: u32) -> i32 {
    let exponent = receive_count.saturating_sub(1).min(20);
    let delay = u64::from(base_seconds) << exponent;
    let capped = delay.min(u64::from(cap_seconds)).min(12 * 3600);
    i32::try_from(capped).unwrap_or(12 * 3600)
}

#[cfg(test)]
mod trigger_tests {
    use super::*;
    use crate::domain::order::EventType;

    #[test]
    fn the_first_event_at_or_after_the_trigger_is_the_triggering_one() {
        let entry = |at, what: &str| HistoryEntry {
            at,
            what: what.to_owned(),
        };
        let history = [
            entry(10, "order.created received: pending"),
            entry(20, "transfer attempt started"),
            entry(30, "order.shipped received while pending"),
            entry(40, "order.paid received while pending"),
        ];
        assert_eq!(
            trigger_arrival(&history, EventType::OrderPaid),
            Some((EventType::OrderShipped, 30))
        );
        assert_eq!(
            trigger_arrival(&history, EventType::OrderCreated),
            Some((EventType::OrderCreated, 10))
        );
        assert_eq!(trigger_arrival(&history[..2], EventType::OrderPaid), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip() {
        for l in [
            Label::Recorded,
            Label::Pending,
            Label::Ok,
            Label::Failed,
            Label::Cancelled,
        ] {
            assert_eq!(Label::parse(l.as_str()), Some(l));
        }
        assert_eq!(Label::parse("e-conomic-maybe"), None);
        assert_eq!(Label::Ok.as_str(), "e-conomic-ok");
    }

    #[test]
    fn lease_owners_round_trip_through_their_stored_form() {
        let owner = LeaseOwner::new("abc-123", 5);
        assert_eq!(owner.to_string(), "abc-123#5");
        assert_eq!(LeaseOwner::parse("abc-123#5"), owner);
        // A message id may itself contain '#': the count is after the last.
        assert_eq!(LeaseOwner::parse("a#b#2"), LeaseOwner::new("a#b", 2));
        assert_eq!(
            LeaseOwner::parse("no-count"),
            LeaseOwner::new("no-count", 0)
        );
        assert_eq!(LeaseOwner::parse("x#y"), LeaseOwner::new("x#y", 0));
    }

    #[test]
    fn events_at_or_after_the_trigger_reach_it() {
        use EventType::*;
        assert!(!reaches_trigger(OrderCreated, Trigger::Paid));
        assert!(reaches_trigger(OrderPaid, Trigger::Paid));
        assert!(reaches_trigger(OrderShipped, Trigger::Paid));
        assert!(reaches_trigger(OrderCreated, Trigger::Created));
        assert!(!reaches_trigger(OrderPaid, Trigger::Shipped));
        assert!(OrderCreated < OrderPaid && OrderPaid < OrderShipped);
    }

    #[test]
    fn retry_delay_doubles_and_caps() {
        assert_eq!(retry_delay_seconds(1, 30, 900), 30);
        assert_eq!(retry_delay_seconds(2, 30, 900), 60);
        assert_eq!(retry_delay_seconds(4, 30, 900), 240);
        assert_eq!(retry_delay_seconds(6, 30, 900), 900);
        assert_eq!(retry_delay_seconds(0, 30, 900), 30);
        assert_eq!(retry_delay_seconds(200, 30, u32::MAX), 12 * 3600);
    }
}
