//! The order event's types, as the contract defines them, and the limits
//! the contract puts on their values.

use crate::domain::json_decimal::{deserialize_decimal, deserialize_optional_decimal};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use time::OffsetDateTime;

/// Largest magnitude accepted for any amount (10¹²).
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(0xD4A5_1000, 0xE8, 0, false, 0);
/// Largest quantity accepted on a line (10⁹).
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// Most decimal places accepted on prices, quantities and rates.
pub const MAX_DECIMALS: u32 = 6;
/// Most decimal places accepted on the order total (it is a paid amount).
pub const MAX_TOTAL_DECIMALS: u32 = 2;
/// Most lines accepted on one order.
pub const MAX_LINES: usize = 1000;
/// Longest accepted text field (names, addresses, labels), in characters.
pub const MAX_TEXT: usize = 500;
/// Longest `buyer_order_number`: e-conomic's `recipient.publicEntryNumber`.
pub const MAX_BUYER_ORDER_NUMBER: usize = 40;
/// Longest `buyer_reference` (the bridge's limit; it is printed in the notes).
pub const MAX_BUYER_REFERENCE: usize = 100;

/// Which order event the webhook carries. Ordered as in an order's life
/// (created < paid < shipped): the later event's snapshot is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "order.created")]
    OrderCreated,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.shipped")]
    OrderShipped,
}

impl EventType {
    /// The event's place in the order's life as stored (`snapshot_rank`).
    pub fn rank(self) -> u8 {
        match self {
            EventType::OrderCreated => 1,
            EventType::OrderPaid => 2,
            EventType::OrderShipped => 3,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            EventType::OrderCreated => "order.created",
            EventType::OrderPaid => "order.paid",
            EventType::OrderShipped => "order.shipped",
        }
    }

    pub fn from_type(value: &str) -> Option<EventType> {
        match value {
            "order.created" => Some(EventType::OrderCreated),
            "order.paid" => Some(EventType::OrderPaid),
            "order.shipped" => Some(EventType::OrderShipped),
            _ => None,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed, validated order event (`{"type": ..., "order": {...}}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderEvent {
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub order: Order,
}

/// What a webhook body turned out to be.
// Made once per request and matched at once: boxing the order would only
// add an allocation to the agreed API.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedEvent {
    Order(OrderEvent),
    /// `order.refunded`: money given back on an order ([`super::refund`]).
    Refund(super::refund::Refund),
    /// A well-formed event object whose `type` this bridge does not handle
    /// (acknowledge it, do nothing).
    Unsupported {
        event_type: String,
    },
}

/// The body broke the contract. `field` is a JSON path such as
/// `order.lines[2].unit_price`, or `""` for the body as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractError {
    pub field: String,
    pub message: String,
}

impl ContractError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ContractError {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ContractError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "body: {}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for ContractError {}

/// One shop order, as the shop sent it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The shop's own order id (unique per shop).
    pub id: String,
    /// The order number shown to the customer.
    pub number: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// ISO 4217, e.g. `DKK`.
    pub currency: String,
    /// Whether `unit_price`, shipping `price`, fee and discount `amount`
    /// include VAT.
    pub prices_include_vat: bool,
    pub customer: Customer,
    pub billing_address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_address: Option<Address>,
    #[serde(default)]
    pub payment_method: PaymentMethod,
    pub lines: Vec<OrderLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping: Option<Shipping>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fees: Vec<Fee>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<Discount>,
    /// The order's gross total including VAT: what the customer pays.
    #[serde(deserialize_with = "deserialize_decimal")]
    pub total: Decimal,
    /// The buyer's own order or requisition number (ordre-/rekvisitionsnummer),
    /// at most 40 characters: public-sector (EAN) buyers require it on the
    /// e-invoice. Goes to the draft's `recipient.publicEntryNumber`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_order_number: Option<String>,
    /// The buyer's person reference (personreference: who approves the
    /// invoice), at most 100 characters. e-conomic's draft has no text field
    /// for it, so it is printed in the invoice's notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_reference: Option<String>,
}

impl Order {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    /// Where the goods go: the delivery address, else the billing address.
    pub fn destination(&self) -> &Address {
        self.delivery_address
            .as_ref()
            .unwrap_or(&self.billing_address)
    }

    /// The customer is a business: a CVR, EAN or EU VAT number is present.
    pub fn is_business(&self) -> bool {
        self.customer.cvr.is_some()
            || self.customer.ean.is_some()
            || self.customer.eu_vat_number.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The shop's customer id; a JSON string or integer.
    #[serde(
        default,
        deserialize_with = "deserialize_optional_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// Danish company registration number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvr: Option<String>,
    /// Danish public-sector EAN (GLN) location number, 13 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ean: Option<String>,
    /// EU VAT number with country prefix, e.g. `SE556677889901`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eu_vat_number: Option<String>,
    #[serde(default)]
    pub logged_in: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Addressee; falls back to the customer's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub street: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street2: Option<String>,
    pub zip: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `DK`.
    pub country: String,
}

/// How the customer paid. Any string is accepted; [`PaymentMethod::kind`]
/// classifies it (unknown strings are [`PaymentMethodKind::Other`]) while the
/// original text is kept for configuration look-ups and round trips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PaymentMethod(pub String);

impl Default for PaymentMethod {
    fn default() -> Self {
        PaymentMethod("other".to_owned())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentMethodKind {
    Card,
    MobilePay,
    EanInvoice,
    BankTransfer,
    Invoice,
    CashOnDelivery,
    GiftCard,
    Other,
}

impl PaymentMethodKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            PaymentMethodKind::Card => "card",
            PaymentMethodKind::MobilePay => "mobilepay",
            PaymentMethodKind::EanInvoice => "ean_invoice",
            PaymentMethodKind::BankTransfer => "bank_transfer",
            PaymentMethodKind::Invoice => "invoice",
            PaymentMethodKind::CashOnDelivery => "cash_on_delivery",
            PaymentMethodKind::GiftCard => "gift_card",
            PaymentMethodKind::Other => "other",
        }
    }
}

impl PaymentMethod {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Classifies the shop's payment method string (case-insensitive,
    /// `-`/space treated as `_`).
    pub fn kind(&self) -> PaymentMethodKind {
        let normalised: String = self
            .0
            .trim()
            .chars()
            .map(|c| match c {
                '-' | ' ' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        match normalised.as_str() {
            "card" | "credit_card" | "creditcard" | "debit_card" | "visa" | "mastercard"
            | "dankort" => PaymentMethodKind::Card,
            "mobilepay" | "mobile_pay" => PaymentMethodKind::MobilePay,
            "ean_invoice" | "ean" => PaymentMethodKind::EanInvoice,
            "bank_transfer" | "banktransfer" | "bank" => PaymentMethodKind::BankTransfer,
            "invoice" => PaymentMethodKind::Invoice,
            "cash_on_delivery" | "cod" => PaymentMethodKind::CashOnDelivery,
            "gift_card" | "giftcard" => PaymentMethodKind::GiftCard,
            _ => PaymentMethodKind::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The shop's SKU. Missing, empty or longer than e-conomic's 25-character
    /// product number: the line goes to the fallback product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    pub name: String,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub quantity: Decimal,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub unit_price: Decimal,
    /// VAT rate in percent that the shop applied (`"25"`).
    #[serde(deserialize_with = "deserialize_decimal")]
    pub vat_rate: Decimal,
    /// Unit name (`"kg"`), mapped to an e-conomic unit by configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Goods Norway's VOEC scheme excludes whatever their value:
    /// foodstuffs (food, drink, supplements), restricted goods, goods under
    /// excise duties (toll.no). Such a line to a Norwegian consumer is an
    /// ordinary export.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub voec_excluded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipping {
    pub name: String,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub price: Decimal,
    /// Defaults to the order's standard rate (the highest line rate).
    #[serde(
        default,
        deserialize_with = "deserialize_optional_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_rate: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeKind {
    PaymentFee,
    GiftWrapping,
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fee {
    pub kind: FeeKind,
    pub label: String,
    #[serde(deserialize_with = "deserialize_decimal")]
    pub amount: Decimal,
    /// Defaults to the order's standard rate (the highest line rate).
    #[serde(
        default,
        deserialize_with = "deserialize_optional_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_rate: Option<Decimal>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountKind {
    DiscountCode,
    GiftCard,
    Promotional,
    LoyaltyPoints,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Discount {
    pub kind: DiscountKind,
    #[serde(default)]
    pub label: String,
    /// Money off, a positive number.
    #[serde(deserialize_with = "deserialize_decimal")]
    pub amount: Decimal,
    /// Points spent (loyalty points only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<u64>,
    /// Defaults to the order's standard rate (the highest line rate).
    #[serde(
        default,
        deserialize_with = "deserialize_optional_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub vat_rate: Option<Decimal>,
}

impl Order {
    /// The VAT rate the order mostly uses: the highest line rate (0 with no
    /// lines). Shipping, fees and discounts without a rate use it.
    pub fn standard_rate(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| l.vat_rate)
            .max()
            .unwrap_or(Decimal::ZERO)
    }
}

fn deserialize_optional_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    struct IdVisitor;
    impl<'de> Visitor<'de> for IdVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an integer id")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(IdVisitor)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    deserializer.deserialize_option(IdVisitor)
}
