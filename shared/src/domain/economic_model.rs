//! Wire types of the e-conomic REST API (the subset this bridge uses).
//!
//! Field names follow e-conomic's JSON (camelCase). Money is `Decimal` and is
//! serialised as a JSON number (e-conomic's schemas say `number`), written
//! from the decimal's exact text so no float ever touches an amount.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// Which e-conomic draft document an order becomes (`mapping.document`).
/// An order draft (`/orders/drafts`) takes the same body as a draft invoice
/// (SCHEMA: `DraftOrderPost` constrains every property the bridge sends as
/// `DraftInvoicePost` does) and is numbered by `orderNumber`; it cannot be
/// booked through the API (there is no booking endpoint for orders).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftDocument {
    #[default]
    InvoiceDraft,
    OrderDraft,
}

impl DraftDocument {
    /// The collection the drafts live in.
    pub fn collection_path(self) -> &'static str {
        match self {
            DraftDocument::InvoiceDraft => "/invoices/drafts",
            DraftDocument::OrderDraft => "/orders/drafts",
        }
    }

    /// The property holding a draft's number.
    pub fn number_field(self) -> &'static str {
        match self {
            DraftDocument::InvoiceDraft => "draftInvoiceNumber",
            DraftDocument::OrderDraft => "orderNumber",
        }
    }

    /// What the document is called in labels and reasons.
    pub fn noun(self) -> &'static str {
        match self {
            DraftDocument::InvoiceDraft => "draft invoice",
            DraftDocument::OrderDraft => "order draft",
        }
    }

    pub fn is_default(&self) -> bool {
        *self == DraftDocument::InvoiceDraft
    }
}

/// Serialises a `Decimal` as a JSON number without going through `f64`.
pub mod decimal_number {
    use rust_decimal::Decimal;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        // A RawValue is written verbatim by serde_json: the decimal's exact
        // text becomes the JSON number.
        use serde::Serialize;
        let text = value.normalize().to_string();
        let raw =
            serde_json::value::RawValue::from_string(text).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        crate::domain::json_decimal::deserialize_decimal(deserializer)
    }

    pub mod option {
        use rust_decimal::Decimal;
        use serde::{Deserializer, Serializer};

        pub fn serialize<S: Serializer>(
            value: &Option<Decimal>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match value {
                Some(v) => super::serialize(v, serializer),
                None => serializer.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Decimal>, D::Error> {
            crate::domain::json_decimal::deserialize_optional_decimal(deserializer)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerRef {
    pub customer_number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LayoutRef {
    pub layout_number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentTermsRef {
    pub payment_terms_number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VatZoneRef {
    pub vat_zone_number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerGroupRef {
    pub customer_group_number: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductRef {
    pub product_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnitRef {
    pub unit_number: u32,
}

/// Who the invoice is addressed to (printed on the invoice).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ean: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_entry_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nem_handel_type: Option<String>,
    pub vat_zone: VatZoneRef,
}

impl Default for VatZoneRef {
    fn default() -> Self {
        VatZoneRef { vat_zone_number: 1 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery_date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Notes {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_line1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text_line2: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct References {
    /// Free text, filterable on GET /invoices/drafts: carries the bridge's
    /// order reference so a draft can be found again after a lost response.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftLine {
    pub line_number: u32,
    pub sort_key: u32,
    pub description: String,
    pub product: ProductRef,
    #[serde(with = "decimal_number")]
    pub quantity: Decimal,
    #[serde(with = "decimal_number")]
    pub unit_net_price: Decimal,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "decimal_number::option"
    )]
    pub discount_percentage: Option<Decimal>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<UnitRef>,
}

/// Body of POST /invoices/drafts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftInvoice {
    pub currency: String,
    pub customer: CustomerRef,
    /// YYYY-MM-DD
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    pub layout: LayoutRef,
    pub payment_terms: PaymentTermsRef,
    pub recipient: Recipient,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Notes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<References>,
    #[serde(default)]
    pub lines: Vec<DraftLine>,
}

/// Body of POST /customers (a new debtor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewCustomer {
    /// `None` lets e-conomic assign the next free number (running number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<u32>,
    pub currency: String,
    pub customer_group: CustomerGroupRef,
    pub name: String,
    pub payment_terms: PaymentTermsRef,
    pub vat_zone: VatZoneRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telephone_and_fax_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corporate_identification_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ean: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<LayoutRef>,
}

// ---------------------------------------------------------------------------
// Response types. Unknown fields are ignored (e-conomic adds fields over
// time); amounts are read losslessly from the JSON text.
// ---------------------------------------------------------------------------

/// Body of POST /invoices/booked: books the draft with this number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookRequest {
    pub draft_invoice: DraftInvoiceRef,
    /// Books with this invoice number instead of the next in sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub book_with_number: Option<u32>,
    /// How e-conomic sends the booked invoice; absent: not sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_by: Option<SendBy>,
}

/// `sendBy` of POST /invoices/booked, spelled as e-conomic's published
/// schema spells it (`"none"`, `"EAN"`, `"Email"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SendBy {
    #[serde(rename = "none")]
    Nothing,
    /// Electronic invoice through NemHandel to the recipient's EAN.
    #[serde(rename = "EAN")]
    Ean,
    #[serde(rename = "Email")]
    Email,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftInvoiceRef {
    pub draft_invoice_number: u32,
}

/// A draft invoice as e-conomic returns it (POST /invoices/drafts, GET).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftInvoiceResponse {
    /// An order draft's `orderNumber` (the same document under another
    /// collection, see [`DraftDocument`]).
    #[serde(alias = "orderNumber")]
    pub draft_invoice_number: u32,
    #[serde(default)]
    pub customer: Option<CustomerRef>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(with = "decimal_number")]
    pub net_amount: Decimal,
    #[serde(with = "decimal_number")]
    pub vat_amount: Decimal,
    #[serde(with = "decimal_number")]
    pub gross_amount: Decimal,
    #[serde(default, with = "decimal_number::option")]
    pub rounding_amount: Option<Decimal>,
    #[serde(default)]
    pub references: Option<References>,
    #[serde(default, rename = "self")]
    pub self_link: Option<String>,
}

/// A booked invoice as e-conomic returns it (POST /invoices/booked, GET).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookedInvoiceResponse {
    pub booked_invoice_number: u32,
    #[serde(default)]
    pub customer: Option<CustomerRef>,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(with = "decimal_number")]
    pub net_amount: Decimal,
    #[serde(with = "decimal_number")]
    pub vat_amount: Decimal,
    #[serde(with = "decimal_number")]
    pub gross_amount: Decimal,
    #[serde(default)]
    pub references: Option<References>,
}

/// A debtor as e-conomic returns it (GET/POST /customers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerResponse {
    pub customer_number: u32,
    pub name: String,
    #[serde(default)]
    pub currency: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub vat_zone: Option<VatZoneRef>,
    #[serde(default)]
    pub customer_group: Option<CustomerGroupRef>,
    #[serde(default)]
    pub payment_terms: Option<PaymentTermsRef>,
    #[serde(default)]
    pub barred: Option<bool>,
}

/// One page of a collection (`GET /customers`, `/invoices/drafts`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Collection<T> {
    pub collection: Vec<T>,
    #[serde(default)]
    pub pagination: Option<Pagination>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default)]
    pub skip_pages: Option<u32>,
    #[serde(default)]
    pub page_size: Option<u32>,
    #[serde(default)]
    pub results: Option<u32>,
    #[serde(default)]
    pub next_page: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VatZone {
    pub vat_zone_number: u32,
    pub name: String,
    #[serde(default)]
    pub enabled_for_customer: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    pub layout_number: u32,
    pub name: String,
    #[serde(default)]
    pub deleted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentTerms {
    pub payment_terms_number: u32,
    pub name: String,
    #[serde(default)]
    pub days_of_credit: Option<u32>,
    #[serde(default)]
    pub payment_terms_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomerGroup {
    pub customer_group_number: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unit {
    pub unit_number: u32,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    pub product_number: String,
    pub name: String,
    #[serde(default, with = "decimal_number::option")]
    pub sales_price: Option<Decimal>,
    #[serde(default)]
    pub barred: Option<bool>,
}

/// POST /products (SCHEMA products.post: `productNumber`, `name` and
/// `productGroup` required). The group's accounts decide the VAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewProduct {
    pub product_number: String,
    pub name: String,
    pub product_group: ProductGroupRef,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductGroupRef {
    pub product_group_number: u32,
}

/// An entry of GET /product-groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductGroup {
    pub product_group_number: u32,
    pub name: String,
}
