//! The Shopify Admin GraphQL API: `POST /admin/api/{version}/graphql.json`
//! with `X-Shopify-Access-Token`. One query reads the order's tags and
//! note, one mutation document removes the managed tags, adds the label's
//! and sets the note (its fields run in order). Throttling is cost based:
//! HTTP 200 with `errors[].extensions.code = "THROTTLED"` and the bucket in
//! `extensions.cost.throttleStatus`; mutation problems are `userErrors`.

use super::{retry_after, unreachable};
use crate::domain::lifecycle::Label;
use crate::domain::secret::Secret;
use crate::domain::write_back::{note_with_reason, tag_change};
use crate::ports::WriteOutcome;
use serde_json::{json, Value};
use std::time::Duration;

const ORDER_QUERY: &str = "query BridgeOrder($id: ID!) { order(id: $id) { id tags note } }";

pub(super) struct AdminApi<'a> {
    pub client: &'a reqwest::Client,
    pub endpoint: String,
    pub access_token: &'a Secret,
    pub timeout: Duration,
}

impl AdminApi<'_> {
    pub async fn write_label(
        &self,
        order_id: &str,
        label: Label,
        reason: Option<&str>,
    ) -> WriteOutcome {
        let gid = format!("gid://shopify/Order/{order_id}");
        let data = match self.graphql(ORDER_QUERY, json!({"id": gid})).await {
            Ok(data) => data,
            Err(outcome) => return outcome,
        };
        let order = &data["order"];
        if order.is_null() {
            return WriteOutcome::Refused(format!(
                "Shopify has no order {order_id} (deleted, or another store)"
            ));
        }
        let tags: Vec<String> = order["tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let change = tag_change(&tags, label);
        let note_reason = matches!(label, Label::Failed | Label::Cancelled)
            .then_some(reason.unwrap_or("no reason recorded"));
        let note = note_with_reason(order["note"].as_str(), note_reason);

        let mut declarations = vec!["$id: ID!"];
        let mut fields = Vec::new();
        let mut variables = json!({"id": gid});
        if !change.remove.is_empty() {
            declarations.push("$remove: [String!]!");
            fields.push(
                "removed: tagsRemove(id: $id, tags: $remove) { userErrors { field message } }",
            );
            variables["remove"] = json!(change.remove);
        }
        if let Some(tag) = &change.add {
            declarations.push("$add: [String!]!");
            fields.push("added: tagsAdd(id: $id, tags: $add) { userErrors { field message } }");
            variables["add"] = json!([tag]);
        }
        if let Some(note) = &note {
            declarations.push("$order: OrderInput!");
            fields.push("noted: orderUpdate(input: $order) { userErrors { field message } }");
            variables["order"] = json!({"id": gid, "note": note});
        }
        if fields.is_empty() {
            // Already showing the label (a repeated write-back).
            return WriteOutcome::Written;
        }
        let document = format!(
            "mutation BridgeLabel({}) {{ {} }}",
            declarations.join(", "),
            fields.join(" ")
        );
        let data = match self.graphql(&document, variables).await {
            Ok(data) => data,
            Err(outcome) => return outcome,
        };
        let problems: Vec<String> = ["removed", "added", "noted"]
            .iter()
            .filter_map(|field| data[*field]["userErrors"].as_array())
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .map(str::to_owned)
            .collect();
        if problems.is_empty() {
            WriteOutcome::Written
        } else {
            WriteOutcome::Refused(format!("Shopify: {}", problems.join("; ")))
        }
    }

    /// One GraphQL request: its `data`, or the outcome its failure means.
    async fn graphql(&self, query: &str, variables: Value) -> Result<Value, WriteOutcome> {
        let response = self
            .client
            .post(&self.endpoint)
            .timeout(self.timeout)
            .header("X-Shopify-Access-Token", self.access_token.expose())
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .map_err(|e| unreachable("Shopify", e))?;
        let status = response.status().as_u16();
        if status != 200 {
            let after = retry_after(&response);
            return Err(http_status(status, after));
        }
        let body: Value = response.json().await.map_err(|e| WriteOutcome::Retry {
            error: format!("Shopify answer unreadable: {}", e.without_url()),
            after_seconds: None,
        })?;
        if let Some(errors) = body["errors"].as_array().filter(|e| !e.is_empty()) {
            return Err(graphql_errors(errors, &body["extensions"]));
        }
        Ok(body["data"].clone())
    }
}

/// A non-200 answer.
fn http_status(status: u16, after: Option<u32>) -> WriteOutcome {
    let refused =
        |what: &str| WriteOutcome::Refused(format!("Shopify answered HTTP {status}: {what}"));
    match status {
        401 => refused("the access token was rejected"),
        402 => refused("the store is frozen (unpaid)"),
        403 => refused("the token lacks the write_orders scope"),
        404 => refused("no Admin API at this shop domain and version"),
        423 => refused("the store is locked"),
        429 | 500..=599 => WriteOutcome::Retry {
            error: format!("Shopify answered HTTP {status}"),
            after_seconds: after,
        },
        _ => refused("unexpected answer"),
    }
}

/// Top-level GraphQL errors: throttling (retry when the bucket holds the
/// query's cost again) and internal errors are retried, the rest refused.
fn graphql_errors(errors: &[Value], extensions: &Value) -> WriteOutcome {
    let codes: Vec<&str> = errors
        .iter()
        .filter_map(|e| e["extensions"]["code"].as_str())
        .collect();
    let messages: Vec<&str> = errors
        .iter()
        .filter_map(|e| e["message"].as_str())
        .collect();
    let text = format!("Shopify: {}", messages.join("; "));
    if codes.contains(&"THROTTLED") {
        let cost = &extensions["cost"];
        let requested = cost["requestedQueryCost"].as_f64().unwrap_or(0.0);
        let available = cost["throttleStatus"]["currentlyAvailable"]
            .as_f64()
            .unwrap_or(0.0);
        let restore = cost["throttleStatus"]["restoreRate"]
            .as_f64()
            .unwrap_or(0.0);
        let after =
            (restore > 0.0).then(|| ((requested - available).max(0.0) / restore).ceil() as u32 + 1);
        return WriteOutcome::Retry {
            error: text,
            after_seconds: after,
        };
    }
    if codes.contains(&"INTERNAL_SERVER_ERROR") {
        return WriteOutcome::Retry {
            error: text,
            after_seconds: None,
        };
    }
    WriteOutcome::Refused(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_waits_for_the_bucket_and_access_denied_is_final() {
        let throttled = graphql_errors(
            &[json!({"message": "Throttled", "extensions": {"code": "THROTTLED"}})],
            &json!({"cost": {"requestedQueryCost": 52, "actualQueryCost": null,
                "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 2.0, "restoreRate": 100.0}}}),
        );
        assert_eq!(
            throttled,
            WriteOutcome::Retry {
                error: "Shopify: Throttled".into(),
                after_seconds: Some(2)
            }
        );
        let denied = graphql_errors(
            &[
                json!({"message": "Access denied for order field.", "extensions": {"code": "ACCESS_DENIED"}}),
            ],
            &Value::Null,
        );
        assert!(matches!(denied, WriteOutcome::Refused(ref e) if e.contains("Access denied")));
        assert!(matches!(http_status(401, None), WriteOutcome::Refused(_)));
        assert!(matches!(http_status(404, None), WriteOutcome::Refused(_)));
        assert_eq!(
            http_status(429, Some(3)),
            WriteOutcome::Retry {
                error: "Shopify answered HTTP 429".into(),
                after_seconds: Some(3)
            }
        );
        assert!(matches!(http_status(502, None), WriteOutcome::Retry { .. }));
    }
}
