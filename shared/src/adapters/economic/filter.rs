//! e-conomic collection filters (`?filter=field$eq:value`).
//!
//! Inside a filter value the characters `$ ( ) * , [ ]` are escaped by a
//! leading `$` (REST docs, "Escaping special characters in your filter");
//! the whole filter is then URL-encoded as a query parameter (reqwest does
//! that). String comparison in e-conomic filters is case-insensitive.

/// Escapes a value for use inside an e-conomic filter expression.
pub fn escape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        if matches!(c, '$' | '(' | ')' | '*' | ',' | '[' | ']') {
            out.push('$');
        }
        out.push(c);
    }
    out
}

/// `field$eq:value` with the value escaped.
pub fn eq_filter(field: &str, value: &str) -> String {
    format!("{field}$eq:{}", escape_filter_value(value))
}

/// Reverses [`escape_filter_value`] (used by the sandbox to read filters).
pub fn unescape_filter_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '$' {
            if let Some(next) = chars.next() {
                out.push(next);
                continue;
            }
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_characters_are_escaped_with_dollar() {
        assert_eq!(escape_filter_value("plain-ref_1"), "plain-ref_1");
        assert_eq!(
            escape_filter_value("a$b(c)d*e,f[g]h"),
            "a$$b$(c$)d$*e$,f$[g$]h"
        );
        assert_eq!(
            eq_filter("references.other", "shop:1,2"),
            "references.other$eq:shop:1$,2"
        );
    }

    #[test]
    fn unescape_round_trips() {
        for s in ["", "x", "a$b(c)d*e,f[g]h", "$$$", "ünïcödé (1)"] {
            assert_eq!(unescape_filter_value(&escape_filter_value(s)), s);
        }
    }
}
