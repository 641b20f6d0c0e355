//! The adapter contract: what every implementation of the ports must do,
//! written once and run against the production adapters (DynamoDB and SQS
//! in moto server, e-conomic in the sandbox over HTTP) and the in-memory
//! ones (`tests/tests/adapter_contract.rs`), so the two cannot drift.
//!
//! Each check is one `async fn` over a [`Backend`]; the test file turns
//! every check into one test per backend.

use bridge::domain::lifecycle::{
    HistoryEntry, IngestWrite, Label, LeaseOwner, PushOutcome, HISTORY_LIMIT, WEBHOOK_IDS_LIMIT,
};
use bridge::domain::mapping::{map_order, InvoicePlan};
use bridge::domain::order::{parse_event, ParsedEvent};
use bridge::domain::secret::Secret;
use bridge::domain::shop::{EconomicCredentials, ShopConfig};
use bridge::ports::{
    Cause, Claim, CreditStore, DueOrder, InboundMessage, Invoicing, NotificationStore,
    OkNotification, OrderControl, OrderMessage, OrderStore, PaymentStore, PushOptions, ShopStore,
    StoreError, TransferQueue,
};
use std::future::Future;
use std::time::{Duration, Instant};

mod control;
mod payments;
pub use control::*;
pub use payments::*;

/// One set of adapters, with what a check needs to look behind them.
pub trait Backend: Send + Sync {
    type Orders: OrderStore + CreditStore + OrderControl + NotificationStore + PaymentStore;
    type Shops: ShopStore;
    type Queue: TransferQueue;
    type Invoicing: Invoicing;

    fn orders(&self) -> &Self::Orders;
    fn shops(&self) -> &Self::Shops;
    /// A queue with a dead-letter queue whose redrive moves a message after
    /// [`MAX_RECEIVES`] receives.
    fn queue(&self) -> &Self::Queue;
    /// A handle on the same transfer queue without a dead-letter queue.
    fn queue_without_dead_letters(&self) -> Self::Queue;
    fn invoicing(&self) -> &Self::Invoicing;

    /// Receives up to `max` visible transfer messages, as the Lambda event
    /// source does.
    fn receive(&self, max: usize) -> impl Future<Output = Vec<InboundMessage>> + Send;
    /// Lets `seconds` pass for the queue's visibility rules.
    fn pass(&self, seconds: u64) -> impl Future<Output = ()> + Send;
    /// Invoices (drafts and booked) carrying `reference`.
    fn invoices_with_reference(&self, reference: &str) -> usize;
    /// Tokens the accounting system accepts.
    fn credentials(&self) -> EconomicCredentials;
}

/// The redrive policy's `maxReceiveCount` of the backends' queues.
pub const MAX_RECEIVES: u32 = 2;

/// Epoch seconds the store checks use (conditions compare given times,
/// never the store's clock).
const T: i64 = 1_800_000_000;
const SHOP: &str = "contract-shop";

fn ingest_write(label: Label, webhook_id: &str, rescan_after: Option<i64>) -> IngestWrite {
    IngestWrite {
        label,
        snapshot: Some((r#"{"id":"o"}"#.to_owned(), 2)),
        events: vec!["order.paid".to_owned()],
        webhook_ids: vec![webhook_id.to_owned()],
        history: vec![HistoryEntry {
            at: T,
            what: "order.paid received".to_owned(),
        }],
        rescan_after,
    }
}

/// A pending order, as ingest leaves it.
async fn pending<B: Backend>(backend: &B, order_id: &str, rescan_after: i64) {
    backend
        .orders()
        .write_ingest(
            SHOP,
            order_id,
            None,
            &ingest_write(Label::Pending, "w1", Some(rescan_after)),
            T,
        )
        .await
        .expect("ingest write");
}

fn claim<'a>(order_id: &'a str, owner: &'a LeaseOwner, now: i64) -> Claim<'a> {
    Claim {
        shop_id: SHOP,
        order_id,
        owner,
        now,
        lease_until: now + 60,
        rescan_after: now + 360,
        reopen_failed: false,
    }
}

fn outcome(draft: u32) -> PushOutcome {
    PushOutcome {
        customer_number: 100_001,
        draft_invoice_number: Some(draft),
        booked_invoice_number: None,
        gross_amount: Default::default(),
        calls: 3,
        reused_existing: false,
        warnings: Vec::new(),
    }
}

fn conflict<T: std::fmt::Debug>(result: Result<T, StoreError>) -> bool {
    matches!(result, Err(StoreError::Conflict))
}

// ------------------------------------------------------------ order store

pub async fn an_unknown_order_reads_as_none<B: Backend>(backend: &B) {
    let read = backend.orders().get(SHOP, "nobody").await.expect("read");
    assert_eq!(read, None);
}

pub async fn ingest_creates_an_order_once_and_then_only_from_the_version_it_read<B: Backend>(
    backend: &B,
) {
    let orders = backend.orders();
    pending(backend, "o1", T + 300).await;
    let created = orders
        .get(SHOP, "o1")
        .await
        .expect("read")
        .expect("created");
    assert_eq!(created.label, Label::Pending);
    assert_eq!(created.version, 1);
    assert_eq!(created.attempts, 0);
    assert!(!created.create_started);
    assert_eq!(created.created_at, T);
    assert_eq!(created.pending_since, Some(T));
    assert_eq!(created.rescan_after, Some(T + 300));
    assert_eq!(created.snapshot.as_deref(), Some(r#"{"id":"o"}"#));
    assert_eq!(created.snapshot_rank, 2);
    assert_eq!(created.webhook_ids, ["w1"]);

    // A second create loses; so does an update from a stale version.
    let again = ingest_write(Label::Pending, "w2", None);
    assert!(conflict(
        orders.write_ingest(SHOP, "o1", None, &again, T + 1).await
    ));
    assert!(conflict(
        orders
            .write_ingest(SHOP, "o1", Some(7), &again, T + 1)
            .await
    ));
    // An update from the version read wins and bumps it; created_at stays.
    let update = IngestWrite {
        snapshot: None,
        ..ingest_write(Label::Pending, "w2", None)
    };
    orders
        .write_ingest(SHOP, "o1", Some(1), &update, T + 5)
        .await
        .expect("update from the read version");
    let updated = orders.get(SHOP, "o1").await.expect("read").expect("order");
    assert_eq!(updated.version, 2);
    assert_eq!(updated.created_at, T);
    assert_eq!(updated.updated_at, T + 5);
    assert_eq!(updated.webhook_ids, ["w2"]);
    assert_eq!(updated.snapshot.as_deref(), Some(r#"{"id":"o"}"#), "kept");
    // An update of an order that does not exist is a conflict too.
    assert!(conflict(
        orders
            .write_ingest(SHOP, "ghost", Some(1), &update, T)
            .await
    ));
}

pub async fn ingest_keeps_the_newest_history_and_webhook_ids_within_their_limits<B: Backend>(
    backend: &B,
) {
    let many = HISTORY_LIMIT.max(WEBHOOK_IDS_LIMIT) + 5;
    let write = IngestWrite {
        webhook_ids: (0..many).map(|i| format!("w{i}")).collect(),
        history: (0..many)
            .map(|i| HistoryEntry {
                at: T + i as i64,
                what: format!("step {i}"),
            })
            .collect(),
        ..ingest_write(Label::Recorded, "unused", None)
    };
    backend
        .orders()
        .write_ingest(SHOP, "o2", None, &write, T)
        .await
        .expect("write");
    let stored = backend
        .orders()
        .get(SHOP, "o2")
        .await
        .expect("read")
        .expect("order");
    assert_eq!(stored.history.len(), HISTORY_LIMIT);
    assert_eq!(
        stored.history.last().map(|h| h.what.as_str()),
        Some(format!("step {}", many - 1).as_str())
    );
    assert_eq!(stored.webhook_ids.len(), WEBHOOK_IDS_LIMIT);
    assert_eq!(
        stored.webhook_ids[0],
        format!("w{}", many - WEBHOOK_IDS_LIMIT)
    );
    assert_eq!(stored.rescan_after, None, "a recorded order is not due");
}

pub async fn a_claim_takes_a_free_lease_once_and_again_after_it_ran_out<B: Backend>(backend: &B) {
    let orders = backend.orders();
    pending(backend, "o3", T + 300).await;
    let first = LeaseOwner::new("m1", 1);
    let claimed = orders
        .claim(&claim("o3", &first, T + 10))
        .await
        .expect("claim")
        .expect("a free lease is taken");
    assert_eq!(claimed.label, Label::Pending);
    assert_eq!(claimed.attempts, 1);
    assert_eq!(claimed.version, 2);
    assert_eq!(claimed.lease_owner.as_deref(), Some("m1#1"));
    assert_eq!(claimed.lease_until, Some(T + 70));
    assert_eq!(claimed.rescan_after, Some(T + 370));
    assert_eq!(
        claimed.history.last().map(|h| h.what.as_str()),
        Some("transfer attempt started")
    );

    let second = LeaseOwner::new("m2", 1);
    let refused = orders
        .claim(&claim("o3", &second, T + 69))
        .await
        .expect("claim");
    assert_eq!(refused, None, "a live lease is not taken");
    let stored = orders.get(SHOP, "o3").await.expect("read").expect("order");
    assert_eq!(stored.lease_owner.as_deref(), Some("m1#1"), "unchanged");

    let taken_over = orders
        .claim(&claim("o3", &second, T + 71))
        .await
        .expect("claim")
        .expect("a lease that ran out is free");
    assert_eq!(taken_over.attempts, 2);
    assert_eq!(taken_over.lease_owner.as_deref(), Some("m2#1"));
}

pub async fn a_claim_is_refused_for_missing_recorded_ok_and_failed_orders<B: Backend>(backend: &B) {
    let orders = backend.orders();
    let owner = LeaseOwner::new("m", 1);
    assert_eq!(
        orders
            .claim(&claim("none", &owner, T))
            .await
            .expect("claim"),
        None
    );
    orders
        .write_ingest(
            SHOP,
            "rec",
            None,
            &ingest_write(Label::Recorded, "w", None),
            T,
        )
        .await
        .expect("write");
    assert_eq!(
        orders.claim(&claim("rec", &owner, T)).await.expect("claim"),
        None
    );

    pending(backend, "done", T).await;
    orders
        .claim(&claim("done", &owner, T))
        .await
        .expect("claim");
    orders
        .mark_ok(
            SHOP,
            "done",
            &outcome(7),
            T + 1,
            T + 86_400,
            OkNotification::Skip,
        )
        .await
        .expect("ok");
    assert_eq!(
        orders
            .claim(&claim("done", &owner, T + 500))
            .await
            .expect("claim"),
        None
    );

    pending(backend, "bad", T).await;
    orders
        .mark_failed(SHOP, "bad", "broken", T + 1)
        .await
        .expect("failed");
    assert_eq!(
        orders
            .claim(&claim("bad", &owner, T + 2))
            .await
            .expect("claim"),
        None
    );
    // A replayed dead letter may re-open it.
    let reopened = orders
        .claim(&Claim {
            reopen_failed: true,
            ..claim("bad", &owner, T + 2)
        })
        .await
        .expect("claim")
        .expect("re-opened");
    assert_eq!(reopened.label, Label::Pending);
    assert_eq!(reopened.rescan_after, Some(T + 362), "back in the index");
}

pub async fn only_the_lease_holder_may_start_the_create_or_record_a_retry<B: Backend>(backend: &B) {
    let orders = backend.orders();
    pending(backend, "o4", T).await;
    let holder = LeaseOwner::new("m1", 3);
    let stranger = LeaseOwner::new("m1", 2); // same message, other receive
    orders.claim(&claim("o4", &holder, T)).await.expect("claim");

    assert!(conflict(
        orders.mark_create_started(SHOP, "o4", &stranger).await
    ));
    assert!(conflict(
        orders.mark_create_started(SHOP, "none", &holder).await
    ));
    orders
        .mark_create_started(SHOP, "o4", &holder)
        .await
        .expect("the holder starts the create");
    let started = orders.get(SHOP, "o4").await.expect("read").expect("order");
    assert!(started.create_started);

    assert!(conflict(
        orders
            .record_transient(SHOP, "o4", &stranger, "timeout", T + 1, T + 400)
            .await
    ));
    orders
        .record_transient(SHOP, "o4", &holder, "timeout", T + 1, T + 400)
        .await
        .expect("the holder records the retry");
    let retrying = orders.get(SHOP, "o4").await.expect("read").expect("order");
    assert_eq!(retrying.label, Label::Pending);
    assert_eq!(retrying.last_error.as_deref(), Some("timeout"));
    assert_eq!(retrying.lease_owner, None, "lease released");
    assert_eq!(retrying.lease_until, None);
    assert_eq!(retrying.rescan_after, Some(T + 400));
    assert_eq!(retrying.version, started.version + 1);
    assert_eq!(
        retrying.history.last().map(|h| h.what.as_str()),
        Some("will retry: timeout")
    );
    // Once released, nobody holds it: the create cannot be started.
    assert!(conflict(
        orders.mark_create_started(SHOP, "o4", &holder).await
    ));
}

pub async fn ok_records_the_invoice_and_leaves_the_index_and_is_never_overwritten_by_failed<
    B: Backend,
>(
    backend: &B,
) {
    let orders = backend.orders();
    pending(backend, "o5", T).await;
    let owner = LeaseOwner::new("m", 1);
    orders.claim(&claim("o5", &owner, T)).await.expect("claim");
    orders
        .record_transient(SHOP, "o5", &owner, "earlier trouble", T, T + 30)
        .await
        .expect("transient");
    orders
        .claim(&claim("o5", &owner, T + 1))
        .await
        .expect("claim");
    orders
        .mark_ok(
            SHOP,
            "o5",
            &outcome(42),
            T + 2,
            T + 86_400,
            OkNotification::Skip,
        )
        .await
        .expect("ok");
    let ok = orders.get(SHOP, "o5").await.expect("read").expect("order");
    assert_eq!(ok.label, Label::Ok);
    assert_eq!(ok.draft_invoice_number, Some(42));
    assert_eq!(ok.booked_invoice_number, None);
    assert_eq!(ok.customer_number, Some(100_001));
    assert_eq!(ok.economic_calls, Some(3));
    assert_eq!(ok.expires_at, Some(T + 86_400));
    assert_eq!(ok.last_error, None, "the old error is cleared");
    assert_eq!((ok.lease_owner.as_deref(), ok.lease_until), (None, None));
    assert_eq!(ok.rescan_after, None);
    assert_eq!(
        ok.history.last().map(|h| h.what.as_str()),
        Some("draft invoice 42")
    );

    assert!(conflict(
        orders.mark_failed(SHOP, "o5", "late failure", T + 3).await
    ));
    assert_eq!(
        orders
            .get(SHOP, "o5")
            .await
            .expect("read")
            .expect("order")
            .label,
        Label::Ok
    );
    assert!(conflict(
        orders
            .mark_ok(SHOP, "none", &outcome(1), T, T + 1, OkNotification::Skip)
            .await
    ));
    assert!(conflict(orders.mark_failed(SHOP, "none", "x", T).await));
}

pub async fn failed_keeps_the_reason_and_leaves_the_index<B: Backend>(backend: &B) {
    let orders = backend.orders();
    pending(backend, "o6", T).await;
    let owner = LeaseOwner::new("m", 1);
    orders.claim(&claim("o6", &owner, T)).await.expect("claim");
    orders
        .mark_failed(SHOP, "o6", "unknown product SKU-9", T + 1)
        .await
        .expect("failed");
    let failed = orders.get(SHOP, "o6").await.expect("read").expect("order");
    assert_eq!(failed.label, Label::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("unknown product SKU-9"));
    assert_eq!(
        (failed.lease_owner.as_deref(), failed.rescan_after),
        (None, None)
    );
    assert_eq!(
        failed.history.last().map(|h| h.what.as_str()),
        Some("failed: unknown product SKU-9")
    );
    let due = orders.due_for_rescan(T + 10_000, 10).await.expect("query");
    assert!(due.iter().all(|d| d.order_id != "o6"));
}

pub async fn rescan_finds_due_pending_orders_oldest_first_within_the_limit<B: Backend>(
    backend: &B,
) {
    let orders = backend.orders();
    pending(backend, "late", T + 30).await;
    pending(backend, "early", T + 10).await;
    pending(backend, "middle", T + 20).await;
    pending(backend, "future", T + 1_000).await;
    let due = orders.due_for_rescan(T + 100, 10).await.expect("query");
    let ids: Vec<&str> = due.iter().map(|d| d.order_id.as_str()).collect();
    assert_eq!(ids, ["early", "middle", "late"]);
    assert_eq!(
        due[0],
        DueOrder {
            shop_id: SHOP.to_owned(),
            order_id: "early".to_owned(),
            rescan_after: T + 10,
        }
    );
    let limited = orders.due_for_rescan(T + 100, 2).await.expect("query");
    assert_eq!(limited.len(), 2);
    assert_eq!(limited[0].order_id, "early");
}

pub async fn a_rescan_bump_wins_only_from_the_value_it_saw<B: Backend>(backend: &B) {
    let orders = backend.orders();
    pending(backend, "o7", T + 10).await;
    assert!(!orders
        .bump_rescan(SHOP, "o7", T + 11, T + 500)
        .await
        .expect("bump"));
    assert!(orders
        .bump_rescan(SHOP, "o7", T + 10, T + 500)
        .await
        .expect("bump"));
    assert!(!orders
        .bump_rescan(SHOP, "o7", T + 10, T + 900)
        .await
        .expect("bump"));
    let bumped = orders.get(SHOP, "o7").await.expect("read").expect("order");
    assert_eq!(bumped.rescan_after, Some(T + 500));
    assert!(!orders
        .bump_rescan(SHOP, "none", T, T + 1)
        .await
        .expect("bump"));
    orders
        .mark_failed(SHOP, "o7", "x", T)
        .await
        .expect("failed");
    assert!(
        !orders
            .bump_rescan(SHOP, "o7", T + 500, T + 900)
            .await
            .expect("bump"),
        "not pending any more"
    );
}

// ------------------------------------------------------------ shop store

pub fn contract_shop(shop_id: &str) -> ShopConfig {
    serde_json::from_value(serde_json::json!({
        "shop_id": shop_id,
        "display_name": "Contract Shop",
        "webhook_secrets": [{"secret": "whsec_Y29udHJhY3Qtc2hvcC1zZWNyZXQ="}],
        "economic": {
            "app_secret_token": economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
            "agreement_grant_token": economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN
        },
        "mapping": {}
    }))
    .expect("the contract shop parses")
}

pub async fn a_shop_reads_back_as_it_was_put_and_a_put_replaces_it<B: Backend>(backend: &B) {
    let shops = backend.shops();
    assert_eq!(shops.get("nobody").await.expect("read"), None);
    let mut shop = contract_shop("s1");
    shops.put(&shop).await.expect("put");
    assert_eq!(shops.get("s1").await.expect("read").as_ref(), Some(&shop));
    shop.enabled = false;
    shop.display_name = "Renamed".into();
    shops.put(&shop).await.expect("put");
    let stored = shops.get("s1").await.expect("read").expect("shop");
    assert!(!stored.enabled);
    assert_eq!(stored.display_name, "Renamed");
}

// ------------------------------------------------------------ queue

fn message(order_id: &str) -> OrderMessage {
    OrderMessage {
        shop_id: SHOP.to_owned(),
        order_id: order_id.to_owned(),
        cause: Cause::Webhook,
    }
}

async fn receive_one<B: Backend>(backend: &B) -> InboundMessage {
    let mut received = backend.receive(10).await;
    assert_eq!(received.len(), 1, "one visible message: {received:?}");
    received.remove(0)
}

pub async fn an_enqueued_message_is_received_once_with_its_json_body<B: Backend>(backend: &B) {
    backend
        .queue()
        .enqueue(&message("q1"))
        .await
        .expect("enqueue");
    let received = receive_one(backend).await;
    let body: OrderMessage = serde_json::from_str(&received.body).expect("json body");
    assert_eq!(body, message("q1"));
    assert_eq!(received.receive_count, 1);
    assert!(received.receipt_handle.is_some());
    assert!(
        backend.receive(10).await.is_empty(),
        "hidden while being processed"
    );
}

pub async fn a_delayed_retry_stays_hidden_for_the_delay_then_comes_back<B: Backend>(backend: &B) {
    backend
        .queue()
        .enqueue(&message("q2"))
        .await
        .expect("enqueue");
    let first = receive_one(backend).await;
    let handle = first.receipt_handle.expect("handle");
    backend
        .queue()
        .delay_retry(&handle, 2)
        .await
        .expect("delay");
    assert!(backend.receive(10).await.is_empty(), "hidden for the delay");
    backend.pass(3).await;
    let again = receive_one(backend).await;
    assert_eq!(again.message_id, first.message_id);
    assert_eq!(again.receive_count, 2);
}

pub async fn a_message_received_too_often_moves_to_the_dead_letter_queue<B: Backend>(backend: &B) {
    backend
        .queue()
        .enqueue(&message("q3"))
        .await
        .expect("enqueue");
    for receive in 1..=MAX_RECEIVES {
        let received = receive_one(backend).await;
        assert_eq!(received.receive_count, receive);
        let handle = received.receipt_handle.expect("handle");
        backend
            .queue()
            .delay_retry(&handle, 0)
            .await
            .expect("release");
    }
    assert!(
        backend.receive(10).await.is_empty(),
        "redriven, not received"
    );
    let dead = backend
        .queue()
        .receive_dead_letters(30)
        .await
        .expect("receive");
    assert_eq!(dead.len(), 1);
    let body: OrderMessage = serde_json::from_str(&dead[0].body).expect("json body");
    assert_eq!(body.order_id, "q3");
}

pub async fn dead_letters_are_hidden_while_inspected_released_or_deleted<B: Backend>(backend: &B) {
    let queue = backend.queue();
    assert!(queue.has_dead_letter_queue());
    queue
        .dead_letter("body-1", SHOP, "d1", "reason one")
        .await
        .expect("dead letter");
    queue
        .dead_letter("body-2", SHOP, "d2", "reason two")
        .await
        .expect("dead letter");
    let mut seen = queue.receive_dead_letters(30).await.expect("receive");
    seen.sort_by(|a, b| a.body.cmp(&b.body));
    let bodies: Vec<&str> = seen.iter().map(|d| d.body.as_str()).collect();
    assert_eq!(bodies, ["body-1", "body-2"]);
    assert!(
        queue
            .receive_dead_letters(30)
            .await
            .expect("receive")
            .is_empty(),
        "hidden while inspected"
    );
    queue
        .delete_dead_letter(&seen[0].receipt_handle)
        .await
        .expect("delete");
    queue
        .release_dead_letter(&seen[1].receipt_handle)
        .await
        .expect("release");
    let left = queue.receive_dead_letters(30).await.expect("receive");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].body, "body-2");
}

pub async fn a_queue_without_a_dead_letter_queue_refuses_dead_letters<B: Backend>(backend: &B) {
    let queue = backend.queue_without_dead_letters();
    assert!(!queue.has_dead_letter_queue());
    assert!(queue.dead_letter("b", SHOP, "o", "r").await.is_err());
    assert!(queue.receive_dead_letters(1).await.is_err());
    queue
        .enqueue(&message("q4"))
        .await
        .expect("it still enqueues");
    assert_eq!(receive_one(backend).await.receive_count, 1);
}

// ------------------------------------------------------------ credit notes

pub async fn an_orders_credit_basis_and_ledger_are_kept_and_the_ledger_moves_one_version_at_a_time<
    B: Backend,
>(
    backend: &B,
) {
    use bridge::domain::mapping::credit_note::{CreditBasis, CreditEntry, CreditLedger};
    let orders = backend.orders();
    assert_eq!(orders.credit_account(SHOP, "c1").await.expect("read"), None);
    let body = crate::order_event("order.paid", "c1", "239.00");
    let Ok(ParsedEvent::Order(event)) = parse_event(&body) else {
        panic!("the contract order parses");
    };
    let plan = contract_plan("c1", false);
    let basis = CreditBasis::new(&event.order, &plan, 100_001, Some(7), None).expect("an invoice");
    // No basis for an order the store does not have.
    assert!(conflict(orders.save_credit_basis(SHOP, "c1", &basis).await));

    pending(backend, "c1", T).await;
    let account = orders
        .credit_account(SHOP, "c1")
        .await
        .expect("read")
        .expect("order");
    assert_eq!(
        (account.label, account.basis, account.ledger_version),
        (Label::Pending, None, 0)
    );
    orders
        .save_credit_basis(SHOP, "c1", &basis)
        .await
        .expect("basis stored");
    let entry = |id: &str| CreditEntry {
        refund_id: id.to_owned(),
        items: vec![(0, "1".parse().unwrap(), "99.95".parse().unwrap())],
        shipping: Default::default(),
        fees: Vec::new(),
        per_rate: vec![("25".parse().unwrap(), "99.95".parse().unwrap())],
        total: "99.95".parse().unwrap(),
        reference: format!("Credit note 1-{id}"),
    };
    let one = CreditLedger {
        entries: vec![entry("r1")],
    };
    orders
        .write_ledger(SHOP, "c1", 0, &one)
        .await
        .expect("first entry");
    // A writer that read version 0 too loses.
    assert!(conflict(orders.write_ledger(SHOP, "c1", 0, &one).await));
    let two = CreditLedger {
        entries: vec![entry("r1"), entry("r2")],
    };
    assert!(conflict(orders.write_ledger(SHOP, "c1", 2, &two).await));
    orders
        .write_ledger(SHOP, "c1", 1, &two)
        .await
        .expect("second entry");
    let account = orders
        .credit_account(SHOP, "c1")
        .await
        .expect("read")
        .expect("order");
    assert_eq!(account.basis, Some(basis));
    assert_eq!(account.ledger, two);
    assert_eq!(account.ledger_version, 2);
    // The order itself reads as before.
    let order = orders.get(SHOP, "c1").await.expect("read").expect("order");
    assert_eq!(order.label, Label::Pending);
    assert!(conflict(orders.write_ledger(SHOP, "none", 0, &one).await));
}

// ------------------------------------------------------------ invoicing

/// The plan of a DK order the sandbox's seeded agreement accepts.
pub fn contract_plan(order_id: &str, book: bool) -> InvoicePlan {
    let body = crate::order_event("order.paid", order_id, "239.00");
    let Ok(ParsedEvent::Order(event)) = parse_event(&body) else {
        panic!("the contract order parses");
    };
    let mut shop = contract_shop("invoicing");
    shop.mapping.auto_book = book;
    map_order(&event.order, &shop.mapping).expect("the contract order maps")
}

fn options(may_exist: bool) -> PushOptions {
    PushOptions {
        may_exist,
        deadline: Instant::now() + Duration::from_secs(20),
    }
}

pub async fn a_push_creates_one_draft_carrying_the_reference_and_the_total<B: Backend>(
    backend: &B,
) {
    let plan = contract_plan("i1", false);
    let pushed = backend
        .invoicing()
        .push(&backend.credentials(), &plan, options(false))
        .await
        .expect("push");
    assert!(pushed.draft_invoice_number.is_some());
    assert_eq!(pushed.booked_invoice_number, None);
    assert_eq!(pushed.gross_amount, plan.expected_gross_total);
    assert!(!pushed.reused_existing);
    assert!(pushed.calls >= 1);
    assert_eq!(backend.invoices_with_reference(&plan.reference), 1);
}

pub async fn a_push_that_may_exist_completes_the_earlier_invoice_instead_of_a_second<B: Backend>(
    backend: &B,
) {
    let plan = contract_plan("i2", false);
    let first = backend
        .invoicing()
        .push(&backend.credentials(), &plan, options(false))
        .await
        .expect("push");
    let again = backend
        .invoicing()
        .push(&backend.credentials(), &plan, options(true))
        .await
        .expect("push again");
    assert!(again.reused_existing);
    assert_eq!(again.draft_invoice_number, first.draft_invoice_number);
    assert_eq!(backend.invoices_with_reference(&plan.reference), 1);

    // Booking plan: the earlier draft is booked, still one invoice.
    let booking = InvoicePlan {
        book: true,
        ..plan.clone()
    };
    let booked = backend
        .invoicing()
        .push(&backend.credentials(), &booking, options(true))
        .await
        .expect("push booking");
    assert!(booked.booked_invoice_number.is_some());
    assert_eq!(booked.draft_invoice_number, None);
    assert_eq!(backend.invoices_with_reference(&plan.reference), 1);
}

pub async fn a_push_with_tokens_the_agreement_refuses_fails_permanently<B: Backend>(backend: &B) {
    let plan = contract_plan("i3", false);
    let wrong = EconomicCredentials {
        app_secret_token: Secret::new("not-the-app-token"),
        agreement_grant_token: Secret::new("not-the-grant"),
    };
    let error = backend
        .invoicing()
        .push(&wrong, &plan, options(false))
        .await
        .expect_err("refused");
    assert!(!error.transient, "{error:?}");
    assert!(error.reason.contains("401"), "{}", error.reason);
    assert!(
        !error.reason.contains("not-the-grant"),
        "no token in reasons"
    );
    assert_eq!(backend.invoices_with_reference(&plan.reference), 0);
}
