//! Support for the integration tests: one moto server per test binary, an
//! e-conomic sandbox per test, unique tables and queues per test, signed
//! webhooks delivered as real API Gateway v2 events, and a poller that
//! drives the transfer handler like Lambda's SQS event source mapping
//! (`local_stack::event_source::poll_once`).

pub mod capacity;
pub mod contract;

use aws_config::{BehaviorVersion, SdkConfig};
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use bridge::adapters::dynamodb::{provision, DynamoOrderStore, DynamoShopStore};
use bridge::app::ingest::IngestSettings;
use bridge::app::rescan::RescanSettings;
use bridge::app::transfer::TransferSettings;
use bridge::domain::lifecycle::OrderRecord;
use bridge::domain::money::VatRounding;
use bridge::domain::secret::Secret;
use bridge::domain::shop::{EconomicCredentials, ShopConfig, Trigger, WebhookSecret};
use bridge::ports::{OrderStore, ShopStore};
use economic_sandbox::{SandboxConfig, SandboxHandle};
use ingest::IngestContext;
use lambda_runtime::LambdaEvent;
use local_stack::apigw::{http_api_event, to_lambda_request, HttpRequestParts};
use local_stack::event_source::{poll_once, EventSourceSettings, PollOutcome};
use local_stack::moto::MotoServer;
use rescan::RescanContext;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use transfer::TransferContext;

pub const REGION: &str = "eu-west-1";
/// A shop's signing secret in the tests (`whsec_` + base64).
pub const SECRET: &str = "whsec_dGVzdCBzaWduaW5nIHNlY3JldCBmb3IgdGhlIGJyaWRnZQ==";
pub const OTHER_SECRET: &str = "whsec_YW5vdGhlciBzaG9wJ3Mgc2VjcmV0";

/// The workspace root (this crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The moto endpoint for this test binary (started on first use; its
/// watchdog stops it when the binary exits).
pub fn moto_endpoint() -> String {
    static MOTO: OnceLock<Result<MotoServer, String>> = OnceLock::new();
    match MOTO.get_or_init(|| MotoServer::start(&workspace_root(), 0).map_err(|e| e.to_string())) {
        Ok(moto) => moto.endpoint_url(),
        Err(e) => panic!("{e}"),
    }
}

/// SDK config pointing at moto with dummy credentials.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(moto_endpoint())
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .http_client(bridge::adapters::aws_http::sdk_http_client())
        .load()
        .await
}

/// A name unique in this process and across parallel test binaries.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
}

/// Knobs a test may turn.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub max_receive_count: u32,
    pub visibility_timeout_seconds: u32,
    pub retry_base_seconds: u32,
    pub rescan_min_age_seconds: i64,
    pub max_body_bytes: usize,
    /// Tries of a label notification before its dead-letter queue.
    pub notify_max_receive_count: u32,
    /// How the sandbox rounds VAT (e-conomic's rule is unconfirmed).
    /// Default: `BRIDGE_TEST_VAT_ROUNDING` (`per_line` or `per_invoice`),
    /// else per line; `infra/scripts/test.sh` runs the pipeline tests
    /// under both.
    pub vat_rounding: VatRounding,
}

/// `BRIDGE_TEST_VAT_ROUNDING`, or per line. A value that is neither mode
/// stops the test run rather than silently testing the default.
fn vat_rounding_from_env() -> VatRounding {
    match std::env::var("BRIDGE_TEST_VAT_ROUNDING").as_deref() {
        Err(_) | Ok("") | Ok("per_line") => VatRounding::PerLine,
        Ok("per_invoice") => VatRounding::PerInvoice,
        Ok(other) => panic!("BRIDGE_TEST_VAT_ROUNDING={other}: expected per_line or per_invoice"),
    }
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            max_receive_count: 5,
            visibility_timeout_seconds: 2,
            // 0: retries become visible again at once (fast tests).
            retry_base_seconds: 0,
            rescan_min_age_seconds: 300,
            max_body_bytes: bridge::app::ingest::DEFAULT_MAX_BODY_BYTES,
            notify_max_receive_count: 20,
            vat_rounding: vat_rounding_from_env(),
        }
    }
}

/// One isolated copy of the whole pipeline.
pub struct Stack {
    pub sdk: SdkConfig,
    pub sandbox: SandboxHandle,
    pub shops_table: String,
    pub orders_table: String,
    /// The KMS key (in moto) the shops' secrets are sealed under.
    pub secrets_key_id: String,
    pub queues: provision::Queues,
    pub queue_arn: String,
    /// The label-notification queue and its dead-letter queue.
    pub notify_queues: provision::Queues,
    pub ingest: IngestContext,
    pub transfer: TransferContext,
    pub rescan: RescanContext,
    pub options: StackOptions,
}

impl Stack {
    pub async fn start() -> Stack {
        Self::with_options(StackOptions::default()).await
    }

    pub async fn with_options(options: StackOptions) -> Stack {
        let sdk = sdk_config().await;
        Self::build(options, sdk.clone(), sdk).await
    }

    /// A stack whose functions' DynamoDB requests go through `meter`; the
    /// test's own reads (`order`, `peek`...) are not metered.
    pub async fn metered(
        options: StackOptions,
        meter: &std::sync::Arc<capacity::CapacityMeter>,
    ) -> Stack {
        let sdk = sdk_config().await;
        let metered = meter.sdk_config(&sdk);
        Self::build(options, sdk, metered).await
    }

    /// `functions_sdk` is what ingest, transfer and rescan are built with.
    async fn build(options: StackOptions, sdk: SdkConfig, functions_sdk: SdkConfig) -> Stack {
        init_test_tracing();
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let shops_table = unique("shops");
        let orders_table = unique("orders");
        provision::create_tables(&dynamodb, &shops_table, &orders_table)
            .await
            .expect("create tables in moto");
        let queues = provision::create_queues(
            &sqs,
            &unique("transfer"),
            &unique("transfer-dlq"),
            options.visibility_timeout_seconds,
            options.max_receive_count,
        )
        .await
        .expect("create queues in moto");
        let queue_arn = queues.queue_arn.clone();
        let secrets_key_id =
            provision::create_secrets_key(&aws_sdk_kms::Client::new(&sdk), "test shops' secrets")
                .await
                .expect("create the secrets key in moto");
        let notify_queues = provision::create_queues(
            &sqs,
            &unique("notify"),
            &unique("notify-dlq"),
            options.visibility_timeout_seconds,
            options.notify_max_receive_count,
        )
        .await
        .expect("create notification queues in moto");
        let sandbox = economic_sandbox::start(SandboxConfig::default())
            .await
            .expect("start e-conomic sandbox");
        sandbox.set_vat_rounding(options.vat_rounding);

        let ingest = IngestContext::new(
            &functions_sdk,
            &shops_table,
            &orders_table,
            &queues.queue_url,
            IngestSettings {
                max_body_bytes: options.max_body_bytes,
                shop_cache_ttl: Duration::from_secs(0),
                rescan_min_age_seconds: options.rescan_min_age_seconds,
            },
        );
        let economic = bridge::adapters::economic::EconomicClient::new(
            bridge::adapters::economic::ClientConfig {
                base_url: sandbox.base_url(),
                ..bridge::adapters::economic::ClientConfig::default()
            },
        )
        .expect("e-conomic client");
        let transfer = TransferContext::new(
            &functions_sdk,
            &shops_table,
            &orders_table,
            &queues.queue_url,
            &queues.dead_letter_queue_url,
            economic,
            TransferSettings {
                lease_seconds: 30,
                max_receive_count: options.max_receive_count,
                retry_base_seconds: options.retry_base_seconds,
                retry_cap_seconds: 5,
                rescan_min_age_seconds: options.rescan_min_age_seconds,
                ok_record_ttl_days: 90,
            },
        )
        .with_notifications(
            &functions_sdk,
            &shops_table,
            &orders_table,
            transfer::NotifyQueue {
                queue_url: notify_queues.queue_url.clone(),
                queue_arn: notify_queues.queue_arn.clone(),
                delivery: bridge::app::notify_delivery::DeliverySettings {
                    max_receive_count: options.notify_max_receive_count,
                    // 0: a failed try is visible again at once (fast tests).
                    retry_base_seconds: 0,
                    retry_cap_seconds: 0,
                },
            },
            Duration::ZERO,
        )
        .expect("notification delivery");
        let rescan = RescanContext::new(
            &functions_sdk,
            &orders_table,
            &queues.queue_url,
            Some(&queues.dead_letter_queue_url),
            RescanSettings {
                min_age_seconds: options.rescan_min_age_seconds,
                max_orders: 500,
                max_receive_count: options.max_receive_count,
            },
        )
        .with_notifications(
            &functions_sdk,
            &shops_table,
            &orders_table,
            &notify_queues.queue_url,
        );
        Stack {
            sdk,
            sandbox,
            shops_table,
            orders_table,
            secrets_key_id,
            queues,
            queue_arn,
            notify_queues,
            ingest,
            transfer,
            rescan,
            options,
        }
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    /// The shops table as bridgectl writes it: secrets sealed under the
    /// stack's KMS key, which the functions unseal.
    pub fn shop_store(&self) -> DynamoShopStore {
        let sealer = bridge::adapters::sealed::SecretSealer::kms(
            aws_sdk_kms::Client::new(&self.sdk),
            Some(self.secrets_key_id.clone()),
        );
        DynamoShopStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.shops_table)
            .with_sealer(std::sync::Arc::new(sealer))
    }

    pub fn order_store(&self) -> DynamoOrderStore {
        DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.orders_table)
    }

    /// Stores a shop with the sandbox's tokens and the default mapping.
    pub async fn put_shop(&self, shop_id: &str, enabled: bool, mapping: Value) -> ShopConfig {
        let config = ShopConfig {
            shop_id: shop_id.to_owned(),
            display_name: format!("Shop {shop_id}"),
            enabled,
            trigger: Trigger::Paid,
            platform: None,
            webhook_secrets: vec![WebhookSecret {
                secret: Secret::new(SECRET),
                valid_until: None,
            }],
            economic: EconomicCredentials {
                app_secret_token: Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
                agreement_grant_token: Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
            },
            notify: None,
            mapping: serde_json::from_value(mapping).expect("mapping config"),
        };
        self.shop_store().put(&config).await.expect("put shop");
        config
    }

    /// [`Self::put_shop`] with a `notify` target: label notifications are
    /// POSTed to `url`, signed with `secret`. Sealed as bridgectl writes
    /// it: the notifier and the delivery must unseal the secret.
    pub async fn put_shop_with_notify(&self, shop_id: &str, url: &str, secret: &str) {
        let mut shop = self.put_shop(shop_id, true, json!({})).await;
        shop.notify = Some(
            serde_json::from_value(json!({"url": url, "secrets": [{"secret": secret}]}))
                .expect("notify target"),
        );
        self.shop_store().put(&shop).await.expect("put shop");
    }

    /// Delivers a webhook through the real ingest handler as an API Gateway
    /// v2 event; returns the status and JSON body.
    pub async fn deliver(
        &self,
        shop_id: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> (u16, Value) {
        let path = format!("/webhooks/{shop_id}");
        let parts = HttpRequestParts {
            method: "POST",
            path: &path,
            query: "",
            headers,
            body,
        };
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let event = http_api_event(
            &parts,
            "POST /webhooks/{shop_id}",
            &[("shop_id", shop_id)],
            now_ms,
        );
        let request = to_lambda_request(event).expect("API Gateway event converts");
        let response = ingest::handle(&self.ingest, request).await;
        let status = response.status().as_u16();
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
        (status, body)
    }

    /// Stores a shop that sends its platform's own webhooks (`platform` as
    /// in the shop configuration), with the sandbox's tokens. Its discounts
    /// go to the sandbox's generic product (it seeds no `DISCOUNT`).
    pub async fn put_platform_shop(&self, shop_id: &str, platform: Value) -> ShopConfig {
        let mapping =
            serde_json::json!({"products": {"discount": "GENERIC", "promotional": "GENERIC"}});
        let mut config = self.put_shop(shop_id, true, mapping).await;
        config.webhook_secrets.clear();
        config.platform = Some(serde_json::from_value(platform).expect("platform config"));
        self.shop_store().put(&config).await.expect("put shop");
        config
    }

    /// Delivers a platform webhook (`/webhooks/{shop_id}/{platform}`)
    /// through the real ingest handler; returns the status and JSON body.
    pub async fn deliver_platform(
        &self,
        shop_id: &str,
        platform: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
    ) -> (u16, Value) {
        let path = format!("/webhooks/{shop_id}/{platform}");
        let parts = HttpRequestParts {
            method: "POST",
            path: &path,
            query: "",
            headers,
            body,
        };
        let now_ms = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
        let event = http_api_event(
            &parts,
            "POST /webhooks/{shop_id}/{platform}",
            &[("shop_id", shop_id), ("platform", platform)],
            now_ms,
        );
        let request = to_lambda_request(event).expect("API Gateway event converts");
        let response = ingest::handle(&self.ingest, request).await;
        let status = response.status().as_u16();
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null);
        (status, body)
    }

    /// Signs `body` with `secret` as delivery `webhook_id` and delivers it.
    pub async fn send_signed(&self, shop_id: &str, webhook_id: &str, body: &[u8]) -> (u16, Value) {
        let headers = signed_headers(SECRET, webhook_id, now(), body);
        self.deliver(shop_id, headers, body).await
    }

    /// One poll of the transfer queue through the real transfer handler.
    pub async fn poll_transfer(&self) -> PollOutcome {
        let settings = EventSourceSettings {
            queue_url: self.queues.queue_url.clone(),
            queue_arn: self.queue_arn.clone(),
            region: REGION.to_owned(),
            batch_size: 10,
            wait: Duration::from_secs(0),
            batching_window: Duration::ZERO,
            function_timeout: Duration::from_secs(30),
        };
        poll_once(&self.sqs(), &settings, |event: LambdaEvent<SqsEvent>| {
            transfer::handle(&self.transfer, event)
        })
        .await
        .expect("poll transfer queue")
    }

    /// One poll of the notification queue through the real transfer
    /// handler (which tells the queues apart by the records' source ARN).
    pub async fn poll_notifications(&self) -> PollOutcome {
        let settings = EventSourceSettings {
            queue_url: self.notify_queues.queue_url.clone(),
            queue_arn: self.notify_queues.queue_arn.clone(),
            region: REGION.to_owned(),
            batch_size: 10,
            wait: Duration::from_secs(0),
            batching_window: Duration::ZERO,
            function_timeout: Duration::from_secs(30),
        };
        poll_once(&self.sqs(), &settings, |event: LambdaEvent<SqsEvent>| {
            transfer::handle(&self.transfer, event)
        })
        .await
        .expect("poll notification queue")
    }

    /// Polls until `done` holds for the order, or panics after `limit`.
    pub async fn transfer_until(
        &self,
        shop_id: &str,
        order_id: &str,
        limit: Duration,
        done: impl Fn(&OrderRecord) -> bool,
    ) -> OrderRecord {
        let started = Instant::now();
        loop {
            self.poll_transfer().await;
            if let Some(record) = self.order(shop_id, order_id).await {
                if done(&record) {
                    return record;
                }
            }
            if started.elapsed() > limit {
                panic!(
                    "order {shop_id}/{order_id} did not reach the expected state in {limit:?}: {:?}",
                    self.order(shop_id, order_id).await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn order(&self, shop_id: &str, order_id: &str) -> Option<OrderRecord> {
        self.order_store()
            .get(shop_id, order_id)
            .await
            .expect("read order")
    }

    /// Messages currently visible in a queue (received, then made visible
    /// again), with their message attributes.
    pub async fn peek(&self, queue_url: &str) -> Vec<aws_sdk_sqs::types::Message> {
        let sqs = self.sqs();
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .visibility_timeout(0)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("receive");
        out.messages.unwrap_or_default()
    }

    /// Approximate number of visible messages in a queue.
    pub async fn depth(&self, queue_url: &str) -> usize {
        let out = self
            .sqs()
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes.unwrap_or_default();
        let get = |name: &QueueAttributeName| {
            attrs
                .get(name)
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0)
        };
        get(&QueueAttributeName::ApproximateNumberOfMessages)
            + get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
    }
}

/// Logs to the test output (shown for failing tests) through the binaries'
/// set-up, secret-safety cap included; `RUST_LOG` filters.
pub fn init_test_tracing() {
    use tracing_subscriber::util::SubscriberInitExt;
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = bridge::logging::LogSetup::new("info")
        .subscriber(
            rust_log.as_deref(),
            tracing_subscriber::fmt::TestWriter::new,
        )
        .try_init();
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The three Standard Webhooks headers for `body`.
pub fn signed_headers(
    secret: &str,
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let signature =
        bridge::domain::webhook::sign(secret, webhook_id, timestamp, body).expect("valid secret");
    vec![
        ("content-type".to_owned(), "application/json".to_owned()),
        ("webhook-id".to_owned(), webhook_id.to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), signature),
    ]
}

/// A valid order event body. Two T-shirts at 100.00 and shipping 39.00,
/// prices incl. 25 % VAT: total 239.00.
pub fn order_event(event_type: &str, order_id: &str, total: &str) -> Vec<u8> {
    format!(
        r#"{{
  "type": "{event_type}",
  "order": {{
    "id": "{order_id}",
    "number": "{order_id}",
    "created_at": "2026-03-01T10:00:00Z",
    "currency": "DKK",
    "prices_include_vat": true,
    "customer": {{"name": "Jens Hansen", "email": "jens@example.dk"}},
    "billing_address": {{"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"}},
    "payment_method": "card",
    "lines": [{{"sku": "SKU-1", "name": "T-shirt", "quantity": 2, "unit_price": "100.00", "vat_rate": "25"}}],
    "shipping": {{"name": "GLS", "price": "39.00", "vat_rate": "25"}},
    "total": "{total}"
  }}
}}"#
    )
    .into_bytes()
}
