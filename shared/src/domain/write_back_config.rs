//! The per-shop settings of label write-back ([`crate::domain::write_back`]):
//! where the store's admin API is and the credentials it takes, checked
//! and, in `Debug`, redacted. Apart from the write-back logic so that the
//! shop configuration can hold them without importing that logic.

use crate::domain::secret::Secret;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The Admin API version used unless the shop says otherwise (Shopify
/// supports each stable version for at least a year).
pub const DEFAULT_SHOPIFY_API_VERSION: &str = "2025-10";

/// Shopify Admin API write-back, inside the `shopify` platform settings.
/// The store is the platform's `shop_domain`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyWriteBack {
    /// The app's Admin API access token (`shpat_…`), with `write_orders`.
    pub access_token: Secret,
    /// `YYYY-MM` Admin API version.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Where the Admin API is, instead of `https://{shop_domain}`: for a
    /// local fake (`http://127.0.0.1:…`) only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
}

fn default_api_version() -> String {
    DEFAULT_SHOPIFY_API_VERSION.to_owned()
}

impl fmt::Debug for ShopifyWriteBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyWriteBack")
            .field("access_token", &self.access_token)
            .field("api_version", &self.api_version)
            .field("admin_url", &self.admin_url.as_deref().map(host))
            .finish()
    }
}

/// WooCommerce REST API write-back, inside the `woocommerce` platform
/// settings: the store's address and a REST API key pair (read/write).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WoocommerceWriteBack {
    /// `https://shop.example.com` (the WordPress site; `/wp-json/wc/v3/…`
    /// is appended). `http://` only for localhost.
    pub store_url: String,
    /// `ck_…`
    pub consumer_key: Secret,
    /// `cs_…`
    pub consumer_secret: Secret,
}

impl fmt::Debug for WoocommerceWriteBack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WoocommerceWriteBack")
            .field("store", &host(&self.store_url))
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &self.consumer_secret)
            .finish()
    }
}

fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?', '#']).next().unwrap_or_default()
}

/// Why a `write_back` section cannot be used. Never quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteBackConfigError {
    #[error("{0} must be https:// (http:// only for localhost)")]
    Url(&'static str),
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("write_back.api_version must look like 2025-10")]
    ApiVersion,
}

/// `https://host…`, or plain `http://` to localhost (local fakes).
fn usable_url(url: &str) -> bool {
    let url = url.trim();
    let local = ["http://localhost", "http://127.0.0.1"]
        .iter()
        .any(|prefix| url.starts_with(prefix));
    (url.starts_with("https://") || local) && !host(url).is_empty()
}

impl ShopifyWriteBack {
    pub fn check(&self) -> Result<(), WriteBackConfigError> {
        if self.access_token.expose().trim().is_empty() {
            return Err(WriteBackConfigError::Empty("write_back.access_token"));
        }
        let version = self.api_version.as_bytes();
        let well_formed = version.len() == 7
            && version[4] == b'-'
            && version
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || b.is_ascii_digit());
        if !well_formed {
            return Err(WriteBackConfigError::ApiVersion);
        }
        match &self.admin_url {
            Some(url) if !usable_url(url) => Err(WriteBackConfigError::Url("write_back.admin_url")),
            _ => Ok(()),
        }
    }
}

impl WoocommerceWriteBack {
    pub fn check(&self) -> Result<(), WriteBackConfigError> {
        if !usable_url(&self.store_url) {
            return Err(WriteBackConfigError::Url("write_back.store_url"));
        }
        if self.consumer_key.expose().trim().is_empty() {
            return Err(WriteBackConfigError::Empty("write_back.consumer_key"));
        }
        if self.consumer_secret.expose().trim().is_empty() {
            return Err(WriteBackConfigError::Empty("write_back.consumer_secret"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_and_debug_hides_the_secrets() {
        let shopify: ShopifyWriteBack =
            serde_json::from_value(serde_json::json!({"access_token": "shpat_abc123"})).unwrap();
        assert_eq!(shopify.api_version, DEFAULT_SHOPIFY_API_VERSION);
        assert_eq!(shopify.check(), Ok(()));
        assert!(!format!("{shopify:?}").contains("shpat_abc123"));
        let bad_version = ShopifyWriteBack {
            api_version: "latest".into(),
            ..shopify.clone()
        };
        assert_eq!(bad_version.check(), Err(WriteBackConfigError::ApiVersion));
        let plain = ShopifyWriteBack {
            admin_url: Some("http://shop.example".into()),
            ..shopify.clone()
        };
        assert!(matches!(plain.check(), Err(WriteBackConfigError::Url(_))));
        let empty = ShopifyWriteBack {
            access_token: Secret::new(" "),
            ..shopify
        };
        assert!(matches!(empty.check(), Err(WriteBackConfigError::Empty(_))));
        // A misspelt key is an error.
        assert!(serde_json::from_value::<ShopifyWriteBack>(
            serde_json::json!({"access_token": "x", "api_versoin": "2025-10"})
        )
        .is_err());

        let woo: WoocommerceWriteBack = serde_json::from_value(serde_json::json!({
            "store_url": "https://shop.example.com", "consumer_key": "ck_111", "consumer_secret": "cs_222"
        }))
        .unwrap();
        assert_eq!(woo.check(), Ok(()));
        let shown = format!("{woo:?}");
        assert!(shown.contains("shop.example.com"), "{shown}");
        assert!(
            !shown.contains("ck_111") && !shown.contains("cs_222"),
            "{shown}"
        );
        let http = WoocommerceWriteBack {
            store_url: "http://shop.example.com".into(),
            ..woo.clone()
        };
        assert!(matches!(http.check(), Err(WriteBackConfigError::Url(_))));
        let local = WoocommerceWriteBack {
            store_url: "http://127.0.0.1:8080".into(),
            ..woo
        };
        assert_eq!(local.check(), Ok(()));
    }
}
