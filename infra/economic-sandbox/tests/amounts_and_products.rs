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
