//! Label notifications end to end: transfer (real handler, moto, sandbox)
//! announces each label change on the notification queue; the transfer
//! handler, polled on that queue, POSTs them signed to a real HTTP
//! receiver, retries while the receiver is down, and records delivery.

use bridge::domain::lifecycle::Label;
use bridge::domain::notify::{Channel, DeliveryState, Payload};
use bridge::domain::secret::Secret;
use bridge::domain::shop::WebhookSecret;
use bridge::domain::webhook::{verify, SignatureHeaders};
use bridge::ports::NotificationStore;
use integration_tests::*;
use local_stack::receiver::{NotificationReceiver, Received};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);
const NOTIFY_SECRET: &str = "whsec_bGFiZWwgbm90aWZpY2F0aW9ucyB0ZXN0IHNlY3JldA==";

async fn shop_with_notify(stack: &Stack, shop_id: &str, receiver: &NotificationReceiver) {
    stack
        .put_shop_with_notify(shop_id, &receiver.url(), NOTIFY_SECRET)
        .await;
}

/// Checks the Standard Webhooks signature and returns the payload.
fn verified(received: &Received) -> Payload {
    let secrets = [WebhookSecret {
        secret: Secret::new(NOTIFY_SECRET),
        valid_until: None,
    }];
    let headers = SignatureHeaders {
        id: received.header("webhook-id"),
        timestamp: received.header("webhook-timestamp"),
        signature: received.header("webhook-signature"),
    };
    verify(
        &secrets,
        &headers,
        received.body.as_bytes(),
        time::OffsetDateTime::now_utc(),
    )
    .expect("signed with the shop's notify secret");
    assert_eq!(received.header("content-type"), Some("application/json"));
    serde_json::from_str(&received.body).expect("payload parses")
}

/// Polls the notification queue until the receiver accepted `count`.
async fn accepted(stack: &Stack, receiver: &NotificationReceiver, count: usize) -> Vec<Received> {
    let started = Instant::now();
    while receiver.accepted().len() < count {
        assert!(
            started.elapsed() < LIMIT,
            "{} of {count} notifications accepted: {:?}",
            receiver.accepted().len(),
            receiver.received()
        );
        stack.poll_notifications().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    receiver.accepted()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_changes_arrive_signed_numbered_and_in_order() {
    let stack = Stack::start().await;
    let receiver = NotificationReceiver::start(0).await.expect("receiver");
    shop_with_notify(&stack, "acme", &receiver).await;

    let body = order_event("order.paid", "5001", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_5001", &body).await.0, 202);
    let record = stack
        .transfer_until("acme", "5001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);

    let arrived = accepted(&stack, &receiver, 2).await;
    let payloads: Vec<Payload> = arrived.iter().map(verified).collect();
    let labels: Vec<(u64, &str)> = payloads
        .iter()
        .map(|p| (p.data.sequence, p.data.label.as_str()))
        .collect();
    assert_eq!(labels, [(1, "e-conomic-pending"), (2, "e-conomic-ok")]);
    let invoice = payloads[1]
        .data
        .invoice
        .as_ref()
        .expect("ok names the invoice");
    let drafts = stack.sandbox.drafts(0);
    assert_eq!(
        invoice.draft_invoice_number,
        Some(drafts[0].draft_invoice_number)
    );
    assert_eq!(Some(invoice.customer_number), record.customer_number);
    assert_ne!(
        arrived[0].header("webhook-id"),
        arrived[1].header("webhook-id")
    );

    let stored = stack
        .order_store()
        .notifications(Channel::Notify, "acme", "5001")
        .await
        .expect("notifications");
    assert_eq!(stored.len(), 2);
    assert!(stored
        .iter()
        .all(|n| n.state == DeliveryState::Delivered && n.attempts == 1));
    assert_eq!(stack.depth(&stack.notify_queues.queue_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_down_for_a_while_gets_every_notification_once_back() {
    let stack = Stack::start().await;
    let receiver = NotificationReceiver::start(0).await.expect("receiver");
    shop_with_notify(&stack, "acme", &receiver).await;
    receiver.set_down(true);

    // Transfers are not held up by the receiver: both orders end ok and
    // failed while every POST is refused.
    let good = order_event("order.paid", "6001", "239.00");
    let bad = order_event("order.paid", "6002", "500.00");
    assert_eq!(stack.send_signed("acme", "msg_6001", &good).await.0, 202);
    assert_eq!(stack.send_signed("acme", "msg_6002", &bad).await.0, 202);
    let ok = stack
        .transfer_until("acme", "6001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(ok.label, Label::Ok);
    let failed = stack
        .transfer_until("acme", "6002", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(failed.label, Label::Failed);

    for _ in 0..3 {
        stack.poll_notifications().await;
    }
    assert!(receiver.accepted().is_empty());
    assert!(receiver.received().len() >= 4, "{:?}", receiver.received());
    let stored = stack
        .order_store()
        .notifications(Channel::Notify, "acme", "6001")
        .await
        .expect("notifications");
    assert!(
        stored.iter().all(|n| n.state == DeliveryState::Retrying),
        "{stored:?}"
    );
    assert_eq!(
        stored[0].last_error.as_deref(),
        Some("receiver answered HTTP 503")
    );

    receiver.set_down(false);
    let arrived = accepted(&stack, &receiver, 4).await;
    // Each notification once (its webhook-id is the same on every try),
    // and per order the sequence orders the labels.
    let mut seen: Vec<(String, u64, String)> = arrived
        .iter()
        .map(verified)
        .map(|p| (p.data.order_id, p.data.sequence, p.data.label))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("6001".into(), 1, "e-conomic-pending".into()),
            ("6001".into(), 2, "e-conomic-ok".into()),
            ("6002".into(), 1, "e-conomic-pending".into()),
            ("6002".into(), 2, "e-conomic-failed".into()),
        ]
    );
    let failed_payload = arrived
        .iter()
        .map(verified)
        .find(|p| p.data.label == "e-conomic-failed")
        .expect("failure announced");
    assert_eq!(failed_payload.data.reason, failed.last_error);
    let retried = receiver
        .received()
        .iter()
        .filter(|r| r.header("webhook-id") == arrived[0].header("webhook-id"))
        .count();
    assert!(
        retried >= 2,
        "refused first, then accepted under the same id"
    );
    for order_id in ["6001", "6002"] {
        let stored = stack
            .order_store()
            .notifications(Channel::Notify, "acme", order_id)
            .await
            .expect("notifications");
        assert!(
            stored.iter().all(|n| n.state == DeliveryState::Delivered
                && n.attempts >= 2
                && n.last_error.is_none()),
            "{stored:?}"
        );
    }
    assert_eq!(stack.depth(&stack.notify_queues.queue_url).await, 0);
    assert_eq!(
        stack.sandbox.drafts(0).len(),
        1,
        "one invoice, for the good order"
    );
}
