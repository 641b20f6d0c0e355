//! The short chaos run (60 orders, 2 shops) in the default suite: the
//! same scenario as `infra/scripts/chaos.sh` (see `local_stack::chaos`)
//! against this binary's moto server. Faults, duplicates and worker kills
//! must leave every order `ok` with exactly one invoice of the right total,
//! or `failed` with a reason and a dead letter, every refund with exactly
//! one credit note of its total, and every order the shop cancelled
//! `cancelled` without an invoice.

use integration_tests::{init_test_tracing, sdk_config};
use local_stack::chaos::{run, ChaosConfig};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_orders_survive_faults_duplicates_and_worker_kills() {
    init_test_tracing();
    let config = ChaosConfig {
        orders: 60,
        shops: 2,
        seed: 8,
        // 1 in 20 orders references an unknown product: the failed + DLQ path.
        permanent_share: 0.05,
        random_kill_every: Duration::from_millis(700),
        kill_after_create_chance: 0.15,
        chaos_tail: Duration::from_secs(20),
        drain_limit: Duration::from_secs(40),
        ..ChaosConfig::default()
    };
    let report = run(&sdk_config().await, &config)
        .await
        .expect("chaos run set up");
    println!("{report}");

    assert!(report.problems.is_empty(), "chaos checks failed:\n{report}");
    // The run really was hostile: faults of several kinds were injected,
    // deliveries were duplicated and workers died.
    assert!(
        report.fault_total() * 100 >= report.economic_requests_during_chaos * 15,
        "{report}"
    );
    assert!(report.faults.len() >= 3, "several fault kinds: {report}");
    assert!(report.webhook_duplicates > 0, "{report}");
    assert!(
        report.random_kills + report.kills_after_create > 0,
        "{report}"
    );
    assert_eq!(
        report.ok + report.failed + report.cancelled,
        report.orders,
        "{report}"
    );
    // Cancellations racing the transfer all ended cancelled without an
    // invoice; re-sends made no second one (the checks above).
    assert!(report.cancels > 0 && report.resends > 0, "{report}");
    assert_eq!(report.cancelled, report.cancels, "{report}");
    assert_eq!(
        report.failed_permanent_slice, report.permanent_orders,
        "{report}"
    );
    assert!(report.permanent_orders > 0);
    assert_eq!((report.duplicates, report.losses), (0, 0), "{report}");
    // Refunds (some before their paid event, some delivered twice): each
    // credited once, or waiting for the invoice of an order that failed.
    assert!(report.refunds > 0, "{report}");
    assert_eq!(
        report.refunds_credited + report.refunds_waiting,
        report.refunds,
        "{report}"
    );
}
