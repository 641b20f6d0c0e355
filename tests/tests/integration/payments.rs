//! Customer payments end to end: signed `order.paid` webhooks through the
//! real handlers, DynamoDB and SQS in moto, the booked invoice and its
//! payment voucher in the sandbox. A lost voucher answer and duplicate
//! webhooks still make exactly one payment, booking the journal settles
//! the invoice, and a shop with payments off posts none.

use bridge::domain::lifecycle::Label;
use economic_sandbox::Faults;
use integration_tests::*;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn voucher_posts(stack: &Stack) -> usize {
    stack
        .sandbox
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/journals/"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_order_gets_one_payment_through_a_lost_answer_and_duplicates() {
    let stack = Stack::with_options(StackOptions::default()).await;
    stack
        .put_shop(
            "acme",
            true,
            json!({"auto_book": true,
                   "payments": {"enabled": true, "journal": 2, "contra_accounts": {"card": 5830}}}),
        )
        .await;
    // The voucher is entered, its answer lost.
    stack.sandbox.set_faults(Faults {
        fail_next_vouchers_after_commit: 1,
        ..Faults::default()
    });
    let paid = order_event("order.paid", "7101", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_7101", &paid).await.0, 202);
    let (_, again) = stack.send_signed("acme", "msg_7101", &paid).await;
    assert_eq!(again["status"], "duplicate");

    let order = stack
        .transfer_until("acme", "7101", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(order.label, Label::Ok, "{:?}", order.last_error);
    let booked = order.booked_invoice_number.expect("booked");
    let entries = stack.sandbox.journal_entries(0, 2);
    assert_eq!(entries.len(), 1, "one payment: {entries:?}");
    assert_eq!(entries[0].amount.normalize().to_string(), "-239");
    assert_eq!(entries[0].customer_invoice, Some(booked));
    assert_eq!(entries[0].contra_account, Some(5830));
    assert_eq!(entries[0].text.as_deref(), Some("Payment Order 7101"));
    assert_eq!(voucher_posts(&stack), 1, "found again, not posted again");
    assert!(
        order
            .history
            .iter()
            .any(|h| h.what.contains("found from an earlier attempt")),
        "{:?}",
        order.history
    );

    // The accountant books the journal: the invoice is paid.
    assert_eq!(stack.sandbox.book_journal(0, 2), Some(1));
    let invoice = stack
        .sandbox
        .booked(0)
        .into_iter()
        .find(|b| b.booked_invoice_number == booked)
        .expect("the invoice");
    assert!(invoice.remainder.is_zero(), "{}", invoice.remainder);

    // A late copy of the webhook changes nothing.
    let (_, late) = stack.send_signed("acme", "msg_7101_late", &paid).await;
    assert_eq!(late["status"], "duplicate");
    stack.poll_transfer().await;
    assert_eq!(voucher_posts(&stack), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shop_with_payments_off_posts_no_payment() {
    let stack = Stack::with_options(StackOptions::default()).await;
    stack
        .put_shop("plain", true, json!({"auto_book": true}))
        .await;
    let paid = order_event("order.paid", "7201", "239.00");
    assert_eq!(stack.send_signed("plain", "msg_7201", &paid).await.0, 202);
    let order = stack
        .transfer_until("plain", "7201", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(order.label, Label::Ok, "{:?}", order.last_error);
    assert!(order.booked_invoice_number.is_some());
    assert_eq!(voucher_posts(&stack), 0);
    assert!(stack.sandbox.journal_entries(0, 2).is_empty());
}
