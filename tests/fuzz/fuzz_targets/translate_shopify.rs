//! The Shopify translator on arbitrary bytes: an order or an error with a
//! message, never a panic; a translated order keeps Shopify's total, and
//! the mapping plans or refuses it without a panic.
#![no_main]

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::platform::{shopify, B2bFields, TranslateError};
use bridge::domain::shop::{shopify_topics, ShopifyConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let config = ShopifyConfig {
        shop_domain: "fuzz.myshopify.com".into(),
        secrets: vec![],
        topics: shopify_topics(),
        b2b: B2bFields::shopify_defaults(),
        write_back: None,
    };
    match shopify::translate_body(body, &config) {
        Ok(order) => {
            let parsed = shopify::parse(body).expect("a translated body parses");
            assert_eq!(order.total, parsed.total_price);
            let _ = map_order(&order, &MappingConfig::default());
        }
        Err(TranslateError::Malformed(e)) | Err(TranslateError::NotInvoiceable(e)) => {
            assert!(!e.message.is_empty(), "error without a message");
        }
    }
});
