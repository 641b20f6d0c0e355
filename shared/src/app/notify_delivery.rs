//! Label notifications, delivered: the notification queue's consumer, run
//! by the transfer function. It signs the stored body with the shop's
//! current `notify` secrets (Standard Webhooks) and POSTs it; a non-2xx
//! answer or no answer is retried with back-off by the queue, then
//! dead-lettered. Every outcome is recorded on the order's notification:
//! those of one order's group, at its end, in one write per channel.
//! Label write-backs into the shop ride the same queue and states
//! ([`write_back`]).

mod write_back;

pub use write_back::NoShopWriter;

use crate::app::transfer::Disposition;
use crate::domain::lifecycle::retry_delay_seconds;
use crate::domain::notify::{Channel, DeliveryState, DeliveryUpdate};
use crate::domain::shop::NotifyTarget;
use crate::domain::webhook::sign_with_active;
use crate::ports::{
    Clock, InboundMessage, NotificationMessage, NotificationQueue, NotificationSender,
    NotificationStore, PostOutcome, ShopStore, ShopWriter,
};
use std::collections::BTreeMap;
use std::time::Instant;
use tracing::Instrument;

/// A batch of notification messages grouped per order, each group in
/// sequence order: a group is delivered one after the other (so one batch
/// reaches the receiver in order), the groups side by side. An unreadable
/// message is a group of its own.
pub fn group_by_order(messages: Vec<InboundMessage>) -> Vec<Vec<InboundMessage>> {
    type Group = ((String, String), Vec<(u64, InboundMessage)>);
    let mut groups: Vec<Group> = Vec::new();
    let mut unreadable = Vec::new();
    for message in messages {
        match serde_json::from_str::<NotificationMessage>(&message.body) {
            Ok(n) => {
                let key = (n.shop_id, n.order_id);
                match groups.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, group)) => group.push((n.sequence, message)),
                    None => groups.push((key, vec![(n.sequence, message)])),
                }
            }
            Err(_) => unreadable.push(vec![message]),
        }
    }
    groups
        .into_iter()
        .map(|(_, mut group)| {
            group.sort_by_key(|(sequence, _)| *sequence);
            group.into_iter().map(|(_, m)| m).collect()
        })
        .chain(unreadable)
        .collect()
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

/// The notification queue's consumer: POSTs to `notify` targets, and
/// writes labels into the shops with `writer`.
#[derive(Debug)]
pub struct Delivery<N, Q, S, P, C, W = NoShopWriter> {
    store: N,
    queue: Q,
    shops: S,
    sender: P,
    clock: C,
    settings: DeliverySettings,
    writer: W,
}

impl<N, Q, S, P, C> Delivery<N, Q, S, P, C> {
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
            writer: NoShopWriter,
        }
    }

    /// Writes labels back into the shops with `writer`.
    pub fn with_writer<W: ShopWriter>(self, writer: W) -> Delivery<N, Q, S, P, C, W> {
        Delivery {
            store: self.store,
            queue: self.queue,
            shops: self.shops,
            sender: self.sender,
            clock: self.clock,
            settings: self.settings,
            writer,
        }
    }
}

impl<N, Q, S, P, C, W> Delivery<N, Q, S, P, C, W>
where
    N: NotificationStore,
    Q: NotificationQueue,
    S: ShopStore,
    P: NotificationSender,
    C: Clock,
    W: ShopWriter,
{
    /// Delivers one order's notifications one after the other (a group of
    /// [`group_by_order`]) and then records their outcomes, one write per
    /// channel; every outcome is a disposition, one per message.
    pub async fn process_group(
        &self,
        group: &[InboundMessage],
        deadline: Instant,
    ) -> Vec<Disposition> {
        let mut outcomes = Outcomes::default();
        let mut dispositions = Vec::with_capacity(group.len());
        for message in group {
            dispositions.push(self.process(message, deadline, &mut outcomes).await);
        }
        self.save(outcomes).await;
        dispositions
    }

    /// Delivers one notification; its outcome is added to `outcomes`.
    async fn process(
        &self,
        message: &InboundMessage,
        deadline: Instant,
        outcomes: &mut Outcomes,
    ) -> Disposition {
        let Ok(notification) = serde_json::from_str::<NotificationMessage>(&message.body) else {
            tracing::error!(message_id = %message.message_id, "malformed notification message dropped");
            return Disposition::Done;
        };
        let span = tracing::info_span!(
            "notify",
            shop_id = %notification.shop_id,
            order_id = %notification.order_id,
            sequence = notification.sequence,
            channel = notification.channel.as_str(),
            attempt = message.receive_count,
        );
        match notification.channel {
            Channel::Notify => {
                self.deliver(message, &notification, deadline, outcomes)
                    .instrument(span)
                    .await
            }
            Channel::WriteBack => {
                self.write_back(message, &notification, deadline, outcomes)
                    .instrument(span)
                    .await
            }
        }
    }

    async fn deliver(
        &self,
        message: &InboundMessage,
        notification: &NotificationMessage,
        deadline: Instant,
        outcomes: &mut Outcomes,
    ) -> Disposition {
        let target: NotifyTarget = match self.shops.get(&notification.shop_id).await {
            Ok(Some(shop)) => match shop.notify {
                Some(target) => target,
                None => {
                    tracing::info!("shop has no notify target any more; notification dropped");
                    outcomes.add(notification, DeliveryState::Dropped, message, None);
                    return Disposition::Done;
                }
            },
            Ok(None) => {
                tracing::warn!("unknown shop; notification dropped");
                return Disposition::Done;
            }
            Err(error) => {
                return self
                    .failed(
                        message,
                        notification,
                        format!("shop unreadable: {error}"),
                        None,
                        outcomes,
                    )
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
            return self
                .failed(message, notification, error, None, outcomes)
                .await;
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
                outcomes.add(notification, DeliveryState::Delivered, message, None);
                Disposition::Done
            }
            PostOutcome::Status(status) => {
                let error = format!("receiver answered HTTP {status}");
                self.failed(message, notification, error, None, outcomes)
                    .await
            }
            PostOutcome::Unreachable(error) => {
                let error = format!("receiver unreachable: {error}");
                self.failed(message, notification, error, None, outcomes)
                    .await
            }
        }
    }

    /// A failed try: retried after the back-off (or `after_seconds`, when
    /// the receiver said, if that is longer), dead-lettered on the last.
    async fn failed(
        &self,
        message: &InboundMessage,
        notification: &NotificationMessage,
        error: String,
        after_seconds: Option<u32>,
        outcomes: &mut Outcomes,
    ) -> Disposition {
        if message.receive_count >= self.settings.max_receive_count {
            // SQS's redrive moves it to the dead-letter queue now.
            tracing::error!(%error, "label notification undeliverable; dead-lettered");
            outcomes.add(
                notification,
                DeliveryState::DeadLettered,
                message,
                Some(error),
            );
            return Disposition::Retry;
        }
        let delay = retry_delay_seconds(
            message.receive_count,
            self.settings.retry_base_seconds,
            self.settings.retry_cap_seconds,
        )
        .max(after_seconds.map_or(0, |s| s.min(12 * 3600) as i32));
        tracing::warn!(%error, retry_in_seconds = delay, "label notification not delivered; will retry");
        outcomes.add(notification, DeliveryState::Retrying, message, Some(error));
        if let Some(handle) = &message.receipt_handle {
            if let Err(error) = self.queue.delay_notification(handle, delay).await {
                tracing::warn!(%error, "could not delay the retry; the visibility timeout applies");
            }
        }
        Disposition::Retry
    }

    /// Writes the outcomes: one write per order and channel.
    async fn save(&self, outcomes: Outcomes) {
        let now = self.clock.epoch_seconds();
        for ((channel, shop_id, order_id), updates) in outcomes.per_order_and_channel() {
            if let Err(error) = self
                .store
                .update_notifications(channel, &shop_id, &order_id, &updates, now)
                .await
            {
                let sequences: Vec<u64> = updates.iter().map(|(sequence, _)| *sequence).collect();
                tracing::warn!(%shop_id, %order_id, channel = channel.as_str(), ?sequences, %error,
                    "could not record the notifications' states");
            }
        }
    }
}

/// An order's notifications on one channel: (channel, shop, order).
type OrderChannel = (Channel, String, String);

/// Delivery states decided while a group is delivered, written at its end.
#[derive(Debug, Default)]
struct Outcomes(Vec<(NotificationMessage, DeliveryUpdate)>);

impl Outcomes {
    fn add(
        &mut self,
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
        self.0.push((notification.clone(), update));
    }

    /// The updates per (channel, shop, order), one per sequence (a copy of
    /// a message delivered twice in one batch: its last outcome).
    fn per_order_and_channel(&self) -> BTreeMap<OrderChannel, Vec<(u64, &DeliveryUpdate)>> {
        let mut grouped: BTreeMap<_, Vec<(u64, &DeliveryUpdate)>> = BTreeMap::new();
        for (notification, update) in &self.0 {
            let key = (
                notification.channel,
                notification.shop_id.clone(),
                notification.order_id.clone(),
            );
            let updates = grouped.entry(key).or_default();
            updates.retain(|(sequence, _)| *sequence != notification.sequence);
            updates.push((notification.sequence, update));
        }
        grouped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(channel: Channel, order_id: &str, sequence: u64) -> NotificationMessage {
        NotificationMessage {
            shop_id: "shop".into(),
            order_id: order_id.into(),
            channel,
            sequence,
            webhook_id: format!("ntf_{order_id}_{sequence}"),
            payload: "{}".into(),
        }
    }

    fn message(receive_count: u32) -> InboundMessage {
        InboundMessage {
            message_id: "m".into(),
            receipt_handle: None,
            body: String::new(),
            receive_count,
            sent_at_ms: None,
        }
    }

    #[test]
    fn outcomes_are_written_per_order_and_channel_with_the_last_outcome_per_sequence() {
        let mut outcomes = Outcomes::default();
        // (channel, order, sequence, state, receive count); the last is a
        // second copy of A's second notification in the same batch.
        for (channel, order_id, sequence, state, count) in [
            (Channel::Notify, "A", 1, DeliveryState::Delivered, 1),
            (Channel::WriteBack, "A", 1, DeliveryState::Delivered, 1),
            (Channel::Notify, "B", 1, DeliveryState::Retrying, 1),
            (Channel::Notify, "A", 2, DeliveryState::Retrying, 1),
            (Channel::Notify, "A", 2, DeliveryState::Delivered, 2),
        ] {
            let n = notification(channel, order_id, sequence);
            outcomes.add(&n, state, &message(count), None);
        }
        let per_order = outcomes.per_order_and_channel();
        type Written<'a> = ((Channel, &'a str), Vec<(u64, DeliveryState, u32)>);
        let grouped: Vec<Written> = per_order
            .iter()
            .map(|((channel, _, order_id), updates)| {
                (
                    (*channel, order_id.as_str()),
                    updates
                        .iter()
                        .map(|(sequence, u)| (*sequence, u.state, u.attempts))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            grouped,
            [
                (
                    (Channel::Notify, "A"),
                    vec![
                        (1, DeliveryState::Delivered, 1),
                        (2, DeliveryState::Delivered, 2)
                    ]
                ),
                (
                    (Channel::Notify, "B"),
                    vec![(1, DeliveryState::Retrying, 1)]
                ),
                (
                    (Channel::WriteBack, "A"),
                    vec![(1, DeliveryState::Delivered, 1)]
                ),
            ]
        );
    }
}
