//! [`CreditStore`] on the orders table: three attributes of the order's own
//! item, so they live and expire with it. `credit_basis` (JSON of the
//! invoice's basis), `credit_ledger` (JSON of what its credit notes took)
//! and `credit_version` (absent = 0; bumped by every ledger write).

use super::expression::conditional_write;
use super::item::{n, s};
use super::orders::DynamoOrderStore;
use crate::domain::lifecycle::Label;
use crate::domain::mapping::credit_note::{CreditBasis, CreditLedger};
use crate::ports::{CreditAccount, CreditStore, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

fn corrupt(field: &'static str, message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        field,
        message: message.to_string(),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Unavailable(e.to_string()))
}

impl DynamoOrderStore {
    fn key_of(shop_id: &str, order_id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("shop_id".to_owned(), s(shop_id)),
            ("order_id".to_owned(), s(order_id)),
        ])
    }
}

impl CreditStore for DynamoOrderStore {
    async fn save_credit_basis(
        &self,
        shop_id: &str,
        order_id: &str,
        basis: &CreditBasis,
    ) -> Result<(), StoreError> {
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Self::key_of(shop_id, order_id)))
            .update_expression("SET credit_basis = :basis")
            .condition_expression("attribute_exists(order_id)")
            .expression_attribute_values(":basis", s(json(basis)?))
            .send()
            .await;
        conditional_write(result)
    }

    async fn credit_account(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> Result<Option<CreditAccount>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .set_key(Some(Self::key_of(shop_id, order_id)))
            .consistent_read(true)
            .projection_expression("#label, credit_basis, credit_ledger, credit_version")
            .expression_attribute_names("#label", "label")
            .send()
            .await
            .map_err(super::unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let text = |field: &'static str| -> Result<Option<&str>, StoreError> {
            match item.get(field) {
                None | Some(AttributeValue::Null(_)) => Ok(None),
                Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
                Some(_) => Err(corrupt(field, "not a string")),
            }
        };
        // A refund's parent that exists only as the refund's own write
        // never has a label; treat it as unknown.
        let Some(label) = text("label")? else {
            return Ok(None);
        };
        let label = Label::parse(label).ok_or_else(|| corrupt("label", "unknown label"))?;
        let basis = text("credit_basis")?
            .map(serde_json::from_str::<CreditBasis>)
            .transpose()
            .map_err(|e| corrupt("credit_basis", e))?;
        let ledger = text("credit_ledger")?
            .map(serde_json::from_str::<CreditLedger>)
            .transpose()
            .map_err(|e| corrupt("credit_ledger", e))?
            .unwrap_or_default();
        let ledger_version = match item.get("credit_version") {
            None => 0,
            Some(AttributeValue::N(v)) => v.parse().map_err(|e| corrupt("credit_version", e))?,
            Some(_) => return Err(corrupt("credit_version", "not a number")),
        };
        Ok(Some(CreditAccount {
            label,
            basis,
            ledger,
            ledger_version,
        }))
    }

    async fn write_ledger(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: u64,
        ledger: &CreditLedger,
    ) -> Result<(), StoreError> {
        let mut request = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Self::key_of(shop_id, order_id)))
            .update_expression("SET credit_ledger = :ledger, credit_version = :next")
            .expression_attribute_values(":ledger", s(json(ledger)?))
            .expression_attribute_values(":next", n(expected_version + 1));
        request = if expected_version == 0 {
            request.condition_expression(
                "attribute_exists(order_id) AND attribute_not_exists(credit_version)",
            )
        } else {
            request
                .condition_expression("credit_version = :expected")
                .expression_attribute_values(":expected", n(expected_version))
        };
        conditional_write(request.send().await)
    }
}
