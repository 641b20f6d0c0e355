use crate::domain::economic_model::DraftDocument;
use crate::domain::lifecycle::PushOutcome;
use crate::domain::mapping::payment::{
    find_in_journal, judge_remainder, JournalLookup, ListedEntry, PaymentPlan, RemainderState,
};
use crate::domain::mapping::InvoicePlan;
use crate::domain::secret::Secret;
use crate::domain::shop::EconomicCredentials;
use crate::ports::{
    FoundInvoice, Invoicing, InvoicingError, PaymentOptions, PaymentOutcome, PushOptions,
};
use rust_decimal::Decimal;
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// An invoice the fake accounting system holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredInvoice {
    /// The agreement (grant token) it belongs to.
    pub agreement: Secret,
    pub reference: String,
    pub customer_number: u32,
    pub gross_amount: Decimal,
    pub draft_invoice_number: Option<u32>,
    pub booked_invoice_number: Option<u32>,
    /// The draft's invoice date (`YYYY-MM-DD`).
    pub date: String,
    /// A draft invoice or an order draft (its own numbering in e-conomic).
    pub document: DraftDocument,
}

/// What the next push does instead of succeeding.
#[derive(Debug, Clone)]
enum Scripted {
    /// Fails before anything is created.
    Fail(InvoicingError),
    /// Creates the invoice, then fails as if the answer was lost.
    FailAfterCreate(InvoicingError),
    /// Fails before anything is created, and the agreement's budget is
    /// spent from then on (e-conomic's 429 on an empty bucket).
    FailSpendingBudget(InvoicingError, Duration),
}

#[derive(Debug, Default)]
struct Books {
    invoices: Vec<StoredInvoice>,
    next_draft: u32,
    next_booked: u32,
    pushes: u32,
    script: VecDeque<Scripted>,
    /// Grant tokens e-conomic accepts; empty accepts every token.
    accepted_grants: Vec<Secret>,
    /// What `budget_deferral` answers (the agreement's bucket is empty).
    budget_deferral: Option<Duration>,
    /// Customer payments entered in journals, in posting order.
    payments: Vec<StoredPayment>,
    /// What the next payment posts do instead of succeeding.
    payment_script: VecDeque<Scripted>,
    /// Payment posts received, failed ones included.
    payment_posts: u32,
}

/// A customer payment entry the fake accounting system holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPayment {
    pub agreement: Secret,
    pub plan: PaymentPlan,
    /// Its journal has been booked (the invoice's remainder counts it).
    pub booked: bool,
}

/// The accounting system in memory, honouring the [`Invoicing`] contract
/// as the e-conomic adapter does: a push without `may_exist` creates an
/// invoice at once (so a second such push of one reference makes a
/// duplicate, which tests can see); a push with `may_exist` finds the
/// invoice carrying the plan's reference and completes it (booking a draft
/// if the plan books); unknown tokens are refused permanently.
#[derive(Debug, Default)]
pub struct MemoryInvoicing {
    books: Mutex<Books>,
}

impl MemoryInvoicing {
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses every grant token but these (401, permanent).
    pub fn accept_only(&self, grant_tokens: &[&str]) {
        self.lock().accepted_grants = grant_tokens.iter().map(|t| Secret::new(*t)).collect();
    }

    /// From now on `budget_deferral` answers `delay` (`None`: go ahead), as
    /// the e-conomic adapter does while an agreement's bucket is empty.
    pub fn set_budget_deferral(&self, delay: Option<Duration>) {
        self.lock().budget_deferral = delay;
    }

    /// The next push fails with this error, creating nothing, and from then
    /// on `budget_deferral` answers `delay`.
    pub fn fail_next_spending_budget(&self, error: InvoicingError, delay: Duration) {
        self.lock()
            .script
            .push_back(Scripted::FailSpendingBudget(error, delay));
    }

    /// The next push fails with this error, creating nothing.
    pub fn fail_next(&self, error: InvoicingError) {
        self.lock().script.push_back(Scripted::Fail(error));
    }

    /// The next push creates its invoice, then answers with this error (a
    /// lost answer: the invoice exists although the caller saw a failure).
    pub fn fail_next_after_create(&self, error: InvoicingError) {
        self.lock()
            .script
            .push_back(Scripted::FailAfterCreate(error));
    }

    /// Every invoice held, in creation order.
    pub fn invoices(&self) -> Vec<StoredInvoice> {
        self.lock().invoices.clone()
    }

    /// The invoices carrying `reference`.
    pub fn invoices_for(&self, reference: &str) -> Vec<StoredInvoice> {
        self.lock()
            .invoices
            .iter()
            .filter(|i| i.reference == reference)
            .cloned()
            .collect()
    }

    /// Pushes received, failed ones included.
    pub fn pushes(&self) -> u32 {
        self.lock().pushes
    }

    fn lock(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn outcome(invoice: &StoredInvoice, reused_existing: bool) -> PushOutcome {
    PushOutcome {
        customer_number: invoice.customer_number,
        draft_invoice_number: invoice.draft_invoice_number,
        booked_invoice_number: invoice.booked_invoice_number,
        gross_amount: invoice.gross_amount,
        calls: 1,
        reused_existing,
        warnings: Vec::new(),
    }
}

impl Books {
    fn authorise(&self, agreement: &Secret) -> Result<(), InvoicingError> {
        if !self.accepted_grants.is_empty() && !self.accepted_grants.contains(agreement) {
            return Err(InvoicingError {
                transient: false,
                reason: "e-conomic refused the access tokens (401): the grant may have been \
                         revoked; reconnect the shop to e-conomic"
                    .to_owned(),
            });
        }
        Ok(())
    }

    fn book(&mut self, index: usize) {
        if self.invoices[index].booked_invoice_number.is_none() {
            self.next_booked += 1;
            self.invoices[index].booked_invoice_number = Some(self.next_booked);
            self.invoices[index].draft_invoice_number = None;
        }
    }

    fn create(&mut self, agreement: &Secret, plan: &InvoicePlan) -> usize {
        self.next_draft += 1;
        // A running debtor gets a number the way e-conomic would give one.
        let customer_number = match plan.draft.customer.customer_number {
            0 => 1,
            number => number,
        };
        self.invoices.push(StoredInvoice {
            agreement: agreement.clone(),
            reference: plan.reference.clone(),
            customer_number,
            gross_amount: plan.expected_gross_total,
            draft_invoice_number: Some(self.next_draft),
            booked_invoice_number: None,
            date: plan.draft.date.clone(),
            document: plan.document,
        });
        let index = self.invoices.len() - 1;
        if plan.book {
            self.book(index);
        }
        index
    }
}

impl MemoryInvoicing {
    /// The next payment post fails with this error, posting nothing.
    pub fn fail_next_payment(&self, error: InvoicingError) {
        self.lock().payment_script.push_back(Scripted::Fail(error));
    }

    /// The next payment post is entered, then answers with this error (a
    /// lost answer).
    pub fn fail_next_payment_after_post(&self, error: InvoicingError) {
        self.lock()
            .payment_script
            .push_back(Scripted::FailAfterCreate(error));
    }

    /// Books every journal, as the accountant does: the entries leave the
    /// journals and count in their invoices' remainders.
    pub fn book_journals(&self) {
        for payment in self.lock().payments.iter_mut() {
            payment.booked = true;
        }
    }

    /// Every payment entered, booked or not.
    pub fn payments(&self) -> Vec<StoredPayment> {
        self.lock().payments.clone()
    }

    /// Payment posts received, failed ones included.
    pub fn payment_posts(&self) -> u32 {
        self.lock().payment_posts
    }
}

impl Books {
    /// The unbooked entries of the plan's journal, as e-conomic lists them.
    fn journal_entries(&self, agreement: &Secret, plan: &PaymentPlan) -> Vec<ListedEntry> {
        self.payments
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                &p.agreement == agreement && !p.booked && p.plan.journal == plan.journal
            })
            .map(|(i, p)| ListedEntry {
                journal_entry_number: u32::try_from(i + 1).ok(),
                customer: Some(crate::domain::economic_model::CustomerRef {
                    customer_number: p.plan.customer_number,
                }),
                customer_invoice: Some(p.plan.invoice_number),
                text: Some(p.plan.text.clone()),
                amount: Some(p.plan.entry_amount()),
            })
            .collect()
    }

    /// The booked invoice's remainder: its amount plus its booked entries.
    fn remainder(&self, agreement: &Secret, plan: &PaymentPlan) -> Decimal {
        let booked: Decimal = self
            .payments
            .iter()
            .filter(|p| {
                &p.agreement == agreement
                    && p.booked
                    && p.plan.invoice_number == plan.invoice_number
            })
            .map(|p| p.plan.entry_amount())
            .sum();
        plan.amount + booked
    }
}

impl Invoicing for MemoryInvoicing {
    async fn register_payment(
        &self,
        credentials: &EconomicCredentials,
        plan: &PaymentPlan,
        options: PaymentOptions,
    ) -> Result<PaymentOutcome, InvoicingError> {
        let agreement = &credentials.agreement_grant_token;
        let mut books = self.lock();
        books.authorise(agreement)?;
        let refuse = |reason: String| InvoicingError {
            transient: false,
            reason,
        };
        if options.may_exist {
            match find_in_journal(plan, &books.journal_entries(agreement, plan)) {
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
            match judge_remainder(plan, books.remainder(agreement, plan)) {
                RemainderState::PaidBefore(remainder) => {
                    return Ok(PaymentOutcome::FoundBooked { remainder })
                }
                RemainderState::Ambiguous(why) => return Err(refuse(why)),
                RemainderState::Open => {}
            }
            if !options.may_post {
                return Err(refuse(crate::domain::mapping::payment::unsure_reason(plan)));
            }
        }
        books.payment_posts += 1;
        let script = books.payment_script.pop_front();
        if let Some(Scripted::Fail(error)) = script {
            return Err(error);
        }
        books.payments.push(StoredPayment {
            agreement: agreement.clone(),
            plan: plan.clone(),
            booked: false,
        });
        if let Some(Scripted::FailAfterCreate(error)) = script {
            return Err(error);
        }
        Ok(PaymentOutcome::Posted {
            voucher: Some(format!(
                "{}-{}",
                plan.accounting_year(),
                books.payments.len()
            )),
        })
    }

    async fn push(
        &self,
        credentials: &EconomicCredentials,
        plan: &InvoicePlan,
        options: PushOptions,
    ) -> Result<PushOutcome, InvoicingError> {
        let agreement = &credentials.agreement_grant_token;
        let mut books = self.lock();
        books.pushes += 1;
        books.authorise(agreement)?;
        let script = books.script.pop_front();
        match script {
            Some(Scripted::Fail(error)) => return Err(error),
            Some(Scripted::FailSpendingBudget(error, delay)) => {
                books.budget_deferral = Some(delay);
                return Err(error);
            }
            _ => {}
        }
        if options.may_exist {
            let found = books
                .invoices
                .iter()
                .position(|i| &i.agreement == agreement && i.reference == plan.reference);
            if let Some(index) = found {
                if plan.book {
                    books.book(index);
                }
                return Ok(outcome(&books.invoices[index], true));
            }
        }
        let index = books.create(agreement, plan);
        if let Some(Scripted::FailAfterCreate(error)) = script {
            return Err(error);
        }
        Ok(outcome(&books.invoices[index], false))
    }

    async fn find_invoice(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        _draft_hint: Option<u32>,
        _deadline: Instant,
    ) -> Result<FoundInvoice, InvoicingError> {
        let books = self.lock();
        books.authorise(&credentials.agreement_grant_token)?;
        // Drafts of the other kind are not searched (as in e-conomic, where
        // they are another collection); booked invoices always are.
        let found = books.invoices.iter().find(|i| {
            i.agreement == credentials.agreement_grant_token
                && i.reference == reference
                && (i.document == document || i.booked_invoice_number.is_some())
        });
        Ok(match found {
            None => FoundInvoice::None,
            Some(invoice) => match (invoice.booked_invoice_number, invoice.draft_invoice_number) {
                (Some(booked), _) => FoundInvoice::Booked(booked),
                (None, Some(draft)) => FoundInvoice::Draft(draft),
                (None, None) => FoundInvoice::None,
            },
        })
    }

    async fn delete_own_draft(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        number: u32,
        _deadline: Instant,
    ) -> Result<bool, InvoicingError> {
        let mut books = self.lock();
        books.authorise(&credentials.agreement_grant_token)?;
        let before = books.invoices.len();
        books.invoices.retain(|i| {
            !(i.agreement == credentials.agreement_grant_token
                && i.document == document
                && i.reference == reference
                && i.draft_invoice_number == Some(number)
                && i.booked_invoice_number.is_none())
        });
        Ok(books.invoices.len() < before)
    }

    fn budget_deferral(&self, _credentials: &EconomicCredentials) -> Option<Duration> {
        self.lock().budget_deferral
    }
}

impl MemoryInvoicing {
    /// Deletes draft `number` as a person in e-conomic would (whoever made it).
    pub fn delete_draft_by_hand(&self, number: u32) -> bool {
        let mut books = self.lock();
        let before = books.invoices.len();
        books.invoices.retain(|i| {
            i.draft_invoice_number != Some(number) || i.booked_invoice_number.is_some()
        });
        books.invoices.len() < before
    }
}
