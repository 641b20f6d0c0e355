//! HTTP client for the e-conomic REST API.
//!
//! One [`EconomicClient`] per process (one connection pool, one cache);
//! [`AgreementApi`] is a cheap per-shop handle carrying that shop's tokens.
//! Every call is bounded by the caller's deadline: request timeouts shrink
//! to the time left and no retry starts that could not finish in time.

use super::cache::Cache;
use super::error::{ApiError, EconomicError};
use super::filter::eq_filter;
use super::retry::{parse_retry_after, RetryPolicy};
use crate::domain::economic_model::*;
use crate::domain::secret::Secret;
use crate::metrics;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DEFAULT_BASE_URL: &str = "https://restapi.e-conomic.com";

/// Page size used when reading whole collections.
pub(super) const PAGE_SIZE: u32 = MAX_PAGE_SIZE;
/// e-conomic refuses a larger `pagesize` (`E04810`, LIVE).
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Page size of the look-up of a debtor by email.
const EMAIL_LOOKUP_PAGE_SIZE: u32 = 100;
const _: () = assert!(PAGE_SIZE <= MAX_PAGE_SIZE && EMAIL_LOOKUP_PAGE_SIZE <= MAX_PAGE_SIZE);

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    /// The longest a transfer waits in place for its agreement's token
    /// bucket; a longer wait hands the message back to the queue instead
    /// ([`super::rate_limit::RateLimiter::deferral`]).
    pub max_inline_pacing: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_string(),
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            max_inline_pacing: Duration::from_secs(2),
        }
    }
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    cache: Cache,
    rate_limit: super::rate_limit::RateLimiter,
}

/// Process-wide e-conomic client: connection pool, settings and caches.
#[derive(Clone)]
pub struct EconomicClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for EconomicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EconomicClient")
            .field("base_url", &self.inner.config.base_url)
            .finish()
    }
}

impl EconomicClient {
    pub fn new(config: ClientConfig) -> Result<Self, EconomicError> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| EconomicError::Setup(e.to_string()))?;
        let mut config = config;
        config.base_url = config.base_url.trim_end_matches('/').to_string();
        Ok(EconomicClient {
            inner: Arc::new(Inner {
                http,
                config,
                cache: Cache::default(),
                rate_limit: Default::default(),
            }),
        })
    }

    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    pub(crate) fn cache(&self) -> &Cache {
        &self.inner.cache
    }

    /// `Some(delay)`: the agreement's token bucket would keep a call
    /// waiting longer than `max_inline_pacing`; try again after `delay`.
    pub fn budget_deferral(&self, agreement: &AgreementApi) -> Option<Duration> {
        self.inner.rate_limit.deferral(
            &agreement.agreement_key,
            Instant::now(),
            self.inner.config.max_inline_pacing,
        )
    }

    /// Caps calls to at most `calls_per_second` per agreement in this
    /// process (0: no cap, the default). Pacing by e-conomic's rate-limit
    /// headers is on regardless; see [`super::rate_limit`].
    pub fn set_rate_limit(&self, calls_per_second: u32) {
        self.inner.rate_limit.set_rate(calls_per_second);
    }

    /// How many execution environments may call one agreement at once
    /// (the transfer event source's maximum concurrency): each spaces the
    /// orders it hands back for a spent budget that many refills apart, so
    /// that together they come back at the bucket's pace. 1 by default.
    pub fn set_environments(&self, environments: u32) {
        self.inner.rate_limit.set_environments(environments);
    }

    /// A handle for one agreement (one shop's tokens).
    pub fn for_agreement(
        &self,
        app_secret_token: Secret,
        agreement_grant_token: Secret,
    ) -> AgreementApi {
        let mut hasher = Sha256::new();
        hasher.update(app_secret_token.expose().as_bytes());
        hasher.update([0u8]);
        hasher.update(agreement_grant_token.expose().as_bytes());
        let digest = hasher.finalize();
        let agreement_key = hex(&digest[..12]);
        AgreementApi {
            client: self.clone(),
            app_secret_token,
            agreement_grant_token,
            agreement_key,
            calls: Arc::new(AtomicU32::new(0)),
            cached_replays: Arc::new(AtomicU32::new(0)),
            drafts: DraftDocument::InvoiceDraft,
        }
    }
}

/// One agreement's view of e-conomic. Cloning shares the call counter.
#[derive(Clone)]
pub struct AgreementApi {
    client: EconomicClient,
    app_secret_token: Secret,
    agreement_grant_token: Secret,
    agreement_key: String,
    calls: Arc<AtomicU32>,
    cached_replays: Arc<AtomicU32>,
    /// The collection the draft methods address (`/invoices/drafts`
    /// unless [`AgreementApi::for_document`] chose order drafts).
    drafts: DraftDocument,
}

impl fmt::Debug for AgreementApi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgreementApi")
            .field("agreement_key", &self.agreement_key)
            .field("app_secret_token", &self.app_secret_token)
            .field("agreement_grant_token", &self.agreement_grant_token)
            .finish()
    }
}

/// Whether a request may be sent again when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Resend {
    /// Reads, PUT, DELETE: repeating them has no extra effect.
    Safe,
    /// Creates: only resent when e-conomic certainly did not act on the
    /// first one (connect failure, 429). The caller looks before resending,
    /// because how long e-conomic's REST API remembers an idempotency key
    /// is unconfirmed; the look-up by reference does not depend on it.
    OnlyIfNotProcessed,
}

/// The `Idempotency-Key` of a write: a SHA-256 (hex) over the agreement's
/// one-way key, the method, the path, the body and a scope, so that the
/// same request sent again (a retry, a redelivery, another execution
/// environment) carries the same key and any other request another one.
/// `scope` separates requests whose bytes can repeat with another meaning:
/// numbers are reused after a delete, so a DELETE or booking of draft 5
/// is scoped by the order reference it is meant for. No token enters it
/// except through `agreement_key`, itself a hash.
pub fn idempotency_key(
    agreement_key: &str,
    method: &str,
    path: &str,
    body: &[u8],
    scope: &str,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        agreement_key.as_bytes(),
        method.as_bytes(),
        path.as_bytes(),
        scope.as_bytes(),
    ] {
        // Length-prefixed, so that no two part lists hash the same bytes.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.update(body);
    hex(&hasher.finalize())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Refuses a DELETE that does not name one record: e-conomic's
/// `DELETE /invoices/drafts` without a number deletes every draft on the
/// agreement (LIVE), and `0` is what an unset number looks like.
fn deletes_one_record(path: &str) -> bool {
    const COLLECTIONS: [&str; 5] = [
        "/invoices/drafts",
        "/orders/drafts",
        "/invoices/booked",
        "/customers",
        "/products",
    ];
    let Some((collection, id)) = path.rsplit_once('/') else {
        return false;
    };
    COLLECTIONS.contains(&collection) && !id.is_empty() && id != "0"
}

impl AgreementApi {
    /// This handle with its draft methods (create, find, get, replace,
    /// delete) on `document`'s collection; it shares the call counters.
    pub fn for_document(&self, document: DraftDocument) -> AgreementApi {
        AgreementApi {
            drafts: document,
            ..self.clone()
        }
    }

    /// The draft collection this handle's draft methods address.
    pub fn drafts(&self) -> DraftDocument {
        self.drafts
    }

    /// HTTP requests made through this handle (and its clones), retries
    /// included.
    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Answers e-conomic replayed for a repeated idempotency key
    /// (`X-ResultFromCache: true`) through this handle and its clones.
    pub fn cached_replays(&self) -> u32 {
        self.cached_replays.load(Ordering::Relaxed)
    }

    /// A one-way identifier of this agreement for cache keys and logs.
    pub fn agreement_key(&self) -> &str {
        &self.agreement_key
    }

    pub fn client(&self) -> &EconomicClient {
        &self.client
    }

    pub(crate) fn cache(&self) -> &Cache {
        self.client.cache()
    }

    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        resend: Resend,
        key_scope: &str,
        deadline: Instant,
    ) -> Result<(u16, bytes_body::Body, bool), EconomicError> {
        let config = &self.client.inner.config;
        let operation = format!("{method} {path}");
        if method == Method::DELETE && !deletes_one_record(path) {
            return Err(EconomicError::Setup(format!(
                "refused to send {operation}: a DELETE must name one record"
            )));
        }
        let url = format!("{}{}", config.base_url, path);
        // Computed once: every resend below carries the same key.
        let idempotency = (method != Method::GET).then(|| {
            idempotency_key(
                &self.agreement_key,
                method.as_str(),
                path,
                body.as_deref().unwrap_or_default(),
                key_scope,
            )
        });
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let pacer = &self.client.inner.rate_limit;
            let pace = pacer.reserve(&self.agreement_key, Instant::now());
            if !pace.is_zero() {
                if Instant::now() + pace + Duration::from_millis(50) >= deadline {
                    // The agreement's bucket would not pay this call in
                    // time: a 429 of our own, never sent, retried later.
                    return Err(EconomicError::from(ApiError::from_body(
                        operation,
                        429,
                        b"{\"message\":\"not sent: the agreement's e-conomic token bucket would not refill before the deadline\"}",
                        Some(pace),
                    )));
                }
                tracing::debug!(
                    target: "economic",
                    method = %method, path, attempt,
                    agreement = %self.agreement_key,
                    wait_ms = pace.as_millis() as u64,
                    "pacing: the agreement's token bucket is low"
                );
                tokio::time::sleep(pace).await;
            }
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            if left < Duration::from_millis(20) {
                return Err(EconomicError::Timeout {
                    operation,
                    sent: false,
                });
            }
            let mut req = self
                .client
                .inner
                .http
                .request(method.clone(), &url)
                .header("X-AppSecretToken", self.app_secret_token.expose())
                .header("X-AgreementGrantToken", self.agreement_grant_token.expose())
                .header("Content-Type", "application/json")
                .timeout(config.request_timeout.min(left));
            if let Some(key) = &idempotency {
                req = req.header("Idempotency-Key", key);
            }
            if !query.is_empty() {
                req = req.query(query);
            }
            if let Some(body) = &body {
                req = req.body(body.clone());
            }
            self.calls.fetch_add(1, Ordering::Relaxed);
            let started = Instant::now();
            let result = match req.send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let header =
                        |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
                    pacer.observe(
                        &self.agreement_key,
                        header("x-ratelimiting"),
                        header("x-callcost"),
                        Instant::now(),
                    );
                    let from_cache = response
                        .headers()
                        .get("x-resultfromcache")
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                    if from_cache {
                        // The first answer to this key, replayed: e-conomic
                        // did not act again. Used as the answer.
                        self.cached_replays.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(
                            target: "economic",
                            method = %method, path, status, attempt,
                            agreement = %self.agreement_key,
                            "e-conomic replayed the answer to an idempotency key"
                        );
                    }
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()));
                    match response.bytes().await {
                        Ok(bytes) if (200..300).contains(&status) => {
                            Ok((status, bytes_body::Body(bytes.to_vec()), from_cache))
                        }
                        Ok(bytes) => Err(EconomicError::from(ApiError::from_body(
                            operation.clone(),
                            status,
                            &bytes,
                            retry_after,
                        ))),
                        Err(e) => Err(transport_error(&operation, &e, true)),
                    }
                }
                Err(e) => Err(transport_error(&operation, &e, false)),
            };
            let duration_ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok((status, _, _)) => tracing::info!(
                    target: "economic",
                    method = %method, path, status, duration_ms, attempt,
                    agreement = %self.agreement_key,
                    "e-conomic call"
                ),
                // Transient failures are worth a warning; a 4xx is often
                // expected (e.g. the optimistic draft for a new debtor) and
                // the caller logs the order's real outcome.
                Err(err) if err.is_transient() => tracing::warn!(
                    target: "economic",
                    method = %method, path, status = err.status().unwrap_or(0), duration_ms, attempt,
                    agreement = %self.agreement_key,
                    transient = true,
                    error = %err,
                    "e-conomic call failed"
                ),
                Err(err) => tracing::info!(
                    target: "economic",
                    method = %method, path, status = err.status().unwrap_or(0), duration_ms, attempt,
                    agreement = %self.agreement_key,
                    transient = false,
                    error = %err,
                    "e-conomic call rejected"
                ),
            }
            metrics::economic_call(match &result {
                Ok((status, _, _)) => *status,
                Err(err) => err.status().unwrap_or(0),
            });
            let err = match result {
                Ok(ok) => return Ok(ok),
                Err(err) => err,
            };
            let may_resend =
                err.is_transient() && (resend == Resend::Safe || !err.outcome_unknown());
            if !may_resend {
                return Err(err);
            }
            // A 429 without `Retry-After` waits for the bucket's refill as
            // its headers tell it, when they do (see `rate_limit`).
            let server_wait = err.retry_after().or_else(|| {
                (err.status() == Some(429))
                    .then(|| pacer.backoff_after_429(&self.agreement_key, Instant::now()))
                    .flatten()
            });
            match config
                .retry
                .next_wait(attempt, server_wait, Instant::now(), deadline)
            {
                // A 429 waited out here holds the worker as pacing would:
                // beyond `max_inline_pacing` the order goes back to the
                // queue instead (transfer's hand-back).
                Some(wait) if err.status() == Some(429) && wait > config.max_inline_pacing => {
                    return Err(err)
                }
                Some(wait) => tokio::time::sleep(wait).await,
                None => return Err(err),
            }
        }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        resend: Resend,
        deadline: Instant,
    ) -> Result<T, EconomicError> {
        self.call_scoped(method, path, query, body, resend, "", deadline)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn call_scoped<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        resend: Resend,
        key_scope: &str,
        deadline: Instant,
    ) -> Result<T, EconomicError> {
        self.call_noting_replay(method, path, query, body, resend, key_scope, deadline)
            .await
            .map(|(value, _)| value)
    }

    /// The decoded answer, and whether it was e-conomic's replay of an
    /// earlier answer to the same idempotency key.
    #[allow(clippy::too_many_arguments)]
    async fn call_noting_replay<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        resend: Resend,
        key_scope: &str,
        deadline: Instant,
    ) -> Result<(T, bool), EconomicError> {
        let operation = format!("{method} {path}");
        let (_, body, from_cache) = self
            .request(method, path, query, body, resend, key_scope, deadline)
            .await?;
        Ok((decode(&operation, &body.0)?, from_cache))
    }

    pub(super) fn to_body<B: Serialize>(value: &B) -> Result<Vec<u8>, EconomicError> {
        serde_json::to_vec(value).map_err(|e| EconomicError::Setup(format!("request body: {e}")))
    }

    // ----- debtors -------------------------------------------------------

    /// GET /customers/{n}; `None` when it does not exist.
    pub async fn get_customer(
        &self,
        customer_number: u32,
        deadline: Instant,
    ) -> Result<Option<CustomerResponse>, EconomicError> {
        let path = format!("/customers/{customer_number}");
        not_found_as_none(
            self.call(Method::GET, &path, &[], None, Resend::Safe, deadline)
                .await,
        )
    }

    /// GET /customers?filter=email$eq:<email>; the lowest-numbered debtor
    /// with that email that is not barred (e-conomic compares strings
    /// case-insensitively).
    pub async fn find_customer_by_email(
        &self,
        email: &str,
        deadline: Instant,
    ) -> Result<Option<CustomerResponse>, EconomicError> {
        let query = [
            ("filter", eq_filter("email", email)),
            ("pagesize", EMAIL_LOOKUP_PAGE_SIZE.to_string()),
        ];
        let page: Collection<CustomerResponse> = self
            .call(
                Method::GET,
                "/customers",
                &query,
                None,
                Resend::Safe,
                deadline,
            )
            .await?;
        Ok(page
            .collection
            .into_iter()
            .filter(|c| c.barred != Some(true))
            .min_by_key(|c| c.customer_number))
    }

    /// POST /customers. Not resent when the outcome is unknown.
    pub async fn create_customer(
        &self,
        customer: &NewCustomer,
        deadline: Instant,
    ) -> Result<CustomerResponse, EconomicError> {
        let body = Self::to_body(customer)?;
        self.call(
            Method::POST,
            "/customers",
            &[],
            Some(body),
            Resend::OnlyIfNotProcessed,
            deadline,
        )
        .await
    }

    /// GET /customers/{n} as e-conomic's whole document (every property,
    /// known to the bridge or not), for a read-change-write; `None` when it
    /// does not exist.
    pub async fn get_customer_document(
        &self,
        customer_number: u32,
        deadline: Instant,
    ) -> Result<Option<serde_json::Value>, EconomicError> {
        let path = format!("/customers/{customer_number}");
        not_found_as_none(
            self.call(Method::GET, &path, &[], None, Resend::Safe, deadline)
                .await,
        )
    }

    /// PUT /customers/{n} with the whole document. e-conomic has no PATCH
    /// and a PUT is a true replace (LIVE: an omitted property is cleared),
    /// so `document` must be everything a GET returned, changed.
    pub async fn replace_customer(
        &self,
        customer_number: u32,
        document: &serde_json::Value,
        deadline: Instant,
    ) -> Result<serde_json::Value, EconomicError> {
        let body = Self::to_body(document)?;
        let path = format!("/customers/{customer_number}");
        self.call(Method::PUT, &path, &[], Some(body), Resend::Safe, deadline)
            .await
    }

    // ----- invoices ------------------------------------------------------

    /// POST /invoices/drafts (or `/orders/drafts`, see
    /// [`Self::for_document`]; so for every draft method). Not resent when the outcome is unknown (the
    /// caller looks the reference up first, see `push`).
    pub async fn create_draft(
        &self,
        draft: &DraftInvoice,
        deadline: Instant,
    ) -> Result<DraftInvoiceResponse, EconomicError> {
        self.create_draft_with_key_scope(draft, "", deadline)
            .await
            .map(|(created, _)| created)
    }

    /// [`Self::create_draft`] under an idempotency key of its own for the
    /// same body (a resend after the debtor was created must not be
    /// answered with a replay of the first send's refusal, and a replay
    /// naming a draft that is gone must not be replayed again); also says
    /// whether the answer was e-conomic's replay of an earlier create.
    pub async fn create_draft_with_key_scope(
        &self,
        draft: &DraftInvoice,
        key_scope: &str,
        deadline: Instant,
    ) -> Result<(DraftInvoiceResponse, bool), EconomicError> {
        let body = Self::to_body(draft)?;
        self.call_noting_replay(
            Method::POST,
            self.drafts.collection_path(),
            &[],
            Some(body),
            Resend::OnlyIfNotProcessed,
            key_scope,
            deadline,
        )
        .await
    }

    /// GET /invoices/drafts?filter=references.other$eq:<reference>.
    pub async fn find_drafts_by_reference(
        &self,
        reference: &str,
        deadline: Instant,
    ) -> Result<Vec<DraftInvoiceResponse>, EconomicError> {
        let query = [("filter", eq_filter("references.other", reference))];
        let page: Collection<DraftInvoiceResponse> = self
            .call(
                Method::GET,
                self.drafts.collection_path(),
                &query,
                None,
                Resend::Safe,
                deadline,
            )
            .await?;
        // Filters compare case-insensitively; the bridge's references are
        // exact, so keep exact matches only.
        Ok(page
            .collection
            .into_iter()
            .filter(|d| reference_of(&d.references) == Some(reference))
            .collect())
    }

    /// PUT /invoices/drafts/{n}: replaces the whole draft (a true replace:
    /// `draft` is everything the draft is to hold) and answers with the
    /// totals computed again. `order_reference` scopes the idempotency key,
    /// as for a DELETE: numbers are reused.
    pub async fn replace_draft(
        &self,
        draft_invoice_number: u32,
        draft: &DraftInvoice,
        order_reference: &str,
        deadline: Instant,
    ) -> Result<DraftInvoiceResponse, EconomicError> {
        let body = Self::to_body(draft)?;
        let path = format!("{}/{draft_invoice_number}", self.drafts.collection_path());
        self.call_scoped(
            Method::PUT,
            &path,
            &[],
            Some(body),
            Resend::Safe,
            order_reference,
            deadline,
        )
        .await
    }

    pub async fn get_draft(
        &self,
        draft_invoice_number: u32,
        deadline: Instant,
    ) -> Result<Option<DraftInvoiceResponse>, EconomicError> {
        let path = format!("{}/{draft_invoice_number}", self.drafts.collection_path());
        not_found_as_none(
            self.call(Method::GET, &path, &[], None, Resend::Safe, deadline)
                .await,
        )
    }

    /// POST /invoices/booked. Not resent when the outcome is unknown.
    /// `order_reference` scopes the idempotency key: draft numbers are
    /// reused, so "book draft 5" can mean another order's draft later.
    /// `send_by`: have e-conomic send the booked invoice (EAN, email).
    pub async fn book_draft(
        &self,
        draft_invoice_number: u32,
        order_reference: &str,
        send_by: Option<SendBy>,
        deadline: Instant,
    ) -> Result<BookedInvoiceResponse, EconomicError> {
        if self.drafts == DraftDocument::OrderDraft {
            // Booking names a draft invoice's number; an order's is another
            // numbering, so sending it could book an unrelated invoice.
            return Err(EconomicError::Setup(
                "refused to book: order drafts are not booked through the API".to_owned(),
            ));
        }
        let body = Self::to_body(&BookRequest {
            draft_invoice: DraftInvoiceRef {
                draft_invoice_number,
            },
            book_with_number: None,
            send_by,
        })?;
        self.call_scoped(
            Method::POST,
            "/invoices/booked",
            &[],
            Some(body),
            Resend::OnlyIfNotProcessed,
            order_reference,
            deadline,
        )
        .await
    }

    /// GET /invoices/booked?filter=references.other$eq:<reference>.
    pub async fn find_booked_by_reference(
        &self,
        reference: &str,
        deadline: Instant,
    ) -> Result<Vec<BookedInvoiceResponse>, EconomicError> {
        let query = [("filter", eq_filter("references.other", reference))];
        let page: Collection<BookedInvoiceResponse> = self
            .call(
                Method::GET,
                "/invoices/booked",
                &query,
                None,
                Resend::Safe,
                deadline,
            )
            .await?;
        Ok(page
            .collection
            .into_iter()
            .filter(|d| reference_of(&d.references) == Some(reference))
            .collect())
    }

    /// DELETE /invoices/drafts/{n}; `false` when it was already gone.
    /// `order_reference` scopes the idempotency key (numbers are reused:
    /// deleting draft 5 of one order must not replay as deleting draft 5
    /// of another). The caller re-reads the draft first; see `push`.
    pub async fn delete_draft(
        &self,
        draft_invoice_number: u32,
        order_reference: &str,
        deadline: Instant,
    ) -> Result<bool, EconomicError> {
        let path = format!("{}/{draft_invoice_number}", self.drafts.collection_path());
        match self
            .request(
                Method::DELETE,
                &path,
                &[],
                None,
                Resend::Safe,
                order_reference,
                deadline,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.status() == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    // ----- reference data (cached per process) ----------------------------

    /// Reads every page of a collection (`skippages` / `pagesize`).
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        path: &str,
        deadline: Instant,
    ) -> Result<Vec<T>, EconomicError> {
        let mut all = Vec::new();
        let mut skip_pages: u32 = 0;
        loop {
            let query = [
                ("skippages", skip_pages.to_string()),
                ("pagesize", PAGE_SIZE.to_string()),
            ];
            let page: Collection<T> = self
                .call(Method::GET, path, &query, None, Resend::Safe, deadline)
                .await?;
            let got = page.collection.len();
            all.extend(page.collection);
            let has_next = page
                .pagination
                .as_ref()
                .and_then(|p| p.next_page.as_ref())
                .is_some();
            if !has_next || got == 0 {
                return Ok(all);
            }
            skip_pages += 1;
        }
    }

    async fn cached_list<T: DeserializeOwned + Send + Sync + 'static>(
        &self,
        path: &'static str,
        deadline: Instant,
    ) -> Result<Arc<Vec<T>>, EconomicError> {
        if let Some(hit) = self.cache().reference::<Vec<T>>(&self.agreement_key, path) {
            return Ok(hit);
        }
        let list = Arc::new(self.list_all::<T>(path, deadline).await?);
        self.cache()
            .remember_reference(&self.agreement_key, path, list.clone());
        Ok(list)
    }

    pub async fn vat_zones(&self, deadline: Instant) -> Result<Arc<Vec<VatZone>>, EconomicError> {
        self.cached_list("/vat-zones", deadline).await
    }

    pub async fn layouts(&self, deadline: Instant) -> Result<Arc<Vec<Layout>>, EconomicError> {
        self.cached_list("/layouts", deadline).await
    }

    pub async fn payment_terms(
        &self,
        deadline: Instant,
    ) -> Result<Arc<Vec<PaymentTerms>>, EconomicError> {
        self.cached_list("/payment-terms", deadline).await
    }

    pub async fn customer_groups(
        &self,
        deadline: Instant,
    ) -> Result<Arc<Vec<CustomerGroup>>, EconomicError> {
        self.cached_list("/customer-groups", deadline).await
    }

    pub async fn units(&self, deadline: Instant) -> Result<Arc<Vec<Unit>>, EconomicError> {
        self.cached_list("/units", deadline).await
    }

    /// POST /products. Not resent when the outcome is unknown.
    pub async fn create_product(
        &self,
        product: &NewProduct,
        deadline: Instant,
    ) -> Result<Product, EconomicError> {
        let body = Self::to_body(product)?;
        self.call(
            Method::POST,
            "/products",
            &[],
            Some(body),
            Resend::OnlyIfNotProcessed,
            deadline,
        )
        .await
    }

    pub async fn product_groups(
        &self,
        deadline: Instant,
    ) -> Result<Arc<Vec<ProductGroup>>, EconomicError> {
        self.cached_list("/product-groups", deadline).await
    }

    /// GET /products/{number}; `None` when it does not exist.
    pub async fn get_product(
        &self,
        product_number: &str,
        deadline: Instant,
    ) -> Result<Option<Product>, EconomicError> {
        let path = format!("/products/{}", encode_resource_id(product_number));
        not_found_as_none(
            self.call(Method::GET, &path, &[], None, Resend::Safe, deadline)
                .await,
        )
    }
}

fn reference_of(references: &Option<References>) -> Option<&str> {
    references.as_ref().and_then(|r| r.other.as_deref())
}

fn not_found_as_none<T>(result: Result<T, EconomicError>) -> Result<Option<T>, EconomicError> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.status() == Some(404) => Ok(None),
        Err(e) => Err(e),
    }
}

fn transport_error(operation: &str, e: &reqwest::Error, body_phase: bool) -> EconomicError {
    // A connect failure means e-conomic never saw the request; anything
    // later (timeout, reset mid-answer) may come after it acted.
    let sent = body_phase || !e.is_connect();
    if e.is_timeout() {
        EconomicError::Timeout {
            operation: operation.to_string(),
            sent,
        }
    } else {
        // reqwest errors carry the URL, never headers: no token can leak.
        let mut detail = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        EconomicError::Connection {
            operation: operation.to_string(),
            detail,
            sent,
        }
    }
}

fn decode<T: DeserializeOwned>(operation: &str, body: &[u8]) -> Result<T, EconomicError> {
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| EconomicError::Decode {
        operation: operation.to_string(),
        detail: format!("{} at `{}`", e.inner(), e.path()),
    })
}

/// e-conomic's encoding of resource ids in URLs (REST docs, "Custom
/// resource self-link encoding"): some characters become `_N_`, the rest
/// is percent-encoded.
pub fn encode_resource_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for c in id.chars() {
        let replacement = match c {
            '<' => "_0_",
            '>' => "_1_",
            '*' => "_2_",
            '%' => "_3_",
            ':' => "_4_",
            '&' => "_5_",
            '/' => "_6_",
            '\\' => "_7_",
            '_' => "_8_",
            ' ' => "_9_",
            '?' => "_10_",
            '.' => "_11_",
            '#' => "_12_",
            '+' => "_13_",
            _ => "",
        };
        if !replacement.is_empty() {
            out.push_str(replacement);
        } else if c.is_ascii_alphanumeric() || c == '-' || c == '~' {
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

/// Raw response body (kept private to this module's callers).
mod bytes_body {
    pub struct Body(pub Vec<u8>);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_ids_use_economics_custom_encoding() {
        assert_eq!(
            encode_resource_id("My Awesome Product_Discount5%"),
            "My_9_Awesome_9_Product_8_Discount5_3_"
        );
        assert_eq!(encode_resource_id("SKU-1"), "SKU-1");
        assert_eq!(encode_resource_id("æ"), "%C3%A6");
    }

    #[test]
    fn idempotency_keys_repeat_for_the_same_request_only() {
        let key = |agreement: &str, method: &str, path: &str, body: &[u8], scope: &str| {
            idempotency_key(agreement, method, path, body, scope)
        };
        let base = key("agr", "POST", "/invoices/drafts", b"{\"a\":1}", "");
        assert_eq!(
            base,
            key("agr", "POST", "/invoices/drafts", b"{\"a\":1}", "")
        );
        assert_eq!(base.len(), 64);
        for other in [
            key("agr2", "POST", "/invoices/drafts", b"{\"a\":1}", ""),
            key("agr", "PUT", "/invoices/drafts", b"{\"a\":1}", ""),
            key("agr", "POST", "/customers", b"{\"a\":1}", ""),
            key("agr", "POST", "/invoices/drafts", b"{\"a\":2}", ""),
            key("agr", "POST", "/invoices/drafts", b"{\"a\":1}", "shop:1"),
        ] {
            assert_ne!(base, other);
        }
        // Parts cannot run into each other.
        assert_ne!(key("ab", "c", "/p", b"", ""), key("a", "bc", "/p", b"", ""));
    }

    #[test]
    fn the_key_of_a_handle_is_the_same_in_every_process_and_holds_no_token() {
        let one = EconomicClient::new(ClientConfig::default()).expect("client");
        let two = EconomicClient::new(ClientConfig::default()).expect("client");
        let a = one.for_agreement(Secret::new("app-secret-xyz"), Secret::new("grant-abc"));
        let b = two.for_agreement(Secret::new("app-secret-xyz"), Secret::new("grant-abc"));
        let key_a = idempotency_key(a.agreement_key(), "DELETE", "/invoices/drafts/5", b"", "r");
        let key_b = idempotency_key(b.agreement_key(), "DELETE", "/invoices/drafts/5", b"", "r");
        assert_eq!(key_a, key_b);
        assert!(!key_a.contains("grant-abc") && !key_a.contains("app-secret-xyz"));
    }

    #[test]
    fn a_delete_must_name_one_record() {
        for refused in [
            "/invoices/drafts",
            "/invoices/drafts/",
            "/invoices/drafts/0",
            "/orders/drafts",
            "/orders/drafts/",
            "/orders/drafts/0",
            "/customers",
            "/customers/",
            "/",
            "",
            "/invoices",
        ] {
            assert!(!deletes_one_record(refused), "{refused}");
        }
        for allowed in [
            "/invoices/drafts/1",
            "/orders/drafts/1",
            "/customers/17",
            "/products/SKU_8_1",
        ] {
            assert!(deletes_one_record(allowed), "{allowed}");
        }
    }

    #[tokio::test]
    async fn a_draft_delete_without_a_number_is_refused_before_sending() {
        // Nothing listens on port 9: a request that got sent would fail as
        // a connection error, not as a refusal.
        let client = EconomicClient::new(ClientConfig {
            base_url: "http://127.0.0.1:9".into(),
            ..ClientConfig::default()
        })
        .expect("client");
        let api = client.for_agreement(Secret::new("a"), Secret::new("g"));
        let deadline = Instant::now() + Duration::from_secs(2);
        let err = api
            .delete_draft(0, "shop:1", deadline)
            .await
            .expect_err("refused");
        assert!(matches!(err, EconomicError::Setup(_)), "{err:?}");
        assert_eq!(api.calls(), 0);
    }

    #[tokio::test]
    async fn an_order_draft_handle_addresses_orders_and_never_books() {
        let client = EconomicClient::new(ClientConfig {
            base_url: "http://127.0.0.1:9".into(),
            ..ClientConfig::default()
        })
        .expect("client");
        let api = client
            .for_agreement(Secret::new("a"), Secret::new("g"))
            .for_document(DraftDocument::OrderDraft);
        assert_eq!(api.drafts().collection_path(), "/orders/drafts");
        let deadline = Instant::now() + Duration::from_secs(2);
        let err = api
            .delete_draft(0, "shop:1", deadline)
            .await
            .expect_err("refused");
        assert!(matches!(err, EconomicError::Setup(_)), "{err:?}");
        let err = api
            .book_draft(7, "shop:1", None, deadline)
            .await
            .expect_err("refused");
        assert!(matches!(err, EconomicError::Setup(_)), "{err:?}");
        assert_eq!(api.calls(), 0);
    }

    #[test]
    fn debug_of_a_handle_redacts_tokens() {
        let client = EconomicClient::new(ClientConfig::default()).expect("client");
        let api = client.for_agreement(Secret::new("app-secret-xyz"), Secret::new("grant-abc"));
        let text = format!("{api:?}");
        assert!(
            !text.contains("app-secret-xyz") && !text.contains("grant-abc"),
            "{text}"
        );
        assert_eq!(api.agreement_key().len(), 24);
    }
}
