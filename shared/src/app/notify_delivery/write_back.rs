//! Label write-backs, delivered: a notification on the write-back channel
//! is written into the shop's own order ([`crate::domain::write_back`])
//! through a [`ShopWriter`]. Retries, back-off and the dead-letter queue
//! are the notifications'; a permanent refusal ends the write-back as
//! `refused`, and a write-back that a later label's write-back will
//! overtake is `superseded` (the later one writes the current label).

use super::{Delivery, Outcomes};
use crate::app::transfer::Disposition;
use crate::domain::lifecycle::Label;
use crate::domain::notify::{Channel, DeliveryState, Payload};
use crate::domain::write_back::WriteBackTarget;
use crate::ports::{
    Clock, InboundMessage, NotificationMessage, NotificationQueue, NotificationSender,
    NotificationStore, ShopStore, ShopWriter, WriteOutcome,
};
use std::time::Instant;

/// A deployment that writes nothing back: every write-back is refused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoShopWriter;

impl ShopWriter for NoShopWriter {
    async fn write_label(
        &self,
        _target: &WriteBackTarget,
        _order_id: &str,
        _label: Label,
        _reason: Option<&str>,
        _deadline: Instant,
    ) -> WriteOutcome {
        WriteOutcome::Refused("this deployment has no shop writer".into())
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
    pub(super) async fn write_back(
        &self,
        message: &InboundMessage,
        notification: &NotificationMessage,
        deadline: Instant,
        outcomes: &mut Outcomes,
    ) -> Disposition {
        let shop_id = notification.shop_id.as_str();
        let order_id = notification.order_id.as_str();
        let target = match self.shops.get(shop_id).await {
            Ok(Some(shop)) => match WriteBackTarget::of(&shop) {
                Some(target) => target,
                None => {
                    tracing::info!("shop has no write_back settings any more; write-back dropped");
                    outcomes.add(notification, DeliveryState::Dropped, message, None);
                    return Disposition::Done;
                }
            },
            Ok(None) => {
                tracing::warn!("unknown shop; write-back dropped");
                return Disposition::Done;
            }
            Err(error) => {
                let error = format!("shop unreadable: {error}");
                return self
                    .failed(message, notification, error, None, outcomes)
                    .await;
            }
        };
        let change = serde_json::from_str::<Payload>(&notification.payload)
            .ok()
            .and_then(|p| Some((Label::parse(&p.data.label)?, p.data.reason)));
        let Some((label, reason)) = change else {
            tracing::error!("write-back message without a readable label dropped");
            return Disposition::Done;
        };
        if self.overtaken(notification).await {
            tracing::info!("a later label's write-back is on its way; this one is superseded");
            outcomes.add(notification, DeliveryState::Superseded, message, None);
            return Disposition::Done;
        }
        let outcome = self
            .writer
            .write_label(&target, order_id, label, reason.as_deref(), deadline)
            .await;
        match outcome {
            WriteOutcome::Written => {
                tracing::info!(label = label.as_str(), "label written back into the shop");
                outcomes.add(notification, DeliveryState::Delivered, message, None);
                Disposition::Done
            }
            WriteOutcome::Retry {
                error,
                after_seconds,
            } => {
                self.failed(message, notification, error, after_seconds, outcomes)
                    .await
            }
            WriteOutcome::Refused(error) => {
                tracing::error!(%error, label = label.as_str(),
                    "the shop refused the label write-back; not retried");
                outcomes.add(notification, DeliveryState::Refused, message, Some(error));
                Disposition::Done
            }
        }
    }

    /// Whether a later write-back of the order is recorded and queued: it
    /// writes the order's then current label, so this older one would only
    /// be undone (or, arriving last, undo it). Unreadable: not overtaken
    /// (writing is idempotent).
    async fn overtaken(&self, notification: &NotificationMessage) -> bool {
        match self
            .store
            .notifications(
                Channel::WriteBack,
                &notification.shop_id,
                &notification.order_id,
            )
            .await
        {
            Ok(records) => records.iter().any(|record| {
                record.sequence > notification.sequence && record.state != DeliveryState::NotQueued
            }),
            Err(error) => {
                tracing::warn!(%error, "write-backs unreadable; writing this one");
                false
            }
        }
    }
}
