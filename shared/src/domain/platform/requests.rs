//! The shop's requests on an order in the platforms' own webhooks: a
//! Shopify `orders/cancelled` delivery or a WooCommerce order that reached
//! status `cancelled` cancels it; a Shopify `orders/updated` delivery whose
//! order carries the tag `e-conomic-pending` re-sends it (the merchant set
//! the tag, as in the system this replaces).

use crate::domain::lifecycle::Label;
use crate::domain::order::OrderRequest;
use crate::domain::platform::woocommerce::{MetaValue, WooOrder};
use crate::domain::write_back::WOO_LABEL_KEY;
use serde::Deserialize;

/// The tag a merchant sets on a Shopify order to send it again.
pub const RESEND_TAG: &str = "e-conomic-pending";

#[derive(Deserialize)]
struct Tags {
    #[serde(default)]
    tags: Option<String>,
}

/// What a Shopify delivery on `topic` asks of the order, if anything.
pub fn shopify_request(topic: &str, body: &[u8]) -> Option<OrderRequest> {
    match topic {
        "orders/cancelled" => Some(OrderRequest::Cancel),
        "orders/updated" => {
            let tags: Tags = serde_json::from_slice(body).ok()?;
            // Shopify sends the tags as one comma-separated string.
            tags.tags?
                .split(',')
                .any(|tag| tag.trim().eq_ignore_ascii_case(RESEND_TAG))
                .then_some(OrderRequest::Resend)
        }
        _ => None,
    }
}

/// Whether a WooCommerce order still shows the bridge's own `failed`
/// write-back (order meta [`WOO_LABEL_KEY`]). Writing that meta saves the
/// order, and WooCommerce answers every save with an `order.updated`
/// delivery at the order's unchanged status, which would re-open the failed
/// order, fail it again, write again: a loop. So an order event for an
/// order whose meta says `e-conomic-failed` is not taken; the merchant
/// re-sends by setting the field to `e-conomic-pending` (or removing it)
/// and saving, the WooCommerce counterpart of Shopify's re-send tag.
/// Cancellations are taken regardless.
pub fn woocommerce_shows_failed(order: &WooOrder) -> bool {
    order.meta_data.iter().any(|meta| {
        meta.key == WOO_LABEL_KEY
            && matches!(&meta.value, Some(MetaValue::Text(label)) if label.trim() == Label::Failed.as_str())
    })
}

/// Whether a Shopify order carries the bridge's `e-conomic-failed` tag
/// without the merchant's re-send tag: an order event for it (a mapped
/// `orders/updated` echoing our tag write, a later `orders/fulfilled`) is
/// then not taken as a re-send, as for WooCommerce above.
pub fn shopify_shows_failed(body: &[u8]) -> bool {
    let Ok(Tags { tags: Some(tags) }) = serde_json::from_slice::<Tags>(body) else {
        return false;
    };
    let has = |wanted: &str| {
        tags.split(',')
            .any(|tag| tag.trim().eq_ignore_ascii_case(wanted))
    };
    has(Label::Failed.as_str()) && !has(RESEND_TAG)
}

/// What a WooCommerce order in `status` asks, if anything.
pub fn woocommerce_request(status: &str) -> Option<OrderRequest> {
    (status.trim() == "cancelled").then_some(OrderRequest::Cancel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellations_and_the_resend_tag_are_read_from_the_platforms() {
        assert_eq!(
            shopify_request("orders/cancelled", b"{}"),
            Some(OrderRequest::Cancel)
        );
        let tagged = br#"{"id": 1, "tags": "vip, E-conomic-pending ,gift"}"#;
        assert_eq!(
            shopify_request("orders/updated", tagged),
            Some(OrderRequest::Resend)
        );
        let other = br#"{"id": 1, "tags": "vip, e-conomic-ok"}"#;
        assert_eq!(shopify_request("orders/updated", other), None);
        assert_eq!(shopify_request("orders/updated", br#"{"id": 1}"#), None);
        assert_eq!(shopify_request("orders/updated", b"not json"), None);
        assert_eq!(shopify_request("orders/paid", tagged), None);
        assert_eq!(woocommerce_request("cancelled"), Some(OrderRequest::Cancel));
        assert_eq!(woocommerce_request("refunded"), None);
    }

    #[test]
    fn a_shopify_order_tagged_failed_without_the_resend_tag_is_not_re_opened() {
        assert!(shopify_shows_failed(
            br#"{"id": 1, "tags": "vip, e-conomic-failed"}"#
        ));
        assert!(!shopify_shows_failed(
            br#"{"id": 1, "tags": "e-conomic-failed, e-conomic-pending"}"#
        ));
        assert!(!shopify_shows_failed(
            br#"{"id": 1, "tags": "vip, e-conomic-ok"}"#
        ));
        assert!(!shopify_shows_failed(br#"{"id": 1, "tags": ""}"#));
        assert!(!shopify_shows_failed(br#"{"id": 1}"#));
        assert!(!shopify_shows_failed(b"not json"));
    }

    #[test]
    fn a_woocommerce_order_showing_our_failed_label_is_not_re_opened() {
        let order = |meta: serde_json::Value| {
            let mut body: serde_json::Value = serde_json::from_slice(include_bytes!(
                "../../../tests/fixtures/woocommerce/dk-coupon-incl-vat.json"
            ))
            .unwrap();
            body["meta_data"] = meta;
            serde_json::to_vec(&body).unwrap()
        };
        let shows = |meta| {
            let body = order(meta);
            woocommerce_shows_failed(&crate::domain::platform::woocommerce::parse(&body).unwrap())
        };
        assert!(shows(serde_json::json!([
            {"id": 1, "key": "_billing_cvr", "value": "12345678"},
            {"id": 2, "key": "econ_bridge_label", "value": "e-conomic-failed"}
        ])));
        // The merchant's re-send, our ok, or no write-back at all.
        for label in ["e-conomic-pending", "e-conomic-ok", ""] {
            assert!(!shows(
                serde_json::json!([{"key": "econ_bridge_label", "value": label}])
            ));
        }
        assert!(!shows(
            serde_json::json!([{"key": "econ_bridge_reason", "value": "e-conomic-failed"}])
        ));
        assert!(!shows(serde_json::json!([])));
    }
}
