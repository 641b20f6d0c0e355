//! Property tests: for any valid order in any VAT situation, the invoice
//! e-conomic will total (per `money::draft_totals`) equals the order's total
//! to the øre, and VAT is never negative on a positive line; with
//! `vat_rates`, every line keeps the rate the shop charged.

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::money::{draft_totals, line_net, line_vat, round2, vat_factor};
use bridge::domain::order::{parse_event, ParsedEvent};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// Where the order goes and who buys: (country, company?, eu vat number?, ean?).
#[derive(Debug, Clone, Copy)]
enum Situation {
    DomesticConsumer,
    DomesticCompany,
    DomesticPublicEan,
    EuReverseCharge,
    Oss(usize),
    OssDisabled,
    Voec,
    Export,
}

const OSS: [(&str, &str, u32); 8] = [
    ("SE", "25", 11),
    ("DE", "19", 12),
    ("FR", "20", 13),
    ("NL", "21", 14),
    ("IT", "22", 15),
    ("LU", "17", 16),
    ("HU", "27", 17),
    ("FI", "25.5", 18),
];

fn situation() -> impl Strategy<Value = Situation> {
    prop_oneof![
        Just(Situation::DomesticConsumer),
        Just(Situation::DomesticCompany),
        Just(Situation::DomesticPublicEan),
        Just(Situation::EuReverseCharge),
        (0..OSS.len()).prop_map(Situation::Oss),
        Just(Situation::OssDisabled),
        Just(Situation::Voec),
        Just(Situation::Export),
    ]
}

fn config(order: &GenOrder) -> MappingConfig {
    let countries: serde_json::Map<String, Value> = OSS
        .iter()
        .map(|(c, r, z)| (c.to_string(), json!({"vat_zone": z, "rate": r})))
        .collect();
    serde_json::from_value(json!({
        "oss": {"enabled": order.oss_enabled, "countries": countries},
        // EUR 260 ≈ NOK 3,000: some generated items are above the VOEC limit.
        "voec": {"enabled": true, "vat_zone": 20, "item_value_below": {"NOK": "3000", "EUR": "260"}},
        // A shop with cash rounding of its totals says so (and its rounding
        // carries VAT); without it only a few øre per line are accepted.
        "rounding": if order.noise != 0 {
            json!({"vat_free": false, "total_step": "1"})
        } else {
            json!({"vat_free": order.rounding_vat_free})
        },
        "unit_price_decimals": order.unit_decimals,
        "products": {"gift_card_vat": if order.gift_card_no_vat { "multi_purpose" } else { "single_purpose" }}
    }))
    .unwrap()
}

/// A money amount with `decimals` places in `0..=max_units`.
fn amount(max_minor: i64, decimals: u32) -> impl Strategy<Value = Decimal> {
    (0..=max_minor).prop_map(move |m| Decimal::new(m, decimals))
}

fn quantity() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        4 => (1i64..=20).prop_map(Decimal::from),
        1 => (1i64..=50_000).prop_map(|m| Decimal::new(m, 3)),
        1 => (1i64..=1000).prop_map(|m| Decimal::new(m, 0)),
    ]
}

#[derive(Debug, Clone)]
struct GenLine {
    quantity: Decimal,
    price: Decimal,
    zero_rated: bool,
}

fn gen_line() -> impl Strategy<Value = GenLine> {
    (
        quantity(),
        prop_oneof![4 => amount(500_000, 2), 1 => amount(5_000_000, 4), 1 => Just(Decimal::ZERO)],
        prop::bool::weighted(0.15),
    )
        .prop_map(|(quantity, price, zero_rated)| GenLine {
            quantity,
            price,
            zero_rated,
        })
}

#[derive(Debug, Clone)]
struct GenOrder {
    situation: Situation,
    include_vat: bool,
    lines: Vec<GenLine>,
    shipping: Option<Decimal>,
    fees: Vec<(usize, Decimal)>,
    /// (kind index, share of the goods' value in per mille).
    discounts: Vec<(usize, u32)>,
    /// Shop-side rounding noise in øre (cash rounding of the total to
    /// whole units), |noise| ≤ 50; 0 in half the orders.
    noise: i64,
    oss_enabled: bool,
    rounding_vat_free: bool,
    unit_decimals: u32,
    gift_card_no_vat: bool,
}

fn gen_order() -> impl Strategy<Value = GenOrder> {
    (
        situation(),
        any::<bool>(),
        prop::collection::vec(gen_line(), 1..8),
        prop::option::of(amount(20_000, 2)),
        prop::collection::vec((0usize..3, amount(10_000, 2)), 0..3),
        prop::collection::vec((0usize..4, 0u32..=300), 0..4),
        prop_oneof![Just(0i64), -50i64..=50],
        any::<bool>(),
        (2u32..=6),
        any::<bool>(),
    )
        .prop_map(
            |(
                situation,
                include_vat,
                lines,
                shipping,
                fees,
                discounts,
                noise,
                vat_free,
                decimals,
                gift_no_vat,
            )| {
                GenOrder {
                    oss_enabled: !matches!(situation, Situation::OssDisabled),
                    situation,
                    include_vat,
                    lines,
                    shipping,
                    fees,
                    discounts,
                    noise,
                    rounding_vat_free: vat_free,
                    unit_decimals: decimals,
                    gift_card_no_vat: gift_no_vat,
                }
            },
        )
}

/// (country, rate the shop charges on standard lines, whether the shop
/// charges VAT at all).
fn destination(situation: Situation) -> (&'static str, Decimal, bool) {
    match situation {
        Situation::DomesticConsumer | Situation::DomesticCompany | Situation::DomesticPublicEan => {
            ("DK", Decimal::from(25), true)
        }
        Situation::EuReverseCharge => ("DE", Decimal::from(19), false),
        Situation::Oss(i) => (OSS[i].0, OSS[i].1.parse().unwrap(), true),
        Situation::OssDisabled => ("SE", Decimal::from(25), true),
        Situation::Voec => ("NO", Decimal::from(25), true),
        Situation::Export => ("US", Decimal::from(25), false),
    }
}

/// Builds the webhook body the way a shop would: its own arithmetic on the
/// total (gross per line, VAT removed for reverse charge and export), then
/// a little shop-side rounding noise.
fn body(order: &GenOrder) -> Value {
    let (country, shop_rate, charges_vat) = destination(order.situation);
    // The OSS-disabled shop charges Danish VAT; the rate is 25 either way.
    let mut expected_total = Decimal::ZERO;
    let charged = |amount: Decimal, rate: Decimal| -> Decimal {
        // What the customer pays for an amount in the order's price mode.
        let net = if order.include_vat {
            amount / vat_factor(rate)
        } else {
            amount
        };
        if charges_vat {
            net * vat_factor(rate)
        } else {
            net
        }
    };
    // Shipping, fees and discounts without their own rate take the
    // order's standard rate: the highest line rate.
    let standard_rate = if order.lines.iter().all(|l| l.zero_rated) {
        Decimal::ZERO
    } else {
        shop_rate
    };
    let mut lines = Vec::new();
    for (i, l) in order.lines.iter().enumerate() {
        let rate = if l.zero_rated {
            Decimal::ZERO
        } else {
            shop_rate
        };
        let paid = charged(l.quantity * l.price, rate);
        expected_total += paid;
        lines.push(
            json!({"sku": format!("SKU-{i}"), "name": format!("Item {i}"),
            "quantity": l.quantity.to_string(), "unit_price": l.price.to_string(),
            "vat_rate": rate.to_string()}),
        );
    }
    let mut body = json!({
        "type": "order.paid",
        "order": {
            "id": "X1", "number": "1", "created_at": "2024-05-01T12:00:00Z",
            "currency": "EUR", "prices_include_vat": order.include_vat,
            "customer": {"name": "Pat Doe", "email": "pat@example.com"},
            "billing_address": {"street": "S 1", "zip": "1", "city": "C", "country": country},
            "payment_method": "card",
            "lines": lines,
        }
    });
    let o = &mut body["order"];
    match order.situation {
        Situation::DomesticCompany => o["customer"]["cvr"] = json!("12345678"),
        Situation::DomesticPublicEan => o["customer"]["ean"] = json!("5798000000001"),
        Situation::EuReverseCharge => {
            o["customer"]["company_name"] = json!("GmbH");
            o["customer"]["eu_vat_number"] = json!("DE123456789");
        }
        _ => {}
    }
    if let Some(price) = order.shipping {
        expected_total += charged(price, standard_rate);
        o["shipping"] = json!({"name": "Post", "price": price.to_string()});
    }
    let fee_kinds = ["payment_fee", "gift_wrapping", "other"];
    o["fees"] = order
        .fees
        .iter()
        .map(|(k, amount)| {
            expected_total += charged(*amount, standard_rate);
            json!({"kind": fee_kinds[*k], "label": "Fee", "amount": amount.to_string()})
        })
        .collect();
    let discount_kinds = [
        "discount_code",
        "gift_card",
        "promotional",
        "loyalty_points",
    ];
    let mut discounts = Vec::new();
    // Discounts are in the order's price mode; each takes at most 30 % of
    // what is left, so the total stays positive even at 27 % VAT.
    let mut left: Decimal = order.lines.iter().map(|l| l.quantity * l.price).sum();
    for (k, per_mille) in &order.discounts {
        let amount = round2(left * Decimal::from(*per_mille) / Decimal::from(1000));
        left -= amount;
        let kind = discount_kinds[*k];
        expected_total -= if kind == "gift_card" && order.gift_card_no_vat {
            // A prepayment: plain money, no VAT inside.
            amount
        } else {
            charged(amount, standard_rate)
        };
        discounts.push(json!({"kind": kind, "label": format!("D{k}"),
            "amount": amount.to_string(), "points": 100}));
    }
    o["discounts"] = Value::Array(discounts);
    let total = (round2(expected_total) + Decimal::new(order.noise, 2)).max(Decimal::ZERO);
    o["total"] = json!(total.to_string());
    body
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invoice_gross_equals_order_total(generated in gen_order()) {
        let body = body(&generated);
        let parsed = parse_event(&serde_json::to_vec(&body).unwrap());
        let Ok(ParsedEvent::Order(event)) = parsed else {
            return Err(TestCaseError::fail(format!("does not parse: {parsed:?}\n{body:#}")));
        };
        let config = config(&generated);
        let plan = match map_order(&event.order, &config) {
            Ok(plan) => plan,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{body:#}"))),
        };
        let lines = &plan.draft.lines;
        prop_assert_eq!(lines.len(), plan.line_vat_rates.len());
        let tuples: Vec<_> = lines
            .iter()
            .zip(&plan.line_vat_rates)
            .map(|(l, rate)| (l.quantity, l.unit_net_price, l.discount_percentage, *rate))
            .collect();
        let totals = draft_totals(&tuples);
        prop_assert_eq!(totals.gross, event.order.total);
        prop_assert_eq!(plan.expected_gross_total, event.order.total);
        prop_assert_eq!(plan.expected_net_total, totals.net);
        prop_assert_eq!(plan.expected_vat_total, totals.vat);

        let zone_rate = plan.vat_decision.rate;
        let mut rounding_lines = 0;
        for (line, rate) in lines.iter().zip(&plan.line_vat_rates) {
            // Every line is taxed at the zone's rate or not at all.
            prop_assert!(rate.is_zero() || *rate == zone_rate, "rate {} vs zone {}", rate, zone_rate);
            let net = line_net(line.quantity, line.unit_net_price, None);
            if net > Decimal::ZERO {
                prop_assert!(line_vat(net, *rate) >= Decimal::ZERO);
            }
            prop_assert!(line.product.product_number.chars().count() <= 25);
            // e-conomic refuses more than two decimals (E04740).
            prop_assert!(line.quantity.normalize().scale() <= 2, "quantity {}", line.quantity);
            prop_assert!(line.unit_net_price.normalize().scale() <= 2, "unitNetPrice {}", line.unit_net_price);
            if line.product.product_number == "ROUNDING" {
                rounding_lines += 1;
            }
        }
        prop_assert!(rounding_lines <= 2);
        // No VAT where none is due.
        if !plan.vat_decision.charges_vat() {
            prop_assert_eq!(totals.vat, Decimal::ZERO);
        }
    }

    /// Orders round-trip through their stored JSON form unchanged.
    #[test]
    fn order_snapshot_round_trips(generated in gen_order()) {
        let body = body(&generated);
        let Ok(ParsedEvent::Order(event)) = parse_event(&serde_json::to_vec(&body).unwrap()) else {
            return Err(TestCaseError::fail("does not parse"));
        };
        let stored = serde_json::to_vec(&event).unwrap();
        let Ok(ParsedEvent::Order(again)) = parse_event(&stored) else {
            return Err(TestCaseError::fail("stored form does not parse"));
        };
        prop_assert_eq!(again, event);
    }

    /// Whatever the bytes, parsing returns (never panics).
    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_event(&bytes);
    }
}

/// A German consumer under OSS buying goods at 19 %, books at 7 % and
/// newspapers at 0 %, `vat_rates.DE` mapping 7 % to its product.
#[derive(Debug, Clone)]
struct MixedOrder {
    include_vat: bool,
    /// (quantity, price, rate index into `MIXED_RATES`).
    lines: Vec<(Decimal, Decimal, usize)>,
    shipping: Option<Decimal>,
}

const MIXED_RATES: [&str; 3] = ["19", "7", "0"];

fn gen_mixed_order() -> impl Strategy<Value = MixedOrder> {
    (
        any::<bool>(),
        prop::collection::vec(
            (
                quantity(),
                prop_oneof![4 => amount(500_000, 2), 1 => amount(5_000_000, 4)],
                0usize..3,
            ),
            1..8,
        ),
        prop::option::of(amount(20_000, 2)),
    )
        .prop_map(|(include_vat, lines, shipping)| MixedOrder {
            include_vat,
            lines,
            shipping,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every line keeps the rate the shop charged; per rate, the invoice's
    /// gross is what the customer paid at that rate (the rounding line
    /// aside, VAT-free) and its VAT the lines' own; the invoice totals the
    /// order to the øre.
    #[test]
    fn mixed_rates_keep_each_lines_rate_and_gross(generated in gen_mixed_order()) {
        let rate = |i: usize| -> Decimal { MIXED_RATES[i].parse().unwrap() };
        let paid = |amount: Decimal, r: Decimal| -> Decimal {
            if generated.include_vat { round2(amount) } else { round2(amount * vat_factor(r)) }
        };
        let mut paid_per_rate: std::collections::BTreeMap<Decimal, Decimal> = Default::default();
        let mut lines = Vec::new();
        for (i, (q, p, r)) in generated.lines.iter().enumerate() {
            *paid_per_rate.entry(rate(*r)).or_default() += paid(*q * *p, rate(*r));
            lines.push(json!({"sku": format!("SKU-{i}"), "name": format!("Item {i}"),
                "quantity": q.to_string(), "unit_price": p.to_string(), "vat_rate": MIXED_RATES[*r]}));
        }
        let mut order = json!({
            "id": "M1", "number": "1", "created_at": "2024-05-01T12:00:00Z",
            "currency": "EUR", "prices_include_vat": generated.include_vat,
            "customer": {"name": "Pat Doe", "email": "pat@example.com"},
            "billing_address": {"street": "S 1", "zip": "1", "city": "C", "country": "DE"},
            "payment_method": "card", "lines": lines,
        });
        if let Some(price) = generated.shipping {
            *paid_per_rate.entry(Decimal::from(19)).or_default() += paid(price, Decimal::from(19));
            order["shipping"] = json!({"name": "Post", "price": price.to_string(), "vat_rate": "19"});
        }
        let total: Decimal = paid_per_rate.values().copied().sum();
        order["total"] = json!(total.to_string());
        let body = json!({"type": "order.paid", "order": order});
        let Ok(ParsedEvent::Order(event)) = parse_event(&serde_json::to_vec(&body).unwrap()) else {
            return Err(TestCaseError::fail(format!("does not parse\n{body:#}")));
        };
        let config: MappingConfig = serde_json::from_value(json!({
            "oss": {"countries": {"DE": {"vat_zone": 12, "rate": "19"}}},
            "vat_rates": {"DE": {"7": {"product": "OSS-DE-7"}}}
        })).unwrap();
        let plan = match map_order(&event.order, &config) {
            Ok(plan) => plan,
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{body:#}"))),
        };
        prop_assert_eq!(plan.expected_gross_total, total);
        let mut gross_per_rate: std::collections::BTreeMap<Decimal, Decimal> = Default::default();
        for ((line, r), origin) in plan.draft.lines.iter().zip(&plan.line_vat_rates).zip(&plan.line_origins) {
            if let bridge::domain::mapping::LineOrigin::Item { line: index } = origin {
                let shop_rate = rate(generated.lines[*index].2);
                prop_assert_eq!(*r, shop_rate);
                prop_assert_eq!(line.product.product_number == "OSS-DE-7", shop_rate == Decimal::from(7));
            }
            if line.product.product_number == "ROUNDING" {
                continue;
            }
            let net = line_net(line.quantity, line.unit_net_price, None);
            *gross_per_rate.entry(*r).or_default() += net + line_vat(net, *r);
        }
        // Per rate the lines reach what was paid at it but for the øre or
        // two a unit price cannot carry, which the (VAT-free) rounding line does.
        for (r, paid) in &paid_per_rate {
            let gross = gross_per_rate.get(r).copied().unwrap_or_default();
            prop_assert!((gross - paid).abs() <= Decimal::new(2, 2) * Decimal::from(generated.lines.len() + 1),
                "{} %: {} vs paid {}", r, gross, paid);
        }
    }
}
