//! `order.refunded`: money a shop gave back on an order it sent before.
//!
//! ```json
//! {"type": "order.refunded",
//!  "refund": {"id": "r-1", "order_id": "5001", "currency": "DKK",
//!             "lines": [{"sku": "MUG-1", "quantity": "1", "amount": "125.00"}],
//!             "shipping": "49.00", "fees": [{"kind": "payment_fee", "amount": "5.00"}],
//!             "amount": "20.00", "reason": "damaged in transit", "total": "199.00"}}
//! ```
//!
//! Every amount is what the customer gets back, VAT included, at most two
//! decimals; `total` is their sum to the øre. A refund is stored as its own
//! record, keyed [`refund_record_id`], beside its order's.

use super::iso;
use super::model::{ContractError, FeeKind, MAX_AMOUNT, MAX_DECIMALS, MAX_QUANTITY, MAX_TEXT};
use crate::domain::json_decimal::{deserialize_decimal, deserialize_optional_decimal};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The event type of a refund.
pub const REFUND_EVENT_TYPE: &str = "order.refunded";
/// Separates the order id from the refund id in a refund record's key.
/// Order ids may not contain it; refund ids may not contain `#`.
pub const REFUND_KEY_SEPARATOR: &str = "#refund#";
/// Longest refund id.
pub const MAX_REFUND_ID: usize = 100;
/// Most refunded lines in one refund.
pub const MAX_REFUND_LINES: usize = 1000;

/// One refund of one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refund {
    /// The shop's refund id, unique per order (no `#`).
    pub id: String,
    /// The shop's id of the refunded order (`order.id` of its order events).
    pub order_id: String,
    /// ISO 4217; must be the order's currency.
    pub currency: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<RefundLine>,
    /// Shipping given back, VAT included.
    #[serde(
        default,
        deserialize_with = "deserialize_optional_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub shipping: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fees: Vec<RefundFee>,
    /// An amount not tied to a line (goodwill), VAT included.
    #[serde(
        default,
        deserialize_with = "deserialize_optional_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount: Option<Decimal>,
    /// Why, for the credit note's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the customer gets back: the sum of the above.
    #[serde(deserialize_with = "deserialize_decimal")]
    pub total: Decimal,
}

/// Units of one order line given back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundLine {
    /// The order line's SKU.
    pub sku: String,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub quantity: Decimal,
    /// Given back for these units, VAT included.
    #[serde(deserialize_with = "deserialize_decimal")]
    pub amount: Decimal,
}

/// A fee given back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundFee {
    pub kind: FeeKind,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub amount: Decimal,
}

impl Refund {
    /// The key of the refund's own record in the orders store.
    pub fn record_id(&self) -> String {
        refund_record_id(&self.order_id, &self.id)
    }

    /// The sum of the refund's parts.
    pub fn parts_total(&self) -> Decimal {
        self.lines.iter().map(|l| l.amount).sum::<Decimal>()
            + self.shipping.unwrap_or_default()
            + self.fees.iter().map(|f| f.amount).sum::<Decimal>()
            + self.amount.unwrap_or_default()
    }
}

/// `{order_id}#refund#{refund_id}`: a refund's record key.
pub fn refund_record_id(order_id: &str, refund_id: &str) -> String {
    format!("{order_id}{REFUND_KEY_SEPARATOR}{refund_id}")
}

/// `(order id, refund id)` of a refund record's key; `None` for an order's.
pub fn split_refund_record_id(record_id: &str) -> Option<(&str, &str)> {
    record_id
        .rsplit_once(REFUND_KEY_SEPARATOR)
        .filter(|(order, refund)| !order.is_empty() && !refund.is_empty())
}

/// Parses and validates the `refund` member. Errors name `refund.…`.
pub fn parse_refund(json: &str) -> Result<Refund, ContractError> {
    let refund: Refund = super::parse::deserialize_member(json, "refund")?;
    validate_refund(&refund)?;
    Ok(refund)
}

/// The contract's checks on a refund.
pub fn validate_refund(refund: &Refund) -> Result<(), ContractError> {
    let err = |field: String, message: String| Err(ContractError::new(field, message));
    if refund.id.trim().is_empty() {
        return err("refund.id".into(), "must not be empty".into());
    }
    if refund.id.chars().count() > MAX_REFUND_ID || refund.id.contains('#') {
        return err(
            "refund.id".into(),
            format!("must be at most {MAX_REFUND_ID} characters without `#`"),
        );
    }
    if refund.order_id.trim().is_empty() {
        return err("refund.order_id".into(), "must not be empty".into());
    }
    if refund.order_id.chars().count() > MAX_TEXT || refund.order_id.contains(REFUND_KEY_SEPARATOR)
    {
        return err(
            "refund.order_id".into(),
            format!("must be at most {MAX_TEXT} characters without `{REFUND_KEY_SEPARATOR}`"),
        );
    }
    if !iso::is_currency(&refund.currency) {
        return err(
            "refund.currency".into(),
            "not an ISO 4217 currency code (expected e.g. \"DKK\")".into(),
        );
    }
    if refund.lines.len() > MAX_REFUND_LINES {
        return err(
            "refund.lines".into(),
            format!("more than {MAX_REFUND_LINES} lines"),
        );
    }
    if refund
        .reason
        .as_deref()
        .is_some_and(|r| r.chars().count() > MAX_TEXT)
    {
        return err(
            "refund.reason".into(),
            format!("longer than {MAX_TEXT} characters"),
        );
    }
    for (i, line) in refund.lines.iter().enumerate() {
        if line.sku.trim().is_empty() || line.sku.chars().count() > MAX_TEXT {
            return err(
                format!("refund.lines[{i}].sku"),
                "must be the refunded order line's SKU".into(),
            );
        }
        if line.quantity <= Decimal::ZERO || line.quantity > MAX_QUANTITY {
            return err(
                format!("refund.lines[{i}].quantity"),
                format!("must be above 0 and at most {MAX_QUANTITY}"),
            );
        }
        if line.quantity.normalize().scale() > MAX_DECIMALS {
            return err(
                format!("refund.lines[{i}].quantity"),
                format!("more than {MAX_DECIMALS} decimal places"),
            );
        }
        money(line.amount, &format!("refund.lines[{i}].amount"))?;
    }
    if let Some(shipping) = refund.shipping {
        money(shipping, "refund.shipping")?;
    }
    for (i, fee) in refund.fees.iter().enumerate() {
        money(fee.amount, &format!("refund.fees[{i}].amount"))?;
    }
    if let Some(amount) = refund.amount {
        money(amount, "refund.amount")?;
    }
    money(refund.total, "refund.total")?;
    if refund.total.is_zero() {
        return err("refund.total".into(), "must be above 0".into());
    }
    let parts = refund.parts_total();
    if parts != refund.total {
        return err(
            "refund.total".into(),
            format!(
                "{} is not the sum of the refund's lines, shipping, fees and amount ({parts})",
                refund.total
            ),
        );
    }
    Ok(())
}

/// A refunded amount: not negative, at most 2 decimals, within the limit.
fn money(value: Decimal, field: &str) -> Result<(), ContractError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(ContractError::new(
            field,
            format!("must not be negative, got {value}"),
        ));
    }
    if value > MAX_AMOUNT {
        return Err(ContractError::new(
            field,
            format!("{value} exceeds the limit of {MAX_AMOUNT}"),
        ));
    }
    if value.normalize().scale() > 2 {
        return Err(ContractError::new(
            field,
            format!("{value} has more than 2 decimal places"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::order::{parse_event, ParsedEvent};

    fn body(refund: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"type": "order.refunded", "refund": refund}))
            .unwrap()
    }

    fn valid() -> serde_json::Value {
        serde_json::json!({
            "id": "r-1", "order_id": "5001", "currency": "DKK",
            "lines": [{"sku": "MUG-1", "quantity": 1, "amount": "125.00"}],
            "shipping": "49.00", "fees": [{"kind": "payment_fee", "amount": "5"}],
            "amount": "20.00", "total": "199.00"
        })
    }

    fn error_of(refund: serde_json::Value) -> ContractError {
        parse_event(&body(refund)).expect_err("refused")
    }

    #[test]
    fn a_valid_refund_parses_with_its_record_key() {
        let Ok(ParsedEvent::Refund(refund)) = parse_event(&body(valid())) else {
            panic!("not a refund");
        };
        assert_eq!(refund.total, Decimal::new(19900, 2));
        assert_eq!(refund.record_id(), "5001#refund#r-1");
        assert_eq!(
            split_refund_record_id(&refund.record_id()),
            Some(("5001", "r-1"))
        );
        assert_eq!(split_refund_record_id("5001"), None);
        // The stored form parses back to the same refund.
        let stored = serde_json::to_string(&refund).unwrap();
        assert_eq!(parse_refund(&stored).unwrap(), refund);
    }

    #[test]
    fn refused_refunds_name_their_field() {
        let mut v = valid();
        v["total"] = "199.01".into();
        assert_eq!(error_of(v).field, "refund.total");
        let mut v = valid();
        v["id"] = "a#b".into();
        assert_eq!(error_of(v).field, "refund.id");
        let mut v = valid();
        v["lines"][0]["quantity"] = 0.into();
        assert_eq!(error_of(v).field, "refund.lines[0].quantity");
        let mut v = valid();
        v["shipping"] = "-1".into();
        assert_eq!(error_of(v).field, "refund.shipping");
        let mut v = valid();
        v["amount"] = "0.001".into();
        assert_eq!(error_of(v).field, "refund.amount");
        let mut v = valid();
        v["currency"] = "dkk".into();
        assert_eq!(error_of(v).field, "refund.currency");
        let mut v = valid();
        v["order_id"] = "1#refund#2".into();
        assert_eq!(error_of(v).field, "refund.order_id");
        let mut v = valid();
        v.as_object_mut().unwrap().remove("total");
        assert_eq!(error_of(v).field, "refund.total");
        let no_refund = serde_json::to_vec(&serde_json::json!({"type": "order.refunded"})).unwrap();
        assert_eq!(parse_event(&no_refund).unwrap_err().field, "refund");
        let zero = serde_json::json!({"id": "r", "order_id": "1", "currency": "DKK", "total": "0"});
        assert_eq!(error_of(zero).field, "refund.total");
    }
}
