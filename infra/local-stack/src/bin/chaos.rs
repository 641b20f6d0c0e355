//! `chaos`: the full chaos run (default 1,000 orders, 3 shops) against a
//! moto server of its own and the in-process e-conomic sandbox. Prints the
//! figures and exits 1 when any end-state check fails. See
//! `local_stack::chaos` for what is injected and checked.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use bridge::logging::LogSetup;
use clap::builder::RangedU64ValueParser;
use clap::Parser;
use local_stack::chaos::{run, ChaosConfig};
use local_stack::moto::MotoServer;

/// The full chaos run against a moto server of its own and the in-process
/// e-conomic sandbox; exits 1 when any end-state check fails.
// The defaults are ChaosConfig's, so the library and the binary agree.
#[derive(Debug, Parser)]
#[command(name = "chaos")]
struct Options {
    /// Orders to send
    #[arg(long, value_name = "N", default_value_t = ChaosConfig::default().orders)]
    orders: usize,
    /// Shops, each with its own e-conomic agreement
    #[arg(long, value_name = "K", default_value_t = ChaosConfig::default().shops,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    shops: usize,
    /// Seed for orders, faults and kills
    #[arg(long, value_name = "S", default_value_t = ChaosConfig::default().seed)]
    seed: u64,
    /// Concurrent transfer workers
    #[arg(long, value_name = "W", default_value_t = ChaosConfig::default().workers,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    workers: usize,
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    LogSetup::new("error").init();
    let config = ChaosConfig {
        orders: options.orders,
        shops: options.shops,
        seed: options.seed,
        workers: options.workers,
        ..ChaosConfig::default()
    };
    let moto = match MotoServer::start(&local_stack::workspace_root(), 0) {
        Ok(moto) => moto,
        Err(error) => {
            eprintln!("chaos: cannot start moto server: {error}");
            std::process::exit(1);
        }
    };
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto.endpoint_url())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("local", "local", None, None, "chaos"))
        .load()
        .await;
    println!(
        "chaos run: {} orders, {} shops, seed {}, {} workers (moto {})",
        config.orders,
        config.shops,
        config.seed,
        config.workers,
        moto.endpoint_url()
    );
    let report = match run(&sdk, &config).await {
        Ok(report) => report,
        Err(error) => {
            eprintln!("chaos: {error}");
            std::process::exit(1);
        }
    };
    print!("{report}");
    drop(moto);
    std::process::exit(if report.problems.is_empty() { 0 } else { 1 });
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn defaults_are_chaos_configs_and_the_documented_flags_parse() {
        Options::command().debug_assert();
        let none = Options::try_parse_from(["chaos"]).expect("no flags");
        let config = ChaosConfig::default();
        assert_eq!(
            (none.orders, none.shops, none.seed, none.workers),
            (config.orders, config.shops, config.seed, config.workers)
        );
        // infra/scripts/chaos.sh [--orders N] [--shops K] [--seed S] [--workers W]
        let all = Options::try_parse_from([
            "chaos",
            "--orders",
            "60",
            "--shops",
            "2",
            "--seed",
            "8",
            "--workers",
            "3",
        ])
        .expect("documented flags");
        assert_eq!(
            (all.orders, all.shops, all.seed, all.workers),
            (60, 2, 8, 3)
        );
    }
}
