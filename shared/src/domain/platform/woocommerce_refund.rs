//! WooCommerce refunds → `order.refunded`.
//!
//! WooCommerce's order webhooks carry an order's refunds as
//! `refunds: [{id, reason, total}]` (`total` negative): an amount, without
//! the refund's lines. An amount alone is credited exactly only when the
//! order carries one VAT rate (every line, the shipping and the fees at
//! the same rate): the amount is then that rate's, whatever was returned.
//! An order with several rates fails with the reason naming them; the
//! refund's lines are in the WooCommerce REST API
//! (`GET /wp-json/wc/v3/orders/{id}/refunds/{refund_id}`), which is the
//! next step (it needs the shop's REST credentials).
//!
//! Each refund is stored as its own record, with the order's body as
//! received, under the event `refund:{id}`; transfer translates it.
//!
//! Pure: no I/O, never panics on any input.

use super::{deserialize_id, null_as_empty, parse_platform_json, woocommerce};
use crate::domain::json_decimal::deserialize_decimal;
use crate::domain::order::refund::{validate_refund, Refund};
use crate::domain::order::ContractError;
use crate::domain::shop::WoocommerceConfig;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeSet;

/// The stored event of refund `id`: `refund:{id}`.
pub const REFUND_EVENT_PREFIX: &str = "refund:";

#[derive(Debug, Deserialize)]
struct OrderRefunds {
    #[serde(deserialize_with = "deserialize_id")]
    id: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    refunds: Vec<WooRefund>,
}

#[derive(Debug, Deserialize)]
struct WooRefund {
    #[serde(deserialize_with = "deserialize_id")]
    id: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(deserialize_with = "deserialize_decimal")]
    total: Decimal,
}

/// `(order id, refund id)` of every refund the order body lists; empty
/// when it lists none or is not an order.
pub fn refund_ids(body: &[u8]) -> Vec<(String, String)> {
    parse_platform_json::<OrderRefunds>(body)
        .map(|o| {
            o.refunds
                .into_iter()
                .map(|r| (o.id.clone(), r.id))
                .collect()
        })
        .unwrap_or_default()
}

/// Refund `refund_id` of the order `body`, or why it cannot be credited
/// exactly (naming the WooCommerce field).
pub fn translate(
    body: &[u8],
    refund_id: &str,
    config: &WoocommerceConfig,
) -> Result<Refund, ContractError> {
    let listed: OrderRefunds = parse_platform_json(body)?;
    let Some((index, refund)) = listed
        .refunds
        .iter()
        .enumerate()
        .find(|(_, r)| r.id == refund_id)
    else {
        return Err(ContractError::new(
            "refunds",
            format!("lists no refund {refund_id}"),
        ));
    };
    // WooCommerce writes a refund's total negative; either sign is money
    // given back.
    let amount = refund.total.abs();
    if amount.is_zero() {
        return Err(ContractError::new(
            format!("refunds[{index}].total"),
            "is 0: nothing to credit",
        ));
    }
    let order = woocommerce::parse(body)?;
    let translated = woocommerce::translate(&order, config)?;
    let mut rates = BTreeSet::new();
    for line in translated.lines.iter().filter(|l| !l.unit_price.is_zero()) {
        rates.insert(line.vat_rate.normalize());
    }
    if let Some(shipping) = translated.shipping.as_ref().filter(|s| !s.price.is_zero()) {
        rates.extend(shipping.vat_rate.map(|r| r.normalize()));
    }
    for fee in translated.fees.iter().filter(|f| !f.amount.is_zero()) {
        rates.extend(fee.vat_rate.map(|r| r.normalize()));
    }
    if rates.len() > 1 {
        let named: Vec<String> = rates.iter().map(|r| format!("{r} %")).collect();
        return Err(ContractError::new(
            format!("refunds[{index}]"),
            format!(
                "refund {refund_id} gives back {amount:.2} without its lines, and the order \
                 carries VAT at {}: which rate the money was at is unknown, so it is not \
                 credited; create the credit note by hand",
                named.join(" and ")
            ),
        ));
    }
    let refund = Refund {
        id: refund.id.clone(),
        order_id: listed.id,
        currency: translated.currency,
        lines: Vec::new(),
        shipping: None,
        fees: Vec::new(),
        amount: Some(amount),
        reason: refund
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| r.chars().take(200).collect()),
        total: amount,
    };
    validate_refund(&refund)?;
    Ok(refund)
}
