//! WooCommerce refunds → `order.refunded`.
//!
//! WooCommerce's order webhooks carry an order's refunds as
//! `refunds: [{id, reason, total}]` (`total` negative): an amount, without
//! the refund's lines. An amount alone is credited exactly only when the
//! order carries one VAT rate (every line, the shipping and the fees at
//! the same rate): the amount is then that rate's, whatever was returned.
//!
//! On an order with several rates the refund's lines are read from the
//! WooCommerce REST API (`GET /wp-json/wc/v3/orders/{id}/refunds/{refund_id}`,
//! with the REST API key of the shop's `platform.write_back`): transfer
//! fetches them ([`source`] says when) and [`translate_fetched`] credits
//! them part by part. A shop without that key gets a reason naming the
//! setting. The fetched refund's fields, as WooCommerce documents them:
//! `amount` (a positive string, the money returned), `reason`,
//! `line_items[]` (`quantity` negative, `total`/`total_tax` negative
//! strings without/of VAT, `sku`, `product_id`, `variation_id`, and
//! `meta_data` `_refunded_item_id`: the order item it refunds), and
//! `shipping_lines[]`/`fee_lines[]` (`total`, `total_tax`, the same meta).
//!
//! Each refund is stored as its own record, with the order's body as
//! received, under the event `refund:{id}`; transfer translates it.
//!
//! Pure: no I/O, never panics on any input.

use super::woocommerce::{IgnoredOrId, WooOrder};
use super::{checked_sum, clean, deserialize_id, null_as_empty, parse_platform_json, woocommerce};
use crate::domain::json_decimal::{deserialize_decimal, deserialize_optional_decimal};
use crate::domain::order::refund::{validate_refund, Refund, RefundFee, RefundLine};
use crate::domain::order::{ContractError, FeeKind, Order};
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

/// How a listed refund is credited.
#[derive(Debug, Clone, PartialEq)]
pub enum RefundSource {
    /// As listed: an amount, on an order with one VAT rate.
    Listed(Refund),
    /// The order carries several VAT rates and the shop has a REST API key:
    /// the refund's lines are read from the REST API first.
    Fetch { order_id: String, refund_id: String },
}

/// How refund `refund_id` of the order `body` is credited, or why it
/// cannot be (naming the WooCommerce field or the setting to add).
pub fn source(
    body: &[u8],
    refund_id: &str,
    config: &WoocommerceConfig,
) -> Result<RefundSource, ContractError> {
    let (listed, index) = listed_refund(body, refund_id)?;
    let refund = &listed.refunds[index];
    // WooCommerce writes a refund's total negative; either sign is money
    // given back.
    let amount = refund.total.abs();
    if amount.is_zero() {
        return Err(ContractError::new(
            format!("refunds[{index}].total"),
            "is 0: nothing to credit",
        ));
    }
    let translated = translate_order(body, config)?;
    let rates = order_rates(&translated);
    if rates.len() > 1 {
        if config.write_back.is_some() {
            return Ok(RefundSource::Fetch {
                order_id: listed.id,
                refund_id: refund.id.clone(),
            });
        }
        return Err(ContractError::new(
            format!("refunds[{index}]"),
            format!(
                "refund {refund_id} gives back {amount:.2} without its lines, and the order \
                 carries VAT at {}: which rate the money was at is unknown, so it is not \
                 credited; add `platform.write_back` (`store_url`, `consumer_key`, \
                 `consumer_secret`: a WooCommerce REST API key with read access) so the bridge \
                 reads the refund's lines from the WooCommerce REST API, or create the credit \
                 note by hand",
                named_rates(&rates)
            ),
        ));
    }
    let refund = Refund {
        id: refund.id.clone(),
        order_id: listed.id.clone(),
        currency: translated.currency,
        lines: Vec::new(),
        shipping: None,
        fees: Vec::new(),
        amount: Some(amount),
        reason: clean_reason(refund.reason.as_deref()),
        total: amount,
    };
    validate_refund(&refund)?;
    Ok(RefundSource::Listed(refund))
}

/// Refund `refund_id` of the order `body` as listed, or why it cannot be
/// credited without its lines (see [`source`]).
pub fn translate(
    body: &[u8],
    refund_id: &str,
    config: &WoocommerceConfig,
) -> Result<Refund, ContractError> {
    match source(body, refund_id, config)? {
        RefundSource::Listed(refund) => Ok(refund),
        RefundSource::Fetch { .. } => Err(ContractError::new(
            "refunds",
            format!(
                "refund {refund_id} is listed without its lines on an order with several VAT \
                 rates: its lines are read from the WooCommerce REST API"
            ),
        )),
    }
}

/// Refund `refund_id` of the order `body` from the refund the REST API
/// returned (`fetched`): each refunded line on its order line's SKU, the
/// shipping, the fees, every part with its VAT; money beyond the parts is
/// an amount, credited only on an order with one VAT rate. The parts and
/// that amount come to the refund's `amount`, which must be what the order
/// lists for it. An error names the field of the fetched refund.
pub fn translate_fetched(
    body: &[u8],
    refund_id: &str,
    fetched: &[u8],
    config: &WoocommerceConfig,
) -> Result<Refund, ContractError> {
    let (listed, index) = listed_refund(body, refund_id)?;
    let listed_refund = &listed.refunds[index];
    let order = woocommerce::parse(body)?;
    let translated = woocommerce::translate(&order, config)?;
    let rest: RestRefund = parse_platform_json(fetched)?;
    if rest.id != refund_id {
        return Err(ContractError::new(
            "id",
            format!("is {}, not refund {refund_id}", rest.id),
        ));
    }
    let amount = rest.amount.abs();
    let listed_amount = listed_refund.total.abs();
    if amount != listed_amount {
        return Err(ContractError::new(
            "amount",
            format!(
                "{amount} is not the {listed_amount} order {} lists for refund {refund_id}",
                listed.id
            ),
        ));
    }
    let gross = |total: Decimal, tax: Option<Decimal>, at: &str| {
        checked_sum(total, tax.unwrap_or_default(), || format!("{at}.total_tax")).map(|g| g.abs())
    };

    let mut lines = Vec::new();
    for (i, item) in rest.line_items.iter().enumerate() {
        let at = format!("line_items[{i}]");
        let money = gross(item.total, item.total_tax, &at)?;
        let quantity = item.quantity.abs();
        if money.is_zero() && quantity.is_zero() {
            continue;
        }
        let sku = refunded_sku(&order, &translated, item)
            .map_err(|e| ContractError::new(format!("{at}.{}", e.0), e.1))?;
        if quantity.is_zero() {
            return Err(ContractError::new(
                format!("{at}.quantity"),
                format!(
                    "is 0 but the line gives back {money:.2} of SKU `{sku}`: money on a line \
                     without units is not matched to the invoice's lines; create the credit note \
                     by hand"
                ),
            ));
        }
        lines.push(RefundLine {
            sku,
            quantity,
            amount: money,
        });
    }

    let mut shipping: Option<Decimal> = None;
    let mut fees = Vec::new();
    for (i, charge) in rest.shipping_lines.iter().enumerate() {
        let at = format!("shipping_lines[{i}]");
        let money = gross(charge.total, charge.total_tax, &at)?;
        if money.is_zero() {
            continue;
        }
        let position = charge_position(&order.shipping_lines, &charge.meta_data)
            .ok_or_else(|| unmatched(&at, "shipping line", &listed.id))?;
        // The first shipping line is the invoice's shipping, further ones
        // its fees (as the order was translated).
        if position == 0 && translated.shipping.is_some() {
            let sum = checked_sum(shipping.unwrap_or_default(), money, || at.clone())?;
            shipping = Some(sum);
        } else {
            fees.push(RefundFee {
                kind: FeeKind::Other,
                amount: money,
            });
        }
    }
    for (i, charge) in rest.fee_lines.iter().enumerate() {
        let at = format!("fee_lines[{i}]");
        let money = gross(charge.total, charge.total_tax, &at)?;
        if money.is_zero() {
            continue;
        }
        let position = charge_position(&order.fee_lines, &charge.meta_data)
            .ok_or_else(|| unmatched(&at, "fee line", &listed.id))?;
        if order.fee_lines[position].total.is_sign_negative() {
            return Err(ContractError::new(
                at,
                "refunds a negative fee (a discount on the invoice): create the credit note by hand",
            ));
        }
        fees.push(RefundFee {
            kind: FeeKind::Other,
            amount: money,
        });
    }
    if !fees.is_empty() {
        // A refunded fee is credited on the invoice's first fee of its
        // kind with enough left, and every WooCommerce fee is of kind
        // `other`: only one rate among them keeps that exact.
        let fee_rates: BTreeSet<Decimal> = translated
            .fees
            .iter()
            .filter(|f| !f.amount.is_zero())
            .filter_map(|f| f.vat_rate.map(|r| r.normalize()))
            .collect();
        if fee_rates.len() > 1 {
            return Err(ContractError::new(
                "fee_lines",
                format!(
                    "refund {refund_id} gives back a fee, and the order's fees carry VAT at {}: \
                     which of them it credits is not told apart; create the credit note by hand",
                    named_rates(&fee_rates)
                ),
            ));
        }
    }

    let parts = lines
        .iter()
        .map(|l| l.amount)
        .chain(shipping)
        .chain(fees.iter().map(|f| f.amount))
        .try_fold(Decimal::ZERO, |sum, part| sum.checked_add(part))
        .ok_or_else(|| ContractError::new("line_items", "amounts too large to add"))?;
    let beyond = amount - parts;
    if beyond.is_sign_negative() && !beyond.is_zero() {
        return Err(ContractError::new(
            "amount",
            format!(
                "{amount:.2} is less than the refund's lines, shipping and fees come to \
                 ({parts:.2}): which of them was not given back in full is unknown, so refund \
                 {refund_id} is not credited; check it in WooCommerce"
            ),
        ));
    }
    let rates = order_rates(&translated);
    let extra = if beyond.is_zero() {
        None
    } else if rates.len() <= 1 {
        Some(beyond)
    } else {
        let what = if parts.is_zero() {
            format!("refund {refund_id} gives back {amount:.2} with no lines in WooCommerce")
        } else {
            format!(
                "refund {refund_id} gives back {beyond:.2} beyond its lines, shipping and fees \
                 ({parts:.2} of {amount:.2})"
            )
        };
        return Err(ContractError::new(
            "amount",
            format!(
                "{what}, and the order carries VAT at {}: which rate that money was at is \
                 unknown, so it is not credited; create the credit note by hand",
                named_rates(&rates)
            ),
        ));
    };
    let refund = Refund {
        id: rest.id,
        order_id: listed.id.clone(),
        currency: translated.currency,
        lines,
        shipping,
        fees,
        amount: extra,
        reason: clean_reason(rest.reason.as_deref())
            .or_else(|| clean_reason(listed_refund.reason.as_deref())),
        total: amount,
    };
    validate_refund(&refund)?;
    Ok(refund)
}

/// The order as listed and the position of refund `refund_id` in its
/// `refunds`.
fn listed_refund(body: &[u8], refund_id: &str) -> Result<(OrderRefunds, usize), ContractError> {
    let listed: OrderRefunds = parse_platform_json(body)?;
    let index = listed
        .refunds
        .iter()
        .position(|r| r.id == refund_id)
        .ok_or_else(|| ContractError::new("refunds", format!("lists no refund {refund_id}")))?;
    Ok((listed, index))
}

fn translate_order(body: &[u8], config: &WoocommerceConfig) -> Result<Order, ContractError> {
    woocommerce::translate(&woocommerce::parse(body)?, config)
}

/// The VAT rates the order's invoice carries money at.
fn order_rates(order: &Order) -> BTreeSet<Decimal> {
    let mut rates = BTreeSet::new();
    for line in order.lines.iter().filter(|l| !l.unit_price.is_zero()) {
        rates.insert(line.vat_rate.normalize());
    }
    if let Some(shipping) = order.shipping.as_ref().filter(|s| !s.price.is_zero()) {
        rates.extend(shipping.vat_rate.map(|r| r.normalize()));
    }
    for fee in order.fees.iter().filter(|f| !f.amount.is_zero()) {
        rates.extend(fee.vat_rate.map(|r| r.normalize()));
    }
    rates
}

fn named_rates(rates: &BTreeSet<Decimal>) -> String {
    let named: Vec<String> = rates.iter().map(|r| format!("{r} %")).collect();
    named.join(" and ")
}

fn clean_reason(reason: Option<&str>) -> Option<String> {
    reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(|r| r.chars().take(200).collect())
}

// ------------------------------------------------ the REST API's refund

/// `GET /wp-json/wc/v3/orders/{id}/refunds/{refund_id}`: the fields read.
#[derive(Debug, Deserialize)]
struct RestRefund {
    #[serde(deserialize_with = "deserialize_id")]
    id: String,
    #[serde(deserialize_with = "deserialize_decimal")]
    amount: Decimal,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    line_items: Vec<RestRefundItem>,
    #[serde(default, deserialize_with = "null_as_empty")]
    shipping_lines: Vec<RestRefundCharge>,
    #[serde(default, deserialize_with = "null_as_empty")]
    fee_lines: Vec<RestRefundCharge>,
}

#[derive(Debug, Deserialize)]
struct RestRefundItem {
    #[serde(default)]
    product_id: Option<IgnoredOrId>,
    #[serde(default)]
    variation_id: Option<IgnoredOrId>,
    #[serde(deserialize_with = "deserialize_decimal")]
    quantity: Decimal,
    #[serde(deserialize_with = "deserialize_decimal")]
    total: Decimal,
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    total_tax: Option<Decimal>,
    #[serde(default)]
    sku: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    meta_data: Vec<RestMeta>,
}

#[derive(Debug, Deserialize)]
struct RestRefundCharge {
    #[serde(deserialize_with = "deserialize_decimal")]
    total: Decimal,
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    total_tax: Option<Decimal>,
    #[serde(default, deserialize_with = "null_as_empty")]
    meta_data: Vec<RestMeta>,
}

#[derive(Debug, Deserialize)]
struct RestMeta {
    key: String,
    #[serde(default)]
    value: serde_json::Value,
}

/// The refunded item's `_refunded_item_id`: the order item it refunds.
fn refunded_item_id(meta: &[RestMeta]) -> Option<String> {
    let entry = meta.iter().find(|m| m.key == "_refunded_item_id")?;
    match &entry.value {
        serde_json::Value::String(id) => Some(id.trim().to_owned()),
        serde_json::Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
    .filter(|id| !id.is_empty())
}

fn id_is(id: &Option<IgnoredOrId>, wanted: &str) -> bool {
    id.as_ref().is_some_and(|id| id.0 == wanted)
}

/// A real product id (WooCommerce writes 0 for none).
fn product(id: &Option<IgnoredOrId>) -> Option<&str> {
    id.as_ref().map(|id| id.0.as_str()).filter(|id| *id != "0")
}

/// The SKU of the order line a refunded item refunds: by its
/// `_refunded_item_id`, else its product and variation (one order line
/// with them), else its own SKU. `Err((field, why))`.
fn refunded_sku(
    order: &WooOrder,
    translated: &Order,
    item: &RestRefundItem,
) -> Result<String, (&'static str, String)> {
    let position = if let Some(id) = refunded_item_id(&item.meta_data) {
        Some(
            order
                .line_items
                .iter()
                .position(|l| id_is(&l.id, &id))
                .ok_or_else(|| {
                    (
                        "meta_data",
                        format!(
                            "refunds item {id}, which order {} has no line for",
                            order.id
                        ),
                    )
                })?,
        )
    } else if let Some(product_id) = product(&item.product_id) {
        let variation = product(&item.variation_id);
        let same: Vec<usize> = (0..order.line_items.len())
            .filter(|&i| {
                let line = &order.line_items[i];
                product(&line.product_id) == Some(product_id)
                    && product(&line.variation_id) == variation
            })
            .collect();
        match same.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    } else {
        None
    };
    let sku = match position {
        Some(i) => translated.lines.get(i).and_then(|l| l.sku.clone()),
        None => clean(&item.sku),
    };
    sku.ok_or_else(|| {
        (
            "sku",
            format!(
                "is empty, and a refunded line is credited on the order line with its SKU: \
                 give the product a SKU in WooCommerce or create the credit note for order {} by \
                 hand",
                order.id
            ),
        )
    })
}

/// The position of the order's shipping or fee line a refunded one
/// refunds: by its `_refunded_item_id`, else the order's only such line.
fn charge_position(lines: &[woocommerce::ChargeLine], meta: &[RestMeta]) -> Option<usize> {
    match refunded_item_id(meta) {
        Some(id) => lines.iter().position(|l| id_is(&l.id, &id)),
        None if lines.len() == 1 => Some(0),
        None => None,
    }
}

fn unmatched(at: &str, what: &str, order_id: &str) -> ContractError {
    ContractError::new(
        at,
        format!("refunds no {what} of order {order_id} (no `_refunded_item_id` that names one)"),
    )
}
