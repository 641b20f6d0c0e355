//! Label notifications in memory: the order store's notification list
//! (same conditions as the DynamoDB adapter), the notification queue with
//! SQS's visibility on the [`ManualClock`], and a receiver that records
//! what it was sent and answers what the test tells it to.

use super::orders::{key, MemoryOrderStore};
use super::ManualClock;
use crate::domain::notify::{Channel, DeliveryState, DeliveryUpdate, NotificationRecord};
use crate::ports::{
    Clock, InboundMessage, NotificationMessage, NotificationQueue, NotificationSender,
    NotificationStore, PostOutcome, QueueError, StoreError,
};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

impl MemoryOrderStore {
    /// Runs `change` on the order's notification list of `channel`.
    pub(super) fn with_notifications<R>(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
        change: impl FnOnce(&mut Vec<NotificationRecord>) -> R,
    ) -> R {
        let mut all = self.notifications.lock().unwrap_or_else(|e| e.into_inner());
        change(all.entry((channel, key(shop_id, order_id))).or_default())
    }
}

/// Appends `label` as the list's next notification, queued at `now`;
/// returns its sequence (`record_notification` and `mark_ok` both).
pub(super) fn append(list: &mut Vec<NotificationRecord>, label: &str, now: i64) -> u64 {
    let sequence = list.len() as u64 + 1;
    list.push(NotificationRecord {
        sequence,
        label: label.to_owned(),
        state: DeliveryState::Queued,
        at: now,
        attempts: 0,
        updated_at: now,
        last_error: None,
    });
    sequence
}

impl NotificationStore for MemoryOrderStore {
    async fn record_notification(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
        label: &str,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        self.available("record_notification")?;
        if self.record(shop_id, order_id).is_none() {
            return Ok(None);
        }
        Ok(self.with_notifications(channel, shop_id, order_id, |list| {
            if channel.skips_repeats() && list.last().is_some_and(|last| last.label == label) {
                return None;
            }
            Some(append(list, label, now))
        }))
    }

    async fn update_notifications(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
        updates: &[(u64, &DeliveryUpdate)],
        now: i64,
    ) -> Result<(), StoreError> {
        self.available("update_notifications")?;
        if updates.is_empty() {
            return Ok(());
        }
        let mut all = self.notifications.lock().unwrap_or_else(|e| e.into_inner());
        let list = all
            .get_mut(&(channel, key(shop_id, order_id)))
            .ok_or(StoreError::Conflict)?;
        // All or nothing, as one conditional write.
        let index = |sequence: u64| (sequence as usize).wrapping_sub(1);
        if updates
            .iter()
            .any(|(sequence, _)| index(*sequence) >= list.len())
        {
            return Err(StoreError::Conflict);
        }
        for (sequence, update) in updates {
            let entry = &mut list[index(*sequence)];
            entry.state = update.state;
            entry.attempts = update.attempts;
            entry.last_error = update.error.clone();
            entry.updated_at = now;
        }
        Ok(())
    }

    async fn notifications(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        self.available("notifications")?;
        let all = self.notifications.lock().unwrap_or_else(|e| e.into_inner());
        Ok(all
            .get(&(channel, key(shop_id, order_id)))
            .cloned()
            .unwrap_or_default())
    }
}

#[derive(Debug)]
struct Queued {
    message: NotificationMessage,
    message_id: String,
    receive_count: u32,
    visible_at: i64,
}

/// The notification queue in memory: a received message is hidden for
/// 60 s unless `delay_notification` says otherwise.
#[derive(Debug)]
pub struct MemoryNotificationQueue {
    clock: ManualClock,
    messages: Mutex<(Vec<Queued>, u64)>,
    failing: AtomicBool,
}

impl MemoryNotificationQueue {
    pub fn new(clock: ManualClock) -> Self {
        MemoryNotificationQueue {
            clock,
            messages: Mutex::new((Vec::new(), 0)),
            failing: AtomicBool::new(false),
        }
    }

    /// Makes `enqueue_notification` fail (SQS unreachable) until switched back.
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// Receives every visible message (receipt handle = message id).
    pub fn receive(&self) -> Vec<InboundMessage> {
        let now = self.clock.epoch_seconds();
        let mut guard = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .0
            .iter_mut()
            .filter(|q| q.visible_at <= now)
            .map(|q| {
                q.receive_count += 1;
                q.visible_at = now + 60;
                InboundMessage {
                    message_id: q.message_id.clone(),
                    receipt_handle: Some(q.message_id.clone()),
                    body: serde_json::to_string(&q.message).unwrap_or_default(),
                    receive_count: q.receive_count,
                    sent_at_ms: None,
                }
            })
            .collect()
    }

    /// Deletes a received message (the event source does after `Done`).
    pub fn delete(&self, message_id: &str) {
        let mut guard = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.retain(|q| q.message_id != message_id);
    }

    /// Messages still on the queue, visible or not.
    pub fn messages(&self) -> Vec<NotificationMessage> {
        let guard = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        guard.0.iter().map(|q| q.message.clone()).collect()
    }
}

impl NotificationQueue for MemoryNotificationQueue {
    async fn enqueue_notification(&self, message: &NotificationMessage) -> Result<(), QueueError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(QueueError("injected outage: enqueue_notification".into()));
        }
        let now = self.clock.epoch_seconds();
        let mut guard = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        guard.1 += 1;
        let message_id = format!("ntf-msg-{}", guard.1);
        guard.0.push(Queued {
            message: message.clone(),
            message_id,
            receive_count: 0,
            visible_at: now,
        });
        Ok(())
    }

    async fn delay_notification(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> Result<(), QueueError> {
        let now = self.clock.epoch_seconds();
        let mut guard = self.messages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(q) = guard.0.iter_mut().find(|q| q.message_id == receipt_handle) {
            q.visible_at = now + i64::from(seconds);
        }
        Ok(())
    }
}

/// One POST the memory receiver got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentNotification {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// A receiver that records every POST and answers `answer` (a status, or
/// unreachable), or first the answers queued with `answer_next_with`.
#[derive(Debug)]
pub struct MemoryNotificationSender {
    sent: Mutex<Vec<SentNotification>>,
    answer: Mutex<PostOutcome>,
    next: Mutex<VecDeque<PostOutcome>>,
}

impl Default for MemoryNotificationSender {
    fn default() -> Self {
        MemoryNotificationSender {
            sent: Mutex::new(Vec::new()),
            answer: Mutex::new(PostOutcome::Status(204)),
            next: Mutex::new(VecDeque::new()),
        }
    }
}

impl MemoryNotificationSender {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn answer_with(&self, outcome: PostOutcome) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = outcome;
    }

    /// Answers the next POST (after those queued before) with `outcome`.
    pub fn answer_next_with(&self, outcome: PostOutcome) {
        self.next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(outcome);
    }

    pub fn sent(&self) -> Vec<SentNotification> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl NotificationSender for MemoryNotificationSender {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
        _deadline: Instant,
    ) -> PostOutcome {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(SentNotification {
                url: url.to_owned(),
                headers: headers.to_vec(),
                body: body.to_owned(),
            });
        let next = self
            .next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        next.unwrap_or_else(|| {
            self.answer
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone()
        })
    }
}
