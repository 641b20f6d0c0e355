//! The payment step: after the order's invoice is booked, the customer's
//! payment is registered on it (`mapping.payments`, off by default), once
//! per order under every retry, duplicate delivery, lost answer and crash.
//!
//! 1. The order's record is marked (`PaymentStore::mark_payment_started`,
//!    conditional on the lease) before the post, so an attempt that finds
//!    an earlier mark looks for the payment before it posts again.
//! 2. The post carries an idempotency key over the order's reference and
//!    the voucher; the voucher is the same on every attempt.
//! 3. A later attempt looks in the journal's entries, then at the booked
//!    invoice's remainder (the adapter; the meaning of each answer is the
//!    domain's, [`crate::domain::mapping::payment`]), and posts again only while
//!    the earlier mark is recent enough for the key to turn a repeat into a
//!    replay ([`PAYMENT_KEY_TRUST_SECONDS`]); after that, not finding it
//!    is reported, not posted over.
//!
//! The invoice is booked by then, so a payment that cannot be registered
//! never fails the order: a transient error is retried with the order (the
//! push finds its booked invoice again); anything else, and a transient
//! error on the last look before giving up, leaves the order
//! `e-conomic-ok` with a history line starting [`PAYMENT_NOT_REGISTERED`]
//! that says what to do.

use super::{Failure, PushMode, Transfer, TransferFailure};
use crate::app::notify::LabelNotifier;
use crate::domain::lifecycle::{LeaseOwner, OrderRecord, PushOutcome};
use crate::domain::mapping::payment::{plan_payment, BookedInvoice, PaymentDecision};
use crate::domain::mapping::InvoicePlan;
use crate::domain::platform::order_from_snapshot;
use crate::domain::shop::ShopConfig;
use crate::ports::{
    Clock, CreditStore, Invoicing, OrderControl, OrderStore, PaymentOptions, PaymentStore,
    ShopStore, TransferQueue, VatRegistry,
};
use std::time::Instant;

/// How long after an earlier attempt's mark a post is still sent again
/// when neither look-up shows the payment: well inside the hour e-conomic
/// documents for idempotency keys on its newer APIs (unconfirmed for the
/// REST API), so a post whose entry the look-ups missed is replayed, not
/// entered twice. Transfer's retries of one order fall inside it.
pub const PAYMENT_KEY_TRUST_SECONDS: i64 = 45 * 60;

/// How the history line of a payment that was not registered begins.
pub const PAYMENT_NOT_REGISTERED: &str = "customer payment not registered";

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
    /// Registers the payment of the booked invoice `outcome` names, when
    /// the shop registers payments. `Err` only for what the order's retry
    /// may fix (a transient error, the store, a lost lease).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn register_payment(
        &self,
        record: &OrderRecord,
        owner: &LeaseOwner,
        shop: &ShopConfig,
        plan: &InvoicePlan,
        outcome: &PushOutcome,
        deadline: Instant,
        mode: PushMode,
    ) -> Result<(), Failure> {
        let config = &shop.mapping.payments;
        let Some(booked_invoice_number) = outcome.booked_invoice_number else {
            return Ok(());
        };
        if !config.enabled {
            return Ok(());
        }
        let snapshot = record
            .snapshot
            .as_deref()
            .ok_or(TransferFailure::NoSnapshot)?;
        let order = order_from_snapshot(snapshot, shop.platform.as_ref())
            .map_err(|e| TransferFailure::InvalidSnapshot(e.to_string()))?;
        let invoice = BookedInvoice {
            reference: &plan.reference,
            booked_invoice_number,
            customer_number: outcome.customer_number,
            gross_amount: outcome.gross_amount,
            currency: &plan.draft.currency,
            date: &plan.draft.date,
        };
        let payment = match plan_payment(&order, config, &invoice) {
            None => return Ok(()),
            Some(PaymentDecision::Skip(why)) => {
                tracing::info!(reason = %why, "no customer payment for this order");
                return self.note_payment(record, owner, &why).await;
            }
            Some(PaymentDecision::Register(payment)) => payment,
        };

        let now = self.clock.epoch_seconds();
        let earlier = self
            .orders
            .mark_payment_started(&record.shop_id, &record.order_id, owner, now)
            .await?;
        let options = PaymentOptions {
            may_exist: earlier.is_some(),
            may_post: earlier.is_none_or(|at| now - at <= PAYMENT_KEY_TRUST_SECONDS),
            deadline,
        };
        tracing::info!(
            may_exist = options.may_exist,
            may_post = options.may_post,
            journal = payment.journal,
            booked_invoice_number,
            "registering the customer payment"
        );
        let note = match self
            .invoicing
            .register_payment(&shop.economic, &payment, options)
            .await
        {
            Ok(done) => {
                let note = done.history_text(&payment);
                tracing::info!(%note, "customer payment registered");
                note
            }
            Err(error) if error.transient && mode == PushMode::Create => {
                tracing::warn!(reason = %error.reason, "customer payment failed; the order is retried");
                return Err(TransferFailure::Invoicing(error).into());
            }
            Err(error) => {
                let note = format!(
                    "{PAYMENT_NOT_REGISTERED}: {}; the invoice is booked, register the payment of \
                     {} {} on booked invoice {booked_invoice_number} by hand in journal {}",
                    error.reason,
                    payment.amount.normalize(),
                    payment.currency,
                    payment.journal
                );
                tracing::warn!(%note, "customer payment not registered; the order stays ok");
                note
            }
        };
        self.note_payment(record, owner, &note).await
    }

    async fn note_payment(
        &self,
        record: &OrderRecord,
        owner: &LeaseOwner,
        note: &str,
    ) -> Result<(), Failure> {
        let now = self.clock.epoch_seconds();
        self.orders
            .record_payment(&record.shop_id, &record.order_id, owner, note, now)
            .await?;
        Ok(())
    }
}
