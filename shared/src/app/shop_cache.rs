//! A shop store that remembers each shop's configuration for a bounded
//! time, so a function in a warm Lambda environment reads a shop once per
//! `ttl` instead of once per webhook or order (one DynamoDB read and a few
//! milliseconds each).
//!
//! Staleness is bounded by `ttl`: a changed configuration (a new mapping, a
//! rotated token, a shop disabled) reaches each warm environment within that
//! time. Unknown shops are remembered too, so ids sprayed at the webhook
//! cost one read each per `ttl`. The table is bounded: when it is full, the
//! unknown ids go first, so spraying made-up ids never evicts a real shop
//! (only a thousand real shops in one environment clear it all).

use crate::domain::shop::ShopConfig;
use crate::ports::{ShopStore, StoreError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shops remembered at most; on overflow the table starts empty again.
const MAX_SHOPS: usize = 1000;

/// When a shop was read, and what it was (`None`: no such shop).
type Entry = (Instant, Option<Arc<ShopConfig>>);

#[derive(Debug)]
pub struct CachedShops<S> {
    inner: S,
    ttl: Duration,
    /// Shared, so a hit costs a reference count rather than a copy of the
    /// configuration (ingest looks one up for every webhook).
    entries: Mutex<HashMap<String, Entry>>,
}

impl<S: ShopStore> CachedShops<S> {
    /// `ttl` zero turns the cache off (every `get` reads `inner`).
    pub fn new(inner: S, ttl: Duration) -> Self {
        CachedShops {
            inner,
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The shop's configuration (`None`: no such shop), from the cache
    /// while it is fresh, shared rather than copied.
    pub async fn get_shared(&self, shop_id: &str) -> Result<Option<Arc<ShopConfig>>, StoreError> {
        if let Some(shop) = self.remembered(shop_id, Instant::now()) {
            return Ok(shop);
        }
        let shop = self.inner.get(shop_id).await?;
        Ok(self.remember(shop_id, shop, Instant::now()))
    }

    fn remembered(&self, shop_id: &str, now: Instant) -> Option<Option<Arc<ShopConfig>>> {
        let entries = self.entries.lock().ok()?;
        let (at, shop) = entries.get(shop_id)?;
        (now.saturating_duration_since(*at) < self.ttl).then(|| shop.clone())
    }

    /// Remembers the answer (unless the cache is off) and returns it.
    fn remember(
        &self,
        shop_id: &str,
        shop: Option<ShopConfig>,
        now: Instant,
    ) -> Option<Arc<ShopConfig>> {
        let shop = shop.map(Arc::new);
        if self.ttl.is_zero() {
            return shop;
        }
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_SHOPS && !entries.contains_key(shop_id) {
                entries.retain(|_, (_, shop)| shop.is_some());
                if entries.len() >= MAX_SHOPS {
                    entries.clear();
                }
            }
            entries.insert(shop_id.to_owned(), (now, shop.clone()));
        }
        shop
    }

    fn forget(&self, shop_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(shop_id);
        }
    }
}

impl<S: ShopStore> ShopStore for CachedShops<S> {
    async fn get(&self, shop_id: &str) -> Result<Option<ShopConfig>, StoreError> {
        Ok(self.get_shared(shop_id).await?.map(Arc::unwrap_or_clone))
    }

    async fn get_fresh(&self, shop_id: &str) -> Result<Option<ShopConfig>, StoreError> {
        let shop = self.inner.get(shop_id).await?;
        Ok(self
            .remember(shop_id, shop, Instant::now())
            .map(Arc::unwrap_or_clone))
    }

    /// Writes through; this process sees the new configuration at once.
    async fn put(&self, config: &ShopConfig) -> Result<(), StoreError> {
        self.forget(&config.shop_id);
        self.inner.put(config).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryShopStore;

    fn shop(id: &str, enabled: bool) -> ShopConfig {
        serde_json::from_value(serde_json::json!({
            "shop_id": id,
            "enabled": enabled,
            "webhook_secrets": [{"secret": "whsec_dGVzdC1zZWNyZXQtZm9yLXVuaXQtdGVzdHM="}],
            "economic": {"app_secret_token": "app", "agreement_grant_token": "grant"},
            "mapping": {
                "home_country": "DK",
                "debtor": {"strategy": {"kind": "shop_customer_id", "offset": 100000}},
                "payment_methods": {"card": {"layout": 19, "payment_terms": 1}}
            }
        }))
        .expect("the test shop parses")
    }

    #[tokio::test]
    async fn a_shop_is_read_once_per_ttl_and_a_put_is_seen_at_once() {
        let store = MemoryShopStore::default();
        store.put(&shop("s1", true)).await.unwrap();
        let cached = CachedShops::new(store, Duration::from_secs(3600));

        assert!(cached.get("s1").await.unwrap().unwrap().enabled);
        // Changed behind the cache's back: the cache still answers.
        cached.inner().put(&shop("s1", false)).await.unwrap();
        assert!(cached.get("s1").await.unwrap().unwrap().enabled);
        // Changed through the cache: seen at once.
        cached.put(&shop("s1", false)).await.unwrap();
        assert!(!cached.get("s1").await.unwrap().unwrap().enabled);
    }

    #[tokio::test]
    async fn a_fresh_read_passes_the_cache_and_refreshes_it() {
        let store = MemoryShopStore::default();
        store.put(&shop("s1", true)).await.unwrap();
        let cached = CachedShops::new(store, Duration::from_secs(3600));
        assert!(cached.get("s1").await.unwrap().unwrap().enabled);
        cached.inner().put(&shop("s1", false)).await.unwrap();
        assert!(!cached.get_fresh("s1").await.unwrap().unwrap().enabled);
        assert!(!cached.get("s1").await.unwrap().unwrap().enabled);
    }

    #[tokio::test]
    async fn unknown_shops_are_remembered_as_unknown() {
        let store = MemoryShopStore::default();
        let cached = CachedShops::new(store, Duration::from_secs(3600));
        assert!(cached.get("nope").await.unwrap().is_none());
        cached.inner().put(&shop("nope", true)).await.unwrap();
        assert!(cached.get("nope").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn a_zero_ttl_reads_every_time() {
        let store = MemoryShopStore::default();
        store.put(&shop("s1", true)).await.unwrap();
        let cached = CachedShops::new(store, Duration::ZERO);
        assert!(cached.get("s1").await.unwrap().unwrap().enabled);
        cached.inner().put(&shop("s1", false)).await.unwrap();
        assert!(!cached.get("s1").await.unwrap().unwrap().enabled);
    }

    #[test]
    fn an_entry_expires_after_the_ttl() {
        let cached = CachedShops::new(MemoryShopStore::default(), Duration::from_secs(30));
        let t0 = Instant::now();
        cached.remember("s1", Some(shop("s1", true)), t0);
        assert!(cached
            .remembered("s1", t0 + Duration::from_secs(29))
            .is_some());
        assert!(cached
            .remembered("s1", t0 + Duration::from_secs(30))
            .is_none());
    }

    #[test]
    fn the_table_is_bounded() {
        let cached = CachedShops::new(MemoryShopStore::default(), Duration::from_secs(30));
        let t0 = Instant::now();
        for i in 0..MAX_SHOPS {
            cached.remember(&format!("s{i}"), Some(shop(&format!("s{i}"), true)), t0);
        }
        assert!(cached.remembered("s0", t0).is_some());
        cached.remember("one-more", None, t0);
        assert!(cached.remembered("s0", t0).is_none());
        assert!(cached.remembered("one-more", t0).is_some());
        assert_eq!(cached.entries.lock().unwrap().len(), 1);
    }

    #[test]
    fn made_up_ids_never_evict_a_real_shop() {
        let cached = CachedShops::new(MemoryShopStore::default(), Duration::from_secs(30));
        let t0 = Instant::now();
        cached.remember("real", Some(shop("real", true)), t0);
        for i in 0..3 * MAX_SHOPS {
            cached.remember(&format!("sprayed-{i}"), None, t0);
        }
        assert!(cached.remembered("real", t0).flatten().is_some());
        assert!(cached.entries.lock().unwrap().len() <= MAX_SHOPS);
        // The newest made-up id is remembered: it costs no second read.
        let last = format!("sprayed-{}", 3 * MAX_SHOPS - 1);
        assert_eq!(cached.remembered(&last, t0), Some(None));
    }
}
