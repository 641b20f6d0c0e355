//! The webshop → e-conomic bridge: domain (order contract, money and VAT,
//! mapping) and adapters (e-conomic client, DynamoDB state, SQS queue).
//!
//! Domain modules (`order`, `money`, `vat`, `mapping`, `config`, `webhook`)
//! do no I/O and know nothing of AWS or HTTP.

pub mod config;
pub mod economic;
pub mod json_decimal;
pub mod logging;
pub mod mapping;
pub mod money;
pub mod order;
pub mod pipeline;
pub mod queue;
pub mod secret;
pub mod store;
pub mod vat;
pub mod webhook;
