//! Shopify's `refunds/create` webhook (the REST Admin API's Refund
//! resource) → `order.refunded`.
//!
//! * `refund_line_items[]`: `line_item.sku`, `quantity`, and the money
//!   for them, `subtotal` + `total_tax`;
//! * shipping: `refund_shipping_lines[]` (`subtotal_amount_set` +
//!   `tax_amount_set`, shop money) where present, else `order_adjustments`
//!   of kind `shipping_refund` (`amount` + `tax_amount`, negative);
//! * `order_adjustments` of kind `refund_discrepancy` with a negative
//!   amount: money given back beyond the items (an amount-only refund);
//! * `transactions[]` of kind `refund` that succeeded: the money actually
//!   returned, which becomes the refund's `total`, and their `currency`.
//!
//! Whether `subtotal` includes the tax in a shop whose prices include tax
//! is not documented (Shopify documents it as "the subtotal of the refund
//! line item"). So every refund is checked against the money its
//! transactions returned: the parts read as subtotal + tax (the documented
//! reading) must come to it, or, failing that, the parts read as subtotal
//! alone (tax included); if neither does, the refund is not credited and
//! fails with both sums named, rather than booking a wrong VAT. The VAT of
//! the credit note itself is split from the invoice's lines, as for every
//! refund.
//!
//! Pure: no I/O, never panics on any input.

use super::{borrowed_decimal, deserialize_id, null_as_empty, parse_platform_json};
use crate::domain::order::refund::{validate_refund, Refund, RefundLine};
use crate::domain::order::ContractError;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The Shopify topic of a refund.
pub const REFUNDS_CREATE: &str = "refunds/create";

/// The Refund resource, the fields the bridge reads.
#[derive(Debug, Deserialize)]
pub struct ShopifyRefund<'a> {
    #[serde(deserialize_with = "deserialize_id")]
    pub id: String,
    #[serde(deserialize_with = "deserialize_id")]
    pub order_id: String,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty", borrow)]
    refund_line_items: Vec<RefundLineItem<'a>>,
    #[serde(default, deserialize_with = "null_as_empty", borrow)]
    order_adjustments: Vec<OrderAdjustment<'a>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    refund_shipping_lines: Vec<RefundShippingLine>,
    #[serde(default, deserialize_with = "null_as_empty", borrow)]
    transactions: Vec<Transaction<'a>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    duties: Vec<serde::de::IgnoredAny>,
}

#[derive(Debug, Deserialize)]
struct RefundLineItem<'a> {
    #[serde(deserialize_with = "borrowed_decimal")]
    quantity: Decimal,
    #[serde(deserialize_with = "borrowed_decimal")]
    subtotal: Decimal,
    #[serde(deserialize_with = "borrowed_decimal")]
    total_tax: Decimal,
    #[serde(borrow)]
    line_item: LineItemRef<'a>,
}

#[derive(Debug, Deserialize)]
struct LineItemRef<'a> {
    #[serde(default, borrow)]
    sku: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Debug, Deserialize)]
struct OrderAdjustment<'a> {
    #[serde(deserialize_with = "borrowed_decimal")]
    amount: Decimal,
    #[serde(deserialize_with = "borrowed_decimal")]
    tax_amount: Decimal,
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
}

#[derive(Debug, Deserialize)]
struct RefundShippingLine {
    subtotal_amount_set: MoneySet,
    tax_amount_set: MoneySet,
}

#[derive(Debug, Deserialize)]
struct MoneySet {
    shop_money: Money,
}

#[derive(Debug, Deserialize)]
struct Money {
    #[serde(deserialize_with = "crate::domain::json_decimal::deserialize_decimal")]
    amount: Decimal,
}

#[derive(Debug, Deserialize)]
struct Transaction<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    status: Option<std::borrow::Cow<'a, str>>,
    #[serde(deserialize_with = "borrowed_decimal")]
    amount: Decimal,
    #[serde(borrow)]
    currency: std::borrow::Cow<'a, str>,
}

/// Parses the body; a body that is not a Shopify refund is malformed.
pub fn parse(body: &[u8]) -> Result<ShopifyRefund<'_>, ContractError> {
    parse_platform_json(body)
}

impl ShopifyRefund<'_> {
    /// The money the refund's successful `refund` transactions returned.
    pub fn money_returned(&self) -> Decimal {
        self.refund_transactions().map(|(_, t)| t.amount).sum()
    }

    /// The successful `refund` transactions, with their index in
    /// `transactions`.
    fn refund_transactions(&self) -> impl Iterator<Item = (usize, &Transaction<'_>)> {
        self.transactions.iter().enumerate().filter(|(_, t)| {
            t.kind.trim().eq_ignore_ascii_case("refund")
                && t.status
                    .as_deref()
                    .is_none_or(|s| s.trim().eq_ignore_ascii_case("success"))
        })
    }
}

/// One reading of the refund's amounts: VAT included, per part.
struct Reading {
    lines: Vec<Decimal>,
    shipping: Decimal,
}

/// The refund as `order.refunded`; an error names the Shopify field (the
/// refund is then not credited, with the reason).
pub fn translate(refund: &ShopifyRefund<'_>) -> Result<Refund, ContractError> {
    let not_credited = |field: String, why: String| Err(ContractError::new(field, why));
    if !refund.duties.is_empty() {
        return not_credited(
            "duties".into(),
            "refunds duties, which are not on the bridge's invoice: credit it by hand".into(),
        );
    }
    let mut currency: Option<String> = None;
    for (i, t) in refund.refund_transactions() {
        let code = t.currency.trim().to_ascii_uppercase();
        match &currency {
            Some(c) if *c != code => {
                return not_credited(
                    format!("transactions[{i}].currency"),
                    format!("is {code} while another refund transaction is in {c}"),
                )
            }
            _ => currency = Some(code),
        }
    }
    let returned = refund.money_returned();
    let Some(currency) = currency.filter(|_| returned > Decimal::ZERO) else {
        return not_credited(
            "transactions".into(),
            "no successful refund transaction returned money: nothing to credit".into(),
        );
    };

    let mut lines = Vec::new();
    let (mut with_tax, mut without_tax) = (
        Reading {
            lines: Vec::new(),
            shipping: Decimal::ZERO,
        },
        Reading {
            lines: Vec::new(),
            shipping: Decimal::ZERO,
        },
    );
    for (i, item) in refund.refund_line_items.iter().enumerate() {
        let Some(sku) = item
            .line_item
            .sku
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            return not_credited(
                format!("refund_line_items[{i}].line_item.sku"),
                "is empty: the bridge finds the invoiced line by its SKU; credit this refund \
                 by hand"
                    .into(),
            );
        };
        if item.quantity <= Decimal::ZERO {
            // A line refunded with no units (a restock correction) gives
            // nothing back.
            continue;
        }
        with_tax.lines.push(item.subtotal + item.total_tax);
        without_tax.lines.push(item.subtotal);
        lines.push((sku.to_owned(), item.quantity));
    }
    let mut goodwill = Decimal::ZERO;
    let shipping_from_lines = !refund.refund_shipping_lines.is_empty();
    for line in &refund.refund_shipping_lines {
        let (subtotal, tax) = (
            line.subtotal_amount_set.shop_money.amount,
            line.tax_amount_set.shop_money.amount,
        );
        with_tax.shipping += subtotal + tax;
        without_tax.shipping += subtotal;
    }
    for (i, adjustment) in refund.order_adjustments.iter().enumerate() {
        // Adjustments are recorded against the order: money given back is
        // negative.
        let (amount, tax) = (-adjustment.amount, -adjustment.tax_amount);
        match adjustment.kind.trim() {
            "shipping_refund" if shipping_from_lines => {}
            "shipping_refund" => {
                with_tax.shipping += amount + tax;
                without_tax.shipping += amount;
            }
            "refund_discrepancy" if amount + tax >= Decimal::ZERO => goodwill += amount + tax,
            "refund_discrepancy" => {
                return not_credited(
                    format!("order_adjustments[{i}].amount"),
                    format!(
                        "the shop refunded {:.2} less than the refunded items are worth: which \
                         item's VAT that belongs to is unknown; credit this refund by hand",
                        -(amount + tax)
                    ),
                )
            }
            other => {
                return not_credited(
                    format!("order_adjustments[{i}].kind"),
                    format!("`{other}` is not an adjustment the bridge can credit"),
                )
            }
        }
    }
    let total_of = |r: &Reading| r.lines.iter().sum::<Decimal>() + r.shipping + goodwill;
    let reading = if total_of(&with_tax) == returned {
        with_tax
    } else if total_of(&without_tax) == returned {
        without_tax
    } else {
        return not_credited(
            "transactions".into(),
            format!(
                "returned {returned:.2} {currency}, but the refunded items, shipping and \
                 adjustments come to {:.2} (subtotal + tax) or {:.2} (subtotal alone): not credited, \
                 so that no wrong VAT is booked; credit this refund by hand",
                total_of(&with_tax),
                total_of(&without_tax)
            ),
        );
    };
    let translated = Refund {
        id: refund.id.clone(),
        order_id: refund.order_id.clone(),
        currency,
        lines: lines
            .into_iter()
            .zip(reading.lines)
            .map(|((sku, quantity), amount)| RefundLine {
                sku,
                quantity,
                amount,
            })
            .collect(),
        shipping: (!reading.shipping.is_zero()).then_some(reading.shipping),
        fees: Vec::new(),
        amount: (!goodwill.is_zero()).then_some(goodwill),
        reason: refund
            .note
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| n.chars().take(200).collect()),
        total: returned,
    };
    validate_refund(&translated)?;
    Ok(translated)
}
