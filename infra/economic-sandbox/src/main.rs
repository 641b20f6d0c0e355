//! `cargo run -p economic-sandbox -- --port 8090 [--latency-ms N]
//!  [--rate-limit N] [--rate-429 P] [--rate-500 P] [--rate-timeout P]
//!  [--rate-drop P] [--retry-after S] [--hold-ms N] [--seed N]
//!  [--accept-unknown-products] [--agreement APP_SECRET:GRANT]...`
//! Port 0 picks a free port; the chosen address is printed on stdout.

use bridge::logging::LogSetup;
use economic_sandbox::{start, AgreementTokens, SandboxConfig};

const USAGE: &str = "\
usage: economic-sandbox [options]
A local stand-in for the e-conomic REST API (control endpoints under /_sandbox/).
  --port N                     port on 127.0.0.1 (default 8090; 0 picks a free one)
  --latency-ms N               latency added to every API request (default 0)
  --rate-limit N               requests per second per agreement before 429 (default 0 = unlimited)
  --rate-429 P                 probability 0..1 of a 429 per request (default 0)
  --rate-500 P                 probability 0..1 of a 500 per request (default 0)
  --rate-timeout P             probability 0..1 of holding the answer, then dropping it (default 0)
  --rate-drop P                probability 0..1 of closing the connection unanswered (default 0)
  --retry-after S              Retry-After seconds sent with 429 (default 1)
  --hold-ms N                  how long a timeout holds the answer (default 15000)
  --seed N                     seed of the fault dice (default 1)
  --accept-unknown-products    accept product numbers that do not exist
  --agreement APP_SECRET:GRANT tokens of an agreement (repeatable; default sandbox-app-secret:sandbox-grant)
  -h, --help                   this text
";

/// A usage error: the message and the usage text on stderr, exit 2.
fn usage(message: &str) -> ! {
    eprintln!("economic-sandbox: {message}");
    eprint!("{USAGE}");
    std::process::exit(2)
}

fn value<T: std::str::FromStr>(flag: &str, v: Option<String>) -> T {
    match v.map(|s| s.parse::<T>()) {
        Some(Ok(v)) => v,
        _ => usage(&format!("{flag} needs a valid value")),
    }
}

#[tokio::main]
async fn main() {
    LogSetup::new("warn").init();
    let mut config = SandboxConfig {
        port: 8090,
        ..SandboxConfig::default()
    };
    let mut agreements = Vec::new();
    let mut accept_unknown = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--port" => config.port = value(&flag, args.next()),
            "--latency-ms" => config.faults.latency_ms = value(&flag, args.next()),
            "--rate-limit" => config.faults.rate_limit_per_second = value(&flag, args.next()),
            "--rate-429" => config.faults.rate_429 = value(&flag, args.next()),
            "--rate-500" => config.faults.rate_500 = value(&flag, args.next()),
            "--rate-timeout" => config.faults.rate_timeout = value(&flag, args.next()),
            "--rate-drop" => config.faults.rate_drop = value(&flag, args.next()),
            "--retry-after" => config.faults.retry_after_seconds = value(&flag, args.next()),
            "--hold-ms" => config.faults.hold_ms = value(&flag, args.next()),
            "--seed" => config.faults.seed = value(&flag, args.next()),
            "--accept-unknown-products" => accept_unknown = true,
            "--agreement" => {
                let pair: String = value(&flag, args.next());
                let Some((app, grant)) = pair.split_once(':') else {
                    usage("--agreement takes APP_SECRET:GRANT")
                };
                agreements.push(AgreementTokens {
                    app_secret_token: app.into(),
                    agreement_grant_token: grant.into(),
                });
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return;
            }
            other => usage(&format!("unknown flag {other}")),
        }
    }
    if !agreements.is_empty() {
        config.agreements = agreements;
    }
    let count = config.agreements.len();
    let handle = match start(config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("economic-sandbox: cannot start: {e}");
            std::process::exit(1);
        }
    };
    if accept_unknown {
        for i in 0..count {
            handle.with_agreement(i, |a| a.accept_unknown_products = true);
        }
    }
    println!("economic-sandbox listening on {}", handle.base_url());
    let _ = tokio::signal::ctrl_c().await;
}
