//! The orders table's item codec: attribute values to and from the
//! domain's [`OrderRecord`].

use crate::domain::lifecycle::{HistoryEntry, Label, OrderRecord};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

pub use crate::domain::lifecycle::{HISTORY_LIMIT, WEBHOOK_IDS_LIMIT};

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
pub(super) fn history_value(history: &[HistoryEntry]) -> AttributeValue {
    let start = history.len().saturating_sub(HISTORY_LIMIT);
    AttributeValue::L(
        history[start..]
            .iter()
            .map(|h| {
                AttributeValue::M(HashMap::from([
                    ("at".to_owned(), n(h.at)),
                    ("what".to_owned(), s(h.what.clone())),
                ]))
            })
            .collect(),
    )
}
pub(super) fn history_entry(at: i64, what: &str) -> AttributeValue {
    AttributeValue::L(vec![AttributeValue::M(HashMap::from([
        ("at".to_owned(), n(at)),
        ("what".to_owned(), s(what)),
    ]))])
}

fn corrupt(field: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        field,
        message: message.into(),
    }
}

pub(super) fn get_s(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<String, StoreError> {
    match item.get(field) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        Some(_) => Err(corrupt(field, "not a string")),
        None => Err(corrupt(field, "missing")),
    }
}

fn opt_s(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<Option<String>, StoreError> {
    match item.get(field) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(_) => Err(corrupt(field, "not a string")),
    }
}

pub(super) fn get_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<T, StoreError> {
    opt_n(item, field)?.ok_or_else(|| corrupt(field, "missing"))
}

fn opt_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<Option<T>, StoreError> {
    match item.get(field) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| corrupt(field, format!("not a valid number: {v}"))),
        Some(_) => Err(corrupt(field, "not a number")),
    }
}

/// The snapshot: compressed (binary, see [`super::snapshot`]) or, in items
/// written before that, the JSON text itself.
fn snapshot_text(item: &HashMap<String, AttributeValue>) -> Result<Option<String>, StoreError> {
    match item.get("snapshot") {
        Some(AttributeValue::B(stored)) => super::snapshot::decode(stored.as_ref())
            .map(Some)
            .map_err(|e| corrupt("snapshot", e.to_string())),
        _ => opt_s(item, "snapshot"),
    }
}

/// The stored form of a snapshot.
pub(super) fn snapshot_value(snapshot: &str) -> AttributeValue {
    AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
        super::snapshot::encode(snapshot),
    ))
}

/// Reads an orders-table item; a field of the wrong shape is `Corrupt`
/// naming it.
pub fn order_record(item: &HashMap<String, AttributeValue>) -> Result<OrderRecord, StoreError> {
    let label_text = get_s(item, "label")?;
    let label = Label::parse(&label_text)
        .ok_or_else(|| corrupt("label", format!("unknown label {label_text}")))?;
    let events = match item.get("events") {
        None => Vec::new(),
        Some(AttributeValue::Ss(v)) => v.clone(),
        Some(_) => return Err(corrupt("events", "not a string set")),
    };
    let webhook_ids = match item.get("webhook_ids") {
        None => Vec::new(),
        Some(AttributeValue::L(v)) => v
            .iter()
            .map(|x| match x {
                AttributeValue::S(id) => Ok(id.clone()),
                _ => Err(corrupt("webhook_ids", "entry is not a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt("webhook_ids", "not a list")),
    };
    let history = match item.get("history") {
        None => Vec::new(),
        Some(AttributeValue::L(v)) => v
            .iter()
            .map(|x| match x {
                AttributeValue::M(m) => Ok(HistoryEntry {
                    at: get_n(m, "at")?,
                    what: get_s(m, "what")?,
                }),
                _ => Err(corrupt("history", "entry is not a map")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(corrupt("history", "not a list")),
    };
    let create_started = match item.get("create_started") {
        None => false,
        Some(AttributeValue::Bool(b)) => *b,
        Some(_) => return Err(corrupt("create_started", "not a boolean")),
    };
    Ok(OrderRecord {
        shop_id: get_s(item, "shop_id")?,
        order_id: get_s(item, "order_id")?,
        label,
        snapshot: snapshot_text(item)?,
        snapshot_rank: opt_n(item, "snapshot_rank")?.unwrap_or(0),
        events,
        webhook_ids,
        attempts: opt_n(item, "attempts")?.unwrap_or(0),
        last_error: opt_s(item, "last_error")?,
        draft_invoice_number: opt_n(item, "draft_invoice_number")?,
        booked_invoice_number: opt_n(item, "booked_invoice_number")?,
        customer_number: opt_n(item, "customer_number")?,
        economic_calls: opt_n(item, "economic_calls")?,
        created_at: opt_n(item, "created_at")?.unwrap_or(0),
        updated_at: opt_n(item, "updated_at")?.unwrap_or(0),
        pending_since: opt_n(item, "pending_since")?,
        lease_until: opt_n(item, "lease_until")?,
        lease_owner: opt_s(item, "lease_owner")?,
        create_started,
        history,
        version: opt_n(item, "version")?.unwrap_or(0),
        rescan_after: opt_n(item, "rescan_after")?,
        expires_at: opt_n(item, "expires_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_item_names_the_field() {
        let item = HashMap::from([
            ("shop_id".to_owned(), s("shop")),
            ("order_id".to_owned(), s("1")),
            ("label".to_owned(), s("e-conomic-ok")),
            ("attempts".to_owned(), s("three")),
        ]);
        match order_record(&item) {
            Err(StoreError::Corrupt { field, .. }) => assert_eq!(field, "attempts"),
            other => panic!("expected corrupt attempts, got {other:?}"),
        }
    }

    #[test]
    fn history_is_bounded_to_the_newest_entries() {
        let history: Vec<HistoryEntry> = (0..(HISTORY_LIMIT as i64 + 5))
            .map(|i| HistoryEntry {
                at: i,
                what: format!("step {i}"),
            })
            .collect();
        let AttributeValue::L(items) = history_value(&history) else {
            panic!("history is a list")
        };
        assert_eq!(items.len(), HISTORY_LIMIT);
        let AttributeValue::M(first) = &items[0] else {
            panic!("entry is a map")
        };
        assert_eq!(first.get("at"), Some(&n(5)));
    }
}
