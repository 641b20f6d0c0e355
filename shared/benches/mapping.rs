//! Parse + map one typical 5-line order (DK B2C, shipping, a discount).
//! Run: `cargo bench -p bridge --bench mapping`. Orders/second per core =
//! 1 / (time per iteration).

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::order::{parse_event, ParsedEvent};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

const BODY: &str = r#"{
  "type": "order.paid",
  "version": 1,
  "order": {
    "id": "884412", "number": "10442", "created_at": "2024-03-15T10:30:00+01:00",
    "currency": "DKK", "prices_include_vat": true,
    "customer": {"id": "4711", "name": "Mette Hansen", "email": "mette@example.dk",
                 "phone": "+45 20 30 40 50", "logged_in": true},
    "billing_address": {"street": "Nørregade 1", "zip": "1165", "city": "København K", "country": "DK"},
    "payment_method": "card",
    "lines": [
      {"sku": "MUG-01", "name": "Coffee mug", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"},
      {"sku": "TEE-RED-M", "name": "T-shirt red M", "quantity": "1", "unit_price": "149.00", "vat_rate": "25"},
      {"sku": "CUP", "name": "Espresso cup", "quantity": "3", "unit_price": "33.33", "vat_rate": "25"},
      {"sku": "BEANS-1KG", "name": "Coffee beans 1 kg", "quantity": "1", "unit_price": "189.00", "vat_rate": "25"},
      {"sku": "FILTER", "name": "Paper filters", "quantity": "4", "unit_price": "24.50", "vat_rate": "25"}
    ],
    "shipping": {"name": "GLS Pakkeshop", "price": "39.00"},
    "discounts": [{"kind": "discount_code", "label": "SPRING10", "amount": "50.00"}],
    "total": "724.89"
  }
}"#;

fn config() -> MappingConfig {
    serde_json::from_str(
        r#"{"debtor": {"strategy": {"kind": "phone"}},
            "payment_methods": {"card": {"layout": 19, "payment_terms": 1}}}"#,
    )
    .expect("config")
}

fn parse_and_map(c: &mut Criterion) {
    let config = config();
    // Sanity: the benchmark maps successfully (and to the order total).
    let ParsedEvent::Order(event) = parse_event(BODY.as_bytes()).expect("parses") else {
        panic!("not an order")
    };
    let plan = map_order(&event.order, &config).expect("maps");
    assert_eq!(plan.expected_gross_total, event.order.total);

    let mut group = c.benchmark_group("mapping");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_and_map_5_line_order", |b| {
        b.iter(|| {
            let ParsedEvent::Order(event) = parse_event(black_box(BODY.as_bytes())).unwrap() else {
                unreachable!()
            };
            black_box(map_order(&event.order, &config).unwrap())
        })
    });
    group.bench_function("map_only_5_line_order", |b| {
        b.iter(|| black_box(map_order(black_box(&event.order), &config).unwrap()))
    });
    group.bench_function("parse_only_5_line_order", |b| {
        b.iter(|| black_box(parse_event(black_box(BODY.as_bytes())).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, parse_and_map);
criterion_main!(benches);
