use super::Outages;
use crate::domain::shop::ShopConfig;
use crate::ports::{ShopStore, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The shops table in memory.
#[derive(Debug, Default)]
pub struct MemoryShopStore {
    shops: Mutex<HashMap<String, ShopConfig>>,
    reads: AtomicUsize,
    outages: Outages,
}

impl MemoryShopStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(shops: impl IntoIterator<Item = ShopConfig>) -> Self {
        let store = Self::new();
        for shop in shops {
            store.insert(shop);
        }
        store
    }

    pub fn insert(&self, shop: ShopConfig) {
        self.lock().insert(shop.shop_id.clone(), shop);
    }

    /// Reads made so far (ingest caches shops; tests check it does).
    pub fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }

    /// Makes `get` (or `put`) answer `Unavailable` until switched back.
    pub fn set_failing(&self, operation: &'static str, failing: bool) {
        self.outages.set(operation, failing);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ShopConfig>> {
        self.shops.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ShopStore for MemoryShopStore {
    async fn get(&self, shop_id: &str) -> Result<Option<ShopConfig>, StoreError> {
        // A read yields, as one over the network does: work running beside
        // it gets its turn (the tests see the interleavings AWS has).
        tokio::task::yield_now().await;
        self.reads.fetch_add(1, Ordering::SeqCst);
        if self.outages.is_failing("get") {
            return Err(StoreError::Unavailable("injected outage: get".into()));
        }
        Ok(self.lock().get(shop_id).cloned())
    }

    async fn put(&self, config: &ShopConfig) -> Result<(), StoreError> {
        if self.outages.is_failing("put") {
            return Err(StoreError::Unavailable("injected outage: put".into()));
        }
        self.insert(config.clone());
        Ok(())
    }
}
