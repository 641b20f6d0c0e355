//! e-conomic's token bucket as the sandbox plays it (NOTES.md, LIVE): every
//! answer carries `X-RateLimiting: token-limit-<L>-per-<W>-seconds:
//! <used>/<L>` and `X-CallCost: <n>`, an empty bucket answers 429, the
//! bucket refills over time; whether that 429 carries `Retry-After` is
//! unconfirmed, so it is a switch. Raw HTTP, no client logic in between.

use economic_sandbox::{start, AgreementTokens, Faults, SandboxConfig, SandboxHandle};
use serde_json::json;
use std::time::Duration;

struct Seen {
    status: u16,
    rate_limiting: Option<String>,
    call_cost: Option<String>,
    retry_after: Option<String>,
}

async fn send(sb: &SandboxHandle, method: &str, path: &str, grant: &str) -> Seen {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = reqwest::Client::new()
        .request(method.clone(), format!("{}{path}", sb.base_url()))
        .header(
            "X-AppSecretToken",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        )
        .header("X-AgreementGrantToken", grant)
        .header("Content-Type", "application/json");
    if method == reqwest::Method::POST {
        request = request.body(
            json!({"name": "Rate", "currency": "DKK", "customerGroup": {"customerGroupNumber": 1},
                   "paymentTerms": {"paymentTermsNumber": 1}, "vatZone": {"vatZoneNumber": 1}})
            .to_string(),
        );
    }
    let response = request.send().await.expect("sandbox answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Seen {
        status: response.status().as_u16(),
        rate_limiting: header("x-ratelimiting"),
        call_cost: header("x-callcost"),
        retry_after: header("retry-after"),
    }
}

async fn get(sb: &SandboxHandle, path: &str) -> Seen {
    send(
        sb,
        "GET",
        path,
        economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
    )
    .await
}

async fn sandbox(faults: Faults) -> SandboxHandle {
    start(SandboxConfig {
        faults,
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox")
}

#[tokio::test]
async fn every_answer_carries_the_headers_in_economics_format() {
    // e-conomic's own shape: 10,000 tokens per 60 s.
    let sb = sandbox(Faults::default()).await;
    let a = get(&sb, "/vat-zones").await;
    assert_eq!(
        (a.status, a.rate_limiting.as_deref(), a.call_cost.as_deref()),
        (
            200,
            Some("token-limit-10000-per-60-seconds: 1/10000"),
            Some("1")
        )
    );

    // A bucket that refills too slowly to blur the count (10,000 tokens a
    // week), and writes at 3 tokens.
    sb.set_faults(Faults {
        token_window_seconds: 7 * 24 * 3600,
        write_call_cost: 3,
        ..Faults::default()
    });
    let grant = economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN;
    // 200, 404, 400 (bad filter field) and 201 (a write).
    let answers = [
        get(&sb, "/vat-zones").await,
        get(&sb, "/customers/999999").await,
        get(&sb, "/invoices/drafts?filter=nosuchfield$eq:1").await,
        send(&sb, "POST", "/customers", grant).await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 404, 400, 201]);
    let headers: Vec<(&str, &str)> = answers
        .iter()
        .map(|a| {
            (
                a.rate_limiting.as_deref().unwrap_or("absent"),
                a.call_cost.as_deref().unwrap_or("absent"),
            )
        })
        .collect();
    assert_eq!(
        headers,
        [
            ("token-limit-10000-per-604800-seconds: 1/10000", "1"),
            ("token-limit-10000-per-604800-seconds: 2/10000", "1"),
            ("token-limit-10000-per-604800-seconds: 3/10000", "1"),
            ("token-limit-10000-per-604800-seconds: 6/10000", "3"),
        ]
    );
    // No agreement, no bucket: a 401 carries neither header.
    let refused = send(&sb, "GET", "/vat-zones", "wrong-grant").await;
    assert_eq!(refused.status, 401);
    assert_eq!((refused.rate_limiting, refused.call_cost), (None, None));
}

#[tokio::test]
async fn an_empty_bucket_answers_429_and_charges_nothing() {
    // 3 tokens per hour: nothing measurable refills during the test.
    let sb = sandbox(Faults {
        token_limit: 3,
        token_window_seconds: 3600,
        ..Faults::default()
    })
    .await;
    for used in 1..=3 {
        let a = get(&sb, "/vat-zones").await;
        assert_eq!(a.status, 200);
        assert_eq!(
            a.rate_limiting.as_deref(),
            Some(format!("token-limit-3-per-3600-seconds: {used}/3").as_str())
        );
    }
    for _ in 0..2 {
        let a = get(&sb, "/vat-zones").await;
        assert_eq!(a.status, 429);
        assert_eq!(
            a.rate_limiting.as_deref(),
            Some("token-limit-3-per-3600-seconds: 3/3")
        );
        assert_eq!(a.call_cost.as_deref(), Some("0"));
    }
    let log = sb.requests();
    assert_eq!(
        log.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
        [
            "answered",
            "answered",
            "answered",
            "token-limit",
            "token-limit"
        ]
    );
    // The bucket is per agreement: another agreement still has its tokens.
    let two = start(SandboxConfig {
        agreements: vec![
            AgreementTokens {
                app_secret_token: economic_sandbox::DEFAULT_APP_SECRET_TOKEN.into(),
                agreement_grant_token: "grant-one".into(),
            },
            AgreementTokens {
                app_secret_token: economic_sandbox::DEFAULT_APP_SECRET_TOKEN.into(),
                agreement_grant_token: "grant-two".into(),
            },
        ],
        faults: Faults {
            token_limit: 1,
            token_window_seconds: 3600,
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .expect("sandbox");
    assert_eq!(
        send(&two, "GET", "/vat-zones", "grant-one").await.status,
        200
    );
    assert_eq!(
        send(&two, "GET", "/vat-zones", "grant-one").await.status,
        429
    );
    assert_eq!(
        send(&two, "GET", "/vat-zones", "grant-two").await.status,
        200
    );
}

#[tokio::test]
async fn the_bucket_refills_over_time() {
    // 4 tokens per 2 s: one token comes back every 500 ms.
    let sb = sandbox(Faults {
        token_limit: 4,
        token_window_seconds: 2,
        ..Faults::default()
    })
    .await;
    // Spend until refused (a token may come back during the first calls).
    let mut calls = 0;
    while get(&sb, "/vat-zones").await.status == 200 {
        calls += 1;
        assert!(calls <= 10, "the bucket never emptied");
    }
    assert!(calls >= 4, "refused after {calls} calls");
    // 600 ms bring back at least one token.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(&sb, "/vat-zones").await.status, 200);
    // A whole window later the bucket is full: the next call is the
    // only token spent.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        get(&sb, "/vat-zones").await.rate_limiting.as_deref(),
        Some("token-limit-4-per-2-seconds: 1/4")
    );
}

#[tokio::test]
async fn retry_after_on_a_token_limit_429_is_a_switch() {
    // 2 tokens per 60 s: one token comes back every 30 s.
    let mut faults = Faults {
        token_limit: 2,
        token_window_seconds: 60,
        ..Faults::default()
    };
    let sb = sandbox(faults.clone()).await;
    get(&sb, "/vat-zones").await;
    get(&sb, "/vat-zones").await;
    let without = get(&sb, "/vat-zones").await;
    assert_eq!((without.status, without.retry_after), (429, None));

    // Switched on over the control endpoint; the shape is unchanged, so
    // the bucket stays empty.
    faults.retry_after_on_token_limit = true;
    let put = reqwest::Client::new()
        .put(format!("{}/_sandbox/faults", sb.base_url()))
        .body(serde_json::to_string(&faults).expect("json"))
        .send()
        .await
        .expect("control");
    assert_eq!(put.status().as_u16(), 200);
    let with = get(&sb, "/vat-zones").await;
    assert_eq!(with.status, 429);
    let seconds: u64 = with
        .retry_after
        .as_deref()
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((29..=30).contains(&seconds), "{seconds}");
}

#[tokio::test]
async fn the_control_endpoint_reshapes_the_bucket_and_zero_turns_it_off() {
    let sb = sandbox(Faults::default()).await;
    get(&sb, "/vat-zones").await;
    let put = |body: serde_json::Value| {
        let url = format!("{}/_sandbox/faults", sb.base_url());
        async move {
            reqwest::Client::new()
                .put(url)
                .body(body.to_string())
                .send()
                .await
                .expect("control")
                .status()
                .as_u16()
        }
    };
    // A new shape starts full.
    assert_eq!(
        put(json!({"tokenLimit": 50, "tokenWindowSeconds": 10})).await,
        200
    );
    assert_eq!(
        get(&sb, "/vat-zones").await.rate_limiting.as_deref(),
        Some("token-limit-50-per-10-seconds: 1/50")
    );
    assert_eq!(put(json!({"tokenLimit": 0})).await, 200);
    let off = get(&sb, "/vat-zones").await;
    assert_eq!(
        (off.status, off.rate_limiting, off.call_cost),
        (200, None, None)
    );
}
