//! DynamoDB capacity as AWS bills it, counted from the requests the
//! functions really send (moto does not report consumed capacity).
//!
//! [`CapacityMeter::sdk_config`] wraps an SDK configuration's HTTP client:
//! every DynamoDB request passes through, and the meter charges it by
//! DynamoDB's documented rules
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>,
//! read and write request units of on-demand mode):
//!
//! * an item's size is the sum of its attribute names and values: strings
//!   and binaries their bytes, numbers 1 byte per two significant digits
//!   plus 1, booleans and nulls 1, lists and maps 3 bytes plus their
//!   elements plus 1 byte per element, sets the sum of their members;
//! * a write (`PutItem`, `UpdateItem`, `DeleteItem`) costs 1 WRU per started
//!   KB of the larger of the item before and after it, at least 1, and the
//!   same when its condition fails (sized by the item as it stands);
//! * a write that puts an item into a global secondary index, takes it out
//!   or changes its index key costs the index 1, 1 or 2 writes of the index
//!   entry (1 WRU each: the rescan index projects keys only);
//! * `GetItem` costs 1 RRU per started 4 KB (an absent item counts as one
//!   read), half that when eventually consistent; `Query` half an RRU per
//!   started 4 KB of the items returned, at least one half.
//!
//! The item before and after a write are read with a second, unmetered
//! client; the test runs one request at a time. Read units are counted in
//! halves so that every figure stays an integer.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
use aws_smithy_runtime_api::client::http::{
    http_client_fn, HttpClient, HttpConnector, HttpConnectorFuture, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use base64::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

type Item = HashMap<String, AttributeValue>;

/// What one request cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The step of the order's life the test was in (see [`CapacityMeter::phase`]).
    pub phase: String,
    /// `UpdateItem`, `GetItem`, ... or `SendMessage` for an SQS request.
    pub operation: String,
    pub table: String,
    /// Write request units on the table.
    pub wru: u32,
    /// Write request units on its global secondary indexes.
    pub index_wru: u32,
    /// Read request units, in halves.
    pub half_rru: u32,
    /// The larger of the item's sizes before and after (writes) or the
    /// bytes read, in bytes.
    pub item_bytes: usize,
    /// The write's condition failed (it is charged all the same).
    pub condition_failed: bool,
}

/// The capacity of one phase, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseTotal {
    pub wru: u32,
    pub index_wru: u32,
    /// Read request units, in halves, on tables not marked cached.
    pub half_rru: u32,
    /// Read request units, in halves, on tables marked cached (reads a warm
    /// function's cache saves; see [`CapacityMeter::cached_table`]).
    pub half_rru_cached: u32,
    /// DynamoDB requests sent.
    pub requests: u32,
    /// SQS requests sent by the function itself.
    pub sqs_requests: u32,
    /// The largest item a write touched, in bytes.
    pub largest_item_bytes: usize,
}

/// Counts what the functions' DynamoDB requests cost; see the module.
#[derive(Debug)]
pub struct CapacityMeter {
    unmetered: aws_sdk_dynamodb::Client,
    phase: Mutex<String>,
    charges: Mutex<Vec<Charge>>,
    /// Requests DynamoDB refused for another reason than a condition
    /// (a malformed request is a bug, not a cost).
    errors: Mutex<Vec<String>>,
    key_names: Mutex<HashMap<String, Vec<String>>>,
    cached_tables: Mutex<Vec<String>>,
    index_keys: Mutex<HashMap<String, Vec<(String, String)>>>,
}

impl CapacityMeter {
    /// A meter whose size reads go through `plain` (not metered).
    pub fn new(plain: &SdkConfig) -> Arc<CapacityMeter> {
        Arc::new(CapacityMeter {
            unmetered: aws_sdk_dynamodb::Client::new(plain),
            phase: Mutex::new("setup".to_owned()),
            charges: Mutex::new(Vec::new()),
            errors: Mutex::new(Vec::new()),
            key_names: Mutex::new(HashMap::new()),
            cached_tables: Mutex::new(Vec::new()),
            index_keys: Mutex::new(HashMap::new()),
        })
    }

    /// `plain` with its HTTP client wrapped by this meter: give it to the
    /// functions whose requests should be counted.
    pub fn sdk_config(self: &Arc<Self>, plain: &SdkConfig) -> SdkConfig {
        // The client the SDK would pick itself, unless one was configured.
        let inner = plain.http_client().unwrap_or_else(|| {
            aws_smithy_http_client::Builder::new()
                .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
                .build_https()
        });
        let meter = Arc::clone(self);
        let client = http_client_fn(move |settings, components| {
            SharedHttpConnector::new(MeteredConnector {
                inner: inner.http_connector(settings, components),
                meter: Arc::clone(&meter),
            })
        });
        plain.to_builder().http_client(client).build()
    }

    /// Charges from now on belong to `phase`.
    pub fn phase(&self, phase: &str) {
        *lock(&self.phase) = phase.to_owned();
    }

    /// Reads of `table` are counted apart: the functions keep what they
    /// read there (the shops) for a while, so at volume most such reads
    /// are never sent.
    pub fn cached_table(&self, table: &str) {
        lock(&self.cached_tables).push(table.to_owned());
    }

    pub fn charges(&self) -> Vec<Charge> {
        lock(&self.charges).clone()
    }

    pub fn errors(&self) -> Vec<String> {
        lock(&self.errors).clone()
    }

    /// Each phase's total, in the order the phases first charged.
    pub fn totals(&self) -> Vec<(String, PhaseTotal)> {
        let mut order: Vec<String> = Vec::new();
        let mut totals: BTreeMap<String, PhaseTotal> = BTreeMap::new();
        let cached = lock(&self.cached_tables).clone();
        for charge in lock(&self.charges).iter() {
            if !order.contains(&charge.phase) {
                order.push(charge.phase.clone());
            }
            let total = totals.entry(charge.phase.clone()).or_default();
            if charge.table == "sqs" {
                total.sqs_requests += 1;
                continue;
            }
            total.requests += 1;
            total.wru += charge.wru;
            total.index_wru += charge.index_wru;
            if cached.contains(&charge.table) {
                total.half_rru_cached += charge.half_rru;
            } else {
                total.half_rru += charge.half_rru;
            }
            if charge.wru > 0 {
                total.largest_item_bytes = total.largest_item_bytes.max(charge.item_bytes);
            }
        }
        order
            .into_iter()
            .map(|phase| {
                let total = totals.remove(&phase).unwrap_or_default();
                (phase, total)
            })
            .collect()
    }

    /// The totals as a Markdown table, with a sum row.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "| phase | DynamoDB requests | WRU table | WRU index | RRU | RRU cached tables (misses) | largest item written | SQS requests |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        let mut sum = PhaseTotal::default();
        for (phase, t) in self.totals() {
            let _ = writeln!(
                out,
                "| {phase} | {} | {} | {} | {} | {} | {} B | {} |",
                t.requests,
                t.wru,
                t.index_wru,
                halves(t.half_rru),
                halves(t.half_rru_cached),
                t.largest_item_bytes,
                t.sqs_requests
            );
            sum.requests += t.requests;
            sum.wru += t.wru;
            sum.index_wru += t.index_wru;
            sum.half_rru += t.half_rru;
            sum.half_rru_cached += t.half_rru_cached;
            sum.sqs_requests += t.sqs_requests;
            sum.largest_item_bytes = sum.largest_item_bytes.max(t.largest_item_bytes);
        }
        let _ = writeln!(
            out,
            "| **per order** | {} | **{}** | **{}** | **{}** | {} | {} B | {} |",
            sum.requests,
            sum.wru,
            sum.index_wru,
            halves(sum.half_rru),
            halves(sum.half_rru_cached),
            sum.largest_item_bytes,
            sum.sqs_requests
        );
        out
    }

    async fn charge(&self, request: Request, response: &Response) {
        let phase = lock(&self.phase).clone();
        let Request {
            service,
            operation,
            body,
            before,
        } = request;
        if service == Service::Sqs {
            lock(&self.charges).push(Charge {
                phase,
                operation,
                table: "sqs".to_owned(),
                wru: 0,
                index_wru: 0,
                half_rru: 0,
                item_bytes: 0,
                condition_failed: false,
            });
            return;
        }
        let table = body["TableName"].as_str().unwrap_or_default().to_owned();
        let condition_failed = response.error.ends_with("ConditionalCheckFailedException");
        if !response.error.is_empty() && !condition_failed {
            lock(&self.errors).push(format!("{operation} on {table}: {}", response.error));
            return;
        }
        let mut charge = Charge {
            phase,
            operation: operation.clone(),
            table: table.clone(),
            wru: 0,
            index_wru: 0,
            half_rru: 0,
            item_bytes: 0,
            condition_failed,
        };
        match operation.as_str() {
            "PutItem" | "UpdateItem" | "DeleteItem" => {
                let after = match self.key_of(&table, &body).await {
                    Some(key) => self.item(&table, key).await,
                    None => None,
                };
                let before_bytes = before.as_ref().map_or(0, item_size);
                let after_bytes = after.as_ref().map_or(0, item_size);
                charge.item_bytes = before_bytes.max(after_bytes);
                charge.wru = started(charge.item_bytes, 1024).max(1);
                if !condition_failed {
                    charge.index_wru = self
                        .index_writes(&table, before.as_ref(), after.as_ref())
                        .await;
                }
            }
            "GetItem" => {
                let item = match self.key_of(&table, &body).await {
                    Some(key) => self.item(&table, key).await,
                    None => None,
                };
                charge.item_bytes = item.as_ref().map_or(0, item_size);
                let reads = started(charge.item_bytes, 4096).max(1);
                let consistent = body["ConsistentRead"].as_bool().unwrap_or(false);
                charge.half_rru = if consistent { 2 * reads } else { reads };
            }
            "Query" | "Scan" => {
                let items = response.body["Items"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                charge.item_bytes = items
                    .iter()
                    .filter_map(json_item)
                    .map(|item| item_size(&item))
                    .sum();
                let reads = started(charge.item_bytes, 4096).max(1);
                let consistent = body["ConsistentRead"].as_bool().unwrap_or(false);
                charge.half_rru = if consistent { 2 * reads } else { reads };
            }
            // Table management (tests' set-up): not part of an order's cost.
            _ => return,
        }
        lock(&self.charges).push(charge);
    }

    /// The item a write is about to change, read before it is sent.
    async fn item_before(&self, operation: &str, body: &Value) -> Option<Item> {
        if !matches!(operation, "PutItem" | "UpdateItem" | "DeleteItem") {
            return None;
        }
        let table = body["TableName"].as_str()?.to_owned();
        let key = self.key_of(&table, body).await?;
        self.item(&table, key).await
    }

    async fn item(&self, table: &str, key: Item) -> Option<Item> {
        self.unmetered
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .ok()?
            .item
    }

    /// The request's key: `Key`, or the key attributes of a put's `Item`.
    async fn key_of(&self, table: &str, body: &Value) -> Option<Item> {
        if let Some(key) = body.get("Key") {
            return json_item(key);
        }
        let item = json_item(body.get("Item")?)?;
        let names = self.key_names(table).await;
        Some(
            item.into_iter()
                .filter(|(name, _)| names.contains(name))
                .collect(),
        )
    }

    async fn key_names(&self, table: &str) -> Vec<String> {
        self.describe(table).await;
        lock(&self.key_names)
            .get(table)
            .cloned()
            .unwrap_or_default()
    }

    async fn index_writes(&self, table: &str, before: Option<&Item>, after: Option<&Item>) -> u32 {
        self.describe(table).await;
        let indexes = lock(&self.index_keys)
            .get(table)
            .cloned()
            .unwrap_or_default();
        indexes
            .iter()
            .map(|(hash, range)| {
                let entry = |item: Option<&Item>| {
                    let item = item?;
                    Some((item.get(hash)?.clone(), item.get(range)?.clone()))
                };
                match (entry(before), entry(after)) {
                    (None, None) => 0,
                    (Some(_), None) | (None, Some(_)) => 1,
                    (Some(old), Some(new)) if old == new => 0,
                    // The old entry is deleted and the new one put.
                    (Some(_), Some(_)) => 2,
                }
            })
            .sum()
    }

    /// Learns a table's key and index key names once.
    async fn describe(&self, table: &str) {
        if lock(&self.key_names).contains_key(table) {
            return;
        }
        let Ok(described) = self
            .unmetered
            .describe_table()
            .table_name(table)
            .send()
            .await
        else {
            return;
        };
        let Some(description) = described.table else {
            return;
        };
        let names = description
            .key_schema()
            .iter()
            .map(|k| k.attribute_name().to_owned())
            .collect();
        let indexes = description
            .global_secondary_indexes()
            .iter()
            .filter_map(|index| {
                let keys = index.key_schema();
                let hash = keys.first()?.attribute_name().to_owned();
                let range = keys.get(1)?.attribute_name().to_owned();
                Some((hash, range))
            })
            .collect();
        lock(&self.key_names).insert(table.to_owned(), names);
        lock(&self.index_keys).insert(table.to_owned(), indexes);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Half units as text: 7 → "3.5".
pub fn halves(half_units: u32) -> String {
    if half_units.is_multiple_of(2) {
        (half_units / 2).to_string()
    } else {
        format!("{}.5", half_units / 2)
    }
}

fn started(bytes: usize, unit: usize) -> u32 {
    u32::try_from(bytes.div_ceil(unit)).unwrap_or(u32::MAX)
}

/// An item's size by DynamoDB's rules (see the module).
pub fn item_size(item: &Item) -> usize {
    item.iter()
        .map(|(name, value)| name.len() + value_size(value))
        .sum()
}

fn value_size(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => 0,
    }
}

/// 1 byte per two significant digits, plus 1.
fn number_size(number: &str) -> usize {
    let digits: String = number
        .split(['e', 'E'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

/// A DynamoDB JSON item (`{"name": {"S": "..."}}`) as the SDK's type.
fn json_item(value: &Value) -> Option<Item> {
    value
        .as_object()?
        .iter()
        .map(|(name, v)| Some((name.clone(), json_value(v)?)))
        .collect()
}

fn json_value(value: &Value) -> Option<AttributeValue> {
    let (kind, v) = value.as_object()?.iter().next()?;
    let strings = || -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|s| s.as_str().map(str::to_owned))
            .collect()
    };
    let blob = |s: &Value| -> Option<Blob> {
        base64::engine::general_purpose::STANDARD
            .decode(s.as_str()?)
            .ok()
            .map(Blob::new)
    };
    Some(match kind.as_str() {
        "S" => AttributeValue::S(v.as_str()?.to_owned()),
        "N" => AttributeValue::N(v.as_str()?.to_owned()),
        "B" => AttributeValue::B(blob(v)?),
        "BOOL" => AttributeValue::Bool(v.as_bool()?),
        "NULL" => AttributeValue::Null(true),
        "SS" => AttributeValue::Ss(strings()?),
        "NS" => AttributeValue::Ns(strings()?),
        "BS" => AttributeValue::Bs(v.as_array()?.iter().map(blob).collect::<Option<_>>()?),
        "L" => AttributeValue::L(
            v.as_array()?
                .iter()
                .map(json_value)
                .collect::<Option<_>>()?,
        ),
        "M" => AttributeValue::M(json_item(v)?),
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    DynamoDb,
    Sqs,
}

struct Request {
    service: Service,
    operation: String,
    body: Value,
    before: Option<Item>,
}

struct Response {
    /// The error's `__type`, empty on success.
    error: String,
    body: Value,
}

#[derive(Debug)]
struct MeteredConnector {
    inner: SharedHttpConnector,
    meter: Arc<CapacityMeter>,
}

impl HttpConnector for MeteredConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let inner = self.inner.clone();
        let meter = Arc::clone(&self.meter);
        // `X-Amz-Target: DynamoDB_20120810.UpdateItem` / `AmazonSQS.SendMessage`.
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_owned();
        let body: Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        HttpConnectorFuture::new(async move {
            let (service, operation) = match target.split_once('.') {
                Some(("AmazonSQS", op)) => (Service::Sqs, op.to_owned()),
                Some((_, op)) => (Service::DynamoDb, op.to_owned()),
                None => return inner.call(request).await,
            };
            let before = if service == Service::DynamoDb {
                meter.item_before(&operation, &body).await
            } else {
                None
            };
            let mut response = inner.call(request).await?;
            // Read the answer (to tell a failed condition and to size a
            // query's items), then hand the same bytes on.
            let bytes = ByteStream::new(response.take_body())
                .collect()
                .await
                .map(|b| b.into_bytes())
                .unwrap_or_default();
            let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            *response.body_mut() = SdkBody::from(bytes);
            let error = if response.status().is_success() {
                String::new()
            } else {
                answer["__type"]
                    .as_str()
                    .unwrap_or("unknown error")
                    .to_owned()
            };
            meter
                .charge(
                    Request {
                        service,
                        operation,
                        body,
                        before,
                    },
                    &Response {
                        error,
                        body: answer,
                    },
                )
                .await;
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_dynamodbs_rules() {
        // "abc" (3) + "hello" (5); "n" (1) + 12345 → 3 digit pairs + 1.
        let item = Item::from([
            ("abc".to_owned(), AttributeValue::S("hello".to_owned())),
            ("n".to_owned(), AttributeValue::N("12345".to_owned())),
        ]);
        assert_eq!(item_size(&item), 8 + 1 + 4);
        // Leading and trailing zeroes do not count: 1200 is two digits.
        assert_eq!(number_size("1200"), 2);
        assert_eq!(number_size("-0.0015"), 2);
        // A list: 3 + per element (1 + size); a map element adds its name.
        let list = AttributeValue::L(vec![AttributeValue::M(HashMap::from([(
            "at".to_owned(),
            AttributeValue::N("7".to_owned()),
        )]))]);
        assert_eq!(value_size(&list), 3 + 1 + (3 + 1 + 2 + 2));
        assert_eq!(started(1024, 1024), 1);
        assert_eq!(started(1025, 1024), 2);
        assert_eq!(halves(7), "3.5");
        assert_eq!(halves(8), "4");
    }

    #[test]
    fn dynamodb_json_reads_as_the_sdks_values() {
        let item = json_item(&serde_json::json!({
            "k": {"S": "x"},
            "b": {"B": "AAE="},
            "l": {"L": [{"N": "1"}, {"BOOL": true}]},
        }))
        .expect("valid item");
        assert_eq!(item["b"], AttributeValue::B(Blob::new(vec![0, 1])));
        assert_eq!(
            item_size(&item),
            (1 + 1) + (1 + 2) + (1 + 3 + (1 + 2) + (1 + 1))
        );
    }
}
