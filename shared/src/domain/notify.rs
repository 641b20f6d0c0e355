//! Label notifications: every label change of an order, POSTed to the
//! shop's `notify` target and signed with Standard Webhooks, so the
//! merchant sees the label where they work (their shop, an ERP, a chat).
//!
//! Pure: the payload, its webhook id and the delivery states. Recording,
//! queueing and sending are ports ([`crate::ports::NotificationStore`],
//! [`crate::ports::NotificationQueue`], [`crate::ports::NotificationSender`]).
//! The payload's JSON Schema is `shared/contracts/label-notification.v1.schema.json`.

use crate::domain::lifecycle::{Label, PushOutcome};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The payload's `type`.
pub const EVENT_TYPE: &str = "order.label_changed";

/// The invoice a label `ok` points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceNumbers {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft_invoice_number: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booked_invoice_number: Option<u32>,
    /// The debtor (e-conomic customer number).
    pub customer_number: u32,
}

impl From<&PushOutcome> for InvoiceNumbers {
    fn from(outcome: &PushOutcome) -> Self {
        InvoiceNumbers {
            draft_invoice_number: outcome.draft_invoice_number,
            booked_invoice_number: outcome.booked_invoice_number,
            customer_number: outcome.customer_number,
        }
    }
}

/// One label change, as the bridge announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelChange {
    pub shop_id: String,
    pub order_id: String,
    pub label: Label,
    /// Why (failed, cancelled): words a merchant can act on.
    pub reason: Option<String>,
    /// The invoice (ok; cancelled after a draft was deleted: the old one).
    pub invoice: Option<InvoiceNumbers>,
}

impl LabelChange {
    pub fn new(shop_id: &str, order_id: &str, label: Label) -> Self {
        LabelChange {
            shop_id: shop_id.to_owned(),
            order_id: order_id.to_owned(),
            label,
            reason: None,
            invoice: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn with_invoice(mut self, invoice: InvoiceNumbers) -> Self {
        self.invoice = Some(invoice);
        self
    }
}

/// The POSTed body (Standard Webhooks' `{type, timestamp, data}` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    #[serde(rename = "type")]
    pub kind: String,
    /// When the label changed (RFC 3339, UTC).
    pub timestamp: String,
    pub data: PayloadData,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadData {
    pub shop_id: String,
    pub order_id: String,
    /// 1, 2, 3… per order, in the order the changes were recorded: a
    /// receiver keeps the highest it has seen and ignores lower ones.
    pub sequence: u64,
    pub label: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceNumbers>,
}

/// The body of notification `sequence` for `change`, recorded at `at`.
pub fn payload(change: &LabelChange, sequence: u64, at: OffsetDateTime) -> String {
    let payload = Payload {
        kind: EVENT_TYPE.to_owned(),
        timestamp: at
            .to_offset(time::UtcOffset::UTC)
            .replace_nanosecond(0)
            .unwrap_or(at)
            .format(&Rfc3339)
            .unwrap_or_default(),
        data: PayloadData {
            shop_id: change.shop_id.clone(),
            order_id: change.order_id.clone(),
            sequence,
            label: change.label.as_str().to_owned(),
            reason: change.reason.clone(),
            invoice: change.invoice.clone(),
        },
    };
    // Plain strings and integers: serialising cannot fail.
    serde_json::to_string(&payload).unwrap_or_default()
}

/// The notification's `webhook-id`: the same for every retry of one
/// notification, different for every notification (`ntf_` + 32 hex digits
/// of SHA-256 over shop, order and sequence).
pub fn webhook_id(shop_id: &str, order_id: &str, sequence: u64) -> String {
    let mut hash = Sha256::new();
    for part in [shop_id.as_bytes(), order_id.as_bytes()] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part);
    }
    hash.update(sequence.to_be_bytes());
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("ntf_{hex}")
}

/// Where a label change goes: the shop's `notify` URL (signed POST), or
/// written back into the shop's own orders ([`crate::domain::write_back`]).
/// Each channel numbers its own notifications, so a `notify` receiver sees
/// no gaps for write-backs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    #[default]
    Notify,
    WriteBack,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Notify => "notify",
            Channel::WriteBack => "write_back",
        }
    }

    pub fn is_notify(&self) -> bool {
        *self == Channel::Notify
    }

    /// Whether a change to the label last recorded is dropped as a repeat.
    /// A write-back is always made: it is idempotent, and a second
    /// `failed` (after a re-send the bridge does not write) must still
    /// replace the reason and take the merchant's re-send tag away.
    pub fn skips_repeats(self) -> bool {
        self == Channel::Notify
    }
}

/// Where one notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Recorded and on the notification queue.
    Queued,
    /// The receiver answered 2xx.
    Delivered,
    /// The last try failed; SQS delivers it again after a back-off.
    Retrying,
    /// Every try failed; the message is in the notification dead-letter
    /// queue (`bridgectl dlq` on that queue replays it).
    DeadLettered,
    /// Recorded, but the queue refused it: it is never sent (the receiver
    /// sees a gap in the sequence).
    NotQueued,
    /// The shop no longer has a `notify` target: dropped.
    Dropped,
    /// A write-back not made because a later label's write-back was
    /// recorded: that one writes the order's current label.
    Superseded,
    /// The shop refused the write-back for good (token rejected, access
    /// denied, the order deleted): not retried; the answer is shown.
    Refused,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Retrying => "retrying",
            DeliveryState::DeadLettered => "dead_lettered",
            DeliveryState::NotQueued => "not_queued",
            DeliveryState::Dropped => "dropped",
            DeliveryState::Superseded => "superseded",
            DeliveryState::Refused => "refused",
        }
    }

    pub fn parse(value: &str) -> Option<DeliveryState> {
        use DeliveryState::*;
        [
            Queued,
            Delivered,
            Retrying,
            DeadLettered,
            NotQueued,
            Dropped,
            Superseded,
            Refused,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// One notification of an order, as stored with the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    pub sequence: u64,
    pub label: String,
    pub state: DeliveryState,
    /// Epoch seconds of the label change.
    pub at: i64,
    /// POSTs made.
    pub attempts: u32,
    /// Epoch seconds of the last state change.
    pub updated_at: i64,
    /// The last failed try's answer (status or connection error).
    pub last_error: Option<String>,
}

/// A delivery attempt's result, for the order's notification record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub state: DeliveryState,
    /// POSTs made so far (the message's receive count).
    pub attempts: u32,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::Secret;
    use crate::domain::shop::{NotifyTarget, NotifyTargetError, WebhookSecret};

    fn secret(value: &str) -> WebhookSecret {
        WebhookSecret {
            secret: Secret::new(value),
            valid_until: None,
        }
    }

    #[test]
    fn the_payload_names_the_label_invoice_and_sequence() {
        let change = LabelChange::new("acme", "1001", Label::Ok).with_invoice(InvoiceNumbers {
            draft_invoice_number: Some(7),
            booked_invoice_number: None,
            customer_number: 42,
        });
        let at = time::macros::datetime!(2026-11-29 08:00:01.5 UTC);
        let body: serde_json::Value = serde_json::from_str(&payload(&change, 2, at)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "type": "order.label_changed",
                "timestamp": "2026-11-29T08:00:01Z",
                "data": {"shop_id": "acme", "order_id": "1001", "sequence": 2,
                         "label": "e-conomic-ok",
                         "invoice": {"draft_invoice_number": 7, "customer_number": 42}}
            })
        );
        let failed = LabelChange::new("acme", "1001", Label::Failed).with_reason("VAT number");
        let body: serde_json::Value = serde_json::from_str(&payload(&failed, 3, at)).unwrap();
        assert_eq!(body["data"]["reason"], "VAT number");
        assert!(body["data"].get("invoice").is_none());
    }

    #[test]
    fn webhook_ids_differ_per_notification_and_repeat_per_retry() {
        let a = webhook_id("acme", "1001", 1);
        assert_eq!(a, webhook_id("acme", "1001", 1));
        assert_ne!(a, webhook_id("acme", "1001", 2));
        assert_ne!(a, webhook_id("acme", "10011", 1));
        // Length-prefixed: ("ab","c") and ("a","bc") differ.
        assert_ne!(webhook_id("ab", "c", 1), webhook_id("a", "bc", 1));
        assert!(a.starts_with("ntf_") && a.len() == 4 + 32, "{a}");
    }

    #[test]
    fn targets_need_https_and_usable_secrets_and_debug_hides_them() {
        let target = NotifyTarget {
            url: "https://erp.example/hooks/bridge?token=abc".into(),
            secrets: vec![secret("whsec_c2VjcmV0IGtleQ==")],
        };
        assert_eq!(target.check(), Ok(()));
        let shown = format!("{target:?}");
        assert!(shown.contains("erp.example"), "{shown}");
        assert!(
            !shown.contains("token=abc") && !shown.contains("c2VjcmV0"),
            "{shown}"
        );

        let local = NotifyTarget {
            url: "http://127.0.0.1:8080/x".into(),
            ..target.clone()
        };
        assert_eq!(local.check(), Ok(()));
        let plain = NotifyTarget {
            url: "http://erp.example/x".into(),
            ..target.clone()
        };
        assert_eq!(plain.check(), Err(NotifyTargetError::Url));
        let bad = NotifyTarget {
            secrets: vec![secret("whsec_c2VjcmV0"), secret("plain")],
            ..target.clone()
        };
        assert_eq!(bad.check(), Err(NotifyTargetError::BadSecret(1)));
        let none = NotifyTarget {
            secrets: vec![],
            ..target
        };
        assert_eq!(none.check(), Err(NotifyTargetError::NoSecret));
    }

    #[test]
    fn delivery_states_round_trip() {
        use DeliveryState::*;
        for state in [
            Queued,
            Delivered,
            Retrying,
            DeadLettered,
            NotQueued,
            Dropped,
            Superseded,
            Refused,
        ] {
            assert_eq!(DeliveryState::parse(state.as_str()), Some(state));
        }
        assert_eq!(DeliveryState::parse("lost"), None);
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;

    /// The published schema (`shared/contracts/label-notification.v1.schema.json`).
    fn schema() -> jsonschema::Validator {
        let text = include_str!("../../contracts/label-notification.v1.schema.json");
        let schema: serde_json::Value = serde_json::from_str(text).expect("schema is JSON");
        jsonschema::validator_for(&schema).expect("a valid JSON Schema")
    }

    #[test]
    fn every_payload_the_bridge_sends_conforms_to_the_published_schema() {
        let schema = schema();
        let at = time::macros::datetime!(2026-11-29 08:00:00 UTC);
        let invoice = InvoiceNumbers {
            draft_invoice_number: Some(3),
            booked_invoice_number: Some(10_004),
            customer_number: 100_001,
        };
        let changes = [
            LabelChange::new("acme", "1001", Label::Pending),
            LabelChange::new("acme", "1001", Label::Ok).with_invoice(invoice.clone()),
            LabelChange::new("acme", "1001", Label::Failed).with_reason("product X is missing"),
        ];
        for (n, change) in changes.iter().enumerate() {
            let body: serde_json::Value =
                serde_json::from_str(&payload(change, n as u64 + 1, at)).unwrap();
            let errors: Vec<String> = schema.iter_errors(&body).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{body}: {errors:?}");
        }
        // The schema can fail: ok without its invoice, failed without a reason.
        for change in [
            LabelChange::new("acme", "1001", Label::Ok),
            LabelChange::new("acme", "1001", Label::Failed),
        ] {
            let body: serde_json::Value = serde_json::from_str(&payload(&change, 1, at)).unwrap();
            assert!(!schema.is_valid(&body), "{body}");
        }
    }
}
