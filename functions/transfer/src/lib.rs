//! Transfer Lambda: SQS consumer with `ReportBatchItemFailures`. The logic
//! lives in [`bridge::app::transfer`]; this crate turns the SQS event
//! into messages and the dispositions into a batch response.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use bridge::adapters::dynamodb::{DynamoOrderStore, DynamoShopStore};
use bridge::adapters::economic::{
    ClientConfig, EconomicClient, EconomicInvoicing, DEFAULT_BASE_URL,
};
use bridge::adapters::notify::{HttpNotificationSender, SqsNotificationQueue};
use bridge::adapters::sealed::SecretSealer;
use bridge::adapters::shop_admin::{HttpShopRefunds, HttpShopWriter};
use bridge::adapters::sqs::SqsTransferQueue;
use bridge::adapters::vies::{ViesRegistry, VIES_URL};
use bridge::app::notify::Notifier;
use bridge::app::notify_delivery::{group_by_order, Delivery, DeliverySettings};
use bridge::app::shop_cache::CachedShops;
use bridge::app::transfer::{work_deadline, Disposition, Transfer, TransferSettings};
use bridge::env::{env_number, env_required};
use bridge::ports::{InboundMessage, SystemClock};
use futures::stream::{self, StreamExt};
use lambda_runtime::LambdaEvent;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Time kept back from the invocation deadline to record the outcome.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// Orders of one batch processed at the same time.
const CONCURRENCY: usize = 5;

/// Label notifications recorded in DynamoDB and queued in SQS.
pub type LambdaNotifier =
    Notifier<DynamoOrderStore, SqsNotificationQueue, CachedShops<DynamoShopStore>, SystemClock>;

/// Transfer over DynamoDB, SQS, e-conomic, the system clock and VIES; it
/// announces label changes when the deployment has a notification queue.
pub type LambdaTransfer = Transfer<
    DynamoOrderStore,
    CachedShops<DynamoShopStore>,
    SqsTransferQueue,
    EconomicInvoicing,
    SystemClock,
    ViesRegistry,
    Option<LambdaNotifier>,
>;

/// The notification queue's consumer: POSTs over HTTPS and writes labels
/// back into Shopify and WooCommerce stores.
pub type LambdaDelivery = Delivery<
    DynamoOrderStore,
    SqsNotificationQueue,
    CachedShops<DynamoShopStore>,
    HttpNotificationSender,
    SystemClock,
    HttpShopWriter,
>;

/// The notification queue this function also consumes.
#[derive(Debug, Clone)]
pub struct NotifyQueue {
    pub queue_url: String,
    /// Lambda's SQS records carry it as `eventSourceARN`: how a batch from
    /// this queue is told apart from the transfer queue's.
    pub queue_arn: String,
    pub delivery: DeliverySettings,
}

#[derive(Debug)]
struct Notifications {
    queue_arn: String,
    delivery: LambdaDelivery,
}

/// How long a VIES answer is reused, unless `VIES_CACHE_SECONDS` says.
const VIES_CACHE_SECONDS: u64 = 24 * 3600;

#[derive(Debug)]
pub struct TransferContext {
    transfer: LambdaTransfer,
    notifications: Option<Notifications>,
}

impl TransferContext {
    /// From `SHOPS_TABLE`, `ORDERS_TABLE`, `QUEUE_URL`,
    /// `DEAD_LETTER_QUEUE_URL`, `MAX_RECEIVE_COUNT` (5), `ECONOMIC_BASE_URL`,
    /// `LEASE_SECONDS` (120), `RETRY_BASE_SECONDS` (30), `RETRY_CAP_SECONDS`
    /// (900), `RESCAN_MIN_AGE_SECONDS` (300), `OK_RECORD_TTL_DAYS` (90),
    /// `ECONOMIC_AGREEMENT_CALLS_PER_SECOND` (0: no static cap; the pacing
    /// by e-conomic's rate-limit headers is on regardless),
    /// `TRANSFER_MAX_CONCURRENCY` (1), `SHOP_CACHE_SECONDS` (30: how long a
    /// warm environment uses a shop's configuration before reading it again,
    /// as ingest does), for VIES `VIES_URL` (the public service) and
    /// `VIES_CACHE_SECONDS` (86400), and for label notifications
    /// `NOTIFY_QUEUE_URL` with `NOTIFY_QUEUE_ARN` (unset: none),
    /// `NOTIFY_MAX_RECEIVE_COUNT` (12), `NOTIFY_RETRY_BASE_SECONDS` (30)
    /// and `NOTIFY_RETRY_CAP_SECONDS` (3600).
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = bridge::adapters::aws_http::load_sdk_config().await;
        let defaults = TransferSettings::default();
        let settings = TransferSettings {
            lease_seconds: env_number("LEASE_SECONDS", defaults.lease_seconds)?,
            max_receive_count: env_number("MAX_RECEIVE_COUNT", defaults.max_receive_count)?,
            retry_base_seconds: env_number("RETRY_BASE_SECONDS", defaults.retry_base_seconds)?,
            retry_cap_seconds: env_number("RETRY_CAP_SECONDS", defaults.retry_cap_seconds)?,
            rescan_min_age_seconds: env_number(
                "RESCAN_MIN_AGE_SECONDS",
                defaults.rescan_min_age_seconds,
            )?,
            ok_record_ttl_days: env_number("OK_RECORD_TTL_DAYS", defaults.ok_record_ttl_days)?,
        };
        let base_url =
            std::env::var("ECONOMIC_BASE_URL").unwrap_or_else(|_| DEFAULT_BASE_URL.to_owned());
        let economic = EconomicClient::new(ClientConfig {
            base_url,
            ..ClientConfig::default()
        })?;
        let calls_per_second = calls_per_second_per_environment(
            env_number("ECONOMIC_AGREEMENT_CALLS_PER_SECOND", 0)?,
            env_number("TRANSFER_MAX_CONCURRENCY", 1)?,
        );
        economic.set_rate_limit(calls_per_second);
        let shop_cache_ttl = Duration::from_secs(env_number("SHOP_CACHE_SECONDS", 30)?);
        let shops_table = env_required("SHOPS_TABLE")?;
        let orders_table = env_required("ORDERS_TABLE")?;
        let context = Self::with_shop_cache(
            &sdk,
            &shops_table,
            &orders_table,
            &env_required("QUEUE_URL")?,
            &env_required("DEAD_LETTER_QUEUE_URL")?,
            economic,
            settings,
            shop_cache_ttl,
        );
        let notify_queue_url = std::env::var("NOTIFY_QUEUE_URL").unwrap_or_default();
        if notify_queue_url.trim().is_empty() {
            return Ok(context);
        }
        let defaults = DeliverySettings::default();
        let notify = NotifyQueue {
            queue_url: notify_queue_url,
            queue_arn: env_required("NOTIFY_QUEUE_ARN")?,
            delivery: DeliverySettings {
                max_receive_count: env_number(
                    "NOTIFY_MAX_RECEIVE_COUNT",
                    defaults.max_receive_count,
                )?,
                retry_base_seconds: env_number(
                    "NOTIFY_RETRY_BASE_SECONDS",
                    defaults.retry_base_seconds,
                )?,
                retry_cap_seconds: env_number(
                    "NOTIFY_RETRY_CAP_SECONDS",
                    defaults.retry_cap_seconds,
                )?,
            },
        };
        context.with_notifications(&sdk, &shops_table, &orders_table, notify, shop_cache_ttl)
    }

    /// Announces label changes on `notify`'s queue and consumes it.
    pub fn with_notifications(
        self,
        sdk: &aws_config::SdkConfig,
        shops_table: &str,
        orders_table: &str,
        notify: NotifyQueue,
        shop_cache_ttl: Duration,
    ) -> Result<Self, Error> {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let orders = DynamoOrderStore::new(dynamodb.clone(), orders_table);
        let sealer = Arc::new(SecretSealer::kms(aws_sdk_kms::Client::new(sdk), None));
        let shops = || {
            CachedShops::new(
                DynamoShopStore::new(dynamodb.clone(), shops_table).with_sealer(sealer.clone()),
                shop_cache_ttl,
            )
        };
        let queue = SqsNotificationQueue::new(sqs, &notify.queue_url);
        let notifier = Notifier::new(orders.clone(), queue.clone(), shops(), SystemClock);
        let delivery = Delivery::new(
            orders,
            queue,
            shops(),
            HttpNotificationSender::new()?,
            SystemClock,
            notify.delivery,
        )
        .with_writer(HttpShopWriter::new()?);
        Ok(TransferContext {
            transfer: self.transfer.with_notifier(Some(notifier)),
            notifications: Some(Notifications {
                queue_arn: notify.queue_arn,
                delivery,
            }),
        })
    }

    /// Without the shop cache: every order reads its shop (tests and the
    /// local stack change shops while they run).
    pub fn new(
        sdk: &aws_config::SdkConfig,
        shops_table: &str,
        orders_table: &str,
        queue_url: &str,
        dead_letter_queue_url: &str,
        economic: EconomicClient,
        settings: TransferSettings,
    ) -> Self {
        Self::with_shop_cache(
            sdk,
            shops_table,
            orders_table,
            queue_url,
            dead_letter_queue_url,
            economic,
            settings,
            Duration::ZERO,
        )
    }

    /// As [`Self::new`], each shop's configuration kept `shop_cache_ttl`
    /// (the deployed function's `SHOP_CACHE_SECONDS`).
    #[allow(clippy::too_many_arguments)]
    pub fn with_shop_cache(
        sdk: &aws_config::SdkConfig,
        shops_table: &str,
        orders_table: &str,
        queue_url: &str,
        dead_letter_queue_url: &str,
        economic: EconomicClient,
        settings: TransferSettings,
        shop_cache_ttl: Duration,
    ) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let transfer = Transfer::new(
            DynamoOrderStore::new(dynamodb.clone(), orders_table),
            CachedShops::new(
                DynamoShopStore::new(dynamodb, shops_table).with_sealer(Arc::new(
                    SecretSealer::kms(aws_sdk_kms::Client::new(sdk), None),
                )),
                shop_cache_ttl,
            ),
            SqsTransferQueue::new(
                aws_sdk_sqs::Client::new(sdk),
                queue_url,
                dead_letter_queue_url,
            ),
            EconomicInvoicing::new(economic),
            SystemClock,
            settings,
        )
        .with_vat_registry(vies_from_env())
        .with_notifier(None);
        // WooCommerce refunds' lines (multi-rate orders); without a client
        // such a refund fails saying so, every other order is unaffected.
        let transfer = match HttpShopRefunds::new() {
            Ok(reader) => transfer.with_shop_refunds(Arc::new(reader)),
            Err(error) => {
                tracing::error!(%error, "no HTTP client to read shops' refunds with");
                transfer
            }
        };
        TransferContext {
            transfer,
            notifications: None,
        }
    }

    pub fn transfer(&self) -> &LambdaTransfer {
        &self.transfer
    }
}

/// The VIES registry at `VIES_URL` (default the public service), its
/// answers kept `VIES_CACHE_SECONDS`. An unreadable number keeps the
/// default rather than stopping the function.
fn vies_from_env() -> ViesRegistry {
    let url = std::env::var("VIES_URL").unwrap_or_else(|_| VIES_URL.to_owned());
    let seconds =
        env_number("VIES_CACHE_SECONDS", VIES_CACHE_SECONDS).unwrap_or(VIES_CACHE_SECONDS);
    ViesRegistry::new(&url, Duration::from_secs(seconds))
}

/// The pace for one execution environment's e-conomic client: each
/// environment paces on its own, so an agreement's allowance is shared out
/// over the most environments the event source runs at once. 0 is off; a
/// share below one call per second rounds up to one (the agreement may then
/// see 429s, which are retried).
pub fn calls_per_second_per_environment(
    agreement_calls_per_second: u32,
    max_concurrency: u32,
) -> u32 {
    if agreement_calls_per_second == 0 {
        return 0;
    }
    (agreement_calls_per_second / max_concurrency.max(1)).max(1)
}

/// One unit of a batch: a transfer message, or one order's notifications.
enum Work {
    Order(InboundMessage),
    Notifications(Vec<InboundMessage>),
}

/// Processes a batch; one bad order never holds back the others. Returns
/// the message ids to be delivered again.
pub async fn handle(
    context: &TransferContext,
    event: LambdaEvent<SqsEvent>,
) -> Result<SqsBatchResponse, Error> {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let remaining = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
    let deadline = work_deadline(remaining, DEADLINE_MARGIN);

    let messages: Vec<(Option<String>, InboundMessage)> = event
        .payload
        .records
        .into_iter()
        .map(|record| {
            let message = InboundMessage {
                message_id: record.message_id.unwrap_or_default(),
                receipt_handle: record.receipt_handle,
                body: record.body.unwrap_or_default(),
                receive_count: record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1),
                sent_at_ms: record
                    .attributes
                    .get("SentTimestamp")
                    .and_then(|v| v.parse().ok()),
            };
            (record.event_source_arn, message)
        })
        .collect();

    // At most CONCURRENCY orders at a time, a new one starting as soon as
    // any finishes: one slow order does not hold back the slots of others.
    // Records from the notification queue are label notifications, one
    // order's delivered one after the other in sequence order.
    let (notifications, orders): (Vec<_>, Vec<_>) =
        messages.into_iter().partition(|(source, _)| {
            context
                .notifications
                .as_ref()
                .is_some_and(|n| source.as_deref() == Some(n.queue_arn.as_str()))
        });
    let mut work: Vec<Work> = orders
        .into_iter()
        .map(|(_, message)| Work::Order(message))
        .collect();
    work.extend(
        group_by_order(notifications.into_iter().map(|(_, m)| m).collect())
            .into_iter()
            .map(Work::Notifications),
    );
    let processing = work.into_iter().map(|work| async move {
        match work {
            Work::Order(message) => {
                let disposition = context.transfer.process(&message, deadline).await;
                vec![(message.message_id, disposition)]
            }
            Work::Notifications(group) => match &context.notifications {
                Some(notify) => {
                    let dispositions = notify.delivery.process_group(&group, deadline).await;
                    group
                        .into_iter()
                        .map(|message| message.message_id)
                        .zip(dispositions)
                        .collect()
                }
                None => Vec::new(),
            },
        }
    });
    let results: Vec<(String, Disposition)> = stream::iter(processing)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut failures = Vec::new();
    for (message_id, disposition) in results {
        if disposition == Disposition::Retry {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            failures.push(failure);
        }
    }
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::calls_per_second_per_environment;

    #[test]
    fn the_agreement_allowance_is_shared_over_the_environments() {
        assert_eq!(calls_per_second_per_environment(0, 5), 0);
        assert_eq!(calls_per_second_per_environment(10, 5), 2);
        assert_eq!(calls_per_second_per_environment(10, 0), 10);
        assert_eq!(calls_per_second_per_environment(10, 3), 3);
        assert_eq!(calls_per_second_per_environment(2, 5), 1);
    }
}
