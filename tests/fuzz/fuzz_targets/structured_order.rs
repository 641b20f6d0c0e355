//! Structured target: builds a well-formed order event from fuzzer-chosen
//! values (amounts, quantities, rates, countries, currencies, flags), so
//! the search reaches the mapping's arithmetic instead of stopping at the
//! JSON parser. Parse then map must never panic, and a plan the mapping
//! accepts has lines and a reference.
#![no_main]

use arbitrary::Arbitrary;
use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::order::{parse_event, ParsedEvent};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::sync::OnceLock;

const COUNTRIES: &[&str] = &[
    "DK", "DE", "SE", "FR", "NL", "NO", "US", "GB", "FI", "XX", "dk", "", "GL", "FO",
];
const CURRENCIES: &[&str] = &["DKK", "EUR", "SEK", "NOK", "USD", "GBP", "XXX", "dkk", ""];
const RATES: &[&str] = &["25", "0", "19", "20", "21", "12.5", "-1", "100", "25.0000001"];

#[derive(Debug, Arbitrary)]
struct Amount {
    mantissa: i64,
    scale: u8,
    as_number: bool,
}

impl Amount {
    fn json(&self) -> Value {
        let scale = u32::from(self.scale % 12);
        let text = rust_decimal_text(self.mantissa, scale);
        if self.as_number {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        } else {
            Value::String(text)
        }
    }
}

fn rust_decimal_text(mantissa: i64, scale: u32) -> String {
    let negative = mantissa < 0;
    let digits = mantissa.unsigned_abs().to_string();
    let scale = scale as usize;
    let body = if scale == 0 {
        digits
    } else if digits.len() > scale {
        format!("{}.{}", &digits[..digits.len() - scale], &digits[digits.len() - scale..])
    } else {
        format!("0.{}{}", "0".repeat(scale - digits.len()), digits)
    };
    if negative {
        format!("-{body}")
    } else {
        body
    }
}

#[derive(Debug, Arbitrary)]
struct Line {
    quantity: Amount,
    unit_price: Amount,
    rate: u8,
}

#[derive(Debug, Arbitrary)]
struct Input {
    event: u8,
    country: u8,
    delivery_country: Option<u8>,
    currency: u8,
    prices_include_vat: bool,
    business: bool,
    lines: Vec<Line>,
    shipping: Option<(Amount, u8)>,
    fee: Option<Amount>,
    discount: Option<Amount>,
    gift_card: Option<Amount>,
    total: Amount,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

fn config() -> &'static MappingConfig {
    static CONFIG: OnceLock<MappingConfig> = OnceLock::new();
    CONFIG.get_or_init(MappingConfig::default)
}

fuzz_target!(|input: Input| {
    let lines: Vec<Value> = input
        .lines
        .iter()
        .take(20)
        .enumerate()
        .map(|(i, l)| {
            json!({
                "sku": format!("SKU-{}", i % 3 + 1),
                "name": "Item",
                "quantity": l.quantity.json(),
                "unit_price": l.unit_price.json(),
                "vat_rate": pick(RATES, l.rate),
            })
        })
        .collect();
    let mut order = json!({
        "id": "F-1",
        "number": "F-1",
        "created_at": "2026-03-01T10:00:00Z",
        "currency": pick(CURRENCIES, input.currency),
        "prices_include_vat": input.prices_include_vat,
        "customer": {"name": "Fuzz", "email": "fuzz@example.com"},
        "billing_address": {"street": "Vej 1", "zip": "8000", "city": "Aarhus",
                            "country": pick(COUNTRIES, input.country)},
        "payment_method": "card",
        "lines": lines,
        "total": input.total.json(),
    });
    if input.business {
        order["customer"]["company_name"] = json!("Fuzz GmbH");
        order["customer"]["eu_vat_number"] = json!("DE123456789");
    }
    if let Some(c) = input.delivery_country {
        order["delivery_address"] = json!({"street": "Weg 2", "zip": "10115", "city": "Berlin",
                                           "country": pick(COUNTRIES, c)});
    }
    if let Some((price, rate)) = &input.shipping {
        order["shipping"] = json!({"name": "GLS", "price": price.json(), "vat_rate": pick(RATES, *rate)});
    }
    if let Some(fee) = &input.fee {
        order["fees"] = json!([{"kind": "payment_fee", "label": "Fee", "amount": fee.json(), "vat_rate": "25"}]);
    }
    if let Some(discount) = &input.discount {
        order["discounts"] = json!([{"kind": "discount_code", "label": "Coupon", "amount": discount.json(), "vat_rate": "25"}]);
    }
    if let Some(amount) = &input.gift_card {
        let entry = json!({"kind": "gift_card", "label": "Gift card", "amount": amount.json()});
        match order["discounts"].as_array_mut() {
            Some(list) => list.push(entry),
            None => order["discounts"] = json!([entry]),
        }
    }
    let event_type = ["order.created", "order.paid", "order.shipped"][usize::from(input.event) % 3];
    let body = json!({"type": event_type, "order": order}).to_string();
    if let Ok(ParsedEvent::Order(event)) = parse_event(body.as_bytes()) {
        if let Ok(plan) = map_order(&event.order, config()) {
            assert!(!plan.reference.is_empty(), "empty reference");
            assert!(!plan.draft.lines.is_empty(), "a plan without lines");
        }
    }
});
