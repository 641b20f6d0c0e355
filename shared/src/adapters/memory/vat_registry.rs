//! An in-memory VAT number registry: the numbers it knows as valid, and a
//! switch that makes it unavailable the way VIES can be.

use crate::domain::vat_number::{VatNumber, VatNumberCheck};
use crate::ports::{VatRegistry, VatRegistryUnavailable};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct MemoryVatRegistry {
    valid: Mutex<HashSet<String>>,
    unavailable: AtomicBool,
    checks: AtomicUsize,
}

impl MemoryVatRegistry {
    /// A registry that knows these numbers (`DE123456789`) as valid.
    pub fn with_valid(numbers: &[&str]) -> Self {
        let registry = MemoryVatRegistry::default();
        registry
            .valid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(numbers.iter().map(|n| (*n).to_owned()));
        registry
    }

    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// How many checks were asked.
    pub fn checks(&self) -> usize {
        self.checks.load(Ordering::SeqCst)
    }
}

impl VatRegistry for MemoryVatRegistry {
    async fn check(&self, number: &VatNumber) -> Result<VatNumberCheck, VatRegistryUnavailable> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(VatRegistryUnavailable("MS_UNAVAILABLE".to_owned()));
        }
        let valid = self
            .valid
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&number.as_text());
        Ok(if valid {
            VatNumberCheck::Valid
        } else {
            VatNumberCheck::Invalid
        })
    }
}
