//! The order metrics the transfer emits ([`crate::metrics`]): what an
//! order's `ok` adds, with the time from its webhook.

use crate::metrics::{self, Metric};
use crate::ports::Cause;

/// Milliseconds from the webhook that made the order pending to `now_ms`,
/// when there is such a webhook: a message ingest sent carries its
/// `SentTimestamp` (to the millisecond), a rescan falls back on the
/// record's `pending_since` (to the second). A re-sent or replayed order
/// was started by a person, not a webhook: no figure, rather than one
/// that would put days into the latency (nor for a cancellation, which
/// never ends ok).
pub fn webhook_to_ok_ms(
    cause: Cause,
    sent_at_ms: Option<i64>,
    pending_since: Option<i64>,
    now_ms: i64,
) -> Option<u64> {
    let since_ms = match cause {
        Cause::Webhook => sent_at_ms.or(pending_since.map(|s| s * 1000))?,
        Cause::Rescan => pending_since? * 1000,
        Cause::Resend | Cause::ShopResend | Cause::DeadLettered | Cause::Cancel => return None,
    };
    // A clock behind the queue's would give a negative age: none.
    u64::try_from(now_ms - since_ms).ok()
}

/// One order labelled ok.
pub fn order_ok(shop_id: &str, latency_ms: Option<u64>) {
    metrics::record(Metric::OrdersOk, 1, Some(shop_id));
    if let Some(latency_ms) = latency_ms {
        metrics::record(Metric::WebhookToOkLatency, latency_ms, Some(shop_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_message_measures_from_its_sent_timestamp() {
        assert_eq!(
            webhook_to_ok_ms(Cause::Webhook, Some(1_000_250), Some(999), 1_001_000),
            Some(750)
        );
        // Without the attribute, from the record (seconds).
        assert_eq!(
            webhook_to_ok_ms(Cause::Webhook, None, Some(999), 1_001_000),
            Some(2_000)
        );
        assert_eq!(
            webhook_to_ok_ms(Cause::Webhook, None, None, 1_001_000),
            None
        );
    }

    #[test]
    fn a_rescan_measures_from_pending_since_and_a_resend_not_at_all() {
        assert_eq!(
            webhook_to_ok_ms(Cause::Rescan, Some(1_000_900), Some(900), 1_001_000),
            Some(101_000)
        );
        assert_eq!(
            webhook_to_ok_ms(Cause::Rescan, Some(5), None, 1_001_000),
            None
        );
        assert_eq!(
            webhook_to_ok_ms(Cause::Resend, Some(1_000_000), Some(1), 1_001_000),
            None
        );
        assert_eq!(
            webhook_to_ok_ms(Cause::DeadLettered, Some(1_000_000), Some(1), 1_001_000),
            None
        );
    }

    #[test]
    fn a_clock_behind_the_queue_gives_no_figure() {
        assert_eq!(
            webhook_to_ok_ms(Cause::Webhook, Some(2_000), None, 1_000),
            None
        );
        assert_eq!(
            webhook_to_ok_ms(Cause::Webhook, Some(1_000), None, 1_000),
            Some(0)
        );
    }
}
