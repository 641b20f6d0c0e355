//! The ports of the payment step ([`crate::domain::mapping::payment`]): how a
//! payment may be registered, what registering it did, and the mark on the
//! order's record that makes a retry look before it posts again.

use super::{LeaseOwner, StoreError};
use crate::domain::mapping::payment::PaymentPlan;
use rust_decimal::Decimal;
use std::future::Future;
use std::time::Instant;

/// How a payment may be registered.
#[derive(Debug, Clone, Copy)]
pub struct PaymentOptions {
    /// An earlier attempt may have posted it: look before posting.
    pub may_exist: bool,
    /// Post when the look-ups find nothing. `false` when too long has
    /// passed since the earlier attempt for its idempotency key to be
    /// trusted: then not finding it is an error, not a licence to post.
    pub may_post: bool,
    pub deadline: Instant,
}

/// What registering a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Posted by this call; the voucher as e-conomic keys it
    /// (`{accountingYear}-{voucherNumber}`).
    Posted { voucher: Option<String> },
    /// An earlier attempt's entry is in the (unbooked) journal.
    FoundInJournal { journal_entry_number: Option<u32> },
    /// The journal was booked since: the invoice's remainder shows it paid.
    FoundBooked { remainder: Decimal },
}

impl PaymentOutcome {
    /// The order's history line for a registered payment.
    pub fn history_text(&self, plan: &PaymentPlan) -> String {
        let what = match self {
            PaymentOutcome::Posted { voucher: Some(v) } => format!("voucher {v}"),
            PaymentOutcome::Posted { voucher: None } => "a voucher".to_owned(),
            PaymentOutcome::FoundInJournal {
                journal_entry_number: Some(n),
            } => format!("entry {n}, found from an earlier attempt"),
            PaymentOutcome::FoundInJournal { .. } => {
                "an entry found from an earlier attempt".to_owned()
            }
            PaymentOutcome::FoundBooked { remainder } => {
                format!("booked already: {} left to pay", remainder.normalize())
            }
        };
        format!(
            "payment of {} {} registered in journal {} ({what}) against account {}",
            plan.amount.normalize(),
            plan.currency,
            plan.journal,
            plan.contra_account
        )
    }
}

/// The order-side mark of the payment step, on the order's own record.
pub trait PaymentStore: Send + Sync {
    /// Marks that this attempt is about to post the order's payment (only
    /// while it holds the lease on a pending order, else
    /// `Err(Conflict)`); keeps an earlier mark. Answers when the payment was
    /// first marked: `Some(earlier)` means an earlier attempt got this far.
    fn mark_payment_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        now: i64,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send;

    /// Records what the payment step did (`payment` and a history entry),
    /// under the same condition.
    fn record_payment(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        note: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: PaymentStore + ?Sized> PaymentStore for std::sync::Arc<T> {
    fn mark_payment_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        now: i64,
    ) -> impl Future<Output = Result<Option<i64>, StoreError>> + Send {
        (**self).mark_payment_started(shop_id, order_id, owner, now)
    }
    fn record_payment(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        note: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).record_payment(shop_id, order_id, owner, note, now)
    }
}
