//! Errors and exit codes.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | done, nothing wrong |
//! | 1 | problems found (check), or partial failure (some orders/lines/messages failed) |
//! | 2 | usage error (unknown command or flag, bad value) — clap's own |
//! | 3 | configuration or credentials error (no table name, no credentials, table or queue does not exist, unreadable file) |

/// How a command ended when it ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Clean,
    Problems,
}

impl Status {
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Clean => 0,
            Status::Problems => 1,
        }
    }

    pub fn problems_if(condition: bool) -> Status {
        if condition {
            Status::Problems
        } else {
            Status::Clean
        }
    }
}

pub const EXIT_PROBLEMS: i32 = 1;
pub const EXIT_CONFIG: i32 = 3;

/// A command that could not run (or stopped) for a reason the operator
/// must fix. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Wrong or missing configuration, credentials, names: exit 3.
    #[error("{0}")]
    Config(String),
    /// The operation failed (AWS or e-conomic trouble, a refused change): exit 1.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) => EXIT_CONFIG,
            CliError::Failed(_) => EXIT_PROBLEMS,
        }
    }
}

/// Turns an AWS error text into an operator message, recognising the
/// mistakes that are configuration (a wrong table or queue name, missing
/// credentials) so they exit 3 with a hint.
pub fn classify_aws(detail: &str, resource: &str, hint: &str) -> CliError {
    let lower = detail.to_ascii_lowercase();
    if lower.contains("resourcenotfound")
        || lower.contains("nonexistentqueue")
        || lower.contains("queuedoesnotexist")
        || lower.contains("does not exist")
    {
        CliError::Config(format!("{resource} does not exist ({hint})"))
    } else if lower.contains("credential")
        || lower.contains("unrecognizedclient")
        || lower.contains("invalidclienttokenid")
        || lower.contains("expiredtoken")
        || lower.contains("signaturedoesnotmatch")
    {
        CliError::Config(format!(
            "AWS refused the credentials for {resource}: set AWS_PROFILE or \
             AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (detail: {detail})"
        ))
    } else if lower.contains("accessdenied") {
        CliError::Config(format!(
            "access to {resource} denied: the AWS identity lacks permission (detail: {detail})"
        ))
    } else {
        CliError::Failed(format!("{resource}: {detail}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_is_a_configuration_error() {
        let e = classify_aws(
            "service error: ResourceNotFoundException: Requested resource not found",
            "table shops-x",
            "check --stack or SHOPS_TABLE",
        );
        assert_eq!(e.exit_code(), 3);
        assert_eq!(
            e.to_string(),
            "table shops-x does not exist (check --stack or SHOPS_TABLE)"
        );
        let e = classify_aws("dispatch failure: timeout", "table t", "h");
        assert_eq!(e.exit_code(), 1);
    }
}
