//! The adapter contract for the shop's requests on an order
//! ([`OrderControl`]) and for label notifications and write-backs stored
//! with the order ([`NotificationStore`]).

use super::{claim, conflict, outcome, pending, Backend, SHOP, T};
use bridge::domain::lifecycle::{Label, LeaseOwner, OrderRecord};
use bridge::domain::notify::{Channel, DeliveryState, DeliveryUpdate};
use bridge::ports::{NotificationStore, OkNotification, OrderControl, OrderStore};

async fn read<B: Backend>(backend: &B, order_id: &str) -> OrderRecord {
    backend
        .orders()
        .get(SHOP, order_id)
        .await
        .expect("read")
        .expect("order")
}

/// An ok order with draft 42, its lease released.
async fn invoiced<B: Backend>(backend: &B, order_id: &str) {
    ready_for_ok(backend, order_id).await;
    backend
        .orders()
        .mark_ok(
            SHOP,
            order_id,
            &outcome(42),
            T + 1,
            T + 86_400,
            OkNotification::Skip,
        )
        .await
        .expect("ok");
}

// ------------------------------------------------------------ order control

pub async fn a_control_claim_takes_any_unleased_order_but_a_cancelled_one<B: Backend>(backend: &B) {
    let orders = backend.orders();
    let owner = LeaseOwner::new("c", 1);
    assert_eq!(
        orders
            .claim_control(&claim("missing", &owner, T))
            .await
            .expect("claim"),
        None
    );
    // An ok order is claimed too (a re-send or cancellation acts on it).
    invoiced(backend, "c1").await;
    let before = read(backend, "c1").await;
    let claimed = orders
        .claim_control(&claim("c1", &owner, T + 2))
        .await
        .expect("claim")
        .expect("taken");
    assert_eq!(claimed.label, Label::Ok);
    assert_eq!(claimed.version, before.version + 1);
    assert_eq!(claimed.lease_owner.as_deref(), Some("c#1"));
    assert_eq!(
        claimed.draft_invoice_number,
        Some(42),
        "nothing else changes"
    );
    // Leased: refused until the lease runs out.
    let other = LeaseOwner::new("d", 1);
    assert_eq!(
        orders
            .claim_control(&claim("c1", &other, T + 3))
            .await
            .expect("claim"),
        None
    );
    assert!(orders
        .claim_control(&claim("c1", &other, T + 2 + 61))
        .await
        .expect("claim")
        .is_some());
    // Cancelled is final.
    pending(backend, "c2", T).await;
    orders
        .claim_control(&claim("c2", &owner, T))
        .await
        .expect("claim")
        .expect("taken");
    orders
        .mark_cancelled(SHOP, "c2", &owner, "cancelled by the shop", T + 1, T + 90)
        .await
        .expect("cancelled");
    assert_eq!(
        orders
            .claim_control(&claim("c2", &owner, T + 500))
            .await
            .expect("claim"),
        None
    );
}

pub async fn a_cancellation_needs_the_lease_and_takes_the_order_out_of_the_index<B: Backend>(
    backend: &B,
) {
    let orders = backend.orders();
    pending(backend, "c3", T).await;
    let holder = LeaseOwner::new("c", 2);
    let stranger = LeaseOwner::new("c", 1);
    orders
        .claim_control(&claim("c3", &holder, T))
        .await
        .expect("claim")
        .expect("taken");
    let reason = "the shop cancelled the order before it was invoiced";
    assert!(conflict(
        orders
            .mark_cancelled(SHOP, "c3", &stranger, reason, T + 1, T + 90)
            .await
    ));
    assert!(conflict(
        orders
            .mark_cancelled(SHOP, "none", &holder, reason, T + 1, T + 90)
            .await
    ));
    orders
        .mark_cancelled(SHOP, "c3", &holder, reason, T + 1, T + 90)
        .await
        .expect("the holder cancels");
    let cancelled = read(backend, "c3").await;
    assert_eq!(cancelled.label, Label::Cancelled);
    assert_eq!(cancelled.last_error.as_deref(), Some(reason));
    assert_eq!(cancelled.expires_at, Some(T + 90));
    assert_eq!(
        (cancelled.lease_owner.as_deref(), cancelled.lease_until),
        (None, None)
    );
    assert_eq!(cancelled.rescan_after, None);
    assert_eq!(
        cancelled.history.last().map(|h| h.what.as_str()),
        Some(format!("cancelled: {reason}").as_str())
    );
    let due = orders.due_for_rescan(T + 10_000, 10).await.expect("query");
    assert!(due.iter().all(|d| d.order_id != "c3"));
}

pub async fn only_an_ok_order_under_its_lease_reopens_and_keeps_create_started<B: Backend>(
    backend: &B,
) {
    let orders = backend.orders();
    let owner = LeaseOwner::new("r", 1);
    // A pending order cannot be "re-opened".
    pending(backend, "r1", T).await;
    orders
        .claim_control(&claim("r1", &owner, T))
        .await
        .expect("claim")
        .expect("taken");
    assert!(conflict(
        orders
            .reopen_ok(SHOP, "r1", &owner, "draft deleted", T + 1, T + 300)
            .await
    ));

    invoiced(backend, "r2").await;
    assert!(
        conflict(
            orders
                .reopen_ok(SHOP, "r2", &owner, "draft deleted", T + 2, T + 300)
                .await
        ),
        "without the lease"
    );
    orders
        .claim_control(&claim("r2", &owner, T + 2))
        .await
        .expect("claim")
        .expect("taken");
    let why = "re-sent by the shop: its draft invoice 42 was deleted in e-conomic";
    orders
        .reopen_ok(SHOP, "r2", &owner, why, T + 3, T + 300)
        .await
        .expect("re-opened");
    let reopened = read(backend, "r2").await;
    assert_eq!(reopened.label, Label::Pending);
    assert_eq!(
        (
            reopened.draft_invoice_number,
            reopened.booked_invoice_number
        ),
        (None, None)
    );
    assert!(reopened.create_started, "the next attempt looks first");
    assert_eq!(reopened.lease_owner, None);
    assert_eq!(reopened.rescan_after, Some(T + 300));
    assert_eq!(reopened.expires_at, None, "no longer expires as ok");
    assert_eq!(reopened.history.last().map(|h| h.what.as_str()), Some(why));
    let due = orders.due_for_rescan(T + 301, 10).await.expect("query");
    assert!(due.iter().any(|d| d.order_id == "r2"));
}

pub async fn a_refused_request_only_records_its_history_and_frees_the_lease<B: Backend>(
    backend: &B,
) {
    let orders = backend.orders();
    invoiced(backend, "q1").await;
    let owner = LeaseOwner::new("q", 1);
    orders
        .claim_control(&claim("q1", &owner, T + 2))
        .await
        .expect("claim")
        .expect("taken");
    let claimed = read(backend, "q1").await;
    assert!(conflict(
        orders
            .release_control(SHOP, "q1", &LeaseOwner::new("x", 1), "no", T + 3)
            .await
    ));
    let what = "re-send refused: draft invoice 42 still exists in e-conomic";
    orders
        .release_control(SHOP, "q1", &owner, what, T + 3)
        .await
        .expect("released");
    let after = read(backend, "q1").await;
    assert_eq!(after.label, Label::Ok);
    assert_eq!(after.draft_invoice_number, Some(42));
    assert_eq!((after.lease_owner, after.lease_until), (None, None));
    assert_eq!(after.version, claimed.version + 1);
    assert_eq!(after.history.last().map(|h| h.what.as_str()), Some(what));
    assert!(conflict(
        orders
            .release_control(SHOP, "q1", &owner, what, T + 4)
            .await
    ));
}

// ------------------------------------------------------------ notifications

pub async fn notifications_are_numbered_per_channel_and_only_notify_skips_a_repeat<B: Backend>(
    backend: &B,
) {
    let store = backend.orders();
    assert_eq!(
        store
            .record_notification(Channel::Notify, SHOP, "missing", "e-conomic-ok", T)
            .await
            .expect("record"),
        None,
        "no order, nothing recorded"
    );
    pending(backend, "n1", T).await;
    let record =
        |channel, label: &'static str| store.record_notification(channel, SHOP, "n1", label, T + 1);
    assert_eq!(
        record(Channel::Notify, "e-conomic-pending")
            .await
            .expect("record"),
        Some(1)
    );
    assert_eq!(
        record(Channel::Notify, "e-conomic-failed")
            .await
            .expect("record"),
        Some(2)
    );
    assert_eq!(
        record(Channel::Notify, "e-conomic-failed")
            .await
            .expect("record"),
        None,
        "the same label again is no change"
    );
    // Write-backs: a sequence of their own, every outcome written.
    assert_eq!(
        record(Channel::WriteBack, "e-conomic-failed")
            .await
            .expect("record"),
        Some(1)
    );
    assert_eq!(
        record(Channel::WriteBack, "e-conomic-failed")
            .await
            .expect("record"),
        Some(2)
    );
    let notify = store
        .notifications(Channel::Notify, SHOP, "n1")
        .await
        .expect("read");
    let labels: Vec<(u64, &str, DeliveryState)> = notify
        .iter()
        .map(|n| (n.sequence, n.label.as_str(), n.state))
        .collect();
    assert_eq!(
        labels,
        [
            (1, "e-conomic-pending", DeliveryState::Queued),
            (2, "e-conomic-failed", DeliveryState::Queued)
        ]
    );
    assert_eq!((notify[0].at, notify[0].attempts), (T + 1, 0));
    let write_backs = store
        .notifications(Channel::WriteBack, SHOP, "n1")
        .await
        .expect("read");
    assert_eq!(write_backs.len(), 2);
    // The order itself is untouched by all of it.
    let order = read(backend, "n1").await;
    assert_eq!((order.label, order.version), (Label::Pending, 1));
}

pub async fn a_delivery_update_lands_on_its_own_notification_only<B: Backend>(backend: &B) {
    let store = backend.orders();
    pending(backend, "n2", T).await;
    for label in ["e-conomic-pending", "e-conomic-ok"] {
        store
            .record_notification(Channel::Notify, SHOP, "n2", label, T)
            .await
            .expect("record");
    }
    store
        .record_notification(Channel::WriteBack, SHOP, "n2", "e-conomic-ok", T)
        .await
        .expect("record");
    let retrying = DeliveryUpdate {
        state: DeliveryState::Retrying,
        attempts: 2,
        error: Some("receiver answered HTTP 503".into()),
    };
    store
        .update_notification(Channel::Notify, SHOP, "n2", 2, &retrying, T + 5)
        .await
        .expect("update");
    let notify = store
        .notifications(Channel::Notify, SHOP, "n2")
        .await
        .expect("read");
    assert_eq!(notify[0].state, DeliveryState::Queued);
    assert_eq!(
        (
            notify[1].state,
            notify[1].attempts,
            notify[1].updated_at,
            notify[1].last_error.as_deref()
        ),
        (
            DeliveryState::Retrying,
            2,
            T + 5,
            Some("receiver answered HTTP 503")
        )
    );
    // Delivered clears the error; the write-back channel is its own.
    let refused = DeliveryUpdate {
        state: DeliveryState::Refused,
        attempts: 1,
        error: Some("Shopify answered HTTP 401".into()),
    };
    store
        .update_notification(Channel::WriteBack, SHOP, "n2", 1, &refused, T + 6)
        .await
        .expect("update");
    let delivered = DeliveryUpdate {
        state: DeliveryState::Delivered,
        attempts: 3,
        error: None,
    };
    store
        .update_notification(Channel::Notify, SHOP, "n2", 2, &delivered, T + 7)
        .await
        .expect("update");
    let notify = store
        .notifications(Channel::Notify, SHOP, "n2")
        .await
        .expect("read");
    assert_eq!(
        (notify[1].state, notify[1].last_error.as_deref()),
        (DeliveryState::Delivered, None)
    );
    let write_backs = store
        .notifications(Channel::WriteBack, SHOP, "n2")
        .await
        .expect("read");
    assert_eq!(
        (write_backs[0].state, write_backs[0].attempts),
        (DeliveryState::Refused, 1)
    );
    // No such notification: a conflict, nothing written.
    for sequence in [0, 3] {
        assert!(conflict(
            store
                .update_notification(Channel::Notify, SHOP, "n2", sequence, &delivered, T + 8)
                .await
        ));
    }
    assert!(conflict(
        store
            .update_notification(Channel::WriteBack, SHOP, "n2", 2, &delivered, T + 8)
            .await
    ));
    let missing = store
        .update_notification(Channel::Notify, SHOP, "missing", 1, &delivered, T + 8)
        .await;
    assert!(
        matches!(missing, Err(bridge::ports::StoreError::Conflict)),
        "{missing:?}"
    );
    assert_eq!(
        store
            .notifications(Channel::Notify, SHOP, "missing")
            .await
            .expect("read"),
        [],
        "no order was made up"
    );
    assert_eq!(
        backend.orders().get(SHOP, "missing").await.expect("read"),
        None
    );
}

/// An order claimed and with its create started, ready for `mark_ok`.
async fn ready_for_ok<B: Backend>(backend: &B, order_id: &str) {
    pending(backend, order_id, T).await;
    let owner = LeaseOwner::new("m", 1);
    let orders = backend.orders();
    orders
        .claim(&claim(order_id, &owner, T))
        .await
        .expect("claim");
    orders
        .mark_create_started(SHOP, order_id, &owner)
        .await
        .expect("create started");
}

pub async fn the_ok_label_write_can_record_the_ok_notification_itself<B: Backend>(backend: &B) {
    let store = backend.orders();
    ready_for_ok(backend, "n3").await;
    assert_eq!(
        store
            .record_notification(Channel::Notify, SHOP, "n3", "e-conomic-pending", T)
            .await
            .expect("record"),
        Some(1)
    );
    let sequence = store
        .mark_ok(
            SHOP,
            "n3",
            &outcome(42),
            T + 1,
            T + 86_400,
            OkNotification::Record,
        )
        .await
        .expect("ok");
    assert_eq!(sequence, Some(2), "the next sequence after pending");
    let notify = store
        .notifications(Channel::Notify, SHOP, "n3")
        .await
        .expect("read");
    let entries: Vec<(u64, &str, DeliveryState, i64, u32, i64)> = notify
        .iter()
        .map(|n| {
            (
                n.sequence,
                n.label.as_str(),
                n.state,
                n.at,
                n.attempts,
                n.updated_at,
            )
        })
        .collect();
    assert_eq!(
        entries,
        [
            (1, "e-conomic-pending", DeliveryState::Queued, T, 0, T),
            (2, "e-conomic-ok", DeliveryState::Queued, T + 1, 0, T + 1)
        ]
    );
    assert_eq!(notify[1].last_error, None);
    // The label was written too, and the write-back channel is untouched.
    let order = read(backend, "n3").await;
    assert_eq!(
        (order.label, order.draft_invoice_number),
        (Label::Ok, Some(42))
    );
    assert_eq!(
        store
            .notifications(Channel::WriteBack, SHOP, "n3")
            .await
            .expect("read"),
        []
    );
    // `ok` is the last notified label: recording it again is a repeat.
    assert_eq!(
        store
            .record_notification(Channel::Notify, SHOP, "n3", "e-conomic-ok", T + 2)
            .await
            .expect("record"),
        None
    );
    // Its delivery state lands on it like any other's.
    let delivered = DeliveryUpdate {
        state: DeliveryState::Delivered,
        attempts: 1,
        error: None,
    };
    store
        .update_notification(Channel::Notify, SHOP, "n3", 2, &delivered, T + 3)
        .await
        .expect("update");

    // Without it, nothing about notifications is written.
    ready_for_ok(backend, "n4").await;
    store
        .record_notification(Channel::Notify, SHOP, "n4", "e-conomic-pending", T)
        .await
        .expect("record");
    assert_eq!(
        store
            .mark_ok(
                SHOP,
                "n4",
                &outcome(43),
                T + 1,
                T + 86_400,
                OkNotification::Skip
            )
            .await
            .expect("ok"),
        None
    );
    assert_eq!(read(backend, "n4").await.label, Label::Ok);
    let labels: Vec<String> = store
        .notifications(Channel::Notify, SHOP, "n4")
        .await
        .expect("read")
        .into_iter()
        .map(|n| n.label)
        .collect();
    assert_eq!(labels, ["e-conomic-pending"]);
    assert_eq!(
        store
            .record_notification(Channel::Notify, SHOP, "n4", "e-conomic-ok", T + 2)
            .await
            .expect("record"),
        Some(2),
        "pending is still the last notified label"
    );

    // The first notification of an order can be the ok one; no order, nothing.
    ready_for_ok(backend, "n5").await;
    assert_eq!(
        store
            .mark_ok(
                SHOP,
                "n5",
                &outcome(44),
                T + 1,
                T + 86_400,
                OkNotification::Record
            )
            .await
            .expect("ok"),
        Some(1)
    );
    assert!(conflict(
        store
            .mark_ok(
                SHOP,
                "missing",
                &outcome(1),
                T,
                T + 1,
                OkNotification::Record
            )
            .await
    ));
    assert_eq!(
        store
            .notifications(Channel::Notify, SHOP, "missing")
            .await
            .expect("read"),
        []
    );
}

pub async fn several_delivery_updates_land_in_one_write_or_none_does<B: Backend>(backend: &B) {
    let store = backend.orders();
    pending(backend, "n6", T).await;
    for label in ["e-conomic-pending", "e-conomic-failed", "e-conomic-ok"] {
        store
            .record_notification(Channel::Notify, SHOP, "n6", label, T)
            .await
            .expect("record");
    }
    let delivered = DeliveryUpdate {
        state: DeliveryState::Delivered,
        attempts: 2,
        error: None,
    };
    let retrying = DeliveryUpdate {
        state: DeliveryState::Retrying,
        attempts: 1,
        error: Some("receiver answered HTTP 503".into()),
    };
    store
        .update_notifications(
            Channel::Notify,
            SHOP,
            "n6",
            &[(1, &delivered), (3, &retrying)],
            T + 5,
        )
        .await
        .expect("update");
    let states = |notify: Vec<bridge::domain::notify::NotificationRecord>| {
        notify
            .into_iter()
            .map(|n| (n.sequence, n.state, n.attempts, n.updated_at, n.last_error))
            .collect::<Vec<_>>()
    };
    let after_first = vec![
        (1, DeliveryState::Delivered, 2, T + 5, None),
        (2, DeliveryState::Queued, 0, T, None),
        (
            3,
            DeliveryState::Retrying,
            1,
            T + 5,
            Some("receiver answered HTTP 503".to_owned()),
        ),
    ];
    let read_notify = || store.notifications(Channel::Notify, SHOP, "n6");
    assert_eq!(states(read_notify().await.expect("read")), after_first);
    // Delivered clears the error of an earlier try, next to another update.
    store
        .update_notifications(
            Channel::Notify,
            SHOP,
            "n6",
            &[(2, &retrying), (3, &delivered)],
            T + 6,
        )
        .await
        .expect("update");
    let notify = read_notify().await.expect("read");
    assert_eq!(
        (notify[1].state, notify[1].last_error.is_some()),
        (DeliveryState::Retrying, true)
    );
    assert_eq!(
        (notify[2].state, notify[2].last_error.as_deref()),
        (DeliveryState::Delivered, None)
    );
    // One missing notification (4, or 0): a conflict, and nothing written.
    let before = states(read_notify().await.expect("read"));
    for missing in [4, 0] {
        assert!(conflict(
            store
                .update_notifications(
                    Channel::Notify,
                    SHOP,
                    "n6",
                    &[(1, &retrying), (missing, &delivered)],
                    T + 7,
                )
                .await
        ));
    }
    assert!(conflict(
        store
            .update_notifications(Channel::WriteBack, SHOP, "n6", &[(1, &delivered)], T + 7)
            .await
    ));
    assert_eq!(states(read_notify().await.expect("read")), before);
    // Nothing to update: nothing written, not even for a missing order.
    store
        .update_notifications(Channel::Notify, SHOP, "missing", &[], T + 8)
        .await
        .expect("no updates");
}
