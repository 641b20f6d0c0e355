//! Refunds → credit notes, table-driven, and a property: for any order and
//! any sequence of valid refunds, the invoice minus its credit notes is
//! what the customer kept paying, per VAT rate, to the øre.
//!
//! Totals are recomputed here from the planned lines with e-conomic's
//! per-line rounding (`money::line_net`, `money::line_vat`), the model the
//! sandbox answers with.

use bridge::domain::mapping::credit_note::{
    plan_credit_note, CreditBasis, CreditEntry, CreditNoteError,
};
use bridge::domain::mapping::{map_order, InvoicePlan, MappingConfig};
use bridge::domain::money;
use bridge::domain::order::refund::{parse_refund, Refund};
use bridge::domain::order::{parse_order, Order};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn date() -> time::Date {
    time::Date::from_calendar_date(2024, time::Month::April, 2).unwrap()
}

fn order(patch: Value) -> Order {
    let mut base = json!({
        "id": "5001", "number": "1001", "created_at": "2024-03-15T10:30:00+01:00",
        "currency": "DKK", "prices_include_vat": true,
        "customer": {"name": "Mette Hansen", "email": "mette@example.dk"},
        "billing_address": {"street": "Nørregade 1", "zip": "1165", "city": "København K", "country": "DK"},
        "payment_method": "card",
        "lines": [
            {"sku": "MUG-01", "name": "Coffee mug", "quantity": "3", "unit_price": "99.95", "vat_rate": "25"},
            {"sku": "PAPER", "name": "Newspaper", "quantity": "1", "unit_price": "30.00", "vat_rate": "0"}
        ],
        "shipping": {"name": "GLS", "price": "49.00", "vat_rate": "25"},
        "fees": [{"kind": "payment_fee", "label": "Card fee", "amount": "5.00"}],
        "total": "383.85"
    });
    for (key, value) in patch.as_object().unwrap() {
        base[key] = value.clone();
    }
    parse_order(&base.to_string()).expect("a valid order")
}

fn config(patch: Value) -> MappingConfig {
    let mut base = json!({
        "oss": {"countries": {"DE": {"vat_zone": 12, "rate": "19"}}},
        "debtor": {"strategy": {"kind": "running"}},
        "products": {"fallback": "9999"},
        "credit_notes": {"enabled": true}
    });
    for (key, value) in patch.as_object().unwrap() {
        base[key] = value.clone();
    }
    serde_json::from_value(base).expect("a valid configuration")
}

fn basis_of(order: &Order, config: &MappingConfig) -> CreditBasis {
    let plan = map_order(order, config).expect("the order maps");
    CreditBasis::new(order, &plan, 42, None, Some(500)).expect("an invoice number")
}

fn refund(value: Value) -> Refund {
    let mut base = json!({"id": "r1", "order_id": "5001", "currency": "DKK"});
    for (key, v) in value.as_object().unwrap() {
        base[key] = v.clone();
    }
    parse_refund(&base.to_string()).expect("a valid refund")
}

/// `(rate, gross)` of a plan's lines, as e-conomic totals them per line.
fn gross_per_rate(plan: &InvoicePlan) -> Vec<(Decimal, Decimal)> {
    let mut out: Vec<(Decimal, Decimal)> = Vec::new();
    for (line, rate) in plan.draft.lines.iter().zip(&plan.line_vat_rates) {
        let net = money::line_net(line.quantity, line.unit_net_price, line.discount_percentage);
        let gross = net + money::line_vat(net, *rate);
        match out.iter_mut().find(|r| r.0 == *rate) {
            Some(r) => r.1 += gross,
            None => out.push((*rate, gross)),
        }
    }
    out.retain(|r| !r.1.is_zero());
    out.sort();
    out
}

fn at(per_rate: &[(Decimal, Decimal)], rate: &str) -> Decimal {
    per_rate
        .iter()
        .find(|r| r.0 == d(rate))
        .map_or(Decimal::ZERO, |r| r.1)
}

struct Case {
    name: &'static str,
    order: Value,
    config: Value,
    refund: Value,
    /// Expected credit note gross per rate (negative).
    per_rate: &'static [(&'static str, &'static str)],
    /// The VAT zone the credit note must carry (the invoice's).
    zone: u32,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "full refund: every line, the shipping and the fee",
            order: json!({}),
            config: json!({}),
            refund: json!({
                "lines": [{"sku": "MUG-01", "quantity": "3", "amount": "299.85"},
                          {"sku": "PAPER", "quantity": "1", "amount": "30.00"}],
                "shipping": "49.00", "fees": [{"kind": "payment_fee", "amount": "5.00"}],
                "total": "383.85"
            }),
            per_rate: &[("0", "-30.00"), ("25", "-353.85")],
            zone: 1,
        },
        Case {
            name: "partial: one mug of three",
            order: json!({}),
            config: json!({}),
            refund: json!({"lines": [{"sku": "MUG-01", "quantity": "1", "amount": "99.95"}], "total": "99.95"}),
            per_rate: &[("25", "-99.95")],
            zone: 1,
        },
        Case {
            name: "shipping only",
            order: json!({}),
            config: json!({}),
            refund: json!({"shipping": "49.00", "total": "49.00"}),
            per_rate: &[("25", "-49.00")],
            zone: 1,
        },
        Case {
            // Invoice: 25 % 353.85, 0 % 30.00 → 100 is spread 92.18 / 7.82.
            name: "amount only (goodwill) spread over the invoice's rates",
            order: json!({}),
            config: json!({}),
            refund: json!({"amount": "100.00", "reason": "late delivery", "total": "100.00"}),
            per_rate: &[("0", "-7.82"), ("25", "-92.18")],
            zone: 1,
        },
        Case {
            name: "multi-rate: the newspaper at 0 % and a mug at 25 %",
            order: json!({}),
            config: json!({}),
            refund: json!({
                "lines": [{"sku": "PAPER", "quantity": "1", "amount": "30.00"},
                          {"sku": "MUG-01", "quantity": "2", "amount": "199.90"}],
                "total": "229.90"
            }),
            per_rate: &[("0", "-30.00"), ("25", "-199.90")],
            zone: 1,
        },
        Case {
            name: "EUR: a partial line amount (a discount given back)",
            order: json!({"currency": "EUR", "lines": [
                {"sku": "MUG-01", "name": "Coffee mug", "quantity": "2", "unit_price": "13.40", "vat_rate": "25"}
            ], "shipping": null, "fees": [], "total": "26.80"}),
            config: json!({}),
            refund: json!({"currency": "EUR", "lines": [{"sku": "MUG-01", "quantity": "1", "amount": "10.01"}], "total": "10.01"}),
            per_rate: &[("25", "-10.01")],
            zone: 1,
        },
        Case {
            name: "reverse charge: an EU business, no VAT, EU zone",
            order: json!({
                "customer": {"name": "Anna Svensson", "company_name": "Svensson AB", "eu_vat_number": "SE556677889901"},
                "billing_address": {"street": "Storgatan 1", "zip": "111 22", "city": "Stockholm", "country": "SE"},
                "lines": [{"sku": "MUG-01", "name": "Coffee mug", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"}],
                "shipping": {"name": "PostNord", "price": "79.00"}, "fees": [], "total": "223.12"
            }),
            config: json!({}),
            refund: json!({"lines": [{"sku": "MUG-01", "quantity": "1", "amount": "79.96"}], "shipping": "63.20", "total": "143.16"}),
            per_rate: &[("0", "-143.16")],
            zone: 2,
        },
        Case {
            name: "OSS: a German consumer at 19 %",
            order: json!({
                "currency": "EUR",
                "billing_address": {"street": "Hauptstr. 1", "zip": "10115", "city": "Berlin", "country": "DE"},
                "lines": [{"sku": "MUG-01", "name": "Coffee mug", "quantity": "2", "unit_price": "11.90", "vat_rate": "19"}],
                "shipping": {"name": "DHL", "price": "5.95"}, "fees": [], "total": "29.75"
            }),
            config: json!({"oss": {"enabled": true, "countries": {"DE": {"vat_zone": 12, "rate": "19"}}}}),
            refund: json!({"currency": "EUR", "lines": [{"sku": "MUG-01", "quantity": "1", "amount": "11.90"}], "amount": "1.00", "total": "12.90"}),
            per_rate: &[("19", "-12.90")],
            zone: 12,
        },
    ]
}

#[test]
fn credit_notes_mirror_their_invoice_table() {
    for case in cases() {
        let order = order(case.order.clone());
        let config = config(case.config.clone());
        let basis = basis_of(&order, &config);
        let refund = refund(case.refund.clone());
        let note = plan_credit_note(&basis, &refund, &[], &config.credit_notes, date())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let plan = &note.plan;
        let expected: Vec<(Decimal, Decimal)> =
            case.per_rate.iter().map(|(r, g)| (d(r), d(g))).collect();
        assert_eq!(gross_per_rate(plan), expected, "{}", case.name);
        assert_eq!(plan.expected_gross_total, -refund.total, "{}", case.name);
        let totals = money::draft_totals(&bridge::domain::mapping::totals_lines(
            &plan.draft.lines,
            &plan.line_vat_rates,
        ));
        assert_eq!(totals.gross, -refund.total, "{}", case.name);
        // Same customer, zone, currency, layout; negative quantities.
        assert_eq!(plan.draft.customer.customer_number, 42, "{}", case.name);
        assert_eq!(
            plan.draft.recipient.vat_zone.vat_zone_number, case.zone,
            "{}",
            case.name
        );
        assert_eq!(plan.draft.currency, order.currency, "{}", case.name);
        assert_eq!(plan.draft.layout, basis.plan.draft.layout, "{}", case.name);
        assert!(
            plan.draft
                .lines
                .iter()
                .all(|l| l.quantity < Decimal::ZERO || l.description == "Rounding"),
            "{}: {:?}",
            case.name,
            plan.draft.lines
        );
        assert_eq!(plan.reference, "Credit note 1001-r1", "{}", case.name);
        let notes = plan.draft.notes.as_ref().unwrap();
        assert!(
            notes.heading.as_deref().unwrap().contains("invoice 500"),
            "{}",
            case.name
        );
        assert_eq!(note.entry.total, refund.total);
        assert!(!plan.book, "drafts unless `credit_notes.book`");
    }
}

#[test]
fn the_reverse_charge_credit_note_keeps_the_invoices_exemption_text() {
    let case = cases()
        .into_iter()
        .find(|c| c.name.starts_with("reverse"))
        .unwrap();
    let config = config(json!({}));
    let basis = basis_of(&order(case.order), &config);
    let note = plan_credit_note(
        &basis,
        &refund(case.refund),
        &[],
        &config.credit_notes,
        date(),
    )
    .unwrap();
    let text = note.plan.draft.notes.unwrap().text_line1.unwrap();
    assert!(text.starts_with("Refund r1 of order 1001"), "{text}");
    assert!(text.contains("art. 138"), "{text}");
    assert!(text.contains("SE556677889901"), "{text}");
}

#[test]
fn the_credit_note_uses_the_stored_zone_not_todays_configuration() {
    let case = cases()
        .into_iter()
        .find(|c| c.name.starts_with("OSS"))
        .unwrap();
    let basis = basis_of(&order(case.order), &config(case.config));
    // The shop has since changed its OSS zone and its booking.
    let today = config(
        json!({"oss": {"enabled": true, "countries": {"DE": {"vat_zone": 99, "rate": "7"}}},
                              "credit_notes": {"enabled": true, "book": true}}),
    );
    let note = plan_credit_note(
        &basis,
        &refund(case.refund),
        &[],
        &today.credit_notes,
        date(),
    )
    .unwrap();
    assert_eq!(note.plan.draft.recipient.vat_zone.vat_zone_number, 12);
    assert!(note.plan.line_vat_rates.iter().all(|r| *r == d("19")));
    assert!(note.plan.book, "booking follows `credit_notes.book`");
}

#[test]
fn refunds_beyond_what_remains_are_refused_with_the_reason() {
    let order = order(json!({}));
    let config = config(json!({}));
    let basis = basis_of(&order, &config);
    let plan = |r: Value, prior: &[CreditEntry]| {
        plan_credit_note(&basis, &refund(r), prior, &config.credit_notes, date())
    };
    // Four mugs of three.
    let err = plan(
        json!({"lines": [{"sku": "MUG-01", "quantity": "4", "amount": "10"}], "total": "10"}),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(err, CreditNoteError::ExceedsRemaining { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("SKU `MUG-01` (units)"), "{err}");
    // More money than the line was invoiced at.
    let err = plan(
        json!({"lines": [{"sku": "MUG-01", "quantity": "1", "amount": "400"}], "total": "400"}),
        &[],
    )
    .unwrap_err();
    assert!(err.to_string().contains("asks for 400"), "{err}");
    // An unknown SKU, a fee kind the order did not have.
    let err = plan(
        json!({"lines": [{"sku": "NOPE", "quantity": "1", "amount": "1"}], "total": "1"}),
        &[],
    )
    .unwrap_err();
    assert!(matches!(err, CreditNoteError::UnknownSku { .. }), "{err}");
    let err = plan(
        json!({"fees": [{"kind": "gift_wrapping", "amount": "1"}], "total": "1"}),
        &[],
    )
    .unwrap_err();
    assert!(matches!(err, CreditNoteError::NotInvoiced { .. }), "{err}");
    // Another currency.
    let err = plan(
        json!({"currency": "EUR", "shipping": "1", "total": "1"}),
        &[],
    )
    .unwrap_err();
    assert!(
        matches!(err, CreditNoteError::CurrencyMismatch { .. }),
        "{err}"
    );
    // After shipping was refunded once, it cannot be refunded again, and a
    // goodwill amount cannot exceed what remains of the invoice.
    let first = plan(json!({"shipping": "49.00", "total": "49.00"}), &[]).unwrap();
    let prior = [first.entry];
    let err = plan(
        json!({"id": "r2", "shipping": "0.01", "total": "0.01"}),
        &prior,
    )
    .unwrap_err();
    assert!(err.to_string().contains("the shipping"), "{err}");
    let err = plan(
        json!({"id": "r2", "amount": "334.86", "total": "334.86"}),
        &prior,
    )
    .unwrap_err();
    assert!(err.to_string().contains("remains"), "{err}");
    let all = plan(
        json!({"id": "r2", "amount": "334.85", "total": "334.85"}),
        &prior,
    )
    .unwrap();
    assert_eq!(all.plan.expected_gross_total, d("-334.85"));
}

// ---------------------------------------------------------------- property

#[derive(Debug, Clone)]
struct GenLine {
    quantity: u32,
    price_cents: u32,
    zero_rated: bool,
}

fn gen_order() -> impl Strategy<Value = (Vec<GenLine>, Option<u32>)> {
    (
        prop::collection::vec(
            (1u32..5, 1u32..50_000, any::<bool>()).prop_map(
                |(quantity, price_cents, zero_rated)| GenLine {
                    quantity,
                    price_cents,
                    zero_rated,
                },
            ),
            1..4,
        ),
        prop::option::of(0u32..20_000),
    )
}

fn cents(c: u64) -> Decimal {
    Decimal::new(c as i64, 2)
}

/// One refund request, drawn as fractions of what remains.
#[derive(Debug, Clone)]
struct GenRefund {
    line: usize,
    units: u32,
    amount_share: u32,
    shipping_share: u32,
    goodwill_share: u32,
}

fn gen_refunds() -> impl Strategy<Value = Vec<GenRefund>> {
    prop::collection::vec(
        (0usize..4, 0u32..3, 0u32..=100, 0u32..=100, 0u32..=30).prop_map(
            |(line, units, amount_share, shipping_share, goodwill_share)| GenRefund {
                line,
                units,
                amount_share,
                shipping_share,
                goodwill_share,
            },
        ),
        1..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn invoice_minus_credit_notes_is_what_the_customer_kept_per_rate(
        (lines, shipping) in gen_order(),
        refunds in gen_refunds(),
    ) {
        let order_lines: Vec<Value> = lines.iter().enumerate().map(|(i, l)| json!({
            "sku": format!("SKU-{i}"), "name": format!("Item {i}"),
            "quantity": l.quantity.to_string(),
            "unit_price": cents(u64::from(l.price_cents)).to_string(),
            "vat_rate": if l.zero_rated { "0" } else { "25" }
        })).collect();
        let mut total: Decimal = lines.iter()
            .map(|l| cents(u64::from(l.price_cents)) * Decimal::from(l.quantity)).sum();
        total += shipping.map_or(Decimal::ZERO, |s| cents(u64::from(s)));
        let order = order(json!({
            "lines": order_lines,
            "shipping": shipping.map_or(Value::Null, |s| json!({"name": "GLS", "price": cents(u64::from(s)).to_string(), "vat_rate": "25"})),
            "fees": [], "total": total.to_string()
        }));
        let config = config(json!({}));
        let basis = basis_of(&order, &config);
        let invoice = gross_per_rate(&basis.plan);
        let rate_of_line = |i: usize| if lines[i].zero_rated { d("0") } else { d("25") };

        // What the customer kept, tracked independently of the planner:
        // remaining units and money per line, shipping, and per rate.
        let mut units_left: Vec<Decimal> = lines.iter().map(|l| Decimal::from(l.quantity)).collect();
        let mut money_left: Vec<Decimal> = lines.iter()
            .map(|l| cents(u64::from(l.price_cents)) * Decimal::from(l.quantity)).collect();
        let mut shipping_left = shipping.map_or(Decimal::ZERO, |s| cents(u64::from(s)));
        let mut kept = invoice.clone();
        let mut ledger: Vec<CreditEntry> = Vec::new();
        let mut credited: Vec<(Decimal, Decimal)> = Vec::new();

        for (n, r) in refunds.iter().enumerate() {
            let line = r.line % lines.len();
            let units = Decimal::from(r.units).min(units_left[line]);
            // A valid refund takes no more than remains of its line and of
            // its rate (earlier goodwill took from the rates).
            let mut avail = kept.clone();
            let mut take = |rate: Decimal, most: Decimal, share: u32| {
                let left = avail.iter().find(|a| a.0 == rate).map_or(Decimal::ZERO, |a| a.1);
                let amount = money::round2(most.min(left) * Decimal::from(share) / Decimal::ONE_HUNDRED)
                    .max(Decimal::ZERO);
                if let Some(a) = avail.iter_mut().find(|a| a.0 == rate) {
                    a.1 -= amount;
                }
                amount
            };
            let line_amount = if units.is_zero() {
                Decimal::ZERO
            } else {
                take(rate_of_line(line), money_left[line], r.amount_share)
            };
            let ship = take(d("25"), shipping_left, r.shipping_share);
            let after_parts: Decimal = kept.iter().map(|k| k.1).sum::<Decimal>() - line_amount - ship;
            let goodwill = money::round2(after_parts.max(Decimal::ZERO) * Decimal::from(r.goodwill_share) / Decimal::ONE_HUNDRED);
            let refund_total = line_amount + ship + goodwill;
            if refund_total.is_zero() {
                continue;
            }
            let mut body = json!({"id": format!("r{n}"), "total": refund_total.to_string()});
            if !units.is_zero() {
                body["lines"] = json!([{"sku": format!("SKU-{line}"), "quantity": units.to_string(), "amount": line_amount.to_string()}]);
            }
            if !ship.is_zero() { body["shipping"] = json!(ship.to_string()); }
            if !goodwill.is_zero() { body["amount"] = json!(goodwill.to_string()); }
            let refund = refund(body);
            let note = plan_credit_note(&basis, &refund, &ledger, &config.credit_notes, date())
                .map_err(|e| TestCaseError::fail(format!("refund {n} refused: {e}")))?;
            let got = gross_per_rate(&note.plan);
            // The credit note is the refund, to the øre.
            prop_assert_eq!(got.iter().map(|g| g.1).sum::<Decimal>(), -refund_total);
            // Line and shipping parts stay at their own rate.
            let mut fixed: Vec<(Decimal, Decimal)> = Vec::new();
            if !units.is_zero() { fixed.push((rate_of_line(line), line_amount)); }
            if !ship.is_zero() { fixed.push((d("25"), ship)); }
            for (rate, gross) in &got {
                let tied: Decimal = fixed.iter().filter(|f| f.0 == *rate).map(|f| f.1).sum();
                prop_assert!(-*gross >= tied, "rate {} credited {} but its parts are {}", rate, -*gross, tied);
            }
            if goodwill.is_zero() {
                let mut expected: Vec<(Decimal, Decimal)> = Vec::new();
                for (rate, gross) in &fixed {
                    match expected.iter_mut().find(|e| e.0 == *rate) {
                        Some(e) => e.1 -= *gross,
                        None => expected.push((*rate, -*gross)),
                    }
                }
                expected.sort();
                prop_assert_eq!(&got, &expected);
            }
            for (rate, gross) in &got {
                match kept.iter_mut().find(|k| k.0 == *rate) {
                    Some(k) => k.1 += *gross,
                    None => prop_assert!(false, "credit at rate {} the invoice does not have", rate),
                }
                match credited.iter_mut().find(|c| c.0 == *rate) {
                    Some(c) => c.1 += *gross,
                    None => credited.push((*rate, *gross)),
                }
            }
            // No rate is credited below zero (one that starts below, a
            // VAT-free rounding line of -0.01, is never credited).
            for (rate, left) in &kept {
                let floor = at(&invoice, &rate.to_string()).min(Decimal::ZERO);
                prop_assert!(*left >= floor, "rate {} went below zero: {:?}", rate, kept);
            }
            units_left[line] -= units;
            money_left[line] -= line_amount;
            shipping_left -= ship;
            ledger.push(note.entry);
        }
        // Invoice minus credit notes, per rate, is what was kept.
        for (rate, invoiced) in &invoice {
            prop_assert_eq!(*invoiced + at(&credited, &rate.to_string()), at(&kept, &rate.to_string()));
        }
        let refunded: Decimal = ledger.iter().map(|e| e.total).sum();
        prop_assert_eq!(invoice.iter().map(|i| i.1).sum::<Decimal>() - refunded,
                        kept.iter().map(|k| k.1).sum::<Decimal>());
    }
}

/// The published contract accepts the refunds of the table and rejects a
/// refund without its `refund`, with a negative amount or a `#` in its id.
#[test]
fn refund_events_conform_to_the_published_schema() {
    let text = include_str!("../contracts/order-event.v1.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    let contract = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    for case in cases() {
        let mut refund = json!({"id": "r1", "order_id": "5001", "currency": "DKK"});
        for (key, value) in case.refund.as_object().unwrap() {
            refund[key] = value.clone();
        }
        let body = json!({"type": "order.refunded", "refund": refund});
        let errors: Vec<String> = contract.iter_errors(&body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{}: {errors:?}", case.name);
    }
    let broken = [
        json!({"type": "order.refunded"}),
        json!({"type": "order.refunded", "refund": {"id": "a#b", "order_id": "1", "currency": "DKK", "total": "1"}}),
        json!({"type": "order.refunded", "refund": {"id": "r", "order_id": "1", "currency": "DKK", "shipping": "-1", "total": "1"}}),
        json!({"type": "order.refunded", "refund": {"id": "r", "order_id": "1", "currency": "DKK", "total": "1.001"}}),
    ];
    for body in broken {
        assert!(!contract.is_valid(&body), "{body}");
    }
}

/// An order sent to e-conomic as an order draft has no invoice to credit:
/// its refunds are refused with the reason, never credited against the
/// order draft's number as if it were an invoice's.
#[test]
fn a_refund_of_an_order_draft_is_refused_with_the_reason() {
    let order = order(json!({}));
    let config = config(json!({"document": "order_draft"}));
    let plan = map_order(&order, &config).expect("the order maps");
    let basis = CreditBasis::new(&order, &plan, 42, Some(3), None).expect("a basis");
    let refund = refund(json!({"amount": "10.00", "total": "10.00"}));
    let err = plan_credit_note(&basis, &refund, &[], &config.credit_notes, date())
        .expect_err("no invoice");
    assert!(
        matches!(err, CreditNoteError::NoInvoice { order_draft: 3, .. }),
        "{err:?}"
    );
    let reason = err.to_string();
    assert!(
        reason.contains("order draft 3") && reason.contains("no invoice to credit"),
        "{reason}"
    );
}
