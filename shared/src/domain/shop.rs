//! A shop's configuration: who it is, how it authenticates, where its books
//! are, and the rules that map its orders to e-conomic invoices.

use crate::domain::secret::Secret;
use serde::{Deserialize, Serialize};

/// Which order event makes the order ready to be invoiced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    Created,
    #[default]
    Paid,
    Shipped,
}

impl Trigger {
    /// The order event that makes an order ready.
    pub fn event(self) -> crate::domain::order::EventType {
        use crate::domain::order::EventType;
        match self {
            Trigger::Created => EventType::OrderCreated,
            Trigger::Paid => EventType::OrderPaid,
            Trigger::Shipped => EventType::OrderShipped,
        }
    }
}

/// One accepted webhook signing secret (`whsec_<base64>`). During a
/// rotation the old secret keeps working until `valid_until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSecret {
    pub secret: Secret,
    /// RFC 3339; `None` means no expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EconomicCredentials {
    pub app_secret_token: Secret,
    pub agreement_grant_token: Secret,
}

/// Everything the bridge knows about one shop. Unknown keys are errors: a
/// misspelt `trigger` must not silently fall back to the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopConfig {
    pub shop_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    #[serde(default)]
    pub trigger: Trigger,
    pub webhook_secrets: Vec<WebhookSecret>,
    pub economic: EconomicCredentials,
    /// Mapping rules (debtor, VAT, lines, layouts, rounding).
    pub mapping: crate::domain::mapping::MappingConfig,
}

fn enabled_by_default() -> bool {
    true
}
