//! The WooCommerce REST API v3 with a consumer key and secret over HTTP
//! Basic auth (HTTPS only, but for a local fake): `PUT
//! /wp-json/wc/v3/orders/{id}` sets the label and reason meta, and on
//! failure or cancellation `POST /wp-json/wc/v3/orders/{id}/notes` adds a
//! private order note with the reason.

use super::{retry_after, unreachable};
use crate::domain::lifecycle::Label;
use crate::domain::write_back::{
    shop_reason, woocommerce_note, WoocommerceWriteBack, WOO_LABEL_KEY, WOO_REASON_KEY,
};
use crate::ports::WriteOutcome;
use serde_json::{json, Value};
use std::time::Duration;

pub(super) struct RestApi<'a> {
    pub client: &'a reqwest::Client,
    pub settings: &'a WoocommerceWriteBack,
    pub timeout: Duration,
}

impl RestApi<'_> {
    pub async fn write_label(
        &self,
        order_id: &str,
        label: Label,
        reason: Option<&str>,
    ) -> WriteOutcome {
        let base = self.settings.store_url.trim().trim_end_matches('/');
        let order_url = format!("{base}/wp-json/wc/v3/orders/{order_id}");
        let shown_reason = match label {
            Label::Failed | Label::Cancelled => shop_reason(reason.unwrap_or("no reason recorded")),
            _ => String::new(),
        };
        let meta = json!({"meta_data": [
            {"key": WOO_LABEL_KEY, "value": label.as_str()},
            {"key": WOO_REASON_KEY, "value": shown_reason},
        ]});
        if let Err(outcome) = self
            .send(self.client.put(&order_url), &meta, order_id)
            .await
        {
            return outcome;
        }
        if shown_reason.is_empty() {
            return WriteOutcome::Written;
        }
        let note = json!({
            "note": woocommerce_note(label, reason.unwrap_or("no reason recorded")),
            "customer_note": false,
        });
        let notes_url = format!("{order_url}/notes");
        match self
            .send(self.client.post(&notes_url), &note, order_id)
            .await
        {
            Ok(()) => WriteOutcome::Written,
            Err(outcome) => outcome,
        }
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        body: &Value,
        order_id: &str,
    ) -> Result<(), WriteOutcome> {
        let response = request
            .timeout(self.timeout)
            .basic_auth(
                self.settings.consumer_key.expose(),
                Some(self.settings.consumer_secret.expose()),
            )
            .json(body)
            .send()
            .await
            .map_err(|e| unreachable("WooCommerce", e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let after = retry_after(&response);
        // WooCommerce answers errors as {"code": "...", "message": "..."}.
        let code = response
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["code"].as_str().map(str::to_owned))
            .unwrap_or_default();
        Err(http_status(status, &code, order_id, after))
    }
}

fn http_status(status: u16, code: &str, order_id: &str, after: Option<u32>) -> WriteOutcome {
    let code = if code.is_empty() {
        String::new()
    } else {
        format!(" ({code})")
    };
    match status {
        401 => WriteOutcome::Refused(format!(
            "WooCommerce answered HTTP 401{code}: the consumer key or secret was rejected"
        )),
        403 => WriteOutcome::Refused(format!(
            "WooCommerce answered HTTP 403{code}: the API key lacks write access"
        )),
        404 => WriteOutcome::Refused(format!(
            "WooCommerce answered HTTP 404{code}: no order {order_id} (deleted?) or no REST API at store_url"
        )),
        408 | 429 | 500..=599 => WriteOutcome::Retry {
            error: format!("WooCommerce answered HTTP {status}{code}"),
            after_seconds: after,
        },
        _ => WriteOutcome::Refused(format!("WooCommerce answered HTTP {status}{code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_and_missing_orders_are_final_overload_is_retried() {
        let gone = http_status(404, "woocommerce_rest_shop_order_invalid_id", "77", None);
        assert!(
            matches!(gone, WriteOutcome::Refused(ref e) if e.contains("invalid_id") && e.contains("77"))
        );
        assert!(matches!(
            http_status(401, "", "1", None),
            WriteOutcome::Refused(_)
        ));
        assert!(matches!(
            http_status(403, "", "1", None),
            WriteOutcome::Refused(_)
        ));
        assert_eq!(
            http_status(503, "", "1", Some(20)),
            WriteOutcome::Retry {
                error: "WooCommerce answered HTTP 503".into(),
                after_seconds: Some(20)
            }
        );
    }
}
