//! The e-conomic side: wire model, HTTP client, errors and retry policy.

pub mod cache;
pub mod client;
pub mod error;
pub mod filter;
pub mod model;
pub mod push;
pub mod rate_limit;
pub mod retry;

pub use client::{ClientConfig, EconomicApi, EconomicClient, DEFAULT_BASE_URL};
pub use error::{ApiError, EconomicError, FieldError};
pub use push::{push_invoice, DebtorPlan, InvoicePlan, PushOptions, PushOutcome};
pub use retry::RetryPolicy;
