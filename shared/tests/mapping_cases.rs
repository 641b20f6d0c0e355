//! Table-driven mapping cases: realistic orders → the exact e-conomic
//! draft fields and totals. Expected amounts are worked out by hand in the
//! comments (net = gross / (1 + rate), VAT = round2(net × rate) per line).
//! The sandbox's tests include this file to push every case to e-conomic's
//! stand-in under both VAT roundings (`mapping_cases_pushed.rs`).

use bridge::domain::mapping::{map_order, DebtorPlan, InvoicePlan, MappingConfig, MappingError};
use bridge::domain::money::draft_totals;
use bridge::domain::order::{parse_event, ParsedEvent};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::str::FromStr;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

/// RFC 7396 merge patch: objects merge recursively, `null` deletes, other
/// values replace.
pub(crate) fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(key);
                } else {
                    merge(base.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (base, patch) => *base = patch.clone(),
    }
}

fn base_order() -> Value {
    json!({
        "id": "5001",
        "number": "1001",
        "created_at": "2024-03-15T10:30:00+01:00",
        "currency": "DKK",
        "prices_include_vat": true,
        "customer": {
            "name": "Mette Hansen",
            "email": "Mette@Example.dk",
            "phone": "+45 20 30 40 50",
            "logged_in": false
        },
        "billing_address": {
            "street": "Nørregade 1", "zip": "1165", "city": "København K", "country": "DK"
        },
        "payment_method": "card",
        "lines": [
            {"sku": "MUG-01", "name": "Coffee mug", "quantity": "1", "unit_price": "99.95", "vat_rate": "25"}
        ],
        "total": "99.95"
    })
}

pub(crate) fn base_config() -> Value {
    json!({
        "payment_methods": {
            "card": {"layout": 19, "payment_terms": 1},
            "mobilepay": {"layout": 19, "payment_terms": 1},
            "ean_invoice": {"layout": 21, "payment_terms": 5, "due_days": 30},
            "bank_transfer": {"layout": 20, "payment_terms": 3, "due_days": 8}
        },
        "default_payment": {"layout": 19, "payment_terms": 2},
        "oss": {"countries": {
            "SE": {"vat_zone": 11, "rate": "25"},
            "DE": {"vat_zone": 12, "rate": "19"},
            "FR": {"vat_zone": 13, "rate": "20"},
            "NL": {"vat_zone": 14, "rate": "21"},
            "IT": {"vat_zone": 15, "rate": "22"},
            "LU": {"vat_zone": 16, "rate": "17"},
            "HU": {"vat_zone": 17, "rate": "27"},
            "FI": {"vat_zone": 18, "rate": "25.5"}
        }},
        "voec": {"enabled": true, "vat_zone": 20},
        "debtor": {"strategy": {"kind": "phone"}, "fallback": {"kind": "running"}},
        "products": {"map": {"TSHIRT-RED-M": "1001"}, "fallback": "9999"}
    })
}

fn line(sku: &str, name: &str, quantity: &str, price: &str, rate: &str) -> Value {
    json!({"sku": sku, "name": name, "quantity": quantity, "unit_price": price, "vat_rate": rate})
}

fn swedish_customer() -> Value {
    json!({
        "customer": {"name": "Anna Svensson", "phone": "+46 70 123 45 67", "email": "anna@example.se"},
        "billing_address": {"street": "Drottninggatan 5", "zip": "111 51", "city": "Stockholm", "country": "SE"}
    })
}

fn customer_in(country: &str, city: &str, currency: &str) -> Value {
    json!({
        "currency": currency,
        "customer": {"name": "Alex Example", "phone": null},
        "billing_address": {"street": "Main Street 1", "zip": "1000", "city": city, "country": country}
    })
}

/// Expected draft line: (productNumber, quantity, unitNetPrice, description).
type Line = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

pub(crate) struct Case {
    pub(crate) name: &'static str,
    /// Merge patches applied to the base order, in turn.
    pub(crate) order: Vec<Value>,
    pub(crate) config: Value,
    pub(crate) expect: Expect,
}

pub(crate) enum Expect {
    Invoice {
        zone: u32,
        layout: u32,
        terms: u32,
        customer_number: u32,
        lines: Vec<Line>,
        net: &'static str,
        vat: &'static str,
        /// Extra checks on the plan and the draft JSON.
        check: Option<fn(&InvoicePlan, &Value)>,
    },
    Error(fn(&MappingError) -> bool, &'static str),
}

fn inv(
    zone: u32,
    layout: u32,
    terms: u32,
    customer_number: u32,
    lines: Vec<Line>,
    net: &'static str,
    vat: &'static str,
) -> Expect {
    Expect::Invoice {
        zone,
        layout,
        terms,
        customer_number,
        lines,
        net,
        vat,
        check: None,
    }
}

fn with_check(expect: Expect, f: fn(&InvoicePlan, &Value)) -> Expect {
    match expect {
        Expect::Invoice {
            zone,
            layout,
            terms,
            customer_number,
            lines,
            net,
            vat,
            ..
        } => Expect::Invoice {
            zone,
            layout,
            terms,
            customer_number,
            lines,
            net,
            vat,
            check: Some(f),
        },
        other => other,
    }
}

const PHONE_DEBTOR: u32 = 20304050;

pub(crate) fn cases() -> Vec<Case> {
    let mug: Line = ("MUG-01", "1", "79.96", Some("Coffee mug"));
    let no_cfg = json!({});
    vec![
        Case {
            name: "dk_b2c_card_single_line",
            order: vec![],
            config: no_cfg.clone(),
            // 99.95 / 1.25 = 79.96; VAT 19.99.
            expect: with_check(
                inv(1, 19, 1, PHONE_DEBTOR, vec![mug], "79.96", "19.99"),
                |plan, draft| {
                    assert_eq!(plan.reference, "Order 1001");
                    assert_eq!(draft["references"]["other"], "Order 1001");
                    assert_eq!(draft["notes"]["heading"], "Order 1001");
                    assert_eq!(draft["date"], "2024-03-15");
                    assert_eq!(draft["currency"], "DKK");
                    assert_eq!(draft["recipient"]["name"], "Mette Hansen");
                    assert_eq!(draft["recipient"]["address"], "Nørregade 1");
                    assert_eq!(draft["recipient"]["country"], "Denmark");
                    assert!(draft.get("dueDate").is_none());
                    assert!(!plan.book);
                    match &plan.debtor {
                        DebtorPlan::FindOrCreate { new_customer, .. } => {
                            assert_eq!(new_customer.customer_group.customer_group_number, 1);
                            assert_eq!(new_customer.currency, "DKK");
                            assert_eq!(new_customer.email.as_deref(), Some("Mette@Example.dk"));
                            assert_eq!(new_customer.country.as_deref(), Some("Denmark"));
                            assert_eq!(new_customer.vat_zone.vat_zone_number, 1);
                            assert_eq!(new_customer.corporate_identification_number, None);
                        }
                        other => panic!("expected FindOrCreate, got {other:?}"),
                    }
                },
            ),
        },
        Case {
            name: "dk_b2c_two_lines_with_shipping",
            order: vec![json!({
                "lines": [line("MUG-01", "Coffee mug", "2", "99.95", "25"),
                          line("TEE", "T-shirt", "1", "149.00", "25")],
                "shipping": {"name": "GLS Pakkeshop", "price": "39.00"},
                "total": "387.90"
            })],
            config: no_cfg.clone(),
            // 2×79.96=159.92 (VAT 39.98), 119.20 (29.80), shipping 31.20 (7.80).
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    ("MUG-01", "2", "79.96", Some("Coffee mug")),
                    ("TEE", "1", "119.2", Some("T-shirt")),
                    ("SHIPPING", "1", "31.2", Some("GLS Pakkeshop")),
                ],
                "310.32",
                "77.58",
            ),
        },
        Case {
            name: "dk_b2b_with_cvr",
            order: vec![json!({"customer": {"company_name": "Hansen ApS", "cvr": "12345678"}})],
            config: no_cfg.clone(),
            expect: with_check(
                inv(1, 19, 1, PHONE_DEBTOR, vec![mug], "79.96", "19.99"),
                |plan, draft| {
                    assert_eq!(draft["recipient"]["name"], "Hansen ApS");
                    assert_eq!(draft["notes"]["textLine1"], "Att.: Mette Hansen");
                    match &plan.debtor {
                        DebtorPlan::FindOrCreate { new_customer, .. } => {
                            assert_eq!(new_customer.name, "Hansen ApS");
                            assert_eq!(new_customer.customer_group.customer_group_number, 2);
                            assert_eq!(
                                new_customer.corporate_identification_number.as_deref(),
                                Some("12345678")
                            );
                        }
                        other => panic!("expected FindOrCreate, got {other:?}"),
                    }
                },
            ),
        },
        Case {
            name: "ean_public_sector_excl_vat_prices",
            order: vec![json!({
                "customer": {"company_name": "Københavns Kommune", "ean": "5798000000001", "phone": null,
                             "email": "indkob@kk.dk"},
                "payment_method": "ean_invoice",
                "prices_include_vat": false,
                "lines": [line("CHAIR-01", "Office chair", "4", "1200.00", "25")],
                "total": "6000.00"
            })],
            config: no_cfg.clone(),
            // 4 × 1200 = 4800 net, 1200 VAT. Phone missing → running number.
            expect: with_check(
                inv(
                    1,
                    21,
                    5,
                    0,
                    vec![("CHAIR-01", "4", "1200", Some("Office chair"))],
                    "4800",
                    "1200",
                ),
                |plan, draft| {
                    assert_eq!(draft["recipient"]["ean"], "5798000000001");
                    assert_eq!(draft["recipient"]["nemHandelType"], "ean");
                    assert_eq!(draft["dueDate"], "2024-04-14");
                    match &plan.debtor {
                        DebtorPlan::Running {
                            lookup_email,
                            new_customer,
                        } => {
                            assert_eq!(lookup_email.as_deref(), Some("indkob@kk.dk"));
                            assert_eq!(new_customer.ean.as_deref(), Some("5798000000001"));
                            assert_eq!(new_customer.customer_group.customer_group_number, 2);
                        }
                        other => panic!("expected Running, got {other:?}"),
                    }
                    assert!(plan.vat_decision.explanation.contains("EAN"));
                },
            ),
        },
        // EAN invoices (NemHandel / OIOUBL / Peppol BIS): the buyer's order
        // or requisition number goes to `recipient.publicEntryNumber` (and
        // the notes), the person reference to the notes (the draft has no
        // text field for it); a booked EAN invoice is sent `sendBy: "EAN"`.
        Case {
            name: "ean_with_buyer_order_number_and_reference_booked",
            order: vec![json!({
                "customer": {"name": "Jens Jensen", "company_name": "Københavns Kommune",
                             "ean": "5798000000001", "phone": null, "email": "indkob@kk.dk"},
                "payment_method": "ean_invoice",
                "buyer_order_number": "REK-2024-0042",
                "buyer_reference": "JJ 4711",
                "lines": [line("CHAIR-01", "Office chair", "1", "1500.00", "25")],
                "total": "1500.00"
            })],
            config: json!({"auto_book": true}),
            // 1500 incl. 25 % = 1200 net + 300 VAT.
            expect: with_check(
                inv(
                    1,
                    21,
                    5,
                    0,
                    vec![("CHAIR-01", "1", "1200", Some("Office chair"))],
                    "1200",
                    "300",
                ),
                |plan, draft| {
                    assert_eq!(draft["recipient"]["ean"], "5798000000001");
                    assert_eq!(draft["recipient"]["publicEntryNumber"], "REK-2024-0042");
                    let text = draft["notes"]["textLine1"].as_str().unwrap();
                    assert!(text.contains("Att.: Jens Jensen"), "{text}");
                    assert!(text.contains("Your order no.: REK-2024-0042"), "{text}");
                    assert!(text.contains("Your reference: JJ 4711"), "{text}");
                    // The bridge's own reference stays in `references.other`.
                    assert_eq!(draft["references"]["other"], "Order 1001");
                    assert!(plan.book);
                    assert!(plan.send_by_ean);
                    assert_eq!(plan.warnings, Vec::<String>::new());
                },
            ),
        },
        Case {
            name: "ean_without_buyer_reference_warns",
            order: vec![json!({
                "customer": {"name": "Jens Jensen", "company_name": "Københavns Kommune",
                             "ean": "5798000000001", "phone": null},
                "payment_method": "ean_invoice"
            })],
            config: no_cfg.clone(),
            // 99.95 incl. 25 % = 79.96 net + 19.99 VAT.
            expect: with_check(
                inv(
                    1,
                    21,
                    5,
                    0,
                    vec![("MUG-01", "1", "79.96", Some("Coffee mug"))],
                    "79.96",
                    "19.99",
                ),
                |plan, draft| {
                    assert!(draft["recipient"].get("publicEntryNumber").is_none());
                    assert!(!draft["notes"]["textLine1"]
                        .as_str()
                        .unwrap()
                        .contains("Your reference"));
                    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
                    assert!(plan.warnings[0]
                        .contains("EAN invoice without the buyer's person reference"));
                    assert!(plan.warnings[0].contains("Jens Jensen"));
                    // Not booked here, but a booking would go out by EAN.
                    assert!(!plan.book);
                    assert!(plan.send_by_ean);
                },
            ),
        },
        Case {
            name: "ean_without_buyer_reference_fails_when_required",
            order: vec![json!({
                "customer": {"name": "Jens Jensen", "company_name": "Københavns Kommune",
                             "ean": "5798000000001", "phone": null},
                "payment_method": "ean_invoice"
            })],
            config: json!({"ean": {"require_buyer_reference": true}}),
            expect: Expect::Error(
                |e| matches!(e, MappingError::BuyerReferenceMissing { ean } if ean == "5798000000001"),
                "neither `buyer_reference` nor `buyer_order_number`",
            ),
        },
        Case {
            name: "ean_order_number_alone_satisfies_required_reference_send_by_off",
            order: vec![json!({
                "customer": {"name": "Jens Jensen", "company_name": "Region Hovedstaden",
                             "ean": "5798000000002", "phone": null},
                "payment_method": "ean_invoice",
                "buyer_order_number": "PO 77"
            })],
            config: json!({"auto_book": true, "ean": {"require_buyer_reference": true, "send_by_ean": false}}),
            expect: with_check(
                inv(
                    1,
                    21,
                    5,
                    0,
                    vec![("MUG-01", "1", "79.96", Some("Coffee mug"))],
                    "79.96",
                    "19.99",
                ),
                |plan, draft| {
                    assert_eq!(draft["recipient"]["publicEntryNumber"], "PO 77");
                    assert!(plan.book);
                    assert!(!plan.send_by_ean);
                    assert_eq!(plan.warnings, Vec::<String>::new());
                },
            ),
        },
        Case {
            name: "buyer_order_number_without_ean_is_no_ean_invoice",
            order: vec![json!({
                "customer": {"name": "Mette Hansen", "company_name": "Hansen ApS", "cvr": "12345678"},
                "buyer_order_number": "PO-1",
                "buyer_reference": "Mette"
            })],
            config: json!({"auto_book": true}),
            expect: with_check(
                inv(
                    1,
                    19,
                    1,
                    PHONE_DEBTOR,
                    vec![("MUG-01", "1", "79.96", Some("Coffee mug"))],
                    "79.96",
                    "19.99",
                ),
                |plan, draft| {
                    assert_eq!(draft["recipient"]["publicEntryNumber"], "PO-1");
                    assert!(draft["recipient"].get("ean").is_none());
                    assert!(draft["notes"]["textLine1"]
                        .as_str()
                        .unwrap()
                        .contains("Your reference: Mette"));
                    assert!(plan.book);
                    assert!(!plan.send_by_ean);
                    assert_eq!(plan.warnings, Vec::<String>::new());
                },
            ),
        },
        Case {
            name: "eu_b2b_reverse_charge_se",
            order: vec![
                swedish_customer(),
                json!({
                    "customer": {"company_name": "Svensson AB", "eu_vat_number": "SE556677889901"},
                    "lines": [line("MUG-01", "Coffee mug", "2", "99.95", "25")],
                    "shipping": {"name": "PostNord", "price": "79.00"},
                    "total": "223.12"
                }),
            ],
            config: json!({"debtor": {"strategy": {"kind": "running"}}}),
            // Catalogue prices incl. 25 %: net 159.92 + 63.20, no VAT added.
            expect: with_check(
                inv(
                    2,
                    19,
                    1,
                    0,
                    vec![
                        ("MUG-01", "2", "79.96", None),
                        ("SHIPPING", "1", "63.2", Some("PostNord")),
                    ],
                    "223.12",
                    "0",
                ),
                |plan, draft| {
                    let note = draft["notes"]["textLine1"].as_str().unwrap();
                    // Goods: an exempt intra-Community supply (art. 138),
                    // not the reverse charge of services (art. 196).
                    assert!(
                        note.starts_with(
                            "VAT exempt intra-Community supply of goods – VAT Directive \
                             2006/112/EC art. 138 (momsloven § 34, stk. 1, nr. 1)"
                        ),
                        "{note}"
                    );
                    assert!(note.contains("Customer VAT number: SE556677889901"));
                    assert!(note.contains("Att.: Anna Svensson"));
                    assert_eq!(draft["recipient"]["country"], "Sweden");
                    assert!(plan
                        .vat_decision
                        .explanation
                        .contains("Intra-Community supply"));
                    match &plan.debtor {
                        DebtorPlan::Running { new_customer, .. } => assert_eq!(
                            new_customer.corporate_identification_number.as_deref(),
                            Some("SE556677889901")
                        ),
                        other => panic!("{other:?}"),
                    }
                },
            ),
        },
        Case {
            name: "oss_se_25_in_sek",
            order: vec![
                swedish_customer(),
                json!({
                    "currency": "SEK",
                    "lines": [line("LAMP", "Desk lamp", "1", "299.00", "25")],
                    "total": "299.00"
                }),
            ],
            config: json!({"debtor": {"fallback": {"kind": "fixed", "customer_number": 99}}}),
            // Swedish phone does not fit a customer number → fixed fallback 99.
            expect: with_check(
                inv(
                    11,
                    19,
                    1,
                    99,
                    vec![("LAMP", "1", "239.2", None)],
                    "239.20",
                    "59.80",
                ),
                |plan, draft| {
                    assert_eq!(
                        plan.debtor,
                        DebtorPlan::Existing {
                            customer_number: 99
                        }
                    );
                    assert_eq!(draft["currency"], "SEK");
                    assert!(draft.get("exchangeRate").is_none());
                    assert_eq!(
                        draft["notes"]["textLine2"],
                        "EU consumer in SE under OSS: SE VAT 25 %"
                    );
                },
            ),
        },
        Case {
            name: "oss_de_19_with_shipping_eur",
            order: vec![
                customer_in("DE", "Berlin", "EUR"),
                json!({
                    "lines": [line("MUG-01", "Tasse", "2", "24.99", "19")],
                    "shipping": {"name": "DHL", "price": "4.90"},
                    "total": "54.88"
                }),
            ],
            config: no_cfg.clone(),
            // 24.99/1.19 = 21.00 → 42.00 (7.98); 4.90/1.19 = 4.1176 → 4.12 (0.78).
            expect: inv(
                12,
                19,
                1,
                0,
                vec![("MUG-01", "2", "21", None), ("SHIPPING", "1", "4.12", None)],
                "46.12",
                "8.76",
            ),
        },
        Case {
            name: "oss_fr_20",
            order: vec![
                customer_in("FR", "Paris", "EUR"),
                json!({
                    "lines": [line("CANDLE", "Bougie", "1", "35.00", "20")], "total": "35.00"
                }),
            ],
            config: no_cfg.clone(),
            // 35/1.2 = 29.1667 → 29.17, VAT round2(5.834) = 5.83 → 35.00.
            expect: inv(
                13,
                19,
                1,
                0,
                vec![("CANDLE", "1", "29.17", None)],
                "29.17",
                "5.83",
            ),
        },
        Case {
            name: "oss_nl_21",
            order: vec![
                customer_in("NL", "Amsterdam", "EUR"),
                json!({
                    "lines": [line("SOCKS", "Sokken", "3", "12.10", "21")], "total": "36.30"
                }),
            ],
            config: no_cfg.clone(),
            expect: inv(
                14,
                19,
                1,
                0,
                vec![("SOCKS", "3", "10", None)],
                "30.00",
                "6.30",
            ),
        },
        Case {
            name: "oss_it_22",
            order: vec![
                customer_in("IT", "Roma", "EUR"),
                json!({
                    "lines": [line("BAG", "Borsa", "1", "122.00", "22")], "total": "122.00"
                }),
            ],
            config: no_cfg.clone(),
            expect: inv(
                15,
                19,
                1,
                0,
                vec![("BAG", "1", "100", None)],
                "100.00",
                "22.00",
            ),
        },
        Case {
            name: "oss_lu_17",
            order: vec![
                customer_in("LU", "Luxembourg", "EUR"),
                json!({
                    "lines": [line("PEN", "Stylo", "1", "11.70", "17")], "total": "11.70"
                }),
            ],
            config: no_cfg.clone(),
            expect: inv(
                16,
                19,
                1,
                0,
                vec![("PEN", "1", "10", None)],
                "10.00",
                "1.70",
            ),
        },
        Case {
            name: "oss_hu_27_in_huf",
            order: vec![
                customer_in("HU", "Budapest", "HUF"),
                json!({
                    "lines": [line("BOOKEND", "Könyvtámasz", "1", "12700", "27")], "total": "12700"
                }),
            ],
            config: no_cfg.clone(),
            expect: inv(
                17,
                19,
                1,
                0,
                vec![("BOOKEND", "1", "10000", None)],
                "10000.00",
                "2700.00",
            ),
        },
        Case {
            name: "oss_fi_25_5",
            order: vec![
                customer_in("FI", "Helsinki", "EUR"),
                json!({
                    "lines": [line("SAUNA-HAT", "Saunahattu", "1", "125.50", "25.5")], "total": "125.50"
                }),
            ],
            config: no_cfg.clone(),
            expect: inv(
                18,
                19,
                1,
                0,
                vec![("SAUNA-HAT", "1", "100", None)],
                "100.00",
                "25.50",
            ),
        },
        Case {
            name: "oss_delivery_country_wins_over_billing",
            order: vec![json!({
                "delivery_address": {"name": "Anna Svensson", "street": "Drottninggatan 5", "street2": "lgh 1102",
                                     "zip": "111 51", "city": "Stockholm", "country": "SE"}
            })],
            config: no_cfg.clone(),
            // Danish catalogue price incl. 25 % and Swedish 25 %: same split.
            expect: with_check(
                inv(11, 19, 1, PHONE_DEBTOR, vec![mug], "79.96", "19.99"),
                |_, draft| {
                    assert_eq!(draft["delivery"]["address"], "Drottninggatan 5, lgh 1102");
                    assert_eq!(draft["delivery"]["city"], "Stockholm");
                    assert_eq!(draft["delivery"]["country"], "Sweden");
                    assert_eq!(draft["recipient"]["country"], "Denmark");
                },
            ),
        },
        Case {
            name: "oss_disabled_charges_home_vat",
            order: vec![swedish_customer()],
            config: json!({"oss": {"enabled": false}}),
            expect: with_check(inv(1, 19, 1, 0, vec![mug], "79.96", "19.99"), |plan, _| {
                assert!(plan.vat_decision.explanation.contains("OSS disabled"))
            }),
        },
        Case {
            name: "oss_country_not_configured_is_merchant_error",
            order: vec![
                customer_in("ES", "Madrid", "EUR"),
                json!({
                    "lines": [line("X", "Taza", "1", "12.10", "21")], "total": "12.10"
                }),
            ],
            config: no_cfg.clone(),
            expect: Expect::Error(
                |e| matches!(e, MappingError::OssCountryNotConfigured { country } if country == "ES"),
                "oss.countries.ES",
            ),
        },
        Case {
            name: "oss_de_priced_with_danish_vat_is_rejected",
            order: vec![
                customer_in("DE", "Berlin", "EUR"),
                json!({
                    "lines": [line("X", "Tasse", "1", "125.00", "25")], "total": "125.00"
                }),
            ],
            config: no_cfg.clone(),
            // Net 100.00 + German 19 % = 119.00, not the 125.00 charged.
            expect: Expect::Error(
                |e| matches!(e, MappingError::TotalMismatch { .. }),
                "order total 125.00 does not match its own lines",
            ),
        },
        Case {
            name: "norway_voec",
            order: vec![
                customer_in("NO", "Oslo", "NOK"),
                json!({
                    "lines": [line("SCARF", "Skjerf", "1", "250.00", "25")], "total": "250.00"
                }),
            ],
            config: no_cfg.clone(),
            expect: inv(
                20,
                19,
                1,
                0,
                vec![("SCARF", "1", "200", None)],
                "200.00",
                "50.00",
            ),
        },
        Case {
            name: "norway_without_voec_is_export",
            order: vec![
                customer_in("NO", "Oslo", "NOK"),
                json!({
                    "lines": [line("SCARF", "Skjerf", "1", "250.00", "25")], "total": "200.00"
                }),
            ],
            config: json!({"voec": {"enabled": false}}),
            // The shop removed the 25 % from its catalogue price: 200.00, no VAT.
            expect: inv(
                3,
                19,
                1,
                0,
                vec![("SCARF", "1", "200", None)],
                "200.00",
                "0",
            ),
        },
        Case {
            name: "export_us_zero_rated_usd",
            order: vec![
                customer_in("US", "New York", "USD"),
                json!({
                    "lines": [line("PRINT", "Art print", "1", "49.00", "0")],
                    "shipping": {"name": "UPS", "price": "15.00", "vat_rate": "0"},
                    "total": "64.00"
                }),
            ],
            config: no_cfg.clone(),
            expect: with_check(
                inv(
                    3,
                    19,
                    1,
                    0,
                    vec![("PRINT", "1", "49", None), ("SHIPPING", "1", "15", None)],
                    "64.00",
                    "0",
                ),
                |plan, draft| {
                    assert_eq!(draft["currency"], "USD");
                    assert!(plan.vat_decision.explanation.contains("Export to US"));
                },
            ),
        },
        Case {
            name: "export_uk_vat_removed_from_catalogue_price",
            order: vec![
                customer_in("GB", "London", "GBP"),
                json!({
                    "lines": [line("MUG-01", "Mug", "1", "125.00", "25")], "total": "100.00"
                }),
            ],
            config: no_cfg.clone(),
            expect: inv(
                3,
                19,
                1,
                0,
                vec![("MUG-01", "1", "100", None)],
                "100.00",
                "0",
            ),
        },
        Case {
            name: "export_uk_charged_with_vat_is_rejected",
            order: vec![
                customer_in("GB", "London", "GBP"),
                json!({
                    "lines": [line("MUG-01", "Mug", "1", "125.00", "25")], "total": "125.00"
                }),
            ],
            config: no_cfg.clone(),
            expect: Expect::Error(
                |e| matches!(e, MappingError::TotalMismatch { difference, .. } if *difference == d("25.00")),
                "come to 100.00",
            ),
        },
        Case {
            name: "domestic_customer_paying_eur",
            order: vec![json!({
                "currency": "EUR",
                "lines": [line("MUG-01", "Coffee mug", "1", "13.40", "25")],
                "total": "13.40"
            })],
            config: no_cfg.clone(),
            expect: with_check(
                inv(
                    1,
                    19,
                    1,
                    PHONE_DEBTOR,
                    vec![("MUG-01", "1", "10.72", None)],
                    "10.72",
                    "2.68",
                ),
                |plan, draft| {
                    assert_eq!(draft["currency"], "EUR");
                    match &plan.debtor {
                        DebtorPlan::FindOrCreate { new_customer, .. } => {
                            assert_eq!(new_customer.currency, "EUR")
                        }
                        other => panic!("{other:?}"),
                    }
                },
            ),
        },
        Case {
            name: "zero_price_line",
            order: vec![json!({
                "lines": [line("MUG-01", "Coffee mug", "1", "99.95", "25"),
                          line("SAMPLE", "Free sample", "1", "0.00", "25")],
                "total": "99.95"
            })],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![mug, ("SAMPLE", "1", "0", Some("Free sample"))],
                "79.96",
                "19.99",
            ),
        },
        Case {
            name: "free_shipping_shown",
            order: vec![json!({"shipping": {"name": "Free shipping", "price": "0"}})],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![mug, ("SHIPPING", "1", "0", Some("Free shipping"))],
                "79.96",
                "19.99",
            ),
        },
        Case {
            name: "free_shipping_hidden",
            order: vec![json!({"shipping": {"name": "Free shipping", "price": "0.00"}})],
            config: json!({"show_free_shipping": false}),
            expect: inv(1, 19, 1, PHONE_DEBTOR, vec![mug], "79.96", "19.99"),
        },
        Case {
            name: "hundred_percent_discount",
            order: vec![json!({
                "discounts": [{"kind": "discount_code", "label": "FREE100", "amount": "99.95"}],
                "total": "0.00"
            })],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![mug, ("DISCOUNT", "1", "-79.96", Some("Discount: FREE100"))],
                "0",
                "0",
            ),
        },
        Case {
            name: "loyalty_points",
            order: vec![json!({
                "lines": [line("TEE", "T-shirt", "2", "149.00", "25")],
                "discounts": [{"kind": "loyalty_points", "label": "", "amount": "12.00", "points": 1200}],
                "total": "286.00"
            })],
            config: no_cfg.clone(),
            // 238.40 (59.60) − 9.60 (2.40).
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    ("TEE", "2", "119.2", None),
                    ("POINTS", "1", "-9.6", Some("Points used (1,200 points)")),
                ],
                "228.80",
                "57.20",
            ),
        },
        Case {
            name: "gift_wrapping_fee",
            order: vec![json!({
                "fees": [{"kind": "gift_wrapping", "label": "Gift wrapping", "amount": "25.00"}],
                "total": "124.95"
            })],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![mug, ("GIFTWRAP", "1", "20", Some("Gift wrapping"))],
                "99.96",
                "24.99",
            ),
        },
        Case {
            name: "payment_fee",
            order: vec![json!({
                "payment_method": "mobilepay",
                "fees": [{"kind": "payment_fee", "label": "MobilePay fee", "amount": 3.75}],
                "total": 103.70
            })],
            config: no_cfg.clone(),
            // JSON numbers are read losslessly: 3.75 and 103.70.
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![mug, ("FEE", "1", "3", Some("MobilePay fee"))],
                "82.96",
                "20.74",
            ),
        },
        Case {
            name: "odd_quantity_3_x_33_33_split_across_two_unit_prices",
            order: vec![json!({
                "lines": [line("CUP", "Espresso cup", "3", "33.33", "25")], "total": "99.99"
            })],
            config: no_cfg.clone(),
            // 99.99 contains VAT 19.998 → 20.00, net 79.99; 3 × 26.66 =
            // 79.98 falls short, so 2 × 26.66 + 1 × 26.67 (VAT 13.33 +
            // 6.6675 → 6.67 = 20.00): no rounding line.
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    ("CUP", "2", "26.66", Some("Espresso cup")),
                    ("CUP", "1", "26.67", Some("Espresso cup")),
                ],
                "79.99",
                "20.00",
            ),
        },
        Case {
            name: "retired_unit_price_decimals_is_ignored",
            order: vec![json!({
                "lines": [line("CUP", "Espresso cup", "3", "33.33", "25")], "total": "99.99"
            })],
            config: json!({"unit_price_decimals": 4}),
            // Once 3 × 26.6633; e-conomic refuses 4 decimals (E04740), so the
            // key loads but the lines are those of the case above.
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![("CUP", "2", "26.66", None), ("CUP", "1", "26.67", None)],
                "79.99",
                "20.00",
            ),
        },
        Case {
            name: "half_kilo_with_unit",
            order: vec![json!({
                "lines": [{"sku": "CHEESE", "name": "Gammel Knas", "quantity": "0.5", "unit_price": "189.00",
                           "vat_rate": "25", "unit": "kg"}],
                "total": "94.50"
            })],
            config: json!({"units": {"kg": 2}}),
            expect: with_check(
                inv(
                    1,
                    19,
                    1,
                    PHONE_DEBTOR,
                    vec![("CHEESE", "0.5", "151.2", None)],
                    "75.60",
                    "18.90",
                ),
                |_, draft| assert_eq!(draft["lines"][0]["unit"]["unitNumber"], 2),
            ),
        },
        Case {
            name: "weighed_0_125_kg_is_one_line_with_the_quantity_in_its_text",
            order: vec![json!({
                "lines": [{"sku": "CHEESE", "name": "Gammel Knas", "quantity": "0.125", "unit_price": "80.00",
                           "vat_rate": "25", "unit": "kg"}],
                "total": "10.00"
            })],
            config: json!({"units": {"kg": 2}}),
            // e-conomic takes at most 2 decimals in quantity: 1 × the line's
            // net (10.00 / 1.25 = 8.00, VAT 2.00), the real quantity in the
            // text, and no unit (1 kg would be wrong).
            expect: with_check(
                inv(
                    1,
                    19,
                    1,
                    PHONE_DEBTOR,
                    vec![("CHEESE", "1", "8", Some("Gammel Knas (0.125 kg × 80.00)"))],
                    "8.00",
                    "2.00",
                ),
                |_, draft| assert!(draft["lines"][0].get("unit").is_none(), "{draft:#}"),
            ),
        },
        Case {
            name: "seven_x_9_99_split_across_two_unit_prices",
            order: vec![json!({
                "lines": [line("MUG-01", "Coffee mug", "7", "9.99", "25")], "total": "69.93"
            })],
            config: no_cfg.clone(),
            // 69.93 contains VAT 69.93 / 5 = 13.986 → 13.99, net 55.94 =
            // 6 × 7.99 + 1 × 8.00 (VAT 11.985 → 11.99 + 2.00 = 13.99). One
            // unit price cannot: 7 × 7.99 = 55.93.
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    ("MUG-01", "6", "7.99", Some("Coffee mug")),
                    ("MUG-01", "1", "8", Some("Coffee mug")),
                ],
                "55.94",
                "13.99",
            ),
        },
        Case {
            name: "sixty_lines_of_19_99",
            order: vec![json!({
                "lines": (0..60).map(|i| line(&format!("SKU-{i}"), "Sticker", "1", "19.99", "25")).collect::<Vec<_>>(),
                "total": "1199.40"
            })],
            config: no_cfg.clone(),
            // Each: net 15.99, VAT round2(3.9975) = 4.00 → 19.99.
            expect: with_check(
                inv(
                    1,
                    19,
                    1,
                    PHONE_DEBTOR,
                    (0..60)
                        .map(|i| -> Line {
                            let sku: &'static str = Box::leak(format!("SKU-{i}").into_boxed_str());
                            (sku, "1", "15.99", Some("Sticker"))
                        })
                        .collect(),
                    "959.40",
                    "240.00",
                ),
                |_, draft| {
                    let lines = draft["lines"].as_array().unwrap();
                    assert_eq!(lines.len(), 60);
                    assert_eq!(lines[59]["lineNumber"], 60);
                    assert!(lines.iter().all(|l| l["unitNetPrice"] == json!(15.99)));
                },
            ),
        },
        Case {
            name: "one_line_of_60_x_19_99",
            order: vec![json!({
                "lines": [line("STICKER", "Sticker", "60", "19.99", "25")], "total": "1199.40"
            })],
            config: no_cfg.clone(),
            // 1199.40 contains VAT 239.88, net 959.52; 60 × 15.99 = 959.40
            // falls 0.12 short: 48 × 15.99 + 12 × 16.00 (VAT 191.88 + 48.00).
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    ("STICKER", "48", "15.99", None),
                    ("STICKER", "12", "16", None),
                ],
                "959.52",
                "239.88",
            ),
        },
        Case {
            name: "rounding_line_carrying_vat",
            // The shop rounded 99.95 up to 100.10 (it rounds totals: step 1).
            order: vec![json!({"total": "100.10"})],
            config: json!({"rounding": {"vat_free": false, "total_step": "1"}}),
            // Gap 0.15 at 25 %: net 0.12 + VAT 0.03.
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![mug, ("ROUNDING", "1", "0.12", None)],
                "80.08",
                "20.02",
            ),
        },
        Case {
            name: "rounding_line_with_vat_needing_two_lines",
            order: vec![json!({
                "lines": [line("MUG-01", "Coffee mug", "1", "99.95", "25")], "total": "99.97"
            })],
            config: json!({"rounding": {"vat_free": false}}),
            // Gap 0.02 is no single net at 25 % (0.01 → 0.01, 0.02 → 0.03):
            // two lines of 0.01.
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    mug,
                    ("ROUNDING", "1", "0.01", None),
                    ("ROUNDING", "1", "0.01", None),
                ],
                "79.98",
                "19.99",
            ),
        },
        Case {
            name: "shop_rounded_total_to_whole_krone",
            // The rounding is part of the price (ML § 27, stk. 1): 100.00
            // at 25 % contains VAT 20.00. Rounding 0.05 = net 0.04 + VAT 0.01.
            order: vec![json!({"total": "100.00"})],
            config: json!({"rounding": {"vat_free": false, "total_step": "1"}}),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![mug, ("ROUNDING", "1", "0.04", None)],
                "80.00",
                "20.00",
            ),
        },
        Case {
            name: "rounded_total_without_total_step_is_rejected",
            // Before: a default tolerance of 1.00 booked 0.05 VAT-free; now a
            // difference beyond 0.02 per line fails with the explanation.
            order: vec![json!({"total": "100.00"})],
            config: no_cfg.clone(),
            expect: Expect::Error(
                |e| matches!(e, MappingError::TotalMismatch { tolerance, .. } if *tolerance == d("0.02")),
                "0.02 per line × 1 line",
            ),
        },
        Case {
            name: "total_far_off_is_rejected",
            order: vec![json!({"total": "104.95"})],
            config: no_cfg.clone(),
            expect: Expect::Error(
                |e| {
                    matches!(e, MappingError::TotalMismatch { order_total, computed_total, .. }
                    if *order_total == d("104.95") && *computed_total == d("99.95"))
                },
                "order total 104.95",
            ),
        },
        Case {
            name: "prices_excluding_vat",
            order: vec![json!({
                "prices_include_vat": false,
                "lines": [line("BOLT", "Bolt M8", "10", "45.50", "25")],
                "total": "568.75"
            })],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![("BOLT", "10", "45.5", None)],
                "455.00",
                "113.75",
            ),
        },
        Case {
            name: "discount_groups",
            order: vec![json!({
                "lines": [line("TEE", "T-shirt", "2", "149.00", "25")],
                "discounts": [
                    {"kind": "discount_code", "label": "SUMMER10", "amount": "20.00"},
                    {"kind": "gift_card", "label": "Gift card 1234", "amount": "50.00"},
                    {"kind": "promotional", "label": "Spring sale", "amount": "10.00"}
                ],
                "total": "218.00"
            })],
            // A single-purpose card (VAT paid when it was sold) is grouped
            // with the discounts and lowers the VAT; multi-purpose is the
            // default (see gift_card_multi_purpose_is_the_default).
            config: json!({"products": {"gift_card_vat": "single_purpose"}}),
            // 238.40 (59.60) − 56.00 (14.00) − 8.00 (2.00).
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    ("TEE", "2", "119.2", None),
                    (
                        "DISCOUNT",
                        "1",
                        "-56",
                        Some("Discount: SUMMER10, Gift card 1234"),
                    ),
                    (
                        "PROMO",
                        "1",
                        "-8",
                        Some("Promotional discount: Spring sale"),
                    ),
                ],
                "174.40",
                "43.60",
            ),
        },
        Case {
            name: "gift_card_multi_purpose_is_the_default",
            order: vec![json!({
                "lines": [line("TEE", "T-shirt", "2", "149.00", "25")],
                "discounts": [
                    {"kind": "discount_code", "label": "SUMMER10", "amount": "20.00"},
                    {"kind": "gift_card", "label": "Gift card 1234", "amount": "50.00"},
                    {"kind": "promotional", "label": "Spring sale", "amount": "10.00"}
                ],
                "total": "218.00"
            })],
            // VAT Directive art. 30b(2), ML § 73 b nr. 2: the card is a
            // means of payment, VAT-free; the goods keep their VAT.
            config: no_cfg.clone(),
            // 238.40 (59.60) − 16.00 (4.00) − 8.00 (2.00) − 50.00 (no VAT).
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    ("TEE", "2", "119.2", None),
                    ("DISCOUNT", "1", "-16", Some("Discount: SUMMER10")),
                    ("PROMO", "1", "-8", None),
                    ("GIFTCARD", "1", "-50", Some("Gift card: Gift card 1234")),
                ],
                "164.40",
                "53.60",
            ),
        },
        Case {
            name: "debtor_fixed_number",
            order: vec![],
            config: json!({"debtor": {"strategy": {"kind": "fixed", "customer_number": 500}}}),
            expect: with_check(
                inv(1, 19, 1, 500, vec![mug], "79.96", "19.99"),
                |plan, _| {
                    assert_eq!(
                        plan.debtor,
                        DebtorPlan::Existing {
                            customer_number: 500
                        }
                    )
                },
            ),
        },
        Case {
            name: "debtor_from_logged_in_shop_customer_id",
            order: vec![json!({"customer": {"id": 4711, "logged_in": true}})],
            config: json!({"debtor": {"strategy": {"kind": "shop_customer_id", "offset": 100000}}}),
            expect: with_check(
                inv(1, 19, 1, 104711, vec![mug], "79.96", "19.99"),
                |plan, _| match &plan.debtor {
                    DebtorPlan::FindOrCreate {
                        customer_number,
                        new_customer,
                    } => {
                        assert_eq!(*customer_number, 104711);
                        assert_eq!(new_customer.customer_number, Some(104711));
                    }
                    other => panic!("{other:?}"),
                },
            ),
        },
        Case {
            name: "debtor_guest_falls_back_to_running_number",
            order: vec![json!({"customer": {"id": "4711", "logged_in": false}})],
            config: json!({"debtor": {"strategy": {"kind": "shop_customer_id"}}}),
            expect: with_check(
                inv(1, 19, 1, 0, vec![mug], "79.96", "19.99"),
                |plan, _| match &plan.debtor {
                    DebtorPlan::Running {
                        lookup_email,
                        new_customer,
                    } => {
                        assert_eq!(lookup_email.as_deref(), Some("mette@example.dk"));
                        assert_eq!(new_customer.customer_number, None);
                    }
                    other => panic!("{other:?}"),
                },
            ),
        },
        Case {
            name: "long_sku_goes_to_fallback_product",
            order: vec![json!({
                "lines": [line("VERY-LONG-SKU-THAT-EXCEEDS-25", "Poster", "1", "99.95", "25")]
            })],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![(
                    "9999",
                    "1",
                    "79.96",
                    Some("Poster (SKU VERY-LONG-SKU-THAT-EXCEEDS-25)"),
                )],
                "79.96",
                "19.99",
            ),
        },
        Case {
            name: "missing_sku_goes_to_fallback_product",
            order: vec![
                json!({"lines": [{"name": "Custom engraving", "quantity": 1, "unit_price": 99.95, "vat_rate": 25}]}),
            ],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![("9999", "1", "79.96", Some("Custom engraving"))],
                "79.96",
                "19.99",
            ),
        },
        Case {
            name: "mapped_sku",
            order: vec![
                json!({"lines": [line("TSHIRT-RED-M", "T-shirt red M", "1", "99.95", "25")]}),
            ],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![("1001", "1", "79.96", Some("T-shirt red M"))],
                "79.96",
                "19.99",
            ),
        },
        Case {
            name: "bank_transfer_terms_with_due_date",
            order: vec![json!({"payment_method": "bank_transfer"})],
            config: no_cfg.clone(),
            expect: with_check(
                inv(1, 20, 3, PHONE_DEBTOR, vec![mug], "79.96", "19.99"),
                |_, draft| assert_eq!(draft["dueDate"], "2024-03-23"),
            ),
        },
        Case {
            name: "unknown_payment_method_uses_default",
            order: vec![json!({"payment_method": "klarna"})],
            config: no_cfg.clone(),
            expect: inv(1, 19, 2, PHONE_DEBTOR, vec![mug], "79.96", "19.99"),
        },
        Case {
            name: "custom_reference_and_auto_book",
            order: vec![],
            config: json!({"reference_format": "Webshop #{number} ({id})", "auto_book": true,
                           "vat_explanation_on_invoice": false}),
            expect: with_check(
                inv(1, 19, 1, PHONE_DEBTOR, vec![mug], "79.96", "19.99"),
                |plan, draft| {
                    assert_eq!(plan.reference, "Webshop #1001 (5001)");
                    assert_eq!(draft["references"]["other"], "Webshop #1001 (5001)");
                    assert!(plan.book);
                    assert!(draft["notes"].get("textLine2").is_none());
                },
            ),
        },
        Case {
            name: "mixed_standard_and_zero_rated_lines",
            order: vec![json!({
                "lines": [line("MUG-01", "Coffee mug", "1", "99.95", "25"),
                          line("NEWS", "Newspaper", "1", "40.00", "0")],
                "shipping": {"name": "Post", "price": "50.00", "vat_rate": "0"},
                "total": "189.95"
            })],
            config: no_cfg.clone(),
            expect: inv(
                1,
                19,
                1,
                PHONE_DEBTOR,
                vec![
                    mug,
                    ("NEWS", "1", "40", None),
                    ("SHIPPING", "1", "50", None),
                ],
                "169.96",
                "19.99",
            ),
        },
        // Mixed rates on one invoice (`vat_rates`): each line keeps the
        // rate the shop charged, on the product configured for that rate.
        Case {
            name: "mixed_oss_de_7_and_19",
            order: vec![
                customer_in("DE", "Berlin", "EUR"),
                json!({
                    "lines": [line("BOOK-1", "Buch", "1", "24.90", "7"),
                              line("MUG-01", "Tasse", "2", "24.99", "19")],
                    "shipping": {"name": "DHL", "price": "4.90", "vat_rate": "19"},
                    "total": "79.78"
                }),
            ],
            config: json!({"vat_rates": {"DE": {"7": {"product": "OSS-DE-7"}}}}),
            // 7 %: 24.90/1.07 = 23.271 → 23.27, VAT round2(1.6289) = 1.63.
            // 19 %: 2 × 21.00 (7.98) + shipping 4.12 (0.78) = 46.12, VAT 8.76.
            expect: with_check(
                inv(
                    12,
                    19,
                    1,
                    0,
                    vec![
                        ("OSS-DE-7", "1", "23.27", Some("Buch (SKU BOOK-1)")),
                        ("MUG-01", "2", "21", None),
                        ("SHIPPING", "1", "4.12", None),
                    ],
                    "69.39",
                    "10.39",
                ),
                |plan, _| {
                    assert_vat_per_rate(plan, &[("7", "23.27", "1.63"), ("19", "46.12", "8.76")])
                },
            ),
        },
        Case {
            name: "mixed_oss_fr_5_5_and_20",
            order: vec![
                customer_in("FR", "Paris", "EUR"),
                json!({
                    "lines": [line("LIVRE-7", "Livre", "2", "12.50", "5.5"),
                              line("CANDLE", "Bougie", "1", "35.00", "20")],
                    "total": "60.00"
                }),
            ],
            config: json!({"vat_rates": {"FR": {
                "5.5": {"product": "OSS-FR-5.5"}, "20": {"product": "OSS-FR-20"}
            }}}),
            // 5.5 %: 25.00/1.055 = 23.697 → 23.70 = 2 × 11.85, VAT
            // round2(1.3035) = 1.30. 20 %: 35/1.2 = 29.17, VAT 5.83; the
            // 20 % line goes to its configured product too.
            expect: with_check(
                inv(
                    13,
                    19,
                    1,
                    0,
                    vec![
                        ("OSS-FR-5.5", "2", "11.85", Some("Livre (SKU LIVRE-7)")),
                        ("OSS-FR-20", "1", "29.17", Some("Bougie (SKU CANDLE)")),
                    ],
                    "52.87",
                    "7.13",
                ),
                |plan, _| {
                    assert_vat_per_rate(plan, &[("5.5", "23.70", "1.30"), ("20", "29.17", "5.83")])
                },
            ),
        },
        Case {
            name: "mixed_voec_no_15_and_25",
            order: vec![
                customer_in("NO", "Oslo", "NOK"),
                json!({
                    "lines": [line("CHOC-1", "Sjokolade", "3", "49.00", "15"),
                              line("SCARF", "Skjerf", "1", "250.00", "25")],
                    "total": "397.00"
                }),
            ],
            // Norway's 15 % is the food rate, and VOEC excludes foodstuffs
            // (toll.no; `voec.excluded_skus`): the NO 15/25 pair, to
            // show the mechanism on a line a shop charged 15 % under VOEC.
            config: json!({"vat_rates": {"NO": {"15": {"product": "VOEC-15"}}}}),
            // 15 %: 147.00/1.15 = 127.826 → 127.83 = 3 × 42.61, VAT
            // round2(19.1745) = 19.17. 25 %: 200.00, VAT 50.00.
            expect: with_check(
                inv(
                    20,
                    19,
                    1,
                    0,
                    vec![
                        ("VOEC-15", "3", "42.61", Some("Sjokolade (SKU CHOC-1)")),
                        ("SCARF", "1", "200", None),
                    ],
                    "327.83",
                    "69.17",
                ),
                |plan, _| {
                    assert_vat_per_rate(
                        plan,
                        &[("15", "127.83", "19.17"), ("25", "200.00", "50.00")],
                    )
                },
            ),
        },
        Case {
            name: "mixed_dk_0_and_25",
            order: vec![json!({
                "lines": [line("MUG-01", "Coffee mug", "1", "99.95", "25"),
                          line("AVIS-1", "Dagblad", "1", "30.00", "0")],
                "total": "129.95"
            })],
            config: json!({"vat_rates": {"DK": {"0": {"product": "NEWS0"}}}}),
            // 0 %: 30.00 on the newspaper product. 25 %: 79.96, VAT 19.99.
            expect: with_check(
                inv(
                    1,
                    19,
                    1,
                    PHONE_DEBTOR,
                    vec![mug, ("NEWS0", "1", "30", Some("Dagblad (SKU AVIS-1)"))],
                    "109.96",
                    "19.99",
                ),
                |plan, _| {
                    assert_vat_per_rate(plan, &[("0", "30.00", "0"), ("25", "79.96", "19.99")])
                },
            ),
        },
        Case {
            name: "mixed_rate_without_a_product_for_it_fails",
            order: vec![
                customer_in("DE", "Berlin", "EUR"),
                json!({
                    "lines": [line("BOOK-1", "Buch", "1", "24.90", "7"),
                              line("MUG-01", "Tasse", "1", "24.99", "19")],
                    "total": "49.89"
                }),
            ],
            // DE has an entry, but none for 7 %: the book is not re-priced.
            config: json!({"vat_rates": {"DE": {"19": {"product": "OSS-DE-19"}}}}),
            expect: Expect::Error(
                |e| {
                    matches!(e, MappingError::VatRateNotConfigured { country, rate, .. }
                        if country == "DE" && *rate == Decimal::from(7))
                },
                "`Buch` is taxed at 7 % but this invoice charges DE VAT at 19 % (VAT zone 12) \
                 and `vat_rates.DE` has no product for 7 %",
            ),
        },
    ]
}

/// Net and VAT per rate of the plan, line by line as e-conomic rounds by
/// default: `(rate, net, VAT)` for every rate on the invoice.
fn assert_vat_per_rate(plan: &InvoicePlan, expected: &[(&str, &str, &str)]) {
    use bridge::domain::money::{line_net, line_vat};
    let mut per_rate: std::collections::BTreeMap<Decimal, (Decimal, Decimal)> = Default::default();
    for (quantity, unit, discount, rate) in
        bridge::domain::mapping::totals_lines(&plan.draft.lines, &plan.line_vat_rates)
    {
        let net = line_net(quantity, unit, discount);
        let entry = per_rate.entry(rate.normalize()).or_default();
        entry.0 += net;
        entry.1 += line_vat(net, rate);
    }
    let expected: std::collections::BTreeMap<Decimal, (Decimal, Decimal)> = expected
        .iter()
        .map(|(rate, net, vat)| (d(rate).normalize(), (d(net), d(vat))))
        .collect();
    assert_eq!(per_rate, expected);
}

pub(crate) fn body(case: &Case) -> Value {
    let mut order = base_order();
    for patch in &case.order {
        merge(&mut order, patch);
    }
    json!({"type": "order.paid", "version": 1, "order": order})
}

fn run(case: &Case) {
    let body = body(case);
    let parsed = parse_event(&serde_json::to_vec(&body).unwrap())
        .unwrap_or_else(|e| panic!("{}: order does not parse: {e}", case.name));
    let ParsedEvent::Order(event) = parsed else {
        panic!("{}: not an order event", case.name)
    };
    let mut config = base_config();
    merge(&mut config, &case.config);
    let config: MappingConfig =
        serde_json::from_value(config).unwrap_or_else(|e| panic!("{}: bad config: {e}", case.name));

    let result = map_order(&event.order, &config);
    match &case.expect {
        Expect::Error(is_expected, text) => {
            let err = result.expect_err(case.name);
            assert!(is_expected(&err), "{}: unexpected error {err:?}", case.name);
            let message = err.to_string();
            assert!(
                message.contains(text),
                "{}: `{message}` lacks `{text}`",
                case.name
            );
        }
        Expect::Invoice {
            zone,
            layout,
            terms,
            customer_number,
            lines,
            net,
            vat,
            check,
        } => {
            let plan = result.unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let draft = serde_json::to_value(&plan.draft).unwrap();
            let name = case.name;
            assert_eq!(
                draft["recipient"]["vatZone"]["vatZoneNumber"], *zone,
                "{name}: zone"
            );
            assert_eq!(plan.vat_decision.vat_zone, *zone, "{name}");
            assert_eq!(draft["layout"]["layoutNumber"], *layout, "{name}: layout");
            assert_eq!(
                draft["paymentTerms"]["paymentTermsNumber"], *terms,
                "{name}: terms"
            );
            assert_eq!(
                draft["customer"]["customerNumber"], *customer_number,
                "{name}: customer"
            );
            let draft_lines = draft["lines"].as_array().unwrap();
            assert_eq!(
                draft_lines.len(),
                lines.len(),
                "{name}: line count {draft_lines:#?}"
            );
            for (i, (product, quantity, unit, description)) in lines.iter().enumerate() {
                let got = &draft_lines[i];
                assert_eq!(
                    got["product"]["productNumber"], *product,
                    "{name}: line {i}"
                );
                // Amounts are JSON numbers written from the exact decimal text.
                assert_eq!(
                    got["quantity"].to_string(),
                    *quantity,
                    "{name}: line {i} quantity"
                );
                assert_eq!(
                    got["unitNetPrice"].to_string(),
                    *unit,
                    "{name}: line {i} price"
                );
                if let Some(description) = description {
                    assert_eq!(got["description"], *description, "{name}: line {i}");
                }
                assert_eq!(got["lineNumber"], i + 1);
            }
            let total = event.order.total;
            assert_eq!(plan.expected_net_total, d(net), "{name}: net");
            assert_eq!(plan.expected_vat_total, d(vat), "{name}: vat");
            assert_eq!(plan.expected_gross_total, total, "{name}: gross");
            // Recompute from the request body e-conomic would receive.
            let rate_of = |l: &Value| {
                let product = l["product"]["productNumber"].as_str().unwrap();
                line_rate(&event.order, &config, &plan, product, l)
            };
            let recomputed = draft_totals(
                &draft_lines
                    .iter()
                    .map(|l| {
                        (
                            d(&l["quantity"].to_string()),
                            d(&l["unitNetPrice"].to_string()),
                            None,
                            rate_of(l),
                        )
                    })
                    .collect::<Vec<_>>(),
            );
            assert_eq!(recomputed.net, d(net), "{name}: recomputed net");
            assert_eq!(recomputed.vat, d(vat), "{name}: recomputed vat");
            assert_eq!(recomputed.gross, total, "{name}: recomputed gross");
            if let Some(check) = check {
                check(&plan, &draft);
            }
        }
    }
}

/// The VAT rate e-conomic applies to a draft line, derived from the test's
/// own knowledge of the setup: zero-rated order lines, VAT-free gift cards
/// and rounding product, else the decision's rate.
fn line_rate(
    order: &bridge::domain::order::Order,
    config: &MappingConfig,
    plan: &InvoicePlan,
    product: &str,
    line: &Value,
) -> Decimal {
    let zone_rate = plan.vat_decision.rate;
    let description = line["description"].as_str().unwrap_or_default();
    // A product configured for a rate (`vat_rates`) carries that rate.
    if let Some(rate) = config
        .vat_rates
        .values()
        .flatten()
        .find(|(_, target)| target.product == product)
        .map(|(rate, _)| *rate)
    {
        return rate;
    }
    if product == "ROUNDING" {
        return if config.rounding.vat_free {
            Decimal::ZERO
        } else {
            zone_rate
        };
    }
    if product == "GIFTCARD" {
        return Decimal::ZERO;
    }
    if product == "SHIPPING" {
        if let Some(shipping) = &order.shipping {
            if shipping.vat_rate == Some(Decimal::ZERO) {
                return Decimal::ZERO;
            }
        }
    }
    if let Some(order_line) = order
        .lines
        .iter()
        .find(|l| description.starts_with(&l.name))
    {
        if order_line.vat_rate.is_zero() {
            return Decimal::ZERO;
        }
    }
    zone_rate
}

#[test]
fn table_has_at_least_forty_cases() {
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let mut names: Vec<_> = cases.iter().map(|c| c.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
}

/// The case called `name` in the table.
fn case_named(name: &str) -> Case {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case named {name} in the table"))
}

/// One test per case, named after it, so a case runs alone
/// (`cargo test -p bridge --test mapping_cases dk_b2c_card`).
macro_rules! case_tests {
    ($($name:ident),* $(,)?) => {
        const CASES_WITH_A_TEST: &[&str] = &[$(stringify!($name)),*];
        mod case {
            $(
                #[test]
                fn $name() {
                    super::run(&super::case_named(stringify!($name)));
                }
            )*
        }
    };
}

case_tests! {
    dk_b2c_card_single_line,
    dk_b2c_two_lines_with_shipping,
    dk_b2b_with_cvr,
    ean_public_sector_excl_vat_prices,
    ean_with_buyer_order_number_and_reference_booked,
    ean_without_buyer_reference_warns,
    ean_without_buyer_reference_fails_when_required,
    ean_order_number_alone_satisfies_required_reference_send_by_off,
    buyer_order_number_without_ean_is_no_ean_invoice,
    eu_b2b_reverse_charge_se,
    oss_se_25_in_sek,
    oss_de_19_with_shipping_eur,
    oss_fr_20,
    oss_nl_21,
    oss_it_22,
    oss_lu_17,
    oss_hu_27_in_huf,
    oss_fi_25_5,
    oss_delivery_country_wins_over_billing,
    oss_disabled_charges_home_vat,
    oss_country_not_configured_is_merchant_error,
    oss_de_priced_with_danish_vat_is_rejected,
    norway_voec,
    norway_without_voec_is_export,
    export_us_zero_rated_usd,
    export_uk_vat_removed_from_catalogue_price,
    export_uk_charged_with_vat_is_rejected,
    domestic_customer_paying_eur,
    zero_price_line,
    free_shipping_shown,
    free_shipping_hidden,
    hundred_percent_discount,
    loyalty_points,
    gift_wrapping_fee,
    payment_fee,
    odd_quantity_3_x_33_33_split_across_two_unit_prices,
    retired_unit_price_decimals_is_ignored,
    half_kilo_with_unit,
    weighed_0_125_kg_is_one_line_with_the_quantity_in_its_text,
    seven_x_9_99_split_across_two_unit_prices,
    sixty_lines_of_19_99,
    one_line_of_60_x_19_99,
    rounding_line_carrying_vat,
    rounding_line_with_vat_needing_two_lines,
    shop_rounded_total_to_whole_krone,
    rounded_total_without_total_step_is_rejected,
    total_far_off_is_rejected,
    prices_excluding_vat,
    discount_groups,
    gift_card_multi_purpose_is_the_default,
    debtor_fixed_number,
    debtor_from_logged_in_shop_customer_id,
    debtor_guest_falls_back_to_running_number,
    long_sku_goes_to_fallback_product,
    missing_sku_goes_to_fallback_product,
    mapped_sku,
    bank_transfer_terms_with_due_date,
    unknown_payment_method_uses_default,
    custom_reference_and_auto_book,
    mixed_standard_and_zero_rated_lines,
    mixed_oss_de_7_and_19,
    mixed_oss_fr_5_5_and_20,
    mixed_voec_no_15_and_25,
    mixed_dk_0_and_25,
    mixed_rate_without_a_product_for_it_fails,
}

/// A case added to the table without a test here would never run.
#[test]
fn every_case_in_the_table_has_a_test() {
    let mut table: Vec<&str> = cases().iter().map(|c| c.name).collect();
    let mut tested = CASES_WITH_A_TEST.to_vec();
    table.sort_unstable();
    tested.sort_unstable();
    assert_eq!(tested, table);
}

/// Every example order in the table round-trips: serialising the parsed
/// order and parsing it again gives the same order (the pipeline stores
/// snapshots this way).
#[test]
fn example_orders_round_trip_through_serde() {
    for case in cases() {
        let body = body(&case);
        let ParsedEvent::Order(event) = parse_event(&serde_json::to_vec(&body).unwrap()).unwrap()
        else {
            panic!()
        };
        let stored = serde_json::to_vec(&event).unwrap();
        let ParsedEvent::Order(again) = parse_event(&stored).unwrap() else {
            panic!()
        };
        assert_eq!(again, event, "{}", case.name);
        // Amounts are written as strings.
        let stored: Value = serde_json::from_slice(&stored).unwrap();
        assert!(stored["order"]["total"].is_string(), "{}", case.name);
    }
}

/// The published contract, checked by the `jsonschema` crate. Built
/// without remote reference resolution: the schema is self-contained.
fn order_contract() -> jsonschema::Validator {
    let text = include_str!("../contracts/order-event.v1.schema.json");
    let schema: Value = serde_json::from_str(text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("the contract is a valid JSON Schema")
}

/// Every violation as (JSON pointer of the value, keyword, message).
fn contract_violations(
    contract: &jsonschema::Validator,
    body: &Value,
) -> Vec<(String, String, String)> {
    contract
        .iter_errors(body)
        .map(|e| {
            (
                e.instance_path().to_string(),
                e.kind().keyword().to_owned(),
                e.to_string(),
            )
        })
        .collect()
}

/// The published contract (`shared/contracts/order-event.v1.schema.json`)
/// accepts every example order in the table, and rejects broken ones.
#[test]
fn example_orders_conform_to_the_published_schema() {
    let contract = order_contract();
    for case in cases() {
        let errors = contract_violations(&contract, &body(&case));
        assert!(errors.is_empty(), "{}: {errors:#?}", case.name);
    }
    let mut broken = body(&cases()[0]);
    broken["order"]["currency"] = json!("dkk");
    broken["order"]["lines"][0]["vat_rate"] = json!("125");
    broken["order"].as_object_mut().unwrap().remove("total");
    let errors = contract_violations(&contract, &broken);
    assert!(
        errors.iter().any(|(at, _, _)| at == "/order/currency"),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|(at, keyword, message)| at == "/order"
            && keyword == "required"
            && message.contains("\"total\"")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(at, _, _)| at == "/order/lines/0/vat_rate"),
        "{errors:?}"
    );
}
