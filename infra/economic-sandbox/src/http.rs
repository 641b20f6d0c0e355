//! The HTTP side: connection handling, faults, auth, routing, handlers.

use crate::control::FailMode;
use crate::data::{AgreementData, BookedRecord, DraftRecord, ProductRecord, VatZoneRule};
use crate::schema::{PathSeg, Violation};
use crate::totals::{compute, LineInput};
use crate::{seed_state, LoggedRequest, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BASE: &str = "https://restapi.e-conomic.com";

type Resp = Response<Full<Bytes>>;

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(shared.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

struct Answer {
    status: u16,
    body: Option<Value>,
    retry_after: Option<u64>,
    /// A draft or booking was committed by this request.
    committed: Option<Commit>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Commit {
    Draft,
    Booking,
}

fn answer(status: u16, body: Value) -> Answer {
    Answer {
        status,
        body: Some(body),
        retry_after: None,
        committed: None,
    }
}

fn no_content() -> Answer {
    Answer {
        status: 204,
        body: None,
        retry_after: None,
        committed: None,
    }
}

fn error_answer(seq: u64, status: u16, message: &str, hint: &str, errors: Option<Value>) -> Answer {
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

fn respond(a: &Answer) -> Resp {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(secs) = a.retry_after {
        builder = builder.header("Retry-After", secs.to_string());
    }
    let body = match &a.body {
        Some(v) => {
            builder = builder.header("Content-Type", "application/json; charset=utf-8");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn rand_unit(state: &mut u64) -> f64 {
    // xorshift64*
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

enum Injected {
    None,
    Fail(FailMode),
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let app = header("x-appsecrettoken");
    let grant = header("x-agreementgranttoken");
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(DropConnection),
    };

    if let Some(rest) = path.strip_prefix("/_sandbox/") {
        return Ok(respond(&control(&shared, &method, rest, &body)));
    }

    let (seq, latency, hold_ms) = {
        let mut s = shared.lock();
        s.seq += 1;
        (s.seq, s.faults.latency_ms, s.faults.hold_ms)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }

    // Auth, rate limit and injected faults, decided under one lock.
    let (agreement, injected, retry_after) = {
        let mut s = shared.lock();
        let agreement = s.tokens.iter().position(|t| {
            Some(&t.app_secret_token) == app.as_ref()
                && Some(&t.agreement_grant_token) == grant.as_ref()
        });
        let retry_after = s.faults.retry_after_seconds;
        let mut injected = Injected::None;
        if let Some(n) = s.faults.fail_request_number {
            if n <= 1 {
                s.faults.fail_request_number = None;
                injected = Injected::Fail(s.faults.fail_request_mode);
            } else {
                s.faults.fail_request_number = Some(n - 1);
            }
        }
        if matches!(injected, Injected::None) {
            let f = s.faults.clone();
            let mut rng = s.rng;
            let draw = rand_unit(&mut rng);
            s.rng = rng;
            let mut edge = 0.0;
            for (rate, mode) in [
                (f.rate_429, FailMode::TooManyRequests),
                (f.rate_500, FailMode::ServerError),
                (f.rate_timeout, FailMode::Hold),
                (f.rate_drop, FailMode::Drop),
            ] {
                edge += rate;
                if draw < edge {
                    injected = Injected::Fail(mode);
                    break;
                }
            }
        }
        if let (true, Some(index), limit) = (
            matches!(injected, Injected::None),
            agreement,
            s.faults.rate_limit_per_second,
        ) {
            if limit > 0 {
                let now = Instant::now();
                let window = &mut s.window[index];
                if now.duration_since(window.0) >= Duration::from_secs(1) {
                    *window = (now, 0);
                }
                window.1 += 1;
                if window.1 > limit {
                    injected = Injected::Fail(FailMode::TooManyRequests);
                }
            }
        }
        (agreement, injected, retry_after)
    };

    let log = |status: u16, outcome: &str, logged_body: Option<Value>| {
        let mut s = shared.lock();
        let entry = LoggedRequest {
            seq,
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            agreement,
            status,
            outcome: outcome.to_string(),
            body: logged_body,
        };
        s.log.push(entry);
    };
    let request_json: Option<Value> = serde_json::from_slice(&body).ok();

    if let Injected::Fail(mode) = injected {
        return fail(
            mode,
            seq,
            retry_after,
            hold_ms,
            "injected",
            &log,
            request_json,
        )
        .await;
    }

    let Some(agreement_index) = agreement else {
        let a = error_answer(
            seq,
            401,
            "The request could not be authenticated.",
            "Send valid X-AppSecretToken and X-AgreementGrantToken headers.",
            None,
        );
        log(401, "answered", request_json);
        return Ok(respond(&a));
    };

    let a = {
        let mut s = shared.lock();
        let data = &mut s.agreements[agreement_index];
        api(&shared, data, seq, &method, &path, query.as_deref(), &body)
    };

    if let Some(commit) = a.committed {
        let lose = {
            let mut s = shared.lock();
            let mode = s.faults.fail_after_commit_mode;
            let counter = match commit {
                Commit::Draft => &mut s.faults.fail_next_creates_after_commit,
                Commit::Booking => &mut s.faults.fail_next_bookings_after_commit,
            };
            if *counter > 0 {
                *counter -= 1;
                Some(mode)
            } else {
                None
            }
        };
        if let Some(mode) = lose {
            return fail(
                mode,
                seq,
                retry_after,
                hold_ms,
                "committed-then",
                &log,
                request_json,
            )
            .await;
        }
    }
    log(a.status, "answered", request_json);
    Ok(respond(&a))
}

async fn fail(
    mode: FailMode,
    seq: u64,
    retry_after: u64,
    hold_ms: u64,
    prefix: &str,
    log: &impl Fn(u16, &str, Option<Value>),
    request_json: Option<Value>,
) -> Result<Resp, DropConnection> {
    let (status, name) = match mode {
        FailMode::Drop => (0, "dropped"),
        FailMode::Hold => (0, "held"),
        FailMode::GatewayTimeout => (504, "504"),
        FailMode::ServerError => (500, "500"),
        FailMode::TooManyRequests => (429, "429"),
    };
    log(status, &format!("{prefix}-{name}"), request_json);
    match mode {
        FailMode::Drop => Err(DropConnection),
        FailMode::Hold => {
            tokio::time::sleep(Duration::from_millis(hold_ms)).await;
            Err(DropConnection)
        }
        FailMode::GatewayTimeout => Ok(respond(&error_answer(
            seq,
            504,
            "Gateway Timeout",
            "The request timed out; its effect is unknown.",
            None,
        ))),
        FailMode::ServerError => Ok(respond(&error_answer(
            seq,
            500,
            "An unexpected error occurred.",
            "Try again or contact support with the log id.",
            None,
        ))),
        FailMode::TooManyRequests => {
            let mut a = error_answer(
                seq,
                429,
                "Too many requests.",
                "Slow down and retry after the time in the Retry-After header.",
                None,
            );
            a.retry_after = Some(retry_after);
            Ok(respond(&a))
        }
    }
}

// ---------------------------------------------------------------------------
// e-conomic API
// ---------------------------------------------------------------------------

struct FieldErr {
    path: Vec<PathSeg>,
    code: &'static str,
    message: String,
    value: Option<Value>,
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

/// Builds e-conomic's annotated error document from flat field errors.
fn annotate(errors: &[FieldErr]) -> Value {
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

fn validation_error(seq: u64, errors: &[FieldErr]) -> Answer {
    error_answer(
        seq,
        400,
        "Validation error.",
        "Inspect validation errors and correct your request.",
        Some(annotate(errors)),
    )
}

fn schema_errors(violations: Vec<Violation>) -> Vec<FieldErr> {
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

fn not_found(seq: u64, what: &str) -> Answer {
    error_answer(
        seq,
        404,
        &format!("{what} not found."),
        "The resource does not exist; use the links the API provides.",
        None,
    )
}

fn decimal_value(d: Decimal) -> Value {
    // Amounts have at most a few decimals; the shortest f64 text of such a
    // value is the decimal's own text, so clients read it back exactly.
    d.normalize()
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn u32_at(v: &Value, pointer: &str) -> Option<u32> {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Percent-decodes a query component (`+` is a space, as in forms).
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == name).then(|| url_decode(v))
    })
}

/// e-conomic's custom resource-id encoding, reversed.
fn decode_resource_id(segment: &str) -> String {
    let mut s = url_decode(segment);
    for (code, c) in [
        ("_10_", "?"),
        ("_11_", "."),
        ("_12_", "#"),
        ("_13_", "+"),
        ("_0_", "<"),
        ("_1_", ">"),
        ("_2_", "*"),
        ("_3_", "%"),
        ("_4_", ":"),
        ("_5_", "&"),
        ("_6_", "/"),
        ("_7_", "\\"),
        ("_9_", " "),
        ("_8_", "_"),
    ] {
        s = s.replace(code, c);
    }
    s
}

/// Applies `filter` (one `field$eq:value` predicate) and paging.
fn collection(
    seq: u64,
    path: &str,
    query: Option<&str>,
    items: Vec<Value>,
    filterable: &[&str],
) -> Answer {
    let mut items = items;
    if let Some(filter) = query_param(query, "filter") {
        let Some((field, value)) = filter.split_once("$eq:") else {
            return error_answer(
                seq,
                400,
                "The filter could not be parsed.",
                "The sandbox supports one field$eq:value predicate.",
                None,
            );
        };
        if !filterable.contains(&field) {
            return error_answer(
                seq,
                400,
                &format!("Filtering on the property {field} is not allowed."),
                "See the collection's schema for filterable properties.",
                None,
            );
        }
        let wanted =
            bridge::adapters::economic::filter::unescape_filter_value(value).to_lowercase();
        let pointer = format!("/{}", field.replace('.', "/"));
        items.retain(|item| match item.pointer(&pointer) {
            Some(Value::String(s)) => s.to_lowercase() == wanted,
            Some(Value::Number(n)) => n.to_string() == wanted,
            _ => false,
        });
    }
    let page_size = query_param(query, "pagesize")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 1000);
    let skip = query_param(query, "skippages")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(skip * page_size)
        .take(page_size)
        .collect();
    let link = |n: usize| format!("{BASE}{path}?skippages={n}&pagesize={page_size}");
    let last = if total == 0 {
        0
    } else {
        (total - 1) / page_size
    };
    let mut pagination = json!({
        "skipPages": skip,
        "pageSize": page_size,
        "maxPageSizeAllowed": 1000,
        "results": total,
        "resultsWithoutFilter": total,
        "firstPage": link(0),
        "lastPage": link(last),
    });
    if skip < last {
        pagination["nextPage"] = json!(link(skip + 1));
    }
    answer(
        200,
        json!({"collection": page, "pagination": pagination, "self": format!("{BASE}{path}")}),
    )
}

fn api(
    shared: &Shared,
    a: &mut AgreementData,
    seq: u64,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let parse_body = || serde_json::from_slice::<Value>(body);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["vat-zones"]) => collection(seq, path, query, a.vat_zones_json(), &["name"]),
        ("GET", ["layouts"]) => collection(seq, path, query, a.layouts_json(), &["name"]),
        ("GET", ["payment-terms"]) => {
            collection(seq, path, query, a.payment_terms_json(), &["name"])
        }
        ("GET", ["customer-groups"]) => {
            collection(seq, path, query, a.customer_groups_json(), &["name"])
        }
        ("GET", ["units"]) => collection(seq, path, query, a.units_json(), &["name"]),
        ("GET", ["products"]) => {
            let items = a.products.values().map(|p| a.product_json(p)).collect();
            collection(seq, path, query, items, &["productNumber", "name"])
        }
        ("GET", ["products", id]) => {
            let number = decode_resource_id(id);
            match a.products.get(&number) {
                Some(p) => answer(200, a.product_json(p)),
                None => not_found(seq, "Product"),
            }
        }
        ("GET", ["customers"]) => {
            let items = a.customers.values().cloned().collect();
            collection(
                seq,
                path,
                query,
                items,
                &[
                    "email",
                    "name",
                    "customerNumber",
                    "corporateIdentificationNumber",
                ],
            )
        }
        ("GET", ["customers", n]) => {
            match n.parse::<u32>().ok().and_then(|n| a.customers.get(&n)) {
                Some(c) => answer(200, c.clone()),
                None => not_found(seq, "Customer"),
            }
        }
        ("POST", ["customers"]) | ("PUT", ["customers", _]) => {
            let Ok(doc) = parse_body() else {
                return error_answer(
                    seq,
                    400,
                    "The request body is not valid JSON.",
                    "Send a JSON document.",
                    None,
                );
            };
            let put_number = match segments.as_slice() {
                [_, n] => match n.parse::<u32>() {
                    Ok(n) if a.customers.contains_key(&n) => Some(n),
                    _ => return not_found(seq, "Customer"),
                },
                _ => None,
            };
            let mut errors = schema_errors(shared.schemas.customer.validate(&doc));
            if errors.is_empty() {
                check_customer_refs(a, &doc, &mut errors);
            }
            let number = match (put_number, u32_at(&doc, "/customerNumber")) {
                (Some(n), _) => n,
                (None, Some(n)) if a.customers.contains_key(&n) => {
                    errors.push(FieldErr {
                        path: vec![key("customerNumber")],
                        code: "E06010",
                        message: "Customer number is already in use.".into(),
                        value: Some(json!(n)),
                    });
                    n
                }
                (None, Some(n)) => n,
                (None, None) => a.next_customer_number(),
            };
            if !errors.is_empty() {
                return validation_error(seq, &errors);
            }
            let mut stored = doc;
            stored["customerNumber"] = json!(number);
            stored["self"] = json!(format!("{BASE}/customers/{number}"));
            stored["lastUpdated"] = json!("2024-01-01T00:00:00Z");
            a.customers.insert(number, stored.clone());
            answer(if put_number.is_some() { 200 } else { 201 }, stored)
        }
        ("POST", ["invoices", "drafts"]) => create_draft(shared, a, seq, body),
        ("GET", ["invoices", "drafts"]) => {
            let items = a.drafts.values().map(|d| d.document.clone()).collect();
            collection(
                seq,
                path,
                query,
                items,
                &["references.other", "customer.customerNumber", "date"],
            )
        }
        ("GET", ["invoices", "drafts", n]) => {
            match n.parse::<u32>().ok().and_then(|n| a.drafts.get(&n)) {
                Some(d) => answer(200, d.document.clone()),
                None => not_found(seq, "Draft invoice"),
            }
        }
        ("DELETE", ["invoices", "drafts", n]) => {
            match n.parse::<u32>().ok().and_then(|n| a.drafts.remove(&n)) {
                Some(_) => no_content(),
                None => not_found(seq, "Draft invoice"),
            }
        }
        ("POST", ["invoices", "booked"]) => book_draft(shared, a, seq, body),
        ("GET", ["invoices", "booked"]) => {
            let items = a.booked.values().map(|d| d.document.clone()).collect();
            collection(
                seq,
                path,
                query,
                items,
                &["references.other", "customer.customerNumber", "date"],
            )
        }
        ("GET", ["invoices", "booked", n]) => {
            match n.parse::<u32>().ok().and_then(|n| a.booked.get(&n)) {
                Some(d) => answer(200, d.document.clone()),
                None => not_found(seq, "Booked invoice"),
            }
        }
        (_, [first, ..]) if ["invoices"].contains(first) => error_answer(
            seq,
            405,
            "Method not allowed.",
            "This endpoint does not support the method.",
            None,
        ),
        _ => not_found(seq, "Resource"),
    }
}

fn ref_err(path: Vec<PathSeg>, what: &str, value: Value) -> FieldErr {
    FieldErr {
        path,
        code: "E06000",
        message: format!("{what} does not exist."),
        value: Some(value),
    }
}

fn check_customer_refs(a: &AgreementData, doc: &Value, errors: &mut Vec<FieldErr>) {
    if let Some(c) = doc.get("currency").and_then(Value::as_str) {
        if !a.currencies.iter().any(|x| x == c) {
            errors.push(ref_err(vec![key("currency")], "currency", json!(c)));
        }
    }
    if let Some(n) = u32_at(doc, "/customerGroup/customerGroupNumber") {
        if !a.customer_groups.contains_key(&n) {
            errors.push(ref_err(
                vec![key("customerGroup")],
                "customerGroup",
                json!(n),
            ));
        }
    }
    if let Some(n) = u32_at(doc, "/paymentTerms/paymentTermsNumber") {
        if !a.payment_terms.contains_key(&n) {
            errors.push(ref_err(vec![key("paymentTerms")], "paymentTerms", json!(n)));
        }
    }
    if let Some(n) = u32_at(doc, "/vatZone/vatZoneNumber") {
        if !a.vat_zones.contains_key(&n) {
            errors.push(ref_err(vec![key("vatZone")], "vatZone", json!(n)));
        }
    }
    if let Some(n) = u32_at(doc, "/layout/layoutNumber") {
        if !a.layouts.contains_key(&n) {
            errors.push(ref_err(vec![key("layout")], "layout", json!(n)));
        }
    }
}

/// Amounts of one line, read from the raw JSON text (no f64).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineAmounts {
    #[serde(
        default,
        deserialize_with = "bridge::domain::json_decimal::deserialize_optional_decimal"
    )]
    quantity: Option<Decimal>,
    #[serde(
        default,
        deserialize_with = "bridge::domain::json_decimal::deserialize_optional_decimal"
    )]
    unit_net_price: Option<Decimal>,
    #[serde(
        default,
        deserialize_with = "bridge::domain::json_decimal::deserialize_optional_decimal"
    )]
    discount_percentage: Option<Decimal>,
}

#[derive(serde::Deserialize)]
struct DraftAmounts {
    #[serde(default)]
    lines: Vec<LineAmounts>,
}

fn create_draft(shared: &Shared, a: &mut AgreementData, seq: u64, body: &[u8]) -> Answer {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return error_answer(
            seq,
            400,
            "The request body is not valid JSON.",
            "Send a JSON document.",
            None,
        );
    };
    let mut errors = schema_errors(shared.schemas.draft.validate(&doc));
    if !errors.is_empty() {
        return validation_error(seq, &errors);
    }
    let amounts: DraftAmounts = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return error_answer(
                seq,
                400,
                "Validation error.",
                &format!("Amounts could not be read: {e}"),
                None,
            );
        }
    };
    check_customer_refs(a, &doc, &mut errors);
    let customer_number = u32_at(&doc, "/customer/customerNumber").unwrap_or(0);
    if !a.customers.contains_key(&customer_number) {
        errors.push(ref_err(
            vec![key("customer")],
            "customer",
            json!(customer_number.to_string()),
        ));
    }
    let zone_number = u32_at(&doc, "/recipient/vatZone/vatZoneNumber").unwrap_or(0);
    let zone: Option<VatZoneRule> = a.vat_zones.get(&zone_number).cloned();
    if zone.is_none() {
        errors.push(ref_err(
            vec![key("recipient"), key("vatZone")],
            "vatZone",
            json!(zone_number),
        ));
    }
    if let Some(n) = u32_at(&doc, "/paymentTerms/paymentTermsNumber") {
        if let Some((_, kind, _)) = a.payment_terms.get(&n) {
            if kind == "dueDate" && doc.get("dueDate").is_none() {
                errors.push(FieldErr {
                    path: vec![key("dueDate")],
                    code: "E04730",
                    message:
                        "Property dueDate must have a value when paymentTerms is of type dueDate."
                            .into(),
                    value: None,
                });
            }
        }
    }
    let empty = Vec::new();
    let lines = doc.get("lines").and_then(Value::as_array).unwrap_or(&empty);
    let mut inputs = Vec::new();
    for (i, (line, amt)) in lines.iter().zip(amounts.lines.iter()).enumerate() {
        let at = |k: &str| vec![key("lines"), PathSeg::Index(i), key(k)];
        let product_number = line
            .pointer("/product/productNumber")
            .and_then(Value::as_str);
        let product: Option<&ProductRecord> = product_number.and_then(|p| a.products.get(p));
        if let (Some(p), None, false) = (product_number, product, a.accept_unknown_products) {
            errors.push(ref_err(at("product"), "product", json!(p)));
        }
        if let Some(n) = u32_at(line, "/unit/unitNumber") {
            if !a.units.contains_key(&n) {
                errors.push(ref_err(at("unit"), "unit", json!(n)));
            }
        }
        if product_number.is_some() && amt.quantity.is_none() {
            errors.push(FieldErr {
                path: at("quantity"),
                code: "E04730",
                message: "Property quantity must have a value when product is set.".into(),
                value: None,
            });
        }
        if let Some(price) = amt.unit_net_price {
            if price.normalize().scale() > 2 {
                errors.push(FieldErr {
                    path: at("unitNetPrice"),
                    code: "E04740",
                    message: "unitNetPrice scale cannot be greater then two decimal places.".into(),
                    value: Some(decimal_value(price)),
                });
            }
        }
        let exempt = product.is_some_and(|p| p.vat_exempt);
        inputs.push(LineInput {
            quantity: amt.quantity.unwrap_or(Decimal::ZERO),
            unit_net_price: amt.unit_net_price.unwrap_or(Decimal::ZERO),
            discount_percentage: amt.discount_percentage,
            vat_rate_percent: match (&zone, exempt) {
                (Some(z), false) => z.rate_percent,
                _ => Decimal::ZERO,
            },
        });
    }
    if !errors.is_empty() {
        return validation_error(seq, &errors);
    }
    let totals = compute(&inputs);
    let number = a.next_draft;
    a.next_draft += 1;
    let mut document = doc.clone();
    let currency = doc.get("currency").and_then(Value::as_str).unwrap_or("DKK");
    document["draftInvoiceNumber"] = json!(number);
    document["netAmount"] = decimal_value(totals.net);
    document["vatAmount"] = decimal_value(totals.vat);
    document["grossAmount"] = decimal_value(totals.gross);
    document["roundingAmount"] = json!(0.0);
    document["netAmountInBaseCurrency"] = decimal_value(totals.net);
    document["grossAmountInBaseCurrency"] = decimal_value(totals.gross);
    if doc.get("exchangeRate").is_none() && currency == "DKK" {
        document["exchangeRate"] = json!(100);
    }
    if doc.get("dueDate").is_none() {
        document["dueDate"] = doc.get("date").cloned().unwrap_or(Value::Null);
    }
    if let Some(lines) = document.get_mut("lines").and_then(Value::as_array_mut) {
        for (line, input) in lines.iter_mut().zip(inputs.iter()) {
            line["totalNetAmount"] = decimal_value(crate::totals::line_net(input));
        }
    }
    document["pdf"] = json!({"download": format!("{BASE}/invoices/drafts/{number}/pdf")});
    document["templates"] = json!({
        "bookingInstructions": format!("{BASE}/invoices/drafts/{number}/templates/booking-instructions"),
        "self": format!("{BASE}/invoices/drafts/{number}/templates"),
    });
    document["self"] = json!(format!("{BASE}/invoices/drafts/{number}"));
    let reference = doc
        .pointer("/references/other")
        .and_then(Value::as_str)
        .map(str::to_string);
    a.drafts.insert(
        number,
        DraftRecord {
            draft_invoice_number: number,
            customer_number,
            reference,
            net_amount: totals.net,
            vat_amount: totals.vat,
            gross_amount: totals.gross,
            document: document.clone(),
        },
    );
    let mut a = answer(201, document);
    a.committed = Some(Commit::Draft);
    a
}

fn book_draft(shared: &Shared, a: &mut AgreementData, seq: u64, body: &[u8]) -> Answer {
    let Ok(doc) = serde_json::from_slice::<Value>(body) else {
        return error_answer(
            seq,
            400,
            "The request body is not valid JSON.",
            "Send a JSON document.",
            None,
        );
    };
    let errors = schema_errors(shared.schemas.book.validate(&doc));
    if !errors.is_empty() {
        return validation_error(seq, &errors);
    }
    let draft_number = u32_at(&doc, "/draftInvoice/draftInvoiceNumber").unwrap_or(0);
    let Some(draft) = a.drafts.get(&draft_number).cloned() else {
        return validation_error(
            seq,
            &[ref_err(
                vec![key("draftInvoice")],
                "draftInvoice",
                json!(draft_number),
            )],
        );
    };
    let number = match u32_at(&doc, "/bookWithNumber") {
        Some(n) if a.booked.contains_key(&n) => {
            return validation_error(
                seq,
                &[FieldErr {
                    path: vec![key("bookWithNumber")],
                    code: "E06010",
                    message: "An invoice with this number is already booked.".into(),
                    value: Some(json!(n)),
                }],
            );
        }
        Some(n) => n,
        None => a.next_booked,
    };
    a.next_booked = a.next_booked.max(number + 1);
    a.drafts.remove(&draft_number);
    let mut document = draft.document.clone();
    if let Some(map) = document.as_object_mut() {
        for k in ["draftInvoiceNumber", "templates", "pdf"] {
            map.remove(k);
        }
    }
    document["bookedInvoiceNumber"] = json!(number);
    document["self"] = json!(format!("{BASE}/invoices/booked/{number}"));
    document["pdf"] = json!({"download": format!("{BASE}/invoices/booked/{number}/pdf")});
    a.booked.insert(
        number,
        BookedRecord {
            booked_invoice_number: number,
            from_draft: draft_number,
            customer_number: draft.customer_number,
            reference: draft.reference.clone(),
            net_amount: draft.net_amount,
            vat_amount: draft.vat_amount,
            gross_amount: draft.gross_amount,
            document: document.clone(),
        },
    );
    let mut ans = answer(201, document);
    ans.committed = Some(Commit::Booking);
    ans
}

// ---------------------------------------------------------------------------
// /_sandbox control endpoints
// ---------------------------------------------------------------------------

fn control(shared: &Shared, method: &Method, rest: &str, body: &[u8]) -> Answer {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let bad = |m: String| answer(400, json!({"message": m}));
    // The agreements a PUT applies to: `agreement` (an index) or all.
    let agreements_of = |s: &crate::State, v: &Option<Value>| -> Result<Vec<usize>, Answer> {
        let given = v.as_ref().and_then(|v| v.get("agreement"));
        let Some(given) = given.filter(|g| !g.is_null()) else {
            return Ok((0..s.agreements.len()).collect());
        };
        let count = s.agreements.len();
        match given.as_u64() {
            Some(index) if index < count as u64 => Ok(vec![index as usize]),
            Some(index) => Err(answer(
                404,
                json!({"message": format!(
                    "agreement {index} does not exist: the sandbox has {count} agreement(s), \
                     indexes 0 to {}", count.saturating_sub(1)
                )}),
            )),
            None => Err(bad(format!(
                "agreement: expected the agreement's index (a non-negative integer), got {given}"
            ))),
        }
    };
    let mut s = shared.lock();
    match (method.as_str(), rest.trim_end_matches('/')) {
        ("GET", "faults") => answer(200, serde_json::to_value(&s.faults).unwrap_or(Value::Null)),
        ("PUT", "faults") | ("POST", "faults") => {
            match serde_json::from_slice::<crate::Faults>(body) {
                Ok(f) => {
                    s.rng = seed_state(f.seed);
                    s.faults = f;
                    answer(200, serde_json::to_value(&s.faults).unwrap_or(Value::Null))
                }
                Err(e) => bad(format!("faults: {e}")),
            }
        }
        ("POST", "reset") => {
            for a in s.agreements.iter_mut() {
                *a = AgreementData::seeded();
            }
            s.log.clear();
            s.seq = 0;
            no_content()
        }
        ("GET", "requests") => answer(200, serde_json::to_value(&s.log).unwrap_or(Value::Null)),
        ("DELETE", "requests") => {
            s.log.clear();
            no_content()
        }
        ("GET", "state") => {
            let list: Vec<Value> = s
                .agreements
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    json!({
                        "agreement": i,
                        "draftCount": a.drafts.len(),
                        "bookedCount": a.booked.len(),
                        "customerCount": a.customers.len(),
                        "drafts": a.drafts.values().map(|d| json!({
                            "draftInvoiceNumber": d.draft_invoice_number, "customerNumber": d.customer_number,
                            "reference": d.reference, "netAmount": d.net_amount.to_string(),
                            "vatAmount": d.vat_amount.to_string(), "grossAmount": d.gross_amount.to_string()})).collect::<Vec<_>>(),
                        "booked": a.booked.values().map(|d| json!({
                            "bookedInvoiceNumber": d.booked_invoice_number, "fromDraft": d.from_draft,
                            "customerNumber": d.customer_number, "reference": d.reference,
                            "netAmount": d.net_amount.to_string(), "vatAmount": d.vat_amount.to_string(),
                            "grossAmount": d.gross_amount.to_string()})).collect::<Vec<_>>(),
                        "customers": a.customers.values().cloned().collect::<Vec<_>>(),
                    })
                })
                .collect();
            answer(
                200,
                json!({"agreements": list, "requestCount": s.log.len()}),
            )
        }
        ("PUT", "vat-zones") => match serde_json::from_slice::<VatZoneRule>(body) {
            Ok(rule) => match agreements_of(&s, &parsed) {
                Ok(indexes) => {
                    for i in indexes {
                        if let Some(a) = s.agreements.get_mut(i) {
                            a.vat_zones.insert(rule.vat_zone_number, rule.clone());
                        }
                    }
                    no_content()
                }
                Err(refused) => refused,
            },
            Err(e) => bad(format!("vat zone: {e}")),
        },
        ("PUT", "products") => match serde_json::from_slice::<ProductRecord>(body) {
            Ok(p) => match agreements_of(&s, &parsed) {
                Ok(indexes) => {
                    for i in indexes {
                        if let Some(a) = s.agreements.get_mut(i) {
                            a.products.insert(p.product_number.clone(), p.clone());
                        }
                    }
                    no_content()
                }
                Err(refused) => refused,
            },
            Err(e) => bad(format!("product: {e}")),
        },
        ("PUT", "settings") => {
            let accept = parsed
                .as_ref()
                .and_then(|v| v.get("acceptUnknownProducts"))
                .and_then(Value::as_bool);
            match accept {
                Some(accept) => match agreements_of(&s, &parsed) {
                    Ok(indexes) => {
                        for i in indexes {
                            if let Some(a) = s.agreements.get_mut(i) {
                                a.accept_unknown_products = accept;
                            }
                        }
                        no_content()
                    }
                    Err(refused) => refused,
                },
                None => bad("settings: expected {\"acceptUnknownProducts\": bool}".into()),
            }
        }
        _ => answer(
            404,
            json!({"message": format!("unknown control endpoint {method} /_sandbox/{rest}")}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_resource_id_decoding() {
        assert_eq!(
            url_decode("references.other%24eq%3Aa%24%2Cb+c"),
            "references.other$eq:a$,b c"
        );
        assert_eq!(
            decode_resource_id("My_9_Awesome_9_Product_8_Discount5_3_"),
            "My Awesome Product_Discount5%"
        );
        assert_eq!(
            query_param(Some("a=1&filter=x%24eq%3Ay"), "filter").as_deref(),
            Some("x$eq:y")
        );
    }

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
