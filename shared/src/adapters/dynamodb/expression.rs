//! DynamoDB expressions over the orders table: every attribute name is
//! aliased (`label`, `snapshot`... are reserved words), and a failed
//! condition is told apart from other errors.

use std::collections::HashMap;

/// Every attribute the orders table uses in expressions.
const ATTRIBUTES: &[&str] = &[
    "shop_id",
    "order_id",
    "label",
    "snapshot",
    "snapshot_rank",
    "events",
    "webhook_ids",
    "history",
    "updated_at",
    "created_at",
    "transferred_at",
    "attempts",
    "create_started",
    "version",
    "rescan_key",
    "rescan_after",
    "pending_since",
    "last_error",
    "lease_until",
    "lease_owner",
    "customer_number",
    "economic_calls",
    "expires_at",
    "draft_invoice_number",
    "booked_invoice_number",
];

/// Rewrites bare attribute names to `#name` placeholders.
pub(super) fn alias(expression: &str) -> String {
    let mut out = String::with_capacity(expression.len() + 16);
    let mut word = String::new();
    let mut previous: Option<char> = None;
    let flush = |word: &mut String, out: &mut String, previous: Option<char>| {
        if !word.is_empty() {
            let placeholder = matches!(previous, Some(':') | Some('#'));
            if !placeholder && ATTRIBUTES.contains(&word.as_str()) {
                out.push('#');
            }
            out.push_str(word);
            word.clear();
        }
    };
    let mut word_start_prev: Option<char> = None;
    for c in expression.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if word.is_empty() {
                word_start_prev = previous;
            }
            word.push(c);
        } else {
            flush(&mut word, &mut out, word_start_prev);
            out.push(c);
        }
        previous = Some(c);
    }
    flush(&mut word, &mut out, word_start_prev);
    out
}

/// The `#name → name` map for the placeholders used in `expressions`.
pub(super) fn names_in(expressions: &[&str]) -> HashMap<String, String> {
    ATTRIBUTES
        .iter()
        .filter(|name| {
            let placeholder = format!("#{name}");
            expressions.iter().any(|e| {
                e.match_indices(&placeholder).any(|(i, _)| {
                    e[i + placeholder.len()..]
                        .chars()
                        .next()
                        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
                })
            })
        })
        .map(|name| (format!("#{name}"), (*name).to_owned()))
        .collect()
}

/// The write's condition did not hold (not a failure of DynamoDB).
pub(crate) fn is_conditional_failure<E>(err: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

/// A conditional write's answer: `Err(Conflict)` when its condition did not
/// hold, `Unavailable` for any other failure.
pub(super) fn conditional_write<T, E>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E>>,
) -> Result<(), crate::ports::StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_conditional_failure(&e) => Err(crate::ports::StoreError::Conflict),
        Err(e) => Err(super::unavailable(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_names_are_aliased_but_placeholders_and_functions_are_not() {
        let e = alias("SET label = :label, attempts = if_not_exists(attempts, :zero) + :one");
        assert_eq!(
            e,
            "SET #label = :label, #attempts = if_not_exists(#attempts, :zero) + :one"
        );
        let names = names_in(&[&e]);
        assert_eq!(names.len(), 2);
        assert_eq!(names.get("#label").map(String::as_str), Some("label"));
        // `#snapshot` must not count as a use of `#snapshot_rank`.
        assert_eq!(names_in(&["#snapshot_rank"]).len(), 1);
    }
}
