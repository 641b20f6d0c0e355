//! Reading the functions' settings from environment variables.

/// Reads an environment variable as a number, with a default when unset.
/// A set but invalid value is an error naming the variable.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("environment variable {name} is not a valid number: {v:?}")),
    }
}

/// Reads a required environment variable.
pub fn env_required(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(format!("environment variable {name} is required")),
    }
}
