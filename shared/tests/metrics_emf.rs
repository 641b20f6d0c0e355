//! The metrics as CloudWatch reads them: the EMF documents in the functions'
//! real log output (the Lambda log set-up capturing what the real ingest and
//! transfer print over the in-memory adapters), checked against the
//! Embedded Metric Format's rules and for the figures they carry.

use bridge::adapters::memory::{
    ManualClock, MemoryInvoicing, MemoryOrderStore, MemoryShopStore, MemoryTransferQueue,
};
use bridge::app::ingest::{Ingest, IngestSettings, WebhookRequest};
use bridge::app::transfer::{Disposition, Transfer, TransferSettings};
use bridge::domain::shop::ShopConfig;
use bridge::domain::webhook::{self, SignatureHeaders};
use bridge::logging::LogSetup;
use bridge::metrics::{self, EmfSettings};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const SHOP_JSON: &str = include_str!("../../infra/local-stack/demo/demo-shop.json");
const ORDER_JSON: &str = include_str!("../../infra/local-stack/demo/sample-order.json");
const T0: i64 = 1_795_000_000;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every line printed, parsed as JSON (every line the Lambda set-up prints
/// is one JSON object).
fn json_lines(capture: &Capture) -> Vec<Value> {
    let bytes = capture.0.lock().expect("capture").clone();
    String::from_utf8(bytes)
        .expect("UTF-8 output")
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

/// The rules of the EMF specification a document must meet for CloudWatch
/// to extract its metrics (and not drop it silently).
fn assert_valid_emf(doc: &Value) {
    let aws = &doc["_aws"];
    let timestamp = aws["Timestamp"].as_u64().expect("Timestamp in ms");
    let now_ms = OffsetDateTime::now_utc().unix_timestamp() as u64 * 1000;
    assert!(
        timestamp.abs_diff(now_ms) < 60_000,
        "Timestamp is now, in milliseconds: {doc}"
    );
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty(), "{doc}");
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace");
        assert!(!namespace.is_empty() && namespace.len() <= 255, "{doc}");
        for set in directive["Dimensions"].as_array().expect("Dimensions") {
            let keys = set.as_array().expect("a dimension set");
            assert!(!keys.is_empty() && keys.len() <= 30, "{doc}");
            for key in keys {
                let key = key.as_str().expect("dimension key");
                let value = doc[key].as_str().unwrap_or_else(|| {
                    panic!("dimension {key} must be a string member of the root: {doc}")
                });
                assert!(!value.is_empty() && value.len() <= 1024, "{doc}");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100, "{doc}");
        for metric in metrics {
            let name = metric["Name"].as_str().expect("Name");
            assert!(
                doc[name].is_number(),
                "metric {name} must be a number in the root: {doc}"
            );
            assert!(
                ["Count", "Milliseconds", "Seconds"]
                    .contains(&metric["Unit"].as_str().unwrap_or("")),
                "{doc}"
            );
        }
    }
}

/// The metric a document carries, its value and its dimensions' values.
fn summary(doc: &Value) -> (String, u64, BTreeSet<String>) {
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    let name = directive["Metrics"][0]["Name"]
        .as_str()
        .expect("Name")
        .to_owned();
    let value = doc[&name].as_u64().expect("value");
    let dimensions = directive["Dimensions"]
        .as_array()
        .expect("sets")
        .iter()
        .flat_map(|set| set.as_array().expect("set").iter())
        .map(|key| {
            let key = key.as_str().expect("key");
            format!("{key}={}", doc[key].as_str().expect("value"))
        })
        .collect();
    (name, value, dimensions)
}

fn settings() -> EmfSettings {
    EmfSettings {
        namespace: "EconBridge".into(),
        stack: "test-stack".into(),
        per_shop: true,
    }
}

#[test]
fn ingest_and_transfer_emit_valid_emf_documents_with_the_right_figures() {
    let shop: ShopConfig = serde_json::from_str(SHOP_JSON).expect("demo shop");
    let shop_id = shop.shop_id.clone();
    let secret = shop.webhook_secrets[0].secret.expose().to_owned();
    let clock = ManualClock::at(T0);
    let orders = Arc::new(MemoryOrderStore::new());
    let shops = Arc::new(MemoryShopStore::with([shop]));
    let queue = Arc::new(MemoryTransferQueue::new(clock.clone(), 5));
    let invoicing = Arc::new(MemoryInvoicing::new());
    let ingest = Ingest::new(
        shops.clone(),
        orders.clone(),
        queue.clone(),
        IngestSettings::default(),
    );
    let transfer = Transfer::new(
        orders.clone(),
        shops.clone(),
        queue.clone(),
        invoicing.clone(),
        clock.clone(),
        TransferSettings {
            max_receive_count: 5,
            ..TransferSettings::default()
        },
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let capture = Capture::default();
    let writer = capture.clone();
    // RUST_LOG=warn: the metrics must not depend on the log level.
    let subscriber = LogSetup::lambda()
        .metrics(settings())
        .subscriber(Some("warn"), move || writer.clone());
    let now = OffsetDateTime::from_unix_timestamp(T0 + 1).expect("time");
    let deadline = Instant::now() + Duration::from_secs(60);
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let deliver = |shop_id: &'static str, order: String, secret: &str, id: &'static str| {
                let signature =
                    webhook::sign(secret, id, T0, order.as_bytes()).expect("valid secret");
                (shop_id, order, signature, id)
            };
            let send =
                |(shop_id, body, signature, id): (&'static str, String, String, &'static str)| {
                    let ingest = &ingest;
                    async move {
                        let timestamp = T0.to_string();
                        let request = WebhookRequest {
                            shop_id,
                            content_length: None,
                            headers: SignatureHeaders {
                                id: Some(id),
                                timestamp: Some(&timestamp),
                                signature: Some(&signature),
                            },
                            body: body.as_bytes(),
                        };
                        ingest.handle(request, now).await.status
                    }
                };
            let shop_id: &'static str = Box::leak(shop_id.clone().into_boxed_str());
            let first = ORDER_JSON.to_owned();
            let second = ORDER_JSON.replace("demo-1001", "demo-1002");
            // A bad signature, an unknown shop, two good deliveries.
            assert_eq!(
                send(deliver(shop_id, first.clone(), "whsec_d3Jvbmc=", "msg_1")).await,
                401
            );
            assert_eq!(
                send(deliver("no-such-shop", first.clone(), &secret, "msg_2")).await,
                404
            );
            assert_eq!(send(deliver(shop_id, first, &secret, "msg_3")).await, 202);
            assert_eq!(send(deliver(shop_id, second, &secret, "msg_4")).await, 202);

            // The first order ends ok 3 s after its webhook; then e-conomic
            // refuses the shop's token and the second fails for good.
            clock.advance(3);
            let messages = queue.receive(10);
            assert_eq!(messages.len(), 2);
            assert_eq!(
                transfer.process(&messages[0], deadline).await,
                Disposition::Done
            );
            invoicing.accept_only(&["another-token"]);
            assert_eq!(
                transfer.process(&messages[1], deadline).await,
                Disposition::Done
            );
        });
        metrics::economic_call(200);
        metrics::economic_call(429);
    });

    let lines = json_lines(&capture);
    let documents: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    for doc in &documents {
        assert_valid_emf(doc);
        assert_eq!(
            doc["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            "EconBridge"
        );
    }
    // The log lines kept to RUST_LOG=warn and carry no metric event.
    for line in lines.iter().filter(|l| l.get("_aws").is_none()) {
        assert!(
            matches!(line["level"].as_str(), Some("WARN" | "ERROR")),
            "{line}"
        );
        assert!(line["fields"].get("metric").is_none(), "{line}");
    }

    let shop_dims = |extra: &[&str]| -> BTreeSet<String> {
        let mut dims: BTreeSet<String> = ["Stack=test-stack".to_owned()].into();
        dims.extend(extra.iter().map(|s| (*s).to_owned()));
        dims
    };
    let per_shop = shop_dims(&[&format!("ShopId={shop_id}")]);
    let stack_only = shop_dims(&[]);
    let expected: Vec<(String, u64, BTreeSet<String>)> = vec![
        (
            "WebhooksRejected".into(),
            1,
            shop_dims(&["Reason=unauthorized"]),
        ),
        (
            "WebhooksRejected".into(),
            1,
            shop_dims(&["Reason=unknown_shop"]),
        ),
        ("WebhooksAccepted".into(), 1, per_shop.clone()),
        ("WebhooksAccepted".into(), 1, per_shop.clone()),
        ("TransferAttempts".into(), 1, stack_only.clone()),
        ("OrdersOk".into(), 1, per_shop.clone()),
        // SentTimestamp T0 (the memory queue's clock), ok at T0 + 3 s.
        ("WebhookToOkLatency".into(), 3_000, per_shop.clone()),
        ("TransferAttempts".into(), 1, stack_only.clone()),
        ("DeadLetters".into(), 1, per_shop.clone()),
        ("OrdersFailed".into(), 1, per_shop.clone()),
        ("EconomicCalls".into(), 1, stack_only.clone()),
        ("EconomicCalls".into(), 1, stack_only.clone()),
        ("EconomicThrottled".into(), 1, stack_only),
    ];
    let seen: Vec<_> = documents.iter().map(|doc| summary(doc)).collect();
    assert_eq!(seen, expected);
    // The rejected webhook's shop id is a property, never a dimension.
    let unknown = documents
        .iter()
        .find(|doc| doc["Reason"] == "unknown_shop")
        .expect("the 404");
    assert_eq!(unknown["shop_id"], "no-such-shop");
    assert!(unknown.get("ShopId").is_none());
}
