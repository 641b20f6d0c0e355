//! SQS: the transfer queue (one message per order to transfer) and the
//! dead-letter queue (orders that failed permanently, with the reason).
//!
//! Message body: `{"shop_id": "...", "order_id": "...", "cause": "webhook"}`,
//! message attributes `shop_id` and `cause` (DLQ messages also carry
//! `order_id` and `reason`).

use aws_sdk_sqs::types::MessageAttributeValue;
use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};

/// Why an order was put on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Ingest accepted a webhook that made the order ready.
    Webhook,
    /// Rescan found the order pending for too long (a lost enqueue).
    Rescan,
    /// An operator re-sent the order (`bridgectl orders resend`, DLQ replay).
    Resend,
    /// The copy transfer puts on the dead-letter queue. Back on the transfer
    /// queue it means a person replayed it, so it may re-open the failed
    /// order; older copies of a failed order's message may not.
    DeadLettered,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Webhook => "webhook",
            Cause::Rescan => "rescan",
            Cause::Resend => "resend",
            Cause::DeadLettered => "dead_lettered",
        }
    }
}

/// The body of a transfer message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMessage {
    pub shop_id: String,
    pub order_id: String,
    pub cause: Cause,
}

#[derive(Debug, thiserror::Error)]
#[error("SQS unavailable: {0}")]
pub struct QueueError(pub String);

impl QueueError {
    fn sdk<E, R>(err: aws_sdk_sqs::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        QueueError(aws_sdk_sqs::error::DisplayErrorContext(err).to_string())
    }
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        // SQS rejects empty attribute values.
        .string_value(if value.is_empty() { "-" } else { value })
        .build()
        .map_err(|e| QueueError(e.to_string()))
}

/// SQS reason attributes are limited in practice; keep them readable.
const REASON_ATTRIBUTE_MAX_CHARS: usize = 1000;

/// The transfer queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct Queues {
    client: Client,
    queue_url: String,
    dead_letter_queue_url: String,
}

impl Queues {
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        dead_letter_queue_url: impl Into<String>,
    ) -> Self {
        Queues {
            client,
            queue_url: queue_url.into(),
            dead_letter_queue_url: dead_letter_queue_url.into(),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn dead_letter_queue_url(&self) -> &str {
        &self.dead_letter_queue_url
    }

    /// Puts an order on the transfer queue.
    pub async fn enqueue(&self, message: &OrderMessage) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("shop_id", string_attribute(&message.shop_id)?)
            .message_attributes("cause", string_attribute(message.cause.as_str())?)
            .send()
            .await
            .map_err(QueueError::sdk)?;
        Ok(())
    }

    /// Sends a message to the dead-letter queue with the human-readable
    /// reason. `body` is the original message body so a redrive replays it.
    pub async fn dead_letter(
        &self,
        body: &str,
        shop_id: &str,
        order_id: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        let reason: String = reason.chars().take(REASON_ATTRIBUTE_MAX_CHARS).collect();
        self.client
            .send_message()
            .queue_url(&self.dead_letter_queue_url)
            .message_body(body)
            .message_attributes("shop_id", string_attribute(shop_id)?)
            .message_attributes("order_id", string_attribute(order_id)?)
            .message_attributes("reason", string_attribute(&reason)?)
            .send()
            .await
            .map_err(QueueError::sdk)?;
        Ok(())
    }

    /// Receives up to 10 dead letters, hidden from other readers for
    /// `visibility_timeout_seconds`; returns `(receipt handle, body)` pairs.
    pub async fn receive_dead_letters(
        &self,
        visibility_timeout_seconds: i32,
    ) -> Result<Vec<(String, String)>, QueueError> {
        let received = self
            .client
            .receive_message()
            .queue_url(&self.dead_letter_queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(visibility_timeout_seconds)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(QueueError::sdk)?;
        Ok(received
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| Some((m.receipt_handle?, m.body.unwrap_or_default())))
            .collect())
    }

    /// Removes a received dead letter for good.
    pub async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.dead_letter_queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(QueueError::sdk)?;
        Ok(())
    }

    /// Makes a received dead letter visible again at once.
    pub async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.dead_letter_queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(QueueError::sdk)?;
        Ok(())
    }

    /// Delays the next delivery of a received message (transient retry
    /// backoff).
    pub async fn delay_retry(
        &self,
        receipt_handle: &str,
        visibility_timeout_seconds: i32,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(visibility_timeout_seconds)
            .send()
            .await
            .map_err(QueueError::sdk)?;
        Ok(())
    }
}

/// Backoff before the next delivery after the `receive_count`-th failed
/// one: `base × 2^(receive_count−1)`, capped (SQS allows at most 12 h).
pub fn retry_delay_seconds(receive_count: u32, base_seconds: u32, cap_seconds: u32) -> i32 {
    let exponent = receive_count.saturating_sub(1).min(20);
    let delay = u64::from(base_seconds) << exponent;
    let capped = delay.min(u64::from(cap_seconds)).min(12 * 3600);
    i32::try_from(capped).unwrap_or(12 * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_body_is_the_documented_json() {
        let message = OrderMessage {
            shop_id: "acme".into(),
            order_id: "1001".into(),
            cause: Cause::Webhook,
        };
        assert_eq!(
            serde_json::to_string(&message).unwrap(),
            r#"{"shop_id":"acme","order_id":"1001","cause":"webhook"}"#
        );
        let back: OrderMessage =
            serde_json::from_str(r#"{"shop_id":"a","order_id":"b","cause":"rescan"}"#).unwrap();
        assert_eq!(back.cause, Cause::Rescan);
    }

    #[test]
    fn retry_delay_doubles_and_caps() {
        assert_eq!(retry_delay_seconds(1, 30, 900), 30);
        assert_eq!(retry_delay_seconds(2, 30, 900), 60);
        assert_eq!(retry_delay_seconds(4, 30, 900), 240);
        assert_eq!(retry_delay_seconds(6, 30, 900), 900);
        assert_eq!(retry_delay_seconds(0, 30, 900), 30);
        assert_eq!(retry_delay_seconds(200, 30, u32::MAX), 12 * 3600);
    }
}
