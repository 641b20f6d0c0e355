//! A shop's configuration: who it is, how it authenticates, where its books
//! are, and the rules that map its orders to e-conomic invoices.

use crate::domain::secret::Secret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

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

/// Where a shop's label notifications go. Secrets are `whsec_<base64>`
/// (Standard Webhooks, [`crate::domain::notify`]); during a rotation both are listed and every
/// delivery carries a signature for each active one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyTarget {
    /// `https://…` (plain `http://` only for `localhost` / `127.0.0.1`).
    pub url: String,
    pub secrets: Vec<WebhookSecret>,
}

impl fmt::Debug for NotifyTarget {
    // The URL may carry a token in its query string: only the host shows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NotifyTarget")
            .field("host", &url_host(&self.url).unwrap_or("[invalid]"))
            .field("secrets", &self.secrets)
            .finish()
    }
}

/// Why a `notify` target cannot be used. Never quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyTargetError {
    #[error("notify.url must be https:// (http:// only for localhost)")]
    Url,
    #[error("notify.secrets must hold at least one whsec_<base64> secret")]
    NoSecret,
    #[error("notify.secrets[{0}] is not a whsec_<base64> secret")]
    BadSecret(usize),
}

impl NotifyTarget {
    /// Checks the URL scheme and that every secret can sign.
    pub fn check(&self) -> Result<(), NotifyTargetError> {
        let url = self.url.trim();
        let local = ["http://localhost", "http://127.0.0.1"]
            .iter()
            .any(|prefix| url.starts_with(prefix));
        if !(url.starts_with("https://") || local) || url_host(url).is_none() {
            return Err(NotifyTargetError::Url);
        }
        if self.secrets.is_empty() {
            return Err(NotifyTargetError::NoSecret);
        }
        for (n, secret) in self.secrets.iter().enumerate() {
            let usable = secret
                .secret
                .expose()
                .strip_prefix("whsec_")
                .and_then(|key| STANDARD.decode(key).ok())
                .is_some_and(|key| !key.is_empty());
            if !usable {
                return Err(NotifyTargetError::BadSecret(n));
            }
        }
        Ok(())
    }
}

fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    (!host.is_empty()).then_some(host)
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
    /// Secrets for our own order contract at `/webhooks/{shop_id}`. May be
    /// empty for a shop that only sends its platform's webhooks.
    #[serde(default)]
    pub webhook_secrets: Vec<WebhookSecret>,
    /// The shop platform whose own webhooks the shop sends to
    /// `/webhooks/{shop_id}/{platform}`; absent: our own contract only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformConfig>,
    pub economic: EconomicCredentials,
    /// Where every label change of the shop's orders is POSTed (signed);
    /// absent: no notifications ([`crate::domain::notify`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyTarget>,
    /// Mapping rules (debtor, VAT, lines, layouts, rounding).
    pub mapping: crate::domain::mapping::MappingConfig,
}

impl ShopConfig {
    /// Every secret of the shop, in a fixed order: what the shops table
    /// seals (adapters::sealed). A new secret field must be added here, or
    /// it is stored in plaintext; the test below and the table scan in the
    /// integration tests fail if it is not.
    pub fn secrets_mut(&mut self) -> Vec<&mut Secret> {
        let mut secrets: Vec<&mut Secret> = self
            .webhook_secrets
            .iter_mut()
            .map(|s| &mut s.secret)
            .collect();
        match &mut self.platform {
            Some(PlatformConfig::Shopify(shopify)) => {
                secrets.extend(shopify.secrets.iter_mut().map(|s| &mut s.secret));
                if let Some(admin) = &mut shopify.write_back {
                    secrets.push(&mut admin.access_token);
                }
            }
            Some(PlatformConfig::Woocommerce(woocommerce)) => {
                secrets.extend(woocommerce.secrets.iter_mut().map(|s| &mut s.secret));
                if let Some(admin) = &mut woocommerce.write_back {
                    secrets.push(&mut admin.consumer_key);
                    secrets.push(&mut admin.consumer_secret);
                }
            }
            None => {}
        }
        if let Some(notify) = &mut self.notify {
            secrets.extend(notify.secrets.iter_mut().map(|s| &mut s.secret));
        }
        secrets.push(&mut self.economic.app_secret_token);
        secrets.push(&mut self.economic.agreement_grant_token);
        secrets
    }
}

fn enabled_by_default() -> bool {
    true
}

/// A shop platform whose webhooks the bridge takes natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Shopify,
    Woocommerce,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Shopify => "shopify",
            Platform::Woocommerce => "woocommerce",
        }
    }

    /// The path segment after `/webhooks/{shop_id}/`.
    pub fn from_path(segment: &str) -> Option<Platform> {
        match segment {
            "shopify" => Some(Platform::Shopify),
            "woocommerce" => Some(Platform::Woocommerce),
            _ => None,
        }
    }

    /// How people write it.
    pub fn display_name(self) -> &'static str {
        match self {
            Platform::Shopify => "Shopify",
            Platform::Woocommerce => "WooCommerce",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a B2B customer's identifiers are found: Shopify note attribute
/// names or WooCommerce `meta_data` keys (matched case-insensitively, the
/// first non-empty value wins), and whether a CVR or EAN written in the
/// company field counts too (`"Firma ApS, CVR 12345678"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct B2bFields {
    pub cvr: Vec<String>,
    pub ean: Vec<String>,
    pub eu_vat_number: Vec<String>,
    pub from_company: bool,
    /// Where the buyer's order or requisition number is (EAN invoices).
    pub buyer_order_number: Vec<String>,
    /// Where the buyer's person reference is (EAN invoices).
    pub buyer_reference: Vec<String>,
}

impl B2bFields {
    /// Defaults for Shopify note attributes (cart attributes set by the
    /// theme or a B2B app).
    pub fn shopify_defaults() -> Self {
        B2bFields {
            cvr: names(&["CVR", "CVR-nummer", "cvr_number"]),
            ean: names(&["EAN", "EAN-nummer", "ean_number"]),
            eu_vat_number: names(&["VAT number", "vat_number", "Momsnummer"]),
            from_company: true,
            buyer_order_number: names(&["Ordrenummer", "Rekvisitionsnummer", "buyer_order_number"]),
            buyer_reference: names(&["Personreference", "buyer_reference"]),
        }
    }

    /// Defaults for WooCommerce order meta keys of the common Danish and EU
    /// VAT-number plugins.
    pub fn woocommerce_defaults() -> Self {
        B2bFields {
            cvr: names(&["_billing_cvr", "billing_cvr", "_cvr", "cvr"]),
            ean: names(&["_billing_ean", "billing_ean", "_ean", "ean"]),
            eu_vat_number: names(&[
                "_billing_vat_number",
                "_billing_eu_vat_number",
                "_vat_number",
                "vat_number",
                "VAT Number",
            ]),
            from_company: true,
            buyer_order_number: names(&["_billing_buyer_order_number", "buyer_order_number"]),
            buyer_reference: names(&["_billing_buyer_reference", "buyer_reference"]),
        }
    }
}

fn names(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// Which order stage each platform event (Shopify topic, WooCommerce
/// status) stands for; events not listed are acknowledged and ignored.
pub type EventMap = BTreeMap<String, Trigger>;

/// A shop platform's webhook settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlatformConfig {
    Shopify(ShopifyConfig),
    Woocommerce(WoocommerceConfig),
}

impl PlatformConfig {
    pub fn platform(&self) -> Platform {
        match self {
            PlatformConfig::Shopify(_) => Platform::Shopify,
            PlatformConfig::Woocommerce(_) => Platform::Woocommerce,
        }
    }
}

/// A Shopify store: its `*.myshopify.com` domain, the app's client
/// secret(s) that sign its webhooks, which topic stands for which order
/// stage, and where B2B identifiers are found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyConfig {
    /// `X-Shopify-Shop-Domain` must equal this (case-insensitive).
    pub shop_domain: String,
    /// The app's client secret (the webhook signing key); during a
    /// rotation the previous one with its `valid_until`.
    pub secrets: Vec<WebhookSecret>,
    /// Topic → stage. Default: `orders/create` → created, `orders/paid` →
    /// paid, `orders/fulfilled` → shipped.
    #[serde(default = "shopify_topics")]
    pub topics: EventMap,
    /// Note attribute names holding CVR, EAN and EU VAT number.
    #[serde(default = "B2bFields::shopify_defaults")]
    pub b2b: B2bFields,
    /// Labels written back into the store's orders (tags and note) through
    /// the Admin API; absent: none ([`crate::domain::write_back`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_back: Option<crate::domain::write_back_config::ShopifyWriteBack>,
}

/// A WooCommerce store: the webhook secret(s), which order status stands
/// for which stage, and the order meta keys holding B2B identifiers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WoocommerceConfig {
    /// The webhook's secret as entered in WooCommerce; during a rotation
    /// the previous one with its `valid_until`.
    pub secrets: Vec<WebhookSecret>,
    /// Order status → stage. Default: `pending`/`on-hold` → created,
    /// `processing` → paid, `completed` → shipped.
    #[serde(default = "woocommerce_statuses")]
    pub statuses: EventMap,
    /// `meta_data` keys holding CVR, EAN and EU VAT number.
    #[serde(default = "B2bFields::woocommerce_defaults")]
    pub b2b: B2bFields,
    /// Labels written back into the store's orders (meta and notes)
    /// through the REST API; absent: none ([`crate::domain::write_back`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_back: Option<crate::domain::write_back_config::WoocommerceWriteBack>,
}

pub fn shopify_topics() -> EventMap {
    [
        ("orders/create", Trigger::Created),
        ("orders/paid", Trigger::Paid),
        ("orders/fulfilled", Trigger::Shipped),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub fn woocommerce_statuses() -> EventMap {
    [
        ("pending", Trigger::Created),
        ("on-hold", Trigger::Created),
        ("processing", Trigger::Paid),
        ("completed", Trigger::Shipped),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A shop with every secret the configuration can hold, each value
    /// marked `SECRET-n`, on either platform.
    fn shop_with_every_secret(platform: serde_json::Value) -> ShopConfig {
        serde_json::from_value(serde_json::json!({
            "shop_id": "acme",
            "webhook_secrets": [{"secret": "SECRET-1"}, {"secret": "SECRET-2", "valid_until": "2027-01-01T00:00:00Z"}],
            "platform": platform,
            "economic": {"app_secret_token": "SECRET-3", "agreement_grant_token": "SECRET-4"},
            "notify": {"url": "https://erp.example.com/hook", "secrets": [{"secret": "whsec_U0VDUkVULTc="}]},
            "mapping": {}
        }))
        .expect("shop")
    }

    #[test]
    fn secrets_mut_reaches_every_secret_of_the_configuration() {
        for platform in [
            serde_json::json!({"kind": "shopify", "shop_domain": "a.myshopify.com",
                "secrets": [{"secret": "SECRET-5"}, {"secret": "SECRET-6"}],
                "write_back": {"access_token": "SECRET-8"}}),
            serde_json::json!({"kind": "woocommerce", "secrets": [{"secret": "SECRET-5"}],
                "write_back": {"store_url": "https://shop.example", "consumer_key": "SECRET-8",
                               "consumer_secret": "SECRET-9"}}),
        ] {
            let mut config = shop_with_every_secret(platform);
            let found: Vec<String> = config
                .secrets_mut()
                .iter()
                .map(|s| s.expose().to_owned())
                .collect();
            assert!(found.len() >= 6, "{found:?}");
            for secret in config.secrets_mut() {
                *secret = Secret::new("replaced");
            }
            let json = serde_json::to_string(&config).expect("json");
            // The notify secret is `whsec_` + base64("SECRET-7").
            assert!(
                !json.contains("SECRET-") && !json.contains("U0VDUkVULTc"),
                "a secret secrets_mut misses: {json}"
            );
        }
    }

    #[test]
    fn platform_settings_parse_with_defaults_and_redact_secrets() {
        let json = r#"{"kind": "shopify", "shop_domain": "butik.myshopify.com",
            "secrets": [{"secret": "shpss_abc"}]}"#;
        let config: PlatformConfig = serde_json::from_str(json).unwrap();
        let PlatformConfig::Shopify(shopify) = &config else {
            panic!("expected shopify, got {config:?}");
        };
        assert_eq!(shopify.topics, shopify_topics());
        assert_eq!(shopify.b2b, B2bFields::shopify_defaults());
        assert!(!format!("{config:?}").contains("shpss_abc"));

        let json = r#"{"kind": "woocommerce", "secrets": [{"secret": "wc-secret"}],
            "statuses": {"processing": "created", "completed": "paid"}}"#;
        let config: PlatformConfig = serde_json::from_str(json).unwrap();
        let PlatformConfig::Woocommerce(woo) = &config else {
            panic!("expected woocommerce, got {config:?}");
        };
        assert_eq!(woo.statuses.get("completed"), Some(&Trigger::Paid));
        assert_eq!(woo.statuses.get("pending"), None);
        assert!(!format!("{config:?}").contains("wc-secret"));

        // A misspelt key is an error, not a silent default.
        let json = r#"{"kind": "shopify", "shop_domain": "x", "secrets": [], "topic": {}}"#;
        assert!(serde_json::from_str::<PlatformConfig>(json).is_err());
        let json = r#"{"kind": "magento", "secrets": []}"#;
        assert!(serde_json::from_str::<PlatformConfig>(json).is_err());
    }
}
