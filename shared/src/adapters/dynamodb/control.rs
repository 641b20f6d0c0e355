//! The shop's requests on an order (cancel, re-send) on the orders table:
//! [`OrderControl`] for [`DynamoOrderStore`]. Every write is conditional on
//! the lease and bumps `version`.

use super::expression::{conditional_write, is_conditional_failure};
use super::item::{history_entry, n, order_record, s};
use super::orders::{DynamoOrderStore, RESCAN_KEY_PENDING};
use crate::domain::lifecycle::{Label, LeaseOwner, OrderRecord};
use crate::ports::{Claim, OrderControl, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

impl OrderControl for DynamoOrderStore {
    async fn claim_control(&self, claim: &Claim<'_>) -> Result<Option<OrderRecord>, StoreError> {
        let result = self
            .update_request(
                claim.shop_id,
                claim.order_id,
                "SET lease_until = :lease_until, lease_owner = :owner, version = version + :one, \
                 updated_at = :now",
                "attribute_exists(shop_id) AND label <> :cancelled \
                 AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                HashMap::from([
                    (":lease_until".to_owned(), n(claim.lease_until)),
                    (":owner".to_owned(), s(claim.owner.to_string())),
                    (":one".to_owned(), n(1)),
                    (":now".to_owned(), n(claim.now)),
                    (":cancelled".to_owned(), s(Label::Cancelled.as_str())),
                ]),
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

    async fn mark_cancelled(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        reason: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET label = :cancelled, last_error = :reason, updated_at = :now, \
                 expires_at = :expires_at, version = version + :one, \
                 history = list_append(if_not_exists(history, :empty), :entry) \
                 REMOVE lease_until, lease_owner, rescan_key, rescan_after",
                "lease_owner = :owner",
                HashMap::from([
                    (":cancelled".to_owned(), s(Label::Cancelled.as_str())),
                    (":reason".to_owned(), s(reason)),
                    (":now".to_owned(), n(now)),
                    (":expires_at".to_owned(), n(expires_at)),
                    (":one".to_owned(), n(1)),
                    (":owner".to_owned(), s(owner.to_string())),
                    (":empty".to_owned(), AttributeValue::L(vec![])),
                    (
                        ":entry".to_owned(),
                        history_entry(now, &format!("cancelled: {reason}")),
                    ),
                ]),
            )
            .send()
            .await;
        conditional_write(result)
    }

    async fn reopen_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        why: &str,
        now: i64,
        rescan_after: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET label = :pending, updated_at = :now, pending_since = :now, \
                 rescan_key = :rescan_key, rescan_after = :rescan_after, version = version + :one, \
                 history = list_append(if_not_exists(history, :empty), :entry) \
                 REMOVE lease_until, lease_owner, draft_invoice_number, booked_invoice_number, \
                 expires_at, last_error",
                "lease_owner = :owner AND label = :ok",
                HashMap::from([
                    (":pending".to_owned(), s(Label::Pending.as_str())),
                    (":ok".to_owned(), s(Label::Ok.as_str())),
                    (":now".to_owned(), n(now)),
                    (":rescan_key".to_owned(), s(RESCAN_KEY_PENDING)),
                    (":rescan_after".to_owned(), n(rescan_after)),
                    (":one".to_owned(), n(1)),
                    (":owner".to_owned(), s(owner.to_string())),
                    (":empty".to_owned(), AttributeValue::L(vec![])),
                    (":entry".to_owned(), history_entry(now, why)),
                ]),
            )
            .send()
            .await;
        conditional_write(result)
    }

    async fn release_control(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        what: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET updated_at = :now, version = version + :one, \
                 history = list_append(if_not_exists(history, :empty), :entry) \
                 REMOVE lease_until, lease_owner",
                "lease_owner = :owner",
                HashMap::from([
                    (":now".to_owned(), n(now)),
                    (":one".to_owned(), n(1)),
                    (":owner".to_owned(), s(owner.to_string())),
                    (":empty".to_owned(), AttributeValue::L(vec![])),
                    (":entry".to_owned(), history_entry(now, what)),
                ]),
            )
            .send()
            .await;
        conditional_write(result)
    }
}
