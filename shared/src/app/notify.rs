//! Label notifications, announced: [`Notifier`], called by transfer and
//! rescan after they write a label. Delivering them is
//! [`crate::app::notify_delivery`].
//!
//! Announcing never fails or delays the order: it records the change as the
//! order's next notification and enqueues it, and whatever goes wrong is
//! logged (and, where possible, recorded as `not_queued`), never returned.

use crate::domain::notify::{
    payload, webhook_id, Channel, DeliveryState, DeliveryUpdate, LabelChange,
};
use crate::domain::write_back::{writes_back, WriteBackTarget};
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
/// target, and label write-backs for shops whose platform settings have a
/// `write_back` section.
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
        let shop = match self.shops.get(shop_id).await {
            Ok(Some(shop)) => shop,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%shop_id, %order_id, label, %error,
                    "shop unreadable; label notification not sent");
                return;
            }
        };
        if shop.notify.is_some() {
            self.announce(Channel::Notify, change).await;
        }
        if writes_back(change.label) && WriteBackTarget::of(&shop).is_some() {
            self.announce(Channel::WriteBack, change).await;
        }
    }
}

impl<N, Q, S, C> Notifier<N, Q, S, C>
where
    N: NotificationStore,
    Q: NotificationQueue,
    S: ShopStore,
    C: Clock,
{
    /// Records `change` as the channel's next notification and queues it.
    async fn announce(&self, channel: Channel, change: &LabelChange) {
        let shop_id = change.shop_id.as_str();
        let order_id = change.order_id.as_str();
        let label = change.label.as_str();
        let channel_name = channel.as_str();
        let now = self.clock.now();
        let sequence = match self
            .store
            .record_notification(channel, shop_id, order_id, label, now.unix_timestamp())
            .await
        {
            Ok(Some(sequence)) => sequence,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%shop_id, %order_id, label, channel = channel_name, %error,
                    "label notification could not be recorded; it is not sent");
                return;
            }
        };
        let message = NotificationMessage {
            shop_id: shop_id.to_owned(),
            order_id: order_id.to_owned(),
            channel,
            sequence,
            webhook_id: webhook_id(shop_id, order_id, sequence),
            payload: payload(change, sequence, now),
        };
        match self.queue.enqueue_notification(&message).await {
            Ok(()) => {
                tracing::info!(%shop_id, %order_id, label, channel = channel_name, sequence,
                    "label notification queued")
            }
            Err(error) => {
                // The order is not failed for this: the receiver sees a gap
                // in the sequence, and `orders show` says `not_queued`.
                tracing::error!(%shop_id, %order_id, label, channel = channel_name, sequence,
                    %error, "label notification could not be queued; it is not sent");
                let update = DeliveryUpdate {
                    state: DeliveryState::NotQueued,
                    attempts: 0,
                    error: Some(error.to_string()),
                };
                let _ = self
                    .store
                    .update_notification(
                        channel,
                        shop_id,
                        order_id,
                        sequence,
                        &update,
                        now.unix_timestamp(),
                    )
                    .await;
            }
        }
    }
}
