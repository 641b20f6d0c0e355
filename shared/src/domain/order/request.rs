//! The shop's requests on an order it sent before: `order.cancelled` and
//! `order.resend`. Their body names the order and nothing else is read:
//! `{"type": "order.cancelled", "order": {"id": "1001"}}` (a full order
//! may be sent; its other fields are ignored).

use super::ContractError;

/// What the shop asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderRequest {
    /// Stop the order: no invoice, or its draft deleted.
    Cancel,
    /// Send the order again (after fixing what made it fail, or after
    /// deleting its draft in e-conomic).
    Resend,
}

impl OrderRequest {
    pub fn from_type(event_type: &str) -> Option<OrderRequest> {
        match event_type {
            "order.cancelled" => Some(OrderRequest::Cancel),
            "order.resend" => Some(OrderRequest::Resend),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderRequest::Cancel => "order.cancelled",
            OrderRequest::Resend => "order.resend",
        }
    }
}

/// The order id of a request's body: `order.id`, a non-empty string of
/// at most 64 characters (as an order event's).
pub fn request_order_id(body: &[u8]) -> Result<String, ContractError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ContractError::new("", format!("body is not JSON: {e}")))?;
    let id = value
        .get("order")
        .ok_or_else(|| ContractError::new("order", "missing"))?
        .get("id")
        .ok_or_else(|| ContractError::new("order.id", "missing"))?;
    match id.as_str().map(str::trim) {
        Some(id) if !id.is_empty() && id.chars().count() <= 64 => Ok(id.to_owned()),
        Some(_) => Err(ContractError::new("order.id", "must be 1 to 64 characters")),
        None => Err(ContractError::new("order.id", "must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_their_order() {
        assert_eq!(
            OrderRequest::from_type("order.cancelled"),
            Some(OrderRequest::Cancel)
        );
        assert_eq!(
            OrderRequest::from_type("order.resend"),
            Some(OrderRequest::Resend)
        );
        assert_eq!(OrderRequest::from_type("order.paid"), None);
        let body = br#"{"type": "order.cancelled", "order": {"id": "1001", "total": "x"}}"#;
        assert_eq!(request_order_id(body).unwrap(), "1001");
        let missing = request_order_id(br#"{"type": "order.cancelled"}"#).unwrap_err();
        assert_eq!(missing.field, "order");
        let number = request_order_id(br#"{"order": {"id": 1001}}"#).unwrap_err();
        assert_eq!(number.field, "order.id");
        let blank = request_order_id(br#"{"order": {"id": "  "}}"#).unwrap_err();
        assert_eq!(blank.field, "order.id");
        assert!(request_order_id(b"{").is_err());
    }
}

#[cfg(test)]
mod schema_tests {
    use super::request_order_id;
    use serde_json::{json, Value};

    /// The published contract (`shared/contracts/order-event.v1.schema.json`).
    fn contract() -> jsonschema::Validator {
        let text = include_str!("../../../contracts/order-event.v1.schema.json");
        let schema: Value = serde_json::from_str(text).expect("schema is JSON");
        jsonschema::validator_for(&schema).expect("a valid JSON Schema")
    }

    #[test]
    fn requests_conform_to_the_published_schema_exactly_when_the_bridge_accepts_them() {
        let contract = contract();
        let accepted = [
            // docs/order-contract.md's example, for both types.
            json!({"type": "order.cancelled", "order": {"id": "1001"}}),
            json!({"type": "order.resend", "order": {"id": "1001"}}),
            // A full (here: partial) order may be sent; only its id is read.
            json!({"type": "order.cancelled", "version": 1,
                   "order": {"id": "1001", "number": "1001", "total": "239.00"}}),
            json!({"type": "order.resend", "order": {"id": "x".repeat(64)}}),
        ];
        for body in &accepted {
            let errors: Vec<String> = contract.iter_errors(body).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{body}: {errors:?}");
            assert!(
                request_order_id(body.to_string().as_bytes()).is_ok(),
                "{body}"
            );
        }
        let refused = [
            json!({"type": "order.cancelled"}),
            json!({"type": "order.resend", "order": {}}),
            json!({"type": "order.cancelled", "order": {"id": 1001}}),
            json!({"type": "order.cancelled", "order": {"id": ""}}),
            json!({"type": "order.resend", "order": {"id": "   "}}),
            json!({"type": "order.resend", "order": {"id": "x".repeat(65)}}),
        ];
        for body in &refused {
            assert!(!contract.is_valid(body), "{body}");
            assert!(
                request_order_id(body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
        // An order event still needs the whole order.
        let paid = json!({"type": "order.paid", "order": {"id": "1001"}});
        assert!(!contract.is_valid(&paid));
    }
}
