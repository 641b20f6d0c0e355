//! Building blocks of the local stack, shared with the integration tests:
//! moto server, API Gateway events from plain HTTP, Lambda's SQS event
//! source mapping, and the `local-stack` binary's entry point ([`stack`]).

pub mod apigw;
pub mod chaos;
pub mod event_source;
pub mod fair_queue;
pub mod http_front;
pub mod moto;
pub mod receiver;
pub mod shop_admin;
pub mod stack;
pub mod watch;

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
