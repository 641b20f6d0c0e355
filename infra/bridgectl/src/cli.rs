//! Command-line definition.

use crate::target::TargetArgs;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Operate the webshop → e-conomic bridge: shops, orders, the dead-letter
/// queue and backfills. Exit codes: 0 ok, 1 problems found or partial
/// failure, 2 usage error, 3 configuration or credentials error.
#[derive(Debug, Parser)]
#[command(name = "bridgectl", version)]
pub struct Cli {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print one JSON document for scripts instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// Log to stderr what the command does (AWS and e-conomic calls): -v
    /// info, -vv debug, -vvv trace. Overrides RUST_LOG; without either,
    /// nothing is logged. Secrets are not logged at any level.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The log directives `-v`… asks for (`None`: leave it to RUST_LOG).
    pub fn log_directives(&self) -> Option<&'static str> {
        match self.verbose {
            0 => None,
            1 => Some("info"),
            2 => Some("debug"),
            _ => Some("trace"),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add, inspect and check shops.
    #[command(subcommand)]
    Shops(ShopsCommand),
    /// Find, inspect and re-send orders.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Inspect and replay the dead-letter queue.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Send historical order events (JSON lines) through the webhook path.
    Backfill(BackfillArgs),
}

#[derive(Debug, Subcommand)]
pub enum ShopsCommand {
    /// Add or update a shop from a JSON or TOML file (.toml = TOML).
    Put {
        file: PathBuf,
        /// Store it even when another shop on the same e-conomic agreement
        /// has the same reference_format (only safe when the two shops'
        /// order numbers can never be the same).
        #[arg(long)]
        allow_shared_reference: bool,
    },
    /// Show a shop's configuration with secrets redacted.
    Show { shop_id: String },
    /// List all shops.
    List,
    /// Stop accepting this shop's webhooks.
    Disable { shop_id: String },
    /// Accept this shop's webhooks again.
    Enable { shop_id: String },
    /// Generate a new webhook secret (printed once); old ones stay valid for --grace.
    RotateSecret {
        shop_id: String,
        /// How long the previous secrets stay valid: e.g. 24h, 90m, 2d, 0s.
        #[arg(long, default_value = "24h", value_parser = parse_duration)]
        grace: i64,
    },
    /// Check the shop's e-conomic tokens and every number its mapping names.
    Check { shop_id: String },
    /// Seal shops' secrets under the KMS key (all shops, or those named):
    /// the migration of plaintext records. Sealed shops are left as they
    /// are, so running it again changes nothing.
    Seal { shop_ids: Vec<String> },
    /// Replace the shop's e-conomic tokens with those read from stdin as
    /// JSON: {"app_secret_token": "...", "agreement_grant_token": "..."}.
    /// They are checked against e-conomic first (GET /self).
    RotateEconomicTokens {
        shop_id: String,
        /// Store the tokens without asking e-conomic whether they work.
        #[arg(long)]
        no_verify: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LabelArg {
    Pending,
    Ok,
    Failed,
    Recorded,
}

impl LabelArg {
    pub fn label(self) -> bridge::domain::lifecycle::Label {
        use bridge::domain::lifecycle::Label;
        match self {
            LabelArg::Pending => Label::Pending,
            LabelArg::Ok => Label::Ok,
            LabelArg::Failed => Label::Failed,
            LabelArg::Recorded => Label::Recorded,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// A shop's orders with label, age and reason.
    List {
        #[arg(long)]
        shop: String,
        #[arg(long, value_enum)]
        label: Option<LabelArg>,
        /// Show the newest this many (newest first).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One order's history: events, attempts, errors, invoice numbers.
    Show {
        #[arg(long)]
        shop: String,
        order_id: String,
    },
    /// Put an order (or every failed order) back to pending and queue it.
    Resend {
        #[arg(long)]
        shop: String,
        #[arg(required_unless_present = "all_failed", conflicts_with = "all_failed")]
        order_id: Option<String>,
        /// Re-send every order of the shop labelled e-conomic-failed.
        #[arg(long)]
        all_failed: bool,
    },
    /// Erase a customer's personal data from the shop's orders (GDPR
    /// art. 17): every finished order whose snapshot holds the e-mail keeps
    /// only its id, currency, total, invoice numbers and history.
    Erase {
        #[arg(long)]
        shop: String,
        #[arg(long, value_name = "EMAIL")]
        customer_email: String,
        /// Say which orders would be erased, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Peek at the dead-letter queue: counts by reason and shop, example orders.
    List,
    /// Move dead-lettered messages back to the transfer queue.
    Replay {
        /// Only this shop's messages.
        #[arg(long)]
        shop: Option<String>,
        /// Only messages whose reason contains this text (case-insensitive).
        #[arg(long)]
        reason: Option<String>,
        /// Move at most N messages (forces a message-by-message move).
        #[arg(long)]
        max: Option<usize>,
        /// Seconds a message being moved stays hidden; after an
        /// interrupted replay, unmoved messages reappear in the DLQ after this.
        #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(i32).range(1..=43_200))]
        visibility_timeout: i32,
    },
}

#[derive(Debug, clap::Args)]
pub struct BackfillArgs {
    #[arg(long)]
    pub shop: String,
    /// JSON lines: one webhook body (`{"type": "order.paid", "order": {...}}`) per line.
    pub file: PathBuf,
    /// Deliveries in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// "24h", "90m", "2d", "30s", "0" → seconds.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(0);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: s, m, h or d (e.g. 24h)"))?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 24h, 90m, 2d"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`: use s, m, h or d"
            ))
        }
    };
    number
        .checked_mul(factor)
        .filter(|s| *s <= 366 * 86_400)
        .ok_or_else(|| format!("`{text}` is longer than a year"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn each_v_raises_the_log_level() {
        let levels: Vec<_> = ["", "-v", "-vv", "-vvv", "-vvvv"]
            .iter()
            .map(|v| {
                let args = ["bridgectl", "--local", "dlq", "list", v];
                Cli::try_parse_from(args.iter().filter(|a| !a.is_empty()))
                    .expect("parses")
                    .log_directives()
            })
            .collect();
        assert_eq!(
            levels,
            [
                None,
                Some("info"),
                Some("debug"),
                Some("trace"),
                Some("trace")
            ]
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(86_400));
        assert_eq!(parse_duration("90m"), Ok(5_400));
        assert_eq!(parse_duration("2d"), Ok(172_800));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("24").is_err());
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("9999d").is_err());
    }
}
