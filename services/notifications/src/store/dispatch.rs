//! The pipeline's statements: claim due deliveries, read a digest's items, settle a batch.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::deliveries::{COLUMNS, DeliveryRow};
use crate::domain::delivery::{AttemptOutcome, DeliveryStatus};

/// Claims up to `limit` deliveries due at `now` for `lease_secs` (expired claims of a crashed
/// replica are due again).
pub async fn claim_due(
    pool: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
    lease_secs: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE delivery SET status = 'sending', next_attempt_at = $3 + make_interval(secs => $2), \
           updated_at = $3 \
         WHERE id IN (SELECT id FROM delivery WHERE status IN ('pending', 'sending') AND next_attempt_at <= $3 \
           ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    ))
    .bind(limit)
    .bind(lease_secs as f64)
    .bind(now)
    .fetch_all(pool)
    .await
}

/// The items folded into a digest, oldest first.
pub async fn digest_items(pool: &PgPool, digest: Uuid) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE digest_id = $1 ORDER BY created_at, id"
    ))
    .bind(digest)
    .fetch_all(pool)
    .await
}

/// What one attempt (or a decision not to attempt) did to a claimed delivery.
#[derive(Debug, Clone)]
pub struct Settled {
    pub id: Uuid,
    /// `Delivered`, `Pending` (again later) or `Failed`.
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub error: Option<String>,
    /// The digest's rendered text, written back when it is sent.
    pub text: Option<(String, String)>,
    /// Present when an attempt was made (not for a deferral).
    pub attempt: Option<Attempt>,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: AttemptOutcome,
    pub status_code: Option<i32>,
    pub response: Option<String>,
    pub duration_ms: i32,
}

/// Writes the outcome of a batch of sends settled at `now`: the deliveries and their attempts,
/// two statements.
pub async fn settle(pool: &PgPool, rows: &[Settled], now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    let next: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.next_attempt_at).collect();
    let providers: Vec<Option<String>> = rows.iter().map(|r| r.provider.clone()).collect();
    let errors: Vec<Option<String>> = rows.iter().map(|r| r.error.clone()).collect();
    let tried: Vec<i32> = rows.iter().map(|r| i32::from(r.attempt.is_some())).collect();
    let titles: Vec<Option<String>> = rows.iter().map(|r| r.text.as_ref().map(|t| t.0.clone())).collect();
    let bodies: Vec<Option<String>> = rows.iter().map(|r| r.text.as_ref().map(|t| t.1.clone())).collect();
    sqlx::query(
        "UPDATE delivery d SET status = u.status, next_attempt_at = u.next, provider = COALESCE(u.provider, d.provider), \
           last_error = u.error, attempts = d.attempts + u.tried, title = COALESCE(u.title, d.title), \
           body = COALESCE(u.body, d.body), \
           sent_at = CASE WHEN u.status = 'delivered' THEN $9 ELSE d.sent_at END, \
           created_at = CASE WHEN u.status = 'delivered' AND d.channel = 'in_app' THEN $9 ELSE d.created_at END, \
           updated_at = $9 \
         FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::int[], $7::text[], \
           $8::text[]) AS u(id, status, next, provider, error, tried, title, body) \
         WHERE d.id = u.id AND d.status = 'sending'",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&next)
    .bind(&providers)
    .bind(&errors)
    .bind(&tried)
    .bind(&titles)
    .bind(&bodies)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let tried: Vec<&Settled> = rows.iter().filter(|r| r.attempt.is_some()).collect();
    if !tried.is_empty() {
        let a = |f: fn(&Attempt) -> Option<String>| -> Vec<Option<String>> {
            tried.iter().map(|r| r.attempt.as_ref().and_then(f)).collect()
        };
        sqlx::query(
            "INSERT INTO delivery_attempt (delivery_id, attempt, provider, outcome, status_code, response, duration_ms, at) \
             SELECT u.id, d.attempts, u.provider, u.outcome, u.code, u.response, u.ms, $7 \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[]) \
               AS u(id, provider, outcome, code, response, ms) JOIN delivery d ON d.id = u.id \
             ON CONFLICT DO NOTHING",
        )
        .bind(tried.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(tried.iter().map(|r| r.provider.clone().unwrap_or_default()).collect::<Vec<_>>())
        .bind(a(|x| Some(x.outcome.as_str().to_owned())))
        .bind(tried.iter().map(|r| r.attempt.as_ref().and_then(|x| x.status_code)).collect::<Vec<_>>())
        .bind(a(|x| x.response.clone()))
        .bind(tried.iter().map(|r| r.attempt.as_ref().map_or(0, |x| x.duration_ms)).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
