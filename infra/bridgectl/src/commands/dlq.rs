//! `dlq list|replay`.
//!
//! Peeking: messages are received with a short visibility timeout and made
//! visible again at once (visibility 0) when the listing is done, so the
//! queue is left as it was (each message's receive count grows by one,
//! which the DLQ does not act on). A crash in between only hides them for
//! [`PEEK_VISIBILITY_SECONDS`].
//!
//! Replaying message by message: receive → label back to pending →
//! SendMessage to the transfer queue (same body and attributes) →
//! DeleteMessage from the DLQ, in that order. An interruption can leave a
//! message in both queues (a duplicate, harmless: transfer is idempotent),
//! never in neither.

use crate::cli::DlqCommand;
use crate::error::{CliError, Status};
use crate::output::{table, truncate, Tone};
use crate::Ctx;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageAttributeValue, QueueAttributeName,
};
use bridge::adapters::dynamodb::operator::RequeueRefused;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// How long a peeked or skipped message stays hidden if we crash before
/// releasing it.
pub const PEEK_VISIBILITY_SECONDS: i32 = 30;
/// Upper bound of messages one command looks at.
pub const MAX_MESSAGES: usize = 10_000;
/// Test hook: exit abruptly after this many SendMessage calls, before the
/// matching DeleteMessage — an interrupted replay.
pub const FAULT_ENV: &str = "BRIDGECTL_FAULT_EXIT_AFTER_SENDS";
/// Exit code of the fault hook.
pub const FAULT_EXIT_CODE: i32 = 70;

pub async fn run(ctx: &Ctx, command: DlqCommand) -> Result<Status, CliError> {
    match command {
        DlqCommand::List => list(ctx).await,
        DlqCommand::Replay {
            shop,
            reason,
            max,
            visibility_timeout,
        } => {
            let filter = Filter { shop, reason };
            replay(ctx, &filter, max, visibility_timeout).await
        }
    }
}

/// What a DLQ message says about its order.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub shop_id: String,
    pub order_id: String,
    pub reason: String,
}

fn string_attribute(message: &Message, name: &str) -> Option<String> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .filter(|v| *v != "-")
        .map(str::to_owned)
}

/// Attributes first, the JSON body as a fallback.
pub fn describe(message: &Message) -> DeadLetter {
    let body: Value = message
        .body()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let from_body = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    DeadLetter {
        shop_id: string_attribute(message, "shop_id")
            .or_else(|| from_body("shop_id"))
            .unwrap_or_else(|| "-".to_owned()),
        order_id: string_attribute(message, "order_id")
            .or_else(|| from_body("order_id"))
            .unwrap_or_else(|| "-".to_owned()),
        reason: string_attribute(message, "reason").unwrap_or_else(|| "(no reason)".to_owned()),
    }
}

fn sqs_error(ctx: &Ctx, url: &str, e: impl std::fmt::Display) -> CliError {
    let (flag, env) = if Some(url) == ctx.resolved.target.queue_url.as_deref() {
        ("--queue-url", "QUEUE_URL")
    } else {
        ("--dlq-url", "DEAD_LETTER_QUEUE_URL")
    };
    ctx.queue_error(e.to_string(), url, flag, env)
}

/// One batch from the DLQ, hidden for `visibility` seconds.
async fn receive(ctx: &Ctx, dlq: &str, visibility: i32) -> Result<Vec<Message>, CliError> {
    let out = ctx
        .sqs
        .receive_message()
        .queue_url(dlq)
        .max_number_of_messages(10)
        .visibility_timeout(visibility)
        // A short long-poll asks every SQS server, so an empty answer
        // means empty.
        .wait_time_seconds(1)
        .message_attribute_names("All")
        .send()
        .await
        .map_err(|e| sqs_error(ctx, dlq, aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    Ok(out.messages.unwrap_or_default())
}

/// Makes messages visible again now.
async fn release(ctx: &Ctx, dlq: &str, receipts: &[String]) -> Result<(), CliError> {
    for chunk in receipts.chunks(10) {
        let entries: Vec<ChangeMessageVisibilityBatchRequestEntry> = chunk
            .iter()
            .enumerate()
            .filter_map(|(i, handle)| {
                ChangeMessageVisibilityBatchRequestEntry::builder()
                    .id(format!("r{i}"))
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .build()
                    .ok()
            })
            .collect();
        ctx.sqs
            .change_message_visibility_batch()
            .queue_url(dlq)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| sqs_error(ctx, dlq, aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    }
    Ok(())
}

/// Every message currently in the DLQ, left visible again afterwards.
async fn peek_all(ctx: &Ctx, dlq: &str) -> Result<Vec<Message>, CliError> {
    let mut seen = HashSet::new();
    let mut messages = Vec::new();
    while messages.len() < MAX_MESSAGES {
        let batch = receive(ctx, dlq, PEEK_VISIBILITY_SECONDS).await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            let id = message.message_id().unwrap_or_default().to_owned();
            if seen.insert(id) {
                messages.push(message);
            }
        }
    }
    let receipts: Vec<String> = messages
        .iter()
        .filter_map(|m| m.receipt_handle().map(str::to_owned))
        .collect();
    release(ctx, dlq, &receipts).await?;
    Ok(messages)
}

/// Bracketed per-request ids that make each reason unique, such as the
/// `[log id …]` e-conomic's errors end with (bridge::adapters::economic::error).
const PER_REQUEST_ID_PREFIXES: [&str; 4] = ["log id", "request id", "trace id", "correlation id"];

/// The reason without per-request ids, so identical failures group together:
/// every `[log id …]` (or request / trace / correlation id) segment is
/// dropped with the space before it.
pub fn reason_group(reason: &str) -> String {
    let mut out = String::with_capacity(reason.len());
    let mut rest = reason;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            break;
        };
        let inside = after[..close].trim_start().to_ascii_lowercase();
        out.push_str(&rest[..open]);
        if PER_REQUEST_ID_PREFIXES
            .iter()
            .any(|prefix| inside.starts_with(prefix))
        {
            let kept = out.trim_end().len();
            out.truncate(kept);
        } else {
            out.push_str(&rest[open..open + 1 + close + 1]);
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out.trim().to_owned()
}

/// Messages with the same grouped reason for the same shop.
#[derive(Debug, Default)]
struct Group {
    count: usize,
    example_order_ids: Vec<String>,
    /// The full reasons (with their ids), distinct, sorted.
    reasons: BTreeSet<String>,
}

async fn list(ctx: &Ctx) -> Result<Status, CliError> {
    let dlq = ctx.resolved.target.dead_letter_queue_url()?;
    let messages = peek_all(ctx, dlq).await?;
    // (grouped reason, shop) → group
    let mut groups: BTreeMap<(String, String), Group> = BTreeMap::new();
    for message in &messages {
        let letter = describe(message);
        let group = groups
            .entry((reason_group(&letter.reason), letter.shop_id))
            .or_default();
        group.count += 1;
        if group.example_order_ids.len() < 5 && !group.example_order_ids.contains(&letter.order_id)
        {
            group.example_order_ids.push(letter.order_id);
        }
        group.reasons.insert(letter.reason);
    }
    let mut ordered: Vec<_> = groups.into_iter().collect();
    ordered.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(&b.0)));
    if ctx.printer.json {
        let items: Vec<Value> = ordered
            .iter()
            .map(|((reason, shop), group)| {
                json!({
                    "reason": reason,
                    "shop_id": shop,
                    "count": group.count,
                    "example_order_ids": group.example_order_ids,
                    "reasons": group.reasons,
                })
            })
            .collect();
        ctx.printer
            .print_json(&json!({"total": messages.len(), "groups": items}));
        return Ok(Status::Clean);
    }
    if messages.is_empty() {
        outln!("the dead-letter queue is empty");
        return Ok(Status::Clean);
    }
    let rows: Vec<Vec<String>> = ordered
        .iter()
        .map(|((reason, shop), group)| {
            vec![
                group.count.to_string(),
                shop.clone(),
                group.example_order_ids.join(" "),
                ctx.printer.paint(&truncate(reason, 90), Tone::Bad),
            ]
        })
        .collect();
    out!("{}", table(&["COUNT", "SHOP", "ORDERS", "REASON"], &rows));
    outln!("{} message(s)", messages.len());
    Ok(Status::Clean)
}

/// Which messages a replay moves.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub shop: Option<String>,
    pub reason: Option<String>,
}

impl Filter {
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        self.shop.as_deref().is_none_or(|s| s == letter.shop_id)
            && self
                .reason
                .as_deref()
                .is_none_or(|r| letter.reason.to_lowercase().contains(&r.to_lowercase()))
    }

    fn is_empty(&self) -> bool {
        self.shop.is_none() && self.reason.is_none()
    }
}

#[derive(Debug, Default)]
struct ReplayReport {
    moved: Vec<DeadLetter>,
    label_notes: Vec<(String, String, String)>,
    method: &'static str,
    task_handle: Option<String>,
}

async fn replay(
    ctx: &Ctx,
    filter: &Filter,
    max: Option<usize>,
    visibility_timeout: i32,
) -> Result<Status, CliError> {
    let dlq = ctx.resolved.target.dead_letter_queue_url()?.to_owned();
    let queue = ctx.resolved.target.queue_url()?.to_owned();
    ctx.resolved.target.orders_table()?;
    let mut report = ReplayReport::default();
    let mut done_labels: HashSet<(String, String)> = HashSet::new();

    if filter.is_empty() && max.is_none() {
        // Labels first, so label and queue agree once SQS moves them.
        for message in peek_all(ctx, &dlq).await? {
            let letter = describe(&message);
            requeue(ctx, &letter, &mut report, &mut done_labels).await?;
        }
        match start_move_task(ctx, &dlq, &queue).await {
            Ok(handle) => {
                report.method = "sqs-move-task";
                report.task_handle = Some(handle);
                print_replay(ctx, &report);
                return Ok(Status::problems_if(!report.label_notes.is_empty()));
            }
            Err(detail) => {
                tracing_note(
                    ctx,
                    &format!(
                        "SQS StartMessageMoveTask unavailable ({}); moving messages one by one",
                        truncate(&detail, 120)
                    ),
                );
            }
        }
    }

    report.method = "message-by-message";
    let fault_after: Option<usize> = std::env::var(FAULT_ENV).ok().and_then(|v| v.parse().ok());
    let mut sends = 0usize;
    let mut skipped: Vec<String> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let limit = max.unwrap_or(MAX_MESSAGES);
    let bar = ctx.printer.progress(0, "replaying");
    'outer: while report.moved.len() < limit {
        let batch = receive(ctx, &dlq, visibility_timeout).await?;
        if batch.is_empty() {
            break;
        }
        let mut fresh = false;
        for message in batch {
            let id = message.message_id().unwrap_or_default().to_owned();
            let Some(receipt) = message.receipt_handle().map(str::to_owned) else {
                continue;
            };
            if !seen.insert(id) {
                // Came back while we were working: just hide it again.
                skipped.push(receipt);
                continue;
            }
            fresh = true;
            let letter = describe(&message);
            if report.moved.len() >= limit || !filter.matches(&letter) {
                skipped.push(receipt);
                continue;
            }
            requeue(ctx, &letter, &mut report, &mut done_labels).await?;
            send_to_queue(ctx, &queue, &message).await?;
            sends += 1;
            if fault_after.is_some_and(|n| sends >= n) {
                eprintln!("bridgectl: fault hook {FAULT_ENV}: exiting between send and delete");
                std::process::exit(FAULT_EXIT_CODE);
            }
            ctx.sqs
                .delete_message()
                .queue_url(&dlq)
                .receipt_handle(&receipt)
                .send()
                .await
                .map_err(|e| sqs_error(ctx, &dlq, aws_sdk_sqs::error::DisplayErrorContext(e)))?;
            bar.inc(1);
            report.moved.push(letter);
            if report.moved.len() >= limit {
                // Release what else we are holding.
                continue;
            }
        }
        if !fresh {
            break 'outer;
        }
    }
    bar.finish_and_clear();
    release(ctx, &dlq, &skipped).await?;
    print_replay(ctx, &report);
    Ok(Status::problems_if(!report.label_notes.is_empty()))
}

fn tracing_note(ctx: &Ctx, text: &str) {
    if !ctx.printer.json {
        eprintln!("{}", ctx.printer.paint(text, Tone::Dim));
    }
}

/// Puts the order's label back to pending before its message moves. An
/// order that is already ok or gone is noted, and its message still moves
/// (transfer acknowledges it without acting): a replay never drops one.
async fn requeue(
    ctx: &Ctx,
    letter: &DeadLetter,
    report: &mut ReplayReport,
    done: &mut HashSet<(String, String)>,
) -> Result<(), CliError> {
    if letter.shop_id == "-" || letter.order_id == "-" {
        report.label_notes.push((
            letter.shop_id.clone(),
            letter.order_id.clone(),
            "message names no order".to_owned(),
        ));
        return Ok(());
    }
    if !done.insert((letter.shop_id.clone(), letter.order_id.clone())) {
        return Ok(());
    }
    match super::orders::requeue_label(ctx, &letter.shop_id, &letter.order_id).await? {
        Ok(()) => {}
        // Already ok: the replayed message is a harmless no-op.
        Err(RequeueRefused::AlreadyOk) => {}
        Err(refused) => report.label_notes.push((
            letter.shop_id.clone(),
            letter.order_id.clone(),
            refused.to_string(),
        )),
    }
    Ok(())
}

async fn send_to_queue(ctx: &Ctx, queue: &str, message: &Message) -> Result<(), CliError> {
    let attributes: HashMap<String, MessageAttributeValue> =
        message.message_attributes().cloned().unwrap_or_default();
    ctx.sqs
        .send_message()
        .queue_url(queue)
        .message_body(message.body().unwrap_or_default())
        .set_message_attributes((!attributes.is_empty()).then_some(attributes))
        .send()
        .await
        .map_err(|e| sqs_error(ctx, queue, aws_sdk_sqs::error::DisplayErrorContext(e)))?;
    Ok(())
}

async fn queue_arn(ctx: &Ctx, url: &str) -> Result<String, String> {
    let out = ctx
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("{url} has no QueueArn"))
}

/// SQS's own redrive. `Err` (with the detail) when the API is not
/// available, e.g. on moto, which answers 500 "not implemented".
async fn start_move_task(ctx: &Ctx, dlq: &str, queue: &str) -> Result<String, String> {
    let source = queue_arn(ctx, dlq).await?;
    let destination = queue_arn(ctx, queue).await?;
    let out = ctx
        .sqs
        .start_message_move_task()
        .source_arn(source)
        .destination_arn(destination)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
    Ok(out.task_handle().unwrap_or_default().to_owned())
}

fn print_replay(ctx: &Ctx, report: &ReplayReport) {
    let mut by_shop: BTreeMap<&str, usize> = BTreeMap::new();
    for letter in &report.moved {
        *by_shop.entry(&letter.shop_id).or_default() += 1;
    }
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "method": report.method,
            "task_handle": report.task_handle,
            "moved": report.moved.len(),
            "moved_by_shop": by_shop,
            "moved_orders": report.moved.iter().map(|l| json!({"shop_id": l.shop_id, "order_id": l.order_id})).collect::<Vec<_>>(),
            "label_problems": report.label_notes.iter().map(|(s, o, r)| json!({"shop_id": s, "order_id": o, "reason": r})).collect::<Vec<_>>(),
        }));
        return;
    }
    if let Some(handle) = &report.task_handle {
        outln!(
            "SQS is moving every dead-lettered message back to the transfer queue (task {handle})."
        );
    } else {
        outln!(
            "moved {} message(s) back to the transfer queue",
            report.moved.len()
        );
        for (shop, count) in &by_shop {
            outln!("  {shop}: {count}");
        }
    }
    for (shop, order, reason) in &report.label_notes {
        outln!(
            "{}",
            ctx.printer.paint(
                &format!("label not reset for {shop}/{order}: {reason}"),
                Tone::Warn
            )
        );
    }
}

#[cfg(test)]
mod tests {
    use super::reason_group;

    #[test]
    fn reason_group_drops_per_request_ids_only() {
        let a =
            "product NOPE does not exist (product) [log id c7ca5bc2-ad2d-4639-93f9-b22ba88c97d7]";
        let b =
            "product NOPE does not exist (product) [log id 0b1e2f3a-0000-4000-8000-000000000001]";
        assert_eq!(reason_group(a), "product NOPE does not exist (product)");
        assert_eq!(reason_group(a), reason_group(b));
        assert_eq!(
            reason_group("e-conomic had an internal error (500) [Request ID abc] retried"),
            "e-conomic had an internal error (500) retried"
        );
        // Other brackets, and unclosed ones, stay.
        assert_eq!(
            reason_group("field [lines[0].unit] is wrong [log id x"),
            "field [lines[0].unit] is wrong [log id x"
        );
        assert_eq!(reason_group("no ids here"), "no ids here");
        assert_eq!(reason_group(""), "");
    }
}
