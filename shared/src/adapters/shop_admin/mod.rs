//! Label write-back over HTTP: the Shopify Admin GraphQL API and the
//! WooCommerce REST API ([`crate::domain::write_back`] says what is
//! written); and WooCommerce refunds read for their lines (`refunds`).
//! Redirects are not followed, every request has a deadline, and no error
//! quotes a URL or a secret.

mod refunds;
mod shopify;
mod woocommerce;

pub use refunds::HttpShopRefunds;

use crate::domain::lifecycle::Label;
use crate::domain::write_back::WriteBackTarget;
use crate::ports::{ShopWriter, WriteOutcome};
use std::time::{Duration, Instant};

/// The longest one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes labels into Shopify and WooCommerce stores.
#[derive(Debug, Clone)]
pub struct HttpShopWriter {
    client: reqwest::Client,
}

impl HttpShopWriter {
    pub fn new() -> Result<Self, String> {
        Ok(HttpShopWriter {
            client: admin_client()?,
        })
    }
}

/// The client for shops' admin APIs: no redirects, [`REQUEST_TIMEOUT`].
fn admin_client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(REQUEST_TIMEOUT)
        .user_agent(concat!(
            "econ-bridge-write-back/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| format!("HTTP client: {}", e.without_url()))
}

impl ShopWriter for HttpShopWriter {
    async fn write_label(
        &self,
        target: &WriteBackTarget,
        order_id: &str,
        label: Label,
        reason: Option<&str>,
        deadline: Instant,
    ) -> WriteOutcome {
        // Both platforms number their orders: anything else did not come
        // from the platform's webhook and cannot be addressed there.
        if order_id.is_empty() || !order_id.bytes().all(|b| b.is_ascii_digit()) {
            return WriteOutcome::Refused(format!(
                "order id {order_id:?} is not a platform order number"
            ));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return WriteOutcome::Retry {
                error: "no time left in this invocation".into(),
                after_seconds: None,
            };
        }
        let timeout = left.min(REQUEST_TIMEOUT);
        match target {
            WriteBackTarget::Shopify {
                admin_url,
                api_version,
                access_token,
            } => {
                let api = shopify::AdminApi {
                    client: &self.client,
                    endpoint: format!("{admin_url}/admin/api/{api_version}/graphql.json"),
                    access_token,
                    timeout,
                };
                api.write_label(order_id, label, reason).await
            }
            WriteBackTarget::Woocommerce(settings) => {
                let api = woocommerce::RestApi {
                    client: &self.client,
                    settings,
                    timeout,
                };
                api.write_label(order_id, label, reason).await
            }
        }
    }
}

/// A transport failure (no answer) as a retry.
fn unreachable(platform: &str, error: reqwest::Error) -> WriteOutcome {
    WriteOutcome::Retry {
        error: format!("{platform} unreachable: {}", error.without_url()),
        after_seconds: None,
    }
}

/// `Retry-After` in seconds, if the answer has one.
fn retry_after(response: &reqwest::Response) -> Option<u32> {
    response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| s.ceil() as u32)
}
