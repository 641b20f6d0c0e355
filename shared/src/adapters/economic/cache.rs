//! Per-process caches (a warm Lambda serves many orders): debtors known to
//! exist, email → debtor number for running-number debtors, and reference
//! data (VAT zones, layouts, payment terms, ...), which does not change
//! within a run. Keys carry an agreement key derived from the tokens by a
//! one-way hash, never the tokens themselves.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bound on entries per map; on overflow the map is cleared (a cold cache
/// only costs extra lookups, never correctness).
const MAX_ENTRIES: usize = 50_000;

type ReferenceMap = HashMap<(String, &'static str), Arc<dyn Any + Send + Sync>>;

#[derive(Default)]
pub struct Cache {
    known_debtors: Mutex<HashSet<(String, u32)>>,
    debtor_by_email: Mutex<HashMap<(String, String), u32>>,
    reference: Mutex<ReferenceMap>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps inconsistent
    // (single inserts/removes), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Cache {
    pub fn debtor_known(&self, agreement: &str, number: u32) -> bool {
        lock(&self.known_debtors).contains(&(agreement.to_string(), number))
    }

    pub fn remember_debtor(&self, agreement: &str, number: u32) {
        let mut set = lock(&self.known_debtors);
        if set.len() >= MAX_ENTRIES {
            set.clear();
        }
        set.insert((agreement.to_string(), number));
    }

    pub fn forget_debtor(&self, agreement: &str, number: u32) {
        lock(&self.known_debtors).remove(&(agreement.to_string(), number));
        lock(&self.debtor_by_email).retain(|(a, _), n| !(a == agreement && *n == number));
    }

    pub fn debtor_for_email(&self, agreement: &str, email: &str) -> Option<u32> {
        lock(&self.debtor_by_email)
            .get(&(agreement.to_string(), email.to_lowercase()))
            .copied()
    }

    pub fn remember_email(&self, agreement: &str, email: &str, number: u32) {
        let mut map = lock(&self.debtor_by_email);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert((agreement.to_string(), email.to_lowercase()), number);
    }

    pub fn reference<T: Any + Send + Sync>(
        &self,
        agreement: &str,
        kind: &'static str,
    ) -> Option<Arc<T>> {
        let value = lock(&self.reference)
            .get(&(agreement.to_string(), kind))
            .cloned()?;
        value.downcast::<T>().ok()
    }

    pub fn remember_reference<T: Any + Send + Sync>(
        &self,
        agreement: &str,
        kind: &'static str,
        value: Arc<T>,
    ) {
        let mut map = lock(&self.reference);
        if map.len() >= MAX_ENTRIES {
            map.clear();
        }
        map.insert((agreement.to_string(), kind), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_per_agreement() {
        let c = Cache::default();
        c.remember_debtor("a", 7);
        assert!(c.debtor_known("a", 7));
        assert!(!c.debtor_known("b", 7));
        c.remember_email("a", "Ann@Example.com", 7);
        assert_eq!(c.debtor_for_email("a", "ann@example.COM"), Some(7));
        assert_eq!(c.debtor_for_email("b", "ann@example.com"), None);
        c.forget_debtor("a", 7);
        assert!(!c.debtor_known("a", 7));
        assert_eq!(c.debtor_for_email("a", "ann@example.com"), None);
        c.remember_reference("a", "zones", Arc::new(vec![1u32, 2]));
        assert_eq!(
            c.reference::<Vec<u32>>("a", "zones").as_deref(),
            Some(&vec![1, 2])
        );
        assert!(c.reference::<Vec<u32>>("b", "zones").is_none());
        assert!(c.reference::<String>("a", "zones").is_none());
    }
}
