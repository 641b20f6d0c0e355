//! Refunds through ingest, transfer and rescan over the memory adapters:
//! a refund that arrives before its order's invoice waits for it, a
//! duplicate or a lost answer never makes a second credit note, and a
//! refund larger than what remains fails with the reason.

use super::*;
use crate::app::ingest::{Ingest, IngestSettings, WebhookRequest, WebhookResponse};
use crate::domain::webhook::{self, SignatureHeaders};
use crate::ports::{Clock, CreditStore};
use time::OffsetDateTime;

const SECRET: &str = "whsec_dGVzdC1zZWNyZXQtZm9yLXVuaXQtdGVzdHM=";
const REFUND_RECORD: &str = "1001#refund#r1";
const CREDIT_NOTE: &str = "Credit note 1001-r1";

fn refund_body(id: &str, amount: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "order.refunded",
        "refund": {"id": id, "order_id": "1001", "currency": "DKK",
                   "lines": [{"sku": "SKU-1", "quantity": "1", "amount": amount}],
                   "total": amount}
    }))
    .expect("json")
}

fn paid_body() -> Vec<u8> {
    format!(r#"{{"type": "order.paid", "order": {}}}"#, snapshot("DK")).into_bytes()
}

impl World {
    /// The test shop with credit notes on.
    async fn with_credit_notes() -> World {
        let world = World::new();
        let mut shop = shop();
        shop.mapping.credit_notes.enabled = true;
        world.shops.put(&shop).await.expect("shop stored");
        world
    }

    async fn send_at(&self, webhook_id: &str, body: &[u8], at: i64) -> WebhookResponse {
        let signature = webhook::sign(SECRET, webhook_id, at, body).expect("secret");
        let timestamp = at.to_string();
        let request = WebhookRequest {
            shop_id: SHOP,
            content_length: None,
            headers: SignatureHeaders {
                id: Some(webhook_id),
                timestamp: Some(&timestamp),
                signature: Some(&signature),
            },
            body,
        };
        let ingest = Ingest::new(
            self.shops.clone(),
            self.orders.clone(),
            self.queue.enqueue_only(),
            IngestSettings::default(),
        );
        let now = OffsetDateTime::from_unix_timestamp(at).expect("time");
        ingest.handle(request, now).await
    }

    fn refund_record(&self) -> OrderRecord {
        self.orders
            .record(SHOP, REFUND_RECORD)
            .expect("the refund's record")
    }
}

#[tokio::test]
async fn a_refund_before_the_invoice_waits_then_becomes_one_credit_note() {
    let world = World::with_credit_notes().await;
    let answer = world
        .send_at("w-refund", &refund_body("r1", "99.95"), T0)
        .await;
    assert_eq!(
        (answer.status, &answer.body["status"]),
        (202, &"accepted".into())
    );
    assert_eq!(world.refund_record().label, Label::Pending);

    // The order is not invoiced: the refund waits, its message is done,
    // and nothing reaches e-conomic.
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let waiting = world.refund_record();
    assert_eq!(waiting.label, Label::Pending);
    assert!(
        waiting
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("waiting for the invoice")),
        "{waiting:?}"
    );
    assert_eq!(world.invoicing.pushes(), 0);

    // The paid event arrives; the order is invoiced and its basis kept.
    world.send_at("w-paid", &paid_body(), T0 + 10).await;
    world.deliver().await;
    assert_eq!(world.order().label, Label::Ok);
    let account = world
        .orders
        .credit_account(SHOP, ORDER)
        .await
        .expect("read")
        .expect("the order");
    assert!(account.basis.is_some(), "the invoice's basis is stored");

    // Rescan brings the refund back once it is due.
    world.clock.advance(3_600);
    let report = world
        .rescan()
        .run(world.clock.epoch_seconds())
        .await
        .expect("rescan");
    assert!(report.enqueued >= 1, "{report:?}");
    world.deliver().await;
    assert_eq!(world.refund_record().label, Label::Ok);
    let notes = world.invoicing.invoices_for(CREDIT_NOTE);
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].gross_amount, rust_decimal::Decimal::new(-9995, 2));
    assert_eq!(
        notes[0].customer_number,
        world.order().customer_number.unwrap()
    );
    let account = world
        .orders
        .credit_account(SHOP, ORDER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.ledger.entries.len(), 1);
}

#[tokio::test]
async fn duplicate_refunds_and_a_lost_answer_make_exactly_one_credit_note() {
    let world = World::with_credit_notes().await;
    world.send_at("w-paid", &paid_body(), T0).await;
    world.deliver().await;
    assert_eq!(world.order().label, Label::Ok);

    let first = world
        .send_at("w-r1", &refund_body("r1", "99.95"), T0 + 5)
        .await;
    let same = world
        .send_at("w-r1", &refund_body("r1", "99.95"), T0 + 6)
        .await;
    let again = world
        .send_at("w-r1b", &refund_body("r1", "99.95"), T0 + 7)
        .await;
    assert_eq!(first.body["status"], "accepted");
    assert_eq!(same.body["status"], "duplicate");
    assert_eq!(again.body["status"], "accepted", "already pending");
    assert_eq!(world.queue.transfer_bodies().len(), 1, "enqueued once");

    // The credit note is created, but the answer is lost.
    world
        .invoicing
        .fail_next_after_create(transient("connection reset"));
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.refund_record().label, Label::Pending);
    world.clock.advance(60);
    world.deliver().await;
    assert_eq!(world.refund_record().label, Label::Ok);
    assert_eq!(world.invoicing.invoices_for(CREDIT_NOTE).len(), 1);

    // A late copy of the refund is a duplicate and sends nothing.
    let late = world
        .send_at("w-r1c", &refund_body("r1", "99.95"), T0 + 900)
        .await;
    assert_eq!(late.body["status"], "duplicate");
    assert_eq!(world.invoicing.invoices_for(CREDIT_NOTE).len(), 1);
    let account = world
        .orders
        .credit_account(SHOP, ORDER)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.ledger.entries.len(), 1, "reserved once");
}

#[tokio::test]
async fn a_credit_notes_lost_answer_on_the_last_allowed_receive_ends_ok_without_a_second_note() {
    let world = World::with_credit_notes().await;
    world.send_at("w-paid", &paid_body(), T0).await;
    world.deliver().await;
    world
        .send_at("w-r1", &refund_body("r1", "99.95"), T0 + 5)
        .await;
    fail_until_the_last_receive(&world).await;
    world
        .invoicing
        .fail_next_after_create(transient("connection reset"));
    let (message, disposition) = world.deliver().await;
    assert_eq!(message.receive_count, MAX_RECEIVES);
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.refund_record().label, Label::Ok);
    assert_eq!(world.invoicing.invoices_for(CREDIT_NOTE).len(), 1);
    assert!(world.queue.dead_letters().is_empty());
}

#[tokio::test]
async fn a_refund_larger_than_what_remains_fails_with_the_reason() {
    let world = World::with_credit_notes().await;
    world.send_at("w-paid", &paid_body(), T0).await;
    world.deliver().await;
    world
        .send_at("w-r1", &refund_body("r1", "199.90"), T0 + 5)
        .await;
    world.deliver().await;
    assert_eq!(world.refund_record().label, Label::Ok);

    // Both socks were refunded; a second refund of one more is refused.
    world
        .send_at("w-r2", &refund_body("r2", "99.95"), T0 + 6)
        .await;
    world.deliver().await;
    let refused = world.orders.record(SHOP, "1001#refund#r2").unwrap();
    assert_eq!(refused.label, Label::Failed);
    let reason = refused.last_error.unwrap();
    assert!(reason.contains("larger than what remains"), "{reason}");
    let dead = world.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].body.contains("1001#refund#r2"));
    assert_eq!(
        world.invoicing.invoices().len(),
        2,
        "invoice and one credit note"
    );
}

#[tokio::test]
async fn refunds_of_a_shop_without_credit_notes_are_ignored() {
    let world = World::new();
    let answer = world
        .send_at("w-refund", &refund_body("r1", "99.95"), T0)
        .await;
    assert_eq!(
        (answer.status, &answer.body["status"]),
        (202, &"ignored".into())
    );
    assert!(world.orders.records().is_empty());
}

#[tokio::test]
async fn a_contested_ledger_is_retried_and_nothing_is_credited_without_its_entry() {
    let world = World::with_credit_notes().await;
    world.send_at("w-paid", &paid_body(), T0).await;
    world.deliver().await;
    world
        .send_at("w-r1", &refund_body("r1", "99.95"), T0 + 5)
        .await;
    // The first ledger write loses to a concurrent refund's write.
    world.orders.set_conflicting("write_ledger", true);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry, "contested: retried later");
    assert_eq!(
        world.invoicing.pushes(),
        1,
        "no credit note without its entry"
    );
    world.orders.set_conflicting("write_ledger", false);
    world.clock.advance(600);
    world.deliver().await;
    assert_eq!(world.refund_record().label, Label::Ok);
    assert_eq!(world.invoicing.invoices_for(CREDIT_NOTE).len(), 1);
}

#[tokio::test]
async fn a_waiting_refund_looks_again_less_often_and_fails_after_thirty_days() {
    let world = World::with_credit_notes().await;
    world
        .send_at("w-refund", &refund_body("r1", "99.95"), T0)
        .await;
    world.deliver().await;
    // First look: again after the rescan age.
    assert_eq!(world.refund_record().rescan_after, Some(T0 + 300));

    // Ten hours later: half the wait, capped at an hour.
    world.clock.advance(10 * 3_600);
    world
        .rescan()
        .run(world.clock.epoch_seconds())
        .await
        .expect("rescan");
    world.deliver().await;
    let now = world.clock.epoch_seconds();
    assert_eq!(world.refund_record().rescan_after, Some(now + 3_600));
    assert_eq!(world.refund_record().label, Label::Pending);

    // After thirty days without an invoice: failed, with the reason, and
    // dead-lettered like an order.
    world
        .clock
        .advance(crate::app::transfer::REFUND_WAIT_SECONDS);
    world
        .rescan()
        .run(world.clock.epoch_seconds())
        .await
        .expect("rescan");
    world.deliver().await;
    let failed = world.refund_record();
    assert_eq!(failed.label, Label::Failed);
    let reason = failed.last_error.unwrap();
    assert!(reason.contains("not known to the bridge"), "{reason}");
    assert!(reason.contains("30 days"), "{reason}");
    assert_eq!(world.queue.dead_letters().len(), 1);
    assert_eq!(
        world.invoicing.pushes(),
        0,
        "never a credit note without an invoice"
    );
}

#[tokio::test]
async fn a_refund_recorded_again_after_its_record_expired_finds_its_credit_note() {
    let world = World::with_credit_notes().await;
    world.send_at("w-paid", &paid_body(), T0).await;
    world.deliver().await;
    world
        .send_at("w-r1", &refund_body("r1", "99.95"), T0 + 5)
        .await;
    world.deliver().await;
    assert_eq!(world.invoicing.invoices_for(CREDIT_NOTE).len(), 1);

    // The refund's record expired (its TTL) while the order's ledger
    // remains; a late copy of the refund records it afresh.
    let fresh = OrderRecord {
        order_id: REFUND_RECORD.into(),
        snapshot: world.refund_record().snapshot,
        label: Label::Pending,
        create_started: false,
        draft_invoice_number: None,
        ..record(Label::Pending)
    };
    world.orders.insert(fresh);
    world.queue.send(&OrderMessage {
        shop_id: SHOP.into(),
        order_id: REFUND_RECORD.into(),
        cause: Cause::Webhook,
    });
    world.deliver().await;
    assert_eq!(world.refund_record().label, Label::Ok);
    assert_eq!(
        world.invoicing.invoices_for(CREDIT_NOTE).len(),
        1,
        "its ledger entry makes the refund look for its credit note first"
    );
}
