//! The binary's command line: `--help` is a real usage text and exit 0,
//! a wrong flag is a usage error (exit 2).

use std::process::Command;

#[test]
fn help_lists_the_flags_and_exits_0() {
    for flag in ["--help", "-h"] {
        let output = Command::new(env!("CARGO_BIN_EXE_economic-sandbox"))
            .arg(flag)
            .output()
            .expect("economic-sandbox runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{flag}: {output:?}");
        for expected in [
            "usage: economic-sandbox",
            "--port N",
            "--rate-500 P",
            "--accept-unknown-products",
            "--agreement APP_SECRET:GRANT",
        ] {
            assert!(stdout.contains(expected), "{flag}: {expected}: {stdout}");
        }
    }
}

#[test]
fn an_unknown_flag_is_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_economic-sandbox"))
        .arg("--prot")
        .output()
        .expect("economic-sandbox runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(stderr.contains("unknown flag --prot"), "{stderr}");
    assert!(stderr.contains("usage: economic-sandbox"), "{stderr}");
}
