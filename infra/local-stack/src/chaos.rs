//! The chaos run: many orders from several shops pushed through the real
//! handlers (signed webhooks → `ingest::handle`, `event_source::poll_once`
//! workers → `transfer::handle`, `rescan::handle` on a timer) against moto
//! and the e-conomic sandbox while the sandbox injects transient failures
//! (429 with Retry-After, 500, answers held past the client's timeout,
//! dropped connections, answers lost after a committed create), webhooks
//! arrive up to three times (some concurrently) and transfer workers are
//! killed at random moments. Then the faults stop, the system drains, and
//! [`run`] checks the end state against the sandbox and the dead-letter
//! queue. Every check can fail; failures are listed in
//! [`ChaosReport::problems`].
//!
//! About a third of the orders that can be invoiced also get a refund
//! (`order.refunded`, delivered once or twice, half of them before the
//! paid event): each must end with exactly one credit note of the refund's
//! total, or wait, pending, when its order failed.
//!
//! Of the other orders, some are cancelled by the shop (`order.cancelled`
//! right after the paid event, racing its transfer: each must end
//! `e-conomic-cancelled` with no invoice in e-conomic, its draft deleted if
//! one was made) and some are re-sent (`order.resend`: an ok order keeps
//! its one invoice, a failed one is re-opened and fails again, never a
//! second invoice).
//!
//! Worker kills: a worker is a tokio task running one `poll_once`;
//! aborting it drops the future mid-await, exactly like a crashed Lambda:
//! its lease stays in DynamoDB and its messages reappear after the
//! visibility timeout. Two kinds of kills:
//! * random: every so often a random busy worker is aborted;
//! * after a create: a watcher polls each agreement's draft counter every
//!   few milliseconds and, when a new draft appears, aborts every busy
//!   worker with some probability — this lands in the window between
//!   e-conomic's create and the `ok` label write.

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use bridge::adapters::dynamodb::{provision, DynamoOrderStore, DynamoShopStore};
use bridge::adapters::economic::{ClientConfig, EconomicClient};
use bridge::app::ingest::IngestSettings;
use bridge::app::rescan::RescanSettings;
use bridge::app::transfer::TransferSettings;
use bridge::domain::lifecycle::{Label, OrderRecord};
use bridge::domain::mapping::credit_note::credit_note_reference;
use bridge::domain::order::refund::refund_record_id;
use bridge::domain::secret::Secret;
use bridge::domain::shop::{EconomicCredentials, ShopConfig, Trigger, WebhookSecret};
use bridge::ports::{OrderStore, ShopStore};
use economic_sandbox::{AgreementTokens, FailMode, Faults, SandboxConfig, SandboxHandle};
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::AbortHandle;

use crate::apigw::{http_api_event, to_lambda_request, HttpRequestParts};
use crate::event_source::{poll_once, EventSourceSettings};

/// Settings of one chaos run.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    pub orders: usize,
    pub shops: usize,
    pub seed: u64,
    /// Probabilities per e-conomic request.
    pub rate_429: f64,
    pub rate_500: f64,
    pub rate_timeout: f64,
    pub rate_drop: f64,
    /// Chance, re-drawn every 200 ms, of arming "the next create commits
    /// and its answer is lost".
    pub lost_create_chance: f64,
    /// Share of orders that reference an unknown product (permanent error).
    pub permanent_share: f64,
    /// The e-conomic client's request timeout; held answers last longer.
    pub client_timeout: Duration,
    pub hold: Duration,
    pub workers: usize,
    /// Mean time between random kills.
    pub random_kill_every: Duration,
    /// Chance that a new draft triggers a kill of every busy worker.
    pub kill_after_create_chance: f64,
    /// Orders in flight on the webhook side at once.
    pub webhook_concurrency: usize,
    /// Faults continue after the last webhook until this share of the
    /// orders is settled, for at most `chaos_tail`.
    pub settle_under_faults: f64,
    pub chaos_tail: Duration,
    /// Upper bound for the drain after the faults stop.
    pub drain_limit: Duration,
    pub visibility_timeout_seconds: u32,
    pub function_timeout: Duration,
    pub lease_seconds: i64,
    pub max_receive_count: u32,
    pub rescan_every: Duration,
    pub rescan_min_age_seconds: i64,
}

impl Default for ChaosConfig {
    fn default() -> Self {
        ChaosConfig {
            orders: 1000,
            shops: 3,
            seed: 1,
            // ~30 % of e-conomic requests fail transiently, plus lost
            // answers after committed creates.
            rate_429: 0.10,
            rate_500: 0.10,
            rate_timeout: 0.06,
            rate_drop: 0.04,
            lost_create_chance: 0.3,
            permanent_share: 0.02,
            client_timeout: Duration::from_millis(300),
            hold: Duration::from_millis(1000),
            workers: 4,
            random_kill_every: Duration::from_millis(1500),
            kill_after_create_chance: 0.05,
            webhook_concurrency: 12,
            settle_under_faults: 0.9,
            chaos_tail: Duration::from_secs(90),
            drain_limit: Duration::from_secs(180),
            // Production keeps visibility (6 × timeout) above the lease, so
            // a crashed attempt's message comes back after its lease ended;
            // the run keeps those ratios at a scale of seconds.
            visibility_timeout_seconds: 10,
            function_timeout: Duration::from_secs(8),
            lease_seconds: 9,
            max_receive_count: 10,
            rescan_every: Duration::from_secs(5),
            rescan_min_age_seconds: 20,
        }
    }
}

/// What happened, and what the checks found.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    pub orders: usize,
    pub shops: usize,
    pub permanent_orders: usize,
    pub webhooks_sent: usize,
    pub webhook_duplicates: usize,
    pub webhooks_concurrent: usize,
    pub webhook_retries_after_503: usize,
    pub economic_requests: usize,
    /// Requests while faults were on (the fault rate's denominator).
    pub economic_requests_during_chaos: usize,
    /// Fault kind → count, from the sandbox's request log.
    pub faults: BTreeMap<String, usize>,
    pub lost_creates_armed: usize,
    pub random_kills: usize,
    pub kills_after_create: usize,
    pub polls: u64,
    /// Transfer attempts beyond the first, summed over all orders.
    pub retries: u64,
    pub ok: usize,
    pub failed: usize,
    pub failed_permanent_slice: usize,
    pub failed_gave_up: usize,
    /// Orders with a refund, and how those refunds ended.
    pub refunds: usize,
    pub refunds_credited: usize,
    /// Waiting, pending, for the invoice of an order that failed.
    pub refunds_waiting: usize,
    pub refunds_failed: usize,
    /// Orders the shop cancelled, and how many ended cancelled.
    pub cancels: usize,
    pub cancelled: usize,
    /// Orders the shop re-sent (`order.resend`).
    pub resends: usize,
    pub dead_letters: usize,
    /// Dead letters of `ok` orders the final rescan run removed.
    pub stale_dead_letters_removed: usize,
    /// Failure reason (first 100 characters) → orders.
    pub failure_reasons: BTreeMap<String, usize>,
    pub duplicates: usize,
    pub losses: usize,
    pub chaos_seconds: f64,
    pub drain_seconds: f64,
    pub problems: Vec<String>,
}

impl ChaosReport {
    pub fn fault_total(&self) -> usize {
        self.faults.values().sum()
    }
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "orders            {} across {} shops ({} in the permanent-failure slice)",
            self.orders, self.shops, self.permanent_orders
        )?;
        writeln!(
            f,
            "webhooks sent     {} ({} duplicates, {} delivered concurrently, {} re-sent after 503)",
            self.webhooks_sent,
            self.webhook_duplicates,
            self.webhooks_concurrent,
            self.webhook_retries_after_503
        )?;
        let faults: Vec<String> = self
            .faults
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        writeln!(
            f,
            "e-conomic         {} requests ({} under faults), {} faults injected ({:.1} % of those): {}",
            self.economic_requests,
            self.economic_requests_during_chaos,
            self.fault_total(),
            percent(self.fault_total(), self.economic_requests_during_chaos),
            faults.join(", ")
        )?;
        writeln!(
            f,
            "worker kills      {} random, {} right after a create; {} polls",
            self.random_kills, self.kills_after_create, self.polls
        )?;
        writeln!(
            f,
            "retries           {} transfer attempts beyond the first",
            self.retries
        )?;
        writeln!(
            f,
            "end state         {} ok, {} failed ({} permanent slice, {} gave up), {} dead letters",
            self.ok,
            self.failed,
            self.failed_permanent_slice,
            self.failed_gave_up,
            self.dead_letters
        )?;
        writeln!(
            f,
            "refunds           {}: {} credited, {} waiting for a failed order's invoice, {} failed",
            self.refunds, self.refunds_credited, self.refunds_waiting, self.refunds_failed
        )?;
        writeln!(
            f,
            "requests          {} cancellations ({} ended cancelled), {} re-sends",
            self.cancels, self.cancelled, self.resends
        )?;
        writeln!(
            f,
            "stale dead letters {} removed by the final rescan run",
            self.stale_dead_letters_removed
        )?;
        for (reason, n) in &self.failure_reasons {
            writeln!(f, "  failed ×{n}: {reason}")?;
        }
        writeln!(
            f,
            "duplicates        {}    losses {}",
            self.duplicates, self.losses
        )?;
        writeln!(
            f,
            "time              chaos {:.1} s, drain {:.1} s",
            self.chaos_seconds, self.drain_seconds
        )?;
        if self.problems.is_empty() {
            writeln!(f, "checks            all passed")
        } else {
            writeln!(f, "checks            {} FAILED:", self.problems.len())?;
            for problem in self.problems.iter().take(50) {
                writeln!(f, "  - {problem}")?;
            }
            Ok(())
        }
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// SplitMix64: a small seeded generator, so a run is repeatable in what it
/// sends (timing still varies).
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// One generated order and what the end state must show for it.
#[derive(Debug, Clone)]
struct PlannedOrder {
    shop: usize,
    order_id: String,
    total: Decimal,
    permanent: bool,
    /// The `order.paid` body (signed per delivery).
    paid_body: Vec<u8>,
    created_body: Option<Vec<u8>>,
    /// How many times the paid webhook is delivered (1–3), and whether the
    /// repeats go out concurrently.
    deliveries: usize,
    concurrent: bool,
    refund: Option<PlannedRefund>,
    /// A request the shop sends after the paid event (orders without a
    /// refund only).
    request: Option<PlannedRequest>,
}

/// `order.cancelled` or `order.resend`, delivered `deliveries` times.
#[derive(Debug, Clone)]
struct PlannedRequest {
    cancel: bool,
    body: Vec<u8>,
    deliveries: usize,
}

/// A refund of one unit of an order's first line.
#[derive(Debug, Clone)]
struct PlannedRefund {
    /// The refund record's key (`{order_id}#refund#r1`).
    record_id: String,
    reference: String,
    total: Decimal,
    body: Vec<u8>,
    /// Sent before the order's paid event (reordered webhooks).
    before_paid: bool,
    deliveries: usize,
}

struct ChaosShop {
    shop_id: String,
    secret: String,
}

fn plan_orders(config: &ChaosConfig, run_tag: &str) -> Vec<PlannedOrder> {
    let mut rng = Rng(config.seed);
    // Requests draw from their own stream: the orders, refunds and
    // deliveries of a seed stay what they were without them.
    let mut requests = Rng(config.seed ^ 0x5eed_c0de);
    let permanent_every = if config.permanent_share > 0.0 {
        (1.0 / config.permanent_share).round().max(1.0) as usize
    } else {
        usize::MAX
    };
    (0..config.orders)
        .map(|i| {
            let shop = i % config.shops.max(1);
            let order_id = format!("{run_tag}-{i:05}");
            // Prices incl. 25 % VAT, whole øre.
            let mut lines = Vec::new();
            let mut first_line: Option<(String, i64)> = None;
            let mut total_ore: i64 = 0;
            let permanent = i % permanent_every == permanent_every / 2;
            for l in 0..(1 + rng.below(3)) {
                let sku = if permanent && l == 0 {
                    format!("NO-SUCH-{}", rng.below(1000))
                } else {
                    format!("SKU-{}", 1 + rng.below(3))
                };
                let quantity = 1 + rng.below(3) as i64;
                let unit_ore = 100 + rng.below(99_900) as i64;
                total_ore += quantity * unit_ore;
                first_line.get_or_insert((sku.clone(), unit_ore));
                lines.push(format!(
                    r#"{{"sku":"{sku}","name":"Item {l}","quantity":{quantity},"unit_price":"{}","vat_rate":"25"}}"#,
                    ore_text(unit_ore)
                ));
            }
            let shipping = if rng.chance(0.6) {
                total_ore += 3900;
                r#","shipping":{"name":"GLS","price":"39.00","vat_rate":"25"}"#
            } else {
                ""
            };
            let order_json = |event: &str| {
                format!(
                    r#"{{"type":"{event}","order":{{"id":"{order_id}","number":"{order_id}","created_at":"2026-03-01T10:00:00Z","currency":"DKK","prices_include_vat":true,"customer":{{"name":"Kunde {i}","email":"kunde{i}@example.dk"}},"billing_address":{{"street":"Vestergade {i}","zip":"8000","city":"Aarhus","country":"DK"}},"payment_method":"card","lines":[{}]{shipping},"total":"{}"}}}}"#,
                    lines.join(","),
                    ore_text(total_ore)
                )
                .into_bytes()
            };
            let refund = match first_line {
                Some((sku, unit_ore)) if !permanent && rng.chance(0.3) => {
                    let body = format!(
                        r#"{{"type":"order.refunded","refund":{{"id":"r1","order_id":"{order_id}","currency":"DKK","lines":[{{"sku":"{sku}","quantity":"1","amount":"{amount}"}}],"total":"{amount}"}}}}"#,
                        amount = ore_text(unit_ore)
                    );
                    Some(PlannedRefund {
                        record_id: refund_record_id(&order_id, "r1"),
                        reference: credit_note_reference(&order_id, "r1"),
                        total: Decimal::new(unit_ore, 2),
                        body: body.into_bytes(),
                        before_paid: rng.chance(0.5),
                        deliveries: 1 + rng.below(2) as usize,
                    })
                }
                _ => None,
            };
            let request = if refund.is_some() {
                None
            } else {
                let draw = requests.below(100);
                (draw < 18).then(|| {
                    // The permanent slice is only re-sent: it must still
                    // end failed (and the failures be counted as such).
                    let cancel = draw < 8 && !permanent;
                    let kind = if cancel { "order.cancelled" } else { "order.resend" };
                    PlannedRequest {
                        cancel,
                        body: format!(r#"{{"type":"{kind}","order":{{"id":"{order_id}"}}}}"#)
                            .into_bytes(),
                        deliveries: 1 + requests.below(2) as usize,
                    }
                })
            };
            PlannedOrder {
                shop,
                refund,
                request,
                total: Decimal::new(total_ore, 2),
                permanent,
                paid_body: order_json("order.paid"),
                created_body: rng.chance(0.3).then(|| order_json("order.created")),
                deliveries: 1 + rng.below(3) as usize,
                concurrent: rng.chance(0.5),
                order_id,
            }
        })
        .collect()
}

fn ore_text(ore: i64) -> String {
    format!("{}.{:02}", ore / 100, ore % 100)
}

fn reference(order_id: &str) -> String {
    format!("Order {order_id}")
}

/// Counters shared by the concurrent parts.
#[derive(Default)]
struct Counters {
    webhooks_sent: AtomicU64,
    webhook_duplicates: AtomicU64,
    webhooks_concurrent: AtomicU64,
    webhook_retries: AtomicU64,
    random_kills: AtomicU64,
    kills_after_create: AtomicU64,
    lost_creates_armed: AtomicU64,
    polls: AtomicU64,
}

/// One transfer worker's current poll, so the killer can abort it.
#[derive(Default)]
struct WorkerSlot {
    busy: AtomicBool,
    current: Mutex<Option<AbortHandle>>,
}

impl WorkerSlot {
    fn kill(&self) -> bool {
        if !self.busy.load(Ordering::SeqCst) {
            return false;
        }
        match self.current.lock() {
            Ok(guard) => match guard.as_ref() {
                Some(handle) => {
                    handle.abort();
                    true
                }
                None => false,
            },
            Err(_) => false,
        }
    }
}

/// Runs the chaos scenario against the AWS endpoint in `sdk` (moto): set
/// up, chaos, drain, then the figures and the end-state checks.
pub async fn run(sdk: &SdkConfig, config: &ChaosConfig) -> Result<ChaosReport, String> {
    let stack = set_up(sdk, config).await?;
    let mut problems = Vec::new();
    let chaos = unleash_chaos(&stack, config, &mut problems).await?;
    let drained = drain(&stack, config, chaos.background, &mut problems).await?;
    let mut report = figures(&stack, &chaos.figures, &drained, problems);
    check(
        &mut report,
        &stack.orders,
        &stack.shops,
        &drained.records,
        &drained.refunds,
        &drained.dead_letters,
        &stack.sandbox,
    );
    Ok(report)
}

/// The system under test and the orders planned for it.
struct ChaosStack {
    sqs: aws_sdk_sqs::Client,
    queues: provision::Queues,
    store: DynamoOrderStore,
    sandbox: Arc<SandboxHandle>,
    /// The faults the sandbox injects while the chaos lasts.
    faults: Faults,
    shops: Arc<Vec<ChaosShop>>,
    ingest: Arc<ingest::IngestContext>,
    transfer: Arc<transfer::TransferContext>,
    rescan: Arc<rescan::RescanContext>,
    orders: Arc<Vec<PlannedOrder>>,
}

/// Set-up: tables and queues, a sandbox with one agreement per shop, the
/// shops, the three handlers' contexts and the planned orders.
async fn set_up(sdk: &SdkConfig, config: &ChaosConfig) -> Result<ChaosStack, String> {
    let shops_count = config.shops.max(1);
    let run_tag = format!(
        "c{}x{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp() % 100_000
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let shops_table = format!("chaos-shops-{run_tag}");
    let orders_table = format!("chaos-orders-{run_tag}");
    provision::create_tables(&dynamodb, &shops_table, &orders_table)
        .await
        .map_err(|e| format!("creating tables: {e}"))?;
    let queues = provision::create_queues(
        &sqs,
        &format!("chaos-transfer-{run_tag}"),
        &format!("chaos-dlq-{run_tag}"),
        config.visibility_timeout_seconds,
        config.max_receive_count,
    )
    .await
    .map_err(|e| format!("creating queues: {e}"))?;

    // One agreement per shop, each with its own tokens.
    let tokens: Vec<AgreementTokens> = (0..shops_count)
        .map(|i| AgreementTokens {
            app_secret_token: format!("chaos-app-secret-{i}-{run_tag}"),
            agreement_grant_token: format!("chaos-grant-{i}-{run_tag}"),
        })
        .collect();
    let faults = Faults {
        rate_429: config.rate_429,
        rate_500: config.rate_500,
        rate_timeout: config.rate_timeout,
        rate_drop: config.rate_drop,
        retry_after_seconds: 1,
        hold_ms: config.hold.as_millis() as u64,
        seed: config.seed,
        ..Faults::default()
    };
    let sandbox = Arc::new(
        economic_sandbox::start(SandboxConfig {
            port: 0,
            agreements: tokens.clone(),
            faults: Faults::default(),
            ..SandboxConfig::default()
        })
        .await
        .map_err(|e| format!("starting the sandbox: {e}"))?,
    );

    // `missing: fail` keeps the unknown-product slice a permanent error
    // (the default, `fallback`, would invoice it on a generic product).
    let mapping: bridge::domain::mapping::MappingConfig = serde_json::from_value(
        serde_json::json!({"products": {"missing": "fail"}, "credit_notes": {"enabled": true}}),
    )
    .map_err(|e| format!("default mapping: {e}"))?;
    register_products(&sandbox, shops_count, &mapping);
    let shop_store = DynamoShopStore::new(dynamodb.clone(), &shops_table);
    let shops = seed_shops(&shop_store, &tokens, &mapping, config.seed).await?;

    let ingest = Arc::new(ingest::IngestContext::new(
        sdk,
        &shops_table,
        &orders_table,
        &queues.queue_url,
        IngestSettings {
            rescan_min_age_seconds: config.rescan_min_age_seconds,
            ..IngestSettings::default()
        },
    ));
    let economic = EconomicClient::new(ClientConfig {
        base_url: sandbox.base_url(),
        connect_timeout: config.client_timeout,
        request_timeout: config.client_timeout,
        ..ClientConfig::default()
    })
    .map_err(|e| format!("e-conomic client: {e}"))?;
    let transfer = Arc::new(transfer::TransferContext::new(
        sdk,
        &shops_table,
        &orders_table,
        &queues.queue_url,
        &queues.dead_letter_queue_url,
        economic,
        TransferSettings {
            lease_seconds: config.lease_seconds,
            max_receive_count: config.max_receive_count,
            retry_base_seconds: 1,
            retry_cap_seconds: 4,
            rescan_min_age_seconds: config.rescan_min_age_seconds,
            ok_record_ttl_days: 90,
        },
    ));
    let rescan = Arc::new(rescan::RescanContext::new(
        sdk,
        &orders_table,
        &queues.queue_url,
        Some(&queues.dead_letter_queue_url),
        RescanSettings {
            min_age_seconds: config.rescan_min_age_seconds,
            max_orders: 500,
            max_receive_count: config.max_receive_count,
        },
    ));

    Ok(ChaosStack {
        sqs,
        store: DynamoOrderStore::new(dynamodb, &orders_table),
        queues,
        sandbox,
        faults,
        shops: Arc::new(shops),
        ingest,
        transfer,
        rescan,
        orders: Arc::new(plan_orders(config, &run_tag)),
    })
}

/// One shop per agreement, each with its own 32 random bytes as the
/// signing key.
async fn seed_shops(
    shop_store: &DynamoShopStore,
    tokens: &[AgreementTokens],
    mapping: &bridge::domain::mapping::MappingConfig,
    seed: u64,
) -> Result<Vec<ChaosShop>, String> {
    let mut shops = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let shop_id = format!("chaos-shop-{i}");
        let mut rng = Rng(seed ^ (i as u64 + 1).wrapping_mul(0xA5A5_5A5A));
        let key: Vec<u8> = (0..32).map(|_| rng.next() as u8).collect();
        use base64::Engine as _;
        let secret = format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(key)
        );
        let shop = ShopConfig {
            shop_id: shop_id.clone(),
            display_name: format!("Chaos shop {i}"),
            enabled: true,
            trigger: Trigger::Paid,
            platform: None,
            webhook_secrets: vec![WebhookSecret {
                secret: Secret::new(secret.clone()),
                valid_until: None,
            }],
            economic: EconomicCredentials {
                app_secret_token: Secret::new(token.app_secret_token.clone()),
                agreement_grant_token: Secret::new(token.agreement_grant_token.clone()),
            },
            notify: None,
            mapping: mapping.clone(),
        };
        shop_store
            .put(&shop)
            .await
            .map_err(|e| format!("seeding shop {shop_id}: {e}"))?;
        shops.push(ChaosShop { shop_id, secret });
    }
    Ok(shops)
}

/// The tasks that outlive the chaos: transfer workers and rescan run until
/// `stop`; the killers end with the chaos.
struct Background {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What the chaos phase measured.
struct ChaosFigures {
    counters: Arc<Counters>,
    requests_during_chaos: usize,
    chaos_seconds: f64,
}

struct Chaos {
    background: Background,
    figures: ChaosFigures,
}

/// Chaos: faults on, workers, killers and rescan started, every order's
/// webhooks sent; the faults stay on until most orders are settled.
async fn unleash_chaos(
    stack: &ChaosStack,
    config: &ChaosConfig,
    problems: &mut Vec<String>,
) -> Result<Chaos, String> {
    let counters = Arc::new(Counters::default());
    let chaos_on = Arc::new(AtomicBool::new(true));
    let stop = Arc::new(AtomicBool::new(false));
    stack.sandbox.set_faults(stack.faults.clone());
    let started = Instant::now();

    let slots: Arc<Vec<WorkerSlot>> = Arc::new(
        (0..config.workers.max(1))
            .map(|_| WorkerSlot::default())
            .collect(),
    );
    let mut tasks = spawn_transfer_workers(stack, config, &slots, &stop, &counters);
    tasks.push(spawn_random_killer(config, &slots, &chaos_on, &counters));
    tasks.push(spawn_create_killer(
        stack, config, &slots, &chaos_on, &counters,
    ));
    tasks.push(spawn_rescan_timer(stack, config, &stop));

    send_webhooks(stack, config, &counters, problems).await?;
    keep_faults_until_settled(stack, config).await?;
    chaos_on.store(false, Ordering::SeqCst);
    stack.sandbox.set_faults(Faults::default());
    let requests_during_chaos = stack.sandbox.requests().len();
    let chaos_seconds = started.elapsed().as_secs_f64();
    Ok(Chaos {
        background: Background { stop, tasks },
        figures: ChaosFigures {
            counters,
            requests_during_chaos,
            chaos_seconds,
        },
    })
}

/// Transfer workers: each runs one `poll_once` at a time in a task of its
/// own that the killers may abort (a crashed Lambda), then polls again.
fn spawn_transfer_workers(
    stack: &ChaosStack,
    config: &ChaosConfig,
    slots: &Arc<Vec<WorkerSlot>>,
    stop: &Arc<AtomicBool>,
    counters: &Arc<Counters>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let event_settings = EventSourceSettings {
        queue_url: stack.queues.queue_url.clone(),
        queue_arn: stack.queues.queue_arn.clone(),
        region: "eu-west-1".into(),
        batch_size: 10,
        wait: Duration::from_secs(1),
        batching_window: Duration::ZERO,
        function_timeout: config.function_timeout,
    };
    (0..slots.len())
        .map(|index| {
            let slots = slots.clone();
            let sqs = stack.sqs.clone();
            let settings = event_settings.clone();
            let transfer = stack.transfer.clone();
            let stop = stop.clone();
            let counters = counters.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let poll = {
                        let sqs = sqs.clone();
                        let settings = settings.clone();
                        let transfer = transfer.clone();
                        let slots = slots.clone();
                        tokio::spawn(async move {
                            let slot = &slots[index];
                            poll_once(&sqs, &settings, |event| async {
                                slot.busy.store(true, Ordering::SeqCst);
                                let result = transfer::handle(&transfer, event).await;
                                slot.busy.store(false, Ordering::SeqCst);
                                result
                            })
                            .await
                        })
                    };
                    if let Ok(mut current) = slots[index].current.lock() {
                        *current = Some(poll.abort_handle());
                    }
                    counters.polls.fetch_add(1, Ordering::Relaxed);
                    let outcome = poll.await;
                    slots[index].busy.store(false, Ordering::SeqCst);
                    if let Ok(mut current) = slots[index].current.lock() {
                        *current = None;
                    }
                    match outcome {
                        // Killed: "restart" the worker (next loop round).
                        Err(_) => {}
                        Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
                        Ok(Ok(_)) => {}
                    }
                }
            })
        })
        .collect()
}

/// Random kills: every so often a random busy worker is aborted.
fn spawn_random_killer(
    config: &ChaosConfig,
    slots: &Arc<Vec<WorkerSlot>>,
    chaos_on: &Arc<AtomicBool>,
    counters: &Arc<Counters>,
) -> tokio::task::JoinHandle<()> {
    let slots = slots.clone();
    let chaos_on = chaos_on.clone();
    let counters = counters.clone();
    let mean_ms = config.random_kill_every.as_millis().max(1) as u64;
    let mut rng = Rng(config.seed.wrapping_mul(31));
    tokio::spawn(async move {
        while chaos_on.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(rng.below(2 * mean_ms) + 1)).await;
            let victim = rng.below(slots.len() as u64) as usize;
            if chaos_on.load(Ordering::SeqCst) && slots[victim].kill() {
                counters.random_kills.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
}

/// Kills right after a create, and re-arming the lost-answer fault.
fn spawn_create_killer(
    stack: &ChaosStack,
    config: &ChaosConfig,
    slots: &Arc<Vec<WorkerSlot>>,
    chaos_on: &Arc<AtomicBool>,
    counters: &Arc<Counters>,
) -> tokio::task::JoinHandle<()> {
    let slots = slots.clone();
    let chaos_on = chaos_on.clone();
    let counters = counters.clone();
    let sandbox = stack.sandbox.clone();
    let shops_count = stack.shops.len();
    let chance = config.kill_after_create_chance;
    let lost_chance = config.lost_create_chance;
    let base = stack.faults.clone();
    let mut rng = Rng(config.seed.wrapping_mul(77));
    tokio::spawn(async move {
        let mut seen: Vec<u32> = (0..shops_count)
            .map(|i| sandbox.with_agreement(i, |a| a.drafts_created).unwrap_or(0))
            .collect();
        let mut last_arm = Instant::now();
        let mut arm_seed = base.seed;
        while chaos_on.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(3)).await;
            for (i, seen) in seen.iter_mut().enumerate() {
                let now = sandbox.with_agreement(i, |a| a.drafts_created).unwrap_or(0);
                if now != *seen {
                    *seen = now;
                    if rng.chance(chance) {
                        let killed = slots.iter().filter(|s| s.kill()).count();
                        counters
                            .kills_after_create
                            .fetch_add(killed as u64, Ordering::Relaxed);
                    }
                }
            }
            if last_arm.elapsed() >= Duration::from_millis(200) {
                last_arm = Instant::now();
                if sandbox.faults().fail_next_creates_after_commit == 0 && rng.chance(lost_chance) {
                    arm_seed = arm_seed.wrapping_add(1);
                    let mode = match rng.below(3) {
                        0 => FailMode::Drop,
                        1 => FailMode::GatewayTimeout,
                        _ => FailMode::Hold,
                    };
                    sandbox.set_faults(Faults {
                        seed: arm_seed,
                        fail_next_creates_after_commit: 1,
                        fail_after_commit_mode: mode,
                        ..base.clone()
                    });
                    counters.lost_creates_armed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    })
}

/// Rescan on a timer, until `stop`.
fn spawn_rescan_timer(
    stack: &ChaosStack,
    config: &ChaosConfig,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let rescan = stack.rescan.clone();
    let stop = stop.clone();
    let every = config.rescan_every;
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(every).await;
            let event = lambda_runtime::LambdaEvent::new(
                serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event"}),
                lambda_runtime::Context::default(),
            );
            if let Err(error) = rescan::handle(&rescan, event).await {
                tracing::warn!(%error, "chaos: rescan failed");
            }
        }
    })
}

/// Every planned order's webhooks, with bounded concurrency; a webhook
/// that does not get its 202 is a problem.
async fn send_webhooks(
    stack: &ChaosStack,
    config: &ChaosConfig,
    counters: &Arc<Counters>,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(
        config.webhook_concurrency.max(1),
    ));
    let mut senders = tokio::task::JoinSet::new();
    for index in 0..stack.orders.len() {
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let orders = stack.orders.clone();
        let shops = stack.shops.clone();
        let ingest = stack.ingest.clone();
        let counters = counters.clone();
        senders.spawn(async move {
            let _permit = permit;
            send_order_webhooks(&ingest, &shops, &orders[index], &counters).await
        });
    }
    while let Some(result) = senders.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => problems.push(problem),
            Err(error) => problems.push(format!("webhook sender crashed: {error}")),
        }
    }
    Ok(())
}

/// Faults go on until most orders are settled (so most of the work happens
/// under faults), at most `chaos_tail` after the last webhook.
async fn keep_faults_until_settled(stack: &ChaosStack, config: &ChaosConfig) -> Result<(), String> {
    let tail_started = Instant::now();
    while tail_started.elapsed() < config.chaos_tail {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let records = read_records(&stack.store, &stack.shops, &stack.orders).await?;
        let settled = records
            .values()
            .filter(|r| matches!(r.label, Label::Ok | Label::Failed))
            .count();
        if settled as f64 >= stack.orders.len() as f64 * config.settle_under_faults {
            break;
        }
    }
    Ok(())
}

/// The end state the drain leaves.
struct Drained {
    records: HashMap<String, OrderRecord>,
    /// Refund records by their key.
    refunds: HashMap<String, OrderRecord>,
    dead_letters: Vec<(String, String, Option<String>)>,
    drain_seconds: f64,
    stale_dead_letters_removed: usize,
}

/// Drain: until every order is ok or failed and the queue is empty (at
/// most `drain_limit`), then the background stops, one last rescan runs
/// and the dead letters are read.
async fn drain(
    stack: &ChaosStack,
    config: &ChaosConfig,
    background: Background,
    problems: &mut Vec<String>,
) -> Result<Drained, String> {
    let drain_started = Instant::now();
    let mut records;
    let mut refunds;
    loop {
        records = read_records(&stack.store, &stack.shops, &stack.orders).await?;
        refunds = read_refund_records(&stack.store, &stack.shops, &stack.orders).await?;
        // A refund of a failed order waits for its invoice, by design.
        let refunds_settled = stack.orders.iter().all(|o| {
            let Some(refund) = &o.refund else { return true };
            let order_failed = records
                .get(&o.order_id)
                .is_some_and(|r| r.label == Label::Failed);
            order_failed
                || refunds
                    .get(&refund.record_id)
                    .is_some_and(|r| matches!(r.label, Label::Ok | Label::Failed))
        });
        let settled = refunds_settled
            && records
                .values()
                .all(|r| matches!(r.label, Label::Ok | Label::Failed | Label::Cancelled));
        let depth = queue_depth(&stack.sqs, &stack.queues.queue_url).await;
        if settled && depth == 0 {
            break;
        }
        if drain_started.elapsed() > config.drain_limit {
            problems.push(format!(
                "not drained within {:?}: {} orders unsettled, {depth} messages queued",
                config.drain_limit,
                records
                    .values()
                    .filter(|r| !matches!(r.label, Label::Ok | Label::Failed | Label::Cancelled))
                    .count()
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let drain_seconds = drain_started.elapsed().as_secs_f64();
    background.stop.store(true, Ordering::SeqCst);
    // Let workers and rescan finish the round they are in (an aborted
    // rescan sweep would leave dead letters hidden for its visibility
    // timeout); only a task stuck past that is aborted.
    for task in background.tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    // One more scheduled rescan, as production runs every 5 minutes: it
    // removes dead letters of orders another copy of the message completed.
    let final_rescan = rescan::handle(
        &stack.rescan,
        lambda_runtime::LambdaEvent::new(serde_json::json!({}), lambda_runtime::Context::default()),
    )
    .await;
    let stale_dead_letters_removed = match final_rescan {
        Ok(report) => report.stale_dead_letters_removed,
        Err(error) => {
            problems.push(format!("final rescan run failed: {error}"));
            0
        }
    };
    let dead_letters = read_dead_letters(&stack.sqs, &stack.queues.dead_letter_queue_url).await;
    Ok(Drained {
        records,
        refunds,
        dead_letters,
        drain_seconds,
        stale_dead_letters_removed,
    })
}

/// Report: the run's figures (the checks add theirs and the problems).
fn figures(
    stack: &ChaosStack,
    chaos: &ChaosFigures,
    drained: &Drained,
    problems: Vec<String>,
) -> ChaosReport {
    let requests = stack.sandbox.requests();
    let counters = &chaos.counters;
    let mut report = ChaosReport {
        orders: stack.orders.len(),
        shops: stack.shops.len(),
        permanent_orders: stack.orders.iter().filter(|o| o.permanent).count(),
        webhooks_sent: counters.webhooks_sent.load(Ordering::Relaxed) as usize,
        webhook_duplicates: counters.webhook_duplicates.load(Ordering::Relaxed) as usize,
        webhooks_concurrent: counters.webhooks_concurrent.load(Ordering::Relaxed) as usize,
        webhook_retries_after_503: counters.webhook_retries.load(Ordering::Relaxed) as usize,
        economic_requests: requests.len(),
        economic_requests_during_chaos: chaos.requests_during_chaos,
        lost_creates_armed: counters.lost_creates_armed.load(Ordering::Relaxed) as usize,
        random_kills: counters.random_kills.load(Ordering::Relaxed) as usize,
        kills_after_create: counters.kills_after_create.load(Ordering::Relaxed) as usize,
        polls: counters.polls.load(Ordering::Relaxed),
        dead_letters: drained.dead_letters.len(),
        stale_dead_letters_removed: drained.stale_dead_letters_removed,
        chaos_seconds: chaos.chaos_seconds,
        drain_seconds: drained.drain_seconds,
        problems,
        ..ChaosReport::default()
    };
    for request in &requests {
        let kind = match request.outcome.as_str() {
            "answered" => None,
            "injected-429" => Some("429 with Retry-After".to_owned()),
            "injected-500" => Some("500".to_owned()),
            "injected-504" => Some("504".to_owned()),
            "injected-held" => Some("held past the client timeout".to_owned()),
            "injected-dropped" => Some("connection dropped".to_owned()),
            other if other.starts_with("committed-then") => {
                Some(format!("lost answer after a create ({other})"))
            }
            other => Some(other.to_owned()),
        };
        if let Some(kind) = kind {
            *report.faults.entry(kind).or_default() += 1;
        }
    }
    report
}

/// Every product number the mapping can put on a line exists in each
/// agreement (as an e-conomic admin would set them up), so only the
/// deliberate unknown-product slice fails permanently.
fn register_products(
    sandbox: &SandboxHandle,
    agreements: usize,
    mapping: &bridge::domain::mapping::MappingConfig,
) {
    let products = &mapping.products;
    let mut named: Vec<(String, bool)> = [
        &products.fallback,
        &products.shipping,
        &products.payment_fee,
        &products.gift_wrapping,
        &products.other_fee,
        &products.discount,
        &products.promotional,
        &products.loyalty_points,
    ]
    .iter()
    .map(|p| ((*p).clone(), false))
    .collect();
    named.push((products.gift_card.clone(), true));
    named.push((mapping.rounding.product.clone(), mapping.rounding.vat_free));
    for index in 0..agreements {
        sandbox.with_agreement(index, |agreement| {
            for (number, vat_exempt) in &named {
                agreement.products.entry(number.clone()).or_insert_with(|| {
                    economic_sandbox::data::ProductRecord {
                        product_number: number.clone(),
                        name: number.clone(),
                        vat_exempt: *vat_exempt,
                    }
                });
            }
        });
    }
}

/// Delivers one order's webhooks: maybe `order.created` first, then
/// `order.paid` 1–3 times with the same webhook id (in a row or at once).
async fn send_order_webhooks(
    ingest: &ingest::IngestContext,
    shops: &[ChaosShop],
    order: &PlannedOrder,
    counters: &Counters,
) -> Result<(), String> {
    let shop = &shops[order.shop];
    if let Some(body) = &order.created_body {
        let id = format!("created-{}", order.order_id);
        deliver_until_answered(ingest, shop, &id, body, counters, &order.order_id).await?;
    }
    let send_refund = || async {
        if let Some(refund) = &order.refund {
            let id = format!("refund-{}", order.order_id);
            for _ in 0..refund.deliveries {
                deliver_until_answered(ingest, shop, &id, &refund.body, counters, &order.order_id)
                    .await?;
            }
            counters
                .webhook_duplicates
                .fetch_add(refund.deliveries as u64 - 1, Ordering::Relaxed);
        }
        Ok::<(), String>(())
    };
    if order.refund.as_ref().is_some_and(|r| r.before_paid) {
        send_refund().await?;
    }
    let id = format!("paid-{}", order.order_id);
    let deliver = || {
        deliver_until_answered(
            ingest,
            shop,
            &id,
            &order.paid_body,
            counters,
            &order.order_id,
        )
    };
    if order.concurrent && order.deliveries > 1 {
        let results = futures::future::join_all((0..order.deliveries).map(|_| deliver())).await;
        counters
            .webhooks_concurrent
            .fetch_add(order.deliveries as u64, Ordering::Relaxed);
        for result in results {
            result?;
        }
    } else {
        for _ in 0..order.deliveries {
            deliver().await?;
        }
    }
    counters
        .webhook_duplicates
        .fetch_add(order.deliveries as u64 - 1, Ordering::Relaxed);
    if order.refund.as_ref().is_some_and(|r| !r.before_paid) {
        send_refund().await?;
    }
    if let Some(request) = &order.request {
        let id = format!("request-{}", order.order_id);
        for _ in 0..request.deliveries {
            deliver_until_answered(ingest, shop, &id, &request.body, counters, &order.order_id)
                .await?;
        }
        counters
            .webhook_duplicates
            .fetch_add(request.deliveries as u64 - 1, Ordering::Relaxed);
    }
    Ok(())
}

/// One delivery the way a shop sends it: signed now, re-sent after a 503
/// (a shop's webhook retry), any other non-202 answer is a problem.
async fn deliver_until_answered(
    ingest: &ingest::IngestContext,
    shop: &ChaosShop,
    webhook_id: &str,
    body: &[u8],
    counters: &Counters,
    order_id: &str,
) -> Result<(), String> {
    for _ in 0..10 {
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = bridge::domain::webhook::sign(&shop.secret, webhook_id, timestamp, body)
            .ok_or_else(|| "chaos shop secret is not base64".to_owned())?;
        let path = format!("/webhooks/{}", shop.shop_id);
        let parts = HttpRequestParts {
            method: "POST",
            path: &path,
            query: "",
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("webhook-id".to_owned(), webhook_id.to_owned()),
                ("webhook-timestamp".to_owned(), timestamp.to_string()),
                ("webhook-signature".to_owned(), signature),
            ],
            body,
        };
        let event = http_api_event(
            &parts,
            "POST /webhooks/{shop_id}",
            &[("shop_id", shop.shop_id.as_str())],
            timestamp * 1000,
        );
        let request = to_lambda_request(event).map_err(|e| format!("API Gateway event: {e}"))?;
        counters.webhooks_sent.fetch_add(1, Ordering::Relaxed);
        let response = ingest::handle(ingest, request).await;
        match response.status().as_u16() {
            202 => return Ok(()),
            503 => {
                counters.webhook_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            status => {
                let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
                return Err(format!(
                    "webhook {webhook_id} for order {order_id}: HTTP {status} {text}"
                ));
            }
        }
    }
    Err(format!(
        "webhook {webhook_id} for order {order_id}: still 503 after 10 tries"
    ))
}

async fn read_records(
    store: &DynamoOrderStore,
    shops: &[ChaosShop],
    orders: &[PlannedOrder],
) -> Result<HashMap<String, OrderRecord>, String> {
    let mut records = HashMap::new();
    for chunk in orders.chunks(16) {
        let reads = chunk.iter().map(|o| async move {
            let record = store.get(&shops[o.shop].shop_id, &o.order_id).await;
            (o.order_id.clone(), record)
        });
        for (order_id, record) in futures::future::join_all(reads).await {
            match record {
                Ok(Some(record)) => {
                    records.insert(order_id, record);
                }
                Ok(None) => {}
                Err(error) => return Err(format!("reading order {order_id}: {error}")),
            }
        }
    }
    Ok(records)
}

/// The refund records of the planned refunds, by key.
async fn read_refund_records(
    store: &DynamoOrderStore,
    shops: &[ChaosShop],
    orders: &[PlannedOrder],
) -> Result<HashMap<String, OrderRecord>, String> {
    let mut records = HashMap::new();
    for order in orders {
        let Some(refund) = &order.refund else {
            continue;
        };
        match store
            .get(&shops[order.shop].shop_id, &refund.record_id)
            .await
        {
            Ok(Some(record)) => {
                records.insert(refund.record_id.clone(), record);
            }
            Ok(None) => {}
            Err(error) => return Err(format!("reading refund {}: {error}", refund.record_id)),
        }
    }
    Ok(records)
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> usize {
    let Ok(out) = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
    else {
        return usize::MAX;
    };
    out.attributes
        .unwrap_or_default()
        .values()
        .filter_map(|v| v.parse::<usize>().ok())
        .sum()
}

/// (shop_id, order_id, reason) of every dead-lettered message. Messages
/// SQS itself moved (redrive) carry no reason; their body names the order.
async fn read_dead_letters(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
) -> Vec<(String, String, Option<String>)> {
    let mut out = Vec::new();
    let mut empty_rounds = 0;
    while empty_rounds < 2 {
        let Ok(received) = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .wait_time_seconds(0)
            .message_attribute_names("All")
            .send()
            .await
        else {
            break;
        };
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            empty_rounds += 1;
            continue;
        }
        for message in messages {
            let body: serde_json::Value = message
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or_default();
            let attribute = |name: &str| {
                message
                    .message_attributes
                    .as_ref()
                    .and_then(|a| a.get(name))
                    .and_then(|v| v.string_value.clone())
            };
            let shop_id = attribute("shop_id")
                .or_else(|| body["shop_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            let order_id = attribute("order_id")
                .or_else(|| body["order_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            out.push((shop_id, order_id, attribute("reason")));
        }
    }
    out
}

/// The end-state checks.
fn check(
    report: &mut ChaosReport,
    orders: &[PlannedOrder],
    shops: &[ChaosShop],
    records: &HashMap<String, OrderRecord>,
    refunds: &HashMap<String, OrderRecord>,
    dead_letters: &[(String, String, Option<String>)],
    sandbox: &SandboxHandle,
) {
    // Invoices per agreement, by reference: (number, gross, booked?).
    let mut invoices: HashMap<(usize, String), Vec<(u32, Decimal)>> = HashMap::new();
    for shop in 0..shops.len() {
        for draft in sandbox.drafts(shop) {
            if let Some(reference) = draft.reference {
                invoices
                    .entry((shop, reference))
                    .or_default()
                    .push((draft.draft_invoice_number, draft.gross_amount));
            }
        }
        for booked in sandbox.booked(shop) {
            if let Some(reference) = booked.reference {
                invoices
                    .entry((shop, reference))
                    .or_default()
                    .push((booked.booked_invoice_number, booked.gross_amount));
            }
        }
    }
    let mut dead_by_order: HashMap<(String, String), Vec<Option<String>>> = HashMap::new();
    for (shop_id, order_id, reason) in dead_letters {
        dead_by_order
            .entry((shop_id.clone(), order_id.clone()))
            .or_default()
            .push(reason.clone());
    }
    let known: HashMap<&str, &PlannedOrder> =
        orders.iter().map(|o| (o.order_id.as_str(), o)).collect();

    let problems = &mut report.problems;
    for order in orders {
        let shop_id = &shops[order.shop].shop_id;
        let found = invoices
            .remove(&(order.shop, reference(&order.order_id)))
            .unwrap_or_default();
        let Some(record) = records.get(&order.order_id) else {
            report.losses += 1;
            problems.push(format!("order {} was never recorded", order.order_id));
            continue;
        };
        report.retries += u64::from(record.attempts.saturating_sub(1));
        let dead = dead_by_order.remove(&(shop_id.clone(), order.order_id.clone()));
        let cancel = order.request.as_ref().is_some_and(|r| r.cancel);
        if cancel {
            report.cancels += 1;
        } else if order.request.is_some() {
            report.resends += 1;
        }
        if cancel && record.label != Label::Cancelled {
            problems.push(format!(
                "order {}: the shop cancelled it, yet it ended {} with {} invoice(s)",
                order.order_id,
                record.label.as_str(),
                found.len()
            ));
        }
        match record.label {
            Label::Ok => {
                report.ok += 1;
                if found.len() > 1 {
                    report.duplicates += found.len() - 1;
                    problems.push(format!(
                        "order {}: {} invoices in e-conomic",
                        order.order_id,
                        found.len()
                    ));
                }
                let Some((number, gross)) = found.first() else {
                    report.losses += 1;
                    problems.push(format!("order {} is ok but has no invoice", order.order_id));
                    continue;
                };
                let labelled = record.booked_invoice_number.or(record.draft_invoice_number);
                if labelled != Some(*number) {
                    problems.push(format!(
                        "order {}: label says invoice {labelled:?}, e-conomic has {number}",
                        order.order_id
                    ));
                }
                if *gross != order.total {
                    problems.push(format!(
                        "order {}: invoice gross {gross} ≠ order total {}",
                        order.order_id, order.total
                    ));
                }
                if order.permanent {
                    problems.push(format!(
                        "order {} references an unknown product yet is ok",
                        order.order_id
                    ));
                }
                if dead.is_some() {
                    problems.push(format!(
                        "order {} is ok but has a dead letter",
                        order.order_id
                    ));
                }
            }
            Label::Failed => {
                report.failed += 1;
                let reason = record.last_error.clone().unwrap_or_default();
                *report
                    .failure_reasons
                    .entry(reason.chars().take(100).collect())
                    .or_default() += 1;
                if order.permanent {
                    report.failed_permanent_slice += 1;
                } else {
                    report.failed_gave_up += 1;
                }
                if reason.trim().is_empty() {
                    problems.push(format!("order {} failed without a reason", order.order_id));
                }
                if !found.is_empty() {
                    report.duplicates += found.len();
                    problems.push(format!(
                        "order {} is failed but has {} invoice(s) in e-conomic",
                        order.order_id,
                        found.len()
                    ));
                }
                if dead.is_none() {
                    problems.push(format!(
                        "order {} is failed but has no dead letter",
                        order.order_id
                    ));
                }
            }
            Label::Cancelled if cancel => {
                report.cancelled += 1;
                if record
                    .last_error
                    .as_deref()
                    .is_none_or(|r| r.trim().is_empty())
                {
                    problems.push(format!(
                        "order {} is cancelled without a reason",
                        order.order_id
                    ));
                }
                if !found.is_empty() {
                    report.duplicates += found.len();
                    problems.push(format!(
                        "order {} is cancelled but has {} invoice(s) in e-conomic",
                        order.order_id,
                        found.len()
                    ));
                }
            }
            Label::Pending | Label::Recorded | Label::Cancelled => {
                report.losses += 1;
                problems.push(format!(
                    "order {} ended {} (last error {:?})",
                    order.order_id,
                    record.label.as_str(),
                    record.last_error
                ));
                if !found.is_empty() {
                    problems.push(format!(
                        "order {} never reached ok but has {} invoice(s)",
                        order.order_id,
                        found.len()
                    ));
                }
            }
        }
    }
    // Refunds: one credit note of the refund's total once the order is
    // invoiced; none while it waits for a failed order's invoice.
    for order in orders {
        let Some(refund) = &order.refund else {
            continue;
        };
        report.refunds += 1;
        let shop_id = &shops[order.shop].shop_id;
        let notes = invoices
            .remove(&(order.shop, refund.reference.clone()))
            .unwrap_or_default();
        let dead = dead_by_order.remove(&(shop_id.clone(), refund.record_id.clone()));
        let order_label = records.get(&order.order_id).map(|r| r.label);
        let Some(record) = refunds.get(&refund.record_id) else {
            report.losses += 1;
            problems.push(format!("refund {} was never recorded", refund.record_id));
            continue;
        };
        match (order_label, record.label) {
            (Some(Label::Ok), Label::Ok) => {
                report.refunds_credited += 1;
                if notes.len() > 1 {
                    report.duplicates += notes.len() - 1;
                    problems.push(format!(
                        "refund {}: {} credit notes in e-conomic",
                        refund.record_id,
                        notes.len()
                    ));
                }
                match notes.first() {
                    None => {
                        report.losses += 1;
                        problems.push(format!(
                            "refund {} is ok but has no credit note",
                            refund.record_id
                        ));
                    }
                    Some((number, gross)) => {
                        if *gross != -refund.total {
                            problems.push(format!(
                                "refund {}: credit note gross {gross} ≠ -{}",
                                refund.record_id, refund.total
                            ));
                        }
                        let labelled = record.booked_invoice_number.or(record.draft_invoice_number);
                        if labelled != Some(*number) {
                            problems.push(format!(
                                "refund {}: label says {labelled:?}, e-conomic has {number}",
                                refund.record_id
                            ));
                        }
                    }
                }
                if dead.is_some() {
                    problems.push(format!(
                        "refund {} is ok but has a dead letter",
                        refund.record_id
                    ));
                }
            }
            (Some(Label::Failed), Label::Pending) => {
                report.refunds_waiting += 1;
                if !notes.is_empty() {
                    problems.push(format!(
                        "refund {} has a credit note but its order has no invoice",
                        refund.record_id
                    ));
                }
            }
            (_, Label::Failed) => {
                report.refunds_failed += 1;
                if record
                    .last_error
                    .as_deref()
                    .unwrap_or_default()
                    .trim()
                    .is_empty()
                {
                    problems.push(format!(
                        "refund {} failed without a reason",
                        refund.record_id
                    ));
                }
                if dead.is_none() {
                    problems.push(format!(
                        "refund {} is failed but has no dead letter",
                        refund.record_id
                    ));
                }
                if !notes.is_empty() {
                    report.duplicates += notes.len();
                    problems.push(format!(
                        "refund {} is failed but has {} credit note(s)",
                        refund.record_id,
                        notes.len()
                    ));
                }
            }
            (order_label, label) => {
                report.losses += 1;
                problems.push(format!(
                    "refund {} ended {} with its order {:?} (last error {:?})",
                    refund.record_id,
                    label.as_str(),
                    order_label.map(Label::as_str),
                    record.last_error
                ));
            }
        }
    }
    // Dead letters of this run's orders were matched above; anything left
    // names no order of this run (or the wrong shop).
    for (shop_id, order_id) in dead_by_order.keys() {
        let why = if known.contains_key(order_id.as_str()) {
            "the order belongs to another shop"
        } else {
            "it names no order of this run"
        };
        problems.push(format!("dead letter for {shop_id}/{order_id}: {why}"));
    }
    for ((shop, reference), found) in invoices {
        report.duplicates += found.len();
        problems.push(format!(
            "agreement {shop}: {} invoice(s) with reference {reference:?} belong to no order",
            found.len()
        ));
    }
}
