//! A validator for the subset of JSON Schema our contract files use:
//! `type`, `required`, `properties`, `items`, `enum`, `minLength`,
//! `maxLength`, `minimum`, `maximum`, `pattern`. (The `jsonschema` crate
//! would pull in a large dependency tree for these few keywords.)
//! Unknown keywords are rejected when the schema is loaded, so a contract
//! file can never silently use a keyword this validator ignores.

use regex::Regex;
use serde_json::Value;

/// One violation: a path in the document (`lines[0].product.productNumber`)
/// and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: Vec<PathSeg>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

const KNOWN_KEYWORDS: &[&str] = &[
    "$schema",
    "title",
    "description",
    "type",
    "required",
    "properties",
    "items",
    "enum",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "pattern",
];

pub struct Schema {
    root: Value,
    patterns: Vec<(String, Regex)>,
}

impl Schema {
    pub fn parse(text: &str) -> Result<Schema, String> {
        let root: Value =
            serde_json::from_str(text).map_err(|e| format!("schema is not JSON: {e}"))?;
        let mut patterns = Vec::new();
        check_keywords(&root, &mut patterns)?;
        Ok(Schema { root, patterns })
    }

    pub fn validate(&self, document: &Value) -> Vec<Violation> {
        let mut out = Vec::new();
        self.check(&self.root, document, &mut Vec::new(), &mut out);
        out
    }

    fn regex(&self, pattern: &str) -> Option<&Regex> {
        self.patterns
            .iter()
            .find(|(p, _)| p == pattern)
            .map(|(_, r)| r)
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &mut Vec<PathSeg>,
        out: &mut Vec<Violation>,
    ) {
        if let Some(expected) = schema.get("type").and_then(Value::as_str) {
            let ok = match expected {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                _ => true,
            };
            if !ok {
                fail(
                    out,
                    path,
                    format!("{} must be of type {expected}.", leaf(path)),
                );
                return;
            }
        }
        if let Some(options) = schema.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                fail(
                    out,
                    path,
                    format!(
                        "{} must be one of {}.",
                        leaf(path),
                        Value::Array(options.clone())
                    ),
                );
            }
        }
        if let Some(s) = value.as_str() {
            let chars = s.chars().count() as u64;
            if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
                if chars > max {
                    fail(
                        out,
                        path,
                        format!("{} is too long; the maximum length is {max}.", leaf(path)),
                    );
                }
            }
            if let Some(min) = schema.get("minLength").and_then(Value::as_u64) {
                if chars < min {
                    fail(out, path, format!("{} must have a value.", leaf(path)));
                }
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                if let Some(re) = self.regex(pattern) {
                    if !re.is_match(s) {
                        fail(out, path, format!("{} has an invalid format.", leaf(path)));
                    }
                }
            }
        }
        if value.is_number() {
            // Bounds are compared as text-parsed decimals where possible so a
            // large integer is not misjudged through f64.
            let v = value.as_f64().unwrap_or(0.0);
            if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                if v < min {
                    fail(out, path, format!("{} must be at least {min}.", leaf(path)));
                }
            }
            if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                if v > max {
                    fail(out, path, format!("{} must be at most {max}.", leaf(path)));
                }
            }
        }
        if let (Some(map), true) = (value.as_object(), schema.is_object()) {
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(name) {
                        path.push(PathSeg::Key(name.to_string()));
                        fail(out, path, format!("Property {name} is required."));
                        path.pop();
                    }
                }
            }
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, child) in map {
                    if let Some(child_schema) = props.get(name) {
                        if child.is_null() {
                            // e-conomic does not accept null; omit instead.
                            path.push(PathSeg::Key(name.clone()));
                            fail(
                                out,
                                path,
                                format!("{name} cannot be null; omit the property instead."),
                            );
                            path.pop();
                            continue;
                        }
                        path.push(PathSeg::Key(name.clone()));
                        self.check(child_schema, child, path, out);
                        path.pop();
                    }
                }
            }
        }
        if let (Some(items), Some(item_schema)) = (value.as_array(), schema.get("items")) {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                self.check(item_schema, item, path, out);
                path.pop();
            }
        }
    }
}

fn fail(out: &mut Vec<Violation>, path: &[PathSeg], message: String) {
    out.push(Violation {
        path: path.to_vec(),
        message,
    });
}

fn leaf(path: &[PathSeg]) -> String {
    path.iter()
        .rev()
        .find_map(|s| match s {
            PathSeg::Key(k) => Some(k.clone()),
            PathSeg::Index(_) => None,
        })
        .unwrap_or_else(|| "document".into())
}

fn check_keywords(schema: &Value, patterns: &mut Vec<(String, Regex)>) -> Result<(), String> {
    let Some(map) = schema.as_object() else {
        return Err("a schema must be an object".into());
    };
    for (key, value) in map {
        if !KNOWN_KEYWORDS.contains(&key.as_str()) {
            return Err(format!("unsupported schema keyword `{key}`"));
        }
        match key.as_str() {
            "properties" => {
                for child in value
                    .as_object()
                    .ok_or("`properties` must be an object")?
                    .values()
                {
                    check_keywords(child, patterns)?;
                }
            }
            "items" => check_keywords(value, patterns)?,
            "pattern" => {
                let p = value.as_str().ok_or("`pattern` must be a string")?;
                let re = Regex::new(p).map_err(|e| format!("bad pattern {p}: {e}"))?;
                patterns.push((p.to_string(), re));
            }
            _ => {}
        }
    }
    Ok(())
}

pub const DRAFT_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/invoices.drafts.post.schema.json");
pub const CUSTOMER_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/customers.post.schema.json");
pub const BOOK_SCHEMA: &str =
    include_str!("../../../shared/contracts/economic/invoices.booked.post.schema.json");

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contract_schemas_load() {
        for s in [DRAFT_SCHEMA, CUSTOMER_SCHEMA, BOOK_SCHEMA] {
            Schema::parse(s).expect("schema loads");
        }
    }

    #[test]
    fn unknown_keywords_are_refused() {
        assert!(Schema::parse(r#"{"type":"object","oneOf":[]}"#).is_err());
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
        let paths: Vec<String> = schema
            .validate(&doc)
            .iter()
            .map(Violation::path_text)
            .collect();
        for expected in [
            "currency",
            "customer.customerNumber",
            "layout",
            "recipient.name",
            "lines[0].quantity",
        ] {
            assert!(
                paths.contains(&expected.to_string()),
                "{expected} missing from {paths:?}"
            );
        }
    }
}
