//! The adapter contract for the payment step's mark and note
//! ([`PaymentStore`]): only the lease holder of a pending order writes
//! them, and the first mark's time is kept and reported to later marks.

use super::{claim, conflict, outcome, pending, Backend, SHOP, T};
use bridge::domain::lifecycle::LeaseOwner;
use bridge::ports::{OkNotification, OrderStore, PaymentStore};

pub async fn only_the_lease_holder_marks_the_payment_and_the_first_mark_is_kept<B: Backend>(
    backend: &B,
) {
    let orders = backend.orders();
    pending(backend, "p1", T).await;
    let holder = LeaseOwner::new("m1", 2);
    let stranger = LeaseOwner::new("m1", 1);
    orders.claim(&claim("p1", &holder, T)).await.expect("claim");

    assert!(conflict(
        orders.mark_payment_started(SHOP, "p1", &stranger, T).await
    ));
    assert!(conflict(
        orders.mark_payment_started(SHOP, "none", &holder, T).await
    ));
    assert_eq!(
        orders
            .mark_payment_started(SHOP, "p1", &holder, T)
            .await
            .expect("the holder marks"),
        None,
        "no earlier mark"
    );
    assert_eq!(
        orders
            .mark_payment_started(SHOP, "p1", &holder, T + 5)
            .await
            .expect("marked again"),
        Some(T),
        "the first mark is kept and reported"
    );

    let note = "payment of 125 DKK registered in journal 2 (voucher 2026-1) against account 5830";
    assert!(conflict(
        orders
            .record_payment(SHOP, "p1", &stranger, note, T + 6)
            .await
    ));
    orders
        .record_payment(SHOP, "p1", &holder, note, T + 6)
        .await
        .expect("the holder records the payment");
    let record = orders.get(SHOP, "p1").await.expect("read").expect("order");
    assert_eq!(record.history.last().map(|h| h.what.as_str()), Some(note));

    // Once the order is ok, nobody marks or records a payment on it.
    orders
        .mark_ok(
            SHOP,
            "p1",
            &outcome(1),
            T + 7,
            T + 1_000,
            OkNotification::Skip,
        )
        .await
        .expect("ok");
    assert!(conflict(
        orders
            .mark_payment_started(SHOP, "p1", &holder, T + 8)
            .await
    ));
    assert!(conflict(
        orders
            .record_payment(SHOP, "p1", &holder, note, T + 8)
            .await
    ));
}
