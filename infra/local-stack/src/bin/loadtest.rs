//! `loadtest`: promotion day and webhook-to-invoice latency through the
//! whole local stack — moto server (SQS + DynamoDB), the e-conomic sandbox
//! with latency and e-conomic's token bucket, ingest over real HTTP, and
//! transfer fed by the SQS event source emulation with the template's
//! concurrency and batch size. Each transfer worker is one Lambda execution
//! environment: its own e-conomic client, so its own pacer, all sharing the
//! agreement's bucket in the sandbox.
//!
//! Scenarios (both by default):
//! * `promotion`: N orders (500) sent evenly within S seconds (10), over
//!   `--shops` shops (1) that share `--agreements` e-conomic agreements (1;
//!   shop i uses agreement i mod M, each agreement with its own bucket);
//!   waits until every order is `e-conomic-ok`, checks the sandbox holds
//!   exactly one draft per order reference, and reports the drain time
//!   against the floor the buckets set (per agreement: tokens spent, less
//!   the full bucket at the start, ÷ the refill rate; the slowest agreement
//!   sets the floor), the 429s as a share of the calls and the e-conomic
//!   calls per order. `--max-429-percent` and
//!   `--max-drain-over-floor` turn the figures into pass/fail
//!   (`infra/scripts/promotion-day.sh`).
//! * `latency`: R orders/s (5) for D seconds (30); p50/p95 from the 202 to
//!   the order being done. With `--notify` every shop has a label
//!   notification target (a local receiver) and the notification queue has
//!   its event source, as deployed; the run then also waits for every
//!   order's `e-conomic-ok` notification, so running it with and without
//!   the flag shows what notifications cost a transfer.
//!
//! "Done" is the moment the transfer invocation that handled the order
//! returned without reporting it as a batch item failure; the label is
//! written before that, so the figure is an upper bound of 202 → label
//! `ok`. Every order's label is read back at the end and must be `ok`.
//!
//! Debtors are returning: one warm-up order per customer (100 customers)
//! runs first with no latency or rate limit, then the sandbox's request log
//! is cleared. Prints `key=value` lines that `infra/scripts/bench.sh` reads.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use bridge::adapters::dynamodb::{provision, DynamoOrderStore, DynamoShopStore};
use bridge::adapters::economic::{ClientConfig, EconomicClient};
use bridge::app::ingest::IngestSettings;
use bridge::app::transfer::TransferSettings;
use bridge::domain::lifecycle::Label;
use bridge::domain::secret::Secret;
use bridge::domain::shop::{NotifyTarget, ShopConfig, WebhookSecret};
use bridge::logging::LogSetup;
use bridge::ports::{OrderStore, ShopStore};
use clap::builder::RangedU64ValueParser;
use clap::{Parser, ValueEnum};
use local_stack::event_source::{poll_once, EventSourceSettings};
use local_stack::fair_queue::FairQueue;
use local_stack::{http_front, moto::MotoServer};
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Promotion day and webhook-to-invoice latency through the whole local
/// stack; prints `key=value` lines for infra/scripts/bench.sh.
#[derive(Debug, Clone, Parser)]
#[command(name = "loadtest")]
struct Options {
    /// Which scenario to run
    #[arg(long, value_name = "NAME", value_enum, default_value_t = Scenario::Both)]
    scenario: Scenario,
    /// promotion: orders
    #[arg(long, value_name = "N", default_value_t = 500)]
    orders: usize,
    /// promotion: sent evenly within this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 10.0, value_parser = non_negative,
          allow_negative_numbers = true)]
    within: f64,
    /// latency: orders per second
    #[arg(long, value_name = "N", default_value_t = 5.0, value_parser = positive,
          allow_negative_numbers = true)]
    rate: f64,
    /// latency: how long, in seconds
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = non_negative,
          allow_negative_numbers = true)]
    duration: f64,
    /// Shops the orders are spread over (round robin)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    shops: usize,
    /// e-conomic agreements the shops share (shop i: agreement i mod N)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    agreements: usize,
    /// Distinct returning customers per shop
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    customers: usize,
    /// Latency the sandbox adds to every call
    #[arg(long, value_name = "N", default_value_t = 50)]
    sandbox_latency_ms: u64,
    /// sandbox: tokens in the agreement's bucket (e-conomic: 10,000)
    #[arg(long, value_name = "N", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..))]
    bucket_tokens: u32,
    /// sandbox: seconds in which the bucket refills (e-conomic: 60)
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..))]
    bucket_window: u64,
    /// sandbox: tokens a POST, PUT or DELETE costs (a GET costs 1)
    #[arg(long, value_name = "N", default_value_t = 1)]
    write_call_cost: u32,
    /// sandbox: a 429 for an empty bucket carries Retry-After
    #[arg(long)]
    retry_after_on_429: bool,
    /// Static cap on top of the header-driven pacing: N calls/s per
    /// agreement, shared out over the workers (0 = no cap)
    #[arg(long, value_name = "N", default_value_t = 0)]
    client_rate_limit: u32,
    /// promotion: fail when 429s exceed this share of the calls, in percent
    #[arg(long, value_name = "P", value_parser = non_negative, allow_negative_numbers = true)]
    max_429_percent: Option<f64>,
    /// promotion: fail when the drain takes longer than this × the floor
    #[arg(long, value_name = "X", value_parser = positive, allow_negative_numbers = true)]
    max_drain_over_floor: Option<f64>,
    /// Transfer workers, each an execution environment of its own
    /// (template MaximumConcurrency)
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    concurrency: usize,
    /// SQS batch size (template TransferBatchSize)
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = clap::value_parser!(i32).range(1..=10))]
    batch_size: i32,
    /// Long-poll wait of the event source emulation
    #[arg(long, value_name = "N", default_value_t = 1000)]
    poll_wait_ms: u64,
    /// Give up waiting for a scenario after this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 240)]
    timeout: u64,
    /// Longest wait in place for an agreement's token bucket before an
    /// order is handed back [default: the client's]
    #[arg(long, value_name = "MS")]
    max_inline_pacing_ms: Option<u64>,
    /// Environments each worker's e-conomic client spaces its hand-backs
    /// by (`EconomicClient::set_environments`; 1 as deployed: measured,
    /// spacing by the 5 workers missed the drain target)
    #[arg(long, value_name = "N", default_value_t = 1)]
    hand_back_environments: u32,
    /// Turn the fairness off: plain arrival-order delivery and pacing in
    /// place up to the deadline (no hand-backs), for comparison
    #[arg(long)]
    no_fairness: bool,

    /// Serve SQS from a moto process of its own (DynamoDB and KMS from the
    /// other): in AWS they are separate services, and one Python process
    /// serving both makes every queue request wait for DynamoDB's (and the
    /// other way round). Off by default, as the figures in the docs were
    /// taken.
    #[arg(long)]
    split_moto: bool,
    /// With `--notify`: the notification queues on a moto process of
    /// their own (in AWS one queue's traffic does not slow another's; in
    /// one moto process every request shares one Python interpreter)
    #[arg(long, requires = "notify")]
    notify_moto: bool,

    /// A control arm: a background task makes this many DynamoDB writes
    /// per second (an `UpdateItem` appending to a list, the shape of a
    /// notification's record) on an item of its own in the orders table,
    /// so that a run without notifications can carry the emulator load a
    /// run with them adds, and the two be compared
    #[arg(long, value_name = "N", default_value_t = 0)]
    control_writes_per_second: u32,
    /// With `--control-writes-per-second`: the writes go out this many at
    /// once (at the same mean rate), as a notification batch's outcomes do
    /// (one write per order, the orders side by side)
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..))]
    control_burst: u32,

    /// With `--notify`: the notification event source's batching window
    /// (template.yaml: 1 s; 0 invokes with whatever one receive returned)
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    notify_batching_window_ms: u64,
    /// multi-tenant: orders per second over all shops but the first, in
    /// the baseline and throughout the burst
    #[arg(long, value_name = "N", default_value_t = 2.0, value_parser = positive,
          allow_negative_numbers = true)]
    steady_rate: f64,
    /// multi-tenant: seconds of steady traffic alone before the burst
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = positive,
          allow_negative_numbers = true)]
    baseline_seconds: f64,
    /// multi-tenant: orders the first shop sends in its burst
    #[arg(long, value_name = "N", default_value_t = 5_000)]
    burst_orders: usize,
    /// multi-tenant: the burst is sent evenly within this many seconds
    #[arg(long, value_name = "SECS", default_value_t = 60.0, value_parser = positive,
          allow_negative_numbers = true)]
    burst_within: f64,
    /// multi-tenant: fail when the other shops' p95 during the burst
    /// exceeds this × their p95 without it
    #[arg(long, value_name = "X", value_parser = positive, allow_negative_numbers = true)]
    max_p95_over_baseline: Option<f64>,
    /// multi-tenant: fail when the other shops' p95 during the burst
    /// exceeds this many milliseconds
    #[arg(long, value_name = "MS", value_parser = positive, allow_negative_numbers = true)]
    max_p95_ms: Option<f64>,
    /// Give every shop a label-notification target (a local receiver that
    /// answers 204) and run the notification queue's event source, as
    /// deployed with `notify` set; the latency scenario then also waits
    /// for each order's `e-conomic-ok` notification
    #[arg(long)]
    notify: bool,
    /// With `--notify`: the notification event source starts only once
    /// every order is done, so the run measures what announcing costs a
    /// transfer (recording and queueing) without the deliveries sharing
    /// the machine and the emulator with it (in AWS they run in
    /// environments of their own, against a DynamoDB that does not
    /// serialise writes); the latency scenario
    #[arg(long, requires = "notify")]
    hold_notifications: bool,
    /// When an order counts as done: at the end of the transfer invocation
    /// that handled it (an upper bound: an order batched with slower ones
    /// waits for them), or when transfer logged its `ok` label as written
    /// (its own moment, read from transfer's tracing events)
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = DoneAt::InvocationEnd)]
    done_at: DoneAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DoneAt {
    InvocationEnd,
    Label,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Promotion,
    Latency,
    Both,
    /// Steady traffic over many shops, then one shop's burst on top
    /// (infra/scripts/multi-tenant.sh); not part of `both`.
    MultiTenant,
}

/// A finite number ≥ 0 (seconds).
fn non_negative(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err("not a number ≥ 0".to_owned()),
    }
}

/// A finite number > 0 (a rate).
fn positive(text: &str) -> Result<f64, String> {
    match non_negative(text) {
        Ok(n) if n > 0.0 => Ok(n),
        _ => Err("not a number > 0".to_owned()),
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    if options.done_at == DoneAt::Label {
        label_times::init();
    } else {
        LogSetup::new("error").init();
    }
    match run(&local_stack::workspace_root(), options).await {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(message) => {
            eprintln!("loadtest: {message}");
            std::process::exit(1);
        }
    }
}

/// When each order was accepted (202) and when its transfer finished.
#[derive(Default)]
struct Timeline {
    accepted: HashMap<String, Instant>,
    done: HashMap<String, Instant>,
    /// Which shop (index) each order was sent for.
    shop_of: HashMap<String, usize>,
    /// Webhook round trips (ms): the ingest invocation plus local HTTP.
    ingest_ms: Vec<f64>,
    /// Transfer invocations: (duration ms, messages in the batch).
    transfer_ms: Vec<(f64, usize)>,
    /// Invocations running now, the most at once, invocation-seconds, all
    /// since `concurrency_since`.
    running_now: usize,
    running_peak: usize,
    invocation_seconds: f64,
    running_changed: Option<Instant>,
    concurrency_since: Option<Instant>,
}

impl Timeline {
    /// An invocation starts (+1) or ends (−1).
    fn running(&mut self, now: Instant, change: i32) {
        if let Some(last) = self.running_changed {
            self.invocation_seconds +=
                now.duration_since(last).as_secs_f64() * self.running_now as f64;
        }
        self.running_changed = Some(now);
        self.running_now = (self.running_now as i64 + i64::from(change)).max(0) as usize;
        self.running_peak = self.running_peak.max(self.running_now);
    }

    /// (peak, mean) concurrent invocations since the last call; starts anew.
    fn take_concurrency(&mut self, now: Instant) -> (usize, f64) {
        self.running(now, 0);
        let since = self.concurrency_since.unwrap_or(now);
        let period = now.duration_since(since).as_secs_f64();
        let mean = if period > 0.0 {
            self.invocation_seconds / period
        } else {
            0.0
        };
        let peak = self.running_peak;
        self.running_peak = self.running_now;
        self.invocation_seconds = 0.0;
        self.concurrency_since = Some(now);
        (peak, mean)
    }
}

/// One transfer invocation as the event source makes it, timed: an order
/// is done when its label reads `ok` after the invocation that handled it
/// (a message handed back for the e-conomic budget is not done).
struct Invocation {
    transfer: Arc<transfer::TransferContext>,
    timeline: Arc<Mutex<Timeline>>,
    orders: DynamoOrderStore,
}

impl Invocation {
    async fn run(
        self,
        event: lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>,
    ) -> Result<aws_lambda_events::event::sqs::SqsBatchResponse, transfer::Error> {
        let orders: Vec<(String, String, String)> = event
            .payload
            .records
            .iter()
            .map(|r| {
                let body = r
                    .body
                    .as_deref()
                    .and_then(|b| serde_json::from_str::<Value>(b).ok())
                    .unwrap_or_default();
                let text = |key: &str| body[key].as_str().unwrap_or_default().to_owned();
                (
                    r.message_id.clone().unwrap_or_default(),
                    text("shop_id"),
                    text("order_id"),
                )
            })
            .collect();
        let invoked = Instant::now();
        self.timeline
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running(invoked, 1);
        let result = transfer::handle(&self.transfer, event).await;
        let now = Instant::now();
        let mut t = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        t.running(now, -1);
        drop(t);
        if let Ok(response) = &result {
            let handled: Vec<(String, String)> = orders
                .into_iter()
                .filter(|(message_id, _, _)| {
                    !response
                        .batch_item_failures
                        .iter()
                        .any(|f| &f.item_identifier == message_id)
                })
                .map(|(_, shop_id, order_id)| (shop_id, order_id))
                .collect();
            self.timeline
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .transfer_ms
                .push((
                    now.duration_since(invoked).as_secs_f64() * 1000.0,
                    handled.len(),
                ));
            // Off the invocation's time: is each handled order ok now (a
            // hand-back is not)? Done as of the invocation's end. With
            // `--done-at label` transfer's own log line says so; otherwise
            // the label is read (a read per message handled, hand-backs
            // included, on the emulator the bridge is measured on).
            let (orders, timeline) = (self.orders.clone(), self.timeline.clone());
            tokio::spawn(async move {
                for (shop_id, order_id) in handled {
                    let ok = match label_times::transferred(&order_id) {
                        Some(transferred) => transferred,
                        None => matches!(
                            orders.get(&shop_id, &order_id).await,
                            Ok(Some(r)) if r.label == Label::Ok
                        ),
                    };
                    if ok {
                        timeline
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .done
                            .entry(order_id)
                            .or_insert(now);
                    }
                }
            });
        }
        result
    }
}

struct Stack {
    _moto: MotoServer,
    /// With `--split-moto`: the one serving SQS.
    _moto_sqs: Option<MotoServer>,
    _moto_notify: Option<MotoServer>,
    sandbox: economic_sandbox::SandboxHandle,
    /// Each worker's e-conomic client (its own pool and pacer).
    economic_clients: Vec<EconomicClient>,
    shops: Vec<ShopConfig>,
    agreements: usize,
    orders: DynamoOrderStore,
    webhook_url: String,
    http: reqwest::Client,
    timeline: Arc<Mutex<Timeline>>,
    workers: Vec<tokio::task::JoinHandle<()>>,
    /// With `--notify`: where the shops' label notifications arrive.
    receiver: Option<local_stack::receiver::NotificationReceiver>,
    /// With `--hold-notifications`: set to true to start delivering.
    deliver_notifications: tokio::sync::watch::Sender<bool>,
}

impl Drop for Stack {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.abort();
        }
    }
}

/// `--control-writes-per-second`: `per_second` list-appending writes (in
/// bursts of `burst` at once) on
/// one item of the orders table, until aborted. Each write keeps the list
/// at 2 entries (as an order's notifications are), so the item does not
/// grow.
fn control_writes(
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    per_second: u32,
    burst: u32,
) -> tokio::task::JoinHandle<()> {
    use aws_sdk_dynamodb::types::AttributeValue;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1) * burst / per_second);
        let entry = AttributeValue::M(std::collections::HashMap::from([
            ("label".to_owned(), AttributeValue::S("e-conomic-ok".into())),
            ("state".to_owned(), AttributeValue::S("queued".into())),
        ]));
        for n in 0u64.. {
            if n % u64::from(burst) == 0 {
                tick.tick().await;
            }
            let dynamodb = dynamodb.clone();
            let (table, entry) = (table.clone(), entry.clone());
            // Not awaited in line: a slow answer does not lower the rate.
            tokio::spawn(async move {
                let _ = dynamodb
                    .update_item()
                    .table_name(table)
                    .key("shop_id", AttributeValue::S("loadtest-control".into()))
                    .key("order_id", AttributeValue::S("control".into()))
                    .update_expression("SET #list = :list, #seq = :seq")
                    .expression_attribute_names("#list", "control_list")
                    .expression_attribute_names("#seq", "control_seq")
                    .expression_attribute_values(
                        ":list",
                        AttributeValue::L(vec![entry.clone(), entry]),
                    )
                    .expression_attribute_values(":seq", AttributeValue::N(n.to_string()))
                    .send()
                    .await;
            });
        }
    })
}

/// Endpoints by service for `--split-moto`: SQS on one moto, the rest on
/// the other.
#[derive(Debug)]
struct LocalEndpoints {
    sqs: String,
    others: String,
}

impl aws_types::service_config::LoadServiceConfig for LocalEndpoints {
    fn load_config(&self, key: aws_types::service_config::ServiceConfigKey<'_>) -> Option<String> {
        if key.profile() != "endpoint_url" {
            return None;
        }
        Some(match key.service_id() {
            "SQS" => self.sqs.clone(),
            _ => self.others.clone(),
        })
    }
}

async fn start_stack(root: &Path, o: &Options) -> Result<Stack, String> {
    let moto = MotoServer::start(root, 0).map_err(|e| e.to_string())?;
    let moto_sqs = match o.split_moto {
        true => Some(MotoServer::start(root, 0).map_err(|e| e.to_string())?),
        false => None,
    };
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "loadtest"));
    let sdk = match &moto_sqs {
        None => sdk.endpoint_url(moto.endpoint_url()).load().await,
        // Each client picks its service's endpoint (the code-level
        // endpoint would override it, so none is set).
        Some(sqs) => sdk
            .load()
            .await
            .into_builder()
            .service_config(LocalEndpoints {
                sqs: sqs.endpoint_url(),
                others: moto.endpoint_url(),
            })
            .build(),
    };
    let moto_notify = match o.notify_moto {
        true => Some(MotoServer::start(root, 0).map_err(|e| e.to_string())?),
        false => None,
    };
    // The notification queues' clients: SQS on the third moto if asked.
    let notify_sdk = match &moto_notify {
        None => sdk.clone(),
        Some(notify) => {
            let mut builder = sdk.clone().into_builder();
            builder.set_endpoint_url(None);
            builder
                .service_config(LocalEndpoints {
                    sqs: notify.endpoint_url(),
                    others: moto.endpoint_url(),
                })
                .build()
        }
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let notify_sqs = aws_sdk_sqs::Client::new(&notify_sdk);
    let (shops_table, orders_table) = ("econ-bridge-shops", "econ-bridge-orders");
    provision::create_tables(&dynamodb, shops_table, orders_table)
        .await
        .map_err(|e| format!("creating tables: {e}"))?;
    let queues = provision::create_queues(
        &sqs,
        "econ-bridge-transfer",
        "econ-bridge-transfer-dlq",
        360,
        provision::DEFAULT_MAX_RECEIVE_COUNT,
    )
    .await
    .map_err(|e| format!("creating queues: {e}"))?;

    let shop_file = root.join("infra/local-stack/demo/demo-shop.json");
    let text = std::fs::read_to_string(&shop_file)
        .map_err(|e| format!("cannot read {}: {e}", shop_file.display()))?;
    let demo: ShopConfig =
        serde_json::from_str(&text).map_err(|e| format!("demo shop is invalid: {e}"))?;
    // Agreement 0 has the demo shop's tokens; the others their own.
    let agreements: Vec<economic_sandbox::AgreementTokens> = (0..o.agreements)
        .map(|a| economic_sandbox::AgreementTokens {
            app_secret_token: demo.economic.app_secret_token.expose().to_owned(),
            agreement_grant_token: if a == 0 {
                demo.economic.agreement_grant_token.expose().to_owned()
            } else {
                format!("loadtest-grant-{a}")
            },
        })
        .collect();
    let receiver = if o.notify {
        Some(
            local_stack::receiver::NotificationReceiver::start(0)
                .await
                .map_err(|e| format!("cannot start the notification receiver: {e}"))?,
        )
    } else {
        None
    };
    let shops: Vec<ShopConfig> = (0..o.shops)
        .map(|i| {
            let mut shop = demo.clone();
            if o.shops > 1 {
                shop.shop_id = format!("{}-{i:03}", demo.shop_id);
            }
            shop.economic.agreement_grant_token = bridge::domain::secret::Secret::new(
                agreements[i % o.agreements].agreement_grant_token.clone(),
            );
            shop.notify = receiver.as_ref().map(|r| NotifyTarget {
                url: r.url(),
                secrets: vec![WebhookSecret {
                    secret: Secret::new(LOADTEST_NOTIFY_SECRET.to_owned()),
                    valid_until: None,
                }],
            });
            shop
        })
        .collect();
    let sandbox = economic_sandbox::start(economic_sandbox::SandboxConfig {
        port: 0,
        agreements,
        faults: economic_sandbox::Faults::default(),
        ..economic_sandbox::SandboxConfig::default()
    })
    .await
    .map_err(|e| format!("cannot start the sandbox: {e}"))?;
    for a in 0..o.agreements {
        // The load test is about throughput, not product set-up.
        sandbox.with_agreement(a, |a| a.accept_unknown_products = true);
    }
    let notify_queues = if o.notify {
        Some(
            provision::create_queues(
                &notify_sqs,
                "econ-bridge-notify",
                "econ-bridge-notify-dlq",
                360,
                bridge::app::notify_delivery::DeliverySettings::default().max_receive_count,
            )
            .await
            .map_err(|e| format!("creating notification queues: {e}"))?,
        )
    } else {
        None
    };
    let shop_store = DynamoShopStore::new(dynamodb.clone(), shops_table);
    for shop in &shops {
        shop_store
            .put(shop)
            .await
            .map_err(|e| format!("seeding shop {}: {e}", shop.shop_id))?;
    }

    let ingest = Arc::new(ingest::IngestContext::new(
        &sdk,
        shops_table,
        orders_table,
        &queues.queue_url,
        IngestSettings::default(),
    ));

    let (listener, addr) = http_front::bind(0)
        .await
        .map_err(|e| format!("cannot listen: {e}"))?;
    let mut workers = Vec::new();
    if o.control_writes_per_second > 0 {
        workers.push(control_writes(
            dynamodb.clone(),
            orders_table.to_owned(),
            o.control_writes_per_second,
            o.control_burst,
        ));
    }
    workers.push(tokio::spawn(http_front::serve(listener, move |request| {
        let ingest = ingest.clone();
        async move { ingest::handle(&ingest, request).await }
    })));

    let timeline = Arc::new(Mutex::new(Timeline::default()));
    let settings = EventSourceSettings {
        queue_url: queues.queue_url.clone(),
        queue_arn: "arn:aws:sqs:eu-west-1:000000000000:econ-bridge-transfer".into(),
        region: "eu-west-1".into(),
        batch_size: o.batch_size,
        wait: Duration::from_millis(o.poll_wait_ms),
        batching_window: Duration::ZERO,
        function_timeout: Duration::from_secs(60),
    };
    // SQS fair queues, emulated (moto delivers in arrival order).
    let fair = (!o.no_fairness).then(|| FairQueue::start(sqs.clone(), settings.clone(), 360));
    let orders = DynamoOrderStore::new(dynamodb.clone(), orders_table);
    let mut economic_clients = Vec::new();
    for _ in 0..o.concurrency {
        // One execution environment: its own client, pacer and caches.
        let economic = EconomicClient::new(ClientConfig {
            base_url: sandbox.base_url(),
            // Without fairness: pace in place up to the deadline, as before.
            max_inline_pacing: if o.no_fairness {
                Duration::from_secs(60)
            } else {
                o.max_inline_pacing_ms.map_or(
                    ClientConfig::default().max_inline_pacing,
                    Duration::from_millis,
                )
            },
            ..ClientConfig::default()
        })
        .map_err(|e| format!("e-conomic client: {e}"))?;
        economic.set_environments(o.hand_back_environments);
        economic_clients.push(economic.clone());
        // As deployed: each shop's configuration kept 30 s.
        let transfer = transfer::TransferContext::with_shop_cache(
            &sdk,
            shops_table,
            orders_table,
            &queues.queue_url,
            &queues.dead_letter_queue_url,
            economic,
            TransferSettings::default(),
            Duration::from_secs(30),
        );
        let transfer = Arc::new(match &notify_queues {
            Some(notify) => transfer
                .with_notifications(
                    &notify_sdk,
                    shops_table,
                    orders_table,
                    notify_queue(notify),
                    Duration::from_secs(30),
                )
                .map_err(|e| format!("notification delivery: {e}"))?,
            None => transfer,
        });
        let (sqs, settings, fair, orders) =
            (sqs.clone(), settings.clone(), fair.clone(), orders.clone());
        let timeline = timeline.clone();
        workers.push(tokio::spawn(async move {
            loop {
                let invocation = Invocation {
                    transfer: transfer.clone(),
                    timeline: timeline.clone(),
                    orders: orders.clone(),
                };
                let handler = move |event| async move { invocation.run(event).await };
                let polled = match &fair {
                    Some(fair) => fair.poll_once(handler).await,
                    None => poll_once(&sqs, &settings, handler).await,
                };
                if polled.is_err() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }

    let (deliver_notifications, _) = tokio::sync::watch::channel(!o.hold_notifications);
    if let Some(notify) = &notify_queues {
        // The transfer function's second event source (template: one
        // environment's worth is plenty for one notification per label).
        let economic = EconomicClient::new(ClientConfig {
            base_url: sandbox.base_url(),
            ..ClientConfig::default()
        })
        .map_err(|e| format!("e-conomic client: {e}"))?;
        let transfer = Arc::new(
            transfer::TransferContext::with_shop_cache(
                &sdk,
                shops_table,
                orders_table,
                &queues.queue_url,
                &queues.dead_letter_queue_url,
                economic,
                TransferSettings::default(),
                Duration::from_secs(30),
            )
            .with_notifications(
                &notify_sdk,
                shops_table,
                orders_table,
                notify_queue(notify),
                Duration::from_secs(30),
            )
            .map_err(|e| format!("notification delivery: {e}"))?,
        );
        let settings = EventSourceSettings {
            queue_url: notify.queue_url.clone(),
            queue_arn: notify.queue_arn.clone(),
            // As template.yaml by default: an order's notifications
            // usually share a batch.
            batching_window: Duration::from_millis(o.notify_batching_window_ms),
            ..settings.clone()
        };
        let sqs = notify_sqs.clone();
        let mut deliver = deliver_notifications.subscribe();
        workers.push(tokio::spawn(async move {
            if deliver.wait_for(|deliver| *deliver).await.is_err() {
                return;
            }
            loop {
                let transfer = transfer.clone();
                let handler = move |event| async move { transfer::handle(&transfer, event).await };
                if poll_once(&sqs, &settings, handler).await.is_err() {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }));
    }

    Ok(Stack {
        _moto: moto,
        _moto_sqs: moto_sqs,
        _moto_notify: moto_notify,
        sandbox,
        economic_clients,
        orders,
        shops,
        agreements: o.agreements,
        webhook_url: format!("http://{addr}/webhooks"),
        http: reqwest::Client::new(),
        timeline,
        workers,
        receiver,
        deliver_notifications,
    })
}

/// Signs the load test's notifications; nothing checks them here (the
/// notification tests do), so a fixed secret is fine.
const LOADTEST_NOTIFY_SECRET: &str = "whsec_bG9hZHRlc3Qtbm90aWZ5LXNlY3JldC0xMjM0NTY=";

fn notify_queue(queues: &provision::Queues) -> transfer::NotifyQueue {
    transfer::NotifyQueue {
        queue_url: queues.queue_url.clone(),
        queue_arn: queues.queue_arn.clone(),
        delivery: bridge::app::notify_delivery::DeliverySettings::default(),
    }
}

/// A typical five-line order for `customer`.
fn order_body(order_id: &str, customer: usize) -> String {
    let body = serde_json::json!({
        "type": "order.paid",
        "order": {
            "id": order_id,
            "number": order_id,
            "created_at": "2026-11-27T09:12:44+01:00",
            "currency": "DKK",
            "prices_include_vat": true,
            "customer": {
                "id": format!("{}", 5000 + customer),
                "name": format!("Customer {customer}"),
                "email": format!("customer{customer}@example.dk"),
                "logged_in": true
            },
            "billing_address": {
                "street": "Nørregade 12", "zip": "8000", "city": "Aarhus C", "country": "DK"
            },
            "payment_method": "card",
            "lines": [
                {"sku": "SKU-1", "name": "Wool socks", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"},
                {"sku": "SKU-2", "name": "Beanie", "quantity": "1", "unit_price": "149.00", "vat_rate": "25"},
                {"sku": "SKU-3", "name": "Shoe laces", "quantity": "3", "unit_price": "24.50", "vat_rate": "25"},
                {"sku": "SKU-4", "name": "Rain jacket", "quantity": "1", "unit_price": "399.00", "vat_rate": "25"},
                {"sku": "SKU-5", "name": "Gift sleeve", "quantity": "2", "unit_price": "12.25", "vat_rate": "25"}
            ],
            "shipping": {"name": "GLS Pakkeshop", "price": "39.00"},
            "fees": [{"kind": "payment_fee", "label": "Card fee", "amount": "2.50"}],
            "discounts": [{"kind": "discount_code", "label": "PROMO50", "amount": "50.00"}],
            "total": "837.40"
        }
    });
    body.to_string()
}

impl Stack {
    /// Sends one signed webhook for shop number `shop`; records the 202.
    async fn send(&self, order_id: String, shop: usize, customer: usize) -> Result<(), String> {
        let shop = &self.shops[shop % self.shops.len()];
        let body = order_body(&order_id, customer);
        let webhook_id = format!("msg_{order_id}");
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let secret = shop.webhook_secrets[0].secret.expose();
        let signature =
            bridge::domain::webhook::sign(secret, &webhook_id, timestamp, body.as_bytes())
                .ok_or("the demo shop's secret is not base64")?;
        let sent = Instant::now();
        let response = self
            .http
            .post(format!("{}/{}", self.webhook_url, shop.shop_id))
            .header("content-type", "application/json")
            .header("webhook-id", &webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("webhook for {order_id}: {e}"))?;
        let status = response.status().as_u16();
        if status != 202 {
            let text = response.text().await.unwrap_or_default();
            return Err(format!("webhook for {order_id}: {status} {text}"));
        }
        let now = Instant::now();
        let mut t = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        t.accepted.insert(order_id, now);
        t.ingest_ms
            .push(now.duration_since(sent).as_secs_f64() * 1000.0);
        Ok(())
    }

    /// Sends `count` orders evenly over `over`, each on its own task, the
    /// way independent shoppers' webhooks arrive: order n goes to shop
    /// n mod shops, from customer (n ÷ shops) mod `customers`, so that
    /// shops × customers orders meet every customer of every shop once.
    async fn send_evenly(
        self: &Arc<Self>,
        prefix: &str,
        count: usize,
        over: Duration,
        customers: usize,
    ) -> Result<Vec<String>, String> {
        let all: Vec<usize> = (0..self.shops.len()).collect();
        self.send_among(prefix, count, over, customers, &all, 0)
            .await
    }

    /// [`Self::send_evenly`] over the shops numbered in `shops`.
    /// (`first` is the round robin's starting number).
    async fn send_among(
        self: &Arc<Self>,
        prefix: &str,
        count: usize,
        over: Duration,
        customers: usize,
        shops: &[usize],
        first: usize,
    ) -> Result<Vec<String>, String> {
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(count);
        let mut ids = Vec::with_capacity(count);
        for n in 0..count {
            let at = over.mul_f64(n as f64 / count.max(1) as f64);
            tokio::time::sleep_until((started + at).into()).await;
            let id = format!("{prefix}-{n:05}");
            ids.push(id.clone());
            let stack = self.clone();
            let k = first + n;
            let (shop, customer) = (shops[k % shops.len()], (k / shops.len()) % customers.max(1));
            self.timeline
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .shop_of
                .insert(id.clone(), shop);
            tasks.push(tokio::spawn(
                async move { stack.send(id, shop, customer).await },
            ));
        }
        for task in tasks {
            task.await.map_err(|e| e.to_string())??;
        }
        Ok(ids)
    }

    async fn wait_done(&self, ids: &[String], timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            let done = {
                let t = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
                ids.iter().all(|id| t.done.contains_key(id))
            };
            if done {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Labels read back from DynamoDB: how many are `ok`.
    async fn count_ok(&self, ids: &[String]) -> Result<usize, String> {
        let mut ok = 0;
        for id in ids {
            let shop = self
                .timeline
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .shop_of
                .get(id)
                .copied()
                .unwrap_or(0);
            let record = self
                .orders
                .get(&self.shops[shop].shop_id, id)
                .await
                .map_err(|e| format!("reading order {id}: {e}"))?;
            if record.is_some_and(|r| r.label == Label::Ok) {
                ok += 1;
            }
        }
        Ok(ok)
    }

    /// Orders whose reference has more than one draft in the sandbox.
    fn duplicates(&self) -> (usize, usize) {
        let mut per_reference: HashMap<String, usize> = HashMap::new();
        for agreement in 0..self.agreements {
            for draft in self.sandbox.drafts(agreement) {
                if let Some(reference) = draft.reference {
                    *per_reference.entry(reference).or_default() += 1;
                }
            }
        }
        let drafts = per_reference.values().sum();
        let duplicated = per_reference.values().filter(|n| **n > 1).count();
        (drafts, duplicated)
    }

    /// API requests the sandbox saw: (answered, throttled with 429).
    fn economic_calls(&self) -> (usize, usize) {
        let log = self.sandbox.requests();
        let throttled = log.iter().filter(|r| r.status == 429).count();
        (log.len() - throttled, throttled)
    }

    /// Tokens the answered calls took from each agreement's bucket.
    fn tokens_spent(&self, o: &Options) -> Vec<u64> {
        let mut spent = vec![0; self.agreements];
        for r in self.sandbox.requests().iter().filter(|r| r.status != 429) {
            let Some(agreement) = r.agreement.filter(|a| *a < spent.len()) else {
                continue;
            };
            spent[agreement] += if r.method == "GET" {
                1
            } else {
                u64::from(o.write_call_cost)
            };
        }
        spent
    }

    /// A line on stderr every `every` until aborted: orders sent (202),
    /// ok, not yet ok, moto's CPU (share of one core) and the machine's
    /// load, so that a run stopped early still says how far it got and
    /// whether moto was the bottleneck.
    fn report_progress(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let stack = self.clone();
        let pids: Vec<u32> = std::iter::once(self._moto.pid())
            .chain(self._moto_sqs.as_ref().map(|m| m.pid()))
            .chain(self._moto_notify.as_ref().map(|m| m.pid()))
            .collect();
        // utime + stime of a process, in clock ticks (Linux; None elsewhere).
        let cpu_ticks = |pid: u32| -> Option<f64> {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            Some(fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?)
        };
        tokio::spawn(async move {
            let started = Instant::now();
            let mut ticks: Vec<Option<f64>> = pids.iter().map(|p| cpu_ticks(*p)).collect();
            loop {
                tokio::time::sleep(every).await;
                let now_ticks: Vec<Option<f64>> = pids.iter().map(|p| cpu_ticks(*p)).collect();
                // Clock ticks are 1/100 s on Linux: ticks per second = percent;
                // with `--split-moto`, DynamoDB's process / SQS's.
                let moto_cpu = ticks
                    .iter()
                    .zip(&now_ticks)
                    .map(|pair| match pair {
                        (Some(a), Some(b)) => format!("{:.0}%", (b - a) / every.as_secs_f64()),
                        _ => "-".into(),
                    })
                    .collect::<Vec<_>>()
                    .join("/");
                ticks = now_ticks;
                let (sent, ok) = {
                    let t = stack.timeline.lock().unwrap_or_else(|p| p.into_inner());
                    (t.accepted.len(), t.done.len())
                };
                let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
                let load: Vec<&str> = load.split_whitespace().take(3).collect();
                eprintln!(
                    "progress: t={:.0}s sent={sent} ok={ok} backlog={} moto_cpu={moto_cpu} load={}",
                    started.elapsed().as_secs_f64(),
                    sent.saturating_sub(ok),
                    load.join(" ")
                );
            }
        })
    }

    /// Webhook → first claim (waiting in the queue) and first claim → `ok`
    /// label (the order's own work), sorted; empty without `--done-at label`.
    fn wait_and_work_ms(&self, ids: &[String]) -> (Vec<f64>, Vec<f64>) {
        let t = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        let (Some(labelled), Some(claimed)) = (label_times::snapshot(), label_times::claimed())
        else {
            return (Vec::new(), Vec::new());
        };
        let ms = |from: &Instant, to: &Instant| {
            to.saturating_duration_since(*from).as_secs_f64() * 1000.0
        };
        let (mut wait, mut work): (Vec<f64>, Vec<f64>) = ids
            .iter()
            .filter_map(|id| {
                let (accepted, claimed, done) =
                    (t.accepted.get(id)?, claimed.get(id)?, labelled.get(id)?);
                Some((ms(accepted, claimed), ms(claimed, done)))
            })
            .unzip();
        wait.sort_by(|a, b| a.total_cmp(b));
        work.sort_by(|a, b| a.total_cmp(b));
        (wait, work)
    }

    fn durations_ms(&self, ids: &[String]) -> Vec<f64> {
        let t = self.timeline.lock().unwrap_or_else(|p| p.into_inner());
        let labelled = label_times::snapshot();
        let mut out: Vec<f64> = ids
            .iter()
            .filter_map(|id| {
                // Only orders that are done count; with `--done-at label`
                // from the moment their label was written.
                let done = t.done.get(id)?;
                let d = match &labelled {
                    Some(times) => times.get(id)?,
                    None => done,
                };
                let a = t.accepted.get(id)?;
                Some(d.saturating_duration_since(*a).as_secs_f64() * 1000.0)
            })
            .collect();
        out.sort_by(|a, b| a.total_cmp(b));
        out
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run(root: &Path, o: Options) -> Result<bool, String> {
    let stack = Arc::new(start_stack(root, &o).await?);
    let timeout = Duration::from_secs(o.timeout);

    // Warm-up: one order per customer creates the debtors (returning from
    // here on) and warms connection pools, without latency or rate limit.
    let warm = stack
        .send_evenly(
            "warm",
            o.customers * o.shops,
            Duration::from_secs(1),
            o.customers,
        )
        .await?;
    if !stack.wait_done(&warm, timeout).await {
        return Err("warm-up orders did not finish".into());
    }
    // Their notifications too: delivered during the measurement, they
    // would be a burst no steady stream of orders makes.
    if let (Some(receiver), false) = (&stack.receiver, o.hold_notifications) {
        let (notified, _) = wait_notified_ok(receiver, &warm, timeout).await;
        if notified != warm.len() {
            return Err("warm-up orders' notifications did not arrive".into());
        }
    }
    let per_environment = transfer::calls_per_second_per_environment(
        o.client_rate_limit,
        u32::try_from(o.concurrency).unwrap_or(u32::MAX),
    );
    for client in &stack.economic_clients {
        client.set_rate_limit(per_environment);
    }
    stack.sandbox.set_faults(economic_sandbox::Faults {
        latency_ms: o.sandbox_latency_ms,
        token_limit: o.bucket_tokens,
        token_window_seconds: o.bucket_window,
        write_call_cost: o.write_call_cost,
        retry_after_on_token_limit: o.retry_after_on_429,
        ..economic_sandbox::Faults::default()
    });
    println!(
        "setup: customers={} sandbox_latency_ms={} bucket=token-limit-{}-per-{}-seconds write_call_cost={} retry_after_on_429={} client_rate_limit={} concurrency={} batch_size={} poll_wait_ms={}",
        o.customers, o.sandbox_latency_ms, o.bucket_tokens, o.bucket_window, o.write_call_cost, o.retry_after_on_429, o.client_rate_limit, o.concurrency, o.batch_size, o.poll_wait_ms
    );

    if o.scenario == Scenario::MultiTenant {
        return multi_tenant(&stack, &o, timeout).await;
    }
    let mut all_good = true;
    if o.scenario != Scenario::Latency {
        all_good &= promotion(&stack, &o, timeout).await?;
    }
    if o.scenario != Scenario::Promotion {
        all_good &= latency(&stack, &o, timeout).await?;
    }
    Ok(all_good)
}

async fn promotion(stack: &Arc<Stack>, o: &Options, timeout: Duration) -> Result<bool, String> {
    stack.sandbox.clear_requests();
    // The promotion starts on a full bucket (the warm-up spent some).
    stack.sandbox.refill_token_buckets();
    let (drafts_before, _) = stack.duplicates();
    let started = Instant::now();
    let ids = stack
        .send_evenly(
            "promo",
            o.orders,
            Duration::from_secs_f64(o.within),
            o.customers,
        )
        .await?;
    let sent = started.elapsed();
    let finished = stack.wait_done(&ids, timeout).await;
    let drain = started.elapsed();
    let ok = stack.count_ok(&ids).await?;
    let (answered, throttled) = stack.economic_calls();
    let (drafts_after, duplicated) = stack.duplicates();
    let new_drafts = drafts_after - drafts_before;
    let spent = stack.tokens_spent(o);
    let tokens: u64 = spent.iter().sum();
    // The agreements drain in parallel: the slowest sets the floor.
    let floors: Vec<f64> = spent
        .iter()
        .map(|t| bucket_floor(*t, o.bucket_tokens, o.bucket_window))
        .collect();
    let floor = floors.iter().copied().fold(0.0, f64::max);
    let drain_over_floor = if floor > 0.0 {
        drain.as_secs_f64() / floor
    } else {
        f64::NAN
    };
    let percent_429 = 100.0 * throttled as f64 / (answered + throttled).max(1) as f64;
    let latencies = stack.durations_ms(&ids);
    println!(
        "promotion: orders={} shops={} agreements={} sent_in_s={:.2} drain_s={:.2} tokens_spent={} floor_s={:.2} floors_per_agreement_s={} drain_over_floor={:.3} ok={} drafts={} duplicated_references={} calls_answered={} calls_429={} percent_429={:.2} calls_per_order={:.3} calls_per_order_incl_429={:.3} p50_ms={:.0} p95_ms={:.0} max_ms={:.0} finished={}",
        o.orders,
        o.shops,
        o.agreements,
        sent.as_secs_f64(),
        drain.as_secs_f64(),
        tokens,
        floor,
        floors
            .iter()
            .map(|f| format!("{f:.1}"))
            .collect::<Vec<_>>()
            .join("/"),
        drain_over_floor,
        ok,
        new_drafts,
        duplicated,
        answered,
        throttled,
        percent_429,
        answered as f64 / o.orders.max(1) as f64,
        (answered + throttled) as f64 / o.orders.max(1) as f64,
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 100.0),
        finished,
    );
    let mut good = finished && ok == o.orders && duplicated == 0 && new_drafts == o.orders;
    if !good {
        eprintln!("promotion: FAILED (not every order ok exactly once)");
    }
    if let Some(limit) = o.max_429_percent {
        let met = percent_429 <= limit;
        println!(
            "target: percent_429={percent_429:.2} <= {limit} {}",
            verdict(met)
        );
        good &= met;
    }
    if let Some(limit) = o.max_drain_over_floor {
        // Without a floor (the bucket never ran dry) there is nothing to
        // compare: the run did not test the pacing.
        let met = floor > 0.0 && drain_over_floor <= limit;
        println!(
            "target: drain_over_floor={drain_over_floor:.3} <= {limit} {}",
            verdict(met)
        );
        good &= met;
    }
    Ok(good)
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

/// The shortest drain the bucket allows: the tokens spent, less the full
/// bucket the promotion starts with, at the refill rate (seconds; 0 when
/// the bucket never had to refill).
fn bucket_floor(tokens_spent: u64, bucket_tokens: u32, window_seconds: u64) -> f64 {
    let refill_per_second = f64::from(bucket_tokens) / window_seconds as f64;
    tokens_spent.saturating_sub(u64::from(bucket_tokens)) as f64 / refill_per_second
}

async fn latency(stack: &Arc<Stack>, o: &Options, timeout: Duration) -> Result<bool, String> {
    stack.sandbox.clear_requests();
    {
        let mut t = stack.timeline.lock().unwrap_or_else(|p| p.into_inner());
        t.ingest_ms.clear();
        t.transfer_ms.clear();
    }
    let count = (o.rate * o.duration).round().max(1.0) as usize;
    let ids = stack
        .send_evenly(
            "steady",
            count,
            Duration::from_secs_f64(o.duration),
            o.customers,
        )
        .await?;
    let finished = stack.wait_done(&ids, timeout).await;
    let ok = stack.count_ok(&ids).await?;
    let (answered, throttled) = stack.economic_calls();
    let latencies = stack.durations_ms(&ids);
    println!(
        "latency: orders={} rate_per_s={} ok={} p50_ms={:.0} p95_ms={:.0} p99_ms={:.0} max_ms={:.0} calls_per_order={:.3} calls_429={} finished={}",
        count,
        o.rate,
        ok,
        percentile(&latencies, 50.0),
        percentile(&latencies, 95.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
        answered as f64 / count as f64,
        throttled,
        finished,
    );
    let (ingest_ms, transfer_ms, per_batch) = {
        let mut t = stack.timeline.lock().unwrap_or_else(|p| p.into_inner());
        let mut ingest_ms = std::mem::take(&mut t.ingest_ms);
        ingest_ms.sort_by(|a, b| a.total_cmp(b));
        let batches = std::mem::take(&mut t.transfer_ms);
        let messages: usize = batches.iter().map(|(_, n)| n).sum();
        let mut transfer_ms: Vec<f64> = batches.iter().map(|(ms, _)| *ms).collect();
        transfer_ms.sort_by(|a, b| a.total_cmp(b));
        (
            ingest_ms,
            transfer_ms.clone(),
            messages as f64 / batches.len().max(1) as f64,
        )
    };
    println!(
        "durations: ingest_rtt_p50_ms={:.1} ingest_rtt_p95_ms={:.1} transfer_invocation_p50_ms={:.1} transfer_invocation_p95_ms={:.1} transfer_invocation_mean_ms={:.1} messages_per_invocation={:.2}",
        percentile(&ingest_ms, 50.0),
        percentile(&ingest_ms, 95.0),
        percentile(&transfer_ms, 50.0),
        percentile(&transfer_ms, 95.0),
        transfer_ms.iter().sum::<f64>() / transfer_ms.len().max(1) as f64,
        per_batch,
    );
    let mut good = finished && ok == count;
    if !good {
        eprintln!("latency: FAILED (not every order ok)");
    }
    if let Some(receiver) = &stack.receiver {
        stack.deliver_notifications.send_replace(true);
        let (notified, waited) = wait_notified_ok(receiver, &ids, timeout).await;
        println!(
            "notifications: ok_notified={notified} of {count} waited_after_last_ok_s={:.1} received_in_all={}",
            waited.as_secs_f64(),
            receiver.received().len()
        );
        if notified != count {
            eprintln!("latency: FAILED (not every order's e-conomic-ok notification arrived)");
            good = false;
        }
    }
    Ok(good)
}

/// Waits until the receiver holds an `e-conomic-ok` notification for each
/// of `ids` (or `timeout`); how many did, and how long it waited.
async fn wait_notified_ok(
    receiver: &local_stack::receiver::NotificationReceiver,
    ids: &[String],
    timeout: Duration,
) -> (usize, Duration) {
    let started = Instant::now();
    let wanted: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    loop {
        let notified: std::collections::HashSet<String> = receiver
            .accepted()
            .iter()
            .filter_map(|r| serde_json::from_str::<Value>(&r.body).ok())
            .filter(|body| body["data"]["label"] == "e-conomic-ok")
            .filter_map(|body| body["data"]["order_id"].as_str().map(str::to_owned))
            .filter(|id| wanted.contains(id.as_str()))
            .collect();
        if notified.len() == wanted.len() || started.elapsed() >= timeout {
            return (notified.len(), started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The other shops' latencies (ms, sorted) for `ids`, and p50/p95/p99.
fn summary(latencies: &[f64]) -> (f64, f64, f64) {
    (
        percentile(latencies, 50.0),
        percentile(latencies, 95.0),
        percentile(latencies, 99.0),
    )
}

/// Many shops at once: steady traffic over shops 1…N−1 for the baseline,
/// then shop 0's burst on top while the steady traffic goes on, until the
/// burst has drained. Compares the other shops' webhook → ok during the
/// burst with the baseline, and the burst's drain with its agreement's
/// floor (shop 0 is on agreement 0).
async fn multi_tenant(stack: &Arc<Stack>, o: &Options, timeout: Duration) -> Result<bool, String> {
    if stack.shops.len() < 2 {
        return Err("multi-tenant needs --shops 2 or more".into());
    }
    // Shop i is on agreement i mod M: shops sharing the burst's agreement
    // share its e-conomic budget, so they are reported on their own.
    let others: Vec<usize> = (1..stack.shops.len()).collect();
    let shares_budget = |id: &String| {
        let t = stack.timeline.lock().unwrap_or_else(|p| p.into_inner());
        t.shop_of
            .get(id)
            .is_some_and(|shop| shop % stack.agreements == 0)
    };
    let progress = stack.report_progress(Duration::from_secs(10));
    let steady_chunk = Duration::from_secs(5);
    let per_chunk = (o.steady_rate * steady_chunk.as_secs_f64())
        .round()
        .max(1.0) as usize;

    // Baseline: steady traffic alone.
    stack.sandbox.clear_requests();
    stack
        .timeline
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take_concurrency(Instant::now());
    let chunks = (o.baseline_seconds / steady_chunk.as_secs_f64())
        .ceil()
        .max(1.0) as usize;
    let mut baseline = Vec::new();
    for chunk in 0..chunks {
        let ids = stack
            .send_among(
                &format!("base{chunk:03}"),
                per_chunk,
                steady_chunk,
                o.customers,
                &others,
                chunk * per_chunk,
            )
            .await?;
        baseline.extend(ids);
    }
    let baseline_done = stack.wait_done(&baseline, timeout).await;
    let baseline_concurrency = stack
        .timeline
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take_concurrency(Instant::now());
    let baseline_429 = stack.economic_calls().1;

    // The burst, with the steady traffic going on until it has drained.
    stack.sandbox.clear_requests();
    stack.sandbox.refill_token_buckets();
    stack
        .timeline
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .transfer_ms
        .clear();
    let burst_started = Instant::now();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let steady = {
        let (stack, stop, others, customers) =
            (stack.clone(), stop.clone(), others.clone(), o.customers);
        tokio::spawn(async move {
            let mut ids = Vec::new();
            let mut chunk = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let sent = stack
                    .send_among(
                        &format!("steady{chunk:04}"),
                        per_chunk,
                        steady_chunk,
                        customers,
                        &others,
                        chunk * per_chunk,
                    )
                    .await?;
                ids.extend(sent);
                chunk += 1;
            }
            Ok::<_, String>(ids)
        })
    };
    let burst_ids = stack
        .send_among(
            "burst",
            o.burst_orders,
            Duration::from_secs_f64(o.burst_within),
            o.customers,
            &[0],
            0,
        )
        .await?;
    let burst_sent = burst_started.elapsed();
    let burst_finished = stack.wait_done(&burst_ids, timeout).await;
    let drain = {
        let t = stack.timeline.lock().unwrap_or_else(|p| p.into_inner());
        burst_ids
            .iter()
            .filter_map(|id| t.done.get(id))
            .max()
            .map_or(burst_started.elapsed(), |last| {
                last.duration_since(burst_started)
            })
    };
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let during: Vec<String> = steady.await.map_err(|e| e.to_string())??;
    let during_done = stack.wait_done(&during, timeout).await;
    let (deliveries, invocation_ms) = {
        let t = stack.timeline.lock().unwrap_or_else(|p| p.into_inner());
        let mut ms: Vec<f64> = t.transfer_ms.iter().map(|(ms, _)| *ms).collect();
        ms.sort_by(|a, b| a.total_cmp(b));
        (t.transfer_ms.iter().map(|(_, n)| n).sum::<usize>(), ms)
    };
    let burst_concurrency = stack
        .timeline
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take_concurrency(Instant::now());
    progress.abort();

    // The burst's agreement (0): its floor by the tokens it spent.
    let spent = stack.tokens_spent(o);
    let floor = bucket_floor(spent[0], o.bucket_tokens, o.bucket_window);
    let drain_over_floor = if floor > 0.0 {
        drain.as_secs_f64() / floor
    } else {
        f64::NAN
    };
    let (answered, throttled) = stack.economic_calls();

    let all: Vec<String> = baseline
        .iter()
        .chain(&during)
        .chain(&burst_ids)
        .cloned()
        .collect();
    let ok = stack.count_ok(&all).await?;
    let lost = all.len() - ok;
    let (drafts, duplicated) = stack.duplicates();
    let (same, during_others): (Vec<String>, Vec<String>) =
        during.iter().cloned().partition(|id| shares_budget(id));
    let baseline_others: Vec<String> = baseline
        .iter()
        .filter(|id| !shares_budget(id))
        .cloned()
        .collect();
    let (b50, b95, b99) = summary(&stack.durations_ms(&baseline_others));
    let (d50, d95, d99) = summary(&stack.durations_ms(&during_others));
    let (a50, a95, a99) = summary(&stack.durations_ms(&same));
    let (s50, s95, s99) = summary(&stack.durations_ms(&burst_ids));

    println!(
        "multi-tenant: shops={} agreements={} steady_rate={} baseline_s={} burst_orders={} burst_within_s={} bucket=token-limit-{}-per-{}-seconds fairness={}",
        stack.shops.len(), stack.agreements, o.steady_rate, o.baseline_seconds, o.burst_orders,
        o.burst_within, o.bucket_tokens, o.bucket_window, !o.no_fairness
    );
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>7}",
        "webhook -> ok (ms)", "p50", "p95", "p99", "orders"
    );
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0} {:>7}",
        "other shops, no burst",
        b50,
        b95,
        b99,
        baseline_others.len()
    );
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0} {:>7}",
        "other shops, during the burst",
        d50,
        d95,
        d99,
        during_others.len()
    );
    // Where the other shops' time went: in the queue (fairness) or in
    // their own transfer (every request of it shares this machine's moto
    // with the burst's webhooks and hand-backs).
    for (phase, ids) in [("no burst", &baseline_others), ("burst", &during_others)] {
        let (wait, work) = stack.wait_and_work_ms(ids);
        for (part, values) in [("webhook -> claimed", wait), ("claimed -> ok", work)] {
            if values.is_empty() {
                continue;
            }
            let (p50, p95, p99) = summary(&values);
            println!(
                "{:<34} {:>9.0} {:>9.0} {:>9.0} {:>7}",
                format!("  {phase}: {part}"),
                p50,
                p95,
                p99,
                values.len()
            );
        }
    }
    // The burst's two phases: its webhooks arriving (10 x the steady
    // traffic's ingest writes on the emulator) and its drain at the
    // agreement's pace (hand-backs and paced calls).
    let sent_until = burst_started + burst_sent;
    let (while_sent, while_draining): (Vec<String>, Vec<String>) = {
        let t = stack.timeline.lock().unwrap_or_else(|p| p.into_inner());
        during_others
            .iter()
            .cloned()
            .partition(|id| t.accepted.get(id).is_some_and(|at| *at < sent_until))
    };
    for (phase, ids) in [
        ("  burst: while it is sent", &while_sent),
        ("  burst: while it drains", &while_draining),
    ] {
        let (p50, p95, p99) = summary(&stack.durations_ms(ids));
        println!(
            "{:<34} {:>9.0} {:>9.0} {:>9.0} {:>7}",
            phase,
            p50,
            p95,
            p99,
            ids.len()
        );
    }
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0} {:>7}",
        "burst's agreement, other shops",
        a50,
        a95,
        a99,
        same.len()
    );
    println!(
        "{:<34} {:>9.0} {:>9.0} {:>9.0} {:>7}",
        "bursting shop",
        s50,
        s95,
        s99,
        burst_ids.len()
    );
    println!(
        "burst: sent_in_s={:.1} drain_s={:.1} agreement_tokens={} floor_s={:.1} drain_over_floor={:.3}",
        burst_sent.as_secs_f64(), drain.as_secs_f64(), spent[0], floor, drain_over_floor
    );
    println!(
        "calls: answered={answered} calls_429={throttled} percent_429={:.2} (baseline 429s: {baseline_429})",
        100.0 * throttled as f64 / (answered + throttled).max(1) as f64
    );
    println!(
        "deliveries: transfer messages handled={deliveries} for {} orders since the burst began ({:.2} per order; above 1: hand-backs and copies); invocations={} p50_ms={:.0} p95_ms={:.0} max_ms={:.0}",
        during.len() + burst_ids.len(),
        deliveries as f64 / (during.len() + burst_ids.len()).max(1) as f64,
        invocation_ms.len(),
        percentile(&invocation_ms, 50.0),
        percentile(&invocation_ms, 95.0),
        percentile(&invocation_ms, 100.0),
    );
    println!(
        "concurrency (invocations at once): baseline peak={} mean={:.2}; burst peak={} mean={:.2}; limit={}",
        baseline_concurrency.0, baseline_concurrency.1, burst_concurrency.0, burst_concurrency.1, o.concurrency
    );
    println!(
        "orders: accepted={} ok={ok} lost={lost} drafts={drafts} duplicated_references={duplicated}",
        all.len()
    );

    let mut good = baseline_done && burst_finished && during_done && lost == 0 && duplicated == 0;
    if !good {
        eprintln!("multi-tenant: FAILED (not every order ok exactly once in time)");
    }
    if let Some(limit) = o.max_p95_over_baseline {
        let met = d95 <= limit * b95;
        println!(
            "target: others_p95_during_burst={d95:.0} <= {limit} x baseline {b95:.0} {}",
            verdict(met)
        );
        good &= met;
    }
    if let Some(limit) = o.max_p95_ms {
        let met = d95 < limit;
        println!(
            "target: others_p95_during_burst={d95:.0} < {limit} ms {}",
            verdict(met)
        );
        good &= met;
    }
    if let Some(limit) = o.max_drain_over_floor {
        let met = floor > 0.0 && drain_over_floor <= limit;
        println!(
            "target: burst drain_over_floor={drain_over_floor:.3} <= {limit} {}",
            verdict(met)
        );
        good &= met;
    }
    println!(
        "target: lost={lost} duplicated={duplicated} == 0 {}",
        verdict(lost == 0 && duplicated == 0)
    );
    println!("result: {}", if good { "PASS" } else { "FAIL" });
    Ok(good)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn defaults_and_the_documented_command_lines() {
        Options::command().debug_assert();
        let o = Options::try_parse_from(["loadtest"]).expect("no flags");
        assert_eq!(o.scenario, Scenario::Both);
        assert_eq!(
            (o.orders, o.within, o.rate, o.duration, o.customers),
            (500, 10.0, 5.0, 30.0, 100)
        );
        assert_eq!(
            (
                o.sandbox_latency_ms,
                o.bucket_tokens,
                o.bucket_window,
                o.write_call_cost,
                o.retry_after_on_429,
                o.client_rate_limit
            ),
            (50, 10_000, 60, 1, false, 0)
        );
        assert_eq!((o.max_429_percent, o.max_drain_over_floor), (None, None));
        assert_eq!(
            (o.concurrency, o.batch_size, o.poll_wait_ms, o.timeout),
            (5, 5, 1000, 240)
        );
        assert_eq!((o.shops, o.agreements), (1, 1));
        // The many-shops promotion in docs/performance.md.
        let many = Options::try_parse_from([
            "loadtest",
            "--scenario",
            "promotion",
            "--orders",
            "2000",
            "--shops",
            "5",
            "--agreements",
            "2",
            "--customers",
            "20",
        ])
        .expect("many shops");
        assert_eq!(
            (many.orders, many.shops, many.agreements, many.customers),
            (2000, 5, 2, 20)
        );
        assert!(Options::try_parse_from(["loadtest", "--shops", "0"]).is_err());
        assert!(Options::try_parse_from(["loadtest", "--agreements", "0"]).is_err());
        // infra/scripts/promotion-day.sh.
        let day = Options::try_parse_from([
            "loadtest",
            "--scenario",
            "promotion",
            "--orders",
            "300",
            "--within",
            "10",
            "--bucket-tokens",
            "120",
            "--bucket-window",
            "60",
            "--max-429-percent",
            "1",
            "--max-drain-over-floor",
            "1.15",
        ])
        .expect("promotion day");
        assert_eq!(
            (
                day.scenario,
                day.orders,
                day.bucket_tokens,
                day.bucket_window
            ),
            (Scenario::Promotion, 300, 120, 60)
        );
        assert_eq!(
            (day.max_429_percent, day.max_drain_over_floor),
            (Some(1.0), Some(1.15))
        );
    }

    #[test]
    fn the_multi_tenant_script_command_line() {
        // infra/scripts/multi-tenant.sh, full size.
        let o = Options::try_parse_from([
            "loadtest",
            "--scenario",
            "multi-tenant",
            "--shops",
            "200",
            "--agreements",
            "150",
            "--burst-orders",
            "5000",
            "--burst-within",
            "60",
            "--bucket-tokens",
            "600",
            "--bucket-window",
            "60",
            "--timeout",
            "1800",
            "--customers",
            "2",
            "--steady-rate",
            "2",
            "--baseline-seconds",
            "60",
            "--concurrency",
            "5",
            "--batch-size",
            "5",
            "--max-p95-over-baseline",
            "2",
            "--max-p95-ms",
            "2000",
            "--max-drain-over-floor",
            "1.15",
        ])
        .expect("the script's flags");
        assert_eq!(o.scenario, Scenario::MultiTenant);
        assert_eq!((o.shops, o.agreements, o.burst_orders), (200, 150, 5000));
        assert_eq!(
            (o.steady_rate, o.burst_within, o.baseline_seconds),
            (2.0, 60.0, 60.0)
        );
        assert_eq!(
            (
                o.max_p95_over_baseline,
                o.max_p95_ms,
                o.max_drain_over_floor
            ),
            (Some(2.0), Some(2000.0), Some(1.15))
        );
        assert!(!o.no_fairness);
        assert!(Options::try_parse_from(["loadtest", "--steady-rate", "0"]).is_err());
    }

    #[test]
    fn the_floor_is_the_refill_time_of_what_the_full_bucket_did_not_cover() {
        // 600 per 60 s = 10/s: 1,600 tokens, 600 of them up front.
        assert_eq!(bucket_floor(1_600, 600, 60), 100.0);
        assert_eq!(bucket_floor(500, 600, 60), 0.0);
        let latency =
            Options::try_parse_from(["loadtest", "--scenario", "latency"]).expect("latency");
        assert_eq!(latency.scenario, Scenario::Latency);
        assert_eq!(latency.done_at, DoneAt::InvocationEnd);
        assert!(!latency.notify);
        let labelled = Options::try_parse_from([
            "loadtest",
            "--scenario",
            "latency",
            "--notify",
            "--done-at",
            "label",
        ])
        .expect("label");
        assert_eq!(labelled.done_at, DoneAt::Label);
        assert!(labelled.notify);
        assert!(
            Options::try_parse_from(["loadtest", "--done-at", "never"]).is_err(),
            "an unknown --done-at is refused"
        );
    }
}

/// `--done-at label`: the moment transfer logged each order's `ok` label
/// as written ("order transferred", inside the order's `transfer` span),
/// captured by a tracing layer; log lines themselves stay at ERROR.
mod label_times {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    use std::time::Instant;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing::{Event, Subscriber};
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::layer::{Context, SubscriberExt};
    use tracing_subscriber::registry::LookupSpan;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;

    static TIMES: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();
    /// When each order was first claimed (the end of its wait in the queue).
    static CLAIMED: OnceLock<Mutex<HashMap<String, Instant>>> = OnceLock::new();

    /// Whether the capture is installed and saw `order_id`'s `ok` label
    /// written; `None` when it is not installed.
    pub fn transferred(order_id: &str) -> Option<bool> {
        TIMES.get().map(|m| {
            m.lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains_key(order_id)
        })
    }

    /// The captured times, or `None` when the capture is not installed.
    pub fn snapshot() -> Option<HashMap<String, Instant>> {
        TIMES
            .get()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    /// Errors only, unless `LOADTEST_LOG` asks for more (an `EnvFilter`
    /// directive such as `economic=debug,bridge::app::transfer=info`, to
    /// see where an invocation's time went).
    fn log_filter() -> tracing_subscriber::EnvFilter {
        std::env::var("LOADTEST_LOG")
            .ok()
            .and_then(|directives| tracing_subscriber::EnvFilter::try_new(directives).ok())
            .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("error"))
    }

    /// Each order's first claim, or `None` when the capture is not installed.
    pub fn claimed() -> Option<HashMap<String, Instant>> {
        CLAIMED
            .get()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }

    pub fn init() {
        let _ = TIMES.set(Mutex::new(HashMap::new()));
        let _ = CLAIMED.set(Mutex::new(HashMap::new()));
        let transfer_only = filter_fn(|m| {
            m.target().starts_with("bridge::app::transfer") && *m.level() <= tracing::Level::INFO
        });
        let _ = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_filter(log_filter()),
            )
            .with(Capture.with_filter(transfer_only))
            .try_init();
    }

    struct Capture;
    struct OrderId(String);

    #[derive(Default)]
    struct Fields {
        order_id: Option<String>,
        transferred: bool,
        claimed: bool,
    }

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "order_id" => self.order_id = Some(format!("{value:?}")),
                "message" => {
                    let message = format!("{value:?}");
                    self.transferred = message == "order transferred";
                    self.claimed = message == "order claimed";
                }
                _ => {}
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "order_id" {
                self.order_id = Some(value.to_owned());
            }
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            attrs.record(&mut fields);
            if let (Some(order_id), Some(span)) = (fields.order_id, ctx.span(id)) {
                span.extensions_mut().insert(OrderId(order_id));
            }
        }

        fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
            let mut fields = Fields::default();
            event.record(&mut fields);
            let times = match (fields.transferred, fields.claimed) {
                (true, _) => &TIMES,
                (_, true) => &CLAIMED,
                _ => return,
            };
            let now = Instant::now();
            let Some(scope) = ctx.event_scope(event) else {
                return;
            };
            for span in scope {
                if let Some(OrderId(order_id)) = span.extensions().get::<OrderId>() {
                    if let Some(times) = times.get() {
                        times
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .entry(order_id.clone())
                            .or_insert(now);
                    }
                    return;
                }
            }
        }
    }
}
