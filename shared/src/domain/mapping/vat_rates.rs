//! Mixed VAT rates on one invoice (`mapping.vat_rates`).
//!
//! e-conomic takes a line's VAT rate from the invoice's VAT zone and the
//! VAT code of the sales account of the line's product group for that
//! zone; the API has no rate on a line. So a line the shop taxed at a rate
//! other than the zone's (books at 7 % next to goods at 19 % under OSS
//! Germany) needs a product whose group's account carries that rate, and
//! the bridge picks it per rate from the configuration:
//!
//! ```json
//! "vat_rates": {"DE": {"7": {"product": "OSS-DE-7"}}, "DK": {"0": {"product": "NEWS0"}}}
//! ```
//!
//! The country is the one whose VAT the invoice charges ([`vat_country`]).
//! For a line at the shop's rate `r`:
//!
//! 1. `vat_rates.<country>.<r>` is configured: the line keeps `r` and goes
//!    to that product (its SKU, if any, in the line text);
//! 2. else `r` is 0 or the zone's rate: as without `vat_rates` (the line's
//!    own product at that rate);
//! 3. else `vat_rates.<country>` exists: the order fails, naming the
//!    country and the rate (no line is re-priced behind the merchant's back);
//! 4. else (nothing configured for the country): as before `vat_rates`
//!    existed, the line is re-priced at the zone's rate.

use super::config::MappingConfig;
use super::MappingError;
use crate::domain::vat::{VatDecision, VatTreatment};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where lines at one rate go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateProduct {
    /// An e-conomic product whose group's sales account, in the country's
    /// VAT zone, has a VAT code at this rate.
    pub product: String,
}

/// `mapping.vat_rates`: country whose VAT is charged → rate in percent
/// (a JSON key such as `"7"` or `"5.5"`) → product. Empty by default.
pub type VatRateProducts = BTreeMap<String, BTreeMap<Decimal, RateProduct>>;

/// The rate a line is invoiced at, and the product it goes to when
/// `vat_rates` chose one (with the configuration key, for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LineRate<'a> {
    pub applied_rate: Decimal,
    pub product: Option<(&'a str, String)>,
}

/// The country whose VAT the invoice charges: the home country for
/// domestic sales (and EU sales below the OSS threshold), the destination
/// under OSS, VOEC and foreign VAT; none for exempt sales (every line 0 %).
pub fn vat_country<'a>(home_country: &'a str, decision: &'a VatDecision) -> Option<&'a str> {
    match decision.treatment {
        VatTreatment::Domestic
        | VatTreatment::DomesticPublicEan
        | VatTreatment::DomesticBelowOssThreshold => Some(home_country),
        VatTreatment::Oss | VatTreatment::Voec | VatTreatment::ForeignVat => {
            Some(decision.country.as_str())
        }
        VatTreatment::IntraCommunitySupply | VatTreatment::Export => None,
    }
}

/// The rate and product of a line the shop taxed at `order_rate` (see the
/// module's rules).
pub(super) fn line_rate<'a>(
    config: &'a MappingConfig,
    decision: &VatDecision,
    order_rate: Decimal,
    line: &str,
) -> Result<LineRate<'a>, MappingError> {
    let unchanged = LineRate {
        applied_rate: decision.applied_rate(order_rate),
        product: None,
    };
    let Some(country) = vat_country(&config.home_country, decision) else {
        return Ok(unchanged);
    };
    let Some((country, rates)) = config.vat_rates.get_key_value(country) else {
        return Ok(unchanged);
    };
    if let Some((rate, target)) = rates.get_key_value(&order_rate) {
        return Ok(LineRate {
            applied_rate: order_rate,
            product: Some((
                target.product.as_str(),
                format!("vat_rates.{country}.{}.product", rate.normalize()),
            )),
        });
    }
    if unchanged.applied_rate == order_rate {
        return Ok(unchanged);
    }
    Err(MappingError::VatRateNotConfigured {
        country: country.clone(),
        rate: order_rate.normalize(),
        zone_rate: decision.rate.normalize(),
        vat_zone: decision.vat_zone,
        line: line.to_owned(),
    })
}

/// What serde cannot check: country codes, rates, product numbers.
pub(super) fn check(rates: &VatRateProducts) -> Result<(), MappingError> {
    for (country, by_rate) in rates {
        let field = format!("vat_rates.{country}");
        let invalid =
            |field: String, message: String| MappingError::InvalidConfig { field, message };
        if crate::domain::order::iso::country_name(country).is_none() && country != "XI" {
            return Err(invalid(
                field,
                format!("`{country}` is not an ISO 3166 alpha-2 country code in capitals"),
            ));
        }
        for (rate, target) in by_rate {
            let field = format!("{field}.{}", rate.normalize());
            if rate.is_sign_negative() || *rate >= Decimal::ONE_HUNDRED {
                return Err(invalid(
                    field,
                    format!("{rate} is not a VAT rate in percent (0 to 100)"),
                ));
            }
            let number = target.product.trim();
            if number.is_empty() || target.product.chars().count() > super::MAX_PRODUCT_NUMBER_LEN {
                return Err(invalid(
                    format!("{field}.product"),
                    format!(
                        "product number `{}` must be 1 to 25 characters",
                        super::clip(&target.product, 40)
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn decision(treatment: VatTreatment, country: &str, rate: Decimal) -> VatDecision {
        VatDecision {
            treatment,
            vat_zone: 10,
            rate,
            country: country.to_owned(),
            explanation: String::new(),
        }
    }

    fn config(json: serde_json::Value) -> MappingConfig {
        serde_json::from_value(json).expect("config")
    }

    #[test]
    fn the_vat_country_is_the_one_whose_vat_is_charged() {
        let below = decision(VatTreatment::DomesticBelowOssThreshold, "DE", dec!(25));
        assert_eq!(vat_country("DK", &below), Some("DK"));
        let oss = decision(VatTreatment::Oss, "DE", dec!(19));
        assert_eq!(vat_country("DK", &oss), Some("DE"));
        let export = decision(VatTreatment::Export, "US", dec!(0));
        assert_eq!(vat_country("DK", &export), None);
    }

    #[test]
    fn a_line_keeps_a_configured_rate_and_fails_on_an_unconfigured_one() {
        let config = config(serde_json::json!({
            "vat_rates": {"DE": {"7": {"product": "OSS-DE-7"}, "19.0": {"product": "OSS-DE-19"}}}
        }));
        let oss = decision(VatTreatment::Oss, "DE", dec!(19));
        let seven = line_rate(&config, &oss, dec!(7.00), "Book").unwrap();
        assert_eq!(seven.applied_rate, dec!(7));
        assert_eq!(
            seven.product,
            Some(("OSS-DE-7", "vat_rates.DE.7.product".to_owned()))
        );
        let nineteen = line_rate(&config, &oss, dec!(19), "Mug").unwrap();
        assert_eq!(nineteen.product.map(|p| p.0), Some("OSS-DE-19"));
        // 0 % without an entry: the line's own (zero-rated) product.
        let zero = line_rate(&config, &oss, dec!(0), "Newspaper").unwrap();
        assert_eq!((zero.applied_rate, zero.product), (dec!(0), None));
        let error = line_rate(&config, &oss, dec!(5), "Flowers").unwrap_err();
        assert_eq!(
            error,
            MappingError::VatRateNotConfigured {
                country: "DE".into(),
                rate: dec!(5),
                zone_rate: dec!(19),
                vat_zone: 10,
                line: "Flowers".into(),
            }
        );
        let message = error.to_string();
        assert!(
            message.contains("DE") && message.contains("5 %"),
            "{message}"
        );
    }

    #[test]
    fn without_an_entry_for_the_country_a_line_is_repriced_as_before() {
        let config = config(serde_json::json!({"vat_rates": {"FR": {"5.5": {"product": "FR-5"}}}}));
        let oss = decision(VatTreatment::Oss, "DE", dec!(19));
        let line = line_rate(&config, &oss, dec!(7), "Book").unwrap();
        assert_eq!((line.applied_rate, line.product), (dec!(19), None));
    }

    #[test]
    fn bad_entries_are_refused() {
        for (json, field) in [
            (
                serde_json::json!({"de": {"7": {"product": "X"}}}),
                "vat_rates.de",
            ),
            (
                serde_json::json!({"DE": {"100": {"product": "X"}}}),
                "vat_rates.DE.100",
            ),
            (
                serde_json::json!({"DE": {"7": {"product": " "}}}),
                "vat_rates.DE.7.product",
            ),
        ] {
            let rates: VatRateProducts = serde_json::from_value(json).unwrap();
            match check(&rates) {
                Err(MappingError::InvalidConfig { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let not_a_rate = serde_json::from_value::<VatRateProducts>(
            serde_json::json!({"DE": {"seven": {"product": "X"}}}),
        );
        assert!(not_a_rate.is_err());
    }
}
