//! Hostile input against the webhook parser and the mapping: random bytes,
//! huge bodies, deep nesting, wrong types for every field, extreme and odd
//! amounts, unknown countries and currencies, invalid UTF-8. The parser
//! must answer `Ok` or a `ContractError` naming the field — never panic —
//! and the mapping must plan or refuse, never panic.
//!
//! Regression inputs found by the fuzz targets in `tests/fuzz/` go at the
//! bottom of this file.

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::order::{parse_event, ContractError, ParsedEvent};
use proptest::prelude::*;
use serde_json::{json, Value};

/// A valid `order.paid` event (total 239.00, 25 % VAT included).
fn valid_event() -> Value {
    json!({
        "type": "order.paid",
        "order": {
            "id": "H-1",
            "number": "H-1",
            "created_at": "2026-03-01T10:00:00Z",
            "currency": "DKK",
            "prices_include_vat": true,
            "customer": {"name": "Jens Hansen", "email": "jens@example.dk"},
            "billing_address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"},
            "payment_method": "card",
            "lines": [{"sku": "SKU-1", "name": "T-shirt", "quantity": 2, "unit_price": "100.00", "vat_rate": "25"}],
            "shipping": {"name": "GLS", "price": "39.00", "vat_rate": "25"},
            "total": "239.00"
        }
    })
}

/// Every field path of the valid event (objects and leaves), as JSON
/// pointers, so each can be replaced by a value of the wrong type.
fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{prefix}/{key}");
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

fn all_pointers() -> Vec<String> {
    let mut out = Vec::new();
    pointers(&valid_event(), String::new(), &mut out);
    out
}

/// Parses, and when an order comes out, maps it with the default config.
/// Returns the parse result; panics only if something inside panics.
fn parse_and_map(body: &[u8]) -> Result<ParsedEvent, ContractError> {
    let parsed = parse_event(body);
    if let Ok(ParsedEvent::Order(event)) = &parsed {
        let _ = map_order(&event.order, &MappingConfig::default());
    }
    parsed
}

/// A contract error's field is empty (the whole body) or a real member path.
fn assert_names_a_field(error: &ContractError) {
    let field = error.field.as_str();
    assert!(
        field.is_empty()
            || matches!(field, "type" | "version" | "order")
            || field.starts_with("order."),
        "unexpected field path {field:?} ({})",
        error.message
    );
    assert!(!error.message.is_empty());
}

fn wrong_values() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(1e308)),
        Just(json!("")),
        Just(json!("x".repeat(10_000))),
        Just(json!([])),
        Just(json!([1, "a", null])),
        Just(json!({})),
        Just(json!({"nested": {"deeper": [1]}})),
        any::<i64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(|s| json!(s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Err(error) = parse_and_map(&body) {
            assert_names_a_field(&error);
        }
    }

    #[test]
    fn random_text_that_looks_like_json_never_panics(body in r#"[{}\[\]",:0-9a-z. eE+\-\\]{0,400}"#) {
        if let Err(error) = parse_and_map(body.as_bytes()) {
            assert_names_a_field(&error);
        }
    }

    /// Each field of a valid event replaced by a value of another type (or
    /// removed): an error naming that field (or its parent), or — where
    /// the value happens to be acceptable — a successful parse.
    #[test]
    fn wrong_type_for_any_field_is_named(index in 0usize..1000, value in wrong_values(), remove in any::<bool>()) {
        let pointers = all_pointers();
        let pointer = &pointers[index % pointers.len()];
        let mut event = valid_event();
        let (parent, key) = pointer.rsplit_once('/').expect("pointer has a slash");
        let target = if parent.is_empty() { Some(&mut event) } else { event.pointer_mut(parent) };
        match target {
            Some(Value::Object(map)) => {
                if remove { map.remove(key); } else { map.insert(key.to_owned(), value); }
            }
            Some(Value::Array(items)) => {
                let i: usize = key.parse().expect("array index");
                if remove { items.remove(i); } else { items[i] = value; }
            }
            _ => unreachable!("parent of a pointer is a container"),
        }
        let body = serde_json::to_vec(&event).expect("serialise");
        match parse_and_map(&body) {
            Ok(_) => {}
            Err(error) => {
                assert_names_a_field(&error);
                // The named field is the mutated one or one of its ancestors
                // (or descendants when a container became another shape).
                let dotted = pointer.trim_start_matches('/').replace('/', ".");
                let field = error.field.replace('[', ".").replace(']', "");
                prop_assert!(
                    field.is_empty()
                        || dotted.starts_with(&field)
                        || field.starts_with(&dotted)
                        // a changed line amount can surface as a total mismatch
                        || field == "order.total"
                        || field == "type" || field == "order",
                    "mutated {dotted}, error names {} ({})", error.field, error.message
                );
            }
        }
    }

    /// Amounts anywhere: tiny, huge, negative, negative zero, exponent
    /// forms, as strings or numbers.
    #[test]
    fn extreme_amounts_never_panic(
        slot in 0usize..5,
        amount in prop_oneof![
            Just("1e30".to_owned()), Just("-0".to_owned()), Just("-0.00".to_owned()),
            Just("0.000000001".to_owned()), Just("79228162514264337593543950335".to_owned()),
            Just("79228162514264337593543950336".to_owned()), Just("-79228162514264337593543950335".to_owned()),
            Just("1E-28".to_owned()), Just("NaN".to_owned()), Just("Infinity".to_owned()),
            Just("0x10".to_owned()), Just("1_000".to_owned()), Just(" 1".to_owned()),
            Just("99999999999.99".to_owned()), Just("100000000000".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            (any::<i64>(), 0u32..30).prop_map(|(n, s)| rust_decimal::Decimal::try_from_i128_with_scale(i128::from(n), s.min(28)).map(|d| d.to_string()).unwrap_or_default()),
        ],
        as_number in any::<bool>(),
    ) {
        let mut event = valid_event();
        let raw: Value = if as_number {
            serde_json::from_str(&amount).unwrap_or(Value::String(amount.clone()))
        } else {
            Value::String(amount.clone())
        };
        let pointer = ["/order/total", "/order/lines/0/unit_price", "/order/lines/0/quantity",
                       "/order/lines/0/vat_rate", "/order/shipping/price"][slot];
        *event.pointer_mut(pointer).expect("slot exists") = raw;
        let body = serde_json::to_vec(&event).expect("serialise");
        if let Err(error) = parse_and_map(&body) {
            assert_names_a_field(&error);
        }
    }

    #[test]
    fn unknown_countries_and_currencies_never_panic(
        country in prop_oneof![Just("XX".to_owned()), Just("dk".to_owned()), Just("".to_owned()),
                               Just("DNK".to_owned()), Just("ÆØ".to_owned()), "[A-Z]{2}".prop_map(|s| s)],
        currency in prop_oneof![Just("XXX".to_owned()), Just("dkk".to_owned()), Just("".to_owned()),
                                Just("€".to_owned()), "[A-Z]{3}".prop_map(|s| s)],
        delivery in any::<bool>(),
    ) {
        let mut event = valid_event();
        event["order"]["currency"] = json!(currency);
        if delivery {
            event["order"]["delivery_address"] = json!({"street": "Weg 1", "zip": "1", "city": "X", "country": country});
        } else {
            event["order"]["billing_address"]["country"] = json!(country);
        }
        let body = serde_json::to_vec(&event).expect("serialise");
        if let Err(error) = parse_and_map(&body) {
            assert_names_a_field(&error);
        }
    }

    #[test]
    fn invalid_utf8_is_a_clear_error(prefix in "[ -~]{0,50}", bad in prop_oneof![Just(vec![0xffu8]), Just(vec![0xc3, 0x28]), Just(vec![0xed, 0xa0, 0x80])]) {
        let mut body = prefix.into_bytes();
        body.extend_from_slice(&bad);
        let error = parse_event(&body).expect_err("invalid UTF-8 is rejected");
        prop_assert!(error.message.contains("UTF-8"), "{}", error.message);
    }
}

#[test]
fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    for body in [
        "[".repeat(100_000),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!(
            r#"{{"type":"order.paid","order":{}"#,
            "{\"a\":".repeat(100_000)
        ),
        format!(
            r#"{{"type":"order.paid","x":{}1{},"order":{{}}}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    ] {
        let error = parse_event(body.as_bytes()).expect_err("rejected");
        assert_names_a_field(&error);
    }
}

#[test]
fn huge_bodies_are_handled() {
    // 10 000 lines (over MAX_LINES), a 1 MB name, a 5 MB body of spaces.
    let mut event = valid_event();
    let line = event["order"]["lines"][0].clone();
    event["order"]["lines"] = Value::Array(vec![line; 10_000]);
    let error =
        parse_event(&serde_json::to_vec(&event).expect("serialise")).expect_err("too many lines");
    assert!(error.field.starts_with("order.lines"), "{error:?}");

    let mut event = valid_event();
    event["order"]["customer"]["name"] = json!("n".repeat(1_000_000));
    let error = parse_event(&serde_json::to_vec(&event).expect("serialise")).expect_err("too long");
    assert_eq!(error.field, "order.customer.name", "{error:?}");

    let spaces = vec![b' '; 5_000_000];
    let error = parse_event(&spaces).expect_err("empty");
    assert_eq!(error.field, "");
}

#[test]
fn duplicate_keys_and_odd_encodings_never_panic() {
    let bodies: Vec<Vec<u8>> = vec![
        br#"{"type":"order.paid","type":"order.paid","order":{}}"#.to_vec(),
        br#"{"type":"order.paid","order":null}"#.to_vec(),
        br#"{"type":null,"order":{}}"#.to_vec(),
        br#"{"type":"order.paid","version":2,"order":{}}"#.to_vec(),
        br#"{"type":"order.paid","version":"1","order":{}}"#.to_vec(),
        b"\xef\xbb\xbf{\"type\":\"order.paid\"}".to_vec(),
        b"{\"type\":\"order.paid\\u0000\",\"order\":{}}".to_vec(),
        br#"{"type":"\ud800","order":{}}"#.to_vec(),
        b"\0\0\0\0".to_vec(),
        br#"{"type":"order.paid","order":{"id":"1"}} trailing"#.to_vec(),
    ];
    for body in bodies {
        if let Err(error) = parse_and_map(&body) {
            assert_names_a_field(&error);
        }
    }
}

/// A valid event, mapped with the default configuration, to make sure the
/// properties above actually reach the mapping rather than stopping early.
#[test]
fn the_valid_event_reaches_the_mapping() {
    let body = serde_json::to_vec(&valid_event()).expect("serialise");
    let ParsedEvent::Order(event) = parse_event(&body).expect("valid") else {
        panic!("order event expected");
    };
    let plan = map_order(&event.order, &MappingConfig::default()).expect("maps");
    assert_eq!(plan.expected_gross_total.to_string(), "239.00");
}
