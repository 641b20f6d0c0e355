//! The binary's command line: `--help` is a real usage text and exit 0,
//! a wrong flag or value is clap's usage error (exit 2).

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the sandbox with `args`; killed after 10 s, should a bad flag be
/// accepted (it would then serve until Ctrl-C).
fn run(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_economic-sandbox"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("economic-sandbox runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait_with_output().expect("output")
}

#[test]
fn help_lists_the_flags_and_exits_0() {
    for flag in ["--help", "-h"] {
        let output = run(&[flag]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{flag}: {output:?}");
        for expected in [
            "Usage: economic-sandbox [OPTIONS]",
            "--port <N>",
            "--latency-ms <N>",
            "--token-limit <N>",
            "--token-window <S>",
            "--read-call-cost <N>",
            "--write-call-cost <N>",
            "--retry-after-on-token-limit",
            "--rate-429 <P>",
            "--rate-500 <P>",
            "--rate-timeout <P>",
            "--rate-drop <P>",
            "--retry-after <S>",
            "--hold-ms <N>",
            "--seed <N>",
            "--accept-unknown-products",
            "--agreement <APP_SECRET:GRANT>",
        ] {
            assert!(stdout.contains(expected), "{flag}: {expected}: {stdout}");
        }
    }
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let output = run(&["--prot"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        stderr.contains("error: unexpected argument '--prot' found"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: economic-sandbox"), "{stderr}");
}

#[test]
fn a_bad_value_is_a_usage_error() {
    for (args, message) in [
        (
            &["--port", "70000"][..],
            "invalid value '70000' for '--port <N>': 70000 is not in 0..=65535",
        ),
        (
            &["--latency-ms", "slow"],
            "invalid value 'slow' for '--latency-ms <N>'",
        ),
        (
            &["--rate-500", "2"],
            "invalid value '2' for '--rate-500 <P>': not a probability from 0 to 1",
        ),
        (&["--seed"], "a value is required for '--seed <N>'"),
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}: {output:?}");
    }
}

#[test]
fn a_malformed_agreement_is_an_error_that_does_not_repeat_the_tokens() {
    for value in [
        "app-token-9f3e1c",
        "app-token-9f3e1c:",
        ":grant-token-5d2b7a",
    ] {
        let output = run(&["--agreement", value]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{value}: {output:?}");
        assert!(
            stderr.contains("--agreement takes APP_SECRET:GRANT"),
            "{value}: {stderr}"
        );
        assert!(!stderr.contains("9f3e1c"), "{value}: {stderr}");
        assert!(!stderr.contains("5d2b7a"), "{value}: {stderr}");
    }
}
