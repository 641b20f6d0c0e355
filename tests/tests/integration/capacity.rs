//! What one order costs in DynamoDB capacity, counted from the functions'
//! own requests (`integration_tests::capacity`): a five-line order sent as
//! `order.created`, `order.paid` (the shop's trigger) and, once invoiced,
//! `order.shipped`, through the real ingest, transfer and rescan handlers.
//! The table it prints is the one `docs/performance.md` quotes
//! (`cargo test -p integration-tests capacity -- --nocapture`).

use bridge::domain::lifecycle::Label;
use integration_tests::capacity::{CapacityMeter, PhaseTotal};
use integration_tests::*;
use serde_json::json;
use std::time::Duration;

/// A typical order: five lines, shipping, a payment fee, a discount code
/// (1.3 KB of order JSON, the order the ingest benchmark uses).
fn five_line_order(event_type: &str, order_id: &str) -> Vec<u8> {
    format!(
        r#"{{
  "type": "{event_type}",
  "order": {{
    "id": "{order_id}",
    "number": "{order_id}",
    "created_at": "2026-11-27T09:12:44+01:00",
    "currency": "DKK",
    "prices_include_vat": true,
    "customer": {{
      "id": "5821",
      "name": "Mette Hansen",
      "email": "mette@example.dk",
      "phone": "+45 20 12 34 56",
      "logged_in": true
    }},
    "billing_address": {{
      "name": "Mette Hansen",
      "street": "Nørregade 12, 2. tv",
      "zip": "8000",
      "city": "Aarhus C",
      "country": "DK"
    }},
    "payment_method": "card",
    "lines": [
      {{"sku": "SKU-1", "name": "Wool socks, grey", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"}},
      {{"sku": "SKU-2", "name": "Beanie, navy", "quantity": "1", "unit_price": "149.00", "vat_rate": "25"}},
      {{"sku": "SKU-3", "name": "Shoe laces, 3 pairs", "quantity": "3", "unit_price": "24.50", "vat_rate": "25"}},
      {{"sku": "SKU-4", "name": "Rain jacket, M", "quantity": "1", "unit_price": "399.00", "vat_rate": "25"}},
      {{"sku": "SKU-5", "name": "Gift card sleeve", "quantity": "2", "unit_price": "12.25", "vat_rate": "25"}}
    ],
    "shipping": {{"name": "GLS Pakkeshop", "price": "39.00"}},
    "fees": [{{"kind": "payment_fee", "label": "Card fee", "amount": "2.50"}}],
    "discounts": [{{"kind": "discount_code", "label": "WINTER50", "amount": "50.00"}}],
    "total": "837.40"
  }}
}}"#
    )
    .into_bytes()
}

/// Webhook ids as shops send them (a UUID each).
const CREATED_ID: &str = "0f6c2f0e-6a47-4c43-9d3c-6a4f3c1d2e01";
const PAID_ID: &str = "0f6c2f0e-6a47-4c43-9d3c-6a4f3c1d2e02";
const SHIPPED_ID: &str = "0f6c2f0e-6a47-4c43-9d3c-6a4f3c1d2e03";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_capacity_per_order_and_event_kind() {
    let meter = CapacityMeter::new(&sdk_config().await);
    let stack = Stack::metered(StackOptions::default(), &meter).await;
    meter.cached_table(&stack.shops_table);
    // The sandbox has no FEE or DISCOUNT product: both go to its generic one.
    let products = json!({"products": {"payment_fee": "GENERIC", "discount": "GENERIC"}});
    stack.put_shop("webshop-dk", true, products).await;
    let order_id = "100234";

    meter.phase("order.created (ingest)");
    let created = five_line_order("order.created", order_id);
    let (status, answer) = stack.send_signed("webshop-dk", CREATED_ID, &created).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("recorded")));

    meter.phase("order.paid (ingest)");
    let paid = five_line_order("order.paid", order_id);
    let (status, answer) = stack.send_signed("webshop-dk", PAID_ID, &paid).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));

    meter.phase("transfer");
    let record = stack
        .transfer_until("webshop-dk", order_id, Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);
    assert_eq!(record.attempts, 1);

    meter.phase("order.shipped (ingest)");
    let shipped = five_line_order("order.shipped", order_id);
    let (status, answer) = stack.send_signed("webshop-dk", SHIPPED_ID, &shipped).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("duplicate"))
    );

    meter.phase("rescan (a scheduled run)");
    let event = lambda_runtime::LambdaEvent::new(json!({}), lambda_runtime::Context::default());
    let report = rescan::handle(&stack.rescan, event).await.expect("rescan");
    assert_eq!(report.due, 0, "an ok order is not due");

    println!("DynamoDB capacity of one order (five lines, three events, trigger paid):");
    println!("{}", meter.table());
    for charge in meter.charges() {
        println!("  {charge:?}");
    }
    assert_eq!(meter.errors(), Vec::<String>::new());

    // (phase, WRU on the orders table, WRU on its rescan index, RRU on the
    // orders table in halves). Shop reads (one per event here, where the
    // test stack does not cache shops) are counted apart.
    let expected: [(&str, u32, u32, u32); 5] = [
        ("order.created (ingest)", 1, 0, 2),
        ("order.paid (ingest)", 1, 1, 2),
        ("transfer", 3, 3, 0),
        ("order.shipped (ingest)", 0, 0, 2),
        ("rescan (a scheduled run)", 0, 0, 1),
    ];
    let totals = meter.totals();
    let measured: Vec<(&str, u32, u32, u32)> = totals
        .iter()
        .map(|(phase, t): &(String, PhaseTotal)| (phase.as_str(), t.wru, t.index_wru, t.half_rru))
        .collect();
    assert_eq!(measured, expected);
}

/// The DynamoDB writes label notifications add to one order (shop with a
/// `notify` target; the order's pending and ok notifications delivered in
/// one batch, as the notification queue's 1 s batching window usually
/// makes them): the `pending` one is recorded in a write of its own, the
/// `ok` one in the `ok` label's write, and both outcomes in one write.
/// Recorded and updated one by one, the same order took two writes more
/// in transfer (5) and one more in delivery (2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_writes_of_an_order_with_label_notifications() {
    let meter = CapacityMeter::new(&sdk_config().await);
    let stack = Stack::metered(StackOptions::default(), &meter).await;
    meter.cached_table(&stack.shops_table);
    let receiver = local_stack::receiver::NotificationReceiver::start(0)
        .await
        .expect("receiver");
    stack
        .put_shop_with_notify(
            "webshop-dk",
            &receiver.url(),
            "whsec_bGFiZWwgbm90aWZpY2F0aW9ucyB0ZXN0IHNlY3JldA==",
        )
        .await;
    let order_id = "100235";

    meter.phase("order.paid (ingest)");
    let paid = order_event("order.paid", order_id, "239.00");
    let (status, _) = stack.send_signed("webshop-dk", PAID_ID, &paid).await;
    assert_eq!(status, 202);

    meter.phase("transfer");
    let record = stack
        .transfer_until("webshop-dk", order_id, Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);

    meter.phase("notification delivery");
    let outcome = stack.poll_notifications().await;
    assert_eq!((outcome.received, outcome.deleted), (2, 2), "one batch");
    assert_eq!(receiver.accepted().len(), 2);

    println!("DynamoDB capacity of one order with label notifications:");
    println!("{}", meter.table());
    assert_eq!(meter.errors(), Vec::<String>::new());
    // (phase, writes, WRU on the orders table): every write here is of an
    // item under 1 KB.
    let totals = meter.totals();
    let measured: Vec<(&str, u32)> = totals
        .iter()
        .map(|(phase, t): &(String, PhaseTotal)| (phase.as_str(), t.wru))
        .collect();
    assert_eq!(
        measured,
        [
            ("order.paid (ingest)", 1),
            ("transfer", 4),
            ("notification delivery", 1)
        ]
    );
}
