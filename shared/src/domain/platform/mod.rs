//! Shop platforms' own order webhooks (Shopify, WooCommerce) translated
//! into the order contract ([`Order`]), so a merchant only registers a URL.
//! The platform settings themselves are part of the shop configuration
//! ([`crate::domain::shop::PlatformConfig`]).
//!
//! Each platform has two steps:
//! * `parse`: bytes → the platform's order. A body that is not one is
//!   *malformed* (the webhook answers 400 naming the field).
//! * `translate`: the platform's order → [`Order`]. An order that is
//!   well-formed but cannot be invoiced exactly is *not invoiceable*; the
//!   order is still recorded and ends `e-conomic-failed` with the reason
//!   (naming the platform's field) when transfer translates it.
//!
//! The stored snapshot of a platform order is the platform's body as
//! received, inside a small envelope that says which platform and payload
//! version it came from ([`PlatformSnapshot`]); transfer translates it with
//! the shop's current configuration ([`order_from_snapshot`]).
//!
//! Pure: no I/O, never panics on any input.

pub mod requests;
pub mod shopify;
pub mod shopify_refund;
pub mod woocommerce;
pub mod woocommerce_refund;

use crate::domain::json_decimal::parse_json_decimal;
use crate::domain::order::{parse_order, validate_order, ContractError, Order};
pub use crate::domain::shop::{B2bFields, EventMap, Platform};
use crate::domain::shop::{PlatformConfig, WebhookSecret};
use rust_decimal::Decimal;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

/// A customer's B2B identifiers as found in the platform's order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct B2bIds {
    pub cvr: Option<String>,
    pub ean: Option<String>,
    pub eu_vat_number: Option<String>,
    pub buyer_order_number: Option<String>,
    pub buyer_reference: Option<String>,
}

/// Looks the identifiers up among `(name, value)` pairs (note attributes or
/// meta data; `what` names the list in errors), then in the company text.
/// A value that is present but not a valid identifier is an error: the
/// customer meant to be a business and the invoice must not say otherwise.
pub(crate) fn find_b2b_ids(
    fields: &B2bFields,
    pairs: &[(&str, &str)],
    what: &str,
    company: Option<&str>,
) -> Result<B2bIds, ContractError> {
    let lookup = |wanted: &[String]| -> Option<(String, String)> {
        wanted.iter().find_map(|name| {
            pairs
                .iter()
                .find(|(key, value)| {
                    key.trim().eq_ignore_ascii_case(name.trim()) && !value.trim().is_empty()
                })
                .map(|(key, value)| ((*key).to_owned(), value.trim().to_owned()))
        })
    };
    let mut ids = B2bIds::default();
    if let Some((key, value)) = lookup(&fields.cvr) {
        ids.cvr = Some(normalise_cvr(&value).ok_or_else(|| {
            ContractError::new(
                format!("{what}[{key}]"),
                "is not a Danish CVR number (8 digits, optionally prefixed DK)",
            )
        })?);
    }
    if let Some((key, value)) = lookup(&fields.ean) {
        let digits: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ContractError::new(
                format!("{what}[{key}]"),
                "is not a 13-digit EAN location number",
            ));
        }
        ids.ean = Some(digits);
    }
    if let Some((key, value)) = lookup(&fields.eu_vat_number) {
        let compact: String = value
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
            .collect::<String>()
            .to_ascii_uppercase();
        let valid = compact.len() >= 4
            && compact.len() <= 16
            && compact.as_bytes()[..2].iter().all(u8::is_ascii_uppercase)
            && compact.bytes().all(|b| b.is_ascii_alphanumeric());
        if !valid {
            return Err(ContractError::new(
                format!("{what}[{key}]"),
                "is not an EU VAT number (country prefix and number, e.g. SE556677889901)",
            ));
        }
        if compact.starts_with("DK") && ids.cvr.is_none() {
            // A Danish "EU VAT number" is the CVR number with its prefix.
            ids.cvr = normalise_cvr(&compact);
        } else {
            ids.eu_vat_number = Some(compact);
        }
    }
    // Free texts: their lengths are checked with the translated order.
    ids.buyer_order_number = lookup(&fields.buyer_order_number).map(|(_, value)| value);
    ids.buyer_reference = lookup(&fields.buyer_reference).map(|(_, value)| value);
    if fields.from_company {
        if let Some(company) = company {
            if ids.cvr.is_none() {
                ids.cvr = number_after(company, "CVR", 8);
            }
            if ids.ean.is_none() {
                ids.ean = number_after(company, "EAN", 13);
            }
        }
    }
    Ok(ids)
}

/// `12345678`, `DK12345678`, `DK 12 34 56 78` → `12345678`.
fn normalise_cvr(value: &str) -> Option<String> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    let digits = compact
        .strip_prefix("DK")
        .or_else(|| compact.strip_prefix("dk"))
        .unwrap_or(&compact);
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.to_owned())
}

/// The `len` digits written after `marker` in a free text such as
/// `"Firma ApS, CVR: 12 34 56 78"` (spaces between digits allowed), if the
/// digits that follow are exactly that many.
fn number_after(text: &str, marker: &str, len: usize) -> Option<String> {
    let upper = text.to_ascii_uppercase();
    let start = upper.find(marker)? + marker.len();
    let rest = text.get(start..)?;
    let rest = rest.trim_start_matches([' ', ':', '.', '-', '#']);
    let rest = rest.strip_prefix("nr").unwrap_or(rest);
    let rest = rest.trim_start_matches([' ', ':', '.', '-']);
    let mut digits = String::new();
    for c in rest.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if c == ' ' && !digits.is_empty() {
            continue;
        } else {
            break;
        }
    }
    (digits.len() == len).then_some(digits)
}

/// A platform order could not become an order of the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TranslateError {
    /// Not the platform's order: the webhook answers 400 with the field.
    Malformed(ContractError),
    /// Well-formed, but it cannot be invoiced exactly (the field says why).
    NotInvoiceable(ContractError),
}

impl fmt::Display for TranslateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TranslateError::Malformed(e) | TranslateError::NotInvoiceable(e) => e.fmt(f),
        }
    }
}

/// serde → a malformed-body error naming the platform field's JSON path.
pub(crate) fn parse_platform_json<'a, T: Deserialize<'a>>(
    body: &'a [u8],
) -> Result<T, ContractError> {
    let text = std::str::from_utf8(body).map_err(|e| {
        ContractError::new(
            "",
            format!("not valid UTF-8 (bad byte at offset {})", e.valid_up_to()),
        )
    })?;
    if !text.trim_start().starts_with('{') {
        return Err(ContractError::new("", "expected a JSON object"));
    }
    // Fast path: a well-formed body parses in one plain pass; only a
    // broken one pays for tracking the path of the problem.
    if let Ok(value) = serde_json::from_str::<T>(text) {
        return Ok(value);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let mut field = if path == "." { String::new() } else { path };
        let inner = e.inner().to_string();
        let mut message = match inner.rfind(" at line ") {
            Some(i) => inner[..i].to_owned(),
            None => inner,
        };
        if let Some(name) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.strip_suffix('`'))
        {
            field = if field.is_empty() {
                name.to_owned()
            } else {
                format!("{field}.{name}")
            };
            message = "missing".to_owned();
        }
        ContractError::new(field, message)
    })?;
    deserializer
        .end()
        .map_err(|_| ContractError::new("", "trailing characters after the JSON object"))?;
    Ok(value)
}

/// Checks the translated order against the contract's own rules; a
/// violation means the platform's order cannot be invoiced as it is.
pub(crate) fn validate_translated(
    order: Order,
    platform: Platform,
) -> Result<Order, ContractError> {
    validate_order(&order).map_err(|e| {
        ContractError::new(
            e.field.clone(),
            format!(
                "{} (in the order the {} order translates to)",
                e.message,
                platform.display_name()
            ),
        )
    })?;
    Ok(order)
}

/// The envelope a platform order is stored in.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlatformSnapshot<'a> {
    pub platform: Platform,
    /// Shopify: the `X-Shopify-API-Version` header; WooCommerce: the
    /// order's `version` (the WooCommerce version that wrote it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_version: Option<String>,
    /// The Shopify topic or WooCommerce status that delivered it.
    pub event: String,
    #[serde(borrow)]
    pub payload: &'a RawValue,
}

/// The key a platform snapshot starts with; a contract snapshot (the
/// shop's `order` object) never does, as the bridge writes this one.
const SNAPSHOT_MARKER: &str = r#"{"platform":"#;

/// The stored text for a platform order: the body exactly as received.
/// `body` must be a JSON object the platform's `parse` accepted (`None`
/// when it is not even UTF-8 text starting with `{`).
pub fn platform_snapshot(
    platform: Platform,
    payload_version: Option<&str>,
    event: &str,
    body: &[u8],
) -> Option<String> {
    let payload = std::str::from_utf8(body).ok()?.trim();
    if !payload.starts_with('{') {
        return None;
    }
    // Written by hand rather than through serde: the body was parsed
    // already, and re-reading 10 KB to copy it verbatim is half the cost
    // of ingesting it.
    let version = payload_version
        .map(|v| truncate(v.trim(), 40))
        .filter(|v| !v.is_empty());
    let mut text = String::with_capacity(payload.len() + 120);
    text.push_str(SNAPSHOT_MARKER);
    text.push_str(&serde_json::to_string(&platform).ok()?);
    if let Some(version) = version {
        text.push_str(r#","payload_version":"#);
        text.push_str(&serde_json::to_string(version).ok()?);
    }
    text.push_str(r#","event":"#);
    text.push_str(&serde_json::to_string(truncate(event, 60)).ok()?);
    text.push_str(r#","payload":"#);
    text.push_str(payload);
    text.push('}');
    Some(text)
}

/// The order a stored snapshot stands for: a contract order as it is, a
/// platform order translated with the shop's platform settings.
pub fn order_from_snapshot(
    snapshot: &str,
    platform: Option<&PlatformConfig>,
) -> Result<Order, ContractError> {
    if crate::domain::personal_data::is_erased(snapshot) {
        return Err(ContractError::new(
            "",
            "the order's personal data was erased on request: it can no longer be invoiced",
        ));
    }
    if !snapshot.starts_with(SNAPSHOT_MARKER) {
        return parse_order(snapshot);
    }
    let envelope: PlatformSnapshot<'_> = serde_json::from_str(snapshot)
        .map_err(|e| ContractError::new("", format!("unreadable platform snapshot: {e}")))?;
    let body = envelope.payload.get().as_bytes();
    let in_platform = |e: TranslateError| {
        let e = match e {
            TranslateError::Malformed(e) | TranslateError::NotInvoiceable(e) => e,
        };
        ContractError::new(
            e.field,
            format!(
                "{} (in the {} order)",
                e.message,
                envelope.platform.display_name()
            ),
        )
    };
    match (envelope.platform, platform) {
        (Platform::Shopify, Some(PlatformConfig::Shopify(config))) => {
            shopify::translate_body(body, config).map_err(in_platform)
        }
        (Platform::Woocommerce, Some(PlatformConfig::Woocommerce(config))) => {
            woocommerce::translate_body(body, config).map_err(in_platform)
        }
        (stored, _) => Err(ContractError::new(
            "",
            format!(
                "the order came from {} but the shop is no longer configured for {}",
                stored.display_name(),
                stored.display_name()
            ),
        )),
    }
}

/// What crediting a stored refund takes.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredRefund {
    /// The refund, ready to credit.
    Ready(crate::domain::order::refund::Refund),
    /// A WooCommerce refund on an order with several VAT rates: its lines
    /// are read from the shop's REST API first
    /// ([`refund_from_snapshot_with_lines`]).
    FetchWoocommerceLines { order_id: String, refund_id: String },
}

/// The refund a stored refund record holds (our contract's
/// `order.refunded`, a Shopify `refunds/create`, a refund listed in a
/// WooCommerce order), translated with the shop's platform settings, or
/// what must be fetched to credit it.
pub fn stored_refund(
    snapshot: &str,
    platform: Option<&PlatformConfig>,
) -> Result<StoredRefund, ContractError> {
    if !snapshot.starts_with(SNAPSHOT_MARKER) {
        return crate::domain::order::refund::parse_refund(snapshot).map(StoredRefund::Ready);
    }
    let envelope: PlatformSnapshot<'_> = serde_json::from_str(snapshot)
        .map_err(|e| ContractError::new("", format!("unreadable platform snapshot: {e}")))?;
    let in_shopify = |e: ContractError| {
        ContractError::new(e.field, format!("{} (in the Shopify refund)", e.message))
    };
    let body = envelope.payload.get().as_bytes();
    let woo_refund = envelope
        .event
        .strip_prefix(woocommerce_refund::REFUND_EVENT_PREFIX);
    match (envelope.platform, envelope.event.as_str()) {
        (Platform::Shopify, shopify_refund::REFUNDS_CREATE) => {
            let refund = shopify_refund::parse(body).map_err(in_shopify)?;
            shopify_refund::translate(&refund)
                .map(StoredRefund::Ready)
                .map_err(in_shopify)
        }
        (Platform::Woocommerce, _) if woo_refund.is_some() => {
            let config = woocommerce_settings(platform)?;
            match woocommerce_refund::source(body, woo_refund.unwrap_or_default(), config)
                .map_err(in_woo_order)?
            {
                woocommerce_refund::RefundSource::Listed(refund) => Ok(StoredRefund::Ready(refund)),
                woocommerce_refund::RefundSource::Fetch {
                    order_id,
                    refund_id,
                } => Ok(StoredRefund::FetchWoocommerceLines {
                    order_id,
                    refund_id,
                }),
            }
        }
        (platform, event) => Err(ContractError::new(
            "",
            format!(
                "a {} `{event}` snapshot is not a refund",
                platform.display_name()
            ),
        )),
    }
}

/// The refund a stored refund record holds, when nothing has to be
/// fetched to credit it (see [`stored_refund`]).
pub fn refund_from_snapshot(
    snapshot: &str,
    platform: Option<&PlatformConfig>,
) -> Result<crate::domain::order::refund::Refund, ContractError> {
    match stored_refund(snapshot, platform)? {
        StoredRefund::Ready(refund) => Ok(refund),
        StoredRefund::FetchWoocommerceLines { refund_id, .. } => Err(ContractError::new(
            "refunds",
            format!("WooCommerce refund {refund_id} needs its lines from the WooCommerce REST API"),
        )),
    }
}

/// A stored WooCommerce refund with its lines as the REST API returned
/// them (`fetched`, the body of `GET …/orders/{id}/refunds/{refund_id}`).
pub fn refund_from_snapshot_with_lines(
    snapshot: &str,
    platform: Option<&PlatformConfig>,
    fetched: &[u8],
) -> Result<crate::domain::order::refund::Refund, ContractError> {
    let envelope: PlatformSnapshot<'_> = serde_json::from_str(snapshot)
        .map_err(|e| ContractError::new("", format!("unreadable platform snapshot: {e}")))?;
    let Some(refund_id) = envelope
        .event
        .strip_prefix(woocommerce_refund::REFUND_EVENT_PREFIX)
        .filter(|_| envelope.platform == Platform::Woocommerce)
    else {
        return Err(ContractError::new(
            "",
            format!(
                "a `{}` snapshot is not a WooCommerce refund",
                envelope.event
            ),
        ));
    };
    let config = woocommerce_settings(platform)?;
    woocommerce_refund::translate_fetched(
        envelope.payload.get().as_bytes(),
        refund_id,
        fetched,
        config,
    )
    .map_err(|e| {
        ContractError::new(
            e.field,
            format!(
                "{} (in the WooCommerce refund from the REST API)",
                e.message
            ),
        )
    })
}

fn woocommerce_settings(
    platform: Option<&PlatformConfig>,
) -> Result<&crate::domain::shop::WoocommerceConfig, ContractError> {
    match platform {
        Some(PlatformConfig::Woocommerce(config)) => Ok(config),
        _ => Err(ContractError::new(
            "",
            "the refund came from WooCommerce but the shop is no longer configured for it",
        )),
    }
}

fn in_woo_order(e: ContractError) -> ContractError {
    ContractError::new(e.field, format!("{} (in the WooCommerce order)", e.message))
}

/// The secrets a platform signs with, for the shop's configuration.
pub fn platform_secrets(config: &PlatformConfig) -> &[WebhookSecret] {
    match config {
        PlatformConfig::Shopify(c) => &c.secrets,
        PlatformConfig::Woocommerce(c) => &c.secrets,
    }
}

/// An id written as a JSON integer or string (platforms use both), kept as
/// its digits.
pub(crate) fn deserialize_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    struct IdVisitor;
    impl Visitor<'_> for IdVisitor {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer or string id")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            if v.trim().is_empty() {
                return Err(E::custom("must not be empty"));
            }
            Ok(v.to_owned())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }
    deserializer.deserialize_any(IdVisitor)
}

/// An amount as [`parse_json_decimal`] reads it (a string or a number,
/// every digit kept), from the value's JSON text in the body itself rather
/// than a copy of it. Needs a deserializer that borrows from its input
/// (`serde_json::from_str` / `from_slice`), as [`parse_platform_json`] is.
pub(crate) fn borrowed_decimal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Decimal, D::Error> {
    let raw = <&'de RawValue>::deserialize(deserializer)?;
    parse_json_decimal(raw.get()).map_err(de::Error::custom)
}

/// Like [`deserialize_id`], `null` or absent as `None`.
pub(crate) fn deserialize_optional_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    struct Id(#[serde(deserialize_with = "deserialize_id")] String);
    Ok(Option::<Id>::deserialize(deserializer)?.map(|id| id.0))
}

/// A list that may be `null` (read as empty).
pub(crate) fn null_as_empty<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A text that may be `null`, trimmed; empty as `None`.
pub(crate) fn clean<S: AsRef<str>>(value: &Option<S>) -> Option<String> {
    value
        .as_ref()
        .map(|v| v.as_ref().trim())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// At most `max` characters of `s`.
fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Adds up amounts, reporting the field whose sum left the representable range.
pub(crate) fn checked_sum(
    total: Decimal,
    add: Decimal,
    field: impl Fn() -> String,
) -> Result<Decimal, ContractError> {
    total
        .checked_add(add)
        .ok_or_else(|| ContractError::new(field(), "amounts too large to add up"))
}

/// Percent from a fraction (`0.25` → `25`), as Shopify writes rates.
pub(crate) fn percent(fraction: Decimal) -> Option<Decimal> {
    fraction
        .checked_mul(Decimal::ONE_HUNDRED)
        .map(|p| p.normalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b2b_ids_from_pairs_and_company() {
        let fields = B2bFields::shopify_defaults();
        let ids = find_b2b_ids(
            &fields,
            &[("cvr", " DK 12345678 "), ("EAN-nummer", "5790000123456")],
            "note_attributes",
            None,
        )
        .unwrap();
        assert_eq!(ids.cvr.as_deref(), Some("12345678"));
        assert_eq!(ids.ean.as_deref(), Some("5790000123456"));
        assert_eq!(ids.eu_vat_number, None);

        let ids = find_b2b_ids(
            &fields,
            &[],
            "note_attributes",
            Some("Firma ApS, CVR: 12 34 56 78"),
        )
        .unwrap();
        assert_eq!(ids.cvr.as_deref(), Some("12345678"));
        // Seven digits are not a CVR number.
        let ids = find_b2b_ids(
            &fields,
            &[],
            "note_attributes",
            Some("Firma ApS CVR 1234567"),
        )
        .unwrap();
        assert_eq!(ids.cvr, None);

        let ids = find_b2b_ids(
            &fields,
            &[("VAT number", "se 5566778899-01")],
            "note_attributes",
            None,
        )
        .unwrap();
        assert_eq!(ids.eu_vat_number.as_deref(), Some("SE556677889901"));
        let ids = find_b2b_ids(
            &fields,
            &[("vat_number", "DK12345678")],
            "note_attributes",
            None,
        )
        .unwrap();
        assert_eq!(ids.cvr.as_deref(), Some("12345678"));
        assert_eq!(ids.eu_vat_number, None);
    }

    #[test]
    fn buyer_references_are_read_from_their_fields() {
        let fields = B2bFields::shopify_defaults();
        let ids = find_b2b_ids(
            &fields,
            &[
                ("EAN", "5790000123456"),
                ("rekvisitionsnummer", " REK-42 "),
                ("Personreference", "Jens Jensen"),
            ],
            "note_attributes",
            None,
        )
        .unwrap();
        assert_eq!(ids.buyer_order_number.as_deref(), Some("REK-42"));
        assert_eq!(ids.buyer_reference.as_deref(), Some("Jens Jensen"));
        let fields = B2bFields::woocommerce_defaults();
        let ids = find_b2b_ids(
            &fields,
            &[
                ("_billing_buyer_order_number", "PO 7"),
                ("buyer_reference", " "),
            ],
            "meta_data",
            None,
        )
        .unwrap();
        assert_eq!(ids.buyer_order_number.as_deref(), Some("PO 7"));
        assert_eq!(ids.buyer_reference, None);
    }

    #[test]
    fn a_present_but_invalid_identifier_names_its_field() {
        let fields = B2bFields::shopify_defaults();
        let err =
            find_b2b_ids(&fields, &[("EAN", "57900001234")], "note_attributes", None).unwrap_err();
        assert_eq!(err.field, "note_attributes[EAN]");
        let err = find_b2b_ids(&fields, &[("CVR", "ABC")], "note_attributes", None).unwrap_err();
        assert_eq!(err.field, "note_attributes[CVR]");
    }

    #[test]
    fn snapshot_envelope_keeps_the_body_verbatim() {
        let body = br#"{"id": 1, "total_price": "10.10"}"#;
        let text =
            platform_snapshot(Platform::Shopify, Some("2025-07"), "orders/paid", body).unwrap();
        assert!(text.starts_with(SNAPSHOT_MARKER));
        let envelope: PlatformSnapshot<'_> = serde_json::from_str(&text).unwrap();
        assert_eq!(
            envelope.payload.get(),
            r#"{"id": 1, "total_price": "10.10"}"#
        );
        assert_eq!(envelope.payload_version.as_deref(), Some("2025-07"));
        assert_eq!(envelope.event, "orders/paid");
        let odd = platform_snapshot(Platform::Woocommerce, Some("9.4 \"beta\""), "on-hold", body)
            .unwrap();
        let envelope: PlatformSnapshot<'_> = serde_json::from_str(&odd).unwrap();
        assert_eq!(envelope.platform, Platform::Woocommerce);
        assert_eq!(envelope.payload_version.as_deref(), Some("9.4 \"beta\""));
        assert_eq!(envelope.event, "on-hold");
        assert_eq!(
            platform_snapshot(Platform::Shopify, None, "orders/paid", b"[1]"),
            None
        );
        // Without the shop's platform settings it cannot be translated.
        let err = order_from_snapshot(&text, None).unwrap_err();
        assert!(
            err.message.contains("no longer configured for Shopify"),
            "{err}"
        );
    }
}
