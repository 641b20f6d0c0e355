use super::{ManualClock, Outages};
use crate::ports::{Clock, DeadLetter, InboundMessage, OrderMessage, QueueError, TransferQueue};
use std::sync::{Arc, Mutex, MutexGuard};

/// What SQS keeps of a dead letter: the body to replay and its attributes
/// (`reason` is absent when SQS moved the message itself after
/// `maxReceiveCount` receives).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDeadLetter {
    pub body: String,
    pub shop_id: String,
    pub order_id: String,
    pub reason: Option<String>,
}

#[derive(Debug)]
struct Queued<T> {
    item: T,
    message_id: String,
    receive_count: u32,
    visible_at: i64,
    receipt_handle: Option<String>,
    sent_at: i64,
}

#[derive(Debug, Default)]
struct Queues {
    transfer: Vec<Queued<String>>,
    dead: Vec<Queued<StoredDeadLetter>>,
    next_id: u64,
}

impl Queues {
    fn next(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}-{}", self.next_id)
    }
}

/// The transfer queue and its dead-letter queue in memory, with SQS's
/// visibility rules on the [`ManualClock`]: a received message is hidden
/// for the visibility timeout, `delay_retry` hides it for longer, a
/// message received `max_receive_count` times moves to the dead-letter
/// queue on its next receive (the redrive policy), and every receive
/// hands out a new receipt handle.
#[derive(Debug)]
pub struct MemoryTransferQueue {
    clock: ManualClock,
    visibility_timeout_seconds: i64,
    max_receive_count: u32,
    has_dead_letter_queue: bool,
    /// Shared by the handles [`Self::enqueue_only`] makes.
    queues: Arc<Mutex<Queues>>,
    outages: Outages,
}

impl MemoryTransferQueue {
    /// As template.yaml sets the queue up: visibility 360 s, redrive after
    /// `max_receive_count` receives.
    pub fn new(clock: ManualClock, max_receive_count: u32) -> Self {
        MemoryTransferQueue {
            clock,
            visibility_timeout_seconds: 360,
            max_receive_count,
            has_dead_letter_queue: true,
            queues: Arc::new(Mutex::new(Queues::default())),
            outages: Outages::default(),
        }
    }

    /// Another handle on the same transfer queue that has no dead-letter
    /// queue (ingest's).
    pub fn enqueue_only(&self) -> Self {
        MemoryTransferQueue {
            clock: self.clock.clone(),
            visibility_timeout_seconds: self.visibility_timeout_seconds,
            max_receive_count: self.max_receive_count,
            has_dead_letter_queue: false,
            queues: Arc::clone(&self.queues),
            outages: Outages::default(),
        }
    }

    /// Ingest's handle: it only enqueues.
    pub fn without_dead_letter_queue(clock: ManualClock) -> Self {
        MemoryTransferQueue {
            has_dead_letter_queue: false,
            ..Self::new(clock, u32::MAX)
        }
    }

    /// Makes the named port method answer an error until switched back.
    pub fn set_failing(&self, operation: &'static str, failing: bool) {
        self.outages.set(operation, failing);
    }

    /// Puts a message on the transfer queue (what `enqueue` does, without
    /// its outage switch).
    pub fn send(&self, message: &OrderMessage) {
        let body = serde_json::to_string(message).unwrap_or_default();
        self.send_body(body, 0);
    }

    fn send_body(&self, body: String, delay_seconds: i64) {
        let now = self.clock.epoch_seconds();
        let mut queues = self.lock();
        let message_id = queues.next("message");
        queues.transfer.push(Queued {
            item: body,
            message_id,
            receive_count: 0,
            visible_at: now + delay_seconds,
            receipt_handle: None,
            sent_at: now,
        });
    }

    /// Receives up to `max` visible transfer messages, as the Lambda event
    /// source does.
    pub fn receive(&self, max: usize) -> Vec<InboundMessage> {
        let now = self.clock.epoch_seconds();
        let mut queues = self.lock();
        let mut redriven = Vec::new();
        let mut received = Vec::new();
        let mut index = 0;
        while index < queues.transfer.len() && received.len() < max {
            if queues.transfer[index].visible_at > now {
                index += 1;
                continue;
            }
            if queues.transfer[index].receive_count >= self.max_receive_count {
                redriven.push(queues.transfer.remove(index));
                continue;
            }
            let handle = queues.next("receipt");
            let message = &mut queues.transfer[index];
            message.receive_count += 1;
            message.visible_at = now + self.visibility_timeout_seconds;
            message.receipt_handle = Some(handle.clone());
            received.push(InboundMessage {
                message_id: message.message_id.clone(),
                receipt_handle: Some(handle),
                body: message.item.clone(),
                receive_count: message.receive_count,
                // The manual clock counts whole seconds.
                sent_at_ms: Some(message.sent_at * 1000),
            });
            index += 1;
        }
        for message in redriven {
            let parsed: Option<OrderMessage> = serde_json::from_str(&message.item).ok();
            let (shop_id, order_id) = parsed
                .map(|m| (m.shop_id, m.order_id))
                .unwrap_or_else(|| ("-".into(), "-".into()));
            queues.dead.push(Queued {
                item: StoredDeadLetter {
                    body: message.item,
                    shop_id,
                    order_id,
                    reason: None,
                },
                message_id: message.message_id,
                receive_count: 0,
                visible_at: now,
                receipt_handle: None,
                sent_at: now,
            });
        }
        received
    }

    /// Empties both queues.
    pub fn purge(&self) {
        let mut queues = self.lock();
        queues.transfer.clear();
        queues.dead.clear();
    }

    /// Deletes a received transfer message (a successful Lambda batch item).
    pub fn acknowledge(&self, receipt_handle: &str) -> bool {
        let mut queues = self.lock();
        let before = queues.transfer.len();
        queues
            .transfer
            .retain(|m| m.receipt_handle.as_deref() != Some(receipt_handle));
        queues.transfer.len() < before
    }

    /// The bodies of the transfer messages not yet deleted.
    pub fn transfer_bodies(&self) -> Vec<String> {
        self.lock()
            .transfer
            .iter()
            .map(|m| m.item.clone())
            .collect()
    }

    /// The dead letters not yet deleted.
    pub fn dead_letters(&self) -> Vec<StoredDeadLetter> {
        self.lock().dead.iter().map(|m| m.item.clone()).collect()
    }

    /// Seconds until the transfer message with this id is visible again
    /// (0 when it is visible now), `None` when it is gone.
    pub fn hidden_for(&self, message_id: &str) -> Option<i64> {
        let now = self.clock.epoch_seconds();
        self.lock()
            .transfer
            .iter()
            .find(|m| m.message_id == message_id)
            .map(|m| (m.visible_at - now).max(0))
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn available(&self, operation: &'static str) -> Result<(), QueueError> {
        if self.outages.is_failing(operation) {
            Err(QueueError(format!("injected outage: {operation}")))
        } else {
            Ok(())
        }
    }

    fn require_dead_letter_queue(&self) -> Result<(), QueueError> {
        if self.has_dead_letter_queue {
            Ok(())
        } else {
            Err(QueueError(
                "this handle has no dead-letter queue".to_owned(),
            ))
        }
    }
}

/// As the SQS adapter shortens it for the message attribute.
const REASON_MAX_CHARS: usize = 1000;

impl TransferQueue for MemoryTransferQueue {
    async fn enqueue(&self, message: &OrderMessage) -> Result<(), QueueError> {
        self.available("enqueue")?;
        self.send(message);
        Ok(())
    }

    async fn dead_letter(
        &self,
        body: &str,
        shop_id: &str,
        order_id: &str,
        reason: &str,
    ) -> Result<(), QueueError> {
        self.available("dead_letter")?;
        self.require_dead_letter_queue()?;
        let now = self.clock.epoch_seconds();
        let mut queues = self.lock();
        let message_id = queues.next("dead-letter");
        queues.dead.push(Queued {
            item: StoredDeadLetter {
                body: body.to_owned(),
                shop_id: shop_id.to_owned(),
                order_id: order_id.to_owned(),
                reason: Some(reason.chars().take(REASON_MAX_CHARS).collect()),
            },
            message_id,
            receive_count: 0,
            visible_at: now,
            receipt_handle: None,
            sent_at: now,
        });
        Ok(())
    }

    async fn delay_retry(&self, receipt_handle: &str, seconds: i32) -> Result<(), QueueError> {
        self.available("delay_retry")?;
        let now = self.clock.epoch_seconds();
        let mut queues = self.lock();
        let message = queues
            .transfer
            .iter_mut()
            .find(|m| m.receipt_handle.as_deref() == Some(receipt_handle))
            .ok_or_else(|| QueueError("receipt handle is invalid".to_owned()))?;
        message.visible_at = now + i64::from(seconds);
        Ok(())
    }

    async fn send_later(
        &self,
        body: &str,
        _shop_id: &str,
        delay_seconds: i32,
    ) -> Result<(), QueueError> {
        self.available("send_later")?;
        if !(0..=900).contains(&delay_seconds) {
            return Err(QueueError(format!(
                "DelaySeconds {delay_seconds} is invalid: 0 to 900"
            )));
        }
        self.send_body(body.to_owned(), i64::from(delay_seconds));
        Ok(())
    }

    fn has_dead_letter_queue(&self) -> bool {
        self.has_dead_letter_queue
    }

    async fn receive_dead_letters(
        &self,
        visibility_seconds: i32,
    ) -> Result<Vec<DeadLetter>, QueueError> {
        self.available("receive_dead_letters")?;
        self.require_dead_letter_queue()?;
        let now = self.clock.epoch_seconds();
        let mut queues = self.lock();
        let mut received = Vec::new();
        let visible: Vec<usize> = (0..queues.dead.len())
            .filter(|&i| queues.dead[i].visible_at <= now)
            .take(10)
            .collect();
        for index in visible {
            let handle = queues.next("dead-receipt");
            let letter = &mut queues.dead[index];
            letter.receive_count += 1;
            letter.visible_at = now + i64::from(visibility_seconds);
            letter.receipt_handle = Some(handle.clone());
            received.push(DeadLetter {
                receipt_handle: handle,
                body: letter.item.body.clone(),
            });
        }
        Ok(received)
    }

    async fn delete_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.available("delete_dead_letter")?;
        self.require_dead_letter_queue()?;
        let mut queues = self.lock();
        let before = queues.dead.len();
        queues
            .dead
            .retain(|m| m.receipt_handle.as_deref() != Some(receipt_handle));
        if queues.dead.len() == before {
            return Err(QueueError("receipt handle is invalid".to_owned()));
        }
        Ok(())
    }

    async fn release_dead_letter(&self, receipt_handle: &str) -> Result<(), QueueError> {
        self.available("release_dead_letter")?;
        self.require_dead_letter_queue()?;
        let now = self.clock.epoch_seconds();
        let mut queues = self.lock();
        let letter = queues
            .dead
            .iter_mut()
            .find(|m| m.receipt_handle.as_deref() == Some(receipt_handle))
            .ok_or_else(|| QueueError("receipt handle is invalid".to_owned()))?;
        letter.visible_at = now;
        Ok(())
    }
}
