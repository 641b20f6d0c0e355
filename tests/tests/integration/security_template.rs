//! Least privilege in template.yaml: every IAM statement names its actions
//! exactly (no `*` in an action) and its resources as references to the
//! stack's own tables, index and queues (`!Ref` / `!GetAtt` / `!Sub` of
//! resources defined in the template); no `NotAction`/`NotResource`, no
//! managed policies, and SAM policy templates only scoped to own resources.
//! The checker is tested against bad snippets, so it can fail.

use integration_tests::workspace_root;
use serde_yaml::Value;

/// Actions AWS only grants on `Resource: "*"`, with the reason. Empty
/// entries are not allowed: each needs a reason.
const STAR_RESOURCE_ALLOWED: &[(&str, &str)] = &[
    (
        "xray:PutTraceSegments",
        "X-Ray has no resource-level permissions",
    ),
    (
        "xray:PutTelemetryRecords",
        "X-Ray has no resource-level permissions",
    ),
    (
        "cloudwatch:PutMetricData",
        "metrics are not resources; scope with a namespace condition",
    ),
];

/// Pseudo parameters a `!Sub` may use besides own resources.
const PSEUDO_PARAMETERS: &[&str] = &[
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::URLSuffix",
];

fn load_template() -> Value {
    let path = workspace_root().join("template.yaml");
    let text = std::fs::read_to_string(&path).expect("read template.yaml");
    serde_yaml::from_str(&text).expect("template.yaml parses (CloudFormation tags included)")
}

fn as_list(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        other => vec![other],
    }
}

/// Names of everything under `Resources`.
fn own_resources(template: &Value) -> Vec<String> {
    template
        .get("Resources")
        .and_then(Value::as_mapping)
        .map(|m| {
            m.keys()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The intrinsic as (function, argument): `!Ref X` or `{Ref: X}` → ("Ref", X).
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            let function = key.strip_prefix("Fn::").unwrap_or(key);
            matches!(function, "Ref" | "GetAtt" | "Sub" | "Join" | "ImportValue")
                .then(|| (function.to_owned(), argument))
        }
        _ => None,
    }
}

/// `Ok(())` when `value` is a reference to one of the stack's own
/// resources; otherwise why not.
fn is_own_reference(value: &Value, own: &[String]) -> Result<(), String> {
    let Some((function, argument)) = intrinsic(value) else {
        return Err(format!(
            "{} is not a reference to a stack resource",
            show(value)
        ));
    };
    let known = |name: &str| own.iter().any(|r| r == name);
    match function.as_str() {
        "Ref" => {
            let name = argument.as_str().unwrap_or_default();
            known(name)
                .then_some(())
                .ok_or_else(|| format!("!Ref {name} is not a resource of this stack"))
        }
        "GetAtt" => {
            let name = match argument {
                Value::String(s) => s.split('.').next().unwrap_or_default().to_owned(),
                Value::Sequence(parts) => parts
                    .first()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                _ => String::new(),
            };
            known(&name)
                .then_some(())
                .ok_or_else(|| format!("!GetAtt {name} is not a resource of this stack"))
        }
        "Sub" => {
            let text = match argument {
                Value::String(s) => s.as_str(),
                Value::Sequence(parts) => parts.first().and_then(Value::as_str).unwrap_or_default(),
                _ => "",
            };
            if text.contains('*') {
                return Err(format!("!Sub {text:?} contains a wildcard"));
            }
            let names: Vec<&str> = text
                .split("${")
                .skip(1)
                .filter_map(|rest| rest.split('}').next())
                .collect();
            let mut refers_to_own = false;
            for name in &names {
                let resource = name.split('.').next().unwrap_or_default();
                if known(resource) {
                    refers_to_own = true;
                } else if !PSEUDO_PARAMETERS.contains(name) {
                    return Err(format!(
                        "!Sub {text:?}: ${{{name}}} is not a resource of this stack"
                    ));
                }
            }
            refers_to_own
                .then_some(())
                .ok_or_else(|| format!("!Sub {text:?} names no resource of this stack"))
        }
        other => Err(format!(
            "{other} cannot be checked; use !Ref, !GetAtt or !Sub"
        )),
    }
}

fn show(value: &Value) -> String {
    serde_yaml::to_string(value)
        .unwrap_or_default()
        .trim()
        .replace('\n', " ")
}

fn check_statement(where_: &str, statement: &Value, own: &[String], problems: &mut Vec<String>) {
    for forbidden in ["NotAction", "NotResource", "NotPrincipal"] {
        if statement.get(forbidden).is_some() {
            problems.push(format!("{where_}: uses {forbidden}"));
        }
    }
    if statement.get("Effect").and_then(Value::as_str) == Some("Deny") {
        return;
    }
    let actions: Vec<String> = statement
        .get("Action")
        .map(as_list)
        .unwrap_or_default()
        .into_iter()
        .map(|a| a.as_str().map(str::to_owned).unwrap_or_else(|| show(a)))
        .collect();
    if actions.is_empty() {
        problems.push(format!("{where_}: no Action"));
    }
    for action in &actions {
        if action.contains('*') {
            problems.push(format!("{where_}: action {action:?} contains a wildcard"));
        }
    }
    let resources = statement.get("Resource").map(as_list).unwrap_or_default();
    if resources.is_empty() {
        problems.push(format!("{where_}: no Resource"));
    }
    for resource in resources {
        if resource.as_str() == Some("*") {
            let unjustified: Vec<&String> = actions
                .iter()
                .filter(|a| !STAR_RESOURCE_ALLOWED.iter().any(|(ok, _)| ok == a))
                .collect();
            if !unjustified.is_empty() {
                problems.push(format!(
                    "{where_}: Resource \"*\" for {unjustified:?} (only allowed for {:?})",
                    STAR_RESOURCE_ALLOWED
                        .iter()
                        .map(|(a, _)| *a)
                        .collect::<Vec<_>>()
                ));
            }
            continue;
        }
        if let Err(why) = is_own_reference(resource, own) {
            problems.push(format!("{where_}: {why}"));
        }
    }
}

fn check_policy_document(
    where_: &str,
    document: &Value,
    own: &[String],
    problems: &mut Vec<String>,
) {
    let statements = document.get("Statement").map(as_list).unwrap_or_default();
    if statements.is_empty() {
        problems.push(format!("{where_}: policy without statements"));
    }
    for (i, statement) in statements.into_iter().enumerate() {
        check_statement(&format!("{where_} statement {i}"), statement, own, problems);
    }
}

/// Every least-privilege violation in the template.
fn check_template(template: &Value) -> Vec<String> {
    let own = own_resources(template);
    let mut problems = Vec::new();
    let Some(resources) = template.get("Resources").and_then(Value::as_mapping) else {
        return vec!["template has no Resources".to_owned()];
    };
    for (name, resource) in resources {
        let name = name.as_str().unwrap_or("?");
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        let properties = resource.get("Properties");
        match kind {
            "AWS::Serverless::Function" => {
                let Some(policies) = properties.and_then(|p| p.get("Policies")) else {
                    continue;
                };
                for (i, policy) in as_list(policies).into_iter().enumerate() {
                    let where_ = format!("{name} policy {i}");
                    match policy {
                        Value::String(managed) => problems.push(format!(
                            "{where_}: managed policy {managed:?} (grant exact actions instead)"
                        )),
                        Value::Mapping(map) if map.contains_key("Statement") => {
                            check_policy_document(&where_, policy, &own, &mut problems)
                        }
                        Value::Mapping(map) => {
                            // SAM policy templates: every parameter must be
                            // one of our own resources.
                            for (template_name, parameters) in map {
                                let template_name = template_name.as_str().unwrap_or("?");
                                let values: Vec<&Value> = match parameters {
                                    Value::Mapping(p) => p.values().collect(),
                                    other => vec![other],
                                };
                                if values.is_empty() {
                                    problems.push(format!(
                                        "{where_}: SAM policy {template_name} without parameters is unscoped"
                                    ));
                                }
                                for value in values {
                                    if let Err(why) = is_own_reference(value, &own) {
                                        problems.push(format!(
                                            "{where_}: SAM policy {template_name}: {why}"
                                        ));
                                    }
                                }
                            }
                        }
                        other => {
                            problems.push(format!("{where_}: unexpected policy {}", show(other)))
                        }
                    }
                }
                if properties.and_then(|p| p.get("Role")).is_some() {
                    problems.push(format!("{name}: external Role; policies cannot be checked"));
                }
            }
            "AWS::IAM::Role" => {
                if properties
                    .and_then(|p| p.get("ManagedPolicyArns"))
                    .is_some()
                {
                    problems.push(format!("{name}: ManagedPolicyArns"));
                }
                for (i, policy) in properties
                    .and_then(|p| p.get("Policies"))
                    .map(as_list)
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                {
                    if let Some(document) = policy.get("PolicyDocument") {
                        check_policy_document(
                            &format!("{name} policy {i}"),
                            document,
                            &own,
                            &mut problems,
                        );
                    }
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                if let Some(document) = properties.and_then(|p| p.get("PolicyDocument")) {
                    check_policy_document(name, document, &own, &mut problems);
                }
            }
            _ => {}
        }
    }
    problems
}

#[test]
fn template_iam_is_least_privilege() {
    let template = load_template();
    let problems = check_template(&template);
    assert!(
        problems.is_empty(),
        "least-privilege violations:\n{}",
        problems.join("\n")
    );
    // And the check looked at something: every function declares its own
    // policy statements (the checker skips a function without `Policies`).
    let functions: Vec<(&Value, &Value)> = template["Resources"]
        .as_mapping()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect();
    assert!(functions.len() >= 3, "ingest, transfer, rescan");
    let mut statements = 0;
    for (name, function) in functions {
        let own: usize = as_list(&function["Properties"]["Policies"])
            .into_iter()
            .map(|policy| policy.get("Statement").map_or(0, |s| as_list(s).len()))
            .sum();
        assert!(own > 0, "{name:?} declares no policy statements");
        statements += own;
    }
    assert!(statements >= 10, "found {statements} statements");
}

fn with_function_policies(policies: &str) -> Value {
    let text = format!(
        r#"
Resources:
  OrdersTable:
    Type: AWS::DynamoDB::Table
  TransferQueue:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Policies:
{policies}
"#
    );
    serde_yaml::from_str(&text).expect("snippet parses")
}

#[test]
fn the_checker_accepts_scoped_statements() {
    let ok = with_function_policies(
        r#"
        - Statement:
            - Effect: Allow
              Action: [dynamodb:GetItem, dynamodb:UpdateItem]
              Resource: !GetAtt OrdersTable.Arn
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !Sub "${OrdersTable.Arn}/index/rescan-index"
            - Effect: Allow
              Action: sqs:SendMessage
              Resource: { "Fn::GetAtt": [TransferQueue, Arn] }
            - Effect: Allow
              Action: xray:PutTraceSegments
              Resource: "*"
        - SQSSendMessagePolicy:
            QueueName: !GetAtt TransferQueue.QueueName
"#,
    );
    assert_eq!(check_template(&ok), Vec::<String>::new());
}

#[test]
fn the_checker_rejects_wildcards_foreign_resources_and_managed_policies() {
    let cases = [
        ("action *", "- Statement: [{Effect: Allow, Action: \"*\", Resource: !GetAtt OrdersTable.Arn}]", "wildcard"),
        ("service:*", "- Statement: [{Effect: Allow, Action: \"dynamodb:*\", Resource: !GetAtt OrdersTable.Arn}]", "wildcard"),
        ("partial *", "- Statement: [{Effect: Allow, Action: \"dynamodb:Get*\", Resource: !GetAtt OrdersTable.Arn}]", "wildcard"),
        ("resource *", "- Statement: [{Effect: Allow, Action: dynamodb:GetItem, Resource: \"*\"}]", "Resource \"*\""),
        ("literal arn", "- Statement: [{Effect: Allow, Action: dynamodb:GetItem, Resource: \"arn:aws:dynamodb:eu-west-1:1:table/other\"}]", "not a reference"),
        ("foreign ref", "- Statement: [{Effect: Allow, Action: sqs:SendMessage, Resource: !GetAtt SomeoneElsesQueue.Arn}]", "not a resource of this stack"),
        ("sub wildcard", "- Statement: [{Effect: Allow, Action: dynamodb:Query, Resource: !Sub \"${OrdersTable.Arn}/index/*\"}]", "wildcard"),
        ("sub foreign", "- Statement: [{Effect: Allow, Action: dynamodb:Query, Resource: !Sub \"arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/x\"}]", "names no resource"),
        ("not action", "- Statement: [{Effect: Allow, NotAction: iam:PassRole, Resource: !GetAtt OrdersTable.Arn}]", "NotAction"),
        ("managed", "- AdministratorAccess", "managed policy"),
        ("sam unscoped", "- DynamoDBCrudPolicy:\n            TableName: \"*\"", "SAM policy DynamoDBCrudPolicy"),
        ("sam foreign", "- DynamoDBCrudPolicy:\n            TableName: !Ref OtherTable", "not a resource of this stack"),
        ("sam empty", "- AWSSecretsManagerGetSecretValuePolicy: {}", "unscoped"),
    ];
    for (label, policies, expected) in cases {
        let template = with_function_policies(&format!("        {policies}"));
        let problems = check_template(&template);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{label}: expected a problem containing {expected:?}, got {problems:?}"
        );
    }
}

/// The `kms:` actions a function's policies grant, with their resources
/// and conditions.
fn kms_grants(function: &Value) -> Vec<(String, String, String)> {
    let mut grants = Vec::new();
    for policy in as_list(&function["Properties"]["Policies"]) {
        for statement in policy.get("Statement").map(as_list).unwrap_or_default() {
            for action in statement.get("Action").map(as_list).unwrap_or_default() {
                let action = action.as_str().unwrap_or_default();
                if action.starts_with("kms:") {
                    grants.push((
                        action.to_owned(),
                        show(&statement["Resource"]),
                        show(&statement["Condition"]),
                    ));
                }
            }
        }
    }
    grants
}

/// Only the functions that read shops may open their secrets, only with
/// `Decrypt`, only on the stack's own key and only with a shop id as
/// encryption context; no function can seal (write) them; the key rotates.
#[test]
fn the_functions_may_only_unseal_shop_secrets() {
    let template = load_template();
    let resources = &template["Resources"];
    let key = &resources["SecretsKey"];
    assert_eq!(key["Type"].as_str(), Some("AWS::KMS::Key"));
    assert_eq!(key["Properties"]["EnableKeyRotation"].as_bool(), Some(true));
    assert_eq!(key["DeletionPolicy"].as_str(), Some("Retain"));
    // All three read shops: ingest the webhook secrets, transfer the
    // e-conomic tokens and notify secrets, rescan a shop's notify target.
    for (name, readers) in [
        ("IngestFunction", true),
        ("TransferFunction", true),
        ("RescanFunction", true),
    ] {
        let grants = kms_grants(&resources[name]);
        if !readers {
            assert!(grants.is_empty(), "{name}: {grants:?}");
            continue;
        }
        assert_eq!(grants.len(), 1, "{name}: {grants:?}");
        let (action, resource, condition) = &grants[0];
        assert_eq!(action, "kms:Decrypt", "{name}");
        assert!(resource.contains("SecretsKey.Arn"), "{name}: {resource}");
        assert!(
            condition.contains("kms:EncryptionContext:shop_id"),
            "{name}: {condition}"
        );
    }
    // Every other resource with policies grants no kms action at all.
    for (name, resource) in resources.as_mapping().expect("resources") {
        let name = name.as_str().unwrap_or_default();
        if resource["Type"].as_str() == Some("AWS::Serverless::Function")
            && !["IngestFunction", "TransferFunction", "RescanFunction"].contains(&name)
        {
            assert!(kms_grants(resource).is_empty(), "{name}");
        }
    }
}
