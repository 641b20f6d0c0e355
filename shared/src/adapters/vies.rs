//! The VIES adapter: verifies EU VAT numbers with the European
//! Commission's VIES REST service (`POST {base}/check-vat-number` with
//! `{"countryCode": "DE", "vatNumber": "123456789"}`, answered with
//! `{"valid": true|false, …}`; public, no key).
//!
//! Only a `valid` boolean in a 200 answer is an answer. Everything else (a
//! member state's registry down, `MS_UNAVAILABLE`, `TIMEOUT`,
//! `MS_MAX_CONCURRENT_REQ`, any non-200, an unreadable body, a network
//! error) is [`VatRegistryUnavailable`]: the order waits. Answers are kept
//! for `cache_ttl` (a number checked this morning is not asked again for
//! every order of the day); unavailability is never cached.

use crate::domain::vat_number::{VatNumber, VatNumberCheck};
use crate::ports::{VatRegistry, VatRegistryUnavailable};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The public VIES REST service.
pub const VIES_URL: &str = "https://ec.europa.eu/taxation_customs/vies/rest-api";

#[derive(Debug)]
pub struct ViesRegistry {
    http: reqwest::Client,
    base_url: String,
    cache_ttl: Duration,
    cache: Mutex<HashMap<VatNumber, (Instant, VatNumberCheck)>>,
}

#[derive(serde::Deserialize)]
struct CheckAnswer {
    valid: Option<bool>,
}

impl ViesRegistry {
    /// `base_url` without a trailing slash (`VIES_URL`, or a fake's).
    pub fn new(base_url: &str, cache_ttl: Duration) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        ViesRegistry {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            cache_ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, number: &VatNumber) -> Option<VatNumberCheck> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(number)
            .filter(|(at, _)| at.elapsed() < self.cache_ttl)
            .map(|(_, check)| *check)
    }

    async fn ask(&self, number: &VatNumber) -> Result<VatNumberCheck, VatRegistryUnavailable> {
        let unavailable = |what: String| VatRegistryUnavailable(what);
        let response = self
            .http
            .post(format!("{}/check-vat-number", self.base_url))
            .json(&serde_json::json!({
                "countryCode": number.prefix,
                "vatNumber": number.national,
            }))
            .send()
            .await
            .map_err(|e| unavailable(format!("no answer ({})", e.without_url())))?;
        let status = response.status();
        if !status.is_success() {
            return Err(unavailable(format!("HTTP {}", status.as_u16())));
        }
        let answer: CheckAnswer = response
            .json()
            .await
            .map_err(|_| unavailable("an answer without `valid`".to_owned()))?;
        match answer.valid {
            Some(true) => Ok(VatNumberCheck::Valid),
            Some(false) => Ok(VatNumberCheck::Invalid),
            None => Err(unavailable("an answer without `valid`".to_owned())),
        }
    }
}

impl VatRegistry for ViesRegistry {
    async fn check(&self, number: &VatNumber) -> Result<VatNumberCheck, VatRegistryUnavailable> {
        if let Some(check) = self.cached(number) {
            return Ok(check);
        }
        let check = self.ask(number).await?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(number.clone(), (Instant::now(), check));
        tracing::info!(vat_number = %number, ?check, "VIES answered");
        Ok(check)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A fake VIES over real HTTP: `DE123456789` is valid, `DE999999999`
    /// gets VIES's `MS_UNAVAILABLE` error (HTTP 500), anything else is
    /// invalid. Counts requests.
    async fn fake_vies() -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buffer = vec![0u8; 8192];
                let mut read = 0;
                // Headers and the small JSON body arrive together or soon after.
                loop {
                    let n = socket.read(&mut buffer[read..]).await.unwrap_or(0);
                    read += n;
                    let text = String::from_utf8_lossy(&buffer[..read]);
                    if n == 0 || text.contains('}') {
                        break;
                    }
                }
                let request = String::from_utf8_lossy(&buffer[..read]).to_string();
                let (status, body) = if request.contains("\"999999999\"") {
                    (
                        "500 Internal Server Error",
                        r#"{"actionSucceed":false,"errorWrappers":[{"error":"MS_UNAVAILABLE"}]}"#,
                    )
                } else if request.contains("\"123456789\"") && request.contains("\"DE\"") {
                    (
                        "200 OK",
                        r#"{"countryCode":"DE","vatNumber":"123456789","valid":true}"#,
                    )
                } else {
                    ("200 OK", r#"{"valid":false}"#)
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        (url, requests)
    }

    fn number(text: &str) -> VatNumber {
        VatNumber::parse(text).unwrap()
    }

    #[tokio::test]
    async fn valid_invalid_and_unavailable_answers() {
        let (url, _) = fake_vies().await;
        let vies = ViesRegistry::new(&url, Duration::from_secs(3600));
        assert_eq!(
            vies.check(&number("DE123456789")).await,
            Ok(VatNumberCheck::Valid)
        );
        assert_eq!(
            vies.check(&number("DE111111111")).await,
            Ok(VatNumberCheck::Invalid)
        );
        let down = vies.check(&number("DE999999999")).await;
        assert!(
            matches!(&down, Err(e) if e.0.contains("HTTP 500")),
            "{down:?}"
        );
    }

    #[tokio::test]
    async fn answers_are_cached_and_unavailability_is_not() {
        let (url, requests) = fake_vies().await;
        let vies = ViesRegistry::new(&url, Duration::from_secs(3600));
        for _ in 0..3 {
            assert_eq!(
                vies.check(&number("DE123456789")).await,
                Ok(VatNumberCheck::Valid)
            );
        }
        assert_eq!(requests.load(Ordering::SeqCst), 1);
        for _ in 0..2 {
            assert!(vies.check(&number("DE999999999")).await.is_err());
        }
        assert_eq!(requests.load(Ordering::SeqCst), 3);
        // A zero lifetime asks every time.
        let uncached = ViesRegistry::new(&url, Duration::ZERO);
        uncached.check(&number("DE123456789")).await.unwrap();
        uncached.check(&number("DE123456789")).await.unwrap();
        assert_eq!(requests.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn no_server_is_unavailable_not_invalid() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let vies = ViesRegistry::new(&url, Duration::from_secs(60));
        assert!(vies.check(&number("DE123456789")).await.is_err());
    }
}
