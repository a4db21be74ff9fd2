//! `Idempotency-Key` support: the saved response is written in the same transaction as the
//! data it describes, with a fingerprint of the request. A retried request with the same key and
//! body gets the first response again; the same key with another body is a 422.
//!
//! The key is written once, with the response, when the work is done (one write per request).
//! Two concurrent requests with one key both do their work; the second to save waits on the
//! primary key for the first to commit, then finds the key taken: its transaction is rolled back
//! (nothing of it remains) and it answers 409 `idempotency_key_in_progress`, which a client
//! retries to receive the first response.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::db::Tx;
use crate::error::ApiError;

pub const HEADER: &str = "Idempotency-Key";

/// The outcome of starting an idempotent request.
pub enum Start {
    /// First time: do the work in this transaction, then [`finish`].
    New(Tx),
    /// Seen before: send this response again.
    Replay {
        status: StatusCode,
        body: serde_json::Value,
    },
}

/// The key from the request, if any; a malformed key is a 400.
pub fn key_from(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| ApiError::field(HEADER, "must be visible ASCII"))?
        .trim();
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::field(HEADER, "must be 1 to 255 characters"));
    }
    Ok(Some(key.to_owned()))
}

/// A stable fingerprint of what the request asks for.
pub fn fingerprint(parts: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(parts).unwrap_or_default();
    hex::encode(Sha256::digest(bytes))
}

/// Begins the request's transaction, or finds the response saved under the key.
pub async fn start(pool: &PgPool, scope: &str, key: &str, fingerprint: &str) -> Result<Start, ApiError> {
    let saved: Option<(String, Option<i16>, Option<serde_json::Value>)> = sqlx::query_as(
        "SELECT fingerprint, response_status, response_body FROM idempotency_key WHERE scope = $1 AND key = $2",
    )
    .bind(scope)
    .bind(key)
    .fetch_optional(pool)
    .await?;
    let Some((saved_fp, status, body)) = saved else {
        return Ok(Start::New(pool.begin().await?));
    };
    if saved_fp != fingerprint {
        return Err(ApiError::unprocessable(
            "idempotency_key_reused",
            "this Idempotency-Key was used with a different request body",
        ));
    }
    match (status, body) {
        (Some(status), Some(body)) => Ok(Start::Replay {
            status: u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK),
            body,
        }),
        _ => Err(in_progress()),
    }
}

fn in_progress() -> ApiError {
    ApiError::conflict(
        "idempotency_key_in_progress",
        "another request with this Idempotency-Key was being processed; retry to receive its response",
    )
}

/// Saves the response under the key in the request's transaction (the caller commits). When a
/// concurrent request with the same key saved first, this one is refused (409) and its
/// transaction must be dropped.
pub async fn finish(
    tx: &mut Tx,
    scope: &str,
    key: &str,
    fingerprint: &str,
    status: StatusCode,
    body: &impl Serialize,
) -> Result<(), ApiError> {
    let body = serde_json::to_value(body).map_err(ApiError::internal)?;
    let saved = sqlx::query(
        "INSERT INTO idempotency_key (scope, key, fingerprint, response_status, response_body) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(scope)
    .bind(key)
    .bind(fingerprint)
    .bind(i16::try_from(status.as_u16()).unwrap_or(200))
    .bind(body)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if saved == 0 {
        return Err(in_progress());
    }
    Ok(())
}

/// A create request's unit of work: its transaction, and the key its response is saved under.
pub struct Work {
    pub tx: Tx,
    /// (scope, key, fingerprint)
    saved_under: Option<(String, String, String)>,
}

/// How a create request begins.
pub enum Begun {
    /// Do the work in `Work::tx`, then [`Work::finish`] and commit.
    Fresh(Work),
    /// The same key and body were seen: this is the first response again.
    Replay(actix_web::HttpResponse),
}

/// Begins a create: with an `Idempotency-Key`, replays the saved response if there is one;
/// without one, just opens the transaction. `scope` separates callers (`tickets:<subject>`).
pub async fn begin(pool: &PgPool, req: &HttpRequest, scope: &str, body: &impl Serialize) -> Result<Begun, ApiError> {
    let Some(key) = key_from(req)? else {
        return Ok(Begun::Fresh(Work {
            tx: pool.begin().await?,
            saved_under: None,
        }));
    };
    let fp = fingerprint(body);
    match start(pool, scope, &key, &fp).await? {
        Start::New(tx) => Ok(Begun::Fresh(Work {
            tx,
            saved_under: Some((scope.to_owned(), key, fp)),
        })),
        Start::Replay { status, body } => Ok(Begun::Replay(actix_web::HttpResponse::build(status).json(body))),
    }
}

impl Work {
    /// Saves the response under the key (if any) and hands back the transaction to commit.
    pub async fn finish(mut self, status: StatusCode, body: &impl Serialize) -> Result<Tx, ApiError> {
        if let Some((scope, key, fp)) = &self.saved_under {
            finish(&mut self.tx, scope, key, fp, status, body).await?;
        }
        Ok(self.tx)
    }
}
