//! The AWS SDK's HTTP client: the same reqwest (hyper 1, rustls, aws-lc)
//! stack the e-conomic, VIES and notification clients use, so a Lambda
//! binary carries one HTTP/TLS stack instead of two (the SDK's own
//! hyper client monomorphised hyper and h2 a second time: about 0.5 MB of
//! a function; docs/performance.md, "Binary size").
//!
//! Requests are the SDK's (DynamoDB, SQS, KMS, STS): in-memory bodies,
//! HTTP/1.1, no redirects followed. Connect and read timeouts are the SDK
//! configuration's (`TimeoutConfig`); a connection, send or read failure is
//! reported as an I/O error and a timeout as a timeout, so the SDK's
//! standard retry strategy retries them as it does with its own client.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The functions' SDK configuration: what `aws_config::load_from_env` reads
/// (region, credentials, endpoint, retry and timeout settings from the
/// environment) with [`sdk_http_client`] as the HTTP client.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(sdk_http_client())
        .load()
        .await
}

/// The SDK's HTTP client for `aws_config::defaults(..).http_client(..)`.
pub fn sdk_http_client() -> SharedHttpClient {
    SharedHttpClient::new(ReqwestSdkClient::default())
}

/// One reqwest connection pool per timeout setting, as the SDK's own client
/// keeps one connector per setting.
#[derive(Debug, Default)]
struct ReqwestSdkClient {
    connectors: Mutex<HashMap<TimeoutKey, SharedHttpConnector>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TimeoutKey {
    connect: Option<Duration>,
    read: Option<Duration>,
}

impl HttpClient for ReqwestSdkClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = TimeoutKey {
            connect: settings.connect_timeout(),
            read: settings.read_timeout(),
        };
        // A poisoned lock only means another thread panicked while
        // inserting: the map itself is still usable.
        let mut connectors = self.connectors.lock().unwrap_or_else(|p| p.into_inner());
        connectors
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(ReqwestConnector::new(key)))
            .clone()
    }
}

#[derive(Debug, Clone)]
struct ReqwestConnector {
    client: Result<reqwest::Client, Arc<reqwest::Error>>,
}

impl ReqwestConnector {
    fn new(timeouts: TimeoutKey) -> ReqwestConnector {
        let mut builder = reqwest::Client::builder()
            // The SDK signs the request it sends; a redirect would be
            // another request. Its own client does not follow them either.
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(50));
        if let Some(connect) = timeouts.connect {
            builder = builder.connect_timeout(connect);
        }
        if let Some(read) = timeouts.read {
            builder = builder.read_timeout(read);
        }
        ReqwestConnector {
            client: builder.build().map_err(Arc::new),
        }
    }
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let client = client.map_err(|e| ConnectorError::user(Box::new(SharedError(e))))?;
            let request = to_reqwest(request)?;
            let response = client.execute(request).await.map_err(connector_error)?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await.map_err(connector_error)?;
            let mut http_response = http::Response::new(SdkBody::from(body));
            *http_response.status_mut() = status;
            *http_response.headers_mut() = headers;
            HttpResponse::try_from(http_response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

fn to_reqwest(request: HttpRequest) -> Result<reqwest::Request, ConnectorError> {
    let request = request
        .try_into_http1x()
        .map_err(|e| ConnectorError::user(e.into()))?;
    let (parts, body) = request.into_parts();
    let bytes = body.bytes().map(<[u8]>::to_vec).ok_or_else(|| {
        ConnectorError::user("streaming request bodies are not supported by this client".into())
    })?;
    reqwest::Request::try_from(http::Request::from_parts(parts, bytes))
        .map_err(|e| ConnectorError::user(e.into()))
}

/// The error kinds the SDK's retry strategy acts on: timeouts and I/O
/// (connection refused or reset, a response cut short) are transient.
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_builder() {
        ConnectorError::user(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}

/// A build error shared by every call of a connector whose client could
/// not be built (no TLS roots, say): each call reports it.
#[derive(Debug)]
struct SharedError(Arc<reqwest::Error>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    fn connector(read_timeout: Option<Duration>) -> SharedHttpConnector {
        SharedHttpConnector::new(ReqwestConnector::new(TimeoutKey {
            connect: Some(Duration::from_secs(2)),
            read: read_timeout,
        }))
    }

    fn post(url: &str, body: &str) -> HttpRequest {
        let request = http::Request::builder()
            .method("POST")
            .uri(url)
            .header("x-amz-target", "DynamoDB_20120810.GetItem")
            .body(SdkBody::from(body.to_owned()))
            .expect("request");
        HttpRequest::try_from(request).expect("smithy request")
    }

    /// Serves one connection with `respond` (given what was read) and
    /// returns the URL.
    async fn serve_once<F>(respond: F) -> String
    where
        F: FnOnce(String) -> Option<&'static str> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("accept");
            let mut buffer = vec![0u8; 4096];
            let n = socket.read(&mut buffer).await.unwrap_or(0);
            match respond(String::from_utf8_lossy(&buffer[..n]).into_owned()) {
                Some(answer) => {
                    let _ = socket.write_all(answer.as_bytes()).await;
                    // Keep the connection open as a keep-alive server would.
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
                None => drop(socket),
            }
        });
        url
    }

    #[tokio::test]
    async fn sends_the_sdk_request_and_hands_back_status_headers_and_body() {
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let url = serve_once(move |request| {
            let _ = seen_tx.send(request);
            Some(
                "HTTP/1.1 400 Bad Request\r\nx-amzn-requestid: abc\r\ncontent-length: 20\r\n\r\n{\"__type\":\"Throttl\"}",
            )
        })
        .await;
        let response = connector(None)
            .call(post(&url, "{\"TableName\":\"orders\"}"))
            .await
            .expect("response");
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers().get("x-amzn-requestid"), Some("abc"));
        assert_eq!(
            response.body().bytes(),
            Some(&b"{\"__type\":\"Throttl\"}"[..])
        );
        let request = seen_rx.recv().expect("request seen");
        assert!(request.starts_with("POST / HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("x-amz-target: DynamoDB_20120810.GetItem\r\n"),
            "{request}"
        );
        assert!(request.ends_with("{\"TableName\":\"orders\"}"), "{request}");
    }

    #[tokio::test]
    async fn a_connection_refused_or_cut_is_an_io_error_the_sdk_retries() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let closed = format!("http://{}/", listener.local_addr().expect("addr"));
        drop(listener);
        let refused = connector(None).call(post(&closed, "{}")).await;
        assert!(
            refused.as_ref().is_err_and(ConnectorError::is_io),
            "{refused:?}"
        );

        let cut = serve_once(|_| None).await;
        let cut = connector(None).call(post(&cut, "{}")).await;
        assert!(cut.as_ref().is_err_and(ConnectorError::is_io), "{cut:?}");
    }

    #[tokio::test]
    async fn a_silent_server_is_a_timeout_after_the_read_timeout() {
        let url = serve_once(|_| Some("")).await;
        let silent = connector(Some(Duration::from_millis(200)))
            .call(post(&url, "{}"))
            .await;
        assert!(
            silent.as_ref().is_err_and(ConnectorError::is_timeout),
            "{silent:?}"
        );
    }
}
