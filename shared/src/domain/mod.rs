//! The domain: what an order is, what its invoice must say, and how its
//! state may change. Nothing here does I/O, reads the clock or knows AWS or
//! HTTP; every function is tested without either.

pub mod economic_model;
pub mod json_decimal;
pub mod lifecycle;
pub mod mapping;
pub mod money;
pub mod notify;
pub mod order;
pub mod personal_data;
pub mod platform;
pub mod secret;
pub mod shop;
pub mod vat;
pub mod vat_number;
pub mod webhook;
pub mod write_back;
pub mod write_back_config;
