//! WooCommerce refunds (`refunds[]` of an order webhook: id, reason, a
//! negative total, no lines) → `order.refunded`, table-driven over the
//! fixtures under `tests/fixtures/woocommerce/` with refunds added: an
//! amount alone is credited on a one-rate order and refused, naming the
//! rates, on an order with several.

use bridge::domain::platform::{
    platform_snapshot, refund_from_snapshot, woocommerce_refund, Platform,
};
use bridge::domain::shop::{woocommerce_statuses, B2bFields, PlatformConfig, WoocommerceConfig};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn config() -> WoocommerceConfig {
    WoocommerceConfig {
        secrets: vec![],
        statuses: woocommerce_statuses(),
        b2b: B2bFields::woocommerce_defaults(),
        write_back: None,
    }
}

fn order(refunds: Value) -> Value {
    let path = format!(
        "{}/tests/fixtures/woocommerce/dk-coupon-incl-vat.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut body: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    body["refunds"] = refunds;
    body
}

/// The same order with a newspaper at 0 % beside the socks at 25 %.
fn two_rate_order(refunds: Value) -> Value {
    let mut body = order(refunds);
    body["line_items"].as_array_mut().unwrap().push(json!({
        "id": 2, "name": "Avis", "product_id": 102, "variation_id": 0, "quantity": 1,
        "tax_class": "zero-rate", "subtotal": "30.00", "subtotal_tax": "0.00", "total": "30.00",
        "total_tax": "0.00", "taxes": [], "meta_data": [], "sku": "PAPER", "price": 30
    }));
    body["total"] = json!("248.91");
    body
}

#[test]
fn woocommerce_refunds_are_credited_as_an_amount_on_one_rate_only() {
    let one = json!([{"id": 811, "reason": "Ombytning", "total": "-50.00"},
                     {"id": 812, "reason": "", "total": "0.00"}]);
    struct Case {
        name: &'static str,
        body: Value,
        refund_id: &'static str,
        expected: Result<&'static str, &'static str>,
    }
    let cases = [
        Case {
            name: "one rate: the amount at that rate",
            body: order(one.clone()),
            refund_id: "811",
            expected: Ok("50.00"),
        },
        Case {
            name: "two rates: refused naming them",
            body: two_rate_order(one.clone()),
            refund_id: "811",
            expected: Err("the order carries VAT at 0 % and 25 %"),
        },
        Case {
            name: "a refund of nothing",
            body: order(one.clone()),
            refund_id: "812",
            expected: Err("refunds[1].total"),
        },
        Case {
            name: "a refund the order does not list",
            body: order(one),
            refund_id: "999",
            expected: Err("lists no refund 999"),
        },
    ];
    let config = config();
    for case in cases {
        let bytes = serde_json::to_vec(&case.body).unwrap();
        let got = woocommerce_refund::translate(&bytes, case.refund_id, &config);
        match (case.expected, got) {
            (Ok(amount), Ok(refund)) => {
                let amount = Decimal::from_str(amount).unwrap();
                assert_eq!(refund.amount, Some(amount), "{}", case.name);
                assert_eq!(refund.total, amount, "{}", case.name);
                assert!(refund.lines.is_empty() && refund.shipping.is_none());
                assert_eq!(
                    (refund.order_id.as_str(), refund.currency.as_str()),
                    ("2001", "DKK")
                );
                assert_eq!(refund.reason.as_deref(), Some("Ombytning"));
            }
            (Err(text), Err(error)) => {
                let error = error.to_string();
                assert!(error.contains(text), "{}: {error}", case.name)
            }
            (expected, got) => panic!("{}: expected {expected:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn an_order_lists_its_refunds_and_each_is_read_back_from_its_snapshot() {
    let body = serde_json::to_vec(&order(json!([
        {"id": 811, "reason": null, "total": "-50.00"},
        {"id": 813, "reason": "Defekt", "total": "-10.00"}
    ])))
    .unwrap();
    assert_eq!(
        woocommerce_refund::refund_ids(&body),
        [
            ("2001".to_owned(), "811".to_owned()),
            ("2001".to_owned(), "813".to_owned())
        ]
    );
    assert!(woocommerce_refund::refund_ids(b"not json").is_empty());
    let snapshot =
        platform_snapshot(Platform::Woocommerce, Some("9.4.0"), "refund:813", &body).unwrap();
    let platform = PlatformConfig::Woocommerce(config());
    let refund = refund_from_snapshot(&snapshot, Some(&platform)).expect("translated");
    assert_eq!(
        (refund.id.as_str(), refund.total),
        ("813", Decimal::from(10))
    );
    let error = refund_from_snapshot(&snapshot, None)
        .unwrap_err()
        .to_string();
    assert!(error.contains("no longer configured"), "{error}");
}
