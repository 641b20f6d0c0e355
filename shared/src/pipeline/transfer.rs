//! Transfer: one queue message → one order's invoice in e-conomic.
//!
//! Per message: claim the order's lease (conditional write) → load the shop
//! → map the stored snapshot → mark `create_started` → push the invoice →
//! label `e-conomic-ok`. A message for an `ok` order is acknowledged as a
//! duplicate; a `failed` order received again (a DLQ replay) is moved back
//! to pending by the claim.
//!
//! Failures:
//! * permanent (mapping, e-conomic 4xx, unknown shop, bad snapshot) → label
//!   `e-conomic-failed` with the reason, copy the message to the DLQ with
//!   attributes `reason`/`shop_id`/`order_id`, acknowledge;
//! * transient (e-conomic 5xx/429/timeouts, DynamoDB trouble) → keep
//!   pending, record the error, delay the next delivery by
//!   `base × 2^(receive_count−1)` (capped) and report a batch item failure;
//!   on the last allowed receive (`MAX_RECEIVE_COUNT`) label failed and
//!   dead-letter it ourselves, so label and DLQ agree.

use crate::config::ShopConfig;
use crate::economic::{push_invoice, EconomicClient, EconomicError, PushOptions};
use crate::mapping::map_order;
use crate::order::parse_order;
use crate::queue::{retry_delay_seconds, Cause, OrderMessage, Queues};
use crate::store::{Label, OrderRecord, OrderStore, PushResult, ShopStore, StoreError};
use std::time::{Duration, Instant};
use tracing::Instrument;

#[derive(Debug, Clone)]
pub struct TransferSettings {
    /// How long a claim keeps other workers off the order. Longer than the
    /// function timeout, so a live attempt is never overtaken.
    pub lease_seconds: i64,
    /// Receives before the message is dead-lettered (same value as the
    /// queue's redrive policy).
    pub max_receive_count: u32,
    pub retry_base_seconds: u32,
    pub retry_cap_seconds: u32,
    /// Added to every `rescan_after` we set.
    pub rescan_min_age_seconds: i64,
    /// `ok` records expire this many days after the transfer.
    pub ok_record_ttl_days: i64,
}

impl Default for TransferSettings {
    fn default() -> Self {
        TransferSettings {
            lease_seconds: 120,
            max_receive_count: crate::store::provision::DEFAULT_MAX_RECEIVE_COUNT,
            retry_base_seconds: 30,
            retry_cap_seconds: 900,
            rescan_min_age_seconds: 300,
            ok_record_ttl_days: 90,
        }
    }
}

/// One received SQS message, without Lambda types.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub message_id: String,
    pub receipt_handle: Option<String>,
    pub body: String,
    /// SQS `ApproximateReceiveCount` (1 on the first delivery).
    pub receive_count: u32,
}

/// What to tell SQS about the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Done (transferred, duplicate, or dead-lettered): delete it.
    Done,
    /// Report as a batch item failure: SQS delivers it again later.
    Retry,
}

enum Failure {
    Permanent(String),
    Transient(String),
    /// Someone else holds the order right now (or took it over).
    Busy,
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Failure::Busy,
            other => Failure::Transient(other.to_string()),
        }
    }
}

#[derive(Debug)]
pub struct Transfer {
    shops: ShopStore,
    orders: OrderStore,
    queues: Queues,
    economic: EconomicClient,
    settings: TransferSettings,
}

impl Transfer {
    pub fn new(
        shops: ShopStore,
        orders: OrderStore,
        queues: Queues,
        economic: EconomicClient,
        settings: TransferSettings,
    ) -> Self {
        Transfer {
            shops,
            orders,
            queues,
            economic,
            settings,
        }
    }

    pub fn settings(&self) -> &TransferSettings {
        &self.settings
    }

    /// Processes one message; never panics, never returns an error: every
    /// outcome is a disposition.
    pub async fn process(&self, message: &InboundMessage, deadline: Instant) -> Disposition {
        let parsed: Result<OrderMessage, _> = serde_json::from_str(&message.body);
        let Ok(order_message) = parsed else {
            tracing::error!(message_id = %message.message_id, "malformed transfer message");
            return match self
                .queues
                .dead_letter(&message.body, "-", "-", "malformed transfer message")
                .await
            {
                Ok(()) => Disposition::Done,
                Err(_) => Disposition::Retry,
            };
        };
        let span = tracing::info_span!(
            "transfer",
            shop_id = %order_message.shop_id,
            order_id = %order_message.order_id,
            attempt = message.receive_count,
            cause = order_message.cause.as_str(),
        );
        self.process_order(message, &order_message, deadline)
            .instrument(span)
            .await
    }

    async fn process_order(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        deadline: Instant,
    ) -> Disposition {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let owner = format!("{}#{}", message.message_id, message.receive_count);
        let claimed = match self
            .orders
            .claim(
                &order.shop_id,
                &order.order_id,
                &owner,
                now,
                now + self.settings.lease_seconds,
                now + self.settings.lease_seconds + self.settings.rescan_min_age_seconds,
                order.cause == Cause::DeadLettered,
            )
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                return self
                    .transient(message, order, &owner, &error.to_string(), false)
                    .await
            }
        };
        let Some(record) = claimed else {
            return self.claim_refused(message, order).await;
        };
        tracing::info!(
            attempts = record.attempts,
            create_started = record.create_started,
            "order claimed"
        );

        match self.transfer(&record, &owner, deadline).await {
            Ok(()) => Disposition::Done,
            Err(Failure::Permanent(reason)) => self.permanent(message, order, &reason).await,
            Err(Failure::Transient(reason)) => {
                self.transient(message, order, &owner, &reason, true).await
            }
            Err(Failure::Busy) => {
                tracing::warn!("lease lost to another attempt; leaving the order to it");
                Disposition::Retry
            }
        }
    }

    async fn transfer(
        &self,
        record: &OrderRecord,
        owner: &str,
        deadline: Instant,
    ) -> Result<(), Failure> {
        let shop: ShopConfig = match self.shops.get(&record.shop_id).await? {
            Some(shop) if shop.enabled => shop,
            Some(_) => return Err(Failure::Permanent("shop is disabled".to_owned())),
            None => return Err(Failure::Permanent("unknown shop".to_owned())),
        };
        let snapshot = record
            .snapshot
            .as_deref()
            .ok_or_else(|| Failure::Permanent("no order snapshot stored".to_owned()))?;
        let parsed = parse_order(snapshot)
            .map_err(|e| Failure::Permanent(format!("stored order is invalid: {e}")))?;
        let plan = map_order(&parsed, &shop.mapping).map_err(|e| {
            tracing::warn!(error = %e, "mapping failed");
            Failure::Permanent(e.to_string())
        })?;

        // Before the first call that could create anything: a crash after
        // this point makes the next attempt look for an existing invoice.
        let may_exist = record.create_started;
        self.orders
            .mark_create_started(&record.shop_id, &record.order_id, owner)
            .await?;
        tracing::info!(may_exist, reference = %plan.reference, "pushing invoice");

        let api = self.economic.for_agreement(
            shop.economic.app_secret_token.clone(),
            shop.economic.agreement_grant_token.clone(),
        );
        let outcome = push_invoice(
            &api,
            &plan,
            PushOptions {
                may_exist,
                deadline,
            },
        )
        .await
        .map_err(|e: EconomicError| {
            if e.is_transient() {
                Failure::Transient(e.reason())
            } else {
                Failure::Permanent(e.reason())
            }
        })?;

        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let result = PushResult {
            customer_number: outcome.customer_number,
            draft_invoice_number: outcome.draft_invoice_number,
            booked_invoice_number: outcome.booked_invoice_number,
            economic_calls: outcome.calls,
        };
        self.orders
            .mark_ok(
                &record.shop_id,
                &record.order_id,
                &result,
                now,
                now + self.settings.ok_record_ttl_days * 86_400,
            )
            .await
            // The invoice exists; a retry finds it (create_started is set).
            .map_err(|e| Failure::Transient(e.to_string()))?;
        tracing::info!(
            label = Label::Ok.as_str(),
            draft_invoice_number = outcome.draft_invoice_number,
            booked_invoice_number = outcome.booked_invoice_number,
            customer_number = outcome.customer_number,
            economic_calls = outcome.calls,
            reused_existing = outcome.reused_existing,
            "order transferred"
        );
        Ok(())
    }

    /// The claim was refused: find out why.
    async fn claim_refused(&self, message: &InboundMessage, order: &OrderMessage) -> Disposition {
        match self.orders.get(&order.shop_id, &order.order_id).await {
            Ok(None) => {
                self.permanent(message, order, "order not found in the bridge's store")
                    .await
            }
            Ok(Some(record)) => match record.label {
                Label::Ok => {
                    tracing::info!("order already transferred; duplicate message acknowledged");
                    Disposition::Done
                }
                Label::Recorded => {
                    tracing::warn!("order not ready for transfer; message acknowledged");
                    Disposition::Done
                }
                // A failed order waits for a person; only a replayed dead
                // letter (or a re-send, which re-pends it) re-opens it. This
                // copy predates the failure: re-opening it would leave an
                // `ok` order with a message in the dead-letter queue.
                Label::Failed if order.cause != Cause::DeadLettered => {
                    tracing::info!(
                        cause = order.cause.as_str(),
                        "order already failed; an older copy of its message is acknowledged"
                    );
                    Disposition::Done
                }
                Label::Pending | Label::Failed => {
                    let now = time::OffsetDateTime::now_utc().unix_timestamp();
                    match refused_while_leased(
                        &message.message_id,
                        record.lease_owner.as_deref(),
                        record.lease_until,
                        now,
                    ) {
                        // Spinning on the lease would use up this copy's
                        // receives and let SQS dead-letter it while the
                        // order ends ok. The holder's own message (or
                        // rescan, if that attempt dies) finishes the order.
                        Refused::Duplicate => {
                            tracing::info!(
                                lease_owner = record.lease_owner.as_deref(),
                                "another delivery of this order holds its lease; duplicate message acknowledged"
                            );
                            Disposition::Done
                        }
                        Refused::RetryIn(seconds) => {
                            tracing::info!(
                                lease_until = record.lease_until,
                                retry_in_seconds = seconds,
                                "order is leased by an earlier receive of this message; retry after the lease"
                            );
                            if let Some(handle) = &message.receipt_handle {
                                if let Err(error) = self.queues.delay_retry(handle, seconds).await {
                                    tracing::warn!(%error, "could not delay the retry; SQS visibility timeout applies");
                                }
                            }
                            Disposition::Retry
                        }
                    }
                }
            },
            Err(error) => {
                tracing::warn!(%error, "order read failed after a refused claim");
                Disposition::Retry
            }
        }
    }

    async fn permanent(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        reason: &str,
    ) -> Disposition {
        // The dead letter first, then the label: a crash in between leaves a
        // pending order whose message comes back (and a dead letter that
        // rescan removes if the order then ends ok), never a failed order
        // without its dead letter.
        let dead_letter = OrderMessage {
            cause: Cause::DeadLettered,
            ..order.clone()
        };
        let body = serde_json::to_string(&dead_letter).unwrap_or_else(|_| message.body.clone());
        if let Err(error) = self
            .queues
            .dead_letter(&body, &order.shop_id, &order.order_id, reason)
            .await
        {
            tracing::error!(%error, "dead-letter send failed; retrying");
            return Disposition::Retry;
        }
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        match self
            .orders
            .mark_failed(&order.shop_id, &order.order_id, reason, now)
            .await
        {
            Ok(()) => {
                tracing::warn!(label = Label::Failed.as_str(), %reason, "order failed permanently");
                Disposition::Done
            }
            // No such order, or it became ok meanwhile (rescan removes the
            // dead letter then).
            Err(StoreError::Conflict) => Disposition::Done,
            Err(error) => {
                tracing::warn!(%error, "could not label the order failed; retrying");
                Disposition::Retry
            }
        }
    }

    async fn transient(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        owner: &str,
        reason: &str,
        holds_lease: bool,
    ) -> Disposition {
        if message.receive_count >= self.settings.max_receive_count {
            // The transient wording promises a retry; this was the last one.
            let last_error = reason.replace("; the order will be retried automatically", "");
            let reason = format!(
                "gave up after {} attempts: {last_error}; re-send the order once e-conomic answers again",
                message.receive_count
            );
            return self.permanent(message, order, &reason).await;
        }
        let delay = retry_delay_seconds(
            message.receive_count,
            self.settings.retry_base_seconds,
            self.settings.retry_cap_seconds,
        );
        tracing::warn!(%reason, retry_in_seconds = delay, "transient failure; will retry");
        if holds_lease {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if let Err(error) = self
                .orders
                .record_transient(
                    &order.shop_id,
                    &order.order_id,
                    owner,
                    reason,
                    now,
                    now + i64::from(delay) + self.settings.rescan_min_age_seconds,
                )
                .await
            {
                // The lease expires on its own; the retry still happens.
                tracing::warn!(%error, "could not record the transient failure");
            }
        }
        if let Some(handle) = &message.receipt_handle {
            if let Err(error) = self.queues.delay_retry(handle, delay).await {
                tracing::warn!(%error, "could not delay the retry; SQS visibility timeout applies");
            }
        }
        Disposition::Retry
    }
}

/// What a message does when its order is pending under a lease it could
/// not take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Another message holds a live lease: this copy is redundant.
    Duplicate,
    /// An earlier receive of this same message (or nobody, by now) holds it:
    /// try again once the lease has run out.
    RetryIn(i32),
}

/// Lease owners are `<message id>#<receive count>`.
fn refused_while_leased(
    message_id: &str,
    lease_owner: Option<&str>,
    lease_until: Option<i64>,
    now: i64,
) -> Refused {
    let holder_message =
        lease_owner.map(|owner| owner.rsplit_once('#').map_or(owner, |(id, _)| id));
    let lease_left = lease_until.map_or(0, |until| until - now);
    match holder_message {
        Some(holder) if holder != message_id && lease_left > 0 => Refused::Duplicate,
        _ => Refused::RetryIn(lease_left.clamp(0, 900) as i32 + 1),
    }
}

/// The deadline for work started now: the invocation deadline minus a
/// margin for writing the outcome.
pub fn work_deadline(remaining: Duration, margin: Duration) -> Instant {
    Instant::now() + remaining.saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::{refused_while_leased, Refused};

    #[test]
    fn a_copy_of_an_order_leased_by_another_message_is_a_duplicate() {
        assert_eq!(
            refused_while_leased("m2", Some("m1#3"), Some(1_100), 1_000),
            Refused::Duplicate
        );
    }

    #[test]
    fn the_same_message_waits_for_its_earlier_receives_lease() {
        assert_eq!(
            refused_while_leased("m1", Some("m1#2"), Some(1_030), 1_000),
            Refused::RetryIn(31)
        );
    }

    #[test]
    fn an_expired_or_missing_lease_is_retried_at_once() {
        assert_eq!(
            refused_while_leased("m2", Some("m1#3"), Some(990), 1_000),
            Refused::RetryIn(1)
        );
        assert_eq!(
            refused_while_leased("m2", None, None, 1_000),
            Refused::RetryIn(1)
        );
    }
}
