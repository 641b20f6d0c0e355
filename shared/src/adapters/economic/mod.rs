//! The e-conomic adapter: HTTP client, errors, retry policy, pacing,
//! look-up filters and the invoice push behind the
//! [`Invoicing`](crate::ports::Invoicing) port. The wire model it sends is
//! the domain's ([`economic_model`](crate::domain::economic_model)).

pub mod cache;
pub mod client;
pub mod error;
pub mod filter;
mod payment;
pub mod products;
pub mod push;
pub mod rate_limit;
pub mod retry;
mod withdraw;

pub use client::{AgreementApi, ClientConfig, EconomicClient, DEFAULT_BASE_URL};
pub use error::{ApiError, EconomicError, FieldError};
pub use push::{push_invoice, EconomicInvoicing};
pub use retry::RetryPolicy;
