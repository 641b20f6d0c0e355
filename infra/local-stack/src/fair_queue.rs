//! SQS *fair queues* for the local stack: moto keeps a standard queue's
//! `MessageGroupId` but delivers in arrival order whatever the groups, so
//! the fairness AWS applies is emulated here, between moto and the
//! transfer handler.
//!
//! What AWS documents ("How Amazon SQS fair queues work", SQS Developer
//! Guide, 2025), and what is emulated:
//!
//! * **Tenants** are `MessageGroupId`s (the bridge sets the shop id); a
//!   message without one is a tenant of its own. Emulated as documented.
//! * **Noisy neighbour**: a tenant with more than 10 % of the queue's
//!   in-flight messages *and* at least 30 of its own in flight, or with
//!   more than 10 % of the consumers' recent processing time. Emulated with
//!   those thresholds; "in flight" is what this event source has handed to
//!   the handler and not yet finished, and "recent" is the last
//!   [`PROCESSING_WINDOW`] (AWS does not say how recent; our choice). AWS
//!   calls its thresholds approximate; here they are exact.
//! * **Delivery**: while a noisy tenant exists, consumers get quiet
//!   tenants' messages whenever any wait; noisy tenants' messages only when
//!   none do, and then first from the noisy tenant with the fewest in
//!   flight. Emulated as documented; among quiet tenants, oldest first (the
//!   order moto delivers in). Nothing is dropped or throttled.
//! * **Ends** when the tenant's shares fall back (emulated: recomputed on
//!   every choice) or its backlog is empty (then it has nothing to choose).
//!
//! How: one fetcher receives every visible message from moto into a local
//! backlog (up to [`MAX_BACKLOG`]), hidden meanwhile for
//! [`HOLD_SECONDS`]; workers take batches from the backlog by the rules
//! above, and each batch's visibility is set to the queue's timeout
//! before the handler sees it, as a Lambda delivery would be. A message is
//! received from moto once per delivery, so `ApproximateReceiveCount` and
//! the redrive policy behave as on AWS. Not emulated: the fetch order
//! within moto (arrival order) and the long-poll's timing; a message
//! waiting in the local backlog counts as in flight for moto.

use crate::event_source::{invoke_and_acknowledge, EventSourceSettings, PollOutcome};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName,
};
use lambda_runtime::LambdaEvent;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Messages held locally at most; the fetcher waits above it.
pub const MAX_BACKLOG: usize = 20_000;
/// How long a fetched message stays hidden in moto while it waits here.
pub const HOLD_SECONDS: i32 = 43_200;
/// How far back a tenant's processing time counts.
pub const PROCESSING_WINDOW: Duration = Duration::from_secs(60);
/// AWS's thresholds.
const NOISY_SHARE: f64 = 0.10;
const NOISY_MIN_IN_FLIGHT: usize = 30;

#[derive(Debug)]
struct Waiting {
    arrival: u64,
    message: Message,
}

#[derive(Debug, Default)]
struct Tenant {
    waiting: VecDeque<Waiting>,
    in_flight: usize,
    /// (finished at, seconds of processing) within the window.
    processing: VecDeque<(Instant, f64)>,
}

#[derive(Debug, Default)]
struct State {
    tenants: HashMap<String, Tenant>,
    arrivals: u64,
    backlog: usize,
}

impl State {
    fn noisy(&self, now: Instant) -> HashSet<String> {
        let in_flight: usize = self.tenants.values().map(|t| t.in_flight).sum();
        let recent = |t: &Tenant| -> f64 {
            t.processing
                .iter()
                .filter(|(at, _)| now.duration_since(*at) <= PROCESSING_WINDOW)
                .map(|(_, s)| s)
                .sum()
        };
        let total_time: f64 = self.tenants.values().map(recent).sum();
        self.tenants
            .iter()
            .filter(|(_, t)| {
                let by_concurrency = t.in_flight >= NOISY_MIN_IN_FLIGHT
                    && t.in_flight as f64 > NOISY_SHARE * in_flight as f64;
                let by_time = total_time > 0.0 && recent(t) > NOISY_SHARE * total_time;
                by_concurrency || by_time
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The next message to deliver by the fair-queue rules.
    fn choose(&mut self, now: Instant) -> Option<(String, Message)> {
        let noisy = self.noisy(now);
        let quiet = self
            .tenants
            .iter()
            .filter(|(name, t)| !t.waiting.is_empty() && !noisy.contains(*name))
            .min_by_key(|(_, t)| t.waiting[0].arrival)
            .map(|(name, _)| name.clone());
        let tenant = quiet.or_else(|| {
            self.tenants
                .iter()
                .filter(|(_, t)| !t.waiting.is_empty())
                .min_by_key(|(_, t)| (t.in_flight, t.waiting[0].arrival))
                .map(|(name, _)| name.clone())
        })?;
        let entry = self.tenants.get_mut(&tenant)?;
        let waiting = entry.waiting.pop_front()?;
        entry.in_flight += 1;
        self.backlog -= 1;
        Some((tenant, waiting.message))
    }

    fn finish(&mut self, tenants: &[String], seconds: f64, now: Instant) {
        for tenant in tenants {
            if let Some(entry) = self.tenants.get_mut(tenant) {
                entry.in_flight = entry.in_flight.saturating_sub(1);
                entry.processing.push_back((now, seconds));
                while entry
                    .processing
                    .front()
                    .is_some_and(|(at, _)| now.duration_since(*at) > PROCESSING_WINDOW)
                {
                    entry.processing.pop_front();
                }
            }
        }
        self.tenants
            .retain(|_, t| !t.waiting.is_empty() || t.in_flight > 0 || !t.processing.is_empty());
    }
}

/// The emulated fair queue in front of one moto queue.
#[derive(Debug)]
pub struct FairQueue {
    sqs: aws_sdk_sqs::Client,
    settings: EventSourceSettings,
    /// The queue's own visibility timeout, set on each delivered batch.
    visibility_timeout: i32,
    state: Mutex<State>,
    arrived: Notify,
    fetcher: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for FairQueue {
    fn drop(&mut self) {
        if let Some(task) = self.fetcher.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

fn tenant_of(message: &Message) -> String {
    message
        .attributes
        .as_ref()
        .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
        .cloned()
        // A message without a group is a tenant of its own.
        .unwrap_or_else(|| format!("no-group:{}", message.message_id.as_deref().unwrap_or("")))
}

impl FairQueue {
    /// Starts the fetcher for `settings.queue_url`.
    pub fn start(
        sqs: aws_sdk_sqs::Client,
        settings: EventSourceSettings,
        visibility_timeout: i32,
    ) -> Arc<Self> {
        let queue = Arc::new(FairQueue {
            sqs,
            settings,
            visibility_timeout,
            state: Mutex::new(State::default()),
            arrived: Notify::new(),
            fetcher: Mutex::new(None),
        });
        let weak = Arc::downgrade(&queue);
        let task = tokio::spawn(async move {
            loop {
                let Some(queue) = weak.upgrade() else { return };
                if queue.lock().backlog >= MAX_BACKLOG {
                    drop(queue);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                if let Err(error) = queue.fetch().await {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "fair queue: receive failed");
                    drop(queue);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
        *queue.fetcher.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        queue
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn fetch(&self) -> Result<(), aws_sdk_sqs::Error> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.settings.queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(HOLD_SECONDS)
            .wait_time_seconds(self.settings.wait.as_secs().clamp(1, 20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(());
        }
        let mut state = self.lock();
        for message in messages {
            let tenant = tenant_of(&message);
            state.arrivals += 1;
            let arrival = state.arrivals;
            state.backlog += 1;
            state
                .tenants
                .entry(tenant)
                .or_default()
                .waiting
                .push_back(Waiting { arrival, message });
        }
        drop(state);
        self.arrived.notify_waiters();
        Ok(())
    }

    /// Messages waiting here (received from moto, not yet delivered).
    pub fn backlog(&self) -> usize {
        self.lock().backlog
    }

    /// Takes up to `batch_size` messages by the fair-queue rules, waiting
    /// up to the settings' long-poll time for the first; invokes `handler`
    /// with them as one `SqsEvent`; deletes those it did not report as
    /// failed, as Lambda's event source mapping does.
    pub async fn poll_once<H, F, E>(&self, handler: H) -> Result<PollOutcome, aws_sdk_sqs::Error>
    where
        H: FnOnce(LambdaEvent<SqsEvent>) -> F,
        F: Future<Output = Result<SqsBatchResponse, E>>,
        E: std::fmt::Display,
    {
        let batch = self.take_batch().await;
        if batch.is_empty() {
            return Ok(PollOutcome::default());
        }
        let started = Instant::now();
        let tenants: Vec<String> = batch.iter().map(|(t, _)| t.clone()).collect();
        let outcome = self.deliver(batch, handler).await;
        let now = Instant::now();
        self.lock()
            .finish(&tenants, now.duration_since(started).as_secs_f64(), now);
        outcome
    }

    async fn take_batch(&self) -> Vec<(String, Message)> {
        let deadline = Instant::now() + self.settings.wait;
        loop {
            let notified = self.arrived.notified();
            {
                let now = Instant::now();
                let mut state = self.lock();
                let mut batch = Vec::new();
                while batch.len() < self.settings.batch_size.clamp(1, 10) as usize {
                    match state.choose(now) {
                        Some(chosen) => batch.push(chosen),
                        None => break,
                    }
                }
                if !batch.is_empty() {
                    return batch;
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Vec::new();
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }

    async fn deliver<H, F, E>(
        &self,
        batch: Vec<(String, Message)>,
        handler: H,
    ) -> Result<PollOutcome, aws_sdk_sqs::Error>
    where
        H: FnOnce(LambdaEvent<SqsEvent>) -> F,
        F: Future<Output = Result<SqsBatchResponse, E>>,
        E: std::fmt::Display,
    {
        // Delivered now: hidden for the queue's own timeout from here on.
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = batch
            .iter()
            .enumerate()
            .filter_map(|(n, (_, m))| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(format!("m{n}"))
                    .receipt_handle(m.receipt_handle.as_deref()?)
                    .visibility_timeout(self.visibility_timeout)
                    .build()
                    .ok()
            })
            .collect();
        if !entries.is_empty() {
            self.sqs
                .change_message_visibility_batch()
                .queue_url(&self.settings.queue_url)
                .set_entries(Some(entries))
                .send()
                .await?;
        }
        let messages = batch.into_iter().map(|(_, message)| message).collect();
        invoke_and_acknowledge(&self.sqs, &self.settings, messages, handler).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, group: Option<&str>) -> Message {
        let mut builder = Message::builder().message_id(id).receipt_handle(id);
        if let Some(group) = group {
            builder = builder.attributes(MessageSystemAttributeName::MessageGroupId, group);
        }
        builder.build()
    }

    fn state_with(messages: &[(&str, Option<&str>)]) -> State {
        let mut state = State::default();
        for (id, group) in messages {
            let m = message(id, *group);
            state.arrivals += 1;
            let arrival = state.arrivals;
            state.backlog += 1;
            state
                .tenants
                .entry(tenant_of(&m))
                .or_default()
                .waiting
                .push_back(Waiting {
                    arrival,
                    message: m,
                });
        }
        state
    }

    fn ids(chosen: &[(String, Message)]) -> Vec<&str> {
        chosen
            .iter()
            .map(|(_, m)| m.message_id.as_deref().unwrap_or(""))
            .collect()
    }

    #[test]
    fn without_a_noisy_tenant_messages_go_in_arrival_order() {
        let now = Instant::now();
        let mut state = state_with(&[("a1", Some("a")), ("b1", Some("b")), ("a2", Some("a"))]);
        let chosen: Vec<_> = std::iter::from_fn(|| state.choose(now)).collect();
        assert_eq!(ids(&chosen), ["a1", "b1", "a2"]);
        assert_eq!(state.backlog, 0);
    }

    #[test]
    fn a_tenant_with_most_of_the_processing_time_waits_for_the_quiet_ones() {
        let now = Instant::now();
        let mut messages: Vec<(String, Option<&str>)> =
            (0..50).map(|n| (format!("p{n}"), Some("promo"))).collect();
        messages.push(("q1".into(), Some("quiet-1")));
        messages.push(("n1".into(), None));
        let borrowed: Vec<(&str, Option<&str>)> =
            messages.iter().map(|(id, g)| (id.as_str(), *g)).collect();
        let mut state = state_with(&borrowed);
        // Before anything ran, nobody is noisy: arrival order.
        let first = state.choose(now).expect("a message");
        assert_eq!(first.0, "promo");
        // The promotion took 9 of 10 s of the consumers' recent time.
        state.finish(&["promo".to_owned()], 9.0, now);
        state
            .tenants
            .entry("quiet-1".into())
            .or_default()
            .processing
            .push_back((now, 1.0));
        let next: Vec<_> = (0..3).filter_map(|_| state.choose(now)).collect();
        // Quiet tenants first (a message without a group is its own
        // tenant), then the noisy one's again.
        assert_eq!(ids(&next), ["q1", "n1", "p1"]);
    }

    #[test]
    fn thirty_in_flight_and_over_a_tenth_makes_a_tenant_noisy() {
        let now = Instant::now();
        let mut state = state_with(&[("b1", Some("b"))]);
        state.tenants.entry("a".into()).or_default().in_flight = 29;
        state.tenants.entry("c".into()).or_default().in_flight = 1;
        assert!(state.noisy(now).is_empty(), "29 in flight is not enough");
        state.tenants.entry("a".into()).or_default().in_flight = 30;
        assert_eq!(state.noisy(now), HashSet::from(["a".to_owned()]));
        // Among noisy tenants, the one with the fewest in flight first.
        let mut state = state_with(&[("x1", Some("x")), ("y1", Some("y"))]);
        for (tenant, in_flight) in [("x", 40), ("y", 35)] {
            state.tenants.get_mut(tenant).expect("tenant").in_flight = in_flight;
        }
        assert_eq!(state.choose(now).map(|(t, _)| t), Some("y".to_owned()));
    }
}
