//! The file the local stack writes so `bridgectl --local` (and scripts)
//! find it: `.local/stack.env` at the workspace root, one `KEY=VALUE` per
//! line. Blank lines and lines starting with `#` are ignored; values are
//! taken verbatim (no quoting, no expansion), so the file can also be
//! `source`d by a shell as long as values contain no spaces.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

/// Keys the local stack writes (infra/local-stack/src/main.rs) and
/// `bridgectl --local` reads.
pub const KEYS: [&str; 11] = [
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "SHOPS_TABLE",
    "ORDERS_TABLE",
    "QUEUE_URL",
    "DEAD_LETTER_QUEUE_URL",
    "WEBHOOK_URL",
    "ECONOMIC_BASE_URL",
    "SECRETS_KEY_ID",
];

/// Where the file lives relative to the workspace root.
pub const RELATIVE_PATH: &str = ".local/stack.env";

/// `<workspace_root>/.local/stack.env`.
pub fn path_in(workspace_root: &Path) -> PathBuf {
    workspace_root.join(RELATIVE_PATH)
}

/// A malformed line (`line` counts from 1).
#[derive(Debug, thiserror::Error)]
pub enum LocalEnvError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{path} line {line}: expected KEY=VALUE")]
    Malformed { path: String, line: usize },
}

/// Parses the file's text.
pub fn parse(text: &str, path_for_errors: &str) -> Result<BTreeMap<String, String>, LocalEnvError> {
    let mut entries = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(LocalEnvError::Malformed {
                path: path_for_errors.to_owned(),
                line: index + 1,
            });
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(LocalEnvError::Malformed {
                path: path_for_errors.to_owned(),
                line: index + 1,
            });
        }
        entries.insert(key.to_owned(), value.trim().to_owned());
    }
    Ok(entries)
}

/// Reads the file.
pub fn read(path: &Path) -> Result<BTreeMap<String, String>, LocalEnvError> {
    let text = std::fs::read_to_string(path).map_err(|source| LocalEnvError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&text, &path.display().to_string())
}

/// Renders entries in the file's format (sorted by key, trailing newline).
pub fn render(entries: &BTreeMap<String, String>) -> String {
    let mut text = String::from("# Written by the local stack; read by `bridgectl --local`.\n");
    for (key, value) in entries {
        text.push_str(key);
        text.push('=');
        // One entry per line: a newline in a value would break the format.
        text.push_str(&value.replace(['\n', '\r'], " "));
        text.push('\n');
    }
    text
}

/// Writes the file (creating `.local/`), replacing it atomically so a
/// reader never sees half a file.
pub fn write(path: &Path, entries: &BTreeMap<String, String>) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let temporary = path.with_extension("env.tmp");
    std::fs::write(&temporary, render(entries))?;
    std::fs::rename(&temporary, path)
}

/// Looks for `.local/stack.env` in `start` and its parents.
pub fn find_from(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(path_in)
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_comments() {
        let entries = BTreeMap::from([
            ("SHOPS_TABLE".to_owned(), "shops-local".to_owned()),
            (
                "QUEUE_URL".to_owned(),
                "http://127.0.0.1:5000/123/q?x=1".to_owned(),
            ),
        ]);
        let text = render(&entries);
        assert!(text.starts_with('#'));
        assert_eq!(parse(&text, "f").unwrap(), entries);
    }

    #[test]
    fn malformed_line_is_reported_with_its_number() {
        let err = parse("A=1\n\nnot a pair\n", "stack.env").unwrap_err();
        assert_eq!(err.to_string(), "stack.env line 3: expected KEY=VALUE");
    }

    #[test]
    fn write_then_read_and_find() {
        let root = std::env::temp_dir().join(format!("bridgectl-env-{}", std::process::id()));
        let path = path_in(&root);
        let entries = BTreeMap::from([("ORDERS_TABLE".to_owned(), "orders".to_owned())]);
        write(&path, &entries).unwrap();
        assert_eq!(read(&path).unwrap(), entries);
        let nested = root.join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        assert_eq!(find_from(&nested), Some(path));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
