//! Secrets never reach the logs, `Debug` output or error messages.
//!
//! This test binary installs a tracing subscriber at TRACE level (all
//! crates: ours, the AWS SDK, hyper, reqwest — except the SDK
//! orchestrator's raw-response dump, see [`CAPTURE_RUST_LOG`]) writing into
//! memory, runs a
//! full transfer (webhook → ingest → transfer → e-conomic sandbox → ok), a
//! shop with wrong e-conomic tokens (→ failed) and a badly signed webhook
//! (→ 401), then searches everything logged for the webhook secret (as
//! `whsec_…`, its base64 payload, the decoded key as text and as hex) and
//! every e-conomic token.

use bridge::adapters::dynamodb::DynamoShopStore;
use bridge::adapters::economic::{ClientConfig, EconomicClient};
use bridge::domain::lifecycle::Label;
use bridge::domain::secret::Secret;
use bridge::domain::shop::{EconomicCredentials, ShopConfig, Trigger, WebhookSecret};
use bridge::domain::webhook::{verify, SignatureHeaders};
use bridge::ports::ShopStore;
use integration_tests::*;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The decoded key behind `integration_tests::SECRET`
/// (`whsec_dGVzdCBzaWduaW5nIHNlY3JldCBmb3IgdGhlIGJyaWRnZQ==`).
const SECRET_KEY_TEXT: &str = "test signing secret for the bridge";
const WRONG_APP_TOKEN: &str = "wrong-app-secret-token-7f3a9c";
const WRONG_GRANT_TOKEN: &str = "wrong-grant-token-1b2d4e";

/// What the functions log with `RUST_LOG=trace`: everything, except that
/// their filter caps the AWS SDK's orchestrator at DEBUG (at TRACE it prints
/// whole DynamoDB responses, shop secrets included; found by this test).
const CAPTURE_RUST_LOG: &str = "trace";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per binary, before anything
/// else logs) and returns the buffer.
fn captured_logs() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_env_filter(bridge::logging::log_filter(Some(CAPTURE_RUST_LOG)))
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .init();
            captured
        })
        .clone()
}

fn forbidden_strings() -> Vec<(String, String)> {
    let payload = SECRET.trim_start_matches("whsec_");
    let hex: String = SECRET_KEY_TEXT
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut out = vec![
        ("webhook secret".to_owned(), SECRET.to_owned()),
        (
            "webhook secret base64 payload".to_owned(),
            payload.trim_end_matches('=').to_owned(),
        ),
        ("webhook key as text".to_owned(), SECRET_KEY_TEXT.to_owned()),
        ("webhook key as hex".to_owned(), hex),
        (
            "other shop's secret".to_owned(),
            OTHER_SECRET.trim_start_matches("whsec_").to_owned(),
        ),
    ];
    for (what, token) in [
        (
            "app secret token",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        ),
        (
            "agreement grant token",
            economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
        ),
        ("wrong app secret token", WRONG_APP_TOKEN),
        ("wrong agreement grant token", WRONG_GRANT_TOKEN),
    ] {
        out.push((what.to_owned(), token.to_owned()));
    }
    out
}

fn assert_no_secret(what: &str, text: &str) {
    for (name, secret) in forbidden_strings() {
        assert!(
            !text.contains(&secret),
            "{what} contains the {name}: …{}…",
            excerpt(text, &secret)
        );
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(120)
        .map(|(i, _)| i)
        .unwrap_or(0);
    text[start..].chars().take(240 + needle.len()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_debug_output_or_errors_of_a_full_run() {
    let logs = captured_logs();
    tracing::info!("capture check: this line must be captured");
    let stack = Stack::start().await;

    // 1. A good shop: webhook → ingest → transfer → e-conomic → ok.
    let acme = stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "S-1", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_s1", &body).await.0, 202);
    let record = stack
        .transfer_until("acme", "S-1", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);

    // 2. A shop whose e-conomic tokens are wrong: the order fails.
    let broken = ShopConfig {
        shop_id: "broken".to_owned(),
        display_name: "Broken tokens".to_owned(),
        enabled: true,
        trigger: Trigger::Paid,
        webhook_secrets: vec![WebhookSecret {
            secret: Secret::new(SECRET),
            valid_until: None,
        }],
        economic: EconomicCredentials {
            app_secret_token: Secret::new(WRONG_APP_TOKEN),
            agreement_grant_token: Secret::new(WRONG_GRANT_TOKEN),
        },
        mapping: serde_json::from_value(json!({})).expect("mapping"),
    };
    DynamoShopStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.shops_table,
    )
    .put(&broken)
    .await
    .expect("put shop");
    let body = order_event("order.paid", "S-2", "239.00");
    assert_eq!(stack.send_signed("broken", "msg_s2", &body).await.0, 202);
    let record = stack
        .transfer_until("broken", "S-2", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(record.label, Label::Failed);
    let reason = record.last_error.clone().unwrap_or_default();
    assert_no_secret("the failed order's reason", &reason);

    // 3. A badly signed webhook (signed with another shop's secret).
    let headers = signed_headers(OTHER_SECRET, "msg_s3", now(), &body);
    let (status, answer) = stack.deliver("acme", headers, &body).await;
    assert_eq!(status, 401);
    assert_no_secret("the 401 answer", &answer.to_string());

    // Debug output of configuration, API handles and errors.
    assert_no_secret(
        "Debug of ShopConfig",
        &format!("{acme:?} {broken:?} {acme:#?}"),
    );
    let client = EconomicClient::new(ClientConfig {
        base_url: stack.sandbox.base_url(),
        ..ClientConfig::default()
    })
    .expect("client");
    let api = client.for_agreement(Secret::new(WRONG_APP_TOKEN), Secret::new(WRONG_GRANT_TOKEN));
    assert_no_secret("Debug of AgreementApi", &format!("{api:?} {client:?}"));
    let error = api
        .vat_zones(Instant::now() + Duration::from_secs(10))
        .await
        .expect_err("wrong tokens are refused");
    assert_no_secret(
        "an e-conomic error",
        &format!("{error} | {error:?} | {}", error.reason()),
    );
    let verify_error = verify(
        &acme.webhook_secrets,
        &SignatureHeaders {
            id: Some("x"),
            timestamp: Some(&now().to_string()),
            signature: Some("v1,AAAA"),
        },
        b"{}",
        time::OffsetDateTime::now_utc(),
    )
    .expect_err("bad signature");
    assert_no_secret(
        "a verification error",
        &format!("{verify_error} {verify_error:?}"),
    );

    // Everything logged during the run.
    let text = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
    assert!(
        text.contains("capture check: this line must be captured"),
        "the subscriber captured nothing"
    );
    assert!(
        text.contains("order transferred") && text.contains("webhook rejected"),
        "the run's events were captured ({} bytes)",
        text.len()
    );
    assert!(text.lines().count() > 100, "TRACE level from every crate");
    if std::env::var_os("DUMP_CAPTURED").is_some() {
        let _ = std::fs::write("/tmp/captured.log", &text);
    }
    assert_no_secret("the captured logs", &text);
}
