//! Rescan: finds orders still pending `rescan_after` seconds after their
//! last enqueue (the message was lost, or ingest's send failed) and puts
//! them on the queue again. Each order's `rescan_after` is moved forward by
//! a conditional write *before* the send, so two runs close together do
//! not both enqueue it.

use crate::queue::{Cause, OrderMessage, Queues};
use crate::store::{OrderStore, StoreError};
use serde::Serialize;

#[derive(Debug, Clone)]
pub struct RescanSettings {
    /// Wait this long before re-enqueueing again (`RESCAN_MIN_AGE_SECONDS`).
    pub min_age_seconds: i64,
    /// At most this many orders per run (`RESCAN_MAX_ORDERS`).
    pub max_orders: usize,
}

impl Default for RescanSettings {
    fn default() -> Self {
        RescanSettings {
            min_age_seconds: 300,
            max_orders: 500,
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
}

#[derive(Debug)]
pub struct Rescan {
    orders: OrderStore,
    queues: Queues,
    settings: RescanSettings,
}

impl Rescan {
    pub fn new(orders: OrderStore, queues: Queues, settings: RescanSettings) -> Self {
        Rescan {
            orders,
            queues,
            settings,
        }
    }

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
        for (shop_id, order_id, rescan_after) in due {
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
            let message = OrderMessage {
                shop_id: shop_id.clone(),
                order_id: order_id.clone(),
                cause: Cause::Rescan,
            };
            match self.queues.enqueue(&message).await {
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
        tracing::info!(
            due = report.due,
            enqueued = report.enqueued,
            skipped = report.skipped,
            send_failed = report.send_failed,
            "rescan finished"
        );
        Ok(report)
    }
}
