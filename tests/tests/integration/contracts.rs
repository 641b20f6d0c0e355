//! The published webhook description (`shared/contracts/webhook.openapi.yaml`)
//! against the bridge: every request-body example in it conforms to the
//! order contract's JSON Schema and is accepted by the real ingest handler.

use integration_tests::*;
use serde_json::Value;

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).expect("contract file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_openapi_request_example_conforms_to_the_schema_and_is_accepted() {
    let openapi: Value =
        serde_yaml::from_str(&read("shared/contracts/webhook.openapi.yaml")).expect("YAML");
    let schema: Value = serde_json::from_str(&read("shared/contracts/order-event.v1.schema.json"))
        .expect("schema is JSON");
    let contract = jsonschema::validator_for(&schema).expect("a valid JSON Schema");
    let examples = openapi["paths"]["/webhooks/{shop_id}"]["post"]["requestBody"]["content"]
        ["application/json"]["examples"]
        .as_object()
        .expect("request examples")
        .clone();
    let mut types: Vec<String> = Vec::new();

    let stack = Stack::start().await;
    stack.put_shop("acme", true, serde_json::json!({})).await;
    for (name, example) in &examples {
        let body = &example["value"];
        let errors: Vec<String> = contract.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "example {name}: {errors:?}");
        let bytes = body.to_string().into_bytes();
        let (status, answer) = stack
            .send_signed("acme", &format!("example-{name}"), &bytes)
            .await;
        assert_eq!(
            (status, answer["status"].as_str()),
            (202, Some("accepted")),
            "{name}"
        );
        types.push(body["type"].as_str().unwrap_or_default().to_owned());
    }
    types.sort();
    assert_eq!(types, ["order.cancelled", "order.resend"]);
}
