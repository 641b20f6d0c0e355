//! The HTTP side: accepting connections, then per request authentication
//! by token headers, the agreement's token bucket (`X-RateLimiting` and
//! `X-CallCost` on every answer, 429 when empty), the fault injection
//! (latency, scripted and random failures, answers lost after a commit)
//! and the request log; the API itself is in [`crate::routes`].

use crate::answer::{error_answer, Answer, Commit};
use crate::control::FailMode;
use crate::idempotency::{request_fingerprint, Lookup};
use crate::token_bucket::Spend;
use crate::{LoggedRequest, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Resp = Response<Full<Bytes>>;

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

pub(crate) async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(shared.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn respond(a: &Answer) -> Resp {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(a.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    if let Some(secs) = a.retry_after {
        builder = builder.header("Retry-After", secs.to_string());
    }
    if let Some(location) = &a.location {
        builder = builder.header("Location", location);
    }
    if a.from_cache {
        builder = builder.header("X-ResultFromCache", "true");
    }
    let body = match &a.body {
        Some(v) => {
            builder = builder.header("Content-Type", "application/json; charset=utf-8");
            Bytes::from(v.to_string())
        }
        None => Bytes::new(),
    };
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn rand_unit(state: &mut u64) -> f64 {
    // xorshift64*
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
}

enum Injected {
    None,
    Fail(FailMode),
    /// The agreement's token bucket cannot pay: 429, with `Retry-After`
    /// seconds when the sandbox is set to send it.
    TokenLimit {
        retry_after: Option<u64>,
    },
}

/// e-conomic's rate-limit headers of one answer.
struct RateHeaders {
    rate_limiting: String,
    call_cost: u32,
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, DropConnection> {
    let mut rate_headers = None;
    let mut response = answer_request(shared, req, &mut rate_headers).await?;
    if let Some(rate) = rate_headers {
        let headers = response.headers_mut();
        if let Ok(value) = hyper::header::HeaderValue::from_str(&rate.rate_limiting) {
            headers.insert("X-RateLimiting", value);
        }
        headers.insert(
            "X-CallCost",
            hyper::header::HeaderValue::from(rate.call_cost),
        );
    }
    Ok(response)
}

/// Answers one request; `rate_headers` is set once the agreement's bucket
/// has been consulted, so that every answer after that carries them.
async fn answer_request(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    rate_headers: &mut Option<RateHeaders>,
) -> Result<Resp, DropConnection> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let app = header("x-appsecrettoken");
    let grant = header("x-agreementgranttoken");
    let idempotency_key = header("idempotency-key").filter(|_| method != hyper::Method::GET);
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Err(DropConnection),
    };

    if let Some(rest) = path.strip_prefix("/_sandbox/") {
        return Ok(respond(&crate::control::handle_request(
            &shared, &method, rest, &body,
        )));
    }

    let (seq, latency, hold_ms) = {
        let mut s = shared.lock();
        s.seq += 1;
        (s.seq, s.faults.latency_ms, s.faults.hold_ms)
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }

    // Auth, the token bucket and injected faults, decided under one lock.
    // The bucket comes first: a call it refuses goes no further.
    let (agreement, injected, retry_after) = {
        let mut s = shared.lock();
        let agreement = s.tokens.iter().position(|t| {
            Some(&t.app_secret_token) == app.as_ref()
                && Some(&t.agreement_grant_token) == grant.as_ref()
        });
        let retry_after = s.faults.retry_after_seconds;
        let mut injected = Injected::None;
        if let (Some(index), Some(shape)) = (agreement, s.bucket_shape()) {
            let cost = if method == hyper::Method::GET {
                s.faults.read_call_cost
            } else {
                s.faults.write_call_cost
            };
            let with_retry_after = s.faults.retry_after_on_token_limit;
            let (used, charged) = match s.buckets[index].spend(shape, cost, Instant::now()) {
                Spend::Paid { used } => (used, cost),
                Spend::Refused { used, wait } => {
                    injected = Injected::TokenLimit {
                        retry_after: with_retry_after
                            .then(|| wait.as_secs_f64().ceil().max(1.0) as u64),
                    };
                    (used, 0)
                }
            };
            *rate_headers = Some(RateHeaders {
                rate_limiting: shape.header(used),
                call_cost: charged,
            });
        }
        // A call the bucket refused neither counts nor draws for a fault.
        let refused = !matches!(injected, Injected::None);
        if let Some(n) = s.faults.fail_request_number.filter(|_| !refused) {
            if n <= 1 {
                s.faults.fail_request_number = None;
                injected = Injected::Fail(s.faults.fail_request_mode);
            } else {
                s.faults.fail_request_number = Some(n - 1);
            }
        }
        if matches!(injected, Injected::None) {
            let f = s.faults.clone();
            let mut rng = s.rng;
            let draw = rand_unit(&mut rng);
            s.rng = rng;
            let mut edge = 0.0;
            for (rate, mode) in [
                (f.rate_429, FailMode::TooManyRequests),
                (f.rate_500, FailMode::ServerError),
                (f.rate_timeout, FailMode::Hold),
                (f.rate_drop, FailMode::Drop),
            ] {
                edge += rate;
                if draw < edge {
                    injected = Injected::Fail(mode);
                    break;
                }
            }
        }
        (agreement, injected, retry_after)
    };

    let log = |status: u16, outcome: &str, logged_body: Option<Value>| {
        let mut s = shared.lock();
        let entry = LoggedRequest {
            seq,
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            agreement,
            status,
            outcome: outcome.to_string(),
            body: logged_body,
            idempotency_key: idempotency_key.clone(),
        };
        s.log.push(entry);
    };
    let request_json: Option<Value> = serde_json::from_slice(&body).ok();

    match injected {
        Injected::None => {}
        Injected::Fail(mode) => {
            return fail(
                mode,
                seq,
                retry_after,
                hold_ms,
                "injected",
                &log,
                request_json,
            )
            .await;
        }
        Injected::TokenLimit { retry_after } => {
            let mut a = error_answer(
                seq,
                429,
                "Too many requests: the agreement's token limit is used up.",
                "Wait for the tokens in X-RateLimiting to refill before sending again.",
                None,
            );
            a.retry_after = retry_after;
            log(429, "token-limit", request_json);
            return Ok(respond(&a));
        }
    }

    let Some(agreement_index) = agreement else {
        let a = error_answer(
            seq,
            401,
            "The request could not be authenticated.",
            "Send valid X-AppSecretToken and X-AgreementGrantToken headers.",
            None,
        );
        log(401, "answered", request_json);
        return Ok(respond(&a));
    };

    let a = {
        let mut s = shared.lock();
        let now = Instant::now();
        let fingerprint = request_fingerprint(method.as_str(), &path, &body);
        let seen = match &idempotency_key {
            Some(key) => s.idempotency.lookup(agreement_index, key, fingerprint, now),
            None => Lookup::New,
        };
        match seen {
            Lookup::Replay(first) => {
                drop(s);
                let mut replay = match first.body {
                    Some(body) => crate::answer::answer(first.status, body),
                    None => crate::answer::no_content(),
                };
                replay.status = first.status;
                replay.location = first.location;
                replay.from_cache = true;
                log(replay.status, "replayed", request_json);
                return Ok(respond(&replay));
            }
            Lookup::Conflict => {
                drop(s);
                let refused = error_answer(
                    seq,
                    422,
                    "The Idempotency-Key was already used for a different request.",
                    "Use a new key for a new request.",
                    None,
                );
                log(422, "answered", request_json);
                return Ok(respond(&refused));
            }
            Lookup::New => {}
        }
        let data = &mut s.agreements[agreement_index];
        let mut a = crate::routes::api(&shared, data, seq, &method, &path, query.as_deref(), &body);
        if a.status == 201 && a.location.is_none() {
            a.location = a
                .body
                .as_ref()
                .and_then(|b| b.get("self"))
                .and_then(Value::as_str)
                .map(str::to_string);
        }
        if let Some(key) = &idempotency_key {
            s.idempotency
                .remember(agreement_index, key, fingerprint, &a, now);
        }
        a
    };

    if let Some(commit) = a.committed {
        let lose = {
            let mut s = shared.lock();
            let mode = s.faults.fail_after_commit_mode;
            let counter = match commit {
                Commit::Draft => &mut s.faults.fail_next_creates_after_commit,
                Commit::Booking => &mut s.faults.fail_next_bookings_after_commit,
                Commit::Voucher => &mut s.faults.fail_next_vouchers_after_commit,
            };
            if *counter > 0 {
                *counter -= 1;
                Some(mode)
            } else {
                None
            }
        };
        if let Some(mode) = lose {
            return fail(
                mode,
                seq,
                retry_after,
                hold_ms,
                "committed-then",
                &log,
                request_json,
            )
            .await;
        }
    }
    log(a.status, "answered", request_json);
    Ok(respond(&a))
}

async fn fail(
    mode: FailMode,
    seq: u64,
    retry_after: u64,
    hold_ms: u64,
    prefix: &str,
    log: &impl Fn(u16, &str, Option<Value>),
    request_json: Option<Value>,
) -> Result<Resp, DropConnection> {
    let (status, name) = match mode {
        FailMode::Drop => (0, "dropped"),
        FailMode::Hold => (0, "held"),
        FailMode::GatewayTimeout => (504, "504"),
        FailMode::ServerError => (500, "500"),
        FailMode::TooManyRequests => (429, "429"),
    };
    log(status, &format!("{prefix}-{name}"), request_json);
    match mode {
        FailMode::Drop => Err(DropConnection),
        FailMode::Hold => {
            tokio::time::sleep(Duration::from_millis(hold_ms)).await;
            Err(DropConnection)
        }
        FailMode::GatewayTimeout => Ok(respond(&error_answer(
            seq,
            504,
            "Gateway Timeout",
            "The request timed out; its effect is unknown.",
            None,
        ))),
        FailMode::ServerError => Ok(respond(&error_answer(
            seq,
            500,
            "An unexpected error occurred.",
            "Try again or contact support with the log id.",
            None,
        ))),
        FailMode::TooManyRequests => {
            let mut a = error_answer(
                seq,
                429,
                "Too many requests.",
                "Slow down and retry after the time in the Retry-After header.",
                None,
            );
            a.retry_after = Some(retry_after);
            Ok(respond(&a))
        }
    }
}
