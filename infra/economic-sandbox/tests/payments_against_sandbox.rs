//! The bridge's payment registration (`EconomicInvoicing::register_payment`)
//! against the sandbox over real HTTP: the voucher it posts, a lost answer
//! found in the journal, a journal booked in between found in the
//! remainder, and answers that fit neither refused, never posted over.

use bridge::adapters::economic::{ClientConfig, EconomicClient, EconomicInvoicing, RetryPolicy};
use bridge::domain::mapping::payment::{voucher_post, PaymentPlan};
use bridge::domain::secret::Secret;
use bridge::domain::shop::EconomicCredentials;
use bridge::ports::{Invoicing, PaymentOptions, PaymentOutcome};
use economic_sandbox::schema::{Schema, VOUCHER_SCHEMA};
use economic_sandbox::{start, Faults, SandboxConfig, SandboxHandle};
use rust_decimal_macros::dec;
use serde_json::json;
use std::time::{Duration, Instant};

fn invoicing(sb: &SandboxHandle) -> EconomicInvoicing {
    EconomicInvoicing::new(
        EconomicClient::new(ClientConfig {
            base_url: sb.base_url(),
            connect_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(2),
            retry: RetryPolicy {
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(200),
                max_attempts: 3,
            },
            ..ClientConfig::default()
        })
        .expect("client"),
    )
}

fn credentials() -> EconomicCredentials {
    EconomicCredentials {
        app_secret_token: Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
        agreement_grant_token: Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
    }
}

fn options(may_exist: bool, may_post: bool) -> PaymentOptions {
    PaymentOptions {
        may_exist,
        may_post,
        deadline: Instant::now() + Duration::from_secs(20),
    }
}

/// A sandbox holding customer 7 and its booked invoice of 125.00; the
/// payment plan of that invoice.
async fn booked_invoice() -> (SandboxHandle, PaymentPlan) {
    let sb = start(SandboxConfig::default()).await.expect("sandbox");
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        client
            .post(format!("{}{path}", sb.base_url()))
            .header(
                "X-AppSecretToken",
                economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
            )
            .header(
                "X-AgreementGrantToken",
                economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
            )
            .body(body.to_string())
            .send()
    };
    post(
        "/customers",
        json!({"customerNumber": 7, "currency": "DKK", "name": "Ann",
               "customerGroup": {"customerGroupNumber": 1},
               "paymentTerms": {"paymentTermsNumber": 1}, "vatZone": {"vatZoneNumber": 1}}),
    )
    .await
    .expect("customer");
    let draft: serde_json::Value = post(
        "/invoices/drafts",
        json!({"currency": "DKK", "date": "2026-05-01", "customer": {"customerNumber": 7},
               "layout": {"layoutNumber": 19}, "paymentTerms": {"paymentTermsNumber": 1},
               "recipient": {"name": "Ann", "vatZone": {"vatZoneNumber": 1}},
               "references": {"other": "Order 1001"},
               "lines": [{"lineNumber": 1, "product": {"productNumber": "SKU-1"},
                          "quantity": 1, "unitNetPrice": 100}]}),
    )
    .await
    .expect("draft")
    .json()
    .await
    .expect("json");
    let booked: serde_json::Value = post(
        "/invoices/booked",
        json!({"draftInvoice": {"draftInvoiceNumber": draft["draftInvoiceNumber"]}}),
    )
    .await
    .expect("booked")
    .json()
    .await
    .expect("json");
    let plan = PaymentPlan {
        journal: 2,
        reference: "Order 1001".into(),
        text: "Payment Order 1001".into(),
        customer_number: 7,
        invoice_number: booked["bookedInvoiceNumber"].as_u64().expect("number") as u32,
        amount: dec!(125.00),
        currency: "DKK".into(),
        date: "2026-05-01".into(),
        contra_account: 5830,
    };
    (sb, plan)
}

fn remainder_of(sb: &SandboxHandle, invoice: u32) -> rust_decimal::Decimal {
    sb.booked(0)
        .into_iter()
        .find(|b| b.booked_invoice_number == invoice)
        .expect("the invoice")
        .remainder
}

#[tokio::test]
async fn the_first_attempt_posts_one_voucher_the_contract_accepts() {
    let (sb, plan) = booked_invoice().await;
    let body = serde_json::to_value(voucher_post(&plan)).expect("json");
    let schema = Schema::parse(VOUCHER_SCHEMA).expect("schema");
    assert_eq!(schema.validate(&body), vec![]);

    let done = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(false, true))
        .await
        .expect("registered");
    assert_eq!(
        done,
        PaymentOutcome::Posted {
            voucher: Some("2026-1".into())
        }
    );
    let entries = sb.journal_entries(0, 2);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].amount, dec!(-125));
    assert_eq!(entries[0].customer_invoice, Some(plan.invoice_number));
    let posts: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/journals/2/vouchers")
        .collect();
    assert_eq!(posts.len(), 1);
    assert!(posts[0].idempotency_key.is_some(), "the post carries a key");
    // Booked by the accountant: the invoice is paid.
    assert_eq!(sb.book_journal(0, 2), Some(1));
    assert_eq!(remainder_of(&sb, plan.invoice_number), dec!(0));
}

#[tokio::test]
async fn a_lost_answer_is_found_in_the_journal_not_posted_again() {
    let (sb, plan) = booked_invoice().await;
    sb.set_faults(Faults {
        fail_next_vouchers_after_commit: 1,
        ..Faults::default()
    });
    let lost = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(false, true))
        .await
        .expect_err("the answer is lost");
    assert!(lost.transient, "{lost:?}");
    assert_eq!(sb.journal_entries(0, 2).len(), 1);

    let found = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(true, true))
        .await
        .expect("found");
    assert!(matches!(
        found,
        PaymentOutcome::FoundInJournal {
            journal_entry_number: Some(_)
        }
    ));
    assert_eq!(sb.journal_entries(0, 2).len(), 1, "no second entry");
}

#[tokio::test]
async fn a_journal_booked_in_between_is_found_in_the_remainder() {
    let (sb, plan) = booked_invoice().await;
    invoicing(&sb)
        .register_payment(&credentials(), &plan, options(false, true))
        .await
        .expect("posted");
    sb.book_journal(0, 2);
    let found = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(true, true))
        .await
        .expect("found");
    assert_eq!(found, PaymentOutcome::FoundBooked { remainder: dec!(0) });
    assert!(sb.journal_entries(0, 2).is_empty(), "nothing posted again");
    assert_eq!(remainder_of(&sb, plan.invoice_number), dec!(0));
}

#[tokio::test]
async fn a_post_sent_again_under_its_key_is_replayed_not_entered_twice() {
    let (sb, plan) = booked_invoice().await;
    let invoicing = invoicing(&sb);
    // As if the look-ups had missed the entry: the same post, same key.
    let first = invoicing
        .register_payment(&credentials(), &plan, options(false, true))
        .await
        .expect("posted");
    let again = invoicing
        .register_payment(&credentials(), &plan, options(false, true))
        .await
        .expect("replayed");
    assert_eq!(first, again);
    assert_eq!(sb.journal_entries(0, 2).len(), 1);
    // Another order's payment of the same amount is another key.
    let other = PaymentPlan {
        reference: "Order 1002".into(),
        text: "Payment Order 1002".into(),
        ..plan
    };
    invoicing
        .register_payment(&credentials(), &other, options(false, true))
        .await
        .expect("posted");
    assert_eq!(sb.journal_entries(0, 2).len(), 2);
}

#[tokio::test]
async fn nothing_found_posts_only_while_the_key_is_trusted() {
    let (sb, plan) = booked_invoice().await;
    let refused = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(true, false))
        .await
        .expect_err("not posted over an unknown earlier attempt");
    assert!(!refused.transient);
    assert!(refused.reason.contains("by hand"), "{}", refused.reason);
    assert!(sb.journal_entries(0, 2).is_empty());

    let posted = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(true, true))
        .await
        .expect("posted");
    assert!(matches!(posted, PaymentOutcome::Posted { .. }));
    assert_eq!(sb.journal_entries(0, 2).len(), 1);
}

#[tokio::test]
async fn answers_that_fit_no_case_are_refused_never_posted_over() {
    let (sb, plan) = booked_invoice().await;
    // Someone entered a partial payment of the invoice by hand.
    let other = PaymentPlan {
        text: "Bank transfer".into(),
        amount: dec!(50),
        ..plan.clone()
    };
    invoicing(&sb)
        .register_payment(&credentials(), &other, options(false, true))
        .await
        .expect("posted");
    let refused = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(true, true))
        .await
        .expect_err("ambiguous");
    assert!(!refused.transient);
    assert_eq!(sb.journal_entries(0, 2).len(), 1);

    // A booked entry of the opposite sign raised the remainder above the
    // invoice's amount.
    sb.with_agreement(0, |a| {
        a.journals.values_mut().for_each(|j| j.entries.clear())
    });
    sb.with_agreement(0, |a| {
        let invoice = a.booked.get_mut(&plan.invoice_number).expect("invoice");
        invoice.remainder = dec!(250);
        invoice.document["remainder"] = json!(250);
    });
    let refused = invoicing(&sb)
        .register_payment(&credentials(), &plan, options(true, true))
        .await
        .expect_err("ambiguous");
    assert!(refused.reason.contains("250"), "{}", refused.reason);
    assert!(sb.journal_entries(0, 2).is_empty());
}

#[tokio::test]
async fn an_unknown_journal_or_account_is_a_permanent_error_naming_it() {
    let (sb, plan) = booked_invoice().await;
    let missing = PaymentPlan {
        journal: 42,
        ..plan.clone()
    };
    let refused = invoicing(&sb)
        .register_payment(&credentials(), &missing, options(false, true))
        .await
        .expect_err("404");
    assert!(!refused.transient);
    assert!(
        refused.reason.contains("customer payment"),
        "{}",
        refused.reason
    );
    let account = PaymentPlan {
        contra_account: 9999,
        ..plan
    };
    let refused = invoicing(&sb)
        .register_payment(&credentials(), &account, options(false, true))
        .await
        .expect_err("400");
    assert!(!refused.transient);
    assert!(
        refused.reason.contains("contraAccount"),
        "{}",
        refused.reason
    );
    assert!(sb.journal_entries(0, 2).is_empty());
}
