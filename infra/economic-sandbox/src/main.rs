//! `cargo run -p economic-sandbox -- --port 8090 [--latency-ms N]
//!  [--token-limit N] [--token-window S] [--read-call-cost N]
//!  [--write-call-cost N] [--retry-after-on-token-limit] [--rate-429 P] [--rate-500 P] [--rate-timeout P]
//!  [--rate-drop P] [--retry-after S] [--hold-ms N] [--seed N]
//!  [--accept-unknown-products] [--vat-rounding per-line|per-invoice]
//!  [--agreement APP_SECRET:GRANT]...`
//! Port 0 picks a free port; the chosen address is printed on stdout.

use bridge::domain::money::VatRounding;
use bridge::logging::LogSetup;
use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use economic_sandbox::{start, AgreementTokens, Faults, SandboxConfig};

/// A local stand-in for the e-conomic REST API (control endpoints under
/// /_sandbox/).
// No `Debug`: `agreements` holds tokens.
#[derive(Parser)]
#[command(name = "economic-sandbox")]
struct Options {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, value_name = "N", default_value_t = 8090)]
    port: u16,
    /// Latency added to every API request
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Tokens in each agreement's bucket, as in X-RateLimiting (0: no bucket, no headers)
    #[arg(long, value_name = "N", default_value_t = Faults::default().token_limit)]
    token_limit: u32,
    /// Seconds in which an empty bucket refills completely
    #[arg(long, value_name = "S", default_value_t = Faults::default().token_window_seconds,
          value_parser = clap::value_parser!(u64).range(1..))]
    token_window: u64,
    /// Tokens a GET costs
    #[arg(long, value_name = "N", default_value_t = Faults::default().read_call_cost)]
    read_call_cost: u32,
    /// Tokens a POST, PUT or DELETE costs
    #[arg(long, value_name = "N", default_value_t = Faults::default().write_call_cost)]
    write_call_cost: u32,
    /// Send Retry-After with a 429 for an empty bucket
    #[arg(long)]
    retry_after_on_token_limit: bool,
    /// Probability 0..1 of a 429 per request
    #[arg(long = "rate-429", value_name = "P", default_value_t = 0.0, value_parser = probability)]
    rate_429: f64,
    /// Probability 0..1 of a 500 per request
    #[arg(long = "rate-500", value_name = "P", default_value_t = 0.0, value_parser = probability)]
    rate_500: f64,
    /// Probability 0..1 of holding the answer, then dropping it
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    rate_timeout: f64,
    /// Probability 0..1 of closing the connection unanswered
    #[arg(long, value_name = "P", default_value_t = 0.0, value_parser = probability)]
    rate_drop: f64,
    /// Retry-After seconds sent with an injected 429
    #[arg(long, value_name = "S", default_value_t = Faults::default().retry_after_seconds)]
    retry_after: u64,
    /// How long a timeout holds the answer
    #[arg(long, value_name = "N", default_value_t = Faults::default().hold_ms)]
    hold_ms: u64,
    /// Seed of the fault dice
    #[arg(long, value_name = "N", default_value_t = Faults::default().seed)]
    seed: u64,
    /// How long an `Idempotency-Key` is remembered, in seconds (0: not at all)
    #[arg(long, value_name = "S", default_value_t = economic_sandbox::DEFAULT_IDEMPOTENCY_KEY_LIFETIME.as_secs())]
    idempotency_key_lifetime: u64,
    /// Accept product numbers that do not exist
    #[arg(long)]
    accept_unknown_products: bool,
    /// How draft totals round VAT: per line, or once per rate for the
    /// whole invoice (e-conomic's rule is unconfirmed)
    #[arg(long, value_name = "MODE", value_enum, default_value_t = RoundingArg::PerLine)]
    vat_rounding: RoundingArg,
    /// Tokens of an agreement (repeatable) [default: sandbox-app-secret:sandbox-grant]
    // Checked after parsing: clap's own value errors quote the value, and
    // this one holds tokens.
    #[arg(long = "agreement", value_name = "APP_SECRET:GRANT")]
    agreements: Vec<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoundingArg {
    PerLine,
    PerInvoice,
}

impl From<RoundingArg> for VatRounding {
    fn from(arg: RoundingArg) -> Self {
        match arg {
            RoundingArg::PerLine => VatRounding::PerLine,
            RoundingArg::PerInvoice => VatRounding::PerInvoice,
        }
    }
}

/// A probability: a number from 0 to 1.
fn probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err("not a probability from 0 to 1".to_owned()),
    }
}

impl Options {
    fn config(&self) -> Result<SandboxConfig, clap::Error> {
        let mut config = SandboxConfig {
            port: self.port,
            faults: Faults {
                latency_ms: self.latency_ms,
                token_limit: self.token_limit,
                token_window_seconds: self.token_window,
                read_call_cost: self.read_call_cost,
                write_call_cost: self.write_call_cost,
                retry_after_on_token_limit: self.retry_after_on_token_limit,
                rate_429: self.rate_429,
                rate_500: self.rate_500,
                rate_timeout: self.rate_timeout,
                rate_drop: self.rate_drop,
                retry_after_seconds: self.retry_after,
                hold_ms: self.hold_ms,
                seed: self.seed,
                ..Faults::default()
            },
            idempotency_key_lifetime: std::time::Duration::from_secs(self.idempotency_key_lifetime),
            ..SandboxConfig::default()
        };
        if !self.agreements.is_empty() {
            config.agreements = self
                .agreements
                .iter()
                .map(|pair| match pair.split_once(':') {
                    Some((app, grant)) if !app.is_empty() && !grant.is_empty() => {
                        Ok(AgreementTokens {
                            app_secret_token: app.into(),
                            agreement_grant_token: grant.into(),
                        })
                    }
                    _ => Err(Options::command().error(
                        ErrorKind::ValueValidation,
                        "--agreement takes APP_SECRET:GRANT, two tokens joined by a colon \
                         (the value given is not repeated here: it holds tokens)",
                    )),
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(config)
    }
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    let config = options.config().unwrap_or_else(|error| error.exit());
    LogSetup::new("warn").init();
    let count = config.agreements.len();
    let handle = match start(config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("economic-sandbox: cannot start: {e}");
            std::process::exit(1);
        }
    };
    for i in 0..count {
        handle.with_agreement(i, |a| {
            a.accept_unknown_products = options.accept_unknown_products;
            a.vat_rounding = options.vat_rounding.into();
        });
    }
    println!("economic-sandbox listening on {}", handle.base_url());
    let _ = tokio::signal::ctrl_c().await;
}
