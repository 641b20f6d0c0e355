//! Refunds end to end: signed `order.refunded` webhooks through the real
//! handlers, DynamoDB and SQS in moto, and credit notes in the sandbox.
//! A refund before its order's paid event, duplicates, and a lost answer
//! still make exactly one credit note per refund id.

use bridge::domain::lifecycle::Label;
use bridge::ports::CreditStore;
use economic_sandbox::Faults;
use integration_tests::*;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn refund_event(order_id: &str, refund_id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "order.refunded",
        "refund": {"id": refund_id, "order_id": order_id, "currency": "DKK",
                   "lines": [{"sku": "SKU-1", "quantity": "1", "amount": "100.00"}],
                   "shipping": "39.00", "reason": "returned", "total": "139.00"}
    }))
    .expect("json")
}

/// One scheduled rescan run.
async fn rescan_once(stack: &Stack) -> bridge::app::rescan::RescanReport {
    let event = lambda_runtime::LambdaEvent::new(json!({}), lambda_runtime::Context::default());
    rescan::handle(&stack.rescan, event).await.expect("rescan")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_before_paid_duplicates_and_a_lost_answer_make_one_credit_note() {
    let stack = Stack::with_options(StackOptions {
        rescan_min_age_seconds: 1,
        ..StackOptions::default()
    })
    .await;
    stack
        .put_shop("acme", true, json!({"credit_notes": {"enabled": true}}))
        .await;
    let refund_record = "7001#refund#r1";
    let credit_note = "Credit note 7001-r1";

    // The refund comes first (reordered webhooks), and twice.
    let refund = refund_event("7001", "r1");
    let (status, answer) = stack.send_signed("acme", "msg_r1", &refund).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        answer,
        json!({"status": "accepted", "order_id": "7001", "refund_id": "r1"})
    );
    let (_, again) = stack.send_signed("acme", "msg_r1", &refund).await;
    assert_eq!(again["status"], "duplicate");
    let (_, resent) = stack.send_signed("acme", "msg_r1_resent", &refund).await;
    assert_eq!(resent["status"], "accepted", "already pending: nothing new");

    // Transfer finds no invoice: the refund waits, pending.
    let waiting = stack
        .transfer_until("acme", refund_record, LIMIT, |r| r.last_error.is_some())
        .await;
    assert_eq!(waiting.label, Label::Pending);
    assert!(
        waiting
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("waiting for the invoice")),
        "{waiting:?}"
    );
    assert_eq!(stack.sandbox.drafts_with_reference(0, credit_note), 0);

    // The order is paid and invoiced; its basis is stored with it.
    let paid = order_event("order.paid", "7001", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_paid", &paid).await.0, 202);
    let order = stack
        .transfer_until("acme", "7001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(order.label, Label::Ok, "{:?}", order.last_error);
    let account = stack
        .order_store()
        .credit_account("acme", "7001")
        .await
        .expect("read")
        .expect("order");
    assert!(account.basis.is_some());

    // The credit note's create answer is lost once; rescan brings the
    // waiting refund back.
    stack.sandbox.set_faults(Faults {
        fail_next_creates_after_commit: 1,
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    loop {
        let report = rescan_once(&stack).await;
        if report.enqueued > 0 || started.elapsed() > Duration::from_secs(10) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let credited = stack
        .transfer_until("acme", refund_record, LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(credited.label, Label::Ok, "{:?}", credited.last_error);
    assert_eq!(stack.sandbox.drafts_with_reference(0, credit_note), 1);
    let note = stack
        .sandbox
        .drafts(0)
        .into_iter()
        .find(|d| d.reference.as_deref() == Some(credit_note))
        .expect("the credit note");
    assert_eq!(note.gross_amount.normalize().to_string(), "-139");
    assert_eq!(note.customer_number, order.customer_number.unwrap_or(0));
    assert!(note.document["notes"]["heading"]
        .as_str()
        .is_some_and(|h| h.contains(&format!(
            "invoice {}",
            order.draft_invoice_number.unwrap_or(0)
        ))));

    // Late copies of the refund are duplicates; still one credit note.
    let (_, late) = stack.send_signed("acme", "msg_r1_late", &refund).await;
    assert_eq!(late["status"], "duplicate");
    rescan_once(&stack).await;
    stack.poll_transfer().await;
    assert_eq!(stack.sandbox.drafts_with_reference(0, credit_note), 1);
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
}
