//! A checker for the JSON Schema keywords `shared/contracts/order-event.v1.schema.json`
//! uses: `type` (name or list), `required`, `properties`, `items`, `enum`,
//! `minLength`, `maxLength`, `minItems`, `maxItems`, `minimum`, `maximum`,
//! `pattern`, `$ref` (to `#/$defs/...`). Any other keyword (besides
//! annotations) fails loudly, so the schema cannot use a keyword this
//! checker would silently ignore.

use regex::Regex;
use serde_json::Value;

const ANNOTATIONS: &[&str] = &["$schema", "$id", "$defs", "title", "description"];

pub fn validate(schema: &Value, document: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, document, "", &mut errors);
    errors
}

fn check(root: &Value, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        errors.push(format!("{path}: schema is not an object"));
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => {
                let target = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .and_then(|name| root["$defs"].get(name));
                match target {
                    Some(target) => check(root, target, value, path, errors),
                    None => errors.push(format!("{path}: unresolvable $ref {rule}")),
                }
            }
            "type" => {
                let names: Vec<&str> = match rule {
                    Value::String(s) => vec![s.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => vec![],
                };
                if !names.iter().any(|n| has_type(value, n)) {
                    errors.push(format!("{path}: expected {names:?}, got {value}"));
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in rule
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                    {
                        if !object.contains_key(name) {
                            errors.push(format!("{path}: missing `{name}`"));
                        }
                    }
                }
            }
            "properties" => {
                if let (Some(object), Some(props)) = (value.as_object(), rule.as_object()) {
                    for (name, sub) in props {
                        if let Some(v) = object.get(name) {
                            check(root, sub, v, &format!("{path}.{name}"), errors);
                        }
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    check(root, rule, item, &format!("{path}[{i}]"), errors);
                }
            }
            "enum" => {
                if !rule.as_array().is_some_and(|a| a.contains(value)) {
                    errors.push(format!("{path}: {value} not in {rule}"));
                }
            }
            "minLength" | "maxLength" => {
                if let (Some(s), Some(limit)) = (value.as_str(), rule.as_u64()) {
                    let len = s.chars().count() as u64;
                    if (keyword == "minLength" && len < limit)
                        || (keyword == "maxLength" && len > limit)
                    {
                        errors.push(format!("{path}: length {len} violates {keyword} {limit}"));
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let (Some(a), Some(limit)) = (value.as_array(), rule.as_u64()) {
                    let len = a.len() as u64;
                    if (keyword == "minItems" && len < limit)
                        || (keyword == "maxItems" && len > limit)
                    {
                        errors.push(format!("{path}: {len} items violates {keyword} {limit}"));
                    }
                }
            }
            "minimum" | "maximum" => {
                if let (Some(n), Some(limit)) = (value.as_f64(), rule.as_f64()) {
                    // Schema-check only: bounds, not money arithmetic.
                    if (keyword == "minimum" && n < limit) || (keyword == "maximum" && n > limit) {
                        errors.push(format!("{path}: {n} violates {keyword} {limit}"));
                    }
                }
            }
            "pattern" => {
                if let Some(s) = value.as_str() {
                    let re =
                        Regex::new(rule.as_str().unwrap_or("^$")).expect("schema pattern compiles");
                    if !re.is_match(s) {
                        errors.push(format!("{path}: `{s}` does not match {rule}"));
                    }
                }
            }
            other => errors.push(format!("{path}: unsupported schema keyword `{other}`")),
        }
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

pub fn order_schema() -> Value {
    let text = include_str!("../../contracts/order-event.v1.schema.json");
    serde_json::from_str(text).expect("schema is JSON")
}
