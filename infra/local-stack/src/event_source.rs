//! What Lambda's SQS event source mapping does, for the local stack and the
//! tests: long-poll the queue, hand up to `batch_size` messages to the
//! handler as one `SqsEvent`, delete the ones it did not report as failed
//! (`ReportBatchItemFailures`), and leave the rest to become visible again.
//! Redrive to the dead-letter queue is SQS's own job (its `RedrivePolicy`).

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage, SqsMessageAttribute};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use lambda_runtime::{Context, LambdaEvent};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How the mapping is configured (mirrors template.yaml's SQS event).
#[derive(Debug, Clone)]
pub struct EventSourceSettings {
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    pub batch_size: i32,
    /// Long-poll wait per receive.
    pub wait: Duration,
    /// `MaximumBatchingWindowInSeconds`: once a receive returns fewer
    /// messages than `batch_size`, keep receiving for up to this long to
    /// fill the batch before invoking (zero: invoke at once).
    pub batching_window: Duration,
    /// The function's timeout: becomes the invocation deadline.
    pub function_timeout: Duration,
}

/// What one poll did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PollOutcome {
    pub received: usize,
    pub deleted: usize,
    pub failed: usize,
}

/// Receives one batch and invokes `handler` with it. Returns what happened;
/// an empty queue gives `received == 0`.
pub async fn poll_once<H, F, E>(
    sqs: &aws_sdk_sqs::Client,
    settings: &EventSourceSettings,
    handler: H,
) -> Result<PollOutcome, aws_sdk_sqs::Error>
where
    H: FnOnce(LambdaEvent<SqsEvent>) -> F,
    F: Future<Output = Result<SqsBatchResponse, E>>,
    E: std::fmt::Display,
{
    let received = sqs
        .receive_message()
        .queue_url(&settings.queue_url)
        .max_number_of_messages(settings.batch_size.clamp(1, 10))
        .wait_time_seconds(settings.wait.as_secs().min(20) as i32)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .message_attribute_names("All")
        .send()
        .await?;
    let mut messages = received.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(PollOutcome::default());
    }
    let batch_size = settings.batch_size.clamp(1, 10) as usize;
    let window_ends = std::time::Instant::now() + settings.batching_window;
    while messages.len() < batch_size {
        let left = window_ends.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let more = sqs
            .receive_message()
            .queue_url(&settings.queue_url)
            .max_number_of_messages((batch_size - messages.len()) as i32)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await?
            .messages
            .unwrap_or_default();
        if more.is_empty() {
            tokio::time::sleep(left.min(Duration::from_millis(100))).await;
        }
        for message in more {
            // Back again once its visibility timeout ran out during the
            // window: the same record, with the newer receipt handle.
            match messages
                .iter_mut()
                .find(|held| held.message_id == message.message_id)
            {
                Some(held) => *held = message,
                None => messages.push(message),
            }
        }
    }

    invoke_and_acknowledge(sqs, settings, messages, handler).await
}

/// Invokes `handler` with `messages` as one batch and deletes the ones it
/// did not report as failed, as the event source mapping does.
pub(crate) async fn invoke_and_acknowledge<H, F, E>(
    sqs: &aws_sdk_sqs::Client,
    settings: &EventSourceSettings,
    messages: Vec<aws_sdk_sqs::types::Message>,
    handler: H,
) -> Result<PollOutcome, aws_sdk_sqs::Error>
where
    H: FnOnce(LambdaEvent<SqsEvent>) -> F,
    F: Future<Output = Result<SqsBatchResponse, E>>,
    E: std::fmt::Display,
{
    let mut receipts = HashMap::new();
    let mut records = Vec::with_capacity(messages.len());
    for message in messages {
        let id = message.message_id.clone().unwrap_or_default();
        if let Some(handle) = &message.receipt_handle {
            receipts.insert(id.clone(), handle.clone());
        }
        records.push(to_event_record(message, settings));
    }
    let mut event = SqsEvent::default();
    event.records = records;
    let mut context = Context::default();
    context.request_id = format!("local-{}", now_ms());
    context.deadline = now_ms() + settings.function_timeout.as_millis() as u64;
    context.invoked_function_arn = "arn:aws:lambda:local:000000000000:function:transfer".into();

    let received_count = receipts.len();
    // A handler error fails the whole batch, as on Lambda.
    let failed: HashSet<String> = match handler(LambdaEvent::new(event, context)).await {
        Ok(response) => response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        Err(error) => {
            tracing::warn!(%error, "transfer handler failed the whole batch");
            receipts.keys().cloned().collect()
        }
    };

    let entries: Vec<DeleteMessageBatchRequestEntry> = receipts
        .iter()
        .filter(|(id, _)| !failed.contains(*id))
        .enumerate()
        .filter_map(|(n, (_, handle))| {
            DeleteMessageBatchRequestEntry::builder()
                .id(format!("m{n}"))
                .receipt_handle(handle)
                .build()
                .ok()
        })
        .collect();
    let deleted = entries.len();
    if !entries.is_empty() {
        sqs.delete_message_batch()
            .queue_url(&settings.queue_url)
            .set_entries(Some(entries))
            .send()
            .await?;
    }
    Ok(PollOutcome {
        received: received_count,
        deleted,
        failed: received_count - deleted,
    })
}

pub(crate) fn to_event_record(
    message: aws_sdk_sqs::types::Message,
    settings: &EventSourceSettings,
) -> SqsMessage {
    let mut record = SqsMessage::default();
    record.message_id = message.message_id;
    record.receipt_handle = message.receipt_handle;
    record.body = message.body;
    record.md5_of_body = message.md5_of_body;
    record.md5_of_message_attributes = message.md5_of_message_attributes;
    record.attributes = message
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_string(), v))
        .collect();
    record.message_attributes = message
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| {
            let mut attribute = SqsMessageAttribute::default();
            attribute.data_type = Some(value.data_type);
            attribute.string_value = value.string_value;
            (name, attribute)
        })
        .collect();
    record.event_source = Some("aws:sqs".into());
    record.event_source_arn = Some(settings.queue_arn.clone());
    record.aws_region = Some(settings.region.clone());
    record
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
