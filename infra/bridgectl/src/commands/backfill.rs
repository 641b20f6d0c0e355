//! `backfill --shop ID FILE.jsonl`: replays historical order events through
//! the webhook endpoint, signed like the shop signs them.
//!
//! Each line's `webhook-id` is `backfill_` + the first 32 hex digits of
//! SHA-256(line), so running the same file again is recognised by ingest as
//! duplicate deliveries and creates nothing twice.

use crate::cli::BackfillArgs;
use crate::error::{CliError, Status};
use crate::output::Tone;
use crate::Ctx;
use bridge::domain::secret::Secret;
use bridge::domain::shop::WebhookSecret;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::sync::Semaphore;

/// The deterministic webhook id of a body.
pub fn webhook_id(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("backfill_{}", hex::encode(&digest[..16]))
}

/// The secret a shop signs with now: the newest one without an expiry,
/// else the active one that lasts longest.
pub fn current_secret(secrets: &[WebhookSecret], now: OffsetDateTime) -> Option<&Secret> {
    if let Some(open) = secrets.iter().rev().find(|s| s.valid_until.is_none()) {
        return Some(&open.secret);
    }
    secrets
        .iter()
        .filter_map(|s| {
            let until = OffsetDateTime::parse(s.valid_until.as_deref()?, &Rfc3339).ok()?;
            (until > now).then_some((until, &s.secret))
        })
        .max_by_key(|(until, _)| *until)
        .map(|(_, secret)| secret)
}

/// The endpoint for a shop: `{shop_id}` substituted, or `/webhooks/{id}`
/// appended to a base URL.
pub fn endpoint(webhook_url: &str, shop_id: &str) -> String {
    if webhook_url.contains("{shop_id}") {
        webhook_url.replace("{shop_id}", shop_id)
    } else {
        let base = webhook_url.trim_end_matches('/');
        if base.ends_with("/webhooks") {
            format!("{base}/{shop_id}")
        } else {
            format!("{base}/webhooks/{shop_id}")
        }
    }
}

/// How ingest answered one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineOutcome {
    /// 2xx; `status` is ingest's own word (accepted, recorded, ignored).
    Accepted(String),
    Duplicate,
    Rejected(String),
}

async fn deliver(http: &reqwest::Client, url: &str, secret: &Secret, body: Vec<u8>) -> LineOutcome {
    let id = webhook_id(&body);
    let timestamp = OffsetDateTime::now_utc().unix_timestamp();
    let Some(signature) = bridge::domain::webhook::sign(secret.expose(), &id, timestamp, &body)
    else {
        return LineOutcome::Rejected("the shop's webhook secret is not valid base64".to_owned());
    };
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return LineOutcome::Rejected(format!("could not reach {url}: {e}")),
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        match answer.get("status").and_then(Value::as_str) {
            Some("duplicate") => LineOutcome::Duplicate,
            Some(word) => LineOutcome::Accepted(word.to_owned()),
            None => LineOutcome::Accepted("accepted".to_owned()),
        }
    } else {
        let message = answer
            .get("error")
            .or_else(|| answer.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| crate::output::truncate(text.trim(), 200));
        LineOutcome::Rejected(format!("HTTP {}: {message}", status.as_u16()))
    }
}

pub async fn run(ctx: &Ctx, args: BackfillArgs) -> Result<Status, CliError> {
    let webhook_url = ctx.resolved.target.webhook_url()?.to_owned();
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| CliError::Config(format!("cannot read {}: {e}", args.file.display())))?;
    let config = super::shops::load(ctx, &args.shop).await?;
    let now = OffsetDateTime::now_utc();
    let secret = current_secret(&config.webhook_secrets, now)
        .cloned()
        .ok_or_else(|| {
            CliError::Failed(format!(
                "shop {} has no valid webhook secret: run `bridgectl shops rotate-secret {}`",
                args.shop, args.shop
            ))
        })?;
    let url = endpoint(&webhook_url, &args.shop);
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| CliError::Failed(format!("HTTP client: {e}")))?;

    // (line number, body) for non-blank lines; bad JSON is rejected here.
    let mut outcomes: Vec<(usize, LineOutcome)> = Vec::new();
    let mut to_send: Vec<(usize, Vec<u8>)> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(_)) => to_send.push((index + 1, line.as_bytes().to_vec())),
            Ok(_) => outcomes.push((
                index + 1,
                LineOutcome::Rejected("not a JSON object".to_owned()),
            )),
            Err(e) => outcomes.push((
                index + 1,
                LineOutcome::Rejected(format!(
                    "not valid JSON (column {}): {}",
                    e.column(),
                    e.classify_name()
                )),
            )),
        }
    }

    let bar = ctx.printer.progress(to_send.len() as u64, "backfill");
    let limit = Arc::new(Semaphore::new(usize::from(args.concurrency)));
    let http = Arc::new(http);
    let secret = Arc::new(secret);
    let url = Arc::new(url);
    let mut tasks = tokio::task::JoinSet::new();
    for (line, body) in to_send {
        let (limit, http, secret, url, bar) = (
            limit.clone(),
            http.clone(),
            secret.clone(),
            url.clone(),
            bar.clone(),
        );
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let outcome = deliver(&http, &url, &secret, body).await;
            bar.inc(1);
            (line, outcome)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => outcomes.push(result),
            Err(e) => return Err(CliError::Failed(format!("a delivery task failed: {e}"))),
        }
    }
    bar.finish_and_clear();
    outcomes.sort_by_key(|(line, _)| *line);

    let accepted = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, LineOutcome::Accepted(_)))
        .count();
    let duplicates = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, LineOutcome::Duplicate))
        .count();
    let rejected: Vec<(usize, &str)> = outcomes
        .iter()
        .filter_map(|(line, o)| match o {
            LineOutcome::Rejected(reason) => Some((*line, reason.as_str())),
            _ => None,
        })
        .collect();
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "shop_id": args.shop,
            "lines": outcomes.len(),
            "accepted": accepted,
            "duplicates": duplicates,
            "rejected": rejected.iter().map(|(line, reason)| json!({"line": line, "reason": reason})).collect::<Vec<_>>(),
        }));
    } else {
        outln!(
            "{} line(s): {} accepted, {} duplicate(s), {} rejected",
            outcomes.len(),
            ctx.printer.paint(&accepted.to_string(), Tone::Good),
            duplicates,
            if rejected.is_empty() {
                "0".to_owned()
            } else {
                ctx.printer.paint(&rejected.len().to_string(), Tone::Bad)
            }
        );
        for (line, reason) in &rejected {
            outln!("  line {line}: {reason}");
        }
    }
    Ok(Status::problems_if(!rejected.is_empty()))
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    /// The kind of error only: serde_json's message could quote the line.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "line ends early",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_ids_are_deterministic_per_body() {
        let a = webhook_id(br#"{"type":"order.paid"}"#);
        assert_eq!(a, webhook_id(br#"{"type":"order.paid"}"#));
        assert_ne!(a, webhook_id(br#"{"type":"order.paid" }"#));
        assert!(a.starts_with("backfill_"));
        assert_eq!(a.len(), "backfill_".len() + 32);
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("http://h:1", "s"), "http://h:1/webhooks/s");
        assert_eq!(endpoint("http://h:1/", "s"), "http://h:1/webhooks/s");
        assert_eq!(endpoint("http://h/webhooks", "s"), "http://h/webhooks/s");
        assert_eq!(endpoint("http://h/x/{shop_id}/y", "s"), "http://h/x/s/y");
    }

    #[test]
    fn current_secret_prefers_the_open_ended_newest() {
        let now = OffsetDateTime::from_unix_timestamp(1_750_000_000).unwrap();
        let secret = |s: &str, until: Option<&str>| WebhookSecret {
            secret: Secret::new(s),
            valid_until: until.map(str::to_owned),
        };
        let secrets = vec![
            secret("whsec_old", Some("2025-06-20T00:00:00Z")),
            secret("whsec_new", None),
        ];
        assert_eq!(current_secret(&secrets, now).unwrap().expose(), "whsec_new");
        let only_expiring = vec![
            secret("whsec_a", Some("2025-06-20T00:00:00Z")),
            secret("whsec_b", Some("2025-06-25T00:00:00Z")),
            secret("whsec_c", Some("2020-01-01T00:00:00Z")),
        ];
        assert_eq!(
            current_secret(&only_expiring, now).unwrap().expose(),
            "whsec_b"
        );
        assert!(current_secret(&only_expiring[2..], now).is_none());
    }
}
