//! `orders list|show|resend`.

use crate::cli::OrdersCommand;
use crate::error::{CliError, Status};
use crate::output::{age, table, timestamp, truncate, Tone};
use crate::{now_epoch, Ctx};
use bridge::adapters::dynamodb::operator::RequeueRefused;
use bridge::adapters::dynamodb::DynamoOrderStore;
use bridge::adapters::sqs::SqsTransferQueue;
use bridge::domain::lifecycle::{Label, OrderRecord};
use bridge::domain::notify::{Channel, DeliveryState, NotificationRecord};
use bridge::ports::{Cause, NotificationStore, OrderMessage, TransferQueue};
use serde_json::{json, Value};

/// A re-sent order becomes due for rescan after this long, so it is picked
/// up again even if the queue message is lost.
pub const RESEND_RESCAN_DELAY_SECONDS: i64 = 600;

pub async fn run(ctx: &Ctx, command: OrdersCommand) -> Result<Status, CliError> {
    match command {
        OrdersCommand::List { shop, label, limit } => {
            list(ctx, &shop, label.map(|l| l.label()), limit).await
        }
        OrdersCommand::Show { shop, order_id } => show(ctx, &shop, &order_id).await,
        OrdersCommand::Resend {
            shop,
            order_id,
            all_failed,
        } => {
            if all_failed {
                resend_all_failed(ctx, &shop).await
            } else {
                let order_id = order_id.ok_or_else(|| {
                    CliError::Config("give an ORDER_ID or --all-failed".to_owned())
                })?;
                resend(ctx, &shop, &[order_id]).await
            }
        }
        OrdersCommand::Erase {
            shop,
            customer_email,
            dry_run,
        } => erase(ctx, &shop, &customer_email, dry_run).await,
    }
}

/// Erases the customer's personal data from the shop's finished orders;
/// unfinished ones (recorded, pending, or held by a transfer) are listed
/// and left for a later run.
async fn erase(ctx: &Ctx, shop_id: &str, email: &str, dry_run: bool) -> Result<Status, CliError> {
    use bridge::domain::personal_data::{
        erased_snapshot, is_erased, scrub_email, snapshot_mentions_email, ERASED_HISTORY,
    };
    if !email.contains('@') || email.trim().len() < 3 {
        return Err(CliError::Config(
            "--customer-email: expected an e-mail address".to_owned(),
        ));
    }
    let shop = super::shops::load(ctx, shop_id).await?;
    let store = ctx.operator_store()?;
    let now = now_epoch();
    let erased_at = timestamp(now);
    let (mut erased, mut unfinished) = (Vec::new(), Vec::new());
    let mut start = None;
    loop {
        let (records, next) = store
            .orders_page(shop_id, start)
            .await
            .map_err(|e| ctx.orders_error(e))?;
        for record in records {
            let Some(snapshot) = record.snapshot.as_deref() else {
                continue;
            };
            if is_erased(snapshot) || !snapshot_mentions_email(snapshot, email) {
                continue;
            }
            if !matches!(record.label, Label::Ok | Label::Failed) {
                unfinished.push((record.order_id.clone(), record.label));
                continue;
            }
            if !dry_run {
                let order =
                    bridge::domain::platform::order_from_snapshot(snapshot, shop.platform.as_ref())
                        .ok();
                let remains = erased_snapshot(
                    &record.order_id,
                    order.as_ref().map(|o| o.currency.as_str()),
                    order.as_ref().map(|o| o.total),
                    &erased_at,
                );
                let reason = record.last_error.as_deref().map(|r| scrub_email(r, email));
                let done = store
                    .erase_personal_data(
                        shop_id,
                        &record.order_id,
                        &remains,
                        reason.as_deref(),
                        ERASED_HISTORY,
                        now,
                    )
                    .await
                    .map_err(|e| ctx.orders_error(e))?;
                if !done {
                    // Re-sent or taken by a transfer meanwhile.
                    unfinished.push((record.order_id.clone(), Label::Pending));
                    continue;
                }
            }
            erased.push(record.order_id.clone());
        }
        start = next;
        if start.is_none() {
            break;
        }
    }
    let unfinished_ids: Vec<&str> = unfinished.iter().map(|(id, _)| id.as_str()).collect();
    if ctx.printer.json {
        ctx.printer.print_json(&json!({
            "shop_id": shop_id,
            "dry_run": dry_run,
            "erased": erased,
            "unfinished": unfinished_ids,
        }));
    } else {
        let verb = if dry_run { "would erase" } else { "erased" };
        for order_id in &erased {
            outln!("{order_id}: {verb}");
        }
        for (order_id, label) in &unfinished {
            outln!(
                "{order_id}: not finished ({}): run again once it is ok or failed",
                label.as_str()
            );
        }
        outln!(
            "{} order(s) {verb}, {} not finished; the customer's data in e-conomic (debtor, invoices) is the books' and stays",
            erased.len(),
            unfinished.len()
        );
    }
    Ok(Status::problems_if(!unfinished.is_empty()))
}

fn invoice_text(order: &OrderRecord) -> String {
    match (order.booked_invoice_number, order.draft_invoice_number) {
        (Some(booked), _) => format!("booked {booked}"),
        (None, Some(draft)) => format!("draft {draft}"),
        (None, None) => String::new(),
    }
}

fn order_json(order: &OrderRecord, now: i64) -> Value {
    json!({
        "shop_id": order.shop_id,
        "order_id": order.order_id,
        "label": order.label.as_str(),
        "created_at": timestamp(order.created_at),
        "updated_at": timestamp(order.updated_at),
        "age_seconds": (now - order.created_at).max(0),
        "attempts": order.attempts,
        "reason": order.last_error,
        "draft_invoice_number": order.draft_invoice_number,
        "booked_invoice_number": order.booked_invoice_number,
    })
}

async fn list(
    ctx: &Ctx,
    shop: &str,
    label: Option<Label>,
    limit: usize,
) -> Result<Status, CliError> {
    // The newest `limit`, newest first: what the merchant just complained
    // about is on top.
    let orders = ctx
        .operator_store()?
        .list_for_shop(shop, label, limit)
        .await
        .map_err(|e| ctx.orders_error(e))?;
    let now = now_epoch();
    if ctx.printer.json {
        let items: Vec<Value> = orders.iter().map(|o| order_json(o, now)).collect();
        ctx.printer
            .print_json(&json!({ "shop_id": shop, "orders": items }));
        return Ok(Status::Clean);
    }
    if orders.is_empty() {
        outln!("no orders");
        return Ok(Status::Clean);
    }
    let rows: Vec<Vec<String>> = orders
        .iter()
        .map(|o| {
            vec![
                o.order_id.clone(),
                ctx.printer.label(o.label.as_str()),
                age(now, o.created_at),
                o.attempts.to_string(),
                invoice_text(o),
                truncate(o.last_error.as_deref().unwrap_or(""), 80),
            ]
        })
        .collect();
    out!(
        "{}",
        table(
            &["ORDER", "LABEL", "AGE", "ATTEMPTS", "INVOICE", "REASON"],
            &rows
        )
    );
    Ok(Status::Clean)
}

async fn show(ctx: &Ctx, shop: &str, order_id: &str) -> Result<Status, CliError> {
    let order = ctx
        .operator_store()?
        .get_order(shop, order_id)
        .await
        .map_err(|e| ctx.orders_error(e))?
        .ok_or_else(|| CliError::Failed(format!("no order {order_id} for shop {shop}")))?;
    let store = DynamoOrderStore::new(ctx.dynamodb.clone(), ctx.resolved.target.orders_table()?);
    let notifications = store
        .notifications(Channel::Notify, shop, order_id)
        .await
        .map_err(|e| ctx.orders_error(e))?;
    let write_backs = store
        .notifications(Channel::WriteBack, shop, order_id)
        .await
        .map_err(|e| ctx.orders_error(e))?;
    let now = now_epoch();
    let refunds = super::refunds::credit_notes(ctx, shop, order_id).await?;
    if ctx.printer.json {
        let mut value = order_json(&order, now);
        value["refunds"] = json!(refunds);
        value["events"] = json!(order.events);
        value["webhook_ids"] = json!(order.webhook_ids);
        value["customer_number"] = json!(order.customer_number);
        value["economic_calls"] = json!(order.economic_calls);
        value["create_started"] = json!(order.create_started);
        value["lease_until"] = json!(order.lease_until.map(timestamp));
        value["pending_since"] = json!(order.pending_since.map(timestamp));
        value["history"] = order
            .history
            .iter()
            .map(|h| json!({"at": timestamp(h.at), "what": h.what}))
            .collect();
        value["notifications"] = delivery_json(&notifications);
        value["write_backs"] = delivery_json(&write_backs);
        ctx.printer.print_json(&value);
        return Ok(Status::Clean);
    }
    let p = &ctx.printer;
    outln!("order:      {} (shop {})", order.order_id, order.shop_id);
    outln!("label:      {}", p.label(order.label.as_str()));
    if let Some(reason) = &order.last_error {
        outln!("reason:     {}", p.paint(reason, Tone::Bad));
    }
    outln!(
        "created:    {} ({} ago)",
        timestamp(order.created_at),
        age(now, order.created_at)
    );
    outln!("updated:    {}", timestamp(order.updated_at));
    outln!("events:     {}", order.events.join(", "));
    outln!("deliveries: {} webhook id(s)", order.webhook_ids.len());
    outln!("attempts:   {}", order.attempts);
    let invoice = invoice_text(&order);
    if !invoice.is_empty() {
        outln!("invoice:    {}", p.paint(&invoice, Tone::Good));
    }
    if let Some(customer) = order.customer_number {
        outln!("customer:   {customer}");
    }
    if let Some(calls) = order.economic_calls {
        outln!("e-conomic:  {calls} call(s) in the successful attempt");
    }
    if order.create_started {
        outln!("create:     started (a later attempt looks for an existing draft first)");
    }
    if let Some(lease) = order.lease_until.filter(|l| *l >= now) {
        outln!("lease:      held until {}", timestamp(lease));
    }
    super::refunds::print(ctx, order_id, &refunds);
    outln!("history:");
    for entry in &order.history {
        outln!(
            "  {}  {}",
            p.paint(&timestamp(entry.at), Tone::Dim),
            entry.what
        );
    }
    print_deliveries(
        ctx,
        "notifications (to the shop's notify URL):",
        &notifications,
    );
    print_deliveries(
        ctx,
        "write-backs (the label written into the shop's own order):",
        &write_backs,
    );
    Ok(Status::Clean)
}

fn delivery_json(records: &[NotificationRecord]) -> Value {
    records
        .iter()
        .map(|n| {
            json!({"sequence": n.sequence, "label": n.label, "state": n.state.as_str(),
                   "at": timestamp(n.at), "attempts": n.attempts,
                   "updated_at": timestamp(n.updated_at), "last_error": n.last_error})
        })
        .collect()
}

/// One channel's deliveries, each with its state and last error.
fn print_deliveries(ctx: &Ctx, heading: &str, records: &[NotificationRecord]) {
    let p = &ctx.printer;
    if !records.is_empty() {
        outln!("{heading}");
    }
    for n in records {
        let tone = match n.state {
            DeliveryState::Delivered => Tone::Good,
            DeliveryState::Queued
            | DeliveryState::Retrying
            | DeliveryState::Dropped
            | DeliveryState::Superseded => Tone::Dim,
            DeliveryState::DeadLettered | DeliveryState::NotQueued | DeliveryState::Refused => {
                Tone::Bad
            }
        };
        let error = n
            .last_error
            .as_deref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        outln!(
            "  #{} {}  {}  {} after {} attempt(s){error}",
            n.sequence,
            p.paint(&timestamp(n.at), Tone::Dim),
            n.label,
            p.paint(n.state.as_str(), tone),
            n.attempts
        );
    }
}

/// Puts a transfer message on the main queue (cause `resend`).
pub async fn enqueue(ctx: &Ctx, shop_id: &str, order_id: &str) -> Result<(), CliError> {
    let queue_url = ctx.resolved.target.queue_url()?;
    let message = OrderMessage {
        shop_id: shop_id.to_owned(),
        order_id: order_id.to_owned(),
        cause: Cause::Resend,
    };
    SqsTransferQueue::new(ctx.sqs.clone(), queue_url, "")
        .enqueue(&message)
        .await
        .map_err(|e| ctx.queue_error(e.to_string(), queue_url, "--queue-url", "QUEUE_URL"))
}

/// Label back to pending (history "re-sent by operator"). `Ok(Err(..))`:
/// refused, with the reason.
pub async fn requeue_label(
    ctx: &Ctx,
    shop_id: &str,
    order_id: &str,
) -> Result<Result<(), RequeueRefused>, CliError> {
    let now = now_epoch();
    ctx.operator_store()?
        .requeue_by_operator(shop_id, order_id, now, now + RESEND_RESCAN_DELAY_SECONDS)
        .await
        .map_err(|e| ctx.orders_error(e))
}

async fn resend(ctx: &Ctx, shop: &str, order_ids: &[String]) -> Result<Status, CliError> {
    // Fail on a missing queue before touching any label.
    ctx.resolved.target.queue_url()?;
    let bar = ctx.printer.progress(order_ids.len() as u64, "re-sending");
    let mut results = Vec::new();
    let mut problems = false;
    for order_id in order_ids {
        let outcome = match requeue_label(ctx, shop, order_id).await? {
            Ok(()) => {
                enqueue(ctx, shop, order_id).await?;
                Ok(())
            }
            Err(refused) => {
                problems = true;
                Err(refused.to_string())
            }
        };
        bar.inc(1);
        results.push((order_id.clone(), outcome));
    }
    bar.finish_and_clear();
    if ctx.printer.json {
        let items: Vec<Value> = results
            .iter()
            .map(|(id, r)| match r {
                Ok(()) => json!({"order_id": id, "resent": true}),
                Err(reason) => json!({"order_id": id, "resent": false, "reason": reason}),
            })
            .collect();
        ctx.printer
            .print_json(&json!({"shop_id": shop, "results": items}));
    } else {
        let sent = results.iter().filter(|(_, r)| r.is_ok()).count();
        for (id, result) in &results {
            match result {
                Ok(()) => outln!(
                    "{id}: {} and queued",
                    ctx.printer.label(Label::Pending.as_str())
                ),
                Err(reason) => outln!("{id}: {}", ctx.printer.paint(reason, Tone::Bad)),
            }
        }
        outln!("{sent} of {} order(s) re-sent", results.len());
    }
    Ok(Status::problems_if(problems))
}

async fn resend_all_failed(ctx: &Ctx, shop: &str) -> Result<Status, CliError> {
    let failed = ctx
        .operator_store()?
        .list_for_shop(shop, Some(Label::Failed), usize::MAX)
        .await
        .map_err(|e| ctx.orders_error(e))?;
    let ids: Vec<String> = failed.into_iter().map(|o| o.order_id).collect();
    resend(ctx, shop, &ids).await
}
