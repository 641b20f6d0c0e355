//! An order whose agreement's e-conomic budget is spent is handed back to
//! the queue as a new, delayed message: however often that happens it is
//! no attempt, never dead-letters the order and never fails it, and the
//! attempts made before a hand-back still count towards giving up.

use super::*;

/// Delivers the next message, hands it back for `seconds`, and checks that
/// nothing about the order changed and a fresh message waits that long.
async fn handed_back(world: &World, seconds: u64) -> InboundMessage {
    let before = world.order();
    let (message, disposition) = world.deliver().await;
    assert_eq!(
        disposition,
        Disposition::Done,
        "the received message is deleted"
    );
    let after = world.order();
    assert_eq!(
        after, before,
        "a hand-back neither claims nor records anything"
    );
    let bodies = world.queue.transfer_bodies();
    assert_eq!(bodies.len(), 1, "exactly one new message: {bodies:?}");
    assert!(
        world.queue.receive(1).is_empty(),
        "not visible before its delay"
    );
    world.clock.advance(seconds as i64);
    message
}

#[tokio::test]
async fn an_order_handed_back_more_often_than_max_receive_count_is_never_dead_lettered() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world
        .invoicing
        .set_budget_deferral(Some(Duration::from_millis(30_500)));
    for _ in 0..3 * MAX_RECEIVES {
        let message = handed_back(&world, 31).await;
        // A new message each time: SQS's count starts afresh.
        assert_eq!(message.receive_count, 1);
    }
    assert!(world.queue.dead_letters().is_empty());
    assert_eq!(world.invoicing.invoices().len(), 0, "nothing pushed yet");

    // The budget is back: one attempt, one invoice, webhook time kept.
    world.invoicing.set_budget_deferral(None);
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    // Sent by the last hand-back; the webhook's time (the first message's)
    // travels in its body.
    assert_eq!(message.sent_at_ms, Some((T0 + 31 * 14) * 1000));
    let body: serde_json::Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(body["first_sent_at_ms"], T0 * 1000);
    assert_eq!(body["earlier_receives"], 0);
    let order = world.order();
    assert_eq!(order.label, Label::Ok);
    assert_eq!(order.attempts, 1, "hand-backs are not attempts");
    assert_eq!(world.invoicing.invoices().len(), 1);
    assert!(world.queue.dead_letters().is_empty());
    assert!(world.queue.transfer_bodies().is_empty());
}

#[tokio::test]
async fn attempts_before_a_hand_back_still_count_towards_giving_up() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    // Two transient failures: receives 1 and 2.
    for _ in 0..2 {
        world
            .invoicing
            .fail_next(transient("e-conomic had an internal error (500)"));
        let (message, disposition) = world.deliver().await;
        assert_eq!(disposition, Disposition::Retry);
        world
            .clock
            .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
    }
    // Receive 3 is handed back; so is the new message's first receive.
    world
        .invoicing
        .set_budget_deferral(Some(Duration::from_secs(5)));
    handed_back(&world, 5).await;
    handed_back(&world, 5).await;
    world.invoicing.set_budget_deferral(None);
    // Attempts 3, 4 and 5 (the last allowed) fail transiently: the order
    // gives up after 5 attempts in all, not 5 more.
    for attempt in 3..=MAX_RECEIVES {
        world
            .invoicing
            .fail_next(transient("e-conomic had an internal error (500)"));
        let (message, disposition) = world.deliver().await;
        assert_eq!(
            message.receive_count,
            attempt - 2,
            "SQS counts the new message"
        );
        if attempt < MAX_RECEIVES {
            assert_eq!(disposition, Disposition::Retry);
            world
                .clock
                .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
        } else {
            assert_eq!(disposition, Disposition::Done);
        }
    }
    let order = world.order();
    assert_eq!(order.label, Label::Failed);
    assert!(
        order
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("gave up after 5 attempts")),
        "{:?}",
        order.last_error
    );
    assert_eq!(world.queue.dead_letters().len(), 1);
}

#[tokio::test]
async fn a_hand_back_that_cannot_be_sent_delays_the_message_itself() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world
        .invoicing
        .set_budget_deferral(Some(Duration::from_secs(40)));
    world.queue.set_failing("send_later", true);
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.queue.hidden_for(&message.message_id), Some(40));
    assert_eq!(world.order().attempts, 0, "still no attempt");
    assert_eq!(world.invoicing.invoices().len(), 0);
}

#[tokio::test]
async fn an_attempt_that_meets_the_spent_budget_is_handed_back_uncounted() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    // The check before the claim saw room; the call met an empty bucket.
    world.invoicing.fail_next_spending_budget(
        transient("e-conomic is throttling requests (429)"),
        Duration::from_secs(12),
    );
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Pending);
    assert_eq!(order.lease_owner, None, "the lease is released");
    assert!(
        order.create_started,
        "the next attempt looks the reference up first"
    );
    assert_eq!(order.rescan_after, Some(T0 + 12 + 300));
    assert_eq!(world.queue.transfer_bodies().len(), 1, "handed back");
    assert!(world.queue.dead_letters().is_empty());
    world.clock.advance(12);
    world.invoicing.set_budget_deferral(None);
    // Every further attempt meets it too: five more attempts are allowed,
    // as the hand-back did not count.
    for attempt in 1..=MAX_RECEIVES {
        world
            .invoicing
            .fail_next(transient("e-conomic had an internal error (500)"));
        let (message, disposition) = world.deliver().await;
        assert_eq!(message.receive_count, attempt);
        if attempt < MAX_RECEIVES {
            assert_eq!(disposition, Disposition::Retry, "attempt {attempt}");
            world
                .clock
                .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
        }
    }
    assert_eq!(world.order().label, Label::Failed);
    assert_eq!(world.invoicing.invoices().len(), 0);
}
