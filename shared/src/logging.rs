//! Logging set-up shared by the three functions: JSON lines (CloudWatch
//! parses them) with the current span's fields (`shop_id`, `order_id`,
//! `attempt`), level from `RUST_LOG` (default `info`).

use tracing_subscriber::filter::{Directive, EnvFilter};

/// The AWS SDK's orchestrator logs whole responses at TRACE, including the
/// shop item with its secrets; it is capped at DEBUG whatever `RUST_LOG`
/// asks for.
const SDK_ORCHESTRATOR_CAP: &str = "aws_smithy_runtime::client::orchestrator=debug";

/// The filter for `rust_log` (the value of `RUST_LOG`, if set).
pub fn log_filter(rust_log: Option<&str>) -> EnvFilter {
    let filter = match rust_log {
        Some(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"))
        }
        _ => EnvFilter::new("info"),
    };
    match SDK_ORCHESTRATOR_CAP.parse::<Directive>() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    }
}

/// Installs the JSON subscriber once per process (later calls do nothing).
pub fn init_lambda_tracing() {
    let rust_log = std::env::var("RUST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(log_filter(rust_log.as_deref()))
        .with_current_span(true)
        .with_target(false)
        .without_time()
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn the_sdk_orchestrator_is_capped_even_when_trace_is_asked_for() {
        for asked in [
            "trace",
            "aws_smithy_runtime::client::orchestrator=trace",
            "info,aws_smithy_runtime=trace",
        ] {
            let shown = log_filter(Some(asked)).to_string();
            assert!(
                shown.contains("aws_smithy_runtime::client::orchestrator=debug"),
                "{asked} → {shown}"
            );
            assert!(
                !shown.contains("aws_smithy_runtime::client::orchestrator=trace"),
                "{asked} → {shown}"
            );
        }
    }

    #[test]
    fn unset_or_invalid_rust_log_means_info() {
        let unset = log_filter(None);
        assert!(unset.to_string().ends_with(",info"), "{unset}");
        let invalid = log_filter(Some("=[not a directive"));
        assert!(invalid.to_string().ends_with(",info"), "{invalid}");
    }
}
