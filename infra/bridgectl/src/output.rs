//! Output for people (aligned tables, colour only on a terminal without
//! NO_COLOR) and for scripts (`--json`: one JSON document on stdout).

use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub color: bool,
    /// stderr is a terminal: progress bars make sense.
    pub interactive: bool,
}

#[derive(Debug, Clone, Copy)]
pub enum Tone {
    Good,
    Bad,
    Warn,
    Dim,
}

impl Printer {
    pub fn new(json: bool) -> Printer {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Printer {
            json,
            color: !json && !no_color && std::io::stdout().is_terminal(),
            interactive: !json && std::io::stderr().is_terminal(),
        }
    }

    pub fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color {
            return text.to_owned();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Dim => "2",
        };
        format!("\u{1b}[{code}m{text}\u{1b}[0m")
    }

    /// Colours a label the way the merchant sees it.
    pub fn label(&self, label: &str) -> String {
        let tone = match label {
            "e-conomic-ok" => Tone::Good,
            "e-conomic-failed" => Tone::Bad,
            "e-conomic-pending" => Tone::Warn,
            _ => Tone::Dim,
        };
        self.paint(label, tone)
    }

    pub fn print_json(&self, value: &serde_json::Value) {
        // Serialising a Value cannot fail.
        outln!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    }

    /// A progress bar on stderr when it is a terminal, hidden otherwise.
    pub fn progress(&self, total: u64, what: &str) -> ProgressBar {
        if !self.interactive {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(total);
        if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})") {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(what.to_owned());
        bar
    }
}

/// Writes to stdout (the `out!`/`outln!` macros). When stdout is a pipe
/// whose reader has gone (`bridgectl … | head`), the rest of the output is
/// unwanted: exit 0 quietly, as `cat` and friends do, rather than panic the
/// way `println!` does. Any other write error ends the program with exit 1.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout.write_fmt(args) {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("bridgectl: cannot write to stdout: {error}");
        std::process::exit(1);
    }
}

/// Renders rows under headers with columns padded to the widest cell.
/// Cells may contain ANSI colour codes; they do not count as width.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let columns = headers.len();
    let mut widths: Vec<usize> = headers.iter().map(|h| visible_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(visible_width(cell));
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: Vec<&str>| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            line.push_str(cell);
            if i + 1 < cells.len() {
                let pad = widths[i] - visible_width(cell) + 2;
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    push_row(headers.to_vec());
    for row in rows {
        push_row(row.iter().map(String::as_str).collect());
    }
    out
}

fn visible_width(text: &str) -> usize {
    let mut width = 0;
    let mut in_escape = false;
    for c in text.chars() {
        if in_escape {
            if c == 'm' {
                in_escape = false;
            }
        } else if c == '\u{1b}' {
            in_escape = true;
        } else {
            width += 1;
        }
    }
    width
}

/// Shortens text to `max` characters with an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

/// "3m", "2h", "5d" — how long ago `then` (epoch seconds) was.
pub fn age(now: i64, then: i64) -> String {
    let seconds = (now - then).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// Epoch seconds as RFC 3339 (UTC).
pub fn timestamp(epoch: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| epoch.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_ignoring_colour_codes() {
        let rows = vec![
            vec![
                "1001".to_owned(),
                "\u{1b}[31mfailed\u{1b}[0m".to_owned(),
                "x".to_owned(),
            ],
            vec!["7".to_owned(), "ok".to_owned(), "y".to_owned()],
        ];
        let text = table(&["ORDER", "LABEL", "R"], &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "ORDER  LABEL   R");
        assert_eq!(lines[1], "1001   \u{1b}[31mfailed\u{1b}[0m  x");
        assert_eq!(lines[2], "7      ok      y");
    }

    #[test]
    fn ages_and_truncation() {
        assert_eq!(age(1000, 970), "30s");
        assert_eq!(age(10_000, 10_000 - 600), "10m");
        assert_eq!(age(100_000, 100_000 - 3 * 3600), "3h");
        assert_eq!(age(1_000_000, 1_000_000 - 3 * 86400), "3d");
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
    }
}
