//! What `orders show` adds for refunds: an order's credit notes (its
//! ledger, with each refund record's label), and for a refund record the
//! order it refunds.

use crate::error::CliError;
use crate::output::Tone;
use crate::Ctx;
use bridge::adapters::dynamodb::DynamoOrderStore;
use bridge::domain::order::refund::{refund_record_id, split_refund_record_id};
use bridge::ports::{CreditStore, OrderStore};
use serde_json::{json, Value};

/// The refunds of `order_id`, as JSON rows: refund id, credit note
/// reference, total, and the refund record's label and reason.
pub async fn credit_notes(ctx: &Ctx, shop: &str, order_id: &str) -> Result<Vec<Value>, CliError> {
    if split_refund_record_id(order_id).is_some() {
        return Ok(Vec::new());
    }
    let store = DynamoOrderStore::new(ctx.dynamodb.clone(), ctx.resolved.target.orders_table()?);
    let Some(account) = store
        .credit_account(shop, order_id)
        .await
        .map_err(|e| ctx.orders_error(e))?
    else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::new();
    for entry in &account.ledger.entries {
        let record = store
            .get(shop, &refund_record_id(order_id, &entry.refund_id))
            .await
            .map_err(|e| ctx.orders_error(e))?;
        rows.push(json!({
            "refund_id": entry.refund_id,
            "reference": entry.reference,
            "total": entry.total.to_string(),
            "label": record.as_ref().map(|r| r.label.as_str()),
            "reason": record.as_ref().and_then(|r| r.last_error.clone()),
            "draft_invoice_number": record.as_ref().and_then(|r| r.draft_invoice_number),
            "booked_invoice_number": record.as_ref().and_then(|r| r.booked_invoice_number),
        }));
    }
    Ok(rows)
}

/// Prints the refunds `credit_notes` found, or the refunded order of a
/// refund record.
pub fn print(ctx: &Ctx, order_id: &str, rows: &[Value]) {
    if let Some((order, refund)) = split_refund_record_id(order_id) {
        outln!("refund:     {refund} of order {order} (a credit note)");
        return;
    }
    if rows.is_empty() {
        return;
    }
    outln!("refunds:");
    for row in rows {
        let number = row["booked_invoice_number"]
            .as_u64()
            .map(|n| format!("booked {n}"))
            .or_else(|| {
                row["draft_invoice_number"]
                    .as_u64()
                    .map(|n| format!("draft {n}"))
            })
            .unwrap_or_default();
        let label = row["label"].as_str().unwrap_or("-");
        outln!(
            "  {}  {}  {}  {}  {}",
            row["refund_id"].as_str().unwrap_or_default(),
            row["total"].as_str().unwrap_or_default(),
            ctx.printer.label(label),
            row["reference"].as_str().unwrap_or_default(),
            ctx.printer.paint(&number, Tone::Good),
        );
        if let Some(reason) = row["reason"].as_str() {
            outln!("      {}", ctx.printer.paint(reason, Tone::Bad));
        }
    }
}
