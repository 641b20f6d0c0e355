//! `Idempotency-Key` on writes, as e-conomic answers it (LIVE: the same
//! `POST /customers` twice under one key made one customer; the second
//! answer was 201 with `X-ResultFromCache: true`; a repeated `DELETE`
//! replayed its 204).
//!
//! Keys are remembered per agreement for a lifetime (default one hour, as
//! e-conomic's newer APIs document; the REST lifetime is unconfirmed).
//! Only successful answers are remembered: whether e-conomic also replays
//! errors is unconfirmed, and a client must not depend on either. A key
//! sent again with a different request is refused with 422, which is
//! stricter than anything observed, so that a client bug shows in tests.

use crate::answer::Answer;
use serde_json::Value;
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

/// The first answer given under a key.
#[derive(Clone)]
pub(crate) struct Remembered {
    at: Instant,
    request: u64,
    pub status: u16,
    pub body: Option<Value>,
    pub location: Option<String>,
}

pub(crate) enum Lookup {
    /// Not seen within the lifetime: process the request.
    New,
    /// Seen with the same request: answer this again.
    Replay(Remembered),
    /// Seen with a different request.
    Conflict,
}

pub(crate) struct Keys {
    lifetime: Duration,
    per_agreement: Vec<HashMap<String, Remembered>>,
}

/// What makes two requests "the same" for a key.
pub(crate) fn request_fingerprint(method: &str, path: &str, body: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    (method, path, body).hash(&mut h);
    h.finish()
}

impl Keys {
    pub fn new(agreements: usize, lifetime: Duration) -> Keys {
        Keys {
            lifetime,
            per_agreement: vec![HashMap::new(); agreements],
        }
    }

    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime;
    }

    pub fn forget_all(&mut self) {
        self.per_agreement.iter_mut().for_each(HashMap::clear);
    }

    pub fn lookup(&mut self, agreement: usize, key: &str, request: u64, now: Instant) -> Lookup {
        let lifetime = self.lifetime;
        let Some(keys) = self.per_agreement.get_mut(agreement) else {
            return Lookup::New;
        };
        keys.retain(|_, r| now.duration_since(r.at) < lifetime);
        match keys.get(key) {
            None => Lookup::New,
            Some(r) if r.request == request => Lookup::Replay(r.clone()),
            Some(_) => Lookup::Conflict,
        }
    }

    pub fn remember(
        &mut self,
        agreement: usize,
        key: &str,
        request: u64,
        answer: &Answer,
        now: Instant,
    ) {
        if !(200..300).contains(&answer.status) || self.lifetime.is_zero() {
            return;
        }
        if let Some(keys) = self.per_agreement.get_mut(agreement) {
            keys.insert(
                key.to_string(),
                Remembered {
                    at: now,
                    request,
                    status: answer.status,
                    body: answer.body.clone(),
                    location: answer.location.clone(),
                },
            );
        }
    }
}
