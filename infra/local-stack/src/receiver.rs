//! A label-notification receiver for the local stack and the tests: an
//! HTTP server that records every POST (headers and body) and answers 204,
//! or 503 while it is switched "down".

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// One POST as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Answered 204 (false: answered 503 while down).
    pub accepted: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    received: Mutex<Vec<Received>>,
    down: AtomicBool,
}

/// The running receiver; stops when dropped.
#[derive(Debug)]
pub struct NotificationReceiver {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl NotificationReceiver {
    /// Listens on 127.0.0.1 (`port` 0 picks a free one).
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::default());
        let serving = state.clone();
        let task = spawn_serving(listener, move |request| {
            let state = serving.clone();
            async move { answer(&state, request).await }
        });
        Ok(NotificationReceiver { addr, state, task })
    }

    /// The URL to put in a shop's `notify.url`.
    pub fn url(&self) -> String {
        format!("http://{}/bridge/labels", self.addr)
    }

    /// While down, every POST is answered 503 (and recorded as such).
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Every POST so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .received
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The POSTs answered 204, in arrival order.
    pub fn accepted(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.accepted).collect()
    }
}

/// Serves every connection on `listener` with `answer` until the returned
/// task is aborted (the fakes of the local stack and the tests).
pub(crate) fn spawn_serving<A, F>(listener: TcpListener, answer: A) -> tokio::task::JoinHandle<()>
where
    A: Fn(Request<Incoming>) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let answer = answer.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(request).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

impl Drop for NotificationReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = match request.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let accepted = !state.down.load(Ordering::SeqCst);
    state
        .received
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Received {
            headers,
            body,
            accepted,
        });
    let status = if accepted {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}
