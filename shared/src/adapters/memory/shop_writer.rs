//! A shop that records every label written into it and answers what the
//! test tells it to.

use crate::domain::lifecycle::Label;
use crate::domain::write_back::WriteBackTarget;
use crate::ports::{ShopWriter, WriteOutcome};
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Instant;

/// One write-back the memory shop got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenLabel {
    pub order_id: String,
    pub label: Label,
    pub reason: Option<String>,
}

#[derive(Debug, Default)]
pub struct MemoryShopWriter {
    written: Mutex<Vec<WrittenLabel>>,
    /// Answers for the next calls; `Written` once they run out.
    answers: Mutex<VecDeque<WriteOutcome>>,
}

impl MemoryShopWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next call answers `outcome` (queued after earlier ones).
    pub fn answer_next(&self, outcome: WriteOutcome) {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(outcome);
    }

    /// Every call, answered `Written` or not, in order.
    pub fn calls(&self) -> Vec<WrittenLabel> {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl ShopWriter for MemoryShopWriter {
    async fn write_label(
        &self,
        _target: &WriteBackTarget,
        order_id: &str,
        label: Label,
        reason: Option<&str>,
        _deadline: Instant,
    ) -> WriteOutcome {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(WrittenLabel {
                order_id: order_id.to_owned(),
                label,
                reason: reason.map(str::to_owned),
            });
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
            .unwrap_or(WriteOutcome::Written)
    }
}
