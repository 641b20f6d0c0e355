//! Pushing one planned invoice to e-conomic: resolve the debtor, create the
//! draft exactly once, check e-conomic's total against ours, optionally book.
//!
//! ## No duplicate invoices
//! Two mechanisms, because each covers what the other cannot:
//! * Every write carries an `Idempotency-Key` derived from the request
//!   (see [`super::client::idempotency_key`]): the same create sent again
//!   within the key's lifetime (a retry, a redelivery, a rescan) is
//!   answered with e-conomic's replay of the first answer (LIVE for
//!   customers). How long the REST API keeps keys is unconfirmed (the newer
//!   APIs say one hour), so the bridge does not rely on it alone.
//! * The draft's `references.other` carries the bridge's order reference,
//!   which is found again at any age:
//! * The first attempt of an order (`may_exist == false`) POSTs at once.
//! * A create whose outcome is unknown (timeout, connection lost after
//!   sending, 5xx) is never blindly resent: the reference is looked up
//!   first and an existing draft is used; if none is found, the create is
//!   resent under the same key, so a draft the look-up missed is replayed,
//!   not made twice.
//! * A later attempt (`may_exist == true`, recorded by the pipeline before
//!   it calls) looks the reference up among drafts (and booked invoices when
//!   booking) before creating anything, and completes a half-done push
//!   (draft created, booking failed) instead of starting over.
//!
//! Limits: a person who deletes the draft or edits its `references.other`
//! in e-conomic defeats the lookup; two concurrent pushes of the same order
//! are prevented by the pipeline's lease, not here.

use super::client::{AgreementApi, EconomicClient};
use super::error::EconomicError;
use super::products;
use crate::domain::economic_model::{BookedInvoiceResponse, DraftInvoiceResponse, References};
use std::time::Instant;

use crate::domain::lifecycle::PushOutcome;
// The push reads the draft, the debtor plan and the expected totals from
// the mapping's plan.
use crate::domain::mapping::{DebtorPlan, InvoicePlan, MissingProducts};
use crate::domain::shop::EconomicCredentials;
use crate::ports::{Invoicing, InvoicingError, PushOptions};
use tracing::Instrument;

/// The [`Invoicing`] port over e-conomic's REST API: one client
/// (connection pool, caches, pacing) for every agreement.
#[derive(Debug, Clone)]
pub struct EconomicInvoicing {
    client: EconomicClient,
}

impl EconomicInvoicing {
    pub fn new(client: EconomicClient) -> Self {
        EconomicInvoicing { client }
    }

    pub fn client(&self) -> &EconomicClient {
        &self.client
    }
}

impl Invoicing for EconomicInvoicing {
    async fn push(
        &self,
        credentials: &EconomicCredentials,
        plan: &InvoicePlan,
        options: PushOptions,
    ) -> Result<PushOutcome, InvoicingError> {
        let api = self.client.for_agreement(
            credentials.app_secret_token.clone(),
            credentials.agreement_grant_token.clone(),
        );
        push_invoice(&api, plan, options)
            .await
            .map_err(|error| InvoicingError {
                transient: error.is_transient(),
                reason: error.reason(),
            })
    }
}

/// Pushes one invoice; see the module docs for the guarantees.
pub async fn push_invoice(
    api: &AgreementApi,
    plan: &InvoicePlan,
    options: PushOptions,
) -> Result<PushOutcome, EconomicError> {
    let calls_before = api.calls();
    let replays_before = api.cached_replays();
    let span = tracing::info_span!("economic_push", reference = %plan.reference, book = plan.book);
    // `instrument`, not `enter`: a guard held across `.await` would lend
    // this span to whatever else the thread runs meanwhile.
    let mut outcome = push_inner(api, plan, options)
        .instrument(span.clone())
        .await;
    if let Ok(o) = &mut outcome {
        o.calls = api.calls().saturating_sub(calls_before);
    }
    let calls = api.calls().saturating_sub(calls_before);
    // Answers e-conomic replayed for a repeated idempotency key: a resend
    // that did not act twice.
    let cached_replays = api.cached_replays().saturating_sub(replays_before);
    let _in_span = span.enter(); // no await below: the guard is safe
    match &outcome {
        Ok(o) => tracing::info!(
            customer_number = o.customer_number,
            draft_invoice_number = o.draft_invoice_number,
            booked_invoice_number = o.booked_invoice_number,
            reused_existing = o.reused_existing,
            calls,
            cached_replays,
            "invoice pushed to e-conomic"
        ),
        Err(e) => tracing::warn!(
            calls,
            cached_replays,
            transient = e.is_transient(),
            error = %e,
            "invoice push to e-conomic failed"
        ),
    }
    outcome
}

async fn push_inner(
    api: &AgreementApi,
    plan: &InvoicePlan,
    options: PushOptions,
) -> Result<PushOutcome, EconomicError> {
    let deadline = options.deadline;

    if options.may_exist {
        if let Some(found) = find_existing(api, plan, deadline).await? {
            return Ok(found);
        }
    }

    let mut draft = plan.draft.clone();
    draft.references = Some(References {
        other: Some(plan.reference.clone()),
    });

    let mut debtor = resolve_debtor(api, &plan.debtor, deadline).await?;
    draft.customer.customer_number = debtor.number;
    products::resolve_products(api, plan, &mut draft, deadline).await?;
    let mut fell_back_after_refusal = false;

    let mut key_scope = "";
    let created = loop {
        match api
            .create_draft_with_key_scope(&draft, key_scope, deadline)
            .await
        {
            Ok((created, true))
                if key_scope != REPLAY_WAS_STALE
                    && created.gross_amount == plan.expected_gross_total =>
            {
                // A replay repeats an answer up to the key's lifetime old;
                // the draft it names may have been deleted since (and its
                // number reused). Use it only if it is still this order's.
                // (A replay whose total is wrong goes on to `verify_total`,
                // which fails the order and re-reads before any delete.)
                let current = api
                    .get_draft(created.draft_invoice_number, deadline)
                    .await?;
                if current
                    .as_ref()
                    .is_some_and(|d| carries(d, &plan.reference))
                {
                    break current.unwrap_or(created);
                }
                tracing::warn!(
                    draft_invoice_number = created.draft_invoice_number,
                    "e-conomic replayed a create whose draft is gone; creating it again"
                );
                key_scope = REPLAY_WAS_STALE;
            }
            Ok((created, _)) => break created,
            Err(e) if is_missing_customer(&e) && debtor.may_create() => {
                // Optimistic path: the debtor was assumed to exist (cache or
                // FindOrCreate). Create it and send the draft again.
                api.cache()
                    .forget_debtor(api.agreement_key(), debtor.number);
                debtor = create_debtor(api, &plan.debtor, deadline).await?;
                draft.customer.customer_number = debtor.number;
                key_scope = "after-debtor-created";
            }
            Err(e) if is_missing_customer(&e) => {
                api.cache()
                    .forget_debtor(api.agreement_key(), debtor.number);
                return Err(e);
            }
            Err(e) if e.outcome_unknown() => {
                // The draft may exist. Look before sending it again; if the
                // look-up itself fails, give up transiently (the queue
                // retries with may_exist = true).
                if let Some(existing) = find_draft(api, &plan.reference, deadline).await? {
                    break existing;
                }
                let next = api.client().config().retry.next_wait(
                    2,
                    e.retry_after(),
                    Instant::now(),
                    deadline,
                );
                match next {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(e),
                }
            }
            Err(e) => {
                // A product deleted since the agreement's products were
                // listed: its lines go to the generic product, once.
                if !fell_back_after_refusal
                    && products::fall_back_for_refused_lines(api, plan, &mut draft, &e)
                {
                    fell_back_after_refusal = true;
                    continue;
                }
                if plan.missing_products == MissingProducts::Fail {
                    if let Some(reason) = products::missing_product_reason(plan, &e) {
                        return Err(EconomicError::ProductMissing(reason));
                    }
                }
                return Err(e);
            }
        }
    };
    api.cache()
        .remember_debtor(api.agreement_key(), debtor.number);
    if let (
        DebtorPlan::Running {
            lookup_email: Some(email),
            ..
        },
        true,
    ) = (&plan.debtor, debtor.number > 0)
    {
        api.cache()
            .remember_email(api.agreement_key(), email, debtor.number);
    }

    verify_total(api, plan, &created, deadline).await?;

    let mut outcome = PushOutcome {
        customer_number: debtor.number,
        draft_invoice_number: Some(created.draft_invoice_number),
        booked_invoice_number: None,
        gross_amount: created.gross_amount,
        calls: 0,
        reused_existing: false,
        warnings: Vec::new(),
    };
    if plan.book {
        let booked = book(api, plan, created.draft_invoice_number, deadline).await?;
        outcome.booked_invoice_number = Some(booked.booked_invoice_number);
        outcome.draft_invoice_number = None;
    }
    Ok(outcome)
}

/// Key scope of a create resent because the replayed one named a draft
/// that no longer carries the order's reference.
const REPLAY_WAS_STALE: &str = "replayed-draft-gone";

fn carries(draft: &DraftInvoiceResponse, reference: &str) -> bool {
    draft.references.as_ref().and_then(|r| r.other.as_deref()) == Some(reference)
}

/// Looks for an invoice created by an earlier attempt and completes it.
async fn find_existing(
    api: &AgreementApi,
    plan: &InvoicePlan,
    deadline: Instant,
) -> Result<Option<PushOutcome>, EconomicError> {
    if let Some(draft) = find_draft(api, &plan.reference, deadline).await? {
        verify_total(api, plan, &draft, deadline).await?;
        let customer_number = draft
            .customer
            .as_ref()
            .map(|c| c.customer_number)
            .unwrap_or(plan.draft.customer.customer_number);
        let mut outcome = PushOutcome {
            customer_number,
            draft_invoice_number: Some(draft.draft_invoice_number),
            booked_invoice_number: None,
            gross_amount: draft.gross_amount,
            calls: 0,
            reused_existing: true,
            warnings: Vec::new(),
        };
        if plan.book {
            let booked = book(api, plan, draft.draft_invoice_number, deadline).await?;
            outcome.booked_invoice_number = Some(booked.booked_invoice_number);
            outcome.draft_invoice_number = None;
        }
        return Ok(Some(outcome));
    }
    if plan.book {
        if let Some(booked) = find_booked(api, &plan.reference, deadline).await? {
            return Ok(Some(PushOutcome {
                customer_number: booked
                    .customer
                    .as_ref()
                    .map(|c| c.customer_number)
                    .unwrap_or(plan.draft.customer.customer_number),
                draft_invoice_number: None,
                booked_invoice_number: Some(booked.booked_invoice_number),
                gross_amount: booked.gross_amount,
                calls: 0,
                reused_existing: true,
                warnings: Vec::new(),
            }));
        }
    }
    Ok(None)
}

async fn find_draft(
    api: &AgreementApi,
    reference: &str,
    deadline: Instant,
) -> Result<Option<DraftInvoiceResponse>, EconomicError> {
    let found = api.find_drafts_by_reference(reference, deadline).await?;
    if found.len() > 1 {
        // Should never happen; if it did (someone copied a draft), use the
        // oldest and say so loudly rather than create a third.
        tracing::error!(
            count = found.len(),
            "several e-conomic drafts carry the same order reference"
        );
    }
    Ok(found.into_iter().min_by_key(|d| d.draft_invoice_number))
}

async fn find_booked(
    api: &AgreementApi,
    reference: &str,
    deadline: Instant,
) -> Result<Option<BookedInvoiceResponse>, EconomicError> {
    let found = api.find_booked_by_reference(reference, deadline).await?;
    Ok(found.into_iter().min_by_key(|d| d.booked_invoice_number))
}

/// Books a draft; when the answer is lost, checks whether it got booked.
async fn book(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft_invoice_number: u32,
    deadline: Instant,
) -> Result<BookedInvoiceResponse, EconomicError> {
    loop {
        match api
            .book_draft(draft_invoice_number, &plan.reference, deadline)
            .await
        {
            Ok(booked) => return Ok(booked),
            Err(e) if e.outcome_unknown() => {
                if let Some(booked) = find_booked(api, &plan.reference, deadline).await? {
                    return Ok(booked);
                }
                if api
                    .get_draft(draft_invoice_number, deadline)
                    .await?
                    .is_none()
                {
                    // Neither draft nor booked invoice with our reference:
                    // booking happened but cannot be seen yet; let the queue
                    // retry later rather than guess.
                    return Err(e);
                }
                match api.client().config().retry.next_wait(
                    2,
                    e.retry_after(),
                    Instant::now(),
                    deadline,
                ) {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// A mismatch means e-conomic computed VAT differently from the shop: the
/// draft we just made is deleted so the books never hold a wrong amount.
async fn verify_total(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &DraftInvoiceResponse,
    deadline: Instant,
) -> Result<(), EconomicError> {
    if draft.gross_amount == plan.expected_gross_total {
        return Ok(());
    }
    let deleted = delete_own_draft(api, plan, draft.draft_invoice_number, deadline)
        .await
        .unwrap_or(false);
    Err(EconomicError::AmountMismatch {
        expected: plan.expected_gross_total,
        actual: draft.gross_amount,
        draft_invoice_number: draft.draft_invoice_number,
        deleted,
    })
}

/// Deletes draft `number` only if it still carries this order's reference.
/// The answer in hand may be stale (a replay, an earlier attempt's look-up)
/// and e-conomic reuses numbers after a delete, so the number alone could
/// name another order's draft by now: it is read again right before the
/// DELETE, which carries an idempotency key scoped to the reference.
async fn delete_own_draft(
    api: &AgreementApi,
    plan: &InvoicePlan,
    number: u32,
    deadline: Instant,
) -> Result<bool, EconomicError> {
    let Some(current) = api.get_draft(number, deadline).await? else {
        return Ok(false);
    };
    if !carries(&current, &plan.reference) {
        tracing::warn!(
            draft_invoice_number = number,
            "not deleting the draft: its number now carries another reference"
        );
        return Ok(false);
    }
    api.delete_draft(number, &plan.reference, deadline).await
}

/// The debtor number to put on the draft, and how sure we are it exists.
#[derive(Debug, Clone, Copy)]
struct Debtor {
    number: u32,
    /// Assumed to exist (not seen in this push): on "customer does not
    /// exist" it may be created and the draft sent again.
    assumed: bool,
}

impl Debtor {
    fn may_create(&self) -> bool {
        self.assumed
    }
}

async fn resolve_debtor(
    api: &AgreementApi,
    plan: &DebtorPlan,
    deadline: Instant,
) -> Result<Debtor, EconomicError> {
    let agreement = api.agreement_key();
    match plan {
        DebtorPlan::Existing { customer_number } => Ok(Debtor {
            number: *customer_number,
            assumed: false,
        }),
        // Optimistic: POST the draft with the number; only if e-conomic says
        // the customer does not exist is it created (one call for every
        // returning debtor, cached or not).
        DebtorPlan::FindOrCreate {
            customer_number, ..
        } => Ok(Debtor {
            number: *customer_number,
            assumed: true,
        }),
        DebtorPlan::Running { lookup_email, .. } => {
            if let Some(email) = lookup_email {
                if let Some(number) = api.cache().debtor_for_email(agreement, email) {
                    return Ok(Debtor {
                        number,
                        assumed: true,
                    });
                }
                if let Some(found) = api.find_customer_by_email(email, deadline).await? {
                    api.cache()
                        .remember_email(agreement, email, found.customer_number);
                    return Ok(Debtor {
                        number: found.customer_number,
                        assumed: false,
                    });
                }
            }
            create_debtor(api, plan, deadline).await
        }
    }
}

async fn create_debtor(
    api: &AgreementApi,
    plan: &DebtorPlan,
    deadline: Instant,
) -> Result<Debtor, EconomicError> {
    let agreement = api.agreement_key().to_string();
    match plan {
        DebtorPlan::Existing { customer_number } => Ok(Debtor {
            number: *customer_number,
            assumed: false,
        }),
        DebtorPlan::FindOrCreate {
            customer_number,
            new_customer,
        } => {
            let mut customer = new_customer.clone();
            customer.customer_number = Some(*customer_number);
            match api.create_customer(&customer, deadline).await {
                Ok(created) => {
                    api.cache()
                        .remember_debtor(&agreement, created.customer_number);
                }
                // Created meanwhile (or by our own lost create): fine.
                Err(e) if e.api().is_some_and(|a| a.has_field_error("customerNumber")) => {
                    if api
                        .get_customer(*customer_number, deadline)
                        .await?
                        .is_none()
                    {
                        return Err(e);
                    }
                }
                Err(e) if e.outcome_unknown() => {
                    if api
                        .get_customer(*customer_number, deadline)
                        .await?
                        .is_none()
                    {
                        return Err(e);
                    }
                }
                Err(e) => return Err(e),
            }
            Ok(Debtor {
                number: *customer_number,
                assumed: false,
            })
        }
        DebtorPlan::Running {
            lookup_email,
            new_customer,
        } => {
            let mut customer = new_customer.clone();
            customer.customer_number = None;
            let created = match api.create_customer(&customer, deadline).await {
                Ok(created) => created,
                Err(e) if e.outcome_unknown() => {
                    // A lost create of a running-number debtor can only be
                    // found again by email.
                    match lookup_email {
                        Some(email) => api
                            .find_customer_by_email(email, deadline)
                            .await?
                            .ok_or(e)?,
                        None => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            };
            if let Some(email) = lookup_email {
                api.cache()
                    .remember_email(&agreement, email, created.customer_number);
            }
            api.cache()
                .remember_debtor(&agreement, created.customer_number);
            Ok(Debtor {
                number: created.customer_number,
                assumed: false,
            })
        }
    }
}

/// e-conomic's answer to a draft whose customer does not exist: 400 with a
/// field error on `customer` (REST docs' annotated-error example:
/// `errorCode E06000, "customer does not exist."`).
fn is_missing_customer(e: &EconomicError) -> bool {
    e.api().is_some_and(|a| {
        a.status == 400
            && a.field_errors.iter().any(|f| {
                (f.path == "customer" || f.path == "customer.customerNumber")
                    && (f.error_code.as_deref() == Some("E06000")
                        || f.message.to_lowercase().contains("does not exist"))
            })
    })
}
