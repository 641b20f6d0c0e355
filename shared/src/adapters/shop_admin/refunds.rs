//! WooCommerce refunds read from the REST API v3:
//! `GET /wp-json/wc/v3/orders/{order_id}/refunds/{refund_id}` with the
//! shop's REST API key over HTTP Basic auth (HTTPS; plain HTTP only to a
//! local fake). WooCommerce also takes the key as `consumer_key` and
//! `consumer_secret` query parameters for servers that drop the
//! `Authorization` header; the bridge does not, since a query string ends
//! up in access logs.

use super::{admin_client, retry_after, REQUEST_TIMEOUT};
use crate::domain::write_back_config::WoocommerceWriteBack;
use crate::ports::{ShopRead, ShopReadError, ShopRefunds};
use serde_json::Value;
use std::time::Instant;

/// The largest refund body read (a refund of hundreds of lines is far below).
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Reads WooCommerce refunds over HTTPS.
#[derive(Debug, Clone)]
pub struct HttpShopRefunds {
    client: reqwest::Client,
}

impl HttpShopRefunds {
    pub fn new() -> Result<Self, String> {
        Ok(HttpShopRefunds {
            client: admin_client()?,
        })
    }

    async fn read(
        &self,
        store: &WoocommerceWriteBack,
        order_id: &str,
        refund_id: &str,
        deadline: Instant,
    ) -> Result<Vec<u8>, ShopReadError> {
        let numeric = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
        if !numeric(order_id) || !numeric(refund_id) {
            return Err(ShopReadError {
                transient: false,
                reason: format!(
                    "order {order_id:?} or refund {refund_id:?} is not a WooCommerce id"
                ),
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ShopReadError {
                transient: true,
                reason: "no time left in this invocation to read the refund from WooCommerce"
                    .to_owned(),
            });
        }
        let base = store.store_url.trim().trim_end_matches('/');
        let url = format!("{base}/wp-json/wc/v3/orders/{order_id}/refunds/{refund_id}");
        let response = self
            .client
            .get(&url)
            .timeout(left.min(REQUEST_TIMEOUT))
            .basic_auth(
                store.consumer_key.expose(),
                Some(store.consumer_secret.expose()),
            )
            .send()
            .await
            .map_err(|e| ShopReadError {
                transient: true,
                reason: format!("WooCommerce unreachable: {}", e.without_url()),
            })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let after = retry_after(&response);
            // WooCommerce answers errors as {"code": "...", "message": "..."}.
            let code = response
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v["code"].as_str().map(str::to_owned))
                .unwrap_or_default();
            return Err(status_error(status, &code, order_id, refund_id, after));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_BODY_BYTES as u64)
        {
            return Err(too_large());
        }
        let body = response.bytes().await.map_err(|e| ShopReadError {
            transient: true,
            reason: format!("WooCommerce's answer was cut off: {}", e.without_url()),
        })?;
        if body.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        Ok(body.to_vec())
    }
}

impl ShopRefunds for HttpShopRefunds {
    fn woocommerce_refund<'a>(
        &'a self,
        store: &'a WoocommerceWriteBack,
        order_id: &'a str,
        refund_id: &'a str,
        deadline: Instant,
    ) -> ShopRead<'a> {
        Box::pin(self.read(store, order_id, refund_id, deadline))
    }
}

fn too_large() -> ShopReadError {
    ShopReadError {
        transient: false,
        reason: format!("WooCommerce's refund is larger than {MAX_BODY_BYTES} bytes"),
    }
}

/// What an HTTP error status means for reading refund `refund_id`.
fn status_error(
    status: u16,
    code: &str,
    order_id: &str,
    refund_id: &str,
    after: Option<u32>,
) -> ShopReadError {
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" ({code})")
    };
    let refused = |reason: String| ShopReadError {
        transient: false,
        reason,
    };
    match status {
        401 => refused(format!(
            "WooCommerce answered HTTP 401{code} to reading refund {refund_id}: the shop's \
             `platform.write_back.consumer_key` or `consumer_secret` was rejected"
        )),
        403 => refused(format!(
            "WooCommerce answered HTTP 403{code} to reading refund {refund_id}: the REST API key \
             in `platform.write_back` lacks read access"
        )),
        404 => refused(format!(
            "WooCommerce answered HTTP 404{code}: order {order_id} has no refund {refund_id} \
             (deleted in the shop?) or `platform.write_back.store_url` has no REST API"
        )),
        408 | 429 | 500..=599 => ShopReadError {
            transient: true,
            reason: format!(
                "WooCommerce answered HTTP {status}{code} to reading refund {refund_id}{}",
                after.map_or(String::new(), |s| format!(" (retry after {s} s)"))
            ),
        },
        _ => refused(format!(
            "WooCommerce answered HTTP {status}{code} to reading refund {refund_id}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_deleted_refunds_are_final_overload_is_retried() {
        let rejected = status_error(401, "woocommerce_rest_cannot_view", "77", "80", None);
        assert!(!rejected.transient);
        assert!(
            rejected.reason.contains("platform.write_back.consumer_key"),
            "{}",
            rejected.reason
        );
        let no_access = status_error(403, "", "77", "80", None);
        assert!(!no_access.transient && no_access.reason.contains("read access"));
        let gone = status_error(404, "woocommerce_rest_invalid_id", "77", "80", None);
        assert!(!gone.transient);
        assert!(gone.reason.contains("no refund 80") && gone.reason.contains("invalid_id"));
        for status in [408, 429, 500, 503] {
            assert!(
                status_error(status, "", "77", "80", Some(5)).transient,
                "{status}"
            );
        }
        assert!(!status_error(400, "", "77", "80", None).transient);
    }
}
