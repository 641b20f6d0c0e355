//! The shop's cancellations and re-sends end to end: signed `order.cancelled`
//! / `order.resend` webhooks through ingest, transfer (real handlers, moto)
//! against the e-conomic sandbox; one invoice at most in every case.

use bridge::domain::lifecycle::Label;
use bridge::ports::ShopStore;
use integration_tests::*;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn request(event_type: &str, order_id: &str) -> Vec<u8> {
    json!({"type": event_type, "order": {"id": order_id}})
        .to_string()
        .into_bytes()
}

async fn send(stack: &Stack, webhook_id: &str, body: &[u8]) -> (u16, String) {
    let (status, answer) = stack.send_signed("acme", webhook_id, body).await;
    (
        status,
        answer["status"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_before_invoicing_stops_the_order_even_racing_its_transfer() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;

    // Waiting for its trigger (order.paid), then cancelled: the later
    // order.paid changes nothing.
    let created = order_event("order.created", "7001", "239.00");
    assert_eq!(send(&stack, "w1", &created).await, (202, "recorded".into()));
    assert_eq!(
        send(&stack, "w2", &request("order.cancelled", "7001")).await,
        (202, "accepted".into())
    );
    let record = stack
        .transfer_until("acme", "7001", LIMIT, |r| r.label == Label::Cancelled)
        .await;
    assert!(record
        .last_error
        .as_deref()
        .is_some_and(|r| r.contains("before it was invoiced")));
    let paid = order_event("order.paid", "7001", "239.00");
    assert_eq!(send(&stack, "w3", &paid).await, (202, "duplicate".into()));

    // Pending with its message queued, cancelled before any poll: both
    // messages are in one batch; whichever takes the lease first, the
    // order ends cancelled without an invoice.
    let paid = order_event("order.paid", "7002", "239.00");
    assert_eq!(send(&stack, "w4", &paid).await, (202, "accepted".into()));
    assert_eq!(
        send(&stack, "w5", &request("order.cancelled", "7002")).await,
        (202, "accepted".into())
    );
    let record = stack
        .transfer_until("acme", "7002", LIMIT, |r| {
            r.label == Label::Cancelled && r.lease_owner.is_none()
        })
        .await;
    for _ in 0..3 {
        stack.poll_transfer().await;
    }
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
    assert_eq!(
        stack.sandbox.drafts_with_reference(0, "Order 7002"),
        0,
        "{record:?}"
    );
    assert!(stack.sandbox.drafts(0).is_empty());
    assert!(stack
        .peek(&stack.queues.dead_letter_queue_url)
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancellation_after_invoicing_deletes_our_draft_or_leaves_a_booked_invoice() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    let paid = order_event("order.paid", "7101", "239.00");
    send(&stack, "w1", &paid).await;
    let ok = stack
        .transfer_until("acme", "7101", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(ok.label, Label::Ok, "{:?}", ok.last_error);
    let draft = ok.draft_invoice_number.expect("a draft");
    // Another order's draft, which the cancellation must not touch.
    send(&stack, "w2", &order_event("order.paid", "7102", "239.00")).await;
    stack
        .transfer_until("acme", "7102", LIMIT, |r| r.label == Label::Ok)
        .await;

    send(&stack, "w3", &request("order.cancelled", "7101")).await;
    let record = stack
        .transfer_until("acme", "7101", LIMIT, |r| r.label == Label::Cancelled)
        .await;
    assert_eq!(
        record.last_error.as_deref(),
        Some(
            format!("cancelled by the shop: its draft invoice {draft} was deleted in e-conomic")
                .as_str()
        )
    );
    assert_eq!(stack.sandbox.drafts_with_reference(0, "Order 7101"), 0);
    assert_eq!(stack.sandbox.drafts_with_reference(0, "Order 7102"), 1);
    let deletes: Vec<String> = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(deletes, [format!("/invoices/drafts/{draft}")]);

    // Booked: the invoice stays, the label says a credit note is needed.
    stack
        .put_shop("acme", true, json!({"auto_book": true}))
        .await;
    send(&stack, "w4", &order_event("order.paid", "7103", "239.00")).await;
    let booked = stack
        .transfer_until("acme", "7103", LIMIT, |r| r.label == Label::Ok)
        .await;
    let number = booked.booked_invoice_number.expect("booked");
    send(&stack, "w5", &request("order.cancelled", "7103")).await;
    let record = stack
        .transfer_until("acme", "7103", LIMIT, |r| r.label == Label::Cancelled)
        .await;
    let reason = record.last_error.unwrap_or_default();
    assert!(
        reason.contains(&format!("invoice {number} was booked")),
        "{reason}"
    );
    assert_eq!(stack.sandbox.booked(0).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_re_send_from_the_shop_reopens_a_failed_order_and_an_ok_one_only_without_its_draft() {
    let stack = Stack::start().await;
    let mut shop = stack.put_shop("acme", true, json!({})).await;
    let shops = bridge::adapters::dynamodb::DynamoShopStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.shops_table,
    );
    let good_grant = shop.economic.agreement_grant_token.clone();
    shop.economic.agreement_grant_token = bridge::domain::secret::Secret::new("revoked-grant");
    shops.put(&shop).await.expect("put shop");

    send(&stack, "w1", &order_event("order.paid", "7201", "239.00")).await;
    let failed = stack
        .transfer_until("acme", "7201", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(failed.label, Label::Failed);

    // The merchant reconnects e-conomic and re-sends from the shop.
    shop.economic.agreement_grant_token = good_grant;
    shops.put(&shop).await.expect("put shop");
    assert_eq!(
        send(&stack, "w2", &request("order.resend", "7201")).await,
        (202, "accepted".into())
    );
    let ok = stack
        .transfer_until("acme", "7201", LIMIT, |r| r.label == Label::Ok)
        .await;
    assert_eq!(stack.sandbox.drafts_with_reference(0, "Order 7201"), 1);

    // Re-sent while its draft exists: refused, said in the history.
    send(&stack, "w3", &request("order.resend", "7201")).await;
    for _ in 0..3 {
        stack.poll_transfer().await;
    }
    let refused = stack.order("acme", "7201").await.expect("order");
    assert_eq!(refused.label, Label::Ok);
    assert!(
        refused.history.iter().any(|h| h
            .what
            .contains("re-send refused: the order is already invoiced")),
        "{:?}",
        refused.history
    );
    assert_eq!(stack.sandbox.drafts_with_reference(0, "Order 7201"), 1);

    // The merchant deletes the draft in e-conomic, then re-sends: a new draft.
    let old = ok.draft_invoice_number.expect("draft");
    stack.sandbox.with_agreement(0, |a| a.drafts.remove(&old));
    send(&stack, "w4", &request("order.resend", "7201")).await;
    let again = stack
        .transfer_until("acme", "7201", LIMIT, |r| {
            r.label == Label::Ok
                && r.draft_invoice_number.is_some()
                && r.history
                    .iter()
                    .any(|h| h.what.contains("no longer in e-conomic"))
        })
        .await;
    assert_eq!(stack.sandbox.drafts_with_reference(0, "Order 7201"), 1);
    assert!(again.draft_invoice_number.is_some());
}
