//! The shop's requests on an order in the platforms' own webhooks: a
//! Shopify `orders/cancelled` delivery or a WooCommerce order that reached
//! status `cancelled` cancels it; a Shopify `orders/updated` delivery whose
//! order carries the tag `e-conomic-pending` re-sends it (the merchant set
//! the tag, as in the system this replaces).

use crate::domain::order::OrderRequest;
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
}
