//! Hostile input against the Shopify and WooCommerce translators: any
//! JSON at all, and every field of every fixture replaced by a value of
//! another type or an extreme amount. A translator answers an order or an
//! error naming a field — never a panic — and an order it produces keeps
//! the platform's total and maps (or is refused) without a panic.

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::order::Order;
use bridge::domain::platform::{shopify, shopify_refund, woocommerce, B2bFields, TranslateError};
use bridge::domain::shop::{
    shopify_topics, woocommerce_statuses, ShopifyConfig, WoocommerceConfig,
};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::OnceLock;

fn shopify_config() -> ShopifyConfig {
    ShopifyConfig {
        shop_domain: "butik.myshopify.com".into(),
        secrets: vec![],
        topics: shopify_topics(),
        b2b: B2bFields::shopify_defaults(),
        write_back: None,
    }
}

fn woo_config() -> WoocommerceConfig {
    WoocommerceConfig {
        secrets: vec![],
        statuses: woocommerce_statuses(),
        b2b: B2bFields::woocommerce_defaults(),
        write_back: None,
    }
}

/// The fixtures of one platform, read once.
fn fixtures(platform: &str) -> &'static [Value] {
    static SHOPIFY: OnceLock<Vec<Value>> = OnceLock::new();
    static WOOCOMMERCE: OnceLock<Vec<Value>> = OnceLock::new();
    let cell = if platform == "shopify" {
        &SHOPIFY
    } else {
        &WOOCOMMERCE
    };
    cell.get_or_init(|| read_fixtures(platform))
}

fn read_fixtures(platform: &str) -> Vec<Value> {
    let dir = format!("{}/tests/fixtures/{platform}", env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{prefix}/{i}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        _ => {}
    }
}

/// Translates with both translators; checks what an `Ok` must satisfy.
fn check(body: &[u8]) {
    let value = serde_json::from_slice::<Value>(body).ok();
    check_value(body, value.as_ref());
}

/// As [`check`], with the body already parsed (`None`: not JSON).
fn check_value(body: &[u8], value: Option<&Value>) {
    let total = |key: &str| value.and_then(|v| v.get(key)).cloned();
    check_result(
        shopify::translate_body(body, &shopify_config()),
        total("total_price"),
    );
    check_result(
        woocommerce::translate_body(body, &woo_config()),
        total("total"),
    );
    // Shopify refunds: a translated refund always meets the contract.
    if let Ok(refund) = shopify_refund::parse(body) {
        if let Ok(translated) = shopify_refund::translate(&refund) {
            assert_eq!(translated.parts_total(), translated.total);
        }
    }
}

fn check_result(result: Result<Order, TranslateError>, platform_total: Option<Value>) {
    match result {
        Ok(order) => {
            let total = platform_total.expect("an order came from a body with a total");
            let text = match total {
                Value::String(s) => s,
                other => other.to_string(),
            };
            assert_eq!(
                order.total,
                text.trim().parse::<rust_decimal::Decimal>().unwrap(),
                "the translated total is the platform's"
            );
            let _ = map_order(&order, &MappingConfig::default());
        }
        Err(TranslateError::Malformed(e)) | Err(TranslateError::NotInvoiceable(e)) => {
            assert!(!e.message.is_empty());
        }
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[ -~]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("79228162514264337593543950335"),
            Just("-79228162514264337593543950335"),
            Just("0.0000000000000000000000000001"),
            Just("1e30"),
            Just("-0"),
            Just("0.25"),
            Just("2026-11-27T09:12:44+01:00"),
            Just("DK"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    "[a-z_]{1,10}",
                    Just("id".to_owned()),
                    Just("line_items".to_owned()),
                    Just("total_price".to_owned()),
                    Just("total".to_owned()),
                    Just("price".to_owned()),
                    Just("quantity".to_owned()),
                    Just("tax_lines".to_owned()),
                    Just("taxes".to_owned()),
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn translators_never_panic_on_any_json(value in any_json()) {
        check(value.to_string().as_bytes());
    }

    #[test]
    fn translators_never_panic_on_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
    }

    #[test]
    fn translators_never_panic_when_a_fixture_field_is_replaced(
        platform in prop_oneof![Just("shopify"), Just("woocommerce")],
        fixture_index in 0usize..16,
        field_index in 0usize..4096,
        replacement in any_json(),
    ) {
        let all = fixtures(platform);
        let mut value = all[fixture_index % all.len()].clone();
        let mut paths = Vec::new();
        pointers(&value, String::new(), &mut paths);
        let path = &paths[field_index % paths.len()];
        if let Some(slot) = value.pointer_mut(path) {
            *slot = replacement;
        }
        check_value(value.to_string().as_bytes(), Some(&value));
    }
}

#[test]
fn every_fixture_field_with_extreme_values_never_panics() {
    let extremes = [
        Value::Null,
        Value::String("79228162514264337593543950335".into()),
        Value::String("-1".into()),
        serde_json::json!({}),
    ];
    for platform in ["shopify", "woocommerce"] {
        for fixture in fixtures(platform) {
            let mut paths = Vec::new();
            pointers(fixture, String::new(), &mut paths);
            for path in &paths {
                for extreme in &extremes {
                    let mut value = fixture.clone();
                    if let Some(slot) = value.pointer_mut(path) {
                        *slot = extreme.clone();
                    }
                    check_value(value.to_string().as_bytes(), Some(&value));
                }
            }
        }
    }
}
