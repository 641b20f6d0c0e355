//! Ingest Lambda: `POST /webhooks/{shop_id}` behind an API Gateway HTTP API
//! (payload v2). The logic lives in [`bridge::app::ingest`]; this crate
//! turns the HTTP request into a [`WebhookRequest`] and the answer back.

use bridge::adapters::dynamodb::{DynamoOrderStore, DynamoShopStore};
use bridge::adapters::sqs::SqsTransferQueue;
use bridge::app::ingest::{Ingest, IngestSettings, WebhookRequest, WebhookResponse};
use bridge::domain::webhook::SignatureHeaders;
use bridge::env::{env_number, env_required};
use lambda_http::http::{header, HeaderMap, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use std::time::Duration;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Ingest over DynamoDB and SQS.
pub type LambdaIngest = Ingest<DynamoShopStore, DynamoOrderStore, SqsTransferQueue>;

/// Built once per execution environment; reused by every invocation.
#[derive(Debug)]
pub struct IngestContext {
    ingest: LambdaIngest,
}

impl IngestContext {
    /// From `SHOPS_TABLE`, `ORDERS_TABLE`, `QUEUE_URL`, `MAX_BODY_BYTES`,
    /// `SHOP_CACHE_SECONDS`, `RESCAN_MIN_AGE_SECONDS`; AWS settings (region,
    /// credentials, `AWS_ENDPOINT_URL`) the standard way.
    pub async fn from_env() -> Result<Self, Error> {
        let sdk = aws_config::load_from_env().await;
        let settings = IngestSettings {
            max_body_bytes: env_number(
                "MAX_BODY_BYTES",
                bridge::app::ingest::DEFAULT_MAX_BODY_BYTES,
            )?,
            shop_cache_ttl: Duration::from_secs(env_number("SHOP_CACHE_SECONDS", 30)?),
            rescan_min_age_seconds: env_number("RESCAN_MIN_AGE_SECONDS", 300)?,
        };
        Ok(Self::new(
            &sdk,
            &env_required("SHOPS_TABLE")?,
            &env_required("ORDERS_TABLE")?,
            &env_required("QUEUE_URL")?,
            settings,
        ))
    }

    pub fn new(
        sdk: &aws_config::SdkConfig,
        shops_table: &str,
        orders_table: &str,
        queue_url: &str,
        settings: IngestSettings,
    ) -> Self {
        let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
        let sqs = aws_sdk_sqs::Client::new(sdk);
        IngestContext {
            ingest: Ingest::new(
                DynamoShopStore::new(dynamodb.clone(), shops_table),
                DynamoOrderStore::new(dynamodb, orders_table),
                // Ingest never dead-letters.
                SqsTransferQueue::without_dead_letter_queue(sqs, queue_url),
                settings,
            ),
        }
    }

    pub fn ingest(&self) -> &LambdaIngest {
        &self.ingest
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The `{shop_id}` path parameter, or the segment after `/webhooks/` when
/// the event carries no parameters.
fn shop_id(request: &Request) -> Option<String> {
    if let Some(id) = request.path_parameters().first("shop_id") {
        return Some(id.to_owned());
    }
    let path = request.uri().path();
    let rest = path.split("/webhooks/").nth(1)?;
    let id = rest.trim_end_matches('/');
    (!id.is_empty() && !id.contains('/')).then(|| id.to_owned())
}

/// Handles one request. Every outcome is a response; never an `Err`.
pub async fn handle(context: &IngestContext, request: Request) -> Response<Body> {
    let Some(shop_id) = shop_id(&request) else {
        return to_http(&WebhookResponse {
            status: 404,
            body: serde_json::json!({ "error": "unknown shop" }),
            retry_after_seconds: None,
        });
    };
    let headers = request.headers();
    let webhook_request = WebhookRequest {
        shop_id: &shop_id,
        content_length: header_str(headers, "content-length"),
        headers: SignatureHeaders {
            id: header_str(headers, "webhook-id"),
            timestamp: header_str(headers, "webhook-timestamp"),
            signature: header_str(headers, "webhook-signature"),
        },
        body: request.body().as_ref(),
    };
    let response = context
        .ingest
        .handle(webhook_request, time::OffsetDateTime::now_utc())
        .await;
    to_http(&response)
}

fn to_http(response: &WebhookResponse) -> Response<Body> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(seconds) = response.retry_after_seconds {
        builder = builder.header(header::RETRY_AFTER, seconds.to_string());
    }
    builder
        .body(Body::Text(response.body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
