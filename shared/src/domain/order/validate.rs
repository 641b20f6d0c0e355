//! The contract's checks that serde cannot express: required texts,
//! lengths, amounts and their decimals, rates, countries and currencies,
//! each error naming its field by JSON path.

use super::iso;
use super::model::*;
use super::parse::truncate;
use rust_decimal::Decimal;
use std::fmt;

/// `1`, also written `1.0` or `1e0`: JSON Schema (and most encoders) treat
/// them as the same number.
pub(super) fn is_version_one(raw: &str) -> bool {
    let text = raw.trim();
    text == "1"
        || text.parse::<Decimal>().ok() == Some(Decimal::ONE)
        || Decimal::from_scientific(text).ok() == Some(Decimal::ONE)
}

pub(super) fn validate(order: &Order) -> Result<(), ContractError> {
    text(&order.id, "order.id", true)?;
    if order.id.contains(super::refund::REFUND_KEY_SEPARATOR) {
        return Err(ContractError::new(
            "order.id",
            format!(
                "must not contain `{}` (the bridge keys refunds with it)",
                super::refund::REFUND_KEY_SEPARATOR
            ),
        ));
    }
    text(&order.number, "order.number", true)?;
    if !iso::is_currency(&order.currency) {
        return Err(ContractError::new(
            "order.currency",
            format!(
                "`{}` is not an ISO 4217 currency code (expected e.g. \"DKK\", \"EUR\")",
                truncate(&order.currency, 20)
            ),
        ));
    }
    validate_customer(&order.customer)?;
    let buyer_fields = [
        (
            &order.buyer_order_number,
            "order.buyer_order_number",
            MAX_BUYER_ORDER_NUMBER,
        ),
        (
            &order.buyer_reference,
            "order.buyer_reference",
            MAX_BUYER_REFERENCE,
        ),
    ];
    for (value, field, max) in buyer_fields {
        if let Some(value) = value {
            text(value, field, true)?;
            if value.chars().count() > max {
                return Err(ContractError::new(
                    field,
                    format!("longer than {max} characters"),
                ));
            }
        }
    }
    validate_address(&order.billing_address, "order.billing_address")?;
    if let Some(delivery) = &order.delivery_address {
        validate_address(delivery, "order.delivery_address")?;
    }
    text(order.payment_method.as_str(), "order.payment_method", false)?;

    if order.lines.is_empty() {
        return Err(ContractError::new(
            "order.lines",
            "must contain at least one line",
        ));
    }
    if order.lines.len() > MAX_LINES {
        return Err(ContractError::new(
            "order.lines",
            format!(
                "has {} lines; at most {MAX_LINES} are accepted",
                order.lines.len()
            ),
        ));
    }
    for (i, line) in order.lines.iter().enumerate() {
        let at = |leaf| FieldPath::item("order.lines", i, leaf);
        text(&line.name, at("name"), true)?;
        if let Some(sku) = &line.sku {
            text(sku, at("sku"), false)?;
        }
        if let Some(unit) = &line.unit {
            text(unit, at("unit"), false)?;
        }
        if line.quantity <= Decimal::ZERO {
            return Err(ContractError::new(
                at("quantity").to_string(),
                format!("must be greater than 0, got {}", line.quantity),
            ));
        }
        if line.quantity > MAX_QUANTITY {
            return Err(ContractError::new(
                at("quantity").to_string(),
                format!("{} exceeds the limit of {MAX_QUANTITY}", line.quantity),
            ));
        }
        decimals(line.quantity, at("quantity"), MAX_DECIMALS)?;
        amount(line.unit_price, at("unit_price"), MAX_DECIMALS)?;
        rate(line.vat_rate, at("vat_rate"))?;
    }
    if let Some(shipping) = &order.shipping {
        text(&shipping.name, "order.shipping.name", false)?;
        amount(shipping.price, "order.shipping.price", MAX_DECIMALS)?;
        if let Some(r) = shipping.vat_rate {
            rate(r, "order.shipping.vat_rate")?;
        }
    }
    for (i, fee) in order.fees.iter().enumerate() {
        text(&fee.label, FieldPath::item("order.fees", i, "label"), false)?;
        amount(
            fee.amount,
            FieldPath::item("order.fees", i, "amount"),
            MAX_DECIMALS,
        )?;
        if let Some(r) = fee.vat_rate {
            rate(r, FieldPath::item("order.fees", i, "vat_rate"))?;
        }
    }
    for (i, discount) in order.discounts.iter().enumerate() {
        text(
            &discount.label,
            FieldPath::item("order.discounts", i, "label"),
            false,
        )?;
        amount(
            discount.amount,
            FieldPath::item("order.discounts", i, "amount"),
            MAX_DECIMALS,
        )?;
        if let Some(r) = discount.vat_rate {
            rate(r, FieldPath::item("order.discounts", i, "vat_rate"))?;
        }
    }
    amount(order.total, "order.total", MAX_TOTAL_DECIMALS)?;
    Ok(())
}

fn validate_customer(customer: &Customer) -> Result<(), ContractError> {
    text(&customer.name, "order.customer.name", true)?;
    let optional = [
        (&customer.id, "order.customer.id"),
        (&customer.email, "order.customer.email"),
        (&customer.phone, "order.customer.phone"),
        (&customer.company_name, "order.customer.company_name"),
        (&customer.cvr, "order.customer.cvr"),
        (&customer.eu_vat_number, "order.customer.eu_vat_number"),
    ];
    for (value, field) in optional {
        if let Some(value) = value {
            text(value, field, true)?;
        }
    }
    if let Some(ean) = &customer.ean {
        if ean.len() != 13 || !ean.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ContractError::new(
                "order.customer.ean",
                "expected a 13-digit EAN location number",
            ));
        }
    }
    Ok(())
}

fn validate_address(address: &Address, at: &str) -> Result<(), ContractError> {
    if let Some(name) = &address.name {
        text(name, FieldPath::leaf(at, "name"), false)?;
    }
    text(&address.street, FieldPath::leaf(at, "street"), false)?;
    if let Some(street2) = &address.street2 {
        text(street2, FieldPath::leaf(at, "street2"), false)?;
    }
    text(&address.zip, FieldPath::leaf(at, "zip"), false)?;
    text(&address.city, FieldPath::leaf(at, "city"), false)?;
    if iso::country_name(&address.country).is_none() {
        return Err(ContractError::new(
            FieldPath::leaf(at, "country").to_string(),
            format!(
                "`{}` is not an ISO 3166-1 alpha-2 country code (expected e.g. \"DK\", \"SE\")",
                truncate(&address.country, 20)
            ),
        ));
    }
    Ok(())
}

fn text(value: &str, field: impl fmt::Display + Copy, required: bool) -> Result<(), ContractError> {
    if required && value.trim().is_empty() {
        return Err(ContractError::new(field.to_string(), "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT {
        return Err(ContractError::new(
            field.to_string(),
            format!("longer than {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

fn amount(
    value: Decimal,
    field: impl fmt::Display + Copy,
    max_decimals: u32,
) -> Result<(), ContractError> {
    if value.is_sign_negative() && !value.is_zero() {
        return Err(ContractError::new(
            field.to_string(),
            format!("must not be negative, got {value}"),
        ));
    }
    if value > MAX_AMOUNT {
        return Err(ContractError::new(
            field.to_string(),
            format!("{value} exceeds the limit of {MAX_AMOUNT}"),
        ));
    }
    decimals(value, field, max_decimals)
}

fn decimals(
    value: Decimal,
    field: impl fmt::Display + Copy,
    max_decimals: u32,
) -> Result<(), ContractError> {
    if value.normalize().scale() > max_decimals {
        return Err(ContractError::new(
            field.to_string(),
            format!("{value} has more than {max_decimals} decimal places"),
        ));
    }
    Ok(())
}

fn rate(value: Decimal, field: impl fmt::Display + Copy) -> Result<(), ContractError> {
    if value < Decimal::ZERO || value > Decimal::ONE_HUNDRED {
        return Err(ContractError::new(
            field.to_string(),
            format!("VAT rate must be a percentage from 0 to 100, got {value}"),
        ));
    }
    decimals(value, field, 4)
}

/// A field's JSON path, formatted only when an error needs it (validation
/// of a valid order then allocates nothing for field names).
#[derive(Clone, Copy)]
struct FieldPath<'a> {
    parent: &'a str,
    index: Option<usize>,
    leaf: &'a str,
}

impl<'a> FieldPath<'a> {
    fn item(parent: &'a str, index: usize, leaf: &'a str) -> Self {
        FieldPath {
            parent,
            index: Some(index),
            leaf,
        }
    }

    fn leaf(parent: &'a str, leaf: &'a str) -> Self {
        FieldPath {
            parent,
            index: None,
            leaf,
        }
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "{}[{i}].{}", self.parent, self.leaf),
            None => write!(f, "{}.{}", self.parent, self.leaf),
        }
    }
}
