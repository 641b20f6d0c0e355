//! [`PaymentStore`] in memory: the payment mark and note the DynamoDB
//! adapter keeps on the order's item, here beside the order, under the
//! same condition (this attempt holds the lease on a pending order).

use super::orders::{key, Key, MemoryOrderStore};
use crate::domain::lifecycle::{HistoryEntry, Label, LeaseOwner, HISTORY_LIMIT};
use crate::ports::{PaymentStore, StoreError};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default, Clone)]
struct PaymentState {
    started_at: Option<i64>,
    note: Option<String>,
}

/// Per order: when its payment was first marked, and its note.
#[derive(Debug, Default)]
pub(in crate::adapters::memory) struct PaymentAttributes(Mutex<BTreeMap<Key, PaymentState>>);

impl PaymentAttributes {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<Key, PaymentState>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl MemoryOrderStore {
    /// The order's payment note, read without going through the port.
    pub fn payment_note(&self, shop_id: &str, order_id: &str) -> Option<String> {
        self.payments
            .with(|p| p.get(&key(shop_id, order_id)).and_then(|s| s.note.clone()))
    }

    /// When the order's payment was marked started (a test's look).
    pub fn payment_started_at(&self, shop_id: &str, order_id: &str) -> Option<i64> {
        self.payments
            .with(|p| p.get(&key(shop_id, order_id)).and_then(|s| s.started_at))
    }

    /// Whether `owner` holds the lease on the pending order.
    fn holds(&self, shop_id: &str, order_id: &str, owner: &LeaseOwner, operation: &str) -> bool {
        let orders = self.lock();
        !self.conflicts.is_failing(operation)
            && orders.get(&key(shop_id, order_id)).is_some_and(|r| {
                r.label == Label::Pending && r.lease_owner.as_deref() == Some(&owner.to_string())
            })
    }
}

impl PaymentStore for MemoryOrderStore {
    async fn mark_payment_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.available("mark_payment_started")?;
        if !self.holds(shop_id, order_id, owner, "mark_payment_started") {
            return Err(StoreError::Conflict);
        }
        Ok(self.payments.with(|p| {
            let state = p.entry(key(shop_id, order_id)).or_default();
            let earlier = state.started_at;
            state.started_at.get_or_insert(now);
            earlier
        }))
    }

    async fn record_payment(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        note: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.available("record_payment")?;
        if !self.holds(shop_id, order_id, owner, "record_payment") {
            return Err(StoreError::Conflict);
        }
        let mut orders = self.lock();
        if let Some(record) = orders.get_mut(&key(shop_id, order_id)) {
            record.history.push(HistoryEntry {
                at: now,
                what: note.to_owned(),
            });
            let excess = record.history.len().saturating_sub(HISTORY_LIMIT);
            record.history.drain(..excess);
        }
        drop(orders);
        self.payments.with(|p| {
            p.entry(key(shop_id, order_id)).or_default().note = Some(note.to_owned());
        });
        Ok(())
    }
}
