//! Label write-back end to end: platform webhooks through ingest, transfer
//! against the e-conomic sandbox, the write-back on the notification queue
//! delivered by the transfer handler over real HTTP into the local stack's
//! fake Shopify Admin API and fake WooCommerce REST API, which check the
//! credentials and keep what was written.

use super::platforms::{fixture, platform_signature, shopify_headers, woo_headers};
use bridge::domain::lifecycle::Label;
use bridge::domain::notify::{Channel, DeliveryState, NotificationRecord};
use bridge::domain::secret::Secret;
use bridge::ports::{NotificationStore, ShopStore};
use integration_tests::*;
use local_stack::shop_admin::{AdminCredentials, FakeShopAdmin};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);
const SHOPIFY_SECRET: &str = "shpss_write_back_test";
const WOO_SECRET: &str = "woo-write-back-webhook-secret";
const DOMAIN: &str = "write-back.myshopify.com";
const ACCESS_TOKEN: &str = "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";
const CONSUMER_KEY: &str = "ck_4d1f0c9b8a7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c";
const CONSUMER_SECRET: &str = "cs_9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b";
/// The Shopify fixture's order id.
const SHOPIFY_ORDER: &str = "5810000000001";

async fn fake_shop() -> FakeShopAdmin {
    FakeShopAdmin::start(
        0,
        AdminCredentials {
            shopify_access_token: ACCESS_TOKEN.into(),
            woo_consumer_key: CONSUMER_KEY.into(),
            woo_consumer_secret: CONSUMER_SECRET.into(),
        },
    )
    .await
    .expect("fake shop admin")
}

async fn write_backs(stack: &Stack, shop_id: &str, order_id: &str) -> Vec<NotificationRecord> {
    stack
        .order_store()
        .notifications(Channel::WriteBack, shop_id, order_id)
        .await
        .expect("write-backs")
}

/// Polls the notification queue until the order has `count` write-backs
/// and none is still on its way.
async fn written(
    stack: &Stack,
    shop_id: &str,
    order_id: &str,
    count: usize,
) -> Vec<NotificationRecord> {
    let started = Instant::now();
    loop {
        stack.poll_notifications().await;
        let records = write_backs(stack, shop_id, order_id).await;
        let settled = records.len() == count
            && records
                .iter()
                .all(|r| !matches!(r.state, DeliveryState::Queued | DeliveryState::Retrying));
        if settled {
            return records;
        }
        assert!(
            started.elapsed() < LIMIT,
            "write-backs not settled: {records:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Delivers a signed Shopify webhook of `topic` for `order` (a JSON body).
async fn shopify_webhook(stack: &Stack, topic: &str, id: &str, order: &Value) -> (u16, Value) {
    let body = order.to_string().into_bytes();
    let headers = shopify_headers(
        &platform_signature(SHOPIFY_SECRET, &body),
        topic,
        id,
        DOMAIN,
    );
    stack
        .deliver_platform("sokker", "shopify", headers, &body)
        .await
}

/// The Shopify order as the shop would send it now: the fixture with the
/// fake shop's current tags (Shopify sends them comma-separated).
fn shopify_order_as_in(fake: &FakeShopAdmin) -> Value {
    let mut order: Value =
        serde_json::from_slice(&fixture("shopify", "dk-discount-code.json")).unwrap();
    let tags = fake.order(SHOPIFY_ORDER).expect("order in the shop").tags;
    order["tags"] = json!(tags.join(", "));
    order
}

fn bridge_note(reason: &str) -> String {
    format!("[e-conomic bridge]\n{reason}\n[/e-conomic bridge]")
}

/// Nothing left to do on the transfer queue: an `orders/updated` caused
/// nothing.
async fn transfer_queue_settles(stack: &Stack) {
    for _ in 0..3 {
        stack.poll_transfer().await;
    }
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_gets_the_label_tag_and_the_reason_note_and_our_own_writes_loop_back_to_nothing() {
    let stack = Stack::start().await;
    let fake = fake_shop().await;
    let mut shop = stack
        .put_platform_shop(
            "sokker",
            json!({"kind": "shopify", "shop_domain": DOMAIN, "secrets": [{"secret": SHOPIFY_SECRET}],
                   "write_back": {"access_token": ACCESS_TOKEN, "admin_url": fake.url()}}),
        )
        .await;
    fake.add_order(SHOPIFY_ORDER, &["vip"], Some("Gift wrap, please"));

    // e-conomic disconnected: the order fails; the shop shows it.
    let good_grant = shop.economic.agreement_grant_token.clone();
    shop.economic.agreement_grant_token = Secret::new("revoked-grant");
    stack.shop_store().put(&shop).await.expect("put shop");
    let order = shopify_order_as_in(&fake);
    assert_eq!(
        shopify_webhook(&stack, "orders/paid", "d-paid", &order)
            .await
            .0,
        202
    );
    let failed = stack
        .transfer_until("sokker", SHOPIFY_ORDER, LIMIT, |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(failed.label, Label::Failed);
    let reason = failed.last_error.clone().expect("a reason");
    let records = written(&stack, "sokker", SHOPIFY_ORDER, 1).await;
    assert_eq!(records[0].state, DeliveryState::Delivered, "{records:?}");
    let in_shop = fake.order(SHOPIFY_ORDER).unwrap();
    assert_eq!(in_shop.tags, ["vip", "e-conomic-failed"]);
    assert_eq!(
        in_shop.note.as_deref(),
        Some(format!("Gift wrap, please\n\n{}", bridge_note(&reason)).as_str())
    );
    assert!(fake.requests().iter().all(|r| r.authorized));

    // Our tag write makes Shopify send orders/updated: nothing happens.
    let echo = shopify_order_as_in(&fake);
    assert_eq!(echo["tags"], "vip, e-conomic-failed");
    let (status, answer) = shopify_webhook(&stack, "orders/updated", "d-echo-1", &echo).await;
    assert!(status < 300, "{status} {answer}");
    transfer_queue_settles(&stack).await;
    let still = stack.order("sokker", SHOPIFY_ORDER).await.unwrap();
    assert_eq!(
        (still.label, still.attempts),
        (Label::Failed, failed.attempts)
    );
    assert_eq!(write_backs(&stack, "sokker", SHOPIFY_ORDER).await.len(), 1);
    // Nor does a later order event (fulfilled, past the trigger) while the
    // order carries our failed tag and no re-send tag.
    let (status, answer) = shopify_webhook(&stack, "orders/fulfilled", "d-fulfilled", &echo).await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
    transfer_queue_settles(&stack).await;
    assert_eq!(
        stack.order("sokker", SHOPIFY_ORDER).await.unwrap().label,
        Label::Failed
    );

    // The merchant reconnects e-conomic and adds e-conomic-pending: the
    // order is re-sent; ok replaces both tags and clears our note section.
    shop.economic.agreement_grant_token = good_grant;
    stack.shop_store().put(&shop).await.expect("put shop");
    fake.set_tags(
        SHOPIFY_ORDER,
        &["vip", "e-conomic-failed", "e-conomic-pending"],
    );
    let tagged = shopify_order_as_in(&fake);
    assert_eq!(
        shopify_webhook(&stack, "orders/updated", "d-resend", &tagged)
            .await
            .0,
        202
    );
    stack
        .transfer_until("sokker", SHOPIFY_ORDER, LIMIT, |r| r.label == Label::Ok)
        .await;
    // Shopify throttles the first try: retried when the bucket allows.
    fake.throttle_next(1);
    let records = written(&stack, "sokker", SHOPIFY_ORDER, 2).await;
    assert_eq!(records[1].state, DeliveryState::Delivered, "{records:?}");
    assert_eq!(records[1].attempts, 2, "one throttled try, then written");
    let in_shop = fake.order(SHOPIFY_ORDER).unwrap();
    assert_eq!(in_shop.tags, ["vip", "e-conomic-ok"]);
    assert_eq!(in_shop.note.as_deref(), Some("Gift wrap, please"));
    assert_eq!(stack.sandbox.drafts_with_reference(0, "Order 1001"), 1);

    // The echo of the ok write: no re-send, no e-conomic call, no write.
    let echo = shopify_order_as_in(&fake);
    let (status, _) = shopify_webhook(&stack, "orders/updated", "d-echo-2", &echo).await;
    assert!(status < 300);
    transfer_queue_settles(&stack).await;
    let ok = stack.order("sokker", SHOPIFY_ORDER).await.unwrap();
    assert_eq!(ok.label, Label::Ok);
    assert!(
        !ok.history.iter().any(|h| h.what.contains("re-send")),
        "{:?}",
        ok.history
    );
    assert_eq!(write_backs(&stack, "sokker", SHOPIFY_ORDER).await.len(), 2);

    // Cancelled in the shop: the draft is deleted, the shop says so.
    let (status, _) = shopify_webhook(&stack, "orders/cancelled", "d-cancel", &echo).await;
    assert_eq!(status, 202);
    let cancelled = stack
        .transfer_until("sokker", SHOPIFY_ORDER, LIMIT, |r| {
            r.label == Label::Cancelled
        })
        .await;
    written(&stack, "sokker", SHOPIFY_ORDER, 3).await;
    let in_shop = fake.order(SHOPIFY_ORDER).unwrap();
    assert_eq!(in_shop.tags, ["vip", "e-conomic-cancelled"]);
    let reason = cancelled.last_error.expect("a reason");
    assert!(reason.contains("was deleted"), "{reason}");
    assert_eq!(
        in_shop.note.as_deref(),
        Some(format!("Gift wrap, please\n\n{}", bridge_note(&reason)).as_str())
    );
    assert!(stack.sandbox.drafts(0).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_refusals_end_the_write_back_without_touching_the_order() {
    let stack = Stack::start().await;
    let fake = fake_shop().await;
    // A revoked token, and (second shop) an order deleted from the store.
    stack
        .put_platform_shop(
            "sokker",
            json!({"kind": "shopify", "shop_domain": DOMAIN, "secrets": [{"secret": SHOPIFY_SECRET}],
                   "write_back": {"access_token": "shpat_revoked", "admin_url": fake.url()}}),
        )
        .await;
    fake.add_order(SHOPIFY_ORDER, &[], None);
    let order = shopify_order_as_in(&fake);
    shopify_webhook(&stack, "orders/paid", "d-paid", &order).await;
    stack
        .transfer_until("sokker", SHOPIFY_ORDER, LIMIT, |r| r.label == Label::Ok)
        .await;
    let records = written(&stack, "sokker", SHOPIFY_ORDER, 1).await;
    assert_eq!(records[0].state, DeliveryState::Refused);
    assert_eq!(records[0].attempts, 1, "not retried");
    assert!(
        records[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("401") && !e.contains("shpat_revoked")),
        "{records:?}"
    );
    assert!(fake.order(SHOPIFY_ORDER).unwrap().tags.is_empty());
    assert!(fake.requests().iter().all(|r| !r.authorized));
    assert_eq!(stack.depth(&stack.notify_queues.queue_url).await, 0);

    // Right token, but the order is gone from the store.
    let mut shop = stack.shop_store().get("sokker").await.unwrap().unwrap();
    if let Some(bridge::domain::shop::PlatformConfig::Shopify(shopify)) = &mut shop.platform {
        shopify.write_back.as_mut().unwrap().access_token = Secret::new(ACCESS_TOKEN);
    }
    stack.shop_store().put(&shop).await.expect("put shop");
    let mut other = order.clone();
    other["id"] = json!(5810000000002u64);
    shopify_webhook(&stack, "orders/paid", "d-paid-2", &other).await;
    stack
        .transfer_until("sokker", "5810000000002", LIMIT, |r| r.label == Label::Ok)
        .await;
    let records = written(&stack, "sokker", "5810000000002", 1).await;
    assert_eq!(records[0].state, DeliveryState::Refused);
    assert!(
        records[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("no order 5810000000002")),
        "{records:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn woocommerce_gets_the_label_meta_and_a_private_note_per_failure_or_cancellation() {
    let stack = Stack::start().await;
    let fake = fake_shop().await;
    let mut shop = stack
        .put_platform_shop(
            "butik",
            json!({"kind": "woocommerce", "secrets": [{"secret": WOO_SECRET}],
                   "write_back": {"store_url": fake.url(), "consumer_key": CONSUMER_KEY,
                                  "consumer_secret": CONSUMER_SECRET}}),
        )
        .await;
    let mut order: Value =
        serde_json::from_slice(&fixture("woocommerce", "dk-coupon-incl-vat.json")).unwrap();
    let send = |order: &Value, delivery: &str| {
        let body = order.to_string().into_bytes();
        let headers = woo_headers(
            &platform_signature(WOO_SECRET, &body),
            "order.updated",
            delivery,
        );
        let stack = &stack;
        async move {
            stack
                .deliver_platform("butik", "woocommerce", headers, &body)
                .await
        }
    };

    // Failed (e-conomic disconnected): label meta, reason meta and a note.
    let good_grant = shop.economic.agreement_grant_token.clone();
    shop.economic.agreement_grant_token = Secret::new("revoked-grant");
    stack.shop_store().put(&shop).await.expect("put shop");
    let failing = order["id"].to_string();
    fake.add_order(&failing, &[], None);
    order["status"] = json!("processing");
    assert_eq!(send(&order, "d1").await.0, 202);
    let failed = stack
        .transfer_until("butik", &failing, LIMIT, |r| r.label == Label::Failed)
        .await;
    let reason = failed.last_error.expect("a reason");
    let records = written(&stack, "butik", &failing, 1).await;
    assert_eq!(records[0].state, DeliveryState::Delivered, "{records:?}");
    let in_shop = fake.order(&failing).unwrap();
    assert_eq!(in_shop.meta["econ_bridge_label"], "e-conomic-failed");
    assert_eq!(in_shop.meta["econ_bridge_reason"], reason);
    assert_eq!(
        in_shop.notes,
        [format!(
            "e-conomic: the invoice could not be made: {reason}"
        )]
    );

    // Our meta write saves the order: WooCommerce sends order.updated at
    // the unchanged status, carrying our meta. It must not re-open the
    // failed order (it would fail again, be written again: a loop).
    let mut echo = order.clone();
    echo["meta_data"] = json!([{"id": 90, "key": "econ_bridge_label", "value": "e-conomic-failed"},
                               {"id": 91, "key": "econ_bridge_reason", "value": reason}]);
    let (status, answer) = send(&echo, "d1-echo").await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
    transfer_queue_settles(&stack).await;
    let still = stack.order("butik", &failing).await.unwrap();
    assert_eq!(
        (still.label, still.attempts),
        (Label::Failed, failed.attempts)
    );

    // The merchant reconnects e-conomic, sets the field to
    // e-conomic-pending and saves: re-sent, ok, the reason emptied.
    shop.economic.agreement_grant_token = good_grant;
    stack.shop_store().put(&shop).await.expect("put shop");
    let mut resend = echo.clone();
    resend["meta_data"][0]["value"] = json!("e-conomic-pending");
    let (_, answer) = send(&resend, "d1-resend").await;
    assert_eq!(answer["status"], "accepted");
    stack
        .transfer_until("butik", &failing, LIMIT, |r| r.label == Label::Ok)
        .await;
    written(&stack, "butik", &failing, 2).await;
    let in_shop = fake.order(&failing).unwrap();
    assert_eq!(in_shop.meta["econ_bridge_label"], "e-conomic-ok");
    assert_eq!(in_shop.meta["econ_bridge_reason"], "");
    assert_eq!(in_shop.notes.len(), 1, "the failure's note stays");
    let draft = stack.sandbox.drafts(0);
    assert_eq!(draft.len(), 1);

    // Another order, ok: label meta, the reason emptied, no note.
    order["id"] = json!(9102);
    order["number"] = json!("9102");
    fake.add_order("9102", &[], None);
    assert_eq!(send(&order, "d2").await.0, 202);
    stack
        .transfer_until("butik", "9102", LIMIT, |r| r.label == Label::Ok)
        .await;
    written(&stack, "butik", "9102", 1).await;
    let in_shop = fake.order("9102").unwrap();
    assert_eq!(in_shop.meta["econ_bridge_label"], "e-conomic-ok");
    assert_eq!(in_shop.meta["econ_bridge_reason"], "");
    assert!(in_shop.notes.is_empty());
    // Our PUT makes WooCommerce send order.updated: a duplicate, nothing more.
    let (_, answer) = send(&order, "d2-echo").await;
    assert_eq!(answer["status"], "duplicate");
    transfer_queue_settles(&stack).await;

    // Cancelled after invoicing: the draft is deleted, the shop is told.
    assert_eq!(stack.sandbox.drafts(0).len(), 2);
    order["status"] = json!("cancelled");
    assert_eq!(send(&order, "d3").await.0, 202);
    let cancelled = stack
        .transfer_until("butik", "9102", LIMIT, |r| r.label == Label::Cancelled)
        .await;
    written(&stack, "butik", "9102", 2).await;
    let in_shop = fake.order("9102").unwrap();
    assert_eq!(in_shop.meta["econ_bridge_label"], "e-conomic-cancelled");
    let reason = cancelled.last_error.expect("a reason");
    assert_eq!(
        in_shop.notes,
        [format!("e-conomic: order cancelled: {reason}")]
    );
    assert_eq!(stack.sandbox.drafts(0).len(), 1, "9102's draft is deleted");
    assert_eq!(
        stack.sandbox.drafts(0)[0].draft_invoice_number,
        draft[0].draft_invoice_number
    );
    assert!(fake
        .requests()
        .iter()
        .all(|r| r.authorized && r.path.starts_with("/wp-json/wc/v3/orders/")));
}
