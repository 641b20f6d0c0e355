//! Transfer of a refund record (`{order_id}#refund#{refund_id}`): one
//! credit note in e-conomic, exactly once per refund id.
//!
//! The refund's lease, `create_started`, labels, retries, dead letters and
//! rescan are the order's own machinery; the credit note is an
//! [`InvoicePlan`](crate::domain::mapping::InvoicePlan) whose reference is
//! `Credit note {number}-{refund_id}`, so `Invoicing::push` finds it again
//! after a lost answer instead of making a second one. What this module adds:
//!
//! 1. the order's invoice must exist: until its order is `e-conomic-ok` the
//!    refund waits, pending, and rescan brings it back (never a credit
//!    note without an invoice); after [`REFUND_WAIT_SECONDS`] it fails;
//! 2. a refund whose webhook lacks its lines has them read from the shop
//!    (`refund_lines`), once its invoice is known;
//! 3. the credit note is planned from the basis stored with the invoice,
//!    against the ledger entries before this refund, and the refund's entry
//!    is written to the order's ledger (a conditional write, so two refunds
//!    of one order never both take what remains) before anything is created.

use super::{Failure, PushMode, Transfer, TransferFailure};
use crate::app::notify::LabelNotifier;
use crate::domain::lifecycle::{Label, LeaseOwner, OrderRecord, PushOutcome};
use crate::domain::mapping::credit_note::{plan_credit_note, CreditBasis};
use crate::domain::mapping::InvoicePlan;
use crate::domain::platform::order_from_snapshot;
use crate::domain::platform::stored_refund;
use crate::domain::shop::ShopConfig;
use crate::ports::{
    Clock, CreditStore, Invoicing, OkNotification, OrderControl, OrderStore, PaymentStore,
    PushOptions, ShopStore, StoreError, TransferQueue, VatRegistry,
};
use std::time::Instant;

/// How long a refund waits for its order's invoice before it fails.
pub const REFUND_WAIT_SECONDS: i64 = 30 * 86_400;
/// Longest pause between two looks at a waiting refund's order.
const WAIT_RECHECK_CAP_SECONDS: i64 = 3_600;
/// Rounds of reading the ledger and writing it back when another refund of
/// the same order wrote it in between.
const LEDGER_ROUNDS: u32 = 4;

impl<O, S, Q, I, C, R, N> Transfer<O, S, Q, I, C, R, N>
where
    O: OrderStore + CreditStore + OrderControl + PaymentStore,
    S: ShopStore,
    Q: TransferQueue,
    I: Invoicing,
    C: Clock,
    R: VatRegistry,
    N: LabelNotifier,
{
    /// Stores what a credit note of this order will need, when the shop
    /// makes credit notes: before the order is labelled ok, so an ok order
    /// always has it (a failure here is retried; the push finds its invoice).
    pub(super) async fn save_credit_basis(
        &self,
        record: &OrderRecord,
        shop: &ShopConfig,
        plan: &InvoicePlan,
        outcome: &PushOutcome,
    ) -> Result<(), Failure> {
        if !shop.mapping.credit_notes.enabled {
            return Ok(());
        }
        let snapshot = record
            .snapshot
            .as_deref()
            .ok_or(TransferFailure::NoSnapshot)?;
        let order = order_from_snapshot(snapshot, shop.platform.as_ref())
            .map_err(|e| TransferFailure::InvalidSnapshot(e.to_string()))?;
        let Some(basis) = CreditBasis::new(
            &order,
            plan,
            outcome.customer_number,
            outcome.draft_invoice_number,
            outcome.booked_invoice_number,
        ) else {
            return Ok(());
        };
        self.orders
            .save_credit_basis(&record.shop_id, &record.order_id, &basis)
            .await
            .map_err(|e| TransferFailure::Store(e.to_string()))?;
        Ok(())
    }

    pub(super) async fn transfer_refund(
        &self,
        record: &OrderRecord,
        owner: &LeaseOwner,
        deadline: Instant,
        (order_id, refund_id): (&str, &str),
        mode: PushMode,
    ) -> Result<Option<PushOutcome>, Failure> {
        let shop = match self.shops.get(&record.shop_id).await? {
            Some(shop) if shop.enabled => shop,
            Some(_) => return Err(TransferFailure::ShopDisabled.into()),
            None => return Err(TransferFailure::UnknownShop.into()),
        };
        let snapshot = record
            .snapshot
            .as_deref()
            .ok_or(TransferFailure::NoSnapshot)?;
        // Its content is checked before anything else; lines still to be
        // read from the shop are read once the invoice is known.
        let stored = stored_refund(snapshot, shop.platform.as_ref())
            .map_err(|e| TransferFailure::Refund(e.to_string()))?;

        let mut account = self
            .orders
            .credit_account(&record.shop_id, order_id)
            .await?;
        let basis = match &account {
            Some(a) if a.label == Label::Ok => a.basis.clone().ok_or_else(|| {
                TransferFailure::Refund(format!(
                    "order {order_id} was invoiced before credit notes were enabled for the \
                     shop, so the bridge does not know its invoice's lines: create the credit \
                     note for refund {refund_id} by hand in e-conomic"
                ))
            })?,
            other => {
                let label = other.as_ref().map(|a| a.label);
                self.wait_for_invoice(record, owner, order_id, label)
                    .await?;
                return Ok(None);
            }
        };

        let refund = self
            .refund_to_credit(stored, snapshot, &shop, deadline)
            .await?;

        // The refund's date: the day it arrived (UTC), the same on every attempt.
        let date = time::OffsetDateTime::from_unix_timestamp(record.created_at)
            .map(|t| t.date())
            .unwrap_or_else(|_| self.clock.now().date());
        let mut rounds = 0;
        // An entry already in the ledger means an earlier attempt (or an
        // earlier record of this refund, since expired) got as far as the
        // create: look for its credit note first.
        let mut reserved_before = false;
        let note = loop {
            rounds += 1;
            let current = account.clone().ok_or(TransferFailure::OrderNotFound)?;
            let prior = current.ledger.before(refund_id);
            let note = plan_credit_note(&basis, &refund, prior, &shop.mapping.credit_notes, date)
                .map_err(|e| TransferFailure::Refund(e.to_string()))?;
            if current.ledger.contains(refund_id) {
                reserved_before = true;
                break note;
            }
            let mut ledger = current.ledger.clone();
            ledger.entries.push(note.entry.clone());
            match self
                .orders
                .write_ledger(&record.shop_id, order_id, current.ledger_version, &ledger)
                .await
            {
                Ok(()) => break note,
                Err(StoreError::Conflict) if rounds < LEDGER_ROUNDS => {
                    tracing::info!("another refund of the order wrote its ledger; planning again");
                    account = self
                        .orders
                        .credit_account(&record.shop_id, order_id)
                        .await?;
                }
                Err(StoreError::Conflict) => {
                    return Err(TransferFailure::Store(
                        "the order's credit ledger is contested by other refunds".to_owned(),
                    )
                    .into())
                }
                Err(error) => return Err(error.into()),
            }
        };

        let may_exist = record.create_started || reserved_before;
        self.orders
            .mark_create_started(&record.shop_id, &record.order_id, owner)
            .await?;
        tracing::info!(may_exist, reference = %note.plan.reference, "pushing credit note");
        let outcome = self
            .push_plan(
                &shop.economic,
                &note.plan,
                PushOptions {
                    may_exist,
                    deadline,
                },
                mode,
            )
            .await?;
        let now = self.clock.epoch_seconds();
        self.orders
            .mark_ok(
                &record.shop_id,
                &record.order_id,
                &outcome,
                now,
                now + self.settings.ok_record_ttl_days * 86_400,
                OkNotification::Skip,
            )
            .await
            .map_err(|e| TransferFailure::Store(e.to_string()))?;
        tracing::info!(
            label = Label::Ok.as_str(),
            draft_invoice_number = outcome.draft_invoice_number,
            booked_invoice_number = outcome.booked_invoice_number,
            credited_invoice = basis.invoice_number,
            reused_existing = outcome.reused_existing,
            "refund credited"
        );
        Ok(Some(outcome))
    }

    /// The order has no invoice yet: the refund stays pending and rescan
    /// brings it back (within minutes at first, at most hourly later), until
    /// [`REFUND_WAIT_SECONDS`] have passed.
    async fn wait_for_invoice(
        &self,
        record: &OrderRecord,
        owner: &LeaseOwner,
        order_id: &str,
        label: Option<Label>,
    ) -> Result<(), Failure> {
        let now = self.clock.epoch_seconds();
        let state = match label {
            Some(label) => format!("order {order_id} is {}", label.as_str()),
            None => format!("order {order_id} is not known to the bridge yet"),
        };
        if now - record.created_at > REFUND_WAIT_SECONDS {
            return Err(TransferFailure::Refund(format!(
                "{state} {} days after the refund arrived, and a credit note needs its invoice: \
                 send the order again, then the refund",
                REFUND_WAIT_SECONDS / 86_400
            ))
            .into());
        }
        let reason = format!("waiting for the invoice: {state}");
        // Soon at first (the paid event is usually moments away), then less
        // often: half the time waited so far, at most hourly.
        let waited = (now - record.created_at).max(0);
        let next_look = (waited / 2).clamp(
            self.settings.rescan_min_age_seconds,
            WAIT_RECHECK_CAP_SECONDS,
        );
        tracing::info!(%reason, next_look, "refund waits for its order's invoice");
        self.orders
            .record_transient(
                &record.shop_id,
                &record.order_id,
                owner,
                &reason,
                now,
                now + next_look,
            )
            .await?;
        Ok(())
    }
}
