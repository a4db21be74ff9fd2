//! Signing and verifying outgoing webhooks following the Standard Webhooks
//! specification (<https://www.standardwebhooks.com/>).
//!
//! The signed content is `{msg_id}.{timestamp}.{body}`, authenticated with
//! HMAC-SHA256 keyed by the secret's bytes. A signature is written
//! `v1,<standard base64>`; a header may carry several signatures separated by
//! spaces, which lets an old and a new secret both sign while a secret is
//! being rotated. Secrets are exchanged as `whsec_<standard base64 of the bytes>`.
//!
//! Each request carries three headers: `webhook-id`, `webhook-timestamp`
//! (Unix seconds) and `webhook-signature`.

use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Name of the header carrying the message id.
pub const HEADER_ID: &str = "webhook-id";
/// Name of the header carrying the Unix timestamp, in seconds.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Name of the header carrying the space-separated signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// Prefix of the textual form of a secret.
const SECRET_PREFIX: &str = "whsec_";
/// Version tag of the HMAC-SHA256 signature scheme.
const SIGNATURE_VERSION: &str = "v1";
/// Number of random bytes in a generated secret.
const GENERATED_SECRET_LEN: usize = 24;
/// Shortest secret accepted by [`Secret::parse`], in bytes.
const MIN_SECRET_LEN: usize = 16;

/// Standard base64 that accepts input with or without trailing `=` padding,
/// so secrets copied without their padding still parse.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a secret was rejected or a webhook failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The secret text could not be used.
    #[error("invalid webhook secret: {0}")]
    InvalidSecret(String),
    /// The timestamp is too far from the current time.
    #[error("webhook timestamp {timestamp} is more than {tolerance_secs} seconds away from the current time {now}")]
    TimestampOutOfTolerance {
        timestamp: i64,
        now: i64,
        tolerance_secs: i64,
    },
    /// No `v1` signature in the header matches the content and secret.
    #[error("no webhook signature matches")]
    NoMatchingSignature,
}

/// A webhook signing secret.
///
/// Its `Debug` output shows only the length, never the bytes.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// Creates a new secret of 24 random bytes.
    pub fn generate() -> Secret {
        let mut bytes = vec![0u8; GENERATED_SECRET_LEN];
        rand::rng().fill_bytes(&mut bytes);
        Secret(bytes)
    }

    /// Reads a secret written as `whsec_<base64>` or as plain base64.
    ///
    /// Surrounding whitespace is ignored and `=` padding is optional.
    /// The decoded secret must be at least 16 bytes long.
    pub fn parse(text: &str) -> Result<Secret, WebhookError> {
        let text = text.trim();
        let encoded = text.strip_prefix(SECRET_PREFIX).unwrap_or(text);
        if encoded.is_empty() {
            return Err(WebhookError::InvalidSecret("the secret is empty".to_owned()));
        }
        let bytes = LENIENT_STANDARD.decode(encoded).map_err(|_| {
            WebhookError::InvalidSecret(
                "the secret is not valid base64 (expected `whsec_` followed by standard base64)".to_owned(),
            )
        })?;
        if bytes.len() < MIN_SECRET_LEN {
            return Err(WebhookError::InvalidSecret(format!(
                "the secret is {} bytes long; at least {MIN_SECRET_LEN} bytes are required",
                bytes.len()
            )));
        }
        Ok(Secret(bytes))
    }

    /// The textual form, `whsec_<standard base64>`, suitable for storing and
    /// for showing once to the subscriber.
    pub fn to_string_whsec(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// An HMAC already fed with the content to sign.
    fn mac_for(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC accepts keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

/// Signs the content with each secret and returns the value of the
/// `webhook-signature` header: one `v1,<base64>` per secret, separated by
/// spaces, in the order of `secrets`. Returns an empty string when
/// `secrets` is empty.
pub fn sign(msg_id: &str, timestamp: i64, body: &[u8], secrets: &[&Secret]) -> String {
    secrets
        .iter()
        .map(|secret| {
            let tag = secret.mac_for(msg_id, timestamp, body).finalize().into_bytes();
            format!("{SIGNATURE_VERSION},{}", STANDARD.encode(tag))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a received webhook against one secret.
///
/// Fails when `timestamp` differs from `now` by more than `tolerance_secs`
/// (in either direction; a negative tolerance counts as zero), or when no
/// `v1` signature in `header_value` matches. Signatures of other versions
/// and malformed entries are skipped. Each comparison runs in constant time.
pub fn verify(
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
    header_value: &str,
    secret: &Secret,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), WebhookError> {
    let tolerance = u64::try_from(tolerance_secs).unwrap_or(0);
    if now.abs_diff(timestamp) > tolerance {
        return Err(WebhookError::TimestampOutOfTolerance {
            timestamp,
            now,
            tolerance_secs,
        });
    }

    let mac = secret.mac_for(msg_id, timestamp, body);
    let matched = header_value
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == SIGNATURE_VERSION)
        .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
        .any(|candidate| mac.clone().verify_slice(&candidate).is_ok());
    if matched {
        Ok(())
    } else {
        Err(WebhookError::NoMatchingSignature)
    }
}

/// The three headers of a webhook request: `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` (see [`sign`]).
pub fn headers(msg_id: &str, timestamp: i64, body: &[u8], secrets: &[&Secret]) -> [(&'static str, String); 3] {
    [
        (HEADER_ID, msg_id.to_owned()),
        (HEADER_TIMESTAMP, timestamp.to_string()),
        (HEADER_SIGNATURE, sign(msg_id, timestamp, body, secrets)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    // Test vector shared by the Standard Webhooks reference libraries.
    const VECTOR_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const VECTOR_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const VECTOR_TIMESTAMP: i64 = 1_614_265_330;
    const VECTOR_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const VECTOR_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    const TOLERANCE: i64 = 300;

    fn vector_secret() -> Secret {
        Secret::parse(VECTOR_SECRET).expect("test vector secret parses")
    }

    #[test]
    fn signs_the_reference_test_vector() {
        let secret = vector_secret();
        let signature = sign(VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &[&secret]);
        assert_eq!(signature, VECTOR_SIGNATURE);
    }

    #[test]
    fn verifies_the_reference_test_vector() {
        let secret = vector_secret();
        verify(
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            VECTOR_SIGNATURE,
            &secret,
            VECTOR_TIMESTAMP + 10,
            TOLERANCE,
        )
        .expect("reference signature verifies");
    }

    #[test]
    fn plain_base64_secret_equals_prefixed_secret() {
        let plain = Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("plain base64 parses");
        assert_eq!(
            sign(VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &[&plain]),
            VECTOR_SIGNATURE
        );
    }

    #[test]
    fn secret_round_trips_through_text() {
        assert_eq!(vector_secret().to_string_whsec(), VECTOR_SECRET);
        let generated = Secret::generate();
        let text = generated.to_string_whsec();
        assert!(text.starts_with("whsec_"));
        let reparsed = Secret::parse(&text).expect("generated secret parses");
        assert_eq!(reparsed.0, generated.0);
        assert_eq!(generated.0.len(), 24);
    }

    #[test]
    fn generated_secrets_differ() {
        assert_ne!(Secret::generate().0, Secret::generate().0);
    }

    #[test]
    fn debug_does_not_reveal_the_secret() {
        let shown = format!("{:?}", vector_secret());
        assert!(!shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert_eq!(shown, "Secret { len: 24, .. }");
    }

    #[test]
    fn rejects_bad_secrets() {
        for text in ["", "   ", "whsec_"] {
            let err = Secret::parse(text).expect_err("empty secret is rejected");
            assert!(err.to_string().contains("empty"), "{err}");
        }
        let err = Secret::parse("whsec_not*base64!").expect_err("bad base64 is rejected");
        assert!(err.to_string().contains("base64"), "{err}");
        // 15 bytes.
        let short = format!("whsec_{}", STANDARD.encode([7u8; 15]));
        let err = Secret::parse(&short).expect_err("short secret is rejected");
        assert!(err.to_string().contains("15 bytes"), "{err}");
        // 16 bytes is the minimum.
        Secret::parse(&STANDARD.encode([7u8; 16])).expect("16-byte secret is accepted");
    }

    #[test]
    fn accepts_unpadded_base64() {
        let padded = STANDARD.encode([9u8; 16]);
        assert!(padded.ends_with("=="));
        let unpadded = padded.trim_end_matches('=');
        Secret::parse(unpadded).expect("unpadded secret parses");
    }

    #[test]
    fn rotation_signs_with_both_secrets_and_each_verifies() {
        let old = vector_secret();
        let new = Secret::generate();
        let header = sign(VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &[&old, &new]);
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], VECTOR_SIGNATURE);
        assert!(parts[1].starts_with("v1,"));
        for secret in [&old, &new] {
            verify(
                VECTOR_MSG_ID,
                VECTOR_TIMESTAMP,
                VECTOR_BODY,
                &header,
                secret,
                VECTOR_TIMESTAMP,
                TOLERANCE,
            )
            .expect("each secret verifies during rotation");
        }
        let other = Secret::generate();
        assert_eq!(
            verify(
                VECTOR_MSG_ID,
                VECTOR_TIMESTAMP,
                VECTOR_BODY,
                &header,
                &other,
                VECTOR_TIMESTAMP,
                TOLERANCE,
            ),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn tampered_content_fails() {
        let secret = vector_secret();
        let check = |msg_id: &str, timestamp: i64, body: &[u8]| {
            verify(
                msg_id,
                timestamp,
                body,
                VECTOR_SIGNATURE,
                &secret,
                VECTOR_TIMESTAMP,
                TOLERANCE,
            )
        };
        assert_eq!(
            check(VECTOR_MSG_ID, VECTOR_TIMESTAMP, br#"{"test": 2432232315}"#),
            Err(WebhookError::NoMatchingSignature)
        );
        assert_eq!(
            check("msg_other", VECTOR_TIMESTAMP, VECTOR_BODY),
            Err(WebhookError::NoMatchingSignature)
        );
        assert_eq!(
            check(VECTOR_MSG_ID, VECTOR_TIMESTAMP + 1, VECTOR_BODY),
            Err(WebhookError::NoMatchingSignature)
        );
    }

    #[test]
    fn malformed_or_foreign_signatures_do_not_match() {
        let secret = vector_secret();
        let sig = VECTOR_SIGNATURE.trim_start_matches("v1,");
        for header in ["", "   ", sig, &format!("v2,{sig}"), "v1,not*base64", "v1,", "v1a,AAAA"] {
            assert_eq!(
                verify(
                    VECTOR_MSG_ID,
                    VECTOR_TIMESTAMP,
                    VECTOR_BODY,
                    header,
                    &secret,
                    VECTOR_TIMESTAMP,
                    TOLERANCE,
                ),
                Err(WebhookError::NoMatchingSignature),
                "header {header:?}"
            );
        }
        // A valid signature after junk entries still matches.
        let header = format!("v2,abc v1,AAAA {VECTOR_SIGNATURE}");
        verify(
            VECTOR_MSG_ID,
            VECTOR_TIMESTAMP,
            VECTOR_BODY,
            &header,
            &secret,
            VECTOR_TIMESTAMP,
            TOLERANCE,
        )
        .expect("the matching signature is found");
    }

    #[test]
    fn stale_or_future_timestamp_fails() {
        let secret = vector_secret();
        let at = |now: i64| {
            verify(
                VECTOR_MSG_ID,
                VECTOR_TIMESTAMP,
                VECTOR_BODY,
                VECTOR_SIGNATURE,
                &secret,
                now,
                TOLERANCE,
            )
        };
        at(VECTOR_TIMESTAMP + TOLERANCE).expect("edge of tolerance is accepted");
        at(VECTOR_TIMESTAMP - TOLERANCE).expect("edge of tolerance is accepted");
        assert!(matches!(
            at(VECTOR_TIMESTAMP + TOLERANCE + 1),
            Err(WebhookError::TimestampOutOfTolerance { .. })
        ));
        assert!(matches!(
            at(VECTOR_TIMESTAMP - TOLERANCE - 1),
            Err(WebhookError::TimestampOutOfTolerance { .. })
        ));
        assert!(matches!(
            at(i64::MAX),
            Err(WebhookError::TimestampOutOfTolerance { .. })
        ));
    }

    #[test]
    fn headers_carry_id_timestamp_and_signature() {
        let secret = vector_secret();
        let headers = headers(VECTOR_MSG_ID, VECTOR_TIMESTAMP, VECTOR_BODY, &[&secret]);
        assert_eq!(
            headers,
            [
                ("webhook-id", VECTOR_MSG_ID.to_owned()),
                ("webhook-timestamp", "1614265330".to_owned()),
                ("webhook-signature", VECTOR_SIGNATURE.to_owned()),
            ]
        );
    }
}
