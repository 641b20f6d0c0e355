//! `local-stack`: the whole bridge on one machine, no AWS account, no Docker.
//!
//! Starts moto server (SQS + DynamoDB), creates the tables and queues as
//! template.yaml defines them, starts the e-conomic sandbox (unless real
//! e-conomic settings are given), seeds a demo shop, serves the ingest
//! handler over HTTP, polls the queue into the transfer handler the way
//! Lambda's event source mapping does, runs rescan on a timer, and prints
//! every order's label change. Ctrl-C stops all of it.
//!
//! The binary is `src/main.rs`; the entry point lives here so that tests
//! can run the stack exactly as the binary does, in a child process.

use crate::event_source::{poll_once, EventSourceSettings};
use crate::fair_queue::FairQueue;
use crate::{http_front, moto::MotoServer, watch};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use bridge::adapters::dynamodb::{provision, DynamoShopStore};
use bridge::adapters::economic::{ClientConfig, EconomicClient};
use bridge::adapters::sealed::SecretSealer;
use bridge::app::ingest::IngestSettings;
use bridge::app::rescan::RescanSettings;
use bridge::app::transfer::TransferSettings;
use bridge::domain::shop::ShopConfig;
use bridge::logging::LogSetup;
use bridge::ports::ShopStore;
use clap::Parser;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The command line. Flags and defaults are documented in the README.
#[derive(Debug, Parser)]
#[command(
    name = "local-stack",
    about = "The whole bridge on one machine: moto server (SQS, DynamoDB), the e-conomic \
             sandbox, the webhook endpoint, the transfer poller and rescan. Ctrl-C stops it.",
    after_help = "Environment:\n  ECONOMIC_BASE_URL, ECONOMIC_APP_SECRET_TOKEN, ECONOMIC_AGREEMENT_GRANT_TOKEN\n          \
                  talk to real e-conomic instead of the sandbox (all three needed)\n  RUST_LOG\n          \
                  log level (default warn)"
)]
pub struct Options {
    /// Webhook endpoint port (0 picks a free one)
    #[arg(long, value_name = "N", default_value_t = 3000)]
    pub port: u16,
    /// moto server port [default: a free one]
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub moto_port: u16,
    /// e-conomic sandbox port [default: a free one]
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub sandbox_port: u16,
    /// Latency the sandbox adds to every call
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub sandbox_latency_ms: u64,
    /// How often rescan runs
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub rescan_every: u64,
    /// How long an order stays pending before rescan re-enqueues it
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(i64).range(0..))]
    pub rescan_min_age: i64,
    /// Deliveries before the dead-letter queue
    #[arg(long, value_name = "N", default_value_t = provision::DEFAULT_MAX_RECEIVE_COUNT,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_receive_count: u32,
    /// Shop configuration to seed [default: the demo shop,
    /// infra/local-stack/demo/demo-shop.json]. Its webhook secret is not printed.
    #[arg(long = "shop", value_name = "FILE")]
    pub shop_file: Option<PathBuf>,
}

/// Real e-conomic, when all three settings are in the environment.
struct RealEconomic {
    base_url: String,
    app_secret_token: String,
    agreement_grant_token: String,
}

fn real_economic_from_env() -> Option<RealEconomic> {
    Some(RealEconomic {
        base_url: std::env::var("ECONOMIC_BASE_URL").ok()?,
        app_secret_token: std::env::var("ECONOMIC_APP_SECRET_TOKEN").ok()?,
        agreement_grant_token: std::env::var("ECONOMIC_AGREEMENT_GRANT_TOKEN").ok()?,
    })
}

/// Parses the command line (`args`, the program name first; a usage error
/// is clap's message and exit code 2), then runs the stack until Ctrl-C.
/// Returns the process exit code.
pub async fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let options = match Options::try_parse_from(args) {
        Ok(options) => options,
        Err(error) => {
            // --help prints and exits 0; real errors exit 2.
            let _ = error.print();
            return error.exit_code();
        }
    };
    LogSetup::new("warn").init();
    match run(&crate::workspace_root(), options).await {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("local-stack: {message}");
            1
        }
    }
}

async fn run(root: &Path, options: Options) -> Result<(), String> {
    let moto = MotoServer::start(root, options.moto_port).map_err(|e| e.to_string())?;
    println!("moto server (SQS, DynamoDB)  {}", moto.endpoint_url());

    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint_url())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "local-stack",
        ))
        .load()
        .await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);

    let names = StackNames::default();
    provision::create_tables(&dynamodb, &names.shops_table, &names.orders_table)
        .await
        .map_err(|e| format!("creating tables: {e}"))?;
    let queues = provision::create_queues(
        &sqs,
        &names.queue,
        &names.dead_letter_queue,
        TRANSFER_VISIBILITY_TIMEOUT_SECONDS,
        options.max_receive_count,
    )
    .await
    .map_err(|e| format!("creating queues: {e}"))?;
    let queue_arn = queues.queue_arn.clone();
    let notify_queues = provision::create_queues(
        &sqs,
        &names.notify_queue,
        &names.notify_dead_letter_queue,
        TRANSFER_VISIBILITY_TIMEOUT_SECONDS,
        bridge::app::notify_delivery::DeliverySettings::default().max_receive_count,
    )
    .await
    .map_err(|e| format!("creating notification queues: {e}"))?;

    // e-conomic: the sandbox unless real settings are given.
    let demo_shop_file = root.join("infra/local-stack/demo/demo-shop.json");
    let shop_file = options.shop_file.as_deref().unwrap_or(&demo_shop_file);
    let mut shop = load_shop(shop_file)?;
    let real = real_economic_from_env();
    let _sandbox;
    let economic_base_url = match &real {
        Some(real) => {
            shop.economic.app_secret_token =
                bridge::domain::secret::Secret::new(&real.app_secret_token);
            shop.economic.agreement_grant_token =
                bridge::domain::secret::Secret::new(&real.agreement_grant_token);
            println!("e-conomic (real API)         {}", real.base_url);
            real.base_url.clone()
        }
        None => {
            let sandbox = start_sandbox(&options, &shop).await?;
            let url = sandbox.base_url();
            println!("e-conomic sandbox            {url}  (state: {url}/_sandbox/state)");
            _sandbox = sandbox;
            url
        }
    };

    // The shop's secrets are sealed as in a deployment: a KMS key (moto's),
    // whose id bridgectl --local reads from the env file.
    let secrets_key_id = provision::create_secrets_key(
        &aws_sdk_kms::Client::new(&sdk),
        "local stack: the shops' secrets",
    )
    .await
    .map_err(|e| format!("creating the secrets key: {e}"))?;
    DynamoShopStore::new(dynamodb.clone(), &names.shops_table)
        .with_sealer(Arc::new(SecretSealer::kms(
            aws_sdk_kms::Client::new(&sdk),
            Some(secrets_key_id.clone()),
        )))
        .put(&shop)
        .await
        .map_err(|e| format!("seeding shop {}: {e}", shop.shop_id))?;

    let ingest = Arc::new(ingest::IngestContext::new(
        &sdk,
        &names.shops_table,
        &names.orders_table,
        &queues.queue_url,
        IngestSettings {
            rescan_min_age_seconds: options.rescan_min_age,
            ..IngestSettings::default()
        },
    ));
    let economic = EconomicClient::new(ClientConfig {
        base_url: economic_base_url.clone(),
        ..ClientConfig::default()
    })
    .map_err(|e| format!("e-conomic client: {e}"))?;
    let transfer = Arc::new(
        transfer::TransferContext::new(
            &sdk,
            &names.shops_table,
            &names.orders_table,
            &queues.queue_url,
            &queues.dead_letter_queue_url,
            economic,
            TransferSettings {
                max_receive_count: options.max_receive_count,
                rescan_min_age_seconds: options.rescan_min_age,
                ..TransferSettings::default()
            },
        )
        .with_notifications(
            &sdk,
            &names.shops_table,
            &names.orders_table,
            transfer::NotifyQueue {
                queue_url: notify_queues.queue_url.clone(),
                queue_arn: notify_queues.queue_arn.clone(),
                delivery: bridge::app::notify_delivery::DeliverySettings::default(),
            },
            Duration::ZERO,
        )
        .map_err(|e| format!("notification delivery: {e}"))?,
    );
    let rescan = Arc::new(
        rescan::RescanContext::new(
            &sdk,
            &names.orders_table,
            &queues.queue_url,
            Some(&queues.dead_letter_queue_url),
            RescanSettings {
                min_age_seconds: options.rescan_min_age,
                max_orders: 500,
                max_receive_count: options.max_receive_count,
            },
        )
        .with_notifications(
            &sdk,
            &names.shops_table,
            &names.orders_table,
            &notify_queues.queue_url,
        ),
    );

    let (listener, addr) = http_front::bind(options.port)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", options.port))?;
    let webhook_base = format!("http://{addr}/webhooks");
    let ingest_for_server = ingest.clone();
    let server = tokio::spawn(http_front::serve(listener, move |request| {
        let ingest = ingest_for_server.clone();
        async move { ingest::handle(&ingest, request).await }
    }));

    let settings = EventSourceSettings {
        queue_url: queues.queue_url.clone(),
        queue_arn,
        region: "eu-west-1".into(),
        batch_size: TRANSFER_BATCH_SIZE,
        wait: Duration::from_secs(1),
        batching_window: Duration::ZERO,
        function_timeout: Duration::from_secs(TRANSFER_TIMEOUT_SECONDS),
    };
    // The transfer function's second event source: label notifications.
    let notify_settings = EventSourceSettings {
        queue_url: notify_queues.queue_url.clone(),
        queue_arn: notify_queues.queue_arn.clone(),
        // As template.yaml: an order's notifications usually share a batch.
        batching_window: Duration::from_secs(1),
        ..settings.clone()
    };
    let mut workers = Vec::new();
    // The transfer queue as an SQS fair queue (moto has none: emulated);
    // the notification queue as it is.
    let fair = FairQueue::start(
        sqs.clone(),
        settings.clone(),
        TRANSFER_VISIBILITY_TIMEOUT_SECONDS as i32,
    );
    let sources = std::iter::repeat_n((settings, Some(fair)), TRANSFER_MAX_CONCURRENCY)
        .chain(std::iter::once((notify_settings, None)));
    for (settings, fair) in sources {
        let sqs = sqs.clone();
        let transfer = transfer.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let transfer = transfer.clone();
                let handler = move |event| async move { transfer::handle(&transfer, event).await };
                let polled = match &fair {
                    Some(fair) => fair.poll_once(handler).await,
                    None => poll_once(&sqs, &settings, handler).await,
                };
                if let Err(error) = polled {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "poll failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }));
    }
    let rescan_every = Duration::from_secs(options.rescan_every);
    workers.push(tokio::spawn(async move {
        let mut ticker = tokio::time::interval(rescan_every);
        ticker.tick().await;
        loop {
            ticker.tick().await;
            let event = lambda_runtime::LambdaEvent::new(
                serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
                lambda_runtime::Context::default(),
            );
            match rescan::handle(&rescan, event).await {
                Ok(report) if report.enqueued > 0 => {
                    println!("rescan: re-enqueued {} pending order(s)", report.enqueued)
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "rescan failed"),
            }
        }
    }));
    workers.push(tokio::spawn(watch::print_label_changes(
        dynamodb.clone(),
        names.orders_table.clone(),
    )));

    let env_file = root.join(".local/stack.env");
    write_stack_env(
        &env_file,
        &[
            ("AWS_ENDPOINT_URL", moto.endpoint_url()),
            ("AWS_REGION", "eu-west-1".into()),
            ("AWS_ACCESS_KEY_ID", "local".into()),
            ("AWS_SECRET_ACCESS_KEY", "local".into()),
            ("SHOPS_TABLE", names.shops_table.clone()),
            ("ORDERS_TABLE", names.orders_table.clone()),
            ("QUEUE_URL", queues.queue_url.clone()),
            (
                "DEAD_LETTER_QUEUE_URL",
                queues.dead_letter_queue_url.clone(),
            ),
            ("NOTIFY_QUEUE_URL", notify_queues.queue_url.clone()),
            ("WEBHOOK_URL", webhook_base.clone()),
            ("ECONOMIC_BASE_URL", economic_base_url.clone()),
            ("SECRETS_KEY_ID", secrets_key_id.clone()),
        ],
    )?;

    let sample = root.join("infra/local-stack/demo/sample-order.json");
    println!();
    println!(
        "Webhook URL for shop `{}`:  {webhook_base}/{}",
        shop.shop_id, shop.shop_id
    );
    println!(
        "Stack settings for bridgectl --local:  {}",
        env_file.display()
    );
    println!();
    // The demo shop's secret is public (it is in the repository); a shop
    // given with --shop has a secret of its own, which is never printed.
    let secret_argument = match &options.shop_file {
        None => {
            println!("Send a signed sample order (paste into another terminal):");
            let secret = shop.webhook_secrets.first().map(|s| s.secret.expose());
            format!("'{}'", secret.unwrap_or_default())
        }
        Some(file) => {
            println!(
                "Send a signed sample order (paste into another terminal; set WEBHOOK_SECRET \
                 to the shop's secret from {}):",
                file.display()
            );
            "\"$WEBHOOK_SECRET\"".to_owned()
        }
    };
    println!();
    println!(
        "  infra/scripts/send-webhook.sh {webhook_base}/{} {secret_argument} {}",
        shop.shop_id,
        relative(root, &sample)
    );
    println!();
    println!("Label changes appear below. Ctrl-C stops everything.");
    println!();

    let _ = tokio::signal::ctrl_c().await;
    println!("\nstopping…");
    server.abort();
    for worker in workers {
        worker.abort();
    }
    let _ = std::fs::remove_file(&env_file);
    drop(moto);
    Ok(())
}

/// Mirrors template.yaml's defaults: the transfer function's timeout, batch size and
/// maximum concurrency, and the queue's visibility timeout (6 × timeout).
const TRANSFER_TIMEOUT_SECONDS: u64 = 60;
const TRANSFER_VISIBILITY_TIMEOUT_SECONDS: u32 = 360;
const TRANSFER_BATCH_SIZE: i32 = 5;
const TRANSFER_MAX_CONCURRENCY: usize = 5;

struct StackNames {
    shops_table: String,
    orders_table: String,
    queue: String,
    dead_letter_queue: String,
    notify_queue: String,
    notify_dead_letter_queue: String,
}

impl Default for StackNames {
    fn default() -> Self {
        StackNames {
            shops_table: "econ-bridge-shops".into(),
            orders_table: "econ-bridge-orders".into(),
            queue: "econ-bridge-transfer".into(),
            dead_letter_queue: "econ-bridge-transfer-dlq".into(),
            notify_queue: "econ-bridge-notify".into(),
            notify_dead_letter_queue: "econ-bridge-notify-dlq".into(),
        }
    }
}

/// Reads a shop configuration file (JSON).
pub fn load_shop(path: &Path) -> Result<ShopConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read shop configuration {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("shop configuration {} is invalid: {e}", path.display()))
}

/// Starts the sandbox with the shop's tokens and every product number the
/// shop's mapping names, so the demo works out of the box.
async fn start_sandbox(
    options: &Options,
    shop: &ShopConfig,
) -> Result<economic_sandbox::SandboxHandle, String> {
    let config = economic_sandbox::SandboxConfig {
        port: options.sandbox_port,
        agreements: vec![economic_sandbox::AgreementTokens {
            app_secret_token: shop.economic.app_secret_token.expose().to_owned(),
            agreement_grant_token: shop.economic.agreement_grant_token.expose().to_owned(),
        }],
        faults: economic_sandbox::Faults {
            latency_ms: options.sandbox_latency_ms,
            ..economic_sandbox::Faults::default()
        },
        ..economic_sandbox::SandboxConfig::default()
    };
    let sandbox = economic_sandbox::start(config)
        .await
        .map_err(|e| format!("cannot start the e-conomic sandbox: {e}"))?;
    add_mapped_products(&sandbox, shop);
    Ok(sandbox)
}

/// Adds every product number `shop`'s mapping names to the sandbox's first
/// agreement (an e-conomic admin would have created them), so the shop's
/// orders only fail for products the mapping does not name.
pub fn add_mapped_products(sandbox: &economic_sandbox::SandboxHandle, shop: &ShopConfig) {
    let products = &shop.mapping.products;
    let mut named: Vec<(&str, bool)> = vec![
        (&products.fallback, false),
        (&products.shipping, false),
        (&products.payment_fee, false),
        (&products.gift_wrapping, false),
        (&products.other_fee, false),
        (&products.discount, false),
        (&products.promotional, false),
        (&products.loyalty_points, false),
        (&products.gift_card, true),
        (&products.generic.standard, false),
        (&products.generic.zero_rated, true),
        (
            &shop.mapping.rounding.product,
            shop.mapping.rounding.vat_free,
        ),
    ];
    named.extend(products.map.values().map(|p| (p.as_str(), false)));
    sandbox.with_agreement(0, |agreement| {
        for (number, vat_exempt) in named {
            agreement
                .products
                .entry(number.to_owned())
                .or_insert_with(|| economic_sandbox::data::ProductRecord {
                    product_number: number.to_owned(),
                    name: number.to_owned(),
                    vat_exempt,
                });
        }
    });
}

fn write_stack_env(path: &Path, entries: &[(&str, String)]) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text: String = entries.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn defaults_and_every_flag() {
        Options::command().debug_assert();
        let o = Options::try_parse_from(["local-stack"]).expect("no flags");
        assert_eq!(
            (o.port, o.moto_port, o.sandbox_port, o.sandbox_latency_ms),
            (3000, 0, 0, 0)
        );
        assert_eq!(
            (o.rescan_every, o.rescan_min_age, o.max_receive_count),
            (30, 60, provision::DEFAULT_MAX_RECEIVE_COUNT)
        );
        assert_eq!(o.shop_file, None);
        let o = Options::try_parse_from([
            "local-stack",
            "--port",
            "0",
            "--moto-port",
            "4566",
            "--sandbox-port",
            "8090",
            "--sandbox-latency-ms",
            "50",
            "--rescan-every",
            "3600",
            "--rescan-min-age",
            "10",
            "--max-receive-count",
            "3",
            "--shop",
            "shop.json",
        ])
        .expect("every flag");
        assert_eq!(
            (o.port, o.moto_port, o.sandbox_port, o.sandbox_latency_ms),
            (0, 4566, 8090, 50)
        );
        assert_eq!(
            (o.rescan_every, o.rescan_min_age, o.max_receive_count),
            (3600, 10, 3)
        );
        assert_eq!(o.shop_file, Some(PathBuf::from("shop.json")));
    }
}
