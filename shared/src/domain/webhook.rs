//! Standard Webhooks signature verification (<https://www.standardwebhooks.com>).
//!
//! A delivery carries three headers: `webhook-id`, `webhook-timestamp`
//! (Unix seconds) and `webhook-signature`, a space-separated list of
//! `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`. The key is the
//! base64-decoded part of the shop's secret after `whsec_`.
//!
//! Shop platforms (Shopify, WooCommerce) sign the raw body alone:
//! [`verify_body_hmac`].
//!
//! Pure: no I/O, the current time is an argument.

use crate::domain::shop::WebhookSecret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

type HmacSha256 = Hmac<Sha256>;

/// A delivery is accepted when its timestamp is at most this far from now,
/// in either direction (replay window and clock skew).
pub const TOLERANCE_SECONDS: i64 = 5 * 60;

const SECRET_PREFIX: &str = "whsec_";

/// The three signature headers as received (absent headers are `None`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHeaders<'a> {
    pub id: Option<&'a str>,
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
}

/// Why a delivery was rejected. Messages never contain secret material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    #[error("webhook-timestamp is not a whole number of Unix seconds")]
    InvalidTimestamp,
    #[error("webhook-timestamp is more than 5 minutes in the past")]
    TimestampTooOld,
    #[error("webhook-timestamp is more than 5 minutes in the future")]
    TimestampTooNew,
    #[error("no webhook signature matches")]
    NoMatchingSignature,
    #[error("the shop has no active webhook secret")]
    NoActiveSecret,
}

/// Verifies a delivery against the shop's secrets. Expired secrets
/// (`valid_until` in the past, or unparseable — fail closed) are skipped; any
/// `v1` signature matching any remaining secret is enough.
pub fn verify(
    secrets: &[WebhookSecret],
    headers: &SignatureHeaders<'_>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), VerifyError> {
    let id = non_empty(headers.id).ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let timestamp =
        non_empty(headers.timestamp).ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signature =
        non_empty(headers.signature).ok_or(VerifyError::MissingHeader("webhook-signature"))?;

    let sent_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let now_secs = now.unix_timestamp();
    if sent_at < now_secs - TOLERANCE_SECONDS {
        return Err(VerifyError::TimestampTooOld);
    }
    if sent_at > now_secs + TOLERANCE_SECONDS {
        return Err(VerifyError::TimestampTooNew);
    }

    let keys: Vec<Vec<u8>> = secrets
        .iter()
        .filter(|s| is_active(s, now))
        .filter_map(|s| secret_key(s.secret.expose()))
        .collect();
    if keys.is_empty() {
        return Err(VerifyError::NoActiveSecret);
    }

    let presented: Vec<Vec<u8>> = signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, sig)| STANDARD.decode(sig).ok())
        .collect();

    // Compare against every candidate without short-circuiting on the
    // secret, so timing does not reveal which secret matched.
    let mut matched = subtle::Choice::from(0u8);
    for key in &keys {
        let expected = compute(key, id, sent_at, body);
        for sig in &presented {
            matched |= expected.as_slice().ct_eq(sig.as_slice());
        }
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// Signs a delivery the way a shop does: returns the `webhook-signature`
/// header value `v1,<base64>`. `None` if the secret is not valid base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = secret_key(secret)?;
    Some(format!(
        "v1,{}",
        STANDARD.encode(compute(&key, id, timestamp, body))
    ))
}

/// Signs a delivery we send (label notifications) with every active
/// secret: the `webhook-signature` value, one `v1,<base64>` per secret,
/// space-separated, so a receiver in the middle of a rotation accepts it
/// with either secret. `None` when no secret is active and valid.
pub fn sign_with_active(
    secrets: &[WebhookSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
    now: OffsetDateTime,
) -> Option<String> {
    let signatures: Vec<String> = secrets
        .iter()
        .filter(|s| is_active(s, now))
        .filter_map(|s| sign(s.secret.expose(), id, timestamp, body))
        .collect();
    (!signatures.is_empty()).then(|| signatures.join(" "))
}

/// Verifies a shop platform's body signature (Shopify's
/// `X-Shopify-Hmac-Sha256`, WooCommerce's `X-WC-Webhook-Signature`): the
/// base64 HMAC-SHA256 of the raw body, keyed with the secret's text as it
/// is (not base64-decoded). Every active secret is tried (rotation: the
/// current and the previous one) and compared in constant time.
pub fn verify_body_hmac(
    secrets: &[WebhookSecret],
    header_name: &'static str,
    signature: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), VerifyError> {
    let signature = non_empty(signature).ok_or(VerifyError::MissingHeader(header_name))?;
    let keys: Vec<&[u8]> = secrets
        .iter()
        .filter(|s| is_active(s, now))
        .map(|s| s.secret.expose().as_bytes())
        .filter(|key| !key.is_empty())
        .collect();
    if keys.is_empty() {
        return Err(VerifyError::NoActiveSecret);
    }
    let Ok(presented) = STANDARD.decode(signature.trim()) else {
        return Err(VerifyError::NoMatchingSignature);
    };
    let mut matched = subtle::Choice::from(0u8);
    for key in keys {
        matched |= body_hmac(key, body).as_slice().ct_eq(presented.as_slice());
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// Signs a body the way Shopify and WooCommerce do: base64 HMAC-SHA256 of
/// the raw body with the secret's text as the key.
pub fn sign_body_hmac(secret: &str, body: &[u8]) -> String {
    STANDARD.encode(body_hmac(secret.as_bytes(), body))
}

fn body_hmac(key: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// Decodes `whsec_<base64>` (prefix optional, padding optional) to the key.
fn secret_key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    let trimmed = encoded.trim_end_matches('=');
    let mut padded = trimmed.to_owned();
    while !padded.len().is_multiple_of(4) {
        padded.push('=');
    }
    let key = STANDARD.decode(padded).ok()?;
    (!key.is_empty()).then_some(key)
}

fn compute(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

fn is_active(secret: &WebhookSecret, now: OffsetDateTime) -> bool {
    match &secret.valid_until {
        None => true,
        Some(until) => OffsetDateTime::parse(until, &Rfc3339)
            .map(|until| now <= until)
            .unwrap_or(false),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::secret::Secret;

    // base64("a shared secret of 32 bytes!!!!!")
    const SECRET: &str = "whsec_YSBzaGFyZWQgc2VjcmV0IG9mIDMyIGJ5dGVzISEhISE=";
    const OTHER: &str = "whsec_b3RoZXIgc2VjcmV0";
    const BODY: &[u8] = br#"{"type":"order.paid","data":{}}"#;
    const NOW: i64 = 1_750_000_000;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(NOW).unwrap()
    }

    fn secrets(values: &[(&str, Option<&str>)]) -> Vec<WebhookSecret> {
        values
            .iter()
            .map(|(s, until)| WebhookSecret {
                secret: Secret::new(*s),
                valid_until: until.map(str::to_owned),
            })
            .collect()
    }

    fn headers<'a>(ts: &'a str, sig: &'a str) -> SignatureHeaders<'a> {
        SignatureHeaders {
            id: Some("msg_1"),
            timestamp: Some(ts),
            signature: Some(sig),
        }
    }

    #[test]
    fn known_vector_matches_hmac_sha256() {
        // Independently computed: HMAC-SHA256("a shared secret of 32 bytes!!!!!",
        // "msg_1.1750000000.{body}") via python's hmac module.
        let sig = sign(SECRET, "msg_1", NOW, BODY).unwrap();
        assert_eq!(sig, "v1,6tf8xO/wMBszrCqmFtIH9YvU4xIwwxB5ruQpTAGcGc0=");
        let ts = NOW.to_string();
        assert_eq!(
            verify(
                &secrets(&[(SECRET, None)]),
                &headers(&ts, &sig),
                BODY,
                now()
            ),
            Ok(())
        );
    }

    #[test]
    fn tampered_body_id_or_timestamp_fails() {
        let sig = sign(SECRET, "msg_1", NOW, BODY).unwrap();
        let s = secrets(&[(SECRET, None)]);
        let ts = NOW.to_string();
        assert_eq!(
            verify(&s, &headers(&ts, &sig), b"{}", now()),
            Err(VerifyError::NoMatchingSignature)
        );
        let other_id = SignatureHeaders {
            id: Some("msg_2"),
            ..headers(&ts, &sig)
        };
        assert_eq!(
            verify(&s, &other_id, BODY, now()),
            Err(VerifyError::NoMatchingSignature)
        );
        let ts2 = (NOW + 1).to_string();
        assert_eq!(
            verify(&s, &headers(&ts2, &sig), BODY, now()),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn any_of_several_signatures_and_secrets_matches() {
        let good = sign(OTHER, "msg_1", NOW, BODY).unwrap();
        let header = format!("v1,AAAA v2,zzz garbage {good}");
        let ts = NOW.to_string();
        let s = secrets(&[(SECRET, None), (OTHER, None)]);
        assert_eq!(verify(&s, &headers(&ts, &header), BODY, now()), Ok(()));
        // Only the first secret configured: the other shop's signature fails.
        let s = secrets(&[(SECRET, None)]);
        assert_eq!(
            verify(&s, &headers(&ts, &header), BODY, now()),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn expired_secret_is_skipped_during_rotation() {
        let sig = sign(OTHER, "msg_1", NOW, BODY).unwrap();
        let ts = NOW.to_string();
        let still_valid = secrets(&[(SECRET, None), (OTHER, Some("2099-01-01T00:00:00Z"))]);
        assert_eq!(
            verify(&still_valid, &headers(&ts, &sig), BODY, now()),
            Ok(())
        );
        let expired = secrets(&[(SECRET, None), (OTHER, Some("2020-01-01T00:00:00Z"))]);
        assert_eq!(
            verify(&expired, &headers(&ts, &sig), BODY, now()),
            Err(VerifyError::NoMatchingSignature)
        );
        let garbage = secrets(&[(OTHER, Some("next tuesday"))]);
        assert_eq!(
            verify(&garbage, &headers(&ts, &sig), BODY, now()),
            Err(VerifyError::NoActiveSecret)
        );
    }

    #[test]
    fn timestamp_tolerance_is_five_minutes_both_ways() {
        let s = secrets(&[(SECRET, None)]);
        for (offset, expected) in [
            (-300, Ok(())),
            (300, Ok(())),
            (-301, Err(VerifyError::TimestampTooOld)),
            (301, Err(VerifyError::TimestampTooNew)),
        ] {
            let ts = NOW + offset;
            let sig = sign(SECRET, "msg_1", ts, BODY).unwrap();
            let ts = ts.to_string();
            assert_eq!(
                verify(&s, &headers(&ts, &sig), BODY, now()),
                expected,
                "offset {offset}"
            );
        }
        assert_eq!(
            verify(&s, &headers("12.5", "v1,AAAA"), BODY, now()),
            Err(VerifyError::InvalidTimestamp)
        );
    }

    #[test]
    fn missing_headers_are_named() {
        let s = secrets(&[(SECRET, None)]);
        let ts = NOW.to_string();
        let mut h = headers(&ts, "v1,AAAA");
        h.id = None;
        assert_eq!(
            verify(&s, &h, BODY, now()),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        let mut h = headers(&ts, "v1,AAAA");
        h.timestamp = Some(" ");
        assert_eq!(
            verify(&s, &h, BODY, now()),
            Err(VerifyError::MissingHeader("webhook-timestamp"))
        );
        let mut h = headers(&ts, "v1,AAAA");
        h.signature = None;
        assert_eq!(
            verify(&s, &h, BODY, now()),
            Err(VerifyError::MissingHeader("webhook-signature"))
        );
    }

    #[test]
    fn unpadded_and_unprefixed_secrets_work() {
        let padded = sign(SECRET, "msg_1", NOW, BODY).unwrap();
        let unpadded = sign(SECRET.trim_end_matches('='), "msg_1", NOW, BODY).unwrap();
        let unprefixed = sign(&SECRET[6..], "msg_1", NOW, BODY).unwrap();
        assert_eq!(padded, unpadded);
        assert_eq!(padded, unprefixed);
        assert_eq!(sign("whsec_!!!", "msg_1", NOW, BODY), None);
    }

    #[test]
    fn body_hmac_matches_an_independent_vector_and_rotation() {
        // python3 -c "import hmac,hashlib,base64;print(base64.b64encode(hmac.new(
        //   b'shpss_client_secret', b'{\"id\":1}', hashlib.sha256).digest()).decode())"
        let body = br#"{"id":1}"#;
        let expected = "4XVRpQNrQ4S8CwqpFYVFoxSR+ANuWyR8Ezdm97mLgSE=";
        assert_eq!(sign_body_hmac("shpss_client_secret", body), expected);
        let header = "X-Shopify-Hmac-Sha256";
        let current = secrets(&[("shpss_client_secret", None)]);
        assert_eq!(
            verify_body_hmac(&current, header, Some(expected), body, now()),
            Ok(())
        );
        assert_eq!(
            verify_body_hmac(&current, header, Some(expected), br#"{"id":2}"#, now()),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify_body_hmac(&current, header, None, body, now()),
            Err(VerifyError::MissingHeader("X-Shopify-Hmac-Sha256"))
        );
        assert_eq!(
            verify_body_hmac(&current, header, Some("not base64!"), body, now()),
            Err(VerifyError::NoMatchingSignature)
        );
        // Rotation: the previous secret works until it expires.
        let rotating = secrets(&[
            ("new-secret", None),
            ("shpss_client_secret", Some("2099-01-01T00:00:00Z")),
        ]);
        assert_eq!(
            verify_body_hmac(&rotating, header, Some(expected), body, now()),
            Ok(())
        );
        let expired = secrets(&[
            ("new-secret", None),
            ("shpss_client_secret", Some("2020-01-01T00:00:00Z")),
        ]);
        assert_eq!(
            verify_body_hmac(&expired, header, Some(expected), body, now()),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify_body_hmac(&[], header, Some(expected), body, now()),
            Err(VerifyError::NoActiveSecret)
        );
    }

    #[test]
    fn error_messages_do_not_contain_secret() {
        let s = secrets(&[(SECRET, None)]);
        let ts = NOW.to_string();
        let err = verify(&s, &headers(&ts, "v1,AAAA"), BODY, now()).unwrap_err();
        assert!(!err.to_string().contains("YSBz"));
    }
}
