//! Ingest hot path without I/O: the real handler (`Ingest::handle`: body
//! limit, shop from the warm cache, signature check, parse + validate,
//! snapshot extraction, `decide_delivery`, the conditional write, the
//! enqueue and the response) over the in-memory adapters — everything the
//! ingest Lambda does per webhook except the DynamoDB/SQS round trips.
//!
//! The same for a Shopify `orders/paid` delivery of a five-line order
//! (`handle_platform`: body HMAC, shop domain, topic, parse, snapshot
//! envelope) — as the indented fixture (8.8 KB) and without whitespace
//! (`_compact`, 5.5 KB) — its steps one by one (`shopify_step_*`), and the
//! Shopify translation transfer does later.
//!
//! `cargo bench -p bridge --bench ingest` runs criterion (means).
//! `cargo bench -p bridge --bench ingest -- --percentiles [N]` times N single
//! requests (default 100,000) on one thread and prints p50/p90/p99/p99.9 and
//! the throughput, for the ingest hot path and for `map_order` (the transfer
//! step's CPU work), in a `key=value` form `infra/scripts/bench.sh` reads.

use bridge::adapters::memory::{
    ManualClock, MemoryOrderStore, MemoryShopStore, MemoryTransferQueue,
};
use bridge::app::ingest::{
    decide_delivery, Decision, Ingest, IngestSettings, PlatformHeaders, PlatformRequest,
    WebhookRequest,
};
use bridge::app::shop_cache::CachedShops;
use bridge::domain::lifecycle::{HistoryEntry, IngestWrite, Label, OrderRecord};
use bridge::domain::mapping::map_order;
use bridge::domain::order::{parse_event, EventType, ParsedEvent};
use bridge::domain::platform::{platform_secrets, platform_snapshot, shopify, Platform};
use bridge::domain::shop::PlatformConfig;
use bridge::domain::shop::ShopConfig;
use bridge::domain::webhook::{self, SignatureHeaders};
use bridge::ports::{Cause, OrderMessage, OrderStore, TransferQueue};
use criterion::{criterion_group, Criterion, Throughput};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;
use time::OffsetDateTime;

const SHOP_JSON: &str = include_str!("../../infra/local-stack/demo/demo-shop.json");
const WEBHOOK_ID: &str = "msg_2f1c7a9e4b6d8c0a";
const SENT_AT: i64 = 1_795_000_000;

/// The same order as Shopify sends it (`orders/paid`): five lines, shipping,
/// a discount code on one line, 25 % VAT included.
const SHOPIFY_FIVE_LINE_ORDER: &[u8] =
    include_bytes!("../tests/fixtures/shopify/dk-five-lines.json");
const SHOPIFY_SECRET: &str = "shpss_bench_client_secret";
const SHOPIFY_DOMAIN: &str = "bench.myshopify.com";
const SHOPIFY_WEBHOOK_ID: &str = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043";

/// A typical order: five lines, shipping, a payment fee, a discount code.
const FIVE_LINE_ORDER: &str = r#"{
  "type": "order.paid",
  "order": {
    "id": "100234",
    "number": "100234",
    "created_at": "2026-11-27T09:12:44+01:00",
    "currency": "DKK",
    "prices_include_vat": true,
    "customer": {
      "id": "5821",
      "name": "Mette Hansen",
      "email": "mette@example.dk",
      "phone": "+45 20 12 34 56",
      "logged_in": true
    },
    "billing_address": {
      "name": "Mette Hansen",
      "street": "Nørregade 12, 2. tv",
      "zip": "8000",
      "city": "Aarhus C",
      "country": "DK"
    },
    "payment_method": "card",
    "lines": [
      {"sku": "SKU-1", "name": "Wool socks, grey", "quantity": "2", "unit_price": "99.95", "vat_rate": "25"},
      {"sku": "SKU-2", "name": "Beanie, navy", "quantity": "1", "unit_price": "149.00", "vat_rate": "25"},
      {"sku": "SKU-3", "name": "Shoe laces, 3 pairs", "quantity": "3", "unit_price": "24.50", "vat_rate": "25"},
      {"sku": "SKU-4", "name": "Rain jacket, M", "quantity": "1", "unit_price": "399.00", "vat_rate": "25"},
      {"sku": "SKU-5", "name": "Gift card sleeve", "quantity": "2", "unit_price": "12.25", "vat_rate": "25"}
    ],
    "shipping": {"name": "GLS Pakkeshop", "price": "39.00"},
    "fees": [{"kind": "payment_fee", "label": "Card fee", "amount": "2.50"}],
    "discounts": [{"kind": "discount_code", "label": "WINTER50", "amount": "50.00"}],
    "total": "837.40"
  }
}"#;

type MemoryIngest = Ingest<MemoryShopStore, Arc<MemoryOrderStore>, Arc<MemoryTransferQueue>>;

struct Fixture {
    ingest: MemoryIngest,
    orders: Arc<MemoryOrderStore>,
    queue: Arc<MemoryTransferQueue>,
    runtime: tokio::runtime::Runtime,
    shop: ShopConfig,
    body: Vec<u8>,
    signature: String,
    now: OffsetDateTime,
    /// The stored order a `created` event left behind (the common case for
    /// a `paid` webhook: decide against an existing record).
    existing: OrderRecord,
    /// The demo shop as a Shopify shop, its ingest and its order's record.
    shopify_shop: ShopConfig,
    shopify_ingest: MemoryIngest,
    shopify_signature: String,
    /// The same order without the fixture's indentation (5.5 KB instead
    /// of 8.8 KB), and its signature.
    shopify_compact_body: Vec<u8>,
    shopify_compact_signature: String,
    shopify_existing: OrderRecord,
}

fn fixture() -> Fixture {
    let shop: ShopConfig = match serde_json::from_str(SHOP_JSON) {
        Ok(shop) => shop,
        Err(e) => panic!("demo shop does not parse: {e}"),
    };
    let secret = shop.webhook_secrets[0].secret.expose().to_owned();
    let body = FIVE_LINE_ORDER.as_bytes().to_vec();
    let signature = webhook::sign(&secret, WEBHOOK_ID, SENT_AT, &body).expect("valid secret");
    let now = OffsetDateTime::from_unix_timestamp(SENT_AT + 2).expect("valid time");
    let existing = OrderRecord {
        shop_id: shop.shop_id.clone(),
        order_id: "100234".into(),
        label: Label::Recorded,
        snapshot: Some("{}".into()),
        snapshot_rank: 1,
        events: vec!["order.created".into()],
        webhook_ids: vec!["msg_created_1".into()],
        attempts: 0,
        last_error: None,
        draft_invoice_number: None,
        booked_invoice_number: None,
        customer_number: None,
        economic_calls: None,
        created_at: SENT_AT - 60,
        updated_at: SENT_AT - 60,
        pending_since: None,
        lease_until: None,
        lease_owner: None,
        create_started: false,
        history: vec![HistoryEntry {
            at: SENT_AT - 60,
            what: "order.created received: waiting for the trigger event".into(),
        }],
        version: 1,
        rescan_after: None,
        expires_at: None,
    };
    let orders = Arc::new(MemoryOrderStore::new());
    let queue = Arc::new(MemoryTransferQueue::without_dead_letter_queue(
        ManualClock::at(SENT_AT),
    ));
    let ingest = Ingest::new(
        MemoryShopStore::with([shop.clone()]),
        orders.clone(),
        queue.clone(),
        IngestSettings::default(),
    );
    let mut shopify_shop = shop.clone();
    shopify_shop.platform = Some(
        serde_json::from_value(serde_json::json!({
            "kind": "shopify", "shop_domain": SHOPIFY_DOMAIN, "secrets": [{"secret": SHOPIFY_SECRET}]
        }))
        .expect("Shopify settings"),
    );
    let shopify_ingest = Ingest::new(
        MemoryShopStore::with([shopify_shop.clone()]),
        orders.clone(),
        queue.clone(),
        IngestSettings::default(),
    );
    let shopify_signature = webhook::sign_body_hmac(SHOPIFY_SECRET, SHOPIFY_FIVE_LINE_ORDER);
    let shopify_compact_body = serde_json::to_vec(
        &serde_json::from_slice::<serde_json::Value>(SHOPIFY_FIVE_LINE_ORDER)
            .expect("the Shopify fixture is JSON"),
    )
    .expect("JSON serialises");
    let shopify_compact_signature = webhook::sign_body_hmac(SHOPIFY_SECRET, &shopify_compact_body);
    let shopify_existing = OrderRecord {
        order_id: "5810000000009".into(),
        ..existing.clone()
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    Fixture {
        ingest,
        orders,
        queue,
        runtime,
        shop,
        body,
        signature,
        now,
        existing,
        shopify_shop,
        shopify_ingest,
        shopify_signature,
        shopify_compact_body,
        shopify_compact_signature,
        shopify_existing,
    }
}

/// One delivery through the real handler, against the state a `created`
/// event left behind (restored first, so every iteration is the same
/// `paid` webhook making the order pending and enqueueing it). Returns the
/// response status.
fn ingest_hot_path(f: &Fixture) -> u16 {
    f.orders.insert(f.existing.clone());
    f.queue.purge();
    let request = WebhookRequest {
        shop_id: &f.shop.shop_id,
        content_length: None,
        headers: SignatureHeaders {
            id: Some(WEBHOOK_ID),
            timestamp: Some("1795000000"),
            signature: Some(&f.signature),
        },
        body: &f.body,
    };
    let response = f.runtime.block_on(f.ingest.handle(request, f.now));
    black_box(&response.body);
    response.status
}

/// One Shopify `orders/paid` delivery of the five-line order through the
/// real handler, against the state its `orders/create` left behind.
fn shopify_hot_path(f: &Fixture) -> u16 {
    shopify_delivery(f, SHOPIFY_FIVE_LINE_ORDER, &f.shopify_signature)
}

/// [`shopify_hot_path`] with the order's JSON without whitespace.
fn shopify_compact_hot_path(f: &Fixture) -> u16 {
    shopify_delivery(f, &f.shopify_compact_body, &f.shopify_compact_signature)
}

fn shopify_delivery(f: &Fixture, body: &[u8], signature: &str) -> u16 {
    f.orders.insert(f.shopify_existing.clone());
    f.queue.purge();
    let request = PlatformRequest {
        shop_id: &f.shopify_shop.shop_id,
        platform: Platform::Shopify,
        content_length: None,
        headers: PlatformHeaders {
            signature: Some(signature),
            topic: Some("orders/paid"),
            delivery_id: Some(SHOPIFY_WEBHOOK_ID),
            shop_domain: Some(SHOPIFY_DOMAIN),
            api_version: Some("2025-07"),
        },
        body,
    };
    let response = f
        .runtime
        .block_on(f.shopify_ingest.handle_platform(request, f.now));
    black_box(&response.body);
    response.status
}

fn shopify_settings(f: &Fixture) -> &bridge::domain::shop::ShopifyConfig {
    match &f.shopify_shop.platform {
        Some(PlatformConfig::Shopify(settings)) => settings,
        other => panic!("the bench shop is a Shopify shop, got {other:?}"),
    }
}

/// The Shopify hot path's steps one by one, for the per-request breakdown
/// (each as the handler does it; the sum is close to the whole).
mod shopify_steps {
    use super::*;

    pub fn verify_signature(f: &Fixture) -> bool {
        let Some(config) = f.shopify_shop.platform.as_ref() else {
            return false;
        };
        webhook::verify_body_hmac(
            platform_secrets(config),
            "X-Shopify-Hmac-Sha256",
            Some(&f.shopify_signature),
            black_box(SHOPIFY_FIVE_LINE_ORDER),
            f.now,
        )
        .is_ok()
    }

    /// Body → the order's id, as ingest reads it (and validates the body).
    pub fn parse(_f: &Fixture) -> bool {
        shopify::parse(black_box(SHOPIFY_FIVE_LINE_ORDER)).is_ok()
    }

    pub fn snapshot(_f: &Fixture) -> usize {
        platform_snapshot(
            Platform::Shopify,
            Some("2025-07"),
            "orders/paid",
            black_box(SHOPIFY_FIVE_LINE_ORDER),
        )
        .map_or(0, |s| s.len())
    }

    /// The order store's read, the decision and the conditional write, as
    /// `Ingest` does them for the `paid` delivery (the in-memory store).
    pub fn store_write(f: &Fixture, snapshot: &str) -> bool {
        f.orders.insert(f.shopify_existing.clone());
        f.runtime.block_on(async {
            let shop_id = &f.shopify_shop.shop_id;
            let order_id = &f.shopify_existing.order_id;
            let Ok(existing) = f.orders.get(shop_id, order_id).await else {
                return false;
            };
            let Decision::Write { write: spec, .. } = decide_delivery(
                existing.as_ref(),
                SHOPIFY_WEBHOOK_ID,
                EventType::OrderPaid,
                f.shopify_shop.trigger,
                SENT_AT,
            ) else {
                return false;
            };
            let write = IngestWrite {
                label: spec.label,
                snapshot: Some((snapshot.to_owned(), EventType::OrderPaid.rank())),
                events: spec.events,
                webhook_ids: spec.webhook_ids,
                history: spec.history,
                rescan_after: Some(SENT_AT + 300),
            };
            f.orders
                .write_ingest(
                    shop_id,
                    order_id,
                    existing.map(|r| r.version),
                    &write,
                    SENT_AT,
                )
                .await
                .is_ok()
        })
    }

    pub fn enqueue(f: &Fixture) -> bool {
        f.queue.purge();
        let message = OrderMessage {
            shop_id: f.shopify_shop.shop_id.clone(),
            order_id: f.shopify_existing.order_id.clone(),
            cause: Cause::Webhook,
        };
        f.runtime.block_on(f.queue.enqueue(&message)).is_ok()
    }

    /// The warm shop cache's answer (what every delivery starts with).
    pub fn shop_lookup(f: &Fixture, shops: &CachedShops<MemoryShopStore>) -> bool {
        f.runtime
            .block_on(shops.get_shared(black_box(&f.shopify_shop.shop_id)))
            .is_ok_and(|shop| shop.is_some())
    }

    /// What the bench does around each delivery to start from the same
    /// state (not part of the handler): subtract it from the whole.
    pub fn reset(f: &Fixture) {
        f.orders.insert(f.shopify_existing.clone());
        f.queue.purge();
    }
}

fn warm_shop_cache(f: &Fixture) -> CachedShops<MemoryShopStore> {
    CachedShops::new(
        MemoryShopStore::with([f.shopify_shop.clone()]),
        IngestSettings::default().shop_cache_ttl,
    )
}

fn parsed_order(f: &Fixture) -> bridge::domain::order::Order {
    match parse_event(&f.body) {
        Ok(ParsedEvent::Order(event)) => event.order,
        other => panic!("fixture order does not parse: {other:?}"),
    }
}

fn benches(c: &mut Criterion) {
    let f = fixture();
    assert_eq!(ingest_hot_path(&f), 202, "fixture must be accepted");
    assert_eq!(
        f.queue.transfer_bodies().len(),
        1,
        "the paid event enqueues"
    );
    let order = parsed_order(&f);
    map_order(&order, &f.shop.mapping).expect("fixture order maps");

    assert_eq!(
        shopify_compact_hot_path(&f),
        202,
        "the compact Shopify order must be accepted"
    );
    assert_eq!(
        shopify_hot_path(&f),
        202,
        "the Shopify order must be accepted"
    );
    let translated = shopify::translate_body(SHOPIFY_FIVE_LINE_ORDER, shopify_settings(&f))
        .expect("the Shopify order translates");
    map_order(&translated, &f.shop.mapping).expect("the translated order maps");

    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hot_path_5_lines", |b| {
        b.iter(|| ingest_hot_path(black_box(&f)))
    });
    group.bench_function("shopify_hot_path_5_lines", |b| {
        b.iter(|| shopify_hot_path(black_box(&f)))
    });
    group.bench_function("shopify_hot_path_5_lines_compact", |b| {
        b.iter(|| shopify_compact_hot_path(black_box(&f)))
    });
    let shops = warm_shop_cache(&f);
    let snapshot = platform_snapshot(
        Platform::Shopify,
        Some("2025-07"),
        "orders/paid",
        SHOPIFY_FIVE_LINE_ORDER,
    )
    .expect("the Shopify body is a JSON object");
    group.bench_function("shopify_step_shop_lookup", |b| {
        b.iter(|| shopify_steps::shop_lookup(&f, &shops))
    });
    group.bench_function("shopify_step_verify_signature", |b| {
        b.iter(|| shopify_steps::verify_signature(&f))
    });
    group.bench_function("shopify_step_parse", |b| {
        b.iter(|| shopify_steps::parse(&f))
    });
    group.bench_function("shopify_step_snapshot", |b| {
        b.iter(|| shopify_steps::snapshot(&f))
    });
    group.bench_function("shopify_step_store_write", |b| {
        b.iter(|| shopify_steps::store_write(&f, &snapshot))
    });
    group.bench_function("shopify_step_enqueue", |b| {
        b.iter(|| shopify_steps::enqueue(&f))
    });
    group.bench_function("shopify_bench_reset", |b| {
        b.iter(|| shopify_steps::reset(&f))
    });
    group.bench_function("shopify_translate_5_lines", |b| {
        b.iter(|| shopify::translate_body(black_box(SHOPIFY_FIVE_LINE_ORDER), shopify_settings(&f)))
    });
    let headers = SignatureHeaders {
        id: Some(WEBHOOK_ID),
        timestamp: Some("1795000000"),
        signature: Some(&f.signature),
    };
    group.bench_function("verify_signature", |b| {
        b.iter(|| webhook::verify(&f.shop.webhook_secrets, &headers, black_box(&f.body), f.now))
    });
    group.bench_function("parse_event_5_lines", |b| {
        b.iter(|| parse_event(black_box(&f.body)))
    });
    group.bench_function("decide_delivery", |b| {
        b.iter(|| {
            decide_delivery(
                Some(black_box(&f.existing)),
                WEBHOOK_ID,
                bridge::domain::order::EventType::OrderPaid,
                f.shop.trigger,
                SENT_AT,
            )
        })
    });
    group.finish();
}

criterion_group!(ingest_benches, benches);

/// `--only NAME[,NAME…]` limits the percentile run to those workloads (e.g.
/// to count one workload's instructions under `valgrind --tool=callgrind`).
fn selected(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--only") {
        Some(at) => args
            .get(at + 1)
            .is_some_and(|names| names.split(',').any(|n| n == name)),
        None => true,
    }
}

/// Nearest-rank percentile of sorted nanoseconds.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn time_each(name: &str, iterations: usize, mut run: impl FnMut()) {
    if !selected(name) {
        return;
    }
    // Warm caches and the allocator first.
    for _ in 0..iterations.min(10_000) {
        run();
    }
    let mut samples = Vec::with_capacity(iterations);
    let started = Instant::now();
    for _ in 0..iterations {
        let t = Instant::now();
        run();
        samples.push(t.elapsed().as_nanos() as u64);
    }
    let wall = started.elapsed();
    samples.sort_unstable();
    let per_second = iterations as f64 / wall.as_secs_f64();
    println!(
        "{name}: iterations={iterations} p50_us={:.2} p90_us={:.2} p99_us={:.2} p999_us={:.2} max_us={:.2} per_second_one_thread={:.0}",
        percentile(&samples, 50.0) as f64 / 1000.0,
        percentile(&samples, 90.0) as f64 / 1000.0,
        percentile(&samples, 99.0) as f64 / 1000.0,
        percentile(&samples, 99.9) as f64 / 1000.0,
        samples.last().copied().unwrap_or(0) as f64 / 1000.0,
        per_second,
    );
}

fn percentiles(iterations: usize) {
    let f = fixture();
    assert_eq!(ingest_hot_path(&f), 202, "fixture must be accepted");
    let order = parsed_order(&f);
    map_order(&order, &f.shop.mapping).expect("fixture order maps");
    println!("body_bytes={} lines=5", f.body.len());
    time_each("ingest_hot_path", iterations, || {
        black_box(ingest_hot_path(black_box(&f)));
    });
    time_each("map_order", iterations, || {
        black_box(map_order(black_box(&order), &f.shop.mapping).is_ok());
    });
    assert_eq!(
        shopify_hot_path(&f),
        202,
        "the Shopify order must be accepted"
    );
    println!(
        "shopify_body_bytes={} lines=5",
        SHOPIFY_FIVE_LINE_ORDER.len()
    );
    time_each("shopify_ingest_hot_path", iterations, || {
        black_box(shopify_hot_path(black_box(&f)));
    });
    assert_eq!(
        shopify_compact_hot_path(&f),
        202,
        "the compact Shopify order must be accepted"
    );
    println!(
        "shopify_compact_body_bytes={}",
        f.shopify_compact_body.len()
    );
    time_each("shopify_ingest_hot_path_compact", iterations, || {
        black_box(shopify_compact_hot_path(black_box(&f)));
    });
    // The Shopify hot path step by step (p50s add up to about the whole).
    let shops = warm_shop_cache(&f);
    let snapshot = platform_snapshot(
        Platform::Shopify,
        Some("2025-07"),
        "orders/paid",
        SHOPIFY_FIVE_LINE_ORDER,
    )
    .expect("the Shopify body is a JSON object");
    time_each("shopify_step_shop_lookup", iterations, || {
        black_box(shopify_steps::shop_lookup(&f, &shops));
    });
    time_each("shopify_step_verify_signature", iterations, || {
        black_box(shopify_steps::verify_signature(&f));
    });
    time_each("shopify_step_parse", iterations, || {
        black_box(shopify_steps::parse(&f));
    });
    time_each("shopify_step_snapshot", iterations, || {
        black_box(shopify_steps::snapshot(&f));
    });
    time_each("shopify_step_store_write", iterations, || {
        black_box(shopify_steps::store_write(&f, &snapshot));
    });
    time_each("shopify_step_enqueue", iterations, || {
        black_box(shopify_steps::enqueue(&f));
    });
    time_each("shopify_bench_reset", iterations, || {
        shopify_steps::reset(&f);
    });
    time_each("shopify_translate", iterations, || {
        black_box(
            shopify::translate_body(black_box(SHOPIFY_FIVE_LINE_ORDER), shopify_settings(&f))
                .is_ok(),
        );
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--percentiles") {
        let iterations = args
            .get(at + 1)
            .and_then(|n| n.parse().ok())
            .unwrap_or(100_000);
        percentiles(iterations);
        return;
    }
    ingest_benches();
    Criterion::default().configure_from_args().final_summary();
}
