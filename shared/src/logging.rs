//! The one logging set-up of every binary: the three functions (JSON lines
//! on Lambda), the local stack, chaos, loadtest, the e-conomic sandbox and
//! bridgectl (console lines). Level from `RUST_LOG` (or a command-line
//! override), else a default per binary; whatever it asks for, the crates in
//! [`PAYLOAD_LOGGING_TARGETS`] stay at DEBUG, because at TRACE they print
//! what went over the wire: a shop's secrets among it.
//!
//! ```no_run
//! use bridge::logging::{LogOutput, LogSetup};
//! LogSetup::lambda().init(); // a function: JSON lines at `info`
//! LogSetup::new("warn").init(); // a local binary: console lines on stdout
//! LogSetup::new("off").output(LogOutput::Stderr).command_line(Some("debug")).init(); // a CLI with -vv
//! ```

use crate::metrics::{self, EmfLayer, EmfSettings};
use std::ffi::OsStr;
use std::io::IsTerminal;
use tracing::Subscriber;
use tracing_subscriber::filter::{filter_fn, EnvFilter, LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// Log targets that print payloads at TRACE, capped at DEBUG whatever
/// `RUST_LOG` says (each checked in its source: at DEBUG none of them
/// prints a payload). Checked and not capped: hyper (sizes only), h2 (its
/// frames' `Debug` leaves out headers and data), rustls (handshake
/// messages only), aws-smithy-http-client (connection pool).
pub const PAYLOAD_LOGGING_TARGETS: &[&str] = &[
    // Whole requests, responses and parsed outputs: the shops table's items
    // with webhook secrets and e-conomic tokens (GetItem, PutItem).
    "aws_smithy_runtime::client::orchestrator",
    // "signing request" prints the request body once LOG_SIGNABLE_BODY=true
    // is set: another environment variable must not undo this cap.
    "aws_sigv4",
    // reqwest's wire log (every byte, e-conomic token headers included) for
    // a client built with `connection_verbose(true)`: one builder call away.
    "reqwest::connect::verbose",
    // The credential_process command line, "(unredacted)" in the crate's
    // own words (bridgectl supports credential_process profiles).
    "aws_config::credential_process",
];

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line with the current span's fields (`shop_id`,
    /// `order_id`, `attempt`) and no timestamp: CloudWatch parses them and
    /// adds its own.
    Json,
    /// Human-readable lines; ANSI colour only on a terminal with `NO_COLOR`
    /// unset.
    Console,
}

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    Stdout,
    /// For a CLI whose stdout is its result (`bridgectl --json`).
    Stderr,
}

/// A binary's logging: format, output and levels. [`LogSetup::init`]
/// installs it.
#[derive(Debug, Clone)]
pub struct LogSetup {
    format: LogFormat,
    output: LogOutput,
    default_directives: String,
    command_line_directives: Option<String>,
    /// The EMF settings of a JSON set-up; `None` reads them from the
    /// environment when the subscriber is built.
    metrics: Option<EmfSettings>,
}

impl LogSetup {
    /// Console lines on stdout at `default_directives` (e.g. `warn`) unless
    /// `RUST_LOG` says otherwise.
    pub fn new(default_directives: &str) -> LogSetup {
        LogSetup {
            format: LogFormat::Console,
            output: LogOutput::Stdout,
            default_directives: default_directives.to_owned(),
            command_line_directives: None,
            metrics: None,
        }
    }

    /// The Lambda functions: JSON lines on stdout (CloudWatch), `info`
    /// unless `RUST_LOG` says otherwise, and the metrics as EMF lines
    /// ([`crate::metrics`]).
    pub fn lambda() -> LogSetup {
        LogSetup::new("info").format(LogFormat::Json)
    }

    pub fn format(mut self, format: LogFormat) -> LogSetup {
        self.format = format;
        self
    }

    pub fn output(mut self, output: LogOutput) -> LogSetup {
        self.output = output;
        self
    }

    /// The EMF settings instead of the environment's (tests).
    pub fn metrics(mut self, settings: EmfSettings) -> LogSetup {
        self.metrics = Some(settings);
        self
    }

    /// Directives from the command line (e.g. `-vv` → `debug`): when
    /// given, they replace `RUST_LOG`.
    pub fn command_line(mut self, directives: Option<&str>) -> LogSetup {
        self.command_line_directives = directives.map(str::to_owned);
        self
    }

    /// Installs the set-up for this process, reading `RUST_LOG` and
    /// `NO_COLOR`. Only the first call per process takes effect. JSON set-ups
    /// (the functions) also log panics: see [`log_panics`].
    pub fn init(self) {
        if self.format == LogFormat::Json {
            log_panics();
        }
        let rust_log = std::env::var("RUST_LOG").ok();
        let no_color = std::env::var_os("NO_COLOR");
        let _ = match self.output {
            LogOutput::Stdout => {
                let ansi = colour_allowed(std::io::stdout().is_terminal(), no_color.as_deref());
                self.build(rust_log.as_deref(), std::io::stdout, ansi)
                    .try_init()
            }
            LogOutput::Stderr => {
                let ansi = colour_allowed(std::io::stderr().is_terminal(), no_color.as_deref());
                self.build(rust_log.as_deref(), std::io::stderr, ansi)
                    .try_init()
            }
        };
    }

    /// The same subscriber writing to `writer` without colour, `rust_log`
    /// standing for `RUST_LOG`: for tests that capture what a binary logs.
    pub fn subscriber<W>(
        &self,
        rust_log: Option<&str>,
        writer: W,
    ) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync
    where
        W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
    {
        self.build(rust_log, writer, false)
    }

    fn build<W>(
        &self,
        rust_log: Option<&str>,
        writer: W,
        ansi: bool,
    ) -> impl Subscriber + for<'a> LookupSpan<'a> + Send + Sync
    where
        W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
    {
        let asked = self.command_line_directives.as_deref().or(rust_log);
        // Metric events are no log lines: on Lambda they become EMF lines
        // of their own (the EMF layer), elsewhere they are dropped.
        let not_metrics = filter_fn(|metadata| metadata.target() != metrics::TARGET);
        let (lines, emf) = match self.format {
            LogFormat::Json => (
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_target(false)
                    .without_time()
                    .with_writer(writer.clone())
                    .with_filter(not_metrics)
                    .boxed(),
                Some(
                    EmfLayer::new(
                        self.metrics.clone().unwrap_or_else(EmfSettings::from_env),
                        writer,
                    )
                    .with_filter(Targets::new().with_target(metrics::TARGET, LevelFilter::INFO)),
                ),
            ),
            LogFormat::Console => (
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(ansi)
                    .with_writer(writer)
                    .with_filter(not_metrics)
                    .boxed(),
                None,
            ),
        };
        let mut filter = log_filter(asked, &self.default_directives);
        if emf.is_some() {
            // Whatever `RUST_LOG` says, metrics stay on: an alarm must not
            // go quiet because someone lowered the log level.
            if let Ok(directive) = format!("{}=info", metrics::TARGET).parse() {
                filter = filter.add_directive(directive);
            }
        }
        // Two filters, both of which must let an event through: the cap is
        // a filter of its own so that no directive in `RUST_LOG` (a more
        // specific target, a span such as `[transfer]=trace`) outranks it.
        tracing_subscriber::registry()
            .with(lines)
            .with(emf)
            .with(filter)
            .with(payload_cap())
    }
}

/// Makes a panic an ERROR event in the log (a JSON line with the current
/// span's `shop_id`, `order_id` and `attempt`) instead of a bare stderr line.
/// The functions are built with `panic = "abort"`: the process ends right
/// after the hook, Lambda counts the invocation as failed and the message
/// (or the webhook) is delivered again.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".to_owned());
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(
            panic = %message,
            location = %location,
            "the function panicked; the invocation fails and is retried"
        );
    }));
}

/// The filter for `asked` (`RUST_LOG` or the command line): its directives,
/// or `default_directives` when it is unset, blank or invalid.
pub fn log_filter(asked: Option<&str>, default_directives: &str) -> EnvFilter {
    asked
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| EnvFilter::try_new(directives).ok())
        .unwrap_or_else(|| {
            EnvFilter::try_new(default_directives).unwrap_or_else(|_| EnvFilter::new("info"))
        })
}

/// Everything at every level, except [`PAYLOAD_LOGGING_TARGETS`] (and
/// their submodules) above DEBUG.
pub fn payload_cap() -> Targets {
    PAYLOAD_LOGGING_TARGETS.iter().fold(
        Targets::new().with_default(LevelFilter::TRACE),
        |cap, target| cap.with_target(*target, LevelFilter::DEBUG),
    )
}

/// Colour codes only for a terminal and when `NO_COLOR` is unset or empty
/// (<https://no-color.org>): a log file or a pipe gets plain text.
pub fn colour_allowed(is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("capture").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Capture {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().expect("capture")).into_owned()
        }
    }

    /// What `setup` prints with `RUST_LOG=rust_log` when the orchestrator
    /// dumps a response at TRACE and debug-logs a phase, inside a span.
    fn logged(setup: &LogSetup, rust_log: &str) -> String {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = setup.subscriber(Some(rust_log), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("transfer", shop_id = "acme");
            let _entered = span.enter();
            tracing::trace!(target: "aws_smithy_runtime::client::orchestrator::http",
                response = "SECRET-BODY", "read HTTP response body");
            tracing::trace!(target: "aws_sigv4::http_request::sign", "signing SECRET-BODY");
            tracing::trace!(target: "reqwest::connect::verbose", "read: SECRET-BODY");
            tracing::debug!(target: "aws_smithy_runtime::client::orchestrator",
                "entering 'transmit' phase");
            tracing::trace!(target: "hyper::proto::h1::role", "Response.parse");
            tracing::info!("order transferred");
        });
        capture.text()
    }

    #[test]
    fn payload_logging_stays_capped_whatever_rust_log_asks_for() {
        for asked in [
            "trace",
            "info,aws_smithy_runtime::client::orchestrator=trace",
            "info,aws_smithy_runtime::client::orchestrator::http=trace,aws_sigv4=trace",
            "info,aws_smithy_runtime=trace,reqwest=trace",
            "info,[transfer]=trace",
            "info,[{shop_id=acme}]=trace",
        ] {
            for setup in [LogSetup::new("info"), LogSetup::lambda()] {
                let text = logged(&setup, asked);
                assert!(!text.contains("SECRET-BODY"), "{asked} {setup:?}: {text}");
                assert!(text.contains("order transferred"), "{asked}: {text}");
            }
        }
        // Capped at DEBUG, not silenced; other crates keep their TRACE lines.
        let everything = logged(&LogSetup::new("info"), "trace");
        assert!(
            everything.contains("entering 'transmit' phase"),
            "{everything}"
        );
        assert!(everything.contains("Response.parse"), "{everything}");
    }

    #[test]
    fn the_command_line_replaces_rust_log_and_the_default_fills_in() {
        let quiet = LogSetup::new("off");
        assert!(logged(&quiet, "").is_empty(), "unset → the default");
        assert!(
            logged(&quiet, "=[not a directive").is_empty(),
            "invalid → default"
        );
        assert!(logged(&quiet, "info").contains("order transferred"));
        let verbose = LogSetup::new("off").command_line(Some("trace"));
        assert!(logged(&verbose, "off").contains("Response.parse"));
        let silenced = LogSetup::new("info").command_line(Some("off"));
        assert!(logged(&silenced, "trace").is_empty());
    }

    #[test]
    fn json_lines_carry_the_span_fields_and_console_lines_have_no_colour() {
        let json = logged(&LogSetup::lambda(), "info");
        let line: serde_json::Value =
            serde_json::from_str(json.lines().next().expect("one line")).expect("JSON");
        assert_eq!(line["span"]["shop_id"], "acme", "{json}");
        assert_eq!(line["fields"]["message"], "order transferred", "{json}");
        let console = logged(&LogSetup::new("info"), "info");
        assert!(
            console.contains("transfer{shop_id=\"acme\"}: order transferred"),
            "{console}"
        );
        assert!(!console.contains('\u{1b}'), "{console:?}");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_allowed(true, None));
        assert!(colour_allowed(true, Some(OsStr::new(""))));
        assert!(!colour_allowed(true, Some(OsStr::new("1"))));
        assert!(!colour_allowed(false, None));
    }
}
