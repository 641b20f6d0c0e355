//! Lossless decimals from JSON: an amount may arrive as a string (`"12.50"`)
//! or as a JSON number (`12.50`); both keep every digit the sender wrote.
//!
//! serde_json turns numbers into `f64` before a visitor sees them, so this
//! reads the raw JSON text instead. It therefore needs serde_json's own
//! deserializer (`from_slice` / `from_str`), not a `serde_json::Value`.

use rust_decimal::Decimal;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use std::str::FromStr;

/// Parses the JSON text of one value (a string or a number) as a decimal.
pub fn parse_json_decimal(raw: &str) -> Result<Decimal, String> {
    let raw = raw.trim();
    let text: std::borrow::Cow<'_, str> = if raw.starts_with('"') {
        // Borrowed when there is no escape to undo (almost always): no copy.
        match serde_json::from_str::<&str>(raw) {
            Ok(s) => s.into(),
            Err(_) => match serde_json::from_str::<String>(raw) {
                Ok(s) => s.into(),
                Err(_) => return Err("expected a decimal string".into()),
            },
        }
    } else if raw.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
        raw.into()
    } else {
        return Err(format!(
            "expected a decimal amount (a string like \"12.50\" or a number), found {}",
            json_kind(raw)
        ));
    };
    let text = text.trim();
    let parsed = if text.contains(['e', 'E']) {
        Decimal::from_scientific(text)
    } else {
        Decimal::from_str_exact(text)
    };
    parsed.map_err(|_| format!("`{}` is not a decimal amount", truncate(text, 40)))
}

fn json_kind(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't') | Some(b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "something else",
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

pub fn deserialize_decimal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Decimal, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    parse_json_decimal(raw.get()).map_err(D::Error::custom)
}

pub fn deserialize_optional_decimal<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    let raw = Option::<Box<RawValue>>::deserialize(deserializer)?;
    match raw {
        None => Ok(None),
        Some(raw) if raw.get().trim() == "null" => Ok(None),
        Some(raw) => parse_json_decimal(raw.get())
            .map(Some)
            .map_err(D::Error::custom),
    }
}

/// Parses `Decimal` from plain text (used where a string is already in hand).
pub fn parse_decimal_text(text: &str) -> Option<Decimal> {
    Decimal::from_str(text.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[derive(Deserialize)]
    struct Amount {
        #[serde(deserialize_with = "deserialize_decimal")]
        value: Decimal,
    }

    fn amount(json: &str) -> Result<Decimal, String> {
        serde_json::from_str::<Amount>(json)
            .map(|a| a.value)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn strings_and_numbers_keep_every_digit() {
        assert_eq!(amount(r#"{"value":"12.50"}"#).unwrap(), dec!(12.50));
        assert_eq!(amount(r#"{"value":12.50}"#).unwrap().to_string(), "12.50");
        // A float would turn 0.1 + many digits into a different value.
        assert_eq!(
            amount(r#"{"value":1234567.8912345678912345}"#).unwrap(),
            amount(r#"{"value":"1234567.8912345678912345"}"#).unwrap()
        );
        assert_eq!(amount(r#"{"value":0.1}"#).unwrap().to_string(), "0.1");
        assert_eq!(amount(r#"{"value":1e2}"#).unwrap(), dec!(100));
        assert_eq!(amount(r#"{"value":-3}"#).unwrap(), dec!(-3));
    }

    #[test]
    fn wrong_kinds_are_named() {
        assert!(amount(r#"{"value":true}"#)
            .unwrap_err()
            .contains("a boolean"));
        assert!(amount(r#"{"value":"abc"}"#)
            .unwrap_err()
            .contains("not a decimal"));
        assert!(amount(r#"{"value":{}}"#).unwrap_err().contains("an object"));
    }
}
