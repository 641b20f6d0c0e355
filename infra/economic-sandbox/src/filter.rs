//! Reading a `$eq` filter value the way the live e-conomic API does.
//!
//! Written from e-conomic's observed behaviour (LIVE), not from the
//! bridge's client, so that a client that escapes wrongly fails its tests
//! here instead of agreeing with itself:
//! * `$$` is `$` and `$)` is `)`: these two must be escaped.
//! * `$(`, `$*`, `$,` are the character; unescaped `( * ,` are literal too.
//! * Unescaped `[` and `]` are literal. `$[` and `$]` parse, but the live
//!   API then matches nothing, silently (the docs' table says to escape
//!   them; following it makes every look-up come back empty).
//! * An unescaped `)` or a `$` before any other character is a parse error.

/// What a filter value selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterValue {
    /// Items whose field equals this text (case-insensitively).
    Text(String),
    /// A value e-conomic accepts but that never equals anything.
    MatchesNothing,
}

/// Parses an (already URL-decoded) filter value.
pub(crate) fn parse_filter_value(raw: &str) -> Result<FilterValue, String> {
    let mut text = String::with_capacity(raw.len());
    let mut matches_nothing = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '$' => match chars.next() {
                Some(escaped @ ('$' | ')' | '(' | '*' | ',')) => text.push(escaped),
                Some(bracket @ ('[' | ']')) => {
                    matches_nothing = true;
                    text.push(bracket);
                }
                Some(other) => {
                    return Err(format!("unexpected `${other}` in the filter value"));
                }
                None => return Err("the filter value ends in a lone `$`".into()),
            },
            ')' => return Err("unescaped `)` in the filter value".into()),
            other => text.push(other),
        }
    }
    Ok(if matches_nothing {
        FilterValue::MatchesNothing
    } else {
        FilterValue::Text(text)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Result<FilterValue, String> {
        Ok(FilterValue::Text(s.into()))
    }

    #[test]
    fn dollar_and_closing_parenthesis_are_read_escaped() {
        assert_eq!(parse_filter_value("a$$b"), text("a$b"));
        assert_eq!(parse_filter_value("a$)b"), text("a)b"));
    }

    #[test]
    fn parenthesis_star_and_comma_work_escaped_or_not() {
        assert_eq!(parse_filter_value("$($*$,"), text("(*,"));
        assert_eq!(parse_filter_value("(*,"), text("(*,"));
    }

    #[test]
    fn unescaped_brackets_are_literal() {
        assert_eq!(parse_filter_value("shop:[1]"), text("shop:[1]"));
    }

    #[test]
    fn escaped_brackets_parse_but_match_nothing() {
        assert_eq!(
            parse_filter_value("shop:$[1$]"),
            Ok(FilterValue::MatchesNothing)
        );
        assert_eq!(parse_filter_value("$]"), Ok(FilterValue::MatchesNothing));
    }

    #[test]
    fn unescaped_dollar_or_closing_parenthesis_is_refused() {
        assert!(parse_filter_value("a)b").is_err());
        assert!(parse_filter_value("a$b").is_err());
        assert!(parse_filter_value("ab$").is_err());
    }
}
