//! Ingest Lambda: `POST /webhooks/{shop_id}` (our own order contract) and
//! `POST /webhooks/{shop_id}/{platform}` (Shopify's or WooCommerce's own
//! webhooks) behind an API Gateway HTTP API (payload v2). The logic lives in [`bridge::app::ingest`]; this crate
//! turns the HTTP request into a [`WebhookRequest`] and the answer back.

use bridge::adapters::dynamodb::{DynamoOrderStore, DynamoShopStore};
use bridge::adapters::sealed::SecretSealer;
use bridge::adapters::sqs::SqsTransferQueue;
use bridge::app::ingest::{
    Ingest, IngestSettings, PlatformHeaders, PlatformRequest, WebhookRequest, WebhookResponse,
};
use bridge::domain::platform::Platform;
use bridge::domain::webhook::SignatureHeaders;
use bridge::env::{env_number, env_required};
use lambda_http::http::{header, HeaderMap, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use std::sync::Arc;
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
        let sdk = bridge::adapters::aws_http::load_sdk_config().await;
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
                DynamoShopStore::new(dynamodb.clone(), shops_table).with_sealer(Arc::new(
                    SecretSealer::kms(aws_sdk_kms::Client::new(sdk), None),
                )),
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

/// Where a request goes: the shop id, and the platform segment if any.
#[derive(Debug, PartialEq, Eq)]
struct Route {
    shop_id: String,
    /// `None`: our own contract. `Some(Err(segment))`: an unknown platform.
    platform: Option<Result<Platform, String>>,
}

/// The `{shop_id}` (and `{platform}`) path parameters, or the segments
/// after `/webhooks/` when the event carries no parameters.
fn route(request: &Request) -> Option<Route> {
    let parameters = request.path_parameters();
    if let Some(id) = parameters.first("shop_id") {
        let platform = parameters
            .first("platform")
            .map(|p| Platform::from_path(p).ok_or_else(|| p.to_owned()));
        return Some(Route {
            shop_id: id.to_owned(),
            platform,
        });
    }
    let path = request.uri().path();
    let rest = path.split("/webhooks/").nth(1)?.trim_end_matches('/');
    let mut segments = rest.split('/');
    let id = segments.next().filter(|id| !id.is_empty())?;
    let platform = segments
        .next()
        .map(|p| Platform::from_path(p).ok_or_else(|| p.to_owned()));
    if segments.next().is_some() {
        return None;
    }
    Some(Route {
        shop_id: id.to_owned(),
        platform,
    })
}

fn not_found(message: &str) -> Response<Body> {
    to_http(&WebhookResponse {
        status: 404,
        body: serde_json::json!({ "error": message }),
        retry_after_seconds: None,
    })
}

/// Handles one request. Every outcome is a response; never an `Err`.
pub async fn handle(context: &IngestContext, request: Request) -> Response<Body> {
    let Some(route) = route(&request) else {
        return not_found("unknown shop");
    };
    let headers = request.headers();
    let content_length = header_str(headers, "content-length");
    let body: &[u8] = request.body().as_ref();
    let now = time::OffsetDateTime::now_utc();
    let response = match route.platform {
        None => {
            let webhook_request = WebhookRequest {
                shop_id: &route.shop_id,
                content_length,
                headers: SignatureHeaders {
                    id: header_str(headers, "webhook-id"),
                    timestamp: header_str(headers, "webhook-timestamp"),
                    signature: header_str(headers, "webhook-signature"),
                },
                body,
            };
            context.ingest.handle(webhook_request, now).await
        }
        Some(Err(_)) => return not_found("unknown platform (use shopify or woocommerce)"),
        Some(Ok(platform)) => {
            let platform_request = PlatformRequest {
                shop_id: &route.shop_id,
                platform,
                content_length,
                headers: platform_headers(platform, headers),
                body,
            };
            context.ingest.handle_platform(platform_request, now).await
        }
    };
    to_http(&response)
}

/// The platform's own headers (HTTP header names are case-insensitive).
fn platform_headers(platform: Platform, headers: &HeaderMap) -> PlatformHeaders<'_> {
    match platform {
        Platform::Shopify => PlatformHeaders {
            signature: header_str(headers, "x-shopify-hmac-sha256"),
            topic: header_str(headers, "x-shopify-topic"),
            delivery_id: header_str(headers, "x-shopify-webhook-id"),
            shop_domain: header_str(headers, "x-shopify-shop-domain"),
            api_version: header_str(headers, "x-shopify-api-version"),
        },
        Platform::Woocommerce => PlatformHeaders {
            signature: header_str(headers, "x-wc-webhook-signature"),
            topic: header_str(headers, "x-wc-webhook-topic"),
            delivery_id: header_str(headers, "x-wc-webhook-delivery-id"),
            shop_domain: None,
            api_version: None,
        },
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Request {
        let mut request = Request::new(Body::Empty);
        *request.uri_mut() = path.parse().expect("a path");
        request
    }

    #[test]
    fn routes_without_path_parameters_are_read_from_the_path() {
        let route_of = |path| route(&request(path));
        assert_eq!(
            route_of("/webhooks/shop-1"),
            Some(Route {
                shop_id: "shop-1".into(),
                platform: None
            })
        );
        assert_eq!(
            route_of("/webhooks/shop-1/shopify/"),
            Some(Route {
                shop_id: "shop-1".into(),
                platform: Some(Ok(Platform::Shopify))
            })
        );
        assert_eq!(
            route_of("/webhooks/shop-1/woocommerce"),
            Some(Route {
                shop_id: "shop-1".into(),
                platform: Some(Ok(Platform::Woocommerce))
            })
        );
        assert_eq!(
            route_of("/webhooks/shop-1/magento"),
            Some(Route {
                shop_id: "shop-1".into(),
                platform: Some(Err("magento".into()))
            })
        );
        assert_eq!(route_of("/webhooks/shop-1/shopify/extra"), None);
        assert_eq!(route_of("/webhooks/"), None);
    }
}
