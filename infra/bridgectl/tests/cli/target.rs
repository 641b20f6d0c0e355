//! Choosing the deployment: `--local` takes region, endpoint and
//! credentials from `.local/stack.env`; forgetting the target says what to
//! pass before anything asks for AWS credentials.

use crate::common::*;
use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use bridge::adapters::dynamodb::provision;
use bridge::ports::ShopStore;
use serde_json::Value;
use std::collections::BTreeMap;

/// Runs the binary in `dir` with exactly `env` plus `PATH` and `NO_COLOR`.
async fn run_clean(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec![("NO_COLOR", "1")];
    all.extend_from_slice(env);
    run_bridgectl(dir, args, &all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_uses_the_env_files_region_endpoint_and_credentials() {
    let stack = stack("local-region").await;
    // The local stack's tables live in eu-west-1 (as it writes AWS_REGION);
    // tables of the same names do not exist in us-east-1.
    let eu = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(stack.moto.endpoint_url())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "test"))
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&eu);
    provision::create_tables(&dynamodb, "shops-eu", "orders-eu")
        .await
        .expect("tables in eu-west-1");
    let config: bridge::domain::shop::ShopConfig =
        serde_json::from_value(shop_json("eu-shop")).expect("shop config");
    bridge::adapters::dynamodb::DynamoShopStore::new(dynamodb.clone(), "shops-eu")
        .put(&config)
        .await
        .expect("put shop");
    let entries = BTreeMap::from([
        ("AWS_ENDPOINT_URL".to_owned(), stack.moto.endpoint_url()),
        ("AWS_REGION".to_owned(), "eu-west-1".to_owned()),
        ("AWS_ACCESS_KEY_ID".to_owned(), "local".to_owned()),
        ("AWS_SECRET_ACCESS_KEY".to_owned(), "local".to_owned()),
        ("SHOPS_TABLE".to_owned(), "shops-eu".to_owned()),
        ("ORDERS_TABLE".to_owned(), "orders-eu".to_owned()),
    ]);
    bridgectl::local_env::write(&bridgectl::local_env::path_in(&stack.dir), &entries).unwrap();

    // The operator's shell points at a real account's region and endpoint.
    let shell = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
    ];
    let run = run_clean(&stack.dir, &["--local", "--json", "shops", "list"], &shell).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let listed: Value = run.json();
    assert_eq!(listed["shops"][0]["shop_id"], "eu-shop", "{listed}");

    // --region still overrides the file (here: to where the tables are not).
    let run = run_clean(
        &stack.dir,
        &["--local", "--region", "us-west-2", "shops", "list"],
        &shell,
    )
    .await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("table shops-eu does not exist"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_target_says_what_to_pass_before_asking_for_credentials() {
    let dir = std::env::temp_dir().join(format!("bridgectl-no-target-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // No credentials, no region, no names: the target is the first thing missing.
    let run = run_clean(&dir, &["orders", "list", "--shop", "x"], &[]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    for expected in ["--local", "--stack NAME", "--orders-table", "SHOPS_TABLE"] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    assert!(!run.stderr.contains("credentials"), "{}", run.stderr);
    // --local and --stack together are refused.
    let run = run_clean(&dir, &["--local", "--stack", "s", "shops", "list"], &[]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("exclude each other"), "{}", run.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
}
