//! Bytes to an order event: one pass of serde with the JSON path of the
//! first problem, then the contract's own checks ([`super::validate`]).

use super::model::*;
use super::validate::{is_version_one, validate};
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", default, borrow)]
    event_type: Option<&'a RawValue>,
    #[serde(default, borrow)]
    version: Option<&'a RawValue>,
    #[serde(default, borrow)]
    order: Option<&'a RawValue>,
    #[serde(default, borrow)]
    refund: Option<&'a RawValue>,
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

    if event_type_text == super::refund::REFUND_EVENT_TYPE {
        let refund_raw = envelope
            .refund
            .ok_or_else(|| ContractError::new("refund", "missing"))?;
        return super::refund::parse_refund(refund_raw.get()).map(ParsedEvent::Refund);
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
    let order: Order = deserialize_member(json, "order")?;
    validate(&order)?;
    Ok(order)
}

/// Deserialises the JSON text of the body's member `member` (`order`,
/// `refund`), naming a problem by its path under `member`.
pub(super) fn deserialize_member<T: serde::de::DeserializeOwned>(
    json: &str,
    member: &str,
) -> Result<T, ContractError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        let mut field = if path == "." || path.is_empty() {
            member.to_owned()
        } else {
            format!("{member}.{path}")
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
        .map_err(|e| ContractError::new(member, clean_serde_message(&e.to_string())))?;
    Ok(value)
}

/// serde_json appends " at line L column C"; the field path says more.
fn clean_serde_message(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
