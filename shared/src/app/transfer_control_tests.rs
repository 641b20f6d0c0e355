//! The shop's cancellations and re-sends through transfer, over the memory
//! adapters: no duplicate invoice in any of them.

use super::*;

impl World {
    /// Transfers the order to ok (one draft).
    async fn invoiced(&self) {
        let (_, disposition) = self.deliver().await;
        assert_eq!(disposition, Disposition::Done);
        assert_eq!(self.order().label, Label::Ok);
    }

    fn history_has(&self, text: &str) -> bool {
        self.order().history.iter().any(|h| h.what.contains(text))
    }
}

#[tokio::test]
async fn a_cancellation_before_invoicing_stops_the_order_and_its_queued_message_does_nothing() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    // The cancellation overtakes the order's own message.
    let waiting = world.queue.receive(1).pop().expect("the order's message");
    world.enqueue(Cause::Cancel);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Cancelled);
    assert!(order
        .last_error
        .as_deref()
        .is_some_and(|r| r.contains("before it was invoiced")));
    assert_eq!(order.lease_owner, None);
    assert_eq!(order.rescan_after, None, "out of the rescan index");

    let disposition = world.transfer().process(&waiting, far_deadline()).await;
    assert_eq!(
        disposition,
        Disposition::Done,
        "acknowledged without effect"
    );
    assert!(world.invoicing.invoices().is_empty());
    assert_eq!(world.invoicing.pushes(), 0);
    assert_eq!(world.order().label, Label::Cancelled);
}

#[tokio::test]
async fn a_cancellation_after_the_draft_deletes_our_draft() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoiced().await;
    let draft = world.order().draft_invoice_number.expect("a draft");
    world.enqueue(Cause::Cancel);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert!(
        world.invoicing.invoices().is_empty(),
        "the draft is deleted"
    );
    let order = world.order();
    assert_eq!(order.label, Label::Cancelled);
    assert_eq!(
        order.last_error.as_deref(),
        Some(
            format!("cancelled by the shop: its draft invoice {draft} was deleted in e-conomic")
                .as_str()
        )
    );

    // A second cancellation (the shop sent it twice) changes nothing.
    world.enqueue(Cause::Cancel);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    assert_eq!(world.order(), order);
}

/// `mapping.document: order_draft`: the order becomes an order draft, a
/// re-send is refused while it exists, and a cancellation deletes it (by
/// its own collection and reference), saying so.
#[tokio::test]
async fn an_order_draft_is_kept_from_a_re_send_and_deleted_by_a_cancellation() {
    use crate::domain::economic_model::DraftDocument;
    let world = World::with_order(Label::Pending, Cause::Webhook);
    let mut shop = shop();
    shop.mapping.document = DraftDocument::OrderDraft;
    world.shops.insert(shop);
    world.invoiced().await;
    let invoices = world.invoicing.invoices();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].document, DraftDocument::OrderDraft);
    let number = world.order().draft_invoice_number.expect("an order draft");

    world.enqueue(Cause::ShopResend);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    assert!(world.history_has(&format!(
        "re-send refused: the order is already in e-conomic (order draft {number} in e-conomic)"
    )));
    assert_eq!(world.invoicing.invoices().len(), 1);

    world.enqueue(Cause::Cancel);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    assert!(world.invoicing.invoices().is_empty(), "deleted");
    let order = world.order();
    assert_eq!(order.label, Label::Cancelled);
    assert_eq!(
        order.last_error.as_deref(),
        Some(
            format!("cancelled by the shop: its order draft {number} was deleted in e-conomic")
                .as_str()
        )
    );
}

/// A shop that switched to order drafts after the order's draft invoice
/// was made: the cancellation looks among order drafts, finds none, and
/// deletes nothing it cannot tell is the order's.
#[tokio::test]
async fn a_cancellation_looks_only_in_the_shops_draft_collection() {
    use crate::domain::economic_model::DraftDocument;
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoiced().await;
    let mut shop = shop();
    shop.mapping.document = DraftDocument::OrderDraft;
    world.shops.insert(shop);
    world.enqueue(Cause::Cancel);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    assert_eq!(
        world.invoicing.invoices().len(),
        1,
        "the invoice draft stays"
    );
    let reason = world.order().last_error.unwrap_or_default();
    assert!(reason.contains("holds no invoice"), "{reason}");
}

#[tokio::test]
async fn a_cancellation_after_booking_leaves_the_booked_invoice_for_a_credit_note() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    let mut shop = shop();
    shop.mapping.auto_book = true;
    world.shops.insert(shop);
    world.invoiced().await;
    let booked = world.order().booked_invoice_number.expect("booked");
    world.enqueue(Cause::Cancel);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    assert_eq!(
        world.invoicing.invoices().len(),
        1,
        "a booked invoice stays"
    );
    let order = world.order();
    assert_eq!(order.label, Label::Cancelled);
    let reason = order.last_error.unwrap_or_default();
    assert!(
        reason.contains(&format!("invoice {booked} was booked")) && reason.contains("credit note"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_cancellation_while_a_transfer_holds_the_order_waits_for_the_lease() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    let mut record = world.order();
    record.lease_owner = Some("other#1".into());
    record.lease_until = Some(T0 + 100);
    world.orders.insert(record);
    world.queue.purge();
    world.enqueue(Cause::Cancel);
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    // The back-off (30 s on the first receive), shorter than the lease.
    assert_eq!(world.queue.hidden_for(&message.message_id), Some(30));
    assert_eq!(world.order().label, Label::Pending);
}

#[tokio::test]
async fn a_cancellation_e_conomic_refuses_still_cancels_and_says_what_to_check() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoiced().await;
    let mut shop = shop();
    shop.economic.agreement_grant_token = crate::domain::secret::Secret::new("revoked");
    world.invoicing.accept_only(&["grant-token"]);
    world.shops.insert(shop);
    world.enqueue(Cause::Cancel);
    // A permanent refusal still cancels, saying what could not be checked.
    assert_eq!(world.deliver().await.1, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Cancelled);
    let reason = order.last_error.clone().unwrap_or_default();
    assert!(reason.contains("could not be checked"), "{reason}");
    assert_eq!(
        world.invoicing.invoices().len(),
        1,
        "nothing deleted blindly"
    );
}

#[tokio::test]
async fn a_re_send_from_the_shop_re_opens_a_failed_order_with_one_invoice() {
    let world = World::with_order(Label::Failed, Cause::Webhook);
    world.queue.purge();
    world.enqueue(Cause::ShopResend);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Ok, "{:?}", order.last_error);
    assert_eq!(order.attempts, 1, "a new attempt");
    assert_eq!(world.invoicing.invoices().len(), 1);
}

#[tokio::test]
async fn a_re_send_of_an_ok_order_is_refused_while_its_draft_exists() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoiced().await;
    let before = world.order();
    world.enqueue(Cause::ShopResend);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Ok);
    assert_eq!(order.draft_invoice_number, before.draft_invoice_number);
    assert_eq!(order.lease_owner, None, "the lease is released");
    assert!(world.history_has("re-send refused: the order is already invoiced"));
    assert_eq!(world.invoicing.invoices().len(), 1);
    assert!(world.queue.transfer_bodies().is_empty());
}

#[tokio::test]
async fn a_re_send_of_an_ok_order_whose_draft_was_deleted_makes_a_new_one() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoiced().await;
    let old = world.order().draft_invoice_number.expect("a draft");
    assert!(world.invoicing.delete_draft_by_hand(old));
    world.enqueue(Cause::ShopResend);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    let reopened = world.order();
    assert_eq!(reopened.label, Label::Pending);
    assert_eq!(reopened.draft_invoice_number, None);
    assert!(
        reopened.rescan_after.is_some(),
        "rescan covers a lost message"
    );
    assert!(world.history_has("no longer in e-conomic"));
    // The re-opened order's message: a new draft, one invoice in all.
    assert_eq!(world.deliver().await.1, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Ok);
    assert_ne!(order.draft_invoice_number, None);
    assert_eq!(world.invoicing.invoices().len(), 1);
}

#[tokio::test]
async fn a_request_for_an_unknown_order_is_acknowledged() {
    let world = World::new();
    for cause in [Cause::Cancel, Cause::ShopResend] {
        world.enqueue(cause);
        assert_eq!(world.deliver().await.1, Disposition::Done);
    }
    assert!(world.orders.records().is_empty());
}

#[tokio::test]
async fn a_cancelled_failed_orders_dead_letter_is_swept_by_rescan() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world
        .invoicing
        .fail_next(permanent("layout 99 does not exist"));
    assert_eq!(world.deliver().await.1, Disposition::Done);
    assert_eq!(world.order().label, Label::Failed);
    assert_eq!(world.queue.dead_letters().len(), 1);
    world.enqueue(Cause::Cancel);
    assert_eq!(world.deliver().await.1, Disposition::Done);
    assert_eq!(world.order().label, Label::Cancelled);
    let report = world.rescan().run(T0).await.expect("rescan runs");
    assert_eq!(report.stale_dead_letters_removed, 1);
    assert!(world.queue.dead_letters().is_empty());
    assert!(world.invoicing.invoices().is_empty());
}

#[tokio::test]
async fn a_cancellation_e_conomic_never_answers_is_carried_out_on_its_last_delivery() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoiced().await;
    world.enqueue(Cause::Cancel);
    // The shop's configuration cannot be read on any delivery (transient).
    world.shops.set_failing("get", true);
    for delivery in 1..=MAX_RECEIVES {
        let (message, disposition) = world.deliver().await;
        assert_eq!(message.receive_count, delivery);
        if delivery < MAX_RECEIVES {
            assert_eq!(disposition, Disposition::Retry);
            assert_eq!(world.order().label, Label::Ok);
            world
                .clock
                .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
        } else {
            assert_eq!(disposition, Disposition::Done);
        }
    }
    // Not dead-lettered with the order left ok: cancelled, and the reason
    // says what a person must check; nothing was deleted blindly.
    let order = world.order();
    assert_eq!(order.label, Label::Cancelled);
    let reason = order.last_error.clone().unwrap_or_default();
    assert!(reason.contains("could not be checked"), "{reason}");
    assert!(world.queue.dead_letters().is_empty());
    assert_eq!(world.invoicing.invoices().len(), 1);
}

#[tokio::test]
async fn rescan_keeps_a_dead_lettered_shop_request_of_an_ok_order_for_a_person() {
    use crate::ports::TransferQueue;
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoiced().await;
    for cause in [Cause::Cancel, Cause::ShopResend, Cause::Webhook] {
        let body = serde_json::to_string(&OrderMessage {
            shop_id: SHOP.into(),
            order_id: ORDER.into(),
            cause,
        })
        .expect("json");
        world
            .queue
            .dead_letter(&body, SHOP, ORDER, "redriven")
            .await
            .expect("dead letter stored");
    }
    let report = world.rescan().run(T0).await.expect("rescan runs");
    // Only the order's own (webhook) message is stale.
    assert_eq!(report.stale_dead_letters_removed, 1);
    let kept: Vec<Cause> = world
        .queue
        .dead_letters()
        .iter()
        .map(|d| {
            serde_json::from_str::<OrderMessage>(&d.body)
                .expect("message")
                .cause
        })
        .collect();
    assert_eq!(kept, [Cause::Cancel, Cause::ShopResend]);
}
