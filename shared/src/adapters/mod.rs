//! Implementations of the [ports](crate::ports): DynamoDB (order and shop
//! stores, the shops' secrets sealed with KMS), SQS (transfer queue),
//! e-conomic (invoicing), VIES (EU VAT numbers) and in-memory ones
//! that honour the same conditions, for unit tests and benchmarks.

pub mod aws_http;
pub mod dynamodb;
pub mod economic;
pub mod memory;
pub mod notify;
pub mod sealed;
pub mod shop_admin;
pub mod sqs;
pub mod vies;
