//! The webhook body parser on arbitrary bytes: it must return Ok or a
//! ContractError, never panic, and an error always names a field path that
//! is either empty (whole body) or starts with a known top-level member.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    if let Err(error) = bridge::domain::order::parse_event(body) {
        let field = error.field.as_str();
        assert!(
            field.is_empty()
                || field == "type"
                || field == "version"
                || field == "order"
                || field.starts_with("order."),
            "unexpected field path {field:?}"
        );
        assert!(!error.message.is_empty(), "error without a message");
    }
});
