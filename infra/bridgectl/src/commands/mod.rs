//! One module per command group.

pub mod backfill;
pub mod check;
pub mod dlq;
pub mod orders;
pub mod refunds;
pub mod shops;
