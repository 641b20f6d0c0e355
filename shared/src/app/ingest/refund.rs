//! Ingest of `order.refunded`: the refund becomes its own record (keyed
//! `{order_id}#refund#{refund_id}`), pending at once, and is enqueued once.
//! Its content is kept as first received: a refund id names one refund.
//!
//! * a webhook id seen before, or a refund already credited → `duplicate`;
//! * a refund already pending → `accepted`, nothing written;
//! * a failed refund delivered again → pending again, enqueued;
//! * a shop without `credit_notes.enabled` → `ignored`.

use super::{contention_pause, Ingest, WebhookResponse, WRITE_ROUNDS};
use crate::domain::lifecycle::{HistoryEntry, IngestWrite, Label, OrderRecord};
use crate::domain::order::refund::{
    refund_record_id, Refund, REFUND_EVENT_TYPE, REFUND_KEY_SEPARATOR,
};
use crate::domain::order::ContractError;
use crate::domain::platform::{platform_snapshot, shopify_refund, woocommerce_refund, Platform};
use crate::domain::shop::ShopConfig;
use crate::ports::{Cause, OrderMessage, OrderStore, ShopStore, StoreError, TransferQueue};
use serde_json::json;

/// A refund's snapshot rank (it never competes with order events).
pub const REFUND_SNAPSHOT_RANK: u8 = 1;

/// What one delivery of a refund does to its record.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundDecision {
    Duplicate,
    /// Already pending (and queued): nothing to write.
    AlreadyPending,
    /// Write the record pending (with the snapshot when new) and enqueue.
    MakePending {
        new: bool,
        history: Vec<HistoryEntry>,
        webhook_ids: Vec<String>,
    },
}

/// Decides what one delivery does to the stored refund (`None`: new).
pub fn decide_refund_delivery(
    existing: Option<&OrderRecord>,
    webhook_id: &str,
    now: i64,
) -> RefundDecision {
    let Some(record) = existing else {
        return RefundDecision::MakePending {
            new: true,
            history: vec![HistoryEntry {
                at: now,
                what: format!("{REFUND_EVENT_TYPE} received: pending"),
            }],
            webhook_ids: vec![webhook_id.to_owned()],
        };
    };
    if record.webhook_ids.iter().any(|id| id == webhook_id) {
        return RefundDecision::Duplicate;
    }
    match record.label {
        // A refund record is never cancelled itself (order ids cannot hold
        // `#refund#`); were one, a new delivery changes nothing.
        Label::Ok | Label::Cancelled => RefundDecision::Duplicate,
        Label::Pending => RefundDecision::AlreadyPending,
        Label::Failed | Label::Recorded => {
            let mut history = record.history.clone();
            history.push(HistoryEntry {
                at: now,
                what: format!("{REFUND_EVENT_TYPE} received for a failed refund: pending again"),
            });
            let mut webhook_ids = record.webhook_ids.clone();
            webhook_ids.push(webhook_id.to_owned());
            RefundDecision::MakePending {
                new: record.snapshot.is_none(),
                history,
                webhook_ids,
            }
        }
    }
}

impl<S: ShopStore, O: OrderStore, Q: TransferQueue> Ingest<S, O, Q> {
    /// Records one verified refund delivery and enqueues it when it became
    /// pending.
    pub(super) async fn record_refund(
        &self,
        shop: &ShopConfig,
        webhook_id: &str,
        refund: Refund,
        span: &tracing::Span,
        now: i64,
    ) -> WebhookResponse {
        let snapshot = match serde_json::to_string(&refund) {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::error!(%error, "refund could not be serialised");
                return WebhookResponse::unavailable();
            }
        };
        self.record_refund_snapshot(
            shop,
            webhook_id,
            (&refund.order_id, &refund.id),
            snapshot,
            span,
            now,
        )
        .await
    }

    /// Shopify's `refunds/create`: recorded as received (in a platform
    /// envelope) and translated by transfer, where a refund that cannot be
    /// credited exactly fails with the reason. A refund that returned no
    /// money (a restock) is answered `ignored`.
    pub(super) async fn record_shopify_refund(
        &self,
        shop: &ShopConfig,
        webhook_id: &str,
        api_version: Option<&str>,
        body: &[u8],
        span: &tracing::Span,
        now: i64,
    ) -> WebhookResponse {
        let refund = match shopify_refund::parse(body) {
            Ok(refund) => refund,
            Err(error) => return WebhookResponse::malformed(&error),
        };
        if refund.id.contains('#') || refund.order_id.contains(REFUND_KEY_SEPARATOR) {
            return WebhookResponse::malformed(&ContractError::new("id", "is not a Shopify id"));
        }
        if refund.money_returned() <= rust_decimal::Decimal::ZERO {
            tracing::info!("Shopify refund returned no money: ignored");
            return WebhookResponse::new(
                200,
                json!({ "status": "ignored", "reason": "the refund returned no money: nothing to credit" }),
            );
        }
        let Some(snapshot) = platform_snapshot(
            Platform::Shopify,
            api_version,
            shopify_refund::REFUNDS_CREATE,
            body,
        ) else {
            return WebhookResponse::malformed(&ContractError::new("", "not a JSON object"));
        };
        self.record_refund_snapshot(
            shop,
            webhook_id,
            (&refund.order_id, &refund.id),
            snapshot,
            span,
            now,
        )
        .await
    }

    /// WooCommerce: each refund an order webhook lists (`refunds[]`)
    /// becomes its own record, with the order's body as received; transfer
    /// translates it. Every later delivery of the order lists its refunds
    /// again, so a refund's delivery id is its own: a repeat is a duplicate.
    /// Answers only when a write failed (503: WooCommerce delivers again).
    pub(super) async fn record_woocommerce_refunds(
        &self,
        shop: &ShopConfig,
        payload_version: Option<&str>,
        body: &[u8],
        span: &tracing::Span,
        now: i64,
    ) -> Option<WebhookResponse> {
        for (order_id, refund_id) in woocommerce_refund::refund_ids(body) {
            if refund_id.contains('#') || order_id.contains(REFUND_KEY_SEPARATOR) {
                tracing::warn!("WooCommerce refund id unusable as a key: skipped");
                continue;
            }
            let event = format!("{}{refund_id}", woocommerce_refund::REFUND_EVENT_PREFIX);
            let Some(snapshot) =
                platform_snapshot(Platform::Woocommerce, payload_version, &event, body)
            else {
                continue;
            };
            let webhook_id = format!("wc-refund:{order_id}:{refund_id}");
            let response = self
                .record_refund_snapshot(
                    shop,
                    &webhook_id,
                    (&order_id, &refund_id),
                    snapshot,
                    span,
                    now,
                )
                .await;
            if response.status >= 500 {
                return Some(response);
            }
        }
        None
    }

    /// Records one verified refund delivery (`snapshot`: what transfer
    /// reads the refund from) and enqueues it when it became pending.
    async fn record_refund_snapshot(
        &self,
        shop: &ShopConfig,
        webhook_id: &str,
        (order_id, refund_id): (&str, &str),
        snapshot: String,
        span: &tracing::Span,
        now: i64,
    ) -> WebhookResponse {
        let record_id = refund_record_id(order_id, refund_id);
        span.record("order_id", record_id.as_str());
        let refund_answer = |status: &str| refund_answer(status, order_id, refund_id);
        if !shop.mapping.credit_notes.enabled {
            tracing::info!("refund ignored: credit notes are off for this shop");
            return WebhookResponse::new(
                202,
                json!({ "status": "ignored", "reason": "credit notes are not enabled for this shop" }),
            );
        }
        for _ in 0..WRITE_ROUNDS {
            let existing = match self.orders.get(&shop.shop_id, &record_id).await {
                Ok(existing) => existing,
                Err(error) => {
                    tracing::error!(%error, "refund read failed");
                    return WebhookResponse::unavailable();
                }
            };
            let (new, history, webhook_ids) =
                match decide_refund_delivery(existing.as_ref(), webhook_id, now) {
                    RefundDecision::Duplicate => return refund_answer("duplicate"),
                    RefundDecision::AlreadyPending => return refund_answer("accepted"),
                    RefundDecision::MakePending {
                        new,
                        history,
                        webhook_ids,
                    } => (new, history, webhook_ids),
                };
            let write = IngestWrite {
                label: Label::Pending,
                snapshot: new.then(|| (snapshot.clone(), REFUND_SNAPSHOT_RANK)),
                events: vec![REFUND_EVENT_TYPE.to_owned()],
                webhook_ids,
                history,
                rescan_after: Some(now + self.settings.rescan_min_age_seconds),
            };
            match self
                .orders
                .write_ingest(
                    &shop.shop_id,
                    &record_id,
                    existing.as_ref().map(|r| r.version),
                    &write,
                    now,
                )
                .await
            {
                Ok(()) => {
                    let message = OrderMessage {
                        shop_id: shop.shop_id.clone(),
                        order_id: record_id.clone(),
                        cause: Cause::Webhook,
                    };
                    match self.queue.enqueue(&message).await {
                        Ok(()) => tracing::info!("refund pending and enqueued"),
                        Err(error) => {
                            tracing::warn!(%error, "enqueue failed; rescan will pick the refund up")
                        }
                    }
                    return refund_answer("accepted");
                }
                Err(StoreError::Conflict) => {
                    tokio::time::sleep(contention_pause()).await;
                }
                Err(error) => {
                    tracing::error!(%error, "refund write failed");
                    return WebhookResponse::unavailable();
                }
            }
        }
        tracing::warn!("refund contested by too many concurrent deliveries");
        WebhookResponse::unavailable()
    }
}

fn refund_answer(status: &str, order_id: &str, refund_id: &str) -> WebhookResponse {
    WebhookResponse::new(
        202,
        json!({ "status": status, "order_id": order_id, "refund_id": refund_id }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: Label, webhook_ids: &[&str]) -> OrderRecord {
        OrderRecord {
            shop_id: "s".into(),
            order_id: "1#refund#r".into(),
            label,
            snapshot: Some("{}".into()),
            snapshot_rank: REFUND_SNAPSHOT_RANK,
            events: vec![REFUND_EVENT_TYPE.into()],
            webhook_ids: webhook_ids.iter().map(|s| s.to_string()).collect(),
            attempts: 0,
            last_error: None,
            draft_invoice_number: None,
            booked_invoice_number: None,
            customer_number: None,
            economic_calls: None,
            created_at: 0,
            updated_at: 0,
            pending_since: None,
            lease_until: None,
            lease_owner: None,
            create_started: false,
            history: Vec::new(),
            version: 1,
            rescan_after: None,
            expires_at: None,
        }
    }

    #[test]
    fn a_refund_is_pending_once_and_a_credited_one_is_never_sent_again() {
        assert!(matches!(
            decide_refund_delivery(None, "w1", 10),
            RefundDecision::MakePending { new: true, .. }
        ));
        let pending = record(Label::Pending, &["w1"]);
        assert_eq!(
            decide_refund_delivery(Some(&pending), "w1", 10),
            RefundDecision::Duplicate
        );
        assert_eq!(
            decide_refund_delivery(Some(&pending), "w2", 10),
            RefundDecision::AlreadyPending
        );
        let ok = record(Label::Ok, &["w1"]);
        assert_eq!(
            decide_refund_delivery(Some(&ok), "w2", 10),
            RefundDecision::Duplicate
        );
        let failed = record(Label::Failed, &["w1"]);
        let RefundDecision::MakePending {
            new, webhook_ids, ..
        } = decide_refund_delivery(Some(&failed), "w2", 10)
        else {
            panic!("a failed refund delivered again is pending again");
        };
        assert!(!new, "the first content is kept");
        assert_eq!(webhook_ids, vec!["w1".to_owned(), "w2".to_owned()]);
    }
}
