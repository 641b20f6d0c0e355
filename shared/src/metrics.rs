//! What the functions count, and how the counts reach CloudWatch without a
//! single extra call: each metric is a `tracing` event with target
//! [`TARGET`], and on Lambda the [`EmfLayer`] writes it to stdout as one
//! line of CloudWatch's Embedded Metric Format (EMF). CloudWatch Logs
//! extracts the metric from the log line; `PutMetricData` is never called,
//! so a metric costs no latency and no IAM permission.
//!
//! Dimensions are chosen so an attacker cannot create metrics: the shop id
//! is a dimension only for metrics of a verified webhook or a transferred
//! order (a known shop), never for a rejected webhook, whose shop id is
//! whatever the caller put in the URL.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};

/// The target of metric events: the log lines' layer leaves them out and
/// the [`EmfLayer`] takes only them.
pub const TARGET: &str = "bridge::metrics";

/// Every metric the bridge emits. The names and units are CloudWatch's;
/// docs/operating.md lists them with the dashboard and the alarms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// A webhook answered 2xx (recorded, duplicate or ignored topic).
    WebhooksAccepted,
    /// A webhook answered 4xx/5xx; dimension `Reason`.
    WebhooksRejected,
    /// An order labelled `e-conomic-ok`.
    OrdersOk,
    /// An order labelled `e-conomic-failed`.
    OrdersFailed,
    /// An HTTP call to e-conomic that got an answer or a transport error.
    EconomicCalls,
    /// An e-conomic call answered 429 (the agreement's rate limit).
    EconomicThrottled,
    /// From the trigger webhook's arrival to the order's `ok` label.
    WebhookToOkLatency,
    /// A transfer that claimed an order (first try or retry).
    TransferAttempts,
    /// An order message put on the dead-letter queue.
    DeadLetters,
    /// Pending orders a rescan run found past their rescan age: their
    /// message was lost or their transfer is stuck.
    RescanDueOrders,
}

/// The metrics, for documentation and tests.
pub const ALL: [Metric; 10] = [
    Metric::WebhooksAccepted,
    Metric::WebhooksRejected,
    Metric::OrdersOk,
    Metric::OrdersFailed,
    Metric::EconomicCalls,
    Metric::EconomicThrottled,
    Metric::WebhookToOkLatency,
    Metric::TransferAttempts,
    Metric::DeadLetters,
    Metric::RescanDueOrders,
];

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::WebhooksAccepted => "WebhooksAccepted",
            Metric::WebhooksRejected => "WebhooksRejected",
            Metric::OrdersOk => "OrdersOk",
            Metric::OrdersFailed => "OrdersFailed",
            Metric::EconomicCalls => "EconomicCalls",
            Metric::EconomicThrottled => "EconomicThrottled",
            Metric::WebhookToOkLatency => "WebhookToOkLatency",
            Metric::TransferAttempts => "TransferAttempts",
            Metric::DeadLetters => "DeadLetters",
            Metric::RescanDueOrders => "RescanDueOrders",
        }
    }

    pub fn from_name(name: &str) -> Option<Metric> {
        ALL.into_iter().find(|m| m.name() == name)
    }

    /// CloudWatch's unit name.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::WebhookToOkLatency => "Milliseconds",
            _ => "Count",
        }
    }

    /// Whether the shop id may be a dimension: only for a known shop.
    fn per_shop(self) -> bool {
        matches!(
            self,
            Metric::WebhooksAccepted
                | Metric::OrdersOk
                | Metric::OrdersFailed
                | Metric::DeadLetters
                | Metric::WebhookToOkLatency
        )
    }
}

/// Emits `value` of `metric` for `shop_id`.
pub fn record(metric: Metric, value: u64, shop_id: Option<&str>) {
    tracing::info!(target: TARGET, metric = metric.name(), value, shop_id);
}

/// Counts one answered webhook: accepted (2xx), or rejected with the
/// reason its status gives (a bounded set: the reason is a dimension).
pub fn webhook_answered(status: u16, shop_id: &str) {
    if (200..300).contains(&status) {
        record(Metric::WebhooksAccepted, 1, Some(shop_id));
    } else {
        tracing::info!(
            target: TARGET,
            metric = Metric::WebhooksRejected.name(),
            value = 1u64,
            reason = rejection_reason(status),
            // A property, not a dimension: the caller chose it.
            shop_id
        );
    }
}

/// The `Reason` dimension of a rejected webhook, from its status.
pub fn rejection_reason(status: u16) -> &'static str {
    match status {
        400 => "malformed",
        401 => "unauthorized",
        404 => "unknown_shop",
        413 => "too_large",
        500..=599 => "unavailable",
        _ => "other",
    }
}

/// Counts one e-conomic call answered with `status` (0: no answer).
pub fn economic_call(status: u16) {
    record(Metric::EconomicCalls, 1, None);
    if status == 429 {
        record(Metric::EconomicThrottled, 1, None);
    }
}

/// Where the metrics go and how they are named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfSettings {
    /// The CloudWatch namespace (`METRICS_NAMESPACE`, default `EconBridge`).
    pub namespace: String,
    /// The `Stack` dimension, so two deployments in one account keep
    /// apart (`METRICS_STACK`, the template sets the stack name).
    pub stack: String,
    /// Whether order metrics also get a `ShopId` dimension
    /// (`METRICS_PER_SHOP`, default true). Each shop then adds custom
    /// metrics to the bill: turn it off for thousands of shops.
    pub per_shop: bool,
}

impl EmfSettings {
    pub fn from_env() -> EmfSettings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        EmfSettings {
            namespace: var("METRICS_NAMESPACE").unwrap_or_else(|| "EconBridge".to_owned()),
            stack: var("METRICS_STACK").unwrap_or_else(|| "econ-bridge".to_owned()),
            per_shop: var("METRICS_PER_SHOP")
                .is_none_or(|v| !matches!(v.trim(), "false" | "0" | "no" | "off")),
        }
    }
}

/// The fields of one metric event.
#[derive(Default)]
struct MetricEvent {
    metric: Option<String>,
    value: Option<u64>,
    shop_id: Option<String>,
    reason: Option<String>,
}

impl Visit for MetricEvent {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "metric" => self.metric = Some(value.to_owned()),
            "shop_id" => self.shop_id = Some(value.to_owned()),
            "reason" => self.reason = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "value" {
            self.value = Some(value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if field.name() == "value" {
            self.value = u64::try_from(value).ok();
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// One EMF document (a JSON object for one log line).
pub fn emf_document(
    settings: &EmfSettings,
    metric: Metric,
    value: u64,
    shop_id: Option<&str>,
    reason: Option<&str>,
    timestamp_ms: u64,
) -> Value {
    let mut dimensions = vec![json!(["Stack"])];
    let mut root = Map::new();
    root.insert("Stack".into(), json!(settings.stack));
    if let Some(reason) = reason {
        dimensions.push(json!(["Stack", "Reason"]));
        root.insert("Reason".into(), json!(reason));
    }
    if let Some(shop_id) = shop_id {
        if settings.per_shop && metric.per_shop() {
            dimensions.push(json!(["Stack", "ShopId"]));
            root.insert("ShopId".into(), json!(shop_id));
        } else {
            // Searchable in Logs Insights without becoming a metric.
            root.insert("shop_id".into(), json!(shop_id));
        }
    }
    root.insert(metric.name().into(), json!(value));
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": settings.namespace,
                "Dimensions": dimensions,
                "Metrics": [{ "Name": metric.name(), "Unit": metric.unit() }],
            }],
        }),
    );
    Value::Object(root)
}

/// Writes each metric event as an EMF line to its writer.
pub struct EmfLayer<W> {
    settings: EmfSettings,
    writer: W,
}

impl<W> EmfLayer<W> {
    pub fn new(settings: EmfSettings, writer: W) -> EmfLayer<W> {
        EmfLayer { settings, writer }
    }
}

impl<S, W> Layer<S> for EmfLayer<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != TARGET {
            return;
        }
        let mut fields = MetricEvent::default();
        event.record(&mut fields);
        let Some(metric) = fields.metric.as_deref().and_then(Metric::from_name) else {
            return;
        };
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let document = emf_document(
            &self.settings,
            metric,
            fields.value.unwrap_or(1),
            fields.shop_id.as_deref(),
            fields.reason.as_deref(),
            timestamp_ms,
        );
        let mut line = document.to_string();
        line.push('\n');
        // One write per line, as the log lines do: lines never interleave.
        let _ = self.writer.make_writer().write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_shop: bool) -> EmfSettings {
        EmfSettings {
            namespace: "EconBridge".into(),
            stack: "prod".into(),
            per_shop,
        }
    }

    #[test]
    fn a_per_shop_metric_has_the_stack_and_the_shop_as_dimensions() {
        let doc = emf_document(&settings(true), Metric::OrdersOk, 1, Some("acme"), None, 7);
        assert_eq!(doc["_aws"]["Timestamp"], 7);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "EconBridge");
        assert_eq!(
            directive["Dimensions"],
            json!([["Stack"], ["Stack", "ShopId"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "OrdersOk", "Unit": "Count"}])
        );
        assert_eq!(doc["Stack"], "prod");
        assert_eq!(doc["ShopId"], "acme");
        assert_eq!(doc["OrdersOk"], 1);
    }

    #[test]
    fn per_shop_off_or_an_unverified_shop_keeps_the_shop_out_of_the_dimensions() {
        let off = emf_document(&settings(false), Metric::OrdersOk, 1, Some("acme"), None, 7);
        assert_eq!(
            off["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack"]])
        );
        assert_eq!(off["shop_id"], "acme");
        assert!(off.get("ShopId").is_none());
        let rejected = emf_document(
            &settings(true),
            Metric::WebhooksRejected,
            1,
            Some("made-up-by-a-caller"),
            Some("unknown_shop"),
            7,
        );
        assert_eq!(
            rejected["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Stack"], ["Stack", "Reason"]])
        );
        assert_eq!(rejected["Reason"], "unknown_shop");
        assert!(rejected.get("ShopId").is_none());
    }

    #[test]
    fn every_status_maps_to_a_bounded_reason() {
        assert_eq!(rejection_reason(400), "malformed");
        assert_eq!(rejection_reason(401), "unauthorized");
        assert_eq!(rejection_reason(404), "unknown_shop");
        assert_eq!(rejection_reason(413), "too_large");
        assert_eq!(rejection_reason(503), "unavailable");
        assert_eq!(rejection_reason(500), "unavailable");
        assert_eq!(rejection_reason(409), "other");
    }

    #[test]
    fn names_and_units_round_trip() {
        for metric in ALL {
            assert_eq!(Metric::from_name(metric.name()), Some(metric));
        }
        assert_eq!(Metric::from_name("Nope"), None);
        assert_eq!(Metric::WebhookToOkLatency.unit(), "Milliseconds");
        assert_eq!(Metric::OrdersFailed.unit(), "Count");
    }
}
