//! Prints each order's label change as it happens (local stack only: it
//! scans the orders table, which is fine for a demo and never done in AWS).

use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;
use std::time::Duration;

/// One line per change: time, shop, order, label, and what came with it.
pub async fn print_label_changes(dynamodb: aws_sdk_dynamodb::Client, orders_table: String) {
    let mut seen: HashMap<(String, String), String> = HashMap::new();
    loop {
        match snapshot(&dynamodb, &orders_table).await {
            Ok(rows) => {
                for row in rows {
                    let key = (row.shop_id.clone(), row.order_id.clone());
                    let state = format!("{}|{}", row.label, row.detail);
                    if seen.get(&key) != Some(&state) {
                        println!(
                            "{}  {:<14} {:<18} {:<20} {}",
                            clock(),
                            row.shop_id,
                            row.order_id,
                            row.label,
                            row.detail
                        );
                        seen.insert(key, state);
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "label watch: scan failed"),
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

struct Row {
    shop_id: String,
    order_id: String,
    label: String,
    detail: String,
}

async fn snapshot(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let mut start: Option<HashMap<String, AttributeValue>> = None;
    loop {
        let page = dynamodb
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|e| aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())?;
        for item in page.items.unwrap_or_default() {
            match bridge::adapters::dynamodb::item::order_record(&item) {
                Ok(record) => rows.push(describe(record)),
                Err(error) => tracing::debug!(%error, "unreadable order record"),
            }
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    Ok(rows)
}

fn describe(record: bridge::domain::lifecycle::OrderRecord) -> Row {
    let detail = match record.label {
        bridge::domain::lifecycle::Label::Ok => {
            let mut parts = Vec::new();
            if let Some(n) = record.draft_invoice_number {
                parts.push(format!("draft invoice {n}"));
            }
            if let Some(n) = record.booked_invoice_number {
                parts.push(format!("booked invoice {n}"));
            }
            if let Some(n) = record.customer_number {
                parts.push(format!("debtor {n}"));
            }
            if let Some(n) = record.economic_calls {
                parts.push(format!("{n} e-conomic call(s)"));
            }
            parts.join(", ")
        }
        bridge::domain::lifecycle::Label::Failed => record.last_error.unwrap_or_default(),
        _ => match (record.attempts, record.last_error) {
            (0, _) => "waiting for transfer".to_owned(),
            (n, Some(error)) => format!("attempt {n} failed, will retry: {error}"),
            (n, None) => format!("attempt {n}"),
        },
    };
    Row {
        shop_id: record.shop_id,
        order_id: record.order_id,
        label: record.label.as_str().to_owned(),
        detail,
    }
}

fn clock() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second())
}
