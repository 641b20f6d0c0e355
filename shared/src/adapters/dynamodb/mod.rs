//! DynamoDB state: the shops table (configuration) and the orders table
//! (label, latest snapshot, attempts, lease, invoice numbers, history).
//!
//! Every state change that matters for correctness is a conditional write,
//! so concurrent webhook deliveries, Lambda retries and rescans agree on one
//! outcome per order.

mod control;
mod credits;
mod expression;
pub mod item;
mod notifications;
pub mod operator;
pub mod orders;
mod payments;
pub mod provision;
pub mod shops;
pub mod snapshot;

pub use orders::{DynamoOrderStore, RESCAN_INDEX, RESCAN_KEY_PENDING};
pub use shops::DynamoShopStore;

use crate::ports::StoreError;

/// A DynamoDB call that failed for another reason than its condition.
pub(crate) fn unavailable<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
}
