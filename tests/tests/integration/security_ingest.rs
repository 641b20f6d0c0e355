//! Hostile bodies through the real ingest handler (API Gateway v2 events,
//! DynamoDB and SQS on moto), correctly signed so they reach the parser:
//! each gets its documented answer — 400 with `{"error","field"}`, 413 for
//! oversized bodies, or 202 where the body is in fact acceptable — never a
//! 500, never a panic.

use integration_tests::*;
use serde_json::{json, Value};

/// Deterministic byte soup (SplitMix64), so failures are reproducible.
fn soup(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

fn valid_event(order_id: &str) -> Value {
    serde_json::from_slice(&order_event("order.paid", order_id, "239.00")).expect("valid JSON")
}

fn with(order_id: &str, pointer: &str, value: Value) -> Vec<u8> {
    let mut event = valid_event(order_id);
    *event.pointer_mut(pointer).expect("pointer exists") = value;
    serde_json::to_vec(&event).expect("serialise")
}

async fn send(stack: &Stack, n: usize, body: &[u8]) -> (u16, Value) {
    let headers = signed_headers(SECRET, &format!("msg_hostile_{n}"), now(), body);
    stack.deliver("acme", headers, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_get_documented_4xx_never_500() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    let limit = bridge::app::ingest::DEFAULT_MAX_BODY_BYTES;

    let mut bodies: Vec<(String, Vec<u8>, &[u16])> = Vec::new();
    const BAD: &[u16] = &[400];
    const BAD_OR_OK: &[u16] = &[400, 202];
    for seed in 0..40 {
        bodies.push((
            format!("random bytes #{seed}"),
            soup(seed, (seed as usize * 97) % 3000),
            BAD,
        ));
    }
    bodies.push(("empty".into(), Vec::new(), BAD));
    bodies.push((
        "not UTF-8".into(),
        b"{\"type\":\"order.paid\xff\"}".to_vec(),
        BAD,
    ));
    bodies.push(("100,000 [".into(), "[".repeat(100_000).into_bytes(), BAD));
    bodies.push((
        "deep object".into(),
        format!(
            r#"{{"type":"order.paid","order":{}}}"#,
            "{\"a\":".repeat(50_000)
        )
        .into_bytes(),
        BAD,
    ));
    bodies.push(("JSON array".into(), b"[1,2,3]".to_vec(), BAD));
    bodies.push(("JSON string".into(), b"\"order.paid\"".to_vec(), BAD));
    bodies.push((
        "null order".into(),
        br#"{"type":"order.paid","order":null}"#.to_vec(),
        BAD,
    ));
    // Wrong types for fields.
    for (i, (pointer, value)) in [
        ("/order/id", json!(12)),
        ("/order/total", json!(true)),
        ("/order/total", json!([1])),
        ("/order/lines", json!({})),
        ("/order/lines/0/quantity", json!("two")),
        ("/order/lines/0/vat_rate", json!(null)),
        ("/order/customer", json!("Jens")),
        ("/order/billing_address/country", json!(45)),
        ("/order/prices_include_vat", json!("yes")),
        ("/order/created_at", json!("yesterday")),
        ("/type", json!(7)),
    ]
    .into_iter()
    .enumerate()
    {
        bodies.push((
            format!("wrong type #{i} at {pointer}"),
            with("W-1", pointer, value),
            BAD,
        ));
    }
    // Extreme and odd amounts.
    for amount in [
        "1e30",
        "-0",
        "0.000000001",
        "-239.00",
        "79228162514264337593543950336",
        "NaN",
        "1e-7",
    ] {
        bodies.push((
            format!("total {amount}"),
            with("E-1", "/order/total", json!(amount)),
            BAD_OR_OK,
        ));
        bodies.push((
            format!("unit price {amount}"),
            with("E-2", "/order/lines/0/unit_price", json!(amount)),
            BAD_OR_OK,
        ));
    }
    // Unknown countries and currencies.
    for (pointer, value) in [
        ("/order/billing_address/country", "XX"),
        ("/order/billing_address/country", ""),
        ("/order/currency", "XXX"),
        ("/order/currency", "kroner"),
    ] {
        bodies.push((
            format!("{pointer} = {value:?}"),
            with("C-1", pointer, json!(value)),
            BAD_OR_OK,
        ));
    }

    for (n, (label, body, expected)) in bodies.iter().enumerate() {
        let (status, answer) = send(&stack, n, body).await;
        assert!(
            expected.contains(&status),
            "{label}: expected {expected:?}, got {status} {answer}"
        );
        if status == 400 {
            assert!(
                answer["error"].as_str().is_some_and(|e| !e.is_empty()),
                "{label}: {answer}"
            );
            assert!(
                answer["field"].is_string(),
                "{label}: 400 names the field: {answer}"
            );
        }
    }

    // Oversized: the real body, and a lying Content-Length.
    let mut big = valid_event("B-1");
    big["order"]["customer"]["name"] = json!("n".repeat(limit));
    let big = serde_json::to_vec(&big).expect("serialise");
    let (status, answer) = send(&stack, 9000, &big).await;
    assert_eq!(status, 413, "{answer}");
    let small = order_event("order.paid", "B-2", "239.00");
    let mut headers = signed_headers(SECRET, "msg_lying_length", now(), &small);
    headers.push(("content-length".to_owned(), (limit * 4).to_string()));
    let (status, answer) = stack.deliver("acme", headers, &small).await;
    assert_eq!(status, 413, "{answer}");

    // The shop still works after all that.
    let ok = order_event("order.paid", "OK-1", "239.00");
    let (status, answer) = send(&stack, 9001, &ok).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}"
    );
}
