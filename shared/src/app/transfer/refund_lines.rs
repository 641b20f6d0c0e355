//! A refund's lines read from the shop when its webhook lacks them: a
//! WooCommerce refund on an order with several VAT rates (see
//! [`crate::domain::platform::woocommerce_refund`]). Read through the
//! [`ShopRefunds`](crate::ports::ShopRefunds) port with the REST API key
//! of the shop's `platform.write_back`, on every attempt (nothing fetched
//! is stored: the refund in the shop is the record), and only once the
//! order's invoice is known, so a refund waiting for its invoice costs the
//! shop nothing. A timeout or 5xx is retried like an e-conomic outage;
//! rejected credentials or a deleted refund fail the refund with the reason.

use super::{Failure, Transfer, TransferFailure};
use crate::domain::order::refund::Refund;
use crate::domain::platform::{refund_from_snapshot_with_lines, StoredRefund};
use crate::domain::shop::{PlatformConfig, ShopConfig};
use std::time::Instant;

impl<O, S, Q, I, C, R, N> Transfer<O, S, Q, I, C, R, N> {
    /// The refund to credit: as stored, or with its lines read from the shop.
    pub(super) async fn refund_to_credit(
        &self,
        stored: StoredRefund,
        snapshot: &str,
        shop: &ShopConfig,
        deadline: Instant,
    ) -> Result<Refund, Failure> {
        let (order_id, refund_id) = match stored {
            StoredRefund::Ready(refund) => return Ok(refund),
            StoredRefund::FetchWoocommerceLines {
                order_id,
                refund_id,
            } => (order_id, refund_id),
        };
        let store = match shop.platform.as_ref() {
            Some(PlatformConfig::Woocommerce(config)) => config.write_back.as_ref(),
            _ => None,
        };
        let Some(store) = store else {
            return Err(TransferFailure::Refund(format!(
                "WooCommerce refund {refund_id} needs its lines from the WooCommerce REST API: \
                 add `platform.write_back` (`store_url`, `consumer_key`, `consumer_secret`) to \
                 the shop"
            ))
            .into());
        };
        let fetched = self
            .shop_refunds
            .woocommerce_refund(store, &order_id, &refund_id, deadline)
            .await
            .map_err(|error| {
                tracing::warn!(
                    reason = %error.reason,
                    transient = error.transient,
                    "reading the refund from WooCommerce failed"
                );
                TransferFailure::ShopRead(error)
            })?;
        tracing::info!(
            bytes = fetched.len(),
            "read the refund's lines from the WooCommerce REST API"
        );
        refund_from_snapshot_with_lines(snapshot, shop.platform.as_ref(), &fetched)
            .map_err(|e| TransferFailure::Refund(e.to_string()).into())
    }
}
