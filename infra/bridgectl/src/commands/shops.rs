//! `shops put|show|list|disable|enable|rotate-secret|check`.

use crate::cli::ShopsCommand;
use crate::error::{CliError, Status};
use crate::output::{table, Tone};
use crate::Ctx;
use base64::Engine as _;
use bridge::domain::secret::Secret;
use bridge::domain::shop::{PlatformConfig, ShopConfig, WebhookSecret};
use bridge::ports::ShopStore;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub async fn run(ctx: &Ctx, command: ShopsCommand) -> Result<Status, CliError> {
    match command {
        ShopsCommand::Put {
            file,
            allow_shared_reference,
        } => put(ctx, &file, allow_shared_reference).await,
        ShopsCommand::Show { shop_id } => show(ctx, &shop_id).await,
        ShopsCommand::List => list(ctx).await,
        ShopsCommand::Disable { shop_id } => set_enabled(ctx, &shop_id, false).await,
        ShopsCommand::Enable { shop_id } => set_enabled(ctx, &shop_id, true).await,
        ShopsCommand::RotateSecret { shop_id, grace } => rotate(ctx, &shop_id, grace).await,
        ShopsCommand::Check { shop_id } => super::check::run(ctx, &shop_id).await,
        ShopsCommand::Seal { shop_ids } => seal(ctx, shop_ids).await,
        ShopsCommand::RotateEconomicTokens { shop_id, no_verify } => {
            rotate_economic_tokens(ctx, &shop_id, !no_verify).await
        }
    }
}

/// Reads a shop file. Errors name the field and the line but never quote
/// values: the file holds secrets.
pub fn parse_shop_file(path: &Path) -> Result<ShopConfig, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Config(format!("cannot read {}: {e}", path.display())))?;
    let is_toml = path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("toml"));
    let config = if is_toml {
        parse_toml(&text)
    } else {
        parse_json(&text)
    }
    .map_err(|e| CliError::Config(format!("{}: {e}", path.display())))?;
    validate(&config).map_err(|e| CliError::Config(format!("{}: {e}", path.display())))?;
    Ok(config)
}

fn parse_json(text: &str) -> Result<ShopConfig, String> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        format!(
            "at `{}` (line {} column {}): {}",
            e.path(),
            inner.line(),
            inner.column(),
            redact_quoted(&inner.to_string())
        )
    })
}

fn parse_toml(text: &str) -> Result<ShopConfig, String> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let line = e
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1));
        // toml's Display quotes the offending source line, which may be a
        // secret: use only the message.
        match line {
            Some(line) => format!("line {line}: {}", redact_quoted(e.message())),
            None => redact_quoted(e.message()),
        }
    })
}

/// Replaces the content of `"..."` in a parser message with `…`, so a
/// misplaced secret is not echoed. Backtick-quoted names stay.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if inside {
                out.push('…');
            }
            inside = !inside;
            out.push(c);
        } else if !inside {
            out.push(c);
        }
    }
    out
}

/// Checks a parsed configuration for what serde cannot express.
pub fn validate(config: &ShopConfig) -> Result<(), String> {
    if let Some(notify) = &config.notify {
        notify.check().map_err(|e| e.to_string())?;
    }
    let id = &config.shop_id;
    if id.is_empty()
        || id.len() > 64
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
    {
        return Err(
            "shop_id must be 1 to 64 characters of letters, digits, '-', '_' or '.' \
             (it is part of the webhook URL)"
                .to_owned(),
        );
    }
    if config.webhook_secrets.is_empty() && config.platform.is_none() {
        return Err(
            "webhook_secrets is empty: add one `whsec_...` secret (or put the shop, then run \
             `bridgectl shops rotate-secret`), or set `platform` for Shopify or WooCommerce"
                .to_owned(),
        );
    }
    if let Some(platform) = &config.platform {
        validate_platform(platform)?;
    }
    for (i, secret) in config.webhook_secrets.iter().enumerate() {
        if !secret.secret.expose().starts_with("whsec_")
            || bridge::domain::webhook::sign(secret.secret.expose(), "check", 0, b"").is_none()
        {
            return Err(format!(
                "webhook_secrets[{i}].secret is not `whsec_` followed by base64"
            ));
        }
        if let Some(until) = &secret.valid_until {
            if OffsetDateTime::parse(until, &Rfc3339).is_err() {
                return Err(format!(
                    "webhook_secrets[{i}].valid_until is not an RFC 3339 time (e.g. 2025-07-01T12:00:00Z)"
                ));
            }
        }
    }
    if config.economic.app_secret_token.is_empty() {
        return Err("economic.app_secret_token is empty".to_owned());
    }
    if config.economic.agreement_grant_token.is_empty() {
        return Err("economic.agreement_grant_token is empty".to_owned());
    }
    config.mapping.check().map_err(|e| e.to_string())?;
    Ok(())
}

/// Checks the platform settings: a Shopify domain, at least one secret,
/// readable expiry times, and an event mapping that names something.
fn validate_platform(platform: &PlatformConfig) -> Result<(), String> {
    let write_back = match platform {
        PlatformConfig::Shopify(c) => c.write_back.as_ref().map(|w| w.check()),
        PlatformConfig::Woocommerce(c) => c.write_back.as_ref().map(|w| w.check()),
    };
    if let Some(Err(problem)) = write_back {
        return Err(format!("platform.{problem}"));
    }
    let (secrets, events, events_field) = match platform {
        PlatformConfig::Shopify(shopify) => {
            let domain = shopify.shop_domain.trim();
            let host_like = !domain.is_empty()
                && domain.len() <= 255
                && domain.contains('.')
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if !host_like {
                return Err(
                    "platform.shop_domain must be the store's domain as Shopify sends it in \
                     X-Shopify-Shop-Domain, e.g. my-store.myshopify.com"
                        .to_owned(),
                );
            }
            (&shopify.secrets, &shopify.topics, "platform.topics")
        }
        PlatformConfig::Woocommerce(woo) => (&woo.secrets, &woo.statuses, "platform.statuses"),
    };
    if secrets.is_empty() {
        return Err(format!(
            "platform.secrets is empty: add the {} webhook secret",
            match platform {
                PlatformConfig::Shopify(_) => "Shopify app's client secret (the",
                PlatformConfig::Woocommerce(_) => "WooCommerce webhook's secret (the",
            }
        ) + " key it signs webhooks with)");
    }
    for (i, secret) in secrets.iter().enumerate() {
        if secret.secret.expose().trim().is_empty() {
            return Err(format!("platform.secrets[{i}].secret is empty"));
        }
        if let Some(until) = &secret.valid_until {
            if OffsetDateTime::parse(until, &Rfc3339).is_err() {
                return Err(format!(
                    "platform.secrets[{i}].valid_until is not an RFC 3339 time (e.g. 2025-07-01T12:00:00Z)"
                ));
            }
        }
    }
    if events.is_empty() {
        return Err(format!(
            "{events_field} is empty: no event would ever record an order"
        ));
    }
    Ok(())
}

/// Problems with the platform settings that make orders wait forever or
/// every delivery fail: no event reaches the shop's trigger, or every
/// secret has expired.
pub fn platform_problems(config: &ShopConfig, now: OffsetDateTime) -> Vec<(String, String)> {
    let Some(platform) = &config.platform else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let (secrets, events, field, name) = match platform {
        PlatformConfig::Shopify(c) => (&c.secrets, &c.topics, "platform.topics", "Shopify topic"),
        PlatformConfig::Woocommerce(c) => (
            &c.secrets,
            &c.statuses,
            "platform.statuses",
            "WooCommerce status",
        ),
    };
    let trigger = config.trigger.event();
    if !events.values().any(|stage| stage.event() >= trigger) {
        problems.push((
            field.to_owned(),
            format!(
                "no {name} reaches the shop's trigger `{}`: orders would be recorded but never invoiced",
                trigger
            ),
        ));
    }
    let active = secrets.iter().any(|s| match &s.valid_until {
        None => true,
        Some(until) => OffsetDateTime::parse(until, &Rfc3339).is_ok_and(|t| t >= now),
    });
    if !active {
        problems.push((
            "platform.secrets".to_owned(),
            "every secret has expired: every delivery is refused with 401".to_owned(),
        ));
    }
    problems
}

/// A short one-way fingerprint so operators can tell secrets apart
/// without seeing them.
pub fn fingerprint(secret: &Secret) -> String {
    let digest = Sha256::digest(secret.expose().as_bytes());
    format!("[redacted sha256:{}]", hex::encode(&digest[..4]))
}

/// The configuration as JSON with every secret replaced by its
/// fingerprint (every secret [`ShopConfig::secrets_mut`] reaches, so a new
/// secret field is hidden here too).
pub fn redacted(config: &ShopConfig) -> Value {
    let mut shown = config.clone();
    for secret in shown.secrets_mut() {
        *secret = Secret::new(fingerprint(secret));
    }
    let mut value = serde_json::to_value(&shown).unwrap_or(Value::Null);
    if let Some(notify) = &config.notify {
        // The URL's query may carry the receiver's own token: not shown.
        let url = notify.url.split(['?', '#']).next().unwrap_or_default();
        value["notify"]["url"] = Value::String(url.to_owned());
    }
    value
}

async fn put(ctx: &Ctx, file: &Path, allow_shared_reference: bool) -> Result<Status, CliError> {
    let config = parse_shop_file(file)?;
    warn_if_plaintext(ctx);
    // Refused before anything is written: two shops sharing references on
    // one agreement can take each other's drafts on a retry or cancellation.
    let shared = super::check::shared_references(
        &config,
        &super::check::other_shops(ctx, &config.shop_id).await?,
    );
    if !shared.is_empty() {
        let messages: Vec<&str> = shared.iter().map(|p| p.message.as_str()).collect();
        if !allow_shared_reference {
            return Err(CliError::Config(format!(
                "{}. Nothing was stored. If the shops' order numbers can never be the same, \
                 pass --allow-shared-reference",
                messages.join("; ")
            )));
        }
        for message in messages {
            eprintln!("warning: {message} (stored anyway: --allow-shared-reference)");
        }
    }
    let store = ctx.shop_store()?;
    let existed = store
        .get(&config.shop_id)
        .await
        .map_err(|e| ctx.shops_error(e))?
        .is_some();
    store.put(&config).await.map_err(|e| ctx.shops_error(e))?;
    let action = if existed { "updated" } else { "added" };
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "shop_id": config.shop_id,
            "action": action,
            "enabled": config.enabled,
        }));
    } else {
        outln!(
            "shop {} {} ({})",
            config.shop_id,
            action,
            if config.enabled {
                "enabled"
            } else {
                "disabled"
            }
        );
        outln!("next: bridgectl shops check {}", config.shop_id);
    }
    Ok(Status::Clean)
}

pub async fn load(ctx: &Ctx, shop_id: &str) -> Result<ShopConfig, CliError> {
    ctx.shop_store()?
        .get(shop_id)
        .await
        .map_err(|e| ctx.shops_error(e))?
        .ok_or_else(|| {
            CliError::Failed(format!(
                "no shop {shop_id} in table {} (see `bridgectl shops list`)",
                ctx.resolved.target.shops_table.as_deref().unwrap_or("?")
            ))
        })
}

async fn show(ctx: &Ctx, shop_id: &str) -> Result<Status, CliError> {
    let config = load(ctx, shop_id).await?;
    let view = redacted(&config);
    if ctx.printer.json {
        ctx.printer.print_json(&view);
        return Ok(Status::Clean);
    }
    let now = OffsetDateTime::now_utc();
    outln!("shop:     {}", config.shop_id);
    outln!("name:     {}", config.display_name);
    outln!(
        "enabled:  {}",
        if config.enabled {
            ctx.printer.paint("yes", Tone::Good)
        } else {
            ctx.printer.paint("no (webhooks refused)", Tone::Bad)
        }
    );
    outln!("trigger:  {}", view["trigger"].as_str().unwrap_or("?"));
    match &config.platform {
        None => outln!(
            "platform: our own order contract (/webhooks/{})",
            config.shop_id
        ),
        Some(platform) => {
            let name = platform.platform();
            outln!(
                "platform: {} (/webhooks/{}/{name})",
                name.display_name(),
                config.shop_id
            );
            if let PlatformConfig::Shopify(shopify) = platform {
                outln!("  shop domain: {}", shopify.shop_domain);
            }
            let secrets = match platform {
                PlatformConfig::Shopify(c) => &c.secrets,
                PlatformConfig::Woocommerce(c) => &c.secrets,
            };
            for secret in secrets {
                outln!(
                    "  secret {}  {}",
                    fingerprint(&secret.secret),
                    secret_validity(secret, now)
                );
            }
            match platform {
                PlatformConfig::Shopify(c) => {
                    if let Some(w) = &c.write_back {
                        outln!(
                            "  write-back: labels as order tags and note (Admin API {}), token {}",
                            w.api_version,
                            fingerprint(&w.access_token)
                        );
                    }
                }
                PlatformConfig::Woocommerce(c) => {
                    if let Some(w) = &c.write_back {
                        outln!(
                            "  write-back: labels as order meta and notes ({}), key {}, secret {}",
                            view["platform"]["write_back"]["store_url"]
                                .as_str()
                                .unwrap_or("?"),
                            fingerprint(&w.consumer_key),
                            fingerprint(&w.consumer_secret)
                        );
                    }
                }
            }
        }
    }
    outln!("webhook secrets:");
    for secret in &config.webhook_secrets {
        outln!(
            "  {}  {}",
            fingerprint(&secret.secret),
            secret_validity(secret, now)
        );
    }
    if let Some(notify) = &config.notify {
        outln!(
            "notify:   {} (label notifications)",
            view["notify"]["url"].as_str().unwrap_or("?")
        );
        for secret in &notify.secrets {
            outln!(
                "  secret {}  {}",
                fingerprint(&secret.secret),
                secret_validity(secret, now)
            );
        }
    }
    outln!(
        "e-conomic tokens: app secret {}, agreement grant {}",
        fingerprint(&config.economic.app_secret_token),
        fingerprint(&config.economic.agreement_grant_token)
    );
    outln!("mapping:");
    let mapping = serde_json::to_string_pretty(&view["mapping"]).unwrap_or_default();
    for line in mapping.lines() {
        outln!("  {line}");
    }
    Ok(Status::Clean)
}

fn secret_validity(secret: &WebhookSecret, now: OffsetDateTime) -> String {
    match &secret.valid_until {
        None => "valid, no expiry".to_owned(),
        Some(until) => match OffsetDateTime::parse(until, &Rfc3339) {
            Ok(t) if t >= now => format!("valid until {until}"),
            Ok(_) => format!("expired {until}"),
            Err(_) => format!("invalid valid_until {until} (treated as expired)"),
        },
    }
}

async fn list(ctx: &Ctx) -> Result<Status, CliError> {
    let shops = ctx
        .shops_admin()?
        .list_shops()
        .await
        .map_err(|e| ctx.shops_error(e))?;
    if ctx.printer.json {
        let items: Vec<Value> = shops
            .iter()
            .map(|s| json!({"shop_id": s.shop_id, "enabled": s.enabled, "display_name": s.display_name}))
            .collect();
        ctx.printer.print_json(&json!({ "shops": items }));
        return Ok(Status::Clean);
    }
    if shops.is_empty() {
        outln!("no shops (add one with `bridgectl shops put FILE`)");
        return Ok(Status::Clean);
    }
    let rows: Vec<Vec<String>> = shops
        .iter()
        .map(|s| {
            vec![
                s.shop_id.clone(),
                if s.enabled {
                    ctx.printer.paint("enabled", Tone::Good)
                } else {
                    ctx.printer.paint("disabled", Tone::Bad)
                },
                s.display_name.clone(),
            ]
        })
        .collect();
    out!("{}", table(&["SHOP", "STATE", "NAME"], &rows));
    Ok(Status::Clean)
}

async fn set_enabled(ctx: &Ctx, shop_id: &str, enabled: bool) -> Result<Status, CliError> {
    let found = ctx
        .shops_admin()?
        .set_enabled(shop_id, enabled)
        .await
        .map_err(|e| ctx.shops_error(e))?;
    if !found {
        return Err(CliError::Failed(format!(
            "no shop {shop_id} (see `bridgectl shops list`)"
        )));
    }
    let state = if enabled { "enabled" } else { "disabled" };
    if ctx.printer.json {
        ctx.printer
            .print_json(&json!({"shop_id": shop_id, "enabled": enabled}));
    } else {
        outln!("shop {shop_id} {state}");
    }
    Ok(Status::Clean)
}

/// A fresh `whsec_` secret from 32 random bytes.
pub fn new_webhook_secret() -> Secret {
    let bytes: [u8; 32] = rand::random();
    Secret::new(format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// Adds `new` and limits every other still-valid secret to `now + grace`;
/// drops secrets that expired already.
pub fn rotate_secrets(
    secrets: &[WebhookSecret],
    new: Secret,
    now: OffsetDateTime,
    grace_seconds: i64,
) -> Result<(Vec<WebhookSecret>, String), CliError> {
    let until = now + time::Duration::seconds(grace_seconds);
    let until_text = until
        .replace_nanosecond(0)
        .unwrap_or(until)
        .format(&Rfc3339)
        .map_err(|e| CliError::Failed(format!("cannot format time: {e}")))?;
    let mut kept = Vec::new();
    for secret in secrets {
        let current_end = match &secret.valid_until {
            None => None,
            Some(text) => match OffsetDateTime::parse(text, &Rfc3339) {
                Ok(t) if t >= now => Some(t),
                // Expired or unreadable: already refused by verification.
                _ => continue,
            },
        };
        let valid_until = match current_end {
            Some(t) if t <= until => secret.valid_until.clone(),
            _ => Some(until_text.clone()),
        };
        kept.push(WebhookSecret {
            secret: secret.secret.clone(),
            valid_until,
        });
    }
    kept.push(WebhookSecret {
        secret: new,
        valid_until: None,
    });
    Ok((kept, until_text))
}

async fn rotate(ctx: &Ctx, shop_id: &str, grace_seconds: i64) -> Result<Status, CliError> {
    let mut config = load(ctx, shop_id).await?;
    let new = new_webhook_secret();
    let (secrets, old_valid_until) = rotate_secrets(
        &config.webhook_secrets,
        new.clone(),
        OffsetDateTime::now_utc(),
        grace_seconds,
    )?;
    let previous = secrets.len() - 1;
    config.webhook_secrets = secrets;
    warn_if_plaintext(ctx);
    ctx.shop_store()?
        .put(&config)
        .await
        .map_err(|e| ctx.shops_error(e))?;
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "shop_id": shop_id,
            "secret": new.expose(),
            "previous_secrets": previous,
            "previous_valid_until": old_valid_until,
        }));
    } else {
        // The secret alone on stdout (pipe-friendly); the rest on stderr.
        outln!("{}", new.expose());
        eprintln!(
            "new webhook secret for {shop_id} printed above; it is shown only this once: \
             give it to the shop now."
        );
        if previous > 0 {
            eprintln!("{previous} previous secret(s) stay valid until {old_valid_until}.");
        }
    }
    Ok(Status::Clean)
}

/// Seals the named shops (or all) whose secrets are still in plaintext.
async fn seal(ctx: &Ctx, shop_ids: Vec<String>) -> Result<Status, CliError> {
    if ctx.resolved.target.secrets_key_id.is_none() {
        return Err(CliError::Config(NO_SECRETS_KEY.to_owned()));
    }
    let store = ctx.shop_store()?;
    let shop_ids = if shop_ids.is_empty() {
        ctx.shops_admin()?
            .list_shops()
            .await
            .map_err(|e| ctx.shops_error(e))?
            .into_iter()
            .map(|s| s.shop_id)
            .collect()
    } else {
        shop_ids
    };
    let (mut sealed, mut already, mut missing) = (Vec::new(), Vec::new(), Vec::new());
    for shop_id in shop_ids {
        match store
            .is_sealed(&shop_id)
            .await
            .map_err(|e| ctx.shops_error(e))?
        {
            None => missing.push(shop_id),
            Some(true) => already.push(shop_id),
            Some(false) => {
                let config = load(ctx, &shop_id).await?;
                store.put(&config).await.map_err(|e| ctx.shops_error(e))?;
                sealed.push(shop_id);
            }
        }
    }
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "sealed": sealed, "already_sealed": already, "not_found": missing,
        }));
    } else {
        for shop_id in &sealed {
            outln!("{shop_id}: sealed");
        }
        for shop_id in &already {
            outln!("{shop_id}: already sealed");
        }
        for shop_id in &missing {
            outln!("{shop_id}: no such shop");
        }
        outln!(
            "{} sealed, {} already sealed, {} not found",
            sealed.len(),
            already.len(),
            missing.len()
        );
    }
    Ok(Status::problems_if(!missing.is_empty()))
}

/// What `rotate-economic-tokens` reads from stdin.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEconomicTokens {
    app_secret_token: Secret,
    agreement_grant_token: Secret,
}

async fn rotate_economic_tokens(
    ctx: &Ctx,
    shop_id: &str,
    verify: bool,
) -> Result<Status, CliError> {
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
        .map_err(|e| CliError::Config(format!("cannot read stdin: {e}")))?;
    // Never echo the input: it is the tokens.
    let tokens: NewEconomicTokens = serde_json::from_str(&input).map_err(|e| {
        CliError::Config(format!(
            "stdin: expected {{\"app_secret_token\": \"…\", \"agreement_grant_token\": \"…\"}} \
             (line {} column {})",
            e.line(),
            e.column()
        ))
    })?;
    if tokens.app_secret_token.is_empty() || tokens.agreement_grant_token.is_empty() {
        return Err(CliError::Config(
            "stdin: both tokens must be non-empty".to_owned(),
        ));
    }
    let mut config = load(ctx, shop_id).await?;
    config.economic = bridge::domain::shop::EconomicCredentials {
        app_secret_token: tokens.app_secret_token,
        agreement_grant_token: tokens.agreement_grant_token,
    };
    if verify {
        super::check::verify_tokens(ctx, &config).await?;
    }
    warn_if_plaintext(ctx);
    ctx.shop_store()?
        .put(&config)
        .await
        .map_err(|e| ctx.shops_error(e))?;
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "shop_id": shop_id,
            "verified": verify,
            "app_secret_token": fingerprint(&config.economic.app_secret_token),
            "agreement_grant_token": fingerprint(&config.economic.agreement_grant_token),
        }));
    } else {
        outln!(
            "shop {shop_id}: e-conomic tokens replaced ({}){}",
            fingerprint(&config.economic.agreement_grant_token),
            if verify {
                ", checked against e-conomic"
            } else {
                ""
            }
        );
    }
    Ok(Status::Clean)
}

const NO_SECRETS_KEY: &str = "no KMS key to seal under: pass --secrets-key-id KEY, set \
     SECRETS_KEY_ID, or use --stack NAME (its SecretsKeyId output)";

/// A write without a KMS key stores the secrets in plaintext: say so.
fn warn_if_plaintext(ctx: &Ctx) {
    if ctx.resolved.target.secrets_key_id.is_none() {
        eprintln!("warning: {NO_SECRETS_KEY}; this shop's secrets are stored in plaintext");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform_shop(platform: Value) -> Result<ShopConfig, String> {
        let config = json!({
            "shop_id": "butik",
            "trigger": "paid",
            "economic": {"app_secret_token": "a", "agreement_grant_token": "g"},
            "mapping": {},
            "platform": platform,
        });
        let config: ShopConfig = serde_json::from_value(config).map_err(|e| e.to_string())?;
        validate(&config)?;
        Ok(config)
    }

    #[test]
    fn platform_shops_need_no_own_secret_but_their_platforms_settings() {
        let shopify = platform_shop(json!({"kind": "shopify",
            "shop_domain": "butik.myshopify.com", "secrets": [{"secret": "shpss_top_secret"}]}))
        .unwrap();
        let view = redacted(&shopify);
        let secret = view["platform"]["secrets"][0]["secret"].as_str().unwrap();
        assert!(secret.starts_with("[redacted sha256:"), "{secret}");
        assert!(!view.to_string().contains("shpss_top_secret"));
        assert!(platform_problems(&shopify, OffsetDateTime::now_utc()).is_empty());

        let no_domain = platform_shop(json!({"kind": "shopify", "shop_domain": "https://x/",
            "secrets": [{"secret": "s"}]}));
        assert!(no_domain.unwrap_err().contains("platform.shop_domain"));
        let no_secret = platform_shop(json!({"kind": "woocommerce", "secrets": []}));
        assert!(no_secret.unwrap_err().contains("platform.secrets is empty"));
        let bad_time = platform_shop(json!({"kind": "woocommerce",
            "secrets": [{"secret": "s", "valid_until": "soon"}]}));
        assert!(bad_time
            .unwrap_err()
            .contains("platform.secrets[0].valid_until"));
    }

    #[test]
    fn notify_targets_are_checked_and_their_secrets_and_query_never_shown() {
        let config = json!({
            "shop_id": "butik",
            "webhook_secrets": [{"secret": "whsec_c2hvcCBzZWNyZXQ="}],
            "economic": {"app_secret_token": "a", "agreement_grant_token": "g"},
            "mapping": {},
            "notify": {"url": "https://erp.example/hook?token=erp-token-123",
                       "secrets": [{"secret": "whsec_bm90aWZ5LXNlY3JldA=="}]},
        });
        let shop: ShopConfig = serde_json::from_value(config.clone()).unwrap();
        assert_eq!(validate(&shop), Ok(()));
        let view = redacted(&shop).to_string();
        assert!(!view.contains("bm90aWZ5LXNlY3JldA"), "{view}");
        assert!(!view.contains("erp-token-123"), "{view}");
        assert!(view.contains("https://erp.example/hook"), "{view}");

        let mut plain = config;
        plain["notify"]["url"] = json!("http://erp.example/hook");
        let shop: ShopConfig = serde_json::from_value(plain).unwrap();
        assert!(validate(&shop).unwrap_err().contains("notify.url"));
    }

    #[test]
    fn check_reports_a_platform_that_never_reaches_the_trigger_or_has_only_expired_secrets() {
        let woo = platform_shop(json!({"kind": "woocommerce",
            "secrets": [{"secret": "s", "valid_until": "2020-01-01T00:00:00Z"}],
            "statuses": {"pending": "created"}}))
        .unwrap();
        let problems = platform_problems(&woo, OffsetDateTime::now_utc());
        let fields: Vec<&str> = problems.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(fields, vec!["platform.statuses", "platform.secrets"]);
        assert!(
            problems[0].1.contains("never invoiced"),
            "{}",
            problems[0].1
        );
    }

    #[test]
    fn parser_messages_do_not_quote_values() {
        assert_eq!(
            redact_quoted(r#"invalid type: string "whsec_abc", expected u32"#),
            r#"invalid type: string "…", expected u32"#
        );
        assert_eq!(redact_quoted("unknown field `x`"), "unknown field `x`");
    }

    #[test]
    fn rotation_keeps_old_secrets_for_the_grace_period_only() {
        let now = OffsetDateTime::from_unix_timestamp(1_750_000_000).unwrap();
        let secrets = vec![
            WebhookSecret {
                secret: Secret::new("whsec_b2xk"),
                valid_until: None,
            },
            WebhookSecret {
                secret: Secret::new("whsec_ZXhwaXJlZA"),
                valid_until: Some("2020-01-01T00:00:00Z".to_owned()),
            },
            WebhookSecret {
                secret: Secret::new("whsec_c29vbg"),
                valid_until: Some("2025-06-15T16:00:00Z".to_owned()),
            },
        ];
        let (out, until) =
            rotate_secrets(&secrets, Secret::new("whsec_bmV3"), now, 86_400).unwrap();
        assert_eq!(until, "2025-06-16T15:06:40Z");
        assert_eq!(out.len(), 3, "the expired secret is dropped");
        assert_eq!(out[0].valid_until.as_deref(), Some("2025-06-16T15:06:40Z"));
        // An earlier expiry is never extended.
        assert_eq!(out[1].valid_until.as_deref(), Some("2025-06-15T16:00:00Z"));
        assert_eq!(out[2].secret.expose(), "whsec_bmV3");
        assert_eq!(out[2].valid_until, None);
    }

    #[test]
    fn new_secrets_are_32_random_bytes() {
        let a = new_webhook_secret();
        let b = new_webhook_secret();
        assert_ne!(a, b);
        let encoded = a.expose().strip_prefix("whsec_").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        assert_eq!(bytes.len(), 32);
    }
}
