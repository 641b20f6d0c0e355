//! The layering ARCHITECTURE.md promises, checked on the source: the
//! domain does no I/O and knows no adapter, port or application code;
//! dependencies point adapters → ports ← app → domain; and no two modules
//! of `shared/src` import each other, directly or round a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn source_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source folder") {
        let path = entry.expect("folder entry").path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The module a file belongs to, two levels deep where there are two
/// (`domain::mapping`, `adapters::economic`, `app::transfer`, `ports`).
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(source_root()).expect("under src");
    let parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    parts.iter().take(2).cloned().collect::<Vec<_>>().join("::")
}

/// The file's code without comments (doc links are no imports) and
/// without its `#[cfg(test)]` module; empty for a file of tests (tests may
/// reach further than the code they test).
fn production_code(file: &Path) -> String {
    if file.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = fs::read_to_string(file).expect("readable source");
    let code = match text.find("#[cfg(test)]") {
        Some(at) => &text[..at],
        None => &text,
    };
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules named by `crate::a::b` paths in `code`, at the same depth
/// as [`module_of`].
fn modules_used(code: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let path: Vec<&str> = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
            .split("::")
            .filter(|s| !s.is_empty())
            .collect();
        let Some(first) = path.first() else { continue };
        let depth = if ["domain", "adapters", "app"].contains(first) {
            2
        } else {
            1
        };
        let module: Vec<&str> = path
            .iter()
            .take(depth)
            .copied()
            .take_while(|s| s.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .collect();
        if !module.is_empty() {
            used.insert(module.join("::"));
        }
    }
    used
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    rust_files(&source_root(), &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let module = module_of(&file);
        let used = modules_used(&production_code(&file));
        let edges = graph.entry(module.clone()).or_default();
        // A bare layer name (`crate::domain::X` where X is an item) is no
        // module of its own; neither is the file's own module.
        edges.extend(
            used.into_iter()
                .filter(|m| m != &module && !["domain", "adapters", "app"].contains(&m.as_str())),
        );
    }
    graph
}

#[test]
fn the_module_graph_is_read_from_the_source() {
    // Guards the checks below against passing on an empty graph.
    let graph = graph();
    for module in [
        "domain::mapping",
        "domain::vat",
        "ports",
        "app::transfer",
        "adapters::memory",
    ] {
        assert!(
            graph.contains_key(module),
            "{module} missing from {graph:?}"
        );
    }
    assert!(graph["app::transfer"].contains("ports"));
    assert!(graph["domain::mapping"].contains("domain::vat"));
}

#[test]
fn no_two_modules_import_each_other_directly_or_round_a_circle() {
    let graph = graph();
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_owned());
            panic!("import circle: {}", circle.join(" → "));
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, &graph, &mut Vec::new(), &mut done);
    }
}

#[test]
fn dependencies_point_from_adapters_and_app_towards_the_domain() {
    let allowed = |from: &str, to: &str| -> bool {
        let layer = |m: &str| m.split("::").next().unwrap_or("").to_owned();
        match (layer(from).as_str(), layer(to).as_str()) {
            ("domain", to) => to == "domain",
            ("ports", to) => to == "domain",
            // metrics: the metric vocabulary, emitted as tracing events.
            ("app", to) => ["domain", "ports", "app", "metrics"].contains(&to),
            ("adapters", to) => ["domain", "ports", "adapters", "metrics"].contains(&to),
            // env, logging, metrics: helpers of the binaries, below nothing
            // of ours.
            (_, to) => !["app", "adapters"].contains(&to),
        }
    };
    for (from, targets) in graph() {
        for to in targets {
            assert!(allowed(&from, &to), "{from} must not depend on {to}");
        }
    }
}

#[test]
fn the_domain_does_no_io_and_reads_no_clock() {
    let mut files = Vec::new();
    rust_files(&source_root().join("domain"), &mut files);
    assert!(files.len() >= 10, "domain files found: {files:?}");
    let forbidden = [
        "aws_sdk",
        "aws_config",
        "reqwest",
        "tokio",
        "std::fs",
        "std::net",
        "Instant::now",
        "SystemTime::now",
        "now_utc",
        "std::env",
    ];
    for file in files {
        let code = production_code(&file);
        for word in forbidden {
            assert!(
                !code.contains(word),
                "{} uses {word}",
                file.strip_prefix(source_root()).unwrap_or(&file).display()
            );
        }
    }
}
