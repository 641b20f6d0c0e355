//! Shared test setup: one moto server per test binary, tables and queues
//! of the bridge per test, and a way to run the real `bridgectl` binary
//! against them.

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use bridge::adapters::dynamodb::provision;
use bridge::domain::shop::ShopConfig;
use bridge::ports::ShopStore;
use local_stack::moto::MotoServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

pub const SECRET: &str = "whsec_dGVzdC1zZWNyZXQtb2YtdGhpcnR5LXR3by1ieXRlcyE=";
pub const APP_TOKEN: &str = "sandbox-app-secret";
pub const GRANT_TOKEN: &str = "sandbox-grant";

pub struct Stack {
    pub moto: &'static MotoServer,
    pub sdk: aws_config::SdkConfig,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub shops_table: String,
    pub orders_table: String,
    pub queue_url: String,
    pub dlq_url: String,
    pub extra_env: Vec<(String, String)>,
    pub dir: PathBuf,
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The binary's moto server, started on first use (its watchdog stops it
/// when the binary exits; statics are never dropped).
fn moto() -> &'static MotoServer {
    static MOTO: OnceLock<Result<MotoServer, String>> = OnceLock::new();
    // The error is kept too, so the other tests fail at once instead of
    // each waiting for a server that cannot start.
    match MOTO.get_or_init(|| MotoServer::start(&workspace_root(), 0).map_err(|e| e.to_string())) {
        Ok(moto) => moto,
        Err(e) => panic!("moto server starts: {e}"),
    }
}

/// Tables, queues and a working directory for one test, named after
/// `name` plus a number unique in this binary (the tests share moto).
pub async fn stack(name: &str) -> Stack {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("{name}-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let moto = moto();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint_url())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let shops_table = format!("shops-{name}");
    let orders_table = format!("orders-{name}");
    provision::create_tables(&dynamodb, &shops_table, &orders_table)
        .await
        .expect("tables");
    let queues =
        provision::create_queues(&sqs, &format!("q-{name}"), &format!("dlq-{name}"), 30, 5)
            .await
            .expect("queues");
    let dir = std::env::temp_dir().join(format!("bridgectl-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    Stack {
        moto,
        sdk,
        dynamodb,
        sqs,
        shops_table,
        orders_table,
        queue_url: queues.queue_url,
        dlq_url: queues.dead_letter_queue_url,
        extra_env: Vec::new(),
        dir,
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Stack {
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL".to_owned(), self.moto.endpoint_url()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "test".to_owned()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
            ("SHOPS_TABLE".to_owned(), self.shops_table.clone()),
            ("ORDERS_TABLE".to_owned(), self.orders_table.clone()),
            ("QUEUE_URL".to_owned(), self.queue_url.clone()),
            ("DEAD_LETTER_QUEUE_URL".to_owned(), self.dlq_url.clone()),
            ("NO_COLOR".to_owned(), "1".to_owned()),
        ];
        env.extend(self.extra_env.iter().cloned());
        env
    }

    /// Runs the real binary with a clean environment plus `env()`.
    pub async fn bridgectl(&self, args: &[&str]) -> Run {
        self.bridgectl_with(args, &[]).await
    }

    pub async fn bridgectl_with(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut all: Vec<(String, String)> = self.env();
        all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_bridgectl(&self.dir, args, &all).await
    }

    /// Runs the real binary with `stdin` as its standard input.
    pub async fn bridgectl_stdin(&self, args: &[&str], stdin: &str) -> Run {
        use tokio::io::AsyncWriteExt;
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridgectl"));
        command.env_clear().current_dir(&self.dir);
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        command.envs(self.env());
        command
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = command.spawn().expect("bridgectl runs");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.as_bytes())
            .await
            .expect("write stdin");
        drop(input);
        let output = child.wait_with_output().await.expect("bridgectl ends");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The shops table read (and written) with secrets sealed under `key_id`.
    pub fn sealed_shop_store(&self, key_id: &str) -> bridge::adapters::dynamodb::DynamoShopStore {
        let sealer = bridge::adapters::sealed::SecretSealer::kms(
            aws_sdk_kms::Client::new(&self.sdk),
            Some(key_id.to_owned()),
        );
        self.shop_store().with_sealer(std::sync::Arc::new(sealer))
    }

    pub fn write_file(&self, name: &str, text: &str) -> String {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("write test file");
        path.display().to_string()
    }

    pub fn shop_store(&self) -> bridge::adapters::dynamodb::DynamoShopStore {
        bridge::adapters::dynamodb::DynamoShopStore::new(self.dynamodb.clone(), &self.shops_table)
    }

    pub fn order_store(&self) -> bridge::adapters::dynamodb::DynamoOrderStore {
        bridge::adapters::dynamodb::DynamoOrderStore::new(self.dynamodb.clone(), &self.orders_table)
    }

    pub fn queues(&self) -> bridge::adapters::sqs::SqsTransferQueue {
        bridge::adapters::sqs::SqsTransferQueue::new(
            self.sqs.clone(),
            &self.queue_url,
            &self.dlq_url,
        )
    }

    /// Consumes every message in a queue (as transfer would) and returns the bodies.
    pub async fn drain_bodies(&self, url: &str) -> Vec<Value> {
        let mut bodies = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .send()
                .await
                .expect("receive");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return bodies;
            }
            for m in messages {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("delete");
                bodies.push(serde_json::from_str(m.body().unwrap_or("null")).expect("JSON body"));
            }
        }
    }

    pub async fn put_shop(&self, shop_id: &str) -> ShopConfig {
        let config: ShopConfig = serde_json::from_value(shop_json(shop_id)).expect("shop config");
        self.shop_store().put(&config).await.expect("put shop");
        config
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn shop_json(shop_id: &str) -> Value {
    json!({
        "shop_id": shop_id,
        "display_name": "Test Shop ApS",
        "trigger": "paid",
        "webhook_secrets": [{"secret": SECRET}],
        "economic": {"app_secret_token": APP_TOKEN, "agreement_grant_token": GRANT_TOKEN},
        "mapping": {}
    })
}

/// A webhook body for one order (the contract's example, with our id).
pub fn order_event(kind: &str, id: &str) -> Value {
    json!({
        "type": kind,
        "order": {
            "id": id,
            "number": id,
            "created_at": "2026-11-23T10:15:00+01:00",
            "currency": "DKK",
            "prices_include_vat": true,
            "customer": {"id": "5821", "name": "Mette Hansen", "email": "mette@example.dk", "logged_in": true},
            "billing_address": {"name": "Mette Hansen", "street": "Nørregade 12", "zip": "8000", "city": "Aarhus C", "country": "DK"},
            "payment_method": "card",
            "lines": [{"sku": "SKU-1", "name": "Wool socks", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"}],
            "total": "199.90"
        }
    })
}

/// Runs the real binary in `dir` with only `PATH` and `env` set (no
/// inherited AWS settings).
pub async fn run_bridgectl(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_bridgectl"));
    command.env_clear().current_dir(dir);
    if let Some(path) = std::env::var_os("PATH") {
        command.env("PATH", path);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    let output = command.args(args).output().await.expect("bridgectl runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
