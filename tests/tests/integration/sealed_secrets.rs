//! The shops' secrets sealed under KMS (moto's), end to end: what a dump of
//! the shops table shows, that the real ingest and transfer open what
//! bridgectl's store wrote, that a record copied to another shop does not
//! open, and that plaintext records still read until they are sealed.

use aws_sdk_dynamodb::types::AttributeValue;
use bridge::adapters::dynamodb::DynamoShopStore;
use bridge::domain::lifecycle::Label;
use bridge::ports::{ShopStore, StoreError};
use integration_tests::{order_event, Stack, SECRET};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

const SHOPIFY_SECRET: &str = "shpss_sealed_client_secret_0123456789";
const SHOPIFY_ACCESS_TOKEN: &str = "shpat_sealed_admin_token_0123456789";
const WOO_CONSUMER_KEY: &str = "ck_sealed_consumer_key_0123456789";
const WOO_CONSUMER_SECRET: &str = "cs_sealed_consumer_secret_0123456789";

/// Every secret the test shops hold, in the forms a dump could show them.
fn secrets() -> Vec<&'static str> {
    vec![
        SECRET,
        // The webhook secret's key, base64 as stored after `whsec_`.
        SECRET.trim_start_matches("whsec_"),
        SHOPIFY_SECRET,
        SHOPIFY_ACCESS_TOKEN,
        WOO_CONSUMER_KEY,
        WOO_CONSUMER_SECRET,
        economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
    ]
}

/// Every string and byte string in an attribute, however nested.
fn leaves(value: &AttributeValue, out: &mut Vec<Vec<u8>>) {
    match value {
        AttributeValue::S(s) | AttributeValue::N(s) => out.push(s.as_bytes().to_vec()),
        AttributeValue::B(b) => out.push(b.as_ref().to_vec()),
        AttributeValue::Ss(list) | AttributeValue::Ns(list) => {
            out.extend(list.iter().map(|s| s.as_bytes().to_vec()))
        }
        AttributeValue::Bs(list) => out.extend(list.iter().map(|b| b.as_ref().to_vec())),
        AttributeValue::L(list) => list.iter().for_each(|v| leaves(v, out)),
        AttributeValue::M(map) => map.values().for_each(|v| leaves(v, out)),
        _ => {}
    }
}

async fn dump(stack: &Stack) -> Vec<HashMap<String, AttributeValue>> {
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .scan()
        .table_name(&stack.shops_table)
        .send()
        .await
        .expect("scan the shops table")
        .items
        .unwrap_or_default()
}

fn assert_no_plaintext_secret(items: &[HashMap<String, AttributeValue>]) {
    for item in items {
        let mut values = Vec::new();
        for value in item.values() {
            leaves(value, &mut values);
        }
        for secret in secrets() {
            for value in &values {
                assert!(
                    !value.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "a plaintext secret in the shops table, item {:?}",
                    item.get("shop_id")
                );
            }
        }
    }
}

#[tokio::test]
async fn a_dump_of_the_shops_table_holds_no_plaintext_secret_and_orders_still_flow() {
    let stack = Stack::start().await;
    stack.put_shop("sealed-own", true, json!({})).await;
    stack
        .put_platform_shop(
            "sealed-shopify",
            json!({"kind": "shopify", "shop_domain": "sealed.myshopify.com",
                   "secrets": [{"secret": SHOPIFY_SECRET}],
                   "write_back": {"access_token": SHOPIFY_ACCESS_TOKEN}}),
        )
        .await;
    stack
        .put_platform_shop(
            "sealed-woo",
            json!({"kind": "woocommerce", "secrets": [{"secret": SHOPIFY_SECRET}],
                   "write_back": {"store_url": "https://sealed.example",
                                  "consumer_key": WOO_CONSUMER_KEY,
                                  "consumer_secret": WOO_CONSUMER_SECRET}}),
        )
        .await;

    let items = dump(&stack).await;
    assert_eq!(items.len(), 3);
    for item in &items {
        assert!(
            matches!(item.get("sealed_key"), Some(AttributeValue::B(_))),
            "{:?}",
            item.get("shop_id")
        );
    }
    assert_no_plaintext_secret(&items);

    // The real ingest opens the sealed webhook secret, the real transfer
    // the sealed e-conomic tokens.
    let body = order_event("order.paid", "sealed-1", "239.00");
    let (status, answer) = stack.send_signed("sealed-own", "msg_sealed_1", &body).await;
    assert_eq!(status, 202, "{answer}");
    let record = stack
        .transfer_until("sealed-own", "sealed-1", Duration::from_secs(20), |r| {
            r.label == Label::Ok
        })
        .await;
    assert!(record.draft_invoice_number.is_some(), "{record:?}");
}

#[tokio::test]
async fn a_sealed_record_copied_to_another_shop_does_not_open() {
    let stack = Stack::start().await;
    stack.put_shop("original", true, json!({})).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let mut item = dump(&stack).await.remove(0);
    item.insert("shop_id".into(), AttributeValue::S("impostor".into()));
    let config = match item.get("config") {
        Some(AttributeValue::S(json)) => json.replace("\"original\"", "\"impostor\""),
        other => panic!("config: {other:?}"),
    };
    item.insert("config".into(), AttributeValue::S(config));
    dynamodb
        .put_item()
        .table_name(&stack.shops_table)
        .set_item(Some(item))
        .send()
        .await
        .expect("copy the item");

    let read = stack.shop_store().get("impostor").await;
    assert!(
        matches!(
            read,
            Err(StoreError::Corrupt {
                field: "sealed_secrets",
                ..
            })
        ),
        "{read:?}"
    );
    // The webhook is not accepted (nor answered 5xx for the caller's data:
    // the shop's record is what is wrong, so 503 and an ERROR line).
    let body = order_event("order.paid", "imp-1", "239.00");
    let (status, _) = stack.send_signed("impostor", "msg_imp_1", &body).await;
    assert_eq!(status, 503);
    // The original still opens.
    assert!(stack
        .shop_store()
        .get("original")
        .await
        .expect("read")
        .is_some());
}

#[tokio::test]
async fn plaintext_records_read_until_sealed_and_sealing_twice_changes_nothing() {
    let stack = Stack::start().await;
    let config = stack.put_shop("legacy", true, json!({})).await;
    // Written as before sealing existed.
    let plain = DynamoShopStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.shops_table,
    );
    plain.put(&config).await.expect("plaintext put");
    let store = stack.shop_store();
    assert_eq!(store.is_sealed("legacy").await.expect("read"), Some(false));
    assert_eq!(
        store.get("legacy").await.expect("read"),
        Some(config.clone())
    );

    // The migration: read, write back sealed.
    let read = store.get("legacy").await.expect("read").expect("shop");
    store.put(&read).await.expect("seal");
    assert_eq!(store.is_sealed("legacy").await.expect("read"), Some(true));
    assert_eq!(
        store.get("legacy").await.expect("read"),
        Some(config.clone())
    );
    assert_no_plaintext_secret(&dump(&stack).await);
    // A reader with no KMS cannot open it, and says so.
    let no_kms = plain.get("legacy").await;
    assert!(
        matches!(
            no_kms,
            Err(StoreError::Corrupt {
                field: "sealed_key",
                ..
            })
        ),
        "{no_kms:?}"
    );
    assert_eq!(store.is_sealed("nobody").await.expect("read"), None);
}
