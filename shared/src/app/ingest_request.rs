//! Ingest's part of the shop's requests on an order (`order.cancelled`,
//! `order.resend`, and their platform forms): verified like any delivery,
//! then handed to transfer as a queue message, which acts under the
//! order's lease. Nothing is written here, so a repeated request is
//! harmless: cancelling a cancelled order or re-sending a pending one does
//! nothing.

use super::{Ingest, WebhookResponse};
use crate::domain::order::OrderRequest;
use crate::ports::{Cause, OrderMessage, OrderStore, ShopStore, TransferQueue};
use serde_json::json;

impl<S: ShopStore, O: OrderStore, Q: TransferQueue> Ingest<S, O, Q> {
    /// 202 `accepted` once the request is on the transfer queue; 503 (the
    /// shop sends it again) when the queue cannot be reached.
    pub(super) async fn order_request(
        &self,
        shop_id: &str,
        order_id: &str,
        request: OrderRequest,
    ) -> WebhookResponse {
        let message = OrderMessage {
            shop_id: shop_id.to_owned(),
            order_id: order_id.to_owned(),
            cause: match request {
                OrderRequest::Cancel => Cause::Cancel,
                OrderRequest::Resend => Cause::ShopResend,
            },
        };
        match self.queue.enqueue(&message).await {
            Ok(()) => {
                tracing::info!(request = request.as_str(), "order request queued");
                WebhookResponse::new(202, json!({ "status": "accepted", "order_id": order_id }))
            }
            Err(error) => {
                tracing::warn!(%error, request = request.as_str(), "order request not queued");
                WebhookResponse::unavailable()
            }
        }
    }
}
