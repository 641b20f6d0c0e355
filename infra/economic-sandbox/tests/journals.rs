//! Customer payments in daybook journals, as the bridge relies on them
//! (grades in `shared/contracts/economic/payments.md`): vouchers posted to
//! a journal answer 201 with an array (LIVE), their entries are listed per
//! journal, validation answers e-conomic's error shapes, an
//! `Idempotency-Key` replays, and booking the journal (a control endpoint)
//! moves the entries out and lowers the named invoice's remainder.

use economic_sandbox::{start, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

mod raw_http;
use raw_http::send;

/// A sandbox with customer 7 and its booked invoice of 125.00 (100 + 25 % VAT).
async fn with_booked_invoice() -> (SandboxHandle, u32) {
    let sb = start(SandboxConfig::default()).await.expect("sandbox");
    let customer = json!({
        "customerNumber": 7, "currency": "DKK", "name": "Ann",
        "customerGroup": {"customerGroupNumber": 1},
        "paymentTerms": {"paymentTermsNumber": 1}, "vatZone": {"vatZoneNumber": 1}
    });
    assert_eq!(
        send(&sb, "POST", "/customers", None, Some(customer))
            .await
            .status,
        201
    );
    let draft = json!({
        "currency": "DKK", "date": "2026-05-01", "customer": {"customerNumber": 7},
        "layout": {"layoutNumber": 19}, "paymentTerms": {"paymentTermsNumber": 1},
        "recipient": {"name": "Ann", "vatZone": {"vatZoneNumber": 1}},
        "references": {"other": "Order 1001"},
        "lines": [{"lineNumber": 1, "product": {"productNumber": "SKU-1"},
                   "quantity": 1, "unitNetPrice": 100}]
    });
    let created = send(&sb, "POST", "/invoices/drafts", None, Some(draft)).await;
    let draft_number = created.body["draftInvoiceNumber"].as_u64().expect("number");
    let booked = send(
        &sb,
        "POST",
        "/invoices/booked",
        None,
        Some(json!({"draftInvoice": {"draftInvoiceNumber": draft_number}})),
    )
    .await;
    assert_eq!(booked.status, 201);
    let number = booked.body["bookedInvoiceNumber"].as_u64().expect("booked") as u32;
    (sb, number)
}

fn payment(invoice: u32, amount: Value) -> Value {
    json!({
        "accountingYear": {"year": "2026"},
        "entries": {"customerPayments": [{
            "customer": {"customerNumber": 7}, "customerInvoice": invoice,
            "contraAccount": {"accountNumber": 5830}, "currency": {"code": "DKK"},
            "amount": amount, "date": "2026-05-01", "text": "Payment Order 1001"
        }]}
    })
}

async fn remainder(sb: &SandboxHandle, invoice: u32) -> Value {
    let got = send(
        sb,
        "GET",
        &format!("/invoices/booked/{invoice}"),
        None,
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    got.body["remainder"].clone()
}

#[tokio::test]
async fn a_voucher_answers_201_with_an_array_and_its_entry_is_listed() {
    let (sb, invoice) = with_booked_invoice().await;
    let posted = send(
        &sb,
        "POST",
        "/journals/2/vouchers",
        None,
        Some(payment(invoice, json!(-125))),
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    // LIVE: an array of vouchers, keyed {year}-{number}.
    let vouchers = posted.body.as_array().expect("an array");
    assert_eq!(vouchers.len(), 1);
    assert_eq!(vouchers[0]["voucherNumber"], 1);
    assert_eq!(
        posted.location.as_deref(),
        Some("https://restapi.e-conomic.com/journals/2/vouchers/2026-1")
    );
    let listed = send(&sb, "GET", "/journals/2/entries", None, None).await;
    let entries = listed.body["collection"].as_array().expect("collection");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["entryType"], "customerPayment");
    assert_eq!(entries[0]["customerInvoice"], invoice);
    assert_eq!(entries[0]["text"], "Payment Order 1001");
    assert_eq!(entries[0]["amount"], json!(-125.0));
    assert!(entries[0]["journalEntryNumber"].as_u64().is_some());
    // Another journal holds nothing; nothing is booked yet.
    let other = send(&sb, "GET", "/journals/1/entries", None, None).await;
    assert_eq!(other.body["collection"], json!([]));
    assert_eq!(remainder(&sb, invoice).await, json!(125.0));
}

#[tokio::test]
async fn entries_filter_on_customer_and_text() {
    let (sb, invoice) = with_booked_invoice().await;
    send(
        &sb,
        "POST",
        "/journals/2/vouchers",
        None,
        Some(payment(invoice, json!(-125))),
    )
    .await;
    let count = |path: &'static str| {
        let sb = &sb;
        async move {
            let got = send(sb, "GET", path, None, None).await;
            assert_eq!(got.status, 200, "{path}: {}", got.body);
            got.body["collection"].as_array().map(Vec::len).unwrap_or(0)
        }
    };
    assert_eq!(
        count("/journals/2/entries?filter=customer.customerNumber$eq:7").await,
        1
    );
    assert_eq!(
        count("/journals/2/entries?filter=customer.customerNumber$eq:8").await,
        0
    );
    assert_eq!(
        count("/journals/2/entries?filter=text$eq:Payment%20Order%201001").await,
        1
    );
    assert_eq!(
        count("/journals/2/entries?filter=text$eq:Payment%20Order%201002").await,
        0
    );
    let refused = send(
        &sb,
        "GET",
        "/journals/2/entries?filter=customerInvoice$eq:1",
        None,
        None,
    )
    .await;
    assert_eq!(refused.status, 400);
}

#[tokio::test]
async fn invalid_vouchers_get_e_conomics_errors_and_create_nothing() {
    let (sb, invoice) = with_booked_invoice().await;
    // Schema: accountingYear is required (SCHEMA), amount too.
    let mut no_year = payment(invoice, json!(-125));
    no_year.as_object_mut().unwrap().remove("accountingYear");
    let refused = send(&sb, "POST", "/journals/2/vouchers", None, Some(no_year)).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused.body["errors"].to_string().contains("E04300"),
        "{}",
        refused.body
    );

    // References: customer, contra account, currency, invoice each named.
    let mut unknown = payment(invoice + 1, json!(-125));
    let entry = &mut unknown["entries"]["customerPayments"][0];
    entry["customer"] = json!({"customerNumber": 99});
    entry["contraAccount"] = json!({"accountNumber": 9999});
    entry["currency"] = json!({"code": "XXX"});
    let refused = send(&sb, "POST", "/journals/2/vouchers", None, Some(unknown)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let errors = &refused.body["errors"]["entries"]["customerPayments"][0];
    assert_eq!(errors["arrayIndex"], 0, "{}", refused.body);
    for field in ["customer", "contraAccount", "currency", "customerInvoice"] {
        assert_eq!(
            errors[field]["errors"][0]["errorCode"], "E06000",
            "{field}: {}",
            refused.body
        );
    }

    // Three decimals; a date outside the accounting year; an unknown year.
    let mut scale = payment(invoice, json!(-125.001));
    scale["entries"]["customerPayments"][0]["date"] = json!("2025-12-31");
    let refused = send(&sb, "POST", "/journals/2/vouchers", None, Some(scale)).await;
    let errors = &refused.body["errors"]["entries"]["customerPayments"][0];
    assert_eq!(
        errors["amount"]["errors"][0]["errorCode"], "E04740",
        "{}",
        refused.body
    );
    assert!(errors["date"]["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("2026"));
    let mut year = payment(invoice, json!(-125));
    year["accountingYear"] = json!({"year": "1999"});
    let refused = send(&sb, "POST", "/journals/2/vouchers", None, Some(year)).await;
    assert_eq!(
        refused.body["errors"]["accountingYear"]["errors"][0]["errorCode"],
        "E06000"
    );

    // An unknown journal is a 404.
    let missing = send(
        &sb,
        "POST",
        "/journals/42/vouchers",
        None,
        Some(payment(invoice, json!(-125))),
    )
    .await;
    assert_eq!(missing.status, 404);
    assert!(sb.journal_entries(0, 2).is_empty());
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_voucher() {
    let (sb, invoice) = with_booked_invoice().await;
    let body = payment(invoice, json!(-125));
    let first = send(
        &sb,
        "POST",
        "/journals/2/vouchers",
        Some("pay-1001"),
        Some(body.clone()),
    )
    .await;
    let again = send(
        &sb,
        "POST",
        "/journals/2/vouchers",
        Some("pay-1001"),
        Some(body.clone()),
    )
    .await;
    assert_eq!(first.status, 201);
    assert_eq!(again.status, 201);
    assert!(!first.from_cache);
    assert!(again.from_cache);
    assert_eq!(first.body, again.body);
    assert_eq!(sb.journal_entries(0, 2).len(), 1);
    // Without the key a second voucher is made: the key is what protects.
    send(&sb, "POST", "/journals/2/vouchers", None, Some(body)).await;
    assert_eq!(sb.journal_entries(0, 2).len(), 2);
}

#[tokio::test]
async fn a_lost_voucher_answer_leaves_the_entry_in_the_journal() {
    let (sb, invoice) = with_booked_invoice().await;
    let mut faults = sb.faults();
    faults.fail_next_vouchers_after_commit = 1;
    sb.set_faults(faults);
    let lost = reqwest::Client::new()
        .post(format!("{}/journals/2/vouchers", sb.base_url()))
        .header(
            "X-AppSecretToken",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        )
        .header(
            "X-AgreementGrantToken",
            economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
        )
        .body(payment(invoice, json!(-125)).to_string())
        .send()
        .await;
    assert!(lost.is_err(), "the connection is dropped");
    assert_eq!(sb.journal_entries(0, 2).len(), 1);
}

#[tokio::test]
async fn booking_the_journal_moves_its_entries_and_lowers_the_remainder() {
    let (sb, invoice) = with_booked_invoice().await;
    send(
        &sb,
        "POST",
        "/journals/2/vouchers",
        None,
        Some(payment(invoice, json!(-100))),
    )
    .await;
    let booked = reqwest::Client::new()
        .post(format!("{}/_sandbox/journals/2/book", sb.base_url()))
        .send()
        .await
        .expect("control");
    assert_eq!(booked.status().as_u16(), 200);
    let body: Value = booked.json().await.expect("json");
    assert_eq!(body["bookedEntries"], 1);
    let listed = send(&sb, "GET", "/journals/2/entries", None, None).await;
    assert_eq!(listed.body["collection"], json!([]));
    assert_eq!(remainder(&sb, invoice).await, json!(25.0));
    // An amount of the other sign raises it again (the sandbox books the
    // sign as given; which sign e-conomic reads as a payment is unconfirmed).
    send(
        &sb,
        "POST",
        "/journals/2/vouchers",
        None,
        Some(payment(invoice, json!(50))),
    )
    .await;
    assert_eq!(sb.book_journal(0, 2), Some(1));
    assert_eq!(remainder(&sb, invoice).await, json!(75.0));
    assert_eq!(sb.book_journal(0, 42), None);
}

#[tokio::test]
async fn journals_and_accounts_are_listed() {
    let sb = start(SandboxConfig::default()).await.expect("sandbox");
    let journals = send(&sb, "GET", "/journals", None, None).await;
    let numbers: Vec<u64> = journals.body["collection"]
        .as_array()
        .expect("collection")
        .iter()
        .filter_map(|j| j["journalNumber"].as_u64())
        .collect();
    assert_eq!(numbers, [1, 2]);
    assert_eq!(
        send(&sb, "GET", "/journals/2", None, None).await.status,
        200
    );
    assert_eq!(
        send(&sb, "GET", "/journals/3", None, None).await.status,
        404
    );
    assert_eq!(
        send(&sb, "GET", "/accounts/5830", None, None).await.status,
        200
    );
    assert_eq!(
        send(&sb, "GET", "/accounts/5831", None, None).await.status,
        404
    );
}
