//! VAT zone decision: which e-conomic VAT zone an order's invoice uses and
//! which rate e-conomic will then apply to its VAT-bearing lines.
//!
//! The destination is read by [`vat_destination`] first: a territory
//! outside the EU VAT area (Canary Islands, Åland, Greenland filed under
//! DK, …) is an export; Monaco is France; a GB address with a BT postcode
//! is Northern Ireland (`XI`), in the EU VAT area for goods.
//!
//! | Destination (delivery, else billing)  | Customer                     | Treatment                  | Zone (default)      | Rate applied            |
//! |---------------------------------------|------------------------------|----------------------------|---------------------|-------------------------|
//! | territory outside the EU VAT area     | anyone                       | `Export`                   | abroad (3)          | 0                       |
//! | home country (DK)                     | EAN present                  | `DomesticPublicEan`        | domestic (1)        | home rate (25)          |
//! | home country                          | anyone else                  | `Domestic`                 | domestic (1)        | home rate               |
//! | other EU country or XI                | valid EU VAT number of it    | `IntraCommunitySupply`     | eu (2)              | 0, art. 138 note        |
//! | other EU country, `oss.enabled`       | no EU VAT number             | `Oss`                      | `oss.countries.XX`  | `oss.countries.XX.rate` |
//! | other EU country, OSS disabled        | no EU VAT number             | `DomesticBelowOssThreshold`| domestic (1)        | home rate               |
//! | Norway, `voec.enabled`                | no VAT number / no CVR       | `Voec`                     | `voec.vat_zone`     | `voec.rate` (25)        |
//! | any other country                     | anyone                       | `Export`                   | abroad (3)          | 0                       |
//!
//! A line the shop marked with VAT rate 0 (a zero-rated product) stays at
//! 0 in every zone; every other line gets the zone's rate, unless the
//! shop maps its rate to a product (`mapping.vat_rates`, see
//! `mapping::vat_rates`). e-conomic
//! computes VAT from the zone and each product's VAT account, so the
//! products must be set up to match (docs/shop-configuration.md).

use crate::domain::order::{Address, Order, OrderLine};
use crate::domain::vat_number::{self, VatNumber, VatNumberCheck};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
    /// Goods to a business in another member state with a valid VAT
    /// number: an exempt intra-Community supply (VAT Directive art. 138;
    /// ML § 34, stk. 1, nr. 1); the buyer pays acquisition VAT at home.
    #[serde(alias = "reverse_charge")]
    IntraCommunitySupply,
    /// EU consumer under the One-Stop-Shop scheme: destination country VAT.
    Oss,
    /// EU consumer, shop below the €10,000 OSS threshold: home VAT.
    DomesticBelowOssThreshold,
    /// Norwegian consumer under VOEC: Norwegian VAT.
    Voec,
    /// A low-value sale to a country where the shop is registered for its
    /// VAT (the UK's GBP 135 consignments, Switzerland): that VAT.
    ForeignVat,
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
    pub foreign_vat: &'a BTreeMap<String, ForeignVatConfig>,
    /// What VIES said about the customer's EU VAT number, if asked.
    pub vat_number_check: VatNumberCheck,
}

/// A VAT setting the order needs is missing from the shop configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VatSetupError {
    /// An EU consumer's country under OSS without `oss.countries.XX`.
    OssCountryNotConfigured { country: String },
    /// VOEC enabled without `voec.vat_zone`.
    VoecZoneNotConfigured,
    /// VOEC's item limit is in NOK; an order in another currency needs the
    /// limit in its currency (`voec.item_value_below.XXX`).
    VoecLimitNotConfigured { currency: String },
    /// `foreign_vat.XX.consignment_at_most` lacks the order's currency.
    ForeignVatLimitNotConfigured { country: String, currency: String },
}

/// Decides the VAT zone for an order (see the module table).
pub fn decide_treatment(order: &Order, config: VatRules<'_>) -> Result<VatDecision, VatSetupError> {
    let address = order.destination();
    let destination = vat_destination(address);
    let country = destination.code.as_str();
    let home = config.home_country;
    let customer = &order.customer;
    let zones = config.vat_zones;
    // Rates and the OSS switch are read at the order's date.
    let date = order.created_at.date();
    // Why the rules read the address as another code (Monaco, Northern Ireland).
    let because = destination
        .note
        .map(|note| format!(" ({note})"))
        .unwrap_or_default();

    if let Some(territory) = destination.outside {
        return Ok(VatDecision {
            treatment: VatTreatment::Export,
            vat_zone: zones.abroad,
            rate: Decimal::ZERO,
            country: country.to_owned(),
            explanation: format!(
                "Export to {} ({country} {}, outside the EU VAT area: {}): no VAT",
                territory.name,
                address.zip.trim(),
                territory.source
            ),
        });
    }

    if country == home {
        if customer.ean.is_some() {
            return Ok(VatDecision {
                treatment: VatTreatment::DomesticPublicEan,
                vat_zone: zones.domestic,
                rate: config.home_vat_rate,
                country: country.to_owned(),
                explanation: format!(
                    "Domestic sale to a public institution in {country} (EAN): {} % VAT{because}",
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
                "Domestic sale in {country}: {} % VAT{because}",
                config.home_vat_rate.normalize()
            ),
        });
    }

    if in_eu_vat_area_for_goods(country) && is_eu_member(home) {
        // A valid VAT number of the destination makes it an exempt
        // intra-Community supply; any other number makes no exemption, and
        // the sale is taxed as one to a consumer, saying why.
        let mut because = because;
        if let Some(text) = &customer.eu_vat_number {
            let refused = match VatNumber::parse(text) {
                None => Some(format!("`{}` is not an EU VAT number", text.trim())),
                Some(number) => match vat_number::format_problem(&number, country, home) {
                    Some(problem) => Some(problem),
                    None if config.vat_number_check == VatNumberCheck::Invalid => {
                        Some(format!("{number} is not a valid VAT number in VIES"))
                    }
                    None => {
                        let checked = if config.vat_number_check == VatNumberCheck::Valid {
                            "valid in VIES"
                        } else {
                            "format checked, not checked in VIES"
                        };
                        return Ok(VatDecision {
                            treatment: VatTreatment::IntraCommunitySupply,
                            vat_zone: zones.eu,
                            rate: Decimal::ZERO,
                            country: country.to_owned(),
                            explanation: format!(
                                "Intra-Community supply to a business in {country} with VAT number {number} ({checked}): exempt, no VAT{because}"
                            ),
                        });
                    }
                },
            };
            if let Some(refused) = refused {
                because.push_str(&format!(
                    "; no VAT exemption: {refused}, so the sale is taxed as one to a consumer"
                ));
            }
        }
        let oss_started = config
            .oss
            .enabled_from
            .as_deref()
            .and_then(parse_date)
            .is_none_or(|from| date >= from);
        if !config.oss.enabled || !oss_started {
            return Ok(VatDecision {
                treatment: VatTreatment::DomesticBelowOssThreshold,
                vat_zone: zones.domestic,
                rate: config.home_vat_rate,
                country: country.to_owned(),
                explanation: format!(
                    "EU consumer in {country}, OSS disabled (below the EUR 10,000 threshold): {home} VAT {} %{because}",
                    config.home_vat_rate.normalize()
                ),
            });
        }
        let Some(oss) = config.oss.countries.get(country) else {
            return Err(VatSetupError::OssCountryNotConfigured {
                country: country.to_owned(),
            });
        };
        let rate = rate_on(oss.rate, &oss.changes, date);
        return Ok(VatDecision {
            treatment: VatTreatment::Oss,
            vat_zone: oss.vat_zone,
            rate,
            country: country.to_owned(),
            explanation: format!(
                "EU consumer in {country} under OSS: {country} VAT {} %{because}",
                rate.normalize()
            ),
        });
    }

    if country == "NO" && config.voec.enabled && !order.is_business() {
        let Some(zone) = config.voec.vat_zone else {
            return Err(VatSetupError::VoecZoneNotConfigured);
        };
        // VOEC covers low-value goods only; an order of nothing but
        // excluded goods is an ordinary export.
        let exports = voec_line_exports(order, config.voec)?;
        if exports.len() == order.lines.len() {
            return Ok(VatDecision {
                treatment: VatTreatment::Export,
                vat_zone: zones.abroad,
                rate: Decimal::ZERO,
                country: country.to_owned(),
                explanation: format!(
                    "Export to NO (outside the EU VAT area; no item under VOEC: {}): no VAT",
                    exports[0].reason
                ),
            });
        }
        let rate = rate_on(config.voec.rate, &config.voec.changes, date);
        return Ok(VatDecision {
            treatment: VatTreatment::Voec,
            vat_zone: zone,
            rate,
            country: country.to_owned(),
            explanation: format!(
                "Consumer in Norway under VOEC: Norwegian VAT {} %",
                rate.normalize()
            ),
        });
    }

    if let Some(foreign) = config.foreign_vat.get(country) {
        if let Some(decision) = foreign_vat(order, country, foreign, date)? {
            return Ok(decision);
        }
    }

    Ok(VatDecision {
        treatment: VatTreatment::Export,
        vat_zone: zones.abroad,
        rate: Decimal::ZERO,
        country: country.to_owned(),
        explanation: format!("Export to {country} (outside the EU VAT area): no VAT"),
    })
}

/// A shop registered for VAT in a country outside the EU charges that VAT
/// on low-value sales: the UK on consignments of GBP 135 or less to
/// consumers (gov.uk "VAT and overseas goods sold directly to customers in
/// the UK": the seller charges UK VAT at the point of sale; value of the
/// goods without shipping and VAT), Switzerland for a registered seller.
/// Above the limit, or to a business, the sale is an export.
fn foreign_vat(
    order: &Order,
    country: &str,
    foreign: &ForeignVatConfig,
    date: time::Date,
) -> Result<Option<VatDecision>, VatSetupError> {
    if order.is_business() {
        return Ok(None);
    }
    let currency = order.currency.as_str();
    if let Some(limits) = &foreign.consignment_at_most {
        let Some(limit) = limits.get(currency) else {
            return Err(VatSetupError::ForeignVatLimitNotConfigured {
                country: country.to_owned(),
                currency: currency.to_owned(),
            });
        };
        // The consignment's value: the goods before VAT, shipping not counted.
        let value: Decimal = order
            .lines
            .iter()
            .map(|line| {
                let amount = line.quantity * line.unit_price;
                if order.prices_include_vat {
                    crate::domain::money::round2_div(
                        amount,
                        crate::domain::money::vat_factor(line.vat_rate),
                    )
                } else {
                    crate::domain::money::round2(amount)
                }
            })
            .sum();
        if value > *limit {
            return Ok(None);
        }
    }
    let rate = rate_on(foreign.rate, &foreign.changes, date);
    Ok(Some(VatDecision {
        treatment: VatTreatment::ForeignVat,
        vat_zone: foreign.vat_zone,
        rate,
        country: country.to_owned(),
        explanation: format!(
            "Low-value sale to a consumer in {country}, the shop registered for its VAT: {country} VAT {} %",
            rate.normalize()
        ),
    }))
}

/// VAT of a country outside the EU that the shop is registered for
/// (`foreign_vat.GB`, `foreign_vat.CH`): its own zone, whose account
/// keeps the foreign VAT apart from Danish VAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForeignVatConfig {
    pub vat_zone: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    /// Rate changes configured ahead, as for OSS countries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RateChange>,
    /// The largest consignment (goods before VAT, shipping not counted)
    /// taxed here, per order currency (`{"GBP": "135"}` for the UK); above
    /// it the sale is an export. None: every consumer sale.
    #[serde(
        default,
        with = "optional_decimal_map",
        skip_serializing_if = "Option::is_none"
    )]
    pub consignment_at_most: Option<BTreeMap<String, Decimal>>,
}

/// An optional [`decimal_map`].
mod optional_decimal_map {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        map: &Option<BTreeMap<String, Decimal>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match map {
            Some(map) => super::decimal_map::serialize(map, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<BTreeMap<String, Decimal>>, D::Error> {
        super::decimal_map::deserialize(deserializer).map(Some)
    }
}
// ------------------------------------------------------------ territories

/// Where the goods go, as the VAT rules see it: the country the rules use
/// and, for a territory outside the EU VAT area although its country is a
/// member, that territory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VatDestination {
    /// The code the VAT rules use: the address's country, `FR` for Monaco,
    /// `XI` for Northern Ireland.
    pub code: String,
    /// A territory outside the EU VAT area (VAT Directive art. 6; for
    /// Greenland and the Faroe Islands ML § 2, stk. 1): the sale is an export.
    pub outside: Option<Territory>,
    /// Why the code differs from the address's country (`None` when it does not).
    pub note: Option<&'static str>,
}

/// A territory outside the EU VAT area, with the rule that puts it there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Territory {
    pub name: &'static str,
    pub source: &'static str,
}

/// Whether a plain postcode (and the lower-case town) is in a territory.
type PostcodeTest = fn(&str, &str) -> bool;

/// Territories filed under a member state's code but outside the EU VAT
/// area, recognised by postcode: (country, postcode test, territory).
/// Postcodes: Correos (ES 35/38 Canary Islands, 51 Ceuta, 52 Melilla),
/// Posti (FI 22 Åland), Deutsche Post (27498 Helgoland, 78266 Büsingen),
/// Poste Italiane (23041 Livigno, 22061 Campione d'Italia; the older
/// 23030/22060 are shared with neighbours, so they count with the town's
/// name), ELTA (63086 Karyes, Mount Athos), La Poste (97x overseas
/// departments and Saint-Martin, 98x other overseas territories; 980 is
/// Monaco), PostNord/Posta (DK 39xx Greenland, three-digit and 38xx the
/// Faroe Islands).
const OUTSIDE_BY_POSTCODE: &[(&str, PostcodeTest, Territory)] = &[
    (
        "ES",
        |zip, _| zip.starts_with("35") || zip.starts_with("38"),
        Territory {
            name: "the Canary Islands",
            source: "VAT Directive art. 6(1)(b)",
        },
    ),
    (
        "ES",
        |zip, _| zip.starts_with("51"),
        Territory {
            name: "Ceuta",
            source: "VAT Directive art. 6(2)(c)",
        },
    ),
    (
        "ES",
        |zip, _| zip.starts_with("52"),
        Territory {
            name: "Melilla",
            source: "VAT Directive art. 6(2)(d)",
        },
    ),
    (
        "FI",
        |zip, _| zip.starts_with("22"),
        Territory {
            name: "the Åland Islands",
            source: "VAT Directive art. 6(1)(d)",
        },
    ),
    (
        "DE",
        |zip, _| zip == "27498",
        Territory {
            name: "Heligoland",
            source: "VAT Directive art. 6(2)(a)",
        },
    ),
    (
        "DE",
        |zip, _| zip == "78266",
        Territory {
            name: "Büsingen am Hochrhein",
            source: "VAT Directive art. 6(2)(b)",
        },
    ),
    (
        "IT",
        |zip, city| zip == "23041" || (zip == "23030" && city.contains("livigno")),
        Territory {
            name: "Livigno",
            source: "VAT Directive art. 6(2)(e)",
        },
    ),
    (
        "IT",
        |zip, city| zip == "22061" || (zip == "22060" && city.contains("campione")),
        Territory {
            name: "Campione d'Italia",
            source: "VAT Directive art. 6(2)(f)",
        },
    ),
    (
        "GR",
        |zip, _| zip == "63086",
        Territory {
            name: "Mount Athos",
            source: "VAT Directive art. 6(1)(a)",
        },
    ),
    (
        "FR",
        |zip, _| {
            zip.len() == 5
                && (zip.starts_with("97") || (zip.starts_with("98") && !zip.starts_with("980")))
        },
        Territory {
            name: "a French overseas territory",
            source: "VAT Directive art. 6(1)(c) (TFEU art. 349 and 355(1))",
        },
    ),
    (
        "DK",
        |zip, _| zip.len() == 4 && zip.starts_with("39"),
        Territory {
            name: "Greenland",
            source: "ML § 2, stk. 1 (VAT Directive art. 5: outside the EU)",
        },
    ),
    (
        "DK",
        |zip, _| zip.len() == 3 || (zip.len() == 4 && zip.starts_with("38")),
        Territory {
            name: "the Faroe Islands",
            source: "ML § 2, stk. 1 (VAT Directive art. 5: outside the EU)",
        },
    ),
];

/// The postcode's significant characters: upper case, without spaces,
/// hyphens and a leading country prefix (`FO-100` → `100`, `D-78266` →
/// `78266`, `AX-22100` → `22100`).
fn plain_postcode(zip: &str) -> String {
    let upper: String = zip
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '.')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let digits_from = upper
        .find(|c: char| c.is_ascii_digit())
        .unwrap_or(upper.len());
    if upper[..digits_from]
        .chars()
        .all(|c| c.is_ascii_alphabetic())
        && upper[digits_from..].chars().all(|c| c.is_ascii_digit())
    {
        upper[digits_from..].to_owned()
    } else {
        upper
    }
}

/// Where the goods go for VAT (the module table's first column).
pub fn vat_destination(address: &Address) -> VatDestination {
    let country = address.country.as_str();
    let plain = |code: &str| VatDestination {
        code: code.to_owned(),
        outside: None,
        note: None,
    };
    // Monaco is treated as France (VAT Directive art. 7(1)).
    if country == "MC" {
        return VatDestination {
            code: "FR".to_owned(),
            outside: None,
            note: Some("Monaco is treated as France (VAT Directive art. 7(1))"),
        };
    }
    // Northern Ireland stays in the EU VAT area for goods (Windsor
    // Framework art. 8, formerly the Protocol on Ireland/Northern
    // Ireland); its code for VAT is XI. Its postcodes all start with BT.
    if country == "GB" && address.zip.trim().to_ascii_uppercase().starts_with("BT") {
        return VatDestination {
            code: "XI".to_owned(),
            outside: None,
            note: Some(
                "Northern Ireland (BT postcode) is in the EU VAT area for goods (XI; Windsor Framework art. 8)",
            ),
        };
    }
    let zip = plain_postcode(&address.zip);
    let city = address.city.to_lowercase();
    for (member, matches, territory) in OUTSIDE_BY_POSTCODE {
        if *member == country && matches(&zip, &city) {
            return VatDestination {
                code: country.to_owned(),
                outside: Some(*territory),
                note: None,
            };
        }
    }
    plain(country)
}

/// In the EU VAT area for goods: a member state, or Northern Ireland (`XI`).
pub fn in_eu_vat_area_for_goods(code: &str) -> bool {
    code == "XI" || is_eu_member(code)
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
    /// The day OSS starts (`"2025-06-12"`, the day after the sale that
    /// crossed the threshold): orders dated earlier are below it. None: OSS
    /// applies to every order while `enabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled_from: Option<String>,
}

impl Default for OssConfig {
    fn default() -> Self {
        OssConfig {
            enabled: true,
            countries: BTreeMap::new(),
            enabled_from: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OssCountry {
    pub vat_zone: u32,
    /// The rate before the first of `changes` (or always, without them).
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    /// Rate changes configured ahead (Finland 24 → 25.5 % from 2024-09-01):
    /// an order is booked at the rate of its date.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RateChange>,
}

/// A rate from a day on: `{"from": "2024-09-01", "rate": "25.5"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateChange {
    /// ISO date `YYYY-MM-DD`: orders of this day and later.
    pub from: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
}

/// `YYYY-MM-DD` as a date.
pub fn parse_date(text: &str) -> Option<time::Date> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// The rate on `date`: that of the last change from that day or earlier,
/// else `rate` (VAT Directive art. 63: VAT is due at the rate in force when
/// the goods are supplied; the order's date stands for it).
pub fn rate_on(rate: Decimal, changes: &[RateChange], date: time::Date) -> Decimal {
    changes
        .iter()
        .rfind(|change| parse_date(&change.from).is_some_and(|from| from <= date))
        .map_or(rate, |change| change.rate)
}

/// Norway's VOEC scheme for low-value consumer sales.
///
/// Rule (toll.no "Om VOEC-ordningen", tollforskriften § 5-9-1, mval. §
/// 14-4): goods sold to consumers (not businesses or public bodies) whose
/// value is under NOK 3,000 per item (2,999 or less), transport and
/// insurance not counted; foodstuffs, restricted goods and goods under
/// excise duties are excluded. Everything else is an ordinary export.
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
    /// One item is under VOEC when its value (the unit price before VAT,
    /// shipping not counted) is below this, per order currency. Default
    /// `{"NOK": "3000"}`; for another currency the shop sets the limit at
    /// the rate mval.-forskriften § 1-3-8 prescribes.
    #[serde(with = "decimal_map")]
    pub item_value_below: BTreeMap<String, Decimal>,
    /// SKUs of foodstuffs and other goods VOEC excludes, besides order
    /// lines sent with `"voec_excluded": true`.
    pub excluded_skus: BTreeSet<String>,
    /// Changes of `rate` configured ahead, as for OSS countries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<RateChange>,
}

impl Default for VoecConfig {
    fn default() -> Self {
        VoecConfig {
            enabled: false,
            vat_zone: None,
            rate: Decimal::from(25),
            item_value_below: BTreeMap::from([("NOK".to_owned(), Decimal::from(3000))]),
            excluded_skus: BTreeSet::new(),
            changes: Vec::new(),
        }
    }
}

/// `{"NOK": "3000"}`: decimal strings by key.
mod decimal_map {
    use rust_decimal::Decimal;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;
    use std::str::FromStr;

    pub fn serialize<S: Serializer>(
        map: &BTreeMap<String, Decimal>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        map.iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect::<BTreeMap<_, _>>()
            .serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<String, Decimal>, D::Error> {
        BTreeMap::<String, String>::deserialize(deserializer)?
            .into_iter()
            .map(|(k, v)| {
                Decimal::from_str(&v)
                    .map(|d| (k, d))
                    .map_err(|_| serde::de::Error::custom("expected a decimal string"))
            })
            .collect()
    }
}

/// An order line that VOEC does not cover on a VOEC invoice: it is booked
/// as a zero-rated export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineExport {
    /// Index into the order's lines.
    pub line: usize,
    /// Why, for people ("value 3,596.00 NOK per item is not below 3,000").
    pub reason: String,
}

/// The order lines VOEC does not cover (module docs of [`VoecConfig`]).
pub fn voec_line_exports(
    order: &Order,
    voec: &VoecConfig,
) -> Result<Vec<LineExport>, VatSetupError> {
    let currency = order.currency.as_str();
    let Some(limit) = voec.item_value_below.get(currency) else {
        return Err(VatSetupError::VoecLimitNotConfigured {
            currency: currency.to_owned(),
        });
    };
    let mut exports = Vec::new();
    for (index, line) in order.lines.iter().enumerate() {
        if let Some(reason) = voec_exclusion(line, order.prices_include_vat, *limit, currency, voec)
        {
            exports.push(LineExport {
                line: index,
                reason,
            });
        }
    }
    Ok(exports)
}

fn voec_exclusion(
    line: &OrderLine,
    prices_include_vat: bool,
    limit: Decimal,
    currency: &str,
    voec: &VoecConfig,
) -> Option<String> {
    let excluded_sku = line
        .sku
        .as_deref()
        .is_some_and(|sku| voec.excluded_skus.contains(sku.trim()));
    if line.voec_excluded || excluded_sku {
        return Some(format!(
            "`{}` is a foodstuff or other goods VOEC excludes",
            line.name
        ));
    }
    // The value of one item before VAT; shipping is not counted.
    let value = if prices_include_vat {
        crate::domain::money::round2_div(
            line.unit_price,
            crate::domain::money::vat_factor(line.vat_rate),
        )
    } else {
        crate::domain::money::round2(line.unit_price)
    };
    (value >= limit).then(|| {
        format!(
            "`{}` is worth {value:.2} {currency} per item before VAT, not below the VOEC limit of {limit:.2}",
            line.name
        )
    })
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
        assert!(in_eu_vat_area_for_goods("XI") && !is_eu_member("XI"));
    }

    fn address(country: &str, zip: &str, city: &str) -> Address {
        Address {
            name: None,
            street: "Street 1".into(),
            street2: None,
            zip: zip.into(),
            city: city.into(),
            country: country.into(),
        }
    }

    fn outside(country: &str, zip: &str, city: &str) -> Option<&'static str> {
        vat_destination(&address(country, zip, city))
            .outside
            .map(|t| t.name)
    }

    #[test]
    fn territories_outside_the_vat_area_are_found_by_postcode() {
        assert_eq!(
            outside("ES", "35001", "Las Palmas"),
            Some("the Canary Islands")
        );
        assert_eq!(
            outside("ES", "38001", "Santa Cruz"),
            Some("the Canary Islands")
        );
        assert_eq!(outside("ES", "51001", "Ceuta"), Some("Ceuta"));
        assert_eq!(outside("ES", "52001", "Melilla"), Some("Melilla"));
        assert_eq!(outside("ES", "28001", "Madrid"), None);
        assert_eq!(
            outside("FI", "AX-22100", "Mariehamn"),
            Some("the Åland Islands")
        );
        assert_eq!(outside("FI", "00100", "Helsinki"), None);
        assert_eq!(outside("DE", "27498", "Helgoland"), Some("Heligoland"));
        assert_eq!(
            outside("DE", "D-78266", "Büsingen"),
            Some("Büsingen am Hochrhein")
        );
        assert_eq!(outside("DE", "78262", "Gailingen"), None);
        assert_eq!(outside("IT", "23041", "Livigno"), Some("Livigno"));
        assert_eq!(outside("IT", "23030", "Livigno"), Some("Livigno"));
        assert_eq!(outside("IT", "23030", "Valdisotto"), None);
        assert_eq!(
            outside("IT", "22061", "Campione d'Italia"),
            Some("Campione d'Italia")
        );
        assert_eq!(outside("GR", "630 86", "Karyes"), Some("Mount Athos"));
        assert_eq!(
            outside("FR", "97400", "Saint-Denis"),
            Some("a French overseas territory")
        );
        assert_eq!(
            outside("FR", "97150", "Marigot"),
            Some("a French overseas territory")
        );
        assert_eq!(outside("FR", "75001", "Paris"), None);
        assert_eq!(outside("DK", "3900", "Nuuk"), Some("Greenland"));
        assert_eq!(
            outside("DK", "FO-100", "Tórshavn"),
            Some("the Faroe Islands")
        );
        assert_eq!(outside("DK", "100", "Tórshavn"), Some("the Faroe Islands"));
        assert_eq!(outside("DK", "3800", "Tórshavn"), Some("the Faroe Islands"));
        assert_eq!(outside("DK", "3700", "Rønne"), None);
        assert_eq!(outside("DK", "0800", "Høje Taastrup"), None);
    }

    #[test]
    fn monaco_is_france_and_a_bt_postcode_is_northern_ireland() {
        assert_eq!(
            vat_destination(&address("MC", "98000", "Monaco")).code,
            "FR"
        );
        assert_eq!(
            vat_destination(&address("FR", "98000", "Monaco")).outside,
            None
        );
        assert_eq!(
            vat_destination(&address("GB", "bt1 1aa", "Belfast")).code,
            "XI"
        );
        assert_eq!(
            vat_destination(&address("GB", "SW1A 1AA", "London")).code,
            "GB"
        );
        assert_eq!(
            vat_destination(&address("XI", "BT1 1AA", "Belfast")).code,
            "XI"
        );
    }
}
