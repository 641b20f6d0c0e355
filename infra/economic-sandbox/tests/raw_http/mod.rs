//! Raw HTTP to the sandbox, so that no client logic stands between a test
//! and the answer: the status, `Location`, `X-ResultFromCache` and body.

use economic_sandbox::SandboxHandle;
use serde_json::Value;

pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub from_cache: bool,
    pub body: Value,
}

pub async fn send(
    sb: &SandboxHandle,
    method: &str,
    path: &str,
    key: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", sb.base_url()))
        .header(
            "X-AppSecretToken",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        )
        .header(
            "X-AgreementGrantToken",
            economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
        )
        .header("Content-Type", "application/json");
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.expect("sandbox answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (status, location) = (response.status().as_u16(), header("location"));
    let from_cache = header("x-resultfromcache").as_deref() == Some("true");
    let text = response.text().await.expect("body");
    Answer {
        status,
        location,
        from_cache,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}
