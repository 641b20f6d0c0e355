//! The bridge's e-conomic client against the sandbox over real HTTP:
//! contract, error classes, retries, deadlines, no duplicates, call counts.

use bridge::adapters::economic::{
    push_invoice, AgreementApi, ClientConfig, EconomicClient, EconomicError, RetryPolicy,
};
use bridge::domain::economic_model::*;
use bridge::domain::mapping::{DebtorPlan, InvoicePlan};
use bridge::domain::secret::Secret;
use bridge::domain::vat::{VatDecision, VatTreatment};
use bridge::ports::PushOptions;
use economic_sandbox::schema::{Schema, CUSTOMER_SCHEMA, DRAFT_SCHEMA};
use economic_sandbox::{start, FailMode, Faults, SandboxConfig, SandboxHandle};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::time::{Duration, Instant};

async fn sandbox() -> SandboxHandle {
    start(SandboxConfig::default())
        .await
        .expect("sandbox starts")
}

fn client(sb: &SandboxHandle, request_timeout: Duration) -> EconomicClient {
    EconomicClient::new(ClientConfig {
        base_url: sb.base_url(),
        connect_timeout: Duration::from_secs(1),
        request_timeout,
        retry: RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_attempts: 5,
        },
        ..ClientConfig::default()
    })
    .expect("client")
}

fn api(c: &EconomicClient) -> AgreementApi {
    c.for_agreement(
        Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
        Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
    )
}

fn deadline(secs: u64) -> Instant {
    Instant::now() + Duration::from_secs(secs)
}

fn new_customer(email: Option<&str>) -> NewCustomer {
    NewCustomer {
        customer_number: None,
        currency: "DKK".into(),
        customer_group: CustomerGroupRef {
            customer_group_number: 1,
        },
        name: "Ann Buyer".into(),
        payment_terms: PaymentTermsRef {
            payment_terms_number: 1,
        },
        vat_zone: VatZoneRef { vat_zone_number: 1 },
        address: Some("Vej 1".into()),
        zip: Some("8000".into()),
        city: Some("Aarhus".into()),
        country: Some("Denmark".into()),
        email: email.map(str::to_string),
        telephone_and_fax_number: None,
        corporate_identification_number: None,
        ean: None,
        layout: None,
    }
}

fn draft(customer_number: u32, layout: u32) -> DraftInvoice {
    DraftInvoice {
        currency: "DKK".into(),
        customer: CustomerRef { customer_number },
        date: "2024-05-01".into(),
        due_date: None,
        layout: LayoutRef {
            layout_number: layout,
        },
        payment_terms: PaymentTermsRef {
            payment_terms_number: 1,
        },
        recipient: Recipient {
            name: "Ann Buyer".into(),
            address: Some("Vej 1".into()),
            zip: Some("8000".into()),
            city: Some("Aarhus".into()),
            country: Some("Denmark".into()),
            vat_zone: VatZoneRef { vat_zone_number: 1 },
            ..Recipient::default()
        },
        delivery: None,
        notes: None,
        references: None,
        lines: vec![
            DraftLine {
                line_number: 1,
                sort_key: 1,
                description: "T-shirt".into(),
                product: ProductRef {
                    product_number: "SKU-1".into(),
                },
                quantity: dec!(2),
                unit_net_price: dec!(100),
                discount_percentage: None,
                unit: Some(UnitRef { unit_number: 1 }),
            },
            DraftLine {
                line_number: 2,
                sort_key: 2,
                description: "Gift card".into(),
                product: ProductRef {
                    product_number: "GIFTCARD".into(),
                },
                quantity: dec!(1),
                unit_net_price: dec!(50),
                discount_percentage: None,
                unit: None,
            },
        ],
    }
}

/// 2 × 100 at 25 % + 50 exempt = 250 + 50.
const GROSS: Decimal = dec!(300);

fn plan(reference: &str, debtor: DebtorPlan, book: bool) -> InvoicePlan {
    let number = match &debtor {
        DebtorPlan::Existing { customer_number }
        | DebtorPlan::FindOrCreate {
            customer_number, ..
        } => *customer_number,
        DebtorPlan::Running { .. } => 1,
    };
    InvoicePlan {
        reference: reference.into(),
        debtor,
        draft: draft(number, 19),
        book,
        document: Default::default(),
        vat_decision: VatDecision {
            treatment: VatTreatment::Domestic,
            vat_zone: 1,
            rate: dec!(25),
            country: "DK".into(),
            explanation: "Danish customer: Danish VAT.".into(),
        },
        expected_net_total: dec!(250),
        expected_vat_total: dec!(50),
        expected_gross_total: GROSS,
        // The second line's product is VAT exempt in the sandbox.
        line_vat_rates: vec![dec!(25), dec!(0)],
        sku_products: Vec::new(),
        missing_products: Default::default(),
        product_group: None,
        vat_free_rounding: None,
        correction_tolerance: dec!(0.50),
        debtor_update: Default::default(),
        warnings: Vec::new(),
        send_by_ean: false,
        line_origins: Vec::new(),
    }
}

fn find_or_create(n: u32) -> DebtorPlan {
    DebtorPlan::FindOrCreate {
        customer_number: n,
        new_customer: new_customer(None),
    }
}

fn opts(may_exist: bool) -> PushOptions {
    PushOptions {
        may_exist,
        deadline: deadline(20),
    }
}

#[tokio::test]
async fn calls_per_order_new_and_returning_debtors() {
    let sb = sandbox().await;
    let c = client(&sb, Duration::from_secs(5));
    let a = api(&c);

    // FindOrCreate, new debtor: optimistic draft (400 customer missing),
    // create debtor, draft again.
    let o = push_invoice(
        &a,
        &plan("shop:1", find_or_create(5001), false),
        opts(false),
    )
    .await
    .expect("push");
    assert_eq!(
        (o.calls, o.customer_number, o.gross_amount),
        (3, 5001, GROSS)
    );
    assert!(o.draft_invoice_number.is_some() && !o.reused_existing);

    // Returning debtor, warm process: one call.
    let o = push_invoice(
        &a,
        &plan("shop:2", find_or_create(5001), false),
        opts(false),
    )
    .await
    .expect("push");
    assert_eq!(o.calls, 1);

    // Returning debtor, cold process (new client, empty cache): still one.
    let cold = client(&sb, Duration::from_secs(5));
    let o = push_invoice(
        &api(&cold),
        &plan("shop:3", find_or_create(5001), false),
        opts(false),
    )
    .await
    .expect("push");
    assert_eq!(o.calls, 1);

    // With auto-booking: one more call.
    let o = push_invoice(&a, &plan("shop:4", find_or_create(5001), true), opts(false))
        .await
        .expect("push");
    assert_eq!(o.calls, 2);
    assert!(o.booked_invoice_number.is_some() && o.draft_invoice_number.is_none());
    let o = push_invoice(&a, &plan("shop:5", find_or_create(5002), true), opts(false))
        .await
        .expect("push");
    assert_eq!(o.calls, 4);

    // Running numbers with email: lookup + create + draft, then lookup +
    // draft (cold), then draft only (warm).
    let running = || DebtorPlan::Running {
        lookup_email: Some("ann@example.com".into()),
        new_customer: new_customer(Some("ann@example.com")),
    };
    let o = push_invoice(&a, &plan("shop:6", running(), false), opts(false))
        .await
        .expect("push");
    assert_eq!(o.calls, 3);
    let running_number = o.customer_number;
    let o = push_invoice(
        &api(&client(&sb, Duration::from_secs(5))),
        &plan("shop:7", running(), false),
        opts(false),
    )
    .await
    .expect("push");
    assert_eq!((o.calls, o.customer_number), (2, running_number));
    let o = push_invoice(&a, &plan("shop:8", running(), false), opts(false))
        .await
        .expect("push");
    assert_eq!((o.calls, o.customer_number), (1, running_number));
    assert_eq!(sb.customer_count(0), 3);
    assert_eq!(sb.drafts(0).len(), 6);
    assert_eq!(sb.booked(0).len(), 2);
}

#[tokio::test]
async fn lost_create_response_produces_no_second_draft() {
    for mode in [FailMode::Drop, FailMode::GatewayTimeout, FailMode::Hold] {
        let sb = sandbox().await;
        let c = client(&sb, Duration::from_millis(400));
        let a = api(&c);
        a.create_customer(
            &NewCustomer {
                customer_number: Some(7),
                ..new_customer(None)
            },
            deadline(5),
        )
        .await
        .expect("customer");
        sb.set_faults(Faults {
            fail_next_creates_after_commit: 1,
            fail_after_commit_mode: mode,
            hold_ms: 1500,
            ..Faults::default()
        });
        let o = push_invoice(
            &a,
            &plan(
                "shop:lost",
                DebtorPlan::Existing { customer_number: 7 },
                false,
            ),
            opts(false),
        )
        .await
        .expect("push succeeds after the lost response");
        assert_eq!(sb.drafts_with_reference(0, "shop:lost"), 1, "{mode:?}");
        assert_eq!(sb.drafts(0).len(), 1, "{mode:?}");
        assert_eq!(
            o.draft_invoice_number,
            Some(sb.drafts(0)[0].draft_invoice_number)
        );
        // POST (lost) + GET by reference.
        assert_eq!(o.calls, 2, "{mode:?}");

        // A redelivered message (may_exist) reuses it too.
        let again = push_invoice(
            &a,
            &plan(
                "shop:lost",
                DebtorPlan::Existing { customer_number: 7 },
                false,
            ),
            opts(true),
        )
        .await
        .expect("redelivery");
        assert!(again.reused_existing);
        assert_eq!(again.draft_invoice_number, o.draft_invoice_number);
        assert_eq!(sb.drafts(0).len(), 1);
    }
}

#[tokio::test]
async fn lost_booking_response_and_half_done_push_are_completed() {
    let sb = sandbox().await;
    let c = client(&sb, Duration::from_secs(2));
    let a = api(&c);
    sb.set_faults(Faults {
        fail_next_bookings_after_commit: 1,
        fail_after_commit_mode: FailMode::Drop,
        ..Faults::default()
    });
    let o = push_invoice(&a, &plan("shop:b1", find_or_create(9), true), opts(false))
        .await
        .expect("push");
    assert!(o.booked_invoice_number.is_some());
    assert_eq!((sb.booked(0).len(), sb.drafts(0).len()), (1, 0));

    // Draft made, booking not yet done: the next attempt books that draft.
    push_invoice(&a, &plan("shop:b2", find_or_create(9), false), opts(false))
        .await
        .expect("draft");
    let o = push_invoice(&a, &plan("shop:b2", find_or_create(9), true), opts(true))
        .await
        .expect("complete");
    assert!(o.reused_existing && o.booked_invoice_number.is_some());
    assert_eq!((sb.booked(0).len(), sb.drafts(0).len()), (2, 0));

    // And a redelivery after booking finds the booked invoice.
    let o = push_invoice(&a, &plan("shop:b2", find_or_create(9), true), opts(true))
        .await
        .expect("again");
    assert!(o.reused_existing);
    assert_eq!(sb.booked(0).len(), 2);
}

#[tokio::test]
async fn amount_mismatch_deletes_the_draft_and_fails_permanently() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(2)));
    let mut p = plan("shop:vat", find_or_create(11), false);
    p.expected_gross_total = dec!(312.50); // as if the gift card carried 25 %
    let err = push_invoice(&a, &p, opts(false))
        .await
        .expect_err("mismatch");
    match &err {
        EconomicError::AmountMismatch {
            actual, deleted, ..
        } => {
            assert_eq!(*actual, GROSS);
            assert!(*deleted);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!err.is_transient());
    assert!(err.reason().contains("VAT"), "{}", err.reason());
    assert_eq!(sb.drafts(0).len(), 0);
}

#[tokio::test]
async fn error_classes() {
    let sb = sandbox().await;
    let c = client(&sb, Duration::from_millis(500));
    let a = api(&c);

    // 401: wrong tokens.
    let bad = c.for_agreement(Secret::new("nope-app"), Secret::new("nope-grant"));
    let err = bad.get_customer(1, deadline(5)).await.expect_err("401");
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_transient());
    let reason = err.reason();
    assert!(
        reason.contains("reconnect") && !reason.contains("nope-grant"),
        "{reason}"
    );
    assert!(!format!("{err:?}").contains("nope-grant"));

    // 400 with per-field errors.
    let err = a
        .create_draft(&draft(1, 99), deadline(5))
        .await
        .expect_err("400");
    let api_err = err.api().expect("api error");
    assert_eq!(api_err.status, 400);
    assert!(api_err.has_field_error("layout") && api_err.has_field_error("customer"));
    assert!(api_err.log_id.is_some());
    let reason = err.reason();
    assert!(
        reason.contains("layout") && reason.contains("99") && reason.contains("log id"),
        "{reason}"
    );

    // 404 reads as "absent".
    assert_eq!(a.get_customer(424242, deadline(5)).await.expect("ok"), None);
    assert_eq!(a.get_draft(424242, deadline(5)).await.expect("ok"), None);
    assert!(!a
        .delete_draft(424242, "shop:none", deadline(5))
        .await
        .expect("ok"));
    assert!(a
        .get_product("NO-SUCH", deadline(5))
        .await
        .expect("ok")
        .is_none());

    // 429 with Retry-After: the wait honours it.
    sb.set_faults(Faults {
        fail_request_number: Some(1),
        fail_request_mode: FailMode::TooManyRequests,
        retry_after_seconds: 1,
        ..Faults::default()
    });
    let before = a.calls();
    let started = Instant::now();
    a.get_customer(1, deadline(5))
        .await
        .expect("retried after 429");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a.calls() - before, 2);

    // 5xx, connection drop and timeout on reads are retried.
    for mode in [FailMode::ServerError, FailMode::Drop, FailMode::Hold] {
        sb.set_faults(Faults {
            fail_request_number: Some(1),
            fail_request_mode: mode,
            hold_ms: 1500,
            ..Faults::default()
        });
        let before = a.calls();
        let zones = a.list_all::<VatZone>("/vat-zones", deadline(5)).await;
        assert!(zones.is_ok(), "{mode:?}: {zones:?}");
        assert_eq!(a.calls() - before, 2, "{mode:?}");
    }

    // Timeout class when e-conomic never answers in time.
    sb.set_faults(Faults {
        rate_timeout: 1.0,
        hold_ms: 1500,
        ..Faults::default()
    });
    let err = a
        .get_customer(1, Instant::now() + Duration::from_millis(700))
        .await
        .expect_err("timeout");
    assert!(matches!(err, EconomicError::Timeout { .. }), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn retries_stop_at_the_deadline() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(2)));
    sb.set_faults(Faults {
        rate_500: 1.0,
        ..Faults::default()
    });
    let started = Instant::now();
    let err = a
        .get_customer(1, Instant::now() + Duration::from_millis(300))
        .await
        .expect_err("500s");
    assert_eq!(err.status(), Some(500));
    assert!(err.is_transient());
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );

    // A Retry-After beyond the deadline is not waited for.
    sb.set_faults(Faults {
        rate_429: 1.0,
        retry_after_seconds: 30,
        ..Faults::default()
    });
    let started = Instant::now();
    let before = a.calls();
    let err = a.get_customer(1, deadline(5)).await.expect_err("429");
    assert_eq!(err.status(), Some(429));
    assert_eq!(a.calls() - before, 1);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn filters_escape_and_paging_follows_next_page() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(5)));
    let reference = "shop:1$(x),[y]*";
    push_invoice(&a, &plan(reference, find_or_create(3), false), opts(false))
        .await
        .expect("push");
    push_invoice(
        &a,
        &plan("shop:other", find_or_create(3), false),
        opts(false),
    )
    .await
    .expect("push");
    let found = a
        .find_drafts_by_reference(reference, deadline(5))
        .await
        .expect("find");
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0]
            .references
            .as_ref()
            .and_then(|r| r.other.as_deref()),
        Some(reference)
    );
    assert!(sb.requests().iter().any(|r| r
        .query
        .as_deref()
        .is_some_and(|q| q.contains("%24%24%28x%24%29%2C%5By%5D*"))));

    sb.with_agreement(0, |data| {
        for i in 0..1500 {
            let n = format!("P{i:05}");
            data.products.insert(
                n.clone(),
                economic_sandbox::data::ProductRecord {
                    product_number: n,
                    name: "p".into(),
                    vat_exempt: false,
                },
            );
        }
    });
    let all: Vec<Product> = a.list_all("/products", deadline(5)).await.expect("pages");
    let seeded = economic_sandbox::data::AgreementData::seeded()
        .products
        .len();
    assert_eq!(all.len(), 1500 + seeded);
    let zones = a.vat_zones(deadline(5)).await.expect("zones");
    assert!(zones
        .iter()
        .any(|z| z.vat_zone_number == 4 && z.name == "Domestic exempt"));
    let before = a.calls();
    a.vat_zones(deadline(5)).await.expect("cached");
    assert_eq!(a.calls(), before, "reference data is cached");
    assert!(!a.layouts(deadline(5)).await.expect("layouts").is_empty());
    assert!(!a
        .payment_terms(deadline(5))
        .await
        .expect("terms")
        .is_empty());
    assert!(!a
        .customer_groups(deadline(5))
        .await
        .expect("groups")
        .is_empty());
    assert!(!a.units(deadline(5)).await.expect("units").is_empty());
    assert!(a
        .get_product("SKU-1", deadline(5))
        .await
        .expect("product")
        .is_some());
}

/// Product numbers holding the characters e-conomic codes as `_N_` (and
/// `_` next to digits, where codes overlap) are found by the client.
#[tokio::test]
async fn products_with_coded_characters_in_their_numbers_are_found() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(5)));
    let numbers = ["a_1_b", "_10_", "X/Y.Z 50%+#?", "æble_8_"];
    sb.with_agreement(0, |data| {
        for n in numbers {
            data.products.insert(
                n.to_owned(),
                economic_sandbox::data::ProductRecord {
                    product_number: n.to_owned(),
                    name: "coded".into(),
                    vat_exempt: false,
                },
            );
        }
    });
    for n in numbers {
        let found = a.get_product(n, deadline(5)).await.expect("lookup");
        assert_eq!(
            found.map(|p| p.product_number).as_deref(),
            Some(n),
            "product {n:?}"
        );
    }
}

/// A body the contract schema refuses gets e-conomic's 400: annotated
/// errors that mirror the request's shape and name each property.
#[tokio::test]
async fn schema_violations_are_answered_with_annotated_errors() {
    let sb = sandbox().await;
    let mut body = serde_json::to_value(draft(1, 19)).expect("json");
    body["recipient"]["name"] = serde_json::json!("x".repeat(251));
    body["lines"][1]["quantity"] = serde_json::json!("2");
    body["notes"] = serde_json::json!({"heading": null});
    body.as_object_mut().expect("object").remove("layout");
    let response = reqwest::Client::new()
        .post(format!("{}/invoices/drafts", sb.base_url()))
        .header(
            "X-AppSecretToken",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        )
        .header(
            "X-AgreementGrantToken",
            economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
        )
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("sandbox answers");
    assert_eq!(response.status().as_u16(), 400);
    let answer: serde_json::Value =
        serde_json::from_str(&response.text().await.expect("body")).expect("JSON");
    let errors = &answer["errors"];
    let first = |at: &serde_json::Value| {
        (
            at["errors"][0]["errorCode"].clone(),
            at["errors"][0]["message"].clone(),
        )
    };
    assert_eq!(
        first(&errors["recipient"]["name"]),
        (
            "E04300".into(),
            "name is too long; the maximum length is 250.".into()
        ),
        "{answer:#}"
    );
    assert_eq!(errors["lines"][0]["arrayIndex"], 1, "{answer:#}");
    assert_eq!(
        first(&errors["lines"][0]["quantity"]).1,
        "quantity must be of type number.",
        "{answer:#}"
    );
    assert_eq!(
        first(&errors["notes"]["heading"]).1,
        "heading cannot be null; omit the property instead.",
        "{answer:#}"
    );
    assert_eq!(
        first(&errors["layout"]).1,
        "Property layout is required.",
        "{answer:#}"
    );
    assert!(sb.drafts(0).is_empty());
}

#[test]
fn serialised_bodies_satisfy_the_contract_schemas() {
    let drafts = Schema::parse(DRAFT_SCHEMA).expect("schema");
    let customers = Schema::parse(CUSTOMER_SCHEMA).expect("schema");
    let mut d = draft(1, 19);
    d.references = Some(References {
        other: Some("shop:1".into()),
    });
    d.lines[0].discount_percentage = Some(dec!(12.5));
    let value = serde_json::to_value(&d).expect("json");
    assert_eq!(drafts.validate(&value), vec![]);
    let value = serde_json::to_value(new_customer(Some("a@b.dk"))).expect("json");
    assert_eq!(customers.validate(&value), vec![]);

    // Negative: an invalid body is rejected, naming the property.
    let mut bad = serde_json::to_value(&d).expect("json");
    bad["recipient"]["name"] = serde_json::json!("x".repeat(251));
    bad.as_object_mut().expect("object").remove("layout");
    let paths: Vec<String> = drafts
        .validate(&bad)
        .iter()
        .map(|v| v.path_text())
        .collect();
    assert!(
        paths.contains(&"recipient.name".to_string()) && paths.contains(&"layout".to_string()),
        "{paths:?}"
    );
}

/// Defect 1 of issue 13: after a lost create answer the push looks the
/// reference up; a filter value e-conomic reads as "matches nothing" (LIVE:
/// `$[`, `$]`) would make it create a second draft. One draft each.
#[tokio::test]
async fn lost_create_with_filter_characters_in_the_reference_makes_one_draft() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_millis(400)));
    a.create_customer(
        &NewCustomer {
            customer_number: Some(7),
            ..new_customer(None)
        },
        deadline(5),
    )
    .await
    .expect("customer");
    let references = [
        "shop:[1]",
        "shop:]2[",
        "shop:$3",
        "shop:4)",
        "shop:(5",
        "shop:*6",
        "shop:7,8",
        "shop:[$)(*,]",
    ];
    for reference in references {
        sb.set_faults(Faults {
            fail_next_creates_after_commit: 1,
            fail_after_commit_mode: FailMode::Drop,
            ..Faults::default()
        });
        let pushed = push_invoice(
            &a,
            &plan(
                reference,
                DebtorPlan::Existing { customer_number: 7 },
                false,
            ),
            opts(false),
        )
        .await
        .unwrap_or_else(|e| panic!("{reference}: {e}"));
        assert_eq!(sb.drafts_with_reference(0, reference), 1, "{reference}");
        let posts = sb
            .requests()
            .iter()
            .filter(|r| {
                r.method == "POST"
                    && r.path == "/invoices/drafts"
                    && r.body.as_ref().and_then(|b| b.pointer("/references/other"))
                        == Some(&serde_json::json!(reference))
            })
            .count();
        assert_eq!(posts, 1, "{reference}: the look-up found the draft");
        let found = a
            .find_drafts_by_reference(reference, deadline(5))
            .await
            .expect("find");
        assert_eq!(
            found
                .iter()
                .map(|d| d.draft_invoice_number)
                .collect::<Vec<_>>(),
            vec![pushed.draft_invoice_number.expect("draft")],
            "{reference}"
        );
    }
    assert_eq!(sb.drafts(0).len(), references.len());
}

fn draft_with_reference(reference: &str) -> DraftInvoice {
    DraftInvoice {
        references: Some(References {
            other: Some(reference.into()),
        }),
        ..draft(7, 19)
    }
}

async fn with_customer_7(a: &AgreementApi) {
    a.create_customer(
        &NewCustomer {
            customer_number: Some(7),
            ..new_customer(None)
        },
        deadline(5),
    )
    .await
    .expect("customer");
}

/// Defect 2 of issue 13: a create whose answer was lost, sent again under
/// the same `Idempotency-Key`, makes one draft; the second answer is
/// e-conomic's replay (`X-ResultFromCache: true`) and is used.
#[tokio::test]
async fn lost_create_resent_under_the_same_idempotency_key_makes_one_draft() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_millis(400)));
    with_customer_7(&a).await;
    sb.set_faults(Faults {
        fail_next_creates_after_commit: 1,
        fail_after_commit_mode: FailMode::Drop,
        ..Faults::default()
    });
    let d = draft_with_reference("shop:idem");
    let lost = a.create_draft(&d, deadline(5)).await.expect_err("lost");
    assert!(lost.outcome_unknown(), "{lost:?}");
    // A redelivery runs in another execution environment: a new client.
    let elsewhere = api(&client(&sb, Duration::from_millis(400)));
    let again = elsewhere
        .create_draft(&d, deadline(5))
        .await
        .expect("replayed");
    assert_eq!(sb.drafts(0).len(), 1, "one draft");
    assert_eq!(
        again.draft_invoice_number,
        sb.drafts(0)[0].draft_invoice_number
    );
    let posts: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/invoices/drafts")
        .collect();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].outcome, "replayed", "{posts:?}");
    assert!(posts[0].idempotency_key.is_some());
    assert_eq!(posts[0].idempotency_key, posts[1].idempotency_key);
    assert_eq!(elsewhere.cached_replays(), 1);
}

/// Every write carries a key; a different body gets a different key, and
/// no key holds a token.
#[tokio::test]
async fn every_write_carries_an_idempotency_key_that_differs_by_body() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(5)));
    with_customer_7(&a).await;
    let first = a
        .create_draft(&draft_with_reference("shop:k1"), deadline(5))
        .await
        .expect("first");
    a.create_draft(&draft_with_reference("shop:k2"), deadline(5))
        .await
        .expect("second");
    a.delete_draft(first.draft_invoice_number, "shop:k1", deadline(5))
        .await
        .expect("delete");
    let writes: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert_eq!(writes.len(), 4, "{writes:?}");
    let keys: Vec<String> = writes
        .iter()
        .map(|r| r.idempotency_key.clone().expect("every write has a key"))
        .collect();
    let distinct: std::collections::BTreeSet<_> = keys.iter().collect();
    assert_eq!(distinct.len(), 4, "{keys:?}");
    for key in &keys {
        assert!(
            key.len() == 64 && key.chars().all(|c| c.is_ascii_hexdigit()),
            "{key}"
        );
        assert!(!key.contains(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN));
    }
    assert_eq!(a.cached_replays(), 0);
}

/// Issue 13, "Deletes": a draft is deleted only after re-reading that its
/// number still carries the order's reference. Here the answer in hand is
/// a replay naming draft 1, deleted meanwhile and reused by another order.
#[tokio::test]
async fn a_stale_draft_number_now_held_by_another_order_is_not_deleted() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(2)));
    with_customer_7(&a).await;
    let mut wrong = plan("shop:A", DebtorPlan::Existing { customer_number: 7 }, false);
    wrong.expected_gross_total = dec!(312.50);
    let first = push_invoice(&a, &wrong, opts(false))
        .await
        .expect_err("mismatch");
    assert!(matches!(
        first,
        EconomicError::AmountMismatch {
            draft_invoice_number: 1,
            deleted: true,
            ..
        }
    ));
    // Another order gets the freed number 1.
    let other = push_invoice(
        &a,
        &plan("shop:B", DebtorPlan::Existing { customer_number: 7 }, false),
        opts(false),
    )
    .await
    .expect("B");
    assert_eq!(other.draft_invoice_number, Some(1), "numbers are reused");
    // A again within the key's lifetime: e-conomic replays "draft 1". The
    // replay is read again before it is used: draft 1 is B's now, so A's
    // draft is created anew (number 2), found wrong, and that one deleted.
    sb.clear_requests();
    let again = push_invoice(&a, &wrong, opts(true))
        .await
        .expect_err("mismatch");
    assert!(a.cached_replays() >= 1);
    assert!(
        matches!(
            again,
            EconomicError::AmountMismatch {
                draft_invoice_number: 2,
                deleted: true,
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(sb.drafts_with_reference(0, "shop:B"), 1, "B's draft stays");
    let deletes: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].path, "/invoices/drafts/2");
    assert!(deletes[0].idempotency_key.is_some());
}

/// `DELETE /invoices/drafts` without a number deletes every draft (LIVE;
/// the sandbox does so). The client cannot send it.
#[tokio::test]
async fn the_client_never_sends_a_delete_without_a_draft_number() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(2)));
    with_customer_7(&a).await;
    a.create_draft(&draft_with_reference("shop:keep"), deadline(5))
        .await
        .expect("draft");
    sb.clear_requests();
    let refused = a
        .delete_draft(0, "shop:keep", deadline(5))
        .await
        .expect_err("refused");
    assert!(matches!(refused, EconomicError::Setup(_)), "{refused:?}");
    assert!(sb.requests().is_empty(), "nothing was sent");
    assert_eq!(sb.drafts(0).len(), 1);

    // What the sandbox does with the bulk DELETE, sent by hand.
    let response = reqwest::Client::new()
        .delete(format!("{}/invoices/drafts", sb.base_url()))
        .header(
            "X-AppSecretToken",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        )
        .header(
            "X-AgreementGrantToken",
            economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    assert!(sb.drafts(0).is_empty(), "every draft is gone");
}

/// A replay names a draft deleted since (here by a person, within the
/// key's lifetime): the push sees it is gone and creates the draft again
/// instead of reporting a number that holds nothing.
#[tokio::test]
async fn a_replayed_create_whose_draft_was_deleted_is_made_again() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(2)));
    with_customer_7(&a).await;
    let p = plan(
        "shop:gone",
        DebtorPlan::Existing { customer_number: 7 },
        false,
    );
    let first = push_invoice(&a, &p, opts(false)).await.expect("first");
    let number = first.draft_invoice_number.expect("draft");
    sb.with_agreement(0, |data| data.drafts.remove(&number));
    let again = push_invoice(&a, &p, opts(true)).await.expect("again");
    assert_eq!(sb.drafts_with_reference(0, "shop:gone"), 1);
    assert_eq!(
        again.draft_invoice_number,
        sb.drafts(0).first().map(|d| d.draft_invoice_number)
    );
    assert!(a.cached_replays() >= 1, "the first resend was replayed");
}

/// A credit note: the invoice's lines with negative quantities. e-conomic's
/// published schema sets no minimum on `quantity` and documents negative
/// amounts for credit notes; not yet seen on a live agreement (NOTES.md).
fn credit_note(reference: &str, book: bool) -> InvoicePlan {
    let mut plan = plan(reference, DebtorPlan::Existing { customer_number: 7 }, book);
    for line in &mut plan.draft.lines {
        line.quantity = -line.quantity;
    }
    plan.expected_net_total = -plan.expected_net_total;
    plan.expected_vat_total = -plan.expected_vat_total;
    plan.expected_gross_total = -plan.expected_gross_total;
    plan
}

#[tokio::test]
async fn a_credit_note_has_negative_quantities_and_survives_a_lost_answer() {
    let sb = sandbox().await;
    let c = client(&sb, Duration::from_millis(400));
    let a = api(&c);
    a.create_customer(
        &NewCustomer {
            customer_number: Some(7),
            ..new_customer(None)
        },
        deadline(5),
    )
    .await
    .expect("customer");
    sb.set_faults(Faults {
        fail_next_creates_after_commit: 1,
        fail_after_commit_mode: FailMode::Drop,
        ..Faults::default()
    });
    let reference = "Credit note 1001-r1";
    let o = push_invoice(&a, &credit_note(reference, false), opts(false))
        .await
        .expect("the credit note is created once");
    assert_eq!(o.gross_amount, -GROSS, "e-conomic totals it negative");
    assert_eq!(sb.drafts_with_reference(0, reference), 1);
    let lines = sb.drafts(0)[0].document["lines"].clone();
    assert!(
        lines
            .as_array()
            .is_some_and(|l| l.iter().all(|l| l["quantity"].as_f64() < Some(0.0))),
        "{lines}"
    );

    // Delivered again and booked this time: the same draft, booked once.
    let booked = push_invoice(&a, &credit_note(reference, true), opts(true))
        .await
        .expect("booked");
    assert!(booked.reused_existing);
    assert_eq!(sb.booked(0).len(), 1);
    assert_eq!(sb.drafts(0).len(), 0);
    assert_eq!(booked.gross_amount, -GROSS);
}

// ----- order drafts (`mapping.document: order_draft`) ----------------------

fn order_plan(reference: &str) -> InvoicePlan {
    let mut p = plan(
        reference,
        DebtorPlan::Existing { customer_number: 7 },
        false,
    );
    p.document = DraftDocument::OrderDraft;
    p
}

/// An order draft is made exactly once under every fault a draft invoice
/// survives: the create's answer lost (dropped, 504, held past the
/// timeout), a redelivery after success, a redelivery before anything was
/// made; and every call goes to `/orders/drafts`, never to invoices.
#[tokio::test]
async fn order_drafts_are_made_once_under_every_fault() {
    struct Case {
        name: &'static str,
        faults: Faults,
        already_pushed: bool,
        may_exist: bool,
        reused: bool,
    }
    let lost = |mode| Faults {
        fail_next_creates_after_commit: 1,
        fail_after_commit_mode: mode,
        hold_ms: 1500,
        ..Faults::default()
    };
    let cases = [
        Case {
            name: "first attempt",
            faults: Faults::default(),
            already_pushed: false,
            may_exist: false,
            reused: false,
        },
        Case {
            name: "answer dropped after the create",
            faults: lost(FailMode::Drop),
            already_pushed: false,
            may_exist: false,
            reused: false,
        },
        Case {
            name: "504 after the create",
            faults: lost(FailMode::GatewayTimeout),
            already_pushed: false,
            may_exist: false,
            reused: false,
        },
        Case {
            name: "answer held past the timeout",
            faults: lost(FailMode::Hold),
            already_pushed: false,
            may_exist: false,
            reused: false,
        },
        Case {
            name: "redelivery after a success",
            faults: Faults::default(),
            already_pushed: true,
            may_exist: true,
            reused: true,
        },
        Case {
            name: "redelivery before anything was made",
            faults: Faults::default(),
            already_pushed: false,
            may_exist: true,
            reused: false,
        },
        Case {
            name: "first-attempt message delivered twice",
            faults: Faults::default(),
            already_pushed: true,
            may_exist: false,
            reused: false,
        },
    ];
    for case in cases {
        let sb = sandbox().await;
        let a = api(&client(&sb, Duration::from_millis(400)));
        with_customer_7(&a).await;
        let p = order_plan("shop:o1");
        if case.already_pushed {
            push_invoice(&a, &p, opts(false)).await.expect("first push");
        }
        sb.clear_requests();
        sb.set_faults(case.faults);
        let o = push_invoice(&a, &p, opts(case.may_exist))
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let orders = sb.order_drafts(0);
        assert_eq!(orders.len(), 1, "{}", case.name);
        assert_eq!(orders[0].reference.as_deref(), Some("shop:o1"));
        assert_eq!(orders[0].gross_amount, GROSS, "{}", case.name);
        assert_eq!(
            o.draft_invoice_number,
            Some(orders[0].draft_invoice_number),
            "{}",
            case.name
        );
        assert_eq!(o.booked_invoice_number, None);
        assert_eq!(o.gross_amount, GROSS);
        assert_eq!(o.reused_existing, case.reused, "{}", case.name);
        assert!(sb.drafts(0).is_empty(), "{}: no draft invoice", case.name);
        assert!(sb.booked(0).is_empty());
        for r in sb.requests() {
            assert!(
                r.path.starts_with("/orders/drafts"),
                "{}: {} {}",
                case.name,
                r.method,
                r.path
            );
            if r.method != "GET" {
                assert!(r.idempotency_key.is_some(), "{}: {r:?}", case.name);
            }
        }
    }
}

/// Order drafts and draft invoices are numbered apart (both start at 1):
/// an order draft's number is never taken for a draft invoice's. Deleting
/// "our" order draft leaves the draft invoice of the same number, and a
/// stale number now another order's is not deleted.
#[tokio::test]
async fn order_drafts_are_found_and_deleted_in_their_own_collection_only() {
    use bridge::adapters::economic::EconomicInvoicing;
    use bridge::domain::shop::EconomicCredentials;
    use bridge::ports::{FoundInvoice, Invoicing};
    let sb = sandbox().await;
    let c = client(&sb, Duration::from_secs(2));
    let a = api(&c);
    with_customer_7(&a).await;
    let invoice = push_invoice(
        &a,
        &plan(
            "shop:inv",
            DebtorPlan::Existing { customer_number: 7 },
            false,
        ),
        opts(false),
    )
    .await
    .expect("invoice draft");
    let order = push_invoice(&a, &order_plan("shop:ord"), opts(false))
        .await
        .expect("order draft");
    assert_eq!(invoice.draft_invoice_number, Some(1));
    assert_eq!(order.draft_invoice_number, Some(1));

    let invoicing = EconomicInvoicing::new(c.clone());
    let credentials = EconomicCredentials {
        app_secret_token: Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
        agreement_grant_token: Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
    };
    let order_drafts = DraftDocument::OrderDraft;
    let find = |document, reference: &'static str, hint| {
        let (invoicing, credentials) = (invoicing.clone(), credentials.clone());
        async move {
            invoicing
                .find_invoice(&credentials, document, reference, hint, deadline(5))
                .await
                .expect("find")
        }
    };
    assert_eq!(
        find(order_drafts, "shop:ord", Some(1)).await,
        FoundInvoice::Draft(1)
    );
    assert_eq!(
        find(order_drafts, "shop:ord", None).await,
        FoundInvoice::Draft(1)
    );
    // The invoice draft's reference is not among the order drafts.
    assert_eq!(
        find(order_drafts, "shop:inv", Some(1)).await,
        FoundInvoice::None
    );
    // Order draft 1 is not the invoice's: refused by reference.
    assert!(!invoicing
        .delete_own_draft(&credentials, order_drafts, "shop:inv", 1, deadline(5))
        .await
        .expect("refusal"));
    assert_eq!(sb.order_drafts(0).len(), 1);
    assert!(invoicing
        .delete_own_draft(&credentials, order_drafts, "shop:ord", 1, deadline(5))
        .await
        .expect("delete"));
    assert!(sb.order_drafts(0).is_empty());
    assert_eq!(sb.drafts_with_reference(0, "shop:inv"), 1, "invoice stays");
    // Gone: a second delete reports it, and the order is not found.
    assert!(!invoicing
        .delete_own_draft(&credentials, order_drafts, "shop:ord", 1, deadline(5))
        .await
        .expect("already gone"));
    assert_eq!(
        find(order_drafts, "shop:ord", Some(1)).await,
        FoundInvoice::None
    );
    let deletes: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.method == "DELETE")
        .collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0].path, "/orders/drafts/1");
    assert!(deletes[0].idempotency_key.is_some());
}

/// An order draft whose totals e-conomic computes otherwise than the plan
/// is deleted and the order fails, as a draft invoice is.
#[tokio::test]
async fn an_order_draft_with_wrong_totals_is_deleted() {
    let sb = sandbox().await;
    let a = api(&client(&sb, Duration::from_secs(2)));
    with_customer_7(&a).await;
    let mut p = order_plan("shop:ovat");
    p.expected_gross_total = dec!(312.50);
    let err = push_invoice(&a, &p, opts(false))
        .await
        .expect_err("mismatch");
    assert!(
        matches!(err, EconomicError::AmountMismatch { deleted: true, .. }),
        "{err:?}"
    );
    assert!(sb.order_drafts(0).is_empty());
}
