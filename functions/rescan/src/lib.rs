//! Rescan Lambda, run by an EventBridge schedule: re-enqueues orders left
//! pending (see [`bridge::app::rescan`]).

use bridge::adapters::dynamodb::DynamoOrderStore;
use bridge::adapters::sqs::SqsTransferQueue;
pub use bridge::app::rescan::RescanReport;
use bridge::app::rescan::{Rescan, RescanSettings};
use bridge::env::{env_number, env_required};
use lambda_runtime::LambdaEvent;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Rescan over DynamoDB and SQS.
pub type LambdaRescan = Rescan<DynamoOrderStore, SqsTransferQueue>;

#[derive(Debug)]
pub struct RescanContext {
    rescan: LambdaRescan,
}

impl RescanContext {
    /// From `ORDERS_TABLE`, `QUEUE_URL`, `RESCAN_MIN_AGE_SECONDS` (300),
    /// `RESCAN_MAX_ORDERS` (500), `MAX_RECEIVE_COUNT` (5) and
    /// `DEAD_LETTER_QUEUE_URL` (unset: no sweep of stale dead letters).
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = aws_config::load_from_env().await;
        let settings = RescanSettings {
            min_age_seconds: env_number("RESCAN_MIN_AGE_SECONDS", 300)?,
            max_orders: env_number("RESCAN_MAX_ORDERS", 500)?,
            max_receive_count: env_number("MAX_RECEIVE_COUNT", 5)?,
        };
        Ok(Self::new(
            &sdk,
            &env_required("ORDERS_TABLE")?,
            &env_required("QUEUE_URL")?,
            std::env::var("DEAD_LETTER_QUEUE_URL")
                .ok()
                .filter(|url| !url.trim().is_empty())
                .as_deref(),
            settings,
        ))
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
            rescan: Rescan::new(orders, queue, settings),
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
