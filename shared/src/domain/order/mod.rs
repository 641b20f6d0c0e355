//! The order event contract, version 1: what shops send to the webhook.
//!
//! `parse_event` turns a webhook body into an [`OrderEvent`] or a
//! [`ContractError`] naming the offending field by its JSON path
//! (`order.lines[2].unit_price`). It never panics, whatever the bytes.
//!
//! Amounts are decimal strings (`"12.50"`); JSON numbers are accepted and
//! read losslessly. Serialising an [`Order`] writes the same contract JSON
//! back (amounts as strings), so a stored snapshot re-parses to the same
//! order. Unknown fields are ignored.

pub mod iso;
mod model;
mod parse;
pub mod refund;
mod request;
mod validate;

pub use model::*;
pub use parse::{parse_event, parse_order};
pub use request::{request_order_id, OrderRequest};

/// The contract's own checks on an order built in code (a platform order's
/// translation): the same as for a parsed body.
pub fn validate_order(order: &Order) -> Result<(), ContractError> {
    validate::validate(order)
}
