//! Shopify's order webhooks (`orders/create`, `orders/paid`,
//! `orders/fulfilled`): the REST Admin API's Order resource as the body.
//!
//! How the fields become the contract (docs/platforms.md has the table):
//! * `line_items[]`: `sku`, `title` + `variant_title`, `quantity`, `price`
//!   (per unit, with VAT when `taxes_included`), the rate of its one
//!   `tax_lines` entry (a fraction: `0.25` → 25 %; `taxable: false` or no
//!   tax line → 0 %);
//! * `discount_allocations` on lines and shipping lines, summed per
//!   discount application (`discount_code` → discount code named by its
//!   code; `automatic`, `manual`, `script` → promotional) and VAT rate;
//! * the first `shipping_lines[]` entry → shipping, further ones → fees;
//! * `total_price` → total; it must equal what the lines, shipping and
//!   discounts (and, without `taxes_included`, the tax lines) add up to,
//!   or the order carries something not translated (duties, tips) and is
//!   not invoiceable;
//! * the customer, `billing_address` / `shipping_address`, the first
//!   `payment_gateway_names` entry that is not `gift_card` (a gift card is
//!   a way to pay, not a discount: the invoice keeps its full amount), and
//!   the B2B identifiers from note attributes or the company field.
//!
//! Amounts are Shopify's shop-currency fields (`currency`), read digit for
//! digit.

use super::{
    borrowed_decimal, checked_sum, clean, deserialize_id, deserialize_optional_id, find_b2b_ids,
    null_as_empty, parse_platform_json, percent, validate_translated, Platform, TranslateError,
};
use crate::domain::order::{
    Address, ContractError, Customer, Discount, DiscountKind, Fee, FeeKind, Order, OrderLine,
    PaymentMethod, Shipping,
};
use crate::domain::shop::ShopifyConfig;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::borrow::Cow;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// A text field, borrowed from the body unless it has escapes to undo.
/// (A bare `Option<Cow<str>>` field would always copy: serde borrows a
/// `Cow` only where it is the field's own type, as it is here.)
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// The Order resource, the fields the bridge reads (every other field is
/// skipped unread). Texts borrow from the body and amounts are read from
/// their JSON text in place, so parsing an order allocates only for its
/// lists and numeric ids: ingest parses every delivery to answer 400 for a
/// malformed one.
#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyOrder<'a> {
    #[serde(deserialize_with = "deserialize_id")]
    pub id: String,
    #[serde(default, deserialize_with = "deserialize_optional_id")]
    pub order_number: Option<String>,
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
    #[serde(borrow)]
    pub created_at: Text<'a>,
    #[serde(borrow)]
    pub currency: Text<'a>,
    #[serde(default)]
    pub taxes_included: Option<bool>,
    #[serde(deserialize_with = "borrowed_decimal")]
    pub total_price: Decimal,
    #[serde(default, borrow)]
    pub email: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub contact_email: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub phone: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub customer: Option<ShopifyCustomer<'a>>,
    #[serde(default, borrow)]
    pub billing_address: Option<ShopifyAddress<'a>>,
    #[serde(default, borrow)]
    pub shipping_address: Option<ShopifyAddress<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub line_items: Vec<LineItem<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub shipping_lines: Vec<ShippingLine<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub discount_applications: Vec<DiscountApplication<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub note_attributes: Vec<NoteAttribute<'a>>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub payment_gateway_names: Vec<Text<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyCustomer<'a> {
    #[serde(default, deserialize_with = "deserialize_optional_id")]
    pub id: Option<String>,
    #[serde(default, borrow)]
    pub email: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub phone: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub first_name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub last_name: Option<Text<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShopifyAddress<'a> {
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub first_name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub last_name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub company: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub address1: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub address2: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub city: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub zip: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub country_code: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub phone: Option<Text<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LineItem<'a> {
    #[serde(default, borrow)]
    pub title: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub variant_title: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub name: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub sku: Option<Text<'a>>,
    #[serde(deserialize_with = "borrowed_decimal")]
    pub quantity: Decimal,
    #[serde(deserialize_with = "borrowed_decimal")]
    pub price: Decimal,
    #[serde(default)]
    pub taxable: Option<bool>,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub tax_lines: Vec<TaxLine<'a>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub discount_allocations: Vec<DiscountAllocation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaxLine<'a> {
    #[serde(deserialize_with = "borrowed_decimal")]
    pub price: Decimal,
    /// A fraction: `0.25` is 25 %.
    #[serde(deserialize_with = "borrowed_decimal")]
    pub rate: Decimal,
    #[serde(default, borrow)]
    pub title: Option<Text<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscountAllocation {
    #[serde(deserialize_with = "borrowed_decimal")]
    pub amount: Decimal,
    pub discount_application_index: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ShippingLine<'a> {
    #[serde(default, borrow)]
    pub title: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub code: Option<Text<'a>>,
    #[serde(deserialize_with = "borrowed_decimal")]
    pub price: Decimal,
    #[serde(default, borrow, deserialize_with = "null_as_empty")]
    pub tax_lines: Vec<TaxLine<'a>>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub discount_allocations: Vec<DiscountAllocation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscountApplication<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    #[serde(default, borrow)]
    pub code: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub title: Option<Text<'a>>,
    #[serde(default, borrow)]
    pub description: Option<Text<'a>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NoteAttribute<'a> {
    #[serde(borrow)]
    pub name: Text<'a>,
    #[serde(default, borrow)]
    pub value: Option<Text<'a>>,
}

impl ShopifyOrder<'_> {
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// Bytes → Shopify order; an error names the Shopify field (→ 400).
pub fn parse(body: &[u8]) -> Result<ShopifyOrder<'_>, ContractError> {
    parse_platform_json(body)
}

/// Bytes → contract order, both steps.
pub fn translate_body(body: &[u8], config: &ShopifyConfig) -> Result<Order, TranslateError> {
    let order = parse(body).map_err(TranslateError::Malformed)?;
    translate(&order, config).map_err(TranslateError::NotInvoiceable)
}

/// The order the contract would carry for this Shopify order, or why it
/// cannot be invoiced exactly (naming the Shopify field).
pub fn translate(order: &ShopifyOrder<'_>, config: &ShopifyConfig) -> Result<Order, ContractError> {
    let created_at = OffsetDateTime::parse(order.created_at.trim(), &Rfc3339)
        .map_err(|_| ContractError::new("created_at", "is not an RFC 3339 time with an offset"))?;
    let prices_include_vat = order.taxes_included.unwrap_or(false);

    if order.line_items.is_empty() {
        return Err(ContractError::new(
            "line_items",
            "the order has no line items to invoice",
        ));
    }
    let mut discounts = DiscountSums::default();
    let mut lines = Vec::with_capacity(order.line_items.len());
    // What Shopify's own arithmetic says the customer pays.
    let mut expected = Decimal::ZERO;
    for (i, item) in order.line_items.iter().enumerate() {
        let at = |leaf: &str| format!("line_items[{i}].{leaf}");
        let title = clean(&item.title)
            .or_else(|| clean(&item.name))
            .ok_or_else(|| {
                ContractError::new(at("title"), "is empty; an invoice line needs a text")
            })?;
        let name = match clean(&item.variant_title) {
            Some(variant) => format!("{title} - {variant}"),
            None => title,
        };
        if item.quantity <= Decimal::ZERO || !item.quantity.fract().is_zero() {
            return Err(ContractError::new(
                at("quantity"),
                format!("must be a whole number above 0, got {}", item.quantity),
            ));
        }
        let rate = line_rate(item.taxable, &item.tax_lines, || at("tax_lines"))?;
        let gross_line = item
            .price
            .checked_mul(item.quantity)
            .ok_or_else(|| ContractError::new(at("price"), "price × quantity is too large"))?;
        expected = checked_sum(expected, gross_line, || at("price"))?;
        if !prices_include_vat {
            for tax in &item.tax_lines {
                expected = checked_sum(expected, tax.price, || at("tax_lines"))?;
            }
        }
        for (j, allocation) in item.discount_allocations.iter().enumerate() {
            let field = || format!("line_items[{i}].discount_allocations[{j}]");
            discounts.add(order, allocation, rate, &field)?;
            expected = checked_sum(expected, -allocation.amount, field)?;
        }
        lines.push(OrderLine {
            sku: clean(&item.sku),
            name,
            quantity: item.quantity,
            unit_price: item.price,
            vat_rate: rate,
            unit: None,
            // Food and other goods VOEC excludes: `voec.excluded_skus` in
            // the mapping (the platforms carry no such flag).
            voec_excluded: false,
        });
    }

    let mut shipping = None;
    let mut fees = Vec::new();
    for (i, line) in order.shipping_lines.iter().enumerate() {
        let at = |leaf: &str| format!("shipping_lines[{i}].{leaf}");
        let rate = line_rate(None, &line.tax_lines, || at("tax_lines"))?;
        expected = checked_sum(expected, line.price, || at("price"))?;
        if !prices_include_vat {
            for tax in &line.tax_lines {
                expected = checked_sum(expected, tax.price, || at("tax_lines"))?;
            }
        }
        for (j, allocation) in line.discount_allocations.iter().enumerate() {
            let field = || format!("shipping_lines[{i}].discount_allocations[{j}]");
            discounts.add(order, allocation, rate, &field)?;
            expected = checked_sum(expected, -allocation.amount, field)?;
        }
        let name = clean(&line.title)
            .or_else(|| clean(&line.code))
            .unwrap_or_else(|| "Shipping".to_owned());
        if shipping.is_none() {
            shipping = Some(Shipping {
                name,
                price: line.price,
                vat_rate: Some(rate),
            });
        } else {
            fees.push(Fee {
                kind: FeeKind::Other,
                label: name,
                amount: line.price,
                vat_rate: Some(rate),
            });
        }
    }

    if expected != order.total_price {
        return Err(ContractError::new(
            "total_price",
            format!(
                "{} is not what the line items, shipping lines and discounts{} add up to ({expected}): \
                 the order carries an amount the bridge does not translate (duties, tips or \
                 additional fees), so no invoice could match it",
                order.total_price,
                if prices_include_vat { "" } else { " and their tax lines" },
            ),
        ));
    }

    let billing = order
        .billing_address
        .as_ref()
        .or(order.shipping_address.as_ref())
        .ok_or_else(|| {
            ContractError::new(
                "billing_address",
                "missing (and no shipping_address either): the invoice needs the customer's address",
            )
        })?;
    let billing_field = if order.billing_address.is_some() {
        "billing_address"
    } else {
        "shipping_address"
    };
    let billing_address = address(billing, billing_field)?;
    let delivery_address = match &order.shipping_address {
        Some(shipping) if order.billing_address.is_some() => {
            Some(address(shipping, "shipping_address")?)
        }
        _ => None,
    };

    let company = clean(&billing.company).or_else(|| {
        order
            .shipping_address
            .as_ref()
            .and_then(|a| clean(&a.company))
    });
    let pairs: Vec<(&str, &str)> = order
        .note_attributes
        .iter()
        .map(|a| (a.name.as_ref(), a.value.as_deref().unwrap_or("")))
        .collect();
    let ids = find_b2b_ids(&config.b2b, &pairs, "note_attributes", company.as_deref())?;

    let customer_record = order.customer.as_ref();
    let customer_name = customer_record
        .map(|c| full_name(&c.first_name, &c.last_name))
        .filter(|n| !n.is_empty())
        .or_else(|| address_name(billing))
        .or_else(|| company.clone())
        .or_else(|| clean(&order.email))
        .ok_or_else(|| {
            ContractError::new(
                "customer",
                "has no name, and neither has the billing address: the invoice needs one",
            )
        })?;
    let customer = Customer {
        id: customer_record.and_then(|c| c.id.clone()),
        name: customer_name,
        email: clean(&order.email)
            .or_else(|| clean(&order.contact_email))
            .or_else(|| customer_record.and_then(|c| clean(&c.email))),
        phone: customer_record
            .and_then(|c| clean(&c.phone))
            .or_else(|| clean(&order.phone))
            .or_else(|| clean(&billing.phone)),
        company_name: company,
        cvr: ids.cvr,
        ean: ids.ean,
        eu_vat_number: ids.eu_vat_number,
        logged_in: customer_record.is_some_and(|c| c.id.is_some()),
    };

    let gateway = order
        .payment_gateway_names
        .iter()
        .map(|g| g.trim())
        .find(|g| !g.is_empty() && !g.eq_ignore_ascii_case("gift_card"))
        .or_else(|| {
            order
                .payment_gateway_names
                .iter()
                .map(|g| g.trim())
                .find(|g| !g.is_empty())
        });

    let number = order
        .order_number
        .clone()
        .or_else(|| clean(&order.name).map(|n| n.trim_start_matches('#').to_owned()))
        .unwrap_or_else(|| order.id.clone());

    let translated = Order {
        id: order.id.clone(),
        number,
        created_at,
        currency: order.currency.trim().to_ascii_uppercase(),
        prices_include_vat,
        customer,
        billing_address,
        delivery_address,
        payment_method: gateway
            .map(|g| PaymentMethod(g.to_owned()))
            .unwrap_or_default(),
        lines,
        shipping,
        fees,
        discounts: discounts.into_discounts(),
        total: order.total_price,
        buyer_order_number: ids.buyer_order_number,
        buyer_reference: ids.buyer_reference,
    };
    validate_translated(translated, Platform::Shopify)
}

/// The VAT rate (percent) of a line: its one positive tax rate, 0 when it
/// is not taxable or carries none. Two taxes on one line (a US state and a
/// county tax) cannot be booked as one Danish VAT rate.
fn line_rate(
    taxable: Option<bool>,
    tax_lines: &[TaxLine<'_>],
    field: impl Fn() -> String,
) -> Result<Decimal, ContractError> {
    if taxable == Some(false) {
        return Ok(Decimal::ZERO);
    }
    let mut rate: Option<Decimal> = None;
    for tax in tax_lines {
        if tax.rate.is_sign_negative() && !tax.rate.is_zero() {
            return Err(ContractError::new(
                field(),
                format!("negative rate {}", tax.rate),
            ));
        }
        if tax.rate.is_zero() {
            continue;
        }
        match rate {
            Some(existing) if existing != tax.rate => {
                return Err(ContractError::new(
                    field(),
                    format!(
                        "two taxes on one line ({} and {}): e-conomic books one VAT rate per line",
                        existing, tax.rate
                    ),
                ))
            }
            Some(_) => {
                return Err(ContractError::new(
                    field(),
                    "the same tax twice on one line: e-conomic books one VAT rate per line",
                ))
            }
            None => rate = Some(tax.rate),
        }
    }
    match rate {
        None => Ok(Decimal::ZERO),
        Some(fraction) => percent(fraction)
            .filter(|p| *p <= Decimal::ONE_HUNDRED)
            .ok_or_else(|| {
                ContractError::new(field(), format!("rate {fraction} is not a fraction of 1"))
            }),
    }
}

/// Discounts summed per (kind, label, rate), in the order first seen.
#[derive(Default)]
struct DiscountSums {
    groups: Vec<Discount>,
}

impl DiscountSums {
    fn add(
        &mut self,
        order: &ShopifyOrder<'_>,
        allocation: &DiscountAllocation,
        rate: Decimal,
        field: &dyn Fn() -> String,
    ) -> Result<(), ContractError> {
        if allocation.amount.is_sign_negative() && !allocation.amount.is_zero() {
            return Err(ContractError::new(
                format!("{}.amount", field()),
                format!("must not be negative, got {}", allocation.amount),
            ));
        }
        if allocation.amount.is_zero() {
            return Ok(());
        }
        let application = order
            .discount_applications
            .get(allocation.discount_application_index)
            .ok_or_else(|| {
                ContractError::new(
                    format!("{}.discount_application_index", field()),
                    format!(
                        "{} does not point into discount_applications ({} entries)",
                        allocation.discount_application_index,
                        order.discount_applications.len()
                    ),
                )
            })?;
        let (kind, label) = match application.kind.as_ref() {
            "discount_code" => (
                DiscountKind::DiscountCode,
                clean(&application.code).or_else(|| clean(&application.title)),
            ),
            _ => (
                DiscountKind::Promotional,
                clean(&application.title).or_else(|| clean(&application.description)),
            ),
        };
        let label = label.unwrap_or_default();
        match self
            .groups
            .iter_mut()
            .find(|d| d.kind == kind && d.label == label && d.vat_rate == Some(rate))
        {
            Some(group) => {
                group.amount = checked_sum(group.amount, allocation.amount, field)?;
            }
            None => self.groups.push(Discount {
                kind,
                label,
                amount: allocation.amount,
                points: None,
                vat_rate: Some(rate),
            }),
        }
        Ok(())
    }

    fn into_discounts(self) -> Vec<Discount> {
        self.groups
    }
}

fn full_name(first: &Option<Text<'_>>, last: &Option<Text<'_>>) -> String {
    [clean(first), clean(last)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ")
}

fn address_name(address: &ShopifyAddress<'_>) -> Option<String> {
    clean(&address.name).or_else(|| {
        Some(full_name(&address.first_name, &address.last_name)).filter(|n| !n.is_empty())
    })
}

fn address(address: &ShopifyAddress<'_>, field: &str) -> Result<Address, ContractError> {
    let country = clean(&address.country_code).ok_or_else(|| {
        ContractError::new(
            format!("{field}.country_code"),
            "missing: the VAT treatment depends on the country",
        )
    })?;
    Ok(Address {
        name: address_name(address),
        street: clean(&address.address1).unwrap_or_default(),
        street2: clean(&address.address2),
        zip: clean(&address.zip).unwrap_or_default(),
        city: clean(&address.city).unwrap_or_default(),
        country: country.to_ascii_uppercase(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shop::{shopify_topics, B2bFields};

    fn config() -> ShopifyConfig {
        ShopifyConfig {
            shop_domain: "butik.myshopify.com".into(),
            secrets: vec![],
            topics: shopify_topics(),
            b2b: B2bFields::shopify_defaults(),
            write_back: None,
        }
    }

    const BODY: &str = r#"{"id": 7, "created_at": "2026-11-27T09:12:44+01:00",
        "currency": "dkk", "taxes_included": true, "total_price": "1\u0030.50",
        "billing_address": {"name": "Mette", "country_code": "DK"},
        "line_items": [{"title": "Gr\u00e5 sok", "sku": "S-1", "quantity": 1,
            "price": 10.50, "tax_lines": [{"price": "2.10", "rate": 0.25}]}]}"#;

    #[test]
    fn texts_borrow_from_the_body_unless_escaped() {
        let order = parse(BODY.as_bytes()).unwrap();
        // Ingest parses every delivery: plain texts must not be copied.
        assert!(matches!(order.currency.0, Cow::Borrowed("dkk")));
        let sku = order.line_items[0].sku.as_ref().unwrap();
        assert!(matches!(sku.0, Cow::Borrowed("S-1")));
        // An escape is undone in a copy.
        let title = order.line_items[0].title.as_ref().unwrap();
        assert!(matches!(&title.0, Cow::Owned(t) if t == "Grå sok"));
    }

    #[test]
    fn amounts_are_read_digit_for_digit_from_strings_numbers_and_escapes() {
        let order = translate_body(BODY.as_bytes(), &config()).unwrap();
        // "1\u0030.50" is the string "10.50".
        assert_eq!(order.total.to_string(), "10.50");
        assert_eq!(order.lines[0].unit_price.to_string(), "10.50");
        assert_eq!(order.lines[0].vat_rate.to_string(), "25");
        assert_eq!(order.lines[0].name, "Grå sok");
        assert_eq!(order.currency, "DKK");
    }

    #[test]
    fn a_text_of_another_type_names_its_field() {
        let body = BODY.replace(r#""sku": "S-1""#, r#""sku": 5"#);
        let err = parse(body.as_bytes()).unwrap_err();
        assert_eq!(err.field, "line_items[0].sku");
        assert_eq!(err.message, "invalid type: integer `5`, expected a string");
    }
}
