//! `bridgectl`: the operator CLI of the webshop → e-conomic bridge.
//!
//! The library target exists so the integration tests can use the pieces
//! directly, e.g. write a `.local/stack.env` with [`local_env::write`]; the
//! binary is `src/main.rs`. The local stack writes that file itself (same
//! `KEY=VALUE` format, keys in [`local_env::KEYS`]) rather than depending on
//! this crate and its AWS SDK clients.

/// `print!` to stdout through [`output::write_stdout`]: a closed pipe
/// (`bridgectl … | head`) ends the program quietly instead of panicking.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` to stdout through [`output::write_stdout`].
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod cli;
pub mod commands;
pub mod error;
pub mod local_env;
pub mod output;
pub mod target;

use bridge::adapters::dynamodb::operator::OperatorStore;
use bridge::adapters::dynamodb::DynamoShopStore;
use bridge::adapters::sealed::SecretSealer;
use bridge::logging::{LogOutput, LogSetup};
use bridge::ports::StoreError;
use clap::Parser;
use error::{classify_aws, CliError, Status};
use output::Printer;
use target::Resolved;

/// Everything a command needs: resolved names, AWS clients, the printer.
pub struct Ctx {
    pub printer: Printer,
    pub resolved: Resolved,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
}

impl Ctx {
    /// The shops table; reads sealed records, and seals what it writes
    /// when the target names a KMS key.
    pub fn shop_store(&self) -> Result<DynamoShopStore, CliError> {
        let sealer = SecretSealer::kms(
            aws_sdk_kms::Client::new(&self.resolved.sdk),
            self.resolved.target.secrets_key_id.clone(),
        );
        Ok(
            DynamoShopStore::new(self.dynamodb.clone(), self.resolved.target.shops_table()?)
                .with_sealer(std::sync::Arc::new(sealer)),
        )
    }

    pub fn operator_store(&self) -> Result<OperatorStore, CliError> {
        Ok(OperatorStore::new(
            self.dynamodb.clone(),
            self.resolved.target.shops_table().unwrap_or_default(),
            self.resolved.target.orders_table()?,
        ))
    }

    pub fn shops_admin(&self) -> Result<OperatorStore, CliError> {
        Ok(OperatorStore::new(
            self.dynamodb.clone(),
            self.resolved.target.shops_table()?,
            self.resolved.target.orders_table().unwrap_or_default(),
        ))
    }

    /// A store error on the shops table, as an operator message.
    pub fn shops_error(&self, e: StoreError) -> CliError {
        let table = self.resolved.target.shops_table.as_deref().unwrap_or("?");
        store_error(
            e,
            &format!("table {table}"),
            &self
                .resolved
                .target
                .source_hint("--shops-table", "SHOPS_TABLE"),
        )
    }

    /// A store error on the orders table, as an operator message.
    pub fn orders_error(&self, e: StoreError) -> CliError {
        let table = self.resolved.target.orders_table.as_deref().unwrap_or("?");
        store_error(
            e,
            &format!("table {table}"),
            &self
                .resolved
                .target
                .source_hint("--orders-table", "ORDERS_TABLE"),
        )
    }

    pub fn queue_error(&self, detail: String, url: &str, flag: &str, env: &str) -> CliError {
        classify_aws(
            &detail,
            &format!("queue {url}"),
            &self.resolved.target.source_hint(flag, env),
        )
    }
}

fn store_error(e: StoreError, resource: &str, hint: &str) -> CliError {
    match e {
        StoreError::Unavailable(detail) => classify_aws(&detail, resource, hint),
        other => CliError::Failed(format!("{resource}: {other}")),
    }
}

/// Parses the command line (exit 2 on usage errors), runs the command and
/// returns the process exit code.
pub async fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version print and exit 0; real errors exit 2.
            let _ = e.print();
            return e.exit_code();
        }
    };
    // Logs go to stderr: stdout is the command's result (`--json`).
    LogSetup::new("off")
        .output(LogOutput::Stderr)
        .command_line(cli.log_directives())
        .init();
    let printer = Printer::new(cli.json);
    match run(cli, printer).await {
        Ok(status) => status.exit_code(),
        Err(e) => {
            if printer.json {
                printer.print_json(&serde_json::json!({
                    "error": e.to_string(),
                    "exit_code": e.exit_code(),
                }));
            }
            eprintln!(
                "bridgectl: {}",
                printer.paint(&e.to_string(), output::Tone::Bad)
            );
            e.exit_code()
        }
    }
}

async fn run(cli: cli::Cli, printer: Printer) -> Result<Status, CliError> {
    let resolved = target::resolve(&cli.target).await?;
    let ctx = Ctx {
        printer,
        dynamodb: aws_sdk_dynamodb::Client::new(&resolved.sdk),
        sqs: aws_sdk_sqs::Client::new(&resolved.sdk),
        resolved,
    };
    use cli::Command;
    match cli.command {
        Command::Shops(command) => commands::shops::run(&ctx, command).await,
        Command::Orders(command) => commands::orders::run(&ctx, command).await,
        Command::Dlq(command) => commands::dlq::run(&ctx, command).await,
        Command::Backfill(args) => commands::backfill::run(&ctx, args).await,
    }
}

/// Current time as epoch seconds.
pub fn now_epoch() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
