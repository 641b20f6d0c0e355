//! Typed e-conomic errors: what went wrong, whether retrying can help, and a
//! short reason a merchant can act on (the `e-conomic-failed` note).
//!
//! e-conomic's error body (REST docs, "Annotated errors"):
//! `{ message, developerHint, logId, httpStatusCode, logTime, errorCode?,
//!    errors: { <property>: { errors: [{ errorCode, message, value,
//!    developerHint }] }, lines: [{ arrayIndex, <property>: {...} }] } }`.
//! The per-property part mirrors the request document, nested and with
//! `arrayIndex` on array elements; it is flattened here into paths such as
//! `lines[0].unit`.

use rust_decimal::Decimal;
use serde_json::Value;
use std::fmt;
use std::time::Duration;

/// One per-property validation error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Path in the request document, e.g. `layout` or `lines[1].product`.
    pub path: String,
    pub error_code: Option<String>,
    pub message: String,
    /// The rejected value as e-conomic echoes it (ids and amounts; kept out
    /// of `Display` so logs never carry personal data).
    pub value: Option<String>,
}

/// An HTTP error answer from e-conomic, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `METHOD /path` without query string.
    pub operation: String,
    pub status: u16,
    pub message: String,
    pub error_code: Option<String>,
    pub developer_hint: Option<String>,
    pub log_id: Option<String>,
    pub field_errors: Vec<FieldError>,
    /// From the `Retry-After` header (429 / 503).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// Parses e-conomic's error body; tolerates bodies that are not JSON
    /// (a gateway's HTML page) by keeping a generic message.
    pub fn from_body(
        operation: String,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> ApiError {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let text = |v: &Value, key: &str| v.get(key).and_then(value_text);
        let mut field_errors = Vec::new();
        let (message, error_code, developer_hint, log_id) = match &parsed {
            Some(v @ Value::Object(_)) => {
                if let Some(errors) = v.get("errors") {
                    collect_field_errors(errors, "", &mut field_errors);
                }
                (
                    text(v, "message").unwrap_or_else(|| default_message(status)),
                    text(v, "errorCode"),
                    text(v, "developerHint"),
                    text(v, "logId"),
                )
            }
            _ => (default_message(status), None, None, None),
        };
        ApiError {
            operation,
            status,
            message,
            error_code,
            developer_hint,
            log_id,
            field_errors,
            retry_after,
        }
    }

    /// True when some field error is on `path` (exact) or below it.
    pub fn has_field_error(&self, path: &str) -> bool {
        self.field_errors.iter().any(|f| {
            f.path == path
                || f.path.starts_with(&format!("{path}."))
                || f.path.starts_with(&format!("{path}["))
        })
    }
}

fn default_message(status: u16) -> String {
    match status {
        401 => "Unauthorized".into(),
        403 => "Forbidden".into(),
        404 => "Not found".into(),
        429 => "Too many requests".into(),
        s if s >= 500 => "Server error".into(),
        _ => "Request rejected".into(),
    }
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Walks e-conomic's annotated `errors` document into flat field errors.
fn collect_field_errors(node: &Value, path: &str, out: &mut Vec<FieldError>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::Array(items)) = map.get("errors") {
                for item in items.iter().filter(|i| i.is_object()) {
                    out.push(FieldError {
                        path: path.to_string(),
                        error_code: item.get("errorCode").and_then(value_text),
                        message: item
                            .get("message")
                            .and_then(value_text)
                            .unwrap_or_else(|| "invalid".into()),
                        value: item.get("value").and_then(value_text),
                    });
                }
            }
            for (key, child) in map {
                if key == "errors" || key == "arrayIndex" {
                    continue;
                }
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                collect_field_errors(child, &child_path, out);
            }
        }
        Value::Array(items) => {
            for (position, item) in items.iter().enumerate() {
                let index = item
                    .get("arrayIndex")
                    .and_then(Value::as_u64)
                    .unwrap_or(position as u64);
                collect_field_errors(item, &format!("{path}[{index}]"), out);
            }
        }
        _ => {}
    }
}

/// Everything that can go wrong talking to e-conomic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EconomicError {
    /// e-conomic answered with an error status.
    #[error("e-conomic answered {} on {}: {}", .0.status, .0.operation, .0.message)]
    Api(Box<ApiError>),
    /// No answer within the request timeout. `sent`: the request may have
    /// reached e-conomic, so its effect is unknown.
    #[error("e-conomic did not answer {operation} in time")]
    Timeout { operation: String, sent: bool },
    /// The connection failed (refused, reset, dropped mid-answer).
    #[error("connection to e-conomic failed during {operation}: {detail}")]
    Connection {
        operation: String,
        detail: String,
        sent: bool,
    },
    /// e-conomic answered 2xx but the body was not what the API documents.
    #[error("unreadable e-conomic answer to {operation}: {detail}")]
    Decode { operation: String, detail: String },
    /// The draft's gross amount differs from the bridge's computation: the
    /// product's VAT code or the VAT zone in e-conomic disagrees with the
    /// shop's VAT. The draft has been deleted again.
    #[error(
        "e-conomic computed gross {actual} for draft {draft_invoice_number}, expected {expected}"
    )]
    AmountMismatch {
        expected: Decimal,
        actual: Decimal,
        draft_invoice_number: u32,
        deleted: bool,
        /// Why it was not corrected (see `push`'s VAT rounding).
        why: String,
    },
    /// The draft cannot be priced for e-conomic's VAT rounding (the text
    /// says which setting would let it through).
    #[error("{0}")]
    VatRounding(String),
    /// The client could not be built or a request could not be formed.
    #[error("e-conomic client setup: {0}")]
    Setup(String),
    /// A line names a product e-conomic does not have, and the shop's
    /// `products.missing` is `fail`. The text names the product.
    #[error("{0}")]
    ProductMissing(String),
}

impl EconomicError {
    /// Retrying later may succeed (throttling, e-conomic or network
    /// trouble). Everything else needs a person to change something.
    pub fn is_transient(&self) -> bool {
        match self {
            EconomicError::Api(api) => api.status == 429 || api.status == 408 || api.status >= 500,
            EconomicError::Timeout { .. } | EconomicError::Connection { .. } => true,
            EconomicError::Decode { .. }
            | EconomicError::AmountMismatch { .. }
            | EconomicError::Setup(_)
            | EconomicError::VatRounding(_)
            | EconomicError::ProductMissing(_) => false,
        }
    }

    /// The request may have been carried out although no success answer
    /// came back (timeout or connection loss after sending, or a 5xx from a
    /// gateway in front of e-conomic). A create must look before resending.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            EconomicError::Timeout { sent, .. } | EconomicError::Connection { sent, .. } => *sent,
            EconomicError::Api(api) => api.status >= 500,
            _ => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            EconomicError::Api(api) => Some(api.status),
            _ => None,
        }
    }

    pub fn api(&self) -> Option<&ApiError> {
        match self {
            EconomicError::Api(api) => Some(api),
            _ => None,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.api().and_then(|a| a.retry_after)
    }

    /// A short reason a merchant can act on; never contains tokens. It
    /// says nothing of retries: whoever retries (or gives up) adds that.
    pub fn reason(&self) -> String {
        match self {
            EconomicError::Api(api) => api_reason(api),
            EconomicError::Timeout { .. } => {
                "e-conomic did not answer in time".into()
            }
            EconomicError::Connection { .. } => {
                "could not connect to e-conomic".into()
            }
            EconomicError::Decode { operation, .. } => format!(
                "e-conomic sent an unexpected answer to {operation}; check the draft invoices in e-conomic before retrying"
            ),
            EconomicError::AmountMismatch {
                expected,
                actual,
                draft_invoice_number,
                deleted,
                why,
            } => format!(
                "e-conomic computed a total of {actual} incl. VAT but the order totals {expected} \
                 ({why}): the VAT code of a product or the VAT zone in e-conomic does not match the \
                 shop's VAT (check the products' account VAT codes and `vat_zones` in the shop \
                 configuration); draft {draft_invoice_number} {}",
                if *deleted { "was deleted again" } else { "could NOT be deleted, delete it by hand" }
            ),
            EconomicError::VatRounding(reason) => reason.clone(),
            EconomicError::Setup(detail) => format!("e-conomic client setup failed: {detail}"),
            EconomicError::ProductMissing(reason) => reason.clone(),
        }
    }
}

impl From<ApiError> for EconomicError {
    fn from(api: ApiError) -> Self {
        EconomicError::Api(Box::new(api))
    }
}

/// Which setting a rejected property most likely comes from.
fn config_hint(path: &str) -> Option<&'static str> {
    let leaf = path
        .rsplit('.')
        .next()
        .unwrap_or(path)
        .split('[')
        .next()
        .unwrap_or(path);
    Some(match leaf {
        "layout" => "check the layout number in the shop configuration",
        "paymentTerms" => "check the payment terms number in the shop configuration",
        "vatZone" => "check the VAT zone numbers in the shop configuration",
        "customerGroup" => "check the customer group number in the shop configuration",
        "customer" | "customerNumber" => "check the debtor (customer) number",
        "product" | "productNumber" => {
            "create the product in e-conomic or fix the SKU / product mapping"
        }
        "unit" => "check the unit number in the shop configuration",
        "currency" => "enable the currency in e-conomic or fix the order currency",
        "date" | "dueDate" => "the invoice date may be in a closed accounting year",
        _ => return None,
    })
}

fn api_reason(api: &ApiError) -> String {
    let log = api
        .log_id
        .as_deref()
        .map(|id| format!(" [log id {id}]"))
        .unwrap_or_default();
    match api.status {
        401 => format!(
            "e-conomic refused the access tokens (401): the grant may have been revoked; reconnect the shop to e-conomic{log}"
        ),
        403 => format!(
            "e-conomic denied access (403): the app's role in this agreement does not allow {}{log}",
            api.operation
        ),
        429 => format!("e-conomic is throttling requests (429){log}"),
        s if s >= 500 => format!(
            "e-conomic had an internal error ({s}){log}"
        ),
        _ if !api.field_errors.is_empty() => {
            let parts: Vec<String> = api
                .field_errors
                .iter()
                .take(4)
                .map(|f| {
                    let value = f
                        .value
                        .as_deref()
                        .filter(|_| config_hint(&f.path).is_some())
                        .map(|v| format!(" (value {v})"))
                        .unwrap_or_default();
                    let hint = config_hint(&f.path)
                        .map(|h| format!(" — {h}"))
                        .unwrap_or_default();
                    format!("{}: {}{value}{hint}", f.path, f.message.trim_end_matches('.'))
                })
                .collect();
            let more = api.field_errors.len().saturating_sub(4);
            let more = if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            format!(
                "e-conomic rejected {}: {}{more}{log}",
                what(&api.operation),
                parts.join("; ")
            )
        }
        404 => format!("e-conomic: {} was not found (404){log}", what(&api.operation)),
        s => format!(
            "e-conomic rejected {} ({s}): {}{log}",
            what(&api.operation),
            api.message.trim_end_matches('.')
        ),
    }
}

/// "POST /invoices/drafts" → "the invoice", for merchant-facing text.
fn what(operation: &str) -> &'static str {
    let path = operation.split_whitespace().nth(1).unwrap_or("");
    if path.starts_with("/invoices/booked") {
        "booking the invoice"
    } else if path.starts_with("/invoices/drafts") {
        "the invoice"
    } else if path.starts_with("/customers") {
        "the debtor (customer)"
    } else if path.starts_with("/products") {
        "the product"
    } else {
        "the request"
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC_EXAMPLE: &str = r#"{
        "message": "Validation error.",
        "developerHint": "Inspect validation errors and correct your request.",
        "logId": "c7ca5bc2-ad2d-4639-93f9-b22ba88c97d7",
        "httpStatusCode": 400,
        "errors": {
            "layout": {"errors": [{"errorCode": "E06000", "message": "layout does not exist.", "value": 99}]},
            "lines": [
                {"arrayIndex": 0, "unit": {"errors": [{"errorCode": "E06000", "message": "unit does not exist.", "value": 10}]}},
                {"arrayIndex": 1, "product": {"errors": [{"errorCode": "E04500", "message": "No identifiers present on product."}]}}
            ]
        },
        "logTime": "2015-03-12T16:44:56"
    }"#;

    #[test]
    fn nested_annotated_errors_are_flattened_with_paths() {
        let api = ApiError::from_body(
            "POST /invoices/drafts".into(),
            400,
            DOC_EXAMPLE.as_bytes(),
            None,
        );
        assert_eq!(
            api.log_id.as_deref(),
            Some("c7ca5bc2-ad2d-4639-93f9-b22ba88c97d7")
        );
        let paths: Vec<&str> = api.field_errors.iter().map(|f| f.path.as_str()).collect();
        assert!(paths.contains(&"layout"));
        assert!(paths.contains(&"lines[0].unit"));
        assert!(paths.contains(&"lines[1].product"));
        assert!(api.has_field_error("lines"));
        assert!(!api.has_field_error("customer"));
        let err = EconomicError::from(api);
        assert!(!err.is_transient());
        let reason = err.reason();
        assert!(
            reason.contains("layout: layout does not exist (value 99)"),
            "{reason}"
        );
        assert!(reason.contains("check the layout number"), "{reason}");
        assert!(reason.contains("[log id c7ca5bc2"), "{reason}");
    }

    #[test]
    fn classification() {
        let api = |status| {
            EconomicError::from(ApiError::from_body(
                "GET /x".into(),
                status,
                b"<html>",
                None,
            ))
        };
        assert!(api(429).is_transient());
        assert!(api(500).is_transient());
        assert!(api(503).is_transient());
        assert!(!api(400).is_transient());
        assert!(!api(401).is_transient());
        assert!(!api(403).is_transient());
        assert!(!api(404).is_transient());
        assert!(api(504).outcome_unknown());
        assert!(!api(429).outcome_unknown());
        let timeout = EconomicError::Timeout {
            operation: "POST /invoices/drafts".into(),
            sent: true,
        };
        assert!(timeout.is_transient() && timeout.outcome_unknown());
        assert!(api(401).reason().contains("reconnect the shop"));
    }

    #[test]
    fn non_json_body_keeps_a_generic_message() {
        let api = ApiError::from_body("GET /customers/1".into(), 502, b"Bad gateway", None);
        assert_eq!(api.message, "Server error");
        assert!(api.field_errors.is_empty());
    }
}
