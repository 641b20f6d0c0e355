//! The per-shop mapping configuration. Every field has a default, so `{}`
//! is a valid configuration for a Danish shop with e-conomic's standard
//! VAT zones (1 Domestic, 2 EU, 3 Abroad, 4 Domestic exempt).

use crate::domain::economic_model::DraftDocument;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use crate::domain::vat::{ForeignVatConfig, OssConfig, OssCountry, VatZones, VoecConfig};

/// Rules that turn a shop's orders into e-conomic invoices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MappingConfig {
    /// The shop's own country (ISO alpha-2), default `DK`.
    pub home_country: String,
    /// The home country's standard VAT rate in percent, default `25`.
    #[serde(with = "rust_decimal::serde::str")]
    pub home_vat_rate: Decimal,
    /// Invoice reference (`references.other`), unique per order. Placeholders
    /// `{number}` and `{id}`. Default `Order {number}`.
    pub reference_format: String,
    /// Book the invoice after creating the draft. Default `false`.
    pub auto_book: bool,
    /// The e-conomic document each order becomes: `invoice_draft`
    /// (default) or `order_draft` (`/orders/drafts`; not bookable, so not
    /// with `auto_book`).
    #[serde(skip_serializing_if = "DraftDocument::is_default")]
    pub document: DraftDocument,
    pub vat_zones: VatZones,
    pub oss: OssConfig,
    pub voec: VoecConfig,
    pub vies: ViesConfig,
    /// VAT of countries outside the EU the shop is registered for (`GB`,
    /// `CH`). Default none: those sales are exports.
    pub foreign_vat: BTreeMap<String, ForeignVatConfig>,
    pub debtor: DebtorConfig,
    pub products: ProductConfig,
    /// Layout and payment terms per payment method. Keys are the shop's raw
    /// payment method string or its class (`card`, `mobilepay`,
    /// `ean_invoice`, `bank_transfer`, `invoice`, `cash_on_delivery`,
    /// `gift_card`, `other`); the raw string wins.
    pub payment_methods: BTreeMap<String, PaymentSetup>,
    /// Used when no `payment_methods` entry matches.
    pub default_payment: PaymentSetup,
    pub rounding: RoundingConfig,
    /// Retired: e-conomic refuses `unitNetPrice` with more than 2 decimals
    /// (E04740), so unit prices are always sent with 2. Still accepted, and
    /// ignored, so that shop files written for older versions keep loading;
    /// `bridgectl shops check` says it is ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price_decimals: Option<u32>,
    /// e-conomic unit numbers by the order line's `unit` (`{"kg": 2}`).
    pub units: BTreeMap<String, u32>,
    /// Unit number for lines without a mapped unit (`None`: no unit).
    pub default_unit_number: Option<u32>,
    /// Which day dates the invoice. Default `trigger`.
    pub invoice_date: InvoiceDate,
    /// Put the VAT decision's explanation on the invoice (`notes.textLine2`).
    pub vat_explanation_on_invoice: bool,
    /// Include a shipping line when shipping is free. Default `true`.
    pub show_free_shipping: bool,
    /// Invoices to customers with an EAN location number (public sector).
    pub ean: EanConfig,
    /// Refunds as credit notes ([`super::credit_note`]).
    pub credit_notes: super::credit_note::CreditNoteConfig,
    /// Products for lines at VAT rates other than the zone's, per country
    /// and rate ([`super::vat_rates`]). Default none: one rate per invoice.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vat_rates: super::vat_rates::VatRateProducts,
    /// Customer payments on booked invoices ([`crate::domain::mapping::payment`]).
    /// Default off.
    #[serde(skip_serializing_if = "crate::domain::mapping::payment::PaymentsConfig::is_default")]
    pub payments: crate::domain::mapping::payment::PaymentsConfig,
}

impl Default for MappingConfig {
    fn default() -> Self {
        MappingConfig {
            home_country: "DK".to_owned(),
            home_vat_rate: Decimal::from(25),
            reference_format: "Order {number}".to_owned(),
            auto_book: false,
            document: DraftDocument::InvoiceDraft,
            vat_zones: VatZones::default(),
            oss: OssConfig::default(),
            voec: VoecConfig::default(),
            vies: ViesConfig::default(),
            foreign_vat: BTreeMap::new(),
            debtor: DebtorConfig::default(),
            products: ProductConfig::default(),
            payment_methods: BTreeMap::new(),
            default_payment: PaymentSetup::default(),
            rounding: RoundingConfig::default(),
            unit_price_decimals: None,
            units: BTreeMap::new(),
            default_unit_number: None,
            invoice_date: InvoiceDate::Trigger,
            vat_explanation_on_invoice: true,
            show_free_shipping: true,
            ean: EanConfig::default(),
            credit_notes: Default::default(),
            vat_rates: BTreeMap::new(),
            payments: Default::default(),
        }
    }
}

/// Public-sector (EAN) invoices: NemHandel / OIOUBL / Peppol BIS want the
/// buyer's order number or a person reference on them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EanConfig {
    /// When the invoice is booked (`auto_book`) and its recipient has an
    /// EAN, book with `sendBy: "EAN"` so e-conomic delivers it through
    /// NemHandel. Default `true`.
    pub send_by_ean: bool,
    /// Fail an EAN order that has neither `buyer_reference` nor
    /// `buyer_order_number`, instead of invoicing it with a warning.
    /// Default `false`.
    pub require_buyer_reference: bool,
}

impl Default for EanConfig {
    fn default() -> Self {
        EanConfig {
            send_by_ean: true,
            require_buyer_reference: false,
        }
    }
}

impl MappingConfig {
    /// Checks what serde cannot: codes, rates and formats whose mistakes
    /// would otherwise pass silently — a lower-case `home_country` would make
    /// every order an export at 0 % VAT. Run when a shop is stored and again
    /// before each order is mapped.
    pub fn check(&self) -> Result<(), super::MappingError> {
        let invalid = |field: &str, message: String| super::MappingError::InvalidConfig {
            field: field.to_owned(),
            message,
        };
        let is_country = |code: &str| crate::domain::order::iso::country_name(code).is_some();
        let is_rate = |rate: &Decimal| *rate >= Decimal::ZERO && *rate < Decimal::from(100);
        if !is_country(&self.home_country) {
            return Err(invalid(
                "home_country",
                format!(
                    "`{}` is not an ISO 3166 alpha-2 country code in capitals (e.g. \"DK\")",
                    self.home_country
                ),
            ));
        }
        if !is_rate(&self.home_vat_rate) {
            return Err(invalid(
                "home_vat_rate",
                format!(
                    "{} is not a VAT rate in percent (0 to 100, e.g. \"25\")",
                    self.home_vat_rate
                ),
            ));
        }
        if self.document == DraftDocument::OrderDraft && self.auto_book {
            return Err(invalid(
                "auto_book",
                "cannot be true with `document: order_draft`: e-conomic's API books invoices, \
                 not orders; an order draft is turned into an invoice in e-conomic"
                    .to_owned(),
            ));
        }
        if !self.reference_format.contains("{id}") && !self.reference_format.contains("{number}") {
            return Err(invalid(
                "reference_format",
                format!(
                    "`{}` contains neither `{{number}}` nor `{{id}}`: the reference must differ per order, \
                     it is how a retry finds the order's invoice again",
                    self.reference_format
                ),
            ));
        }
        for (country, setup) in &self.oss.countries {
            let field = format!("oss.countries.{country}");
            if !is_country(country) {
                return Err(invalid(
                    &field,
                    format!("`{country}` is not an ISO 3166 alpha-2 country code in capitals"),
                ));
            }
            if !is_rate(&setup.rate) {
                return Err(invalid(
                    &format!("{field}.rate"),
                    format!("{} is not a VAT rate in percent (0 to 100)", setup.rate),
                ));
            }
        }
        let check_changes = |field: &str, changes: &[super::super::vat::RateChange]| {
            let mut previous: Option<time::Date> = None;
            for (i, change) in changes.iter().enumerate() {
                let at = format!("{field}.changes[{i}]");
                let Some(from) = crate::domain::vat::parse_date(&change.from) else {
                    return Err(invalid(
                        &format!("{at}.from"),
                        format!("`{}` is not a date YYYY-MM-DD", change.from),
                    ));
                };
                if previous.is_some_and(|p| p >= from) {
                    return Err(invalid(
                        &format!("{at}.from"),
                        "changes must be in date order, one per day".to_owned(),
                    ));
                }
                if !is_rate(&change.rate) {
                    return Err(invalid(
                        &format!("{at}.rate"),
                        format!("{} is not a VAT rate in percent (0 to 100)", change.rate),
                    ));
                }
                previous = Some(from);
            }
            Ok(())
        };
        for (country, setup) in &self.oss.countries {
            check_changes(&format!("oss.countries.{country}"), &setup.changes)?;
        }
        check_changes("voec", &self.voec.changes)?;
        for (country, foreign) in &self.foreign_vat {
            let field = format!("foreign_vat.{country}");
            if !is_country(country) || crate::domain::vat::in_eu_vat_area_for_goods(country) {
                return Err(invalid(
                    &field,
                    format!("`{country}` is not a country outside the EU VAT area (e.g. \"GB\", \"CH\")"),
                ));
            }
            if !is_rate(&foreign.rate) {
                return Err(invalid(
                    &format!("{field}.rate"),
                    format!("{} is not a VAT rate in percent (0 to 100)", foreign.rate),
                ));
            }
            check_changes(&field, &foreign.changes)?;
        }
        if let Some(from) = &self.oss.enabled_from {
            if crate::domain::vat::parse_date(from).is_none() {
                return Err(invalid(
                    "oss.enabled_from",
                    format!("`{from}` is not a date YYYY-MM-DD"),
                ));
            }
        }
        if !is_rate(&self.voec.rate) {
            return Err(invalid(
                "voec.rate",
                format!("{} is not a VAT rate in percent (0 to 100)", self.voec.rate),
            ));
        }
        for (currency, limit) in &self.voec.item_value_below {
            if !crate::domain::order::iso::is_currency(currency) || *limit <= Decimal::ZERO {
                return Err(invalid(
                    &format!("voec.item_value_below.{currency}"),
                    format!("needs an ISO 4217 currency code in capitals and an amount above 0 (got {limit})"),
                ));
            }
        }
        let rounding = &self.rounding;
        if rounding.per_line.is_sign_negative() || rounding.per_line > Decimal::ONE {
            return Err(invalid(
                "rounding.per_line",
                format!(
                    "{} is not an amount from 0 to 1 (a few øre, e.g. \"0.02\")",
                    rounding.per_line
                ),
            ));
        }
        if let Some(step) = rounding.total_step {
            if step <= Decimal::ZERO || step > Decimal::from(10) {
                return Err(invalid(
                    "rounding.total_step",
                    format!("{step} is not a rounding step above 0 and at most 10 (e.g. \"1\", \"0.5\")"),
                ));
            }
            if rounding.vat_free {
                return Err(invalid(
                    "rounding.total_step",
                    "needs `rounding.vat_free` false: the rounding of a total is part of the \
                     price and carries VAT (ML § 27, stk. 1), so the rounding product must be \
                     on an account with VAT"
                        .to_owned(),
                ));
            }
        }
        if rounding.tolerance.is_some_and(|t| t.is_sign_negative()) {
            return Err(invalid(
                "rounding.tolerance",
                "must not be negative".to_owned(),
            ));
        }
        if self.products.missing == MissingProducts::Create && self.products.product_group.is_none()
        {
            return Err(invalid(
                "products.product_group",
                "is required when `products.missing` is `create`: the product group new \
                 products are created in (its accounts decide their VAT)"
                    .to_owned(),
            ));
        }
        self.payments.check(self.auto_book)?;
        super::vat_rates::check(&self.vat_rates)
    }
}

/// Which day dates the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceDate {
    /// The day the shop's trigger event (paid, shipped) arrived, in the
    /// order's time zone; the order's creation day if the bridge no longer
    /// knows it.
    #[default]
    Trigger,
    /// The order's creation day (`created_at`), as before issue 21.
    Created,
}

/// Verifying EU customers' VAT numbers with VIES before an exempt
/// intra-Community supply (skat.dk: the seller must verify the number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViesConfig {
    /// Default `true`: ask VIES; while it does not answer the order stays
    /// pending. `false`: the number's prefix and format are checked only.
    pub enabled: bool,
}

impl Default for ViesConfig {
    fn default() -> Self {
        ViesConfig { enabled: true }
    }
}

/// How the invoice's debtor (e-conomic customer) is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DebtorStrategy {
    /// Every order goes to this existing customer.
    Fixed { customer_number: u32 },
    /// Customer number = digits of the phone number.
    Phone {
        /// Drop the home country calling code (`+45`/`0045`) first. Default `true`.
        #[serde(default = "yes")]
        strip_home_country_code: bool,
        /// The home country calling code, default `45`.
        #[serde(default = "danish_calling_code")]
        home_calling_code: String,
    },
    /// Customer number = the shop's numeric customer id + offset, for
    /// logged-in customers.
    ShopCustomerId {
        #[serde(default)]
        offset: u32,
    },
    /// e-conomic assigns the next free number; a debtor with the same email
    /// is reused.
    Running,
}

/// Used when the main strategy cannot give a number (no phone, a foreign
/// phone that does not fit, a guest checkout).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DebtorFallback {
    Fixed { customer_number: u32 },
    Running,
}

fn yes() -> bool {
    true
}

fn danish_calling_code() -> String {
    "45".to_owned()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebtorConfig {
    /// Default `{"kind": "running"}`.
    pub strategy: DebtorStrategy,
    /// Default `{"kind": "running"}`.
    pub fallback: DebtorFallback,
    /// Customer group for consumers, default 1.
    pub b2c_customer_group: u32,
    /// Customer group for businesses (CVR, EAN or EU VAT number), default 2.
    pub b2b_customer_group: u32,
    /// Layout stored on new customers (`None`: e-conomic's default).
    pub layout: Option<u32>,
    /// Whether an existing debtor's details are updated from the order.
    /// Default `never`.
    pub update: DebtorUpdate,
}

/// What happens to an existing debtor's details (name, address, email,
/// phone, CVR/VAT number, EAN) when an order names it. The debtor is read
/// (GET) and, only if something changes, written back whole (PUT): an
/// extra call per order for `fill_missing` and `always`, two when it
/// changes. Fixed debtors (`kind: fixed`) are never updated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DebtorUpdate {
    /// Leave existing debtors as they are.
    #[default]
    Never,
    /// Set only the fields that are empty in e-conomic.
    FillMissing,
    /// Overwrite the fields with the order's values (a field the order
    /// does not have is left as it is).
    Always,
}

impl Default for DebtorConfig {
    fn default() -> Self {
        DebtorConfig {
            strategy: DebtorStrategy::Running,
            fallback: DebtorFallback::Running,
            b2c_customer_group: 1,
            b2b_customer_group: 2,
            layout: None,
            update: DebtorUpdate::Never,
        }
    }
}

/// Product numbers for invoice lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProductConfig {
    /// SKU → product number; unmapped SKUs are used as product numbers.
    pub map: BTreeMap<String, String>,
    /// For lines whose SKU is missing or longer than 25 characters (the SKU
    /// goes into the description). Default `"1"`.
    pub fallback: String,
    /// Default `"SHIPPING"`.
    pub shipping: String,
    /// Default `"FEE"`.
    pub payment_fee: String,
    /// Default `"GIFTWRAP"`.
    pub gift_wrapping: String,
    /// Default `"FEE"`.
    pub other_fee: String,
    /// Discount codes (and gift cards under `single_purpose`). Default `"DISCOUNT"`.
    pub discount: String,
    /// Default `"PROMO"`.
    pub promotional: String,
    /// Default `"POINTS"`.
    pub loyalty_points: String,
    /// Gift cards under `multi_purpose`: a product whose group books to a
    /// liability (balance) account without VAT (the card is a means of
    /// payment, not a sale). Default `"GIFTCARD"`.
    pub gift_card: String,
    /// How gift cards used as payment are treated. Default `multi_purpose`.
    pub gift_card_vat: GiftCardVat,
    /// What to do when an order line's SKU is not an e-conomic product.
    /// Default `fallback`.
    pub missing: MissingProducts,
    /// The products lines fall back to under `missing: fallback`.
    pub generic: GenericProducts,
    /// The product group new products get under `missing: create`
    /// (required then): its accounts decide the products' VAT.
    pub product_group: Option<u32>,
}

/// What happens to an order line whose SKU is no e-conomic product.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MissingProducts {
    /// The line goes to the generic product of its VAT treatment, with the
    /// SKU and name in its text: no product master needed in e-conomic.
    #[default]
    Fallback,
    /// The product is created (SKU as product number, in `product_group`).
    Create,
    /// The order fails, naming the product.
    Fail,
}

/// Generic products per VAT treatment, for lines whose product is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GenericProducts {
    /// Lines taxed at the VAT zone's rate. Default `"GENERIC"`.
    pub standard: String,
    /// Zero-rated lines: a product on a VAT-free account. Default `"GENERIC-0"`.
    pub zero_rated: String,
}

impl Default for GenericProducts {
    fn default() -> Self {
        GenericProducts {
            standard: "GENERIC".to_owned(),
            zero_rated: "GENERIC-0".to_owned(),
        }
    }
}

impl Default for ProductConfig {
    fn default() -> Self {
        ProductConfig {
            map: BTreeMap::new(),
            fallback: "1".to_owned(),
            shipping: "SHIPPING".to_owned(),
            payment_fee: "FEE".to_owned(),
            gift_wrapping: "GIFTWRAP".to_owned(),
            other_fee: "FEE".to_owned(),
            discount: "DISCOUNT".to_owned(),
            promotional: "PROMO".to_owned(),
            loyalty_points: "POINTS".to_owned(),
            gift_card: "GIFTCARD".to_owned(),
            gift_card_vat: GiftCardVat::MultiPurpose,
            missing: MissingProducts::Fallback,
            generic: GenericProducts::default(),
            product_group: None,
        }
    }
}

/// A gift card redeemed on an order: which kind of voucher the shop sells.
///
/// Rule: VAT Directive 2006/112/EC art. 30a–30b (inserted by Directive (EU)
/// 2016/1065), momsloven § 73 b; Den juridiske vejledning D.A.4.10.2.
/// A voucher is single-purpose only when the place of supply and the VAT
/// due are known when it is sold (one country, one rate); a webshop card
/// usable for deliveries abroad or for goods at different rates is
/// multi-purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum GiftCardVat {
    /// Multi-purpose voucher (art. 30b(2); ML § 73 b nr. 2): no VAT when the
    /// card is sold, full VAT on the goods when it is redeemed. The card is
    /// a means of payment: its own VAT-free negative line ("Gift card"),
    /// and the goods keep their full VAT. Old name `no_vat`.
    #[default]
    #[serde(alias = "no_vat")]
    MultiPurpose,
    /// Single-purpose voucher (art. 30b(1); ML § 73 b nr. 1): VAT was charged
    /// when the card was sold, so its redemption is no new supply: the card
    /// lowers the invoice's VAT like a discount ("Discount" group). Old
    /// name `reduce_vat`.
    #[serde(alias = "reduce_vat")]
    SinglePurpose,
}

/// Layout and payment terms for a payment method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentSetup {
    /// Default 19 (e-conomic's standard invoice layout).
    pub layout: u32,
    /// Default 1.
    pub payment_terms: u32,
    /// Sets `dueDate` = invoice date + this many days (needed for payment
    /// terms of type `dueDate`).
    pub due_days: Option<u32>,
}

impl Default for PaymentSetup {
    fn default() -> Self {
        PaymentSetup {
            layout: 19,
            payment_terms: 1,
            due_days: None,
        }
    }
}

/// The explicit øre-adjustment line, and how far an order's own arithmetic
/// may be from its total.
///
/// Rule: the taxable amount is everything the customer pays (VAT Directive
/// art. 73; ML § 27, stk. 1), so a shop's rounding of its total is part of
/// the price and carries VAT; a difference that is more than rounding
/// (a wrong rate, a missing line) must not be booked as a VAT-free line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoundingConfig {
    /// Default `"ROUNDING"`.
    pub product: String,
    /// Default `"Rounding (øre adjustment)"`.
    pub description: String,
    /// `true` (default): the product is on a VAT-free account, so the line
    /// carries no VAT. `false`: e-conomic applies the zone's rate to it and
    /// the bridge picks a net amount whose gross closes the gap exactly.
    pub vat_free: bool,
    /// How far, per invoice line, the order's own arithmetic may be from
    /// its total: a shop that rounds VAT per order instead of per line
    /// differs by at most half an øre a line. Default `0.02`.
    #[serde(with = "rust_decimal::serde::str")]
    pub per_line: Decimal,
    /// The shop rounds its totals to this step (`"1"`, `"0.5"`): half a
    /// step more is accepted, and the rounding carries the zone's VAT
    /// (needs `vat_free: false`). Default none.
    #[serde(
        with = "rust_decimal::serde::str_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_step: Option<Decimal>,
    /// An absolute allowance in the order's currency that replaces the
    /// per-line bound. Kept so older files load; `bridgectl shops check`
    /// warns when it is set, since a wrong VAT rate can hide in it.
    #[serde(
        with = "rust_decimal::serde::str_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub tolerance: Option<Decimal>,
    /// Largest difference between the gross e-conomic computes for a new
    /// draft and the order's total that the bridge corrects (when the
    /// difference is e-conomic rounding VAT per invoice instead of per
    /// line); beyond it the draft is deleted and the order fails. Default
    /// `0.50`.
    #[serde(with = "rust_decimal::serde::str")]
    pub correction_tolerance: Decimal,
}

impl RoundingConfig {
    /// The largest accepted difference between an order's total and its own
    /// arithmetic over `lines` invoice lines, and how it is made up.
    pub fn allowance(&self, lines: usize) -> (Decimal, String) {
        if let Some(tolerance) = self.tolerance {
            return (
                tolerance,
                format!("the {tolerance:.2} set in `rounding.tolerance`"),
            );
        }
        let lines = lines.max(1);
        let mut allowance = self.per_line * Decimal::from(lines);
        let mut how = format!(
            "{:.2} per line × {lines} line{}",
            self.per_line,
            if lines == 1 { "" } else { "s" }
        );
        if let Some(step) = self.total_step {
            allowance += step / Decimal::TWO;
            how.push_str(&format!(" + half the total step {step:.2}"));
        }
        (allowance, how)
    }
}

impl Default for RoundingConfig {
    fn default() -> Self {
        RoundingConfig {
            product: "ROUNDING".to_owned(),
            description: "Rounding (øre adjustment)".to_owned(),
            vat_free: true,
            per_line: Decimal::new(2, 2),
            total_step: None,
            tolerance: None,
            correction_tolerance: Decimal::new(50, 2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::mapping::MappingError;

    fn field_of(config: &MappingConfig) -> Option<String> {
        match config.check() {
            Err(MappingError::InvalidConfig { field, .. }) => Some(field),
            Err(other) => panic!("unexpected error {other}"),
            Ok(()) => None,
        }
    }

    #[test]
    fn the_default_configuration_is_valid() {
        assert_eq!(field_of(&MappingConfig::default()), None);
    }

    #[test]
    fn silent_vat_mistakes_are_rejected_with_the_field() {
        let lower_case_home = MappingConfig {
            home_country: "dk".into(),
            ..MappingConfig::default()
        };
        assert_eq!(field_of(&lower_case_home).as_deref(), Some("home_country"));

        let mut bad_oss_key = MappingConfig::default();
        bad_oss_key.oss.countries.insert(
            "Sweden".into(),
            OssCountry {
                vat_zone: 11,
                rate: Decimal::from(25),
                changes: Vec::new(),
            },
        );
        assert_eq!(
            field_of(&bad_oss_key).as_deref(),
            Some("oss.countries.Sweden")
        );

        let mut fraction_rate = MappingConfig::default();
        fraction_rate.oss.countries.insert(
            "SE".into(),
            OssCountry {
                vat_zone: 11,
                rate: Decimal::from(125),
                changes: Vec::new(),
            },
        );
        assert_eq!(
            field_of(&fraction_rate).as_deref(),
            Some("oss.countries.SE.rate")
        );

        let negative_home_rate = MappingConfig {
            home_vat_rate: Decimal::from(-25),
            ..MappingConfig::default()
        };
        assert_eq!(
            field_of(&negative_home_rate).as_deref(),
            Some("home_vat_rate")
        );
    }

    #[test]
    fn order_drafts_are_a_document_choice_that_cannot_be_booked() {
        let parsed: MappingConfig =
            serde_json::from_str(r#"{"document": "order_draft"}"#).expect("order drafts");
        assert_eq!(parsed.document, DraftDocument::OrderDraft);
        assert_eq!(field_of(&parsed), None);
        assert_eq!(
            MappingConfig::default().document,
            DraftDocument::InvoiceDraft
        );
        let booked = MappingConfig {
            auto_book: true,
            ..parsed
        };
        assert_eq!(field_of(&booked).as_deref(), Some("auto_book"));
        assert!(serde_json::from_str::<MappingConfig>(r#"{"document": "quote"}"#).is_err());
    }

    #[test]
    fn a_reference_that_does_not_vary_per_order_is_rejected() {
        let mut fixed = MappingConfig {
            reference_format: "Webshop order".into(),
            ..MappingConfig::default()
        };
        assert_eq!(field_of(&fixed).as_deref(), Some("reference_format"));
        fixed.reference_format = "Shop {id}".into();
        assert_eq!(field_of(&fixed), None);
    }

    #[test]
    fn creating_products_needs_a_product_group() {
        let mut config: MappingConfig =
            serde_json::from_value(serde_json::json!({"products": {"missing": "create"}}))
                .expect("loads");
        assert_eq!(field_of(&config).as_deref(), Some("products.product_group"));
        config.products.product_group = Some(1);
        assert_eq!(field_of(&config), None);
        // The default needs none: missing products fall back.
        assert_eq!(
            MappingConfig::default().products.missing,
            MissingProducts::Fallback
        );
    }

    #[test]
    fn the_retired_unit_price_decimals_key_still_loads_and_changes_nothing() {
        let old_file: MappingConfig =
            serde_json::from_value(serde_json::json!({"unit_price_decimals": 4}))
                .expect("an old shop file loads");
        assert_eq!(old_file.unit_price_decimals, Some(4));
        assert_eq!(field_of(&old_file), None);
        // Nothing new writes it.
        let written = serde_json::to_value(MappingConfig::default()).expect("json");
        assert!(written.get("unit_price_decimals").is_none());
    }
}
