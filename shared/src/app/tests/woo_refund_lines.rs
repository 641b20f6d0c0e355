//! WooCommerce refunds on an order with several VAT rates over the memory
//! adapters: transfer reads the refund's lines from the shop's REST API
//! (the memory shop) once the invoice is known, retries a read that timed
//! out without a second credit note, and fails a refund whose REST API key
//! is rejected or missing, with the reason.

use super::*;
use crate::app::ingest::{Ingest, IngestSettings, PlatformHeaders, PlatformRequest};
use crate::domain::platform::Platform;
use crate::domain::webhook::sign_body_hmac;
use crate::ports::{Clock, CreditStore, ShopReadError};
use rust_decimal::Decimal;
use std::str::FromStr;
use time::OffsetDateTime;

const WOO_SHOP: &str = "butik-woo";
const WOO_SECRET: &str = "wc-secret-refunds";
const WOO_ORDER: &[u8] =
    include_bytes!("../../../tests/fixtures/woocommerce/dk-coupon-incl-vat.json");
const REFUND: &[u8] = include_bytes!("../../../tests/fixtures/woocommerce-refunds/two-rates.json");
const REFUND_RECORD: &str = "2001#refund#2091";
const CONSUMER_KEY: &str = "ck_memory_shop";

/// The fixture order with a newspaper at 0 % beside the socks at 25 %,
/// listing `refunds`.
fn two_rate_order(refunds: serde_json::Value) -> Vec<u8> {
    let mut body: serde_json::Value = serde_json::from_slice(WOO_ORDER).expect("fixture");
    body["line_items"]
        .as_array_mut()
        .expect("lines")
        .push(serde_json::json!({
            "id": 2, "name": "Avis", "product_id": 102, "variation_id": 0, "quantity": 1,
            "tax_class": "zero-rate", "subtotal": "30.00", "subtotal_tax": "0.00",
            "total": "30.00", "total_tax": "0.00", "taxes": [], "meta_data": [],
            "sku": "PAPER", "price": 30
        }));
    body["total"] = "248.91".into();
    body["refunds"] = refunds;
    serde_json::to_vec(&body).expect("json")
}

struct WooWorld {
    world: World,
    shop_refunds: Arc<MemoryShopRefunds>,
}

impl WooWorld {
    /// A WooCommerce shop making credit notes; with a REST API key in
    /// `platform.write_back` when `rest_key`.
    async fn new(rest_key: bool) -> WooWorld {
        let world = World::new();
        let mut config = serde_json::to_value(shop()).expect("shop serialises");
        config["shop_id"] = WOO_SHOP.into();
        config["webhook_secrets"] = serde_json::json!([]);
        config["platform"] = serde_json::json!({"kind": "woocommerce",
            "secrets": [{"secret": WOO_SECRET}]});
        if rest_key {
            config["platform"]["write_back"] = serde_json::json!({
                "store_url": "https://butik.example.dk",
                "consumer_key": CONSUMER_KEY, "consumer_secret": "cs_memory_shop"});
        }
        let mut shop: ShopConfig = serde_json::from_value(config).expect("shop parses");
        shop.mapping.credit_notes.enabled = true;
        world.shops.put(&shop).await.expect("shop stored");
        let shop_refunds = Arc::new(MemoryShopRefunds::new());
        shop_refunds.put("2001", "2091", REFUND);
        WooWorld {
            world,
            shop_refunds,
        }
    }

    async fn post(&self, body: &[u8], delivery: &str) {
        let signature = sign_body_hmac(WOO_SECRET, body);
        let request = PlatformRequest {
            shop_id: WOO_SHOP,
            platform: Platform::Woocommerce,
            content_length: None,
            headers: PlatformHeaders {
                signature: Some(&signature),
                topic: Some("order.updated"),
                delivery_id: Some(delivery),
                ..PlatformHeaders::default()
            },
            body,
        };
        let ingest = Ingest::new(
            self.world.shops.clone(),
            self.world.orders.clone(),
            self.world.queue.enqueue_only(),
            IngestSettings::default(),
        );
        let now =
            OffsetDateTime::from_unix_timestamp(self.world.clock.epoch_seconds()).expect("time");
        let answer = ingest.handle_platform(request, now).await;
        assert!(answer.status < 300, "{} {}", answer.status, answer.body);
    }

    /// Delivers the next message to a transfer that reads refunds from
    /// the memory shop.
    async fn deliver(&self) -> Disposition {
        let message = self
            .world
            .queue
            .receive(1)
            .pop()
            .expect("a visible message");
        let disposition = self
            .world
            .transfer()
            .with_shop_refunds(self.shop_refunds.clone())
            .process(&message, far_deadline())
            .await;
        if disposition == Disposition::Done {
            let handle = message.receipt_handle.as_deref().unwrap_or_default();
            assert!(self.world.queue.acknowledge(handle), "message deleted");
        }
        disposition
    }

    /// The order invoiced, then a delivery that lists refund 2091.
    async fn invoiced_then_refunded(&self) {
        self.post(&two_rate_order(serde_json::json!([])), "d-1")
            .await;
        assert_eq!(self.deliver().await, Disposition::Done);
        let order = self.world.orders.record(WOO_SHOP, "2001").expect("order");
        assert_eq!(order.label, Label::Ok, "{:?}", order.last_error);
        let listed = serde_json::json!([{"id": 2091, "reason": "Returneret", "total": "-158.95"}]);
        self.post(&two_rate_order(listed), "d-2").await;
    }

    fn refund(&self) -> OrderRecord {
        self.world
            .orders
            .record(WOO_SHOP, REFUND_RECORD)
            .expect("the refund's record")
    }

    fn credit_notes(&self) -> Vec<StoredInvoice> {
        self.world.invoicing.invoices_for("Credit note 2001-2091")
    }
}

#[tokio::test]
async fn a_read_that_times_out_is_retried_and_makes_exactly_one_exact_credit_note() {
    let woo = WooWorld::new(true).await;
    woo.invoiced_then_refunded().await;
    woo.shop_refunds.fail_next(ShopReadError {
        transient: true,
        reason: "WooCommerce unreachable: operation timed out".into(),
    });
    assert_eq!(woo.deliver().await, Disposition::Retry);
    let waiting = woo.refund();
    assert_eq!(waiting.label, Label::Pending);
    let reason = waiting.last_error.unwrap_or_default();
    assert!(
        reason.contains("timed out") && reason.contains("retried"),
        "{reason}"
    );
    assert!(woo.credit_notes().is_empty(), "nothing credited yet");

    woo.world.clock.advance(31);
    assert_eq!(woo.deliver().await, Disposition::Done);
    let credited = woo.refund();
    assert_eq!(credited.label, Label::Ok, "{:?}", credited.last_error);
    let notes = woo.credit_notes();
    assert_eq!(notes.len(), 1, "one credit note");
    assert_eq!(notes[0].gross_amount, Decimal::from_str("-158.95").unwrap());
    // Each rate's share as WooCommerce refunded it: the sock and the
    // shipping at 25 %, the newspaper at 0 %.
    let account = woo
        .world
        .orders
        .credit_account(WOO_SHOP, "2001")
        .await
        .expect("read")
        .expect("the order");
    let entry = &account.ledger.entries[0];
    let mut per_rate = entry.per_rate.clone();
    per_rate.sort();
    assert_eq!(
        per_rate,
        [
            (Decimal::ZERO, Decimal::from_str("30.00").unwrap()),
            (Decimal::from(25), Decimal::from_str("128.95").unwrap())
        ]
    );
    assert_eq!(entry.shipping, Decimal::from_str("39.00").unwrap());
    assert_eq!(woo.shop_refunds.calls().len(), 2, "read once per attempt");

    // The order delivered again lists the refund again: a duplicate,
    // nothing more is read or credited.
    let listed = serde_json::json!([{"id": 2091, "reason": "Returneret", "total": "-158.95"}]);
    woo.post(&two_rate_order(listed), "d-3").await;
    assert!(woo.world.queue.receive(1).is_empty(), "nothing queued");
    assert_eq!(woo.credit_notes().len(), 1);
}

#[tokio::test]
async fn a_rejected_rest_api_key_fails_the_refund_with_the_reason_and_credits_nothing() {
    let woo = WooWorld::new(true).await;
    woo.shop_refunds.accept_only("ck_another_key");
    woo.invoiced_then_refunded().await;
    assert_eq!(woo.deliver().await, Disposition::Done);
    let failed = woo.refund();
    assert_eq!(failed.label, Label::Failed);
    let reason = failed.last_error.unwrap_or_default();
    assert!(reason.contains("HTTP 401"), "{reason}");
    assert!(!reason.contains(CONSUMER_KEY), "{reason}");
    let dead = woo.world.queue.dead_letters();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].order_id, REFUND_RECORD);
    assert!(woo.credit_notes().is_empty());
    let account = woo
        .world
        .orders
        .credit_account(WOO_SHOP, "2001")
        .await
        .expect("read")
        .expect("the order");
    assert!(account.ledger.entries.is_empty(), "nothing reserved");
}

#[tokio::test]
async fn without_a_rest_api_key_the_refund_fails_naming_the_setting_and_nothing_is_read() {
    let woo = WooWorld::new(false).await;
    woo.invoiced_then_refunded().await;
    assert_eq!(woo.deliver().await, Disposition::Done);
    let failed = woo.refund();
    assert_eq!(failed.label, Label::Failed);
    let reason = failed.last_error.unwrap_or_default();
    assert!(reason.contains("`platform.write_back`"), "{reason}");
    assert!(reason.contains("0 % and 25 %"), "{reason}");
    assert!(woo.shop_refunds.calls().is_empty());
    assert!(woo.credit_notes().is_empty());
}

#[tokio::test]
async fn a_refund_waiting_for_its_invoice_reads_nothing_from_the_shop() {
    let woo = WooWorld::new(true).await;
    // The refunded order's first delivery, on hold: the order is recorded
    // (not yet to be invoiced) and its refund queued.
    let listed = serde_json::json!([{"id": 2091, "reason": "Returneret", "total": "-158.95"}]);
    let mut body: serde_json::Value = serde_json::from_slice(&two_rate_order(listed)).unwrap();
    body["status"] = "on-hold".into();
    woo.post(&serde_json::to_vec(&body).unwrap(), "d-1").await;
    assert_eq!(woo.deliver().await, Disposition::Done);
    let waiting = woo.refund();
    assert_eq!(waiting.label, Label::Pending);
    let reason = waiting.last_error.unwrap_or_default();
    assert!(reason.contains("waiting for the invoice"), "{reason}");
    assert!(
        woo.shop_refunds.calls().is_empty(),
        "{:?}",
        woo.shop_refunds.calls()
    );
}

#[tokio::test]
async fn a_shop_that_never_answers_fails_the_refund_on_its_last_delivery_naming_the_shop() {
    let woo = WooWorld::new(true).await;
    woo.invoiced_then_refunded().await;
    for _ in 0..MAX_RECEIVES {
        woo.shop_refunds.fail_next(ShopReadError {
            transient: true,
            reason: "WooCommerce answered HTTP 503".into(),
        });
    }
    for _ in 0..MAX_RECEIVES {
        woo.deliver().await;
        if woo.refund().label != Label::Pending {
            break;
        }
        woo.world.clock.advance(3_600);
    }
    let failed = woo.refund();
    assert_eq!(failed.label, Label::Failed);
    let reason = failed.last_error.unwrap_or_default();
    assert!(
        reason.contains("HTTP 503") && reason.contains("once the shop answers again"),
        "{reason}"
    );
    assert_eq!(woo.shop_refunds.calls().len() as u32, MAX_RECEIVES);
    assert!(woo.credit_notes().is_empty());
}
