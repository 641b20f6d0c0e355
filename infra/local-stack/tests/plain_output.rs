//! The local stack's output written to a pipe or file has no ANSI colour
//! codes (its log lines would otherwise be full of `ESC[2m…`).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    // Its own root (a directory with a template.yaml), so the test's
    // `.local/stack.env` does not replace the developer's.
    let dir = std::env::temp_dir().join(format!("local-stack-plain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("template.yaml"), "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-stack"))
        .current_dir(&dir)
        .env("MOTO_PYTHON", &python)
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .args(["--port", "0", "--rescan-every", "3600", "--shop"])
        .arg(root.join("infra/local-stack/demo/demo-shop.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("local-stack starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    // Read until the stack says it is ready (plenty of debug log lines come
    // before that), at most 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let mut ready = false;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                ready = line.contains("Webhook URL");
                seen.push(line);
                if ready {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ready, "the stack did not get ready: {seen:#?}");
    let log_lines = seen.iter().filter(|l| l.contains("DEBUG")).count();
    assert!(log_lines > 0, "no log lines to check: {seen:#?}");
    for line in &seen {
        assert!(!line.contains('\u{1b}'), "colour code in: {line:?}");
    }
}
