//! Building blocks of the local stack, shared with the integration tests:
//! moto server, API Gateway events from plain HTTP, Lambda's SQS event
//! source mapping, and the `local-stack` binary's entry point ([`stack`]).

pub mod apigw;
pub mod chaos;
pub mod event_source;
pub mod http_front;
pub mod moto;
pub mod stack;
pub mod watch;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The repository root: the working directory when it holds
/// `template.yaml` (the scripts run from there), else this crate's
/// compile-time location.
pub fn workspace_root() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_default();
    if cwd.join("template.yaml").is_file() {
        return cwd;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Console logs for the local binaries: level from `RUST_LOG`, else
/// `default_level`; colour codes only for a terminal (not in a log file or
/// a pipe) and not when `NO_COLOR` is set.
pub fn init_console_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(
            std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .try_init();
}
