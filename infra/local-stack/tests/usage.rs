//! The command lines of `local-stack`, `chaos` and `loadtest`: `--help` is
//! the usage and exit 0; a bad flag or value is clap's error on stderr and
//! exit 2, never a silent default (`local-stack --port 70000` used to
//! listen on 4464).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs `binary` with `args`. Should a bad flag be accepted, the binary
/// would start for real: moto cannot start (MOTO_PYTHON names nothing), so
/// it ends with 1 instead of 2, and it is killed after 30 s in any case.
fn run(binary: &str, args: &[&str]) -> Output {
    let mut child = Command::new(binary)
        .args(args)
        .env("MOTO_PYTHON", "/nonexistent/python")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().expect("output")
}

const LOCAL_STACK: &str = env!("CARGO_BIN_EXE_local-stack");
const CHAOS: &str = env!("CARGO_BIN_EXE_chaos");
const LOADTEST: &str = env!("CARGO_BIN_EXE_loadtest");

#[test]
fn help_lists_the_flags_and_exits_0() {
    let cases: [(&str, &str, &[&str]); 3] = [
        (
            LOCAL_STACK,
            "Usage: local-stack [OPTIONS]",
            &[
                "--port <N>",
                "--moto-port <N>",
                "--sandbox-port <N>",
                "--sandbox-latency-ms <N>",
                "--rescan-every <SECS>",
                "--rescan-min-age <SECS>",
                "--max-receive-count <N>",
                "--shop <FILE>",
                "ECONOMIC_APP_SECRET_TOKEN",
            ],
        ),
        (
            CHAOS,
            "Usage: chaos [OPTIONS]",
            &["--orders <N>", "--shops <K>", "--seed <S>", "--workers <W>"],
        ),
        (
            LOADTEST,
            "Usage: loadtest [OPTIONS]",
            &[
                "--scenario <NAME>",
                "--orders <N>",
                "--within <SECS>",
                "--rate <N>",
                "--duration <SECS>",
                "--customers <N>",
                "--sandbox-latency-ms <N>",
                "--bucket-tokens <N>",
                "--bucket-window <SECS>",
                "--write-call-cost <N>",
                "--retry-after-on-429",
                "--client-rate-limit <N>",
                "--max-429-percent <P>",
                "--max-drain-over-floor <X>",
                "--concurrency <N>",
                "--batch-size <N>",
                "--poll-wait-ms <N>",
                "--timeout <SECS>",
            ],
        ),
    ];
    for (binary, usage, flags) in cases {
        for help in ["--help", "-h"] {
            let output = run(binary, &[help]);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert_eq!(output.status.code(), Some(0), "{binary} {help}: {output:?}");
            assert!(stdout.contains(usage), "{binary} {help}: {stdout}");
            for flag in flags {
                assert!(stdout.contains(flag), "{binary} {help}: {flag}: {stdout}");
            }
        }
    }
}

#[test]
fn a_bad_flag_or_value_is_a_usage_error() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            LOCAL_STACK,
            &["--port", "70000"],
            "invalid value '70000' for '--port <N>': 70000 is not in 0..=65535",
        ),
        (
            LOCAL_STACK,
            &["--port"],
            "a value is required for '--port <N>'",
        ),
        (
            LOCAL_STACK,
            &["--prot", "3000"],
            "unexpected argument '--prot'",
        ),
        (
            LOCAL_STACK,
            &["--rescan-every", "soon"],
            "invalid value 'soon' for '--rescan-every <SECS>'",
        ),
        (
            LOCAL_STACK,
            &["--rescan-every", "0"],
            "invalid value '0' for '--rescan-every <SECS>'",
        ),
        (
            LOCAL_STACK,
            &["--max-receive-count", "0"],
            "invalid value '0' for '--max-receive-count <N>'",
        ),
        (
            LOCAL_STACK,
            &["--sandbox-latency-ms", "-5"],
            "unexpected argument '-5'",
        ),
        (
            CHAOS,
            &["--orders", "many"],
            "invalid value 'many' for '--orders <N>'",
        ),
        (
            CHAOS,
            &["--shops", "0"],
            "invalid value '0' for '--shops <K>'",
        ),
        (
            CHAOS,
            &["--workers", "0"],
            "invalid value '0' for '--workers <W>'",
        ),
        (CHAOS, &["--fast"], "unexpected argument '--fast'"),
        (
            LOADTEST,
            &["--scenario", "peak"],
            "invalid value 'peak' for '--scenario <NAME>'",
        ),
        (
            LOADTEST,
            &["--rate", "0"],
            "invalid value '0' for '--rate <N>': not a number > 0",
        ),
        (
            LOADTEST,
            &["--within", "-1"],
            "invalid value '-1' for '--within <SECS>': not a number ≥ 0",
        ),
        (
            LOADTEST,
            &["--batch-size", "11"],
            "invalid value '11' for '--batch-size <N>': 11 is not in 1..=10",
        ),
        (
            LOADTEST,
            &["--orders", "1.5"],
            "invalid value '1.5' for '--orders <N>'",
        ),
    ];
    for (binary, args, message) in cases {
        let output = run(binary, args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{binary} {args:?}: {output:?}"
        );
        assert!(stderr.starts_with("error: "), "{binary} {args:?}: {stderr}");
        assert!(stderr.contains(message), "{binary} {args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{binary} {args:?}: {output:?}");
    }
}
