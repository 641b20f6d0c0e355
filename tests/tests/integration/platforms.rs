//! Shopify and WooCommerce webhooks end to end: the real ingest handler
//! behind an API Gateway v2 event, DynamoDB and SQS on moto, the transfer
//! handler and the e-conomic sandbox. Each body is signed here the way the
//! platform signs it (base64 HMAC-SHA256 of the raw body with the secret's
//! text as the key), computed with the `hmac` crate directly rather than
//! with the bridge's verifier.

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use integration_tests::*;
use serde_json::json;
use std::time::Duration;

const SHOPIFY_SECRET: &str = "shpss_5f0c2b9e7d1a4c3b8e6f";
const WOO_SECRET: &str = "K3y!w00-webhook-secret";
const DOMAIN: &str = "danske-sokker.myshopify.com";

pub(crate) fn fixture(platform: &str, name: &str) -> Vec<u8> {
    let path = workspace_root().join(format!("shared/tests/fixtures/{platform}/{name}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What Shopify and WooCommerce put in their signature header.
pub(crate) fn platform_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub(crate) fn shopify_headers(
    signature: &str,
    topic: &str,
    webhook_id: &str,
    domain: &str,
) -> Vec<(String, String)> {
    [
        ("content-type", "application/json"),
        ("x-shopify-hmac-sha256", signature),
        ("x-shopify-topic", topic),
        ("x-shopify-shop-domain", domain),
        ("x-shopify-webhook-id", webhook_id),
        ("x-shopify-api-version", "2025-07"),
        ("x-shopify-triggered-at", "2026-11-27T08:12:45.000Z"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

pub(crate) fn woo_headers(
    signature: &str,
    topic: &str,
    delivery_id: &str,
) -> Vec<(String, String)> {
    let (resource, event) = topic.split_once('.').unwrap_or((topic, ""));
    [
        ("content-type", "application/json"),
        ("x-wc-webhook-source", "https://butik.example.dk/"),
        ("x-wc-webhook-topic", topic),
        ("x-wc-webhook-resource", resource),
        ("x-wc-webhook-event", event),
        ("x-wc-webhook-signature", signature),
        ("x-wc-webhook-id", "17"),
        ("x-wc-webhook-delivery-id", delivery_id),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

async fn shopify_stack() -> Stack {
    let stack = Stack::start().await;
    stack
        .put_platform_shop(
            "sokker",
            json!({"kind": "shopify", "shop_domain": DOMAIN, "secrets": [{"secret": SHOPIFY_SECRET}]}),
        )
        .await;
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_order_goes_from_orders_paid_to_a_draft_at_shopifys_total() {
    let stack = shopify_stack().await;
    let body = fixture("shopify", "dk-discount-code.json");
    let signature = platform_signature(SHOPIFY_SECRET, &body);

    // orders/create only records; orders/paid makes it ready.
    let created = shopify_headers(&signature, "orders/create", "0b6e8d1c-create", DOMAIN);
    let (status, answer) = stack
        .deliver_platform("sokker", "shopify", created, &body)
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("recorded")));
    let paid = shopify_headers(&signature, "orders/paid", "0b6e8d1c-paid", DOMAIN);
    let (status, answer) = stack
        .deliver_platform("sokker", "shopify", paid.clone(), &body)
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));
    // Shopify retries a delivery under the same id: a duplicate.
    let (_, answer) = stack
        .deliver_platform("sokker", "shopify", paid, &body)
        .await;
    assert_eq!(answer["status"], "duplicate");

    let record = stack
        .transfer_until("sokker", "5810000000001", Duration::from_secs(30), |r| {
            r.label != bridge::domain::lifecycle::Label::Pending
        })
        .await;
    assert_eq!(
        record.label,
        bridge::domain::lifecycle::Label::Ok,
        "{:?}",
        record.last_error
    );
    let drafts = stack.sandbox.drafts(0);
    assert_eq!(drafts.len(), 1);
    // 2 × 99.95 + 149.00 − 34.89 (VELKOMMEN10) + 39.00 shipping
    assert_eq!(drafts[0].gross_amount.to_string(), "353.01");
    let snapshot = record.snapshot.unwrap_or_default();
    assert!(snapshot.contains(r#""platform":"shopify","payload_version":"2025-07""#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_bad_input_gets_its_own_answer_and_records_nothing() {
    let stack = shopify_stack().await;
    let body = fixture("shopify", "dk-discount-code.json");
    let good = platform_signature(SHOPIFY_SECRET, &body);
    let deliver = |headers, body: Vec<u8>| {
        let stack = &stack;
        async move {
            stack
                .deliver_platform("sokker", "shopify", headers, &body)
                .await
        }
    };

    let wrong = platform_signature("shpss_someone_else", &body);
    let (status, _) = deliver(
        shopify_headers(&wrong, "orders/paid", "w1", DOMAIN),
        body.clone(),
    )
    .await;
    assert_eq!(status, 401, "wrong signature");
    let mut unsigned = shopify_headers(&good, "orders/paid", "w1", DOMAIN);
    unsigned.retain(|(k, _)| k != "x-shopify-hmac-sha256");
    let (status, _) = deliver(unsigned, body.clone()).await;
    assert_eq!(status, 401, "missing signature");
    let (status, _) = deliver(
        shopify_headers(&good, "orders/paid", "w1", "other-store.myshopify.com"),
        body.clone(),
    )
    .await;
    assert_eq!(status, 401, "another store's domain");
    let (status, _) = stack
        .deliver_platform(
            "no-such-shop",
            "shopify",
            shopify_headers(&good, "orders/paid", "w1", DOMAIN),
            &body,
        )
        .await;
    assert_eq!(status, 404, "unknown shop");
    let (status, _) = stack
        .deliver_platform(
            "sokker",
            "magento",
            shopify_headers(&good, "orders/paid", "w1", DOMAIN),
            &body,
        )
        .await;
    assert_eq!(status, 404, "unknown platform");

    let malformed = br#"{"id": 5, "created_at": "2026-11-27T09:12:44+01:00", "currency": "DKK", "line_items": []}"#.to_vec();
    let signature = platform_signature(SHOPIFY_SECRET, &malformed);
    let (status, answer) = deliver(
        shopify_headers(&signature, "orders/paid", "w2", DOMAIN),
        malformed,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["field"], "total_price");

    let oversized = vec![b' '; bridge::app::ingest::DEFAULT_MAX_BODY_BYTES + 1];
    let signature = platform_signature(SHOPIFY_SECRET, &oversized);
    let (status, _) = deliver(
        shopify_headers(&signature, "orders/paid", "w3", DOMAIN),
        oversized,
    )
    .await;
    assert_eq!(status, 413);

    let (status, answer) = deliver(
        shopify_headers(&good, "customers/update", "w4", DOMAIN),
        body.clone(),
    )
    .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ignored")));
    assert!(stack.order("sokker", "5810000000001").await.is_none());
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_order_with_untranslated_duties_ends_failed_naming_total_price() {
    let stack = shopify_stack().await;
    let body = fixture("shopify", "not-invoiceable-duties.json");
    let signature = platform_signature(SHOPIFY_SECRET, &body);
    let (status, _) = stack
        .deliver_platform(
            "sokker",
            "shopify",
            shopify_headers(&signature, "orders/paid", "d1", DOMAIN),
            &body,
        )
        .await;
    assert_eq!(status, 202);
    let record = stack
        .transfer_until("sokker", "5810000000007", Duration::from_secs(30), |r| {
            r.label == bridge::domain::lifecycle::Label::Failed
        })
        .await;
    let reason = record.last_error.unwrap_or_default();
    assert!(
        reason.contains("total_price") && reason.contains("Shopify"),
        "{reason}"
    );
    assert!(stack.sandbox.drafts(0).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woocommerce_order_goes_from_ping_to_processing_to_a_draft() {
    let stack = Stack::start().await;
    stack
        .put_platform_shop(
            "woo",
            json!({"kind": "woocommerce", "secrets": [{"secret": WOO_SECRET}]}),
        )
        .await;

    // Saving the webhook in WooCommerce sends this form-encoded ping.
    let mut ping_headers = vec![(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    ping_headers.push((
        "user-agent".to_owned(),
        "WooCommerce/9.4.2 Hookshot (WordPress/6.7)".to_owned(),
    ));
    let (status, answer) = stack
        .deliver_platform("woo", "woocommerce", ping_headers, b"webhook_id=17")
        .await;
    assert_eq!((status, answer["status"].as_str()), (200, Some("ping")));

    let processing = fixture("woocommerce", "dk-coupon-incl-vat.json");
    let pending = String::from_utf8(processing.clone())
        .unwrap()
        .replace(r#""status": "processing""#, r#""status": "pending""#)
        .into_bytes();
    let signature = platform_signature(WOO_SECRET, &pending);
    let (status, answer) = stack
        .deliver_platform(
            "woo",
            "woocommerce",
            woo_headers(&signature, "order.created", "501"),
            &pending,
        )
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("recorded")));

    let signature = platform_signature(WOO_SECRET, &processing);
    let (status, answer) = stack
        .deliver_platform(
            "woo",
            "woocommerce",
            woo_headers(&signature, "order.updated", "502"),
            &processing,
        )
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));

    let wrong = platform_signature("not the secret", &processing);
    let (status, _) = stack
        .deliver_platform(
            "woo",
            "woocommerce",
            woo_headers(&wrong, "order.updated", "503"),
            &processing,
        )
        .await;
    assert_eq!(status, 401);

    let record = stack
        .transfer_until("woo", "2001", Duration::from_secs(30), |r| {
            r.label != bridge::domain::lifecycle::Label::Pending
        })
        .await;
    assert_eq!(
        record.label,
        bridge::domain::lifecycle::Label::Ok,
        "{:?}",
        record.last_error
    );
    let drafts = stack.sandbox.drafts(0);
    assert_eq!(drafts.len(), 1);
    // (159.92 + 39.98) − 19.99 + 39.00
    assert_eq!(drafts[0].gross_amount.to_string(), "218.91");
    assert_eq!(record.events, vec!["order.created", "order.paid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shopify_cancellations_and_the_resend_tag_act_on_the_order() {
    use bridge::domain::lifecycle::Label;
    let stack = shopify_stack().await;
    let body = fixture("shopify", "dk-discount-code.json");
    let signature = platform_signature(SHOPIFY_SECRET, &body);
    let paid = shopify_headers(&signature, "orders/paid", "d-paid", DOMAIN);
    stack
        .deliver_platform("sokker", "shopify", paid, &body)
        .await;
    let order = "5810000000001";
    let ok = stack
        .transfer_until("sokker", order, Duration::from_secs(30), |r| {
            r.label == Label::Ok
        })
        .await;

    // The tag e-conomic-pending on an ok order whose draft still exists:
    // refused, said in the history, no second draft.
    let mut tagged: serde_json::Value = serde_json::from_slice(&body).unwrap();
    tagged["tags"] = json!("vip, e-conomic-pending");
    let tagged = tagged.to_string().into_bytes();
    let updated = shopify_headers(
        &platform_signature(SHOPIFY_SECRET, &tagged),
        "orders/updated",
        "d-updated",
        DOMAIN,
    );
    let (status, answer) = stack
        .deliver_platform("sokker", "shopify", updated, &tagged)
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));
    let refused = stack
        .transfer_until("sokker", order, Duration::from_secs(30), |r| {
            r.history.iter().any(|h| h.what.contains("re-send refused"))
        })
        .await;
    assert_eq!(refused.label, Label::Ok);
    assert_eq!(stack.sandbox.drafts(0).len(), 1);

    // orders/cancelled deletes the draft the bridge made.
    let cancelled = shopify_headers(&signature, "orders/cancelled", "d-cancel", DOMAIN);
    let (status, _) = stack
        .deliver_platform("sokker", "shopify", cancelled, &body)
        .await;
    assert_eq!(status, 202);
    let record = stack
        .transfer_until("sokker", order, Duration::from_secs(30), |r| {
            r.label == Label::Cancelled
        })
        .await;
    assert!(stack.sandbox.drafts(0).is_empty());
    let draft = ok.draft_invoice_number.expect("draft");
    assert!(record
        .last_error
        .is_some_and(|r| r.contains(&format!("draft invoice {draft} was deleted"))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woocommerce_order_cancelled_before_invoicing_gets_no_invoice() {
    use bridge::domain::lifecycle::Label;
    let stack = Stack::start().await;
    stack
        .put_platform_shop(
            "butik",
            json!({"kind": "woocommerce", "secrets": [{"secret": WOO_SECRET}]}),
        )
        .await;
    let mut order: serde_json::Value =
        serde_json::from_slice(&fixture("woocommerce", "dk-coupon-incl-vat.json")).unwrap();
    order["status"] = json!("on-hold");
    let body = order.to_string().into_bytes();
    let headers = woo_headers(
        &platform_signature(WOO_SECRET, &body),
        "order.updated",
        "d1",
    );
    let (_, answer) = stack
        .deliver_platform("butik", "woocommerce", headers, &body)
        .await;
    assert_eq!(answer["status"], "recorded");
    order["status"] = json!("cancelled");
    let body = order.to_string().into_bytes();
    let headers = woo_headers(
        &platform_signature(WOO_SECRET, &body),
        "order.updated",
        "d2",
    );
    let (status, answer) = stack
        .deliver_platform("butik", "woocommerce", headers, &body)
        .await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));
    let order_id = order["id"].to_string();
    let record = stack
        .transfer_until("butik", &order_id, Duration::from_secs(30), |r| {
            r.label == Label::Cancelled
        })
        .await;
    assert!(record
        .last_error
        .is_some_and(|r| r.contains("before it was invoiced")));
    // A later "processing" changes nothing: no invoice.
    order["status"] = json!("processing");
    let body = order.to_string().into_bytes();
    let headers = woo_headers(
        &platform_signature(WOO_SECRET, &body),
        "order.updated",
        "d3",
    );
    let (_, answer) = stack
        .deliver_platform("butik", "woocommerce", headers, &body)
        .await;
    assert_eq!(answer["status"], "duplicate");
    assert!(stack.sandbox.drafts(0).is_empty());
}

/// Shopify `refunds/create` → a credit note: a tax-inclusive shop's refund
/// (subtotal with tax, shipping from `refund_shipping_lines`) is credited
/// once under a duplicate delivery; a refund whose transactions disagree
/// with its lines fails with both sums named and makes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopify_refund_becomes_one_credit_note_or_fails_naming_the_money() {
    use bridge::domain::lifecycle::Label;
    use bridge::ports::ShopStore;
    let stack = shopify_stack().await;
    let mut shop = stack
        .shop_store()
        .get("sokker")
        .await
        .expect("read")
        .expect("shop");
    shop.mapping.credit_notes.enabled = true;
    stack.shop_store().put(&shop).await.expect("put shop");

    let order = fixture("shopify", "dk-five-lines.json");
    let signature = platform_signature(SHOPIFY_SECRET, &order);
    let paid = shopify_headers(&signature, "orders/paid", "5f1d-paid", DOMAIN);
    stack
        .deliver_platform("sokker", "shopify", paid, &order)
        .await;
    let ok = stack
        .transfer_until("sokker", "5810000000009", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(ok.label, Label::Ok, "{:?}", ok.last_error);

    // One T-shirt back (99.95 with VAT) and the shipping (39.00 with VAT).
    let refund = serde_json::to_vec(&json!({
        "id": 930001, "order_id": 5810000000009_u64, "note": "Returned", "duties": [],
        "refund_line_items": [{"id": 1, "quantity": 1, "line_item_id": 11, "subtotal": 99.95,
            "total_tax": 19.99, "line_item": {"id": 11, "sku": "SKU-1", "price": "99.95"}}],
        "refund_shipping_lines": [{"id": 2,
            "subtotal_amount_set": {"shop_money": {"amount": "39.00", "currency_code": "DKK"}},
            "tax_amount_set": {"shop_money": {"amount": "7.80", "currency_code": "DKK"}}}],
        "transactions": [{"id": 3, "kind": "refund", "status": "success", "amount": "138.95",
            "currency": "DKK"}],
        "order_adjustments": []
    }))
    .unwrap();
    let signature = platform_signature(SHOPIFY_SECRET, &refund);
    let headers = shopify_headers(&signature, "refunds/create", "5f1d-refund", DOMAIN);
    let (status, answer) = stack
        .deliver_platform("sokker", "shopify", headers.clone(), &refund)
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["refund_id"], "930001");
    let (_, again) = stack
        .deliver_platform("sokker", "shopify", headers, &refund)
        .await;
    assert_eq!(again["status"], "duplicate");
    let credited = stack
        .transfer_until(
            "sokker",
            "5810000000009#refund#930001",
            Duration::from_secs(30),
            |r| r.label != Label::Pending,
        )
        .await;
    assert_eq!(credited.label, Label::Ok, "{:?}", credited.last_error);
    let notes: Vec<_> = stack
        .sandbox
        .drafts(0)
        .into_iter()
        .filter(|d| d.gross_amount.is_sign_negative())
        .collect();
    assert_eq!(notes.len(), 1, "one credit note");
    assert_eq!(notes[0].gross_amount.normalize().to_string(), "-138.95");

    // 3 posters' worth of lines, but 50.00 returned: neither reading fits.
    let wrong = serde_json::to_vec(&json!({
        "id": 930002, "order_id": 5810000000009_u64, "duties": [],
        "refund_line_items": [{"id": 4, "quantity": 1, "line_item_id": 13, "subtotal": 24.50,
            "total_tax": 4.90, "line_item": {"id": 13, "sku": "SKU-3", "price": "24.50"}}],
        "transactions": [{"id": 5, "kind": "refund", "status": "success", "amount": "50.00",
            "currency": "DKK"}],
        "order_adjustments": []
    }))
    .unwrap();
    let signature = platform_signature(SHOPIFY_SECRET, &wrong);
    let headers = shopify_headers(&signature, "refunds/create", "5f1d-wrong", DOMAIN);
    stack
        .deliver_platform("sokker", "shopify", headers, &wrong)
        .await;
    let failed = stack
        .transfer_until(
            "sokker",
            "5810000000009#refund#930002",
            Duration::from_secs(30),
            |r| r.label != Label::Pending,
        )
        .await;
    assert_eq!(failed.label, Label::Failed);
    let reason = failed.last_error.unwrap_or_default();
    assert!(
        reason.contains("returned 50.00 DKK")
            && reason.contains("29.40")
            && reason.contains("24.50"),
        "{reason}"
    );
    let negative = stack
        .sandbox
        .drafts(0)
        .iter()
        .filter(|d| d.gross_amount.is_sign_negative())
        .count();
    assert_eq!(negative, 1, "no second credit note");
}

/// A WooCommerce refund (listed in `refunds[]` of a later order webhook,
/// an amount without lines) on a one-rate order becomes one credit note,
/// however often the order is delivered again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woocommerce_refund_on_a_one_rate_order_becomes_one_credit_note() {
    use bridge::domain::lifecycle::Label;
    use bridge::ports::ShopStore;
    let stack = Stack::start().await;
    let mut shop = stack
        .put_platform_shop(
            "woo",
            json!({"kind": "woocommerce", "secrets": [{"secret": WOO_SECRET}]}),
        )
        .await;
    shop.mapping.credit_notes.enabled = true;
    stack.shop_store().put(&shop).await.expect("put shop");

    let processing = fixture("woocommerce", "dk-coupon-incl-vat.json");
    let signature = platform_signature(WOO_SECRET, &processing);
    stack
        .deliver_platform(
            "woo",
            "woocommerce",
            woo_headers(&signature, "order.updated", "601"),
            &processing,
        )
        .await;
    let ok = stack
        .transfer_until("woo", "2001", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(ok.label, Label::Ok, "{:?}", ok.last_error);

    let mut refunded: serde_json::Value = serde_json::from_slice(&processing).unwrap();
    refunded["status"] = json!("completed");
    refunded["refunds"] = json!([{"id": 811, "reason": "Ombytning", "total": "-50.00"}]);
    let refunded = serde_json::to_vec(&refunded).unwrap();
    let signature = platform_signature(WOO_SECRET, &refunded);
    for delivery in ["602", "603"] {
        let (status, answer) = stack
            .deliver_platform(
                "woo",
                "woocommerce",
                woo_headers(&signature, "order.updated", delivery),
                &refunded,
            )
            .await;
        assert!(status < 300, "{status} {answer}");
    }
    let credited = stack
        .transfer_until("woo", "2001#refund#811", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(credited.label, Label::Ok, "{:?}", credited.last_error);
    for _ in 0..2 {
        stack.poll_transfer().await;
    }
    let notes: Vec<_> = stack
        .sandbox
        .drafts(0)
        .into_iter()
        .filter(|d| d.gross_amount.is_sign_negative())
        .collect();
    assert_eq!(notes.len(), 1, "one credit note");
    assert_eq!(notes[0].gross_amount.normalize().to_string(), "-50");
}

/// A WooCommerce refund on an order with two VAT rates: transfer reads its
/// lines from the shop's REST API (the local stack's fake WooCommerce, which
/// checks the REST API key) and credits them at the invoice's rates, once
/// however often the order is delivered again; a refund the shop no longer
/// has fails naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_woocommerce_refund_on_a_two_rate_order_is_read_from_the_rest_api_and_credited() {
    use bridge::domain::lifecycle::Label;
    use bridge::ports::ShopStore;
    use local_stack::shop_admin::{AdminCredentials, FakeShopAdmin};
    const CONSUMER_KEY: &str = "ck_7e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d";
    const CONSUMER_SECRET: &str = "cs_0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b";
    let fake = FakeShopAdmin::start(
        0,
        AdminCredentials {
            shopify_access_token: "shpat_unused".into(),
            woo_consumer_key: CONSUMER_KEY.into(),
            woo_consumer_secret: CONSUMER_SECRET.into(),
        },
    )
    .await
    .expect("fake shop admin");
    let stack = Stack::start().await;
    let mut shop = stack
        .put_platform_shop(
            "woo",
            json!({"kind": "woocommerce", "secrets": [{"secret": WOO_SECRET}],
                   "write_back": {"store_url": fake.url(), "consumer_key": CONSUMER_KEY,
                                  "consumer_secret": CONSUMER_SECRET}}),
        )
        .await;
    shop.mapping.credit_notes.enabled = true;
    stack.shop_store().put(&shop).await.expect("put shop");
    fake.add_order("2001", &[], None);
    let refund: serde_json::Value =
        serde_json::from_slice(&fixture("woocommerce-refunds", "two-rates.json")).unwrap();
    fake.add_woo_refund("2001", "2091", refund);

    // Socks at 25 % and a newspaper at 0 %.
    let mut order: serde_json::Value =
        serde_json::from_slice(&fixture("woocommerce", "dk-coupon-incl-vat.json")).unwrap();
    order["line_items"].as_array_mut().unwrap().push(json!({
        "id": 2, "name": "Avis", "product_id": 102, "variation_id": 0, "quantity": 1,
        "tax_class": "zero-rate", "subtotal": "30.00", "subtotal_tax": "0.00", "total": "30.00",
        "total_tax": "0.00", "taxes": [], "meta_data": [], "sku": "PAPER", "price": 30
    }));
    order["total"] = json!("248.91");
    let send = |order: &serde_json::Value, delivery: &str| {
        let body = serde_json::to_vec(order).unwrap();
        let headers = woo_headers(
            &platform_signature(WOO_SECRET, &body),
            "order.updated",
            delivery,
        );
        let stack = &stack;
        async move {
            let (status, answer) = stack
                .deliver_platform("woo", "woocommerce", headers, &body)
                .await;
            assert!(status < 300, "{status} {answer}");
        }
    };
    send(&order, "701").await;
    let ok = stack
        .transfer_until("woo", "2001", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(ok.label, Label::Ok, "{:?}", ok.last_error);

    // Refund 2091 (in the shop) and 2092 (deleted there since).
    order["status"] = json!("completed");
    order["refunds"] = json!([
        {"id": 2091, "reason": "Returneret", "total": "-158.95"},
        {"id": 2092, "reason": "", "total": "-10.00"}
    ]);
    for delivery in ["702", "703"] {
        send(&order, delivery).await;
    }
    let credited = stack
        .transfer_until("woo", "2001#refund#2091", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(credited.label, Label::Ok, "{:?}", credited.last_error);
    let gone = stack
        .transfer_until("woo", "2001#refund#2092", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(gone.label, Label::Failed);
    let reason = gone.last_error.unwrap_or_default();
    assert!(
        reason.contains("HTTP 404") && reason.contains("no refund 2092"),
        "{reason}"
    );
    assert!(!reason.contains(CONSUMER_SECRET), "{reason}");
    for _ in 0..2 {
        stack.poll_transfer().await;
    }

    let notes: Vec<_> = stack
        .sandbox
        .drafts(0)
        .into_iter()
        .filter(|d| d.gross_amount.is_sign_negative())
        .collect();
    assert_eq!(notes.len(), 1, "one credit note");
    // 128.95 at 25 % (one pair of socks and the shipping) carries 25.79
    // VAT; the newspaper's 30.00 at 0 % none.
    assert_eq!(notes[0].gross_amount.to_string(), "-158.95");
    assert_eq!(notes[0].vat_amount.to_string(), "-25.79");
    let reads: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert!(
        reads
            .iter()
            .any(|r| r.path == "/wp-json/wc/v3/orders/2001/refunds/2091" && r.authorized),
        "{reads:?}"
    );
    assert!(reads.iter().all(|r| r.authorized), "{reads:?}");
}
