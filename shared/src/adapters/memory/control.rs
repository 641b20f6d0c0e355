//! [`OrderControl`] for the in-memory orders, with the DynamoDB adapter's
//! conditions.

use super::orders::{holds_lease, key, push_history, MemoryOrderStore};
use crate::domain::lifecycle::{Label, LeaseOwner, OrderRecord};
use crate::ports::{Claim, OrderControl, StoreError};

impl OrderControl for MemoryOrderStore {
    async fn claim_control(&self, claim: &Claim<'_>) -> Result<Option<OrderRecord>, StoreError> {
        self.available("claim_control")?;
        let mut orders = self.lock();
        let Some(record) = orders.get_mut(&key(claim.shop_id, claim.order_id)) else {
            return Ok(None);
        };
        let lease_free = record.lease_until.is_none_or(|until| until < claim.now);
        if record.label == Label::Cancelled || !lease_free {
            return Ok(None);
        }
        record.lease_until = Some(claim.lease_until);
        record.lease_owner = Some(claim.owner.to_string());
        record.version += 1;
        record.updated_at = claim.now;
        Ok(Some(record.clone()))
    }

    async fn mark_cancelled(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        reason: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.available("mark_cancelled")?;
        let mut orders = self.lock();
        match orders.get_mut(&key(shop_id, order_id)) {
            Some(record) if holds_lease(record, owner) => {
                record.label = Label::Cancelled;
                record.last_error = Some(reason.to_owned());
                record.updated_at = now;
                record.expires_at = Some(expires_at);
                record.version += 1;
                record.lease_until = None;
                record.lease_owner = None;
                record.rescan_after = None;
                push_history(record, now, format!("cancelled: {reason}"));
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn reopen_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        why: &str,
        now: i64,
        rescan_after: i64,
    ) -> Result<(), StoreError> {
        self.available("reopen_ok")?;
        let mut orders = self.lock();
        match orders.get_mut(&key(shop_id, order_id)) {
            Some(record) if holds_lease(record, owner) && record.label == Label::Ok => {
                record.label = Label::Pending;
                record.updated_at = now;
                record.pending_since = Some(now);
                record.rescan_after = Some(rescan_after);
                record.version += 1;
                record.lease_until = None;
                record.lease_owner = None;
                record.draft_invoice_number = None;
                record.booked_invoice_number = None;
                record.expires_at = None;
                record.last_error = None;
                push_history(record, now, why);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }

    async fn release_control(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        what: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.available("release_control")?;
        let mut orders = self.lock();
        match orders.get_mut(&key(shop_id, order_id)) {
            Some(record) if holds_lease(record, owner) => {
                record.updated_at = now;
                record.version += 1;
                record.lease_until = None;
                record.lease_owner = None;
                push_history(record, now, what);
                Ok(())
            }
            _ => Err(StoreError::Conflict),
        }
    }
}
