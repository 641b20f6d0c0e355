//! The e-conomic API the sandbox serves: reference-data collections with
//! `$eq` filters and paging, products, customers, and the invoice
//! endpoints (their rules are in [`crate::drafts`]).

use crate::answer::{
    answer, error_answer, key, no_content, not_found, not_json, ref_err, schema_errors,
    validated_document, validation_error, Answer, FieldErr,
};
use crate::data::AgreementData;
use crate::drafts::{book_draft, create_draft, document_name, replace_draft};
use crate::filter::{parse_filter_value, FilterValue};
use crate::journals::{account_json, journal_json, post_voucher, JournalEntry};
use crate::url_decoding::{decode_resource_id, query_param};
use crate::Shared;
use bridge::domain::economic_model::DraftDocument;
use hyper::Method;
use serde_json::{json, Value};

/// Self links point at the real API, as e-conomic's own answers do.
pub(crate) const BASE: &str = "https://restapi.e-conomic.com";

pub(crate) fn u32_at(v: &Value, pointer: &str) -> Option<u32> {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Applies `filter` (one `field$eq:value` predicate) and paging.
fn collection(
    seq: u64,
    path: &str,
    query: Option<&str>,
    items: Vec<Value>,
    filterable: &[&str],
) -> Answer {
    let mut items = items;
    if let Some(filter) = query_param(query, "filter") {
        let Some((field, value)) = filter.split_once("$eq:") else {
            return error_answer(
                seq,
                400,
                "The filter could not be parsed.",
                "The sandbox supports one field$eq:value predicate.",
                None,
            );
        };
        if !filterable.contains(&field) {
            return error_answer(
                seq,
                400,
                &format!("Filtering on the property {field} is not allowed."),
                "See the collection's schema for filterable properties.",
                None,
            );
        }
        let wanted = match parse_filter_value(value) {
            Ok(FilterValue::Text(text)) => Some(text.to_lowercase()),
            Ok(FilterValue::MatchesNothing) => None,
            Err(problem) => {
                return error_answer(
                    seq,
                    400,
                    "The filter could not be parsed.",
                    &format!("{problem}; escape `$` and `)` with a leading `$`."),
                    None,
                )
            }
        };
        let pointer = format!("/{}", field.replace('.', "/"));
        items.retain(|item| match (item.pointer(&pointer), &wanted) {
            (Some(Value::String(s)), Some(wanted)) => s.to_lowercase() == *wanted,
            (Some(Value::Number(n)), Some(wanted)) => n.to_string() == *wanted,
            _ => false,
        });
    }
    let page_size = query_param(query, "pagesize")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(20)
        .clamp(1, 1000);
    let skip = query_param(query, "skippages")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(0);
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(skip * page_size)
        .take(page_size)
        .collect();
    let link = |n: usize| format!("{BASE}{path}?skippages={n}&pagesize={page_size}");
    let last = if total == 0 {
        0
    } else {
        (total - 1) / page_size
    };
    let mut pagination = json!({
        "skipPages": skip,
        "pageSize": page_size,
        "maxPageSizeAllowed": 1000,
        "results": total,
        "resultsWithoutFilter": total,
        "firstPage": link(0),
        "lastPage": link(last),
    });
    if skip < last {
        pagination["nextPage"] = json!(link(skip + 1));
    }
    answer(
        200,
        json!({"collection": page, "pagination": pagination, "self": format!("{BASE}{path}")}),
    )
}

pub(crate) fn api(
    shared: &Shared,
    a: &mut AgreementData,
    seq: u64,
    method: &Method,
    path: &str,
    query: Option<&str>,
    body: &[u8],
) -> Answer {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let parse_body = || serde_json::from_slice::<Value>(body);
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["vat-zones"]) => collection(seq, path, query, a.vat_zones_json(), &["name"]),
        ("GET", ["layouts"]) => collection(seq, path, query, a.layouts_json(), &["name"]),
        ("GET", ["payment-terms"]) => {
            collection(seq, path, query, a.payment_terms_json(), &["name"])
        }
        ("GET", ["customer-groups"]) => {
            collection(seq, path, query, a.customer_groups_json(), &["name"])
        }
        ("GET", ["units"]) => collection(seq, path, query, a.units_json(), &["name"]),
        ("GET", ["products"]) => {
            let items = a.products.values().map(|p| a.product_json(p)).collect();
            collection(seq, path, query, items, &["productNumber", "name"])
        }
        ("GET", ["product-groups"]) => {
            collection(seq, path, query, a.product_groups_json(), &["name"])
        }
        ("POST", ["products"]) => create_product(shared, a, seq, body),
        ("GET", ["products", id]) => {
            let number = decode_resource_id(id);
            match a.products.get(&number) {
                Some(p) => answer(200, a.product_json(p)),
                None => not_found(seq, "Product"),
            }
        }
        ("GET", ["customers"]) => {
            let items = a.customers.values().cloned().collect();
            collection(
                seq,
                path,
                query,
                items,
                &[
                    "email",
                    "name",
                    "customerNumber",
                    "corporateIdentificationNumber",
                ],
            )
        }
        ("GET", ["customers", n]) => {
            match n.parse::<u32>().ok().and_then(|n| a.customers.get(&n)) {
                Some(c) => answer(200, c.clone()),
                None => not_found(seq, "Customer"),
            }
        }
        ("POST", ["customers"]) | ("PUT", ["customers", _]) => {
            let Ok(doc) = parse_body() else {
                return not_json(seq);
            };
            let put_number = match segments.as_slice() {
                [_, n] => match n.parse::<u32>() {
                    Ok(n) if a.customers.contains_key(&n) => Some(n),
                    _ => return not_found(seq, "Customer"),
                },
                _ => None,
            };
            let mut errors = schema_errors(shared.schemas.customer.validate(&doc));
            if errors.is_empty() {
                check_customer_refs(a, &doc, &mut errors);
            }
            let number = match (put_number, u32_at(&doc, "/customerNumber")) {
                (Some(n), _) => n,
                (None, Some(n)) if a.customers.contains_key(&n) => {
                    errors.push(FieldErr {
                        path: vec![key("customerNumber")],
                        code: "E06010",
                        message: "Customer number is already in use.".into(),
                        value: Some(json!(n)),
                    });
                    n
                }
                (None, Some(n)) => n,
                (None, None) => a.next_customer_number(),
            };
            if !errors.is_empty() {
                return validation_error(seq, &errors);
            }
            let mut stored = doc;
            stored["customerNumber"] = json!(number);
            stored["self"] = json!(format!("{BASE}/customers/{number}"));
            stored["lastUpdated"] = json!("2024-01-01T00:00:00Z");
            a.customers.insert(number, stored.clone());
            answer(if put_number.is_some() { 200 } else { 201 }, stored)
        }
        ("POST", [c, "drafts"]) if drafts_in(c).is_some() => {
            create_draft(shared, a, seq, drafts_in(c).unwrap_or_default(), body)
        }
        ("GET", [c, "drafts"]) if drafts_in(c).is_some() => {
            let document = drafts_in(c).unwrap_or_default();
            let items = a
                .drafts_of(document)
                .values()
                .map(|d| d.document.clone())
                .collect();
            // Order drafts: SCHEMA marks `references.other` filterable
            // (and LIVE: `paymentTerms.paymentTermsNumber` is listed but
            // answers 500, so it is not offered here).
            let filterable: &[&str] = match document {
                DraftDocument::InvoiceDraft => {
                    &["references.other", "customer.customerNumber", "date"]
                }
                DraftDocument::OrderDraft => &[
                    "references.other",
                    "customer.customerNumber",
                    "date",
                    "orderNumber",
                ],
            };
            collection(seq, path, query, items, filterable)
        }
        ("GET", [c, "drafts", n]) if drafts_in(c).is_some() => {
            let document = drafts_in(c).unwrap_or_default();
            match n
                .parse::<u32>()
                .ok()
                .and_then(|n| a.drafts_of(document).get(&n))
            {
                Some(d) => answer(200, d.document.clone()),
                None => not_found(seq, document_name(document)),
            }
        }
        ("PUT", [c, "drafts", n]) if drafts_in(c).is_some() => {
            let document = drafts_in(c).unwrap_or_default();
            match n.parse::<u32>() {
                Ok(number) => replace_draft(shared, a, seq, document, number, body),
                Err(_) => not_found(seq, document_name(document)),
            }
        }
        // LIVE: a draft's DELETE answers 200 with a status body (its exact
        // shape is unconfirmed), customers' and products' answer 204. LIVE
        // for order drafts: "create and delete behave exactly as draft
        // invoices do".
        ("DELETE", [c, "drafts", n]) if drafts_in(c).is_some() => {
            let document = drafts_in(c).unwrap_or_default();
            match n
                .parse::<u32>()
                .ok()
                .and_then(|n| a.drafts_of(document).remove(&n))
            {
                Some(d) => answer(200, deleted_drafts(document, &[d.draft_invoice_number])),
                None => not_found(seq, document_name(document)),
            }
        }
        // LIVE: without a number, DELETE removes every draft on the
        // agreement (for order drafts unconfirmed; assumed the same).
        ("DELETE", [c, "drafts"]) if drafts_in(c).is_some() => {
            let document = drafts_in(c).unwrap_or_default();
            let drafts = a.drafts_of(document);
            let numbers: Vec<u32> = drafts.keys().copied().collect();
            drafts.clear();
            answer(200, deleted_drafts(document, &numbers))
        }
        ("DELETE", ["customers", n]) => {
            let Some(number) = n
                .parse::<u32>()
                .ok()
                .filter(|n| a.customers.contains_key(n))
            else {
                return not_found(seq, "Customer");
            };
            // LIVE: a customer a draft refers to cannot be deleted.
            if a.any_draft(|d| d.customer_number == number) {
                return error_answer(
                    seq,
                    400,
                    "The customer is used by a draft invoice and cannot be deleted.",
                    "Delete or book the customer's draft invoices first.",
                    None,
                );
            }
            a.customers.remove(&number);
            no_content()
        }
        ("DELETE", ["products", id]) => {
            let number = decode_resource_id(id);
            if !a.products.contains_key(&number) {
                return not_found(seq, "Product");
            }
            let used = a.any_draft(|d| {
                d.document
                    .get("lines")
                    .and_then(Value::as_array)
                    .is_some_and(|lines| {
                        lines.iter().any(|l| {
                            l.pointer("/product/productNumber").and_then(Value::as_str)
                                == Some(number.as_str())
                        })
                    })
            });
            if used {
                return error_answer(
                    seq,
                    400,
                    "The product is used by a draft invoice and cannot be deleted.",
                    "Delete or book the draft invoices that use it first.",
                    None,
                );
            }
            a.products.remove(&number);
            no_content()
        }
        ("POST", ["invoices", "booked"]) => book_draft(shared, a, seq, body),
        ("GET", ["invoices", "booked"]) => {
            let items = a.booked.values().map(|d| d.document.clone()).collect();
            collection(
                seq,
                path,
                query,
                items,
                &["references.other", "customer.customerNumber", "date"],
            )
        }
        ("GET", ["invoices", "booked", n]) => {
            match n.parse::<u32>().ok().and_then(|n| a.booked.get(&n)) {
                Some(d) => answer(200, d.document.clone()),
                None => not_found(seq, "Booked invoice"),
            }
        }
        ("GET", ["journals"]) => {
            let items = a.journals.values().map(journal_json).collect();
            collection(seq, path, query, items, &["name", "journalNumber"])
        }
        ("GET", ["journals", n]) => match n.parse::<u32>().ok().and_then(|n| a.journals.get(&n)) {
            Some(j) => answer(200, journal_json(j)),
            None => not_found(seq, "Journal"),
        },
        ("POST", ["journals", n, "vouchers"]) => match n.parse::<u32>() {
            Ok(n) => post_voucher(shared, a, seq, n, body),
            Err(_) => not_found(seq, "Journal"),
        },
        ("GET", ["journals", n, "entries"]) => {
            match n.parse::<u32>().ok().and_then(|n| a.journals.get(&n)) {
                Some(j) => {
                    let items = j.entries.iter().map(JournalEntry::json).collect();
                    // SCHEMA marks these filterable (LIVE unconfirmed).
                    collection(
                        seq,
                        path,
                        query,
                        items,
                        &[
                            "customer.customerNumber",
                            "text",
                            "entryType",
                            "journalEntryNumber",
                        ],
                    )
                }
                None => not_found(seq, "Journal"),
            }
        }
        ("GET", ["accounts"]) => {
            let items = a
                .accounts
                .iter()
                .map(|(n, name)| account_json(*n, name))
                .collect();
            collection(seq, path, query, items, &["accountNumber", "name"])
        }
        ("GET", ["accounts", n]) => {
            match n
                .parse::<u32>()
                .ok()
                .and_then(|n| a.accounts.get_key_value(&n))
            {
                Some((n, name)) => answer(200, account_json(*n, name)),
                None => not_found(seq, "Account"),
            }
        }
        (_, [first, ..]) if ["invoices", "orders", "journals"].contains(first) => error_answer(
            seq,
            405,
            "Method not allowed.",
            "This endpoint does not support the method.",
            None,
        ),
        _ => not_found(seq, "Resource"),
    }
}

pub(crate) fn check_customer_refs(a: &AgreementData, doc: &Value, errors: &mut Vec<FieldErr>) {
    if let Some(c) = doc.get("currency").and_then(Value::as_str) {
        if !a.currencies.iter().any(|x| x == c) {
            errors.push(ref_err(vec![key("currency")], "currency", json!(c)));
        }
    }
    if let Some(n) = u32_at(doc, "/customerGroup/customerGroupNumber") {
        if !a.customer_groups.contains_key(&n) {
            errors.push(ref_err(
                vec![key("customerGroup")],
                "customerGroup",
                json!(n),
            ));
        }
    }
    if let Some(n) = u32_at(doc, "/paymentTerms/paymentTermsNumber") {
        if !a.payment_terms.contains_key(&n) {
            errors.push(ref_err(vec![key("paymentTerms")], "paymentTerms", json!(n)));
        }
    }
    if let Some(n) = u32_at(doc, "/vatZone/vatZoneNumber") {
        if !a.vat_zones.contains_key(&n) {
            errors.push(ref_err(vec![key("vatZone")], "vatZone", json!(n)));
        }
    }
    if let Some(n) = u32_at(doc, "/layout/layoutNumber") {
        if !a.layouts.contains_key(&n) {
            errors.push(ref_err(vec![key("layout")], "layout", json!(n)));
        }
    }
}

/// The draft collection a path's first segment names.
fn drafts_in(segment: &str) -> Option<DraftDocument> {
    match segment {
        "invoices" => Some(DraftDocument::InvoiceDraft),
        "orders" => Some(DraftDocument::OrderDraft),
        _ => None,
    }
}

/// The status body of a draft DELETE.
fn deleted_drafts(document: DraftDocument, numbers: &[u32]) -> Value {
    let collection = document.collection_path();
    json!({
        "message": format!("Deleted {}s.", document.noun()),
        "deletedCount": numbers.len(),
        "deletedItems": numbers
            .iter()
            .map(|n| json!({document.number_field(): n, "self": format!("{BASE}{collection}/{n}")}))
            .collect::<Vec<_>>(),
    })
}

/// POST /products: the caller's `productNumber` in an existing product
/// group (SCHEMA products.post); the group decides the VAT.
fn create_product(shared: &Shared, a: &mut AgreementData, seq: u64, body: &[u8]) -> Answer {
    let doc = match validated_document(seq, body, &shared.schemas.product) {
        Ok(doc) => doc,
        Err(answer) => return answer,
    };
    let mut errors = Vec::new();
    let number = doc["productNumber"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let group = u32_at(&doc, "/productGroup/productGroupNumber").unwrap_or(0);
    let exempt = match a.product_groups.get(&group) {
        Some((_, exempt)) => *exempt,
        None => {
            errors.push(ref_err(
                vec![key("productGroup")],
                "productGroup",
                json!(group),
            ));
            false
        }
    };
    if a.products.contains_key(&number) {
        errors.push(FieldErr {
            path: vec![key("productNumber")],
            code: "E06010",
            message: "Product number is already in use.".into(),
            value: Some(json!(number)),
        });
    }
    if !errors.is_empty() {
        return validation_error(seq, &errors);
    }
    let record = crate::data::ProductRecord {
        product_number: number.clone(),
        name: doc["name"].as_str().unwrap_or_default().to_string(),
        vat_exempt: exempt,
    };
    let mut document = a.product_json(&record);
    document["productGroup"] = json!({"productGroupNumber": group});
    a.products.insert(number, record);
    answer(201, document)
}
