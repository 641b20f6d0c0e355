//! `mapping.document: order_draft` end to end: signed webhooks through the
//! real handlers (DynamoDB and SQS in moto) make e-conomic order drafts in
//! the sandbox: one per order under a lost answer and duplicates; a re-send
//! is refused while it exists, a refund is refused (no invoice to credit),
//! a cancellation deletes it.

use bridge::domain::lifecycle::Label;
use economic_sandbox::{FailMode, Faults};
use integration_tests::*;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn request(event_type: &str, order_id: &str) -> Vec<u8> {
    json!({"type": event_type, "order": {"id": order_id}})
        .to_string()
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_draft_is_made_once_kept_from_refunds_and_deleted_on_cancellation() {
    let stack = Stack::start().await;
    stack
        .put_shop(
            "acme",
            true,
            json!({"document": "order_draft", "credit_notes": {"enabled": true}}),
        )
        .await;

    // The create's answer is lost after e-conomic made the order draft,
    // and the shop sends the paid event twice.
    stack.sandbox.set_faults(Faults {
        fail_next_creates_after_commit: 1,
        fail_after_commit_mode: FailMode::Drop,
        ..Faults::default()
    });
    let paid = order_event("order.paid", "7301", "239.00");
    let (status, _) = stack.send_signed("acme", "w1", &paid).await;
    assert_eq!(status, 202);
    let (_, again) = stack.send_signed("acme", "w1", &paid).await;
    assert_eq!(again["status"], "duplicate");
    let ok = stack
        .transfer_until("acme", "7301", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(ok.label, Label::Ok, "{:?}", ok.last_error);
    stack.sandbox.set_faults(Faults::default());
    let orders = stack.sandbox.order_drafts(0);
    assert_eq!(orders.len(), 1, "one order draft");
    assert_eq!(orders[0].reference.as_deref(), Some("Order 7301"));
    assert_eq!(orders[0].gross_amount.normalize().to_string(), "239");
    assert_eq!(
        ok.draft_invoice_number,
        Some(orders[0].draft_invoice_number)
    );
    assert!(stack.sandbox.drafts(0).is_empty(), "no draft invoice");
    assert!(stack.sandbox.booked(0).is_empty());
    let number = orders[0].draft_invoice_number;

    // A re-send is refused while the order draft exists.
    stack
        .send_signed("acme", "w2", &request("order.resend", "7301"))
        .await;
    let refused = stack
        .transfer_until("acme", "7301", LIMIT, |r| {
            r.history.iter().any(|h| h.what.contains("re-send refused"))
        })
        .await;
    assert_eq!(refused.label, Label::Ok);
    assert_eq!(stack.sandbox.order_drafts(0).len(), 1);

    // A refund: no invoice to credit, failed with the reason.
    let refund = json!({"type": "order.refunded",
        "refund": {"id": "r1", "order_id": "7301", "currency": "DKK",
                   "amount": "50.00", "total": "50.00"}});
    let (status, _) = stack
        .send_signed("acme", "w3", refund.to_string().as_bytes())
        .await;
    assert_eq!(status, 202);
    let failed = stack
        .transfer_until("acme", "7301#refund#r1", LIMIT, |r| {
            r.label == Label::Failed
        })
        .await;
    let reason = failed.last_error.unwrap_or_default();
    assert!(
        reason.contains(&format!("order draft {number}"))
            && reason.contains("no invoice to credit"),
        "{reason}"
    );
    assert!(stack.sandbox.drafts(0).is_empty(), "no credit note");

    // The cancellation deletes it, by its number in /orders/drafts.
    stack
        .send_signed("acme", "w4", &request("order.cancelled", "7301"))
        .await;
    let cancelled = stack
        .transfer_until("acme", "7301", LIMIT, |r| r.label == Label::Cancelled)
        .await;
    assert_eq!(
        cancelled.last_error.as_deref(),
        Some(
            format!("cancelled by the shop: its order draft {number} was deleted in e-conomic")
                .as_str()
        )
    );
    assert!(stack.sandbox.order_drafts(0).is_empty());
    let deletes: Vec<String> = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(deletes, [format!("/orders/drafts/{number}")]);
    let invoice_calls = stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/invoices"))
        .count();
    assert_eq!(invoice_calls, 0, "nothing went to /invoices");
}
