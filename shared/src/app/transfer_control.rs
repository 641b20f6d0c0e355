//! Transfer's handling of the shop's requests on an order: a cancellation
//! (`order.cancelled`) and a re-send (`order.resend`). Both run under the
//! order's lease, as a transfer does, so they never race one.
//!
//! Cancelling: no invoice yet → label `e-conomic-cancelled`; a draft the
//! bridge made → deleted (only if it still carries the order's reference)
//! and cancelled; a booked invoice → cancelled with a reason that says the
//! booked invoice stands until a credit note reverses it.
//!
//! Re-sending: a failed order is re-opened by the ordinary claim (as a
//! replayed dead letter is); an ok order only when e-conomic no longer has
//! its invoice (the merchant deleted the draft), else it is refused with
//! the reason in the order's history.

use super::{Disposition, Transfer, TransferFailure};
use crate::app::notify::LabelNotifier;
use crate::domain::economic_model::DraftDocument;
use crate::domain::lifecycle::{Label, LeaseOwner, OrderRecord};
use crate::domain::notify::LabelChange;
use crate::ports::{
    Cause, Claim, Clock, CreditStore, FoundInvoice, InboundMessage, Invoicing, OrderControl,
    OrderMessage, OrderStore, PaymentStore, ShopStore, TransferQueue, VatRegistry,
};
use std::time::Instant;

/// What a re-send of an `ok` order found in e-conomic.
enum OkResend {
    /// The invoice is gone: the order was re-opened.
    Reopened(String),
    /// The invoice is still there: refused, with the reason.
    Refused(String),
}

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
    fn control_claim<'a>(
        &self,
        order: &'a OrderMessage,
        owner: &'a LeaseOwner,
        now: i64,
    ) -> Claim<'a> {
        let lease_until = now + self.settings.lease_seconds;
        Claim {
            shop_id: &order.shop_id,
            order_id: &order.order_id,
            owner,
            now,
            lease_until,
            rescan_after: lease_until + self.settings.rescan_min_age_seconds,
            reopen_failed: false,
        }
    }

    /// Takes the order's lease for a request; `Err` is the disposition
    /// when it cannot be taken now (or never: no order, already cancelled).
    async fn take_for_request(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        owner: &LeaseOwner,
    ) -> Result<OrderRecord, Disposition> {
        let now = self.clock.epoch_seconds();
        match self
            .orders
            .claim_control(&self.control_claim(order, owner, now))
            .await
        {
            Ok(Some(record)) => Ok(record),
            Ok(None) => match self.orders.get(&order.shop_id, &order.order_id).await {
                Ok(None) => {
                    tracing::warn!("request for an order the bridge never saw: acknowledged");
                    Err(Disposition::Done)
                }
                Ok(Some(record)) if record.label == Label::Cancelled => {
                    tracing::info!("order already cancelled: request acknowledged");
                    Err(Disposition::Done)
                }
                Ok(Some(record)) => {
                    // A transfer holds the order; it usually ends within
                    // seconds, so the request is back after the back-off,
                    // at the latest when the lease runs out.
                    let left = record.lease_until.map_or(0, |until| until - now);
                    let backoff = crate::domain::lifecycle::retry_delay_seconds(
                        message.receive_count,
                        self.settings.retry_base_seconds,
                        self.settings.retry_cap_seconds,
                    );
                    let delay = backoff.min(left.clamp(0, 900) as i32 + 1);
                    tracing::info!(
                        lease_until = record.lease_until,
                        retry_in_seconds = delay,
                        "order leased; request retried"
                    );
                    self.delay_redelivery(message, delay).await;
                    Err(Disposition::Retry)
                }
                Err(error) => {
                    tracing::warn!(%error, "order read failed; request retried");
                    Err(Disposition::Retry)
                }
            },
            Err(error) => {
                tracing::warn!(%error, "could not take the order's lease; request retried");
                Err(Disposition::Retry)
            }
        }
    }

    /// A transient problem in the middle of a request: the lease is
    /// released with a history note and the request comes back later.
    async fn request_will_retry(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        owner: &LeaseOwner,
        what: &str,
        failure: &TransferFailure,
    ) -> Disposition {
        tracing::warn!(%failure, "{what} will be retried");
        let note = format!("{what}: will retry: {failure}");
        let now = self.clock.epoch_seconds();
        if let Err(error) = self
            .orders
            .release_control(&order.shop_id, &order.order_id, owner, &note, now)
            .await
        {
            tracing::warn!(%error, "could not release the order's lease");
        }
        let delay = crate::domain::lifecycle::retry_delay_seconds(
            message.receive_count,
            self.settings.retry_base_seconds,
            self.settings.retry_cap_seconds,
        );
        self.delay_redelivery(message, delay).await;
        Disposition::Retry
    }

    /// `order.cancelled`.
    pub(super) async fn cancel(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        deadline: Instant,
    ) -> Disposition {
        let owner = LeaseOwner::new(&message.message_id, message.receive_count);
        let record = match self.take_for_request(message, order, &owner).await {
            Ok(record) => record,
            Err(disposition) => return disposition,
        };
        let reason = match self.withdraw_invoice(&record, deadline).await {
            Ok(reason) => reason,
            Err(failure)
                if failure.is_transient()
                    && message.receive_count < self.settings.max_receive_count =>
            {
                return self
                    .request_will_retry(message, order, &owner, "cancellation", &failure)
                    .await
            }
            // The order is cancelled all the same (also when e-conomic did
            // not answer on the last allowed delivery: a dead-lettered
            // cancellation would leave the order ok); what could not be
            // checked is said, so a person looks.
            Err(failure) => format!(
                "cancelled by the shop, but its invoice in e-conomic could not be checked \
                 ({failure}); look for a draft with the order's reference and delete it by hand"
            ),
        };
        let now = self.clock.epoch_seconds();
        let expires_at = now + self.settings.ok_record_ttl_days * 86_400;
        match self
            .orders
            .mark_cancelled(
                &order.shop_id,
                &order.order_id,
                &owner,
                &reason,
                now,
                expires_at,
            )
            .await
        {
            Ok(()) => {
                tracing::info!(label = Label::Cancelled.as_str(), %reason, "order cancelled");
                let cancelled = LabelChange::new(&order.shop_id, &order.order_id, Label::Cancelled)
                    .with_reason(reason.as_str());
                self.notifier.label_changed(&cancelled).await;
                Disposition::Done
            }
            Err(error) => {
                tracing::warn!(%error, "could not label the order cancelled; retrying");
                Disposition::Retry
            }
        }
    }

    /// Deletes the order's draft if the bridge made one; returns the
    /// cancellation's reason.
    async fn withdraw_invoice(
        &self,
        record: &OrderRecord,
        deadline: Instant,
    ) -> Result<String, TransferFailure> {
        if let Some(booked) = record.booked_invoice_number {
            return Ok(booked_reason(booked));
        }
        if record.draft_invoice_number.is_none() && !record.create_started {
            return Ok("cancelled by the shop before it was invoiced: no invoice was made".into());
        }
        let (shop, plan) = self.plan_for_request(record).await?;
        let found = self
            .invoicing
            .find_invoice(
                &shop.economic,
                plan.document,
                &plan.reference,
                record.draft_invoice_number,
                deadline,
            )
            .await
            .map_err(TransferFailure::Invoicing)?;
        Ok(match found {
            FoundInvoice::None => {
                "cancelled by the shop: e-conomic holds no invoice for it (none was made, or \
                 its draft was deleted there)"
                    .into()
            }
            FoundInvoice::Booked(booked) => booked_reason(booked),
            FoundInvoice::Draft(number) => {
                let deleted = self
                    .invoicing
                    .delete_own_draft(
                        &shop.economic,
                        plan.document,
                        &plan.reference,
                        number,
                        deadline,
                    )
                    .await
                    .map_err(TransferFailure::Invoicing)?;
                let draft = plan.document.noun();
                if deleted {
                    format!("cancelled by the shop: its {draft} {number} was deleted in e-conomic")
                } else {
                    format!(
                        "cancelled by the shop: its {draft} {number} was already gone from \
                         e-conomic"
                    )
                }
            }
        })
    }

    async fn plan_for_request(
        &self,
        record: &OrderRecord,
    ) -> Result<
        (
            crate::domain::shop::ShopConfig,
            crate::domain::mapping::InvoicePlan,
        ),
        TransferFailure,
    > {
        match self.plan(record, false).await {
            Ok(planned) => Ok(planned),
            Err(super::Failure::Failed(failure)) => Err(failure),
            Err(super::Failure::Busy) => Err(TransferFailure::Store("busy".into())),
        }
    }

    /// `order.resend`: `Some` is the disposition; `None` means the ordinary
    /// transfer runs (a failed order, re-opened by the claim).
    pub(super) async fn resend_from_shop(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        deadline: Instant,
    ) -> Option<Disposition> {
        let record = match self.orders.get(&order.shop_id, &order.order_id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                tracing::warn!("re-send of an order the bridge never saw: acknowledged");
                return Some(Disposition::Done);
            }
            Err(error) => {
                tracing::warn!(%error, "order read failed; re-send retried");
                return Some(Disposition::Retry);
            }
        };
        match record.label {
            Label::Failed => None,
            Label::Ok => Some(self.resend_ok(message, order, deadline).await),
            other => {
                tracing::info!(
                    label = other.as_str(),
                    "re-send has nothing to do: acknowledged"
                );
                Some(Disposition::Done)
            }
        }
    }

    async fn resend_ok(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        deadline: Instant,
    ) -> Disposition {
        let owner = LeaseOwner::new(&message.message_id, message.receive_count);
        let record = match self.take_for_request(message, order, &owner).await {
            Ok(record) if record.label == Label::Ok => record,
            // It changed meanwhile (re-sent already, say): just let go.
            Ok(_) => {
                let now = self.clock.epoch_seconds();
                let _ = self
                    .orders
                    .release_control(
                        &order.shop_id,
                        &order.order_id,
                        &owner,
                        "re-send: nothing to do",
                        now,
                    )
                    .await;
                return Disposition::Done;
            }
            Err(disposition) => return disposition,
        };
        let decided = match self.invoice_still_there(&record, deadline).await {
            Ok(decided) => decided,
            Err(failure) if failure.is_transient() => {
                return self
                    .request_will_retry(message, order, &owner, "re-send", &failure)
                    .await
            }
            Err(failure) => OkResend::Refused(format!(
                "re-send refused: e-conomic could not be asked whether the invoice still \
                 exists ({failure})"
            )),
        };
        let now = self.clock.epoch_seconds();
        match decided {
            OkResend::Refused(reason) => {
                tracing::warn!(%reason, "re-send of an ok order refused");
                match self
                    .orders
                    .release_control(&order.shop_id, &order.order_id, &owner, &reason, now)
                    .await
                {
                    Ok(()) => Disposition::Done,
                    Err(_) => Disposition::Retry,
                }
            }
            OkResend::Reopened(why) => {
                let rescan_after = now + self.settings.rescan_min_age_seconds;
                if let Err(error) = self
                    .orders
                    .reopen_ok(
                        &order.shop_id,
                        &order.order_id,
                        &owner,
                        &why,
                        now,
                        rescan_after,
                    )
                    .await
                {
                    tracing::warn!(%error, "could not re-open the order; retrying");
                    return Disposition::Retry;
                }
                tracing::info!(%why, "ok order re-opened by the shop");
                let again = OrderMessage {
                    cause: Cause::Resend,
                    ..order.clone()
                };
                if let Err(error) = self.queue.enqueue(&again).await {
                    // Pending and in the rescan index: rescan sends it.
                    tracing::warn!(%error, "enqueue failed; rescan re-sends the order");
                }
                Disposition::Done
            }
        }
    }

    async fn invoice_still_there(
        &self,
        record: &OrderRecord,
        deadline: Instant,
    ) -> Result<OkResend, TransferFailure> {
        let (shop, plan) = self.plan_for_request(record).await?;
        let found = self
            .invoicing
            .find_invoice(
                &shop.economic,
                plan.document,
                &plan.reference,
                record.draft_invoice_number,
                deadline,
            )
            .await
            .map_err(TransferFailure::Invoicing)?;
        let draft = plan.document.noun();
        let recorded = record
            .draft_invoice_number
            .map(|n| format!("{draft} {n}"))
            .unwrap_or_else(|| "its invoice".to_owned());
        Ok(match found {
            FoundInvoice::None => OkResend::Reopened(format!(
                "re-sent by the shop: {recorded} is no longer in e-conomic (deleted there); a new \
                 one is made"
            )),
            FoundInvoice::Draft(number) => {
                let state = match plan.document {
                    DraftDocument::InvoiceDraft => "already invoiced",
                    DraftDocument::OrderDraft => "already in e-conomic",
                };
                OkResend::Refused(format!(
                    "re-send refused: the order is {state} ({draft} {number} in e-conomic); \
                     delete that draft in e-conomic first to have a new one made"
                ))
            }
            FoundInvoice::Booked(number) => OkResend::Refused(format!(
                "re-send refused: the order is invoiced and booked (invoice {number}); a booked \
                 invoice is corrected with a credit note, not by sending the order again"
            )),
        })
    }
}

fn booked_reason(booked: u32) -> String {
    format!(
        "cancelled by the shop after invoice {booked} was booked: a booked invoice cannot be \
         deleted; it stands until a credit note reverses it"
    )
}
