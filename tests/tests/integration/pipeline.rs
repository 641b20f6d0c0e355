//! End to end through the real handlers: signed webhook → ingest (API
//! Gateway v2 event) → DynamoDB + SQS in moto → transfer (SQS event built
//! from a real receive) → e-conomic sandbox over HTTP.

use bridge::domain::lifecycle::{Label, LeaseOwner};
use bridge::ports::{Claim, OrderStore};
use economic_sandbox::Faults;
use integration_tests::*;
use serde_json::json;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn reference(order_id: &str) -> String {
    format!("Order {order_id}")
}

fn attribute(message: &aws_sdk_sqs::types::Message, name: &str) -> Option<String> {
    message
        .message_attributes
        .as_ref()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhook_becomes_a_draft_invoice_and_an_ok_label() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;

    let body = order_event("order.paid", "1001", "239.00");
    let (status, answer) = stack.send_signed("acme", "msg_1001", &body).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer, json!({"status": "accepted", "order_id": "1001"}));
    let pending = stack.order("acme", "1001").await.expect("recorded");
    assert_eq!(pending.label, Label::Pending);

    let record = stack
        .transfer_until("acme", "1001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(
        record.label,
        Label::Ok,
        "last error: {:?}",
        record.last_error
    );
    let drafts = stack.sandbox.drafts(0);
    assert_eq!(drafts.len(), 1);
    assert_eq!(
        drafts[0].reference.as_deref(),
        Some(reference("1001").as_str())
    );
    assert_eq!(drafts[0].gross_amount.normalize().to_string(), "239");
    assert_eq!(
        record.draft_invoice_number,
        Some(drafts[0].draft_invoice_number)
    );
    assert!(record.economic_calls.unwrap_or(0) >= 1);
    assert!(record.expires_at.is_some(), "ok records get a TTL");
    assert_eq!(record.lease_until, None);
    assert_eq!(
        record.rescan_after, None,
        "ok orders leave the rescan index"
    );
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_and_concurrent_deliveries_give_one_invoice() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "2001", "239.00");

    // The same delivery ten times in a row.
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(stack.send_signed("acme", "msg_same", &body).await);
    }
    assert_eq!(statuses[0].1["status"], "accepted");
    assert!(statuses[1..]
        .iter()
        .all(|(s, b)| *s == 202 && b["status"] == "duplicate"));

    // Ten concurrent deliveries with different ids (the shop re-sent).
    let body2 = order_event("order.paid", "2002", "239.00");
    let answers = futures::future::join_all((0..10).map(|i| {
        let stack = &stack;
        let body2 = body2.clone();
        async move {
            stack
                .send_signed("acme", &format!("msg_c{i}"), &body2)
                .await
        }
    }))
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 202), "{answers:?}");
    assert_eq!(
        stack.depth(&stack.queues.queue_url).await,
        2,
        "one message per order, whatever the number of deliveries"
    );

    for order_id in ["2001", "2002"] {
        let record = stack
            .transfer_until("acme", order_id, LIMIT, |r| r.label == Label::Ok)
            .await;
        assert_eq!(record.attempts, 1);
        assert_eq!(
            stack.sandbox.drafts_with_reference(0, &reference(order_id)),
            1
        );
    }

    // After ok: a new event for the order is a duplicate and enqueues nothing.
    let shipped = order_event("order.shipped", "2001", "239.00");
    let (status, answer) = stack.send_signed("acme", "msg_shipped", &shipped).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("duplicate"))
    );
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
    assert_eq!(stack.sandbox.drafts(0).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_error_labels_failed_and_dead_letters_with_the_reason() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    // The total does not match the lines: the mapping refuses the order.
    let body = order_event("order.paid", "3001", "500.00");
    assert_eq!(stack.send_signed("acme", "msg_3001", &body).await.0, 202);

    let record = stack
        .transfer_until("acme", "3001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Failed);
    let reason = record.last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("total"),
        "reason names the problem: {reason}"
    );

    let dead = stack.peek(&stack.queues.dead_letter_queue_url).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        attribute(&dead[0], "reason").as_deref(),
        Some(reason.as_str())
    );
    assert_eq!(attribute(&dead[0], "shop_id").as_deref(), Some("acme"));
    assert_eq!(attribute(&dead[0], "order_id").as_deref(), Some("3001"));
    assert_eq!(
        stack.depth(&stack.queues.queue_url).await,
        0,
        "acknowledged"
    );
    assert!(stack.sandbox.drafts(0).is_empty());
    assert!(
        dead[0]
            .body
            .as_deref()
            .unwrap_or_default()
            .contains("dead_lettered"),
        "the DLQ copy is marked, so a replay of it may re-open the order"
    );

    // An older copy of the order's message (a duplicate, a rescan re-send)
    // does not re-open the failed order: acknowledged, nothing pushed.
    stack
        .sqs()
        .send_message()
        .queue_url(&stack.queues.queue_url)
        .message_body(r#"{"shop_id":"acme","order_id":"3001","cause":"rescan"}"#)
        .send()
        .await
        .expect("send");
    let outcome = stack.poll_transfer().await;
    assert_eq!((outcome.received, outcome.failed), (1, 0));
    let record = stack.order("acme", "3001").await.expect("record");
    assert_eq!(record.label, Label::Failed);
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
    assert!(stack.sandbox.drafts(0).is_empty());

    // A fixed order re-sent by the shop (new delivery) goes through.
    let fixed = order_event("order.paid", "3001", "239.00");
    let (status, answer) = stack.send_signed("acme", "msg_3001_fixed", &fixed).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("accepted")));
    let record = stack
        .transfer_until("acme", "3001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_errors_are_retried_then_succeed() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    stack.sandbox.set_faults(Faults {
        rate_500: 1.0,
        ..Faults::default()
    });
    let body = order_event("order.paid", "4001", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_4001", &body).await.0, 202);

    let outcome = stack.poll_transfer().await;
    assert_eq!((outcome.received, outcome.failed), (1, 1));
    let record = stack.order("acme", "4001").await.expect("order");
    assert_eq!(record.label, Label::Pending);
    assert!(record.last_error.is_some());
    assert_eq!(record.lease_until, None, "lease released for the retry");

    stack.sandbox.set_faults(Faults::default());
    let record = stack
        .transfer_until("acme", "4001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Ok);
    assert_eq!(record.attempts, 2);
    assert_eq!(
        stack.sandbox.drafts_with_reference(0, &reference("4001")),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_retries_fail_then_a_dlq_replay_ends_ok() {
    let stack = Stack::with_options(StackOptions {
        max_receive_count: 2,
        ..StackOptions::default()
    })
    .await;
    stack.put_shop("acme", true, json!({})).await;
    stack.sandbox.set_faults(Faults {
        rate_500: 1.0,
        ..Faults::default()
    });
    let body = order_event("order.paid", "5001", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_5001", &body).await.0, 202);

    let record = stack
        .transfer_until("acme", "5001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Failed);
    assert_eq!(record.attempts, 2);
    let reason = record.last_error.clone().unwrap_or_default();
    assert!(reason.starts_with("gave up after 2 attempts"), "{reason}");
    let dead = stack.peek(&stack.queues.dead_letter_queue_url).await;
    assert_eq!(
        dead.len(),
        1,
        "exactly one DLQ copy (ours, not also the redrive)"
    );
    assert_eq!(
        attribute(&dead[0], "reason").as_deref(),
        Some(reason.as_str())
    );

    // e-conomic is back; the operator moves the message to the main queue.
    stack.sandbox.set_faults(Faults::default());
    let sqs = stack.sqs();
    let message = &dead[0];
    sqs.send_message()
        .queue_url(&stack.queues.queue_url)
        .message_body(message.body.clone().unwrap_or_default())
        .send()
        .await
        .expect("replay");
    sqs.delete_message()
        .queue_url(&stack.queues.dead_letter_queue_url)
        .receipt_handle(message.receipt_handle.clone().unwrap_or_default())
        .send()
        .await
        .expect("delete from DLQ");
    let record = stack
        .transfer_until("acme", "5001", LIMIT, |r| {
            r.label != Label::Failed && r.label != Label::Pending
        })
        .await;
    assert_eq!(record.label, Label::Ok);
    assert_eq!(
        stack.sandbox.drafts_with_reference(0, &reference("5001")),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescan_re_enqueues_a_pending_order_whose_message_was_lost() {
    let stack = Stack::with_options(StackOptions {
        rescan_min_age_seconds: 2,
        ..StackOptions::default()
    })
    .await;
    stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "6001", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_6001", &body).await.0, 202);
    // Lose the message.
    stack
        .sqs()
        .purge_queue()
        .queue_url(&stack.queues.queue_url)
        .send()
        .await
        .expect("purge");
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);

    // Not due yet.
    let report = rescan_once(&stack).await;
    assert_eq!(report.enqueued, 0);

    // Poll with a bound until the order is due.
    let report = rescan_until_it_acts(&stack).await;
    assert_eq!(report.enqueued, 1);
    // Running again right away does not enqueue it twice.
    let again = rescan_once(&stack).await;
    assert_eq!(again.enqueued, 0);
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 1);

    let record = stack
        .transfer_until("acme", "6001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Ok);
    assert_eq!(
        stack.sandbox.drafts_with_reference(0, &reference("6001")),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_gets_its_status_code() {
    let stack = Stack::with_options(StackOptions {
        max_body_bytes: 4096,
        ..StackOptions::default()
    })
    .await;
    stack.put_shop("acme", true, json!({})).await;
    stack.put_shop("closed", false, json!({})).await;
    let body = order_event("order.paid", "7001", "239.00");

    // 413 before anything else (even for an unknown shop).
    let big = vec![b' '; 5000];
    assert_eq!(stack.send_signed("nobody", "m", &big).await.0, 413);
    let mut headers = signed_headers(SECRET, "m", now(), &body);
    headers.push(("content-length".to_owned(), "999999".to_owned()));
    assert_eq!(stack.deliver("acme", headers, &body).await.0, 413);

    // 404 unknown and disabled shops.
    assert_eq!(stack.send_signed("nobody", "m", &body).await.0, 404);
    assert_eq!(stack.send_signed("closed", "m", &body).await.0, 404);

    // 401: bad signature, stale, missing headers, another shop's secret.
    let mut tampered = signed_headers(SECRET, "m", now(), &body);
    tampered[3].1 = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".to_owned();
    assert_eq!(stack.deliver("acme", tampered, &body).await.0, 401);
    let stale = signed_headers(SECRET, "m", now() - 600, &body);
    assert_eq!(stack.deliver("acme", stale, &body).await.0, 401);
    let future = signed_headers(SECRET, "m", now() + 600, &body);
    assert_eq!(stack.deliver("acme", future, &body).await.0, 401);
    let (status, answer) = stack.deliver("acme", vec![], &body).await;
    assert_eq!(status, 401);
    assert_eq!(answer["error"], "missing header webhook-id");
    let other = signed_headers(OTHER_SECRET, "m", now(), &body);
    assert_eq!(stack.deliver("acme", other, &body).await.0, 401);

    // 400 naming the field.
    let bad = String::from_utf8(body.clone())
        .unwrap()
        .replace(r#""quantity": 2"#, r#""quantity": "two""#)
        .into_bytes();
    let (status, answer) = stack.send_signed("acme", "m_bad", &bad).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["field"], "order.lines[0].quantity");
    let (status, answer) = stack.send_signed("acme", "m_bad2", b"not json").await;
    assert_eq!(status, 400, "{answer}");

    // 202 ignored for an event type we do not handle.
    let (status, answer) = stack
        .send_signed(
            "acme",
            "m_other",
            br#"{"type":"customer.created","data":{}}"#,
        )
        .await;
    assert_eq!((status, answer), (202, json!({"status": "ignored"})));

    // 202 recorded before the trigger (created, shop triggers on paid).
    let created = order_event("order.created", "7002", "239.00");
    let (status, answer) = stack.send_signed("acme", "m_created", &created).await;
    assert_eq!((status, answer["status"].as_str()), (202, Some("recorded")));

    // Nothing above reached the queue.
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
    assert!(stack.order("acme", "7001").await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_trouble_is_503_with_retry_after() {
    let stack = Stack::start().await;
    let broken = ingest::IngestContext::new(
        &stack.sdk,
        "no-such-table",
        "no-such-table-either",
        &stack.queues.queue_url,
        bridge::app::ingest::IngestSettings::default(),
    );
    let body = order_event("order.paid", "8001", "239.00");
    let headers = signed_headers(SECRET, "m", now(), &body);
    let event = local_stack::apigw::http_api_event(
        &local_stack::apigw::HttpRequestParts {
            method: "POST",
            path: "/webhooks/acme",
            query: "",
            headers,
            body: &body,
        },
        "POST /webhooks/{shop_id}",
        &[("shop_id", "acme")],
        now() * 1000,
    );
    let request = local_stack::apigw::to_lambda_request(event).expect("event");
    let response = ingest::handle(&broken, request).await;
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("30")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_create_response_is_retried_without_a_second_invoice() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    // e-conomic creates the draft, then the answer is lost (connection
    // dropped), every time the client tries within this attempt.
    stack.sandbox.set_faults(Faults {
        fail_next_creates_after_commit: 1,
        ..Faults::default()
    });
    let body = order_event("order.paid", "9001", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_9001", &body).await.0, 202);

    let record = stack
        .transfer_until("acme", "9001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);
    assert!(record.create_started);
    assert_eq!(
        stack.sandbox.drafts_with_reference(0, &reference("9001")),
        1,
        "the draft created before the lost answer is reused, not duplicated"
    );
    let writes: Vec<_> = stack
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .collect();
    assert!(!writes.is_empty());
    assert!(
        writes.iter().all(|r| r.idempotency_key.is_some()),
        "every write the transfer sends carries an Idempotency-Key: {writes:?}"
    );
    assert_eq!(
        record.draft_invoice_number,
        stack
            .sandbox
            .drafts(0)
            .first()
            .map(|d| d.draft_invoice_number)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_an_order_leased_by_another_delivery_is_acknowledged_and_rescan_finishes_it() {
    let stack = Stack::with_options(StackOptions {
        rescan_min_age_seconds: 2,
        ..StackOptions::default()
    })
    .await;
    stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "9101", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_9101", &body).await.0, 202);

    // Another delivery (another SQS message) holds the order for two
    // seconds, and then its worker dies.
    let t = now();
    let claimed = stack
        .order_store()
        .claim(&Claim {
            shop_id: "acme",
            order_id: "9101",
            owner: &LeaseOwner::new("other-message", 1),
            now: t,
            lease_until: t + 2,
            rescan_after: t + 2,
            reopen_failed: false,
        })
        .await
        .expect("claim");
    assert!(claimed.is_some());

    // This copy is redundant: acknowledged, not spun on until SQS
    // dead-letters it while the order ends ok.
    let outcome = stack.poll_transfer().await;
    assert_eq!((outcome.received, outcome.failed), (1, 0), "acknowledged");
    assert_eq!(stack.depth(&stack.queues.queue_url).await, 0);
    assert!(
        stack.sandbox.drafts(0).is_empty(),
        "nothing pushed meanwhile"
    );

    // The holder never finishes: once its lease is over, rescan re-sends.
    let report = rescan_until_it_acts(&stack).await;
    assert_eq!((report.enqueued, report.gave_up), (1, 0));
    let record = stack
        .transfer_until("acme", "9101", LIMIT, |r| r.label == Label::Ok)
        .await;
    assert_eq!(record.attempts, 2);
    assert_eq!(
        stack.sandbox.drafts_with_reference(0, &reference("9101")),
        1
    );
    assert_eq!(stack.depth(&stack.queues.dead_letter_queue_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_whose_transfer_died_on_the_last_delivery_is_labelled_failed_by_rescan() {
    let stack = Stack::with_options(StackOptions {
        rescan_min_age_seconds: 2,
        ..StackOptions::default()
    })
    .await;
    stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "9102", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_9102", &body).await.0, 202);

    // The last allowed delivery claimed the order and its worker died: SQS
    // dead-letters that message on its next receive.
    let last = stack.options.max_receive_count;
    let t = now();
    stack
        .order_store()
        .claim(&Claim {
            shop_id: "acme",
            order_id: "9102",
            owner: &LeaseOwner::new("dying-message", last),
            now: t,
            lease_until: t + 1,
            rescan_after: t + 1,
            reopen_failed: false,
        })
        .await
        .expect("claim")
        .expect("claimed");

    let report = rescan_until_it_acts(&stack).await;
    assert_eq!((report.gave_up, report.enqueued), (1, 0), "{report:?}");
    let record = stack.order("acme", "9102").await.expect("record");
    assert_eq!(record.label, Label::Failed);
    let reason = record.last_error.unwrap_or_default();
    assert!(
        reason.contains("last allowed delivery") && reason.contains("dead-letter queue"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescan_removes_dead_letters_of_ok_orders_and_keeps_the_others() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    // 9201 ends ok; 9202 fails (its lines do not add up to its total).
    let ok = order_event("order.paid", "9201", "239.00");
    let bad = order_event("order.paid", "9202", "500.00");
    assert_eq!(stack.send_signed("acme", "msg_9201", &ok).await.0, 202);
    assert_eq!(stack.send_signed("acme", "msg_9202", &bad).await.0, 202);
    stack
        .transfer_until("acme", "9201", LIMIT, |r| r.label == Label::Ok)
        .await;
    stack
        .transfer_until("acme", "9202", LIMIT, |r| r.label == Label::Failed)
        .await;
    assert_eq!(stack.depth(&stack.queues.dead_letter_queue_url).await, 1);

    // A copy of 9201's message that SQS dead-lettered meanwhile.
    stack
        .sqs()
        .send_message()
        .queue_url(&stack.queues.dead_letter_queue_url)
        .message_body(r#"{"shop_id":"acme","order_id":"9201","cause":"webhook"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(stack.depth(&stack.queues.dead_letter_queue_url).await, 2);

    let event = lambda_runtime::LambdaEvent::new(json!({}), lambda_runtime::Context::default());
    let report = rescan::handle(&stack.rescan, event).await.expect("rescan");
    assert_eq!(report.stale_dead_letters_removed, 1);
    let left = stack.peek(&stack.queues.dead_letter_queue_url).await;
    assert_eq!(left.len(), 1, "the failed order's dead letter stays");
    assert!(left[0]
        .body
        .as_deref()
        .unwrap_or_default()
        .contains("\"9202\""));
}

/// One scheduled rescan run.
async fn rescan_once(stack: &Stack) -> bridge::app::rescan::RescanReport {
    let event = lambda_runtime::LambdaEvent::new(json!({}), lambda_runtime::Context::default());
    rescan::handle(&stack.rescan, event).await.expect("rescan")
}

/// Runs rescan until it acts on some order (or 10 s pass).
async fn rescan_until_it_acts(stack: &Stack) -> bridge::app::rescan::RescanReport {
    let started = std::time::Instant::now();
    loop {
        let report = rescan_once(stack).await;
        if report.enqueued > 0 || report.gave_up > 0 || started.elapsed() > Duration::from_secs(10)
        {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Issue 13: an unknown SKU and a weighed quantity, both of which e-conomic
/// refuses as such (E06000, E04740), still give an exact invoice and `ok`.
#[tokio::test]
async fn an_unknown_sku_and_a_weighed_quantity_end_ok_with_two_decimals() {
    let stack = Stack::start().await;
    stack
        .put_shop("acme", true, json!({"units": {"kg": 3}}))
        .await;
    let body = serde_json::to_vec(&json!({
        "type": "order.paid",
        "order": {
            "id": "6001", "number": "6001", "created_at": "2026-03-01T10:00:00Z",
            "currency": "DKK", "prices_include_vat": true,
            "customer": {"name": "Jens Hansen", "email": "jens@example.dk"},
            "billing_address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"},
            "payment_method": "card",
            "lines": [
                {"sku": "WOOL-42", "name": "Wool socks", "quantity": 7, "unit_price": "9.99", "vat_rate": "25"},
                {"sku": "SKU-3", "name": "Cheese", "quantity": "0.125", "unit_price": "80.00", "vat_rate": "25", "unit": "kg"}
            ],
            "total": "79.93"
        }
    }))
    .expect("json");
    assert_eq!(stack.send_signed("acme", "msg_6001", &body).await.0, 202);
    let record = stack
        .transfer_until("acme", "6001", LIMIT, |r| r.label != Label::Pending)
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);
    let drafts = stack.sandbox.drafts(0);
    assert_eq!(drafts.len(), 1);
    let draft = &drafts[0];
    // 69.93 + 10.00, with the VAT the amounts contain: 13.99 + 2.00.
    assert_eq!(
        [draft.net_amount, draft.vat_amount, draft.gross_amount].map(|a| a.to_string()),
        ["63.94", "15.99", "79.93"]
    );
    let lines = draft.document["lines"].as_array().expect("lines");
    let texts: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["product"]["productNumber"].as_str().unwrap_or_default(),
                l["description"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("GENERIC", "Wool socks (SKU WOOL-42)"),
            ("GENERIC", "Wool socks (SKU WOOL-42)"),
            ("SKU-3", "Cheese (0.125 kg × 80.00)"),
        ]
    );
}

/// Issue 13: whether e-conomic rounds VAT per line or per invoice is
/// unconfirmed. Four lines of 9.99 total 39.96 with VAT rounded per line
/// (4 × 2.00) but 39.95 with VAT rounded once (31.96 × 25 % = 7.99): under
/// per-invoice rounding the transfer corrects the draft (one PUT) and the
/// order still ends `ok` with an invoice of exactly 39.96.
#[tokio::test]
async fn lines_that_round_differently_per_invoice_end_ok_and_exact_in_both_modes() {
    use bridge::domain::money::VatRounding;
    for (mode, vat, calls) in [
        // Email look-up, new debtor, draft.
        (VatRounding::PerLine, "8.00", 3),
        // … and the correction.
        (VatRounding::PerInvoice, "7.99", 4),
    ] {
        let stack = Stack::with_options(StackOptions {
            vat_rounding: mode,
            ..StackOptions::default()
        })
        .await;
        stack.put_shop("acme", true, json!({})).await;
        let line = json!({"sku": "SKU-1", "name": "T-shirt", "quantity": 1, "unit_price": "9.99", "vat_rate": "25"});
        let body = serde_json::to_vec(&json!({
            "type": "order.paid",
            "order": {
                "id": "7001", "number": "7001", "created_at": "2026-03-01T10:00:00Z",
                "currency": "DKK", "prices_include_vat": true,
                "customer": {"name": "Jens Hansen", "email": "jens@example.dk"},
                "billing_address": {"street": "Vestergade 1", "zip": "8000", "city": "Aarhus", "country": "DK"},
                "payment_method": "card",
                "lines": [line, line, line, line],
                "total": "39.96"
            }
        }))
        .expect("json");
        assert_eq!(stack.send_signed("acme", "msg_7001", &body).await.0, 202);
        let record = stack
            .transfer_until("acme", "7001", LIMIT, |r| r.label != Label::Pending)
            .await;
        assert_eq!(record.label, Label::Ok, "{mode:?}: {:?}", record.last_error);
        let drafts = stack.sandbox.drafts(0);
        assert_eq!(drafts.len(), 1, "{mode:?}");
        assert_eq!(
            [drafts[0].vat_amount, drafts[0].gross_amount].map(|a| a.to_string()),
            [vat, "39.96"],
            "{mode:?}"
        );
        assert_eq!(record.economic_calls, Some(calls), "{mode:?}");
    }
}
