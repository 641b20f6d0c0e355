//! Shopify `refunds/create` → `order.refunded`, table-driven: the
//! fixtures under `tests/fixtures/shopify-refunds/` (written from the
//! REST Admin API's Refund resource reference, a tax-exclusive and a
//! tax-inclusive Danish shop) and variations of them. Every translated
//! refund's parts must come to the money its transactions returned; the
//! expected amounts are worked out by hand in the comments.

use bridge::domain::order::refund::Refund;
use bridge::domain::platform::{platform_snapshot, refund_from_snapshot, shopify_refund, Platform};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/shopify-refunds/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_slice(&text).expect("fixture JSON")
}

fn translate(body: &Value) -> Result<Refund, String> {
    let bytes = serde_json::to_vec(body).unwrap();
    let refund = shopify_refund::parse(&bytes).map_err(|e| e.to_string())?;
    shopify_refund::translate(&refund).map_err(|e| e.to_string())
}

fn amount_only(amount: &str, returned: &str) -> Value {
    json!({"id": 77, "order_id": 1001, "refund_line_items": [], "duties": [],
           "transactions": [{"kind": "refund", "status": "success", "amount": returned, "currency": "DKK"}],
           "order_adjustments": [{"amount": amount, "tax_amount": "0.00", "kind": "refund_discrepancy"}]})
}

/// (SKU, quantity, amount) of each refunded line.
type Lines = Vec<(&'static str, &'static str, &'static str)>;

/// Lines, shipping, amount-only part, total.
type Expected = (
    Lines,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

struct Case {
    name: &'static str,
    body: Value,
    /// The translation, or a text the error has.
    expected: Result<Expected, &'static str>,
}

fn cases() -> Vec<Case> {
    let exclusive = fixture("tax-exclusive.json");
    let inclusive = fixture("tax-inclusive.json");
    let with = |base: &Value, pointer: &str, value: Value| {
        let mut body = base.clone();
        *body.pointer_mut(pointer).expect(pointer) = value;
        body
    };
    vec![
        // 199.00 + 49.75 tax = 248.75; shipping 39.00 + 9.75 = 48.75;
        // returned 297.50 = 248.75 + 48.75.
        Case {
            name: "tax-exclusive shop: subtotal + tax, shipping from the adjustment",
            body: exclusive.clone(),
            expected: Ok((vec![("TSHIRT-M", "1", "248.75")], Some("48.75"), None, "297.50")),
        },
        // Prices include VAT: 2 × 249.00 = 498.00 is the subtotal with tax;
        // shipping 49.00 with tax from refund_shipping_lines (its
        // shipping_refund adjustment is the same money, not counted twice);
        // returned 500.00 + 47.00 (the failed 47.00 does not count) = 547.00.
        Case {
            name: "tax-inclusive shop: subtotal alone, shipping from refund_shipping_lines",
            body: inclusive.clone(),
            expected: Ok((vec![("MUG-01", "2", "498.00")], Some("49.00"), None, "547.00")),
        },
        Case {
            name: "amount only (refund_discrepancy)",
            body: amount_only("-50.00", "50.00"),
            expected: Ok((vec![], None, Some("50.00"), "50.00")),
        },
        Case {
            name: "transactions disagree with every reading",
            body: with(&exclusive, "/transactions/0/amount", json!("290.00")),
            expected: Err("returned 290.00 DKK, but the refunded items, shipping and adjustments come to 297.50 (subtotal + tax) or 238.00 (subtotal alone)"),
        },
        Case {
            name: "no money returned (a restock)",
            body: with(&exclusive, "/transactions", json!([])),
            expected: Err("no successful refund transaction returned money"),
        },
        Case {
            name: "a line without SKU",
            body: with(&exclusive, "/refund_line_items/0/line_item/sku", json!("")),
            expected: Err("refund_line_items[0].line_item.sku"),
        },
        Case {
            name: "refunded less than the items",
            body: {
                let mut body = with(&exclusive, "/transactions/0/amount", json!("287.50"));
                body["order_adjustments"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"amount": "10.00", "tax_amount": "0.00", "kind": "refund_discrepancy"}));
                body
            },
            expected: Err("refunded 10.00 less than the refunded items are worth"),
        },
        Case {
            name: "duties refunded",
            body: with(&exclusive, "/duties", json!([{"duty_id": 1, "amount_set": {}}])),
            expected: Err("duties"),
        },
        Case {
            name: "refund transactions in two currencies",
            body: {
                let mut body = inclusive.clone();
                body["transactions"][2]["currency"] = json!("EUR");
                body
            },
            expected: Err("transactions[2].currency"),
        },
    ]
}

#[test]
fn shopify_refunds_translate_or_fail_with_the_reason() {
    for case in cases() {
        let got = translate(&case.body);
        match (&case.expected, got) {
            (Ok((lines, shipping, amount, total)), Ok(refund)) => {
                let got_lines: Vec<(String, Decimal, Decimal)> = refund
                    .lines
                    .iter()
                    .map(|l| (l.sku.clone(), l.quantity, l.amount))
                    .collect();
                let want_lines: Vec<(String, Decimal, Decimal)> = lines
                    .iter()
                    .map(|(s, q, a)| ((*s).to_owned(), d(q), d(a)))
                    .collect();
                assert_eq!(got_lines, want_lines, "{}", case.name);
                assert_eq!(refund.shipping, shipping.map(d), "{}", case.name);
                assert_eq!(refund.amount, amount.map(d), "{}", case.name);
                assert_eq!(refund.total, d(total), "{}", case.name);
                assert_eq!(refund.parts_total(), refund.total, "{}", case.name);
                assert_eq!(refund.currency, "DKK");
            }
            (Err(text), Err(error)) => assert!(error.contains(text), "{}: {error}", case.name),
            (expected, got) => panic!(
                "{}: expected {:?}, got {got:?}",
                case.name,
                expected.is_ok()
            ),
        }
    }
}

#[test]
fn the_fixtures_keep_their_ids_and_note() {
    let refund = translate(&fixture("tax-exclusive.json")).unwrap();
    assert_eq!(refund.id, "929361464");
    assert_eq!(refund.order_id, "820982911946154508");
    assert_eq!(refund.reason.as_deref(), Some("Returned: wrong size"));
}

/// Stored as received in the platform envelope, read back by transfer.
#[test]
fn a_stored_shopify_refund_is_translated_from_its_snapshot() {
    let body = serde_json::to_vec(&fixture("tax-inclusive.json")).unwrap();
    let snapshot = platform_snapshot(
        Platform::Shopify,
        Some("2025-07"),
        shopify_refund::REFUNDS_CREATE,
        &body,
    )
    .unwrap();
    let refund = refund_from_snapshot(&snapshot, None).expect("translated");
    assert_eq!(refund.total, d("547.00"));
    let orders_create = platform_snapshot(Platform::Shopify, None, "orders/paid", &body).unwrap();
    assert!(refund_from_snapshot(&orders_create, None).is_err());
    let bad = serde_json::to_vec(&json!({"id": 1, "order_id": 2, "transactions": [
        {"kind": "refund", "status": "success", "amount": "5.00", "currency": "DKK"}]}))
    .unwrap();
    let snapshot = platform_snapshot(
        Platform::Shopify,
        None,
        shopify_refund::REFUNDS_CREATE,
        &bad,
    )
    .unwrap();
    let error = refund_from_snapshot(&snapshot, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("(in the Shopify refund)"), "{error}");
}
