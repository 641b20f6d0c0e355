//! The orders table: one item per (shop_id, order_id).
//!
//! Attributes: `label`, `snapshot` (order JSON, compressed: see
//! [`super::snapshot`]), `snapshot_rank`, `events`
//! (string set), `webhook_ids` (bounded list), `attempts`, `last_error`,
//! `draft_invoice_number`, `booked_invoice_number`, `customer_number`,
//! `economic_calls`, `created_at`/`updated_at`/`pending_since` (epoch s),
//! `lease_until`/`lease_owner`, `create_started`, `history` (bounded list of
//! `{at, what}`), `version` (bumped by every label or lease change),
//! `rescan_key`/`rescan_after` (sparse GSI, present only while pending) and
//! `expires_at` (TTL, set on `ok`).

use super::expression::{alias, conditional_write, is_conditional_failure, names_in};
use super::item::{
    get_n, get_s, history_entry, history_value, n, order_record, s, snapshot_value,
    WEBHOOK_IDS_LIMIT,
};
use super::notifications::Append;
use crate::domain::lifecycle::{history, IngestWrite, Label, LeaseOwner, OrderRecord, PushOutcome};
use crate::domain::notify::Channel;
use crate::ports::{Claim, DueOrder, OkNotification, OrderStore, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// Name of the sparse index rescan queries.
pub const RESCAN_INDEX: &str = "rescan-index";
/// The only value `rescan_key` takes; the attribute is absent unless pending.
pub const RESCAN_KEY_PENDING: &str = "pending";

/// Orders table handle.
#[derive(Debug, Clone)]
pub struct DynamoOrderStore {
    client: Client,
    table: String,
}

impl DynamoOrderStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoOrderStore {
            client,
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn key(&self, shop_id: &str, order_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("shop_id".to_owned(), s(shop_id)),
            ("order_id".to_owned(), s(order_id)),
        ])
    }

    /// An UpdateItem on one order with every attribute name aliased
    /// (`snapshot`, `label`... collide with DynamoDB's reserved words).
    pub(super) fn update_request(
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
}

impl OrderStore for DynamoOrderStore {
    /// Strongly consistent read of one order.
    async fn get(&self, shop_id: &str, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key(shop_id, order_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(super::unavailable)?;
        out.item.as_ref().map(order_record).transpose()
    }

    /// Ingest's write: creates the item (`expected_version` None) or
    /// updates it if nobody changed it since we read `expected_version`.
    /// `Err(Conflict)` means: read again and decide again.
    async fn write_ingest(
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
            values.insert(":snapshot".to_owned(), snapshot_value(snapshot));
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
        conditional_write(result)
    }

    async fn claim(&self, claim: &Claim<'_>) -> Result<Option<OrderRecord>, StoreError> {
        let Claim {
            shop_id,
            order_id,
            owner,
            now,
            lease_until,
            rescan_after,
            reopen_failed,
        } = *claim;
        let mut values = HashMap::from([
            (":pending".to_owned(), s(Label::Pending.as_str())),
            (":lease_until".to_owned(), n(lease_until)),
            (":owner".to_owned(), s(owner.to_string())),
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":rescan_key".to_owned(), s(RESCAN_KEY_PENDING)),
            (":rescan_after".to_owned(), n(rescan_after)),
            (":now".to_owned(), n(now)),
            (":empty".to_owned(), AttributeValue::L(vec![])),
            (
                ":entry".to_owned(),
                history_entry(now, history::ATTEMPT_STARTED),
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
            Ok(out) => out.attributes.as_ref().map(order_record).transpose(),
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(super::unavailable(e)),
        }
    }

    /// Records that this attempt is about to call e-conomic's create, so a
    /// later attempt looks for an existing invoice first. Conditional on
    /// still holding the lease.
    async fn mark_create_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET create_started = :true",
                "lease_owner = :owner AND label = :pending",
                HashMap::from([
                    (":true".to_owned(), AttributeValue::Bool(true)),
                    (":owner".to_owned(), s(owner.to_string())),
                    (":pending".to_owned(), s(Label::Pending.as_str())),
                ]),
            )
            .send()
            .await;
        conditional_write(result)
    }

    /// Labels the order ok with its invoice numbers; releases the lease,
    /// leaves the rescan index and starts the TTL clock.
    async fn mark_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        outcome: &PushOutcome,
        now: i64,
        expires_at: i64,
        notification: OkNotification,
    ) -> Result<Option<u64>, StoreError> {
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
            (":customer".to_owned(), n(outcome.customer_number)),
            (":calls".to_owned(), n(outcome.calls)),
            (":now".to_owned(), n(now)),
            (":expires_at".to_owned(), n(expires_at)),
            (":one".to_owned(), n(1)),
            (":empty".to_owned(), AttributeValue::L(vec![])),
        ]);
        values.insert(
            ":entry".to_owned(),
            history_entry(now, &outcome.history_text()),
        );
        if let Some(draft) = outcome.draft_invoice_number {
            set.push("draft_invoice_number = :draft");
            values.insert(":draft".to_owned(), n(draft));
        }
        if let Some(booked) = outcome.booked_invoice_number {
            set.push("booked_invoice_number = :booked");
            values.insert(":booked".to_owned(), n(booked));
        }
        // The `ok` notification rides on the label's write: unconditional,
        // as the order moves from pending to ok (a repeat of `ok` is only
        // possible when recording the `pending` before it failed, and then
        // the second `ok`, with its new invoice, is news).
        let append = match notification {
            OkNotification::Skip => None,
            OkNotification::Record => {
                set.push(Append::SET);
                Some(Append::new(Channel::Notify, Label::Ok.as_str(), now))
            }
        };
        let mut expression = format!(
            "SET {} REMOVE lease_until, lease_owner, rescan_key, rescan_after, last_error",
            set.join(", ")
        );
        if append.is_some() {
            expression.push_str(&format!(" ADD {}", Append::ADD));
        }
        let request = self.update_request(
            shop_id,
            order_id,
            &expression,
            "attribute_exists(shop_id)",
            values,
        );
        let request = match &append {
            Some(append) => append.apply(request),
            None => request,
        };
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) if is_conditional_failure(&e) => return Err(StoreError::Conflict),
            Err(e) => return Err(super::unavailable(e)),
        };
        append.map(|a| a.sequence(out.attributes)).transpose()
    }

    /// Labels the order failed with a human-readable reason; releases the
    /// lease and leaves the rescan index. Never overwrites `ok`.
    async fn mark_failed(
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
                        history_entry(now, &history::failed(reason)),
                    ),
                ]),
            )
            .send()
            .await;
        conditional_write(result)
    }

    /// A transient failure: keep pending, remember the error, release the
    /// lease and push the rescan time past the planned retry.
    async fn record_transient(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
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
                    (":owner".to_owned(), s(owner.to_string())),
                    (":one".to_owned(), n(1)),
                    (":empty".to_owned(), AttributeValue::L(vec![])),
                    (
                        ":entry".to_owned(),
                        history_entry(now, &history::will_retry(error)),
                    ),
                ]),
            )
            .send()
            .await;
        conditional_write(result)
    }

    /// Pending orders due for a rescan (`rescan_after <= now`), oldest
    /// first, at most `limit`. Queries the sparse index; never scans.
    async fn due_for_rescan(&self, now: i64, limit: usize) -> Result<Vec<DueOrder>, StoreError> {
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
                .map_err(super::unavailable)?;
            for item in page.items() {
                found.push(DueOrder {
                    shop_id: get_s(item, "shop_id")?,
                    order_id: get_s(item, "order_id")?,
                    rescan_after: get_n(item, "rescan_after")?,
                });
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
    async fn bump_rescan(
        &self,
        shop_id: &str,
        order_id: &str,
        seen: i64,
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
                    (":seen".to_owned(), n(seen)),
                    (":pending".to_owned(), s(Label::Pending.as_str())),
                ]),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(super::unavailable(e)),
        }
    }
}
