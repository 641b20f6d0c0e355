//! Request validation against the contract schemas in
//! `shared/contracts/economic/` (JSON Schema draft-07, checked by the
//! `jsonschema` crate), reported the way e-conomic reports it: each
//! violation names the property by its path in the request
//! (`lines[0].product.productNumber`) with e-conomic's wording.
//!
//! The validator is built without remote or file reference resolution:
//! the schemas are self-contained and the sandbox never reaches the
//! network.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::LocationSegment;
use jsonschema::{PatternOptions, ValidationError, Validator};
use serde_json::Value;

/// One violation: a path in the document (`lines[0].product.productNumber`)
/// and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: Vec<PathSeg>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

impl Violation {
    pub fn path_text(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                PathSeg::Key(k) if out.is_empty() => out.push_str(k),
                PathSeg::Key(k) => {
                    out.push('.');
                    out.push_str(k);
                }
                PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

pub struct Schema {
    validator: Validator,
}

impl Schema {
    pub fn parse(text: &str) -> Result<Schema, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("schema is not JSON: {e}"))?;
        // The `regex` engine (linear time) for `pattern`: request bodies
        // come from clients, and our patterns need no backtracking features.
        let validator = jsonschema::options()
            .with_pattern_options(PatternOptions::regex())
            .build(&root)
            .map_err(|e| format!("schema is not valid: {e}"))?;
        Ok(Schema { validator })
    }

    /// Every violation, ordered by path (so answers do not depend on the
    /// order the validator visits keywords in).
    pub fn validate(&self, document: &Value) -> Vec<Violation> {
        let mut out: Vec<Violation> = Vec::new();
        for error in self.validator.iter_errors(document) {
            let violation = violation(document, &error);
            // A null fails `type` and `enum` alike: report it once.
            if !out.contains(&violation) {
                out.push(violation);
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

fn violation(document: &Value, error: &ValidationError<'_>) -> Violation {
    let mut path = path_in(document, error);
    let leaf = leaf(&path);
    let message = match error.kind() {
        // e-conomic refuses null ("Expected String but got Null"); the
        // property has to be left out instead.
        _ if error.instance().is_null() && matches!(path.last(), Some(PathSeg::Key(_))) => {
            format!("{leaf} cannot be null; omit the property instead.")
        }
        ValidationErrorKind::Required { property } => {
            let name = property
                .as_str()
                .map_or_else(|| property.to_string(), str::to_owned);
            path.push(PathSeg::Key(name.clone()));
            format!("Property {name} is required.")
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(t) => t.to_string(),
                TypeKind::Multiple(set) => set
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            format!("{leaf} must be of type {expected}.")
        }
        ValidationErrorKind::Enum { options } => format!("{leaf} must be one of {options}."),
        ValidationErrorKind::MaxLength { limit } => {
            format!("{leaf} is too long; the maximum length is {limit}.")
        }
        ValidationErrorKind::MinLength { .. } => format!("{leaf} must have a value."),
        ValidationErrorKind::Pattern { .. } => format!("{leaf} has an invalid format."),
        ValidationErrorKind::Minimum { limit } => format!("{leaf} must be at least {limit}."),
        ValidationErrorKind::Maximum { limit } => format!("{leaf} must be at most {limit}."),
        // Keywords our contract files do not use: the validator's own words.
        _ => format!("{leaf}: {error}"),
    };
    Violation { path, message }
}

/// The failing value's path as keys and indexes. The pointer alone cannot
/// tell an index from a numeric key (`/lines/0`), so it is walked through
/// the document.
fn path_in(document: &Value, error: &ValidationError<'_>) -> Vec<PathSeg> {
    let mut node = Some(document);
    let mut path = Vec::new();
    for segment in error.instance_path().iter() {
        let name = match segment {
            LocationSegment::Property(p) => p.into_owned(),
            LocationSegment::Index(i) => i.to_string(),
        };
        let seg = match (node, name.parse::<usize>()) {
            (Some(Value::Array(_)), Ok(i)) => PathSeg::Index(i),
            _ => PathSeg::Key(name),
        };
        node = node.and_then(|n| match &seg {
            PathSeg::Index(i) => n.get(i),
            PathSeg::Key(k) => n.get(k),
        });
        path.push(seg);
    }
    path
}

/// The innermost property name on the path (what e-conomic's messages name).
fn leaf(path: &[PathSeg]) -> String {
    path.iter()
        .rev()
        .find_map(|s| match s {
            PathSeg::Key(k) => Some(k.clone()),
            PathSeg::Index(_) => None,
        })
        .unwrap_or_else(|| "document".into())
}

pub const DRAFT_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/invoices.drafts.post.schema.json");
pub const CUSTOMER_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/customers.post.schema.json");
pub const BOOK_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/invoices.booked.post.schema.json");
pub const PRODUCT_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/products.post.schema.json");
pub const VOUCHER_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/journals.vouchers.post.schema.json");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONTRACT_SCHEMAS: [&str; 5] = [
        DRAFT_SCHEMA,
        CUSTOMER_SCHEMA,
        BOOK_SCHEMA,
        PRODUCT_SCHEMA,
        VOUCHER_SCHEMA,
    ];

    #[test]
    fn contract_schemas_load() {
        for s in CONTRACT_SCHEMAS {
            Schema::parse(s).expect("schema loads");
        }
    }

    /// Draft-07's keywords. Anything else in a schema is ignored by any
    /// validator, so a contract file must not use it: e-conomic's published
    /// schemas carry `maxDecimal`, `filterable`, `readonly`..., and a copy
    /// keeping one would look enforced without being so.
    const DRAFT_07_KEYWORDS: &[&str] = &[
        "$schema",
        "$id",
        "$ref",
        "$comment",
        "title",
        "description",
        "default",
        "readOnly",
        "writeOnly",
        "examples",
        "type",
        "enum",
        "const",
        "multipleOf",
        "maximum",
        "exclusiveMaximum",
        "minimum",
        "exclusiveMinimum",
        "maxLength",
        "minLength",
        "pattern",
        "items",
        "additionalItems",
        "maxItems",
        "minItems",
        "uniqueItems",
        "contains",
        "maxProperties",
        "minProperties",
        "required",
        "properties",
        "patternProperties",
        "additionalProperties",
        "dependencies",
        "propertyNames",
        "if",
        "then",
        "else",
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "format",
        "contentMediaType",
        "contentEncoding",
        "definitions",
    ];

    /// Keywords outside draft-07 anywhere in `schema`, by path.
    fn unknown_keywords(schema: &Value, at: &str, out: &mut Vec<String>) {
        let Some(map) = schema.as_object() else {
            return;
        };
        for (key, value) in map {
            if !DRAFT_07_KEYWORDS.contains(&key.as_str()) {
                out.push(format!("{at}/{key}"));
            }
            match (key.as_str(), value) {
                ("properties" | "patternProperties" | "definitions", Value::Object(named)) => {
                    for (name, child) in named {
                        unknown_keywords(child, &format!("{at}/{key}/{name}"), out);
                    }
                }
                ("items" | "allOf" | "anyOf" | "oneOf", Value::Array(list)) => {
                    for (i, child) in list.iter().enumerate() {
                        unknown_keywords(child, &format!("{at}/{key}/{i}"), out);
                    }
                }
                (
                    "items"
                    | "additionalItems"
                    | "additionalProperties"
                    | "contains"
                    | "propertyNames"
                    | "not"
                    | "if"
                    | "then"
                    | "else",
                    child,
                ) => unknown_keywords(child, &format!("{at}/{key}"), out),
                _ => {}
            }
        }
    }

    #[test]
    fn contract_schemas_use_only_keywords_a_validator_enforces() {
        for text in CONTRACT_SCHEMAS {
            let schema: Value = serde_json::from_str(text).expect("JSON");
            let mut unknown = Vec::new();
            unknown_keywords(&schema, "", &mut unknown);
            assert_eq!(unknown, Vec::<String>::new(), "{}", schema["title"]);
        }
        // The check finds a keyword copied from e-conomic's published schemas.
        let copied = json!({"properties": {"lines": {"items": {"properties": {
            "quantity": {"type": "number", "maxDecimal": 2}}}}}});
        let mut unknown = Vec::new();
        unknown_keywords(&copied, "", &mut unknown);
        assert_eq!(
            unknown,
            ["/properties/lines/items/properties/quantity/maxDecimal"]
        );
    }

    #[test]
    fn remote_references_are_refused_not_fetched() {
        let remote = r#"{"$schema": "http://json-schema.org/draft-07/schema#",
            "properties": {"x": {"$ref": "https://example.com/other.schema.json"}}}"#;
        let error = Schema::parse(remote)
            .err()
            .expect("a remote $ref is refused");
        // Refused up front, not a failed download.
        assert!(error.contains("`resolve-http` feature"), "{error}");
    }

    #[test]
    fn violations_name_the_property() {
        let schema = Schema::parse(DRAFT_SCHEMA).expect("schema");
        let doc = json!({
            "currency": "dkk",
            "customer": {"customerNumber": 0},
            "date": "2024-01-01",
            "paymentTerms": {"paymentTermsNumber": 1},
            "recipient": {"name": "", "vatZone": {"vatZoneNumber": 1}},
            "lines": [{"product": {"productNumber": "A"}, "quantity": "1"}]
        });
        let found: Vec<(String, String)> = schema
            .validate(&doc)
            .iter()
            .map(|v| (v.path_text(), v.message.clone()))
            .collect();
        for expected in [
            ("currency", "currency has an invalid format."),
            (
                "customer.customerNumber",
                "customerNumber must be at least 1.",
            ),
            ("layout", "Property layout is required."),
            ("recipient.name", "name must have a value."),
            ("lines[0].quantity", "quantity must be of type number."),
        ] {
            assert!(
                found.contains(&(expected.0.to_string(), expected.1.to_string())),
                "{expected:?} missing from {found:?}"
            );
        }
    }

    #[test]
    fn nulls_lengths_enums_and_bounds_read_like_economics() {
        let schema = Schema::parse(DRAFT_SCHEMA).expect("schema");
        let doc = json!({
            "currency": "DKK",
            "customer": {"customerNumber": 1},
            "date": "2024-01-01",
            "layout": {"layoutNumber": 19},
            "paymentTerms": {"paymentTermsNumber": 1},
            "notes": {"heading": null},
            "recipient": {
                "name": "x".repeat(251),
                "nemHandelType": null,
                "vatZone": {"vatZoneNumber": 1}
            },
            "lines": [
                {"product": {"productNumber": "A"}, "quantity": 1, "discountPercentage": 101},
                {"product": {"productNumber": "B"}, "quantity": 1, "unit": {"unitNumber": "1"}}
            ]
        });
        let found: Vec<(String, String)> = schema
            .validate(&doc)
            .iter()
            .map(|v| (v.path_text(), v.message.clone()))
            .collect();
        assert_eq!(
            found,
            [
                (
                    "lines[0].discountPercentage",
                    "discountPercentage must be at most 100."
                ),
                (
                    "lines[1].unit.unitNumber",
                    "unitNumber must be of type integer."
                ),
                (
                    "notes.heading",
                    "heading cannot be null; omit the property instead."
                ),
                (
                    "recipient.name",
                    "name is too long; the maximum length is 250."
                ),
                (
                    "recipient.nemHandelType",
                    "nemHandelType cannot be null; omit the property instead."
                ),
            ]
            .map(|(p, m)| (p.to_string(), m.to_string()))
        );
        let mut doc = doc;
        doc["recipient"] =
            json!({"name": "N", "nemHandelType": "gln", "vatZone": {"vatZoneNumber": 1}});
        doc.as_object_mut().expect("object").remove("notes");
        doc["lines"] = json!([]);
        let messages: Vec<String> = schema
            .validate(&doc)
            .into_iter()
            .map(|v| v.message)
            .collect();
        assert_eq!(
            messages,
            [r#"nemHandelType must be one of ["ean","corporateIdentificationNumber","pNumber"]."#]
        );
    }

    /// `sendBy` is spelled as e-conomic's published booking schema spells
    /// it; the draft's `nemHandelType` spelling (`ean`) is refused.
    #[test]
    fn booking_send_by_takes_the_published_spellings() {
        let schema = Schema::parse(BOOK_SCHEMA).expect("schema");
        for send_by in ["EAN", "Email", "none"] {
            let doc = json!({"draftInvoice": {"draftInvoiceNumber": 1}, "sendBy": send_by});
            assert_eq!(schema.validate(&doc), Vec::new(), "{send_by}");
        }
        let doc = json!({"draftInvoice": {"draftInvoiceNumber": 1}, "sendBy": "ean"});
        let found: Vec<(String, String)> = schema
            .validate(&doc)
            .iter()
            .map(|v| (v.path_text(), v.message.clone()))
            .collect();
        assert_eq!(
            found,
            [(
                "sendBy".to_string(),
                r#"sendBy must be one of ["none","EAN","Email"]."#.to_string()
            )]
        );
    }
}
