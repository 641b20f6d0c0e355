//! The `/_sandbox/...` control endpoints over real HTTP: a typo or an
//! agreement the sandbox does not have is refused, never a silent 2xx.

use economic_sandbox::{start, Faults, SandboxConfig};
use serde_json::{json, Value};

async fn put(base: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .put(format!("{base}/_sandbox/{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("sandbox answers");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, value)
}

#[tokio::test]
async fn faults_with_an_unknown_field_are_refused_and_kept() {
    let sandbox = start(SandboxConfig::default()).await.expect("sandbox");
    let base = sandbox.base_url();
    let (status, _) = put(&base, "faults", json!({"rate500": 0.5, "seed": 7})).await;
    assert_eq!(status, 200);

    // `rate_500` instead of `rate500`.
    let (status, body) = put(&base, "faults", json!({"rate_500": 1.0})).await;
    assert_eq!(status, 400, "{body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("unknown field `rate_500`"), "{message}");
    // The faults set before are still in force.
    let faults = sandbox.faults();
    assert_eq!((faults.rate_500, faults.seed), (0.5, 7));

    // `{}` still resets everything.
    let (status, _) = put(&base, "faults", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(sandbox.faults(), Faults::default());
}

#[tokio::test]
async fn an_agreement_index_out_of_range_is_refused() {
    let sandbox = start(SandboxConfig::default()).await.expect("sandbox");
    let base = sandbox.base_url();
    let agreements = SandboxConfig::default().agreements.len();
    let product = |agreement: Value| json!({"agreement": agreement, "productNumber": "NEW-1", "name": "New", "vatExempt": false});
    let cases = [
        ("products", product(json!(agreements))),
        (
            "vat-zones",
            json!({"agreement": agreements + 3, "vatZoneNumber": 40, "name": "Z", "ratePercent": 25}),
        ),
        (
            "settings",
            json!({"agreement": 99, "acceptUnknownProducts": true}),
        ),
    ];
    for (path, body) in cases {
        let (status, answer) = put(&base, path, body).await;
        assert_eq!(status, 404, "{path}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains("does not exist"), "{path}: {message}");
        assert!(
            message.contains(&format!("indexes 0 to {}", agreements - 1)),
            "{message}"
        );
    }
    // Not an index at all: 400.
    let (status, answer) = put(&base, "products", product(json!("first"))).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"]
        .as_str()
        .unwrap_or_default()
        .contains("agreement"));
    // Nothing was added anywhere.
    for index in 0..agreements {
        assert_eq!(
            sandbox.with_agreement(index, |a| a.products.contains_key("NEW-1")),
            Some(false)
        );
    }
    // A valid index still works, and only there.
    let (status, answer) = put(&base, "products", product(json!(0))).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(
        sandbox.with_agreement(0, |a| a.products.contains_key("NEW-1")),
        Some(true)
    );
}

#[tokio::test]
async fn vat_rounding_is_set_per_agreement_and_a_wrong_value_is_refused() {
    use bridge::domain::money::VatRounding;
    let sandbox = start(SandboxConfig::default()).await.expect("sandbox");
    let base = sandbox.base_url();
    let mode = |s: &economic_sandbox::SandboxHandle| s.with_agreement(0, |a| a.vat_rounding);
    assert_eq!(mode(&sandbox), Some(VatRounding::PerLine));
    let (status, answer) = put(&base, "settings", json!({"vatRounding": "per_invoice"})).await;
    assert_eq!(status, 204, "{answer}");
    assert_eq!(mode(&sandbox), Some(VatRounding::PerInvoice));
    // A misspelt mode is refused and changes nothing.
    let (status, answer) = put(&base, "settings", json!({"vatRounding": "perLine"})).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"]
        .as_str()
        .unwrap_or_default()
        .contains("per_invoice"));
    assert_eq!(mode(&sandbox), Some(VatRounding::PerInvoice));
    // Neither setting given: refused.
    let (status, _) = put(&base, "settings", json!({"agreement": 0})).await;
    assert_eq!(status, 400);
    // Both in one request.
    let (status, _) = put(
        &base,
        "settings",
        json!({"vatRounding": "per_line", "acceptUnknownProducts": true}),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(mode(&sandbox), Some(VatRounding::PerLine));
    assert_eq!(
        sandbox.with_agreement(0, |a| a.accept_unknown_products),
        Some(true)
    );
}
