//! template.yaml and `bridge::adapters::dynamodb::provision` describe the same tables
//! and queues. (Least privilege is checked in `security_template.rs`.)

use aws_sdk_sqs::types::QueueAttributeName;
use bridge::adapters::dynamodb::provision::{self, *};
use bridge::adapters::dynamodb::RESCAN_INDEX;
use integration_tests::{sdk_config, unique, workspace_root};
use serde_yaml::Value;

fn template() -> Value {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml is YAML")
}

fn at<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| match v.get(*key) {
        Some(next) => next,
        None => panic!("template has no {}", path.join(".")),
    })
}

fn key_schema(value: &Value) -> Vec<(String, String)> {
    value
        .as_sequence()
        .expect("KeySchema is a list")
        .iter()
        .map(|k| {
            (
                k["AttributeName"].as_str().unwrap_or_default().to_owned(),
                k["KeyType"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn attribute_type(table: &Value, name: &str) -> String {
    at(table, &["Properties", "AttributeDefinitions"])
        .as_sequence()
        .expect("list")
        .iter()
        .find(|d| d["AttributeName"].as_str() == Some(name))
        .and_then(|d| d["AttributeType"].as_str())
        .unwrap_or_else(|| panic!("no attribute definition for {name}"))
        .to_owned()
}

/// A CloudFormation intrinsic (`!GetAtt`, `!Ref`, `!Sub`...).
fn is_tagged(value: &Value) -> bool {
    matches!(value, Value::Tagged(_))
}

#[test]
fn tables_match_provisioning_constants() {
    let t = template();
    let orders = at(&t, &["Resources", "OrdersTable"]);
    assert_eq!(
        key_schema(at(orders, &["Properties", "KeySchema"])),
        vec![
            (ORDERS_KEYS.0.to_owned(), "HASH".to_owned()),
            (ORDERS_KEYS.1.to_owned(), "RANGE".to_owned())
        ]
    );
    let gsi = &at(orders, &["Properties", "GlobalSecondaryIndexes"])[0];
    assert_eq!(gsi["IndexName"].as_str(), Some(RESCAN_INDEX));
    assert_eq!(
        key_schema(&gsi["KeySchema"]),
        vec![
            (RESCAN_INDEX_KEYS.0.to_owned(), "HASH".to_owned()),
            (RESCAN_INDEX_KEYS.1.to_owned(), "RANGE".to_owned())
        ]
    );
    assert_eq!(
        gsi["Projection"]["ProjectionType"].as_str(),
        Some("KEYS_ONLY")
    );
    assert_eq!(attribute_type(orders, RESCAN_INDEX_KEYS.1), "N");
    assert_eq!(attribute_type(orders, RESCAN_INDEX_KEYS.0), "S");
    let ttl = at(orders, &["Properties", "TimeToLiveSpecification"]);
    assert_eq!(ttl["AttributeName"].as_str(), Some(ORDERS_TTL_ATTRIBUTE));
    assert_eq!(ttl["Enabled"].as_bool(), Some(true));

    let shops = at(&t, &["Resources", "ShopsTable"]);
    assert_eq!(
        key_schema(at(shops, &["Properties", "KeySchema"])),
        vec![(SHOPS_KEY.to_owned(), "HASH".to_owned())]
    );
    for table in [orders, shops] {
        let props = &table["Properties"];
        assert_eq!(props["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
        assert_eq!(
            props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
            Some(true)
        );
        assert_eq!(
            props["SSESpecification"]["SSEEnabled"].as_bool(),
            Some(true)
        );
    }
}

#[test]
fn queues_and_timeouts_are_consistent() {
    let t = template();
    let default_receives = at(&t, &["Parameters", "MaxReceiveCount", "Default"]);
    assert_eq!(
        default_receives.as_u64(),
        Some(u64::from(DEFAULT_MAX_RECEIVE_COUNT))
    );
    let queue = at(&t, &["Resources", "TransferQueue", "Properties"]);
    let visibility = queue["VisibilityTimeout"].as_u64().expect("visibility");
    let transfer_timeout = at(
        &t,
        &["Resources", "TransferFunction", "Properties", "Timeout"],
    )
    .as_u64()
    .expect("timeout");
    assert!(
        visibility >= 6 * transfer_timeout,
        "visibility {visibility} s must be ≥ 6 × transfer timeout {transfer_timeout} s"
    );
    assert!(is_tagged(&queue["RedrivePolicy"]["maxReceiveCount"]));
    let dlq = at(&t, &["Resources", "TransferDeadLetterQueue", "Properties"]);
    assert_eq!(
        dlq["MessageRetentionPeriod"].as_u64(),
        Some(u64::from(DLQ_RETENTION_SECONDS))
    );
    let event = at(
        &t,
        &[
            "Resources",
            "TransferFunction",
            "Properties",
            "Events",
            "Queue",
            "Properties",
        ],
    );
    assert_eq!(
        event["FunctionResponseTypes"][0].as_str(),
        Some("ReportBatchItemFailures")
    );
    // Both webhook routes reach the ingest function.
    let events = at(&t, &["Resources", "IngestFunction", "Properties", "Events"]);
    let paths: Vec<&str> = events
        .as_mapping()
        .expect("ingest events")
        .values()
        .filter_map(|e| e["Properties"]["Path"].as_str())
        .collect();
    assert!(paths.contains(&"/webhooks/{shop_id}"), "{paths:?}");
    assert!(
        paths.contains(&"/webhooks/{shop_id}/{platform}"),
        "{paths:?}"
    );
    // The function's MAX_RECEIVE_COUNT is the same parameter as the redrive.
    let env = at(
        &t,
        &[
            "Resources",
            "TransferFunction",
            "Properties",
            "Environment",
            "Variables",
        ],
    );
    assert_eq!(
        env["MAX_RECEIVE_COUNT"],
        queue["RedrivePolicy"]["maxReceiveCount"]
    );
}

#[tokio::test]
async fn provisioning_creates_what_the_template_declares() {
    let sdk = sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (shops, orders) = (unique("shops"), unique("orders"));
    provision::create_tables(&dynamodb, &shops, &orders)
        .await
        .expect("create");
    let described = dynamodb
        .describe_table()
        .table_name(&orders)
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    let t = template();
    let declared = key_schema(at(
        &t,
        &["Resources", "OrdersTable", "Properties", "KeySchema"],
    ));
    let actual: Vec<(String, String)> = described
        .key_schema()
        .iter()
        .map(|k| {
            (
                k.attribute_name().to_owned(),
                k.key_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(actual, declared);
    let index = &described.global_secondary_indexes()[0];
    assert_eq!(index.index_name(), Some(RESCAN_INDEX));
    let ttl = dynamodb
        .describe_time_to_live()
        .table_name(&orders)
        .send()
        .await
        .expect("ttl")
        .time_to_live_description
        .and_then(|d| d.attribute_name)
        .expect("ttl attribute");
    assert_eq!(ttl, ORDERS_TTL_ATTRIBUTE);

    let queues = create_queues(&sqs, &unique("q"), &unique("dlq"), 30, 5)
        .await
        .expect("queues");
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queues.queue_url)
        .attribute_names(QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .expect("attributes")
        .attributes
        .unwrap_or_default();
    let redrive: serde_json::Value = serde_json::from_str(
        attrs
            .get(&QueueAttributeName::RedrivePolicy)
            .expect("redrive policy"),
    )
    .expect("JSON");
    assert_eq!(redrive["deadLetterTargetArn"], queues.dead_letter_queue_arn);
    assert_eq!(redrive["maxReceiveCount"].to_string(), "5");
}

/// The string a `!Sub` holds.
fn sub_text(value: &Value) -> &str {
    match value {
        Value::Tagged(tagged) if tagged.tag == "!Sub" => {
            tagged.value.as_str().expect("a !Sub string")
        }
        other => panic!("expected a !Sub string, got {other:?}"),
    }
}

/// The bridge's own metrics the alarms and the dashboard read are the ones
/// the functions emit (a renamed metric would leave an alarm that never
/// fires), and the dashboard shows every one of them.
#[test]
fn alarms_and_dashboard_read_the_metrics_the_functions_emit() {
    let t = template();
    let emitted: Vec<&str> = bridge::metrics::ALL.iter().map(|m| m.name()).collect();
    let globals = at(&t, &["Globals", "Function", "Environment", "Variables"]);
    let namespace = globals["METRICS_NAMESPACE"].as_str().expect("namespace");
    assert!(is_tagged(&globals["METRICS_STACK"]), "the stack name");

    let resources = at(&t, &["Resources"]).as_mapping().expect("resources");
    let mut alarmed = Vec::new();
    for (name, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::CloudWatch::Alarm") {
            continue;
        }
        let properties = &resource["Properties"];
        let mut metrics = vec![(&properties["Namespace"], &properties["MetricName"])];
        if let Some(queries) = properties["Metrics"].as_sequence() {
            for query in queries {
                let metric = &query["MetricStat"]["Metric"];
                metrics.push((&metric["Namespace"], &metric["MetricName"]));
            }
        }
        for (ns, metric) in metrics {
            if ns.as_str() == Some(namespace) {
                let metric = metric.as_str().expect("metric name");
                assert!(emitted.contains(&metric), "{name:?} reads {metric}");
                alarmed.push(metric.to_owned());
            }
        }
        assert!(
            is_tagged(&properties["AlarmActions"]),
            "{name:?} notifies the alarm topic"
        );
    }
    for metric in ["OrdersFailed", "RescanDueOrders", "EconomicThrottled"] {
        assert!(alarmed.iter().any(|m| m == metric), "{metric}: {alarmed:?}");
    }

    let body = sub_text(at(
        &t,
        &["Resources", "Dashboard", "Properties", "DashboardBody"],
    ));
    let dashboard: serde_json::Value =
        serde_json::from_str(body).expect("the dashboard body is JSON");
    let mut shown = Vec::new();
    for widget in dashboard["widgets"].as_array().expect("widgets") {
        for line in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if line[0].as_str() == Some(namespace) {
                let metric = line[1].as_str().expect("metric");
                assert!(emitted.contains(&metric), "the dashboard shows {metric}");
                shown.push(metric.to_owned());
            }
        }
    }
    for metric in &emitted {
        assert!(
            shown.iter().any(|m| m == metric),
            "{metric} is on the dashboard"
        );
    }
    for reason in [
        "unauthorized",
        "malformed",
        "unknown_shop",
        "too_large",
        "unavailable",
        "other",
    ] {
        assert_eq!(
            bridge::metrics::rejection_reason(match reason {
                "unauthorized" => 401,
                "malformed" => 400,
                "unknown_shop" => 404,
                "too_large" => 413,
                "unavailable" => 503,
                _ => 418,
            }),
            reason
        );
        assert!(
            body.contains(&format!("\"Reason\", \"{reason}\"")),
            "{reason}"
        );
    }
}
