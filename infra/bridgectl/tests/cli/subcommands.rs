//! Every `bridgectl` subcommand, run as the real binary against moto
//! server (and the in-process e-conomic sandbox / ingest over HTTP).

use crate::common::*;
use bridge::domain::lifecycle::{HistoryEntry, IngestWrite, Label, LeaseOwner, PushOutcome};
use bridge::domain::notify::{Channel, DeliveryState, DeliveryUpdate};
use bridge::domain::webhook::{sign, verify, SignatureHeaders};
use bridge::ports::{
    Claim, NotificationStore, OkNotification, OrderStore, ShopStore, TransferQueue,
};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use time::OffsetDateTime;

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Creates an order in `label` the way ingest and transfer would.
async fn seed_order(stack: &Stack, shop: &str, order: &str, label: Label, reason: &str) {
    let store = stack.order_store();
    let t = now() - 3600;
    let write = IngestWrite {
        label: Label::Pending,
        snapshot: Some((order_event("order.paid", order)["order"].to_string(), 2)),
        events: vec!["order.paid".to_owned()],
        webhook_ids: vec![format!("msg_{order}")],
        history: vec![HistoryEntry {
            at: t,
            what: "order.paid received".to_owned(),
        }],
        rescan_after: Some(t + 300),
    };
    store
        .write_ingest(shop, order, None, &write, t)
        .await
        .expect("ingest write");
    if label == Label::Pending {
        return;
    }
    let owner = LeaseOwner::new("m", 1);
    store
        .claim(&Claim {
            shop_id: shop,
            order_id: order,
            owner: &owner,
            now: t + 1,
            lease_until: t + 61,
            rescan_after: t + 600,
            reopen_failed: false,
        })
        .await
        .expect("claim")
        .expect("claimed");
    store
        .mark_create_started(shop, order, &owner)
        .await
        .expect("create started");
    match label {
        Label::Failed => store
            .mark_failed(shop, order, reason, t + 2)
            .await
            .expect("failed"),
        Label::Ok => store
            .mark_ok(
                shop,
                order,
                &PushOutcome {
                    customer_number: 100_001,
                    draft_invoice_number: Some(7),
                    booked_invoice_number: None,
                    gross_amount: Default::default(),
                    calls: 4,
                    reused_existing: false,
                    warnings: Vec::new(),
                },
                t + 2,
                t + 86_400,
                OkNotification::Skip,
            )
            .await
            .map(drop)
            .expect("ok"),
        _ => unreachable!(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shops_put_show_list_disable_enable_rotate() {
    let stack = stack("shops").await;
    let file = stack.write_file("shop.json", &shop_json("acme").to_string());

    let run = stack.bridgectl(&["shops", "put", &file]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("shop acme added"), "{}", run.stdout);
    // TOML works too, and updates.
    let toml_file = stack.write_file(
        "shop.toml",
        &format!(
            "shop_id = \"acme\"\ndisplay_name = \"Acme TOML\"\n[[webhook_secrets]]\nsecret = \"{SECRET}\"\n\
             [economic]\napp_secret_token = \"{APP_TOKEN}\"\nagreement_grant_token = \"{GRANT_TOKEN}\"\n[mapping]\n"
        ),
    );
    let run = stack.bridgectl(&["shops", "put", &toml_file]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("shop acme updated"), "{}", run.stdout);

    for args in [
        vec!["shops", "show", "acme"],
        vec!["--json", "shops", "show", "acme"],
    ] {
        let run = stack.bridgectl(&args).await;
        assert_eq!(run.code, 0, "{}", run.all());
        let out = run.all();
        for secret in [SECRET, APP_TOKEN, GRANT_TOKEN, &SECRET[6..]] {
            assert!(!out.contains(secret), "secret leaked in {args:?}: {out}");
        }
        assert!(out.contains("[redacted sha256:"), "{out}");
        assert!(out.contains("Acme TOML"), "{out}");
    }

    let run = stack.bridgectl(&["--json", "shops", "list"]).await;
    assert_eq!(
        run.json()["shops"],
        json!([{"shop_id": "acme", "enabled": true, "display_name": "Acme TOML"}])
    );

    let run = stack.bridgectl(&["shops", "disable", "acme"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        !stack
            .shop_store()
            .get("acme")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    let run = stack.bridgectl(&["shops", "list"]).await;
    assert!(run.stdout.contains("acme  disabled"), "{}", run.stdout);
    let run = stack.bridgectl(&["shops", "enable", "acme"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        stack
            .shop_store()
            .get("acme")
            .await
            .unwrap()
            .unwrap()
            .enabled
    );
    let run = stack.bridgectl(&["shops", "enable", "nobody"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("no shop nobody"), "{}", run.stderr);

    // Rotation: the new secret is printed once, both verify during grace.
    let run = stack
        .bridgectl(&["shops", "rotate-secret", "acme", "--grace", "1h"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let new_secret = run.stdout.trim().to_owned();
    assert!(new_secret.starts_with("whsec_") && new_secret != SECRET);
    assert!(!run.stderr.contains(&new_secret));
    let stored = stack.shop_store().get("acme").await.unwrap().unwrap();
    assert_eq!(stored.webhook_secrets.len(), 2);
    let body = br#"{"type":"order.paid"}"#;
    let t = now();
    let ts = t.to_string();
    for secret in [SECRET, new_secret.as_str()] {
        let signature = sign(secret, "msg_1", t, body).unwrap();
        let headers = SignatureHeaders {
            id: Some("msg_1"),
            timestamp: Some(&ts),
            signature: Some(&signature),
        };
        let at = OffsetDateTime::from_unix_timestamp(t).unwrap();
        assert_eq!(verify(&stored.webhook_secrets, &headers, body, at), Ok(()));
        // Two hours later only the new secret is accepted.
        let later_ts = (t + 7200).to_string();
        let later_sig = sign(secret, "msg_1", t + 7200, body).unwrap();
        let later = SignatureHeaders {
            id: Some("msg_1"),
            timestamp: Some(&later_ts),
            signature: Some(&later_sig),
        };
        let result = verify(
            &stored.webhook_secrets,
            &later,
            body,
            OffsetDateTime::from_unix_timestamp(t + 7200).unwrap(),
        );
        assert_eq!(result.is_ok(), secret == new_secret, "secret after grace");
    }
    // `show` never prints the new one either.
    let run = stack.bridgectl(&["shops", "show", "acme"]).await;
    assert!(!run.all().contains(&new_secret[6..]));

    // A store's write-back credentials are secrets too.
    let mut shopify = shop_json("acme-shopify");
    shopify["webhook_secrets"] = json!([]);
    shopify["platform"] = json!({"kind": "shopify", "shop_domain": "acme.myshopify.com",
        "secrets": [{"secret": "shpss_client_secret_for_show"}],
        "write_back": {"access_token": "shpat_admin_token_for_show"}});
    let file = stack.write_file("shopify.json", &shopify.to_string());
    // Same tokens and reference format as acme: refused, nothing stored.
    let run = stack.bridgectl(&["shops", "put", &file]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains(
            "shop acme books into the same e-conomic agreement with the same reference_format"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("Nothing was stored"), "{}", run.stderr);
    assert!(stack
        .shop_store()
        .get("acme-shopify")
        .await
        .unwrap()
        .is_none());
    // Stored with the override, and warned about.
    let run = stack
        .bridgectl(&["shops", "put", "--allow-shared-reference", &file])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("warning: shop acme books"),
        "{}",
        run.stderr
    );
    // With its own format it needs no override.
    shopify["mapping"] = json!({"reference_format": "Shopify order {number}"});
    let file = stack.write_file("shopify.json", &shopify.to_string());
    let run = stack.bridgectl(&["shops", "put", &file]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(!run.stderr.contains("warning: shop acme"), "{}", run.stderr);
    for args in [
        vec!["shops", "show", "acme-shopify"],
        vec!["--json", "shops", "show", "acme-shopify"],
    ] {
        let out = stack.bridgectl(&args).await.all();
        assert!(!out.contains("shpat_admin_token_for_show"), "{out}");
        assert!(!out.contains("shpss_client_secret_for_show"), "{out}");
        assert!(
            out.contains("write-back") || out.contains("write_back"),
            "{out}"
        );
    }
    let mut bad = shopify.clone();
    bad["platform"]["write_back"]["api_version"] = json!("latest");
    let file = stack.write_file("bad-shopify.json", &bad.to_string());
    let run = stack.bridgectl(&["shops", "put", &file]).await;
    assert_ne!(run.code, 0);
    assert!(
        run.all().contains("write_back.api_version"),
        "{}",
        run.all()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_and_configuration_errors_have_exit_codes() {
    let stack = stack("errors").await;
    // A secret in a wrong-typed field is not echoed.
    let mut bad = shop_json("acme");
    bad["enabled"] = json!("whsec_SHOULD-NOT-APPEAR");
    let file = stack.write_file("bad.json", &bad.to_string());
    let run = stack.bridgectl(&["shops", "put", &file]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("`enabled`"), "{}", run.stderr);
    assert!(!run.all().contains("SHOULD-NOT-APPEAR"), "{}", run.all());

    let mut bad = shop_json("acme");
    bad["webhook_secrets"] = json!([{"secret": "not-a-secret"}]);
    let file = stack.write_file("bad2.json", &bad.to_string());
    let run = stack.bridgectl(&["shops", "put", &file]).await;
    assert_eq!(run.code, 3);
    assert!(
        run.stderr.contains("webhook_secrets[0].secret"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains("not-a-secret"));

    let mut bad = shop_json("acme");
    bad["mapping"] = json!({"layuot": 3});
    let file = stack.write_file("bad3.json", &bad.to_string());
    let run = stack.bridgectl(&["shops", "put", &file]).await;
    assert_eq!(run.code, 3);
    assert!(run.stderr.contains("mapping"), "{}", run.stderr);

    // Wrong table name: exit 3 naming it.
    let run = stack
        .bridgectl_with(&["shops", "list"], &[("SHOPS_TABLE", "shops-x")])
        .await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("table shops-x does not exist"),
        "{}",
        run.stderr
    );
    // No table at all.
    let run = stack
        .bridgectl_with(&["shops", "list"], &[("SHOPS_TABLE", "")])
        .await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("no shops table"), "{}", run.stderr);
    // Usage error is clap's 2.
    let run = stack.bridgectl(&["orders", "list"]).await;
    assert_eq!(run.code, 2);
    let run = stack
        .bridgectl(&["--json", "orders", "show", "--shop", "a", "nope"])
        .await;
    assert_eq!(run.code, 1);
    assert!(run.json()["error"]
        .as_str()
        .unwrap()
        .contains("no order nope"));
    // --local reads .local/stack.env written with the library's writer.
    let entries = std::collections::BTreeMap::from([
        ("AWS_ENDPOINT_URL".to_owned(), stack.moto.endpoint_url()),
        ("SHOPS_TABLE".to_owned(), stack.shops_table.clone()),
        ("ORDERS_TABLE".to_owned(), stack.orders_table.clone()),
    ]);
    bridgectl::local_env::write(&bridgectl::local_env::path_in(&stack.dir), &entries).unwrap();
    stack.put_shop("local-shop").await;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridgectl"));
    command
        .env_clear()
        .env("NO_COLOR", "1")
        .current_dir(&stack.dir)
        .args(["--local", "--json", "shops", "list"]);
    let output = command.output().await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(listed["shops"][0]["shop_id"], "local-shop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_list_show_resend() {
    let stack = stack("orders").await;
    stack.put_shop("acme").await;
    seed_order(
        &stack,
        "acme",
        "1001",
        Label::Failed,
        "product NOPE does not exist",
    )
    .await;
    seed_order(&stack, "acme", "1002", Label::Ok, "").await;
    seed_order(
        &stack,
        "acme",
        "1003",
        Label::Failed,
        "layout 7 does not exist",
    )
    .await;
    seed_order(&stack, "acme", "1004", Label::Pending, "").await;
    seed_order(&stack, "other", "1001", Label::Failed, "x").await;

    let run = stack
        .bridgectl(&["orders", "list", "--shop", "acme", "--label", "failed"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("1001") && run.stdout.contains("1003"));
    assert!(!run.stdout.contains("1002") && !run.stdout.contains("1004"));
    assert!(run.stdout.contains("product NOPE does not exist"));
    assert!(run.stdout.contains("60m"), "age column: {}", run.stdout);

    let run = stack
        .bridgectl(&[
            "--json", "orders", "list", "--shop", "acme", "--limit", "10",
        ])
        .await;
    let orders = run.json()["orders"].as_array().unwrap().clone();
    assert_eq!(orders.len(), 4);
    let ok = orders.iter().find(|o| o["order_id"] == "1002").unwrap();
    assert_eq!(ok["label"], "e-conomic-ok");
    assert_eq!(ok["draft_invoice_number"], 7);

    let run = stack
        .bridgectl(&["orders", "show", "--shop", "acme", "1002"])
        .await;
    assert_eq!(run.code, 0);
    for expected in [
        "order.paid received",
        "transfer attempt started",
        "draft invoice 7",
        "draft 7",
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    assert!(!run.stdout.contains("notifications"), "none recorded yet");

    // Label notifications: whether each was delivered.
    let store = stack.order_store();
    for label in ["e-conomic-pending", "e-conomic-ok"] {
        store
            .record_notification(Channel::Notify, "acme", "1002", label, now())
            .await
            .expect("record")
            .expect("a new label");
    }
    let delivered = DeliveryUpdate {
        state: DeliveryState::Delivered,
        attempts: 1,
        error: None,
    };
    store
        .update_notification(Channel::Notify, "acme", "1002", 1, &delivered, now())
        .await
        .expect("update");
    let retrying = DeliveryUpdate {
        state: DeliveryState::Retrying,
        attempts: 3,
        error: Some("receiver answered HTTP 503".into()),
    };
    store
        .update_notification(Channel::Notify, "acme", "1002", 2, &retrying, now())
        .await
        .expect("update");
    let run = stack
        .bridgectl(&["orders", "show", "--shop", "acme", "1002"])
        .await;
    assert!(
        run.stdout.contains("#1") && run.stdout.contains("delivered after 1 attempt(s)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("retrying after 3 attempt(s) (receiver answered HTTP 503)"),
        "{}",
        run.stdout
    );
    // A write-back into the shop the shop refused: its own list.
    store
        .record_notification(Channel::WriteBack, "acme", "1002", "e-conomic-ok", now())
        .await
        .expect("record")
        .expect("recorded");
    let refused = DeliveryUpdate {
        state: DeliveryState::Refused,
        attempts: 1,
        error: Some("Shopify answered HTTP 401: the access token was rejected".into()),
    };
    store
        .update_notification(Channel::WriteBack, "acme", "1002", 1, &refused, now())
        .await
        .expect("update");
    let run = stack
        .bridgectl(&["orders", "show", "--shop", "acme", "1002"])
        .await;
    let write_backs = run.stdout.split("write-backs").nth(1).unwrap_or_default();
    assert!(
        write_backs.contains("e-conomic-ok  refused after 1 attempt(s) (Shopify answered HTTP 401"),
        "{}",
        run.stdout
    );
    let run = stack
        .bridgectl(&["--json", "orders", "show", "--shop", "acme", "1002"])
        .await;
    assert_eq!(run.json()["write_backs"][0]["state"], "refused");
    let states: Vec<Value> = run.json()["notifications"]
        .as_array()
        .expect("notifications")
        .iter()
        .map(|n| json!([n["sequence"], n["label"], n["state"]]))
        .collect();
    assert_eq!(
        states,
        [
            json!([1, "e-conomic-pending", "delivered"]),
            json!([2, "e-conomic-ok", "retrying"])
        ]
    );

    // Re-send one: pending, history, create_started kept, queued.
    let run = stack
        .bridgectl(&["orders", "resend", "--shop", "acme", "1001"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let order = stack
        .order_store()
        .get("acme", "1001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(order.label, Label::Pending);
    assert!(
        order.create_started,
        "create_started must survive a re-send"
    );
    assert_eq!(order.lease_until, None);
    assert!(order.rescan_after.is_some());
    assert_eq!(order.history.last().unwrap().what, "re-sent by operator");
    let bodies = stack.drain_bodies(&stack.queue_url).await;
    assert_eq!(bodies.len(), 1);
    let message: bridge::ports::OrderMessage =
        serde_json::from_value(bodies[0].clone()).expect("transfer can parse the message");
    assert_eq!(
        (message.shop_id.as_str(), message.order_id.as_str()),
        ("acme", "1001")
    );

    // An ok order is refused (exit 1), nothing queued.
    let run = stack
        .bridgectl(&["orders", "resend", "--shop", "acme", "1002"])
        .await;
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("already transferred"), "{}", run.stdout);
    assert_eq!(
        stack
            .order_store()
            .get("acme", "1002")
            .await
            .unwrap()
            .unwrap()
            .label,
        Label::Ok
    );

    // --all-failed takes the rest of this shop's failed orders only.
    let run = stack
        .bridgectl(&[
            "--json",
            "orders",
            "resend",
            "--shop",
            "acme",
            "--all-failed",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        run.json()["results"],
        json!([{"order_id": "1003", "resent": true}])
    );
    assert_eq!(
        stack
            .order_store()
            .get("other", "1001")
            .await
            .unwrap()
            .unwrap()
            .label,
        Label::Failed
    );
    let bodies = stack.drain_bodies(&stack.queue_url).await;
    let ids: Vec<&str> = bodies
        .iter()
        .map(|b| b["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["1003"]);
}

async fn dead_letter(stack: &Stack, shop: &str, order: &str, reason: &str) {
    let body = json!({"shop_id": shop, "order_id": order, "cause": "webhook"}).to_string();
    stack
        .queues()
        .dead_letter(&body, shop, order, reason)
        .await
        .expect("dead letter");
}

fn order_ids(bodies: &[Value]) -> Vec<String> {
    bodies
        .iter()
        .map(|b| {
            format!(
                "{}/{}",
                b["shop_id"].as_str().unwrap(),
                b["order_id"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_replay_and_interrupted_replay_loses_nothing() {
    let stack = stack("dlq").await;
    let mut all = BTreeSet::new();
    for (shop, order, reason) in [
        ("a", "1", "layout 7 does not exist"),
        ("a", "2", "layout 7 does not exist"),
        ("a", "3", "layout 7 does not exist"),
        ("b", "4", "product NOPE does not exist"),
        ("b", "5", "product NOPE does not exist"),
        ("c", "6", "the tokens are wrong"),
    ] {
        seed_order(&stack, shop, order, Label::Failed, reason).await;
        dead_letter(&stack, shop, order, reason).await;
        all.insert(format!("{shop}/{order}"));
    }

    let run = stack.bridgectl(&["--json", "dlq", "list"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let listed = run.json();
    assert_eq!(listed["total"], 6);
    assert_eq!(
        listed["groups"][0],
        json!({"reason": "layout 7 does not exist", "shop_id": "a", "count": 3, "example_order_ids": ["1", "2", "3"], "reasons": ["layout 7 does not exist"]})
    );
    // Peeking left everything visible: a second listing sees all of it.
    let run = stack.bridgectl(&["dlq", "list"]).await;
    assert!(run.stdout.contains("6 message(s)"), "{}", run.stdout);
    assert!(run.stdout.contains("product NOPE does not exist"));

    // Replay one shop: its labels go back to pending, its messages move.
    let run = stack
        .bridgectl(&["--json", "dlq", "replay", "--shop", "b"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.json()["moved"], 2);
    for order in ["4", "5"] {
        let record = stack.order_store().get("b", order).await.unwrap().unwrap();
        assert_eq!(record.label, Label::Pending);
        assert!(record.create_started);
    }
    assert_eq!(
        stack
            .order_store()
            .get("a", "1")
            .await
            .unwrap()
            .unwrap()
            .label,
        Label::Failed
    );
    let moved = stack.drain_bodies(&stack.queue_url).await;
    assert_eq!(order_ids(&moved), vec!["b/4", "b/5"]);
    // Those are consumed by "transfer" now; put them aside in our set.
    all.remove("b/4");
    all.remove("b/5");

    // Interrupted replay: the process dies after its first SendMessage,
    // before the DeleteMessage.
    let run = stack
        .bridgectl_with(
            &[
                "dlq",
                "replay",
                "--reason",
                "LAYOUT",
                "--visibility-timeout",
                "2",
            ],
            &[("BRIDGECTL_FAULT_EXIT_AFTER_SENDS", "1")],
        )
        .await;
    assert_eq!(run.code, 70, "{}", run.all());
    let first = order_ids(&stack.drain_bodies(&stack.queue_url).await);
    assert_eq!(first.len(), 1, "exactly the one sent before the crash");
    let attributes = stack
        .sqs
        .get_queue_attributes()
        .queue_url(&stack.dlq_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs: HashMap<String, String> = attributes
        .attributes
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.as_str().to_owned(), v))
        .collect();
    let visible: usize = attrs["ApproximateNumberOfMessages"].parse().unwrap();
    let hidden: usize = attrs["ApproximateNumberOfMessagesNotVisible"]
        .parse()
        .unwrap();
    assert_eq!(
        visible + hidden,
        4,
        "nothing deleted: all four remain in the DLQ ({attrs:?})"
    );

    // After the visibility timeout the held messages reappear; a full
    // replay (moto has no StartMessageMoveTask: the fallback) moves them.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let run = stack.bridgectl(&["--json", "dlq", "replay"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.json()["method"], "message-by-message");
    assert_eq!(run.json()["moved"], 4);
    let second = order_ids(&stack.drain_bodies(&stack.queue_url).await);
    assert!(
        stack.drain_bodies(&stack.dlq_url).await.is_empty(),
        "DLQ empty"
    );
    assert_eq!(second.len(), 4);
    let seen: BTreeSet<String> = first.iter().chain(&second).cloned().collect();
    assert_eq!(seen, all, "every dead-lettered order reached the queue");
    // The one sent before the crash arrives twice: a harmless duplicate.
    assert!(second.contains(&first[0]));
    for (shop, order) in [("a", "1"), ("a", "2"), ("a", "3"), ("c", "6")] {
        let record = stack.order_store().get(shop, order).await.unwrap().unwrap();
        assert_eq!(
            record.label,
            Label::Pending,
            "order {shop}/{order} label reset"
        );
    }
}

async fn sandbox() -> economic_sandbox::SandboxHandle {
    let sandbox = economic_sandbox::start(economic_sandbox::SandboxConfig::default())
        .await
        .expect("sandbox starts");
    // The default mapping's fee, discount and rounding products.
    sandbox.with_agreement(0, |a| {
        for number in [
            "1", "FEE", "GIFTWRAP", "DISCOUNT", "PROMO", "POINTS", "ROUNDING",
        ] {
            a.products.insert(
                number.to_owned(),
                economic_sandbox::data::ProductRecord {
                    product_number: number.to_owned(),
                    name: number.to_owned(),
                    vat_exempt: number == "ROUNDING",
                },
            );
        }
    });
    sandbox
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shops_check_finds_each_misconfiguration() {
    let mut stack = stack("check").await;
    let sandbox = sandbox().await;
    stack
        .extra_env
        .push(("ECONOMIC_BASE_URL".to_owned(), sandbox.base_url()));
    let put = |name: &str, value: Value| {
        let config: bridge::domain::shop::ShopConfig = serde_json::from_value(value).unwrap();
        let store = stack.shop_store();
        let name = name.to_owned();
        async move {
            store.put(&config).await.unwrap();
            name
        }
    };

    // A good configuration passes with exit 0.
    let mut good = shop_json("good");
    good["mapping"] = json!({
        "payment_methods": {"card": {"layout": 21, "payment_terms": 6}},
        "units": {"kg": 3},
        "products": {"map": {"TS-RED": "SKU-1"}},
        "oss": {"countries": {"DE": {"vat_zone": 10, "rate": "19"}}}
    });
    put("good", good.clone()).await;
    let run = stack.bridgectl(&["shops", "check", "good"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("tokens work"), "{}", run.stdout);

    // Wrong tokens.
    let mut wrong = good.clone();
    wrong["shop_id"] = json!("wrong-tokens");
    wrong["economic"]["agreement_grant_token"] = json!("not-the-grant");
    put("wrong-tokens", wrong).await;
    let run = stack
        .bridgectl(&["--json", "shops", "check", "wrong-tokens"])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    let report = run.json();
    assert_eq!(report["problems"][0]["kind"], "tokens");
    assert!(report["problems"][0]["message"]
        .as_str()
        .unwrap()
        .contains("the tokens are wrong"));
    assert!(!run.all().contains("not-the-grant"));

    // A second shop on the same agreement with the same reference format.
    let mut twin = good.clone();
    twin["shop_id"] = json!("twin");
    put("twin", twin).await;
    let run = stack.bridgectl(&["--json", "shops", "check", "twin"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    let problems = run.json()["problems"].as_array().unwrap().clone();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0]["field"], "reference_format");
    assert!(problems[0]["message"]
        .as_str()
        .unwrap()
        .starts_with("shop good books into the same e-conomic agreement"));

    // Each kind of missing reference, named by its setting.
    let cases = [
        (json!({"vat_zones": {"domestic": 99}}), "vat_zone", "VAT zone 99 (vat_zones.domestic) does not exist"),
        (
            json!({"payment_methods": {"card": {"layout": 7}}}),
            "layout",
            "layout 7 (payment_methods.card.layout) does not exist in e-conomic; existing layouts: 19 Standard, 21 Webshop",
        ),
        (json!({"default_payment": {"payment_terms": 42}}), "payment_terms", "payment terms 42 (default_payment.payment_terms)"),
        (json!({"debtor": {"b2b_customer_group": 9}}), "customer_group", "customer group 9 (debtor.b2b_customer_group)"),
        (json!({"products": {"shipping": "NOPE"}}), "product", "product NOPE (products.shipping) does not exist"),
        (json!({"units": {"kg": 77}}), "unit", "unit 77 (units.kg) does not exist"),
        (
            json!({"products": {"missing": "create", "product_group": 9}}),
            "product_group",
            "product group 9 (products.product_group) does not exist in e-conomic; existing product groups: 1 Varer med moms, 2 Varer uden moms",
        ),
        (json!({"products": {"generic": {"standard": "NOPE"}}}), "product", "product NOPE (products.generic.standard) does not exist"),
        (
            json!({"vat_rates": {"DK": {"0": {"product": "NEWS0"}, "25": {"product": "GENERIC"}}}}),
            "product",
            "product NEWS0 (vat_rates.DK.0.product) does not exist",
        ),
        (
            json!({"debtor": {"strategy": {"kind": "fixed", "customer_number": 4242}}}),
            "customer",
            "customer 4242 (debtor.strategy.customer_number) does not exist",
        ),
        (
            json!({"auto_book": true, "payments": {"enabled": true, "journal": 9, "contra_accounts": {"card": 5830}}}),
            "journal",
            "journal 9 (payments.journal) does not exist in e-conomic; existing journals: 1 Kassekladde, 2 Webshop-indbetalinger",
        ),
        (
            json!({"auto_book": true, "payments": {"enabled": true, "journal": 2, "contra_accounts": {"card": 5831}}}),
            "account",
            "account 5831 (payments.contra_accounts.card) does not exist in e-conomic",
        ),
    ];
    for (index, (mapping, kind, message)) in cases.into_iter().enumerate() {
        let id = format!("bad-{index}");
        let mut config = shop_json(&id);
        config["mapping"] = mapping;
        // Its own references: the shops here share one agreement.
        config["mapping"]["reference_format"] = json!(format!("{id} order {{number}}"));
        put(&id, config).await;
        let run = stack.bridgectl(&["shops", "check", &id]).await;
        assert_eq!(run.code, 1, "{kind}: {}", run.all());
        assert!(run.stdout.contains(message), "{kind}: {}", run.stdout);
        let run = stack.bridgectl(&["--json", "shops", "check", &id]).await;
        let problems = run.json()["problems"].as_array().unwrap().clone();
        assert_eq!(problems.len(), 1, "{kind}: {problems:?}");
        assert_eq!(problems[0]["kind"], kind);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_twice_creates_each_order_once() {
    let mut stack = stack("backfill").await;
    stack.put_shop("acme").await;
    let context = std::sync::Arc::new(ingest::IngestContext::new(
        &stack.sdk,
        &stack.shops_table,
        &stack.orders_table,
        &stack.queue_url,
        bridge::app::ingest::IngestSettings::default(),
    ));
    let (listener, addr) = local_stack::http_front::bind(0).await.unwrap();
    let server = tokio::spawn(local_stack::http_front::serve(listener, move |request| {
        let context = context.clone();
        async move { ingest::handle(&context, request).await }
    }));
    stack
        .extra_env
        .push(("WEBHOOK_URL".to_owned(), format!("http://{addr}/webhooks/")));

    let mut lines: Vec<String> = ["B-1", "B-2", "B-3"]
        .iter()
        .map(|id| order_event("order.paid", id).to_string())
        .collect();
    lines.insert(1, "{not json".to_owned());
    let mut no_total = order_event("order.paid", "B-4");
    no_total["order"].as_object_mut().unwrap().remove("total");
    lines.push(no_total.to_string());
    lines.push(String::new());
    let file = stack.write_file("orders.jsonl", &lines.join("\n"));

    let first = stack
        .bridgectl(&["--json", "backfill", "--shop", "acme", &file])
        .await;
    assert_eq!(first.code, 1, "rejected lines make exit 1: {}", first.all());
    let report = first.json();
    assert_eq!(report["accepted"], 3, "{report}");
    assert_eq!(report["duplicates"], 0);
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{report}");
    assert_eq!(rejected[0]["line"], 2);
    assert_eq!(rejected[1]["line"], 5);
    assert!(
        rejected[1]["reason"].as_str().unwrap().contains("total"),
        "{report}"
    );

    let second = stack
        .bridgectl(&["backfill", "--shop", "acme", &file])
        .await;
    assert_eq!(second.code, 1);
    assert!(
        second
            .stdout
            .contains("5 line(s): 0 accepted, 3 duplicate(s), 2 rejected"),
        "{}",
        second.stdout
    );

    let run = stack
        .bridgectl(&["--json", "orders", "list", "--shop", "acme"])
        .await;
    let ids: BTreeSet<String> = listed_order_ids(&run).into_iter().collect();
    assert_eq!(
        ids,
        BTreeSet::from(["B-1".into(), "B-2".into(), "B-3".into()])
    );
    let queued = stack.drain_bodies(&stack.queue_url).await;
    assert_eq!(
        queued.len(),
        3,
        "one transfer message per order: {queued:?}"
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_list_limit_keeps_the_newest() {
    let stack = stack("orders-newest").await;
    let store = stack.order_store();
    let base = now() - 86_400;
    // 12 orders; creation times shuffled against the ids (id order is the
    // table's sort order), so neither the first nor the last ids are the
    // newest.
    let mut expected: Vec<(i64, String)> = Vec::new();
    for index in 0..12i64 {
        let order = format!("{}", 2001 + index);
        let created = base + (index * 7 % 12) * 60;
        let write = IngestWrite {
            label: Label::Pending,
            snapshot: Some((order_event("order.paid", &order)["order"].to_string(), 2)),
            events: vec!["order.paid".to_owned()],
            webhook_ids: vec![format!("msg_{order}")],
            history: vec![],
            rescan_after: Some(created + 300),
        };
        store
            .write_ingest("acme", &order, None, &write, created)
            .await
            .expect("ingest write");
        expected.push((created, order));
    }
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let newest: Vec<String> = expected.iter().take(4).map(|(_, id)| id.clone()).collect();

    for args in [
        vec!["--json", "orders", "list", "--shop", "acme", "--limit", "4"],
        vec![
            "--json", "orders", "list", "--shop", "acme", "--limit", "4", "--label", "pending",
        ],
    ] {
        let run = stack.bridgectl(&args).await;
        assert_eq!(run.code, 0, "{}", run.all());
        let listed = listed_order_ids(&run);
        assert_eq!(listed, newest, "{args:?}");
    }
    // More than there are: all of them, newest first.
    let run = stack
        .bridgectl(&[
            "--json", "orders", "list", "--shop", "acme", "--limit", "100",
        ])
        .await;
    let listed = listed_order_ids(&run);
    let all: Vec<String> = expected.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(listed, all);
    let run = stack
        .bridgectl(&["--json", "orders", "list", "--shop", "acme", "--limit", "0"])
        .await;
    assert_eq!(run.json()["orders"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_list_groups_reasons_that_differ_only_by_log_id() {
    let stack = stack("dlq-log-id").await;
    let reasons = [
        "product NOPE does not exist (product) [log id 11111111-aaaa]",
        "product NOPE does not exist (product) [log id 22222222-bbbb]",
        "product NOPE does not exist (product) [log id 33333333-cccc]",
    ];
    for (index, reason) in reasons.iter().enumerate() {
        dead_letter(&stack, "acme", &format!("{}", 3001 + index), reason).await;
    }
    let run = stack.bridgectl(&["--json", "dlq", "list"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let listed = run.json();
    assert_eq!(listed["total"], 3);
    let groups = listed["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{listed}");
    assert_eq!(groups[0]["reason"], "product NOPE does not exist (product)");
    assert_eq!(groups[0]["count"], 3);
    // The full reasons (with the ids to quote to e-conomic support) stay.
    assert_eq!(groups[0]["reasons"], json!(reasons));

    let run = stack.bridgectl(&["dlq", "list"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let rows: Vec<&str> = run
        .stdout
        .lines()
        .filter(|line| line.contains("NOPE"))
        .collect();
    assert_eq!(rows.len(), 1, "{}", run.stdout);
    assert!(rows[0].starts_with('3'), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_stdout_ends_quietly() {
    let stack = stack("pipe").await;
    for index in 0..3 {
        stack.put_shop(&format!("shop-{index}")).await;
    }
    for args in [vec!["shops", "list"], vec!["--json", "shops", "list"]] {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridgectl"));
        command.env_clear().current_dir(&stack.dir);
        for (k, v) in stack.env() {
            command.env(k, v);
        }
        let mut child = command
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("bridgectl starts");
        // The reader goes away before the listing is written (`| head -0`).
        drop(child.stdout.take());
        let output = child.wait_with_output().await.expect("bridgectl ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shops_check_with_stack_uses_the_stacks_economic_base_url() {
    let stack = stack("check-stack").await;
    let sandbox = sandbox().await;
    stack.put_shop("acme").await;
    // A stack whose outputs name the e-conomic base URL, as template.yaml's do.
    let template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {"EconomicBaseUrl": {"Type": "String"}},
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            "EconomicBaseUrl": {"Value": {"Ref": "EconomicBaseUrl"}},
            "ShopsTableName": {"Value": stack.shops_table},
        }
    });
    aws_sdk_cloudformation::Client::new(&stack.sdk)
        .create_stack()
        .stack_name("bridge-check")
        .template_body(template.to_string())
        .parameters(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key("EconomicBaseUrl")
                .parameter_value(sandbox.base_url())
                .build(),
        )
        .send()
        .await
        .expect("create stack");

    // No ECONOMIC_BASE_URL anywhere but the stack's outputs.
    let run = stack
        .bridgectl(&[
            "--stack",
            "bridge-check",
            "--json",
            "shops",
            "check",
            "acme",
        ])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(run.json()["ok"], true, "{}", run.stdout);
    assert!(
        !sandbox.requests().is_empty(),
        "the check went to the sandbox"
    );
    // --economic-base-url still wins over the stack.
    let run = stack
        .bridgectl(&[
            "--stack",
            "bridge-check",
            "--economic-base-url",
            "http://127.0.0.1:9",
            "shops",
            "check",
            "acme",
        ])
        .await;
    assert_ne!(run.code, 0, "{}", run.all());
}

/// The order ids of an `orders list --json` answer, in its order.
fn listed_order_ids(run: &Run) -> Vec<String> {
    run.json()["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every string and byte string of every item of the shops table.
async fn shops_table_bytes(stack: &Stack) -> Vec<Vec<u8>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let items = stack
        .dynamodb
        .scan()
        .table_name(&stack.shops_table)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    let mut out = Vec::new();
    for item in items {
        for value in item.values() {
            match value {
                AttributeValue::S(s) => out.push(s.as_bytes().to_vec()),
                AttributeValue::B(b) => out.push(b.as_ref().to_vec()),
                _ => {}
            }
        }
    }
    out
}

fn holds(values: &[Vec<u8>], secret: &str) -> bool {
    values
        .iter()
        .any(|v| v.windows(secret.len()).any(|w| w == secret.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shops_seal_migrates_plaintext_shops_once_and_rotations_stay_sealed() {
    let mut stack = stack("seal").await;
    let sandbox = sandbox().await;
    stack
        .extra_env
        .push(("ECONOMIC_BASE_URL".to_owned(), sandbox.base_url()));
    // Two shops written before sealing existed.
    let legacy = stack.put_shop("legacy").await;
    stack.put_shop("other").await;
    assert!(holds(&shops_table_bytes(&stack).await, SECRET));

    // Without a key there is nothing to seal under: say so, change nothing.
    let run = stack.bridgectl(&["shops", "seal"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("SECRETS_KEY_ID"), "{}", run.all());

    let key_id = bridge::adapters::dynamodb::provision::create_secrets_key(
        &aws_sdk_kms::Client::new(&stack.sdk),
        "bridgectl test",
    )
    .await
    .expect("key");
    stack
        .extra_env
        .push(("SECRETS_KEY_ID".to_owned(), key_id.clone()));
    let run = stack.bridgectl(&["--json", "shops", "seal"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let report = run.json();
    assert_eq!(report["sealed"], json!(["legacy", "other"]), "{report}");
    let dump = shops_table_bytes(&stack).await;
    for secret in [SECRET, APP_TOKEN, GRANT_TOKEN] {
        assert!(!holds(&dump, secret), "{secret} still in the table");
    }
    let sealed = stack.sealed_shop_store(&key_id);
    assert_eq!(sealed.get("legacy").await.unwrap(), Some(legacy.clone()));

    // Idempotent: a second run seals nothing; an unknown shop is reported.
    let run = stack
        .bridgectl(&["--json", "shops", "seal", "legacy", "ghost"])
        .await;
    assert_ne!(run.code, 0, "{}", run.all());
    let report = run.json();
    assert_eq!(report["sealed"], json!([]), "{report}");
    assert_eq!(report["already_sealed"], json!(["legacy"]), "{report}");
    assert_eq!(report["not_found"], json!(["ghost"]), "{report}");

    // The webhook secret rotation works on the sealed record and seals again.
    let run = stack
        .bridgectl(&["shops", "rotate-secret", "legacy", "--grace", "1h"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let new_secret = run.stdout.trim().to_owned();
    assert!(!holds(&shops_table_bytes(&stack).await, &new_secret));
    let stored = sealed.get("legacy").await.unwrap().unwrap();
    assert_eq!(stored.webhook_secrets.len(), 2);
    assert_eq!(stored.webhook_secrets[1].secret.expose(), new_secret);

    // e-conomic tokens: refused ones are not stored, working ones are,
    // sealed, and never printed.
    let wrong = r#"{"app_secret_token": "wrong-app", "agreement_grant_token": "wrong-grant"}"#;
    let run = stack
        .bridgectl_stdin(&["shops", "rotate-economic-tokens", "legacy"], wrong)
        .await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("nothing was stored"), "{}", run.all());
    assert!(!run.all().contains("wrong-grant"), "{}", run.all());
    assert_eq!(
        sealed.get("legacy").await.unwrap().unwrap().economic,
        legacy.economic
    );
    let right = format!(
        r#"{{"app_secret_token": "{APP_TOKEN}", "agreement_grant_token": "{GRANT_TOKEN}"}}"#
    );
    let run = stack
        .bridgectl_stdin(&["shops", "rotate-economic-tokens", "legacy"], &right)
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("checked against e-conomic"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains(GRANT_TOKEN), "{}", run.all());
    let unchecked = r#"{"app_secret_token": "new-app", "agreement_grant_token": "new-grant"}"#;
    let run = stack
        .bridgectl_stdin(
            &["shops", "rotate-economic-tokens", "legacy", "--no-verify"],
            unchecked,
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    let economic = sealed.get("legacy").await.unwrap().unwrap().economic;
    assert_eq!(economic.agreement_grant_token.expose(), "new-grant");
    assert!(!holds(&shops_table_bytes(&stack).await, "new-grant"));
    // Malformed input names the expected shape, never the input.
    let run = stack
        .bridgectl_stdin(
            &["shops", "rotate-economic-tokens", "legacy"],
            "{\"app_secret_token\": \"x-secret-x\"",
        )
        .await;
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("agreement_grant_token"),
        "{}",
        run.all()
    );
    assert!(!run.all().contains("x-secret-x"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_erase_removes_one_customers_personal_data_and_keeps_the_books() {
    let stack = stack("erase").await;
    stack.put_shop("acme").await;
    let email = "mette@example.dk";
    seed_order(&stack, "acme", "o-ok", Label::Ok, "").await;
    seed_order(
        &stack,
        "acme",
        "o-failed",
        Label::Failed,
        "e-conomic refused the debtor's e-mail Mette@Example.dk",
    )
    .await;
    seed_order(&stack, "acme", "o-pending", Label::Pending, "").await;
    seed_order(&stack, "acme", "o-other", Label::Ok, "").await;
    // Another customer's order.
    let other = order_event("order.paid", "o-other")["order"]
        .to_string()
        .replace(email, "jens@example.dk")
        .replace("Mette Hansen", "Jens Jensen");
    stack
        .dynamodb
        .update_item()
        .table_name(&stack.orders_table)
        .key(
            "shop_id",
            aws_sdk_dynamodb::types::AttributeValue::S("acme".into()),
        )
        .key(
            "order_id",
            aws_sdk_dynamodb::types::AttributeValue::S("o-other".into()),
        )
        .update_expression("SET #snapshot = :s")
        .expression_attribute_names("#snapshot", "snapshot")
        .expression_attribute_values(
            ":s",
            aws_sdk_dynamodb::types::AttributeValue::S(other.clone()),
        )
        .send()
        .await
        .expect("another customer's snapshot");
    let store = stack.order_store();
    let before_ok = store.get("acme", "o-ok").await.unwrap().unwrap();

    // A dry run names the orders and changes nothing.
    let run = stack
        .bridgectl(&[
            "--json",
            "orders",
            "erase",
            "--shop",
            "acme",
            "--customer-email",
            "METTE@example.dk",
            "--dry-run",
        ])
        .await;
    let report = run.json();
    assert_eq!(report["erased"], json!(["o-failed", "o-ok"]), "{report}");
    assert_eq!(report["unfinished"], json!(["o-pending"]), "{report}");
    assert_eq!(store.get("acme", "o-ok").await.unwrap().unwrap(), before_ok);

    let run = stack
        .bridgectl(&[
            "--json",
            "orders",
            "erase",
            "--shop",
            "acme",
            "--customer-email",
            email,
        ])
        .await;
    assert_eq!(
        run.code,
        1,
        "an unfinished order is reported: {}",
        run.all()
    );
    assert_eq!(run.json()["erased"], json!(["o-failed", "o-ok"]));
    for order_id in ["o-ok", "o-failed"] {
        let record = store.get("acme", order_id).await.unwrap().unwrap();
        let snapshot = record.snapshot.clone().unwrap_or_default();
        for personal in ["mette", "Mette", "Hansen", "Nørregade", "Aarhus", "5821"] {
            assert!(!snapshot.contains(personal), "{order_id}: {snapshot}");
        }
        let kept: Value = serde_json::from_str(&snapshot).expect("JSON");
        assert_eq!(kept["order_id"], order_id);
        assert_eq!(kept["currency"], "DKK");
        assert_eq!(kept["total"], "199.90");
        assert_eq!(
            record.history.last().map(|h| h.what.as_str()),
            Some(bridge::domain::personal_data::ERASED_HISTORY)
        );
        let label = if order_id == "o-ok" {
            Label::Ok
        } else {
            Label::Failed
        };
        assert_eq!(record.label, label, "the label stays");
    }
    let ok = store.get("acme", "o-ok").await.unwrap().unwrap();
    assert_eq!(ok.draft_invoice_number, Some(7));
    assert_eq!(ok.customer_number, Some(100_001));
    let failed = store.get("acme", "o-failed").await.unwrap().unwrap();
    assert_eq!(
        failed.last_error.as_deref(),
        Some("e-conomic refused the debtor's e-mail [erased]")
    );
    // The pending order and the other customer's order are untouched.
    let pending = store.get("acme", "o-pending").await.unwrap().unwrap();
    assert!(pending.snapshot.unwrap_or_default().contains(email));
    let untouched = store.get("acme", "o-other").await.unwrap().unwrap();
    assert_eq!(untouched.snapshot.as_deref(), Some(other.as_str()));

    // Again: nothing left to erase but the unfinished one.
    let run = stack
        .bridgectl(&[
            "orders",
            "erase",
            "--shop",
            "acme",
            "--customer-email",
            email,
        ])
        .await;
    assert!(
        run.stdout.contains("0 order(s) erased, 1 not finished"),
        "{}",
        run.all()
    );
    let run = stack
        .bridgectl(&[
            "orders",
            "erase",
            "--shop",
            "acme",
            "--customer-email",
            "not-an-address",
        ])
        .await;
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("--customer-email"), "{}", run.all());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_show_lists_an_orders_refunds_and_a_refunds_order() {
    use bridge::domain::mapping::credit_note::{CreditEntry, CreditLedger};
    use bridge::ports::CreditStore;
    let stack = stack("orders-refunds").await;
    stack.put_shop("acme").await;
    seed_order(&stack, "acme", "1001", Label::Ok, "").await;
    seed_order(
        &stack,
        "acme",
        "1001#refund#r2",
        Label::Failed,
        "refund r2 is larger than what remains uncredited",
    )
    .await;
    let entry = |id: &str, total: &str| CreditEntry {
        refund_id: id.to_owned(),
        items: Vec::new(),
        shipping: total.parse().unwrap(),
        fees: Vec::new(),
        per_rate: vec![("25".parse().unwrap(), total.parse().unwrap())],
        total: total.parse().unwrap(),
        reference: format!("Credit note 1001-{id}"),
    };
    stack
        .order_store()
        .write_ledger(
            "acme",
            "1001",
            0,
            &CreditLedger {
                entries: vec![entry("r1", "39.00"), entry("r2", "10.00")],
            },
        )
        .await
        .expect("ledger");

    let run = stack
        .bridgectl(&["orders", "show", "--shop", "acme", "1001"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("refunds:"), "{}", run.stdout);
    assert!(run.stdout.contains("Credit note 1001-r1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("larger than what remains"),
        "{}",
        run.stdout
    );

    let run = stack
        .bridgectl(&["--json", "orders", "show", "--shop", "acme", "1001"])
        .await;
    let value: Value = serde_json::from_str(&run.stdout).expect("json");
    assert_eq!(value["refunds"][0]["total"], "39.00");
    assert_eq!(value["refunds"][1]["label"], "e-conomic-failed");

    let run = stack
        .bridgectl(&["orders", "show", "--shop", "acme", "1001#refund#r2"])
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("r2 of order 1001"), "{}", run.stdout);
}
