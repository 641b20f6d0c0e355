//! Label notifications over the memory adapters: what transfer and rescan
//! announce, and how the notification queue's consumer delivers it.

use super::*;
use crate::adapters::memory::{MemoryNotificationQueue, MemoryNotificationSender};
use crate::app::notify::{NoNotifier, Notifier};
use crate::app::notify_delivery::{group_by_order, Delivery, DeliverySettings};
use crate::domain::notify::{Channel, DeliveryState, DeliveryUpdate, NotificationRecord, Payload};
use crate::domain::secret::Secret;
use crate::domain::shop::NotifyTarget;
use crate::domain::shop::WebhookSecret;
use crate::domain::webhook::{verify, SignatureHeaders};
use crate::ports::{Clock, NotificationStore, PostOutcome, StoreError};
use std::sync::atomic::{AtomicUsize, Ordering};

const NOTIFY_SECRET: &str = "whsec_bm90aWZ5IHNlY3JldCBmb3IgdW5pdCB0ZXN0cw==";

type MemoryNotifier =
    Notifier<Arc<CountingStore>, Arc<MemoryNotificationQueue>, Arc<MemoryShopStore>, ManualClock>;

/// The order store as notifications see it, counting their writes.
#[derive(Debug, Default)]
struct CountingStore {
    orders: Arc<MemoryOrderStore>,
    records: AtomicUsize,
    updates: AtomicUsize,
    /// Per recorded notification: whether its order's `create_started`
    /// was already written.
    recorded_after_create_started: std::sync::Mutex<Vec<bool>>,
}

impl CountingStore {
    fn records(&self) -> usize {
        self.records.load(Ordering::SeqCst)
    }

    /// Writes of delivery states (one per `update_notifications`).
    fn updates(&self) -> usize {
        self.updates.load(Ordering::SeqCst)
    }
}

impl NotificationStore for CountingStore {
    async fn record_notification(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
        label: &str,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.records.fetch_add(1, Ordering::SeqCst);
        let create_started = self
            .orders
            .record(shop_id, order_id)
            .is_some_and(|order| order.create_started);
        self.recorded_after_create_started
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(create_started);
        self.orders
            .record_notification(channel, shop_id, order_id, label, now)
            .await
    }

    async fn update_notifications(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
        updates: &[(u64, &DeliveryUpdate)],
        now: i64,
    ) -> Result<(), StoreError> {
        self.updates.fetch_add(1, Ordering::SeqCst);
        self.orders
            .update_notifications(channel, shop_id, order_id, updates, now)
            .await
    }

    async fn notifications(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        self.orders.notifications(channel, shop_id, order_id).await
    }
}

/// The test shop with a `notify` target.
fn notified_shop() -> ShopConfig {
    let mut shop = shop();
    shop.notify = Some(NotifyTarget {
        url: "https://erp.example/bridge".into(),
        secrets: vec![WebhookSecret {
            secret: Secret::new(NOTIFY_SECRET),
            valid_until: None,
        }],
    });
    shop
}

struct Notifying {
    world: World,
    store: Arc<CountingStore>,
    queue: Arc<MemoryNotificationQueue>,
    receiver: Arc<MemoryNotificationSender>,
}

impl Notifying {
    fn new(label: Label, cause: Cause) -> Self {
        let world = World::with_order(label, cause);
        world.shops.insert(notified_shop());
        Notifying {
            store: Arc::new(CountingStore {
                orders: world.orders.clone(),
                ..CountingStore::default()
            }),
            queue: Arc::new(MemoryNotificationQueue::new(world.clock.clone())),
            receiver: Arc::new(MemoryNotificationSender::new()),
            world,
        }
    }

    fn notifier(&self) -> MemoryNotifier {
        Notifier::new(
            self.store.clone(),
            self.queue.clone(),
            self.world.shops.clone(),
            self.world.clock.clone(),
        )
    }

    async fn transfer_once(&self) -> Disposition {
        let message = self
            .world
            .queue
            .receive(1)
            .pop()
            .expect("a transfer message");
        let disposition = self
            .world
            .transfer()
            .with_notifier(self.notifier())
            .process(&message, far_deadline())
            .await;
        if disposition == Disposition::Done {
            self.world
                .queue
                .acknowledge(message.receipt_handle.as_deref().unwrap_or_default());
        }
        disposition
    }

    fn delivery(
        &self,
    ) -> Delivery<
        Arc<CountingStore>,
        Arc<MemoryNotificationQueue>,
        Arc<MemoryShopStore>,
        Arc<MemoryNotificationSender>,
        ManualClock,
    > {
        Delivery::new(
            self.store.clone(),
            self.queue.clone(),
            self.world.shops.clone(),
            self.receiver.clone(),
            self.world.clock.clone(),
            DeliverySettings {
                max_receive_count: 3,
                ..DeliverySettings::default()
            },
        )
    }

    /// Delivers every visible notification once, as one batch grouped
    /// per order as the transfer function does; returns the dispositions.
    async fn deliver_notifications(&self) -> Vec<Disposition> {
        let mut dispositions = Vec::new();
        for group in group_by_order(self.queue.receive()) {
            let outcomes = self.delivery().process_group(&group, far_deadline()).await;
            for (message, disposition) in group.iter().zip(outcomes) {
                if disposition == Disposition::Done {
                    self.queue.delete(&message.message_id);
                }
                dispositions.push(disposition);
            }
        }
        dispositions
    }

    /// The bodies the receiver accepted, each checked against its signature.
    fn received(&self) -> Vec<Payload> {
        let secrets = [WebhookSecret {
            secret: Secret::new(NOTIFY_SECRET),
            valid_until: None,
        }];
        self.receiver
            .sent()
            .iter()
            .map(|sent| {
                let header = |name: &str| {
                    sent.headers
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|(_, v)| v.as_str())
                };
                let headers = SignatureHeaders {
                    id: header("webhook-id"),
                    timestamp: header("webhook-timestamp"),
                    signature: header("webhook-signature"),
                };
                verify(
                    &secrets,
                    &headers,
                    sent.body.as_bytes(),
                    self.world.clock.now(),
                )
                .expect("signed with the shop's notify secret");
                assert_eq!(sent.url, "https://erp.example/bridge");
                serde_json::from_str(&sent.body).expect("payload parses")
            })
            .collect()
    }

    async fn states(&self) -> Vec<(String, DeliveryState)> {
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

#[tokio::test]
async fn an_ok_order_announces_pending_then_ok_with_its_invoice_signed_and_numbered() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    assert_eq!(n.transfer_once().await, Disposition::Done);
    assert_eq!(n.world.order().label, Label::Ok);
    assert_eq!(n.deliver_notifications().await, [Disposition::Done; 2]);

    let received = n.received();
    let labels: Vec<(u64, &str)> = received
        .iter()
        .map(|p| (p.data.sequence, p.data.label.as_str()))
        .collect();
    assert_eq!(labels, [(1, "e-conomic-pending"), (2, "e-conomic-ok")]);
    let invoice = received[1]
        .data
        .invoice
        .as_ref()
        .expect("ok names its invoice");
    assert_eq!(
        invoice.draft_invoice_number,
        n.world.order().draft_invoice_number
    );
    assert_eq!(
        Some(invoice.customer_number),
        n.world.order().customer_number
    );
    assert_eq!(received[0].kind, "order.label_changed");
    assert_ne!(
        n.receiver.sent()[0].headers[0].1,
        n.receiver.sent()[1].headers[0].1,
        "each notification has its own webhook-id"
    );
    assert_eq!(n.states().await, pending_and_ok_delivered());
}

/// What [`Notifying::states`] reads once both notifications got through.
fn pending_and_ok_delivered() -> [(String, DeliveryState); 2] {
    [
        ("e-conomic-pending".to_owned(), DeliveryState::Delivered),
        ("e-conomic-ok".to_owned(), DeliveryState::Delivered),
    ]
}

/// The queued messages as (sequence, label).
fn queued(n: &Notifying) -> Vec<(u64, String)> {
    n.queue
        .messages()
        .iter()
        .map(|m| {
            let payload: Payload = serde_json::from_str(&m.payload).expect("payload");
            (m.sequence, payload.data.label)
        })
        .collect()
}

#[tokio::test]
async fn the_ok_notification_is_recorded_by_the_ok_label_write_and_queued_once() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    assert_eq!(n.transfer_once().await, Disposition::Done);
    assert_eq!(
        queued(&n),
        [
            (1, "e-conomic-pending".to_owned()),
            (2, "e-conomic-ok".to_owned())
        ]
    );
    // Only pending took a write of its own; ok rode on `mark_ok`.
    assert_eq!(n.store.records(), 1);
    let stored = n
        .world
        .orders
        .notifications(Channel::Notify, SHOP, ORDER)
        .await
        .expect("notifications");
    let order = n.world.order();
    assert_eq!(
        (stored[1].state, stored[1].at),
        (DeliveryState::Queued, order.updated_at)
    );
}

#[tokio::test]
async fn without_a_notifier_the_ok_label_write_records_no_notification() {
    for notifier in [None, Some(NoNotifier)] {
        let world = World::with_order(Label::Pending, Cause::Webhook);
        world.shops.insert(notified_shop());
        let message = world.queue.receive(1).pop().expect("a transfer message");
        let disposition = world
            .transfer()
            .with_notifier(notifier)
            .process(&message, far_deadline())
            .await;
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(world.order().label, Label::Ok);
        assert_eq!(
            world
                .orders
                .notifications(Channel::Notify, SHOP, ORDER)
                .await
                .expect("notifications"),
            []
        );
    }
}

#[tokio::test]
async fn pending_is_recorded_after_the_create_started_write_beside_the_push() {
    // So its write overlaps the e-conomic calls, not the transfer's own
    // writes before them.
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    assert_eq!(n.transfer_once().await, Disposition::Done);
    assert_eq!(
        *n.store.recorded_after_create_started.lock().expect("lock"),
        [true]
    );
    assert_eq!(
        queued(&n),
        [
            (1, "e-conomic-pending".to_owned()),
            (2, "e-conomic-ok".to_owned())
        ]
    );
}

#[tokio::test]
async fn pending_is_still_announced_when_the_transfer_ends_before_create_started() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.world.orders.fail_next("mark_create_started");
    assert_eq!(n.transfer_once().await, Disposition::Retry);
    assert_eq!(n.world.order().label, Label::Pending);
    assert!(!n.world.order().create_started);
    assert_eq!(queued(&n), [(1, "e-conomic-pending".to_owned())]);
    assert_eq!(
        *n.store.recorded_after_create_started.lock().expect("lock"),
        [false]
    );
}

#[tokio::test]
async fn a_failed_order_announces_the_reason() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.world
        .invoicing
        .fail_next(permanent("e-conomic refused the customer's VAT zone"));
    assert_eq!(n.transfer_once().await, Disposition::Done);
    assert_eq!(n.world.order().label, Label::Failed);
    n.deliver_notifications().await;
    let received = n.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].data.label, "e-conomic-failed");
    assert_eq!(
        received[1].data.reason.as_deref(),
        n.world.order().last_error.as_deref()
    );
    assert!(received[1].data.invoice.is_none());
}

#[tokio::test]
async fn a_shop_without_a_notify_target_records_and_sends_nothing() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.world.shops.insert(shop());
    assert_eq!(n.transfer_once().await, Disposition::Done);
    assert_eq!(n.world.order().label, Label::Ok);
    assert!(n.queue.messages().is_empty());
    assert!(n.states().await.is_empty());
}

#[tokio::test]
async fn a_notification_queue_outage_never_fails_the_order() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.queue.set_failing(true);
    assert_eq!(n.transfer_once().await, Disposition::Done);
    assert_eq!(n.world.order().label, Label::Ok);
    assert_eq!(n.world.invoicing.invoices().len(), 1);
    assert_eq!(
        n.states().await,
        [
            ("e-conomic-pending".to_owned(), DeliveryState::NotQueued),
            ("e-conomic-ok".to_owned(), DeliveryState::NotQueued)
        ]
    );
}

#[tokio::test]
async fn a_store_outage_for_notifications_never_fails_the_order() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.world.orders.set_failing("record_notification", true);
    assert_eq!(n.transfer_once().await, Disposition::Done);
    assert_eq!(n.world.order().label, Label::Ok);
    // Pending is lost; ok, recorded with the label, is still sent.
    assert_eq!(queued(&n), [(1, "e-conomic-ok".to_owned())]);
    n.world.orders.set_failing("record_notification", false);
    assert_eq!(n.deliver_notifications().await, [Disposition::Done]);
    assert_eq!(
        n.states().await,
        [("e-conomic-ok".to_owned(), DeliveryState::Delivered)]
    );
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_retries_with_back_off_then_the_dead_letter_queue() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.transfer_once().await;
    n.receiver.answer_with(PostOutcome::Status(503));
    assert_eq!(n.deliver_notifications().await, [Disposition::Retry; 2]);
    let stored = n
        .world
        .orders
        .notifications(Channel::Notify, SHOP, ORDER)
        .await
        .unwrap();
    assert_eq!(stored[0].state, DeliveryState::Retrying);
    assert_eq!(
        stored[0].last_error.as_deref(),
        Some("receiver answered HTTP 503")
    );
    // Hidden for the back-off (30 s after the first try), not redelivered at once.
    assert!(n.queue.receive().is_empty());
    n.world.clock.advance(30);
    n.receiver
        .answer_with(PostOutcome::Unreachable("connection refused".into()));
    assert_eq!(n.deliver_notifications().await, [Disposition::Retry; 2]);
    n.world.clock.advance(60);
    // The third try is the last (max_receive_count 3): dead-lettered.
    assert_eq!(n.deliver_notifications().await, [Disposition::Retry; 2]);
    assert_eq!(
        n.states().await,
        [
            ("e-conomic-pending".to_owned(), DeliveryState::DeadLettered),
            ("e-conomic-ok".to_owned(), DeliveryState::DeadLettered)
        ]
    );
    let stored = n
        .world
        .orders
        .notifications(Channel::Notify, SHOP, ORDER)
        .await
        .unwrap();
    assert_eq!(stored[1].attempts, 3);
    assert_eq!(n.world.order().label, Label::Ok, "the order is untouched");
}

#[tokio::test]
async fn an_orders_notifications_delivered_in_one_batch_are_recorded_in_one_write() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.transfer_once().await;
    assert_eq!(n.deliver_notifications().await, [Disposition::Done; 2]);
    assert_eq!(n.store.updates(), 1);
    assert_eq!(n.states().await, pending_and_ok_delivered());
}

#[tokio::test]
async fn a_batch_whose_second_post_fails_records_delivered_and_retrying_in_one_write() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.transfer_once().await;
    n.receiver.answer_next_with(PostOutcome::Status(200));
    n.receiver.answer_next_with(PostOutcome::Status(502));
    assert_eq!(
        n.deliver_notifications().await,
        [Disposition::Done, Disposition::Retry]
    );
    assert_eq!(n.store.updates(), 1);
    let stored = n
        .world
        .orders
        .notifications(Channel::Notify, SHOP, ORDER)
        .await
        .unwrap();
    let states: Vec<(DeliveryState, u32, Option<&str>)> = stored
        .iter()
        .map(|s| (s.state, s.attempts, s.last_error.as_deref()))
        .collect();
    assert_eq!(
        states,
        [
            (DeliveryState::Delivered, 1, None),
            (
                DeliveryState::Retrying,
                1,
                Some("receiver answered HTTP 502")
            )
        ]
    );
    // Only the failed one comes back, after its back-off.
    n.world.clock.advance(30);
    assert_eq!(n.deliver_notifications().await, [Disposition::Done]);
    assert_eq!(n.store.updates(), 2);
    assert_eq!(n.states().await, pending_and_ok_delivered());
}

#[tokio::test]
async fn a_receiver_back_up_gets_every_notification() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.transfer_once().await;
    n.receiver.answer_with(PostOutcome::Status(500));
    n.deliver_notifications().await;
    n.receiver.answer_with(PostOutcome::Status(200));
    n.world.clock.advance(30);
    assert_eq!(n.deliver_notifications().await, [Disposition::Done; 2]);
    let accepted: Vec<u64> = n.received()[2..].iter().map(|p| p.data.sequence).collect();
    assert_eq!(accepted, [1, 2]);
    let stored = n
        .world
        .orders
        .notifications(Channel::Notify, SHOP, ORDER)
        .await
        .unwrap();
    assert!(stored
        .iter()
        .all(|s| s.state == DeliveryState::Delivered && s.attempts == 2));
    assert!(stored.iter().all(|s| s.last_error.is_none()));
}

#[tokio::test]
async fn a_repeat_of_the_same_label_is_not_announced_again() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    n.world
        .invoicing
        .fail_next(transient("e-conomic answered 503"));
    assert_eq!(n.transfer_once().await, Disposition::Retry);
    // Rescan's re-send of the still pending order: the label did not change.
    n.world.clock.advance(3600);
    n.world.enqueue(Cause::Rescan);
    while n.world.order().label == Label::Pending {
        if n.world.queue.receive(0).is_empty() {
            n.world.clock.advance(600);
        }
        n.transfer_once().await;
    }
    let labels: Vec<String> = n.states().await.into_iter().map(|(l, _)| l).collect();
    assert_eq!(labels, ["e-conomic-pending", "e-conomic-ok"]);
}

#[tokio::test]
async fn rescan_announces_the_failure_it_writes() {
    let n = Notifying::new(Label::Pending, Cause::Webhook);
    let mut record = n.world.order();
    record.lease_owner = Some(format!("m-last#{MAX_RECEIVES}"));
    record.lease_until = Some(T0 - 10);
    record.rescan_after = Some(T0 - 5);
    n.world.orders.insert(record);
    let report = n
        .world
        .rescan()
        .with_notifier(n.notifier())
        .run(T0)
        .await
        .expect("rescan");
    assert_eq!(report.gave_up, 1);
    n.deliver_notifications().await;
    let received = n.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].data.label, "e-conomic-failed");
    assert!(received[0]
        .data
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("last allowed delivery")));
}

#[test]
fn a_batch_is_grouped_per_order_in_sequence_order() {
    let message = |id: &str, order: &str, sequence: u64| InboundMessage {
        message_id: id.into(),
        receipt_handle: None,
        sent_at_ms: None,
        body: serde_json::to_string(&crate::ports::NotificationMessage {
            shop_id: SHOP.into(),
            order_id: order.into(),
            channel: Channel::Notify,
            sequence,
            webhook_id: format!("ntf_{order}_{sequence}"),
            payload: "{}".into(),
        })
        .unwrap(),
        receive_count: 1,
    };
    let garbage = InboundMessage {
        body: "{".into(),
        ..message("g", "x", 0)
    };
    let groups = group_by_order(vec![
        message("a3", "A", 3),
        message("b1", "B", 1),
        garbage,
        message("a1", "A", 1),
        message("a2", "A", 2),
    ]);
    let ids: Vec<Vec<&str>> = groups
        .iter()
        .map(|g| g.iter().map(|m| m.message_id.as_str()).collect())
        .collect();
    assert_eq!(ids, [vec!["a1", "a2", "a3"], vec!["b1"], vec!["g"]]);
}
