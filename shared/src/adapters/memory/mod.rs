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
mod payments;
mod queue;
mod shop_refunds;
mod shop_writer;
mod shops;
mod vat_registry;

pub use clock::ManualClock;
pub use invoicing::{MemoryInvoicing, StoredInvoice, StoredPayment};
pub use notifications::{MemoryNotificationQueue, MemoryNotificationSender, SentNotification};
pub use orders::MemoryOrderStore;
pub use queue::{MemoryTransferQueue, StoredDeadLetter};
pub use shop_refunds::MemoryShopRefunds;
pub use shop_writer::{MemoryShopWriter, WrittenLabel};
pub use shops::MemoryShopStore;
pub use vat_registry::MemoryVatRegistry;

use std::collections::HashSet;
use std::sync::Mutex;

/// Operations switched to fail, by name (the port method's name): until
/// switched back, or for their next call only.
#[derive(Debug, Default)]
struct Outages(Mutex<OutageSets>);

#[derive(Debug, Default)]
struct OutageSets {
    until_cleared: HashSet<&'static str>,
    next_call_only: HashSet<&'static str>,
}

impl Outages {
    fn set(&self, operation: &'static str, failing: bool) {
        let mut sets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if failing {
            sets.until_cleared.insert(operation);
        } else {
            sets.until_cleared.remove(operation);
            sets.next_call_only.remove(operation);
        }
    }

    fn set_once(&self, operation: &'static str) {
        let mut sets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sets.next_call_only.insert(operation);
    }

    /// Whether this call of `operation` fails (using up a one-call outage).
    fn is_failing(&self, operation: &str) -> bool {
        let mut sets = self.0.lock().unwrap_or_else(|e| e.into_inner());
        sets.next_call_only.remove(operation) || sets.until_cleared.contains(operation)
    }
}
