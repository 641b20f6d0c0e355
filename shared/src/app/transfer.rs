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
//!   dead-letter it ourselves, so label and DLQ agree. Before that, an order
//!   whose invoice may exist gets one last look by its reference: an invoice
//!   found is completed and the order ends ok (the label never says failed
//!   while the books hold the invoice); the last look creates nothing.

mod budget;
mod payment;
mod refund;
mod refund_lines;

pub use payment::{PAYMENT_KEY_TRUST_SECONDS, PAYMENT_NOT_REGISTERED};

pub use refund::REFUND_WAIT_SECONDS;

use crate::app::order_metrics;

#[path = "transfer_control.rs"]
mod control;

use crate::app::notify::{LabelNotifier, NoNotifier, RecordedNotification};
use crate::domain::lifecycle::trigger_arrival;
use crate::domain::lifecycle::{retry_delay_seconds, Label, LeaseOwner, OrderRecord, PushOutcome};
use crate::domain::mapping::{
    map_order_with, vat_number_to_check, InvoicePlan, MappingError, MappingInputs,
};
use crate::domain::notify::{InvoiceNumbers, LabelChange};
use crate::domain::order::refund::split_refund_record_id;
use crate::domain::platform::order_from_snapshot;
use crate::domain::shop::EconomicCredentials;
use crate::domain::shop::ShopConfig;
use crate::domain::vat_number::VatNumberCheck;
use crate::metrics::{self, Metric};
use crate::ports::{
    Cause, Claim, Clock, CreditStore, FoundInvoice, InboundMessage, Invoicing, InvoicingError,
    NoShopRefunds, NoVatRegistry, OkNotification, OrderControl, OrderMessage, OrderStore,
    PaymentStore, PushOptions, ShopReadError, ShopRefunds, ShopStore, StoreError, TransferQueue,
    VatRegistry, VatRegistryUnavailable,
};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
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
            max_receive_count: crate::domain::lifecycle::DEFAULT_MAX_RECEIVE_COUNT,
            retry_base_seconds: 30,
            retry_cap_seconds: 900,
            rescan_min_age_seconds: 300,
            ok_record_ttl_days: 90,
        }
    }
}

/// What to tell SQS about the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Done (transferred, duplicate, or dead-lettered): delete it.
    Done,
    /// Report as a batch item failure: SQS delivers it again later.
    Retry,
}

/// Why an order could not be transferred: what the label and the dead
/// letter say, in words a merchant can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferFailure {
    UnknownShop,
    ShopDisabled,
    OrderNotFound,
    MalformedMessage,
    NoSnapshot,
    InvalidSnapshot(String),
    Mapping(MappingError),
    Invoicing(InvoicingError),
    /// The bridge's own store failed (always transient).
    Store(String),
    /// A refund that cannot become a credit note (permanent).
    Refund(String),
    /// VIES did not answer: the order stays pending (always transient).
    VatRegistry(VatRegistryUnavailable),
    /// The shop's API did not give a refund's lines.
    ShopRead(ShopReadError),
    /// The last allowed delivery failed transiently.
    GaveUp {
        attempts: u32,
        last: Box<TransferFailure>,
    },
}

impl TransferFailure {
    /// Retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            TransferFailure::Invoicing(error) => error.transient,
            TransferFailure::ShopRead(error) => error.transient,
            TransferFailure::Store(_) | TransferFailure::VatRegistry(_) => true,
            _ => false,
        }
    }

    /// A different shop configuration could have avoided it.
    fn depends_on_shop_configuration(&self) -> bool {
        matches!(
            self,
            TransferFailure::UnknownShop
                | TransferFailure::ShopDisabled
                // A platform order is translated with the shop's settings.
                | TransferFailure::InvalidSnapshot(_)
                | TransferFailure::Mapping(_)
        )
    }

    /// What went wrong, without any promise of a retry.
    fn cause(&self) -> String {
        match self {
            TransferFailure::UnknownShop => "unknown shop".to_owned(),
            TransferFailure::ShopDisabled => "shop is disabled".to_owned(),
            TransferFailure::OrderNotFound => "order not found in the bridge's store".to_owned(),
            TransferFailure::MalformedMessage => "malformed transfer message".to_owned(),
            TransferFailure::NoSnapshot => "no order snapshot stored".to_owned(),
            TransferFailure::InvalidSnapshot(error) => format!("stored order is invalid: {error}"),
            TransferFailure::Mapping(error) => error.to_string(),
            TransferFailure::Invoicing(error) => error.reason.clone(),
            TransferFailure::Store(error) => error.clone(),
            TransferFailure::Refund(reason) => reason.clone(),
            TransferFailure::ShopRead(error) => error.reason.clone(),
            TransferFailure::VatRegistry(error) => format!(
                "{error}; the customer's VAT number decides whether the sale is exempt, so the \
                 order waits for VIES rather than guess"
            ),
            TransferFailure::GaveUp { attempts, last } => format!(
                "gave up after {attempts} attempts: {}; re-send the order once {} answers again",
                last.cause(),
                match **last {
                    TransferFailure::ShopRead(_) => "the shop",
                    _ => "e-conomic",
                }
            ),
        }
    }
}

impl fmt::Display for TransferFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cause())?;
        if matches!(self, TransferFailure::Invoicing(e) if e.transient)
            || matches!(self, TransferFailure::ShopRead(e) if e.transient)
            || matches!(self, TransferFailure::VatRegistry(_))
        {
            f.write_str("; the order will be retried automatically")?;
        }
        Ok(())
    }
}

/// What a push may do: every attempt may create the invoice; the last look
/// before giving up only completes one an earlier push created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PushMode {
    Create,
    CompleteOnly,
}

/// Whether `transfer` records the `ok` notification with the label
/// (`mark_ok`) for a shop with a `notify` target, instead of
/// [`Transfer::transferred`] recording it in a write of its own.
enum OkNotificationFold {
    /// Not on this path (the last look, …).
    No,
    /// Yes, once the `pending` announce running beside the transfer has
    /// recorded its notification (`pending_recorded`'s sender is dropped).
    /// That announce starts when `create_started` is dropped: after the
    /// `create_started` write, so its record overlaps the e-conomic calls
    /// instead of the transfer's own writes.
    AfterPending {
        create_started: oneshot::Sender<()>,
        pending_recorded: oneshot::Receiver<()>,
    },
}

/// An order transferred: what the push left, and its `ok` notification
/// when `mark_ok` recorded it.
struct Transferred {
    outcome: PushOutcome,
    notification: Option<RecordedNotification>,
}

enum Failure {
    Failed(TransferFailure),
    /// Someone else holds the order right now (or took it over).
    Busy,
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Failure::Busy,
            other => Failure::Failed(TransferFailure::Store(other.to_string())),
        }
    }
}

impl From<TransferFailure> for Failure {
    fn from(failure: TransferFailure) -> Self {
        Failure::Failed(failure)
    }
}

/// Transfer over its ports: the order and shop stores, the queue, the
/// accounting system, the clock and the VAT number registry (none until
/// [`Transfer::with_vat_registry`]) and where label changes are announced
/// (nowhere until [`Transfer::with_notifier`]), and where refunds' lines
/// are read from shops (nowhere until [`Transfer::with_shop_refunds`]).
#[derive(Debug)]
pub struct Transfer<O, S, Q, I, C, R = NoVatRegistry, N = NoNotifier> {
    orders: O,
    shops: S,
    queue: Q,
    invoicing: I,
    clock: C,
    vat_registry: R,
    notifier: N,
    shop_refunds: Arc<dyn ShopRefunds>,
    settings: TransferSettings,
}

impl<O, S, Q, I, C> Transfer<O, S, Q, I, C, NoVatRegistry> {
    pub fn new(
        orders: O,
        shops: S,
        queue: Q,
        invoicing: I,
        clock: C,
        settings: TransferSettings,
    ) -> Self {
        Transfer {
            orders,
            shops,
            queue,
            invoicing,
            clock,
            vat_registry: NoVatRegistry,
            notifier: NoNotifier,
            shop_refunds: Arc::new(NoShopRefunds),
            settings,
        }
    }
}

impl<O, S, Q, I, C, R, N> Transfer<O, S, Q, I, C, R, N> {
    /// Verifies customers' EU VAT numbers with `registry` (VIES).
    pub fn with_vat_registry<R2: VatRegistry>(
        self,
        registry: R2,
    ) -> Transfer<O, S, Q, I, C, R2, N> {
        Transfer {
            orders: self.orders,
            shops: self.shops,
            queue: self.queue,
            invoicing: self.invoicing,
            clock: self.clock,
            vat_registry: registry,
            notifier: self.notifier,
            shop_refunds: self.shop_refunds,
            settings: self.settings,
        }
    }

    /// Announces every label change through `notifier`.
    pub fn with_notifier<N2: LabelNotifier>(self, notifier: N2) -> Transfer<O, S, Q, I, C, R, N2> {
        Transfer {
            orders: self.orders,
            shops: self.shops,
            queue: self.queue,
            invoicing: self.invoicing,
            clock: self.clock,
            vat_registry: self.vat_registry,
            notifier,
            shop_refunds: self.shop_refunds,
            settings: self.settings,
        }
    }

    /// Reads the lines of refunds whose webhooks lack them (WooCommerce)
    /// through `reader`.
    pub fn with_shop_refunds(self, reader: Arc<dyn ShopRefunds>) -> Self {
        Transfer {
            shop_refunds: reader,
            ..self
        }
    }
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
    pub fn settings(&self) -> &TransferSettings {
        &self.settings
    }

    /// Processes one message; never panics, never returns an error: every
    /// outcome is a disposition.
    pub async fn process(&self, message: &InboundMessage, deadline: Instant) -> Disposition {
        let parsed: Result<OrderMessage, _> = serde_json::from_str(&message.body);
        let Ok(order_message) = parsed else {
            tracing::error!(message_id = %message.message_id, "malformed transfer message");
            let reason = TransferFailure::MalformedMessage.to_string();
            return match self
                .queue
                .dead_letter(&message.body, "-", "-", &reason)
                .await
            {
                Ok(()) => Disposition::Done,
                Err(_) => Disposition::Retry,
            };
        };
        // Receives of the order's earlier messages count (see `budget`).
        let message = &*budget::carried_over(message);
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
        match order.cause {
            Cause::Cancel => return self.cancel(message, order, deadline).await,
            Cause::ShopResend => {
                if let Some(done) = self.resend_from_shop(message, order, deadline).await {
                    return done;
                }
            }
            _ => {}
        }
        if let Some(handed_back) = self.hand_back_if_budget_spent(message, order).await {
            return handed_back;
        }
        let now = self.clock.epoch_seconds();
        let owner = LeaseOwner::new(&message.message_id, message.receive_count);
        let lease_until = now + self.settings.lease_seconds;
        let claim = Claim {
            shop_id: &order.shop_id,
            order_id: &order.order_id,
            owner: &owner,
            now,
            lease_until,
            rescan_after: lease_until + self.settings.rescan_min_age_seconds,
            // A replayed dead letter, or the shop re-sending the order.
            reopen_failed: matches!(order.cause, Cause::DeadLettered | Cause::ShopResend),
        };
        let claimed = match self.orders.claim(&claim).await {
            Ok(claimed) => claimed,
            Err(error) => {
                let failure = TransferFailure::Store(error.to_string());
                return self.transient(message, order, None, failure).await;
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
        metrics::record(Metric::TransferAttempts, 1, Some(&order.shop_id));

        // The order (re-)entered pending (its first attempt, or a re-send):
        // announced alongside the e-conomic calls, so it adds no time to the
        // transfer, and before any later label is (a repeat is not
        // announced again; the `ok` write that records its notification
        // waits for its record, and `ok` is queued after it).
        let (create_started, start_announce) = oneshot::channel::<()>();
        let (pending_recorded, after_pending) = oneshot::channel();
        let announce_pending = async {
            // Started, or the transfer ended before it could be.
            let _ = start_announce.await;
            if record.attempts == 1 || order.cause != Cause::Webhook {
                let pending = LabelChange::new(&order.shop_id, &order.order_id, Label::Pending);
                self.notifier
                    .label_changed_noting_record(&pending, pending_recorded)
                    .await;
            }
        };
        let (transferred, ()) = tokio::join!(
            self.transfer(
                &record,
                &owner,
                deadline,
                PushMode::Create,
                OkNotificationFold::AfterPending {
                    create_started,
                    pending_recorded: after_pending,
                }
            ),
            announce_pending
        );
        match transferred {
            // A refund waiting for its order's invoice: nothing changed.
            Ok(None) => Disposition::Done,
            Ok(Some(done)) => {
                self.transferred(message, order, &record, &done.outcome, done.notification)
                    .await
            }
            Err(Failure::Failed(failure)) if failure.is_transient() => {
                if let Some(handed_back) = self
                    .hand_back_if_attempt_met_spent_budget(message, order, &owner, &failure)
                    .await
                {
                    return handed_back;
                }
                if message.receive_count >= self.settings.max_receive_count {
                    if let Some(outcome) = self.last_look(&record, &owner, deadline).await {
                        return self
                            .transferred(message, order, &record, &outcome, None)
                            .await;
                    }
                }
                self.transient(message, order, Some(&owner), failure).await
            }
            Err(Failure::Failed(failure)) => self.permanent(message, order, &failure).await,
            Err(Failure::Busy) => {
                tracing::warn!("lease lost to another attempt; leaving the order to it");
                Disposition::Retry
            }
        }
    }

    /// The order is ok: announce it (its `notify` notification only
    /// queued when `mark_ok` recorded it) and count it.
    async fn transferred(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        record: &OrderRecord,
        outcome: &PushOutcome,
        notification: Option<RecordedNotification>,
    ) -> Disposition {
        let ok = LabelChange::new(&order.shop_id, &order.order_id, Label::Ok)
            .with_invoice(InvoiceNumbers::from(outcome));
        match notification {
            Some(recorded) => self.notifier.label_recorded(&ok, recorded).await,
            None => self.notifier.label_changed(&ok).await,
        }
        let now_ms = (self.clock.now().unix_timestamp_nanos() / 1_000_000) as i64;
        let latency_ms = order_metrics::webhook_to_ok_ms(
            order.cause,
            message.sent_at_ms,
            record.pending_since,
            now_ms,
        );
        order_metrics::order_ok(&order.shop_id, latency_ms);
        Disposition::Done
    }

    /// The last allowed receive failed after its invoice may have been
    /// created (a lost answer, or the `ok` write failing): one look by the
    /// reference before giving up. An invoice found is completed (booked,
    /// if the shop books) and the order is ok; nothing is created here, and
    /// anything that goes wrong leaves the give-up as it was.
    async fn last_look(
        &self,
        record: &OrderRecord,
        owner: &LeaseOwner,
        deadline: Instant,
    ) -> Option<PushOutcome> {
        // The claim's copy predates this attempt's `create_started`.
        let current = match self.orders.get(&record.shop_id, &record.order_id).await {
            Ok(Some(current)) if current.create_started => current,
            _ => return None,
        };
        match self
            .transfer(
                &current,
                owner,
                deadline,
                PushMode::CompleteOnly,
                OkNotificationFold::No,
            )
            .await
            .map(|done| done.map(|done| done.outcome))
        {
            Ok(Some(outcome)) => {
                tracing::info!(
                    draft_invoice_number = outcome.draft_invoice_number,
                    booked_invoice_number = outcome.booked_invoice_number,
                    "last look before giving up found the invoice; order completed"
                );
                Some(outcome)
            }
            Ok(None) => None,
            Err(Failure::Failed(failure)) => {
                tracing::info!(reason = %failure, "last look before giving up completed nothing");
                None
            }
            Err(Failure::Busy) => None,
        }
    }

    /// Pushes `plan`; under [`PushMode::CompleteOnly`] only when an invoice
    /// carrying its reference exists already.
    async fn push_plan(
        &self,
        credentials: &EconomicCredentials,
        plan: &InvoicePlan,
        options: PushOptions,
        mode: PushMode,
    ) -> Result<PushOutcome, TransferFailure> {
        if mode == PushMode::CompleteOnly {
            let found = self
                .invoicing
                .find_invoice(
                    credentials,
                    plan.document,
                    &plan.reference,
                    None,
                    options.deadline,
                )
                .await
                .map_err(TransferFailure::Invoicing)?;
            if found == FoundInvoice::None {
                return Err(TransferFailure::Invoicing(InvoicingError {
                    transient: true,
                    reason: format!("no invoice carries the reference {}", plan.reference),
                }));
            }
        }
        let options = PushOptions {
            may_exist: options.may_exist || mode == PushMode::CompleteOnly,
            ..options
        };
        self.invoicing
            .push(credentials, plan, options)
            .await
            .map_err(TransferFailure::Invoicing)
    }

    async fn transfer(
        &self,
        record: &OrderRecord,
        owner: &LeaseOwner,
        deadline: Instant,
        mode: PushMode,
        fold: OkNotificationFold,
    ) -> Result<Option<Transferred>, Failure> {
        if let Some(keys) = split_refund_record_id(&record.order_id) {
            let outcome = self
                .transfer_refund(record, owner, deadline, keys, mode)
                .await?;
            return Ok(outcome.map(|outcome| Transferred {
                outcome,
                notification: None,
            }));
        }
        // The shop store may answer from a cache: an order is failed for
        // its shop's configuration only as the configuration stands now.
        let (shop, plan) = match self.plan(record, false).await {
            Err(Failure::Failed(failure)) if failure.depends_on_shop_configuration() => {
                self.plan(record, true).await?
            }
            planned => planned?,
        };

        // Before the first call that could create anything: a crash after
        // this point makes the next attempt look for an existing invoice.
        let may_exist = record.create_started;
        self.orders
            .mark_create_started(&record.shop_id, &record.order_id, owner)
            .await?;
        let pending_recorded = match fold {
            OkNotificationFold::AfterPending {
                create_started,
                pending_recorded,
            } => {
                drop(create_started);
                Some(pending_recorded)
            }
            OkNotificationFold::No => None,
        };
        tracing::info!(may_exist, reference = %plan.reference, "pushing invoice");

        let mut outcome = self
            .push_plan(
                &shop.economic,
                &plan,
                PushOptions {
                    may_exist,
                    deadline,
                },
                mode,
            )
            .await?;
        // Where the order contradicts the VAT rules and its figures were
        // kept, the order's history says so (the invoice's notes do too).
        for warning in &plan.warnings {
            tracing::warn!(warning = %warning, "order booked with a VAT warning");
        }
        outcome.warnings = plan.warnings.clone();
        self.save_credit_basis(record, &shop, &plan, &outcome)
            .await?;
        self.register_payment(record, owner, &shop, &plan, &outcome, deadline, mode)
            .await?;

        let ok_notification = match pending_recorded {
            Some(pending_recorded)
                if shop.notify.is_some() && self.notifier.records_notifications() =>
            {
                // `pending` gets the lower sequence: its record runs beside
                // the push and is almost always done by now.
                let _ = pending_recorded.await;
                OkNotification::Record
            }
            _ => OkNotification::Skip,
        };
        let now = self.clock.epoch_seconds();
        let sequence = self
            .orders
            .mark_ok(
                &record.shop_id,
                &record.order_id,
                &outcome,
                now,
                now + self.settings.ok_record_ttl_days * 86_400,
                ok_notification,
            )
            .await
            // The invoice exists; a retry finds it (create_started is set).
            .map_err(|e| TransferFailure::Store(e.to_string()))?;
        tracing::info!(
            label = Label::Ok.as_str(),
            draft_invoice_number = outcome.draft_invoice_number,
            booked_invoice_number = outcome.booked_invoice_number,
            customer_number = outcome.customer_number,
            economic_calls = outcome.calls,
            reused_existing = outcome.reused_existing,
            "order transferred"
        );
        Ok(Some(Transferred {
            outcome,
            notification: sequence.map(|sequence| RecordedNotification { sequence, at: now }),
        }))
    }

    /// The shop's configuration and the invoice it makes of the order's
    /// snapshot; `fresh` reads the configuration past any cache.
    async fn plan(
        &self,
        record: &OrderRecord,
        fresh: bool,
    ) -> Result<(ShopConfig, InvoicePlan), Failure> {
        let stored = if fresh {
            self.shops.get_fresh(&record.shop_id).await?
        } else {
            self.shops.get(&record.shop_id).await?
        };
        let shop = match stored {
            Some(shop) if shop.enabled => shop,
            Some(_) => return Err(TransferFailure::ShopDisabled.into()),
            None => return Err(TransferFailure::UnknownShop.into()),
        };
        let snapshot = record
            .snapshot
            .as_deref()
            .ok_or(TransferFailure::NoSnapshot)?;
        // A platform order (Shopify, WooCommerce) is translated here, with
        // the shop's current settings: one that cannot be invoiced exactly
        // fails with the platform field that says why.
        let parsed = order_from_snapshot(snapshot, shop.platform.as_ref())
            .map_err(|e| TransferFailure::InvalidSnapshot(e.to_string()))?;
        // An exemption rests on a verified VAT number (skat.dk); VIES down
        // keeps the order pending instead of guessing either way.
        let vat_number_check = match vat_number_to_check(&parsed, &shop.mapping) {
            Some(number) => self.vat_registry.check(&number).await.map_err(|e| {
                tracing::warn!(error = %e, "VIES unavailable");
                TransferFailure::VatRegistry(e)
            })?,
            None => VatNumberCheck::NotChecked,
        };
        // The invoice is dated by the day the triggering event arrived, in
        // the order's own time zone.
        let trigger =
            trigger_arrival(&record.history, shop.trigger.event()).and_then(|(event, at)| {
                let arrived = time::OffsetDateTime::from_unix_timestamp(at).ok()?;
                Some((event, arrived.to_offset(parsed.created_at.offset()).date()))
            });
        let inputs = MappingInputs {
            vat_number_check,
            trigger,
        };
        let plan = map_order_with(&parsed, &shop.mapping, inputs).map_err(|e| {
            tracing::warn!(error = %e, fresh, "mapping failed");
            TransferFailure::Mapping(e)
        })?;
        Ok((shop, plan))
    }

    /// The claim was refused: find out why.
    async fn claim_refused(&self, message: &InboundMessage, order: &OrderMessage) -> Disposition {
        let record = match self.orders.get(&order.shop_id, &order.order_id).await {
            Ok(Some(record)) => record,
            Ok(None) => {
                return self
                    .permanent(message, order, &TransferFailure::OrderNotFound)
                    .await
            }
            Err(error) => {
                tracing::warn!(%error, "order read failed after a refused claim");
                return Disposition::Retry;
            }
        };
        match record.label {
            Label::Ok => {
                tracing::info!("order already transferred; duplicate message acknowledged");
                Disposition::Done
            }
            Label::Recorded => {
                tracing::warn!("order not ready for transfer; message acknowledged");
                Disposition::Done
            }
            Label::Cancelled => {
                tracing::info!("order cancelled; its message is acknowledged without effect");
                Disposition::Done
            }
            // A failed order waits for a person; only a replayed dead
            // letter (or a re-send, which re-pends it) re-opens it. This
            // copy predates the failure: re-opening it would leave an
            // `ok` order with a message in the dead-letter queue.
            Label::Failed if !matches!(order.cause, Cause::DeadLettered | Cause::ShopResend) => {
                tracing::info!(
                    cause = order.cause.as_str(),
                    "order already failed; an older copy of its message is acknowledged"
                );
                Disposition::Done
            }
            Label::Pending | Label::Failed => {
                let holder = record.lease_owner.as_deref().map(LeaseOwner::parse);
                match refused_while_leased(
                    &message.message_id,
                    holder.as_ref(),
                    record.lease_until,
                    self.clock.epoch_seconds(),
                ) {
                    // Spinning on the lease would use up this copy's
                    // receives and let SQS dead-letter it while the order
                    // ends ok. The holder's own message (or rescan, if that
                    // attempt dies) finishes the order.
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
                        self.delay_redelivery(message, seconds).await;
                        Disposition::Retry
                    }
                }
            }
        }
    }

    async fn permanent(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        failure: &TransferFailure,
    ) -> Disposition {
        let reason = failure.to_string();
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
            .queue
            .dead_letter(&body, &order.shop_id, &order.order_id, &reason)
            .await
        {
            tracing::error!(%error, "dead-letter send failed; retrying");
            return Disposition::Retry;
        }
        metrics::record(Metric::DeadLetters, 1, Some(&order.shop_id));
        let now = self.clock.epoch_seconds();
        match self
            .orders
            .mark_failed(&order.shop_id, &order.order_id, &reason, now)
            .await
        {
            Ok(()) => {
                tracing::warn!(label = Label::Failed.as_str(), %reason, "order failed permanently");
                metrics::record(Metric::OrdersFailed, 1, Some(&order.shop_id));
                let failed = LabelChange::new(&order.shop_id, &order.order_id, Label::Failed)
                    .with_reason(reason.as_str());
                self.notifier.label_changed(&failed).await;
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

    /// `owner` is set when this attempt holds the lease.
    async fn transient(
        &self,
        message: &InboundMessage,
        order: &OrderMessage,
        owner: Option<&LeaseOwner>,
        failure: TransferFailure,
    ) -> Disposition {
        if message.receive_count >= self.settings.max_receive_count {
            let gave_up = TransferFailure::GaveUp {
                attempts: message.receive_count,
                last: Box::new(failure),
            };
            return self.permanent(message, order, &gave_up).await;
        }
        let reason = failure.to_string();
        let delay = retry_delay_seconds(
            message.receive_count,
            self.settings.retry_base_seconds,
            self.settings.retry_cap_seconds,
        );
        tracing::warn!(%reason, retry_in_seconds = delay, "transient failure; will retry");
        if let Some(owner) = owner {
            let now = self.clock.epoch_seconds();
            if let Err(error) = self
                .orders
                .record_transient(
                    &order.shop_id,
                    &order.order_id,
                    owner,
                    &reason,
                    now,
                    now + i64::from(delay) + self.settings.rescan_min_age_seconds,
                )
                .await
            {
                // The lease expires on its own; the retry still happens.
                tracing::warn!(%error, "could not record the transient failure");
            }
        }
        self.delay_redelivery(message, delay).await;
        Disposition::Retry
    }

    async fn delay_redelivery(&self, message: &InboundMessage, seconds: i32) {
        if let Some(handle) = &message.receipt_handle {
            if let Err(error) = self.queue.delay_retry(handle, seconds).await {
                tracing::warn!(%error, "could not delay the retry; SQS visibility timeout applies");
            }
        }
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

fn refused_while_leased(
    message_id: &str,
    lease_owner: Option<&LeaseOwner>,
    lease_until: Option<i64>,
    now: i64,
) -> Refused {
    let lease_left = lease_until.map_or(0, |until| until - now);
    match lease_owner {
        Some(holder) if holder.message_id != message_id && lease_left > 0 => Refused::Duplicate,
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
    use crate::domain::lifecycle::LeaseOwner;

    fn owner(stored: &str) -> LeaseOwner {
        LeaseOwner::parse(stored)
    }

    #[test]
    fn a_copy_of_an_order_leased_by_another_message_is_a_duplicate() {
        assert_eq!(
            refused_while_leased("m2", Some(&owner("m1#3")), Some(1_100), 1_000),
            Refused::Duplicate
        );
    }

    #[test]
    fn the_same_message_waits_for_its_earlier_receives_lease() {
        assert_eq!(
            refused_while_leased("m1", Some(&owner("m1#2")), Some(1_030), 1_000),
            Refused::RetryIn(31)
        );
    }

    #[test]
    fn an_expired_or_missing_lease_is_retried_at_once() {
        assert_eq!(
            refused_while_leased("m2", Some(&owner("m1#3")), Some(990), 1_000),
            Refused::RetryIn(1)
        );
        assert_eq!(
            refused_while_leased("m2", None, None, 1_000),
            Refused::RetryIn(1)
        );
    }
}
