//! Every branch of transfer and rescan (and ingest's handler) over the
//! in-memory adapters with a controlled clock: no moto, no HTTP.

use crate::adapters::memory::{
    ManualClock, MemoryInvoicing, MemoryOrderStore, MemoryShopRefunds, MemoryShopStore,
    MemoryTransferQueue, MemoryVatRegistry, StoredInvoice,
};
use crate::app::rescan::{Rescan, RescanReport, RescanSettings};
use crate::app::transfer::{Disposition, Transfer, TransferSettings};
use crate::domain::lifecycle::{HistoryEntry, Label, OrderRecord};
use crate::domain::shop::ShopConfig;
use crate::ports::{Cause, InboundMessage, InvoicingError, OrderMessage, ShopStore, TransferQueue};
use std::sync::Arc;
use std::time::{Duration, Instant};

const T0: i64 = 1_800_000_000;
const SHOP: &str = "demo-shop";
const ORDER: &str = "1001";
/// The queue's `maxReceiveCount` in these tests.
const MAX_RECEIVES: u32 = 5;

fn shop() -> ShopConfig {
    serde_json::from_str(
        r#"{
          "shop_id": "demo-shop",
          "trigger": "paid",
          "webhook_secrets": [{"secret": "whsec_dGVzdC1zZWNyZXQtZm9yLXVuaXQtdGVzdHM="}],
          "economic": {"app_secret_token": "app-token", "agreement_grant_token": "grant-token"},
          "mapping": {
            "home_country": "DK",
            "debtor": {"strategy": {"kind": "shop_customer_id", "offset": 100000}},
            "payment_methods": {"card": {"layout": 19, "payment_terms": 1}}
          }
        }"#,
    )
    .expect("the test shop parses")
}

/// An order the test shop maps without trouble: 2 × 99.95 + 149.00 incl.
/// 25 % VAT, shipped to Denmark.
fn snapshot(country: &str) -> String {
    format!(
        r#"{{
          "id": "1001", "number": "1001", "created_at": "2026-11-23T10:15:00+01:00",
          "currency": "DKK", "prices_include_vat": true,
          "customer": {{"id": "5821", "name": "Mette Hansen", "email": "mette@example.dk"}},
          "billing_address": {{"name": "Mette Hansen", "street": "Nørregade 12", "zip": "8000",
                               "city": "Aarhus C", "country": "{country}"}},
          "payment_method": "card",
          "lines": [
            {{"sku": "SKU-1", "name": "Wool socks", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"}},
            {{"sku": "SKU-2", "name": "Beanie", "quantity": "1", "unit_price": "149.00", "vat_rate": "25"}}
          ],
          "total": "348.90"
        }}"#
    )
}

fn record(label: Label) -> OrderRecord {
    OrderRecord {
        shop_id: SHOP.into(),
        order_id: ORDER.into(),
        label,
        snapshot: Some(snapshot("DK")),
        snapshot_rank: 2,
        events: vec!["order.paid".into()],
        webhook_ids: vec!["w1".into()],
        attempts: 0,
        last_error: None,
        draft_invoice_number: None,
        booked_invoice_number: None,
        customer_number: None,
        economic_calls: None,
        created_at: T0 - 60,
        updated_at: T0 - 60,
        pending_since: Some(T0 - 60),
        lease_until: None,
        lease_owner: None,
        create_started: false,
        history: vec![HistoryEntry {
            at: T0 - 60,
            what: "order.paid received".into(),
        }],
        version: 1,
        rescan_after: (label == Label::Pending).then_some(T0 + 240),
        expires_at: None,
    }
}

fn transient(reason: &str) -> InvoicingError {
    InvoicingError {
        transient: true,
        reason: reason.into(),
    }
}

fn permanent(reason: &str) -> InvoicingError {
    InvoicingError {
        transient: false,
        reason: reason.into(),
    }
}

/// The ports, shared between the code under test and the assertions.
struct World {
    clock: ManualClock,
    orders: Arc<MemoryOrderStore>,
    shops: Arc<MemoryShopStore>,
    queue: Arc<MemoryTransferQueue>,
    invoicing: Arc<MemoryInvoicing>,
    vat_registry: Arc<MemoryVatRegistry>,
}

type MemoryTransfer = Transfer<
    Arc<MemoryOrderStore>,
    Arc<MemoryShopStore>,
    Arc<MemoryTransferQueue>,
    Arc<MemoryInvoicing>,
    ManualClock,
    Arc<MemoryVatRegistry>,
>;

impl World {
    fn new() -> Self {
        let clock = ManualClock::at(T0);
        World {
            orders: Arc::new(MemoryOrderStore::new()),
            shops: Arc::new(MemoryShopStore::with([shop()])),
            queue: Arc::new(MemoryTransferQueue::new(clock.clone(), MAX_RECEIVES)),
            invoicing: Arc::new(MemoryInvoicing::new()),
            vat_registry: Arc::new(MemoryVatRegistry::with_valid(&["DE123456789"])),
            clock,
        }
    }

    /// An order in `label`, with its message on the queue.
    fn with_order(label: Label, cause: Cause) -> Self {
        let world = World::new();
        world.orders.insert(record(label));
        world.enqueue(cause);
        world
    }

    fn enqueue(&self, cause: Cause) {
        let message = OrderMessage {
            shop_id: SHOP.into(),
            order_id: ORDER.into(),
            cause,
        };
        self.queue.send(&message);
    }

    fn transfer(&self) -> MemoryTransfer {
        Transfer::new(
            self.orders.clone(),
            self.shops.clone(),
            self.queue.clone(),
            self.invoicing.clone(),
            self.clock.clone(),
            TransferSettings {
                max_receive_count: MAX_RECEIVES,
                ..TransferSettings::default()
            },
        )
        .with_vat_registry(self.vat_registry.clone())
    }

    /// Receives the next visible message and processes it; acknowledges
    /// it when done, as the Lambda event source does.
    async fn deliver(&self) -> (InboundMessage, Disposition) {
        let message = self
            .queue
            .receive(1)
            .pop()
            .expect("a visible message on the transfer queue");
        let disposition = self.transfer().process(&message, far_deadline()).await;
        if disposition == Disposition::Done {
            let handle = message.receipt_handle.as_deref().unwrap_or_default();
            assert!(self.queue.acknowledge(handle), "message deleted");
        }
        (message, disposition)
    }

    fn order(&self) -> OrderRecord {
        self.orders.record(SHOP, ORDER).expect("the order exists")
    }

    fn rescan(&self) -> Rescan<Arc<MemoryOrderStore>, Arc<MemoryTransferQueue>> {
        Rescan::new(
            self.orders.clone(),
            self.queue.clone(),
            RescanSettings {
                min_age_seconds: 300,
                max_orders: 500,
                max_receive_count: MAX_RECEIVES,
            },
        )
    }
}

fn far_deadline() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn history(record: &OrderRecord) -> Vec<&str> {
    record.history.iter().map(|h| h.what.as_str()).collect()
}

// ------------------------------------------------------------ transfer

#[tokio::test]
async fn a_pending_order_becomes_ok_with_one_invoice_and_its_message_is_deleted() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);

    let order = world.order();
    assert_eq!(order.label, Label::Ok);
    assert_eq!(order.attempts, 1);
    assert!(
        order.create_started,
        "create_started is set before the push"
    );
    assert_eq!(order.lease_owner, None);
    assert_eq!(
        order.rescan_after, None,
        "an ok order leaves the rescan index"
    );
    // The controlled clock dates the record: 90 days of TTL from T0.
    assert_eq!(order.expires_at, Some(T0 + 90 * 86_400));
    let invoices = world.invoicing.invoices();
    assert_eq!(invoices.len(), 1);
    assert_eq!(order.draft_invoice_number, invoices[0].draft_invoice_number);
    assert_eq!(invoices[0].gross_amount.to_string(), "348.90");
    // Dated by the day order.paid arrived (T0 − 60 s is 15 January 2027 at
    // 08:59 in the order's +01:00), not by created_at (23 November 2026).
    assert_eq!(invoices[0].date, "2027-01-15");
    assert_eq!(
        history(&order)[1..],
        ["transfer attempt started", "draft invoice 1"]
    );
    assert!(world.queue.transfer_bodies().is_empty());
    assert!(world.queue.dead_letters().is_empty());
}

#[tokio::test]
async fn a_malformed_message_is_dead_lettered_as_it_came() {
    let world = World::new();
    let message = InboundMessage {
        message_id: "m1".into(),
        receipt_handle: Some("h1".into()),
        body: "{not json".into(),
        receive_count: 1,
        sent_at_ms: None,
    };
    let disposition = world.transfer().process(&message, far_deadline()).await;
    assert_eq!(disposition, Disposition::Done);
    let dead = world.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, "{not json");
    assert_eq!(
        dead[0].reason.as_deref(),
        Some("malformed transfer message")
    );
}

#[tokio::test]
async fn a_malformed_message_is_retried_when_the_dead_letter_cannot_be_sent() {
    let world = World::new();
    world.queue.set_failing("dead_letter", true);
    let message = InboundMessage {
        message_id: "m1".into(),
        receipt_handle: None,
        body: "[]".into(),
        receive_count: 1,
        sent_at_ms: None,
    };
    let disposition = world.transfer().process(&message, far_deadline()).await;
    assert_eq!(disposition, Disposition::Retry);
}

#[tokio::test]
async fn a_message_for_an_ok_order_is_a_duplicate_and_pushes_nothing() {
    let world = World::with_order(Label::Ok, Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.invoicing.pushes(), 0);
    assert_eq!(world.order().label, Label::Ok);
}

#[tokio::test]
async fn a_message_for_a_recorded_order_is_acknowledged_without_a_push() {
    let world = World::with_order(Label::Recorded, Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.invoicing.pushes(), 0);
    assert_eq!(world.order().label, Label::Recorded);
}

#[tokio::test]
async fn a_message_for_an_unknown_order_is_dead_lettered() {
    let world = World::new();
    world.enqueue(Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let dead = world.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].reason.as_deref(),
        Some("order not found in the bridge's store")
    );
    assert!(
        world.orders.record(SHOP, ORDER).is_none(),
        "nothing created"
    );
}

#[tokio::test]
async fn an_older_copy_of_a_failed_orders_message_leaves_it_failed() {
    let world = World::with_order(Label::Failed, Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Failed);
    assert_eq!(world.invoicing.pushes(), 0);
    assert!(
        world.queue.dead_letters().is_empty(),
        "no second dead letter"
    );
}

#[tokio::test]
async fn a_replayed_dead_letter_reopens_a_failed_order_and_completes_it() {
    let world = World::with_order(Label::Failed, Cause::DeadLettered);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.invoices().len(), 1);
}

#[tokio::test]
async fn a_copy_of_a_message_whose_order_another_message_holds_is_a_duplicate() {
    let world = World::new();
    let mut leased = record(Label::Pending);
    leased.lease_owner = Some("other-message#1".into());
    leased.lease_until = Some(T0 + 100);
    world.orders.insert(leased);
    world.enqueue(Cause::Rescan);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.invoicing.pushes(), 0);
    assert_eq!(
        world.order().lease_owner.as_deref(),
        Some("other-message#1"),
        "the holder keeps its lease"
    );
}

#[tokio::test]
async fn a_message_whose_earlier_receive_holds_the_lease_retries_after_the_lease() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    // The first receive took the lease (until T0 + 450) and went quiet.
    let first = world.queue.receive(1).pop().expect("a message");
    let mut held = world.order();
    held.lease_owner = Some(format!("{}#1", first.message_id));
    held.lease_until = Some(T0 + 450);
    world.orders.insert(held);
    // The queue hands the same message out again after its visibility
    // timeout, while the lease still runs.
    world.clock.advance(360);
    let second = world.queue.receive(1).pop().expect("visible again");
    assert_eq!(
        (second.message_id.as_str(), second.receive_count),
        (first.message_id.as_str(), 2)
    );
    let disposition = world.transfer().process(&second, far_deadline()).await;
    assert_eq!(disposition, Disposition::Retry);
    // Hidden until the lease has run out: 90 s left, plus one.
    assert_eq!(world.queue.hidden_for(&second.message_id), Some(91));
    assert_eq!(world.invoicing.pushes(), 0);
}

async fn assert_fails_permanently(world: &World, reason: &str) {
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Failed);
    assert_eq!(order.last_error.as_deref(), Some(reason));
    assert_eq!(order.lease_owner, None, "the lease is released");
    assert_eq!(order.rescan_after, None, "a failed order leaves the index");
    let dead = world.queue.dead_letters();
    assert_eq!(dead.len(), 1, "exactly one dead letter");
    assert_eq!(dead[0].reason.as_deref(), Some(reason));
    assert_eq!(
        (dead[0].shop_id.as_str(), dead[0].order_id.as_str()),
        (SHOP, ORDER)
    );
    let replay: OrderMessage = serde_json::from_str(&dead[0].body).expect("replayable body");
    assert_eq!(replay.cause, Cause::DeadLettered);
}

#[tokio::test]
async fn an_order_of_an_unknown_shop_fails() {
    let world = World {
        shops: Arc::new(MemoryShopStore::new()),
        ..World::with_order(Label::Pending, Cause::Webhook)
    };
    assert_fails_permanently(&world, "unknown shop").await;
    assert_eq!(world.invoicing.pushes(), 0);
}

#[tokio::test]
async fn an_order_of_a_disabled_shop_fails() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    let mut disabled = shop();
    disabled.enabled = false;
    world.shops.insert(disabled);
    assert_fails_permanently(&world, "shop is disabled").await;
}

#[tokio::test]
async fn an_order_without_a_snapshot_fails() {
    let world = World::new();
    let mut bare = record(Label::Pending);
    bare.snapshot = None;
    world.orders.insert(bare);
    world.enqueue(Cause::Webhook);
    assert_fails_permanently(&world, "no order snapshot stored").await;
}

#[tokio::test]
async fn an_order_whose_stored_snapshot_no_longer_parses_fails() {
    let world = World::new();
    let mut broken = record(Label::Pending);
    broken.snapshot = Some(r#"{"id": "1001"}"#.into());
    world.orders.insert(broken);
    world.enqueue(Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Failed);
    let reason = order.last_error.unwrap_or_default();
    assert!(reason.starts_with("stored order is invalid: "), "{reason}");
}

#[tokio::test]
async fn an_order_the_mapping_refuses_fails_with_the_mappings_reason() {
    let world = World::new();
    let mut to_germany = record(Label::Pending);
    to_germany.snapshot = Some(snapshot("DE"));
    world.orders.insert(to_germany);
    world.enqueue(Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let reason = world.order().last_error.unwrap_or_default();
    assert!(
        reason.starts_with("VAT zone for OSS country DE is not configured"),
        "{reason}"
    );
    assert_eq!(world.invoicing.pushes(), 0);
}

/// The test order from a German business with `vat_number`, paying
/// `total`; the shop below the OSS threshold (`oss.enabled` false).
async fn german_business_order(world: &World, vat_number: &str, total: &str) {
    let mut shop = shop();
    shop.mapping.oss.enabled = false;
    world.shops.put(&shop).await.expect("shop stored");
    let mut order = record(Label::Pending);
    let snapshot = snapshot("DE")
        .replace(
            r#""email": "mette@example.dk""#,
            &format!(
                r#""email": "einkauf@example.de", "company_name": "Beispiel GmbH", "eu_vat_number": "{vat_number}""#
            ),
        )
        .replace(r#""total": "348.90""#, &format!(r#""total": "{total}""#));
    order.snapshot = Some(snapshot);
    world.orders.insert(order);
    world.enqueue(Cause::Webhook);
}

#[tokio::test]
async fn a_vat_number_valid_in_vies_makes_an_exempt_invoice() {
    let world = World::new();
    // 348.90 incl. 25 % without the VAT: 279.12.
    german_business_order(&world, "DE123456789", "279.12").await;
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.vat_registry.checks(), 1);
    let invoices = world.invoicing.invoices();
    assert_eq!(invoices[0].gross_amount.to_string(), "279.12");
}

#[tokio::test]
async fn vies_down_keeps_the_order_pending_and_never_guesses() {
    let world = World::new();
    german_business_order(&world, "DE123456789", "279.12").await;
    world.vat_registry.set_unavailable(true);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    let order = world.order();
    assert_eq!(order.label, Label::Pending);
    let reason = order.last_error.unwrap_or_default();
    assert!(reason.contains("VIES) is unavailable"), "{reason}");
    assert!(
        reason.contains("the order will be retried automatically"),
        "{reason}"
    );
    assert_eq!(world.invoicing.pushes(), 0, "nothing is booked on a guess");

    // VIES answers again: the retry books the exempt invoice.
    world.vat_registry.set_unavailable(false);
    world.clock.advance(30);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(
        world.invoicing.invoices()[0].gross_amount.to_string(),
        "279.12"
    );
}

#[tokio::test]
async fn a_vat_number_invalid_in_vies_gives_home_vat_below_the_oss_threshold() {
    let world = World::new();
    // The customer paid Danish VAT: without exemption the order adds up.
    german_business_order(&world, "DE111111111", "348.90").await;
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(
        world.invoicing.invoices()[0].gross_amount.to_string(),
        "348.90"
    );
}

#[tokio::test]
async fn a_malformed_vat_number_is_not_sent_to_vies() {
    let world = World::new();
    german_business_order(&world, "DE12", "348.90").await;
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.vat_registry.checks(), 0);
}

#[tokio::test]
async fn a_vat_warning_is_kept_in_the_orders_history() {
    let world = World::new();
    let mut shop = shop();
    shop.mapping.voec.enabled = true;
    shop.mapping.voec.vat_zone = Some(20);
    world.shops.put(&shop).await.expect("shop stored");
    let mut order = record(Label::Pending);
    // A NOK 4,495 jacket charged 25 % Norwegian VAT: above the VOEC limit.
    order.snapshot = Some(
        snapshot("NO")
            .replace(r#""currency": "DKK""#, r#""currency": "NOK""#)
            .replace(r#""unit_price": "149.00""#, r#""unit_price": "4495.00""#)
            .replace(r#""total": "348.90""#, r#""total": "4694.90""#),
    );
    world.orders.insert(order);
    world.enqueue(Cause::Webhook);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Ok);
    let last = order
        .history
        .last()
        .map(|h| h.what.clone())
        .unwrap_or_default();
    assert!(
        last.starts_with("draft invoice 1; warning: Export without VAT, not under VOEC: `Beanie`"),
        "{last}"
    );
}

#[tokio::test]
async fn a_permanent_invoicing_error_fails_the_order_with_its_reason() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoicing.accept_only(&["some-other-grant"]);
    assert_fails_permanently(
        &world,
        "e-conomic refused the access tokens (401): the grant may have been revoked; \
         reconnect the shop to e-conomic",
    )
    .await;
    assert!(world.invoicing.invoices().is_empty());
}

#[tokio::test]
async fn a_transient_invoicing_error_keeps_the_order_pending_and_backs_off() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world
        .invoicing
        .fail_next(transient("e-conomic is throttling requests (429)"));
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    let order = world.order();
    assert_eq!(order.label, Label::Pending);
    assert_eq!(
        order.last_error.as_deref(),
        Some("e-conomic is throttling requests (429); the order will be retried automatically")
    );
    assert_eq!(
        order.lease_owner, None,
        "the lease is released for the retry"
    );
    // First receive: 30 s back-off; rescan waits for that plus its 300 s.
    assert_eq!(world.queue.hidden_for(&message.message_id), Some(30));
    assert_eq!(order.rescan_after, Some(T0 + 30 + 300));
    assert!(world.queue.dead_letters().is_empty());

    // The retry, 30 s later, completes it.
    world.clock.advance(30);
    let (again, disposition) = world.deliver().await;
    assert_eq!(again.receive_count, 2);
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.invoices().len(), 1);
}

#[tokio::test]
async fn a_transient_error_on_the_last_allowed_receive_gives_up_without_promising_a_retry() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    for receive in 1..=MAX_RECEIVES {
        world
            .invoicing
            .fail_next(transient("e-conomic had an internal error (500)"));
        let (message, disposition) = world.deliver().await;
        assert_eq!(message.receive_count, receive);
        if receive < MAX_RECEIVES {
            assert_eq!(disposition, Disposition::Retry);
            world
                .clock
                .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
        } else {
            assert_eq!(disposition, Disposition::Done);
        }
    }
    let reason = "gave up after 5 attempts: e-conomic had an internal error (500); \
                  re-send the order once e-conomic answers again";
    let order = world.order();
    assert_eq!(order.label, Label::Failed);
    assert_eq!(order.last_error.as_deref(), Some(reason));
    assert!(!reason.contains("retried automatically"));
    let dead = world.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason.as_deref(), Some(reason));
    // The last look before giving up found nothing and made nothing.
    assert!(world.invoicing.invoices().is_empty());
    assert_eq!(world.invoicing.pushes(), MAX_RECEIVES);
}

/// Retries up to the last allowed receive, each failing before anything
/// is created; returns the last receive's message.
async fn fail_until_the_last_receive(world: &World) {
    for _ in 1..MAX_RECEIVES {
        world
            .invoicing
            .fail_next(transient("e-conomic had an internal error (500)"));
        let (message, disposition) = world.deliver().await;
        assert_eq!(disposition, Disposition::Retry);
        world
            .clock
            .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
    }
}

#[tokio::test]
async fn a_lost_answer_on_the_last_allowed_receive_ends_ok_with_the_invoice_it_made() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    fail_until_the_last_receive(&world).await;
    world
        .invoicing
        .fail_next_after_create(transient("e-conomic did not answer in time"));
    let (message, disposition) = world.deliver().await;
    assert_eq!(message.receive_count, MAX_RECEIVES);
    assert_eq!(disposition, Disposition::Done);

    let invoices = world.invoicing.invoices();
    assert_eq!(
        invoices.len(),
        1,
        "the lost answer's draft, not a second one"
    );
    let order = world.order();
    assert_eq!(
        order.label,
        Label::Ok,
        "never failed while the invoice exists"
    );
    assert_eq!(order.draft_invoice_number, invoices[0].draft_invoice_number);
    assert!(world.queue.dead_letters().is_empty());
}

#[tokio::test]
async fn an_ok_label_failing_on_the_last_allowed_receive_is_written_by_the_last_look() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    fail_until_the_last_receive(&world).await;
    // The push succeeds, the `ok` write fails once; the last look finds
    // the invoice and writes it.
    world.orders.fail_next("mark_ok");
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.invoices().len(), 1);
    assert!(world.queue.dead_letters().is_empty());
}

#[tokio::test]
async fn a_lost_answer_after_the_create_is_completed_without_a_second_invoice() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world
        .invoicing
        .fail_next_after_create(transient("e-conomic did not answer in time"));
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.invoicing.invoices().len(), 1, "the draft exists");

    world
        .clock
        .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    let order = world.order();
    assert_eq!(order.label, Label::Ok);
    assert_eq!(world.invoicing.invoices().len(), 1, "no second draft");
    assert_eq!(
        order.draft_invoice_number,
        world.invoicing.invoices()[0].draft_invoice_number
    );
}

#[tokio::test]
async fn an_order_whose_ok_label_could_not_be_written_is_completed_by_the_retry() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.orders.set_failing("mark_ok", true);
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.order().label, Label::Pending);
    world.orders.set_failing("mark_ok", false);

    world
        .clock
        .advance(world.queue.hidden_for(&message.message_id).unwrap_or(0));
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.invoices().len(), 1, "found, not made again");
}

#[tokio::test]
async fn a_lease_lost_before_the_push_leaves_the_order_to_its_new_holder() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.orders.set_conflicting("mark_create_started", true);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(
        world.invoicing.pushes(),
        0,
        "nothing pushed without the lease"
    );
    assert_eq!(world.order().label, Label::Pending);
    assert!(world.queue.dead_letters().is_empty());
}

#[tokio::test]
async fn a_store_outage_at_the_claim_is_retried_with_back_off() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.orders.set_failing("claim", true);
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.queue.hidden_for(&message.message_id), Some(30));
    let order = world.order();
    assert_eq!(order.attempts, 0, "not claimed");
    assert_eq!(order.last_error, None, "nothing recorded without the lease");
}

#[tokio::test]
async fn a_store_outage_while_reading_the_shop_is_recorded_and_retried() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.shops.set_failing("get", true);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    let order = world.order();
    assert_eq!(order.label, Label::Pending);
    assert_eq!(
        order.last_error.as_deref(),
        Some("DynamoDB unavailable: injected outage: get")
    );
}

#[tokio::test]
async fn a_failure_whose_dead_letter_cannot_be_sent_is_not_labelled_and_retried() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoicing.fail_next(permanent("bad product"));
    world.queue.set_failing("dead_letter", true);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(
        world.order().label,
        Label::Pending,
        "never failed without its dead letter"
    );
}

#[tokio::test]
async fn a_failure_whose_label_cannot_be_written_is_retried_after_its_dead_letter() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world.invoicing.fail_next(permanent("bad product"));
    world.orders.set_failing("mark_failed", true);
    let (_, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.queue.dead_letters().len(), 1);
}

#[tokio::test]
async fn a_transient_failure_that_cannot_be_recorded_is_still_retried() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world
        .invoicing
        .fail_next(transient("e-conomic did not answer in time"));
    world.orders.set_failing("record_transient", true);
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    assert_eq!(world.queue.hidden_for(&message.message_id), Some(30));
}

#[tokio::test]
async fn a_retry_that_cannot_be_delayed_is_still_reported_for_redelivery() {
    let world = World::with_order(Label::Pending, Cause::Webhook);
    world
        .invoicing
        .fail_next(transient("e-conomic did not answer in time"));
    world.queue.set_failing("delay_retry", true);
    let (message, disposition) = world.deliver().await;
    assert_eq!(disposition, Disposition::Retry);
    // The queue's own visibility timeout applies instead.
    assert_eq!(world.queue.hidden_for(&message.message_id), Some(360));
}

#[tokio::test]
async fn a_message_received_more_often_than_allowed_is_moved_to_the_dead_letter_queue() {
    // The memory queue redrives like SQS: this is what rescan later sees.
    let world = World::with_order(Label::Pending, Cause::Webhook);
    for _ in 0..MAX_RECEIVES {
        assert_eq!(world.queue.receive(1).len(), 1);
        world.clock.advance(360);
    }
    assert!(world.queue.receive(1).is_empty());
    let dead = world.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, None, "SQS's redrive carries no reason");
}

// ------------------------------------------------------------ rescan

#[tokio::test]
async fn rescan_re_enqueues_a_due_pending_order_once() {
    let world = World::new();
    world.orders.insert(record(Label::Pending)); // due at T0 + 240
    let report = world.rescan().run(T0 + 240).await.expect("rescan runs");
    assert_eq!(
        report,
        RescanReport {
            due: 1,
            enqueued: 1,
            ..RescanReport::default()
        }
    );
    let bodies = world.queue.transfer_bodies();
    assert_eq!(bodies.len(), 1);
    let message: OrderMessage = serde_json::from_str(&bodies[0]).expect("a transfer message");
    assert_eq!(message.cause, Cause::Rescan);
    assert_eq!(world.order().rescan_after, Some(T0 + 240 + 300));
    // A second run at the same time finds nothing due.
    let again = world.rescan().run(T0 + 240).await.expect("rescan runs");
    assert_eq!(again.due, 0);
}

#[tokio::test]
async fn rescan_leaves_orders_that_are_not_due_yet() {
    let world = World::new();
    world.orders.insert(record(Label::Pending));
    let report = world.rescan().run(T0 + 239).await.expect("rescan runs");
    assert_eq!(report, RescanReport::default());
    assert!(world.queue.transfer_bodies().is_empty());
}

#[tokio::test]
async fn rescan_skips_an_order_another_run_moved_meanwhile() {
    let world = World::new();
    world.orders.insert(record(Label::Pending));
    world.orders.set_conflicting("bump_rescan", true);
    let report = world.rescan().run(T0 + 240).await.expect("rescan runs");
    assert_eq!((report.due, report.skipped, report.enqueued), (1, 1, 0));
    assert!(world.queue.transfer_bodies().is_empty());
}

#[tokio::test]
async fn rescan_counts_a_failed_send_and_leaves_it_to_the_next_run() {
    let world = World::new();
    world.orders.insert(record(Label::Pending));
    world.queue.set_failing("enqueue", true);
    let report = world.rescan().run(T0 + 240).await.expect("rescan runs");
    assert_eq!((report.send_failed, report.enqueued), (1, 0));
    // Due again after the minimum age.
    world.queue.set_failing("enqueue", false);
    let next = world.rescan().run(T0 + 540).await.expect("rescan runs");
    assert_eq!(next.enqueued, 1);
}

#[tokio::test]
async fn rescan_stops_when_the_store_cannot_be_queried() {
    let world = World::new();
    world.orders.set_failing("due_for_rescan", true);
    assert!(world.rescan().run(T0).await.is_err());
}

#[tokio::test]
async fn rescan_takes_at_most_max_orders_per_run_oldest_first() {
    let world = World::new();
    for (i, due) in [(1, 30), (2, 10), (3, 20)] {
        let mut pending = record(Label::Pending);
        pending.order_id = format!("o{i}");
        pending.rescan_after = Some(T0 + due);
        world.orders.insert(pending);
    }
    let rescan = Rescan::new(
        world.orders.clone(),
        world.queue.clone(),
        RescanSettings {
            max_orders: 2,
            ..RescanSettings::default()
        },
    );
    let report = rescan.run(T0 + 100).await.expect("rescan runs");
    assert_eq!((report.due, report.enqueued), (2, 2));
    let mut sent: Vec<String> = world
        .queue
        .transfer_bodies()
        .iter()
        .map(|b| {
            serde_json::from_str::<OrderMessage>(b)
                .expect("message")
                .order_id
        })
        .collect();
    sent.sort();
    assert_eq!(sent, ["o2", "o3"]);
}

fn stopped_on(delivery: u32, create_started: bool) -> OrderRecord {
    let mut stopped = record(Label::Pending);
    stopped.lease_owner = Some(format!("message-1#{delivery}"));
    stopped.lease_until = Some(T0 + 100);
    stopped.create_started = create_started;
    stopped
}

#[tokio::test]
async fn rescan_labels_failed_an_order_whose_transfer_died_on_its_last_delivery() {
    let world = World::new();
    world.orders.insert(stopped_on(MAX_RECEIVES, false));
    let report = world.rescan().run(T0 + 240).await.expect("rescan runs");
    assert_eq!((report.gave_up, report.enqueued), (1, 0));
    let order = world.order();
    assert_eq!(order.label, Label::Failed);
    assert_eq!(
        order.last_error.as_deref(),
        Some(
            "the transfer stopped during its last allowed delivery (5 of 5) and the message \
             went to the dead-letter queue; re-send the order or replay the queue"
        )
    );
}

#[tokio::test]
async fn rescan_re_enqueues_an_order_that_died_earlier_or_after_starting_the_create() {
    for (delivery, create_started) in [(MAX_RECEIVES - 1, false), (MAX_RECEIVES, true)] {
        let world = World::new();
        world.orders.insert(stopped_on(delivery, create_started));
        let report = world.rescan().run(T0 + 240).await.expect("rescan runs");
        assert_eq!(
            (report.gave_up, report.enqueued),
            (0, 1),
            "delivery {delivery}, create started {create_started}"
        );
        assert_eq!(world.order().label, Label::Pending);
    }
}

#[tokio::test]
async fn rescan_counts_an_order_that_became_ok_before_it_could_be_labelled_failed() {
    let world = World::new();
    world.orders.insert(stopped_on(MAX_RECEIVES, false));
    // mark_failed's condition refuses to overwrite an order that turned ok
    // between the bump and the label.
    world.orders.set_conflicting("mark_failed", true);
    let report = world.rescan().run(T0 + 240).await.expect("rescan runs");
    assert_eq!((report.gave_up, report.enqueued), (1, 0));
    assert!(world.queue.transfer_bodies().is_empty(), "not sent again");
}

#[tokio::test]
async fn rescan_removes_dead_letters_of_ok_orders_and_releases_the_rest() {
    let world = World::new();
    world.orders.insert(record(Label::Ok));
    let mut failed = record(Label::Failed);
    failed.order_id = "2002".into();
    world.orders.insert(failed);
    let body = |order_id: &str| {
        serde_json::to_string(&OrderMessage {
            shop_id: SHOP.into(),
            order_id: order_id.into(),
            cause: Cause::DeadLettered,
        })
        .expect("json")
    };
    for (order_id, text) in [
        (ORDER, body(ORDER)),
        ("2002", body("2002")),
        ("-", "garbage".to_owned()),
    ] {
        world
            .queue
            .dead_letter(&text, SHOP, order_id, "reason")
            .await
            .expect("dead letter");
    }
    let report = world.rescan().run(T0).await.expect("rescan runs");
    assert_eq!(report.stale_dead_letters_removed, 1);
    let left: Vec<String> = world
        .queue
        .dead_letters()
        .into_iter()
        .map(|d| d.order_id)
        .collect();
    assert_eq!(left, ["2002", "-"]);
    // Released, not left hidden for the sweep's 30 s.
    assert_eq!(
        world
            .queue
            .receive_dead_letters(30)
            .await
            .expect("receive")
            .len(),
        2
    );
}

#[tokio::test]
async fn rescan_keeps_dead_letters_it_cannot_check() {
    let world = World::new();
    world
        .queue
        .dead_letter(
            r#"{"shop_id":"demo-shop","order_id":"1001","cause":"dead_lettered"}"#,
            SHOP,
            ORDER,
            "reason",
        )
        .await
        .expect("dead letter");
    world.orders.set_failing("get", true);
    let report = world.rescan().run(T0).await.expect("rescan runs");
    assert_eq!(report.stale_dead_letters_removed, 0);
    assert_eq!(world.queue.dead_letters().len(), 1);
}

#[tokio::test]
async fn rescan_without_a_dead_letter_queue_does_not_sweep() {
    let world = World::new();
    let queue = Arc::new(MemoryTransferQueue::without_dead_letter_queue(
        world.clock.clone(),
    ));
    let rescan = Rescan::new(world.orders.clone(), queue, RescanSettings::default());
    let report = rescan.run(T0).await.expect("rescan runs");
    assert_eq!(report, RescanReport::default());
}

// ------------------------------------------------------------ ingest

mod ingest {
    use super::*;
    use crate::app::ingest::{Ingest, IngestSettings, WebhookRequest, WebhookResponse};
    use crate::domain::webhook::{self, SignatureHeaders};
    use time::OffsetDateTime;

    const SECRET: &str = "whsec_dGVzdC1zZWNyZXQtZm9yLXVuaXQtdGVzdHM=";

    fn event(event_type: &str) -> Vec<u8> {
        format!(r#"{{"type": "{event_type}", "order": {}}}"#, snapshot("DK")).into_bytes()
    }

    impl World {
        fn ingest(
            &self,
        ) -> Ingest<Arc<MemoryShopStore>, Arc<MemoryOrderStore>, MemoryTransferQueue> {
            Ingest::new(
                self.shops.clone(),
                self.orders.clone(),
                self.queue.enqueue_only(),
                IngestSettings {
                    max_body_bytes: 4096,
                    ..IngestSettings::default()
                },
            )
        }

        async fn send(&self, shop_id: &str, webhook_id: &str, body: &[u8]) -> WebhookResponse {
            let timestamp = T0.to_string();
            let signature = webhook::sign(SECRET, webhook_id, T0, body).expect("secret");
            let request = WebhookRequest {
                shop_id,
                content_length: None,
                headers: SignatureHeaders {
                    id: Some(webhook_id),
                    timestamp: Some(&timestamp),
                    signature: Some(&signature),
                },
                body,
            };
            let now = OffsetDateTime::from_unix_timestamp(T0 + 1).expect("time");
            self.ingest().handle(request, now).await
        }
    }

    #[tokio::test]
    async fn a_paid_event_makes_the_order_pending_and_enqueues_it_once() {
        let world = World::new();
        let response = world.send(SHOP, "w1", &event("order.paid")).await;
        assert_eq!(response.status, 202);
        assert_eq!(response.body["status"], "accepted");
        assert_eq!(world.order().label, Label::Pending);
        assert_eq!(world.order().rescan_after, Some(T0 + 1 + 300));
        // The same delivery again: a duplicate, nothing written or sent.
        let again = world.send(SHOP, "w1", &event("order.paid")).await;
        assert_eq!(again.body["status"], "duplicate");
        assert_eq!(world.queue.transfer_bodies().len(), 1);
        assert_eq!(world.order().version, 1);
    }

    #[tokio::test]
    async fn an_event_before_the_trigger_is_recorded_and_not_enqueued() {
        let world = World::new();
        let response = world.send(SHOP, "w1", &event("order.created")).await;
        assert_eq!(
            (response.status, &response.body["status"]),
            (202, &"recorded".into())
        );
        assert_eq!(world.order().label, Label::Recorded);
        assert!(world.queue.transfer_bodies().is_empty());
    }

    #[tokio::test]
    async fn the_callers_mistakes_get_their_own_4xx() {
        let world = World::new();
        let unknown = world.send("no-such-shop", "w1", &event("order.paid")).await;
        assert_eq!(unknown.status, 404);
        let too_large = world.send(SHOP, "w1", &vec![b' '; 5000]).await;
        assert_eq!(too_large.status, 413);
        let malformed = world.send(SHOP, "w1", br#"{"type": "order.paid"}"#).await;
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.body["field"], "order");
        let ignored = world
            .send(SHOP, "w1", br#"{"type": "customer.created"}"#)
            .await;
        assert_eq!(
            (ignored.status, &ignored.body["status"]),
            (202, &"ignored".into())
        );

        let body = event("order.paid");
        let forged = WebhookRequest {
            shop_id: SHOP,
            content_length: None,
            headers: SignatureHeaders {
                id: Some("w1"),
                timestamp: Some("1800000000"),
                signature: Some("v1,AAAA"),
            },
            body: &body,
        };
        let now = OffsetDateTime::from_unix_timestamp(T0 + 1).expect("time");
        assert_eq!(world.ingest().handle(forged, now).await.status, 401);
        assert!(world.orders.records().is_empty(), "nothing recorded");
    }

    #[tokio::test]
    async fn a_store_outage_answers_503_with_retry_after() {
        let world = World::new();
        world.orders.set_failing("write_ingest", true);
        let response = world.send(SHOP, "w1", &event("order.paid")).await;
        assert_eq!(response.status, 503);
        assert_eq!(response.retry_after_seconds, Some(30));
    }

    #[tokio::test]
    async fn a_lost_enqueue_still_accepts_the_order_and_leaves_it_to_rescan() {
        let world = World::new();
        let failing_queue = world.queue.enqueue_only();
        failing_queue.set_failing("enqueue", true);
        let ingest = Ingest::new(
            world.shops.clone(),
            world.orders.clone(),
            failing_queue,
            IngestSettings::default(),
        );
        let body = event("order.paid");
        let signature = webhook::sign(SECRET, "w1", T0, &body).expect("secret");
        let request = WebhookRequest {
            shop_id: SHOP,
            content_length: None,
            headers: SignatureHeaders {
                id: Some("w1"),
                timestamp: Some("1800000000"),
                signature: Some(&signature),
            },
            body: &body,
        };
        let now = OffsetDateTime::from_unix_timestamp(T0 + 1).expect("time");
        let response = ingest.handle(request, now).await;
        assert_eq!(response.status, 202);
        assert!(
            world.queue.transfer_bodies().is_empty(),
            "the send was lost"
        );
        // Rescan finds it once it is due.
        let report = world.rescan().run(T0 + 301).await.expect("rescan");
        assert_eq!(report.enqueued, 1);
    }
}

#[tokio::test]
async fn a_shop_fixed_behind_the_transfer_cache_is_read_again_before_failing_the_order() {
    use crate::app::shop_cache::CachedShops;
    use crate::ports::ShopStore;

    let world = World::with_order(Label::Pending, Cause::Webhook);
    let mut disabled = shop();
    disabled.enabled = false;
    world.shops.insert(disabled);
    let shops = CachedShops::new(world.shops.clone(), Duration::from_secs(3600));
    let cached = shops.get(SHOP).await.expect("read").expect("known shop");
    assert!(!cached.enabled, "the cache holds the disabled shop");
    world.shops.insert(shop()); // enabled again, behind the cache

    let transfer = Transfer::new(
        world.orders.clone(),
        shops,
        world.queue.clone(),
        world.invoicing.clone(),
        world.clock.clone(),
        TransferSettings {
            max_receive_count: MAX_RECEIVES,
            ..TransferSettings::default()
        },
    );
    let message = world.queue.receive(1).pop().expect("queued");
    let disposition = transfer.process(&message, far_deadline()).await;
    assert_eq!(disposition, Disposition::Done);
    assert_eq!(world.order().label, Label::Ok);
    assert_eq!(world.invoicing.pushes(), 1);
}

// ------------------------------------------------ platform webhooks

mod platform_ingest {
    use super::*;
    use crate::app::ingest::{
        Ingest, IngestSettings, PlatformHeaders, PlatformRequest, WebhookResponse,
    };
    use crate::domain::platform::Platform;
    use crate::domain::webhook::sign_body_hmac;
    use rust_decimal::Decimal;
    use std::str::FromStr;
    use time::OffsetDateTime;

    const SHOPIFY_SHOP: &str = "butik-shopify";
    const WOO_SHOP: &str = "butik-woo";
    const SHOPIFY_SECRET: &str = "shpss_0123456789abcdef";
    const OLD_SHOPIFY_SECRET: &str = "shpss_previous";
    const WOO_SECRET: &str = "wc-secret-!@#";
    const DOMAIN: &str = "butik.myshopify.com";
    const PAID_ORDER: &[u8] = include_bytes!("../../tests/fixtures/shopify/dk-discount-code.json");
    const DUTIES_ORDER: &[u8] =
        include_bytes!("../../tests/fixtures/shopify/not-invoiceable-duties.json");
    const WOO_ORDER: &[u8] =
        include_bytes!("../../tests/fixtures/woocommerce/dk-coupon-incl-vat.json");

    fn platform_shop(shop_id: &str, platform: serde_json::Value) -> ShopConfig {
        let mut config = serde_json::to_value(shop()).expect("shop serialises");
        config["shop_id"] = shop_id.into();
        config["webhook_secrets"] = serde_json::json!([]);
        config["platform"] = platform;
        serde_json::from_value(config).expect("platform shop parses")
    }

    fn world() -> World {
        let mut world = World::new();
        world.shops = Arc::new(MemoryShopStore::with([
            shop(),
            platform_shop(
                SHOPIFY_SHOP,
                serde_json::json!({"kind": "shopify", "shop_domain": DOMAIN, "secrets": [
                    {"secret": SHOPIFY_SECRET},
                    {"secret": OLD_SHOPIFY_SECRET, "valid_until": "2099-01-01T00:00:00Z"}
                ]}),
            ),
            platform_shop(
                WOO_SHOP,
                serde_json::json!({"kind": "woocommerce", "secrets": [{"secret": WOO_SECRET}]}),
            ),
        ]));
        world
    }

    impl World {
        fn platform_ingest(
            &self,
        ) -> Ingest<Arc<MemoryShopStore>, Arc<MemoryOrderStore>, MemoryTransferQueue> {
            Ingest::new(
                self.shops.clone(),
                self.orders.clone(),
                self.queue.enqueue_only(),
                IngestSettings {
                    max_body_bytes: 64 * 1024,
                    ..IngestSettings::default()
                },
            )
        }

        async fn post(
            &self,
            shop_id: &str,
            platform: Platform,
            headers: PlatformHeaders<'_>,
            body: &[u8],
        ) -> WebhookResponse {
            let request = PlatformRequest {
                shop_id,
                platform,
                content_length: None,
                headers,
                body,
            };
            let now = OffsetDateTime::from_unix_timestamp(T0).expect("time");
            self.platform_ingest().handle_platform(request, now).await
        }
    }

    fn shopify_headers<'a>(signature: &'a str, topic: &'a str, id: &'a str) -> PlatformHeaders<'a> {
        PlatformHeaders {
            signature: Some(signature),
            topic: Some(topic),
            delivery_id: Some(id),
            shop_domain: Some(DOMAIN),
            api_version: Some("2025-07"),
        }
    }

    fn woo_headers<'a>(signature: &'a str, topic: &'a str, id: &'a str) -> PlatformHeaders<'a> {
        PlatformHeaders {
            signature: Some(signature),
            topic: Some(topic),
            delivery_id: Some(id),
            ..PlatformHeaders::default()
        }
    }

    #[tokio::test]
    async fn a_shopify_paid_order_is_invoiced_at_shopifys_total() {
        let world = world();
        let signature = sign_body_hmac(SHOPIFY_SECRET, PAID_ORDER);
        let headers = shopify_headers(
            &signature,
            "orders/paid",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        );
        let response = world
            .post(SHOPIFY_SHOP, Platform::Shopify, headers, PAID_ORDER)
            .await;
        assert_eq!(
            (response.status, &response.body["status"]),
            (202, &"accepted".into())
        );
        assert_eq!(response.body["order_id"], "5810000000001");
        let record = world
            .orders
            .record(SHOPIFY_SHOP, "5810000000001")
            .expect("recorded");
        assert_eq!(record.label, Label::Pending);
        let snapshot = record.snapshot.expect("snapshot");
        assert!(
            snapshot.starts_with(r#"{"platform":"shopify","payload_version":"2025-07","event":"orders/paid","payload":"#),
            "{snapshot}"
        );
        // The same delivery again: a duplicate.
        let again = world
            .post(SHOPIFY_SHOP, Platform::Shopify, headers, PAID_ORDER)
            .await;
        assert_eq!(again.body["status"], "duplicate");
        assert_eq!(world.queue.transfer_bodies().len(), 1);

        let (_, disposition) = world.deliver().await;
        assert_eq!(disposition, Disposition::Done);
        let record = world
            .orders
            .record(SHOPIFY_SHOP, "5810000000001")
            .expect("recorded");
        assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);
        let invoices = world.invoicing.invoices();
        assert_eq!(invoices.len(), 1);
        assert_eq!(
            invoices[0].gross_amount,
            Decimal::from_str("353.01").unwrap()
        );
    }

    #[tokio::test]
    async fn the_previous_shopify_secret_still_verifies_during_a_rotation() {
        let world = world();
        let signature = sign_body_hmac(OLD_SHOPIFY_SECRET, PAID_ORDER);
        let response = world
            .post(
                SHOPIFY_SHOP,
                Platform::Shopify,
                shopify_headers(&signature, "orders/create", "w-1"),
                PAID_ORDER,
            )
            .await;
        assert_eq!(response.body["status"], "recorded");
    }

    #[tokio::test]
    async fn a_shopify_order_that_cannot_be_invoiced_ends_failed_naming_the_field() {
        let world = world();
        let signature = sign_body_hmac(SHOPIFY_SECRET, DUTIES_ORDER);
        let response = world
            .post(
                SHOPIFY_SHOP,
                Platform::Shopify,
                shopify_headers(&signature, "orders/paid", "w-1"),
                DUTIES_ORDER,
            )
            .await;
        assert_eq!(response.status, 202);
        world.deliver().await;
        let record = world
            .orders
            .record(SHOPIFY_SHOP, "5810000000007")
            .expect("recorded");
        assert_eq!(record.label, Label::Failed);
        let reason = record.last_error.unwrap_or_default();
        assert!(reason.contains("total_price"), "{reason}");
        assert!(reason.contains("Shopify"), "{reason}");
        assert!(world.invoicing.invoices().is_empty());
    }

    #[tokio::test]
    async fn shopify_callers_mistakes_get_their_own_4xx_and_other_topics_200() {
        let world = world();
        let good = sign_body_hmac(SHOPIFY_SECRET, PAID_ORDER);
        let good = good.as_str();
        let post = |shop, headers, body| world.post(shop, Platform::Shopify, headers, body);
        // Unknown shop; a shop not set up for Shopify.
        assert_eq!(
            post(
                "nope",
                shopify_headers(good, "orders/paid", "1"),
                PAID_ORDER
            )
            .await
            .status,
            404
        );
        assert_eq!(
            post(
                WOO_SHOP,
                shopify_headers(good, "orders/paid", "1"),
                PAID_ORDER
            )
            .await
            .status,
            404
        );
        assert_eq!(
            post(SHOP, shopify_headers(good, "orders/paid", "1"), PAID_ORDER)
                .await
                .status,
            404
        );
        // Wrong and missing signature.
        let wrong = shopify_headers(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "orders/paid",
            "1",
        );
        assert_eq!(post(SHOPIFY_SHOP, wrong, PAID_ORDER).await.status, 401);
        let missing = PlatformHeaders {
            signature: None,
            ..shopify_headers(good, "orders/paid", "1")
        };
        let response = post(SHOPIFY_SHOP, missing, PAID_ORDER).await;
        assert_eq!(response.status, 401);
        assert!(response.body["error"]
            .as_str()
            .unwrap()
            .contains("X-Shopify-Hmac-Sha256"));
        // Another shop's domain.
        let other_domain = PlatformHeaders {
            shop_domain: Some("other.myshopify.com"),
            ..shopify_headers(good, "orders/paid", "1")
        };
        assert_eq!(
            post(SHOPIFY_SHOP, other_domain, PAID_ORDER).await.status,
            401
        );
        // A topic that is no order stage.
        let other = post(
            SHOPIFY_SHOP,
            shopify_headers(good, "products/update", "1"),
            PAID_ORDER,
        )
        .await;
        assert_eq!(
            (other.status, &other.body["status"]),
            (200, &"ignored".into())
        );
        // refunds/create with a body that is no refund: malformed.
        let refund = post(
            SHOPIFY_SHOP,
            shopify_headers(good, "refunds/create", "1"),
            PAID_ORDER,
        )
        .await;
        assert_eq!(refund.status, 400, "{}", refund.body);
        // Malformed: the field is named.
        let body: &[u8] = br#"{"id": 1, "created_at": "2026-11-27T09:12:44+01:00", "currency": "DKK", "total_price": "10.00", "line_items": [{"quantity": 1, "price": "ten"}]}"#;
        let signature = sign_body_hmac(SHOPIFY_SECRET, body);
        let signature = signature.as_str();
        let malformed = post(
            SHOPIFY_SHOP,
            shopify_headers(signature, "orders/paid", "1"),
            body,
        )
        .await;
        assert_eq!(malformed.status, 400);
        assert_eq!(malformed.body["field"], "line_items[0].price");
        // No webhook id.
        let no_id = PlatformHeaders {
            delivery_id: None,
            ..shopify_headers(good, "orders/paid", "1")
        };
        let response = post(SHOPIFY_SHOP, no_id, PAID_ORDER).await;
        assert_eq!(
            (response.status, &response.body["field"]),
            (400, &"X-Shopify-Webhook-Id".into())
        );
        // Too large.
        let huge = vec![b' '; 70 * 1024];
        assert_eq!(
            post(
                SHOPIFY_SHOP,
                shopify_headers(good, "orders/paid", "1"),
                &huge
            )
            .await
            .status,
            413
        );
        assert!(world.orders.records().is_empty(), "nothing recorded");
    }

    #[tokio::test]
    async fn woocommerce_ping_statuses_and_deliveries() {
        let world = world();
        // The unsigned creation ping.
        let ping = world
            .post(
                WOO_SHOP,
                Platform::Woocommerce,
                PlatformHeaders::default(),
                b"webhook_id=17",
            )
            .await;
        assert_eq!((ping.status, &ping.body["status"]), (200, &"ping".into()));

        let signature = sign_body_hmac(WOO_SECRET, WOO_ORDER);
        let processing = woo_headers(&signature, "order.updated", "9001");
        let response = world
            .post(WOO_SHOP, Platform::Woocommerce, processing, WOO_ORDER)
            .await;
        assert_eq!(
            (response.status, &response.body["status"]),
            (202, &"accepted".into())
        );
        let again = world
            .post(WOO_SHOP, Platform::Woocommerce, processing, WOO_ORDER)
            .await;
        assert_eq!(again.body["status"], "duplicate");
        let record = world.orders.record(WOO_SHOP, "2001").expect("recorded");
        assert_eq!(record.webhook_ids, vec!["9001:2001:processing"]);
        assert!(record.snapshot.unwrap_or_default().starts_with(
            r#"{"platform":"woocommerce","payload_version":"9.4.2","event":"processing""#
        ));

        // A status that is no stage, and a topic that is no order event.
        // (`cancelled` cancels the order: domain::platform::requests.)
        let cancelled = String::from_utf8(WOO_ORDER.to_vec())
            .unwrap()
            .replace(r#""status": "processing""#, r#""status": "failed""#);
        let signature = sign_body_hmac(WOO_SECRET, cancelled.as_bytes());
        let response = world
            .post(
                WOO_SHOP,
                Platform::Woocommerce,
                woo_headers(&signature, "order.updated", "9002"),
                cancelled.as_bytes(),
            )
            .await;
        assert_eq!(
            (response.status, &response.body["status"]),
            (200, &"ignored".into())
        );
        let signature = sign_body_hmac(WOO_SECRET, WOO_ORDER);
        let response = world
            .post(
                WOO_SHOP,
                Platform::Woocommerce,
                woo_headers(&signature, "product.updated", "9003"),
                WOO_ORDER,
            )
            .await;
        assert_eq!(response.body["status"], "ignored");
        // Wrong signature.
        let response = world
            .post(
                WOO_SHOP,
                Platform::Woocommerce,
                woo_headers("bm9wZQ==", "order.updated", "9004"),
                WOO_ORDER,
            )
            .await;
        assert_eq!(response.status, 401);

        world.deliver().await;
        let record = world.orders.record(WOO_SHOP, "2001").expect("recorded");
        assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);
        assert_eq!(
            world.invoicing.invoices()[0].gross_amount,
            Decimal::from_str("218.91").unwrap()
        );
    }
}

#[path = "notify/tests.rs"]
mod notify_tests;
mod payments;
mod refunds;
mod woo_refund_lines;
#[path = "notify/write_back/tests.rs"]
mod write_back_tests;

mod budget;
#[path = "transfer_control_tests.rs"]
mod transfer_control_tests;
