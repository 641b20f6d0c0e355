//! Pushing one planned invoice to e-conomic: resolve the debtor (and bring
//! it up to date under `debtor.update`), create the draft exactly once,
//! check e-conomic's totals against ours and correct the draft when they
//! differ only by e-conomic's VAT rounding (`settle_totals`), optionally
//! book.
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
use crate::domain::economic_model::{
    BookedInvoiceResponse, DraftDocument, DraftInvoice, DraftInvoiceResponse, References, SendBy,
};
use crate::domain::mapping::{fit_lines, totals_lines, FittedLines};
use crate::domain::money::{draft_totals_with, VatRounding};
use std::sync::Arc;
use std::time::Instant;

use crate::domain::lifecycle::PushOutcome;
// The push reads the draft, the debtor plan and the expected totals from
// the mapping's plan.
use crate::domain::mapping::{
    update_debtor_document, DebtorPlan, DebtorUpdate, InvoicePlan, MissingProducts,
};
use crate::domain::shop::EconomicCredentials;
use crate::ports::{FoundInvoice, Invoicing, InvoicingError, PushOptions};
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
            .map_err(invoicing_error)
    }

    async fn find_invoice(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        draft_hint: Option<u32>,
        deadline: Instant,
    ) -> Result<FoundInvoice, InvoicingError> {
        let api = self.api(credentials).for_document(document);
        super::withdraw::find_invoice(&api, reference, draft_hint, deadline)
            .await
            .map_err(invoicing_error)
    }

    async fn delete_own_draft(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        number: u32,
        deadline: Instant,
    ) -> Result<bool, InvoicingError> {
        let api = self.api(credentials).for_document(document);
        delete_own_draft(&api, reference, number, deadline)
            .await
            .map_err(invoicing_error)
    }

    fn budget_deferral(&self, credentials: &EconomicCredentials) -> Option<std::time::Duration> {
        self.client.budget_deferral(&self.api(credentials))
    }

    async fn register_payment(
        &self,
        credentials: &EconomicCredentials,
        plan: &crate::domain::mapping::payment::PaymentPlan,
        options: crate::ports::PaymentOptions,
    ) -> Result<crate::ports::PaymentOutcome, InvoicingError> {
        // In `super::payment`.
        self.register(&self.api(credentials), plan, options).await
    }
}

impl EconomicInvoicing {
    fn api(&self, credentials: &EconomicCredentials) -> AgreementApi {
        self.client.for_agreement(
            credentials.app_secret_token.clone(),
            credentials.agreement_grant_token.clone(),
        )
    }
}

fn invoicing_error(error: EconomicError) -> InvoicingError {
    InvoicingError {
        transient: error.is_transient(),
        reason: error.reason(),
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
    // Every draft call below addresses the plan's document: draft invoices
    // or order drafts, under the same guarantees.
    let api = &api.for_document(plan.document);

    if options.may_exist {
        if let Some(found) = find_existing(api, plan, deadline).await? {
            return Ok(found);
        }
    }

    // `draft` stays line for line the plan's (with products that fell
    // back); what is sent is `draft` fitted to the agreement's VAT rounding.
    let mut draft = plan.draft.clone();
    draft.references = Some(References {
        other: Some(plan.reference.clone()),
    });

    let mut debtor = resolve_debtor(api, plan, deadline).await?;
    draft.customer.customer_number = debtor.number;
    products::use_known_fallbacks(api, plan, &mut draft);
    let mut products_handled = false;
    let mode = known_vat_rounding(api);

    let mut key_scope = "";
    let (created, sent) = loop {
        let sent = fit_to(plan, &draft, mode)?;
        match api
            .create_draft_with_key_scope(&sent.body, key_scope, deadline)
            .await
        {
            Ok((replayed, true)) if key_scope != REPLAY_WAS_STALE => {
                // A replay repeats an answer up to the key's lifetime old;
                // the draft it names may have been deleted since (and its
                // number reused), or corrected since. Use it as it is now,
                // and only if it is still this order's.
                let current = api
                    .get_draft(replayed.draft_invoice_number, deadline)
                    .await?;
                if let Some(current) = current.filter(|d| carries(d, &plan.reference)) {
                    break (current, sent);
                }
                tracing::warn!(
                    draft_invoice_number = replayed.draft_invoice_number,
                    "e-conomic replayed a create whose draft is gone; creating it again"
                );
                key_scope = REPLAY_WAS_STALE;
            }
            Ok((created, _)) => break (created, sent),
            Err(e) if is_missing_customer(&e) && debtor.may_create() => {
                // Optimistic path: the debtor was assumed to exist (cache or
                // FindOrCreate). Create it and send the draft again; missing
                // products reported in the same answer are handled first
                // (under `fail` the order fails before a debtor is made).
                products_refused(api, plan, &mut draft, &sent, &e, deadline).await?;
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
                    break (existing, sent);
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
                // Products that do not exist: their lines go to the generic
                // products (or the products are created), once.
                if !products_handled
                    && products_refused(api, plan, &mut draft, &sent, &e, deadline).await?
                {
                    products_handled = true;
                    continue;
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

    let created = settle_totals(api, plan, &draft, &sent, created, deadline).await?;

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

/// Handles the product part of a refused create: Ok(true) when the draft
/// changed and is worth sending again; under `fail`, the order's error.
async fn products_refused(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &mut DraftInvoice,
    sent: &Sent,
    error: &EconomicError,
    deadline: Instant,
) -> Result<bool, EconomicError> {
    // e-conomic numbers the lines it was sent; map them to the plan's.
    let refused: Vec<usize> = products::refused_product_lines(error)
        .into_iter()
        .filter_map(|i| sent.fitted.origins.get(i).copied().flatten())
        .collect();
    if refused.is_empty() {
        return Ok(false);
    }
    if plan.missing_products == MissingProducts::Fail {
        return match products::missing_product_reason(plan, &refused) {
            Some(reason) => Err(EconomicError::ProductMissing(reason)),
            None => Ok(false),
        };
    }
    products::handle_refused_lines(api, plan, draft, &refused, deadline).await
}

/// A draft as sent: the body, and its lines fitted to a VAT rounding.
struct Sent {
    body: DraftInvoice,
    fitted: FittedLines,
}

fn fit_to(
    plan: &InvoicePlan,
    draft: &DraftInvoice,
    mode: VatRounding,
) -> Result<Sent, EconomicError> {
    let fitted = fit_lines(
        &draft.lines,
        &plan.line_vat_rates,
        mode,
        plan.vat_free_rounding.as_ref(),
    )
    .map_err(|e| EconomicError::VatRounding(e.to_string()))?;
    let mut body = draft.clone();
    body.lines = fitted.lines.clone();
    Ok(Sent { body, fitted })
}

const VAT_ROUNDING_CACHE_KIND: &str = "vat-rounding";

/// How this agreement's drafts round VAT, as learnt from an earlier draft
/// in this process; per line until a draft shows otherwise.
fn known_vat_rounding(api: &AgreementApi) -> VatRounding {
    api.cache()
        .reference::<VatRounding>(api.agreement_key(), VAT_ROUNDING_CACHE_KIND)
        .map(|mode| *mode)
        .unwrap_or_default()
}

/// Makes the new draft total the order. e-conomic's totals (net, VAT,
/// gross) are compared with the order's; when they differ, and the
/// difference is exactly how the other VAT rounding (per line / per
/// invoice) totals the lines sent, and is within the plan's
/// `correction_tolerance`, the whole draft is sent again (PUT replaces
/// it) with its lines fitted to that rounding, and the answer checked
/// again. Any other difference, or one that remains, deletes the draft
/// so the books never hold a wrong amount, and fails the order.
async fn settle_totals(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &DraftInvoice,
    sent: &Sent,
    created: DraftInvoiceResponse,
    deadline: Instant,
) -> Result<DraftInvoiceResponse, EconomicError> {
    let expected = plan.expected_gross_total;
    if created.gross_amount == expected {
        return Ok(created);
    }
    let difference = created.gross_amount - expected;
    let lines = totals_lines(&sent.fitted.lines, &sent.fitted.rates);
    let explained = [VatRounding::PerLine, VatRounding::PerInvoice]
        .into_iter()
        .find(|&mode| {
            let t = draft_totals_with(&lines, mode);
            (t.net, t.vat, t.gross)
                == (created.net_amount, created.vat_amount, created.gross_amount)
        });
    let mode = match explained {
        Some(mode) if difference.abs() <= plan.correction_tolerance => mode,
        Some(mode) => {
            let why = format!(
                "e-conomic rounds VAT {}, and the difference of {difference} is more than the {} \
                 the bridge corrects (`rounding.correction_tolerance`)",
                mode.name(),
                plan.correction_tolerance
            );
            return Err(fail_mismatch(api, plan, &created, why, deadline).await);
        }
        None => {
            let why = format!(
                "a difference of {difference} that neither per-line nor per-invoice VAT \
                 rounding of the lines explains"
            );
            return Err(fail_mismatch(api, plan, &created, why, deadline).await);
        }
    };
    api.cache()
        .remember_reference(api.agreement_key(), VAT_ROUNDING_CACHE_KIND, Arc::new(mode));
    tracing::info!(
        draft_invoice_number = created.draft_invoice_number,
        vat_rounding = mode.name(),
        %difference,
        "correcting the draft to e-conomic's VAT rounding"
    );
    let replacement = match fit_to(plan, draft, mode) {
        Ok(replacement) => replacement,
        Err(e) => {
            // Not a VAT setup mistake: the order's total cannot be an
            // invoice total under this rounding with these products.
            let number = created.draft_invoice_number;
            let deleted = delete_own_draft(api, &plan.reference, number, deadline)
                .await
                .unwrap_or(false);
            return Err(EconomicError::VatRounding(format!(
                "e-conomic rounds VAT {}: {e}; draft {number} {}",
                mode.name(),
                if deleted {
                    "was deleted again"
                } else {
                    "could NOT be deleted, delete it by hand"
                }
            )));
        }
    };
    let corrected = match api
        .replace_draft(
            created.draft_invoice_number,
            &replacement.body,
            &plan.reference,
            deadline,
        )
        .await
    {
        Ok(corrected) => corrected,
        // A later attempt finds the draft, sees its total and corrects it.
        Err(e) if e.is_transient() => return Err(e),
        Err(e) => {
            let _ = delete_own_draft(api, &plan.reference, created.draft_invoice_number, deadline)
                .await;
            return Err(e);
        }
    };
    if corrected.gross_amount == expected {
        return Ok(corrected);
    }
    let why = format!(
        "still {} after correcting the lines for VAT rounding {}",
        corrected.gross_amount,
        mode.name()
    );
    Err(fail_mismatch(api, plan, &corrected, why, deadline).await)
}

/// Deletes the order's draft (if it is still the order's) and says so.
async fn fail_mismatch(
    api: &AgreementApi,
    plan: &InvoicePlan,
    draft: &DraftInvoiceResponse,
    why: String,
    deadline: Instant,
) -> EconomicError {
    let deleted = delete_own_draft(api, &plan.reference, draft.draft_invoice_number, deadline)
        .await
        .unwrap_or(false);
    EconomicError::AmountMismatch {
        expected: plan.expected_gross_total,
        actual: draft.gross_amount,
        draft_invoice_number: draft.draft_invoice_number,
        deleted,
        why,
    }
}

/// Key scope of a create resent because the replayed one named a draft
/// that no longer carries the order's reference.
const REPLAY_WAS_STALE: &str = "replayed-draft-gone";

pub(super) fn carries(draft: &DraftInvoiceResponse, reference: &str) -> bool {
    draft.references.as_ref().and_then(|r| r.other.as_deref()) == Some(reference)
}

/// Looks for an invoice created by an earlier attempt and completes it.
async fn find_existing(
    api: &AgreementApi,
    plan: &InvoicePlan,
    deadline: Instant,
) -> Result<Option<PushOutcome>, EconomicError> {
    if let Some(draft) = find_draft(api, &plan.reference, deadline).await? {
        if draft.gross_amount != plan.expected_gross_total {
            // An earlier attempt stopped between the create and the
            // correction (or its total is wrong): the draft is this order's
            // and unbooked, so it is deleted and made again, which corrects
            // it or fails the order with the reason.
            if delete_own_draft(api, &plan.reference, draft.draft_invoice_number, deadline).await? {
                tracing::warn!(
                    draft_invoice_number = draft.draft_invoice_number,
                    "an earlier attempt's draft did not total the order; creating it again"
                );
                return Ok(None);
            }
            let why = "an earlier attempt's draft that could not be replaced".to_owned();
            return Err(fail_mismatch(api, plan, &draft, why, deadline).await);
        }
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

pub(super) async fn find_draft(
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

pub(super) async fn find_booked(
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
            .book_draft(
                draft_invoice_number,
                &plan.reference,
                plan.send_by_ean.then_some(SendBy::Ean),
                deadline,
            )
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

/// Deletes draft `number` only if it still carries this order's reference.
/// The answer in hand may be stale (a replay, an earlier attempt's look-up)
/// and e-conomic reuses numbers after a delete, so the number alone could
/// name another order's draft by now: it is read again right before the
/// DELETE, which carries an idempotency key scoped to the reference.
pub(super) async fn delete_own_draft(
    api: &AgreementApi,
    reference: &str,
    number: u32,
    deadline: Instant,
) -> Result<bool, EconomicError> {
    let Some(current) = api.get_draft(number, deadline).await? else {
        return Ok(false);
    };
    if !carries(&current, reference) {
        tracing::warn!(
            draft_invoice_number = number,
            "not deleting the draft: its number now carries another reference"
        );
        return Ok(false);
    }
    api.delete_draft(number, reference, deadline).await
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
    plan: &InvoicePlan,
    deadline: Instant,
) -> Result<Debtor, EconomicError> {
    let agreement = api.agreement_key();
    let found = match &plan.debtor {
        DebtorPlan::Existing { customer_number } => {
            return Ok(Debtor {
                number: *customer_number,
                assumed: false,
            })
        }
        // Optimistic: POST the draft with the number; only if e-conomic says
        // the customer does not exist is it created (one call for every
        // returning debtor, cached or not).
        DebtorPlan::FindOrCreate {
            customer_number, ..
        } => Debtor {
            number: *customer_number,
            assumed: true,
        },
        DebtorPlan::Running { lookup_email, .. } => {
            let cached = lookup_email
                .as_deref()
                .and_then(|email| api.cache().debtor_for_email(agreement, email));
            match (cached, lookup_email) {
                (Some(number), _) => Debtor {
                    number,
                    assumed: true,
                },
                (None, Some(email)) => match api.find_customer_by_email(email, deadline).await? {
                    Some(found) => {
                        api.cache()
                            .remember_email(agreement, email, found.customer_number);
                        Debtor {
                            number: found.customer_number,
                            assumed: false,
                        }
                    }
                    None => return create_debtor(api, &plan.debtor, deadline).await,
                },
                (None, None) => return create_debtor(api, &plan.debtor, deadline).await,
            }
        }
    };
    if plan.debtor_update == DebtorUpdate::Never {
        return Ok(found);
    }
    match update_debtor(api, plan, found.number, deadline).await? {
        DebtorState::Exists => Ok(Debtor {
            number: found.number,
            assumed: false,
        }),
        DebtorState::NotRead => Ok(found),
        DebtorState::Missing => {
            api.cache().forget_debtor(agreement, found.number);
            create_debtor(api, &plan.debtor, deadline).await
        }
    }
}

/// What `debtor.update` learnt about an existing debtor.
enum DebtorState {
    Exists,
    Missing,
    /// Brought up to date with these very details earlier in this process:
    /// not read again.
    NotRead,
}

const UPDATED_DEBTORS_CACHE_KIND: &str = "updated-debtors";

/// Per agreement: debtor number → fingerprint of the order details it was
/// last brought up to date with.
type UpdatedDebtors = std::sync::Mutex<std::collections::HashMap<u32, u64>>;

fn updated_debtors(api: &AgreementApi) -> Arc<UpdatedDebtors> {
    let cache = api.cache();
    if let Some(map) =
        cache.reference::<UpdatedDebtors>(api.agreement_key(), UPDATED_DEBTORS_CACHE_KIND)
    {
        return map;
    }
    let map = Arc::new(UpdatedDebtors::default());
    cache.remember_reference(api.agreement_key(), UPDATED_DEBTORS_CACHE_KIND, map.clone());
    map
}

/// `debtor.update` (`fill_missing`, `always`): reads the debtor whole,
/// changes what the order says should change, and writes it back whole
/// (PUT is a true replace, so the document read, unknown properties
/// included, is what goes back), only when something changed. Costs a GET
/// per order, and a PUT when the details differ; a debtor already brought
/// up to date with the same details in this process costs nothing.
async fn update_debtor(
    api: &AgreementApi,
    plan: &InvoicePlan,
    number: u32,
    deadline: Instant,
) -> Result<DebtorState, EconomicError> {
    let new_customer = match &plan.debtor {
        DebtorPlan::FindOrCreate { new_customer, .. }
        | DebtorPlan::Running { new_customer, .. } => new_customer,
        DebtorPlan::Existing { .. } => return Ok(DebtorState::NotRead),
    };
    let fingerprint = {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        serde_json::to_string(new_customer)
            .unwrap_or_default()
            .hash(&mut hasher);
        plan.debtor_update.hash(&mut hasher);
        hasher.finish()
    };
    let updated = updated_debtors(api);
    let lock = |m: &UpdatedDebtors| {
        // Single inserts and reads: a poisoned lock is still consistent.
        m.lock()
            .map(|g| g.get(&number).copied())
            .unwrap_or_else(|p| p.into_inner().get(&number).copied())
    };
    if lock(&updated) == Some(fingerprint) {
        return Ok(DebtorState::NotRead);
    }
    let Some(mut document) = api.get_customer_document(number, deadline).await? else {
        return Ok(DebtorState::Missing);
    };
    let changed = update_debtor_document(&mut document, new_customer, plan.debtor_update);
    if !changed.is_empty() {
        match api.replace_customer(number, &document, deadline).await {
            Ok(_) => tracing::info!(
                customer_number = number,
                changed = ?changed,
                "debtor details updated from the order"
            ),
            Err(e) if e.is_transient() => return Err(e),
            // The invoice matters more than the debtor's details: a
            // refused update is reported, and the order goes on.
            Err(e) => {
                tracing::warn!(
                    customer_number = number,
                    changed = ?changed,
                    error = %e,
                    "e-conomic refused the debtor update; invoicing without it"
                );
                return Ok(DebtorState::Exists);
            }
        }
    }
    let mut map = updated.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= 50_000 {
        map.clear();
    }
    map.insert(number, fingerprint);
    Ok(DebtorState::Exists)
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
