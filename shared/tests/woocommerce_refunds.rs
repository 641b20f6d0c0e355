//! WooCommerce refunds (`refunds[]` of an order webhook: id, reason, a
//! negative total, no lines) → `order.refunded`, table-driven over the
//! fixtures under `tests/fixtures/woocommerce/` with refunds added: an
//! amount alone is credited on a one-rate order; on an order with several
//! rates the refund's lines are read from the REST API (the refund in
//! `tests/fixtures/woocommerce-refunds/`, written from WooCommerce's
//! documented format) and credited part by part, or refused naming why.

use bridge::domain::order::refund::{Refund, RefundFee, RefundLine};
use bridge::domain::order::FeeKind;
use bridge::domain::platform::woocommerce_refund::RefundSource;
use bridge::domain::platform::{
    platform_snapshot, refund_from_snapshot, refund_from_snapshot_with_lines, stored_refund,
    woocommerce_refund, Platform, StoredRefund,
};
use bridge::domain::shop::{woocommerce_statuses, B2bFields, PlatformConfig, WoocommerceConfig};
use bridge::domain::write_back_config::WoocommerceWriteBack;
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

fn config_with_rest_key() -> WoocommerceConfig {
    WoocommerceConfig {
        write_back: Some(
            serde_json::from_value::<WoocommerceWriteBack>(json!({
                "store_url": "https://butik.example.dk",
                "consumer_key": "ck_test", "consumer_secret": "cs_test"
            }))
            .unwrap(),
        ),
        ..config()
    }
}

/// The REST API's refund 2091 of order 2001: one of two socks (25 %), the
/// newspaper (0 %) and the shipping (25 %), 158.95 in all.
fn fetched_refund() -> Value {
    let path = format!(
        "{}/tests/fixtures/woocommerce-refunds/two-rates.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn listed(total: &str) -> Value {
    json!([{"id": 2091, "reason": "Returneret", "total": total}])
}

fn money(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

fn line(sku: &str, quantity: i64, amount: &str) -> RefundLine {
    RefundLine {
        sku: sku.into(),
        quantity: Decimal::from(quantity),
        amount: money(amount),
    }
}

#[test]
fn a_multi_rate_refund_is_fetched_only_with_a_rest_key_and_names_the_setting_without() {
    let body = serde_json::to_vec(&two_rate_order(listed("-158.95"))).unwrap();
    assert_eq!(
        woocommerce_refund::source(&body, "2091", &config_with_rest_key()).unwrap(),
        RefundSource::Fetch {
            order_id: "2001".into(),
            refund_id: "2091".into()
        }
    );
    let error = woocommerce_refund::source(&body, "2091", &config())
        .unwrap_err()
        .to_string();
    assert!(error.contains("0 % and 25 %"), "{error}");
    assert!(error.contains("`platform.write_back`"), "{error}");
    assert!(!error.contains("ck_test"), "{error}");
    // A one-rate order keeps the amount: nothing to fetch, key or not.
    let one_rate = serde_json::to_vec(&order(listed("-50.00"))).unwrap();
    assert!(matches!(
        woocommerce_refund::source(&one_rate, "2091", &config_with_rest_key()),
        Ok(RefundSource::Listed(Refund { amount: Some(a), .. })) if a == money("50.00")
    ));

    // Through the stored snapshot, as transfer reads it.
    let snapshot =
        platform_snapshot(Platform::Woocommerce, Some("9.4.2"), "refund:2091", &body).unwrap();
    let platform = PlatformConfig::Woocommerce(config_with_rest_key());
    assert!(matches!(
        stored_refund(&snapshot, Some(&platform)),
        Ok(StoredRefund::FetchWoocommerceLines { ref refund_id, .. }) if refund_id == "2091"
    ));
    let fetched = serde_json::to_vec(&fetched_refund()).unwrap();
    let refund = refund_from_snapshot_with_lines(&snapshot, Some(&platform), &fetched).unwrap();
    assert_eq!(refund.total, money("158.95"));
    let error = refund_from_snapshot_with_lines(&snapshot, Some(&platform), b"{\"id\": 2091}")
        .unwrap_err()
        .to_string();
    assert!(error.contains("REST API"), "{error}");
}

/// The fetched refund edited for each case.
type Edit = fn(&mut Value);

#[test]
fn fetched_woocommerce_refunds_are_credited_part_by_part_or_refused_naming_why() {
    struct Case {
        name: &'static str,
        /// The order has the 0 % newspaper beside the 25 % socks.
        two_rates: bool,
        listed_total: &'static str,
        edit: Edit,
        expected: Result<Refund, &'static str>,
    }
    let refund = |lines: Vec<RefundLine>,
                  shipping: Option<&str>,
                  fees: Vec<RefundFee>,
                  amount: Option<&str>,
                  total: &str| Refund {
        id: "2091".into(),
        order_id: "2001".into(),
        currency: "DKK".into(),
        lines,
        shipping: shipping.map(money),
        fees,
        amount: amount.map(money),
        reason: Some("Returneret: 1 par sokker og avisen, fragt refunderet".into()),
        total: money(total),
    };
    let cases: Vec<Case> = vec![
        Case {
            name: "two rates, lines and shipping",
            two_rates: true,
            listed_total: "-158.95",
            edit: |_| {},
            expected: Ok(refund(
                vec![line("SOCK-GRY-39", 1, "89.95"), line("PAPER", 1, "30.00")],
                Some("39.00"),
                vec![],
                None,
                "158.95",
            )),
        },
        Case {
            name: "lines only, matched by product id without `_refunded_item_id`",
            two_rates: true,
            listed_total: "-119.95",
            edit: |r| {
                r["amount"] = json!("119.95");
                r["shipping_lines"] = json!([]);
                r["line_items"][0]["meta_data"] = json!([]);
                r["line_items"][0]["sku"] = json!("");
            },
            expected: Ok(refund(
                vec![line("SOCK-GRY-39", 1, "89.95"), line("PAPER", 1, "30.00")],
                None,
                vec![],
                None,
                "119.95",
            )),
        },
        Case {
            name: "both socks, shipping only without its meta (the order's one shipping line)",
            two_rates: true,
            listed_total: "-218.91",
            edit: |r| {
                r["amount"] = json!("218.91");
                r["line_items"] = json!([r["line_items"][0].clone()]);
                r["line_items"][0]["quantity"] = json!(-2);
                r["line_items"][0]["total"] = json!("-143.93");
                r["line_items"][0]["total_tax"] = json!("-35.98");
                r["shipping_lines"][0]["meta_data"] = json!([]);
            },
            expected: Ok(refund(
                vec![line("SOCK-GRY-39", 2, "179.91")],
                Some("39.00"),
                vec![],
                None,
                "218.91",
            )),
        },
        Case {
            name: "one rate: money beyond the lines is an amount at that rate",
            two_rates: false,
            listed_total: "-99.95",
            edit: |r| {
                r["amount"] = json!("99.95");
                r["line_items"] = json!([r["line_items"][0].clone()]);
                r["shipping_lines"] = json!([]);
            },
            expected: Ok(refund(
                vec![line("SOCK-GRY-39", 1, "89.95")],
                None,
                vec![],
                Some("10.00"),
                "99.95",
            )),
        },
        Case {
            name: "two rates: money beyond the parts is refused naming it",
            two_rates: true,
            listed_total: "-168.95",
            edit: |r| r["amount"] = json!("168.95"),
            expected: Err(
                "gives back 10.00 beyond its lines, shipping and fees (158.95 of 168.95)",
            ),
        },
        Case {
            name: "two rates: an amount-only refund is refused naming it",
            two_rates: true,
            listed_total: "-25.00",
            edit: |r| {
                r["amount"] = json!("25.00");
                r["line_items"] = json!([]);
                r["shipping_lines"] = json!([]);
            },
            expected: Err("gives back 25.00 with no lines in WooCommerce"),
        },
        Case {
            name: "less money than the parts",
            two_rates: true,
            listed_total: "-150.00",
            edit: |r| r["amount"] = json!("150.00"),
            expected: Err(
                "150.00 is less than the refund's lines, shipping and fees come to (158.95)",
            ),
        },
        Case {
            name: "the REST API's amount is not the listed total",
            two_rates: true,
            listed_total: "-100.00",
            edit: |_| {},
            expected: Err("158.95 is not the 100.00 order 2001 lists for refund 2091"),
        },
        Case {
            name: "another refund's body",
            two_rates: true,
            listed_total: "-158.95",
            edit: |r| r["id"] = json!(2092),
            expected: Err("is 2092, not refund 2091"),
        },
        Case {
            name: "money on a line without units",
            two_rates: true,
            listed_total: "-158.95",
            edit: |r| r["line_items"][1]["quantity"] = json!(0),
            expected: Err("line_items[1].quantity"),
        },
        Case {
            name: "an item the order does not have",
            two_rates: true,
            listed_total: "-158.95",
            edit: |r| r["line_items"][0]["meta_data"][0]["value"] = json!("77"),
            expected: Err("refunds item 77"),
        },
        Case {
            name: "a line without a SKU in the order",
            two_rates: true,
            listed_total: "-158.95",
            edit: |_| {},
            expected: Err("line_items[1].sku"),
        },
        Case {
            name: "a fee the order does not have",
            two_rates: true,
            listed_total: "-163.95",
            edit: |r| {
                r["amount"] = json!("163.95");
                r["fee_lines"] = json!([{"id": 35, "name": "Gebyr", "total": "-4.00",
                    "total_tax": "-1.00", "taxes": [], "meta_data": []}]);
            },
            expected: Err("fee_lines[0]"),
        },
    ];
    let config = config();
    for case in cases {
        let mut order = if case.two_rates {
            two_rate_order(listed(case.listed_total))
        } else {
            order(listed(case.listed_total))
        };
        if case.name == "a line without a SKU in the order" {
            order["line_items"][1]["sku"] = json!("");
        }
        let mut fetched = fetched_refund();
        (case.edit)(&mut fetched);
        let got = woocommerce_refund::translate_fetched(
            &serde_json::to_vec(&order).unwrap(),
            "2091",
            &serde_json::to_vec(&fetched).unwrap(),
            &config,
        );
        match (case.expected, got) {
            (Ok(expected), Ok(refund)) => assert_eq!(refund, expected, "{}", case.name),
            (Err(text), Err(error)) => {
                let error = error.to_string();
                assert!(error.contains(text), "{}: {error}", case.name)
            }
            (expected, got) => panic!("{}: expected {expected:?}, got {got:?}", case.name),
        }
    }
}

#[test]
fn a_fetched_fee_is_credited_only_while_the_orders_fees_share_one_rate() {
    let mut body = two_rate_order(listed("-5.00"));
    body["fee_lines"] = json!([{"id": 41, "name": "Betalingsgebyr", "total": "4.00",
        "total_tax": "1.00", "taxes": [{"id": 1, "total": "1.00"}], "meta_data": []}]);
    body["total"] = json!("253.91");
    let mut fetched = fetched_refund();
    fetched["amount"] = json!("5.00");
    fetched["line_items"] = json!([]);
    fetched["shipping_lines"] = json!([]);
    fetched["fee_lines"] = json!([{"id": 42, "name": "Betalingsgebyr", "total": "-4.00",
        "total_tax": "-1.00", "taxes": [{"id": 1, "total": "-1.00"}],
        "meta_data": [{"key": "_refunded_item_id", "value": 41}]}]);
    let translate = |body: &Value| {
        woocommerce_refund::translate_fetched(
            &serde_json::to_vec(body).unwrap(),
            "2091",
            &serde_json::to_vec(&fetched).unwrap(),
            &config(),
        )
    };
    let refund = translate(&body).expect("one fee rate");
    assert_eq!(
        refund.fees,
        [RefundFee {
            kind: FeeKind::Other,
            amount: money("5.00")
        }]
    );
    // A second fee at 0 %: which fee the credit note takes from is not
    // told apart by kind, so it is refused.
    body["fee_lines"].as_array_mut().unwrap().push(
        json!({"id": 43, "name": "Pant", "total": "2.00", "total_tax": "0.00", "taxes": [],
               "meta_data": []}),
    );
    body["total"] = json!("255.91");
    let error = translate(&body).unwrap_err().to_string();
    assert!(error.contains("fees carry VAT at 0 % and 25 %"), "{error}");
}
