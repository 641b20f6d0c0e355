//! Turns a plain HTTP request into the event API Gateway (HTTP API, payload
//! format 2.0) would hand the ingest Lambda, and converts it with
//! lambda_http's own code, so the local stack runs the handler exactly as
//! Lambda does.

use base64::Engine;
use lambda_http::request::LambdaRequest;
use serde_json::{json, Map, Value};

/// One HTTP request as received from a client.
pub struct HttpRequestParts<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// Header names and values; repeated headers appear several times.
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// The API Gateway HTTP API (v2) event for `request` routed to
/// `route_key` (e.g. `POST /webhooks/{shop_id}`) with its path parameters.
pub fn http_api_event(
    request: &HttpRequestParts<'_>,
    route_key: &str,
    path_parameters: &[(&str, &str)],
    now_epoch_ms: i64,
) -> Value {
    // API Gateway joins repeated headers with commas and lower-cases names.
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        match headers.get_mut(&name) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(value);
            }
            _ => {
                headers.insert(name, Value::String(value.clone()));
            }
        }
    }
    let user_agent = headers
        .get("user-agent")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let (body, is_base64) = match std::str::from_utf8(request.body) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (
            base64::engine::general_purpose::STANDARD.encode(request.body),
            true,
        ),
    };
    let params: Map<String, Value> = path_parameters
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let request_id = format!("local-{now_epoch_ms:x}-{:x}", rand_suffix());
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": user_agent,
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "timeEpoch": now_epoch_ms,
        },
        "isBase64Encoded": is_base64,
    });
    if !params.is_empty() {
        event["pathParameters"] = Value::Object(params);
    }
    if !request.body.is_empty() {
        event["body"] = Value::String(body);
    }
    event
}

/// Converts an API Gateway event into the `lambda_http::Request` the
/// handler receives in production.
pub fn to_lambda_request(event: Value) -> Result<lambda_http::Request, serde_json::Error> {
    let lambda_request: LambdaRequest = serde_json::from_value(event)?;
    Ok(lambda_request.into())
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::RequestExt;

    #[test]
    fn event_round_trips_into_a_lambda_request() {
        let parts = HttpRequestParts {
            method: "POST",
            path: "/webhooks/shop-1",
            query: "",
            headers: vec![
                ("Webhook-Id".into(), "msg_1".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: br#"{"type":"order.paid"}"#,
        };
        let event = http_api_event(
            &parts,
            "POST /webhooks/{shop_id}",
            &[("shop_id", "shop-1")],
            1_700_000_000_000,
        );
        let request = to_lambda_request(event).expect("valid event");
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri().path(), "/webhooks/shop-1");
        assert_eq!(request.headers()["webhook-id"], "msg_1");
        assert_eq!(request.path_parameters().first("shop_id"), Some("shop-1"));
        assert_eq!(request.body().as_ref(), br#"{"type":"order.paid"}"#);
    }

    #[test]
    fn binary_bodies_survive_base64() {
        let body = [0xff_u8, 0xfe, 0x00, 0x41];
        let parts = HttpRequestParts {
            method: "POST",
            path: "/webhooks/s",
            query: "",
            headers: vec![],
            body: &body,
        };
        let event = http_api_event(&parts, "POST /webhooks/{shop_id}", &[("shop_id", "s")], 0);
        assert_eq!(event["isBase64Encoded"], true);
        let request = to_lambda_request(event).expect("valid event");
        assert_eq!(request.body().as_ref(), &body);
    }
}
