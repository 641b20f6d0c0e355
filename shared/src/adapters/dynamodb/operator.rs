//! Store queries and updates for operators (the `bridgectl` CLI): listing a
//! shop's orders, putting a failed order back to pending, erasing a
//! customer's personal data, listing shops and switching a shop on or off.
//!
//! Its own handle rather than methods on [`super::DynamoOrderStore`] /
//! [`super::DynamoShopStore`], so the pipeline's store stays as small as the
//! pipeline needs; it reads and writes the same items.

use super::expression::is_conditional_failure;
use super::item::{n, order_record, s, snapshot_value};
use super::orders::RESCAN_KEY_PENDING;
use crate::domain::lifecycle::{Label, OrderRecord};
use crate::ports::StoreError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;

/// History text written when an operator re-sends an order.
pub const RESENT_BY_OPERATOR: &str = "re-sent by operator";

/// Why an operator re-send was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequeueRefused {
    /// No such order.
    NotFound,
    /// Already transferred: re-sending would do nothing.
    AlreadyOk,
    /// The shop's trigger event has not arrived yet: nothing to transfer.
    NotReady,
    /// A transfer attempt holds a live lease right now.
    InProgress { lease_until: i64 },
    /// The shop cancelled the order.
    Cancelled,
}

impl std::fmt::Display for RequeueRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequeueRefused::NotFound => f.write_str("no such order"),
            RequeueRefused::Cancelled => f.write_str(
                "the shop cancelled the order (e-conomic-cancelled): nothing to re-send",
            ),
            RequeueRefused::AlreadyOk => {
                f.write_str("already transferred (e-conomic-ok): nothing to re-send")
            }
            RequeueRefused::NotReady => f.write_str(
                "the shop's trigger event has not arrived yet (recorded): nothing to transfer",
            ),
            RequeueRefused::InProgress { lease_until } => write!(
                f,
                "a transfer attempt is running right now (lease until epoch {lease_until})"
            ),
        }
    }
}

/// Operator access to the shops and orders tables.
#[derive(Debug, Clone)]
pub struct OperatorStore {
    client: Client,
    shops_table: String,
    orders_table: String,
}

impl OperatorStore {
    pub fn new(
        client: Client,
        shops_table: impl Into<String>,
        orders_table: impl Into<String>,
    ) -> Self {
        OperatorStore {
            client,
            shops_table: shops_table.into(),
            orders_table: orders_table.into(),
        }
    }

    /// Strongly consistent read of one order.
    pub async fn get_order(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> Result<Option<OrderRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.orders_table)
            .key("shop_id", s(shop_id))
            .key("order_id", s(order_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(super::unavailable)?;
        out.item.as_ref().map(order_record).transpose()
    }

    /// A shop's newest orders (partition query, never a scan), optionally
    /// only those with `label`: at most `limit`, newest `created_at` first,
    /// equal times by order id.
    ///
    /// The table is keyed by order id, not time, and has no index by shop
    /// and time, so every page of the shop's partition is read; only the
    /// newest `limit` are kept (a bounded heap), so memory stays at `limit`
    /// records however many orders the shop has.
    pub async fn list_for_shop(
        &self,
        shop_id: &str,
        label: Option<Label>,
        limit: usize,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut newest = NewestOrders::new(limit);
        let mut start_key = None;
        let mut values = HashMap::from([(":shop".to_owned(), s(shop_id))]);
        let mut names = None;
        let filter = label.map(|label| {
            values.insert(":label".to_owned(), s(label.as_str()));
            // `label` is not a reserved word, but keep the name explicit.
            names = Some(HashMap::from([("#label".to_owned(), "label".to_owned())]));
            "#label = :label".to_owned()
        });
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.orders_table)
                .key_condition_expression("shop_id = :shop")
                .set_filter_expression(filter.clone())
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(super::unavailable)?;
            for item in page.items() {
                newest.offer(order_record(item)?);
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        Ok(newest.into_sorted())
    }

    /// Puts a failed (or stuck pending) order back to pending for another
    /// transfer: clears the lease, re-enters the rescan index due at
    /// `rescan_after`, appends "re-sent by operator" to the history. Keeps
    /// `create_started` as it is, so the next attempt still looks for an
    /// invoice an earlier attempt may have created before creating one.
    /// Refuses `ok` and `recorded` orders and orders with a live lease.
    pub async fn requeue_by_operator(
        &self,
        shop_id: &str,
        order_id: &str,
        now: i64,
        rescan_after: i64,
    ) -> Result<Result<(), RequeueRefused>, StoreError> {
        let key = HashMap::from([
            ("shop_id".to_owned(), s(shop_id)),
            ("order_id".to_owned(), s(order_id)),
        ]);
        let entry = AttributeValue::L(vec![AttributeValue::M(HashMap::from([
            ("at".to_owned(), n(now)),
            ("what".to_owned(), s(RESENT_BY_OPERATOR)),
        ]))]);
        let result = self
            .client
            .update_item()
            .table_name(&self.orders_table)
            .set_key(Some(key))
            .update_expression(
                "SET label = :pending, rescan_key = :rescan_key, rescan_after = :rescan_after, \
                 pending_since = :now, updated_at = :now, \
                 version = if_not_exists(version, :zero) + :one, \
                 history = list_append(if_not_exists(history, :empty), :entry) \
                 REMOVE lease_until, lease_owner",
            )
            .condition_expression(
                "attribute_exists(shop_id) AND label IN (:pending, :failed) \
                 AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            )
            .set_expression_attribute_values(Some(HashMap::from([
                (":pending".to_owned(), s(Label::Pending.as_str())),
                (":failed".to_owned(), s(Label::Failed.as_str())),
                (":rescan_key".to_owned(), s(RESCAN_KEY_PENDING)),
                (":rescan_after".to_owned(), n(rescan_after)),
                (":now".to_owned(), n(now)),
                (":zero".to_owned(), n(0)),
                (":one".to_owned(), n(1)),
                (":empty".to_owned(), AttributeValue::L(vec![])),
                (":entry".to_owned(), entry),
            ])))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(e) if is_conditional_failure(&e) => {
                // Read back to say why.
                let refused = match self.get_order(shop_id, order_id).await? {
                    None => RequeueRefused::NotFound,
                    Some(order) => match order.label {
                        Label::Ok => RequeueRefused::AlreadyOk,
                        Label::Recorded => RequeueRefused::NotReady,
                        Label::Cancelled => RequeueRefused::Cancelled,
                        Label::Pending | Label::Failed => RequeueRefused::InProgress {
                            lease_until: order.lease_until.unwrap_or(now),
                        },
                    },
                };
                Ok(Err(refused))
            }
            Err(e) => Err(super::unavailable(e)),
        }
    }
}

/// A page of a shop's orders and where the next begins (`None`: done).
pub type OrdersPage = (Vec<OrderRecord>, Option<HashMap<String, AttributeValue>>);

impl OperatorStore {
    /// One page of the shop's orders (its partition, in key order), for
    /// commands that must see every order without holding them all.
    pub async fn orders_page(
        &self,
        shop_id: &str,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<OrdersPage, StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.orders_table)
            .key_condition_expression("shop_id = :shop")
            .expression_attribute_values(":shop", s(shop_id))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(super::unavailable)?;
        let records = page
            .items()
            .iter()
            .map(order_record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((records, page.last_evaluated_key))
    }

    /// Replaces a finished order's snapshot with `erased_snapshot` (stored as
    /// every snapshot is, see `item::snapshot_value`) (and its
    /// reason with `last_error`, when given), adding `history` to its
    /// history. Only an `ok` or `failed` order that no transfer holds:
    /// `Ok(false)` when the order is not (or no longer) such an order.
    pub async fn erase_personal_data(
        &self,
        shop_id: &str,
        order_id: &str,
        erased_snapshot: &str,
        last_error: Option<&str>,
        history: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let entry = AttributeValue::L(vec![AttributeValue::M(HashMap::from([
            ("at".to_owned(), n(now)),
            ("what".to_owned(), s(history)),
        ]))]);
        let mut values = HashMap::from([
            (":snapshot".to_owned(), snapshot_value(erased_snapshot)),
            (":ok".to_owned(), s(Label::Ok.as_str())),
            (":failed".to_owned(), s(Label::Failed.as_str())),
            (":now".to_owned(), n(now)),
            (":zero".to_owned(), n(0)),
            (":one".to_owned(), n(1)),
            (":empty".to_owned(), AttributeValue::L(vec![])),
            (":entry".to_owned(), entry),
        ]);
        // `snapshot` is a reserved word.
        let mut update = "SET #snapshot = :snapshot, updated_at = :now, \
             version = if_not_exists(version, :zero) + :one, \
             history = list_append(if_not_exists(history, :empty), :entry)"
            .to_owned();
        if let Some(last_error) = last_error {
            values.insert(":last_error".to_owned(), s(last_error));
            update.push_str(", last_error = :last_error");
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.orders_table)
            .key("shop_id", s(shop_id))
            .key("order_id", s(order_id))
            .update_expression(update)
            .condition_expression(
                "attribute_exists(shop_id) AND label IN (:ok, :failed) \
                 AND (attribute_not_exists(lease_until) OR lease_until < :now)",
            )
            .expression_attribute_names("#snapshot", "snapshot")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(super::unavailable(e)),
        }
    }
}

/// An order ranked for "newest first": later `created_at` ranks higher;
/// at equal times the smaller order id ranks higher (so it is listed first).
struct ByRecency(OrderRecord);

impl ByRecency {
    fn key(&self) -> (i64, std::cmp::Reverse<&str>) {
        (
            self.0.created_at,
            std::cmp::Reverse(self.0.order_id.as_str()),
        )
    }
}

impl PartialEq for ByRecency {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for ByRecency {}
impl PartialOrd for ByRecency {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ByRecency {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

/// Keeps the `limit` highest-ranked orders offered: a min-heap whose top is
/// the lowest-ranked order kept, replaced when a higher-ranked one comes.
struct NewestOrders {
    limit: usize,
    kept: std::collections::BinaryHeap<std::cmp::Reverse<ByRecency>>,
}

impl NewestOrders {
    fn new(limit: usize) -> Self {
        NewestOrders {
            limit,
            kept: std::collections::BinaryHeap::new(),
        }
    }

    fn offer(&mut self, order: OrderRecord) {
        let candidate = ByRecency(order);
        if self.kept.len() < self.limit {
            self.kept.push(std::cmp::Reverse(candidate));
        } else if let Some(mut lowest) = self.kept.peek_mut() {
            if candidate > lowest.0 {
                *lowest = std::cmp::Reverse(candidate);
            }
        }
    }

    /// Newest first.
    fn into_sorted(self) -> Vec<OrderRecord> {
        // Ascending order of `Reverse` is descending rank.
        self.kept
            .into_sorted_vec()
            .into_iter()
            .map(|std::cmp::Reverse(ranked)| ranked.0)
            .collect()
    }
}

/// One row of the shops table, without the configuration's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopSummary {
    pub shop_id: String,
    pub enabled: bool,
    /// Empty when the stored configuration has none (or is unreadable).
    pub display_name: String,
}

/// The non-secret part of a stored configuration we list.
#[derive(serde::Deserialize)]
struct ConfigHeader {
    #[serde(default)]
    display_name: String,
}

impl OperatorStore {
    /// Every shop id with its enabled flag (a scan: the shops table is small
    /// and this is an operator command). Sorted by shop id.
    pub async fn list_shops(&self) -> Result<Vec<ShopSummary>, StoreError> {
        let mut shops = Vec::new();
        let mut start_key = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.shops_table)
                .projection_expression("shop_id, enabled, config")
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(super::unavailable)?;
            for item in page.items() {
                let shop_id = match item.get("shop_id") {
                    Some(AttributeValue::S(id)) => id.clone(),
                    _ => {
                        return Err(StoreError::Corrupt {
                            field: "shop_id",
                            message: "missing or not a string".to_owned(),
                        })
                    }
                };
                let enabled = !matches!(item.get("enabled"), Some(AttributeValue::Bool(false)));
                let display_name = match item.get("config") {
                    Some(AttributeValue::S(json)) => serde_json::from_str::<ConfigHeader>(json)
                        .map(|h| h.display_name)
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                shops.push(ShopSummary {
                    shop_id,
                    enabled,
                    display_name,
                });
            }
            start_key = page.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        shops.sort_by(|a, b| a.shop_id.cmp(&b.shop_id));
        Ok(shops)
    }

    /// Switches a shop on or off. `Ok(false)`: no such shop.
    pub async fn set_enabled(&self, shop_id: &str, enabled: bool) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.shops_table)
            .key("shop_id", s(shop_id))
            .update_expression("SET enabled = :enabled")
            .condition_expression("attribute_exists(shop_id)")
            .expression_attribute_values(":enabled", AttributeValue::Bool(enabled))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(super::unavailable(e)),
        }
    }
}
