//! DynamoDB state: the shops table (configuration) and the orders table
//! (label, latest snapshot, attempts, lease, invoice numbers, history).
//!
//! Every state change that matters for correctness is a conditional write,
//! so concurrent webhook deliveries, Lambda retries and rescans agree on one
//! outcome per order.

pub mod operator;
pub mod orders;
pub mod provision;
pub mod shops;

pub use orders::{
    HistoryEntry, IngestWrite, Label, OrderRecord, OrderStore, PushResult, RESCAN_INDEX,
    RESCAN_KEY_PENDING,
};
pub use shops::ShopStore;

/// Failure talking to DynamoDB, or a stored item we cannot read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB unreachable, throttled, or erroring: retry later.
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// A stored item does not have the shape we wrote.
    #[error("stored item is corrupt: {field}: {message}")]
    Corrupt {
        field: &'static str,
        message: String,
    },
    /// A conditional write lost against a concurrent writer.
    #[error("conditional write lost against a concurrent change")]
    Conflict,
}

impl StoreError {
    pub(crate) fn sdk<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> Self
    where
        E: std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
    }
}

/// Seconds since the Unix epoch (the unit of every time attribute we
/// compare in conditions).
pub fn epoch_seconds(t: time::OffsetDateTime) -> i64 {
    t.unix_timestamp()
}
