//! EU VAT numbers: the checks an intra-Community supply needs before it may
//! be invoiced without VAT.
//!
//! Rule: a supply of goods to a business in another member state is exempt
//! only against the buyer's VAT identification number (VAT Directive art.
//! 138(1), art. 226(4); momsloven § 34, stk. 1, nr. 1; momsbekendtgørelsen
//! § 62, stk. 2), and the seller must verify the number (skat.dk "Verifikation
//! af momsnumre", VIES). Without a valid number there is no exemption.
//! The bridge is stricter than art. 138(1)(a), which accepts a number of any
//! member state but the seller's: it requires the destination's prefix, the
//! case the shop's checkout is built for.

use serde::{Deserialize, Serialize};

/// A VAT number in VIES form: two-letter prefix and the national part,
/// upper case, without spaces, dots or hyphens (`DE123456789`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct VatNumber {
    pub prefix: String,
    pub national: String,
}

impl VatNumber {
    /// Reads a number as a customer typed it (`de 123.456.789`).
    pub fn parse(text: &str) -> Option<VatNumber> {
        let plain: String = text
            .chars()
            .filter(|c| !c.is_whitespace() && !matches!(c, '.' | '-'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let prefix: String = plain.chars().take(2).collect();
        if prefix.len() != 2 || !prefix.chars().all(|c| c.is_ascii_uppercase()) {
            return None;
        }
        Some(VatNumber {
            national: plain[2..].to_owned(),
            prefix,
        })
    }

    pub fn as_text(&self) -> String {
        format!("{}{}", self.prefix, self.national)
    }
}

impl std::fmt::Display for VatNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.prefix, self.national)
    }
}

/// What the registry (VIES) said about a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum VatNumberCheck {
    /// Not asked: registry checks are off (`vies.enabled: false`).
    #[default]
    NotChecked,
    Valid,
    /// The registry does not know the number as valid.
    Invalid,
}

/// The VAT number prefix of a destination: Greece is `EL` in VAT numbers,
/// Northern Ireland `XI`, every other member state its ISO code.
pub fn prefix_for(destination: &str) -> &str {
    match destination {
        "GR" => "EL",
        other => other,
    }
}

/// Why a number cannot carry the exemption, before asking any registry.
pub fn format_problem(number: &VatNumber, destination: &str, home: &str) -> Option<String> {
    let expected = prefix_for(destination);
    if number.prefix == prefix_for(home) {
        return Some(format!(
            "{number} is a {home} number; the exemption needs the buyer's number from the \
             member state of arrival ({expected}…)"
        ));
    }
    if number.prefix != expected {
        return Some(format!(
            "{number} does not start with {expected}, the prefix of the destination {destination}"
        ));
    }
    let Some(patterns) = national_formats(&number.prefix) else {
        return Some(format!("{} is no EU VAT number prefix", number.prefix));
    };
    if !patterns.iter().any(|p| fits(p, &number.national)) {
        return Some(format!(
            "{number} is not in the format of a {} VAT number ({})",
            number.prefix,
            patterns.join(" or ")
        ));
    }
    None
}

/// National formats after the prefix (European Commission, VIES "VAT
/// number validation" FAQ): `9` a digit, `A` a letter, `X` a letter or
/// digit, `+` a letter, digit, `+` or `*`; any other character stands for
/// itself.
fn national_formats(prefix: &str) -> Option<&'static [&'static str]> {
    Some(match prefix {
        "AT" => &["U99999999"],
        "BE" => &["9999999999"],
        "BG" => &["999999999", "9999999999"],
        "CY" => &["99999999A"],
        "CZ" => &["99999999", "999999999", "9999999999"],
        "DE" => &["999999999"],
        "DK" => &["99999999"],
        "EE" => &["999999999"],
        "EL" => &["999999999"],
        "ES" => &["X9999999X"],
        "FI" => &["99999999"],
        "FR" => &["XX999999999"],
        "HR" => &["99999999999"],
        "HU" => &["99999999"],
        "IE" => &["9999999A", "9999999AA", "9+99999A"],
        "IT" => &["99999999999"],
        "LT" => &["999999999", "999999999999"],
        "LU" => &["99999999"],
        "LV" => &["99999999999"],
        "MT" => &["99999999"],
        "NL" => &["999999999B99"],
        "PL" => &["9999999999"],
        "PT" => &["999999999"],
        "RO" => &[
            "99",
            "999",
            "9999",
            "99999",
            "999999",
            "9999999",
            "99999999",
            "999999999",
            "9999999999",
        ],
        "SE" => &["999999999999"],
        "SI" => &["99999999"],
        "SK" => &["9999999999"],
        "XI" => &["999999999", "999999999999", "GD999", "HA999"],
        _ => return None,
    })
}

fn fits(pattern: &str, text: &str) -> bool {
    pattern.chars().count() == text.chars().count()
        && pattern.chars().zip(text.chars()).all(|(p, c)| match p {
            '9' => c.is_ascii_digit(),
            'A' => c.is_ascii_uppercase(),
            'X' => c.is_ascii_uppercase() || c.is_ascii_digit(),
            '+' => c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+' || c == '*',
            literal => c == literal,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str, destination: &str) -> Option<String> {
        format_problem(&VatNumber::parse(text).expect("parses"), destination, "DK")
    }

    #[test]
    fn typed_numbers_are_normalised() {
        let number = VatNumber::parse("de 123.456-789").expect("parses");
        assert_eq!(number.as_text(), "DE123456789");
        assert_eq!(VatNumber::parse("12"), None);
    }

    #[test]
    fn the_prefix_must_be_the_destinations_and_not_danish() {
        assert_eq!(problem("DE123456789", "DE"), None);
        assert!(
            problem("SE556677889901", "DE").is_some_and(|p| p.contains("does not start with DE"))
        );
        assert!(problem("DK12345678", "DE").is_some_and(|p| p.contains("is a DK number")));
        assert_eq!(problem("EL123456789", "GR"), None);
        assert!(problem("GR123456789", "GR").is_some());
        assert_eq!(problem("XI123456789", "XI"), None);
    }

    #[test]
    fn national_formats_are_checked() {
        assert_eq!(problem("ATU12345678", "AT"), None);
        assert!(problem("AT12345678", "AT").is_some());
        assert_eq!(problem("NL123456789B01", "NL"), None);
        assert!(problem("NL123456789", "NL").is_some());
        assert_eq!(problem("FRXX123456789", "FR"), None);
        assert_eq!(problem("ESX1234567Z", "ES"), None);
        assert_eq!(problem("IE1234567WA", "IE"), None);
        assert_eq!(problem("SE556677889901", "SE"), None);
        assert!(problem("SE5566778899", "SE").is_some());
        assert!(problem("DE12345678", "DE").is_some_and(|p| p.contains("999999999")));
    }
}
