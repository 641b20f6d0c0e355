//! Label notifications out of the bridge: the SQS notification queue and
//! the HTTP sender that POSTs them to a shop's `notify` URL.

use crate::ports::{
    NotificationMessage, NotificationQueue, NotificationSender, PostOutcome, QueueError,
};
use aws_sdk_sqs::types::MessageAttributeValue;
use std::time::{Duration, Instant};

/// The longest one POST may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);

fn unavailable<E, R>(err: aws_sdk_sqs::error::SdkError<E, R>) -> QueueError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    QueueError(aws_sdk_sqs::error::DisplayErrorContext(err).to_string())
}

fn attribute(value: &str) -> Result<MessageAttributeValue, QueueError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(if value.is_empty() { "-" } else { value })
        .build()
        .map_err(|e| QueueError(e.to_string()))
}

/// The notification queue. Body: [`NotificationMessage`] as JSON; message
/// attributes `shop_id` and `order_id` (what a dead letter shows).
#[derive(Debug, Clone)]
pub struct SqsNotificationQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsNotificationQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        SqsNotificationQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

impl NotificationQueue for SqsNotificationQueue {
    async fn enqueue_notification(&self, message: &NotificationMessage) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .message_attributes("shop_id", attribute(&message.shop_id)?)
            .message_attributes("order_id", attribute(&message.order_id)?)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delay_notification(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds.clamp(0, 12 * 3600))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// POSTs notifications over HTTPS. Redirects are not followed (a receiver
/// that moved is a failed delivery the operator sees, not a silent hop),
/// and an error never quotes the URL (it may carry a token).
#[derive(Debug, Clone)]
pub struct HttpNotificationSender {
    client: reqwest::Client,
}

impl HttpNotificationSender {
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(POST_TIMEOUT)
            .user_agent(concat!("econ-bridge-notify/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {}", e.without_url()))?;
        Ok(HttpNotificationSender { client })
    }
}

impl NotificationSender for HttpNotificationSender {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
        deadline: Instant,
    ) -> PostOutcome {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return PostOutcome::Unreachable("no time left in this invocation".into());
        }
        let mut request = self
            .client
            .post(url)
            .timeout(left.min(POST_TIMEOUT))
            .header("content-type", "application/json")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => PostOutcome::Status(response.status().as_u16()),
            Err(error) => PostOutcome::Unreachable(error.without_url().to_string()),
        }
    }
}
