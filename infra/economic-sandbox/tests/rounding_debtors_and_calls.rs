//! Issue 13, "e-conomic as it really behaves", against the sandbox over
//! real HTTP: VAT rounded per line or per invoice (the push corrects the
//! draft, within `rounding.correction_tolerance`), `debtor.update` (GET,
//! change, PUT the whole document), and the calls each order costs.

use bridge::adapters::economic::{push_invoice, AgreementApi, ClientConfig, EconomicClient};
use bridge::domain::mapping::{map_order, InvoicePlan, MappingConfig};
use bridge::domain::money::VatRounding;
use bridge::domain::order::{parse_event, ParsedEvent};
use bridge::domain::secret::Secret;
use bridge::ports::PushOptions;
use economic_sandbox::data::ProductRecord;
use economic_sandbox::{start, SandboxConfig, SandboxHandle};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn sandbox(mode: VatRounding) -> SandboxHandle {
    let sb = start(SandboxConfig::default())
        .await
        .expect("sandbox starts");
    sb.set_vat_rounding(mode);
    // The mapping's default rounding product, on a VAT-free account.
    sb.with_agreement(0, |a| {
        a.products.insert(
            "ROUNDING".into(),
            ProductRecord {
                product_number: "ROUNDING".into(),
                name: "Øreafrunding".into(),
                vat_exempt: true,
            },
        )
    });
    sb
}

fn client(sb: &SandboxHandle) -> AgreementApi {
    EconomicClient::new(ClientConfig {
        base_url: sb.base_url(),
        ..ClientConfig::default()
    })
    .expect("client")
    .for_agreement(
        Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
        Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
    )
}

fn options() -> PushOptions {
    PushOptions {
        may_exist: false,
        deadline: Instant::now() + Duration::from_secs(20),
    }
}

/// Puts customer `number` into the sandbox as e-conomic would hold it,
/// with properties the bridge knows nothing about.
fn customer_in_economic(sb: &SandboxHandle, number: u32) -> Value {
    let document = json!({
        "customerNumber": number, "currency": "DKK", "name": "A. Hansen",
        "customerGroup": {"customerGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1},
        "vatZone": {"vatZoneNumber": 1},
        "address": "Gammel Vej 9", "zip": "", "city": "Aarhus",
        "telephoneAndFaxNumber": "+45 87654321",
        "creditLimit": 5000, "pNumber": "1003388394",
        "attention": {"customerContactNumber": 3},
        "self": format!("https://restapi.e-conomic.com/customers/{number}"),
    });
    sb.with_agreement(0, |a| a.customers.insert(number, document.clone()));
    document
}

/// An order of `lines` (SKU, quantity, unit price incl. 25 % VAT) by a
/// customer with phone +45 12345678, mapped under `config` (merged into a
/// phone-number debtor strategy).
fn plan(number: u32, lines: &[(&str, &str, &str)], total: &str, config: Value) -> InvoicePlan {
    let lines: Vec<Value> = lines
        .iter()
        .map(|(sku, quantity, price)| {
            json!({"sku": sku, "name": format!("Item {sku}"), "quantity": quantity,
                   "unit_price": price, "vat_rate": "25"})
        })
        .collect();
    let body = json!({"type": "order.paid", "version": 1, "order": {
        "id": format!("id-{number}"), "number": number.to_string(),
        "created_at": "2024-05-01T10:00:00+02:00", "currency": "DKK", "prices_include_vat": true,
        "customer": {"name": "Ann Hansen", "email": "ann@example.dk", "phone": "+45 12345678"},
        "billing_address": {"street": "Nygade 2", "zip": "8000", "city": "Aarhus C", "country": "DK"},
        "payment_method": "card",
        "lines": lines,
        "total": total
    }});
    let Ok(ParsedEvent::Order(event)) = parse_event(body.to_string().as_bytes()) else {
        panic!("order parses")
    };
    let mut mapping = json!({"debtor": {"strategy": {"kind": "phone"}}});
    if let (Some(mapping), Value::Object(extra)) = (mapping.as_object_mut(), config) {
        mapping.extend(extra);
    }
    let config: MappingConfig = serde_json::from_value(mapping).expect("config");
    map_order(&event.order, &config).expect("maps")
}

const DEBTOR: u32 = 12345678;

/// Four T-shirts at 9.99 on four lines: per line 4 × (7.99 + 2.00) =
/// 39.96; per invoice 31.96 → VAT 7.99, 39.95.
fn four_lines_of_9_99(number: u32) -> InvoicePlan {
    let line = ("SKU-1", "1", "9.99");
    plan(number, &[line, line, line, line], "39.96", json!({}))
}

/// 9.99 + 14.99 + 24.99: per line 39.97 + 10.00 = 49.97; per invoice
/// 39.97 → 9.99, 49.96, and no net at 25 % reaches 49.97 (39.98 → 49.98).
fn three_lines(number: u32) -> InvoicePlan {
    plan(
        number,
        &[
            ("SKU-1", "1", "9.99"),
            ("SKU-2", "1", "14.99"),
            ("SKU-3", "1", "24.99"),
        ],
        "49.97",
        json!({}),
    )
}

fn requests(sb: &SandboxHandle) -> Vec<String> {
    sb.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

#[tokio::test]
async fn lines_that_round_differently_per_invoice_end_exact_in_both_modes() {
    // (plan, VAT per line, VAT contained in the total)
    type Order = (fn(u32) -> InvoicePlan, Decimal, Decimal);
    let orders: [Order; 2] = [
        (four_lines_of_9_99, dec!(8.00), dec!(7.99)),
        (three_lines, dec!(10.00), dec!(9.99)),
    ];
    for (make, per_line_vat, contained_vat) in orders {
        for mode in [VatRounding::PerLine, VatRounding::PerInvoice] {
            let sb = sandbox(mode).await;
            customer_in_economic(&sb, DEBTOR);
            let api = client(&sb);
            let first = make(1);
            let total = first.expected_gross_total;
            let outcome = push_invoice(&api, &first, options())
                .await
                .unwrap_or_else(|e| panic!("{mode:?}: {e}"));
            let drafts = sb.drafts(0);
            assert_eq!(drafts.len(), 1, "{mode:?}");
            let draft = &drafts[0];
            assert_eq!((outcome.gross_amount, draft.gross_amount), (total, total));
            assert_eq!(draft.net_amount + draft.vat_amount, total);
            match mode {
                VatRounding::PerLine => {
                    assert_eq!(draft.vat_amount, per_line_vat);
                    assert_eq!(outcome.calls, 1);
                    assert_eq!(requests(&sb), ["POST /invoices/drafts"]);
                }
                VatRounding::PerInvoice => {
                    // The invoice's VAT is the VAT the shop's total
                    // contains: round2(total × 25 / 125).
                    assert_eq!(draft.vat_amount, contained_vat, "{mode:?}");
                    assert_eq!(contained_vat, (total * dec!(25) / dec!(125)).round_dp(2));
                    // The create, then the correction: one PUT of the
                    // whole draft, under an idempotency key.
                    assert_eq!(outcome.calls, 2);
                    assert_eq!(
                        requests(&sb),
                        ["POST /invoices/drafts", "PUT /invoices/drafts/1"]
                    );
                    let put = &sb.requests()[1];
                    assert!(put.idempotency_key.is_some());
                    let sent = put.body.as_ref().expect("body");
                    assert_eq!(sent["references"]["other"], first.reference);
                    assert_eq!(sent["notes"], draft.document["notes"]);
                    assert_eq!(sent["recipient"], draft.document["recipient"]);
                }
            }
            // The next order of the agreement: the rounding is known now,
            // so the draft is sent fitted to it, one call.
            sb.clear_requests();
            let second = push_invoice(&api, &make(2), options())
                .await
                .expect("second order");
            assert_eq!((second.calls, second.gross_amount), (1, total), "{mode:?}");
            assert_eq!(sb.with_agreement(0, |a| a.drafts_created), Some(2));
        }
    }
}

#[tokio::test]
async fn the_correction_keeps_quantities_and_moves_an_øre_or_adds_a_vat_free_one() {
    let sb = sandbox(VatRounding::PerInvoice).await;
    customer_in_economic(&sb, DEBTOR);
    let api = client(&sb);
    push_invoice(&api, &four_lines_of_9_99(1), options())
        .await
        .expect("ok");
    push_invoice(&api, &three_lines(2), options())
        .await
        .expect("ok");
    let drafts = sb.drafts(0);
    let prices = |d: &Value| -> Vec<(String, String, String)> {
        d["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| {
                (
                    l["product"]["productNumber"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                    l["quantity"].to_string(),
                    l["unitNetPrice"].to_string(),
                )
            })
            .collect()
    };
    let s = |p: &str, q: &str, u: &str| (p.to_owned(), q.to_owned(), u.to_owned());
    // Net 31.96 → 31.97: one line an øre up.
    assert_eq!(
        prices(&drafts[0].document),
        [
            s("SKU-1", "1", "8"),
            s("SKU-1", "1", "7.99"),
            s("SKU-1", "1", "7.99"),
            s("SKU-1", "1", "7.99")
        ]
    );
    // 49.97 at 25 % alone is out of reach: the øre goes on a VAT-free line.
    assert_eq!(
        prices(&drafts[1].document),
        [
            s("SKU-1", "1", "7.99"),
            s("SKU-2", "1", "11.99"),
            s("SKU-3", "1", "19.99"),
            s("ROUNDING", "1", "0.01")
        ]
    );
}

#[tokio::test]
async fn a_rounding_difference_beyond_the_tolerance_fails_and_leaves_no_draft() {
    let sb = sandbox(VatRounding::PerInvoice).await;
    customer_in_economic(&sb, DEBTOR);
    let api = client(&sb);
    let mut strict = four_lines_of_9_99(1);
    strict.correction_tolerance = dec!(0.00);
    let error = push_invoice(&api, &strict, options())
        .await
        .expect_err("beyond the tolerance");
    assert!(!error.is_transient());
    let reason = error.reason();
    assert!(
        reason.contains("rounds VAT per invoice")
            && reason.contains("rounding.correction_tolerance")
            && reason.contains("was deleted again"),
        "{reason}"
    );
    assert!(sb.drafts(0).is_empty());
    assert!(!requests(&sb).iter().any(|r| r.starts_with("PUT")));
}

#[tokio::test]
async fn a_difference_no_rounding_explains_fails_and_leaves_no_draft() {
    for mode in [VatRounding::PerLine, VatRounding::PerInvoice] {
        let sb = sandbox(mode).await;
        customer_in_economic(&sb, DEBTOR);
        // The poster's product is on a VAT-free account in e-conomic, but
        // the shop charged 25 % on it.
        sb.with_agreement(0, |a| {
            if let Some(p) = a.products.get_mut("SKU-3") {
                p.vat_exempt = true;
            }
        });
        let error = push_invoice(&client(&sb), &three_lines(1), options())
            .await
            .expect_err("a VAT setup mistake is not corrected");
        let reason = error.reason();
        assert!(
            reason.contains("neither per-line nor per-invoice")
                && reason.contains("was deleted again"),
            "{mode:?}: {reason}"
        );
        assert!(sb.drafts(0).is_empty(), "{mode:?}");
    }
}

#[tokio::test]
async fn debtor_update_fill_missing_sets_only_empty_fields_and_loses_nothing() {
    let sb = sandbox(VatRounding::PerLine).await;
    let before = customer_in_economic(&sb, DEBTOR);
    let api = client(&sb);
    let order = plan(
        1,
        &[("SKU-1", "1", "9.99")],
        "9.99",
        json!({"debtor": {"strategy": {"kind": "phone"}, "update": "fill_missing"}}),
    );
    let outcome = push_invoice(&api, &order, options()).await.expect("ok");
    assert_eq!(outcome.customer_number, DEBTOR);
    // Read, write back, draft.
    assert_eq!(
        requests(&sb),
        [
            format!("GET /customers/{DEBTOR}"),
            format!("PUT /customers/{DEBTOR}"),
            "POST /invoices/drafts".to_owned()
        ]
    );
    assert_eq!(outcome.calls, 3);
    assert!(sb.requests()[1].idempotency_key.is_some());
    let after = sb
        .with_agreement(0, |a| a.customers.get(&DEBTOR).cloned())
        .flatten()
        .expect("debtor");
    // Empty in e-conomic: filled. Set in e-conomic: kept. Unknown to the
    // bridge: kept (the sandbox's PUT clears whatever the body omits).
    assert_eq!(after["zip"], "8000");
    assert_eq!(after["email"], "ann@example.dk");
    assert_eq!(after["country"], "Denmark");
    let mut expected = before.clone();
    for field in ["zip", "email", "country"] {
        expected[field] = after[field].clone();
    }
    expected["lastUpdated"] = after["lastUpdated"].clone();
    assert_eq!(after, expected);
    assert_eq!(after["name"], "A. Hansen");
    assert_eq!(after["creditLimit"], 5000);
    assert_eq!(after["attention"]["customerContactNumber"], 3);
}

#[tokio::test]
async fn debtor_update_always_overwrites_and_writes_only_when_something_differs() {
    let sb = sandbox(VatRounding::PerLine).await;
    customer_in_economic(&sb, DEBTOR);
    let config = json!({"debtor": {"strategy": {"kind": "phone"}, "update": "always"}});
    let order = |n| plan(n, &[("SKU-1", "1", "9.99")], "9.99", config.clone());
    let warm = client(&sb);
    let first = push_invoice(&warm, &order(1), options()).await.expect("ok");
    assert_eq!(first.calls, 3);
    let after = sb
        .with_agreement(0, |a| a.customers.get(&DEBTOR).cloned())
        .flatten()
        .expect("debtor");
    assert_eq!(after["name"], "Ann Hansen");
    assert_eq!(after["address"], "Nygade 2");
    assert_eq!(after["city"], "Aarhus C");
    // The order has a phone too: it overwrites e-conomic's.
    assert_eq!(after["telephoneAndFaxNumber"], "+45 12345678");
    assert_eq!(after["pNumber"], "1003388394");
    assert_eq!(after["creditLimit"], 5000);

    // Another process: read, nothing differs, no PUT.
    sb.clear_requests();
    let cold = push_invoice(&client(&sb), &order(2), options())
        .await
        .expect("ok");
    assert_eq!(cold.calls, 2);
    assert_eq!(
        requests(&sb),
        [
            format!("GET /customers/{DEBTOR}"),
            "POST /invoices/drafts".to_owned()
        ]
    );
    // The same process with the same details: known to be up to date.
    sb.clear_requests();
    let again = push_invoice(&warm, &order(3), options()).await.expect("ok");
    assert_eq!(again.calls, 1);
    assert_eq!(requests(&sb), ["POST /invoices/drafts"]);
}

#[tokio::test]
async fn debtor_update_creates_a_debtor_that_does_not_exist_within_three_calls() {
    let sb = sandbox(VatRounding::PerLine).await;
    let order = plan(
        1,
        &[("SKU-1", "1", "9.99")],
        "9.99",
        json!({"debtor": {"strategy": {"kind": "phone"}, "update": "fill_missing"}}),
    );
    let outcome = push_invoice(&client(&sb), &order, options())
        .await
        .expect("ok");
    assert_eq!(
        requests(&sb),
        [
            format!("GET /customers/{DEBTOR}"),
            "POST /customers".to_owned(),
            "POST /invoices/drafts".to_owned()
        ]
    );
    assert_eq!((outcome.calls, outcome.customer_number), (3, DEBTOR));
}

#[tokio::test]
async fn calls_per_order() {
    let sb = sandbox(VatRounding::PerLine).await;
    let api = client(&sb);
    // New debtor on the agreement's first order, one known and one
    // unknown SKU: the draft (refused: no such customer, no such
    // product), the debtor, the draft again. Products are never listed.
    let first = plan(
        1,
        &[("SKU-1", "1", "100.00"), ("WOOL-42", "2", "25.00")],
        "150.00",
        json!({}),
    );
    let outcome = push_invoice(&api, &first, options()).await.expect("ok");
    assert_eq!(outcome.calls, 3);
    assert_eq!(
        requests(&sb),
        [
            "POST /invoices/drafts",
            "POST /customers",
            "POST /invoices/drafts"
        ]
    );
    let lines = &sb.drafts(0)[0].document["lines"];
    assert_eq!(lines[1]["product"]["productNumber"], "GENERIC");

    // Returning debtor, known products, draft only: one call, in this
    // process and in a new one.
    for (number, api) in [(2, &api), (3, &client(&sb))] {
        sb.clear_requests();
        let returning = plan(number, &[("SKU-2", "3", "40.00")], "120.00", json!({}));
        let outcome = push_invoice(api, &returning, options()).await.expect("ok");
        assert_eq!(outcome.calls, 1);
        assert_eq!(requests(&sb), ["POST /invoices/drafts"]);
    }

    // The unknown SKU again (`products.missing: fallback`): it is known to
    // be missing, so no extra call.
    sb.clear_requests();
    let again = plan(4, &[("WOOL-42", "1", "25.00")], "25.00", json!({}));
    let outcome = push_invoice(&api, &again, options()).await.expect("ok");
    assert_eq!(outcome.calls, 1);
    assert_eq!(
        sb.drafts(0)[3].document["lines"][0]["product"]["productNumber"],
        "GENERIC"
    );
}

#[tokio::test]
async fn a_debtor_update_e_conomic_refuses_still_gives_the_invoice() {
    let sb = sandbox(VatRounding::PerLine).await;
    let mut before = customer_in_economic(&sb, DEBTOR);
    // A customer group deleted since: e-conomic refuses the debtor's PUT.
    before["customerGroup"] = json!({"customerGroupNumber": 99});
    sb.with_agreement(0, |a| a.customers.insert(DEBTOR, before.clone()));
    let order = plan(
        1,
        &[("SKU-1", "1", "9.99")],
        "9.99",
        json!({"debtor": {"strategy": {"kind": "phone"}, "update": "always"}}),
    );
    let outcome = push_invoice(&client(&sb), &order, options())
        .await
        .expect("the invoice is made");
    assert_eq!((outcome.calls, outcome.customer_number), (3, DEBTOR));
    assert_eq!(sb.requests()[1].status, 400);
    assert_eq!(sb.drafts(0).len(), 1);
    assert_eq!(
        sb.with_agreement(0, |a| a.customers.get(&DEBTOR).cloned())
            .flatten(),
        Some(before)
    );
}

/// A transfer that stopped between the create and the correction: the
/// next attempt finds the order's uncorrected draft, deletes it and makes
/// it again, corrected. One draft, exact.
#[tokio::test]
async fn an_uncorrected_draft_of_an_earlier_attempt_is_made_again_corrected() {
    let sb = sandbox(VatRounding::PerInvoice).await;
    customer_in_economic(&sb, DEBTOR);
    let api = client(&sb);
    let order = four_lines_of_9_99(1);
    let mut earlier = order.draft.clone();
    earlier.customer.customer_number = DEBTOR;
    let created = api
        .create_draft(&earlier, Instant::now() + Duration::from_secs(5))
        .await
        .expect("the earlier attempt's create");
    assert_eq!(created.gross_amount, dec!(39.95));
    let retry = PushOptions {
        may_exist: true,
        ..options()
    };
    let outcome = push_invoice(&client(&sb), &order, retry)
        .await
        .expect("completed");
    assert_eq!(outcome.gross_amount, dec!(39.96));
    let drafts = sb.drafts(0);
    assert_eq!(drafts.len(), 1);
    assert_eq!(
        (drafts[0].gross_amount, drafts[0].vat_amount),
        (dec!(39.96), dec!(7.99))
    );
    assert_eq!(
        drafts[0].reference.as_deref(),
        Some(order.reference.as_str())
    );
}
