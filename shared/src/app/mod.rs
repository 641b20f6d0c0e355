//! The three functions' logic, generic over the [ports](crate::ports) and
//! free of Lambda types, so the function crates stay thin, the local stack
//! calls the same code, and every branch is unit-tested over the in-memory
//! adapters with a controlled clock.
//!
//! * [`ingest`]: webhook → verified, parsed event → order record → queue.
//! * [`transfer`]: queue message → lease → mapping → e-conomic → label.
//! * [`rescan`]: pending orders whose enqueue was lost → queue again; dead
//!   letters of orders that ended `ok` → removed.

pub mod ingest;
pub mod notify;
pub mod notify_delivery;
pub mod order_metrics;
pub mod rescan;
pub mod shop_cache;
pub mod transfer;

#[cfg(test)]
mod tests;
