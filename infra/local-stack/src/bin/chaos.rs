//! `chaos`: the full chaos run (default 1,000 orders, 3 shops) against a
//! moto server of its own and the in-process e-conomic sandbox. Prints the
//! figures and exits 1 when any end-state check fails. See
//! `local_stack::chaos` for what is injected and checked.

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use bridge::logging::LogSetup;
use local_stack::chaos::{run, ChaosConfig};
use local_stack::moto::MotoServer;

const USAGE: &str = "\
usage: chaos [--orders N] [--shops K] [--seed S] [--workers W]
  --orders N    orders to send (default 1000)
  --shops K     shops, each with its own e-conomic agreement (default 3)
  --seed S      seed for orders, faults and kills (default 1)
  --workers W   concurrent transfer workers (default 4)
";

fn parse(config: &mut ChaosConfig) -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = value
            .parse::<u64>()
            .map_err(|_| format!("{flag}: `{value}` is not a number"))?;
        match flag.as_str() {
            "--orders" => config.orders = number as usize,
            "--shops" => config.shops = (number as usize).max(1),
            "--seed" => config.seed = number,
            "--workers" => config.workers = (number as usize).max(1),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    LogSetup::new("error").init();
    let mut config = ChaosConfig::default();
    if let Err(message) = parse(&mut config) {
        if !message.is_empty() {
            eprintln!("chaos: {message}");
        }
        eprint!("{USAGE}");
        std::process::exit(if message.is_empty() { 0 } else { 2 });
    }
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
