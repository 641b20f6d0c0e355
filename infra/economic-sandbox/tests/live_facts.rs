//! The sandbox answers as e-conomic was observed to answer on a live
//! agreement (the facts marked LIVE in docs/sandbox.md), one test per fact,
//! over raw HTTP so that no client logic stands in between.

use economic_sandbox::{start, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};
use std::time::Duration;

mod raw_http;
use raw_http::{send, Answer};

fn customer(number: Option<u32>) -> Value {
    let mut c = json!({
        "currency": "DKK", "name": "Ann", "customerGroup": {"customerGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1}, "vatZone": {"vatZoneNumber": 1}
    });
    if let Some(n) = number {
        c["customerNumber"] = json!(n);
    }
    c
}

fn draft(reference: &str) -> Value {
    json!({
        "currency": "DKK", "date": "2024-05-01", "customer": {"customerNumber": 7},
        "layout": {"layoutNumber": 19}, "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": "Ann", "vatZone": {"vatZoneNumber": 1}},
        "references": {"other": reference},
        "lines": [{"lineNumber": 1, "sortKey": 1, "description": "T-shirt",
                   "product": {"productNumber": "SKU-1"}, "quantity": 1, "unitNetPrice": 100}]
    })
}

async fn sandbox_with_customer_7() -> SandboxHandle {
    let sb = start(SandboxConfig::default()).await.expect("sandbox");
    let created = send(&sb, "POST", "/customers", None, Some(customer(Some(7)))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    sb
}

#[tokio::test]
async fn a_create_answers_201_with_location() {
    let sb = sandbox_with_customer_7().await;
    let created = send(&sb, "POST", "/invoices/drafts", None, Some(draft("r"))).await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.location.as_deref(),
        Some("https://restapi.e-conomic.com/invoices/drafts/1")
    );
    let customer = send(&sb, "POST", "/customers", None, Some(customer(None))).await;
    assert_eq!(customer.status, 201);
    assert_eq!(
        customer.location.as_deref(),
        Some("https://restapi.e-conomic.com/customers/8")
    );
}

#[tokio::test]
async fn a_repeated_idempotency_key_replays_the_first_answer() {
    let sb = sandbox_with_customer_7().await;
    let first = send(
        &sb,
        "POST",
        "/invoices/drafts",
        Some("k1"),
        Some(draft("r")),
    )
    .await;
    let again = send(
        &sb,
        "POST",
        "/invoices/drafts",
        Some("k1"),
        Some(draft("r")),
    )
    .await;
    assert_eq!((first.status, first.from_cache), (201, false));
    assert_eq!((again.status, again.from_cache), (201, true));
    assert_eq!(again.body, first.body);
    assert_eq!(again.location, first.location);
    assert_eq!(sb.drafts(0).len(), 1);
    // Without a key, or with another one, a second draft is made.
    send(&sb, "POST", "/invoices/drafts", None, Some(draft("r"))).await;
    send(
        &sb,
        "POST",
        "/invoices/drafts",
        Some("k2"),
        Some(draft("r")),
    )
    .await;
    assert_eq!(sb.drafts(0).len(), 3);
}

#[tokio::test]
async fn a_repeated_delete_under_its_key_replays_instead_of_404() {
    let sb = sandbox_with_customer_7().await;
    send(&sb, "POST", "/customers", None, Some(customer(Some(3)))).await;
    let deleted = send(&sb, "DELETE", "/customers/3", Some("d"), None).await;
    let replayed = send(&sb, "DELETE", "/customers/3", Some("d"), None).await;
    let unkeyed = send(&sb, "DELETE", "/customers/3", None, None).await;
    assert_eq!((deleted.status, deleted.from_cache), (204, false));
    assert_eq!((replayed.status, replayed.from_cache), (204, true));
    assert_eq!(unkeyed.status, 404);
}

#[tokio::test]
async fn keys_expire_after_their_lifetime() {
    let sb = sandbox_with_customer_7().await;
    send(&sb, "POST", "/invoices/drafts", Some("k"), Some(draft("r"))).await;
    sb.expire_idempotency_keys();
    let after = send(&sb, "POST", "/invoices/drafts", Some("k"), Some(draft("r"))).await;
    assert_eq!((after.status, after.from_cache), (201, false));
    assert_eq!(sb.drafts(0).len(), 2);

    sb.set_idempotency_key_lifetime(Duration::from_millis(50));
    send(
        &sb,
        "POST",
        "/invoices/drafts",
        Some("short"),
        Some(draft("r")),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(80)).await;
    let late = send(
        &sb,
        "POST",
        "/invoices/drafts",
        Some("short"),
        Some(draft("r")),
    )
    .await;
    assert!(!late.from_cache);
    assert_eq!(sb.drafts(0).len(), 4);
}

#[tokio::test]
async fn deleting_a_draft_answers_200_with_a_body_and_a_customer_204() {
    let sb = sandbox_with_customer_7().await;
    send(&sb, "POST", "/invoices/drafts", None, Some(draft("r"))).await;
    let deleted = send(&sb, "DELETE", "/invoices/drafts/1", None, None).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(deleted.body["deletedCount"], 1, "{}", deleted.body);
    let customer = send(&sb, "DELETE", "/customers/7", None, None).await;
    assert_eq!(customer.status, 204);
}

#[tokio::test]
async fn a_customer_with_a_draft_cannot_be_deleted() {
    let sb = sandbox_with_customer_7().await;
    send(&sb, "POST", "/invoices/drafts", None, Some(draft("r"))).await;
    let refused = send(&sb, "DELETE", "/customers/7", None, None).await;
    assert_eq!(refused.status, 400);
    assert_eq!(sb.customer_count(0), 1);
}

#[tokio::test]
async fn numbers_are_reused_after_a_delete() {
    let sb = sandbox_with_customer_7().await;
    for r in ["a", "b", "c"] {
        send(&sb, "POST", "/invoices/drafts", None, Some(draft(r))).await;
    }
    send(&sb, "DELETE", "/invoices/drafts/2", None, None).await;
    let next = send(&sb, "POST", "/invoices/drafts", None, Some(draft("d"))).await;
    assert_eq!(next.body["draftInvoiceNumber"], 2);
    // Customers too: deleting the highest number frees it.
    send(&sb, "POST", "/customers", None, Some(customer(None))).await;
    send(&sb, "DELETE", "/customers/8", None, None).await;
    let again = send(&sb, "POST", "/customers", None, Some(customer(None))).await;
    assert_eq!(again.body["customerNumber"], 8);
}

#[tokio::test]
async fn delete_of_the_draft_collection_deletes_every_draft() {
    let sb = sandbox_with_customer_7().await;
    for r in ["a", "b"] {
        send(&sb, "POST", "/invoices/drafts", None, Some(draft(r))).await;
    }
    let all = send(&sb, "DELETE", "/invoices/drafts", None, None).await;
    assert_eq!(
        (all.status, all.body["deletedCount"].clone()),
        (200, json!(2))
    );
    assert!(sb.drafts(0).is_empty());
}

#[tokio::test]
async fn an_explicit_null_is_refused() {
    let sb = sandbox_with_customer_7().await;
    let mut body = draft("r");
    body["recipient"]["address"] = Value::Null;
    let refused = send(&sb, "POST", "/invoices/drafts", None, Some(body)).await;
    assert_eq!(refused.status, 400);
    let message = refused.body["errors"]["recipient"]["address"]["errors"][0]["message"].clone();
    assert!(
        message.as_str().is_some_and(|m| m.contains("null")),
        "{}",
        refused.body
    );
}

#[tokio::test]
async fn zero_is_refused_for_every_identifier() {
    let sb = sandbox_with_customer_7().await;
    for (pointer, path) in [
        ("/lines/0/lineNumber", "/invoices/drafts"),
        ("/lines/0/sortKey", "/invoices/drafts"),
        ("/layout/layoutNumber", "/invoices/drafts"),
        ("/customer/customerNumber", "/invoices/drafts"),
        ("/paymentTerms/paymentTermsNumber", "/invoices/drafts"),
        ("/recipient/vatZone/vatZoneNumber", "/invoices/drafts"),
        ("/customerGroup/customerGroupNumber", "/customers"),
        ("/customerNumber", "/customers"),
    ] {
        let mut body = if path == "/customers" {
            customer(Some(9))
        } else {
            draft("r")
        };
        *body.pointer_mut(pointer).expect(pointer) = json!(0);
        let refused = send(&sb, "POST", path, None, Some(body)).await;
        assert_eq!(refused.status, 400, "{pointer}: {}", refused.body);
    }
    assert!(sb.drafts(0).is_empty());
    assert_eq!(sb.customer_count(0), 1);
}

#[tokio::test]
async fn filter_values_are_read_as_the_live_api_reads_them() {
    let sb = sandbox_with_customer_7().await;
    send(
        &sb,
        "POST",
        "/invoices/drafts",
        None,
        Some(draft("shop:[1]$)(*,")),
    )
    .await;
    let find = |value: &'static str| {
        let sb = &sb;
        async move {
            let filter: String = format!("references.other$eq:{value}")
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect();
            send(
                sb,
                "GET",
                &format!("/invoices/drafts?filter={filter}"),
                None,
                None,
            )
            .await
        }
    };
    let hits = |a: &Answer| a.body["collection"].as_array().map_or(0, Vec::len);
    // `$` and `)` escaped, the rest literal, escaped or not.
    assert_eq!(hits(&find("shop:[1]$$$)(*,").await), 1);
    assert_eq!(hits(&find("shop:[1]$$$)$($*$,").await), 1);
    // `$[` and `$]` parse but match nothing.
    let escaped_brackets = find("shop:$[1$]$$$)(*,").await;
    assert_eq!((escaped_brackets.status, hits(&escaped_brackets)), (200, 0));
    // An unescaped `)` does not parse.
    assert_eq!(find("shop:[1]$$)(*,").await.status, 400);
}

/// LIVE: PUT is a true replace; a property the body omits is cleared. A
/// customer's PUT keeps nothing of the old document.
#[tokio::test]
async fn a_customer_put_replaces_the_whole_document() {
    let sb = sandbox_with_customer_7().await;
    let mut full = customer(Some(7));
    full["email"] = json!("ann@example.com");
    full["creditLimit"] = json!(5000);
    let put = send(&sb, "PUT", "/customers/7", None, Some(full)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let mut without_email = customer(Some(7));
    without_email["creditLimit"] = json!(5000);
    send(&sb, "PUT", "/customers/7", None, Some(without_email)).await;
    let read = send(&sb, "GET", "/customers/7", None, None).await;
    assert!(read.body.get("email").is_none(), "{}", read.body);
    assert_eq!(read.body["creditLimit"], 5000);
}

/// PUT /invoices/drafts/{n} replaces the draft (LIVE for PUT): what the
/// body omits is gone, the totals are computed again, the number stays.
#[tokio::test]
async fn a_draft_put_replaces_the_draft_and_computes_its_totals_again() {
    let sb = sandbox_with_customer_7().await;
    let mut first = draft("r");
    first["notes"] = json!({"heading": "Order r"});
    let created = send(&sb, "POST", "/invoices/drafts", None, Some(first)).await;
    assert_eq!(created.body["grossAmount"], json!(125.0));
    let mut replacement = draft("r");
    replacement["lines"][0]["unitNetPrice"] = json!(80);
    let put = send(&sb, "PUT", "/invoices/drafts/1", None, Some(replacement)).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["draftInvoiceNumber"], 1);
    assert_eq!(put.body["grossAmount"], json!(100.0));
    let read = send(&sb, "GET", "/invoices/drafts/1", None, None).await;
    assert!(read.body.get("notes").is_none(), "{}", read.body);
    assert_eq!(read.body["netAmount"], json!(80.0));
    assert_eq!(sb.with_agreement(0, |a| a.drafts_created), Some(1));
    // A number that holds no draft: 404; an invalid body: e-conomic's 400.
    let missing = send(&sb, "PUT", "/invoices/drafts/9", None, Some(draft("r"))).await;
    assert_eq!(missing.status, 404);
    let mut bad = draft("r");
    bad["lines"][0]["unitNetPrice"] = json!(0.125);
    let refused = send(&sb, "PUT", "/invoices/drafts/1", None, Some(bad)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
}
