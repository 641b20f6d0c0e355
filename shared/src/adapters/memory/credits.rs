//! [`CreditStore`] in memory: the attributes the DynamoDB adapter keeps on
//! the order's item, here beside the order, under the same conditions.

use super::orders::{key, Key, MemoryOrderStore};
use crate::domain::mapping::credit_note::{CreditBasis, CreditLedger};
use crate::ports::{CreditAccount, CreditStore, StoreError};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default, Clone)]
pub(super) struct CreditState {
    basis: Option<CreditBasis>,
    ledger: CreditLedger,
    version: u64,
}

/// Per order: basis, ledger and ledger version.
#[derive(Debug, Default)]
pub(in crate::adapters::memory) struct CreditAttributes(Mutex<BTreeMap<Key, CreditState>>);

impl CreditAttributes {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<Key, CreditState>) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl CreditStore for MemoryOrderStore {
    async fn save_credit_basis(
        &self,
        shop_id: &str,
        order_id: &str,
        basis: &CreditBasis,
    ) -> Result<(), StoreError> {
        self.available("save_credit_basis")?;
        let orders = self.lock();
        if !orders.contains_key(&key(shop_id, order_id)) {
            return Err(StoreError::Conflict);
        }
        self.credits.with(|credits| {
            credits.entry(key(shop_id, order_id)).or_default().basis = Some(basis.clone());
        });
        Ok(())
    }

    async fn credit_account(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> Result<Option<CreditAccount>, StoreError> {
        self.available("credit_account")?;
        let orders = self.lock();
        let Some(record) = orders.get(&key(shop_id, order_id)) else {
            return Ok(None);
        };
        let state = self
            .credits
            .with(|credits| credits.get(&key(shop_id, order_id)).cloned())
            .unwrap_or_default();
        Ok(Some(CreditAccount {
            label: record.label,
            basis: state.basis,
            ledger: state.ledger,
            ledger_version: state.version,
        }))
    }

    async fn write_ledger(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: u64,
        ledger: &CreditLedger,
    ) -> Result<(), StoreError> {
        self.available("write_ledger")?;
        let orders = self.lock();
        if self.conflicts.is_failing("write_ledger")
            || !orders.contains_key(&key(shop_id, order_id))
        {
            return Err(StoreError::Conflict);
        }
        self.credits.with(|credits| {
            let state = credits.entry(key(shop_id, order_id)).or_default();
            if state.version != expected_version {
                return Err(StoreError::Conflict);
            }
            state.ledger = ledger.clone();
            state.version += 1;
            Ok(())
        })
    }
}
