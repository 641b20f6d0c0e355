//! The payment step over the memory adapters: exactly one customer payment
//! per order under lost answers, crashes after the mark, a journal booked
//! between attempts and redeliveries; payments off make no call; and a
//! payment that cannot be registered never fails the booked order.

use super::*;
use crate::app::transfer::{PAYMENT_KEY_TRUST_SECONDS, PAYMENT_NOT_REGISTERED};
use rust_decimal_macros::dec;

impl World {
    /// The test shop booking its invoices, with card payments registered
    /// in journal 2 against clearing account 5830.
    async fn with_payments() -> World {
        let world = World::with_order(Label::Pending, Cause::Webhook);
        let mut shop = shop();
        shop.mapping.auto_book = true;
        shop.mapping.payments = serde_json::from_value(serde_json::json!({
            "enabled": true, "journal": 2, "contra_accounts": {"card": 5830}
        }))
        .expect("payments config");
        shop.mapping.check().expect("a valid configuration");
        world.shops.put(&shop).await.expect("shop stored");
        world
    }

    /// Delivers the next message after its retry delay has passed.
    async fn redeliver_after(&self, message: &InboundMessage) -> (InboundMessage, Disposition) {
        self.clock
            .advance(self.queue.hidden_for(&message.message_id).unwrap_or(0));
        self.deliver().await
    }

    fn payment_history(&self) -> Vec<String> {
        self.order()
            .history
            .iter()
            .filter(|h| h.what.contains("payment"))
            .map(|h| h.what.clone())
            .collect()
    }
}

#[tokio::test]
async fn a_booked_card_order_gets_one_payment_on_its_invoice() {
    let world = World::with_payments().await;
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Ok);
    let payments = world.invoicing.payments();
    assert_eq!(payments.len(), 1);
    let plan = &payments[0].plan;
    assert_eq!(plan.amount, dec!(348.90));
    assert_eq!(plan.entry_amount(), dec!(-348.90));
    assert_eq!(plan.contra_account, 5830);
    assert_eq!(plan.journal, 2);
    assert_eq!(Some(plan.invoice_number), order.booked_invoice_number);
    assert_eq!(plan.text, "Payment Order 1001");
    // Dated like the invoice (the day order.paid arrived).
    assert_eq!(plan.date, world.invoicing.invoices()[0].date);
    let note = "payment of 348.9 DKK registered in journal 2 (voucher 2027-1) against account 5830";
    assert_eq!(world.payment_history(), [note]);
    assert_eq!(
        world.orders.payment_note(SHOP, ORDER).as_deref(),
        Some(note)
    );
}

#[tokio::test]
async fn payments_off_make_no_payment_call() {
    // Booking on, payments off (the default).
    let world = World::with_order(Label::Pending, Cause::Webhook);
    let mut shop = shop();
    shop.mapping.auto_book = true;
    world.shops.put(&shop).await.expect("shop stored");
    world.deliver().await;
    assert_eq!(world.order().label, Label::Ok);
    assert!(world.order().booked_invoice_number.is_some());
    assert_eq!(world.invoicing.payment_posts(), 0);
    assert_eq!(world.orders.payment_started_at(SHOP, ORDER), None);
    assert!(world.payment_history().is_empty());
}

#[tokio::test]
async fn a_lost_answer_on_the_post_leaves_one_payment() {
    let world = World::with_payments().await;
    world
        .invoicing
        .fail_next_payment_after_post(transient("e-conomic did not answer in time"));
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.order().label, Label::Pending);
    assert_eq!(world.invoicing.payments().len(), 1, "the entry exists");

    let (_, disposition) = world.redeliver_after(&message).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.payments().len(), 1, "no second payment");
    assert_eq!(
        world.invoicing.payment_posts(),
        1,
        "found, not posted again"
    );
    assert_eq!(world.invoicing.invoices().len(), 1, "no second invoice");
    let history = world.payment_history();
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0].contains("found from an earlier attempt"),
        "{history:?}"
    );
}

#[tokio::test]
async fn a_crash_after_the_post_leaves_one_payment() {
    let world = World::with_payments().await;
    // The post succeeds; the worker dies before it can write anything
    // more (the note and the ok label fail as an outage would).
    world.orders.fail_next("record_payment");
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert!(world.orders.payment_started_at(SHOP, ORDER).is_some());
    assert_eq!(world.invoicing.payments().len(), 1);

    let (_, disposition) = world.redeliver_after(&message).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.payments().len(), 1, "no second payment");
    assert_eq!(world.invoicing.payment_posts(), 1);
}

#[tokio::test]
async fn a_crash_after_the_mark_but_before_the_post_posts_once() {
    let world = World::with_payments().await;
    world
        .invoicing
        .fail_next_payment(transient("connection reset before the request was sent"));
    let (message, _) = world.deliver().await;
    assert!(world.orders.payment_started_at(SHOP, ORDER).is_some());
    assert!(world.invoicing.payments().is_empty());

    let (_, disposition) = world.redeliver_after(&message).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.invoicing.payments().len(), 1);
    assert_eq!(
        world.invoicing.payment_posts(),
        2,
        "looked, found nothing, posted"
    );
}

#[tokio::test]
async fn a_journal_booked_before_the_retry_gets_no_second_payment() {
    let world = World::with_payments().await;
    world
        .invoicing
        .fail_next_payment_after_post(transient("e-conomic did not answer in time"));
    let (message, _) = world.deliver().await;
    // The accountant books the journal: the entry leaves it, the invoice's
    // remainder drops to 0.
    world.invoicing.book_journals();

    let (_, disposition) = world.redeliver_after(&message).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.payments().len(), 1, "no second payment");
    let history = world.payment_history();
    assert!(
        history[0].contains("booked already: 0 left to pay"),
        "{history:?}"
    );
}

#[tokio::test]
async fn an_old_mark_with_no_payment_found_is_reported_not_posted_over() {
    let world = World::with_payments().await;
    world
        .invoicing
        .fail_next_payment(transient("e-conomic had an internal error (500)"));
    let (message, _) = world.deliver().await;
    // The retry comes after the idempotency key can be trusted.
    world.clock.advance(PAYMENT_KEY_TRUST_SECONDS + 60);
    let (_, disposition) = world.redeliver_after(&message).await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Ok, "the booked invoice is not failed");
    assert!(world.invoicing.payments().is_empty(), "nothing posted");
    let history = world.payment_history();
    assert!(
        history[0].starts_with(PAYMENT_NOT_REGISTERED),
        "{history:?}"
    );
    assert!(history[0].contains("by hand in journal 2"), "{history:?}");
    assert!(world.queue.dead_letters().is_empty());
}

#[tokio::test]
async fn a_refused_payment_leaves_the_order_ok_with_the_reason() {
    let world = World::with_payments().await;
    world.invoicing.fail_next_payment(permanent(
        "e-conomic refused the request: journal does not exist (404)",
    ));
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert!(world.queue.dead_letters().is_empty());
    let note = world.orders.payment_note(SHOP, ORDER).expect("a note");
    assert!(note.starts_with(PAYMENT_NOT_REGISTERED), "{note}");
    assert!(note.contains("journal does not exist"), "{note}");
}

#[tokio::test]
async fn payments_failing_until_the_last_receive_end_ok_not_failed() {
    let world = World::with_payments().await;
    // Every post fails before anything is entered (the last receive's last
    // look tries once more).
    for _ in 0..=MAX_RECEIVES {
        world
            .invoicing
            .fail_next_payment(transient("e-conomic had an internal error (500)"));
    }
    let mut last = None;
    for receive in 1..=MAX_RECEIVES {
        let (message, disposition) = match &last {
            None => world.deliver().await,
            Some(previous) => world.redeliver_after(previous).await,
        };
        assert_eq!(message.receive_count, receive);
        let expected = if receive < MAX_RECEIVES {
            Disposition::Retry
        } else {
            Disposition::Done
        };
        assert_eq!(disposition, expected);
        last = Some(message);
    }
    let order = world.order();
    assert_eq!(order.label, Label::Ok, "a booked invoice never ends failed");
    assert!(world.queue.dead_letters().is_empty());
    assert_eq!(world.invoicing.invoices().len(), 1);
    assert!(world.invoicing.payments().is_empty());
    let note = world.orders.payment_note(SHOP, ORDER).expect("a note");
    assert!(note.starts_with(PAYMENT_NOT_REGISTERED), "{note}");
}

#[tokio::test]
async fn an_order_paid_by_a_method_without_a_clearing_account_gets_none_and_says_so() {
    let world = World::with_payments().await;
    let mut shop = world.shops.get(SHOP).await.expect("read").expect("shop");
    shop.mapping.payments.contra_accounts =
        std::collections::BTreeMap::from([("mobilepay".to_owned(), 5840)]);
    world.shops.put(&shop).await.expect("shop stored");
    world.deliver().await;
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.payment_posts(), 0);
    let history = world.payment_history();
    assert!(history[0].contains("payment method `card`"), "{history:?}");
}
