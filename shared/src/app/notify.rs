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
use crate::domain::shop::ShopConfig;
use crate::domain::write_back::{writes_back, WriteBackTarget};
use crate::ports::{Clock, NotificationMessage, NotificationQueue, NotificationStore, ShopStore};
use std::future::Future;
use time::OffsetDateTime;
use tokio::sync::oneshot;

/// A `notify`-channel notification already recorded with the label's own
/// write (transfer's `mark_ok`): it only has to be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedNotification {
    pub sequence: u64,
    /// Epoch seconds it was recorded at (the payload's timestamp).
    pub at: i64,
}

/// Where label changes are announced.
pub trait LabelNotifier: Send + Sync {
    /// Announces `change`; never fails (problems are logged).
    fn label_changed(&self, change: &LabelChange) -> impl Future<Output = ()> + Send;

    /// [`Self::label_changed`], dropping `recorded` once the `notify`
    /// channel's notification is recorded (or will not be), before it is
    /// queued: a label write that records the next notification waits for
    /// that only, not for the queue.
    fn label_changed_noting_record(
        &self,
        change: &LabelChange,
        recorded: oneshot::Sender<()>,
    ) -> impl Future<Output = ()> + Send;

    /// Whether this notifier records `notify`-channel notifications on the
    /// order, so a label write may record one itself
    /// ([`crate::ports::OkNotification`]) for [`Self::label_recorded`].
    fn records_notifications(&self) -> bool;

    /// Announces `change` whose `notify`-channel notification is recorded
    /// already (`notify`): queues that one, and announces the other
    /// channels as [`Self::label_changed`] does. Never fails.
    fn label_recorded(
        &self,
        change: &LabelChange,
        notify: RecordedNotification,
    ) -> impl Future<Output = ()> + Send;
}

/// Announces nothing (no notification queue in this deployment).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifier;

impl LabelNotifier for NoNotifier {
    async fn label_changed(&self, _change: &LabelChange) {}

    async fn label_changed_noting_record(
        &self,
        _change: &LabelChange,
        _recorded: oneshot::Sender<()>,
    ) {
    }

    fn records_notifications(&self) -> bool {
        false
    }

    async fn label_recorded(&self, _change: &LabelChange, _notify: RecordedNotification) {}
}

impl<T: LabelNotifier> LabelNotifier for Option<T> {
    async fn label_changed(&self, change: &LabelChange) {
        if let Some(notifier) = self {
            notifier.label_changed(change).await;
        }
    }

    async fn label_changed_noting_record(
        &self,
        change: &LabelChange,
        recorded: oneshot::Sender<()>,
    ) {
        if let Some(notifier) = self {
            notifier.label_changed_noting_record(change, recorded).await;
        }
    }

    fn records_notifications(&self) -> bool {
        self.as_ref().is_some_and(T::records_notifications)
    }

    async fn label_recorded(&self, change: &LabelChange, notify: RecordedNotification) {
        if let Some(notifier) = self {
            notifier.label_recorded(change, notify).await;
        }
    }
}

impl<T: LabelNotifier + ?Sized> LabelNotifier for std::sync::Arc<T> {
    fn label_changed(&self, change: &LabelChange) -> impl Future<Output = ()> + Send {
        (**self).label_changed(change)
    }

    fn label_changed_noting_record(
        &self,
        change: &LabelChange,
        recorded: oneshot::Sender<()>,
    ) -> impl Future<Output = ()> + Send {
        (**self).label_changed_noting_record(change, recorded)
    }

    fn records_notifications(&self) -> bool {
        (**self).records_notifications()
    }

    fn label_recorded(
        &self,
        change: &LabelChange,
        notify: RecordedNotification,
    ) -> impl Future<Output = ()> + Send {
        (**self).label_recorded(change, notify)
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
        let (recorded, _) = oneshot::channel();
        self.label_changed_noting_record(change, recorded).await;
    }

    async fn label_changed_noting_record(
        &self,
        change: &LabelChange,
        recorded: oneshot::Sender<()>,
    ) {
        let Some(shop) = self.shop(change).await else {
            return;
        };
        if shop.notify.is_some() {
            self.announce(Channel::Notify, change, Some(recorded)).await;
        } else {
            drop(recorded);
        }
        self.announce_write_back(&shop, change).await;
    }

    fn records_notifications(&self) -> bool {
        true
    }

    async fn label_recorded(&self, change: &LabelChange, notify: RecordedNotification) {
        // Recorded, so queued (or marked `not_queued`) whatever the shop
        // says now: a target removed since is the delivery's to drop.
        let at =
            OffsetDateTime::from_unix_timestamp(notify.at).unwrap_or_else(|_| self.clock.now());
        self.queue(Channel::Notify, change, notify.sequence, at)
            .await;
        if let Some(shop) = self.shop(change).await {
            self.announce_write_back(&shop, change).await;
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
    /// The order's shop; `None` (logged) when unknown or unreadable.
    async fn shop(&self, change: &LabelChange) -> Option<ShopConfig> {
        match self.shops.get(&change.shop_id).await {
            Ok(shop) => shop,
            Err(error) => {
                tracing::error!(shop_id = %change.shop_id, order_id = %change.order_id,
                    label = change.label.as_str(), %error,
                    "shop unreadable; label notification not sent");
                None
            }
        }
    }

    /// The write-back channel records its own notification (its own
    /// write: unlike `notify`, it does not skip repeats, and it is not
    /// folded into the label's write).
    async fn announce_write_back(&self, shop: &ShopConfig, change: &LabelChange) {
        if writes_back(change.label) && WriteBackTarget::of(shop).is_some() {
            self.announce(Channel::WriteBack, change, None).await;
        }
    }

    /// Records `change` as the channel's next notification and queues it;
    /// `recorded` is dropped between the two.
    async fn announce(
        &self,
        channel: Channel,
        change: &LabelChange,
        recorded: Option<oneshot::Sender<()>>,
    ) {
        let shop_id = change.shop_id.as_str();
        let order_id = change.order_id.as_str();
        let label = change.label.as_str();
        let now = self.clock.now();
        let sequence = self
            .store
            .record_notification(channel, shop_id, order_id, label, now.unix_timestamp())
            .await;
        drop(recorded);
        let sequence = match sequence {
            Ok(Some(sequence)) => sequence,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%shop_id, %order_id, label, channel = channel.as_str(), %error,
                    "label notification could not be recorded; it is not sent");
                return;
            }
        };
        self.queue(channel, change, sequence, now).await;
    }

    /// Queues the recorded notification `sequence` of `change`, recorded at `at`.
    async fn queue(
        &self,
        channel: Channel,
        change: &LabelChange,
        sequence: u64,
        at: OffsetDateTime,
    ) {
        let shop_id = change.shop_id.as_str();
        let order_id = change.order_id.as_str();
        let label = change.label.as_str();
        let channel_name = channel.as_str();
        let message = NotificationMessage {
            shop_id: shop_id.to_owned(),
            order_id: order_id.to_owned(),
            channel,
            sequence,
            webhook_id: webhook_id(shop_id, order_id, sequence),
            payload: payload(change, sequence, at),
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
                        self.clock.epoch_seconds(),
                    )
                    .await;
            }
        }
    }
}
