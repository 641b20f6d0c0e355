//! A shop whose REST API holds refunds the test puts there, checks the
//! REST API key as WooCommerce does (a wrong one is a 401) and fails the
//! way the test tells it to.

use crate::domain::write_back_config::WoocommerceWriteBack;
use crate::ports::{ShopRead, ShopReadError, ShopRefunds};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug, Default)]
pub struct MemoryShopRefunds {
    /// `(order id, refund id)` → the refund's JSON body.
    refunds: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    /// The consumer key accepted; any key when `None`.
    consumer_key: Mutex<Option<String>>,
    /// Failures for the next calls, before any lookup.
    failures: Mutex<VecDeque<ShopReadError>>,
    /// `(order id, refund id)` of every call, in order.
    calls: Mutex<Vec<(String, String)>>,
}

impl MemoryShopRefunds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts refund `refund_id` of order `order_id` into the shop.
    pub fn put(&self, order_id: &str, refund_id: &str, body: &[u8]) {
        lock(&self.refunds).insert((order_id.to_owned(), refund_id.to_owned()), body.to_vec());
    }

    /// Only `consumer_key` is accepted from now on.
    pub fn accept_only(&self, consumer_key: &str) {
        *lock(&self.consumer_key) = Some(consumer_key.to_owned());
    }

    /// The next call fails with `error` (queued after earlier ones).
    pub fn fail_next(&self, error: ShopReadError) {
        lock(&self.failures).push_back(error);
    }

    pub fn calls(&self) -> Vec<(String, String)> {
        lock(&self.calls).clone()
    }

    fn answer(
        &self,
        store: &WoocommerceWriteBack,
        order_id: &str,
        refund_id: &str,
    ) -> Result<Vec<u8>, ShopReadError> {
        lock(&self.calls).push((order_id.to_owned(), refund_id.to_owned()));
        if let Some(error) = lock(&self.failures).pop_front() {
            return Err(error);
        }
        let accepted = lock(&self.consumer_key)
            .as_deref()
            .is_none_or(|key| key == store.consumer_key.expose());
        if !accepted {
            return Err(ShopReadError {
                transient: false,
                reason: "WooCommerce answered HTTP 401: the consumer key was rejected".to_owned(),
            });
        }
        lock(&self.refunds)
            .get(&(order_id.to_owned(), refund_id.to_owned()))
            .cloned()
            .ok_or_else(|| ShopReadError {
                transient: false,
                reason: format!(
                    "WooCommerce answered HTTP 404: order {order_id} has no refund {refund_id}"
                ),
            })
    }
}

impl ShopRefunds for MemoryShopRefunds {
    fn woocommerce_refund<'a>(
        &'a self,
        store: &'a WoocommerceWriteBack,
        order_id: &'a str,
        refund_id: &'a str,
        _deadline: Instant,
    ) -> ShopRead<'a> {
        let answer = self.answer(store, order_id, refund_id);
        Box::pin(async move { answer })
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
