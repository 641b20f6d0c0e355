//! The rules of draft invoices and booking: schema and reference checks
//! answered with e-conomic's annotated errors, the amounts read losslessly,
//! totals as e-conomic computes them, numbering, and the stored documents.

use crate::answer::{
    answer, error_answer, key, ref_err, validated_document, validation_error, Answer, Commit,
    FieldErr,
};
use crate::data::{AgreementData, BookedRecord, DraftRecord, ProductRecord, VatZoneRule};
use crate::routes::{check_customer_refs, u32_at, BASE};
use crate::schema::PathSeg;
use crate::totals::{compute, LineInput};
use crate::Shared;
use bridge::domain::economic_model::DraftDocument;
use rust_decimal::Decimal;
use serde_json::{json, Value};

pub(crate) fn decimal_value(d: Decimal) -> Value {
    // Amounts have at most a few decimals; the shortest f64 text of such a
    // value is the decimal's own text, so clients read it back exactly.
    d.normalize()
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// Amounts of one line, read from the raw JSON text (no f64).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineAmounts {
    #[serde(
        default,
        deserialize_with = "bridge::domain::json_decimal::deserialize_optional_decimal"
    )]
    quantity: Option<Decimal>,
    #[serde(
        default,
        deserialize_with = "bridge::domain::json_decimal::deserialize_optional_decimal"
    )]
    unit_net_price: Option<Decimal>,
    #[serde(
        default,
        deserialize_with = "bridge::domain::json_decimal::deserialize_optional_decimal"
    )]
    discount_percentage: Option<Decimal>,
}

#[derive(serde::Deserialize)]
struct DraftAmounts {
    #[serde(default)]
    lines: Vec<LineAmounts>,
}

/// POST /invoices/drafts (or /orders/drafts): a new draft under the next
/// free number of its collection.
pub(crate) fn create_draft(
    shared: &Shared,
    a: &mut AgreementData,
    seq: u64,
    document: DraftDocument,
    body: &[u8],
) -> Answer {
    store_draft(shared, a, seq, document, body, None)
}

/// PUT /invoices/drafts/{n}: a true replace (LIVE for PUT): the body is the
/// whole new draft, a property it omits is gone, and the totals are
/// computed again. A number that holds no draft answers 404.
pub(crate) fn replace_draft(
    shared: &Shared,
    a: &mut AgreementData,
    seq: u64,
    document: DraftDocument,
    number: u32,
    body: &[u8],
) -> Answer {
    if !a.drafts_of(document).contains_key(&number) {
        return crate::answer::not_found(seq, document_name(document));
    }
    store_draft(shared, a, seq, document, body, Some(number))
}

/// The resource's name in a 404.
pub(crate) fn document_name(document: DraftDocument) -> &'static str {
    match document {
        DraftDocument::InvoiceDraft => "Draft invoice",
        DraftDocument::OrderDraft => "Draft order",
    }
}

/// An order draft is validated by the draft invoice's schema: e-conomic's
/// `DraftOrderPost` constrains every property the bridge sends (required
/// list, types, lengths, decimals) exactly as `DraftInvoicePost` does.
fn store_draft(
    shared: &Shared,
    a: &mut AgreementData,
    seq: u64,
    document: DraftDocument,
    body: &[u8],
    replacing: Option<u32>,
) -> Answer {
    let doc = match validated_document(seq, body, &shared.schemas.draft) {
        Ok(doc) => doc,
        Err(answer) => return answer,
    };
    let mut errors = Vec::new();
    let amounts: DraftAmounts = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return error_answer(
                seq,
                400,
                "Validation error.",
                &format!("Amounts could not be read: {e}"),
                None,
            );
        }
    };
    check_customer_refs(a, &doc, &mut errors);
    let customer_number = u32_at(&doc, "/customer/customerNumber").unwrap_or(0);
    if !a.customers.contains_key(&customer_number) {
        errors.push(ref_err(
            vec![key("customer")],
            "customer",
            json!(customer_number.to_string()),
        ));
    }
    let zone_number = u32_at(&doc, "/recipient/vatZone/vatZoneNumber").unwrap_or(0);
    let zone: Option<VatZoneRule> = a.vat_zones.get(&zone_number).cloned();
    if zone.is_none() {
        errors.push(ref_err(
            vec![key("recipient"), key("vatZone")],
            "vatZone",
            json!(zone_number),
        ));
    }
    if let Some(n) = u32_at(&doc, "/paymentTerms/paymentTermsNumber") {
        if let Some((_, kind, _)) = a.payment_terms.get(&n) {
            if kind == "dueDate" && doc.get("dueDate").is_none() {
                errors.push(FieldErr {
                    path: vec![key("dueDate")],
                    code: "E04730",
                    message:
                        "Property dueDate must have a value when paymentTerms is of type dueDate."
                            .into(),
                    value: None,
                });
            }
        }
    }
    let empty = Vec::new();
    let lines = doc.get("lines").and_then(Value::as_array).unwrap_or(&empty);
    let mut inputs = Vec::new();
    for (i, (line, amt)) in lines.iter().zip(amounts.lines.iter()).enumerate() {
        let at = |k: &str| vec![key("lines"), PathSeg::Index(i), key(k)];
        let product_number = line
            .pointer("/product/productNumber")
            .and_then(Value::as_str);
        let product: Option<&ProductRecord> = product_number.and_then(|p| a.products.get(p));
        if let (Some(p), None, false) = (product_number, product, a.accept_unknown_products) {
            errors.push(ref_err(at("product"), "product", json!(p)));
        }
        if let Some(n) = u32_at(line, "/unit/unitNumber") {
            if !a.units.contains_key(&n) {
                errors.push(ref_err(at("unit"), "unit", json!(n)));
            }
        }
        if product_number.is_some() && amt.quantity.is_none() {
            errors.push(FieldErr {
                path: at("quantity"),
                code: "E04730",
                message: "Property quantity must have a value when product is set.".into(),
                value: None,
            });
        }
        // SCHEMA `maxDecimal: 2` on all three, which no JSON Schema
        // validator enforces, hence the explicit check (DOCS: E04740).
        for (field, value) in [
            ("quantity", amt.quantity),
            ("unitNetPrice", amt.unit_net_price),
            ("discountPercentage", amt.discount_percentage),
        ] {
            if let Some(value) = value.filter(|v| v.normalize().scale() > 2) {
                errors.push(FieldErr {
                    path: at(field),
                    code: "E04740",
                    message: format!("{field} scale cannot be greater then two decimal places."),
                    value: Some(decimal_value(value)),
                });
            }
        }
        let exempt = product.is_some_and(|p| p.vat_exempt);
        inputs.push(LineInput {
            quantity: amt.quantity.unwrap_or(Decimal::ZERO),
            unit_net_price: amt.unit_net_price.unwrap_or(Decimal::ZERO),
            discount_percentage: amt.discount_percentage,
            vat_rate_percent: match (&zone, exempt) {
                (Some(z), false) if z.rate_percent.is_zero() => Decimal::ZERO,
                (Some(z), false) => product_number
                    .and_then(|p| a.product_vat_rates.get(p))
                    .copied()
                    .unwrap_or(z.rate_percent),
                _ => Decimal::ZERO,
            },
        });
    }
    if !errors.is_empty() {
        return validation_error(seq, &errors);
    }
    let totals = compute(&inputs, a.vat_rounding);
    let kind = document;
    let number = match replacing {
        Some(number) => number,
        None => {
            a.drafts_created += 1;
            a.next_draft_number(kind)
        }
    };
    let collection = format!("{BASE}{}", kind.collection_path());
    let mut document = doc.clone();
    let currency = doc.get("currency").and_then(Value::as_str).unwrap_or("DKK");
    document[kind.number_field()] = json!(number);
    document["netAmount"] = decimal_value(totals.net);
    document["vatAmount"] = decimal_value(totals.vat);
    document["grossAmount"] = decimal_value(totals.gross);
    document["roundingAmount"] = json!(0.0);
    document["netAmountInBaseCurrency"] = decimal_value(totals.net);
    document["grossAmountInBaseCurrency"] = decimal_value(totals.gross);
    if doc.get("exchangeRate").is_none() && currency == "DKK" {
        document["exchangeRate"] = json!(100);
    }
    if doc.get("dueDate").is_none() {
        document["dueDate"] = doc.get("date").cloned().unwrap_or(Value::Null);
    }
    if let Some(lines) = document.get_mut("lines").and_then(Value::as_array_mut) {
        for (line, input) in lines.iter_mut().zip(inputs.iter()) {
            line["totalNetAmount"] = decimal_value(crate::totals::line_net(input));
        }
    }
    document["pdf"] = json!({"download": format!("{collection}/{number}/pdf")});
    document["templates"] = match kind {
        DraftDocument::InvoiceDraft => json!({
            "bookingInstructions": format!("{collection}/{number}/templates/booking-instructions"),
            "self": format!("{collection}/{number}/templates"),
        }),
        DraftDocument::OrderDraft => json!({
            "upgradeInstructions": format!("{collection}/{number}/templates/upgrade-instructions/draftInvoice"),
            "self": format!("{collection}/{number}/templates"),
        }),
    };
    document["self"] = json!(format!("{collection}/{number}"));
    let reference = doc
        .pointer("/references/other")
        .and_then(Value::as_str)
        .map(str::to_string);
    a.drafts_of(kind).insert(
        number,
        DraftRecord {
            draft_invoice_number: number,
            customer_number,
            reference,
            net_amount: totals.net,
            vat_amount: totals.vat,
            gross_amount: totals.gross,
            document: document.clone(),
        },
    );
    let mut a = answer(if replacing.is_some() { 200 } else { 201 }, document);
    a.committed = replacing.is_none().then_some(Commit::Draft);
    a
}

pub(crate) fn book_draft(shared: &Shared, a: &mut AgreementData, seq: u64, body: &[u8]) -> Answer {
    let doc = match validated_document(seq, body, &shared.schemas.book) {
        Ok(doc) => doc,
        Err(answer) => return answer,
    };
    let draft_number = u32_at(&doc, "/draftInvoice/draftInvoiceNumber").unwrap_or(0);
    let Some(draft) = a.drafts.get(&draft_number).cloned() else {
        return validation_error(
            seq,
            &[ref_err(
                vec![key("draftInvoice")],
                "draftInvoice",
                json!(draft_number),
            )],
        );
    };
    let number = match u32_at(&doc, "/bookWithNumber") {
        Some(n) if a.booked.contains_key(&n) => {
            return validation_error(
                seq,
                &[FieldErr {
                    path: vec![key("bookWithNumber")],
                    code: "E06010",
                    message: "An invoice with this number is already booked.".into(),
                    value: Some(json!(n)),
                }],
            );
        }
        Some(n) => n,
        None => a.next_booked,
    };
    a.next_booked = a.next_booked.max(number + 1);
    a.drafts.remove(&draft_number);
    let mut document = draft.document.clone();
    if let Some(map) = document.as_object_mut() {
        for k in ["draftInvoiceNumber", "templates", "pdf"] {
            map.remove(k);
        }
    }
    document["bookedInvoiceNumber"] = json!(number);
    document["self"] = json!(format!("{BASE}/invoices/booked/{number}"));
    document["pdf"] = json!({"download": format!("{BASE}/invoices/booked/{number}/pdf")});
    // Nothing paid yet: what remains is the whole gross amount (SCHEMA).
    document["remainder"] = decimal_value(draft.gross_amount);
    a.booked.insert(
        number,
        BookedRecord {
            booked_invoice_number: number,
            from_draft: draft_number,
            customer_number: draft.customer_number,
            reference: draft.reference.clone(),
            net_amount: draft.net_amount,
            vat_amount: draft.vat_amount,
            gross_amount: draft.gross_amount,
            document: document.clone(),
            send_by: doc.get("sendBy").and_then(Value::as_str).map(str::to_owned),
            remainder: draft.gross_amount,
        },
    );
    let mut ans = answer(201, document);
    ans.committed = Some(Commit::Booking);
    ans
}
