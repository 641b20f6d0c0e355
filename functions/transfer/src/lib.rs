//! Transfer Lambda: SQS consumer with `ReportBatchItemFailures`. The logic
//! lives in [`bridge::pipeline::transfer`]; this crate turns the SQS event
//! into messages and the dispositions into a batch response.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use bridge::economic::{ClientConfig, EconomicClient, DEFAULT_BASE_URL};
use bridge::pipeline::transfer::{
    work_deadline, Disposition, InboundMessage, Transfer, TransferSettings,
};
use bridge::pipeline::{env_number, env_required};
use bridge::queue::Queues;
use bridge::store::{OrderStore, ShopStore};
use lambda_runtime::LambdaEvent;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Time kept back from the invocation deadline to record the outcome.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// Orders of one batch processed at the same time.
const CONCURRENCY: usize = 5;

#[derive(Debug)]
pub struct TransferContext {
    transfer: Transfer,
}

impl TransferContext {
    /// From `SHOPS_TABLE`, `ORDERS_TABLE`, `QUEUE_URL`,
    /// `DEAD_LETTER_QUEUE_URL`, `MAX_RECEIVE_COUNT` (5), `ECONOMIC_BASE_URL`,
    /// `LEASE_SECONDS` (120), `RETRY_BASE_SECONDS` (30), `RETRY_CAP_SECONDS`
    /// (900), `RESCAN_MIN_AGE_SECONDS` (300), `OK_RECORD_TTL_DAYS` (90),
    /// `ECONOMIC_AGREEMENT_CALLS_PER_SECOND` (0: no pacing) and
    /// `TRANSFER_MAX_CONCURRENCY` (1).
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = aws_config::load_from_env().await;
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
        Ok(Self::new(
            &sdk,
            &env_required("SHOPS_TABLE")?,
            &env_required("ORDERS_TABLE")?,
            &env_required("QUEUE_URL")?,
            &env_required("DEAD_LETTER_QUEUE_URL")?,
            economic,
            settings,
        ))
    }

    pub fn new(
        sdk: &aws_config::SdkConfig,
        shops_table: &str,
        orders_table: &str,
        queue_url: &str,
        dead_letter_queue_url: &str,
        economic: EconomicClient,
        settings: TransferSettings,
    ) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        TransferContext {
            transfer: Transfer::new(
                ShopStore::new(dynamodb.clone(), shops_table),
                OrderStore::new(dynamodb, orders_table),
                Queues::new(
                    aws_sdk_sqs::Client::new(sdk),
                    queue_url,
                    dead_letter_queue_url,
                ),
                economic,
                settings,
            ),
        }
    }

    pub fn transfer(&self) -> &Transfer {
        &self.transfer
    }
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

    let messages: Vec<InboundMessage> = event
        .payload
        .records
        .into_iter()
        .map(|record| InboundMessage {
            message_id: record.message_id.unwrap_or_default(),
            receipt_handle: record.receipt_handle,
            body: record.body.unwrap_or_default(),
            receive_count: record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|v| v.parse().ok())
                .unwrap_or(1),
        })
        .collect();

    let mut failures = Vec::new();
    for chunk in messages.chunks(CONCURRENCY) {
        let results = bridge::pipeline::join_all(
            chunk
                .iter()
                .map(|m| async move { (m, context.transfer.process(m, deadline).await) }),
        )
        .await;
        for (message, disposition) in results {
            if disposition == Disposition::Retry {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = message.message_id.clone();
                failures.push(failure);
            }
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
