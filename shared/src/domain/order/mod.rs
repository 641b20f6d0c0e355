//! The order event contract, version 1: what shops send to the webhook.
//!
//! `parse_event` turns a webhook body into an [`OrderEvent`] or a
//! [`ContractError`] naming the offending field by its JSON path
//! (`order.lines[2].unit_price`). It never panics, whatever the bytes.
//!
//! Amounts are decimal strings (`"12.50"`); JSON numbers are accepted and
//! read losslessly. Serialising an [`Order`] writes the same contract JSON
//! back (amounts as strings), so a stored snapshot re-parses to the same
//! order. Unknown fields are ignored.

pub mod iso;

use crate::domain::json_decimal::{deserialize_decimal, deserialize_optional_decimal};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", default, borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(default, borrow)]
    version: Option<&'a RawValue>,
    #[serde(default, borrow)]
    order: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct OnePass<'a> {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default, borrow)]
    version: Option<&'a RawValue>,
    order: Order,
}

/// Parses and validates a webhook body. Never panics.
pub fn parse_event(body: &[u8]) -> Result<ParsedEvent, ContractError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ContractError::new(
            "",
            format!("not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
        )
    })?;
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') {
        let what = if trimmed.is_empty() {
            "empty body".to_owned()
        } else if serde_json::from_str::<serde::de::IgnoredAny>(trimmed).is_ok() {
            "a JSON value that is not an object".to_owned()
        } else {
            "not JSON".to_owned()
        };
        return Err(ContractError::new(
            "",
            format!("expected a JSON object with `type` and `order`, got {what}"),
        ));
    }
    // Fast path: a well-formed event of a type we handle parses in one pass.
    // Anything else takes the slow path below, which finds the first
    // problem in a fixed order (body, type, version, order fields).
    if let Ok(event) = serde_json::from_str::<OnePass<'_>>(text) {
        let version_ok = event.version.is_none_or(|v| is_version_one(v.get()));
        if let (true, Some(event_type)) = (version_ok, EventType::from_type(&event.event_type)) {
            validate(&event.order)?;
            return Ok(ParsedEvent::Order(OrderEvent {
                event_type,
                order: event.order,
            }));
        }
    }

    let envelope: Envelope<'_> = serde_json::from_str(text)
        .map_err(|e| ContractError::new("", format!("not a valid JSON object: {e}")))?;

    let event_type_raw = envelope
        .event_type
        .ok_or_else(|| ContractError::new("type", "missing"))?;
    let event_type_text: String = serde_json::from_str(event_type_raw.get()).map_err(|_| {
        ContractError::new(
            "type",
            "expected a string such as \"order.paid\"".to_owned(),
        )
    })?;

    if let Some(version) = envelope.version {
        if !is_version_one(version.get()) {
            return Err(ContractError::new(
                "version",
                format!(
                    "unsupported contract version {}; this bridge speaks version 1",
                    truncate(version.get(), 20)
                ),
            ));
        }
    }

    let Some(event_type) = EventType::from_type(&event_type_text) else {
        return Ok(ParsedEvent::Unsupported {
            event_type: event_type_text,
        });
    };

    let order_raw = envelope
        .order
        .ok_or_else(|| ContractError::new("order", "missing"))?;
    let order = parse_order(order_raw.get())?;
    Ok(ParsedEvent::Order(OrderEvent { event_type, order }))
}

/// Parses and validates the JSON text of one order (the `order` member).
/// Errors name fields as `order.…`.
pub fn parse_order(json: &str) -> Result<Order, ContractError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let order: Order = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let mut field = if path == "." || path.is_empty() {
            "order".to_owned()
        } else {
            format!("order.{path}")
        };
        let mut message = clean_serde_message(&e.inner().to_string());
        // serde reports a missing field at its parent; name the field itself.
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            field = format!("{field}.{name}");
            message = "missing".to_owned();
        }
        ContractError::new(field, message)
    })?;
    deserializer
        .end()
        .map_err(|e| ContractError::new("order", clean_serde_message(&e.to_string())))?;
    validate(&order)?;
    Ok(order)
}

/// serde_json appends " at line L column C"; the field path says more.
fn clean_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
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

// ---------------------------------------------------------------------------
// Semantic validation
// ---------------------------------------------------------------------------

/// `1`, also written `1.0` or `1e0`: JSON Schema (and most encoders) treat
/// them as the same number.
fn is_version_one(raw: &str) -> bool {
    let text = raw.trim();
    text == "1"
        || text.parse::<Decimal>().ok() == Some(Decimal::ONE)
        || Decimal::from_scientific(text).ok() == Some(Decimal::ONE)
}

fn validate(order: &Order) -> Result<(), ContractError> {
    text(&order.id, "order.id", true)?;
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
