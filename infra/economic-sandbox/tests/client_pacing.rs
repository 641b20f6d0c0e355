//! The bridge's e-conomic client against the sandbox's token bucket: it
//! reads `X-RateLimiting` / `X-CallCost`, paces an agreement whose bucket
//! runs low, waits out a 429 by the header's arithmetic (or `Retry-After`
//! when sent) and never past the caller's deadline. Counts only: no
//! assertion on how long anything took.

use bridge::adapters::economic::{AgreementApi, ClientConfig, EconomicClient, RetryPolicy};
use bridge::domain::secret::Secret;
use economic_sandbox::{start, Faults, SandboxConfig, SandboxHandle};
use std::time::{Duration, Instant};

async fn sandbox(faults: Faults) -> SandboxHandle {
    start(SandboxConfig {
        faults,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox starts")
}

/// A fresh client: one process's pacer, knowing nothing yet.
fn api(sb: &SandboxHandle) -> AgreementApi {
    EconomicClient::new(ClientConfig {
        base_url: sb.base_url(),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_attempts: 5,
        },
        // These tests are about waiting in place; transfer's hand-back of
        // a longer wait is tested in the app.
        max_inline_pacing: Duration::from_secs(60),
    })
    .expect("client")
    .for_agreement(
        Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
        Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
    )
}

fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

fn refused(sb: &SandboxHandle) -> usize {
    sb.requests().iter().filter(|r| r.status == 429).count()
}

/// Spends the agreement's whole bucket from "elsewhere": raw requests,
/// which no pacer holds back, until one is refused.
async fn empty_the_bucket(sb: &SandboxHandle) {
    let http = reqwest::Client::new();
    for _ in 0..100 {
        let status = http
            .get(format!("{}/vat-zones", sb.base_url()))
            .header(
                "X-AppSecretToken",
                economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
            )
            .header(
                "X-AgreementGrantToken",
                economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
            )
            .send()
            .await
            .expect("sandbox answers")
            .status()
            .as_u16();
        if status == 429 {
            sb.clear_requests();
            return;
        }
    }
    panic!("the bucket never emptied");
}

#[tokio::test]
async fn a_low_bucket_is_paced_instead_of_answered_429() {
    // 5 tokens per 2 s: 20 calls need 6 s of refill.
    let sb = sandbox(Faults {
        token_limit: 5,
        token_window_seconds: 2,
        ..Faults::default()
    })
    .await;
    let a = api(&sb);
    for _ in 0..20 {
        assert_eq!(a.get_draft(1, deadline(10)).await.expect("answered"), None);
    }
    // The first 429 can only come before the client's first header.
    assert!(refused(&sb) <= 1, "{} × 429", refused(&sb));
    assert_eq!(sb.requests().len(), 20 + refused(&sb));
}

#[tokio::test]
async fn a_429_without_retry_after_waits_for_the_refill_the_header_implies() {
    // 2 tokens per second; the 429 carries no Retry-After.
    let sb = sandbox(Faults {
        token_limit: 2,
        token_window_seconds: 1,
        ..Faults::default()
    })
    .await;
    empty_the_bucket(&sb).await;
    let a = api(&sb);
    assert_eq!(a.get_draft(1, deadline(10)).await.expect("answered"), None);
    // One 429, then one call after the token came back; the retry policy's
    // 20 ms backoff alone would have been refused again.
    assert_eq!((a.calls(), refused(&sb)), (2, 1));
}

#[tokio::test]
async fn a_429_with_retry_after_is_obeyed() {
    let sb = sandbox(Faults {
        token_limit: 2,
        token_window_seconds: 1,
        retry_after_on_token_limit: true,
        ..Faults::default()
    })
    .await;
    empty_the_bucket(&sb).await;
    let a = api(&sb);
    assert_eq!(a.get_draft(1, deadline(10)).await.expect("answered"), None);
    assert_eq!((a.calls(), refused(&sb)), (2, 1));
    let log = sb.requests();
    assert_eq!(log[0].outcome, "token-limit");
}

#[tokio::test]
async fn pacing_never_waits_past_the_deadline() {
    // 2 tokens an hour: once empty, nothing comes back during the test.
    let sb = sandbox(Faults {
        token_limit: 2,
        token_window_seconds: 3600,
        ..Faults::default()
    })
    .await;
    empty_the_bucket(&sb).await;
    let a = api(&sb);
    let err = a.get_draft(1, deadline(2)).await.expect_err("throttled");
    assert_eq!(err.status(), Some(429));
    assert!(err.is_transient() && !err.outcome_unknown());
    assert_eq!(a.calls(), 1, "the 30-minute refill was not waited for");
    // Now the client knows: the next call is not even sent.
    let err = a.get_draft(1, deadline(2)).await.expect_err("paced");
    assert_eq!(err.status(), Some(429));
    assert_eq!(a.calls(), 1);
}
