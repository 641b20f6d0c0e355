//! SQS: the transfer queue (one message per order to transfer) and the
//! dead-letter queue (orders that failed permanently, with the reason).
//!
//! Message body: `{"shop_id": "...", "order_id": "...", "cause": "webhook"}`,
//! message attributes `shop_id` and `cause` (DLQ messages also carry
//! `order_id` and `reason`).
//!
//! Every transfer message carries `MessageGroupId` = its shop id. On a
//! standard queue that makes the shop a tenant of SQS *fair queues*: when
//! one shop has far more messages in flight (or takes far more of the
//! consumers' time) than the others, SQS delivers the other shops'
//! messages first, so a shop's promotion does not delay the others'
//! invoices ([Performance](../../../docs/performance.md#many-shops-at-once-fairness)).
//! It does not order anything: the queue stays a standard queue.

use crate::ports::{DeadLetter, OrderMessage, QueueError, TransferQueue};
use aws_sdk_sqs::types::MessageAttributeValue;
use aws_sdk_sqs::Client;

fn unavailable<E, R>(err: aws_sdk_sqs::error::SdkError<E, R>) -> QueueError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    QueueError(aws_sdk_sqs::error::DisplayErrorContext(err).to_string())
}

fn string_attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        // SQS rejects empty attribute values.
        .string_value(if value.is_empty() { "-" } else { value })
        .build()
        .map_err(|e| QueueError(e.to_string()))
}

/// The fair-queue tenant of a shop's messages: its id, when SQS takes it
/// as `MessageGroupId` (1–128 printable ASCII characters, no space), else
/// a digest of it, so every shop still is one tenant of its own.
fn fair_queue_tenant(shop_id: &str) -> std::borrow::Cow<'_, str> {
    let usable =
        (1..=128).contains(&shop_id.len()) && shop_id.bytes().all(|b| b.is_ascii_graphic());
    if usable {
        return std::borrow::Cow::Borrowed(shop_id);
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(shop_id.as_bytes());
    std::borrow::Cow::Owned(digest[..16].iter().map(|b| format!("{b:02x}")).collect())
}

/// SQS reason attributes are limited in practice; keep them readable.
const REASON_ATTRIBUTE_MAX_CHARS: usize = 1000;

/// The transfer queue and, where the deployment has one, its dead-letter
/// queue (ingest only enqueues and has none).
#[derive(Debug, Clone)]
pub struct SqsTransferQueue {
    client: Client,
    queue_url: String,
    dead_letter_queue_url: Option<String>,
}

impl SqsTransferQueue {
    pub fn new(
        client: Client,
        queue_url: impl Into<String>,
        dead_letter_queue_url: impl Into<String>,
    ) -> Self {
        SqsTransferQueue {
            client,
            queue_url: queue_url.into(),
            dead_letter_queue_url: Some(dead_letter_queue_url.into()),
        }
    }

    /// A handle that only enqueues: dead-letter calls fail.
    pub fn without_dead_letter_queue(client: Client, queue_url: impl Into<String>) -> Self {
        SqsTransferQueue {
            client,
            queue_url: queue_url.into(),
            dead_letter_queue_url: None,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }

    pub fn dead_letter_queue_url(&self) -> Option<&str> {
        self.dead_letter_queue_url.as_deref()
    }

    fn require_dead_letter_queue(&self) -> Result<&str, QueueError> {
        self.dead_letter_queue_url
            .as_deref()
            .ok_or_else(|| QueueError("this handle has no dead-letter queue".to_owned()))
    }
}

impl TransferQueue for SqsTransferQueue {
    /// Puts an order on the transfer queue.
    async fn enqueue(&self, message: &OrderMessage) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_group_id(fair_queue_tenant(&message.shop_id).into_owned())
            .message_attributes("shop_id", string_attribute(&message.shop_id)?)
            .message_attributes("cause", string_attribute(message.cause.as_str())?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// A new message (its receive count starts afresh), delivered after
    /// `delay_seconds`, in the shop's fair-queue tenant.
    async fn send_later(
        &self,
        body: &str,
        shop_id: &str,
        delay_seconds: i32,
    ) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay_seconds)
            .message_group_id(fair_queue_tenant(shop_id).into_owned())
            .message_attributes("shop_id", string_attribute(shop_id)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Sends a message to the dead-letter queue with the human-readable
    /// reason. `body` is the original message body so a redrive replays it.
    async fn dead_letter(
        &self,
        body: &str,
        shop_id: &str,
        order_id: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        let reason: String = reason.chars().take(REASON_ATTRIBUTE_MAX_CHARS).collect();
        self.client
            .send_message()
            .queue_url(self.require_dead_letter_queue()?)
            .message_body(body)
            .message_attributes("shop_id", string_attribute(shop_id)?)
            .message_attributes("order_id", string_attribute(order_id)?)
            .message_attributes("reason", string_attribute(&reason)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    fn has_dead_letter_queue(&self) -> bool {
        self.dead_letter_queue_url.is_some()
    }

    /// Receives up to 10 dead letters, hidden from other readers for
    /// `visibility_timeout_seconds`; returns `(receipt handle, body)` pairs.
    async fn receive_dead_letters(
        &self,
        visibility_seconds: i32,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        let received = self
            .client
            .receive_message()
            .queue_url(self.require_dead_letter_queue()?)
            .max_number_of_messages(10)
            .visibility_timeout(visibility_seconds)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(received
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                Some(DeadLetter {
                    receipt_handle: m.receipt_handle?,
                    body: m.body.unwrap_or_default(),
                })
            })
            .collect())
    }

    /// Removes a received dead letter for good.
    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(self.require_dead_letter_queue()?)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Makes a received dead letter visible again at once.
    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(self.require_dead_letter_queue()?)
            .receipt_handle(receipt_handle)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Delays the next delivery of a received message (transient retry
    /// backoff).
    async fn delay_retry(&self, receipt_handle: &str, seconds: i32) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::fair_queue_tenant;
    use crate::ports::{Cause, OrderMessage};

    #[test]
    fn a_shop_is_one_fair_queue_tenant_whatever_its_id() {
        assert_eq!(fair_queue_tenant("acme-shop_01"), "acme-shop_01");
        let spaced = fair_queue_tenant("acme shop");
        let unicode = fair_queue_tenant("café");
        let long = "x".repeat(129);
        for digest in [
            &spaced,
            &unicode,
            &fair_queue_tenant(&long),
            &fair_queue_tenant(""),
        ] {
            assert_eq!(digest.len(), 32, "{digest}");
            assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(spaced, unicode);
        assert_eq!(spaced, fair_queue_tenant("acme shop"));
    }

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
}
