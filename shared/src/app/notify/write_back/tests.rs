//! Label write-backs over the memory adapters: which label changes are
//! written into the shop, and how the notification queue's consumer
//! delivers, supersedes, retries and ends them.

use super::*;
use crate::adapters::memory::{
    MemoryNotificationQueue, MemoryNotificationSender, MemoryShopWriter, WrittenLabel,
};
use crate::app::notify::Notifier;
use crate::app::notify_delivery::{Delivery, DeliverySettings};
use crate::domain::notify::{Channel, DeliveryState};
use crate::ports::{NotificationStore, WriteOutcome};

struct WritingBack {
    world: World,
    queue: Arc<MemoryNotificationQueue>,
    shop: Arc<MemoryShopWriter>,
}

/// The test shop as a Shopify store with an Admin API token.
fn shopify_shop_with_write_back() -> ShopConfig {
    let mut shop = shop();
    shop.platform = Some(
        serde_json::from_value(serde_json::json!({
            "kind": "shopify", "shop_domain": "demo.myshopify.com",
            "secrets": [{"secret": "shpss_demo"}],
            "write_back": {"access_token": "shpat_demo"}
        }))
        .expect("platform settings"),
    );
    shop
}

impl WritingBack {
    fn new() -> Self {
        let world = World::with_order(Label::Pending, Cause::Webhook);
        world.shops.insert(shopify_shop_with_write_back());
        WritingBack {
            queue: Arc::new(MemoryNotificationQueue::new(world.clock.clone())),
            shop: Arc::new(MemoryShopWriter::new()),
            world,
        }
    }

    async fn transfer(&self, cause: Option<Cause>) -> Disposition {
        if let Some(cause) = cause {
            self.world.enqueue(cause);
        }
        let message = self.world.queue.receive(1).pop().expect("a message");
        let notifier = Notifier::new(
            self.world.orders.clone(),
            self.queue.clone(),
            self.world.shops.clone(),
            self.world.clock.clone(),
        );
        let disposition = self
            .world
            .transfer()
            .with_notifier(notifier)
            .process(&message, far_deadline())
            .await;
        if disposition == Disposition::Done {
            self.world
                .queue
                .acknowledge(message.receipt_handle.as_deref().unwrap_or_default());
        }
        disposition
    }

    /// Delivers every visible message once, grouped and ordered as the
    /// transfer function does.
    async fn deliver(&self) -> Vec<Disposition> {
        let delivery = Delivery::new(
            self.world.orders.clone(),
            self.queue.clone(),
            self.world.shops.clone(),
            Arc::new(MemoryNotificationSender::new()),
            self.world.clock.clone(),
            DeliverySettings {
                max_receive_count: 3,
                ..DeliverySettings::default()
            },
        )
        .with_writer(self.shop.clone());
        let mut dispositions = Vec::new();
        for group in crate::app::notify_delivery::group_by_order(self.queue.receive()) {
            let outcomes = delivery.process_group(&group, far_deadline()).await;
            for (message, disposition) in group.iter().zip(outcomes) {
                if disposition == Disposition::Done {
                    self.queue.delete(&message.message_id);
                }
                dispositions.push(disposition);
            }
        }
        dispositions
    }

    async fn states(&self) -> Vec<(String, DeliveryState)> {
        self.world
            .orders
            .notifications(Channel::WriteBack, SHOP, ORDER)
            .await
            .expect("write-backs")
            .into_iter()
            .map(|n| (n.label, n.state))
            .collect()
    }

    /// The order's `notify`-channel notifications as (label, state).
    async fn notify_states(&self) -> Vec<(String, DeliveryState)> {
        self.world
            .orders
            .notifications(Channel::Notify, SHOP, ORDER)
            .await
            .expect("notifications")
            .into_iter()
            .map(|n| (n.label, n.state))
            .collect()
    }
}

fn written(label: Label, reason: Option<&str>) -> WrittenLabel {
    WrittenLabel {
        order_id: ORDER.into(),
        label,
        reason: reason.map(str::to_owned),
    }
}

#[tokio::test]
async fn an_ok_order_writes_only_its_outcome_into_the_shop() {
    let w = WritingBack::new();
    assert_eq!(w.transfer(None).await, Disposition::Done);
    assert_eq!(w.world.order().label, Label::Ok);
    // Pending is the merchant's re-send tag: never written by the bridge.
    assert_eq!(
        w.states().await,
        [("e-conomic-ok".to_owned(), DeliveryState::Queued)]
    );
    // No notify target: nothing on the notify channel.
    assert!(w.notify_states().await.is_empty());
    assert_eq!(w.deliver().await, [Disposition::Done]);
    assert_eq!(w.shop.calls(), [written(Label::Ok, None)]);
    assert_eq!(
        w.states().await,
        [("e-conomic-ok".to_owned(), DeliveryState::Delivered)]
    );
}

#[tokio::test]
async fn with_a_notify_target_too_the_ok_write_back_is_still_announced() {
    let w = WritingBack::new();
    let mut shop = shopify_shop_with_write_back();
    shop.notify = Some(crate::domain::shop::NotifyTarget {
        url: "https://erp.example/bridge".into(),
        secrets: vec![crate::domain::shop::WebhookSecret {
            secret: crate::domain::secret::Secret::new(
                "whsec_bm90aWZ5IHNlY3JldCBmb3IgdW5pdCB0ZXN0cw==",
            ),
            valid_until: None,
        }],
    });
    w.world.shops.insert(shop);
    assert_eq!(w.transfer(None).await, Disposition::Done);
    // The notify channel's ok rides on the label's write; the write-back
    // keeps its own record, and both are queued.
    assert_eq!(
        w.notify_states().await,
        [
            ("e-conomic-pending".to_owned(), DeliveryState::Queued),
            ("e-conomic-ok".to_owned(), DeliveryState::Queued)
        ]
    );
    assert_eq!(
        w.states().await,
        [("e-conomic-ok".to_owned(), DeliveryState::Queued)]
    );
    let channels: Vec<(Channel, u64)> = w
        .queue
        .messages()
        .iter()
        .map(|m| (m.channel, m.sequence))
        .collect();
    assert_eq!(
        channels,
        [
            (Channel::Notify, 1),
            (Channel::Notify, 2),
            (Channel::WriteBack, 1)
        ]
    );
    // One batch: each channel's outcomes land on its own list.
    assert_eq!(w.deliver().await, [Disposition::Done; 3]);
    assert_eq!(w.shop.calls(), [written(Label::Ok, None)]);
    assert_eq!(
        w.states().await,
        [("e-conomic-ok".to_owned(), DeliveryState::Delivered)]
    );
    assert_eq!(
        w.notify_states().await,
        [
            ("e-conomic-pending".to_owned(), DeliveryState::Delivered),
            ("e-conomic-ok".to_owned(), DeliveryState::Delivered)
        ]
    );
}

#[tokio::test]
async fn a_failure_then_a_failed_resend_are_both_written_with_their_reasons() {
    let w = WritingBack::new();
    w.world
        .invoicing
        .fail_next(permanent("product X is missing"));
    assert_eq!(w.transfer(None).await, Disposition::Done);
    assert_eq!(w.world.order().label, Label::Failed);
    let first_reason = w.world.order().last_error.expect("a reason");
    w.deliver().await;

    // The merchant re-sends; it fails again with another reason. The
    // second `failed` is written too (the first reason replaced, the
    // merchant's re-send tag taken away), though the label is the same.
    w.world
        .invoicing
        .fail_next(permanent("layout 9 is missing"));
    assert_eq!(w.transfer(Some(Cause::ShopResend)).await, Disposition::Done);
    assert_eq!(w.world.order().label, Label::Failed);
    let second_reason = w.world.order().last_error.expect("a reason");
    assert_ne!(first_reason, second_reason);
    assert_eq!(w.deliver().await, [Disposition::Done]);
    assert_eq!(
        w.shop.calls(),
        [
            written(Label::Failed, Some(&first_reason)),
            written(Label::Failed, Some(&second_reason))
        ]
    );

    // And the re-send that works writes ok.
    assert_eq!(w.transfer(Some(Cause::ShopResend)).await, Disposition::Done);
    assert_eq!(w.world.order().label, Label::Ok);
    w.deliver().await;
    assert_eq!(w.shop.calls().last(), Some(&written(Label::Ok, None)));
    assert_eq!(w.world.invoicing.invoices().len(), 1);
}

#[tokio::test]
async fn an_older_write_back_still_queued_is_superseded_by_the_later_one() {
    let w = WritingBack::new();
    w.world
        .invoicing
        .fail_next(permanent("product X is missing"));
    w.transfer(None).await;
    // Re-sent and ok before the failure's write-back was delivered.
    w.transfer(Some(Cause::ShopResend)).await;
    assert_eq!(w.world.order().label, Label::Ok);
    assert_eq!(w.deliver().await, [Disposition::Done, Disposition::Done]);
    assert_eq!(w.shop.calls(), [written(Label::Ok, None)]);
    assert_eq!(
        w.states().await,
        [
            ("e-conomic-failed".to_owned(), DeliveryState::Superseded),
            ("e-conomic-ok".to_owned(), DeliveryState::Delivered)
        ]
    );
}

#[tokio::test]
async fn a_refusal_ends_the_write_back_and_throttling_waits_as_the_shop_says() {
    let w = WritingBack::new();
    w.transfer(None).await;
    w.shop.answer_next(WriteOutcome::Retry {
        error: "Shopify: Throttled".into(),
        after_seconds: Some(200),
    });
    assert_eq!(w.deliver().await, [Disposition::Retry]);
    let stored = w
        .world
        .orders
        .notifications(Channel::WriteBack, SHOP, ORDER)
        .await
        .unwrap();
    assert_eq!(stored[0].state, DeliveryState::Retrying);
    assert_eq!(stored[0].last_error.as_deref(), Some("Shopify: Throttled"));
    // Hidden for the shop's 200 s, not the 30 s back-off.
    w.world.clock.advance(60);
    assert!(w.deliver().await.is_empty());
    w.world.clock.advance(141);
    w.shop.answer_next(WriteOutcome::Refused(
        "Shopify answered HTTP 401: the access token was rejected".into(),
    ));
    assert_eq!(w.deliver().await, [Disposition::Done], "not retried");
    assert!(w.queue.messages().is_empty());
    let stored = w
        .world
        .orders
        .notifications(Channel::WriteBack, SHOP, ORDER)
        .await
        .unwrap();
    assert_eq!(stored[0].state, DeliveryState::Refused);
    assert_eq!(stored[0].attempts, 2);
    assert!(stored[0]
        .last_error
        .as_deref()
        .is_some_and(|e| e.contains("401")));
    assert_eq!(w.world.order().label, Label::Ok, "the order is untouched");
}

#[tokio::test]
async fn a_shop_writer_outage_never_fails_the_order_and_removed_settings_drop_it() {
    let w = WritingBack::new();
    w.queue.set_failing(true);
    assert_eq!(w.transfer(None).await, Disposition::Done);
    assert_eq!(w.world.order().label, Label::Ok);
    assert_eq!(
        w.states().await,
        [("e-conomic-ok".to_owned(), DeliveryState::NotQueued)]
    );

    let w = WritingBack::new();
    w.transfer(None).await;
    w.world.shops.insert(shop());
    assert_eq!(w.deliver().await, [Disposition::Done]);
    assert!(w.shop.calls().is_empty());
    assert_eq!(
        w.states().await,
        [("e-conomic-ok".to_owned(), DeliveryState::Dropped)]
    );
}

#[tokio::test]
async fn a_cancellation_is_written_with_its_reason() {
    let w = WritingBack::new();
    let waiting = w.world.queue.receive(1).pop().expect("the order's message");
    w.world
        .queue
        .acknowledge(waiting.receipt_handle.as_deref().unwrap_or_default());
    assert_eq!(w.transfer(Some(Cause::Cancel)).await, Disposition::Done);
    assert_eq!(w.world.order().label, Label::Cancelled);
    w.deliver().await;
    let calls = w.shop.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].label, Label::Cancelled);
    assert!(calls[0]
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("before it was invoiced")));
}
