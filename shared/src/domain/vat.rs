//! VAT zone decision: which e-conomic VAT zone an order's invoice uses and
//! which rate e-conomic will then apply to its VAT-bearing lines.
//!
//! | Destination (delivery, else billing)  | Customer                     | Treatment                  | Zone (default)      | Rate applied            |
//! |---------------------------------------|------------------------------|----------------------------|---------------------|-------------------------|
//! | home country (DK)                     | EAN present                  | `DomesticPublicEan`        | domestic (1)        | home rate (25)          |
//! | home country                          | anyone else                  | `Domestic`                 | domestic (1)        | home rate               |
//! | other EU country                      | EU VAT number present        | `ReverseCharge`            | eu (2)              | 0, reverse-charge note  |
//! | other EU country, `oss.enabled`       | no EU VAT number             | `Oss`                      | `oss.countries.XX`  | `oss.countries.XX.rate` |
//! | other EU country, OSS disabled        | no EU VAT number             | `DomesticBelowOssThreshold`| domestic (1)        | home rate               |
//! | Norway, `voec.enabled`                | no VAT number / no CVR       | `Voec`                     | `voec.vat_zone`     | `voec.rate` (25)        |
//! | any other country                     | anyone                       | `Export`                   | abroad (3)          | 0                       |
//!
//! A line the shop marked with VAT rate 0 (a zero-rated product) stays at
//! 0 in every zone; every other line gets the zone's rate. e-conomic
//! computes VAT from the zone and each product's VAT account, so the
//! products must be set up to match (docs/shop-configuration.md).

use crate::domain::order::Order;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The EU member states (ISO 3166-1 alpha-2; Greece is `GR`, not `EL`).
pub const EU_MEMBERS: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

pub fn is_eu_member(country: &str) -> bool {
    EU_MEMBERS.binary_search(&country).is_ok()
}

/// Why the invoice is in the zone it is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VatTreatment {
    /// Sale within the home country, home VAT.
    Domestic,
    /// Home-country public institution invoiced by EAN (NemHandel), home VAT.
    DomesticPublicEan,
    /// EU business with a VAT number: no VAT, the buyer accounts for it.
    ReverseCharge,
    /// EU consumer under the One-Stop-Shop scheme: destination country VAT.
    Oss,
    /// EU consumer, shop below the €10,000 OSS threshold: home VAT.
    DomesticBelowOssThreshold,
    /// Norwegian consumer under VOEC: Norwegian VAT.
    Voec,
    /// Outside the EU (and not VOEC): no VAT.
    Export,
}

/// The decided zone and the rate e-conomic will apply to VAT-bearing lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VatDecision {
    pub treatment: VatTreatment,
    /// e-conomic VAT zone number.
    pub vat_zone: u32,
    /// Rate (percent) applied to every line the shop did not mark as 0 %.
    pub rate: Decimal,
    /// Destination country (ISO alpha-2) the decision was made for.
    pub country: String,
    /// One sentence for people: why this zone.
    pub explanation: String,
}

impl VatDecision {
    /// The rate e-conomic applies to a line the shop taxed at `order_rate`.
    pub fn applied_rate(&self, order_rate: Decimal) -> Decimal {
        if order_rate.is_zero() {
            Decimal::ZERO
        } else {
            self.rate
        }
    }

    /// Whether this decision charges VAT at all.
    pub fn charges_vat(&self) -> bool {
        !self.rate.is_zero()
    }
}

/// The shop's VAT settings, as the shop configuration holds them.
#[derive(Debug, Clone, Copy)]
pub struct VatRules<'a> {
    pub home_country: &'a str,
    pub home_vat_rate: Decimal,
    pub vat_zones: &'a VatZones,
    pub oss: &'a OssConfig,
    pub voec: &'a VoecConfig,
}

/// A VAT setting the order needs is missing from the shop configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VatSetupError {
    /// An EU consumer's country under OSS without `oss.countries.XX`.
    OssCountryNotConfigured { country: String },
    /// VOEC enabled without `voec.vat_zone`.
    VoecZoneNotConfigured,
}

/// Decides the VAT zone for an order (see the module table).
pub fn decide_treatment(order: &Order, config: VatRules<'_>) -> Result<VatDecision, VatSetupError> {
    let country = order.destination().country.as_str();
    let home = config.home_country;
    let customer = &order.customer;
    let zones = config.vat_zones;

    if country == home {
        if customer.ean.is_some() {
            return Ok(VatDecision {
                treatment: VatTreatment::DomesticPublicEan,
                vat_zone: zones.domestic,
                rate: config.home_vat_rate,
                country: country.to_owned(),
                explanation: format!(
                    "Domestic sale to a public institution in {country} (EAN): {} % VAT",
                    config.home_vat_rate.normalize()
                ),
            });
        }
        return Ok(VatDecision {
            treatment: VatTreatment::Domestic,
            vat_zone: zones.domestic,
            rate: config.home_vat_rate,
            country: country.to_owned(),
            explanation: format!(
                "Domestic sale in {country}: {} % VAT",
                config.home_vat_rate.normalize()
            ),
        });
    }

    if is_eu_member(country) && is_eu_member(home) {
        if let Some(vat_number) = &customer.eu_vat_number {
            return Ok(VatDecision {
                treatment: VatTreatment::ReverseCharge,
                vat_zone: zones.eu,
                rate: Decimal::ZERO,
                country: country.to_owned(),
                explanation: format!(
                    "EU business customer in {country} with VAT number {vat_number}: reverse charge, no VAT"
                ),
            });
        }
        if !config.oss.enabled {
            return Ok(VatDecision {
                treatment: VatTreatment::DomesticBelowOssThreshold,
                vat_zone: zones.domestic,
                rate: config.home_vat_rate,
                country: country.to_owned(),
                explanation: format!(
                    "EU consumer in {country}, OSS disabled (below the EUR 10,000 threshold): {home} VAT {} %",
                    config.home_vat_rate.normalize()
                ),
            });
        }
        let Some(oss) = config.oss.countries.get(country) else {
            return Err(VatSetupError::OssCountryNotConfigured {
                country: country.to_owned(),
            });
        };
        return Ok(VatDecision {
            treatment: VatTreatment::Oss,
            vat_zone: oss.vat_zone,
            rate: oss.rate,
            country: country.to_owned(),
            explanation: format!(
                "EU consumer in {country} under OSS: {country} VAT {} %",
                oss.rate.normalize()
            ),
        });
    }

    if country == "NO" && config.voec.enabled && !order.is_business() {
        let Some(zone) = config.voec.vat_zone else {
            return Err(VatSetupError::VoecZoneNotConfigured);
        };
        return Ok(VatDecision {
            treatment: VatTreatment::Voec,
            vat_zone: zone,
            rate: config.voec.rate,
            country: country.to_owned(),
            explanation: format!(
                "Consumer in Norway under VOEC: Norwegian VAT {} %",
                config.voec.rate.normalize()
            ),
        });
    }

    Ok(VatDecision {
        treatment: VatTreatment::Export,
        vat_zone: zones.abroad,
        rate: Decimal::ZERO,
        country: country.to_owned(),
        explanation: format!("Export to {country} (outside the EU VAT area): no VAT"),
    })
}

/// e-conomic VAT zone numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VatZones {
    pub domestic: u32,
    pub eu: u32,
    pub abroad: u32,
    pub domestic_exempt: u32,
}

impl Default for VatZones {
    fn default() -> Self {
        VatZones {
            domestic: 1,
            eu: 2,
            abroad: 3,
            domestic_exempt: 4,
        }
    }
}

/// EU One-Stop-Shop for consumer sales to other EU countries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OssConfig {
    /// `false` for shops below the EUR 10,000 threshold: EU consumers are
    /// charged home VAT in the domestic zone. Default `true`.
    pub enabled: bool,
    /// Zone and rate per destination country (`{"SE": {"vat_zone": 11, "rate": "25"}}`).
    pub countries: BTreeMap<String, OssCountry>,
}

impl Default for OssConfig {
    fn default() -> Self {
        OssConfig {
            enabled: true,
            countries: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OssCountry {
    pub vat_zone: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
}

/// Norway's VOEC scheme for low-value consumer sales.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoecConfig {
    /// Default `false`: Norway is export (no VAT).
    pub enabled: bool,
    /// Required when enabled.
    pub vat_zone: Option<u32>,
    /// Default `25`.
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
}

impl Default for VoecConfig {
    fn default() -> Self {
        VoecConfig {
            enabled: false,
            vat_zone: None,
            rate: Decimal::from(25),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eu_list_is_sorted_and_complete() {
        assert!(EU_MEMBERS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_eu_member("DK") && is_eu_member("GR") && is_eu_member("HR"));
        assert!(!is_eu_member("GB") && !is_eu_member("NO") && !is_eu_member("CH"));
        assert!(!is_eu_member("EL"));
    }
}
