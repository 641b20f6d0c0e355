//! Ingest: one webhook delivery → an answer for the shop, an order record,
//! and (when the order became ready) one queue message.
//!
//! Checks, in this order, each with its own status:
//! 413 body too large → 404 unknown or disabled shop → 401 signature →
//! 400 malformed body (JSON `{"error", "field"}`) → 202 `ignored` for an
//! event type we do not handle → 202 `accepted` / `duplicate` / `recorded`.
//! DynamoDB trouble → 503 with `Retry-After` so the shop retries later.
//!
//! What an event does to an order (see [`decide_delivery`]):
//! * a webhook id seen before → `duplicate`, nothing written;
//! * an order already `e-conomic-ok` → `duplicate`, never sent again and
//!   nothing written;
//! * before the shop's trigger event → `recorded` (snapshot kept);
//! * at/after the trigger, order new or `recorded` → `pending`, enqueued;
//! * order already `pending` → `accepted`, snapshot updated, not enqueued
//!   again (it is already queued; rescan covers a lost message);
//! * order `failed` and a NEW delivery at/after the trigger → back to
//!   `pending` with this delivery's snapshot, enqueued: that is how a
//!   merchant who fixed the order in the shop sends it again.

mod refund;

pub use refund::{decide_refund_delivery, RefundDecision};
#[path = "ingest_request.rs"]
mod request;

use crate::app::shop_cache::CachedShops;
use crate::domain::lifecycle::{reaches_trigger, HistoryEntry, IngestWrite, Label, OrderRecord};
use crate::domain::order::{
    parse_event, request_order_id, ContractError, EventType, OrderRequest, ParsedEvent,
};
use crate::domain::platform::{
    platform_secrets, platform_snapshot, requests, shopify, shopify_refund, woocommerce, Platform,
};
use crate::domain::shop::{PlatformConfig, ShopConfig, Trigger};
use crate::domain::webhook::{self, SignatureHeaders};
use crate::metrics;
use crate::ports::{Cause, OrderMessage, OrderStore, ShopStore, StoreError, TransferQueue};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tracing::Instrument;

/// Default body limit: 256 KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 256 * 1024;
/// Seconds a shop should wait before retrying after a 503.
pub const RETRY_AFTER_SECONDS: u32 = 30;
/// Conditional-write rounds before giving up on a hotly contested order
/// (each round one of the concurrent deliveries wins).
const WRITE_ROUNDS: u32 = 16;

#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub max_body_bytes: usize,
    /// How long a warm function trusts its cached shop configs.
    pub shop_cache_ttl: Duration,
    /// A pending order is re-enqueued by rescan if still pending this long
    /// after ingest.
    pub rescan_min_age_seconds: i64,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shop_cache_ttl: Duration::from_secs(30),
            rescan_min_age_seconds: 300,
        }
    }
}

/// A delivery, already taken apart from its HTTP envelope.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub shop_id: &'a str,
    /// The Content-Length header as sent, if any.
    pub content_length: Option<&'a str>,
    pub headers: SignatureHeaders<'a>,
    pub body: &'a [u8],
}

/// A shop platform's delivery (`/webhooks/{shop_id}/{platform}`), taken
/// apart from its HTTP envelope.
#[derive(Debug, Clone, Copy)]
pub struct PlatformRequest<'a> {
    pub shop_id: &'a str,
    pub platform: Platform,
    /// The Content-Length header as sent, if any.
    pub content_length: Option<&'a str>,
    pub headers: PlatformHeaders<'a>,
    pub body: &'a [u8],
}

/// The platform's headers (absent ones `None`). Shopify: `X-Shopify-*`;
/// WooCommerce: `X-WC-Webhook-*`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlatformHeaders<'a> {
    /// `X-Shopify-Hmac-Sha256` / `X-WC-Webhook-Signature`.
    pub signature: Option<&'a str>,
    /// `X-Shopify-Topic` / `X-WC-Webhook-Topic`.
    pub topic: Option<&'a str>,
    /// `X-Shopify-Webhook-Id` / `X-WC-Webhook-Delivery-ID`.
    pub delivery_id: Option<&'a str>,
    /// `X-Shopify-Shop-Domain` (Shopify only).
    pub shop_domain: Option<&'a str>,
    /// `X-Shopify-API-Version` (Shopify only).
    pub api_version: Option<&'a str>,
}

impl PlatformHeaders<'_> {
    /// The header names the platform uses, for error messages.
    fn names(platform: Platform) -> (&'static str, &'static str, &'static str) {
        match platform {
            Platform::Shopify => (
                "X-Shopify-Hmac-Sha256",
                "X-Shopify-Topic",
                "X-Shopify-Webhook-Id",
            ),
            Platform::Woocommerce => (
                "X-WC-Webhook-Signature",
                "X-WC-Webhook-Topic",
                "X-WC-Webhook-Delivery-ID",
            ),
        }
    }
}

/// The answer to give the shop.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookResponse {
    pub status: u16,
    pub body: Value,
    pub retry_after_seconds: Option<u32>,
}

impl WebhookResponse {
    fn new(status: u16, body: Value) -> Self {
        WebhookResponse {
            status,
            body,
            retry_after_seconds: None,
        }
    }

    fn error(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, json!({ "error": message.into() }))
    }

    fn malformed(error: &ContractError) -> Self {
        tracing::warn!(field = %error.field, error = %error.message, "malformed webhook body");
        Self::new(
            400,
            json!({ "error": error.to_string(), "field": error.field }),
        )
    }

    fn ignored() -> Self {
        Self::new(200, json!({ "status": "ignored" }))
    }

    fn unavailable() -> Self {
        WebhookResponse {
            status: 503,
            body: json!({ "error": "temporarily unavailable, retry later" }),
            retry_after_seconds: Some(RETRY_AFTER_SECONDS),
        }
    }
}

/// What the delivery's status says about the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestStatus {
    /// The order is queued (or already queued) for transfer.
    Accepted,
    /// Seen before, or already invoiced: nothing to do.
    Duplicate,
    /// Stored; the shop's trigger event has not arrived yet.
    Recorded,
}

impl IngestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            IngestStatus::Accepted => "accepted",
            IngestStatus::Duplicate => "duplicate",
            IngestStatus::Recorded => "recorded",
        }
    }
}

/// The pure decision for one delivery against the stored order.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Nothing to write.
    Nothing(IngestStatus),
    /// Write this; enqueue if `enqueue`.
    Write {
        status: IngestStatus,
        write: IngestWriteSpec,
        enqueue: bool,
    },
}

/// What one delivery changes in the stored order, as [`decide_delivery`]
/// decides it; the handler completes it into an [`IngestWrite`] with the
/// snapshot's text and the rescan time.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestWriteSpec {
    pub label: Label,
    pub replace_snapshot: bool,
    pub events: Vec<String>,
    pub webhook_ids: Vec<String>,
    pub history: Vec<HistoryEntry>,
    pub make_pending: bool,
}

/// Decides what one delivery does to the stored order (`None`: new order).
pub fn decide_delivery(
    existing: Option<&OrderRecord>,
    webhook_id: &str,
    event: EventType,
    trigger: Trigger,
    now: i64,
) -> Decision {
    if existing.is_some_and(|r| r.webhook_ids.iter().any(|id| id == webhook_id)) {
        return Decision::Nothing(IngestStatus::Duplicate);
    }
    let rank = event.rank();
    let at_trigger = reaches_trigger(event, trigger);
    let mut events: Vec<String> = existing.map(|r| r.events.clone()).unwrap_or_default();
    if !events.iter().any(|e| e == event.as_str()) {
        events.push(event.as_str().to_owned());
    }
    events.sort();
    let mut webhook_ids = existing.map(|r| r.webhook_ids.clone()).unwrap_or_default();
    webhook_ids.push(webhook_id.to_owned());
    let mut history = existing.map(|r| r.history.clone()).unwrap_or_default();
    let newer_snapshot = existing.is_none_or(|r| r.snapshot.is_none() || rank >= r.snapshot_rank);

    let label = existing.map(|r| r.label);
    let (status, new_label, replace_snapshot, make_pending, what) = match label {
        // Invoiced: nothing in this event reaches e-conomic any more, so
        // it is not written either (each write costs a write unit).
        Some(Label::Ok) => return Decision::Nothing(IngestStatus::Duplicate),
        Some(Label::Cancelled) => (
            IngestStatus::Duplicate,
            Label::Cancelled,
            false,
            false,
            format!("{event} received for a cancelled order: ignored"),
        ),
        Some(Label::Pending) => (
            IngestStatus::Accepted,
            Label::Pending,
            newer_snapshot,
            false,
            format!("{event} received while pending"),
        ),
        Some(Label::Failed) if at_trigger => (
            IngestStatus::Accepted,
            Label::Pending,
            true,
            true,
            format!("{event} received for a failed order: pending again"),
        ),
        Some(Label::Failed) => (
            IngestStatus::Recorded,
            Label::Failed,
            false,
            false,
            format!("{event} received for a failed order, before the trigger: kept failed"),
        ),
        None | Some(Label::Recorded) if at_trigger => (
            IngestStatus::Accepted,
            Label::Pending,
            newer_snapshot,
            true,
            format!("{event} received: pending"),
        ),
        None | Some(Label::Recorded) => (
            IngestStatus::Recorded,
            Label::Recorded,
            newer_snapshot,
            false,
            format!("{event} received: waiting for the trigger event"),
        ),
    };
    history.push(HistoryEntry { at: now, what });
    Decision::Write {
        status,
        write: IngestWriteSpec {
            label: new_label,
            replace_snapshot,
            events,
            webhook_ids,
            history,
            make_pending,
        },
        enqueue: make_pending,
    }
}

/// A short random pause (1–20 ms) so concurrent deliveries of one order
/// stop colliding round after round.
fn contention_pause() -> std::time::Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    std::time::Duration::from_millis(1 + u64::from(nanos % 20))
}

/// Returns the `order` member of the body exactly as the shop sent it, so
/// the stored snapshot is lossless (amounts keep their digits).
fn raw_order_json(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow)]
        order: &'a serde_json::value::RawValue,
    }
    serde_json::from_slice::<Envelope<'_>>(body)
        .ok()
        .map(|e| e.order.get().to_owned())
}

/// Ingest over its ports (shop store, order store, transfer queue), with
/// its settings and warm shop cache.
#[derive(Debug)]
pub struct Ingest<S, O, Q> {
    shops: CachedShops<S>,
    orders: O,
    queue: Q,
    settings: IngestSettings,
}

impl<S: ShopStore, O: OrderStore, Q: TransferQueue> Ingest<S, O, Q> {
    pub fn new(shops: S, orders: O, queue: Q, settings: IngestSettings) -> Self {
        Ingest {
            shops: CachedShops::new(shops, settings.shop_cache_ttl),
            orders,
            queue,
            settings,
        }
    }

    pub fn settings(&self) -> &IngestSettings {
        &self.settings
    }

    /// Handles one delivery. Never fails: every outcome is a response.
    pub async fn handle(
        &self,
        request: WebhookRequest<'_>,
        now: OffsetDateTime,
    ) -> WebhookResponse {
        let shop_id = request.shop_id;
        let span = tracing::info_span!(
            "ingest",
            shop_id = %request.shop_id,
            webhook_id = request.headers.id.unwrap_or("-"),
            order_id = tracing::field::Empty,
        );
        // `instrument`, not `enter`: a guard held across `.await` would lend
        // this span to whatever else the thread runs meanwhile.
        let response = self
            .handle_inner(request, now, &span)
            .instrument(span.clone())
            .await;
        answered(&span, &response, shop_id);
        response
    }

    async fn handle_inner(
        &self,
        request: WebhookRequest<'_>,
        now: OffsetDateTime,
        span: &tracing::Span,
    ) -> WebhookResponse {
        if let Some(too_large) = self.too_large(request.content_length, request.body) {
            return too_large;
        }
        let shop = match self.enabled_shop(request.shop_id).await {
            Ok(shop) => shop,
            Err(response) => return response,
        };

        if let Err(error) =
            webhook::verify(&shop.webhook_secrets, &request.headers, request.body, now)
        {
            tracing::warn!(%error, "webhook rejected");
            return WebhookResponse::error(401, error.to_string());
        }
        // verify() rejects a missing id, so this is the delivery's id.
        let webhook_id = request.headers.id.unwrap_or_default();

        let event = match parse_event(request.body) {
            Ok(ParsedEvent::Order(event)) => event,
            Ok(ParsedEvent::Refund(refund)) => {
                return self
                    .record_refund(&shop, webhook_id, refund, span, now.unix_timestamp())
                    .await
            }
            Ok(ParsedEvent::Unsupported { event_type }) => {
                if let Some(asked) = OrderRequest::from_type(&event_type) {
                    let order_id = match request_order_id(request.body) {
                        Ok(order_id) => order_id,
                        Err(error) => return WebhookResponse::malformed(&error),
                    };
                    span.record("order_id", order_id.as_str());
                    return self.order_request(&shop.shop_id, &order_id, asked).await;
                }
                tracing::info!(event_type = %event_type, "unsupported event type ignored");
                return WebhookResponse::new(202, json!({ "status": "ignored" }));
            }
            Err(error) => return WebhookResponse::malformed(&error),
        };
        let order_id = event.order.id.clone();
        span.record("order_id", order_id.as_str());
        let Some(snapshot) = raw_order_json(request.body) else {
            // parse_event accepted it, so this cannot happen; answer 400
            // rather than panic.
            return WebhookResponse::new(
                400,
                json!({ "error": "order: missing", "field": "order" }),
            );
        };

        self.record(
            &shop,
            &order_id,
            webhook_id,
            event.event_type,
            snapshot,
            now,
        )
        .await
    }

    /// Records one verified, parsed delivery of an order (and enqueues it
    /// when it became ready): the part every webhook route shares.
    async fn record(
        &self,
        shop: &ShopConfig,
        order_id: &str,
        webhook_id: &str,
        event_type: EventType,
        snapshot: String,
        now: OffsetDateTime,
    ) -> WebhookResponse {
        let now_secs = now.unix_timestamp();
        let mut outcome = None;
        // Moved into the write, and taken back if the write loses a race:
        // a platform order's snapshot is the whole body (~10 KB).
        let mut snapshot = Some(snapshot);
        for _ in 0..WRITE_ROUNDS {
            let existing = match self.orders.get(&shop.shop_id, order_id).await {
                Ok(existing) => existing,
                Err(error) => {
                    tracing::error!(%error, "order read failed");
                    return WebhookResponse::unavailable();
                }
            };
            let decision = decide_delivery(
                existing.as_ref(),
                webhook_id,
                event_type,
                shop.trigger,
                now_secs,
            );
            let (status, spec, enqueue) = match decision {
                Decision::Nothing(status) => {
                    outcome = Some((status, false));
                    break;
                }
                Decision::Write {
                    status,
                    write,
                    enqueue,
                } => (status, write, enqueue),
            };
            let write = IngestWrite {
                label: spec.label,
                snapshot: if spec.replace_snapshot {
                    snapshot.take().map(|text| (text, event_type.rank()))
                } else {
                    None
                },
                events: spec.events,
                webhook_ids: spec.webhook_ids,
                history: spec.history,
                rescan_after: spec
                    .make_pending
                    .then_some(now_secs + self.settings.rescan_min_age_seconds),
            };
            match self
                .orders
                .write_ingest(
                    &shop.shop_id,
                    order_id,
                    existing.as_ref().map(|r| r.version),
                    &write,
                    now_secs,
                )
                .await
            {
                Ok(()) => {
                    outcome = Some((status, enqueue));
                    break;
                }
                Err(StoreError::Conflict) => {
                    tracing::debug!("concurrent change to the order; deciding again");
                    if let Some((text, _)) = write.snapshot {
                        snapshot = Some(text);
                    }
                    tokio::time::sleep(contention_pause()).await;
                    continue;
                }
                Err(error) => {
                    tracing::error!(%error, "order write failed");
                    return WebhookResponse::unavailable();
                }
            }
        }
        let Some((status, enqueue)) = outcome else {
            tracing::warn!("order contested by too many concurrent deliveries");
            return WebhookResponse::unavailable();
        };

        if enqueue {
            let message = OrderMessage {
                shop_id: shop.shop_id.clone(),
                order_id: order_id.to_owned(),
                cause: Cause::Webhook,
            };
            match self.queue.enqueue(&message).await {
                Ok(()) => tracing::info!(event = %event_type, "order pending and enqueued"),
                // The order is recorded as pending: rescan re-enqueues it.
                Err(error) => {
                    tracing::warn!(%error, "enqueue failed; rescan will pick the order up")
                }
            }
        } else {
            tracing::info!(event = %event_type, status = status.as_str(), "order recorded");
        }
        WebhookResponse::new(
            202,
            json!({ "status": status.as_str(), "order_id": order_id }),
        )
    }

    /// 413 when the declared or actual body is over the limit.
    fn too_large(&self, content_length: Option<&str>, body: &[u8]) -> Option<WebhookResponse> {
        let limit = self.settings.max_body_bytes;
        let declared_too_large = content_length
            .and_then(|v| v.trim().parse::<u64>().ok())
            .is_some_and(|len| len > limit as u64);
        (declared_too_large || body.len() > limit)
            .then(|| WebhookResponse::error(413, format!("body larger than {limit} bytes")))
    }

    /// The shop if it exists and is enabled; else the answer to give.
    async fn enabled_shop(&self, shop_id: &str) -> Result<Arc<ShopConfig>, WebhookResponse> {
        match self.shops.get_shared(shop_id).await {
            Ok(Some(shop)) if shop.enabled => Ok(shop),
            Ok(_) => Err(WebhookResponse::error(404, "unknown shop")),
            Err(error) => {
                tracing::error!(%error, "shop lookup failed");
                Err(WebhookResponse::unavailable())
            }
        }
    }

    /// Handles one delivery of a shop platform's own webhook. Never fails:
    /// every outcome is a response. Checks, in this order: 413 size → 404
    /// unknown shop or a shop not set up for this platform → (WooCommerce's
    /// creation ping: 200) → 401 signature → 401 Shopify shop domain →
    /// 200 `ignored` for a topic or status that is no order stage → 400
    /// malformed (naming the field) → 202 as for our own contract.
    pub async fn handle_platform(
        &self,
        request: PlatformRequest<'_>,
        now: OffsetDateTime,
    ) -> WebhookResponse {
        let shop_id = request.shop_id;
        let span = tracing::info_span!(
            "ingest",
            shop_id = %request.shop_id,
            platform = request.platform.as_str(),
            webhook_id = request.headers.delivery_id.unwrap_or("-"),
            topic = request.headers.topic.unwrap_or("-"),
            order_id = tracing::field::Empty,
        );
        let response = self
            .handle_platform_inner(request, now, &span)
            .instrument(span.clone())
            .await;
        answered(&span, &response, shop_id);
        response
    }

    async fn handle_platform_inner(
        &self,
        request: PlatformRequest<'_>,
        now: OffsetDateTime,
        span: &tracing::Span,
    ) -> WebhookResponse {
        if let Some(too_large) = self.too_large(request.content_length, request.body) {
            return too_large;
        }
        let shop = match self.enabled_shop(request.shop_id).await {
            Ok(shop) => shop,
            Err(response) => return response,
        };
        let platform = request.platform;
        let Some(config) = shop.platform.as_ref().filter(|c| c.platform() == platform) else {
            return WebhookResponse::error(
                404,
                format!(
                    "the shop is not set up for {} webhooks",
                    platform.display_name()
                ),
            );
        };
        let headers = request.headers;
        if platform == Platform::Woocommerce && woocommerce::is_ping(request.body) {
            // WooCommerce sends this unsigned when the webhook is saved; it
            // carries no order, so nothing is written.
            tracing::info!("WooCommerce webhook ping answered");
            return WebhookResponse::new(200, json!({ "status": "ping" }));
        }
        let (signature_header, _, delivery_header) = PlatformHeaders::names(platform);
        if let Err(error) = webhook::verify_body_hmac(
            platform_secrets(config),
            signature_header,
            headers.signature,
            request.body,
            now,
        ) {
            tracing::warn!(%error, "webhook rejected");
            return WebhookResponse::error(401, error.to_string());
        }
        let topic = headers.topic.map(str::trim).unwrap_or_default();
        let missing_header =
            |name: &str| WebhookResponse::malformed(&ContractError::new(name, "missing header"));

        let (order_id, event_type, webhook_id, stage_name, payload_version) = match config {
            PlatformConfig::Shopify(settings) => {
                let domain = headers.shop_domain.map(str::trim).unwrap_or_default();
                if !domain.eq_ignore_ascii_case(settings.shop_domain.trim()) {
                    tracing::warn!("X-Shopify-Shop-Domain does not match the shop");
                    return WebhookResponse::error(
                        401,
                        "X-Shopify-Shop-Domain is not this shop's domain",
                    );
                }
                if topic == shopify_refund::REFUNDS_CREATE {
                    let Some(delivery_id) = headers.delivery_id.filter(|v| !v.trim().is_empty())
                    else {
                        return missing_header(delivery_header);
                    };
                    return self
                        .record_shopify_refund(
                            &shop,
                            delivery_id.trim(),
                            headers.api_version,
                            request.body,
                            span,
                            now.unix_timestamp(),
                        )
                        .await;
                }
                let Some(stage) = settings.topics.get(topic) else {
                    if let Some(asked) = requests::shopify_request(topic, request.body) {
                        return match shopify::parse(request.body) {
                            Ok(order) => {
                                span.record("order_id", order.id.as_str());
                                self.order_request(&shop.shop_id, &order.id, asked).await
                            }
                            Err(error) => WebhookResponse::malformed(&error),
                        };
                    }
                    tracing::info!("Shopify topic is no order stage: ignored");
                    return WebhookResponse::ignored();
                };
                let Some(delivery_id) = headers.delivery_id.filter(|v| !v.trim().is_empty()) else {
                    return missing_header(delivery_header);
                };
                let order = match shopify::parse(request.body) {
                    Ok(order) => order,
                    Err(error) => return WebhookResponse::malformed(&error),
                };
                if requests::shopify_shows_failed(request.body) {
                    span.record("order_id", order.id.as_str());
                    tracing::info!("the order carries the bridge's failed tag: not re-opened");
                    return WebhookResponse::ignored();
                }
                (
                    order.id,
                    stage.event(),
                    delivery_id.trim().to_owned(),
                    topic.to_owned(),
                    headers.api_version.map(str::to_owned),
                )
            }
            PlatformConfig::Woocommerce(settings) => {
                if topic != "order.created" && topic != "order.updated" {
                    tracing::info!("WooCommerce topic is not an order event: ignored");
                    return WebhookResponse::ignored();
                }
                let Some(delivery_id) = headers.delivery_id.filter(|v| !v.trim().is_empty()) else {
                    return missing_header(delivery_header);
                };
                let order = match woocommerce::parse(request.body) {
                    Ok(order) => order,
                    Err(error) => return WebhookResponse::malformed(&error),
                };
                if shop.mapping.credit_notes.enabled {
                    if let Some(failed) = self
                        .record_woocommerce_refunds(
                            &shop,
                            order.version.as_deref(),
                            request.body,
                            span,
                            now.unix_timestamp(),
                        )
                        .await
                    {
                        return failed;
                    }
                }
                if let Some(asked) = requests::woocommerce_request(&order.status) {
                    span.record("order_id", order.id.as_str());
                    return self.order_request(&shop.shop_id, &order.id, asked).await;
                }
                let Some(stage) = settings.statuses.get(order.status.trim()) else {
                    tracing::info!(status = %order.status, "WooCommerce status is no order stage: ignored");
                    return WebhookResponse::ignored();
                };
                if requests::woocommerce_shows_failed(&order) {
                    span.record("order_id", order.id.as_str());
                    tracing::info!("the order shows the bridge's failed label: not re-opened");
                    return WebhookResponse::ignored();
                }
                // WooCommerce re-sends a delivery under its id; the same
                // order reaching a new status is a new event.
                let webhook_id = format!(
                    "{}:{}:{}",
                    delivery_id.trim(),
                    order.id,
                    order.status.trim()
                );
                (
                    order.id,
                    stage.event(),
                    webhook_id,
                    order.status.trim().to_owned(),
                    order.version.clone(),
                )
            }
        };
        span.record("order_id", order_id.as_str());
        let Some(snapshot) = platform_snapshot(
            platform,
            payload_version.as_deref(),
            &stage_name,
            request.body,
        ) else {
            // parse() accepted it as JSON, so this cannot happen; answer
            // 400 rather than panic.
            return WebhookResponse::malformed(&ContractError::new("", "not a JSON object"));
        };
        self.record(&shop, &order_id, &webhook_id, event_type, snapshot, now)
            .await
    }
}

/// The one line (and metric) every delivery ends with, in its span.
fn answered(span: &tracing::Span, response: &WebhookResponse, shop_id: &str) {
    span.in_scope(
        || tracing::info!(status = response.status, body = %response.body, "webhook answered"),
    );
    metrics::webhook_answered(response.status, shop_id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shop::Trigger;

    fn record(label: Label, webhook_ids: &[&str], snapshot_rank: u8) -> OrderRecord {
        OrderRecord {
            shop_id: "s".into(),
            order_id: "o".into(),
            label,
            snapshot: Some("{}".into()),
            snapshot_rank,
            events: vec!["order.created".into()],
            webhook_ids: webhook_ids.iter().map(|s| s.to_string()).collect(),
            attempts: 0,
            last_error: None,
            draft_invoice_number: None,
            booked_invoice_number: None,
            customer_number: None,
            economic_calls: None,
            created_at: 1,
            updated_at: 1,
            pending_since: None,
            lease_until: None,
            lease_owner: None,
            create_started: false,
            history: vec![],
            version: 3,
            rescan_after: None,
            expires_at: None,
        }
    }

    fn write_of(d: Decision) -> (IngestStatus, IngestWriteSpec, bool) {
        match d {
            Decision::Write {
                status,
                write,
                enqueue,
            } => (status, write, enqueue),
            other => panic!("expected a write, got {other:?}"),
        }
    }

    #[test]
    fn new_order_at_trigger_becomes_pending_and_is_enqueued() {
        let (status, write, enqueue) = write_of(decide_delivery(
            None,
            "w1",
            EventType::OrderPaid,
            Trigger::Paid,
            10,
        ));
        assert_eq!(status, IngestStatus::Accepted);
        assert_eq!(write.label, Label::Pending);
        assert!(enqueue && write.make_pending && write.replace_snapshot);
        assert_eq!(write.webhook_ids, vec!["w1"]);
        assert_eq!(write.events, vec!["order.paid"]);
    }

    #[test]
    fn event_before_trigger_is_only_recorded() {
        let (status, write, enqueue) = write_of(decide_delivery(
            None,
            "w1",
            EventType::OrderCreated,
            Trigger::Paid,
            10,
        ));
        assert_eq!(status, IngestStatus::Recorded);
        assert_eq!(write.label, Label::Recorded);
        assert!(!enqueue);
        // Shipped is after paid: it triggers too.
        let (_, write, enqueue) = write_of(decide_delivery(
            None,
            "w1",
            EventType::OrderShipped,
            Trigger::Paid,
            10,
        ));
        assert_eq!(write.label, Label::Pending);
        assert!(enqueue);
    }

    #[test]
    fn same_webhook_id_is_a_duplicate_without_write() {
        let r = record(Label::Pending, &["w1"], 2);
        assert_eq!(
            decide_delivery(Some(&r), "w1", EventType::OrderPaid, Trigger::Paid, 10),
            Decision::Nothing(IngestStatus::Duplicate)
        );
    }

    #[test]
    fn ok_order_is_never_sent_again_nor_written() {
        let r = record(Label::Ok, &["w1"], 2);
        for event in [EventType::OrderCreated, EventType::OrderShipped] {
            assert_eq!(
                decide_delivery(Some(&r), "w2", event, Trigger::Paid, 10),
                Decision::Nothing(IngestStatus::Duplicate)
            );
        }
    }

    #[test]
    fn pending_order_updates_snapshot_but_is_not_enqueued_twice() {
        let r = record(Label::Pending, &["w1"], 2);
        let (status, write, enqueue) = write_of(decide_delivery(
            Some(&r),
            "w2",
            EventType::OrderShipped,
            Trigger::Paid,
            10,
        ));
        assert_eq!(status, IngestStatus::Accepted);
        assert!(!enqueue);
        assert!(write.replace_snapshot);
        // An older event arriving late does not replace a newer snapshot.
        let (_, write, _) = write_of(decide_delivery(
            Some(&r),
            "w3",
            EventType::OrderCreated,
            Trigger::Paid,
            10,
        ));
        assert!(!write.replace_snapshot);
    }

    #[test]
    fn new_delivery_for_failed_order_makes_it_pending_again() {
        let r = record(Label::Failed, &["w1"], 3);
        let (status, write, enqueue) = write_of(decide_delivery(
            Some(&r),
            "w2",
            EventType::OrderPaid,
            Trigger::Paid,
            10,
        ));
        assert_eq!(status, IngestStatus::Accepted);
        assert_eq!(write.label, Label::Pending);
        assert!(enqueue && write.replace_snapshot);
        // Same delivery again: duplicate.
        assert_eq!(
            decide_delivery(Some(&r), "w1", EventType::OrderPaid, Trigger::Paid, 10),
            Decision::Nothing(IngestStatus::Duplicate)
        );
        // Before the trigger: stays failed.
        let (_, write, enqueue) = write_of(decide_delivery(
            Some(&r),
            "w3",
            EventType::OrderCreated,
            Trigger::Paid,
            10,
        ));
        assert_eq!(write.label, Label::Failed);
        assert!(!enqueue);
    }

    #[test]
    fn recorded_order_becomes_pending_on_trigger() {
        let r = record(Label::Recorded, &["w1"], 1);
        let (_, write, enqueue) = write_of(decide_delivery(
            Some(&r),
            "w2",
            EventType::OrderPaid,
            Trigger::Paid,
            10,
        ));
        assert_eq!(write.label, Label::Pending);
        assert!(enqueue);
        assert_eq!(write.events, vec!["order.created", "order.paid"]);
        assert_eq!(write.history.len(), 1);
    }

    #[test]
    fn raw_order_is_kept_verbatim() {
        let body = br#"{"type":"order.paid","order":{"total": 100.10, "id":"7"}}"#;
        assert_eq!(
            raw_order_json(body).as_deref(),
            Some(r#"{"total": 100.10, "id":"7"}"#)
        );
    }
}
