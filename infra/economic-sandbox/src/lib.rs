//! A local stand-in for the e-conomic REST API (the part the bridge uses),
//! served over real HTTP on 127.0.0.1, with fault injection for chaos tests.
//!
//! Behaves like e-conomic: same paths and token headers (401 when missing or
//! wrong), request validation against the contract schemas in
//! `shared/contracts/economic/`, reference checks (customer, layout, payment
//! terms, VAT zone, customer group, unit, product) answered with e-conomic's
//! annotated 400 errors, numbering of debtors and drafts (numbers reused
//! after a delete), totals, `$eq` filters read as the live API reads them,
//! paging, booking and deletion, `Idempotency-Key` replays, and the token
//! bucket with its `X-RateLimiting` / `X-CallCost` headers
//! ([`token_bucket`]). Several agreements, each with its own data and
//! bucket.
//!
//! Control endpoints live under `/_sandbox/` (see [`control`]); the same
//! operations are methods on [`SandboxHandle`] for in-process tests.

mod answer;
pub mod control;
pub mod data;
mod drafts;
mod filter;
mod idempotency;
pub mod journals;
mod routes;
pub mod schema;
pub mod token_bucket;
pub mod totals;
mod transport;
mod url_decoding;

pub use control::{FailMode, Faults};
pub use data::{AgreementData, BookedRecord, DraftRecord, VatZoneRule};

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Tokens of one agreement the sandbox accepts.
#[derive(Clone, PartialEq, Eq)]
pub struct AgreementTokens {
    pub app_secret_token: String,
    pub agreement_grant_token: String,
}

/// The sandbox may stand in for real e-conomic tokens: never print them.
impl std::fmt::Debug for AgreementTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgreementTokens")
            .field("app_secret_token", &"[redacted]")
            .field("agreement_grant_token", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// 0 picks a free port.
    pub port: u16,
    pub agreements: Vec<AgreementTokens>,
    pub faults: Faults,
    /// How long an `Idempotency-Key` is remembered per agreement (e-conomic's
    /// newer APIs document one hour; the REST API's lifetime is unconfirmed).
    pub idempotency_key_lifetime: std::time::Duration,
}

/// One hour, as e-conomic's newer APIs document for their keys.
pub const DEFAULT_IDEMPOTENCY_KEY_LIFETIME: std::time::Duration =
    std::time::Duration::from_secs(3600);

pub const DEFAULT_APP_SECRET_TOKEN: &str = "sandbox-app-secret";
pub const DEFAULT_AGREEMENT_GRANT_TOKEN: &str = "sandbox-grant";

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            port: 0,
            agreements: vec![AgreementTokens {
                app_secret_token: DEFAULT_APP_SECRET_TOKEN.into(),
                agreement_grant_token: DEFAULT_AGREEMENT_GRANT_TOKEN.into(),
            }],
            faults: Faults::default(),
            idempotency_key_lifetime: DEFAULT_IDEMPOTENCY_KEY_LIFETIME,
        }
    }
}

/// A request as the sandbox saw it (tokens never recorded).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedRequest {
    pub seq: u64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Index of the agreement (order of configuration), when authenticated.
    pub agreement: Option<usize>,
    pub status: u16,
    /// What the sandbox did to the connection: "answered", "dropped",
    /// "held", "committed-then-dropped", "committed-then-504"...
    pub outcome: String,
    pub body: Option<serde_json::Value>,
    /// The `Idempotency-Key` header, if any (a hash, never a token).
    pub idempotency_key: Option<String>,
}

pub(crate) struct State {
    pub tokens: Vec<AgreementTokens>,
    pub agreements: Vec<AgreementData>,
    pub faults: Faults,
    pub rng: u64,
    pub seq: u64,
    pub log: Vec<LoggedRequest>,
    /// e-conomic's token bucket of each agreement.
    pub buckets: Vec<token_bucket::TokenBucket>,
    pub idempotency: idempotency::Keys,
}

pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub schemas: schema_set::Schemas,
}

pub(crate) mod schema_set {
    use crate::schema::{
        Schema, BOOK_SCHEMA, CUSTOMER_SCHEMA, DRAFT_SCHEMA, PRODUCT_SCHEMA, VOUCHER_SCHEMA,
    };
    pub struct Schemas {
        pub draft: Schema,
        pub customer: Schema,
        pub book: Schema,
        pub product: Schema,
        pub voucher: Schema,
    }
    impl Schemas {
        pub fn load() -> Result<Schemas, String> {
            Ok(Schemas {
                draft: Schema::parse(DRAFT_SCHEMA)?,
                customer: Schema::parse(CUSTOMER_SCHEMA)?,
                book: Schema::parse(BOOK_SCHEMA)?,
                product: Schema::parse(PRODUCT_SCHEMA)?,
                voucher: Schema::parse(VOUCHER_SCHEMA)?,
            })
        }
    }
}

impl State {
    /// The bucket's shape, `None` when the bucket is off.
    pub fn bucket_shape(&self) -> Option<token_bucket::BucketShape> {
        (self.faults.token_limit > 0 && self.faults.token_window_seconds > 0).then_some(
            token_bucket::BucketShape {
                limit: self.faults.token_limit,
                window_seconds: self.faults.token_window_seconds,
            },
        )
    }

    fn refill_buckets(&mut self) {
        let now = std::time::Instant::now();
        for bucket in self.buckets.iter_mut() {
            *bucket = token_bucket::TokenBucket::full(now);
        }
    }

    /// Replaces the fault settings; a new bucket shape starts full.
    pub fn set_faults(&mut self, faults: Faults) {
        let reshaped = (faults.token_limit, faults.token_window_seconds)
            != (self.faults.token_limit, self.faults.token_window_seconds);
        self.rng = seed_state(faults.seed);
        self.faults = faults;
        if reshaped {
            self.refill_buckets();
        }
    }

    /// Seeded data, full buckets, no remembered keys, empty log.
    pub fn reset(&mut self) {
        for a in self.agreements.iter_mut() {
            *a = AgreementData::seeded();
        }
        self.refill_buckets();
        self.idempotency.forget_all();
        self.log.clear();
        self.seq = 0;
    }
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running sandbox. Dropping it stops the server.
pub struct SandboxHandle {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the sandbox on 127.0.0.1 (a real TCP listener).
pub async fn start(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
    let schemas = schema_set::Schemas::load().map_err(std::io::Error::other)?;
    let agreements = config
        .agreements
        .iter()
        .map(|_| AgreementData::seeded())
        .collect();
    let seed = config.faults.seed;
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            buckets: vec![
                token_bucket::TokenBucket::full(std::time::Instant::now());
                config.agreements.len()
            ],
            idempotency: idempotency::Keys::new(
                config.agreements.len(),
                config.idempotency_key_lifetime,
            ),
            tokens: config.agreements,
            agreements,
            faults: config.faults,
            rng: seed_state(seed),
            seq: 0,
            log: Vec::new(),
        }),
        schemas,
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(transport::serve(listener, shared.clone()));
    Ok(SandboxHandle { addr, shared, task })
}

pub(crate) fn seed_state(seed: u64) -> u64 {
    // splitmix64 of the seed; never zero (xorshift would get stuck).
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

impl SandboxHandle {
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the fault settings; a new token bucket shape starts full.
    pub fn set_faults(&self, faults: Faults) {
        self.shared.lock().set_faults(faults);
    }

    pub fn faults(&self) -> Faults {
        self.shared.lock().faults.clone()
    }

    /// Clears all data back to the seeded state, fills the token buckets
    /// and empties the log.
    pub fn reset(&self) {
        self.shared.lock().reset();
    }

    /// Fills every agreement's token bucket (as after a quiet minute).
    pub fn refill_token_buckets(&self) {
        self.shared.lock().refill_buckets();
    }

    /// How long idempotency keys are remembered from now on (zero: not at
    /// all, as if every retry came after the key's lifetime).
    pub fn set_idempotency_key_lifetime(&self, lifetime: std::time::Duration) {
        self.shared.lock().idempotency.set_lifetime(lifetime);
    }

    /// Lets every remembered idempotency key expire now.
    pub fn expire_idempotency_keys(&self) {
        self.shared.lock().idempotency.forget_all();
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.lock().log.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.lock().log.clear();
    }

    /// Runs `f` on agreement `index`'s data (0 = first configured).
    pub fn with_agreement<R>(
        &self,
        index: usize,
        f: impl FnOnce(&mut AgreementData) -> R,
    ) -> Option<R> {
        let mut s = self.shared.lock();
        s.agreements.get_mut(index).map(f)
    }

    pub fn drafts(&self, index: usize) -> Vec<DraftRecord> {
        self.with_agreement(index, |a| a.drafts.values().cloned().collect())
            .unwrap_or_default()
    }

    /// `/orders/drafts` of agreement `index`.
    pub fn order_drafts(&self, index: usize) -> Vec<DraftRecord> {
        self.with_agreement(index, |a| a.order_drafts.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn booked(&self, index: usize) -> Vec<BookedRecord> {
        self.with_agreement(index, |a| a.booked.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn drafts_with_reference(&self, index: usize, reference: &str) -> usize {
        self.drafts(index)
            .iter()
            .filter(|d| d.reference.as_deref() == Some(reference))
            .count()
    }

    /// How every agreement's drafts round VAT from now on.
    pub fn set_vat_rounding(&self, mode: bridge::domain::money::VatRounding) {
        let mut s = self.shared.lock();
        for a in s.agreements.iter_mut() {
            a.vat_rounding = mode;
        }
    }

    /// Books journal `journal` of agreement `index` as a person would in
    /// e-conomic ([`journals::book_journal`]); the entries booked, `None`
    /// for an unknown agreement or journal.
    pub fn book_journal(&self, index: usize, journal: u32) -> Option<usize> {
        self.with_agreement(index, |a| journals::book_journal(a, journal))
            .flatten()
    }

    /// The unbooked entries of journal `journal` of agreement `index`.
    pub fn journal_entries(&self, index: usize, journal: u32) -> Vec<journals::JournalEntry> {
        self.with_agreement(index, |a| {
            a.journals
                .get(&journal)
                .map(|j| j.entries.clone())
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }

    pub fn customer_count(&self, index: usize) -> usize {
        self.with_agreement(index, |a| a.customers.len())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn agreement_tokens_debug_shows_no_token() {
        let tokens = super::AgreementTokens {
            app_secret_token: "app-token-value".into(),
            agreement_grant_token: "grant-token-value".into(),
        };
        let shown = format!("{tokens:?}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!shown.contains("token-value"), "{shown}");
    }
}
