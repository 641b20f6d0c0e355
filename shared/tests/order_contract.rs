//! The order event contract: parsing, field-precise errors, robustness.

use bridge::domain::order::{
    parse_event, ContractError, EventType, ParsedEvent, PaymentMethodKind,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

/// A change to a valid body.
type Edit = fn(&mut Value);

fn valid_body() -> Value {
    json!({
        "type": "order.paid",
        "order": {
            "id": "5001",
            "number": "1001",
            "created_at": "2024-03-15T10:30:00+01:00",
            "currency": "DKK",
            "prices_include_vat": true,
            "customer": {"name": "Mette Hansen", "email": "mette@example.dk"},
            "billing_address": {"street": "Nørregade 1", "zip": "1165", "city": "København K", "country": "DK"},
            "payment_method": "card",
            "lines": [
                {"sku": "MUG-01", "name": "Coffee mug", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"},
                {"sku": "TEE", "name": "T-shirt", "quantity": "1", "unit_price": "149.00", "vat_rate": "25"}
            ],
            "shipping": {"name": "GLS", "price": "39.00"},
            "fees": [{"kind": "payment_fee", "label": "Card fee", "amount": "3.75"}],
            "discounts": [{"kind": "loyalty_points", "label": "", "amount": "10", "points": 1000}],
            "total": "381.65"
        }
    })
}

fn parse(body: &Value) -> Result<ParsedEvent, ContractError> {
    parse_event(&serde_json::to_vec(body).unwrap())
}

fn error_with(edit: impl FnOnce(&mut Value)) -> ContractError {
    let mut body = valid_body();
    edit(&mut body);
    match parse(&body) {
        Err(e) => e,
        Ok(parsed) => panic!("expected an error, parsed {parsed:?}"),
    }
}

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[test]
fn valid_event_parses() {
    let ParsedEvent::Order(event) = parse(&valid_body()).unwrap() else {
        panic!("not an order")
    };
    assert_eq!(event.event_type, EventType::OrderPaid);
    assert_eq!(event.event_type.as_str(), "order.paid");
    assert_eq!(event.order.id(), "5001");
    assert_eq!(event.order.lines[0].unit_price, d("99.95"));
    assert_eq!(event.order.total, d("381.65"));
    assert_eq!(event.order.payment_method.kind(), PaymentMethodKind::Card);
    assert_eq!(event.order.created_at.offset().whole_hours(), 1);
}

#[test]
fn all_three_event_types_and_version_1() {
    for (name, expected) in [
        ("order.created", EventType::OrderCreated),
        ("order.paid", EventType::OrderPaid),
        ("order.shipped", EventType::OrderShipped),
    ] {
        let mut body = valid_body();
        body["type"] = json!(name);
        body["version"] = json!(1);
        let ParsedEvent::Order(event) = parse(&body).unwrap() else {
            panic!()
        };
        assert_eq!(event.event_type, expected);
    }
}

#[test]
fn version_one_written_as_a_float_is_version_one() {
    // The schema (and JSON itself) cannot tell 1.0 from 1; neither may we.
    for written in ["1.0", "1e0", "1.00"] {
        let text = serde_json::to_string(&valid_body()).unwrap().replacen(
            '{',
            &format!("{{\"version\":{written},"),
            1,
        );
        assert!(
            matches!(parse_event(text.as_bytes()), Ok(ParsedEvent::Order(_))),
            "version {written}"
        );
    }
    let e = error_with(|b| b["version"] = json!("1"));
    assert_eq!(e.field, "version");
}

#[test]
fn unknown_type_is_unsupported_not_an_error() {
    let parsed = parse(&json!({"type": "order.archived", "order": {"anything": true}})).unwrap();
    assert_eq!(
        parsed,
        ParsedEvent::Unsupported {
            event_type: "order.archived".into()
        }
    );
}

#[test]
fn envelope_errors_are_named() {
    let e = parse(&json!({"order": {}})).unwrap_err();
    assert_eq!((e.field.as_str(), e.message.as_str()), ("type", "missing"));
    let e = parse(&json!({"type": 7, "order": {}})).unwrap_err();
    assert_eq!(e.field, "type");
    let e = error_with(|b| b["version"] = json!(2));
    assert_eq!(e.field, "version");
    assert!(
        e.to_string()
            .starts_with("version: unsupported contract version 2"),
        "{e}"
    );
    let e = error_with(|b| {
        b.as_object_mut().unwrap().remove("order");
    });
    assert_eq!(e.field, "order");
}

#[test]
fn non_json_bodies_are_body_errors() {
    for body in [
        &b"\xff\xfe{\"type\":1}"[..],
        b"",
        b"not json",
        b"[1,2,3]",
        b"\"order.paid\"",
        b"{\"type\": \"order.paid\", ",
        b"{\"type\": \"order.paid\"} trailing",
    ] {
        let e = parse_event(body).unwrap_err();
        assert_eq!(e.field, "", "{:?}: {e}", String::from_utf8_lossy(body));
        assert!(e.to_string().starts_with("body: "), "{e}");
    }
    assert!(parse_event(b"\xff").unwrap_err().message.contains("UTF-8"));
}

#[test]
fn missing_fields_are_named_by_path() {
    let cases: [(&str, Edit); 5] = [
        ("order.currency", |b| {
            b["order"].as_object_mut().unwrap().remove("currency");
        }),
        ("order.total", |b| {
            b["order"].as_object_mut().unwrap().remove("total");
        }),
        ("order.customer.name", |b| {
            b["order"]["customer"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }),
        ("order.lines[1].vat_rate", |b| {
            b["order"]["lines"][1]
                .as_object_mut()
                .unwrap()
                .remove("vat_rate");
        }),
        ("order.billing_address.country", |b| {
            b["order"]["billing_address"]
                .as_object_mut()
                .unwrap()
                .remove("country");
        }),
    ];
    for (field, edit) in cases {
        let e = error_with(edit);
        assert_eq!(e.field, field, "{e}");
        assert_eq!(e.message, "missing");
        assert_eq!(e.to_string(), format!("{field}: missing"));
    }
}

#[test]
fn wrong_types_are_named_by_path() {
    let e = error_with(|b| b["order"]["lines"][1]["unit_price"] = json!(true));
    assert_eq!(e.field, "order.lines[1].unit_price");
    assert!(e.message.contains("expected a decimal amount"), "{e}");
    let e = error_with(|b| b["order"]["lines"][0]["quantity"] = json!("two"));
    assert_eq!(e.field, "order.lines[0].quantity");
    assert!(e.message.contains("not a decimal"), "{e}");
    let e = error_with(|b| b["order"]["prices_include_vat"] = json!("yes"));
    assert_eq!(e.field, "order.prices_include_vat");
    let e = error_with(|b| b["order"]["lines"] = json!({}));
    assert_eq!(e.field, "order.lines");
    let e = error_with(|b| b["order"]["fees"][0]["kind"] = json!("tip"));
    assert_eq!(e.field, "order.fees[0].kind");
    assert!(e.message.contains("payment_fee"), "{e}");
    let e = error_with(|b| b["order"]["created_at"] = json!("15/03/2024"));
    assert_eq!(e.field, "order.created_at");
    let e = error_with(|b| b["order"]["discounts"][0]["points"] = json!(-5));
    assert_eq!(e.field, "order.discounts[0].points");
}

#[test]
fn codes_are_checked_against_iso_lists() {
    for bad in ["DKX", "dkk", "DK", "EURO"] {
        let e = error_with(|b| b["order"]["currency"] = json!(bad));
        assert_eq!(e.field, "order.currency", "{bad}");
        assert!(e.message.contains("ISO 4217"));
    }
    let e = error_with(|b| b["order"]["billing_address"]["country"] = json!("XX"));
    assert_eq!(e.field, "order.billing_address.country");
    assert!(e.message.contains("ISO 3166"));
    let e = error_with(|b| {
        b["order"]["delivery_address"] =
            json!({"street": "a", "zip": "1", "city": "c", "country": "dk"})
    });
    assert_eq!(e.field, "order.delivery_address.country");
}

#[test]
fn semantic_rules_name_the_field() {
    let cases: Vec<(&str, Edit)> = vec![
        ("order.lines[0].quantity", |b| {
            b["order"]["lines"][0]["quantity"] = json!("-1")
        }),
        ("order.lines[0].quantity", |b| {
            b["order"]["lines"][0]["quantity"] = json!(0)
        }),
        ("order.lines[1].unit_price", |b| {
            b["order"]["lines"][1]["unit_price"] = json!("-5.00")
        }),
        ("order.lines[1].vat_rate", |b| {
            b["order"]["lines"][1]["vat_rate"] = json!("101")
        }),
        ("order.lines[1].vat_rate", |b| {
            b["order"]["lines"][1]["vat_rate"] = json!(-1)
        }),
        ("order.lines[0].unit_price", |b| {
            b["order"]["lines"][0]["unit_price"] = json!("1.1234567")
        }),
        ("order.lines[0].unit_price", |b| {
            b["order"]["lines"][0]["unit_price"] = json!("1000000000000.01")
        }),
        ("order.total", |b| b["order"]["total"] = json!("381.655")),
        ("order.total", |b| b["order"]["total"] = json!("-1")),
        ("order.id", |b| b["order"]["id"] = json!("  ")),
        ("order.number", |b| b["order"]["number"] = json!("")),
        ("order.lines", |b| b["order"]["lines"] = json!([])),
        ("order.lines[0].name", |b| {
            b["order"]["lines"][0]["name"] = json!("")
        }),
        ("order.discounts[0].amount", |b| {
            b["order"]["discounts"][0]["amount"] = json!("-10")
        }),
        ("order.fees[0].amount", |b| {
            b["order"]["fees"][0]["amount"] = json!("-1")
        }),
        ("order.shipping.price", |b| {
            b["order"]["shipping"]["price"] = json!("-39")
        }),
        ("order.shipping.vat_rate", |b| {
            b["order"]["shipping"]["vat_rate"] = json!("250")
        }),
        ("order.customer.ean", |b| {
            b["order"]["customer"]["ean"] = json!("12345")
        }),
        ("order.customer.name", |b| {
            b["order"]["customer"]["name"] = json!("x".repeat(501))
        }),
        // e-conomic's `recipient.publicEntryNumber` holds 40 characters.
        ("order.buyer_order_number", |b| {
            b["order"]["buyer_order_number"] = json!("ø".repeat(41))
        }),
        ("order.buyer_order_number", |b| {
            b["order"]["buyer_order_number"] = json!("   ")
        }),
        ("order.buyer_reference", |b| {
            b["order"]["buyer_reference"] = json!("x".repeat(101))
        }),
    ];
    for (field, edit) in cases {
        let e = error_with(edit);
        assert_eq!(e.field, field, "{e}");
        assert!(!e.message.is_empty());
    }
}

#[test]
fn buyer_references_are_read_at_their_longest() {
    let mut body = valid_body();
    body["order"]["buyer_order_number"] = json!("ø".repeat(40));
    body["order"]["buyer_reference"] = json!("Jens Jensen, afd. 12");
    let ParsedEvent::Order(event) = parse_event(body.to_string().as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(event.order.buyer_order_number, Some("ø".repeat(40)));
    assert_eq!(
        event.order.buyer_reference.as_deref(),
        Some("Jens Jensen, afd. 12")
    );
}

#[test]
fn extra_fields_are_ignored_and_numbers_are_lossless() {
    let mut body = valid_body();
    body["shop_extension"] = json!({"deep": [1, 2, 3]});
    body["order"]["note"] = json!("leave at the door");
    body["order"]["lines"][0]["weight_grams"] = json!(350);
    body["order"]["customer"]["id"] = json!(4711);
    let text = serde_json::to_string(&body)
        .unwrap()
        // JSON numbers with more digits than an f64 holds.
        .replace("\"149.00\"", "149.123456")
        .replace("\"381.65\"", "381.65");
    let ParsedEvent::Order(event) = parse_event(text.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(event.order.lines[1].unit_price.to_string(), "149.123456");
    assert_eq!(event.order.total.to_string(), "381.65");
    assert_eq!(event.order.customer.id.as_deref(), Some("4711"));
    // 18 significant digits: an f64 would change the last ones.
    let text = text.replace("149.123456", "999999999999.999999");
    let ParsedEvent::Order(event) = parse_event(text.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(event.order.lines[1].unit_price, d("999999999999.999999"));
}

#[test]
fn payment_methods_are_classified_not_rejected() {
    for (raw, kind) in [
        ("card", PaymentMethodKind::Card),
        ("Credit-Card", PaymentMethodKind::Card),
        ("MobilePay", PaymentMethodKind::MobilePay),
        ("ean_invoice", PaymentMethodKind::EanInvoice),
        ("bank transfer", PaymentMethodKind::BankTransfer),
        ("cod", PaymentMethodKind::CashOnDelivery),
        ("gift_card", PaymentMethodKind::GiftCard),
        ("klarna", PaymentMethodKind::Other),
    ] {
        let mut body = valid_body();
        body["order"]["payment_method"] = json!(raw);
        let ParsedEvent::Order(event) = parse(&body).unwrap() else {
            panic!()
        };
        assert_eq!(event.order.payment_method.kind(), kind, "{raw}");
        assert_eq!(event.order.payment_method.as_str(), raw);
    }
}

#[test]
fn hostile_inputs_never_panic() {
    // Deep nesting, huge numbers, odd escapes.
    let deep = format!(
        "{{\"type\":\"order.paid\",\"order\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_event(deep.as_bytes()).is_err());
    let deep_object = format!("{}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    assert!(parse_event(deep_object.as_bytes()).is_err());
    for huge in [
        "1e400",
        "-1e400",
        "99999999999999999999999999999999999",
        "1e-400",
        "NaN",
    ] {
        let text = serde_json::to_string(&valid_body())
            .unwrap()
            .replace("\"381.65\"", huge);
        let result = parse_event(text.as_bytes());
        assert!(result.is_err(), "{huge}: {result:?}");
    }
    for huge in ["\"1e400\"", "\"99999999999999999999999999999999999\""] {
        let text = serde_json::to_string(&valid_body())
            .unwrap()
            .replace("\"99.95\"", huge);
        let e = parse_event(text.as_bytes()).unwrap_err();
        assert_eq!(e.field, "order.lines[0].unit_price", "{e}");
    }
    // Every prefix and many single-byte corruptions of a valid body.
    let valid = serde_json::to_vec(&valid_body()).unwrap();
    for end in 0..valid.len() {
        let _ = parse_event(&valid[..end]);
    }
    for i in 0..valid.len() {
        for byte in [b'"', b'{', b'}', b'-', b'9', 0xff, b'\\', b'e'] {
            let mut corrupted = valid.clone();
            corrupted[i] = byte;
            let _ = parse_event(&corrupted);
        }
    }
}

#[test]
fn order_serialises_back_to_the_contract() {
    let ParsedEvent::Order(event) = parse(&valid_body()).unwrap() else {
        panic!()
    };
    let json = serde_json::to_value(&event).unwrap();
    assert_eq!(json["type"], "order.paid");
    assert_eq!(json["order"]["lines"][0]["unit_price"], "99.95");
    assert_eq!(json["order"]["total"], "381.65");
    assert_eq!(json["order"]["created_at"], "2024-03-15T10:30:00+01:00");
    let ParsedEvent::Order(again) = parse(&json).unwrap() else {
        panic!()
    };
    assert_eq!(again, event);
}
