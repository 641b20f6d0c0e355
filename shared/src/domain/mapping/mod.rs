//! Order → e-conomic invoice mapping. Pure: no I/O, no clock.
//!
//! [`map_order`] turns a validated [`Order`] and the shop's
//! [`MappingConfig`] into an [`InvoicePlan`]: the debtor to use or create,
//! the draft invoice body, and the totals e-conomic will compute for it —
//! whose gross equals the order's total to the øre.

mod config;
pub mod credit_note;
mod debtor;
mod lines;
pub mod payment;
pub mod vat_rates;
mod vat_rounding;

pub use config::{
    DebtorConfig, DebtorFallback, DebtorStrategy, DebtorUpdate, EanConfig, ForeignVatConfig,
    GenericProducts, GiftCardVat, InvoiceDate, MappingConfig, MissingProducts, OssConfig,
    OssCountry, PaymentSetup, ProductConfig, RoundingConfig, VatZones, ViesConfig, VoecConfig,
};
pub use debtor::{phone_customer_number, update_debtor_document, UPDATABLE_DEBTOR_FIELDS};
pub use lines::LineOrigin;
pub use vat_rounding::{fit_lines, totals_lines, FitError, FittedLines, VatFreeRounding};

use crate::domain::economic_model::{
    CustomerRef, Delivery, DraftDocument, DraftInvoice, LayoutRef, NewCustomer, Notes,
    PaymentTermsRef, Recipient, References, VatZoneRef,
};
use crate::domain::order::{iso, Address, EventType, Order, MAX_BUYER_ORDER_NUMBER};
use crate::domain::vat::{self, VatDecision, VatRules, VatSetupError, VatTreatment};
use crate::domain::vat_number::{VatNumber, VatNumberCheck};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Longest `references.other` e-conomic stores.
pub const MAX_REFERENCE_LEN: usize = 250;
/// Longest product number e-conomic accepts.
pub const MAX_PRODUCT_NUMBER_LEN: usize = 25;
/// Largest e-conomic customer number.
pub const MAX_CUSTOMER_NUMBER: u32 = 999_999_999;

/// Everything the e-conomic step needs to invoice one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoicePlan {
    /// `references.other` of the draft: unique per shop order, used to find
    /// the draft again after a lost response. At most 250 characters.
    pub reference: String,
    pub debtor: DebtorPlan,
    /// The POST /invoices/drafts body. `customer.customerNumber` is the
    /// target number for `Existing`/`FindOrCreate`, and 0 for `Running`
    /// (the e-conomic step fills in the number it found or created).
    pub draft: DraftInvoice,
    /// Book the draft after creating it.
    pub book: bool,
    /// Draft invoice or order draft (`mapping.document`).
    #[serde(default, skip_serializing_if = "DraftDocument::is_default")]
    pub document: DraftDocument,
    pub vat_decision: VatDecision,
    /// What e-conomic will compute for the draft (see `money::draft_totals`).
    pub expected_net_total: Decimal,
    pub expected_vat_total: Decimal,
    /// Always equal to the order's `total`.
    pub expected_gross_total: Decimal,
    /// The VAT rate (percent) the plan assumes e-conomic applies to each
    /// draft line, index for index: the zone's rate, or 0 for zero-rated
    /// order lines, VAT-free gift cards and a VAT-free rounding product,
    /// or the shop's rate on a line `vat_rates` maps to a product.
    /// e-conomic's product/account setup must match (see docs/shop-configuration.md).
    pub line_vat_rates: Vec<Decimal>,
    /// Draft lines whose product is an order line's SKU, which need not
    /// exist in e-conomic, and what to do when it does not (the e-conomic
    /// step checks; the domain does no I/O).
    #[serde(default)]
    pub sku_products: Vec<SkuProduct>,
    #[serde(default)]
    pub missing_products: MissingProducts,
    /// Product group for `missing_products: create`.
    #[serde(default)]
    pub product_group: Option<u32>,
    /// The rounding product when it is VAT-free: carries an øre no
    /// VAT-bearing line can when e-conomic rounds VAT per invoice.
    #[serde(default)]
    pub vat_free_rounding: Option<VatFreeRounding>,
    /// `rounding.correction_tolerance`.
    #[serde(default = "default_correction_tolerance")]
    pub correction_tolerance: Decimal,
    /// `debtor.update`; applies to `FindOrCreate` and `Running` debtors.
    #[serde(default)]
    pub debtor_update: DebtorUpdate,
    /// Where the order contradicts the VAT rules and the bridge kept the
    /// customer's figures: for the order's history (also on the invoice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Book with `sendBy: "EAN"` (e-conomic's NemHandel delivery): the
    /// recipient has an EAN and `ean.send_by_ean` is on. Only used with `book`.
    #[serde(default)]
    pub send_by_ean: bool,
    /// Where each draft line comes from in the order, index for index
    /// (empty in plans that are not an order's invoice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub line_origins: Vec<LineOrigin>,
}

fn default_correction_tolerance() -> Decimal {
    RoundingConfig::default().correction_tolerance
}

/// One draft line whose product is taken from the order line's SKU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuProduct {
    /// Index into `draft.lines`.
    pub line_index: usize,
    /// The product number the line names (the SKU).
    pub product_number: String,
    /// The order line's name: the new product's name under `create`.
    pub name: String,
    /// The generic product of the line's VAT treatment, and the line text
    /// to use with it (name and SKU), under `fallback`.
    pub fallback_product: String,
    pub fallback_description: String,
}

/// Which e-conomic customer the invoice goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DebtorPlan {
    /// A fixed number: must already exist in e-conomic; never created.
    Existing { customer_number: u32 },
    /// Use this number (from the phone number or the shop's customer id);
    /// create the customer with these fields if it does not exist.
    FindOrCreate {
        customer_number: u32,
        new_customer: NewCustomer,
    },
    /// e-conomic assigns the next number; reuse a debtor with the same email
    /// (lower-cased) if one exists.
    Running {
        lookup_email: Option<String>,
        new_customer: NewCustomer,
    },
}

impl DebtorPlan {
    /// The customer number when the plan already knows it.
    pub fn known_customer_number(&self) -> Option<u32> {
        match self {
            DebtorPlan::Existing { customer_number }
            | DebtorPlan::FindOrCreate {
                customer_number, ..
            } => Some(*customer_number),
            DebtorPlan::Running { .. } => None,
        }
    }
}

/// Why an order cannot be mapped. The message tells the merchant what to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error(
        "VAT zone for OSS country {country} is not configured: add `oss.countries.{country}` \
         (e.g. {{\"vat_zone\": 10, \"rate\": \"25\"}}) to the shop's mapping configuration, \
         or set `oss.enabled` to false if the shop is below the EUR 10,000 OSS threshold"
    )]
    OssCountryNotConfigured { country: String },
    #[error(
        "VOEC is enabled but no VAT zone is configured for it: set `voec.vat_zone` \
         to the e-conomic VAT zone for Norwegian VOEC sales"
    )]
    VoecZoneNotConfigured,
    #[error(
        "VOEC's item limit is not configured in {currency}: add `voec.item_value_below.{currency}` \
         (NOK 3,000 converted at the rate mval.-forskriften § 1-3-8 prescribes), or invoice \
         Norwegian consumers in NOK"
    )]
    VoecLimitNotConfigured { currency: String },
    #[error(
        "the low-value limit for {country} is not configured in {currency}: add \
         `foreign_vat.{country}.consignment_at_most.{currency}`"
    )]
    ForeignVatLimitNotConfigured { country: String, currency: String },
    #[error(
        "order total {order_total:.2} does not match its own lines: lines + shipping + fees − \
         discounts come to {computed_total:.2} with {vat_note}, a difference of {difference:.2} \
         (more than the {tolerance:.2} the bridge accepts as rounding: {allowance}); check the \
         order's prices, VAT rates and total in the shop, or set `rounding.total_step` if the \
         shop rounds its totals"
    )]
    TotalMismatch {
        order_total: Decimal,
        computed_total: Decimal,
        difference: Decimal,
        tolerance: Decimal,
        allowance: String,
        vat_note: String,
    },
    #[error(
        "invoice reference `{reference}` is {length} characters; e-conomic allows at most 250: \
         shorten `reference_format`"
    )]
    ReferenceTooLong { reference: String, length: usize },
    #[error("mapping configuration `{field}` is invalid: {message}")]
    InvalidConfig { field: String, message: String },
    #[error(
        "the rounding line cannot close a difference of {gap} at {rate} % VAT: set \
         `rounding.vat_free` to true (a rounding product on a VAT-free account)"
    )]
    RoundingUnreachable { gap: Decimal, rate: Decimal },
    #[error(
        "the customer has EAN {ean} (a public-sector invoice) but the order has neither \
         `buyer_reference` nor `buyer_order_number`, and `ean.require_buyer_reference` is on: \
         ask the buyer for their person reference or order number and send the order again"
    )]
    BuyerReferenceMissing { ean: String },
    #[error(
        "`{line}` is taxed at {rate} % but this invoice charges {country} VAT at {zone_rate} % \
         (VAT zone {vat_zone}) and `vat_rates.{country}` has no product for {rate} %: add \
         `vat_rates.{country}.\"{rate}\"` = {{\"product\": \"…\"}} (a product whose group's sales \
         account in VAT zone {vat_zone} has a VAT code at {rate} %), or correct the line's VAT \
         rate in the shop"
    )]
    VatRateNotConfigured {
        country: String,
        rate: Decimal,
        zone_rate: Decimal,
        vat_zone: u32,
        line: String,
    },
    #[error("amount overflow while mapping the order ({context})")]
    Overflow { context: String },
    #[error(
        "internal error: the planned invoice totals {planned} but the order total is {order_total}"
    )]
    TotalsNotReconciled {
        planned: Decimal,
        order_total: Decimal,
    },
}

impl From<VatSetupError> for MappingError {
    fn from(error: VatSetupError) -> Self {
        match error {
            VatSetupError::OssCountryNotConfigured { country } => {
                MappingError::OssCountryNotConfigured { country }
            }
            VatSetupError::VoecZoneNotConfigured => MappingError::VoecZoneNotConfigured,
            VatSetupError::VoecLimitNotConfigured { currency } => {
                MappingError::VoecLimitNotConfigured { currency }
            }
            VatSetupError::ForeignVatLimitNotConfigured { country, currency } => {
                MappingError::ForeignVatLimitNotConfigured { country, currency }
            }
        }
    }
}

/// What the application knows about an order beyond its snapshot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MappingInputs {
    /// What VIES said about the customer's EU VAT number (asked through
    /// the `VatRegistry` port).
    pub vat_number_check: VatNumberCheck,
    /// The triggering event and the day it arrived, in the order's time
    /// zone (`None`: unknown; the invoice is dated by `created_at`).
    pub trigger: Option<(EventType, time::Date)>,
}

/// Maps one order to an invoice plan. Pure and deterministic. The EU VAT
/// number, if any, counts as not checked in VIES, and the invoice is dated
/// by `created_at` (see [`map_order_with`]).
pub fn map_order(order: &Order, config: &MappingConfig) -> Result<InvoicePlan, MappingError> {
    map_order_with(order, config, MappingInputs::default())
}

/// [`map_order`] with what the application knows beyond the snapshot.
pub fn map_order_with(
    order: &Order,
    config: &MappingConfig,
    inputs: MappingInputs,
) -> Result<InvoicePlan, MappingError> {
    let vat_number_check = inputs.vat_number_check;
    config.check()?;
    let vat_decision = vat::decide_treatment(
        order,
        VatRules {
            home_country: &config.home_country,
            home_vat_rate: config.home_vat_rate,
            vat_zones: &config.vat_zones,
            oss: &config.oss,
            voec: &config.voec,
            foreign_vat: &config.foreign_vat,
            vat_number_check,
        },
    )?;
    let payment = payment_setup(order, config);
    let reference = format_reference(&config.reference_format, order)?;
    let debtor = debtor::plan(order, config, &vat_decision, payment)?;

    // VOEC is decided per item (toll.no): the lines it does not cover are
    // zero-rated exports on the same invoice.
    let under_voec_rules = config.voec.enabled
        && vat_decision.country == "NO"
        && !order.is_business()
        && matches!(
            vat_decision.treatment,
            VatTreatment::Voec | VatTreatment::Export
        );
    let line_exports = if under_voec_rules {
        vat::voec_line_exports(order, &config.voec)?
    } else {
        Vec::new()
    };
    let planned = lines::plan_lines(
        order,
        config,
        &vat_decision,
        &line_exports,
        under_voec_rules && vat_decision.treatment == VatTreatment::Export,
    )?;

    // The invoice is dated by the event that made it due (a payment, a
    // shipment), not by the order's creation: an order paid in the next
    // month belongs in the next VAT period (ML § 23: VAT is due on
    // delivery; the invoice's date is that of its issue, MBK § 58).
    let date = match (config.invoice_date, inputs.trigger) {
        (InvoiceDate::Trigger, Some((_, date))) => date,
        _ => order.created_at.date(),
    };
    // A shipment is the delivery: its date goes on the invoice (VAT
    // Directive art. 226(7); MBK § 58, stk. 1).
    let delivery_date = match inputs.trigger {
        Some((EventType::OrderShipped, date)) => Some(iso_date(date)),
        _ => None,
    };
    let due_date = match payment.due_days {
        Some(days) => Some(
            date.checked_add(time::Duration::days(i64::from(days)))
                .ok_or_else(|| MappingError::InvalidConfig {
                    field: "payment_methods.due_days".to_owned(),
                    message: format!("{days} days after {} is out of range", iso_date(date)),
                })?,
        ),
        None => None,
    };

    let recipient = recipient(order, &vat_decision);
    let mut warnings = planned.warnings;
    if let Some(ean) = &recipient.ean {
        let has_reference = non_empty(order.buyer_reference.as_deref()).is_some()
            || non_empty(order.buyer_order_number.as_deref()).is_some();
        if !has_reference {
            if config.ean.require_buyer_reference {
                return Err(MappingError::BuyerReferenceMissing { ean: ean.clone() });
            }
            // OIOUBL lets the sender fall back to the name of the person
            // who ordered (the "Att.:" line); the buyer may still refuse it.
            warnings.push(format!(
                "EAN invoice without the buyer's person reference or order number: the \
                 public-sector buyer may reject it (the orderer's name, {}, is on the invoice)",
                order.customer.name
            ));
        }
    }
    let send_by_ean = config.ean.send_by_ean && recipient.ean.is_some();
    let delivery = match (&order.delivery_address, delivery_date) {
        (Some(address), delivery_date) => Some(Delivery {
            address: Some(clip(&street_line(address), 255)),
            zip: Some(clip(&address.zip, 30)),
            city: Some(clip(&address.city, 50)),
            country: Some(clip(country_name(&address.country), 50)),
            delivery_date,
        }),
        (None, Some(delivery_date)) => Some(Delivery {
            delivery_date: Some(delivery_date),
            ..Delivery::default()
        }),
        (None, None) => None,
    };

    let draft = DraftInvoice {
        currency: order.currency.clone(),
        customer: CustomerRef {
            customer_number: debtor.known_customer_number().unwrap_or(0),
        },
        date: iso_date(date),
        due_date: due_date.map(iso_date),
        layout: LayoutRef {
            layout_number: payment.layout,
        },
        payment_terms: PaymentTermsRef {
            payment_terms_number: payment.payment_terms,
        },
        recipient,
        delivery,
        notes: Some(notes(order, config, &vat_decision, &planned.line_notes)),
        references: Some(References {
            other: Some(reference.clone()),
        }),
        lines: planned.lines,
    };

    Ok(InvoicePlan {
        reference,
        debtor,
        draft,
        book: config.auto_book,
        document: config.document,
        vat_decision,
        expected_net_total: planned.totals.net,
        expected_vat_total: planned.totals.vat,
        expected_gross_total: planned.totals.gross,
        line_vat_rates: planned.rates,
        sku_products: planned.sku_products,
        missing_products: config.products.missing,
        product_group: config.products.product_group,
        vat_free_rounding: config.rounding.vat_free.then(|| VatFreeRounding {
            product: config.rounding.product.clone(),
            description: config.rounding.description.clone(),
        }),
        correction_tolerance: config.rounding.correction_tolerance,
        debtor_update: config.debtor.update,
        warnings,
        send_by_ean,
        line_origins: planned.origins,
    })
}

/// The customer's EU VAT number when it could exempt the sale and the shop
/// has VIES checks on (`vies.enabled`): the number to ask VIES about
/// before mapping. `None` when the rules settle it without VIES (no number,
/// a domestic sale, a number that is wrong in itself).
pub fn vat_number_to_check(order: &Order, config: &MappingConfig) -> Option<VatNumber> {
    if !config.vies.enabled {
        return None;
    }
    let destination = vat::vat_destination(order.destination());
    let country = destination.code.as_str();
    if destination.outside.is_some()
        || country == config.home_country
        || !vat::in_eu_vat_area_for_goods(country)
        || !vat::is_eu_member(&config.home_country)
    {
        return None;
    }
    let number = VatNumber::parse(order.customer.eu_vat_number.as_deref()?)?;
    crate::domain::vat_number::format_problem(&number, country, &config.home_country)
        .is_none()
        .then_some(number)
}

/// The layout and payment terms for the order's payment method: the raw
/// method string first, then its class, then the default.
pub fn payment_setup<'c>(order: &Order, config: &'c MappingConfig) -> &'c PaymentSetup {
    config
        .payment_methods
        .get(order.payment_method.as_str())
        .or_else(|| {
            config
                .payment_methods
                .get(order.payment_method.kind().as_str())
        })
        .unwrap_or(&config.default_payment)
}

/// Fills `{number}` and `{id}` in the reference format.
pub fn format_reference(format: &str, order: &Order) -> Result<String, MappingError> {
    let reference = format
        .replace("{number}", &order.number)
        .replace("{id}", &order.id);
    let length = reference.chars().count();
    if length > MAX_REFERENCE_LEN {
        return Err(MappingError::ReferenceTooLong {
            reference: clip(&reference, 60) + "…",
            length,
        });
    }
    Ok(reference)
}

fn recipient(order: &Order, decision: &VatDecision) -> Recipient {
    let billing = &order.billing_address;
    let ean = order.customer.ean.clone();
    let nem_handel_type = ean.as_ref().map(|_| "ean".to_owned());
    Recipient {
        name: clip(&invoice_name(order), 250),
        address: Some(clip(&street_line(billing), 250)),
        zip: Some(clip(&billing.zip, 50)),
        city: Some(clip(&billing.city, 250)),
        country: Some(clip(country_name(&billing.country), 50)),
        ean,
        public_entry_number: non_empty(order.buyer_order_number.as_deref())
            .map(|number| clip(number, MAX_BUYER_ORDER_NUMBER)),
        nem_handel_type,
        vat_zone: VatZoneRef {
            vat_zone_number: decision.vat_zone,
        },
    }
}

/// The company name for business customers, else the billing addressee or
/// the customer's name.
pub(crate) fn invoice_name(order: &Order) -> String {
    if let Some(company) = non_empty(order.customer.company_name.as_deref()) {
        return company.to_owned();
    }
    non_empty(order.billing_address.name.as_deref())
        .unwrap_or(&order.customer.name)
        .to_owned()
}

fn notes(
    order: &Order,
    config: &MappingConfig,
    decision: &VatDecision,
    line_notes: &[String],
) -> Notes {
    let mut line1: Vec<String> = Vec::new();
    // Goods to an EU business are an exempt intra-Community supply (art.
    // 138), not the reverse charge of services (art. 196); the invoice
    // states the exemption and the buyer's VAT number (momsbekendtgørelsen
    // § 62, stk. 2; VAT Directive art. 226(4), (11)).
    if let Some(number) = order.customer.eu_vat_number.as_deref() {
        if decision.treatment == VatTreatment::IntraCommunitySupply {
            let number = crate::domain::vat_number::VatNumber::parse(number)
                .map(|n| n.as_text())
                .unwrap_or_else(|| number.trim().to_owned());
            line1.push(format!(
                "VAT exempt intra-Community supply of goods – VAT Directive 2006/112/EC art. 138 \
                 (momsloven § 34, stk. 1, nr. 1). Customer VAT number: {number}"
            ));
        } else if decision.explanation.contains("no VAT exemption") {
            // The reason the customer's number gave no exemption is always
            // on the invoice, whatever `vat_explanation_on_invoice` says.
            line1.push(decision.explanation.clone());
        }
    }
    // e-conomic's POST /customers has no contact-person field; the person
    // who ordered for a company is printed on the invoice instead.
    if non_empty(order.customer.company_name.as_deref()).is_some() {
        line1.push(format!("Att.: {}", order.customer.name));
    }
    // The draft has no text field for a person reference (`customerContact`
    // is a contact number), so it is printed; the order number is also in
    // `recipient.publicEntryNumber`, printed here too so it shows on paper.
    if let Some(number) = non_empty(order.buyer_order_number.as_deref()) {
        line1.push(format!("Your order no.: {number}"));
    }
    if let Some(reference) = non_empty(order.buyer_reference.as_deref()) {
        line1.push(format!("Your reference: {reference}"));
    }
    line1.extend(line_notes.iter().cloned());
    Notes {
        heading: Some(clip(&format!("Order {}", order.number), 250)),
        text_line1: (!line1.is_empty()).then(|| clip(&line1.join("\n"), 1000)),
        text_line2: config
            .vat_explanation_on_invoice
            .then(|| clip(&decision.explanation, 1000)),
    }
}

pub(crate) fn street_line(address: &Address) -> String {
    match non_empty(address.street2.as_deref()) {
        Some(street2) => format!("{}, {}", address.street, street2),
        None => address.street.clone(),
    }
}

/// English country name for e-conomic's free-text `country` (the code if unknown).
pub(crate) fn country_name(code: &str) -> &str {
    iso::country_name(code).unwrap_or(code)
}

pub(crate) fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Cuts `text` to at most `max` characters (e-conomic field limits).
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

fn iso_date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}
