//! Erasing a customer's personal data from the bridge's records (GDPR
//! art. 17): which orders are the customer's, and what of an order is kept
//! afterwards. The invoice numbers, the debtor number, the label and the
//! history stay on the record; the snapshot (names, e-mail, phone,
//! addresses, the whole webhook body) is replaced by the order's id,
//! currency and total.

use rust_decimal::Decimal;
use serde_json::Value;

/// How an erased snapshot begins: the transfer refuses such an order with
/// a clear reason instead of failing to parse it.
pub const ERASED_MARKER: &str = r#"{"erased":true"#;

/// The history line an erasure adds.
pub const ERASED_HISTORY: &str =
    "personal data erased on request (GDPR art. 17): the snapshot keeps only the order id, currency and total";

/// Whether `snapshot` (the contract's JSON or a platform's envelope) holds
/// `email` anywhere, compared without case and surrounding blanks.
pub fn snapshot_mentions_email(snapshot: &str, email: &str) -> bool {
    let wanted = email.trim();
    if wanted.is_empty() || !wanted.contains('@') {
        return false;
    }
    match serde_json::from_str::<Value>(snapshot) {
        Ok(value) => mentions(&value, wanted),
        // Unreadable: fall back to the text itself, so a record we cannot
        // parse is still found (and erased) rather than silently kept.
        Err(_) => contains_ignoring_case(snapshot, wanted),
    }
}

fn mentions(value: &Value, wanted: &str) -> bool {
    match value {
        Value::String(text) => text.trim().eq_ignore_ascii_case(wanted),
        Value::Array(items) => items.iter().any(|v| mentions(v, wanted)),
        Value::Object(map) => map.values().any(|v| mentions(v, wanted)),
        _ => false,
    }
}

fn contains_ignoring_case(text: &str, wanted: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&wanted.to_ascii_lowercase())
}

/// Whether a snapshot is one [`erased_snapshot`] wrote.
pub fn is_erased(snapshot: &str) -> bool {
    snapshot.starts_with(ERASED_MARKER)
}

/// What remains of an order's snapshot after an erasure.
pub fn erased_snapshot(
    order_id: &str,
    currency: Option<&str>,
    total: Option<Decimal>,
    erased_at: &str,
) -> String {
    // Written by hand so the marker is the text's first bytes.
    let mut text = String::from(ERASED_MARKER);
    let field = |name: &str, value: &str| format!(",{}:{}", Value::from(name), Value::from(value));
    text.push_str(&field("erased_at", erased_at));
    text.push_str(&field("order_id", order_id));
    if let Some(currency) = currency {
        text.push_str(&field("currency", currency));
    }
    if let Some(total) = total {
        text.push_str(&field("total", &total.to_string()));
    }
    text.push('}');
    text
}

/// `text` with every occurrence of `email` (any case) replaced, for
/// reasons and notes that may quote it.
pub fn scrub_email(text: &str, email: &str) -> String {
    let wanted = email.trim().to_ascii_lowercase();
    if wanted.is_empty() {
        return text.to_owned();
    }
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(found) = lower[from..].find(&wanted) {
        let at = from + found;
        out.push_str(&text[from..at]);
        out.push_str("[erased]");
        from = at + wanted.len();
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn an_email_is_found_anywhere_in_the_snapshot_without_case() {
        let contract = r#"{"type":"order.paid","order":{"customer":{"email":"Mette@Example.DK"}}}"#;
        assert!(snapshot_mentions_email(contract, " mette@example.dk "));
        let shopify =
            r#"{"platform":"shopify","payload":{"email":"x@y.dk","customer":{"email":"x@y.dk"}}}"#;
        assert!(snapshot_mentions_email(shopify, "X@Y.DK"));
        let woo = r#"{"platform":"woocommerce","payload":{"billing":{"email":"kunde@butik.dk"}}}"#;
        assert!(snapshot_mentions_email(woo, "kunde@butik.dk"));
        // Another customer, a part of an address, or no address at all.
        assert!(!snapshot_mentions_email(contract, "other@example.dk"));
        assert!(!snapshot_mentions_email(contract, "example.dk"));
        assert!(!snapshot_mentions_email(contract, ""));
        assert!(!snapshot_mentions_email(
            r#"{"note":"write to mette@example.dk.old"}"#,
            "mette@example.dk"
        ));
        // Unreadable JSON is searched as text.
        assert!(snapshot_mentions_email(
            "{broken mette@example.dk",
            "mette@example.dk"
        ));
    }

    #[test]
    fn the_erased_snapshot_keeps_only_the_id_currency_and_total() {
        let erased = erased_snapshot(
            "1001",
            Some("DKK"),
            Some(dec!(239.00)),
            "2026-11-29T10:00:00Z",
        );
        assert!(is_erased(&erased));
        let value: Value = serde_json::from_str(&erased).expect("JSON");
        assert_eq!(
            value,
            serde_json::json!({"erased": true, "erased_at": "2026-11-29T10:00:00Z",
                "order_id": "1001", "currency": "DKK", "total": "239.00"})
        );
        let bare = erased_snapshot("a\"b", None, None, "t");
        let value: Value = serde_json::from_str(&bare).expect("quotes escaped");
        assert_eq!(value["order_id"], "a\"b");
        assert!(value.get("total").is_none());
        assert!(!is_erased(r#"{"type":"order.paid"}"#));
    }

    #[test]
    fn scrubbing_replaces_every_occurrence_in_any_case() {
        assert_eq!(
            scrub_email(
                "bad email Mette@Example.dk; again mette@example.DK.",
                "mette@example.dk"
            ),
            "bad email [erased]; again [erased]."
        );
        assert_eq!(scrub_email("nothing here", "a@b.c"), "nothing here");
        assert_eq!(scrub_email("x", " "), "x");
    }
}
