//! Label notifications, announced: [`Notifier`], called by transfer and
//! rescan after they write a label. Delivering them is
//! [`crate::app::notify_delivery`].
//!
//! Announcing never fails or delays the order: it records the change as the
//! order's next notification and enqueues it, and whatever goes wrong is
//! logged (and, where possible, recorded as `not_queued`), never returned.

use crate::domain::notify::{payload, webhook_id, DeliveryState, DeliveryUpdate, LabelChange};
use crate::ports::{Clock, NotificationMessage, NotificationQueue, NotificationStore, ShopStore};
use std::future::Future;

/// Where label changes are announced.
pub trait LabelNotifier: Send + Sync {
    /// Announces `change`; never fails (problems are logged).
    fn label_changed(&self, change: &LabelChange) -> impl Future<Output = ()> + Send;
}

/// Announces nothing (no notification queue in this deployment).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifier;

impl LabelNotifier for NoNotifier {
    async fn label_changed(&self, _change: &LabelChange) {}
}

impl<T: LabelNotifier> LabelNotifier for Option<T> {
    async fn label_changed(&self, change: &LabelChange) {
        if let Some(notifier) = self {
            notifier.label_changed(change).await;
        }
    }
}

impl<T: LabelNotifier + ?Sized> LabelNotifier for std::sync::Arc<T> {
    fn label_changed(&self, change: &LabelChange) -> impl Future<Output = ()> + Send {
        (**self).label_changed(change)
    }
}

/// Records and enqueues label notifications for shops with a `notify`
/// target.
#[derive(Debug)]
pub struct Notifier<N, Q, S, C> {
    store: N,
    queue: Q,
    shops: S,
    clock: C,
}

impl<N, Q, S, C> Notifier<N, Q, S, C> {
    pub fn new(store: N, queue: Q, shops: S, clock: C) -> Self {
        Notifier {
            store,
            queue,
            shops,
            clock,
        }
    }
}

impl<N, Q, S, C> LabelNotifier for Notifier<N, Q, S, C>
where
    N: NotificationStore,
    Q: NotificationQueue,
    S: ShopStore,
    C: Clock,
{
    async fn label_changed(&self, change: &LabelChange) {
        let shop_id = change.shop_id.as_str();
        let order_id = change.order_id.as_str();
        let label = change.label.as_str();
        match self.shops.get(shop_id).await {
            Ok(Some(shop)) if shop.notify.is_some() => {}
            Ok(_) => return,
            Err(error) => {
                tracing::error!(%shop_id, %order_id, label, %error,
                    "shop unreadable; label notification not sent");
                return;
            }
        }
        let now = self.clock.now();
        let sequence = match self
            .store
            .record_notification(shop_id, order_id, label, now.unix_timestamp())
            .await
        {
            Ok(Some(sequence)) => sequence,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%shop_id, %order_id, label, %error,
                    "label notification could not be recorded; it is not sent");
                return;
            }
        };
        let message = NotificationMessage {
            shop_id: shop_id.to_owned(),
            order_id: order_id.to_owned(),
            sequence,
            webhook_id: webhook_id(shop_id, order_id, sequence),
            payload: payload(change, sequence, now),
        };
        match self.queue.enqueue_notification(&message).await {
            Ok(()) => {
                tracing::info!(%shop_id, %order_id, label, sequence, "label notification queued")
            }
            Err(error) => {
                // The order is not failed for this: the receiver sees a gap
                // in the sequence, and `orders show` says `not_queued`.
                tracing::error!(%shop_id, %order_id, label, sequence, %error,
                    "label notification could not be queued; it is not sent");
                let update = DeliveryUpdate {
                    state: DeliveryState::NotQueued,
                    attempts: 0,
                    error: Some(error.to_string()),
                };
                let _ = self
                    .store
                    .update_notification(shop_id, order_id, sequence, &update, now.unix_timestamp())
                    .await;
            }
        }
    }
}
