//! Registering a customer payment on a booked invoice: one voucher in the
//! shop's daybook journal, exactly once per order.
//!
//! A voucher has no `references.other`, so the order's payment is found
//! again by what it carries: the journal's unbooked entries of the customer
//! (its `text` holds the order's reference, its `customerInvoice` the
//! invoice's number), and, once the accountant has booked the journal, the
//! invoice's `remainder` below its amount. A later attempt
//! (`may_exist`) looks in that order (an entry booked between the two
//! looks is then still seen in the remainder) and posts only when neither
//! shows the payment; the post carries an `Idempotency-Key` over the
//! agreement, path, body and the order's reference, so a post whose answer
//! was lost is replayed by e-conomic within the key's lifetime rather than
//! entered twice. An answer that fits neither "there" nor "not there" is a
//! permanent error, never a second post. The decisions are the domain's
//! ([`crate::domain::mapping::payment`]).

use super::client::{AgreementApi, Resend, PAGE_SIZE};
use super::error::EconomicError;
use super::filter::eq_filter;
use super::push::EconomicInvoicing;
use crate::domain::economic_model::Collection;
use crate::domain::mapping::payment::{
    find_in_journal, judge_remainder, unsure_reason, voucher_post, JournalLookup, ListedEntry,
    PaymentPlan, RemainderState,
};
use crate::ports::{InvoicingError, PaymentOptions, PaymentOutcome};
use reqwest::Method;
use rust_decimal::Decimal;
use serde::Deserialize;
use std::time::Instant;

/// A voucher as the create answers it (LIVE: an array of them).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatedVoucher {
    #[serde(default)]
    voucher_number: Option<u32>,
    #[serde(default)]
    accounting_year: Option<YearRef>,
}

#[derive(Debug, Deserialize)]
struct YearRef {
    year: String,
}

/// The part of a booked invoice the look-up reads.
#[derive(Debug, Deserialize)]
struct BookedRemainder {
    #[serde(
        default,
        with = "crate::domain::economic_model::decimal_number::option"
    )]
    remainder: Option<Decimal>,
}

impl EconomicInvoicing {
    pub(super) async fn register(
        &self,
        api: &AgreementApi,
        plan: &PaymentPlan,
        options: PaymentOptions,
    ) -> Result<PaymentOutcome, InvoicingError> {
        let refuse = |reason: String| InvoicingError {
            transient: false,
            reason,
        };
        let failed = |error: EconomicError| InvoicingError {
            transient: error.is_transient(),
            reason: format!("customer payment: {}", error.reason()),
        };
        if options.may_exist {
            let entries = journal_entries(api, plan, options.deadline)
                .await
                .map_err(failed)?;
            match find_in_journal(plan, &entries) {
                JournalLookup::Found {
                    journal_entry_number,
                } => {
                    return Ok(PaymentOutcome::FoundInJournal {
                        journal_entry_number,
                    })
                }
                JournalLookup::Ambiguous(why) => return Err(refuse(why)),
                JournalLookup::Absent => {}
            }
            let remainder = booked_remainder(api, plan.invoice_number, options.deadline)
                .await
                .map_err(failed)?;
            let Some(remainder) = remainder else {
                return Err(refuse(format!(
                    "booked invoice {} came back without a remainder, so whether it was paid \
                     cannot be told",
                    plan.invoice_number
                )));
            };
            match judge_remainder(plan, remainder) {
                RemainderState::PaidBefore(remainder) => {
                    return Ok(PaymentOutcome::FoundBooked { remainder })
                }
                RemainderState::Ambiguous(why) => return Err(refuse(why)),
                RemainderState::Open => {}
            }
            if !options.may_post {
                return Err(refuse(unsure_reason(plan)));
            }
        }
        let voucher = post_voucher(api, plan, options.deadline)
            .await
            .map_err(failed)?;
        Ok(PaymentOutcome::Posted { voucher })
    }
}

/// POST /journals/{n}/vouchers; the voucher as `{year}-{number}`. Not
/// resent when the outcome is unknown: the next attempt looks first.
async fn post_voucher(
    api: &AgreementApi,
    plan: &PaymentPlan,
    deadline: Instant,
) -> Result<Option<String>, EconomicError> {
    let body = AgreementApi::to_body(&voucher_post(plan))?;
    let created: Vec<CreatedVoucher> = api
        .call_scoped(
            Method::POST,
            &format!("/journals/{}/vouchers", plan.journal),
            &[],
            Some(body),
            Resend::OnlyIfNotProcessed,
            // The order's reference scopes the key: the same payment of the
            // same order, and nothing else, replays.
            &plan.reference,
            deadline,
        )
        .await?;
    Ok(created.first().and_then(|v| {
        Some(format!(
            "{}-{}",
            v.accounting_year.as_ref()?.year,
            v.voucher_number?
        ))
    }))
}

/// The journal's unbooked entries of the plan's customer, every page
/// (SCHEMA: `customer.customerNumber` is filterable; a server that refused
/// the filter would answer 400, a failure, never a silent empty list).
async fn journal_entries(
    api: &AgreementApi,
    plan: &PaymentPlan,
    deadline: Instant,
) -> Result<Vec<ListedEntry>, EconomicError> {
    let path = format!("/journals/{}/entries", plan.journal);
    let filter = eq_filter("customer.customerNumber", &plan.customer_number.to_string());
    let mut all = Vec::new();
    let mut skip_pages: u32 = 0;
    loop {
        let query = [
            ("filter", filter.clone()),
            ("skippages", skip_pages.to_string()),
            ("pagesize", PAGE_SIZE.to_string()),
        ];
        let page: Collection<ListedEntry> = api
            .call_scoped(Method::GET, &path, &query, None, Resend::Safe, "", deadline)
            .await?;
        let got = page.collection.len();
        all.extend(page.collection);
        let has_next = page.pagination.and_then(|p| p.next_page).is_some();
        if !has_next || got == 0 {
            return Ok(all);
        }
        skip_pages += 1;
    }
}

/// GET /invoices/booked/{n}: its `remainder`.
async fn booked_remainder(
    api: &AgreementApi,
    invoice_number: u32,
    deadline: Instant,
) -> Result<Option<Decimal>, EconomicError> {
    let booked: BookedRemainder = api
        .call_scoped(
            Method::GET,
            &format!("/invoices/booked/{invoice_number}"),
            &[],
            None,
            Resend::Safe,
            "",
            deadline,
        )
        .await?;
    Ok(booked.remainder)
}
