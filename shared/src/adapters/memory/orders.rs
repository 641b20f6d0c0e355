use super::Outages;
use crate::domain::lifecycle::{
    history, HistoryEntry, IngestWrite, Label, LeaseOwner, OrderRecord, PushOutcome, HISTORY_LIMIT,
    WEBHOOK_IDS_LIMIT,
};
use crate::domain::notify::Channel;
use crate::ports::{Claim, DueOrder, OkNotification, OrderStore, StoreError};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

pub(super) type Key = (String, String);

/// The orders table in memory, with the DynamoDB adapter's conditions:
/// each method checks and changes one order under one lock, as one
/// conditional write does.
#[derive(Debug, Default)]
pub struct MemoryOrderStore {
    orders: Mutex<BTreeMap<Key, OrderRecord>>,
    /// Credit note basis, ledger and ledger version per order (attributes
    /// of the order's item in DynamoDB; see `credits.rs`).
    pub(super) credits: super::credits::CreditAttributes,
    /// The payment step's mark and note (`payments.rs`).
    pub(super) payments: super::payments::PaymentAttributes,
    pub(super) outages: Outages,
    pub(super) conflicts: Outages,
    /// Label notifications per order (`super::notifications`).
    pub(super) notifications: Mutex<
        BTreeMap<
            (crate::domain::notify::Channel, Key),
            Vec<crate::domain::notify::NotificationRecord>,
        >,
    >,
}

pub(super) fn key(shop_id: &str, order_id: &str) -> Key {
    (shop_id.to_owned(), order_id.to_owned())
}

fn tail<T: Clone>(items: &[T], limit: usize) -> Vec<T> {
    items[items.len().saturating_sub(limit)..].to_vec()
}

impl MemoryOrderStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored order, read without going through the port.
    pub fn record(&self, shop_id: &str, order_id: &str) -> Option<OrderRecord> {
        self.lock().get(&key(shop_id, order_id)).cloned()
    }

    /// Every stored order.
    pub fn records(&self) -> Vec<OrderRecord> {
        self.lock().values().cloned().collect()
    }

    /// Stores an order as it is (a test's starting state).
    pub fn insert(&self, record: OrderRecord) {
        self.lock()
            .insert(key(&record.shop_id, &record.order_id), record);
    }

    /// Makes the named port method answer `Unavailable` (as DynamoDB does
    /// when throttled or unreachable) until switched back.
    pub fn set_failing(&self, operation: &'static str, failing: bool) {
        self.outages.set(operation, failing);
    }

    /// Makes only the next call of the named operation fail.
    pub fn fail_next(&self, operation: &'static str) {
        self.outages.set_once(operation);
    }

    /// Makes the named conditional write lose as if a concurrent writer
    /// had changed the order (`Err(Conflict)`, or `Ok(false)` for
    /// `bump_rescan`) until switched back.
    pub fn set_conflicting(&self, operation: &'static str, conflicting: bool) {
        self.conflicts.set(operation, conflicting);
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, BTreeMap<Key, OrderRecord>> {
        self.orders.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn available(&self, operation: &'static str) -> Result<(), StoreError> {
        if self.outages.is_failing(operation) {
            Err(StoreError::Unavailable(format!(
                "injected outage: {operation}"
            )))
        } else {
            Ok(())
        }
    }
}

fn new_record(shop_id: &str, order_id: &str, now: i64) -> OrderRecord {
    OrderRecord {
        shop_id: shop_id.to_owned(),
        order_id: order_id.to_owned(),
        label: Label::Recorded,
        snapshot: None,
        snapshot_rank: 0,
        events: Vec::new(),
        webhook_ids: Vec::new(),
        attempts: 0,
        last_error: None,
        draft_invoice_number: None,
        booked_invoice_number: None,
        customer_number: None,
        economic_calls: None,
        created_at: now,
        updated_at: now,
        pending_since: None,
        lease_until: None,
        lease_owner: None,
        create_started: false,
        history: Vec::new(),
        version: 0,
        rescan_after: None,
        expires_at: None,
    }
}

pub(super) fn push_history(record: &mut OrderRecord, at: i64, what: impl Into<String>) {
    // `list_append` in DynamoDB: unbounded (only ingest trims).
    record.history.push(HistoryEntry {
        at,
        what: what.into(),
    });
}

pub(super) fn holds_lease(record: &OrderRecord, owner: &LeaseOwner) -> bool {
    record.lease_owner.as_deref() == Some(owner.to_string().as_str())
}

impl OrderStore for MemoryOrderStore {
    async fn get(&self, shop_id: &str, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        self.available("get")?;
        Ok(self.record(shop_id, order_id))
    }

    async fn write_ingest(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: Option<u64>,
        write: &IngestWrite,
        now: i64,
    ) -> Result<(), StoreError> {
        self.available("write_ingest")?;
        let mut orders = self.lock();
        let existing = orders.get(&key(shop_id, order_id));
        let mut record = match (expected_version, existing) {
            (None, None) => new_record(shop_id, order_id, now),
            (Some(expected), Some(record)) if record.version == expected => record.clone(),
            _ => return Err(StoreError::Conflict),
        };
        record.label = write.label;
        record.events = write.events.clone();
        record.webhook_ids = tail(&write.webhook_ids, WEBHOOK_IDS_LIMIT);
        record.history = tail(&write.history, HISTORY_LIMIT);
        record.updated_at = now;
        record.version = expected_version.map_or(1, |v| v + 1);
        if let Some((snapshot, rank)) = &write.snapshot {
            record.snapshot = Some(snapshot.clone());
            record.snapshot_rank = *rank;
        }
        if let Some(rescan_after) = write.rescan_after {
            record.rescan_after = Some(rescan_after);
            record.pending_since = Some(now);
            record.last_error = None;
        }
        orders.insert(key(shop_id, order_id), record);
        Ok(())
    }

    async fn claim(&self, claim: &Claim<'_>) -> Result<Option<OrderRecord>, StoreError> {
        self.available("claim")?;
        let mut orders = self.lock();
        let Some(record) = orders.get_mut(&key(claim.shop_id, claim.order_id)) else {
            return Ok(None);
        };
        let claimable_label = record.label == Label::Pending
            || (claim.reopen_failed && record.label == Label::Failed);
        let lease_free = record.lease_until.is_none_or(|until| until < claim.now);
        if !(claimable_label && lease_free) {
            return Ok(None);
        }
        record.label = Label::Pending;
        record.lease_until = Some(claim.lease_until);
        record.lease_owner = Some(claim.owner.to_string());
        record.attempts += 1;
        record.version += 1;
        record.rescan_after = Some(claim.rescan_after);
        record.updated_at = claim.now;
        push_history(record, claim.now, history::ATTEMPT_STARTED);
        Ok(Some(record.clone()))
    }

    async fn mark_create_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
    ) -> Result<(), StoreError> {
        self.available("mark_create_started")?;
        if self.conflicts.is_failing("mark_create_started") {
            return Err(StoreError::Conflict);
        }
        let mut orders = self.lock();
        match orders.get_mut(&key(shop_id, order_id)) {
            Some(record) if holds_lease(record, owner) && record.label == Label::Pending => {
                record.create_started = true;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn mark_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        outcome: &PushOutcome,
        now: i64,
        expires_at: i64,
        notification: OkNotification,
    ) -> Result<Option<u64>, StoreError> {
        self.available("mark_ok")?;
        let mut orders = self.lock();
        let Some(record) = orders.get_mut(&key(shop_id, order_id)) else {
            return Err(StoreError::Conflict);
        };
        record.label = Label::Ok;
        record.customer_number = Some(outcome.customer_number);
        record.economic_calls = Some(outcome.calls);
        record.updated_at = now;
        record.expires_at = Some(expires_at);
        record.version += 1;
        push_history(record, now, outcome.history_text());
        if outcome.draft_invoice_number.is_some() {
            record.draft_invoice_number = outcome.draft_invoice_number;
        }
        if outcome.booked_invoice_number.is_some() {
            record.booked_invoice_number = outcome.booked_invoice_number;
        }
        record.lease_until = None;
        record.lease_owner = None;
        record.rescan_after = None;
        record.last_error = None;
        // Under the order's lock: one write, as in DynamoDB.
        Ok(match notification {
            OkNotification::Skip => None,
            OkNotification::Record => Some(self.with_notifications(
                Channel::Notify,
                shop_id,
                order_id,
                |list| super::notifications::append(list, Label::Ok.as_str(), now),
            )),
        })
    }

    async fn mark_failed(
        &self,
        shop_id: &str,
        order_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.available("mark_failed")?;
        if self.conflicts.is_failing("mark_failed") {
            return Err(StoreError::Conflict);
        }
        let mut orders = self.lock();
        match orders.get_mut(&key(shop_id, order_id)) {
            Some(record) if record.label != Label::Ok => {
                record.label = Label::Failed;
                record.last_error = Some(reason.to_owned());
                record.updated_at = now;
                record.version += 1;
                push_history(record, now, history::failed(reason));
                record.lease_until = None;
                record.lease_owner = None;
                record.rescan_after = None;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn record_transient(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        error: &str,
        now: i64,
        rescan_after: i64,
    ) -> Result<(), StoreError> {
        self.available("record_transient")?;
        let mut orders = self.lock();
        match orders.get_mut(&key(shop_id, order_id)) {
            Some(record) if holds_lease(record, owner) => {
                record.last_error = Some(error.to_owned());
                record.updated_at = now;
                record.rescan_after = Some(rescan_after);
                record.version += 1;
                push_history(record, now, history::will_retry(error));
                record.lease_until = None;
                record.lease_owner = None;
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn due_for_rescan(&self, now: i64, limit: usize) -> Result<Vec<DueOrder>, StoreError> {
        self.available("due_for_rescan")?;
        let mut due: Vec<DueOrder> = self
            .lock()
            .values()
            .filter_map(|record| {
                let rescan_after = record.rescan_after?;
                (rescan_after <= now).then(|| DueOrder {
                    shop_id: record.shop_id.clone(),
                    order_id: record.order_id.clone(),
                    rescan_after,
                })
            })
            .collect();
        due.sort_by_key(|order| order.rescan_after);
        due.truncate(limit);
        Ok(due)
    }

    async fn bump_rescan(
        &self,
        shop_id: &str,
        order_id: &str,
        seen: i64,
        next: i64,
    ) -> Result<bool, StoreError> {
        self.available("bump_rescan")?;
        if self.conflicts.is_failing("bump_rescan") {
            return Ok(false);
        }
        let mut orders = self.lock();
        match orders.get_mut(&key(shop_id, order_id)) {
            Some(record) if record.label == Label::Pending && record.rescan_after == Some(seen) => {
                record.rescan_after = Some(next);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
