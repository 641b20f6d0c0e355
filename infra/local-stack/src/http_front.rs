//! A small HTTP server standing in for API Gateway: it routes
//! `POST /webhooks/{shop_id}` and `POST /webhooks/{shop_id}/{platform}` to
//! the ingest handler as a real HTTP API event, and answers other paths
//! the way API Gateway does.

use crate::apigw::{http_api_event, to_lambda_request, HttpRequestParts};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// API Gateway's own payload limit; bigger requests never reach Lambda.
pub const API_GATEWAY_MAX_BODY: usize = 10 * 1024 * 1024;

pub const WEBHOOK_ROUTE: &str = "POST /webhooks/{shop_id}";
pub const PLATFORM_WEBHOOK_ROUTE: &str = "POST /webhooks/{shop_id}/{platform}";

/// Serves until the task is dropped. `handler` is the ingest handler.
pub async fn serve<H, F>(listener: TcpListener, handler: H)
where
    H: Fn(lambda_http::Request) -> F + Send + Sync + 'static,
    F: Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
{
    let handler = Arc::new(handler);
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                continue;
            }
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let handler = handler.clone();
                async move { Ok::<_, std::convert::Infallible>(route(request, &*handler).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}

/// Binds 127.0.0.1:`port` (0 picks one).
pub async fn bind(port: u16) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

async fn route<H, F>(request: Request<Incoming>, handler: &H) -> Response<Full<Bytes>>
where
    H: Fn(lambda_http::Request) -> F,
    F: Future<Output = lambda_http::Response<lambda_http::Body>>,
{
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let query = request.uri().query().unwrap_or("").to_string();
    let segments: Vec<&str> = match path.strip_prefix("/webhooks/") {
        Some(rest) => rest.split('/').collect(),
        None => Vec::new(),
    };
    let (shop_id, platform) = match segments.as_slice() {
        [shop] if !shop.is_empty() => (shop.to_string(), None),
        [shop, platform] if !shop.is_empty() && !platform.is_empty() => {
            (shop.to_string(), Some(percent_decode(platform)))
        }
        _ => return json_response(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#),
    };
    if method != "POST" {
        return json_response(StatusCode::NOT_FOUND, r#"{"message":"Not Found"}"#);
    }
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match Limited::new(request.into_body(), API_GATEWAY_MAX_BODY)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"message":"Request Entity Too Large"}"#,
            )
        }
    };
    let shop_id = percent_decode(&shop_id);
    let parts = HttpRequestParts {
        method: &method,
        path: &path,
        query: &query,
        headers,
        body: &body,
    };
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let event = match &platform {
        None => http_api_event(&parts, WEBHOOK_ROUTE, &[("shop_id", &shop_id)], now_ms),
        Some(platform) => http_api_event(
            &parts,
            PLATFORM_WEBHOOK_ROUTE,
            &[("shop_id", &shop_id), ("platform", platform)],
            now_ms,
        ),
    };
    let lambda_request = match to_lambda_request(event) {
        Ok(request) => request,
        Err(error) => {
            tracing::error!(%error, "could not build the API Gateway event");
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"message":"Internal Server Error"}"#,
            );
        }
    };
    let response = handler(lambda_request).await;
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(data) => Bytes::from(data),
        _ => Bytes::new(),
    };
    let mut out = Response::new(Full::new(bytes));
    *out.status_mut() = parts.status;
    *out.headers_mut() = parts.headers;
    out
}

fn json_response(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// API Gateway hands path parameters percent-decoded.
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                out.push(high << 4 | low);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("shop%20one"), "shop one");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%zz"), "bad%zz");
        assert_eq!(percent_decode("end%2"), "end%2");
        assert_eq!(percent_decode("æ%C3%A6"), "ææ");
    }
}
