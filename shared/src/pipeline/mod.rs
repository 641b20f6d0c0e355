//! Application logic of the three functions, free of Lambda types so the
//! function crates stay thin and the local stack can call the same code.
//!
//! * [`ingest`]: webhook → verified, parsed event → order record → queue.
//! * [`rescan`]: pending orders whose enqueue was lost → queue again.
//! * `transfer`: queue message → lease → mapping → e-conomic → label.

pub mod ingest;
pub mod rescan;
pub mod transfer;

use crate::config::Trigger;
use crate::order::EventType;

/// Order of events in an order's life (created < paid < shipped), used to
/// compare an event with the shop's trigger and to keep the latest snapshot.
pub fn event_rank(event: EventType) -> u8 {
    match event {
        EventType::OrderCreated => 1,
        EventType::OrderPaid => 2,
        EventType::OrderShipped => 3,
    }
}

/// Rank of the event that makes an order ready for invoicing.
pub fn trigger_rank(trigger: Trigger) -> u8 {
    match trigger {
        Trigger::Created => 1,
        Trigger::Paid => 2,
        Trigger::Shipped => 3,
    }
}

/// Reads an environment variable as a number, with a default when unset.
/// A set but invalid value is an error naming the variable.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("environment variable {name} is not a valid number: {v:?}")),
    }
}

/// Reads a required environment variable.
pub fn env_required(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("environment variable {name} is required")),
    }
}

/// Runs futures at the same time on the current task and returns their
/// outputs in order (a batch of five orders needs no extra crate).
pub async fn join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in pinned.iter_mut().zip(done.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}
