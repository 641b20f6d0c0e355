//! The ports: what the application ([`crate::app`]) needs from the world
//! outside the domain, as traits. Adapters implement them: DynamoDB, SQS
//! and e-conomic for production ([`crate::adapters`]), and in-memory ones
//! ([`crate::adapters::memory`]) that honour the same conditions for unit
//! tests and benchmarks. One contract suite (`tests/src/contract.rs`) runs
//! against both, so they cannot drift.
//!
//! Every method that changes an order is conditional: it succeeds only
//! from the state its documentation names, and says so when it did not
//! (`Err(StoreError::Conflict)`, `Ok(None)` or `Ok(false)`).

use crate::domain::economic_model::DraftDocument;
use crate::domain::lifecycle::{IngestWrite, Label, LeaseOwner, OrderRecord, PushOutcome};
use crate::domain::mapping::credit_note::{CreditBasis, CreditLedger};
use crate::domain::mapping::InvoicePlan;
use crate::domain::shop::{EconomicCredentials, ShopConfig};
use crate::domain::vat_number::{VatNumber, VatNumberCheck};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::{Duration, Instant};

mod payment;
use crate::domain::mapping::payment::PaymentPlan;
pub use payment::{PaymentOptions, PaymentOutcome, PaymentStore};

// ---------------------------------------------------------------- clock

/// Where the application reads the time. Production reads the system
/// clock; tests move a [`ManualClock`](crate::adapters::memory::ManualClock).
pub trait Clock: Send + Sync {
    fn now(&self) -> time::OffsetDateTime;

    /// Seconds since the Unix epoch (the unit of every stored time).
    fn epoch_seconds(&self) -> i64 {
        self.now().unix_timestamp()
    }
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc()
    }
}

// ---------------------------------------------------------------- stores

/// Failure of a store, or a stored item we cannot read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store is unreachable, throttled, or erroring: retry later.
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(String),
    /// A stored item does not have the shape we wrote.
    #[error("stored item is corrupt: {field}: {message}")]
    Corrupt {
        field: &'static str,
        message: String,
    },
    /// A conditional write lost against a concurrent writer (or the item
    /// is not in the state the write requires).
    #[error("conditional write lost against a concurrent change")]
    Conflict,
}

/// Transfer's lease on one order: the inputs of one conditional write.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    pub shop_id: &'a str,
    pub order_id: &'a str,
    pub owner: &'a LeaseOwner,
    /// Epoch seconds; a lease that ran out before this is free.
    pub now: i64,
    pub lease_until: i64,
    /// Moved past the lease, so rescan leaves a live attempt alone.
    pub rescan_after: i64,
    /// A replayed dead letter may re-open a failed order; nothing else may.
    pub reopen_failed: bool,
}

/// Whether [`OrderStore::mark_ok`] also records the `ok` label as the
/// order's next `notify`-channel notification, in the label's own write
/// (one DynamoDB write instead of two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OkNotification {
    /// Nothing about notifications is written.
    Skip,
    /// Appended as `queued`, at the write's `now`.
    Record,
}

/// A pending order that rescan should look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueOrder {
    pub shop_id: String,
    pub order_id: String,
    /// The value seen, for the conditional bump.
    pub rescan_after: i64,
}

/// The orders: label, latest snapshot, lease, invoice numbers, history.
pub trait OrderStore: Send + Sync {
    /// Strongly consistent read of one order.
    fn get(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send;

    /// Ingest's write: creates the order (`expected_version` None, and only
    /// if it does not exist) or updates it if its version is still
    /// `expected_version`, bumping it. `Err(Conflict)`: read and decide
    /// again.
    fn write_ingest(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: Option<u64>,
        write: &IngestWrite,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the transfer lease: only if the order exists, is pending (or
    /// failed, with `reopen_failed`) and holds no live lease. Labels it
    /// pending, counts the attempt, sets the owner and `rescan_after`,
    /// bumps the version and returns the new state. `Ok(None)`: refused;
    /// read the order to see why.
    fn claim(
        &self,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send;

    /// Records that `owner` is about to create the invoice (a later attempt
    /// then looks for it first). Only while `owner` holds the lease of a
    /// pending order, else `Err(Conflict)`.
    fn mark_create_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Labels the order ok with what the push left; releases the lease,
    /// leaves the rescan index, clears the last error and sets the record
    /// to expire at `expires_at`. Only if the order exists. With
    /// [`OkNotification::Record`] the same write appends `ok` as the
    /// order's next `notify`-channel notification (as
    /// [`NotificationStore::record_notification`] would, at `now`) and
    /// returns its sequence; with [`OkNotification::Skip`], `Ok(None)`.
    fn mark_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        outcome: &PushOutcome,
        now: i64,
        expires_at: i64,
        notification: OkNotification,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Labels the order failed with a reason; releases the lease and leaves
    /// the rescan index. Never overwrites `ok` (nor a missing order):
    /// `Err(Conflict)`.
    fn mark_failed(
        &self,
        shop_id: &str,
        order_id: &str,
        reason: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A transient failure: keeps the order pending, remembers the error,
    /// releases `owner`'s lease and moves `rescan_after`. Only while
    /// `owner` holds the lease, else `Err(Conflict)`.
    fn record_transient(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        error: &str,
        now: i64,
        rescan_after: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Pending orders with `rescan_after <= now`, oldest first, at most
    /// `limit`.
    fn due_for_rescan(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueOrder>, StoreError>> + Send;

    /// Moves `rescan_after` from `seen` to `next`, only if the order is
    /// still pending and nobody moved it. `Ok(false)`: someone else did.
    fn bump_rescan(
        &self,
        shop_id: &str,
        order_id: &str,
        seen: i64,
        next: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The order changes the shop asks for (cancel, re-send), apart from
/// [`OrderStore`]'s transfer path. Each bumps `version`, so a concurrent
/// ingest write decides again.
pub trait OrderControl: Send + Sync {
    /// Takes the lease of an order in any label but `cancelled` (an `ok`
    /// one included) that holds no live lease; changes nothing else but
    /// the version. `Ok(None)`: refused; read the order to see why.
    fn claim_control(
        &self,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send;

    /// Labels the order cancelled with `reason` (history too), releases
    /// `owner`'s lease, leaves the rescan index and sets the record to
    /// expire at `expires_at`. Only while `owner` holds the lease, else
    /// `Err(Conflict)`.
    fn mark_cancelled(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        reason: &str,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// An `ok` order whose draft was deleted in e-conomic goes back to
    /// pending: the invoice numbers are removed, `create_started` stays
    /// (the next attempt looks for an invoice first), the lease is
    /// released and the order enters the rescan index at `rescan_after`.
    /// Only while `owner` holds the lease of an `ok` order, else
    /// `Err(Conflict)`.
    fn reopen_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        why: &str,
        now: i64,
        rescan_after: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records `what` in the order's history and releases `owner`'s lease,
    /// nothing else (a refused request). Only while `owner` holds the
    /// lease, else `Err(Conflict)`.
    fn release_control(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        what: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// The shops' configurations.
pub trait ShopStore: Send + Sync {
    /// The shop's configuration, `None` if unknown.
    fn get(
        &self,
        shop_id: &str,
    ) -> impl Future<Output = Result<Option<ShopConfig>, StoreError>> + Send;

    /// The shop's configuration as stored now, past any cache: asked before
    /// an order is failed for its configuration, so a fix made a moment
    /// ago is used. A store without a cache reads as `get` does.
    fn get_fresh(
        &self,
        shop_id: &str,
    ) -> impl Future<Output = Result<Option<ShopConfig>, StoreError>> + Send {
        self.get(shop_id)
    }

    /// Creates or replaces a shop.
    fn put(&self, config: &ShopConfig) -> impl Future<Output = Result<(), StoreError>> + Send;
}

// ---------------------------------------------------------------- queue

/// Why an order was put on the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Ingest accepted a webhook that made the order ready.
    Webhook,
    /// Rescan found the order pending for too long (a lost enqueue).
    Rescan,
    /// An operator re-sent the order (`bridgectl orders resend`, DLQ replay).
    Resend,
    /// The copy transfer puts on the dead-letter queue. Back on the transfer
    /// queue it means a person replayed it, so it may re-open the failed
    /// order; older copies of a failed order's message may not.
    DeadLettered,
    /// The shop cancelled the order (`order.cancelled`): transfer stops it,
    /// deleting its draft if the bridge made one.
    Cancel,
    /// The shop asked to send the order again (`order.resend`): a failed
    /// order is re-opened; an ok one only if its draft was deleted.
    ShopResend,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Webhook => "webhook",
            Cause::Rescan => "rescan",
            Cause::Resend => "resend",
            Cause::DeadLettered => "dead_lettered",
            Cause::Cancel => "cancel",
            Cause::ShopResend => "shop_resend",
        }
    }
}

/// The body of a transfer message:
/// `{"shop_id": "...", "order_id": "...", "cause": "webhook"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderMessage {
    pub shop_id: String,
    pub order_id: String,
    pub cause: Cause,
}

/// The queue could not be reached or refused the request.
#[derive(Debug, thiserror::Error)]
#[error("SQS unavailable: {0}")]
pub struct QueueError(pub String);

/// One received transfer message, as the Lambda event source hands it over.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub message_id: String,
    pub receipt_handle: Option<String>,
    pub body: String,
    /// SQS `ApproximateReceiveCount` (1 on the first delivery).
    pub receive_count: u32,
    /// SQS `SentTimestamp` (epoch milliseconds), when known: for a message
    /// ingest sent, the webhook's arrival to the millisecond.
    pub sent_at_ms: Option<i64>,
}

/// A dead letter received for inspection, hidden from other readers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub receipt_handle: String,
    pub body: String,
}

/// The transfer queue and its dead-letter queue.
pub trait TransferQueue: Send + Sync {
    /// Puts an order on the transfer queue.
    fn enqueue(
        &self,
        message: &OrderMessage,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Puts `body` (the message to replay) on the dead-letter queue with
    /// the order and the human-readable reason.
    fn dead_letter(
        &self,
        body: &str,
        shop_id: &str,
        order_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Hides a received transfer message for `seconds` before its next
    /// delivery (transient-failure back-off).
    fn delay_retry(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Puts `body` (a transfer message, possibly with fields only transfer
    /// reads) on the transfer queue as a new message for `shop_id`, first
    /// delivered after `delay_seconds` (0–900). A new message starts its
    /// receive count afresh: what a hand-back for the e-conomic budget
    /// needs, so that waiting for the budget never nears the redrive
    /// policy's `maxReceiveCount`.
    fn send_later(
        &self,
        body: &str,
        shop_id: &str,
        delay_seconds: i32,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Whether this deployment has a dead-letter queue to sweep.
    fn has_dead_letter_queue(&self) -> bool;

    /// Receives up to 10 dead letters, hidden from other readers for
    /// `visibility_seconds`.
    fn receive_dead_letters(
        &self,
        visibility_seconds: i32,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, QueueError>> + Send;

    /// Removes a received dead letter for good.
    fn delete_dead_letter(
        &self,
        receipt_handle: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Makes a received dead letter visible again at once.
    fn release_dead_letter(
        &self,
        receipt_handle: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

// ---------------------------------------------------------------- label notifications

/// One label notification on its queue. The body is fixed when the label
/// changes; the target (URL, secrets) is read from the shop when it is
/// sent, so no secret ever sits in a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationMessage {
    pub shop_id: String,
    pub order_id: String,
    /// Absent in messages queued before write-backs existed: `notify`.
    #[serde(
        default,
        skip_serializing_if = "crate::domain::notify::Channel::is_notify"
    )]
    pub channel: crate::domain::notify::Channel,
    pub sequence: u64,
    pub webhook_id: String,
    /// The JSON body to POST.
    pub payload: String,
}

/// The notifications of each order, stored with the order. Writes here
/// never touch the order's label, lease or version.
pub trait NotificationStore: Send + Sync {
    /// Records a change to `label` as the order's next notification and
    /// returns its sequence (1, 2, 3…). `Ok(None)`: the last one recorded
    /// has the same label (nothing to announce), or there is no such order.
    fn record_notification(
        &self,
        channel: crate::domain::notify::Channel,
        shop_id: &str,
        order_id: &str,
        label: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;

    /// Stores a delivery attempt's result on notification `sequence`.
    /// `Err(Conflict)`: no such notification.
    fn update_notification(
        &self,
        channel: crate::domain::notify::Channel,
        shop_id: &str,
        order_id: &str,
        sequence: u64,
        update: &crate::domain::notify::DeliveryUpdate,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            self.update_notifications(channel, shop_id, order_id, &[(sequence, update)], now)
                .await
        }
    }

    /// Stores the results of several of the order's notifications (distinct
    /// sequences) in one write; none of them when one is missing
    /// (`Err(Conflict)`). No updates: nothing is written.
    fn update_notifications(
        &self,
        channel: crate::domain::notify::Channel,
        shop_id: &str,
        order_id: &str,
        updates: &[(u64, &crate::domain::notify::DeliveryUpdate)],
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The order's notifications on `channel`, oldest first.
    fn notifications(
        &self,
        channel: crate::domain::notify::Channel,
        shop_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<Vec<crate::domain::notify::NotificationRecord>, StoreError>> + Send;
}

/// The notification queue (its dead-letter queue is SQS's redrive).
pub trait NotificationQueue: Send + Sync {
    fn enqueue_notification(
        &self,
        message: &NotificationMessage,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Hides a received notification for `seconds` before its next try.
    fn delay_notification(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// An HTTP answer to a notification, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// The receiver answered with this status.
    Status(u16),
    /// No answer: connection refused, timeout, TLS… (never holds a secret).
    Unreachable(String),
}

/// POSTs a signed notification to a receiver.
pub trait NotificationSender: Send + Sync {
    fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
        deadline: Instant,
    ) -> impl Future<Output = PostOutcome> + Send;
}

/// What the shop answered a label write-back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The order now shows the label.
    Written,
    /// Worth trying again (unreachable, 5xx, throttled); `after_seconds`:
    /// the shop said when (Shopify's cost bucket, `Retry-After`).
    Retry {
        error: String,
        after_seconds: Option<u32>,
    },
    /// Never going to work as configured (token rejected, access denied,
    /// the order gone): the write-back ends here.
    Refused(String),
}

/// Writes an order's label into the shop itself (Shopify Admin API,
/// WooCommerce REST API). Errors never quote a secret.
pub trait ShopWriter: Send + Sync {
    fn write_label(
        &self,
        target: &crate::domain::write_back::WriteBackTarget,
        order_id: &str,
        label: crate::domain::lifecycle::Label,
        reason: Option<&str>,
        deadline: Instant,
    ) -> impl Future<Output = WriteOutcome> + Send;
}

impl<T: ShopWriter + ?Sized> ShopWriter for std::sync::Arc<T> {
    fn write_label(
        &self,
        target: &crate::domain::write_back::WriteBackTarget,
        order_id: &str,
        label: crate::domain::lifecycle::Label,
        reason: Option<&str>,
        deadline: Instant,
    ) -> impl Future<Output = WriteOutcome> + Send {
        (**self).write_label(target, order_id, label, reason, deadline)
    }
}

// ---------------------------------------------------------------- shop refunds

/// Why a refund could not be read from the shop; never quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShopReadError {
    /// Reading again later may succeed (timeouts, 5xx, throttling).
    pub transient: bool,
    pub reason: String,
}

/// A future a [`ShopRefunds`] reader returns.
pub type ShopRead<'a> =
    std::pin::Pin<Box<dyn Future<Output = Result<Vec<u8>, ShopReadError>> + Send + 'a>>;

/// Reads a refund as the shop's own API holds it, for a refund whose
/// webhook lacks its lines: the WooCommerce REST API's
/// `GET /wp-json/wc/v3/orders/{order_id}/refunds/{refund_id}` body.
/// Object-safe, so transfer holds one without another type parameter.
pub trait ShopRefunds: Send + Sync + std::fmt::Debug {
    fn woocommerce_refund<'a>(
        &'a self,
        store: &'a crate::domain::write_back_config::WoocommerceWriteBack,
        order_id: &'a str,
        refund_id: &'a str,
        deadline: Instant,
    ) -> ShopRead<'a>;
}

/// No reader: a refund that needs one fails, saying so.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoShopRefunds;

impl ShopRefunds for NoShopRefunds {
    fn woocommerce_refund<'a>(
        &'a self,
        _store: &'a crate::domain::write_back_config::WoocommerceWriteBack,
        _order_id: &'a str,
        _refund_id: &'a str,
        _deadline: Instant,
    ) -> ShopRead<'a> {
        Box::pin(async {
            Err(ShopReadError {
                transient: false,
                reason: "this transfer function reads no refunds from shops".to_owned(),
            })
        })
    }
}

// ---------------------------------------------------------------- invoicing

#[derive(Debug, Clone, Copy)]
pub struct PushOptions {
    /// A previous attempt of this order may already have created the draft.
    pub may_exist: bool,
    /// Nothing is started that could not finish before this instant.
    pub deadline: Instant,
}

/// Why a push failed, in words a merchant can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicingError {
    /// Retrying later may succeed (throttling, outages, timeouts).
    pub transient: bool,
    /// What went wrong; says nothing about retries (the caller knows
    /// whether there will be one) and never holds a token.
    pub reason: String,
}

/// The invoice carrying an order's reference, as the accounting system
/// holds it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundInvoice {
    None,
    Draft(u32),
    Booked(u32),
}

/// Creating the order's invoice in the accounting system, exactly once per
/// plan reference: a push with `may_exist` finds and completes an invoice
/// an earlier attempt made instead of creating a second one.
pub trait Invoicing: Send + Sync {
    fn push(
        &self,
        credentials: &EconomicCredentials,
        plan: &InvoicePlan,
        options: PushOptions,
    ) -> impl Future<Output = Result<PushOutcome, InvoicingError>> + Send;

    /// The invoice carrying `reference`: draft `draft_hint` if it still
    /// carries it, else a draft or booked invoice found by the reference.
    /// `document`: which drafts (invoice drafts or order drafts) to search.
    fn find_invoice(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        draft_hint: Option<u32>,
        deadline: Instant,
    ) -> impl Future<Output = Result<FoundInvoice, InvoicingError>> + Send;

    /// Deletes draft `number` only if it (still) carries `reference`: the
    /// bridge deletes only its own drafts. `Ok(false)`: not deleted (gone
    /// already, or another order's by now).
    fn delete_own_draft(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        number: u32,
        deadline: Instant,
    ) -> impl Future<Output = Result<bool, InvoicingError>> + Send;

    /// `Some(delay)`: the agreement's e-conomic budget (its token bucket)
    /// would keep a call waiting longer than is worth holding a worker for;
    /// try the order again after `delay`. `None`: go ahead (the default).
    fn budget_deferral(&self, _credentials: &EconomicCredentials) -> Option<Duration> {
        None
    }

    /// Registers the customer's payment of a booked invoice, exactly once
    /// per plan: with `may_exist` it first looks for the payment an earlier
    /// attempt made (the journal's entries, then the invoice's remainder)
    /// and posts only when neither shows it and `may_post`; an answer that
    /// fits no case is a permanent error, never a second post. See
    /// [`crate::domain::mapping::payment`].
    fn register_payment(
        &self,
        credentials: &EconomicCredentials,
        plan: &PaymentPlan,
        options: PaymentOptions,
    ) -> impl Future<Output = Result<PaymentOutcome, InvoicingError>> + Send;
}

// ------------------------------------------------- shared handles (Arc<T>)
//
// One adapter shared by several users (ingest and transfer over one
// in-memory store in a test, say) is an `Arc` of it.

impl<T: OrderStore + ?Sized> OrderStore for std::sync::Arc<T> {
    fn get(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send {
        (**self).get(shop_id, order_id)
    }
    fn write_ingest(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: Option<u64>,
        write: &IngestWrite,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).write_ingest(shop_id, order_id, expected_version, write, now)
    }
    fn claim(
        &self,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send {
        (**self).claim(claim)
    }
    fn mark_create_started(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).mark_create_started(shop_id, order_id, owner)
    }
    fn mark_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        outcome: &PushOutcome,
        now: i64,
        expires_at: i64,
        notification: OkNotification,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        (**self).mark_ok(shop_id, order_id, outcome, now, expires_at, notification)
    }
    fn mark_failed(
        &self,
        shop_id: &str,
        order_id: &str,
        reason: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).mark_failed(shop_id, order_id, reason, now)
    }
    fn record_transient(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        error: &str,
        now: i64,
        rescan_after: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).record_transient(shop_id, order_id, owner, error, now, rescan_after)
    }
    fn due_for_rescan(
        &self,
        now: i64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DueOrder>, StoreError>> + Send {
        (**self).due_for_rescan(now, limit)
    }
    fn bump_rescan(
        &self,
        shop_id: &str,
        order_id: &str,
        seen: i64,
        next: i64,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        (**self).bump_rescan(shop_id, order_id, seen, next)
    }
}

impl<T: OrderControl + ?Sized> OrderControl for std::sync::Arc<T> {
    fn claim_control(
        &self,
        claim: &Claim<'_>,
    ) -> impl Future<Output = Result<Option<OrderRecord>, StoreError>> + Send {
        (**self).claim_control(claim)
    }
    fn mark_cancelled(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        reason: &str,
        now: i64,
        expires_at: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).mark_cancelled(shop_id, order_id, owner, reason, now, expires_at)
    }
    fn reopen_ok(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        why: &str,
        now: i64,
        rescan_after: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).reopen_ok(shop_id, order_id, owner, why, now, rescan_after)
    }
    fn release_control(
        &self,
        shop_id: &str,
        order_id: &str,
        owner: &LeaseOwner,
        what: &str,
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).release_control(shop_id, order_id, owner, what, now)
    }
}

impl<T: ShopStore + ?Sized> ShopStore for std::sync::Arc<T> {
    fn get(
        &self,
        shop_id: &str,
    ) -> impl Future<Output = Result<Option<ShopConfig>, StoreError>> + Send {
        (**self).get(shop_id)
    }
    fn get_fresh(
        &self,
        shop_id: &str,
    ) -> impl Future<Output = Result<Option<ShopConfig>, StoreError>> + Send {
        (**self).get_fresh(shop_id)
    }
    fn put(&self, config: &ShopConfig) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put(config)
    }
}

impl<T: TransferQueue + ?Sized> TransferQueue for std::sync::Arc<T> {
    fn enqueue(
        &self,
        message: &OrderMessage,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).enqueue(message)
    }
    fn dead_letter(
        &self,
        body: &str,
        shop_id: &str,
        order_id: &str,
        reason: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).dead_letter(body, shop_id, order_id, reason)
    }
    fn delay_retry(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).delay_retry(receipt_handle, seconds)
    }
    fn send_later(
        &self,
        body: &str,
        shop_id: &str,
        delay_seconds: i32,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).send_later(body, shop_id, delay_seconds)
    }
    fn has_dead_letter_queue(&self) -> bool {
        (**self).has_dead_letter_queue()
    }
    fn receive_dead_letters(
        &self,
        visibility_seconds: i32,
    ) -> impl Future<Output = Result<Vec<DeadLetter>, QueueError>> + Send {
        (**self).receive_dead_letters(visibility_seconds)
    }
    fn delete_dead_letter(
        &self,
        receipt_handle: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).delete_dead_letter(receipt_handle)
    }
    fn release_dead_letter(
        &self,
        receipt_handle: &str,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).release_dead_letter(receipt_handle)
    }
}

impl<T: NotificationStore + ?Sized> NotificationStore for std::sync::Arc<T> {
    fn record_notification(
        &self,
        channel: crate::domain::notify::Channel,
        shop_id: &str,
        order_id: &str,
        label: &str,
        now: i64,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send {
        (**self).record_notification(channel, shop_id, order_id, label, now)
    }
    fn update_notifications(
        &self,
        channel: crate::domain::notify::Channel,
        shop_id: &str,
        order_id: &str,
        updates: &[(u64, &crate::domain::notify::DeliveryUpdate)],
        now: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).update_notifications(channel, shop_id, order_id, updates, now)
    }
    fn notifications(
        &self,
        channel: crate::domain::notify::Channel,
        shop_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<Vec<crate::domain::notify::NotificationRecord>, StoreError>> + Send
    {
        (**self).notifications(channel, shop_id, order_id)
    }
}

impl<T: NotificationQueue + ?Sized> NotificationQueue for std::sync::Arc<T> {
    fn enqueue_notification(
        &self,
        message: &NotificationMessage,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).enqueue_notification(message)
    }
    fn delay_notification(
        &self,
        receipt_handle: &str,
        seconds: i32,
    ) -> impl Future<Output = Result<(), QueueError>> + Send {
        (**self).delay_notification(receipt_handle, seconds)
    }
}

impl<T: NotificationSender + ?Sized> NotificationSender for std::sync::Arc<T> {
    fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &str,
        deadline: Instant,
    ) -> impl Future<Output = PostOutcome> + Send {
        (**self).post(url, headers, body, deadline)
    }
}

impl<T: Invoicing + ?Sized> Invoicing for std::sync::Arc<T> {
    fn push(
        &self,
        credentials: &EconomicCredentials,
        plan: &InvoicePlan,
        options: PushOptions,
    ) -> impl Future<Output = Result<PushOutcome, InvoicingError>> + Send {
        (**self).push(credentials, plan, options)
    }
    fn find_invoice(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        draft_hint: Option<u32>,
        deadline: Instant,
    ) -> impl Future<Output = Result<FoundInvoice, InvoicingError>> + Send {
        (**self).find_invoice(credentials, document, reference, draft_hint, deadline)
    }
    fn delete_own_draft(
        &self,
        credentials: &EconomicCredentials,
        document: DraftDocument,
        reference: &str,
        number: u32,
        deadline: Instant,
    ) -> impl Future<Output = Result<bool, InvoicingError>> + Send {
        (**self).delete_own_draft(credentials, document, reference, number, deadline)
    }
    fn budget_deferral(&self, credentials: &EconomicCredentials) -> Option<Duration> {
        (**self).budget_deferral(credentials)
    }
    fn register_payment(
        &self,
        credentials: &EconomicCredentials,
        plan: &PaymentPlan,
        options: PaymentOptions,
    ) -> impl Future<Output = Result<PaymentOutcome, InvoicingError>> + Send {
        (**self).register_payment(credentials, plan, options)
    }
}

// ---------------------------------------------------------------- VAT registry

/// The VAT number registry (VIES) did not answer: nobody knows whether
/// the number is valid, so the order waits (never a guess).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the EU VAT number registry (VIES) is unavailable: {0}")]
pub struct VatRegistryUnavailable(pub String);

/// Where EU VAT numbers are verified (VIES). An answer is `Valid` or
/// `Invalid`; anything else (the service or the member state's registry
/// down, a timeout, an unreadable answer) is `Err`, never a guess.
pub trait VatRegistry: Send + Sync {
    fn check(
        &self,
        number: &VatNumber,
    ) -> impl Future<Output = Result<VatNumberCheck, VatRegistryUnavailable>> + Send;
}

/// No registry: every number is `NotChecked` (format checks only).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVatRegistry;

impl VatRegistry for NoVatRegistry {
    async fn check(&self, _number: &VatNumber) -> Result<VatNumberCheck, VatRegistryUnavailable> {
        Ok(VatNumberCheck::NotChecked)
    }
}

impl<T: VatRegistry + ?Sized> VatRegistry for std::sync::Arc<T> {
    fn check(
        &self,
        number: &VatNumber,
    ) -> impl Future<Output = Result<VatNumberCheck, VatRegistryUnavailable>> + Send {
        (**self).check(number)
    }
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> time::OffsetDateTime {
        (**self).now()
    }
    fn epoch_seconds(&self) -> i64 {
        (**self).epoch_seconds()
    }
}

// ---------------------------------------------------------------- credit notes

/// What the orders store holds about an order's credit notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditAccount {
    pub label: Label,
    /// The invoice's basis, stored when it was pushed with credit notes on.
    pub basis: Option<CreditBasis>,
    pub ledger: CreditLedger,
    /// The ledger's version (0 before its first entry), for
    /// [`CreditStore::write_ledger`]'s condition.
    pub ledger_version: u64,
}

/// The order-side state of refunds: the basis of each invoice and the
/// ledger of what its credit notes took. Kept on the order's own record.
pub trait CreditStore: Send + Sync {
    /// Stores the basis of the order's invoice. Only if the order exists,
    /// else `Err(Conflict)`.
    fn save_credit_basis(
        &self,
        shop_id: &str,
        order_id: &str,
        basis: &CreditBasis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The order's label, basis and ledger (strongly consistent); `None`
    /// when the order is unknown.
    fn credit_account(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<CreditAccount>, StoreError>> + Send;

    /// Replaces the ledger, only if its version is still
    /// `expected_version` (bumping it), else `Err(Conflict)`: two refunds
    /// of one order never both take what remains.
    fn write_ledger(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: u64,
        ledger: &CreditLedger,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

impl<T: CreditStore + ?Sized> CreditStore for std::sync::Arc<T> {
    fn save_credit_basis(
        &self,
        shop_id: &str,
        order_id: &str,
        basis: &CreditBasis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).save_credit_basis(shop_id, order_id, basis)
    }
    fn credit_account(
        &self,
        shop_id: &str,
        order_id: &str,
    ) -> impl Future<Output = Result<Option<CreditAccount>, StoreError>> + Send {
        (**self).credit_account(shop_id, order_id)
    }
    fn write_ledger(
        &self,
        shop_id: &str,
        order_id: &str,
        expected_version: u64,
        ledger: &CreditLedger,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).write_ledger(shop_id, order_id, expected_version, ledger)
    }
}
