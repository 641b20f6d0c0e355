//! [`PaymentStore`] on the orders table: two attributes of the order's own
//! item. `payment_started_at` (when an attempt first got as far as posting
//! the order's payment; kept by every later mark) and `payment_note` (what
//! the payment step did, also appended to the history). Both writes are
//! conditional on the attempt holding the lease on a pending order.

use super::expression::conditional_write;
use super::item::{history_entry, n, s};
use super::orders::DynamoOrderStore;
use crate::domain::lifecycle::{Label, LeaseOwner};
use crate::ports::{PaymentStore, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use std::collections::HashMap;

const HOLDS_THE_LEASE: &str = "lease_owner = :owner AND label = :pending";

impl PaymentStore for DynamoOrderStore {
    async fn mark_payment_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET payment_started_at = if_not_exists(payment_started_at, :now)",
                HOLDS_THE_LEASE,
                HashMap::from([
                    (":now".to_owned(), n(now)),
                    (":owner".to_owned(), s(owner.to_string())),
                    (":pending".to_owned(), s(Label::Pending.as_str())),
                ]),
            )
            // The whole item as it was: whether `UPDATED_OLD` reports an attribute
            // `if_not_exists` left unchanged differs between implementations.
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let old = match result {
            Ok(out) => out.attributes,
            Err(e) => return conditional_write(Err::<(), _>(e)).map(|()| None),
        };
        let earlier = match old.as_ref().and_then(|old| old.get("payment_started_at")) {
            None => None,
            Some(AttributeValue::N(v)) => Some(v.parse().map_err(|e| StoreError::Corrupt {
                field: "payment_started_at",
                message: format!("{e}"),
            })?),
            Some(_) => {
                return Err(StoreError::Corrupt {
                    field: "payment_started_at",
                    message: "not a number".to_owned(),
                })
            }
        };
        Ok(earlier)
    }

    async fn record_payment(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        note: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let result = self
            .update_request(
                shop_id,
                order_id,
                "SET payment_note = :note, updated_at = :now, \
                 history = list_append(if_not_exists(history, :empty), :entry)",
                HOLDS_THE_LEASE,
                HashMap::from([
                    (":note".to_owned(), s(note)),
                    (":now".to_owned(), n(now)),
                    (":owner".to_owned(), s(owner.to_string())),
                    (":pending".to_owned(), s(Label::Pending.as_str())),
                    (":empty".to_owned(), AttributeValue::L(vec![])),
                    (":entry".to_owned(), history_entry(now, note)),
                ]),
            )
            .send()
            .await;
        conditional_write(result)
    }
}
