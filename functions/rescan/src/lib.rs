//! Rescan Lambda, run by an EventBridge schedule: re-enqueues orders left
//! pending (see [`bridge::app::rescan`]).

use bridge::adapters::dynamodb::{DynamoOrderStore, DynamoShopStore};
use bridge::adapters::notify::SqsNotificationQueue;
use bridge::adapters::sqs::SqsTransferQueue;
use bridge::app::notify::Notifier;
pub use bridge::app::rescan::RescanReport;
use bridge::app::rescan::{Rescan, RescanSettings};
use bridge::env::{env_number, env_required};
use lambda_runtime::LambdaEvent;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Label notifications recorded in DynamoDB and queued in SQS.
pub type LambdaNotifier =
    Notifier<DynamoOrderStore, SqsNotificationQueue, DynamoShopStore, bridge::ports::SystemClock>;

/// Rescan over DynamoDB and SQS; it announces the failures it labels when
/// the deployment has a notification queue.
pub type LambdaRescan = Rescan<DynamoOrderStore, SqsTransferQueue, Option<LambdaNotifier>>;

#[derive(Debug)]
pub struct RescanContext {
    rescan: LambdaRescan,
}

impl RescanContext {
    /// From `ORDERS_TABLE`, `QUEUE_URL`, `RESCAN_MIN_AGE_SECONDS` (300),
    /// `RESCAN_MAX_ORDERS` (500), `MAX_RECEIVE_COUNT` (5) and
    /// `DEAD_LETTER_QUEUE_URL` (unset: no sweep of stale dead letters), and
    /// `NOTIFY_QUEUE_URL` with `SHOPS_TABLE` (unset: no label notifications).
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = bridge::adapters::aws_http::load_sdk_config().await;
        let settings = RescanSettings {
            min_age_seconds: env_number("RESCAN_MIN_AGE_SECONDS", 300)?,
            max_orders: env_number("RESCAN_MAX_ORDERS", 500)?,
            max_receive_count: env_number("MAX_RECEIVE_COUNT", 5)?,
        };
        let orders_table = env_required("ORDERS_TABLE")?;
        let context = Self::new(
            &sdk,
            &orders_table,
            &env_required("QUEUE_URL")?,
            std::env::var("DEAD_LETTER_QUEUE_URL")
                .ok()
                .filter(|url| !url.trim().is_empty())
                .as_deref(),
            settings,
        );
        match std::env::var("NOTIFY_QUEUE_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(context.with_notifications(
                &sdk,
                &env_required("SHOPS_TABLE")?,
                &orders_table,
                &url,
            )),
            _ => Ok(context),
        }
    }

    /// Announces the failures rescan labels on the notification queue.
    pub fn with_notifications(
        self,
        sdk: &aws_config::SdkConfig,
        shops_table: &str,
        orders_table: &str,
        notify_queue_url: &str,
    ) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let notifier = Notifier::new(
            DynamoOrderStore::new(dynamodb.clone(), orders_table),
            SqsNotificationQueue::new(aws_sdk_sqs::Client::new(sdk), notify_queue_url),
            // It reads a shop's notify target: sealed like the rest.
            DynamoShopStore::new(dynamodb, shops_table).with_sealer(std::sync::Arc::new(
                bridge::adapters::sealed::SecretSealer::kms(aws_sdk_kms::Client::new(sdk), None),
            )),
            bridge::ports::SystemClock,
        );
        RescanContext {
            rescan: self.rescan.with_notifier(Some(notifier)),
        }
    }

    pub fn new(
        sdk: &aws_config::SdkConfig,
        orders_table: &str,
        queue_url: &str,
        dead_letter_queue_url: Option<&str>,
        settings: RescanSettings,
    ) -> Self {
        let orders = DynamoOrderStore::new(aws_sdk_dynamodb::Client::new(sdk), orders_table);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let queue = match dead_letter_queue_url {
            Some(dead_letter_queue_url) => {
                SqsTransferQueue::new(sqs, queue_url, dead_letter_queue_url)
            }
            None => SqsTransferQueue::without_dead_letter_queue(sqs, queue_url),
        };
        RescanContext {
            rescan: Rescan::new(orders, queue, settings).with_notifier(None),
        }
    }
}

/// One scheduled run. The event's content is not used.
pub async fn handle(
    context: &RescanContext,
    _event: LambdaEvent<serde_json::Value>,
) -> Result<RescanReport, Error> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(context.rescan.run(now).await?)
}
