//! The orders table: one item per (shop_id, order_id).
//!
//! Attributes: `label`, `snapshot` (order JSON), `snapshot_rank`, `events`
//! (string set), `webhook_ids` (bounded list), `attempts`, `last_error`,
//! `draft_invoice_number`, `booked_invoice_number`, `customer_number`,
//! `economic_calls`, `created_at`/`updated_at`/`pending_since` (epoch s),
//! `lease_until`/`lease_owner`, `create_started`, `history` (bounded list of
//! `{at, what}`), `version` (bumped by every label or lease change),
//! `rescan_key`/`rescan_after` (sparse GSI, present only while pending) and
//! `expires_at` (TTL, set on `ok`).

use super::StoreError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// Name of the sparse index rescan queries.
pub const RESCAN_INDEX: &str = "rescan-index";
/// The only value `rescan_key` takes; the attribute is absent unless pending.
pub const RESCAN_KEY_PENDING: &str = "pending";
/// History entries kept per order (oldest dropped first).
pub const HISTORY_LIMIT: usize = 30;
/// Webhook ids remembered per order for duplicate detection.
pub const WEBHOOK_IDS_LIMIT: usize = 50;

/// The order's state as seen by the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    /// Seen, but the shop's trigger event has not arrived yet: nothing to do.
    Recorded,
    /// Waiting to be (or being) transferred to e-conomic.
    Pending,
    /// The invoice exists in e-conomic.
    Ok,
    /// Transfer failed permanently; `last_error` says why.
    Failed,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Recorded => "recorded",
            Label::Pending => "e-conomic-pending",
            Label::Ok => "e-conomic-ok",
            Label::Failed => "e-conomic-failed",
        }
    }

    pub fn parse(value: &str) -> Option<Label> {
        [Label::Recorded, Label::Pending, Label::Ok, Label::Failed]
            .into_iter()
            .find(|l| l.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// Epoch seconds.
    pub at: i64,
    pub what: String,
}

/// One order as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRecord {
    pub shop_id: String,
    pub order_id: String,
    pub label: Label,
    pub snapshot: Option<String>,
    pub snapshot_rank: u8,
    pub events: Vec<String>,
    pub webhook_ids: Vec<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub draft_invoice_number: Option<u32>,
    pub booked_invoice_number: Option<u32>,
    pub customer_number: Option<u32>,
    pub economic_calls: Option<u32>,
    pub created_at: i64,
    pub updated_at: i64,
    pub pending_since: Option<i64>,
    pub lease_until: Option<i64>,
    pub lease_owner: Option<String>,
    pub create_started: bool,
    pub history: Vec<HistoryEntry>,
    pub version: u64,
    pub rescan_after: Option<i64>,
    pub expires_at: Option<i64>,
}

/// Everything ingest writes, computed from the previous state.
#[derive(Debug, Clone)]
pub struct IngestWrite {
    pub label: Label,
    /// `Some` replaces the stored snapshot.
    pub snapshot: Option<(String, u8)>,
    pub events: Vec<String>,
    pub webhook_ids: Vec<String>,
    pub history: Vec<HistoryEntry>,
    /// Set when the write makes the order pending.
    pub rescan_after: Option<i64>,
}

/// What a successful push left in e-conomic.
#[derive(Debug, Clone, PartialEq)]
pub struct PushResult {
    pub customer_number: u32,
    pub draft_invoice_number: Option<u32>,
    pub booked_invoice_number: Option<u32>,
    pub economic_calls: u32,
}

/// Orders table handle.
#[derive(Debug, Clone)]
pub struct OrderStore {
    client: Client,
    table: String,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn history_value(history: &[HistoryEntry]) -> AttributeValue {
    let start = history.len().saturating_sub(HISTORY_LIMIT);
    AttributeValue::L(
        history[start..]
            .iter()
            .map(|h| {
                AttributeValue::M(HashMap::from([
                    ("at".to_owned(), n(h.at)),
                    ("what".to_owned(), s(h.what.clone())),
                ]))
            })
            .collect(),
    )
}
fn history_entry(at: i64, what: &str) -> AttributeValue {
    AttributeValue::L(vec![AttributeValue::M(HashMap::from([
        ("at".to_owned(), n(at)),
        ("what".to_owned(), s(what)),
    ]))])
}

fn is_conditional_failure<E>(err: &aws_sdk_dynamodb::error::SdkError<E>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "ConditionalCheckFailedException")
}

impl OrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        OrderStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn key(&self, shop_id: &str, order_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("shop_id".to_owned(), s(shop_id)),
            ("order_id".to_owned(), s(order_id)),
        ])
    }

    /// An UpdateItem on one order with every attribute name aliased
    /// (`snapshot`, `label`... collide with DynamoDB's reserved words).
    fn update_request(
        &self,
        shop_id: &str,
        order_id: &str,
        update: &str,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        let update = alias(update);
        let condition = alias(condition);
        let names = names_in(&[&update, &condition]);
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.key(shop_id, order_id)))
            .update_expression(update)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
    }

    /// Strongly consistent read of one order.
    pub async fn get(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(shop_id, order_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(StoreError::sdk)?;
        out.item.as_ref().map(OrderRecord::from_item).transpose()
    }

    /// Ingest's write: creates the item (`expected_version` None) or
    /// updates it if nobody changed it since we read `expected_version`.
    /// `Err(Conflict)` means: read again and decide again.
    pub async fn write_ingest(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: Option<u64>,
        write: &IngestWrite,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut set = vec![
            "label = :label",
            "events = :events",
            "webhook_ids = :webhook_ids",
            "history = :history",
            "updated_at = :now",
            "created_at = if_not_exists(created_at, :now)",
            "attempts = if_not_exists(attempts, :zero)",
            "create_started = if_not_exists(create_started, :false)",
            "version = :new_version",
        ];
        let mut remove: Vec<&str> = Vec::new();
        let mut values = HashMap::from([
            (":label".to_owned(), s(write.label.as_str())),
            (
                ":events".to_owned(),
                AttributeValue::Ss(write.events.clone()),
            ),
            (
                ":webhook_ids".to_owned(),
                AttributeValue::L(
                    write.webhook_ids[write.webhook_ids.len().saturating_sub(WEBHOOK_IDS_LIMIT)..]
                        .iter()
                        .map(|id| s(id.clone()))
                        .collect(),
                ),
            ),
            (":history".to_owned(), history_value(&write.history)),
            (":now".to_owned(), n(now)),
            (":zero".to_owned(), n(0)),
            (":false".to_owned(), AttributeValue::Bool(false)),
            (
                ":new_version".to_owned(),
                n(expected_version.map_or(1, |v| v + 1)),
            ),
        ]);
        if let Some((snapshot, rank)) = &write.snapshot {
            set.push("snapshot = :snapshot");
            set.push("snapshot_rank = :rank");
            values.insert(":snapshot".to_owned(), s(snapshot.clone()));
            values.insert(":rank".to_owned(), n(rank));
        }
        if let Some(rescan_after) = write.rescan_after {
            set.push("rescan_key = :rescan_key");
            set.push("rescan_after = :rescan_after");
            set.push("pending_since = :now");
            values.insert(":rescan_key".to_owned(), s(RESCAN_KEY_PENDING));
            values.insert(":rescan_after".to_owned(), n(rescan_after));
            remove.push("last_error");
        }
        let condition = match expected_version {
            None => "attribute_not_exists(shop_id)",
            Some(v) => {
                values.insert(":expected_version".to_owned(), n(v));
                "version = :expected_version"
            }
        };
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let result = self
            .update_request(shop_id, order_id, &expression, condition, values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// Takes the transfer lease: succeeds only if the order is pending (or
    /// failed, with `reopen_failed`: a replayed dead letter) and no live
    /// lease is held. Moves a failed order back
    /// to pending, counts the attempt and pushes `rescan_after` beyond the
    /// lease. `Ok(None)` means the claim was refused; read the order to see
    /// why.
    #[allow(clippy::too_many_arguments)] // one conditional write's inputs
    pub async fn claim(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &str,
        now: i64,
        lease_until: i64,
        rescan_after: i64,
        reopen_failed: bool,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let mut values = HashMap::from([
            (":pending".to_owned(), s(Label::Pending.as_str())),
            (":lease_until".to_owned(), n(lease_until)),
            (":owner".to_owned(), s(owner)),
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":rescan_key".to_owned(), s(RESCAN_KEY_PENDING)),
            (":rescan_after".to_owned(), n(rescan_after)),
            (":now".to_owned(), n(now)),
            (":empty".to_owned(), AttributeValue::L(vec![])),
            (
                ":entry".to_owned(),
                history_entry(now, "transfer attempt started"),
            ),
        ]);
        // DynamoDB refuses unused expression values: `:failed` only when used.
        let labels = if reopen_failed {
            values.insert(":failed".to_owned(), s(Label::Failed.as_str()));
            "label IN (:pending, :failed)"
        } else {
            "label = :pending"
        };
        let condition = format!(
            "attribute_exists(shop_id) AND {labels} \
             AND (attribute_not_exists(lease_until) OR lease_until < :now)"
        );
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET label = :pending, lease_until = :lease_until, lease_owner = :owner, \
                 attempts = if_not_exists(attempts, :zero) + :one, version = version + :one, \
                 rescan_key = :rescan_key, rescan_after = :rescan_after, updated_at = :now, \
                 history = list_append(if_not_exists(history, :empty), :entry)",
                &condition,
                values,
            )
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => out
                .attributes
                .as_ref()
                .map(OrderRecord::from_item)
                .transpose(),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// Records that this attempt is about to call e-conomic's create, so a
    /// later attempt looks for an existing invoice first. Conditional on
    /// still holding the lease.
    pub async fn mark_create_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET create_started = :true",
                "lease_owner = :owner AND label = :pending",
                HashMap::from([
                    (":true".to_owned(), AttributeValue::Bool(true)),
                    (":owner".to_owned(), s(owner)),
                    (":pending".to_owned(), s(Label::Pending.as_str())),
                ]),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// Labels the order ok with its invoice numbers; releases the lease,
    /// leaves the rescan index and starts the TTL clock.
    pub async fn mark_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        result: &PushResult,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let mut set = vec![
            "label = :ok",
            "customer_number = :customer",
            "economic_calls = :calls",
            "updated_at = :now",
            "transferred_at = :now",
            "expires_at = :expires_at",
            "version = version + :one",
            "history = list_append(if_not_exists(history, :empty), :entry)",
        ];
        let mut values = HashMap::from([
            (":ok".to_owned(), s(Label::Ok.as_str())),
            (":customer".to_owned(), n(result.customer_number)),
            (":calls".to_owned(), n(result.economic_calls)),
            (":now".to_owned(), n(now)),
            (":expires_at".to_owned(), n(expires_at)),
            (":one".to_owned(), n(1)),
            (":empty".to_owned(), AttributeValue::L(vec![])),
        ]);
        let what = match (result.booked_invoice_number, result.draft_invoice_number) {
            (Some(booked), _) => format!("booked invoice {booked}"),
            (None, Some(draft)) => format!("draft invoice {draft}"),
            (None, None) => "invoice created".to_owned(),
        };
        values.insert(":entry".to_owned(), history_entry(now, &what));
        if let Some(draft) = result.draft_invoice_number {
            set.push("draft_invoice_number = :draft");
            values.insert(":draft".to_owned(), n(draft));
        }
        if let Some(booked) = result.booked_invoice_number {
            set.push("booked_invoice_number = :booked");
            values.insert(":booked".to_owned(), n(booked));
        }
        let expression = format!(
            "SET {} REMOVE lease_until, lease_owner, rescan_key, rescan_after, last_error",
            set.join(", ")
        );
        self.update_request(
            shop_id,
            order_id,
            &expression,
            "attribute_exists(shop_id)",
            values,
        )
        .send()
        .await
        .map_err(StoreError::sdk)?;
        Ok(())
    }

    /// Labels the order failed with a human-readable reason; releases the
    /// lease and leaves the rescan index. Never overwrites `ok`.
    pub async fn mark_failed(
        &self,
        shop_id: &str,
        order_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET label = :failed, last_error = :reason, updated_at = :now, \
                 version = version + :one, \
                 history = list_append(if_not_exists(history, :empty), :entry) \
                 REMOVE lease_until, lease_owner, rescan_key, rescan_after",
                "attribute_exists(shop_id) AND label <> :ok",
                HashMap::from([
                    (":failed".to_owned(), s(Label::Failed.as_str())),
                    (":ok".to_owned(), s(Label::Ok.as_str())),
                    (":reason".to_owned(), s(reason)),
                    (":now".to_owned(), n(now)),
                    (":one".to_owned(), n(1)),
                    (":empty".to_owned(), AttributeValue::L(vec![])),
                    (
                        ":entry".to_owned(),
                        history_entry(now, &format!("failed: {reason}")),
                    ),
                ]),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// A transient failure: keep pending, remember the error, release the
    /// lease and push the rescan time past the planned retry.
    pub async fn record_transient(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &str,
        error: &str,
        now: i64,
        rescan_after: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET last_error = :error, updated_at = :now, rescan_after = :rescan_after, \
                 version = version + :one, \
                 history = list_append(if_not_exists(history, :empty), :entry) \
                 REMOVE lease_until, lease_owner",
                "lease_owner = :owner",
                HashMap::from([
                    (":error".to_owned(), s(error)),
                    (":now".to_owned(), n(now)),
                    (":rescan_after".to_owned(), n(rescan_after)),
                    (":owner".to_owned(), s(owner)),
                    (":one".to_owned(), n(1)),
                    (":empty".to_owned(), AttributeValue::L(vec![])),
                    (
                        ":entry".to_owned(),
                        history_entry(now, &format!("will retry: {error}")),
                    ),
                ]),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::Conflict),
            Err(e) => Err(StoreError::sdk(e)),
        }
    }

    /// Pending orders due for a rescan (`rescan_after <= now`), oldest
    /// first, at most `limit`. Queries the sparse index; never scans.
    pub async fn due_for_rescan(
        &self,
        now: i64,
        limit: usize,
    ) -> Result<Vec<(String, String, i64)>, StoreError> {
        let mut found = Vec::new();
        let mut start_key = None;
        while found.len() < limit {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(RESCAN_INDEX)
                .key_condition_expression("#rescan_key = :pending AND #rescan_after <= :now")
                .set_expression_attribute_names(Some(names_in(&["#rescan_key #rescan_after"])))
                .set_expression_attribute_values(Some(HashMap::from([
                    (":pending".to_owned(), s(RESCAN_KEY_PENDING)),
                    (":now".to_owned(), n(now)),
                ])))
                .limit(i32::try_from(limit - found.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(StoreError::sdk)?;
            for item in page.items() {
                let shop_id = get_s(item, "shop_id")?;
                let order_id = get_s(item, "order_id")?;
                let rescan_after = get_n(item, "rescan_after")?;
                found.push((shop_id, order_id, rescan_after));
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        found.truncate(limit);
        Ok(found)
    }

    /// Moves `rescan_after` from the value we saw to `next`, only if it is
    /// still pending and nobody moved it. `Ok(false)`: someone else did.
    pub async fn bump_rescan(
        &self,
        shop_id: &str,
        order_id: &str,
        seen_rescan_after: i64,
        next: i64,
    ) -> Result<bool, StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET rescan_after = :next",
                "label = :pending AND rescan_after = :seen",
                HashMap::from([
                    (":next".to_owned(), n(next)),
                    (":seen".to_owned(), n(seen_rescan_after)),
                    (":pending".to_owned(), s(Label::Pending.as_str())),
                ]),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(StoreError::sdk(e)),
        }
    }
}

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
fn alias(expression: &str) -> String {
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
fn names_in(expressions: &[&str]) -> HashMap<String, String> {
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

fn corrupt(field: &'static str, message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        field,
        message: message.into(),
    }
}

fn get_s(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<String, StoreError> {
    match item.get(field) {
        Some(AttributeValue::S(v)) => Ok(v.clone()),
        Some(_) => Err(corrupt(field, "not a string")),
        None => Err(corrupt(field, "missing")),
    }
}

fn opt_s(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<Option<String>, StoreError> {
    match item.get(field) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
        Some(_) => Err(corrupt(field, "not a string")),
    }
}

fn get_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<T, StoreError> {
    opt_n(item, field)?.ok_or_else(|| corrupt(field, "missing"))
}

fn opt_n<T: std::str::FromStr>(
    item: &HashMap<String, AttributeValue>,
    field: &'static str,
) -> Result<Option<T>, StoreError> {
    match item.get(field) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| corrupt(field, format!("not a valid number: {v}"))),
        Some(_) => Err(corrupt(field, "not a number")),
    }
}

impl OrderRecord {
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Self, StoreError> {
        let label_text = get_s(item, "label")?;
        let label = Label::parse(&label_text)
            .ok_or_else(|| corrupt("label", format!("unknown label {label_text}")))?;
        let events = match item.get("events") {
            None => Vec::new(),
            Some(AttributeValue::Ss(v)) => v.clone(),
            Some(_) => return Err(corrupt("events", "not a string set")),
        };
        let webhook_ids = match item.get("webhook_ids") {
            None => Vec::new(),
            Some(AttributeValue::L(v)) => v
                .iter()
                .map(|x| match x {
                    AttributeValue::S(id) => Ok(id.clone()),
                    _ => Err(corrupt("webhook_ids", "entry is not a string")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(corrupt("webhook_ids", "not a list")),
        };
        let history = match item.get("history") {
            None => Vec::new(),
            Some(AttributeValue::L(v)) => v
                .iter()
                .map(|x| match x {
                    AttributeValue::M(m) => Ok(HistoryEntry {
                        at: get_n(m, "at")?,
                        what: get_s(m, "what")?,
                    }),
                    _ => Err(corrupt("history", "entry is not a map")),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(corrupt("history", "not a list")),
        };
        let create_started = match item.get("create_started") {
            None => false,
            Some(AttributeValue::Bool(b)) => *b,
            Some(_) => return Err(corrupt("create_started", "not a boolean")),
        };
        Ok(OrderRecord {
            shop_id: get_s(item, "shop_id")?,
            order_id: get_s(item, "order_id")?,
            label,
            snapshot: opt_s(item, "snapshot")?,
            snapshot_rank: opt_n(item, "snapshot_rank")?.unwrap_or(0),
            events,
            webhook_ids,
            attempts: opt_n(item, "attempts")?.unwrap_or(0),
            last_error: opt_s(item, "last_error")?,
            draft_invoice_number: opt_n(item, "draft_invoice_number")?,
            booked_invoice_number: opt_n(item, "booked_invoice_number")?,
            customer_number: opt_n(item, "customer_number")?,
            economic_calls: opt_n(item, "economic_calls")?,
            created_at: opt_n(item, "created_at")?.unwrap_or(0),
            updated_at: opt_n(item, "updated_at")?.unwrap_or(0),
            pending_since: opt_n(item, "pending_since")?,
            lease_until: opt_n(item, "lease_until")?,
            lease_owner: opt_s(item, "lease_owner")?,
            create_started,
            history,
            version: opt_n(item, "version")?.unwrap_or(0),
            rescan_after: opt_n(item, "rescan_after")?,
            expires_at: opt_n(item, "expires_at")?,
        })
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

    #[test]
    fn labels_round_trip() {
        for l in [Label::Recorded, Label::Pending, Label::Ok, Label::Failed] {
            assert_eq!(Label::parse(l.as_str()), Some(l));
        }
        assert_eq!(Label::parse("e-conomic-maybe"), None);
        assert_eq!(Label::Ok.as_str(), "e-conomic-ok");
    }

    #[test]
    fn corrupt_item_names_the_field() {
        let item = HashMap::from([
            ("shop_id".to_owned(), s("shop")),
            ("order_id".to_owned(), s("1")),
            ("label".to_owned(), s("e-conomic-ok")),
            ("attempts".to_owned(), s("three")),
        ]);
        match OrderRecord::from_item(&item) {
            Err(StoreError::Corrupt { field, .. }) => assert_eq!(field, "attempts"),
            other => panic!("expected corrupt attempts, got {other:?}"),
        }
    }

    #[test]
    fn history_is_bounded_to_the_newest_entries() {
        let history: Vec<HistoryEntry> = (0..(HISTORY_LIMIT as i64 + 5))
            .map(|i| HistoryEntry {
                at: i,
                what: format!("step {i}"),
            })
            .collect();
        let AttributeValue::L(items) = history_value(&history) else {
            panic!("history is a list")
        };
        assert_eq!(items.len(), HISTORY_LIMIT);
        let AttributeValue::M(first) = &items[0] else {
            panic!("entry is a map")
        };
        assert_eq!(first.get("at"), Some(&n(5)));
    }
}
