//! Label notifications on the order's item, in attributes of their own
//! (no write here touches the label, lease or `version`, so none of them
//! can make transfer's conditional writes lose):
//!
//! * `notifications`: list of `{label, state, at, attempts, updated_at,
//!   last_error?}`; notification n is element n−1;
//! * `notify_seq`: the list's length, returned by the append;
//! * `notify_label`: the last label recorded (a repeat is not announced);
//!
//! and the same three for label write-backs into the shop
//! (`write_backs`, `write_back_seq`, `write_back_label`).

use super::expression::{conditional_write, is_conditional_failure};
use super::item::{n, s};
use super::orders::DynamoOrderStore;
use crate::domain::notify::{Channel, DeliveryState, DeliveryUpdate, NotificationRecord};
use crate::ports::{NotificationStore, StoreError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

fn key(shop_id: &str, order_id: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("shop_id".to_owned(), s(shop_id)),
        ("order_id".to_owned(), s(order_id)),
    ])
}

/// The channel's attributes: list, sequence counter, last label.
fn attributes(channel: Channel) -> (&'static str, &'static str, &'static str) {
    match channel {
        Channel::Notify => ("notifications", "notify_seq", "notify_label"),
        Channel::WriteBack => ("write_backs", "write_back_seq", "write_back_label"),
    }
}

fn corrupt(message: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        field: "notifications",
        message: message.into(),
    }
}

fn number<T: std::str::FromStr>(
    entry: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<T, StoreError> {
    match entry.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| corrupt(format!("{name}: {v}"))),
        _ => Err(corrupt(format!("{name} missing"))),
    }
}

fn text(entry: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    match entry.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

fn record(sequence: u64, value: &AttributeValue) -> Result<NotificationRecord, StoreError> {
    let AttributeValue::M(entry) = value else {
        return Err(corrupt("entry is not a map"));
    };
    let state = text(entry, "state").ok_or_else(|| corrupt("state missing"))?;
    Ok(NotificationRecord {
        sequence,
        label: text(entry, "label").ok_or_else(|| corrupt("label missing"))?,
        state: DeliveryState::parse(&state).ok_or_else(|| corrupt(format!("state {state}")))?,
        at: number(entry, "at")?,
        attempts: number(entry, "attempts")?,
        updated_at: number(entry, "updated_at")?,
        last_error: text(entry, "last_error"),
    })
}

/// The part of an UpdateItem that appends a label as a channel's next
/// notification (queued, at `now`) and counts its sequence: for
/// `record_notification` and for `mark_ok`, which folds the `ok`
/// notification into the label's own write. Its placeholders start with
/// `ntf_`, so they never meet the rest of the request's.
pub(super) struct Append {
    channel: Channel,
    label: String,
    now: i64,
}

impl Append {
    /// `SET` clause (without the keyword).
    pub(super) const SET: &'static str = "#ntf_list = list_append(if_not_exists(#ntf_list, :ntf_empty), :ntf_entry), #ntf_last = :ntf_label";
    /// `ADD` clause (without the keyword).
    pub(super) const ADD: &'static str = "#ntf_seq :ntf_one";
    /// The last label recorded is not this one (for channels that skip repeats).
    const NOT_A_REPEAT: &'static str =
        "(attribute_not_exists(#ntf_last) OR #ntf_last <> :ntf_label)";

    pub(super) fn new(channel: Channel, label: &str, now: i64) -> Self {
        Append {
            channel,
            label: label.to_owned(),
            now,
        }
    }

    /// Adds the names and values of [`Self::SET`] and [`Self::ADD`], and
    /// asks for the new sequence back.
    pub(super) fn apply(&self, request: UpdateItemFluentBuilder) -> UpdateItemFluentBuilder {
        let entry = AttributeValue::M(HashMap::from([
            ("label".to_owned(), s(&self.label)),
            ("state".to_owned(), s(DeliveryState::Queued.as_str())),
            ("at".to_owned(), n(self.now)),
            ("attempts".to_owned(), n(0)),
            ("updated_at".to_owned(), n(self.now)),
        ]));
        let (list, seq, last) = attributes(self.channel);
        request
            .expression_attribute_names("#ntf_list", list)
            .expression_attribute_names("#ntf_last", last)
            .expression_attribute_names("#ntf_seq", seq)
            .expression_attribute_values(":ntf_empty", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":ntf_entry", AttributeValue::L(vec![entry]))
            .expression_attribute_values(":ntf_label", s(&self.label))
            .expression_attribute_values(":ntf_one", n(1))
            .return_values(ReturnValue::UpdatedNew)
    }

    /// The sequence the append got, from the write's `UPDATED_NEW` answer.
    pub(super) fn sequence(
        &self,
        updated: Option<HashMap<String, AttributeValue>>,
    ) -> Result<u64, StoreError> {
        let (_, seq, _) = attributes(self.channel);
        number(&updated.unwrap_or_default(), seq)
    }
}

impl NotificationStore for DynamoOrderStore {
    async fn record_notification(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
        label: &str,
        now: i64,
    ) -> Result<Option<u64>, StoreError> {
        let append = Append::new(channel, label, now);
        let condition = if channel.skips_repeats() {
            format!("attribute_exists(#shop) AND {}", Append::NOT_A_REPEAT)
        } else {
            "attribute_exists(#shop)".to_owned()
        };
        let request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(shop_id, order_id)))
            .update_expression(format!("SET {} ADD {}", Append::SET, Append::ADD))
            .condition_expression(condition)
            .expression_attribute_names("#shop", "shop_id");
        match append.apply(request).send().await {
            Ok(out) => Ok(Some(append.sequence(out.attributes)?)),
            // The same label as the last one, or no such order.
            Err(e) if is_conditional_failure(&e) => Ok(None),
            Err(e) => Err(super::unavailable(e)),
        }
    }

    async fn update_notifications(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
        updates: &[(u64, &DeliveryUpdate)],
        now: i64,
    ) -> Result<(), StoreError> {
        let Some(highest) = updates.iter().map(|(sequence, _)| *sequence).max() else {
            return Ok(());
        };
        if updates.iter().any(|(sequence, _)| *sequence == 0) {
            return Err(StoreError::Conflict);
        }
        let (list, _, _) = attributes(channel);
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(key(shop_id, order_id)))
            // The highest index exists, so every lower one does.
            .condition_expression("attribute_exists(#list) AND size(#list) > :index")
            .expression_attribute_names("#list", list)
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":index", n(highest - 1));
        let mut set = Vec::new();
        let mut remove = Vec::new();
        for (i, (sequence, update)) in updates.iter().enumerate() {
            // The index is our own integer, so writing it into the
            // expression is safe; DynamoDB has no placeholder for list
            // positions.
            let at = format!("#list[{}]", sequence - 1);
            set.push(format!("{at}.#state = :state{i}"));
            set.push(format!("{at}.attempts = :attempts{i}"));
            set.push(format!("{at}.updated_at = :now"));
            request = request
                .expression_attribute_values(format!(":state{i}"), s(update.state.as_str()))
                .expression_attribute_values(format!(":attempts{i}"), n(update.attempts));
            match &update.error {
                Some(error) => {
                    set.push(format!("{at}.last_error = :error{i}"));
                    let error: String = error.chars().take(500).collect();
                    request = request.expression_attribute_values(format!(":error{i}"), s(error));
                }
                None => remove.push(format!("{at}.last_error")),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        conditional_write(request.update_expression(expression).send().await)
    }

    async fn notifications(
        &self,
        channel: Channel,
        shop_id: &str,
        order_id: &str,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let (list, _, _) = attributes(channel);
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(key(shop_id, order_id)))
            .projection_expression("#list")
            .expression_attribute_names("#list", list)
            .consistent_read(true)
            .send()
            .await
            .map_err(super::unavailable)?;
        match out.item.as_ref().and_then(|item| item.get(list)) {
            None => Ok(Vec::new()),
            Some(AttributeValue::L(list)) => list
                .iter()
                .enumerate()
                .map(|(i, value)| record(i as u64 + 1, value))
                .collect(),
            Some(_) => Err(corrupt("not a list")),
        }
    }
}
