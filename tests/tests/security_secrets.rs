//! Secrets never reach the logs, `Debug` output or error messages.
//!
//! In this process: a tracing subscriber at TRACE level (all crates: ours,
//! the AWS SDK, hyper, reqwest), built by the binaries' own logging set-up
//! (`bridge::logging`), writing into memory, runs a full transfer (webhook
//! → ingest → transfer → e-conomic sandbox → ok), a shop with wrong
//! e-conomic tokens (→ failed) and a badly signed webhook (→ 401), then
//! searches everything logged for the webhook secret (as `whsec_…`, its
//! base64 payload, the decoded key as text and as hex) and every e-conomic
//! token.
//!
//! The binaries themselves: the local stack (its library entry point in a
//! child process, as the `local-stack` binary runs it) at `RUST_LOG=trace`
//! with a shop given by `--shop FILE` whose secrets are not the demo's, one
//! order that ends ok and one that fails (a wrong total), and bridgectl
//! at its most verbose against it; then the same with real e-conomic
//! settings (`ECONOMIC_*`, here pointing at a sandbox that accepts only
//! those tokens) and the demo shop. Their whole output, stdout and stderr,
//! is searched for every secret in every encoding; the startup banner may
//! show the demo shop's secret and nothing else.

use bridge::adapters::dynamodb::DynamoShopStore;
use bridge::adapters::economic::{ClientConfig, EconomicClient};
use bridge::domain::lifecycle::Label;
use bridge::domain::secret::Secret;
use bridge::domain::shop::{EconomicCredentials, ShopConfig, Trigger, WebhookSecret};
use bridge::domain::webhook::{verify, SignatureHeaders};
use bridge::ports::ShopStore;
use integration_tests::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The decoded key behind `integration_tests::SECRET`
/// (`whsec_dGVzdCBzaWduaW5nIHNlY3JldCBmb3IgdGhlIGJyaWRnZQ==`).
const SECRET_KEY_TEXT: &str = "test signing secret for the bridge";
const WRONG_APP_TOKEN: &str = "wrong-app-secret-token-7f3a9c";
const WRONG_GRANT_TOKEN: &str = "wrong-grant-token-1b2d4e";

/// What the binaries log with `RUST_LOG=trace`: everything, except what
/// their set-up caps at DEBUG (the AWS SDK's orchestrator prints whole
/// DynamoDB responses at TRACE, shop secrets included; found by this test).
const CAPTURE_RUST_LOG: &str = "trace";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (once per binary, before anything
/// else logs) and returns the buffer.
fn captured_logs() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            use tracing_subscriber::util::SubscriberInitExt;
            bridge::logging::LogSetup::new("info")
                .subscriber(Some(CAPTURE_RUST_LOG), move || writer.clone())
                .init();
            captured
        })
        .clone()
}

fn forbidden_strings() -> Vec<(String, String)> {
    let payload = SECRET.trim_start_matches("whsec_");
    let hex: String = SECRET_KEY_TEXT
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut out = vec![
        ("webhook secret".to_owned(), SECRET.to_owned()),
        (
            "webhook secret base64 payload".to_owned(),
            payload.trim_end_matches('=').to_owned(),
        ),
        ("webhook key as text".to_owned(), SECRET_KEY_TEXT.to_owned()),
        ("webhook key as hex".to_owned(), hex),
        (
            "other shop's secret".to_owned(),
            OTHER_SECRET.trim_start_matches("whsec_").to_owned(),
        ),
    ];
    for (what, token) in [
        (
            "app secret token",
            economic_sandbox::DEFAULT_APP_SECRET_TOKEN,
        ),
        (
            "agreement grant token",
            economic_sandbox::DEFAULT_AGREEMENT_GRANT_TOKEN,
        ),
        ("wrong app secret token", WRONG_APP_TOKEN),
        ("wrong agreement grant token", WRONG_GRANT_TOKEN),
    ] {
        out.push((what.to_owned(), token.to_owned()));
    }
    out
}

fn assert_no_secret(what: &str, text: &str) {
    for (name, secret) in forbidden_strings() {
        assert!(
            !text.contains(&secret),
            "{what} contains the {name}: …{}…",
            excerpt(text, &secret)
        );
    }
}

fn excerpt(text: &str, needle: &str) -> String {
    let at = text.find(needle).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(120)
        .map(|(i, _)| i)
        .unwrap_or(0);
    text[start..].chars().take(240 + needle.len()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_in_logs_debug_output_or_errors_of_a_full_run() {
    let logs = captured_logs();
    tracing::info!("capture check: this line must be captured");
    let stack = Stack::start().await;

    // 1. A good shop: webhook → ingest → transfer → e-conomic → ok.
    let acme = stack.put_shop("acme", true, json!({})).await;
    let body = order_event("order.paid", "S-1", "239.00");
    assert_eq!(stack.send_signed("acme", "msg_s1", &body).await.0, 202);
    let record = stack
        .transfer_until("acme", "S-1", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(record.label, Label::Ok, "{:?}", record.last_error);

    // 2. A shop whose e-conomic tokens are wrong: the order fails.
    let broken = ShopConfig {
        shop_id: "broken".to_owned(),
        display_name: "Broken tokens".to_owned(),
        enabled: true,
        trigger: Trigger::Paid,
        platform: None,
        webhook_secrets: vec![WebhookSecret {
            secret: Secret::new(SECRET),
            valid_until: None,
        }],
        economic: EconomicCredentials {
            app_secret_token: Secret::new(WRONG_APP_TOKEN),
            agreement_grant_token: Secret::new(WRONG_GRANT_TOKEN),
        },
        notify: None,
        mapping: serde_json::from_value(json!({})).expect("mapping"),
    };
    DynamoShopStore::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        &stack.shops_table,
    )
    .put(&broken)
    .await
    .expect("put shop");
    let body = order_event("order.paid", "S-2", "239.00");
    assert_eq!(stack.send_signed("broken", "msg_s2", &body).await.0, 202);
    let record = stack
        .transfer_until("broken", "S-2", Duration::from_secs(30), |r| {
            r.label != Label::Pending
        })
        .await;
    assert_eq!(record.label, Label::Failed);
    let reason = record.last_error.clone().unwrap_or_default();
    assert_no_secret("the failed order's reason", &reason);

    // 3. A badly signed webhook (signed with another shop's secret).
    let headers = signed_headers(OTHER_SECRET, "msg_s3", now(), &body);
    let (status, answer) = stack.deliver("acme", headers, &body).await;
    assert_eq!(status, 401);
    assert_no_secret("the 401 answer", &answer.to_string());

    // Debug output of configuration, API handles and errors.
    assert_no_secret(
        "Debug of ShopConfig",
        &format!("{acme:?} {broken:?} {acme:#?}"),
    );
    let client = EconomicClient::new(ClientConfig {
        base_url: stack.sandbox.base_url(),
        ..ClientConfig::default()
    })
    .expect("client");
    let api = client.for_agreement(Secret::new(WRONG_APP_TOKEN), Secret::new(WRONG_GRANT_TOKEN));
    assert_no_secret("Debug of AgreementApi", &format!("{api:?} {client:?}"));
    let error = api
        .vat_zones(Instant::now() + Duration::from_secs(10))
        .await
        .expect_err("wrong tokens are refused");
    assert_no_secret(
        "an e-conomic error",
        &format!("{error} | {error:?} | {}", error.reason()),
    );
    let verify_error = verify(
        &acme.webhook_secrets,
        &SignatureHeaders {
            id: Some("x"),
            timestamp: Some(&now().to_string()),
            signature: Some("v1,AAAA"),
        },
        b"{}",
        time::OffsetDateTime::now_utc(),
    )
    .expect_err("bad signature");
    assert_no_secret(
        "a verification error",
        &format!("{verify_error} {verify_error:?}"),
    );

    // Everything logged during the run.
    let text = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
    assert!(
        text.contains("capture check: this line must be captured"),
        "the subscriber captured nothing"
    );
    assert!(
        text.contains("order transferred") && text.contains("webhook rejected"),
        "the run's events were captured ({} bytes)",
        text.len()
    );
    assert!(text.lines().count() > 100, "TRACE level from every crate");
    if std::env::var_os("DUMP_CAPTURED").is_some() {
        let _ = std::fs::write("/tmp/captured.log", &text);
    }
    assert_no_secret("the captured logs", &text);
}

// ---------------------------------------------------------------------------
// The binaries, run as processes.

/// Set in a child process: the binary whose entry point it runs, and that
/// binary's command line as a JSON array.
const CHILD_BINARY: &str = "SECRETS_TEST_CHILD_BINARY";
const CHILD_ARGS: &str = "SECRETS_TEST_CHILD_ARGS";
/// The test below that is the child process's body.
const CHILD_ENTRY_TEST: &str = "child_process_runs_the_binary_it_is_given";

/// Not a check of its own: the body of the child processes that
/// `the_binaries_print_no_secret_at_trace_level` starts (this test binary,
/// re-run with [`CHILD_BINARY`] set). Without it set, it does nothing.
#[test]
fn child_process_runs_the_binary_it_is_given() {
    let Ok(binary) = std::env::var(CHILD_BINARY) else {
        return;
    };
    let args: Vec<String> =
        serde_json::from_str(&std::env::var(CHILD_ARGS).expect("arguments")).expect("JSON");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let code = runtime.block_on(async {
        match binary.as_str() {
            "local-stack" => local_stack::stack::main_with_args(&args).await,
            "bridgectl" => bridgectl::main_with_args(&args).await,
            other => panic!("no binary {other}"),
        }
    });
    std::process::exit(code);
}

/// The `--shop FILE` shop of the first run: secrets nobody else uses.
const FILE_SHOP_ID: &str = "file-shop";
const FILE_SHOP_KEY: &str = "file-shop signing key, not the demo's 4c7e";
const FILE_APP_TOKEN: &str = "file-app-secret-token-3b9d2f61";
const FILE_GRANT_TOKEN: &str = "file-grant-token-8e4a0c57";
/// The "real" e-conomic tokens of the second run (`ECONOMIC_*`).
const REAL_APP_TOKEN: &str = "real-app-secret-token-5f2e9a13";
const REAL_GRANT_TOKEN: &str = "real-grant-token-c71d4b08";
const DEMO_SHOP_ID: &str = "demo-shop";

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn whsec(key: &str) -> String {
    format!("whsec_{}", base64(key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes as `Debug` prints a `[u8]`: `119, 104, 115, …` (the AWS SDK's
/// signer prints request bodies so).
fn decimal_list(bytes: &[u8]) -> String {
    let numbers: Vec<String> = bytes.iter().map(u8::to_string).collect();
    numbers.join(", ")
}

/// `forms` without the ones whose string an earlier one already has.
fn distinct(forms: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut seen = std::collections::HashSet::new();
    forms
        .into_iter()
        .filter(|(_, needle)| seen.insert(needle.clone()))
        .collect()
}

/// A webhook secret `whsec_<base64>` in every form it could be printed in:
/// as is, its base64 payload, the decoded key as text (when printable), as
/// hex, as URL-safe base64, and secret and key as decimal byte lists.
fn webhook_secret_forms(name: &str, secret: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    let payload = secret.trim_start_matches("whsec_");
    let key = base64::engine::general_purpose::STANDARD
        .decode(payload)
        .expect("base64 payload");
    let mut forms = vec![
        (format!("{name} (whsec_…)"), secret.to_owned()),
        (
            format!("{name}: base64 payload"),
            payload.trim_end_matches('=').to_owned(),
        ),
        (format!("{name}: key as hex"), hex(&key)),
        (format!("{name}: key as HEX"), hex(&key).to_uppercase()),
        (
            format!("{name}: key as URL-safe base64"),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key),
        ),
        (
            format!("{name} as decimal bytes"),
            decimal_list(secret.as_bytes()),
        ),
        (format!("{name}: key as decimal bytes"), decimal_list(&key)),
    ];
    if let Ok(text) = std::str::from_utf8(&key) {
        if !text.chars().any(char::is_control) {
            forms.push((format!("{name}: key as text"), text.to_owned()));
        }
    }
    distinct(forms)
}

/// A token as is, as base64, as hex and as decimal bytes.
fn token_forms(name: &str, token: &str) -> Vec<(String, String)> {
    distinct(vec![
        (name.to_owned(), token.to_owned()),
        (format!("{name} as base64"), base64(token.as_bytes())),
        (format!("{name} as hex"), hex(token.as_bytes())),
        (
            format!("{name} as decimal bytes"),
            decimal_list(token.as_bytes()),
        ),
    ])
}

/// A running child process; every line of its stdout and stderr is kept.
struct Process {
    name: String,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Process {
    /// Runs `binary`'s entry point with `args` (no program name) in `dir`,
    /// at `RUST_LOG=trace`, with `env` on top.
    fn start(binary: &str, args: &[&str], dir: &Path, env: &[(&str, String)]) -> Process {
        let mut argv = vec![binary.to_owned()];
        argv.extend(args.iter().map(|a| (*a).to_owned()));
        let mut command = Command::new(std::env::current_exe().expect("test binary"));
        command
            .args([
                CHILD_ENTRY_TEST,
                "--nocapture",
                "--test-threads=1",
                "--quiet",
            ])
            .env(CHILD_BINARY, binary)
            .env(CHILD_ARGS, serde_json::to_string(&argv).expect("JSON"))
            .env("RUST_LOG", "trace")
            // The AWS SDK's signer prints request bodies with this set: the
            // cap must hold against it too.
            .env("LOG_SIGNABLE_BODY", "true")
            .env("MOTO_PYTHON", moto_python())
            .env_remove("NO_COLOR")
            .env_remove("ECONOMIC_BASE_URL")
            .env_remove("ECONOMIC_APP_SECRET_TOKEN")
            .env_remove("ECONOMIC_AGREEMENT_GRANT_TOKEN")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("child process starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let readers = vec![
            keep_lines(BufReader::new(stdout), lines.clone()),
            keep_lines(BufReader::new(stderr), lines.clone()),
        ];
        Process {
            name: format!("{binary} {}", args.join(" ")),
            child,
            lines,
            readers,
        }
    }

    /// Waits until a line satisfies `wanted`.
    fn wait_for_line(&mut self, what: &str, limit: Duration, wanted: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + limit;
        let mut checked = 0;
        loop {
            {
                let lines = self.lines.lock().expect("lines");
                if lines[checked..].iter().any(|l| wanted(l)) {
                    return;
                }
                checked = lines.len();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited ({status}) before {what}:\n{}",
                    self.name,
                    tail(&self.lines.lock().expect("lines"))
                );
            }
            assert!(
                Instant::now() < deadline,
                "{}: no {what} within {limit:?}:\n{}",
                self.name,
                tail(&self.lines.lock().expect("lines"))
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for the process to end (killing it after `limit`); its exit
    /// code (None: killed) and whole output.
    fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                _ if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
                _ => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        (code, self.output())
    }

    /// Stops a process that runs until stopped; its whole output.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.output()
    }

    fn output(&mut self) -> String {
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        self.lines.lock().expect("lines").join("\n")
    }
}

fn keep_lines(
    stream: impl BufRead + Send + 'static,
    lines: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in stream.split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).into_owned();
            lines.lock().expect("lines").push(line);
        }
    })
}

fn tail(lines: &[String]) -> String {
    let from = lines.len().saturating_sub(40);
    lines[from..].join("\n")
}

fn moto_python() -> PathBuf {
    std::env::var_os("MOTO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv/bin/python"))
}

/// A root of its own for the local stack (a directory with a
/// `template.yaml`), so its `.local/stack.env` does not replace the
/// developer's, with the demo files where the stack looks for them.
fn stack_root(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("secrets-{name}-{}", std::process::id()));
    let demo = dir.join("infra/local-stack/demo");
    std::fs::create_dir_all(&demo).expect("temp dir");
    std::fs::write(dir.join("template.yaml"), "").expect("template.yaml");
    for file in ["demo-shop.json", "sample-order.json"] {
        std::fs::copy(
            workspace_root().join("infra/local-stack/demo").join(file),
            demo.join(file),
        )
        .expect("demo file");
    }
    dir
}

/// A line the stack prints when an order's label changes:
/// `HH:MM:SS  shop  order  label  detail`.
fn is_label_line(line: &str, shop_id: &str, order_id: &str, label: &str) -> bool {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let clock = fields.first().map(|f| f.as_bytes());
    matches!(clock, Some([_, _, b':', _, _, b':', _, _]))
        && fields.get(1) == Some(&shop_id)
        && fields.get(2) == Some(&order_id)
        && fields.get(3) == Some(&label)
}

/// Two order events for `shop_id` as JSON lines (bridgectl backfill's
/// input): the sample order, which ends ok, and one with a product
/// e-conomic does not have, which fails.
fn orders_file(dir: &Path, ok_order: &str, failing_order: &str) -> PathBuf {
    let sample: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("infra/local-stack/demo/sample-order.json"))
            .expect("sample order"),
    )
    .expect("sample order JSON");
    let mut ok = sample.clone();
    ok["order"]["id"] = json!(ok_order);
    ok["order"]["number"] = json!(ok_order);
    let mut failing = sample;
    failing["order"]["id"] = json!(failing_order);
    failing["order"]["number"] = json!(failing_order);
    // A total its lines do not add up to fails in transfer (an unknown
    // SKU no longer does: it goes to the generic product by default).
    failing["order"]["total"] = json!("1.00");
    let path = dir.join("orders.jsonl");
    std::fs::write(&path, format!("{ok}\n{failing}\n")).expect("orders file");
    path
}

/// One bridgectl command at its most verbose against the stack in `dir`;
/// it must end with one of `codes`. Its name and whole output.
fn bridgectl(dir: &Path, args: &[&str], codes: &[i32]) -> (String, String) {
    let mut argv = vec!["-vvv", "--local"];
    argv.extend_from_slice(args);
    let process = Process::start("bridgectl", &argv, dir, &[]);
    let name = process.name.clone();
    let (code, output) = process.finish(Duration::from_secs(90));
    assert!(
        code.is_some_and(|c| codes.contains(&c)),
        "{name}: exit {code:?}:\n{}",
        output.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    (name, output)
}

/// bridgectl at its most verbose against the stack in `dir`: send the two
/// orders, and (once they are settled) read the shop and the orders back
/// and check the shop's e-conomic agreement. Every run's output.
fn bridgectl_runs(
    dir: &Path,
    shop_id: &str,
    orders: &Path,
    stack: &mut Process,
    ok_order: &str,
    failing_order: &str,
) -> Vec<(String, String)> {
    let orders = orders.to_str().expect("path");
    let mut outputs = Vec::new();
    let mut run = |args: &[&str], codes: &[i32]| outputs.push(bridgectl(dir, args, codes));
    run(&["backfill", "--shop", shop_id, orders], &[0]);
    let settled = Duration::from_secs(120);
    stack.wait_for_line(&format!("{ok_order} ok"), settled, |l| {
        is_label_line(l, shop_id, ok_order, "e-conomic-ok")
    });
    stack.wait_for_line(&format!("{failing_order} failed"), settled, |l| {
        is_label_line(l, shop_id, failing_order, "e-conomic-failed")
    });
    run(&["shops", "show", shop_id], &[0]);
    // 1: the check may find something in the demo mapping to report; what
    // matters here is that it talked to e-conomic with the tokens.
    run(&["shops", "check", shop_id], &[0, 1]);
    run(&["orders", "list", "--shop", shop_id, "--json"], &[0]);
    run(&["orders", "show", "--shop", shop_id, failing_order], &[0]);
    outputs
}

/// A value the running stack wrote to `.local/stack.env`.
fn stack_env(dir: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join(".local/stack.env")).expect("stack.env");
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key} in stack.env"))
        .to_owned()
}

/// The HTTP client's TRACE line when it connects to `base_url`
/// (`http://127.0.0.1:PORT`).
fn connect_line(base_url: &str) -> String {
    let port = base_url.rsplit(':').next().unwrap_or_default();
    format!(
        "Http::connect; scheme=Some(\"http\"), host=Some(\"127.0.0.1\"), port=Some(Port({port}))"
    )
}

/// bridgectl's `shops check` logged its connection to e-conomic at TRACE.
fn economic_trace_problems(bridgectl: &[(String, String)], economic_connect: &str) -> Vec<String> {
    bridgectl
        .iter()
        .filter(|(name, _)| name.contains("shops check"))
        .flat_map(|(name, output)| trace_problems(name, output, &[economic_connect]))
        .collect()
}

/// `text` holds TRACE lines from several crates, so that a capture that
/// lost the log (or never had one) cannot pass.
fn trace_problems(source: &str, text: &str, expected: &[&str]) -> Vec<String> {
    let mut problems = Vec::new();
    let trace_lines = text.lines().filter(|l| l.contains(" TRACE ")).count();
    if trace_lines < 50 {
        problems.push(format!("{source}: only {trace_lines} TRACE lines"));
    }
    for line in expected {
        if !text.contains(line) {
            problems.push(format!("{source}: no {line:?} in its output"));
        }
    }
    problems
}

/// With `DUMP_CAPTURED` set, writes `text` to `/tmp/secrets-<source>.log`
/// to look at.
fn dump(source: &str, text: &str) {
    if std::env::var_os("DUMP_CAPTURED").is_some() {
        let name: String = source
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(60)
            .collect();
        let _ = std::fs::write(format!("/tmp/secrets-{name}.log"), text);
    }
}

/// Every occurrence of a forbidden string: "source: what ×n".
fn occurrences(source: &str, text: &str, forbidden: &[(String, String)]) -> Vec<String> {
    dump(source, text);
    forbidden
        .iter()
        .filter_map(|(what, needle)| {
            let n = text.matches(needle.as_str()).count();
            (n > 0).then(|| format!("{source}: {what} ×{n}"))
        })
        .collect()
}

#[test]
fn the_binaries_print_no_secret_at_trace_level() {
    let mut problems = Vec::new();
    let mut found = Vec::new();

    // 1. local-stack --shop FILE with the sandbox; bridgectl against it.
    let dir = stack_root("file-shop");
    let mut shop: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("infra/local-stack/demo/demo-shop.json"))
            .expect("demo shop"),
    )
    .expect("demo shop JSON");
    let file_secret = whsec(FILE_SHOP_KEY);
    shop["shop_id"] = json!(FILE_SHOP_ID);
    shop["webhook_secrets"] = json!([{ "secret": file_secret }]);
    shop["economic"] = json!({
        "app_secret_token": FILE_APP_TOKEN,
        "agreement_grant_token": FILE_GRANT_TOKEN,
    });
    let shop_file = dir.join("file-shop.json");
    std::fs::write(&shop_file, shop.to_string()).expect("shop file");
    let mut stack = Process::start(
        "local-stack",
        &[
            "--port",
            "0",
            "--rescan-every",
            "3600",
            "--shop",
            shop_file.to_str().expect("path"),
        ],
        &dir,
        &[],
    );
    stack.wait_for_line("banner", Duration::from_secs(120), |l| {
        l.contains("Label changes appear below")
    });
    let economic_connect = connect_line(&stack_env(&dir, "ECONOMIC_BASE_URL"));
    let orders = orders_file(&dir, "file-ok-1", "file-fail-1");
    let mut bridgectl_outputs = bridgectl_runs(
        &dir,
        FILE_SHOP_ID,
        &orders,
        &mut stack,
        "file-ok-1",
        "file-fail-1",
    );
    // bridgectl writing secrets: the shop file put again, and a new secret
    // made, which is printed once, by design, on a line of its own.
    let put = bridgectl(
        &dir,
        &["shops", "put", shop_file.to_str().expect("path")],
        &[0],
    );
    let (rotate, rotate_output) = bridgectl(
        &dir,
        &["shops", "rotate-secret", FILE_SHOP_ID, "--grace", "0s"],
        &[0],
    );
    let new_secret = rotate_output
        .lines()
        .find(|l| l.starts_with("whsec_"))
        .expect("rotate-secret prints the new secret")
        .to_owned();
    let beyond_the_printed_secret: String = rotate_output
        .lines()
        .filter(|l| *l != new_secret)
        .collect::<Vec<_>>()
        .join("\n");
    bridgectl_outputs.push(put);
    bridgectl_outputs.push((
        format!("{rotate} beyond the printed secret"),
        beyond_the_printed_secret,
    ));
    let stack_output = stack.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let mut forbidden = webhook_secret_forms("--shop file's webhook secret", &file_secret);
    forbidden.extend(webhook_secret_forms("rotated webhook secret", &new_secret));
    forbidden.extend(token_forms(
        "--shop file's app secret token",
        FILE_APP_TOKEN,
    ));
    forbidden.extend(token_forms("--shop file's grant token", FILE_GRANT_TOKEN));
    problems.extend(trace_problems(
        "local-stack --shop",
        &stack_output,
        // TRACE lines of the AWS SDK and of the HTTP client, and the banner
        // (which names the secret without showing it).
        &[
            "saving request checkpoint",
            &economic_connect,
            "Webhook URL for shop `file-shop`",
            "/webhooks/file-shop \"$WEBHOOK_SECRET\" infra/local-stack/demo/sample-order.json",
        ],
    ));
    found.extend(occurrences("local-stack --shop", &stack_output, &forbidden));
    for (name, output) in &bridgectl_outputs {
        problems.extend(trace_problems(name, output, &["saving request checkpoint"]));
        found.extend(occurrences(name, output, &forbidden));
    }
    problems.extend(economic_trace_problems(
        &bridgectl_outputs,
        &economic_connect,
    ));

    // 2. local-stack with real e-conomic settings and the demo shop: the
    // banner shows the demo's secret, and nothing shows the real tokens.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let economic = runtime
        .block_on(economic_sandbox::start(economic_sandbox::SandboxConfig {
            agreements: vec![economic_sandbox::AgreementTokens {
                app_secret_token: REAL_APP_TOKEN.to_owned(),
                agreement_grant_token: REAL_GRANT_TOKEN.to_owned(),
            }],
            ..economic_sandbox::SandboxConfig::default()
        }))
        .expect("sandbox as real e-conomic");
    let dir = stack_root("real-economic");
    let demo_shop =
        local_stack::stack::load_shop(&dir.join("infra/local-stack/demo/demo-shop.json"))
            .expect("demo shop");
    local_stack::stack::add_mapped_products(&economic, &demo_shop);
    let mut stack = Process::start(
        "local-stack",
        &["--port", "0", "--rescan-every", "3600"],
        &dir,
        &[
            ("ECONOMIC_BASE_URL", economic.base_url()),
            ("ECONOMIC_APP_SECRET_TOKEN", REAL_APP_TOKEN.to_owned()),
            (
                "ECONOMIC_AGREEMENT_GRANT_TOKEN",
                REAL_GRANT_TOKEN.to_owned(),
            ),
        ],
    );
    stack.wait_for_line("banner", Duration::from_secs(120), |l| {
        l.contains("Label changes appear below")
    });
    let orders = orders_file(&dir, "real-ok-1", "real-fail-1");
    let bridgectl_outputs = bridgectl_runs(
        &dir,
        DEMO_SHOP_ID,
        &orders,
        &mut stack,
        "real-ok-1",
        "real-fail-1",
    );
    let stack_output = stack.stop();
    let _ = std::fs::remove_dir_all(&dir);
    let demo_secret = demo_shop.webhook_secrets[0].secret.expose().to_owned();
    let mut forbidden = token_forms("real app secret token", REAL_APP_TOKEN);
    forbidden.extend(token_forms("real grant token", REAL_GRANT_TOKEN));
    let economic_connect = connect_line(&economic.base_url());
    problems.extend(trace_problems(
        "local-stack (real e-conomic)",
        &stack_output,
        &["saving request checkpoint", &economic_connect],
    ));
    problems.extend(economic_trace_problems(
        &bridgectl_outputs,
        &economic_connect,
    ));
    found.extend(occurrences(
        "local-stack (real e-conomic)",
        &stack_output,
        &forbidden,
    ));
    let banner_line = |l: &&str| l.contains("infra/scripts/send-webhook.sh");
    if !stack_output
        .lines()
        .any(|l| banner_line(&l) && l.contains(&demo_secret))
    {
        problems.push("the banner does not show the demo shop's secret".to_owned());
    }
    let beyond_banner: String = stack_output
        .lines()
        .filter(|l| !banner_line(l))
        .collect::<Vec<_>>()
        .join("\n");
    let demo_forms = webhook_secret_forms("demo shop's webhook secret", &demo_secret);
    found.extend(occurrences(
        "local-stack (real e-conomic) beyond its banner",
        &beyond_banner,
        &demo_forms,
    ));
    for (name, output) in &bridgectl_outputs {
        problems.extend(trace_problems(name, output, &["saving request checkpoint"]));
        found.extend(occurrences(name, output, &forbidden));
        found.extend(occurrences(name, output, &demo_forms));
    }
    drop(economic);

    if !found.is_empty() {
        problems.push(format!("secrets in the output:\n  {}", found.join("\n  ")));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
