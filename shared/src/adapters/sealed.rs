//! The shops' secrets sealed with envelope encryption under a KMS key: a
//! dump, backup or export of the shops table holds no usable secret.
//!
//! Each write of a shop asks KMS for a fresh 256-bit data key
//! (`GenerateDataKey`, encryption context `shop_id`), encrypts the shop's
//! secrets with it (AES-256-GCM, a random 96-bit nonce, the shop id bound
//! in as associated data) and stores only the KMS-wrapped data key beside
//! the ciphertext. The configuration JSON keeps a placeholder
//! (`sealed:N`) where each secret was. Reading unwraps the data key with
//! KMS `Decrypt` (same context: a record copied to another shop id does not
//! open) and caches the unwrapped key in memory for a bounded time, so a
//! warm function asks KMS again only when the cache expires.

use crate::domain::secret::Secret;
use crate::domain::shop::ShopConfig;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The format of [`SealedSecrets`]; stored with them so a later format can
/// read this one.
pub const FORMAT: &str = "kms-aes256gcm-v1";
/// How long an unwrapped data key stays in memory.
pub const DEFAULT_KEY_CACHE: Duration = Duration::from_secs(300);
const PLACEHOLDER_PREFIX: &str = "sealed:";
const CONTEXT_KEY: &str = "shop_id";
const DATA_KEY_LEN: usize = 32;

/// What is stored for a shop's secrets besides its configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecrets {
    /// The data key as KMS wrapped it (`CiphertextBlob`).
    pub wrapped_key: Vec<u8>,
    /// Nonce followed by the AES-256-GCM ciphertext and tag of the secrets
    /// (a JSON array of strings, in [`ShopConfig::secrets_mut`] order).
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SealedSecrets({} + {} bytes)",
            self.wrapped_key.len(),
            self.ciphertext.len()
        )
    }
}

/// Why sealing or unsealing failed. No variant carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// KMS could not be reached or refused for now: retry later.
    #[error("KMS unavailable: {0}")]
    Unavailable(String),
    /// The stored record does not open (tampered, copied to another shop,
    /// wrong key) or does not fit its configuration: a person must look.
    #[error("sealed secrets do not open: {0}")]
    Corrupt(String),
    /// A write was asked for with no KMS key to seal under.
    #[error("no KMS key configured to seal the shop's secrets (SECRETS_KEY_ID)")]
    NoKey,
}

/// Where data keys come from.
enum DataKeys {
    Kms(aws_sdk_kms::Client),
    /// A key held in memory, wrapping data keys as KMS would: for tests
    /// without a KMS.
    InMemory(LessSafeKey),
}

/// Seals and unseals shops' secrets. Readers need no key id (a KMS
/// ciphertext names its key); writers seal under `key_id`.
pub struct SecretSealer {
    keys: DataKeys,
    key_id: Option<String>,
    cache_ttl: Duration,
    cache: Mutex<KeyCache>,
}

/// Unwrapped data keys by wrapped key and shop, with when they were
/// unwrapped.
type KeyCache = HashMap<Vec<u8>, (Instant, [u8; DATA_KEY_LEN])>;

impl fmt::Debug for SecretSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSealer")
            .field(
                "keys",
                &match self.keys {
                    DataKeys::Kms(_) => "kms",
                    DataKeys::InMemory(_) => "in-memory",
                },
            )
            .field("key_id", &self.key_id)
            .field("cache_ttl", &self.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl SecretSealer {
    /// KMS-backed; `key_id` (id, ARN or alias) only where this process
    /// writes shops.
    pub fn kms(client: aws_sdk_kms::Client, key_id: Option<String>) -> SecretSealer {
        SecretSealer {
            keys: DataKeys::Kms(client),
            key_id: key_id.filter(|k| !k.trim().is_empty()),
            cache_ttl: DEFAULT_KEY_CACHE,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Backed by a random key in memory (tests).
    pub fn in_memory() -> SecretSealer {
        let mut master = [0u8; DATA_KEY_LEN];
        fill_random(&mut master);
        SecretSealer {
            keys: DataKeys::InMemory(aead_key(&master)),
            key_id: Some("in-memory".to_owned()),
            cache_ttl: DEFAULT_KEY_CACHE,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_cache_ttl(mut self, ttl: Duration) -> SecretSealer {
        self.cache_ttl = ttl;
        self
    }

    /// Whether this sealer can write (has a key to seal under).
    pub fn can_seal(&self) -> bool {
        self.key_id.is_some()
    }

    /// The configuration to store (placeholders where the secrets were)
    /// and the sealed secrets.
    pub async fn seal(
        &self,
        config: &ShopConfig,
    ) -> Result<(ShopConfig, SealedSecrets), SealError> {
        let key_id = self.key_id.as_deref().ok_or(SealError::NoKey)?;
        let mut stored = config.clone();
        let mut secrets = Vec::new();
        for (index, secret) in stored.secrets_mut().into_iter().enumerate() {
            secrets.push(secret.expose().to_owned());
            *secret = Secret::new(format!("{PLACEHOLDER_PREFIX}{index}"));
        }
        let (data_key, wrapped_key) = self.generate_data_key(key_id, &config.shop_id).await?;
        let plaintext = serde_json::to_vec(&secrets)
            .map_err(|e| SealError::Corrupt(format!("secrets do not serialise: {e}")))?;
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut sealed = plaintext;
        aead_key(&data_key)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(associated_data(&config.shop_id)),
                &mut sealed,
            )
            .map_err(|_| SealError::Corrupt("encryption failed".to_owned()))?;
        let mut ciphertext = nonce.to_vec();
        ciphertext.extend_from_slice(&sealed);
        Ok((
            stored,
            SealedSecrets {
                wrapped_key,
                ciphertext,
            },
        ))
    }

    /// Puts the secrets back into `config` (read with placeholders).
    pub async fn unseal(
        &self,
        config: &mut ShopConfig,
        sealed: &SealedSecrets,
    ) -> Result<(), SealError> {
        let data_key = self
            .unwrap_data_key(&sealed.wrapped_key, &config.shop_id)
            .await?;
        if sealed.ciphertext.len() < NONCE_LEN {
            return Err(SealError::Corrupt("ciphertext too short".to_owned()));
        }
        let (nonce, body) = sealed.ciphertext.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| SealError::Corrupt("bad nonce".to_owned()))?;
        let mut buffer = body.to_vec();
        let plaintext = aead_key(&data_key)
            .open_in_place(
                nonce,
                Aad::from(associated_data(&config.shop_id)),
                &mut buffer,
            )
            .map_err(|_| {
                SealError::Corrupt("the secrets' ciphertext does not authenticate".to_owned())
            })?;
        let secrets: Vec<String> = serde_json::from_slice(plaintext)
            .map_err(|_| SealError::Corrupt("the secrets are not a list".to_owned()))?;
        let mut slots = config.secrets_mut();
        if slots.len() != secrets.len() {
            return Err(SealError::Corrupt(format!(
                "{} sealed secrets for {} places in the configuration",
                secrets.len(),
                slots.len()
            )));
        }
        for (index, (slot, secret)) in slots.iter_mut().zip(secrets).enumerate() {
            if slot.expose() != format!("{PLACEHOLDER_PREFIX}{index}") {
                return Err(SealError::Corrupt(format!(
                    "secret {index} of the configuration is not its placeholder"
                )));
            }
            **slot = Secret::new(secret);
        }
        Ok(())
    }

    async fn generate_data_key(
        &self,
        key_id: &str,
        shop_id: &str,
    ) -> Result<([u8; DATA_KEY_LEN], Vec<u8>), SealError> {
        match &self.keys {
            DataKeys::Kms(client) => {
                let out = client
                    .generate_data_key()
                    .key_id(key_id)
                    .key_spec(DataKeySpec::Aes256)
                    .encryption_context(CONTEXT_KEY, shop_id)
                    .send()
                    .await
                    .map_err(|e| kms_error("GenerateDataKey", &e))?;
                let plaintext = out
                    .plaintext()
                    .map(Blob::as_ref)
                    .and_then(|b| <[u8; DATA_KEY_LEN]>::try_from(b).ok())
                    .ok_or_else(|| SealError::Unavailable("KMS returned no 256-bit key".into()))?;
                let wrapped = out
                    .ciphertext_blob()
                    .map(|b| b.as_ref().to_vec())
                    .ok_or_else(|| SealError::Unavailable("KMS returned no ciphertext".into()))?;
                Ok((plaintext, wrapped))
            }
            DataKeys::InMemory(master) => {
                let mut data_key = [0u8; DATA_KEY_LEN];
                fill_random(&mut data_key);
                let mut nonce = [0u8; NONCE_LEN];
                fill_random(&mut nonce);
                let mut wrapped = data_key.to_vec();
                master
                    .seal_in_place_append_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(associated_data(shop_id)),
                        &mut wrapped,
                    )
                    .map_err(|_| SealError::Corrupt("wrapping failed".into()))?;
                let mut blob = nonce.to_vec();
                blob.extend_from_slice(&wrapped);
                Ok((data_key, blob))
            }
        }
    }

    async fn unwrap_data_key(
        &self,
        wrapped: &[u8],
        shop_id: &str,
    ) -> Result<[u8; DATA_KEY_LEN], SealError> {
        // The cache is keyed by the wrapped key and the shop: the same blob
        // under another shop id must still go to KMS (and fail there).
        let cache_key = [wrapped, b"\0", shop_id.as_bytes()].concat();
        if let Some((at, key)) = self.lock_cache().get(&cache_key) {
            if at.elapsed() < self.cache_ttl {
                return Ok(*key);
            }
        }
        let key = match &self.keys {
            DataKeys::Kms(client) => {
                let out = client
                    .decrypt()
                    .ciphertext_blob(Blob::new(wrapped.to_vec()))
                    .encryption_context(CONTEXT_KEY, shop_id)
                    .send()
                    .await
                    .map_err(|e| kms_error("Decrypt", &e))?;
                out.plaintext()
                    .map(Blob::as_ref)
                    .and_then(|b| <[u8; DATA_KEY_LEN]>::try_from(b).ok())
                    .ok_or_else(|| SealError::Corrupt("KMS returned no 256-bit key".into()))?
            }
            DataKeys::InMemory(master) => {
                if wrapped.len() < NONCE_LEN {
                    return Err(SealError::Corrupt("wrapped key too short".into()));
                }
                let (nonce, body) = wrapped.split_at(NONCE_LEN);
                let nonce = Nonce::try_assume_unique_for_key(nonce)
                    .map_err(|_| SealError::Corrupt("bad nonce".into()))?;
                let mut buffer = body.to_vec();
                let opened = master
                    .open_in_place(nonce, Aad::from(associated_data(shop_id)), &mut buffer)
                    .map_err(|_| SealError::Corrupt("the data key does not open".into()))?;
                <[u8; DATA_KEY_LEN]>::try_from(&*opened)
                    .map_err(|_| SealError::Corrupt("the data key is not 256 bits".into()))?
            }
        };
        let mut cache = self.lock_cache();
        // Bounded: expired entries go whenever one is added.
        let ttl = self.cache_ttl;
        cache.retain(|_, (at, _)| at.elapsed() < ttl);
        cache.insert(cache_key, (Instant::now(), key));
        Ok(key)
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, KeyCache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn aead_key(bytes: &[u8; DATA_KEY_LEN]) -> LessSafeKey {
    // A 32-byte key always fits AES-256-GCM.
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, bytes).expect("a 256-bit key"))
}

fn fill_random(buffer: &mut [u8]) {
    // The OS generator does not fail on Linux; a failure here must not
    // produce a predictable key or nonce, so it stops the process.
    SystemRandom::new()
        .fill(buffer)
        .expect("the system random generator");
}

fn associated_data(shop_id: &str) -> Vec<u8> {
    [
        b"econ-bridge shop secrets v1\0".as_slice(),
        shop_id.as_bytes(),
    ]
    .concat()
}

fn kms_error<E, R>(operation: &str, error: &aws_sdk_kms::error::SdkError<E, R>) -> SealError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata,
{
    use aws_sdk_kms::error::ProvideErrorMetadata;
    match error.code() {
        // The record does not open under this key and context: retrying
        // changes nothing.
        Some(
            code @ ("InvalidCiphertextException"
            | "IncorrectKeyException"
            | "InvalidKeyUsageException"),
        ) => SealError::Corrupt(format!("KMS {operation}: {code}")),
        Some(code) => SealError::Unavailable(format!("KMS {operation}: {code}")),
        None => SealError::Unavailable(format!("KMS {operation}: no answer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shop(shop_id: &str) -> ShopConfig {
        let mut config: ShopConfig = serde_json::from_value(serde_json::json!({
            "shop_id": shop_id,
            "webhook_secrets": [
                {"secret": "whsec_T1dOLXNlY3JldC0x"},
                {"secret": "whsec_T0xELXNlY3JldC0y", "valid_until": "2027-01-01T00:00:00Z"}
            ],
            "platform": {"kind": "shopify", "shop_domain": "x.myshopify.com",
                          "secrets": [{"secret": "shpss_client_secret_3"}]},
            "economic": {"app_secret_token": "app-token-4", "agreement_grant_token": "grant-token-5"},
            "mapping": {}
        }))
        .expect("shop");
        config.display_name = "Shop".into();
        config
    }

    const SECRETS: [&str; 5] = [
        "whsec_T1dOLXNlY3JldC0x",
        "whsec_T0xELXNlY3JldC0y",
        "shpss_client_secret_3",
        "app-token-4",
        "grant-token-5",
    ];

    #[tokio::test]
    async fn sealing_leaves_no_secret_in_the_stored_form_and_unsealing_restores_it() {
        let sealer = SecretSealer::in_memory();
        let original = shop("acme");
        let (stored, sealed) = sealer.seal(&original).await.expect("seal");
        let stored_json = serde_json::to_string(&stored).expect("json");
        let sealed_bytes = [sealed.wrapped_key.clone(), sealed.ciphertext.clone()].concat();
        for secret in SECRETS {
            assert!(!stored_json.contains(secret), "{secret} in {stored_json}");
            assert!(
                !sealed_bytes
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "{secret} in the ciphertext"
            );
        }
        assert!(stored_json.contains("sealed:0") && stored_json.contains("sealed:4"));
        let mut read = stored.clone();
        sealer.unseal(&mut read, &sealed).await.expect("unseal");
        assert_eq!(read, original);
    }

    #[tokio::test]
    async fn a_record_copied_to_another_shop_or_tampered_with_does_not_open() {
        let sealer = SecretSealer::in_memory();
        let (stored, sealed) = sealer.seal(&shop("acme")).await.expect("seal");
        let mut elsewhere = stored.clone();
        elsewhere.shop_id = "evil".into();
        assert!(matches!(
            sealer.unseal(&mut elsewhere, &sealed).await,
            Err(SealError::Corrupt(_))
        ));
        let mut flipped = sealed.clone();
        let last = flipped.ciphertext.len() - 1;
        flipped.ciphertext[last] ^= 1;
        let mut read = stored.clone();
        assert!(matches!(
            sealer.unseal(&mut read, &flipped).await,
            Err(SealError::Corrupt(_))
        ));
        // A configuration edited around the seal (a secret added) is caught.
        let mut edited = stored.clone();
        edited.webhook_secrets.pop();
        assert!(matches!(
            sealer.unseal(&mut edited, &sealed).await,
            Err(SealError::Corrupt(_))
        ));
    }

    #[tokio::test]
    async fn two_seals_of_one_shop_differ_and_a_reader_without_a_key_cannot_write() {
        let sealer = SecretSealer::in_memory();
        let (_, first) = sealer.seal(&shop("acme")).await.expect("seal");
        let (_, second) = sealer.seal(&shop("acme")).await.expect("seal");
        assert_ne!(first.wrapped_key, second.wrapped_key, "a fresh data key");
        assert_ne!(first.ciphertext, second.ciphertext);
        let reader = SecretSealer {
            key_id: None,
            ..SecretSealer::in_memory()
        };
        assert!(!reader.can_seal());
        assert_eq!(
            reader.seal(&shop("acme")).await.err(),
            Some(SealError::NoKey)
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let sealed = SealedSecrets {
            wrapped_key: vec![1, 2, 3],
            ciphertext: vec![4, 5],
        };
        assert_eq!(format!("{sealed:?}"), "SealedSecrets(3 + 2 bytes)");
        assert!(format!("{:?}", SecretSealer::in_memory()).contains("in-memory"));
    }
}
