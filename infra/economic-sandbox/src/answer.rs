//! What a request gets back: a status and a JSON body, and e-conomic's
//! error documents (`message`, `developerHint`, `logId`, and the annotated
//! per-field `errors` that mirror the request's shape).

use crate::schema::{PathSeg, Violation};
use crate::seed_state;
use serde_json::{json, Map, Value};

pub(crate) struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    pub retry_after: Option<u64>,
    /// A draft or booking was committed by this request.
    pub committed: Option<Commit>,
    /// `Location` of a created record (LIVE: every 201 carries it).
    pub location: Option<String>,
    /// Replayed for a repeated `Idempotency-Key` (`X-ResultFromCache`).
    pub from_cache: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Commit {
    Draft,
    Booking,
    /// A journal voucher (customer payments).
    Voucher,
}

pub(crate) fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: Some(body),
        retry_after: None,
        committed: None,
        location: None,
        from_cache: false,
    }
}

pub(crate) fn no_content() -> Answer {
    Answer {
        status: 204,
        body: None,
        retry_after: None,
        committed: None,
        location: None,
        from_cache: false,
    }
}

pub(crate) fn error_answer(
    seq: u64,
    status: u16,
    message: &str,
    hint: &str,
    errors: Option<Value>,
) -> Answer {
    let mut body = json!({
        "message": message,
        "developerHint": hint,
        "logId": format!("{:08x}-sbx0-4000-8000-{:012x}", seq, seed_state(seq) & 0xffff_ffff_ffff),
        "httpStatusCode": status,
        "logTime": "2024-01-01T00:00:00",
    });
    if let Some(errors) = errors {
        body["errors"] = errors;
    }
    answer(status, body)
}

pub(crate) struct FieldErr {
    pub path: Vec<PathSeg>,
    pub code: &'static str,
    pub message: String,
    pub value: Option<Value>,
}

pub(crate) fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

/// Builds e-conomic's annotated error document from flat field errors.
pub(crate) fn annotate(errors: &[FieldErr]) -> Value {
    let mut root = Value::Object(Map::new());
    for e in errors {
        let mut item = json!({"errorCode": e.code, "message": e.message, "developerHint": "Please check your request data."});
        if let Some(v) = &e.value {
            item["value"] = v.clone();
        }
        insert(&mut root, &e.path, item);
    }
    root
}

fn insert(node: &mut Value, path: &[PathSeg], item: Value) {
    let Some(map) = node.as_object_mut() else {
        return;
    };
    match path {
        [] => {
            let list = map.entry("errors").or_insert_with(|| json!([]));
            if let Some(a) = list.as_array_mut() {
                a.push(item);
            }
        }
        [PathSeg::Key(k), PathSeg::Index(i), rest @ ..] => {
            let arr = map.entry(k.clone()).or_insert_with(|| json!([]));
            let Some(arr) = arr.as_array_mut() else {
                return;
            };
            let pos = arr
                .iter()
                .position(|e| e.get("arrayIndex").and_then(Value::as_u64) == Some(*i as u64));
            let pos = match pos {
                Some(p) => p,
                None => {
                    arr.push(json!({"arrayIndex": i}));
                    arr.len() - 1
                }
            };
            insert(&mut arr[pos], rest, item);
        }
        [PathSeg::Key(k), rest @ ..] => {
            let child = map.entry(k.clone()).or_insert_with(|| json!({}));
            insert(child, rest, item);
        }
        [PathSeg::Index(_), rest @ ..] => insert(node, rest, item),
    }
}

pub(crate) fn validation_error(seq: u64, errors: &[FieldErr]) -> Answer {
    error_answer(
        seq,
        400,
        "Validation error.",
        "Inspect validation errors and correct your request.",
        Some(annotate(errors)),
    )
}

/// The answer to a body that is no JSON document.
pub(crate) fn not_json(seq: u64) -> Answer {
    error_answer(
        seq,
        400,
        "The request body is not valid JSON.",
        "Send a JSON document.",
        None,
    )
}

/// The request's JSON document when it is valid against `schema`;
/// otherwise e-conomic's answer (400, or its validation error).
pub(crate) fn validated_document(
    seq: u64,
    body: &[u8],
    schema: &crate::schema::Schema,
) -> Result<Value, Answer> {
    let doc = serde_json::from_slice::<Value>(body).map_err(|_| not_json(seq))?;
    let errors = schema_errors(schema.validate(&doc));
    if errors.is_empty() {
        Ok(doc)
    } else {
        Err(validation_error(seq, &errors))
    }
}

pub(crate) fn schema_errors(violations: Vec<Violation>) -> Vec<FieldErr> {
    violations
        .into_iter()
        .map(|v| FieldErr {
            path: v.path,
            code: "E04300",
            message: v.message,
            value: None,
        })
        .collect()
}

pub(crate) fn not_found(seq: u64, what: &str) -> Answer {
    error_answer(
        seq,
        404,
        &format!("{what} not found."),
        "The resource does not exist; use the links the API provides.",
        None,
    )
}

pub(crate) fn ref_err(path: Vec<PathSeg>, what: &str, value: Value) -> FieldErr {
    FieldErr {
        path,
        code: "E06000",
        message: format!("{what} does not exist."),
        value: Some(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotated_errors_nest_like_economics() {
        let doc = annotate(&[
            FieldErr {
                path: vec![key("layout")],
                code: "E06000",
                message: "layout does not exist.".into(),
                value: Some(json!(9)),
            },
            FieldErr {
                path: vec![key("lines"), PathSeg::Index(1), key("unit")],
                code: "E06000",
                message: "unit does not exist.".into(),
                value: None,
            },
        ]);
        assert_eq!(doc["layout"]["errors"][0]["errorCode"], "E06000");
        assert_eq!(doc["lines"][0]["arrayIndex"], 1);
        assert_eq!(
            doc["lines"][0]["unit"]["errors"][0]["message"],
            "unit does not exist."
        );
    }
}
