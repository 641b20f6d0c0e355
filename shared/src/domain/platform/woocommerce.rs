//! WooCommerce's order webhooks (`order.created`, `order.updated`): the
//! REST API v3 order as the body; the order's `status` says its stage.
//!
//! WooCommerce keeps line amounts without VAT (`subtotal` before coupons,
//! `total` after, each with its `_tax`), whatever `prices_include_tax`
//! says. The translation keeps the shop's own view:
//! * `prices_include_tax: true` → prices with VAT: a line's unit price is
//!   (`subtotal` + `subtotal_tax`) / `quantity`, its discount
//!   (`subtotal` + `subtotal_tax`) − (`total` + `total_tax`);
//! * otherwise without VAT: `subtotal` / `quantity` and
//!   `subtotal` − `total`.
//!
//! A line's VAT rate is the `rate_percent` of the order's `tax_lines`
//! entry its `taxes` point to (before WooCommerce 3.7: the rate the
//! amounts show, confirmed on every line to the cent). Line discounts are summed per rate and
//! named by the order's `coupon_lines` codes. The first `shipping_lines`
//! entry is the shipping, further ones and `fee_lines` are fees; a
//! negative fee (how WooCommerce shops give ad-hoc discounts) is a
//! promotional discount. `total` must equal the sum of every line's
//! `total` + `total_tax`, and a unit price that does not divide exactly
//! (more than 6 decimals) is not invoiceable.

use super::{
    checked_sum, clean, deserialize_id, find_b2b_ids, null_as_empty, parse_platform_json,
    validate_translated, Platform, TranslateError,
};
use crate::domain::json_decimal::{deserialize_decimal, deserialize_optional_decimal};
use crate::domain::order::{
    Address, ContractError, Customer, Discount, DiscountKind, Fee, FeeKind, Order, OrderLine,
    PaymentMethod, Shipping, MAX_DECIMALS,
};
use crate::domain::shop::WoocommerceConfig;
use rust_decimal::Decimal;
use serde::de::IgnoredAny;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The v3 order, the fields the bridge reads.
#[derive(Debug, Clone, Deserialize)]
pub struct WooOrder {
    #[serde(deserialize_with = "deserialize_id")]
    pub id: String,
    #[serde(default)]
    pub number: Option<String>,
    pub status: String,
    pub currency: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub date_created_gmt: Option<String>,
    #[serde(default)]
    pub date_created: Option<String>,
    #[serde(default)]
    pub prices_include_tax: bool,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub total: Decimal,
    #[serde(default)]
    pub customer_id: Option<IgnoredOrId>,
    #[serde(default)]
    pub billing: Option<WooAddress>,
    #[serde(default)]
    pub shipping: Option<WooAddress>,
    #[serde(default)]
    pub payment_method: Option<String>,
    #[serde(default)]
    pub payment_method_title: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub meta_data: Vec<MetaData>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub line_items: Vec<LineItem>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub tax_lines: Vec<TaxLine>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub shipping_lines: Vec<ChargeLine>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub fee_lines: Vec<ChargeLine>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub coupon_lines: Vec<CouponLine>,
}

/// An id the platform writes as an integer or a string (`customer_id`: 0
/// for guests), kept as its digits.
#[derive(Debug, Clone, Deserialize)]
#[serde(transparent)]
pub struct IgnoredOrId(#[serde(deserialize_with = "deserialize_id")] pub String);

#[derive(Debug, Clone, Deserialize)]
pub struct WooAddress {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub address_1: Option<String>,
    #[serde(default)]
    pub address_2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub postcode: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MetaData {
    pub key: String,
    /// Plugins store strings mostly; anything else is not an identifier.
    #[serde(default)]
    pub value: Option<MetaValue>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum MetaValue {
    Text(String),
    Other(IgnoredAny),
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineItem {
    /// The item's id in the order (a refund's `_refunded_item_id`).
    #[serde(default)]
    pub id: Option<IgnoredOrId>,
    #[serde(default)]
    pub product_id: Option<IgnoredOrId>,
    #[serde(default)]
    pub variation_id: Option<IgnoredOrId>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub quantity: Decimal,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub subtotal: Decimal,
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    pub subtotal_tax: Option<Decimal>,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub total: Decimal,
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    pub total_tax: Option<Decimal>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub taxes: Vec<LineTax>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineTax {
    #[serde(deserialize_with = "deserialize_id")]
    pub id: String,
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    pub total: Option<Decimal>,
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    pub subtotal: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaxLine {
    #[serde(deserialize_with = "deserialize_id")]
    pub rate_id: String,
    #[serde(default)]
    pub label: Option<String>,
    /// Sent since WooCommerce 3.7.
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    pub rate_percent: Option<Decimal>,
}

/// A shipping or fee line.
#[derive(Debug, Clone, Deserialize)]
pub struct ChargeLine {
    /// The item's id in the order (a refund's `_refunded_item_id`).
    #[serde(default)]
    pub id: Option<IgnoredOrId>,
    #[serde(default)]
    pub method_title: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub total: Decimal,
    #[serde(default, deserialize_with = "deserialize_optional_decimal")]
    pub total_tax: Option<Decimal>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub taxes: Vec<LineTax>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CouponLine {
    #[serde(default)]
    pub code: Option<String>,
}

impl WooOrder {
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Bytes → WooCommerce order; an error names the field (→ 400).
pub fn parse(body: &[u8]) -> Result<WooOrder, ContractError> {
    parse_platform_json(body)
}

/// WooCommerce's creation ping: a form-encoded `webhook_id=<n>` body.
pub fn is_ping(body: &[u8]) -> bool {
    body.strip_prefix(b"webhook_id=").is_some_and(|rest| {
        let rest = rest.strip_suffix(b"\n").unwrap_or(rest);
        !rest.is_empty() && rest.len() <= 20 && rest.iter().all(u8::is_ascii_digit)
    })
}

/// Bytes → contract order, both steps.
pub fn translate_body(body: &[u8], config: &WoocommerceConfig) -> Result<Order, TranslateError> {
    let order = parse(body).map_err(TranslateError::Malformed)?;
    translate(&order, config).map_err(TranslateError::NotInvoiceable)
}

/// The order the contract would carry for this WooCommerce order, or why
/// it cannot be invoiced exactly (naming the WooCommerce field).
pub fn translate(order: &WooOrder, config: &WoocommerceConfig) -> Result<Order, ContractError> {
    let created_at = created_at(order)?;
    let rates = tax_rates(order)?;
    let with_vat = order.prices_include_tax;
    if order.line_items.is_empty() {
        return Err(ContractError::new(
            "line_items",
            "the order has no line items to invoice",
        ));
    }
    let coupon_label = order
        .coupon_lines
        .iter()
        .filter_map(|c| clean(&c.code))
        .collect::<Vec<_>>()
        .join(", ");
    let discount_kind = if order.coupon_lines.is_empty() {
        DiscountKind::Promotional
    } else {
        DiscountKind::DiscountCode
    };

    let mut discounts: Vec<Discount> = Vec::new();
    let mut add_discount = |kind: DiscountKind,
                            label: &str,
                            amount: Decimal,
                            rate: Decimal|
     -> Result<(), ContractError> {
        if amount.is_zero() {
            return Ok(());
        }
        match discounts
            .iter_mut()
            .find(|d| d.kind == kind && d.label == label && d.vat_rate == Some(rate))
        {
            Some(d) => d.amount = checked_sum(d.amount, amount, || "line_items".to_owned())?,
            None => discounts.push(Discount {
                kind,
                label: label.to_owned(),
                amount,
                points: None,
                vat_rate: Some(rate),
            }),
        }
        Ok(())
    };

    let mut paid = Decimal::ZERO;
    let mut lines = Vec::with_capacity(order.line_items.len());
    for (i, item) in order.line_items.iter().enumerate() {
        let at = |leaf: &str| format!("line_items[{i}].{leaf}");
        let name = clean(&item.name).ok_or_else(|| {
            ContractError::new(at("name"), "is empty; an invoice line needs a text")
        })?;
        if item.quantity <= Decimal::ZERO {
            return Err(ContractError::new(
                at("quantity"),
                format!("must be above 0, got {}", item.quantity),
            ));
        }
        let rate = rate_of(&rates, &item.taxes, || at("taxes"))?;
        let subtotal_tax = item.subtotal_tax.unwrap_or_default();
        let total_tax = item.total_tax.unwrap_or_default();
        let (before, after) = if with_vat {
            (
                checked_sum(item.subtotal, subtotal_tax, || at("subtotal_tax"))?,
                checked_sum(item.total, total_tax, || at("total_tax"))?,
            )
        } else {
            (item.subtotal, item.total)
        };
        let unit_price = exact_unit_price(before, item.quantity).ok_or_else(|| {
            ContractError::new(
                at("subtotal"),
                format!(
                    "{before} for {} units is not a unit price with at most {MAX_DECIMALS} decimals",
                    item.quantity
                ),
            )
        })?;
        let discount = before
            .checked_sub(after)
            .ok_or_else(|| ContractError::new(at("total"), "amounts too large to subtract"))?;
        if discount.is_sign_negative() && !discount.is_zero() {
            return Err(ContractError::new(
                at("total"),
                format!("{after} is more than the line's subtotal {before}"),
            ));
        }
        add_discount(discount_kind, &coupon_label, discount, rate)?;
        paid = checked_sum(paid, item.total, || at("total"))?;
        paid = checked_sum(paid, total_tax, || at("total_tax"))?;
        lines.push(OrderLine {
            sku: clean(&item.sku),
            name,
            quantity: item.quantity,
            unit_price,
            vat_rate: rate,
            unit: None,
            // Food and other goods VOEC excludes: `voec.excluded_skus` in
            // the mapping (the platforms carry no such flag).
            voec_excluded: false,
        });
    }

    let mut shipping = None;
    let mut fees = Vec::new();
    let charges = order
        .shipping_lines
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("shipping_lines[{i}]"), l, true))
        .chain(
            order
                .fee_lines
                .iter()
                .enumerate()
                .map(|(i, l)| (format!("fee_lines[{i}]"), l, false)),
        );
    for (at, line, is_shipping) in charges {
        let rate = rate_of(&rates, &line.taxes, || format!("{at}.taxes"))?;
        let tax = line.total_tax.unwrap_or_default();
        paid = checked_sum(paid, line.total, || format!("{at}.total"))?;
        paid = checked_sum(paid, tax, || format!("{at}.total_tax"))?;
        let amount = if with_vat {
            checked_sum(line.total, tax, || format!("{at}.total_tax"))?
        } else {
            line.total
        };
        let label = clean(&line.method_title)
            .or_else(|| clean(&line.name))
            .unwrap_or_else(|| if is_shipping { "Shipping" } else { "Fee" }.to_owned());
        if amount.is_sign_negative() && !amount.is_zero() {
            if is_shipping {
                return Err(ContractError::new(
                    format!("{at}.total"),
                    "a negative shipping charge cannot be invoiced",
                ));
            }
            add_discount(DiscountKind::Promotional, &label, -amount, rate)?;
        } else if is_shipping && shipping.is_none() {
            shipping = Some(Shipping {
                name: label,
                price: amount,
                vat_rate: Some(rate),
            });
        } else {
            fees.push(Fee {
                kind: FeeKind::Other,
                label,
                amount,
                vat_rate: Some(rate),
            });
        }
    }

    if paid != order.total {
        return Err(ContractError::new(
            "total",
            format!(
                "{} is not what the line, shipping and fee totals with their taxes add up to ({paid})",
                order.total
            ),
        ));
    }

    let billing = order.billing.as_ref().ok_or_else(|| {
        ContractError::new(
            "billing",
            "missing: the invoice needs the customer's address",
        )
    })?;
    let billing_address = address(billing, "billing")?;
    let delivery_address = match &order.shipping {
        Some(shipping) if clean(&shipping.address_1).is_some() => {
            Some(address(shipping, "shipping")?)
        }
        _ => None,
    };
    let company = clean(&billing.company);
    let pairs: Vec<(&str, &str)> = order
        .meta_data
        .iter()
        .filter_map(|m| match &m.value {
            Some(MetaValue::Text(text)) => Some((m.key.as_str(), text.as_str())),
            _ => None,
        })
        .collect();
    let ids = find_b2b_ids(&config.b2b, &pairs, "meta_data", company.as_deref())?;
    let name = full_name(billing)
        .or_else(|| company.clone())
        .or_else(|| clean(&billing.email))
        .ok_or_else(|| ContractError::new("billing.first_name", "the customer has no name"))?;
    let customer_id = order
        .customer_id
        .as_ref()
        .map(|c| c.0.clone())
        .filter(|id| id != "0");
    let customer = Customer {
        logged_in: customer_id.is_some(),
        id: customer_id,
        name,
        email: clean(&billing.email),
        phone: clean(&billing.phone),
        company_name: company,
        cvr: ids.cvr,
        ean: ids.ean,
        eu_vat_number: ids.eu_vat_number,
    };

    let translated = Order {
        id: order.id.clone(),
        number: clean(&order.number).unwrap_or_else(|| order.id.clone()),
        created_at,
        currency: order.currency.trim().to_ascii_uppercase(),
        prices_include_vat: with_vat,
        customer,
        billing_address,
        delivery_address,
        payment_method: clean(&order.payment_method)
            .or_else(|| clean(&order.payment_method_title))
            .map(PaymentMethod)
            .unwrap_or_default(),
        lines,
        shipping,
        fees,
        discounts,
        total: order.total,
        buyer_order_number: ids.buyer_order_number,
        buyer_reference: ids.buyer_reference,
    };
    validate_translated(translated, Platform::Woocommerce)
}

/// `date_created_gmt` (UTC without an offset, as WooCommerce writes it),
/// else `date_created` if it carries an offset.
fn created_at(order: &WooOrder) -> Result<OffsetDateTime, ContractError> {
    let local = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    if let Some(gmt) = clean(&order.date_created_gmt) {
        return PrimitiveDateTime::parse(&gmt, local)
            .map(PrimitiveDateTime::assume_utc)
            .or_else(|_| OffsetDateTime::parse(&gmt, &Rfc3339))
            .map_err(|_| {
                ContractError::new("date_created_gmt", "is not a time like 2026-11-27T09:12:44")
            });
    }
    if let Some(local_time) = clean(&order.date_created) {
        if let Ok(at) = OffsetDateTime::parse(&local_time, &Rfc3339) {
            return Ok(at);
        }
    }
    Err(ContractError::new(
        "date_created_gmt",
        "missing: the invoice date needs the order's creation time",
    ))
}

/// Each tax rate's percentage: `rate_percent` (WooCommerce 3.7 and later),
/// or, for older stores, the rate the order's own amounts show: the
/// rate's tax over the amounts it was charged on, to 2 decimals of a
/// percent, accepted only if every line's tax is that rate of its amount
/// to the cent.
fn tax_rates(order: &WooOrder) -> Result<Vec<(String, Decimal)>, ContractError> {
    let mut rates = Vec::with_capacity(order.tax_lines.len());
    for (i, tax_line) in order.tax_lines.iter().enumerate() {
        if let Some(rate) = tax_line.rate_percent {
            if rate.is_sign_negative() || rate > Decimal::ONE_HUNDRED {
                return Err(ContractError::new(
                    format!("tax_lines[{i}].rate_percent"),
                    format!("{rate} is not a percentage"),
                ));
            }
            rates.push((tax_line.rate_id.clone(), rate.normalize()));
            continue;
        }
        // (taxed amount, its tax) for every line this rate was charged on.
        let mut charged: Vec<(Decimal, Decimal)> = Vec::new();
        for item in &order.line_items {
            for tax in item
                .taxes
                .iter()
                .filter(|t| t.rate_id_is(&tax_line.rate_id))
            {
                charged.push((
                    item.subtotal,
                    tax.subtotal.or(tax.total).unwrap_or_default(),
                ));
            }
        }
        for line in order.shipping_lines.iter().chain(&order.fee_lines) {
            for tax in line
                .taxes
                .iter()
                .filter(|t| t.rate_id_is(&tax_line.rate_id))
            {
                charged.push((line.total, tax.total.unwrap_or_default()));
            }
        }
        let unreadable = || {
            ContractError::new(
                format!("tax_lines[{i}]"),
                format!(
                    "rate {} has no rate_percent (WooCommerce before 3.7) and its amounts do not \
                     show one rate exactly",
                    tax_line.label.as_deref().unwrap_or(&tax_line.rate_id)
                ),
            )
        };
        let sum = |pick: fn(&(Decimal, Decimal)) -> Decimal| {
            charged
                .iter()
                .try_fold(Decimal::ZERO, |total, c| total.checked_add(pick(c)))
        };
        let (Some(base), Some(tax)) = (sum(|c| c.0), sum(|c| c.1)) else {
            return Err(unreadable());
        };
        let rate = tax
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|t| t.checked_div(base))
            .map(|r| r.round_dp(2).normalize())
            .filter(|r| !r.is_sign_negative() && *r <= Decimal::ONE_HUNDRED)
            .ok_or_else(unreadable)?;
        let cent = Decimal::new(1, 2);
        let confirmed = charged.iter().all(|(amount, tax)| {
            amount
                .checked_mul(rate)
                .and_then(|a| a.checked_div(Decimal::ONE_HUNDRED))
                .map(|a| {
                    a.round_dp_with_strategy(
                        2,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    )
                })
                .and_then(|computed| computed.checked_sub(*tax))
                .is_some_and(|difference| difference.abs() <= cent)
        });
        if !confirmed {
            return Err(unreadable());
        }
        rates.push((tax_line.rate_id.clone(), rate));
    }
    Ok(rates)
}

impl LineTax {
    fn rate_id_is(&self, rate_id: &str) -> bool {
        self.id == rate_id
    }
}

/// The VAT rate (percent) of a line: the one tax that carries an amount
/// (or the one listed at all), 0 when none.
fn rate_of(
    rates: &[(String, Decimal)],
    taxes: &[LineTax],
    field: impl Fn() -> String,
) -> Result<Decimal, ContractError> {
    let charged: Vec<&LineTax> = taxes
        .iter()
        .filter(|t| {
            !t.total.unwrap_or_default().is_zero() || !t.subtotal.unwrap_or_default().is_zero()
        })
        .collect();
    let chosen = match (charged.as_slice(), taxes) {
        ([], [only]) => only,
        ([], _) => return Ok(Decimal::ZERO),
        ([one], _) => *one,
        _ => {
            return Err(ContractError::new(
                field(),
                "more than one tax on one line: e-conomic books one VAT rate per line",
            ))
        }
    };
    rates
        .iter()
        .find(|(id, _)| *id == chosen.id)
        .map(|(_, rate)| *rate)
        .ok_or_else(|| {
            ContractError::new(
                field(),
                format!("tax rate {} is not among the order's tax_lines", chosen.id),
            )
        })
}

/// `amount / quantity` when it has at most [`MAX_DECIMALS`] decimals and
/// multiplies back to `amount` exactly.
fn exact_unit_price(amount: Decimal, quantity: Decimal) -> Option<Decimal> {
    let unit = amount.checked_div(quantity)?.normalize();
    (unit.scale() <= MAX_DECIMALS && unit.checked_mul(quantity)? == amount).then_some(unit)
}

fn full_name(address: &WooAddress) -> Option<String> {
    let name = [clean(&address.first_name), clean(&address.last_name)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    (!name.is_empty()).then_some(name)
}

fn address(address: &WooAddress, field: &str) -> Result<Address, ContractError> {
    let country = clean(&address.country).ok_or_else(|| {
        ContractError::new(
            format!("{field}.country"),
            "missing: the VAT treatment depends on the country",
        )
    })?;
    Ok(Address {
        name: full_name(address),
        street: clean(&address.address_1).unwrap_or_default(),
        street2: clean(&address.address_2),
        zip: clean(&address.postcode).unwrap_or_default(),
        city: clean(&address.city).unwrap_or_default(),
        country: country.to_ascii_uppercase(),
    })
}
