//! The e-conomic side: wire model, HTTP client, errors and retry policy.

pub mod model;
