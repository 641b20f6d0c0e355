//! Which deployment the commands act on: a CloudFormation stack's outputs,
//! the local stack's `.local/stack.env`, or explicit names (flags or the
//! environment variables the Lambdas use). `--local` and `--stack` exclude
//! each other; explicit names (flags or environment) win over either.
//!
//! With `--local` the file also decides the AWS region, endpoint and
//! credentials: the local stack's tables and queues live in moto under the
//! region it wrote, so a region, endpoint or profile from the operator's
//! shell (usually meant for a real account) must not redirect the commands.
//! Only `--region` overrides the file's region.

use crate::error::{classify_aws, CliError};
use crate::local_env;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::Credentials;
use clap::Args;
use std::path::PathBuf;

/// Stack output names read with `--stack` (as template.yaml declares them).
pub const OUTPUT_SHOPS_TABLE: &str = "ShopsTableName";
pub const OUTPUT_ORDERS_TABLE: &str = "OrdersTableName";
pub const OUTPUT_QUEUE_URL: &str = "TransferQueueUrl";
pub const OUTPUT_DEAD_LETTER_QUEUE_URL: &str = "DeadLetterQueueUrl";
pub const OUTPUT_WEBHOOK_URL: &str = "WebhookUrl";
pub const OUTPUT_ECONOMIC_BASE_URL: &str = "EconomicBaseUrl";
pub const OUTPUT_SECRETS_KEY_ID: &str = "SecretsKeyId";

/// Region used with `--local` when the env file names none (files written
/// before the local stack recorded its region).
pub const LOCAL_FALLBACK_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    /// CloudFormation stack whose outputs name the tables, queues and webhook URL.
    #[arg(long, global = true, value_name = "NAME")]
    pub stack: Option<String>,
    /// Use the local stack (reads .local/stack.env in this or a parent directory).
    #[arg(long, global = true)]
    pub local: bool,
    /// The local stack's env file (default: .local/stack.env, searched upwards).
    #[arg(long, global = true, value_name = "FILE", env = "BRIDGECTL_LOCAL_ENV")]
    pub local_env: Option<PathBuf>,
    #[arg(long, global = true, env = "SHOPS_TABLE", value_name = "NAME")]
    pub shops_table: Option<String>,
    #[arg(long, global = true, env = "ORDERS_TABLE", value_name = "NAME")]
    pub orders_table: Option<String>,
    #[arg(long, global = true, env = "QUEUE_URL", value_name = "URL")]
    pub queue_url: Option<String>,
    #[arg(long, global = true, env = "DEAD_LETTER_QUEUE_URL", value_name = "URL")]
    pub dlq_url: Option<String>,
    /// Base URL of the webhook API (`/webhooks/{shop_id}` is appended) or a
    /// URL containing `{shop_id}`.
    #[arg(long, global = true, env = "WEBHOOK_URL", value_name = "URL")]
    pub webhook_url: Option<String>,
    /// e-conomic REST base URL (for `shops check`; default the real API).
    #[arg(long, global = true, env = "ECONOMIC_BASE_URL", value_name = "URL")]
    pub economic_base_url: Option<String>,
    /// The KMS key shops' secrets are sealed under when a shop is written
    /// (`shops put`, `rotate-secret`, `seal`).
    #[arg(long, global = true, env = "SECRETS_KEY_ID", value_name = "KEY")]
    pub secrets_key_id: Option<String>,
    /// AWS region (default: the standard AWS configuration).
    #[arg(long, global = true, value_name = "REGION")]
    pub region: Option<String>,
}

/// Names resolved from all sources; any may be missing until a command
/// needs it.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub shops_table: Option<String>,
    pub orders_table: Option<String>,
    pub queue_url: Option<String>,
    pub dead_letter_queue_url: Option<String>,
    pub webhook_url: Option<String>,
    pub economic_base_url: Option<String>,
    pub secrets_key_id: Option<String>,
    pub endpoint_url: Option<String>,
    pub local: bool,
    pub stack: Option<String>,
}

impl Target {
    fn hint(&self, flag: &str, env: &str) -> String {
        format!("pass --stack NAME, --local, {flag} or set {env}")
    }

    pub fn shops_table(&self) -> Result<&str, CliError> {
        self.shops_table.as_deref().ok_or_else(|| {
            CliError::Config(format!(
                "no shops table: {}",
                self.hint("--shops-table", "SHOPS_TABLE")
            ))
        })
    }
    pub fn orders_table(&self) -> Result<&str, CliError> {
        self.orders_table.as_deref().ok_or_else(|| {
            CliError::Config(format!(
                "no orders table: {}",
                self.hint("--orders-table", "ORDERS_TABLE")
            ))
        })
    }
    pub fn queue_url(&self) -> Result<&str, CliError> {
        self.queue_url.as_deref().ok_or_else(|| {
            CliError::Config(format!(
                "no queue URL: {}",
                self.hint("--queue-url", "QUEUE_URL")
            ))
        })
    }
    pub fn dead_letter_queue_url(&self) -> Result<&str, CliError> {
        self.dead_letter_queue_url.as_deref().ok_or_else(|| {
            CliError::Config(format!(
                "no dead-letter queue URL: {}",
                self.hint("--dlq-url", "DEAD_LETTER_QUEUE_URL")
            ))
        })
    }
    pub fn webhook_url(&self) -> Result<&str, CliError> {
        self.webhook_url.as_deref().ok_or_else(|| {
            CliError::Config(format!(
                "no webhook URL: {}",
                self.hint("--webhook-url", "WEBHOOK_URL")
            ))
        })
    }

    /// Where to say a wrong name came from.
    pub fn source_hint(&self, flag: &str, env: &str) -> String {
        match (&self.stack, self.local) {
            (Some(stack), _) => format!("check --stack {stack}, {flag} or {env}"),
            (None, true) => {
                format!("check .local/stack.env (is the local stack running?), {flag} or {env}")
            }
            (None, false) => format!("check {flag} or {env}"),
        }
    }
}

/// The error when neither `--local`, `--stack` nor any table or queue name
/// is given.
pub const NO_TARGET: &str = "which deployment? pass --local (the local stack), --stack NAME \
     (a deployed CloudFormation stack), or the names: --shops-table/--orders-table/\
     --queue-url/--dlq-url (or SHOPS_TABLE, ORDERS_TABLE, QUEUE_URL, DEAD_LETTER_QUEUE_URL)";

/// AWS settings the local stack wrote into its env file.
#[derive(Debug, Default)]
struct LocalAws {
    region: Option<String>,
    endpoint_url: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
}

/// The AWS configuration plus the resolved names.
pub struct Resolved {
    pub sdk: SdkConfig,
    pub target: Target,
}

/// Reads the local env file, loads AWS configuration, reads stack outputs.
pub async fn resolve(args: &TargetArgs) -> Result<Resolved, CliError> {
    // An empty value (e.g. `SHOPS_TABLE=`) counts as not given.
    let given = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let mut target = Target {
        shops_table: given(&args.shops_table),
        orders_table: given(&args.orders_table),
        queue_url: given(&args.queue_url),
        dead_letter_queue_url: given(&args.dlq_url),
        webhook_url: given(&args.webhook_url),
        economic_base_url: given(&args.economic_base_url),
        secrets_key_id: given(&args.secrets_key_id),
        endpoint_url: None,
        local: args.local,
        stack: args.stack.clone(),
    };
    if args.local && args.stack.is_some() {
        return Err(CliError::Config(
            "--local and --stack exclude each other: choose one".to_owned(),
        ));
    }
    let any_name = [
        &target.shops_table,
        &target.orders_table,
        &target.queue_url,
        &target.dead_letter_queue_url,
    ]
    .iter()
    .any(|name| name.is_some());
    if !args.local && args.stack.is_none() && !any_name {
        // Say this before AWS credentials are looked for: without a target
        // there is nothing to sign in to.
        return Err(CliError::Config(NO_TARGET.to_owned()));
    }

    // What `--local` reads from the env file for the AWS configuration.
    let mut local_aws = LocalAws::default();
    if args.local {
        let path = match &args.local_env {
            Some(path) => path.clone(),
            None => {
                let cwd = std::env::current_dir().map_err(|e| {
                    CliError::Config(format!("cannot read the current directory: {e}"))
                })?;
                local_env::find_from(&cwd).ok_or_else(|| {
                    CliError::Config(format!(
                        "--local: no {} found in {} or its parents; start the local stack \
                         (infra/scripts/run-local.sh) or pass --local-env FILE",
                        local_env::RELATIVE_PATH,
                        cwd.display()
                    ))
                })?
            }
        };
        let entries = local_env::read(&path).map_err(|e| CliError::Config(e.to_string()))?;
        let value = |key: &str| entries.get(key).filter(|v| !v.is_empty()).cloned();
        let take = |slot: &mut Option<String>, key: &str| {
            if slot.is_none() {
                *slot = value(key);
            }
        };
        take(&mut target.shops_table, "SHOPS_TABLE");
        take(&mut target.orders_table, "ORDERS_TABLE");
        take(&mut target.queue_url, "QUEUE_URL");
        take(&mut target.dead_letter_queue_url, "DEAD_LETTER_QUEUE_URL");
        take(&mut target.webhook_url, "WEBHOOK_URL");
        take(&mut target.economic_base_url, "ECONOMIC_BASE_URL");
        take(&mut target.secrets_key_id, "SECRETS_KEY_ID");
        local_aws = LocalAws {
            region: value("AWS_REGION"),
            endpoint_url: value("AWS_ENDPOINT_URL"),
            access_key_id: value("AWS_ACCESS_KEY_ID"),
            secret_access_key: value("AWS_SECRET_ACCESS_KEY"),
        };
        target.endpoint_url = local_aws.endpoint_url.clone();
    }

    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    // --region, then (with --local) the env file's region, then the
    // standard chain (AWS_REGION, profile).
    if let Some(region) = given(&args.region).or_else(|| local_aws.region.clone()) {
        loader = loader.region(Region::new(region));
    }
    if let Some(endpoint) = &target.endpoint_url {
        loader = loader.endpoint_url(endpoint.clone());
    }
    let endpoint_in_env = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    if args.local {
        // moto accepts any credentials; the shell's (a real account's, maybe
        // an expired SSO session) have no business here.
        let (key, secret) = match (&local_aws.access_key_id, &local_aws.secret_access_key) {
            (Some(key), Some(secret)) => (key.clone(), secret.clone()),
            _ => ("local".to_owned(), "local".to_owned()),
        };
        loader = loader.credentials_provider(Credentials::new(
            key,
            secret,
            None,
            None,
            "bridgectl-local",
        ));
    } else if endpoint_in_env
        && std::env::var_os("AWS_ACCESS_KEY_ID").is_none()
        && std::env::var_os("AWS_PROFILE").is_none()
    {
        // An emulator named by AWS_ENDPOINT_URL: spare the operator from
        // inventing credentials.
        loader = loader.credentials_provider(Credentials::new(
            "local",
            "local",
            None,
            None,
            "bridgectl-local",
        ));
    }
    let mut sdk = loader.load().await;
    if sdk.region().is_none() {
        if args.local || endpoint_in_env {
            sdk = sdk
                .into_builder()
                .region(Region::new(LOCAL_FALLBACK_REGION))
                .build();
        } else {
            return Err(CliError::Config(
                "no AWS region: set AWS_REGION, AWS_PROFILE (with a region) or pass --region"
                    .to_owned(),
            ));
        }
    }
    check_credentials(&sdk).await?;

    if let Some(stack) = &args.stack {
        read_stack_outputs(&sdk, stack, &mut target).await?;
    }
    Ok(Resolved { sdk, target })
}

async fn check_credentials(sdk: &SdkConfig) -> Result<(), CliError> {
    let Some(provider) = sdk.credentials_provider() else {
        return Err(no_credentials(""));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| {
            no_credentials(&aws_credential_types::provider::error::CredentialsError::to_string(&e))
        })
}

fn no_credentials(detail: &str) -> CliError {
    let mut message = "no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and \
                       AWS_SECRET_ACCESS_KEY, or run `aws sso login`"
        .to_owned();
    if !detail.is_empty() {
        message.push_str(&format!(" ({detail})"));
    }
    CliError::Config(message)
}

async fn read_stack_outputs(
    sdk: &SdkConfig,
    stack: &str,
    target: &mut Target,
) -> Result<(), CliError> {
    let client = aws_sdk_cloudformation::Client::new(sdk);
    let out = client
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| {
            let detail = aws_sdk_cloudformation::error::DisplayErrorContext(e).to_string();
            classify_aws(
                &detail,
                &format!("stack {stack}"),
                "check --stack and AWS_REGION",
            )
        })?;
    let Some(found) = out.stacks().first() else {
        return Err(CliError::Config(format!(
            "stack {stack} does not exist (check --stack and AWS_REGION)"
        )));
    };
    for output in found.outputs() {
        let (Some(key), Some(value)) = (output.output_key(), output.output_value()) else {
            continue;
        };
        let slot = match key {
            OUTPUT_SHOPS_TABLE => &mut target.shops_table,
            OUTPUT_ORDERS_TABLE => &mut target.orders_table,
            OUTPUT_QUEUE_URL => &mut target.queue_url,
            OUTPUT_DEAD_LETTER_QUEUE_URL => &mut target.dead_letter_queue_url,
            OUTPUT_WEBHOOK_URL => &mut target.webhook_url,
            OUTPUT_ECONOMIC_BASE_URL => &mut target.economic_base_url,
            OUTPUT_SECRETS_KEY_ID => &mut target.secrets_key_id,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(value.to_owned());
        }
    }
    Ok(())
}
