//! Label notifications: announcing a label change ([`Notifier`], called by
//! transfer and rescan after they write a label) and delivering it
//! ([`Delivery`], the notification queue's consumer, run by the transfer
//! function).
//!
//! Announcing never fails or delays the order: it records the change as the
//! order's next notification and enqueues it, and whatever goes wrong is
//! logged (and, where possible, recorded as `not_queued`), never returned.
//! Delivering signs the stored body with the shop's current `notify`
//! secrets (Standard Webhooks) and POSTs it; a non-2xx answer or no answer
//! is retried with back-off by the queue, then dead-lettered.

use crate::app::transfer::Disposition;
use crate::domain::lifecycle::retry_delay_seconds;
use crate::domain::notify::{
    payload, webhook_id, DeliveryState, DeliveryUpdate, LabelChange, NotifyTarget,
};
use crate::domain::webhook::sign_with_active;
use crate::ports::{
    Clock, InboundMessage, NotificationMessage, NotificationQueue, NotificationSender,
    NotificationStore, PostOutcome, ShopStore,
};
use std::future::Future;
use std::time::Instant;
use tracing::Instrument;

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

#[derive(Debug, Clone)]
pub struct DeliverySettings {
    /// The notification queue's redrive `maxReceiveCount`: the try on that
    /// receive is the last.
    pub max_receive_count: u32,
    pub retry_base_seconds: u32,
    pub retry_cap_seconds: u32,
}

impl Default for DeliverySettings {
    /// 12 tries over about 8 hours: 30 s, 1, 2, 4, 8, 16, 32 min, then hourly.
    fn default() -> Self {
        DeliverySettings {
            max_receive_count: 12,
            retry_base_seconds: 30,
            retry_cap_seconds: 3600,
        }
    }
}

/// The notification queue's consumer.
#[derive(Debug)]
pub struct Delivery<N, Q, S, P, C> {
    store: N,
    queue: Q,
    shops: S,
    sender: P,
    clock: C,
    settings: DeliverySettings,
}

impl<N, Q, S, P, C> Delivery<N, Q, S, P, C>
where
    N: NotificationStore,
    Q: NotificationQueue,
    S: ShopStore,
    P: NotificationSender,
    C: Clock,
{
    pub fn new(
        store: N,
        queue: Q,
        shops: S,
        sender: P,
        clock: C,
        settings: DeliverySettings,
    ) -> Self {
        Delivery {
            store,
            queue,
            shops,
            sender,
            clock,
            settings,
        }
    }

    /// Delivers one notification; every outcome is a disposition.
    pub async fn process(&self, message: &InboundMessage, deadline: Instant) -> Disposition {
        let Ok(notification) = serde_json::from_str::<NotificationMessage>(&message.body) else {
            tracing::error!(message_id = %message.message_id, "malformed notification message dropped");
            return Disposition::Done;
        };
        let span = tracing::info_span!(
            "notify",
            shop_id = %notification.shop_id,
            order_id = %notification.order_id,
            sequence = notification.sequence,
            attempt = message.receive_count,
        );
        self.deliver(message, &notification, deadline)
            .instrument(span)
            .await
    }

    async fn deliver(
        &self,
        message: &InboundMessage,
        notification: &NotificationMessage,
        deadline: Instant,
    ) -> Disposition {
        let target: NotifyTarget = match self.shops.get(&notification.shop_id).await {
            Ok(Some(shop)) => match shop.notify {
                Some(target) => target,
                None => {
                    tracing::info!("shop has no notify target any more; notification dropped");
                    self.record(notification, DeliveryState::Dropped, message, None)
                        .await;
                    return Disposition::Done;
                }
            },
            Ok(None) => {
                tracing::warn!("unknown shop; notification dropped");
                return Disposition::Done;
            }
            Err(error) => {
                return self
                    .failed(message, notification, format!("shop unreadable: {error}"))
                    .await
            }
        };
        let now = self.clock.now();
        let timestamp = now.unix_timestamp();
        let body = notification.payload.as_bytes();
        let Some(signature) = sign_with_active(
            &target.secrets,
            &notification.webhook_id,
            timestamp,
            body,
            now,
        ) else {
            let error = "the shop's notify target has no active whsec_ secret".to_owned();
            return self.failed(message, notification, error).await;
        };
        let headers = [
            ("webhook-id", notification.webhook_id.clone()),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ];
        let outcome = self
            .sender
            .post(&target.url, &headers, &notification.payload, deadline)
            .await;
        match outcome {
            PostOutcome::Status(status) if (200..300).contains(&status) => {
                tracing::info!(status, "label notification delivered");
                self.record(notification, DeliveryState::Delivered, message, None)
                    .await;
                Disposition::Done
            }
            PostOutcome::Status(status) => {
                let error = format!("receiver answered HTTP {status}");
                self.failed(message, notification, error).await
            }
            PostOutcome::Unreachable(error) => {
                let error = format!("receiver unreachable: {error}");
                self.failed(message, notification, error).await
            }
        }
    }

    async fn failed(
        &self,
        message: &InboundMessage,
        notification: &NotificationMessage,
        error: String,
    ) -> Disposition {
        if message.receive_count >= self.settings.max_receive_count {
            // SQS's redrive moves it to the dead-letter queue now.
            tracing::error!(%error, "label notification undeliverable; dead-lettered");
            self.record(
                notification,
                DeliveryState::DeadLettered,
                message,
                Some(error),
            )
            .await;
            return Disposition::Retry;
        }
        let delay = retry_delay_seconds(
            message.receive_count,
            self.settings.retry_base_seconds,
            self.settings.retry_cap_seconds,
        );
        tracing::warn!(%error, retry_in_seconds = delay, "label notification not delivered; will retry");
        self.record(notification, DeliveryState::Retrying, message, Some(error))
            .await;
        if let Some(handle) = &message.receipt_handle {
            if let Err(error) = self.queue.delay_notification(handle, delay).await {
                tracing::warn!(%error, "could not delay the retry; the visibility timeout applies");
            }
        }
        Disposition::Retry
    }

    async fn record(
        &self,
        notification: &NotificationMessage,
        state: DeliveryState,
        message: &InboundMessage,
        error: Option<String>,
    ) {
        let update = DeliveryUpdate {
            state,
            attempts: message.receive_count,
            error,
        };
        if let Err(error) = self
            .store
            .update_notification(
                &notification.shop_id,
                &notification.order_id,
                notification.sequence,
                &update,
                self.clock.epoch_seconds(),
            )
            .await
        {
            tracing::warn!(%error, state = state.as_str(), "could not record the notification's state");
        }
    }
}
