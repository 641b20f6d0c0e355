use crate::ports::Clock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// A clock that stands still until the test moves it; clones share the
/// time (the queue's visibility delays read the same clock).
#[derive(Debug, Clone)]
pub struct ManualClock {
    epoch_seconds: Arc<AtomicI64>,
}

impl ManualClock {
    pub fn at(epoch_seconds: i64) -> Self {
        ManualClock {
            epoch_seconds: Arc::new(AtomicI64::new(epoch_seconds)),
        }
    }

    pub fn advance(&self, seconds: i64) {
        self.epoch_seconds.fetch_add(seconds, Ordering::SeqCst);
    }

    pub fn set(&self, epoch_seconds: i64) {
        self.epoch_seconds.store(epoch_seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(self.epoch_seconds.load(Ordering::SeqCst))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
    }

    fn epoch_seconds(&self) -> i64 {
        self.epoch_seconds.load(Ordering::SeqCst)
    }
}
