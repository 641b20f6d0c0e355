//! The webshop → e-conomic bridge.
//!
//! Dependencies point one way: `adapters` → `ports` ← `app` → `domain`.
//!
//! * [`domain`]: the order contract, money and VAT, the mapping to an
//!   e-conomic invoice, shop configuration, the order's lifecycle and the
//!   webhook signature schemes. No I/O, no clock reads, no AWS or HTTP types.
//! * [`ports`]: the traits the application needs from the outside world
//!   (order store, shop store, transfer queue, invoicing, clock).
//! * [`app`]: the three functions' logic (ingest, transfer, rescan), generic
//!   over the ports.
//! * [`adapters`]: DynamoDB, SQS and e-conomic implementations of the ports,
//!   and in-memory ones that honour the same conditions.
//!
//! ARCHITECTURE.md at the repository root has the codemap and invariants.

pub mod adapters;
pub mod app;
pub mod domain;
pub mod env;
pub mod logging;
pub mod metrics;
pub mod ports;
