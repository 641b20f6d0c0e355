//! The WooCommerce translator on arbitrary bytes: an order or an error
//! with a message, never a panic; a translated order keeps WooCommerce's
//! total, and the mapping plans or refuses it without a panic.
#![no_main]

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::platform::{woocommerce, B2bFields, TranslateError};
use bridge::domain::shop::{woocommerce_statuses, WoocommerceConfig};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let config = WoocommerceConfig {
        secrets: vec![],
        statuses: woocommerce_statuses(),
        b2b: B2bFields::woocommerce_defaults(),
        write_back: None,
    };
    let _ = woocommerce::is_ping(body);
    match woocommerce::translate_body(body, &config) {
        Ok(order) => {
            let parsed = woocommerce::parse(body).expect("a translated body parses");
            assert_eq!(order.total, parsed.total);
            let _ = map_order(&order, &MappingConfig::default());
        }
        Err(TranslateError::Malformed(e)) | Err(TranslateError::NotInvoiceable(e)) => {
            assert!(!e.message.is_empty(), "error without a message");
        }
    }
});
