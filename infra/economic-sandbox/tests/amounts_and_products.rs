//! Draft line amounts and products as the live e-conomic treats them:
//! at most two decimals in quantity, unitNetPrice and discountPercentage
//! (SCHEMA `maxDecimal: 2`, error E04740), and a line naming a product that
//! does not exist is refused with E06000 (LIVE).

use economic_sandbox::{start, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

async fn sandbox() -> SandboxHandle {
    start(SandboxConfig::default())
        .await
        .expect("sandbox starts")
}

async fn send(sb: &SandboxHandle, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", sb.base_url());
    let request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    let mut request = request
        .header(
            "X-AppSecretToken",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        )
        .header(
            "X-AgreementGrantToken",
            economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
        )
        .header("content-type", "application/json");
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("sandbox answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn customer(sb: &SandboxHandle) {
    let (status, _) = send(
        sb,
        "POST",
        "/customers",
        Some(json!({
            "customerNumber": 7, "currency": "DKK", "name": "Ann",
            "customerGroup": {"customerGroupNumber": 1},
            "paymentTerms": {"paymentTermsNumber": 1},
            "vatZone": {"vatZoneNumber": 1}
        })),
    )
    .await;
    assert_eq!(status, 201);
}

/// A draft with one line; `line` is merged into `{product SKU-1, quantity 1,
/// unitNetPrice 10}`. The amounts are written as raw JSON text so that
/// `0.125` reaches the sandbox digit for digit.
fn draft_with_line(line: &str) -> Value {
    let text = format!(
        r#"{{"currency": "DKK", "customer": {{"customerNumber": 7}}, "date": "2024-05-01",
            "layout": {{"layoutNumber": 19}}, "paymentTerms": {{"paymentTermsNumber": 1}},
            "recipient": {{"name": "Ann", "vatZone": {{"vatZoneNumber": 1}}}},
            "lines": [{{"lineNumber": 1, "product": {{"productNumber": "SKU-1"}}, {line}}}]}}"#
    );
    serde_json::from_str(&text).expect("draft JSON")
}

fn first_error(answer: &Value, field: &str) -> (Value, Value) {
    let at = &answer["errors"]["lines"][0][field]["errors"][0];
    (at["errorCode"].clone(), at["message"].clone())
}

#[tokio::test]
async fn more_than_two_decimals_in_a_line_amount_is_refused_with_e04740() {
    let sb = sandbox().await;
    customer(&sb).await;
    for (line, field) in [
        (r#""quantity": 0.125, "unitNetPrice": 80"#, "quantity"),
        (r#""quantity": 3, "unitNetPrice": 26.6633"#, "unitNetPrice"),
        (
            r#""quantity": 1, "unitNetPrice": 10, "discountPercentage": 12.345"#,
            "discountPercentage",
        ),
    ] {
        let (status, answer) =
            send(&sb, "POST", "/invoices/drafts", Some(draft_with_line(line))).await;
        assert_eq!(status, 400, "{line}: {answer:#}");
        assert_eq!(answer["errors"]["lines"][0]["arrayIndex"], 0, "{answer:#}");
        assert_eq!(
            first_error(&answer, field),
            (
                json!("E04740"),
                json!(format!(
                    "{field} scale cannot be greater then two decimal places."
                ))
            ),
            "{line}: {answer:#}"
        );
    }
    assert!(sb.drafts(0).is_empty());
    // Two decimals, and trailing zeros beyond them, are fine.
    let (status, answer) = send(
        &sb,
        "POST",
        "/invoices/drafts",
        Some(draft_with_line(
            r#""quantity": 0.50, "unitNetPrice": 151.200, "discountPercentage": 12.50"#,
        )),
    )
    .await;
    assert_eq!(status, 201, "{answer:#}");
}

#[tokio::test]
async fn a_line_naming_a_missing_product_is_refused_with_e06000() {
    let sb = sandbox().await;
    customer(&sb).await;
    let mut draft = draft_with_line(r#""quantity": 1, "unitNetPrice": 10"#);
    draft["lines"][0]["product"]["productNumber"] = json!("NO-SUCH-SKU");
    let (status, answer) = send(&sb, "POST", "/invoices/drafts", Some(draft)).await;
    assert_eq!(status, 400, "{answer:#}");
    assert_eq!(
        first_error(&answer, "product").0,
        json!("E06000"),
        "{answer:#}"
    );
}

#[tokio::test]
async fn products_are_created_in_an_existing_group_once() {
    let sb = sandbox().await;
    let (status, groups) = send(&sb, "GET", "/product-groups", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        groups["collection"][0]["productGroupNumber"], 1,
        "{groups:#}"
    );
    let new = json!({"productNumber": "WOOL-42", "name": "Wool socks",
                     "productGroup": {"productGroupNumber": 1}});
    let (status, created) = send(&sb, "POST", "/products", Some(new.clone())).await;
    assert_eq!(status, 201, "{created:#}");
    assert_eq!(created["productNumber"], "WOOL-42");
    let (status, again) = send(&sb, "POST", "/products", Some(new)).await;
    assert_eq!(status, 400, "{again:#}");
    assert_eq!(
        again["errors"]["productNumber"]["errors"][0]["errorCode"],
        "E06010"
    );
    let (status, answer) = send(
        &sb,
        "POST",
        "/products",
        Some(
            json!({"productNumber": "X", "name": "X", "productGroup": {"productGroupNumber": 99}}),
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["errors"]["productGroup"]["errors"][0]["errorCode"],
        "E06000"
    );
    let (status, answer) = send(
        &sb,
        "POST",
        "/products",
        Some(json!({"productNumber": "Y", "name": "Y"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["errors"]["productGroup"]["errors"][0]["message"],
        "Property productGroup is required.",
        "{answer:#}"
    );
    // The created product can be invoiced.
    customer(&sb).await;
    let mut draft = draft_with_line(r#""quantity": 1, "unitNetPrice": 10"#);
    draft["lines"][0]["product"]["productNumber"] = json!("WOOL-42");
    let (status, answer) = send(&sb, "POST", "/invoices/drafts", Some(draft)).await;
    assert_eq!(status, 201, "{answer:#}");
}

// ----- the push against the sandbox: products that need not exist --------

use bridge::adapters::economic::{push_invoice, AgreementApi, ClientConfig, EconomicClient};
use bridge::domain::mapping::{map_order, InvoicePlan, MappingConfig};
use bridge::domain::order::{parse_event, ParsedEvent};
use bridge::domain::secret::Secret;
use bridge::ports::PushOptions;
use std::time::{Duration, Instant};

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

/// Order `number` for debtor 7: one T-shirt (a product the sandbox has)
/// and one line of `sku`.
fn plan(number: u32, sku: &str, products: Value) -> InvoicePlan {
    let body = json!({"type": "order.paid", "version": 1, "order": {
        "id": format!("id-{number}"), "number": number.to_string(),
        "created_at": "2024-05-01T10:00:00+02:00", "currency": "DKK", "prices_include_vat": true,
        "customer": {"name": "Ann", "email": "ann@example.dk"},
        "billing_address": {"street": "Vej 1", "zip": "8000", "city": "Aarhus", "country": "DK"},
        "payment_method": "card",
        "lines": [
            {"sku": "SKU-1", "name": "T-shirt", "quantity": "1", "unit_price": "100.00", "vat_rate": "25"},
            {"sku": sku, "name": "Wool socks", "quantity": "7", "unit_price": "9.99", "vat_rate": "25"}
        ],
        "total": "169.93"
    }});
    let Ok(ParsedEvent::Order(event)) = parse_event(body.to_string().as_bytes()) else {
        panic!("order parses")
    };
    let config: MappingConfig = serde_json::from_value(json!({
        "debtor": {"strategy": {"kind": "fixed", "customer_number": 7}},
        "products": products
    }))
    .expect("config");
    map_order(&event.order, &config).expect("maps")
}

fn options() -> PushOptions {
    PushOptions {
        may_exist: false,
        deadline: Instant::now() + Duration::from_secs(20),
    }
}

fn calls_to(sb: &SandboxHandle, method: &str, path: &str) -> usize {
    sb.requests()
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

#[tokio::test]
async fn an_unknown_sku_goes_to_the_generic_product_by_default_and_costs_no_extra_call_once_refused(
) {
    let sb = sandbox().await;
    customer(&sb).await;
    let api = client(&sb);
    let first = push_invoice(&api, &plan(1, "WOOL-42", json!({})), options())
        .await
        .expect("an unknown SKU does not fail the order");
    // The draft naming WOOL-42 (refused with E06000), then the draft with
    // the generic product. The agreement's products are never listed.
    assert_eq!(first.calls, 2);
    assert_eq!(calls_to(&sb, "POST", "/invoices/drafts"), 2);
    let draft = &sb.drafts(0)[0].document;
    let lines = draft["lines"].as_array().expect("lines");
    assert_eq!(lines[0]["product"]["productNumber"], "SKU-1");
    for line in &lines[1..] {
        assert_eq!(line["product"]["productNumber"], "GENERIC", "{draft:#}");
        assert_eq!(line["description"], "Wool socks (SKU WOOL-42)", "{draft:#}");
    }
    assert_eq!(
        sb.drafts(0)[0].gross_amount,
        rust_decimal::Decimal::new(16993, 2)
    );

    // Returning debtor: a SKU refused before, and a known product, cost
    // the draft only; a SKU never seen costs its refusal once.
    sb.clear_requests();
    let again = push_invoice(&api, &plan(2, "WOOL-42", json!({})), options())
        .await
        .expect("ok");
    let known = push_invoice(&api, &plan(3, "SKU-2", json!({})), options())
        .await
        .expect("ok");
    let new_sku = push_invoice(&api, &plan(4, "WOOL-43", json!({})), options())
        .await
        .expect("ok");
    assert_eq!((again.calls, known.calls, new_sku.calls), (1, 1, 2));
    assert_eq!(calls_to(&sb, "GET", "/products"), 0);
    let drafts = sb.drafts(0);
    assert_eq!(
        drafts[1].document["lines"][1]["product"]["productNumber"],
        "GENERIC"
    );
    assert_eq!(
        drafts[2].document["lines"][1]["product"]["productNumber"],
        "SKU-2"
    );
}

#[tokio::test]
async fn a_product_deleted_since_an_earlier_order_falls_back_on_e06000() {
    let sb = sandbox().await;
    customer(&sb).await;
    let api = client(&sb);
    push_invoice(&api, &plan(1, "SKU-2", json!({})), options())
        .await
        .expect("ok");
    sb.with_agreement(0, |a| {
        a.products.remove("SKU-2");
    });
    let outcome = push_invoice(&api, &plan(2, "SKU-2", json!({})), options())
        .await
        .expect("falls back rather than fails");
    // The refused draft, then the draft with the generic product.
    assert_eq!(outcome.calls, 2);
    let draft = &sb.drafts(0)[1].document;
    assert_eq!(
        draft["lines"][1]["product"]["productNumber"], "GENERIC",
        "{draft:#}"
    );
    assert_eq!(draft["lines"][1]["description"], "Wool socks (SKU SKU-2)");
}

#[tokio::test]
async fn under_create_the_product_is_created_once_and_used() {
    let sb = sandbox().await;
    customer(&sb).await;
    let api = client(&sb);
    let products = json!({"missing": "create", "product_group": 1});
    push_invoice(&api, &plan(1, "WOOL-42", products.clone()), options())
        .await
        .expect("ok");
    push_invoice(&api, &plan(2, "WOOL-42", products.clone()), options())
        .await
        .expect("ok");
    assert_eq!(calls_to(&sb, "POST", "/products"), 1);
    let created = sb.with_agreement(0, |a| a.products.get("WOOL-42").cloned());
    assert_eq!(created.flatten().expect("created").name, "Wool socks");
    for draft in sb.drafts(0) {
        assert_eq!(
            draft.document["lines"][1]["product"]["productNumber"],
            "WOOL-42"
        );
        assert_eq!(draft.document["lines"][1]["description"], "Wool socks");
    }
}

#[tokio::test]
async fn under_fail_the_order_fails_naming_the_product() {
    let sb = sandbox().await;
    customer(&sb).await;
    let api = client(&sb);
    let error = push_invoice(
        &api,
        &plan(1, "WOOL-42", json!({"missing": "fail"})),
        options(),
    )
    .await
    .expect_err("fails");
    assert!(!error.is_transient());
    let reason = error.reason();
    assert!(
        reason.contains("product WOOL-42 does not exist in e-conomic")
            && reason.contains("`products.missing`"),
        "{reason}"
    );
    assert!(sb.drafts(0).is_empty());
}

/// A product whose account carries its own rate (`vatRatePercent`, set
/// through the control endpoint): in a zone with VAT its lines carry that
/// rate next to the zone's, per line and per rate; in a zone without VAT
/// they carry none. A rate that is no rate is refused.
#[tokio::test]
async fn a_product_at_its_own_rate_mixes_with_the_zones_rate() {
    let sb = sandbox().await;
    customer(&sb).await;
    let control = |body: Value| {
        let url = format!("{}/_sandbox/products", sb.base_url());
        async move {
            reqwest::Client::new()
                .put(url)
                .body(body.to_string())
                .send()
                .await
                .expect("sandbox answers")
                .status()
                .as_u16()
        }
    };
    let book = json!({"productNumber": "BOOK-7", "name": "Buch", "vatExempt": false, "vatRatePercent": "7"});
    assert_eq!(control(book).await, 204);
    let wrong =
        json!({"productNumber": "X", "name": "X", "vatExempt": false, "vatRatePercent": "seven"});
    assert_eq!(control(wrong).await, 400);
    for (zone, net, vat) in [(10, "200", "26"), (2, "200", "0")] {
        let mut draft = draft_with_line(r#""quantity": 1, "unitNetPrice": 100"#);
        draft["recipient"]["vatZone"]["vatZoneNumber"] = json!(zone);
        draft["lines"].as_array_mut().expect("lines").push(
            json!({"lineNumber": 2, "description": "Buch", "product": {"productNumber": "BOOK-7"},
                         "quantity": 1, "unitNetPrice": 100}),
        );
        let (status, answer) = send(&sb, "POST", "/invoices/drafts", Some(draft)).await;
        assert_eq!(status, 201, "zone {zone}: {answer}");
        // SKU-1 at the zone's 19 % (OSS Germany) + BOOK-7 at 7 %; EU: none.
        let amount = |field: &str| -> rust_decimal::Decimal {
            answer[field].to_string().parse().expect("an amount")
        };
        assert_eq!(amount("netAmount"), net.parse().unwrap(), "zone {zone}");
        assert_eq!(amount("vatAmount"), vat.parse().unwrap(), "zone {zone}");
    }
}
