//! An order whose e-conomic agreement has spent its budget (its token
//! bucket) is handed back to the queue instead of waiting for it.
//!
//! Pacing in place holds a worker (a Lambda invocation, and the slots of
//! the orders batched with it) for as long as the bucket takes to refill.
//! During one shop's promotion that is every worker, and every other
//! shop's orders wait behind the promotion. So before it claims the order,
//! transfer asks the e-conomic adapter whether a call for the order's
//! agreement would wait longer than it paces in place
//! (`Invoicing::budget_deferral`); if so, the order goes back on the queue
//! as a new message delayed until the bucket can pay for it, and the
//! worker moves on to the next message.
//!
//! A hand-back is not an attempt. It happens before the claim, so the
//! order's record, attempts and lease are untouched; and it is a *new*
//! message (SQS `DelaySeconds`), not a visibility change, because every
//! receive of one message raises its `ApproximateReceiveCount`, and the
//! redrive policy would dead-letter an order that waited for its budget
//! `maxReceiveCount` times. The new message carries two fields in its body
//! (`OrderMessage` ignores them):
//!
//! * `earlier_receives`: the receives of this order's earlier messages
//!   that were attempts (all but the hand-backs), so an order that failed
//!   transiently before it was handed back still gives up after
//!   `max_receive_count` attempts in all;
//! * `first_sent_at_ms`: when the first message was sent (the webhook's
//!   arrival), so webhook → ok is measured from there.
//!
//! If the new message cannot be sent, the received one is delayed instead
//! (a visibility change) and reported as a batch item failure: that
//! receive then counts, as any retry does.
//!
//! The check before the claim uses each process's mirror of the bucket,
//! which other environments' calls can make stale, so an attempt can still
//! meet the empty bucket (e-conomic's 429, which the client waits out in
//! place only briefly). An attempt that fails transiently on e-conomic
//! while the agreement's budget is spent is handed back the same way,
//! after its lease is released and the error recorded: it was the budget,
//! not the order, so that receive is not counted either. (The next attempt
//! looks the reference up first, as after any interrupted attempt.)

use super::{Disposition, Transfer, TransferFailure};
use crate::app::notify::LabelNotifier;
use crate::domain::lifecycle::LeaseOwner;
use crate::ports::{
    Clock, CreditStore, InboundMessage, Invoicing, OrderControl, OrderMessage, OrderStore,
    PaymentStore, ShopStore, TransferQueue, VatRegistry,
};
use serde::Deserialize;
use std::borrow::Cow;
use std::time::Duration;

/// SQS's longest `DelaySeconds`; a longer wait is handed back again.
const MAX_DELAY_SECONDS: u64 = 900;

/// What a hand-back adds to the message body.
#[derive(Debug, Default, Deserialize)]
struct Carried {
    #[serde(default)]
    earlier_receives: u32,
    #[serde(default)]
    first_sent_at_ms: Option<i64>,
}

/// The message as transfer counts it: the receives of the order's earlier
/// messages that were attempts are added to this one's, and its sent time
/// is the first message's. A message that was never handed back is
/// returned as it is.
pub(super) fn carried_over(message: &InboundMessage) -> Cow<'_, InboundMessage> {
    let carried: Carried = serde_json::from_str(&message.body).unwrap_or_default();
    if carried.earlier_receives == 0 && carried.first_sent_at_ms.is_none() {
        return Cow::Borrowed(message);
    }
    let mut counted = message.clone();
    counted.receive_count = message
        .receive_count
        .saturating_add(carried.earlier_receives);
    counted.sent_at_ms = carried.first_sent_at_ms.or(message.sent_at_ms);
    Cow::Owned(counted)
}

/// The body of the message that hands `message` back: its own body with
/// the carried fields set (this receive, the hand-back, not counted).
fn hand_back_body(message: &InboundMessage) -> Option<String> {
    let mut body: serde_json::Value = serde_json::from_str(&message.body).ok()?;
    let fields = body.as_object_mut()?;
    fields.insert(
        "earlier_receives".into(),
        message.receive_count.saturating_sub(1).into(),
    );
    if let Some(sent) = message.sent_at_ms {
        fields.insert("first_sent_at_ms".into(), sent.into());
    }
    serde_json::to_string(&body).ok()
}

/// Whole seconds of delay, at least 1, at most SQS's 900.
fn delay_seconds(delay: Duration) -> i32 {
    let seconds = delay.as_secs() + u64::from(delay.subsec_nanos() > 0);
    seconds.clamp(1, MAX_DELAY_SECONDS) as i32
}

impl<O, S, Q, I, C, R, N> Transfer<O, S, Q, I, C, R, N>
where
    O: OrderStore + CreditStore + OrderControl + PaymentStore,
    S: ShopStore,
    Q: TransferQueue,
    I: Invoicing,
    C: Clock,
    R: VatRegistry,
    N: LabelNotifier,
{
    /// `Some(disposition)` when the order's agreement has no budget for it
    /// now and the message was handed back; `None`: go ahead. A shop that
    /// cannot be read is not judged here (the transfer reports it).
    pub(super) async fn hand_back_if_budget_spent(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
    ) -> Option<Disposition> {
        let delay = self.budget_deferral(order).await?;
        Some(self.hand_back(message, order, delay).await)
    }

    /// After a transient e-conomic failure of the attempt holding the
    /// lease: `Some(disposition)` when the agreement's budget is spent now,
    /// the failure recorded, the lease released and the message handed
    /// back; `None`: an ordinary transient failure.
    pub(super) async fn hand_back_if_attempt_met_spent_budget(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        owner: &LeaseOwner,
        failure: &TransferFailure,
    ) -> Option<Disposition> {
        if !matches!(failure, TransferFailure::Invoicing(_)) {
            return None;
        }
        let delay = self.budget_deferral(order).await?;
        let now = self.clock.epoch_seconds();
        let rescan_after = now + delay.as_secs() as i64 + self.settings.rescan_min_age_seconds;
        if let Err(error) = self
            .orders
            .record_transient(
                &order.shop_id,
                &order.order_id,
                owner,
                &failure.to_string(),
                now,
                rescan_after,
            )
            .await
        {
            // The lease expires on its own; the hand-back still happens.
            tracing::warn!(%error, "could not record the transient failure");
        }
        Some(self.hand_back(message, order, delay).await)
    }

    async fn budget_deferral(&self, order: &OrderMessage) -> Option<Duration> {
        let shop = self.shops.get(&order.shop_id).await.ok()??;
        self.invoicing.budget_deferral(&shop.economic)
    }

    async fn hand_back(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        delay: Duration,
    ) -> Disposition {
        let seconds = delay_seconds(delay);
        let sent = match hand_back_body(message) {
            Some(body) => self.queue.send_later(&body, &order.shop_id, seconds).await,
            // Not an object: transfer reports the message as malformed
            // before it gets here.
            None => Err(crate::ports::QueueError(
                "message body is not a JSON object".into(),
            )),
        };
        match sent {
            Ok(()) => {
                tracing::info!(
                    retry_in_seconds = seconds,
                    "the agreement's e-conomic budget is spent; order handed back to the queue"
                );
                Disposition::Done
            }
            Err(error) => {
                tracing::warn!(%error, retry_in_seconds = seconds,
                    "could not hand the order back; delaying this message instead");
                self.delay_redelivery(message, seconds).await;
                Disposition::Retry
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(body: &str, receive_count: u32, sent_at_ms: Option<i64>) -> InboundMessage {
        InboundMessage {
            message_id: "m1".into(),
            receipt_handle: Some("r1".into()),
            body: body.into(),
            receive_count,
            sent_at_ms,
        }
    }

    #[test]
    fn a_hand_back_carries_the_attempts_and_the_first_sent_time() {
        let first = message(
            r#"{"shop_id":"a","order_id":"1","cause":"webhook"}"#,
            3,
            Some(1_000),
        );
        let body = hand_back_body(&first).expect("a JSON object");
        // The order message still reads as before.
        let order: OrderMessage = serde_json::from_str(&body).expect("an order message");
        assert_eq!(
            (order.shop_id.as_str(), order.order_id.as_str()),
            ("a", "1")
        );
        // Received once as a new message (sent later, at 9,000 ms): two
        // earlier attempts + this receive; the first message's time.
        let again = message(&body, 1, Some(9_000));
        let counted = carried_over(&again);
        assert_eq!(counted.receive_count, 3);
        assert_eq!(counted.sent_at_ms, Some(1_000));
        // Handed back again on that receive: still two attempts before.
        let body = hand_back_body(&counted).expect("a JSON object");
        let third = carried_over(&message(&body, 2, Some(20_000))).into_owned();
        assert_eq!(third.receive_count, 4);
        assert_eq!(third.sent_at_ms, Some(1_000));
    }

    #[test]
    fn a_message_never_handed_back_is_counted_as_sqs_counts_it() {
        let plain = message(
            r#"{"shop_id":"a","order_id":"1","cause":"rescan"}"#,
            2,
            Some(5),
        );
        assert!(matches!(carried_over(&plain), Cow::Borrowed(_)));
        let garbage = message("not json", 4, None);
        assert_eq!(carried_over(&garbage).receive_count, 4);
        assert_eq!(hand_back_body(&garbage), None);
    }

    #[test]
    fn delays_are_whole_seconds_within_what_sqs_allows() {
        assert_eq!(delay_seconds(Duration::from_millis(1)), 1);
        assert_eq!(delay_seconds(Duration::from_millis(2_001)), 3);
        assert_eq!(delay_seconds(Duration::from_secs(31)), 31);
        assert_eq!(delay_seconds(Duration::from_secs(5_000)), 900);
    }
}
