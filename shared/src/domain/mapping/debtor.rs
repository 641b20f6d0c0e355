//! Choosing the debtor (e-conomic customer) for an order.

use super::config::{DebtorFallback, DebtorStrategy, DebtorUpdate, MappingConfig, PaymentSetup};
use super::MAX_CUSTOMER_NUMBER;
use super::{clip, country_name, invoice_name, non_empty, street_line, DebtorPlan, MappingError};
use crate::domain::economic_model::{
    CustomerGroupRef, LayoutRef, NewCustomer, PaymentTermsRef, VatZoneRef,
};
use crate::domain::order::Order;
use crate::domain::vat::VatDecision;

pub(super) fn plan(
    order: &Order,
    config: &MappingConfig,
    decision: &VatDecision,
    payment: &PaymentSetup,
) -> Result<DebtorPlan, MappingError> {
    let debtor = &config.debtor;
    let number = match &debtor.strategy {
        DebtorStrategy::Fixed { customer_number } => {
            return existing(*customer_number, "debtor.strategy.customer_number");
        }
        DebtorStrategy::Running => None,
        DebtorStrategy::Phone {
            strip_home_country_code,
            home_calling_code,
        } => order.customer.phone.as_deref().and_then(|phone| {
            phone_customer_number(
                phone,
                strip_home_country_code.then_some(home_calling_code.as_str()),
            )
        }),
        DebtorStrategy::ShopCustomerId { offset } => shop_id_number(order, *offset),
    };

    let plan_running = || DebtorPlan::Running {
        lookup_email: order
            .customer
            .email
            .as_deref()
            .and_then(|e| non_empty(Some(e)))
            .map(str::to_lowercase),
        new_customer: new_customer(order, config, decision, payment, None),
    };

    match (number, &debtor.fallback) {
        (Some(n), _) => Ok(DebtorPlan::FindOrCreate {
            customer_number: n,
            new_customer: new_customer(order, config, decision, payment, Some(n)),
        }),
        (None, _) if debtor.strategy == DebtorStrategy::Running => Ok(plan_running()),
        (None, DebtorFallback::Fixed { customer_number }) => {
            existing(*customer_number, "debtor.fallback.customer_number")
        }
        (None, DebtorFallback::Running) => Ok(plan_running()),
    }
}

fn existing(customer_number: u32, field: &str) -> Result<DebtorPlan, MappingError> {
    if customer_number == 0 || customer_number > MAX_CUSTOMER_NUMBER {
        return Err(MappingError::InvalidConfig {
            field: field.to_owned(),
            message: format!(
                "{customer_number} is not an e-conomic customer number (1..=999999999)"
            ),
        });
    }
    Ok(DebtorPlan::Existing { customer_number })
}

/// The customer number a phone number gives: its digits, without the home
/// calling code when `home_calling_code` is given and the number is written
/// internationally (`+45…` or `0045…`). `None` when there are no digits or
/// the number does not fit 1..=999999999 (e.g. most foreign numbers).
pub fn phone_customer_number(phone: &str, home_calling_code: Option<&str>) -> Option<u32> {
    let trimmed = phone.trim();
    let international = trimmed.starts_with('+') || trimmed.starts_with("00");
    let mut digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    if trimmed.starts_with("00") {
        digits.drain(..2);
    }
    if international {
        if let Some(code) = home_calling_code {
            if !code.is_empty() && digits.starts_with(code) {
                digits.drain(..code.len());
            }
        }
    }
    let digits = digits.trim_start_matches('0');
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    let number: u32 = digits.parse().ok()?;
    (1..=MAX_CUSTOMER_NUMBER)
        .contains(&number)
        .then_some(number)
}

fn shop_id_number(order: &Order, offset: u32) -> Option<u32> {
    if !order.customer.logged_in {
        return None;
    }
    let id = order.customer.id.as_deref()?.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) || id.len() > 10 {
        return None;
    }
    let number = id.parse::<u64>().ok()? + u64::from(offset);
    let number = u32::try_from(number).ok()?;
    (1..=MAX_CUSTOMER_NUMBER)
        .contains(&number)
        .then_some(number)
}

fn new_customer(
    order: &Order,
    config: &MappingConfig,
    decision: &VatDecision,
    payment: &PaymentSetup,
    customer_number: Option<u32>,
) -> NewCustomer {
    let customer = &order.customer;
    let billing = &order.billing_address;
    let group = if order.is_business() {
        config.debtor.b2b_customer_group
    } else {
        config.debtor.b2c_customer_group
    };
    NewCustomer {
        customer_number,
        currency: order.currency.clone(),
        customer_group: CustomerGroupRef {
            customer_group_number: group,
        },
        name: clip(&invoice_name(order), 255),
        payment_terms: PaymentTermsRef {
            payment_terms_number: payment.payment_terms,
        },
        vat_zone: VatZoneRef {
            vat_zone_number: decision.vat_zone,
        },
        address: Some(clip(&street_line(billing), 510)),
        zip: Some(clip(&billing.zip, 30)),
        city: Some(clip(&billing.city, 50)),
        country: Some(clip(country_name(&billing.country), 50)),
        email: non_empty(customer.email.as_deref()).map(|e| clip(e, 255)),
        telephone_and_fax_number: non_empty(customer.phone.as_deref()).map(|p| clip(p, 255)),
        // A foreign business is identified by its EU VAT number, which the
        // invoice must show (momsbekendtgørelsen § 62, stk. 2); e-conomic's
        // `vatNumber` exists only for agreements outside Denmark (DOCS), so
        // it goes into the identification number a CVR would fill.
        corporate_identification_number: if decision.country != config.home_country {
            non_empty(customer.eu_vat_number.as_deref()).or(non_empty(customer.cvr.as_deref()))
        } else {
            non_empty(customer.cvr.as_deref()).or(non_empty(customer.eu_vat_number.as_deref()))
        }
        .map(|c| clip(c, 40)),
        ean: customer.ean.clone(),
        layout: config
            .debtor
            .layout
            .map(|layout_number| LayoutRef { layout_number }),
    }
}

/// The debtor properties `debtor.update` may change: name, address,
/// email, phone, CVR/VAT number and EAN, as e-conomic spells them.
pub const UPDATABLE_DEBTOR_FIELDS: [&str; 9] = [
    "name",
    "address",
    "zip",
    "city",
    "country",
    "email",
    "telephoneAndFaxNumber",
    "corporateIdentificationNumber",
    "ean",
];

/// Brings an existing debtor's document (as e-conomic's GET returned it)
/// up to date with the order's details under `mode`, and names the fields
/// it changed. Everything else in the document, known to the bridge or
/// not, is left exactly as read, because the document is sent back whole
/// (a PUT clears what it omits). A field the order does not have is never
/// cleared.
pub fn update_debtor_document(
    document: &mut serde_json::Value,
    from_order: &NewCustomer,
    mode: DebtorUpdate,
) -> Vec<&'static str> {
    let mut changed = Vec::new();
    if mode == DebtorUpdate::Never {
        return changed;
    }
    let Ok(serde_json::Value::Object(wanted)) = serde_json::to_value(from_order) else {
        return changed;
    };
    let Some(current) = document.as_object_mut() else {
        return changed;
    };
    let blank = |v: Option<&serde_json::Value>| match v {
        None | Some(serde_json::Value::Null) => true,
        Some(serde_json::Value::String(s)) => s.trim().is_empty(),
        Some(_) => false,
    };
    for field in UPDATABLE_DEBTOR_FIELDS {
        let Some(new) = wanted.get(field).filter(|v| !blank(Some(v))) else {
            continue;
        };
        let replace = match mode {
            DebtorUpdate::Never => false,
            DebtorUpdate::FillMissing => blank(current.get(field)),
            DebtorUpdate::Always => current.get(field) != Some(new),
        };
        if replace {
            current.insert(field.to_owned(), new.clone());
            changed.push(field);
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn from_order() -> NewCustomer {
        NewCustomer {
            customer_number: Some(7),
            currency: "DKK".into(),
            customer_group: CustomerGroupRef {
                customer_group_number: 1,
            },
            name: "Ann Hansen".into(),
            payment_terms: PaymentTermsRef {
                payment_terms_number: 1,
            },
            vat_zone: VatZoneRef { vat_zone_number: 1 },
            address: Some("Nygade 2".into()),
            zip: Some("8000".into()),
            city: Some("Aarhus".into()),
            country: Some("Denmark".into()),
            email: Some("ann@example.com".into()),
            telephone_and_fax_number: None,
            corporate_identification_number: None,
            ean: None,
            layout: None,
        }
    }

    fn in_economic() -> serde_json::Value {
        json!({
            "customerNumber": 7, "name": "Ann H.", "address": "", "city": "Aarhus C",
            "email": null, "telephoneAndFaxNumber": "+45 12345678", "creditLimit": 5000,
            "contacts": "https://restapi.e-conomic.com/customers/7/contacts",
            "customerGroup": {"customerGroupNumber": 3}
        })
    }

    #[test]
    fn fill_missing_sets_only_empty_fields_and_keeps_everything_else() {
        let mut doc = in_economic();
        let changed = update_debtor_document(&mut doc, &from_order(), DebtorUpdate::FillMissing);
        assert_eq!(changed, vec!["address", "zip", "country", "email"]);
        let mut expected = in_economic();
        expected["address"] = json!("Nygade 2");
        expected["zip"] = json!("8000");
        expected["country"] = json!("Denmark");
        expected["email"] = json!("ann@example.com");
        assert_eq!(doc, expected);
    }

    #[test]
    fn always_overwrites_what_the_order_has_and_clears_nothing() {
        let mut doc = in_economic();
        let changed = update_debtor_document(&mut doc, &from_order(), DebtorUpdate::Always);
        assert_eq!(
            changed,
            vec!["name", "address", "zip", "city", "country", "email"]
        );
        assert_eq!(doc["name"], "Ann Hansen");
        assert_eq!(doc["city"], "Aarhus");
        // The order has no phone: e-conomic's stays; unknown fields stay.
        assert_eq!(doc["telephoneAndFaxNumber"], "+45 12345678");
        assert_eq!(doc["creditLimit"], 5000);
        assert_eq!(doc["customerGroup"]["customerGroupNumber"], 3);
        // Applied again: nothing left to change.
        assert!(update_debtor_document(&mut doc, &from_order(), DebtorUpdate::Always).is_empty());
        let mut untouched = in_economic();
        assert!(
            update_debtor_document(&mut untouched, &from_order(), DebtorUpdate::Never).is_empty()
        );
        assert_eq!(untouched, in_economic());
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(
            phone_customer_number("+45 12 34 56 78", Some("45")),
            Some(12345678)
        );
        assert_eq!(
            phone_customer_number("0045 12345678", Some("45")),
            Some(12345678)
        );
        assert_eq!(
            phone_customer_number("12 34 56 78", Some("45")),
            Some(12345678)
        );
        // National numbers starting with the calling code's digits stay whole.
        assert_eq!(
            phone_customer_number("45 67 89 01", Some("45")),
            Some(45678901)
        );
        // Without stripping, +45 12345678 has 10 digits: too long.
        assert_eq!(phone_customer_number("+45 12345678", None), None);
        // Swedish mobile: 11 digits, does not fit.
        assert_eq!(phone_customer_number("+46 70 123 45 67", Some("45")), None);
        assert_eq!(phone_customer_number("", Some("45")), None);
        assert_eq!(phone_customer_number("n/a", Some("45")), None);
        assert_eq!(phone_customer_number("+45 00000000", Some("45")), None);
    }
}
