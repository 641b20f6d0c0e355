//! One agreement's data: reference data (seeded), debtors, drafts, booked.

use bridge::domain::economic_model::DraftDocument;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// VAT rule of a zone: the rate applied to lines whose product is not VAT
/// exempt. (In e-conomic the rate comes from the zone together with the
/// VAT code of the product's sales account; the sandbox models that as
/// zone rate + per-product exemption.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VatZoneRule {
    pub vat_zone_number: u32,
    pub name: String,
    pub rate_percent: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRecord {
    pub product_number: String,
    pub name: String,
    /// Sales account without VAT code: 0 % in every zone.
    #[serde(default)]
    pub vat_exempt: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftRecord {
    /// The draft's number: `draftInvoiceNumber`, or an order draft's
    /// `orderNumber`.
    pub draft_invoice_number: u32,
    pub customer_number: u32,
    pub reference: Option<String>,
    pub net_amount: Decimal,
    pub vat_amount: Decimal,
    pub gross_amount: Decimal,
    /// The document as e-conomic would return it.
    pub document: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookedRecord {
    pub booked_invoice_number: u32,
    pub from_draft: u32,
    pub customer_number: u32,
    pub reference: Option<String>,
    pub net_amount: Decimal,
    pub vat_amount: Decimal,
    pub gross_amount: Decimal,
    pub document: Value,
    /// The booking's `sendBy` (`EAN`, `Email`, `none`), as requested.
    pub send_by: Option<String>,
    /// What is left to pay (SCHEMA `remainder`): the gross amount at
    /// booking, lowered when a booked journal's customer payment names the
    /// invoice (`crate::journals`).
    pub remainder: Decimal,
}

#[derive(Debug, Clone)]
pub struct AgreementData {
    pub vat_zones: BTreeMap<u32, VatZoneRule>,
    pub layouts: BTreeMap<u32, String>,
    /// number → (name, type, days)
    pub payment_terms: BTreeMap<u32, (String, String, u32)>,
    pub customer_groups: BTreeMap<u32, String>,
    pub units: BTreeMap<u32, String>,
    /// number → (name, VAT exempt: its products' sales account has no VAT code)
    pub product_groups: BTreeMap<u32, (String, bool)>,
    pub products: BTreeMap<String, ProductRecord>,
    /// Product number → the rate of the VAT code on its group's sales
    /// account, for products not at their zone's rate (books at 7 % under
    /// OSS Germany). In e-conomic the rate follows product → group → sales
    /// account for the invoice's zone → its VAT account's
    /// `ratePercentage`; the sandbox keeps the outcome. In a zone without
    /// VAT (EU, Abroad) the line is at 0 % all the same.
    pub product_vat_rates: BTreeMap<String, Decimal>,
    pub currencies: Vec<String>,
    /// Accept lines whose product number does not exist (see README).
    pub accept_unknown_products: bool,
    /// How draft totals round VAT (e-conomic's rule is unconfirmed).
    pub vat_rounding: bridge::domain::money::VatRounding,
    pub customers: BTreeMap<u32, Value>,
    pub drafts: BTreeMap<u32, DraftRecord>,
    /// `/orders/drafts`: the same documents under their own numbering.
    pub order_drafts: BTreeMap<u32, DraftRecord>,
    pub booked: BTreeMap<u32, BookedRecord>,
    /// Drafts created so far (numbers are reused, so this is the way to
    /// see that a create happened).
    pub drafts_created: u32,
    pub next_booked: u32,
    /// Accounts of the chart (number → name) that accept entries.
    pub accounts: BTreeMap<u32, String>,
    /// Daybook journals and their unbooked entries (`crate::journals`).
    pub journals: BTreeMap<u32, crate::journals::Journal>,
    /// Entries of booked journals, in booking order.
    pub posted_entries: Vec<crate::journals::JournalEntry>,
    /// The next `journalEntryNumber` (unique per agreement).
    pub next_journal_entry: u32,
}

impl AgreementData {
    pub fn seeded() -> AgreementData {
        let zone = |n: u32, name: &str, rate: Decimal| {
            (
                n,
                VatZoneRule {
                    vat_zone_number: n,
                    name: name.into(),
                    rate_percent: rate,
                },
            )
        };
        let pct = |n: i64| Decimal::new(n, 0);
        let product = |n: &str, name: &str, exempt: bool| {
            (
                n.to_string(),
                ProductRecord {
                    product_number: n.into(),
                    name: name.into(),
                    vat_exempt: exempt,
                },
            )
        };
        AgreementData {
            vat_zones: BTreeMap::from([
                zone(1, "Domestic", pct(25)),
                zone(2, "EU", pct(0)),
                zone(3, "Abroad", pct(0)),
                zone(4, "Domestic exempt", pct(0)),
                zone(10, "OSS Germany", pct(19)),
                zone(11, "OSS Sweden", pct(25)),
                zone(12, "OSS France", pct(20)),
                zone(13, "OSS Netherlands", pct(21)),
            ]),
            layouts: BTreeMap::from([(19, "Standard".into()), (21, "Webshop".into())]),
            payment_terms: BTreeMap::from([
                (1, ("Netto 8 dage".into(), "net".into(), 8)),
                (
                    2,
                    ("Løbende måned 30 dage".into(), "invoiceMonth".into(), 30),
                ),
                (3, ("Kontant".into(), "paidInCash".into(), 0)),
                (4, ("Netto 14 dage".into(), "net".into(), 14)),
                (5, ("Forudbetaling".into(), "prepaid".into(), 0)),
                (6, ("Kreditkort".into(), "creditcard".into(), 0)),
                (7, ("Forfaldsdato".into(), "dueDate".into(), 0)),
            ]),
            customer_groups: BTreeMap::from([
                (1, "Indenlandske kunder".into()),
                (2, "Udenlandske kunder".into()),
            ]),
            units: BTreeMap::from([(1, "stk.".into()), (2, "timer".into()), (3, "kg".into())]),
            product_groups: BTreeMap::from([
                (1, ("Varer med moms".into(), false)),
                (2, ("Varer uden moms".into(), true)),
            ]),
            products: BTreeMap::from([
                product("SKU-1", "T-shirt", false),
                // The generic products of `mapping.products.missing: fallback`.
                product("GENERIC", "Vare", false),
                product("GENERIC-0", "Vare uden moms", true),
                product("SKU-2", "Mug", false),
                product("SKU-3", "Poster", false),
                product("SHIPPING", "Fragt", false),
                product("GIFTCARD", "Gavekort", true),
            ]),
            product_vat_rates: BTreeMap::new(),
            currencies: ["DKK", "EUR", "SEK", "NOK", "USD", "GBP"]
                .iter()
                .map(|c| c.to_string())
                .collect(),
            accept_unknown_products: false,
            vat_rounding: Default::default(),
            customers: BTreeMap::new(),
            drafts: BTreeMap::new(),
            order_drafts: BTreeMap::new(),
            booked: BTreeMap::new(),
            drafts_created: 0,
            next_booked: 20_001,
            accounts: BTreeMap::from([
                (1010, "Salg af varer".into()),
                (5820, "Bankkonto".into()),
                (5830, "Kortindløsning (clearing)".into()),
                (5840, "PayPal (clearing)".into()),
            ]),
            journals: crate::journals::seeded_journals(),
            posted_entries: Vec::new(),
            next_journal_entry: 1,
        }
    }

    pub fn next_customer_number(&self) -> u32 {
        self.customers
            .keys()
            .next_back()
            .map(|n| n + 1)
            .unwrap_or(1)
    }

    /// The lowest number no draft of the collection holds: e-conomic reuses numbers after a
    /// delete (LIVE for customers: deleting 3 made the next customer 3), so
    /// the sandbox does for drafts too, which is what makes a retried
    /// DELETE by number dangerous.
    pub fn next_draft_number(&mut self, document: DraftDocument) -> u32 {
        let taken = self.drafts_of(document);
        (1..).find(|n| !taken.contains_key(n)).unwrap_or(u32::MAX)
    }

    /// The drafts of one collection.
    pub fn drafts_of(&mut self, document: DraftDocument) -> &mut BTreeMap<u32, DraftRecord> {
        match document {
            DraftDocument::InvoiceDraft => &mut self.drafts,
            DraftDocument::OrderDraft => &mut self.order_drafts,
        }
    }

    /// Whether any draft, invoice or order, passes `test`.
    pub fn any_draft(&self, test: impl FnMut(&DraftRecord) -> bool) -> bool {
        self.drafts
            .values()
            .chain(self.order_drafts.values())
            .any(test)
    }

    pub fn vat_zones_json(&self) -> Vec<Value> {
        self.vat_zones
            .values()
            .map(|z| {
                json!({
                    "vatZoneNumber": z.vat_zone_number,
                    "name": z.name,
                    "enabledForCustomer": true,
                    "enabledForSupplier": true,
                    "self": format!("https://restapi.e-conomic.com/vat-zones/{}", z.vat_zone_number),
                })
            })
            .collect()
    }

    pub fn layouts_json(&self) -> Vec<Value> {
        self.layouts
            .iter()
            .map(|(n, name)| json!({"layoutNumber": n, "name": name, "self": format!("https://restapi.e-conomic.com/layouts/{n}")}))
            .collect()
    }

    pub fn payment_terms_json(&self) -> Vec<Value> {
        self.payment_terms
            .iter()
            .map(|(n, (name, kind, days))| {
                json!({"paymentTermsNumber": n, "name": name, "paymentTermsType": kind, "daysOfCredit": days,
                       "self": format!("https://restapi.e-conomic.com/payment-terms/{n}")})
            })
            .collect()
    }

    pub fn customer_groups_json(&self) -> Vec<Value> {
        self.customer_groups
            .iter()
            .map(|(n, name)| json!({"customerGroupNumber": n, "name": name, "self": format!("https://restapi.e-conomic.com/customer-groups/{n}")}))
            .collect()
    }

    pub fn units_json(&self) -> Vec<Value> {
        self.units
            .iter()
            .map(|(n, name)| json!({"unitNumber": n, "name": name, "self": format!("https://restapi.e-conomic.com/units/{n}")}))
            .collect()
    }

    pub fn product_groups_json(&self) -> Vec<Value> {
        self.product_groups
            .iter()
            .map(|(n, (name, _))| json!({"productGroupNumber": n, "name": name, "self": format!("https://restapi.e-conomic.com/product-groups/{n}")}))
            .collect()
    }

    pub fn product_json(&self, p: &ProductRecord) -> Value {
        json!({"productNumber": p.product_number, "name": p.name, "barred": false,
               "self": format!("https://restapi.e-conomic.com/products/{}", p.product_number)})
    }
}
