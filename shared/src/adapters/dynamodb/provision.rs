//! Creates the tables, queues and the secrets key as `template.yaml` defines them,
//! for tests and the local stack. The constants here are checked against
//! the template by the integration tests (`tests/tests/integration/template.rs`).

use super::orders::RESCAN_INDEX;
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use aws_sdk_sqs::types::QueueAttributeName;

/// Orders table partition and sort key.
pub const ORDERS_KEYS: (&str, &str) = ("shop_id", "order_id");
/// Rescan index partition and sort key (sort key is a number).
pub const RESCAN_INDEX_KEYS: (&str, &str) = ("rescan_key", "rescan_after");
/// TTL attribute of the orders table.
pub const ORDERS_TTL_ATTRIBUTE: &str = "expires_at";
/// Shops table partition key.
pub const SHOPS_KEY: &str = "shop_id";
pub use crate::domain::lifecycle::DEFAULT_MAX_RECEIVE_COUNT;
/// DLQ retention: 14 days, the SQS maximum, so an operator has time.
pub const DLQ_RETENTION_SECONDS: u32 = 14 * 24 * 3600;

/// URLs and ARN of a provisioned queue pair.
#[derive(Debug, Clone)]
pub struct Queues {
    pub queue_url: String,
    /// What Lambda's SQS events carry as `eventSourceARN`.
    pub queue_arn: String,
    pub dead_letter_queue_url: String,
    pub dead_letter_queue_arn: String,
}

fn attr(name: &str, kind: ScalarAttributeType) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .map_err(build_error)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(build_error)
}

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("invalid request: {e}"))
}

/// Creates the shops and orders tables (on-demand billing, rescan index,
/// TTL on `expires_at`).
pub async fn create_tables(
    client: &aws_sdk_dynamodb::Client,
    shops_table: &str,
    orders_table: &str,
) -> Result<(), StoreError> {
    client
        .create_table()
        .table_name(shops_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(SHOPS_KEY, ScalarAttributeType::S)?)
        .key_schema(key(SHOPS_KEY, KeyType::Hash)?)
        .send()
        .await
        .map_err(super::unavailable)?;

    let index = GlobalSecondaryIndex::builder()
        .index_name(RESCAN_INDEX)
        .key_schema(key(RESCAN_INDEX_KEYS.0, KeyType::Hash)?)
        .key_schema(key(RESCAN_INDEX_KEYS.1, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::KeysOnly)
                .build(),
        )
        .build()
        .map_err(build_error)?;
    client
        .create_table()
        .table_name(orders_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr(ORDERS_KEYS.0, ScalarAttributeType::S)?)
        .attribute_definitions(attr(ORDERS_KEYS.1, ScalarAttributeType::S)?)
        .attribute_definitions(attr(RESCAN_INDEX_KEYS.0, ScalarAttributeType::S)?)
        .attribute_definitions(attr(RESCAN_INDEX_KEYS.1, ScalarAttributeType::N)?)
        .key_schema(key(ORDERS_KEYS.0, KeyType::Hash)?)
        .key_schema(key(ORDERS_KEYS.1, KeyType::Range)?)
        .global_secondary_indexes(index)
        .send()
        .await
        .map_err(super::unavailable)?;
    client
        .update_time_to_live()
        .table_name(orders_table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(ORDERS_TTL_ATTRIBUTE)
                .enabled(true)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(super::unavailable)?;
    Ok(())
}

/// Creates the dead-letter queue and the main queue with a redrive policy
/// moving a message to the DLQ after `max_receive_count` receives.
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    queue_name: &str,
    dead_letter_queue_name: &str,
    visibility_timeout_seconds: u32,
    max_receive_count: u32,
) -> Result<Queues, StoreError> {
    let sqs_err = |e: aws_sdk_sqs::error::SdkError<_, _>| {
        StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
    };
    let dlq = client
        .create_queue()
        .queue_name(dead_letter_queue_name)
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            DLQ_RETENTION_SECONDS.to_string(),
        )
        .send()
        .await
        .map_err(sqs_err)?;
    let dead_letter_queue_url = dlq.queue_url.unwrap_or_default();
    let dead_letter_queue_arn = queue_arn(client, &dead_letter_queue_url).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letter_queue_arn,
        "maxReceiveCount": max_receive_count,
    });
    let queue = client
        .create_queue()
        .queue_name(queue_name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            visibility_timeout_seconds.to_string(),
        )
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .send()
        .await
        .map_err(|e| {
            StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
        })?;
    let queue_url = queue.queue_url.unwrap_or_default();
    let queue_arn = queue_arn(client, &queue_url).await?;
    Ok(Queues {
        queue_url,
        queue_arn,
        dead_letter_queue_url,
        dead_letter_queue_arn,
    })
}

/// A queue's ARN (SQS answers only URLs on create).
pub async fn queue_arn(
    client: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Result<String, StoreError> {
    let attributes = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
        })?;
    attributes
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .ok_or_else(|| StoreError::Unavailable(format!("queue {queue_url} has no QueueArn")))
}

/// A symmetric KMS key for the shops' sealed secrets, as the template's
/// `SecretsKey` (encrypt/decrypt, AES-256); returns its id.
pub async fn create_secrets_key(
    client: &aws_sdk_kms::Client,
    description: &str,
) -> Result<String, StoreError> {
    let out = client
        .create_key()
        .description(description)
        .key_usage(aws_sdk_kms::types::KeyUsageType::EncryptDecrypt)
        .key_spec(aws_sdk_kms::types::KeySpec::SymmetricDefault)
        .send()
        .await
        .map_err(|e| {
            StoreError::Unavailable(aws_sdk_kms::error::DisplayErrorContext(e).to_string())
        })?;
    out.key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or_else(|| StoreError::Unavailable("KMS CreateKey answered no key".to_owned()))
}
