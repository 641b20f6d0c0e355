//! Webhook authentication through the real ingest handler (API Gateway v2
//! events, shops in DynamoDB on moto): every forged, replayed, cross-shop
//! or expired-secret delivery gets 401, is not recorded and enqueues
//! nothing; secret rotation accepts old and new during the grace period.

use bridge::adapters::dynamodb::DynamoShopStore;
use bridge::domain::secret::Secret;
use bridge::domain::shop::{EconomicCredentials, ShopConfig, Trigger, WebhookSecret};
use bridge::ports::ShopStore;
use integration_tests::*;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const NEW_SECRET: &str = "whsec_bmV3IHNpZ25pbmcgc2VjcmV0IGFmdGVyIHJvdGF0aW9u";

/// Stores a shop with exactly these webhook secrets.
async fn put_shop_with_secrets(stack: &Stack, shop_id: &str, secrets: Vec<WebhookSecret>) {
    let config = ShopConfig {
        shop_id: shop_id.to_owned(),
        display_name: shop_id.to_owned(),
        enabled: true,
        trigger: Trigger::Paid,
        platform: None,
        webhook_secrets: secrets,
        economic: EconomicCredentials {
            app_secret_token: Secret::new(economic_sandbox::DEFAULT_APP_SECRET_TOKEN),
            agreement_grant_token: Secret::new(economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN),
        },
        notify: None,
        mapping: serde_json::from_value(json!({})).expect("default mapping"),
    };
    DynamoShopStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.shops_table,
    )
    .put(&config)
    .await
    .expect("put shop");
}

fn secret(value: &str, valid_until: Option<OffsetDateTime>) -> WebhookSecret {
    WebhookSecret {
        secret: Secret::new(value),
        valid_until: valid_until.map(|t| t.format(&Rfc3339).expect("rfc3339")),
    }
}

/// Asserts a 401 that left no trace: no order record, no new queue message
/// (`queued` is how many the test enqueued before), and a body that does
/// not echo any secret.
async fn assert_rejected(
    stack: &Stack,
    shop_id: &str,
    order_id: &str,
    queued: usize,
    answer: (u16, serde_json::Value),
) {
    let (status, body) = answer;
    assert_eq!(status, 401, "expected 401, got {status}: {body}");
    let text = body.to_string();
    assert!(
        body["error"].is_string(),
        "401 body has an error message: {text}"
    );
    for secret in [SECRET, OTHER_SECRET, NEW_SECRET] {
        let payload = secret.trim_start_matches("whsec_");
        assert!(!text.contains(payload), "401 body leaks a secret: {text}");
    }
    assert!(
        stack.order(shop_id, order_id).await.is_none(),
        "a rejected delivery must not be recorded"
    );
    assert_eq!(
        stack.depth(&stack.queues.queue_url).await,
        queued,
        "nothing enqueued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_wrong_signatures_are_401() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "A-1", "239.00");
    let good = signed_headers(SECRET, "msg_a1", now(), &body);

    // Each of the three headers missing, and each empty.
    for missing in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let without: Vec<_> = good.iter().filter(|(k, _)| k != missing).cloned().collect();
        assert_rejected(
            &stack,
            "acme",
            "A-1",
            0,
            stack.deliver("acme", without, &body).await,
        )
        .await;
        let emptied: Vec<_> = good
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k == missing {
                        String::new()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect();
        assert_rejected(
            &stack,
            "acme",
            "A-1",
            0,
            stack.deliver("acme", emptied, &body).await,
        )
        .await;
    }

    let with_signature = |signature: &str| -> Vec<(String, String)> {
        good.iter()
            .map(|(k, v)| {
                let v = if k == "webhook-signature" {
                    signature.to_owned()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect()
    };
    let valid_signature = good
        .iter()
        .find(|(k, _)| k == "webhook-signature")
        .map(|(_, v)| v.clone())
        .expect("signature header");
    // Wrong signature, garbage, wrong version tag, a signature with one
    // flipped character, and the right signature for another body.
    let mut flipped = valid_signature.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    let other_body = order_event("order.paid", "A-1", "1.00");
    let other_body_signature =
        bridge::domain::webhook::sign(SECRET, "msg_a1", now(), &other_body).expect("sign");
    for signature in [
        "v1,AAAA".to_owned(),
        "garbage".to_owned(),
        valid_signature.replacen("v1,", "v2,", 1),
        flipped,
        other_body_signature,
        "v1,".to_owned(),
        " ".repeat(10_000),
    ] {
        assert_rejected(
            &stack,
            "acme",
            "A-1",
            0,
            stack
                .deliver("acme", with_signature(&signature), &body)
                .await,
        )
        .await;
    }

    // Same signature, different webhook id (the id is signed).
    let mut renamed = good.clone();
    for (k, v) in renamed.iter_mut() {
        if k == "webhook-id" {
            *v = "msg_other".to_owned();
        }
    }
    assert_rejected(
        &stack,
        "acme",
        "A-1",
        0,
        stack.deliver("acme", renamed, &body).await,
    )
    .await;

    // Authentication comes before parsing: a malformed body with a bad
    // signature is 401, not 400.
    let junk = b"{not json";
    let junk_headers = signed_headers(OTHER_SECRET, "msg_junk", now(), junk);
    assert_eq!(stack.deliver("acme", junk_headers, junk).await.0, 401);

    // Control: the untouched delivery is accepted, so the rejections above
    // were about the signature and nothing else.
    let (status, answer) = stack.deliver("acme", good, &body).await;
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("accepted")),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_and_future_timestamps_are_401() {
    let stack = Stack::start().await;
    stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "T-1", "239.00");
    let tolerance = bridge::domain::webhook::TOLERANCE_SECONDS;

    for (label, timestamp) in [
        ("older than 5 minutes", now() - tolerance - 5),
        ("a day old", now() - 86_400),
        ("more than 5 minutes ahead", now() + tolerance + 5),
        ("far future", now() + 10 * 365 * 86_400),
        ("zero", 0),
        ("negative", -1),
    ] {
        let headers = signed_headers(SECRET, "msg_t1", timestamp, &body);
        let answer = stack.deliver("acme", headers, &body).await;
        assert_eq!(answer.0, 401, "{label}: {:?}", answer.1);
        assert_rejected(&stack, "acme", "T-1", 0, answer).await;
    }
    // Non-numeric and overflowing timestamps (signature over the same text
    // cannot be made with an i64, so these fail before the HMAC).
    for timestamp in ["soon", "1e9", "99999999999999999999999", ""] {
        let mut headers = signed_headers(SECRET, "msg_t1", now(), &body);
        for (k, v) in headers.iter_mut() {
            if k == "webhook-timestamp" {
                *v = timestamp.to_owned();
            }
        }
        assert_rejected(
            &stack,
            "acme",
            "T-1",
            0,
            stack.deliver("acme", headers, &body).await,
        )
        .await;
    }

    // Inside the window on both sides: accepted.
    let headers = signed_headers(SECRET, "msg_t1_edge_old", now() - tolerance + 30, &body);
    assert_eq!(stack.deliver("acme", headers, &body).await.0, 202);
    let headers = signed_headers(SECRET, "msg_t1_edge_new", now() + tolerance - 30, &body);
    assert_eq!(stack.deliver("acme", headers, &body).await.0, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shops_secret_never_authenticates_another_shop() {
    let stack = Stack::start().await;
    put_shop_with_secrets(&stack, "shop-a", vec![secret(SECRET, None)]).await;
    put_shop_with_secrets(&stack, "shop-b", vec![secret(OTHER_SECRET, None)]).await;
    let body = order_event("order.paid", "X-1", "239.00");

    // A's secret on B's URL, B's secret on A's URL.
    let a_signed = signed_headers(SECRET, "msg_x1", now(), &body);
    assert_rejected(
        &stack,
        "shop-b",
        "X-1",
        0,
        stack.deliver("shop-b", a_signed.clone(), &body).await,
    )
    .await;
    let b_signed = signed_headers(OTHER_SECRET, "msg_x1", now(), &body);
    assert_rejected(
        &stack,
        "shop-a",
        "X-1",
        0,
        stack.deliver("shop-a", b_signed.clone(), &body).await,
    )
    .await;

    // A header carrying both shops' signatures still only authenticates
    // for a shop whose own secret matches: B's URL with A's and a junk
    // signature is rejected.
    let mut mixed = a_signed.clone();
    for (k, v) in mixed.iter_mut() {
        if k == "webhook-signature" {
            *v = format!("{v} v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        }
    }
    assert_rejected(
        &stack,
        "shop-b",
        "X-1",
        0,
        stack.deliver("shop-b", mixed, &body).await,
    )
    .await;

    // Each secret on its own shop's URL works, and the order lands under
    // that shop only.
    assert_eq!(stack.deliver("shop-a", a_signed, &body).await.0, 202);
    assert!(stack.order("shop-a", "X-1").await.is_some());
    assert!(stack.order("shop-b", "X-1").await.is_none());
    assert_eq!(stack.deliver("shop-b", b_signed, &body).await.0, 202);
    assert!(stack.order("shop-b", "X-1").await.is_some());

    // Unknown and disabled shops: 404 whatever the signature.
    let signed = signed_headers(SECRET, "msg_x2", now(), &body);
    assert_eq!(
        stack.deliver("no-such-shop", signed.clone(), &body).await.0,
        404
    );
    stack.put_shop("shop-off", false, json!({})).await;
    assert_eq!(stack.deliver("shop-off", signed, &body).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_accepts_both_during_grace_and_rejects_the_old_after_it() {
    let stack = Stack::start().await;
    let in_an_hour = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let an_hour_ago = OffsetDateTime::now_utc() - time::Duration::hours(1);
    put_shop_with_secrets(
        &stack,
        "rotating",
        vec![secret(SECRET, Some(in_an_hour)), secret(NEW_SECRET, None)],
    )
    .await;
    put_shop_with_secrets(
        &stack,
        "rotated",
        vec![secret(SECRET, Some(an_hour_ago)), secret(NEW_SECRET, None)],
    )
    .await;
    // An unparseable valid_until fails closed.
    put_shop_with_secrets(
        &stack,
        "garbled",
        vec![
            WebhookSecret {
                secret: Secret::new(SECRET),
                valid_until: Some("next tuesday".to_owned()),
            },
            secret(NEW_SECRET, None),
        ],
    )
    .await;

    let body = order_event("order.paid", "R-1", "239.00");
    // During the grace period: old and new both accepted.
    let old = signed_headers(SECRET, "msg_r_old", now(), &body);
    assert_eq!(stack.deliver("rotating", old, &body).await.0, 202);
    let new = signed_headers(NEW_SECRET, "msg_r_new", now(), &body);
    assert_eq!(stack.deliver("rotating", new, &body).await.0, 202);

    // After valid_until: the old one is rejected, the new one accepted.
    // ("rotating" queued R-1 once; each shop below queues its own R-1.)
    for (queued, shop) in [(1, "rotated"), (2, "garbled")] {
        let old = signed_headers(SECRET, "msg_r_old", now(), &body);
        assert_rejected(
            &stack,
            shop,
            "R-1",
            queued,
            stack.deliver(shop, old, &body).await,
        )
        .await;
        let new = signed_headers(NEW_SECRET, "msg_r_new", now(), &body);
        assert_eq!(stack.deliver(shop, new, &body).await.0, 202, "{shop}");
    }
}
