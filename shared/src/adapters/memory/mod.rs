//! In-memory adapters: every port with the same conditions as its
//! production adapter (conditional writes, versions, leases, visibility
//! delays), a clock the test moves, and switches to make an operation fail
//! the way the real service can. The adapter contract suite
//! (`tests/src/contract.rs`) runs against these and the real ones alike.
//!
//! Used by the application's unit tests and the benchmarks; never in a
//! deployed function.

mod clock;
mod control;
mod credits;
mod invoicing;
mod notifications;
mod orders;
mod queue;
mod shop_writer;
mod shops;
mod vat_registry;

pub use clock::ManualClock;
pub use invoicing::{MemoryInvoicing, StoredInvoice};
pub use notifications::{MemoryNotificationQueue, MemoryNotificationSender, SentNotification};
pub use orders::MemoryOrderStore;
pub use queue::{MemoryTransferQueue, StoredDeadLetter};
pub use shop_writer::{MemoryShopWriter, WrittenLabel};
pub use shops::MemoryShopStore;
pub use vat_registry::MemoryVatRegistry;

use std::collections::HashSet;
use std::sync::Mutex;

/// Operations switched to fail, by name (the port method's name).
#[derive(Debug, Default)]
struct Outages(Mutex<HashSet<&'static str>>);

impl Outages {
    fn set(&self, operation: &'static str, failing: bool) {
        let mut set = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if failing {
            set.insert(operation);
        } else {
            set.remove(operation);
        }
    }

    fn is_failing(&self, operation: &str) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(operation)
    }
}
