//! The shops table: one item per shop, `shop_id` (key), `config` (the
//! [`ShopConfig`] as JSON) and `enabled`. With a [`SecretSealer`] that has
//! a key, the secrets are sealed under KMS ([`crate::adapters::sealed`]):
//! `config` holds placeholders and `sealed_key`, `sealed_secrets`
//! (binary) and `sealed_format` hold the rest. A record written before
//! sealing (plaintext secrets) still reads; `bridgectl shops seal` converts
//! it.

use crate::adapters::sealed::{SealError, SealedSecrets, SecretSealer, FORMAT};
use crate::domain::shop::ShopConfig;
use crate::ports::{ShopStore, StoreError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct DynamoShopStore {
    client: Client,
    table: String,
    sealer: Option<Arc<SecretSealer>>,
}

impl DynamoShopStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoShopStore {
            client,
            table: table.into(),
            sealer: None,
        }
    }

    /// Reads sealed records with `sealer`, and writes sealed when it has a
    /// key.
    pub fn with_sealer(mut self, sealer: Arc<SecretSealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    /// Whether the shop's record has its secrets sealed (`None`: no such
    /// shop). For the migration of plaintext records.
    pub async fn is_sealed(&self, shop_id: &str) -> Result<Option<bool>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("shop_id", AttributeValue::S(shop_id.to_owned()))
            .projection_expression("shop_id, sealed_key")
            .send()
            .await
            .map_err(super::unavailable)?;
        Ok(out.item.map(|item| item.contains_key("sealed_key")))
    }

    async fn unseal(
        &self,
        config: &mut ShopConfig,
        item: &HashMap<String, AttributeValue>,
    ) -> Result<(), StoreError> {
        let binary = |name: &'static str| match item.get(name) {
            Some(AttributeValue::B(blob)) => Ok(blob.as_ref().to_vec()),
            _ => Err(StoreError::Corrupt {
                field: name,
                message: "missing or not binary".to_owned(),
            }),
        };
        match item.get("sealed_format") {
            Some(AttributeValue::S(format)) if format == FORMAT => {}
            _ => {
                return Err(StoreError::Corrupt {
                    field: "sealed_format",
                    message: format!("expected {FORMAT}"),
                })
            }
        }
        let sealed = SealedSecrets {
            wrapped_key: binary("sealed_key")?,
            ciphertext: binary("sealed_secrets")?,
        };
        let Some(sealer) = &self.sealer else {
            return Err(StoreError::Corrupt {
                field: "sealed_key",
                message: "the secrets are sealed with KMS but this reader has no KMS client"
                    .to_owned(),
            });
        };
        sealer.unseal(config, &sealed).await.map_err(seal_error)
    }
}

fn seal_error(error: SealError) -> StoreError {
    match error {
        // KMS throttled or unreachable: the caller retries (503, a retry).
        SealError::Unavailable(detail) => StoreError::Unavailable(detail),
        other => StoreError::Corrupt {
            field: "sealed_secrets",
            message: other.to_string(),
        },
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
        if item.contains_key("sealed_key") {
            self.unseal(&mut config, &item).await?;
        }
        Ok(Some(config))
    }

    /// Creates or replaces a shop: sealed when the sealer has a key,
    /// else in plaintext (a deployment without `SECRETS_KEY_ID`).
    async fn put(&self, config: &ShopConfig) -> Result<(), StoreError> {
        let (stored, sealed) = match &self.sealer {
            Some(sealer) if sealer.can_seal() => {
                let (stored, sealed) = sealer.seal(config).await.map_err(seal_error)?;
                (stored, Some(sealed))
            }
            _ => (config.clone(), None),
        };
        let json = serde_json::to_string(&stored).map_err(|e| StoreError::Corrupt {
            field: "config",
            message: e.to_string(),
        })?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("shop_id", AttributeValue::S(config.shop_id.clone()))
            .item("config", AttributeValue::S(json))
            .item("enabled", AttributeValue::Bool(config.enabled));
        if let Some(sealed) = sealed {
            put = put
                .item("sealed_format", AttributeValue::S(FORMAT.to_owned()))
                .item(
                    "sealed_key",
                    AttributeValue::B(Blob::new(sealed.wrapped_key)),
                )
                .item(
                    "sealed_secrets",
                    AttributeValue::B(Blob::new(sealed.ciphertext)),
                );
        }
        put.send().await.map_err(super::unavailable)?;
        Ok(())
    }
}
