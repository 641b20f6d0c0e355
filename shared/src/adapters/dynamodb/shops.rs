//! The shops table: one item per shop, `shop_id` (key), `config` (the
//! [`ShopConfig`] as JSON, secrets included — the table is encrypted at rest
//! and only the bridge's functions may read it) and `enabled`.

use crate::domain::shop::ShopConfig;
use crate::ports::{ShopStore, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

#[derive(Debug, Clone)]
pub struct DynamoShopStore {
    client: Client,
    table: String,
}

impl DynamoShopStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoShopStore {
            client,
            table: table.into(),
        }
    }
}

impl ShopStore for DynamoShopStore {
    /// The shop's configuration, `None` if unknown. A stored config that
    /// does not parse is reported as corrupt (never echoed: it holds secrets).
    async fn get(&self, shop_id: &str) -> Result<Option<ShopConfig>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("shop_id", AttributeValue::S(shop_id.to_owned()))
            .send()
            .await
            .map_err(super::unavailable)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let Some(AttributeValue::S(json)) = item.get("config") else {
            return Err(StoreError::Corrupt {
                field: "config",
                message: "missing or not a string".to_owned(),
            });
        };
        let mut config: ShopConfig =
            serde_json::from_str(json).map_err(|e| StoreError::Corrupt {
                field: "config",
                // Line/column only: the message could quote secret values.
                message: format!("invalid JSON at line {} column {}", e.line(), e.column()),
            })?;
        if let Some(AttributeValue::Bool(enabled)) = item.get("enabled") {
            config.enabled = *enabled;
        }
        Ok(Some(config))
    }

    /// Creates or replaces a shop.
    async fn put(&self, config: &ShopConfig) -> Result<(), StoreError> {
        let json = serde_json::to_string(config).map_err(|e| StoreError::Corrupt {
            field: "config",
            message: e.to_string(),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("shop_id", AttributeValue::S(config.shop_id.clone()))
            .item("config", AttributeValue::S(json))
            .item("enabled", AttributeValue::Bool(config.enabled))
            .send()
            .await
            .map_err(super::unavailable)?;
        Ok(())
    }
}
