//! Rescan: finds orders still pending `rescan_after` seconds after their
//! last enqueue (the message was lost, or ingest's send failed) and puts
//! them on the queue again; removes dead letters of orders that are `ok`.
//! Each order's `rescan_after` is moved forward by a conditional write
//! *before* the send, so two runs close together do not both enqueue it.

use crate::app::notify::{LabelNotifier, NoNotifier};
use crate::domain::lifecycle::{Label, LeaseOwner};
use crate::domain::notify::LabelChange;
use crate::metrics::{self, Metric};
use crate::ports::{Cause, DueOrder, OrderMessage, OrderStore, StoreError, TransferQueue};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct RescanSettings {
    /// Wait this long before re-enqueueing again (`RESCAN_MIN_AGE_SECONDS`).
    pub min_age_seconds: i64,
    /// At most this many orders per run (`RESCAN_MAX_ORDERS`).
    pub max_orders: usize,
    /// The queue's redrive `maxReceiveCount` (`MAX_RECEIVE_COUNT`): an order
    /// whose transfer stopped on that delivery has its message dead-lettered
    /// by SQS, so rescan labels it failed instead of sending it again.
    pub max_receive_count: u32,
}

impl Default for RescanSettings {
    fn default() -> Self {
        RescanSettings {
            min_age_seconds: 300,
            max_orders: 500,
            max_receive_count: 5,
        }
    }
}

/// Counts from one run (also the Lambda's return value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RescanReport {
    /// Pending orders due according to the index.
    pub due: usize,
    /// Re-enqueued by this run.
    pub enqueued: usize,
    /// Already handled by someone else between query and claim.
    pub skipped: usize,
    /// Claimed but the send failed: retried on the next run.
    pub send_failed: usize,
    /// Labelled failed: their transfer stopped on the last allowed delivery.
    pub gave_up: usize,
    /// Dead letters of orders that are `ok` after all, removed.
    pub stale_dead_letters_removed: usize,
}

/// Rescan over its ports: the order store and the transfer queue, and
/// where a label it writes is announced (nowhere until
/// [`Rescan::with_notifier`]).
#[derive(Debug)]
pub struct Rescan<O, Q, N = NoNotifier> {
    orders: O,
    queue: Q,
    notifier: N,
    settings: RescanSettings,
}

impl<O: OrderStore, Q: TransferQueue> Rescan<O, Q> {
    pub fn new(orders: O, queue: Q, settings: RescanSettings) -> Self {
        Rescan {
            orders,
            queue,
            notifier: NoNotifier,
            settings,
        }
    }
}

impl<O, Q, N> Rescan<O, Q, N> {
    /// Announces the labels rescan writes through `notifier`.
    pub fn with_notifier<N2: LabelNotifier>(self, notifier: N2) -> Rescan<O, Q, N2> {
        Rescan {
            orders: self.orders,
            queue: self.queue,
            notifier,
            settings: self.settings,
        }
    }
}

impl<O: OrderStore, Q: TransferQueue, N: LabelNotifier> Rescan<O, Q, N> {
    /// One run at `now` (epoch seconds).
    pub async fn run(&self, now: i64) -> Result<RescanReport, StoreError> {
        let due = self
            .orders
            .due_for_rescan(now, self.settings.max_orders)
            .await?;
        let mut report = RescanReport {
            due: due.len(),
            ..RescanReport::default()
        };
        for DueOrder {
            shop_id,
            order_id,
            rescan_after,
        } in due
        {
            let claimed = self
                .orders
                .bump_rescan(
                    &shop_id,
                    &order_id,
                    rescan_after,
                    now + self.settings.min_age_seconds,
                )
                .await?;
            if !claimed {
                report.skipped += 1;
                continue;
            }
            if self
                .give_up_if_dead_lettered(&shop_id, &order_id, now)
                .await?
            {
                report.gave_up += 1;
                continue;
            }
            let message = OrderMessage {
                shop_id: shop_id.clone(),
                order_id: order_id.clone(),
                cause: Cause::Rescan,
            };
            match self.queue.enqueue(&message).await {
                Ok(()) => {
                    report.enqueued += 1;
                    tracing::info!(%shop_id, %order_id, "pending order re-enqueued by rescan");
                }
                Err(error) => {
                    report.send_failed += 1;
                    tracing::warn!(%shop_id, %order_id, %error, "rescan enqueue failed; next run retries");
                }
            }
        }
        if self.queue.has_dead_letter_queue() {
            report.stale_dead_letters_removed = self.sweep_stale_dead_letters().await;
        }
        tracing::info!(
            due = report.due,
            enqueued = report.enqueued,
            skipped = report.skipped,
            send_failed = report.send_failed,
            gave_up = report.gave_up,
            stale_dead_letters_removed = report.stale_dead_letters_removed,
            "rescan finished"
        );
        metrics::record(Metric::RescanDueOrders, report.due as u64, None);
        Ok(report)
    }
}

impl<O: OrderStore, Q: TransferQueue, N: LabelNotifier> Rescan<O, Q, N> {
    /// An order still leased by a transfer that stopped on the queue's last
    /// allowed delivery: SQS moves that message to the dead-letter queue,
    /// so the order is labelled failed to match it (re-sending it instead
    /// would leave an `ok` order with a dead letter).
    async fn give_up_if_dead_lettered(
        &self,
        shop_id: &str,
        order_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let Some(record) = self.orders.get(shop_id, order_id).await? else {
            return Ok(false);
        };
        let holder = record.lease_owner.as_deref().map(LeaseOwner::parse);
        let Some(delivery) = stopped_on_delivery(holder.as_ref(), record.lease_until, now) else {
            return Ok(false);
        };
        // With the create started the invoice may exist: sending the order
        // again completes it (a stale dead letter is the lesser evil).
        if record.label != Label::Pending
            || record.create_started
            || delivery < self.settings.max_receive_count
        {
            return Ok(false);
        }
        let reason = format!(
            "the transfer stopped during its last allowed delivery ({delivery} of {}) and the \
             message went to the dead-letter queue; re-send the order or replay the queue",
            self.settings.max_receive_count
        );
        match self
            .orders
            .mark_failed(shop_id, order_id, &reason, now)
            .await
        {
            Ok(()) => {
                tracing::warn!(%shop_id, %order_id, %reason, "order labelled failed by rescan");
                metrics::record(Metric::OrdersFailed, 1, Some(shop_id));
                let failed =
                    LabelChange::new(shop_id, order_id, Label::Failed).with_reason(reason.as_str());
                self.notifier.label_changed(&failed).await;
                Ok(true)
            }
            // Became ok meanwhile.
            Err(StoreError::Conflict) => Ok(true),
            Err(error) => Err(error),
        }
    }
}

/// Dead letters one rescan run looks at, at most.
const DEAD_LETTER_SWEEP_LIMIT: usize = 100;
/// How long a swept dead letter stays hidden while its order is read.
const DEAD_LETTER_SWEEP_VISIBILITY_SECONDS: i32 = 30;

impl<O: OrderStore, Q: TransferQueue, N: LabelNotifier> Rescan<O, Q, N> {
    /// Removes dead letters whose order is `ok` after all: a copy of the
    /// message that SQS dead-lettered while another copy completed the order
    /// (a worker that died on its last delivery). The rest are released
    /// untouched. Best effort: SQS or DynamoDB trouble ends the sweep, and
    /// the next run tries again.
    async fn sweep_stale_dead_letters(&self) -> usize {
        let mut removed = 0;
        let mut keep = Vec::new();
        let mut seen = 0;
        while seen < DEAD_LETTER_SWEEP_LIMIT {
            let batch = match self
                .queue
                .receive_dead_letters(DEAD_LETTER_SWEEP_VISIBILITY_SECONDS)
                .await
            {
                Ok(batch) if !batch.is_empty() => batch,
                Ok(_) => break,
                Err(error) => {
                    tracing::warn!(%error, "dead-letter sweep: receive failed");
                    break;
                }
            };
            seen += batch.len();
            for letter in batch {
                if self.dead_letter_is_stale(&letter.body).await {
                    match self.queue.delete_dead_letter(&letter.receipt_handle).await {
                        Ok(()) => removed += 1,
                        Err(error) => tracing::warn!(%error, "dead-letter sweep: delete failed"),
                    }
                } else {
                    keep.push(letter.receipt_handle);
                }
            }
        }
        for handle in keep {
            if let Err(error) = self.queue.release_dead_letter(&handle).await {
                // Visible again after the sweep's visibility timeout anyway.
                tracing::warn!(%error, "dead-letter sweep: release failed");
            }
        }
        removed
    }

    async fn dead_letter_is_stale(&self, body: &str) -> bool {
        let Ok(message) = serde_json::from_str::<OrderMessage>(body) else {
            return false;
        };
        match self.orders.get(&message.shop_id, &message.order_id).await {
            // The shop's own request (a cancellation, a re-send) that was
            // never carried out is not made stale by the order being ok:
            // it stays for a person (the dead-letter alarm).
            Ok(Some(record))
                if record.label == Label::Ok
                    && matches!(message.cause, Cause::Cancel | Cause::ShopResend) =>
            {
                tracing::warn!(
                    shop_id = %message.shop_id,
                    order_id = %message.order_id,
                    cause = message.cause.as_str(),
                    "dead-lettered shop request on an ok order kept for a person"
                );
                false
            }
            // A cancelled order is never sent again either.
            Ok(Some(record)) if matches!(record.label, Label::Ok | Label::Cancelled) => {
                tracing::info!(
                    shop_id = %message.shop_id,
                    order_id = %message.order_id,
                    label = record.label.as_str(),
                    "stale dead letter removed: the order is ok or cancelled"
                );
                true
            }
            Ok(_) => false,
            Err(error) => {
                tracing::warn!(%error, "dead-letter sweep: order read failed");
                false
            }
        }
    }
}

/// The delivery (receive count) whose transfer took the lease and never
/// released it, once that lease has run out.
fn stopped_on_delivery(
    lease_owner: Option<&LeaseOwner>,
    lease_until: Option<i64>,
    now: i64,
) -> Option<u32> {
    if lease_until.is_some_and(|until| until > now) {
        return None;
    }
    lease_owner
        .map(|owner| owner.receive_count)
        .filter(|&count| count > 0)
}

#[cfg(test)]
mod tests {
    use super::stopped_on_delivery;
    use crate::domain::lifecycle::LeaseOwner;

    fn owner(stored: &str) -> Option<LeaseOwner> {
        Some(LeaseOwner::parse(stored))
    }

    #[test]
    fn an_expired_lease_tells_the_delivery_that_held_it() {
        assert_eq!(
            stopped_on_delivery(owner("abc-123#5").as_ref(), Some(900), 1_000),
            Some(5)
        );
    }

    #[test]
    fn a_live_lease_or_no_owner_tells_nothing() {
        assert_eq!(
            stopped_on_delivery(owner("abc#5").as_ref(), Some(1_100), 1_000),
            None
        );
        assert_eq!(stopped_on_delivery(None, None, 1_000), None);
        assert_eq!(
            stopped_on_delivery(owner("no-count").as_ref(), None, 1_000),
            None
        );
    }
}
