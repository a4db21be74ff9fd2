//! The `delivery` and `delivery_attempt` tables: writing deliveries, the log, resends,
//! cancellations and the retention's purge.

use chrono::{DateTime, Utc};
use platform::Tx;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::delivery::{DeliveryStatus, Source};

/// A delivery as written: the message and its place in the pipeline.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub recipient_id: Uuid,
    pub channel: String,
    pub kind: String,
    pub category: String,
    pub urgency: String,
    pub locale: String,
    pub title: String,
    pub body: String,
    pub html: Option<String>,
    pub address: Option<String>,
    pub endpoint_id: Option<Uuid>,
    pub payload: Option<Value>,
    #[sqlx(try_from = "String")]
    pub source: Source,
    #[sqlx(try_from = "String")]
    pub status: DeliveryStatus,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub trace_id: Option<String>,
}

/// A delivery as stored: what was written, and its outcome so far.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    #[sqlx(flatten)]
    pub delivery: Delivery,
    pub attempts: i32,
    pub provider: Option<String>,
    pub digest_id: Option<Uuid>,
    pub read_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, title, body, \
     html, address, endpoint_id, payload, source, status, attempts, next_attempt_at, provider, last_error, digest_id, \
     trace_id, read_at, sent_at, created_at";

/// Writes deliveries at `now` (their `created_at`, and `sent_at` of those already delivered),
/// skipping any (event, recipient, channel) already written; returns the ids written.
pub async fn insert_deliveries(tx: &mut Tx, rows: &[Delivery], now: DateTime<Utc>) -> Result<Vec<Uuid>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    macro_rules! col {
        ($f:ident) => {
            rows.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
        };
    }
    let sources: Vec<&str> = rows.iter().map(|r| r.source.as_str()).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status.as_str()).collect();
    let payloads: Vec<Option<sqlx::types::Json<&Value>>> =
        rows.iter().map(|r| r.payload.as_ref().map(sqlx::types::Json)).collect();
    sqlx::query_scalar(
        "INSERT INTO delivery (id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, \
           title, body, html, address, endpoint_id, payload, source, status, next_attempt_at, last_error, trace_id, \
           sent_at, created_at, updated_at) \
         SELECT u.*, CASE WHEN u.status = 'delivered' THEN $21 END, $21, $21 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], \
           $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
           $12::text[], $13::text[], $14::uuid[], $15::jsonb[], $16::text[], $17::text[], $18::timestamptz[], \
           $19::text[], $20::text[]) AS u(id, event_id, event_type, recipient_id, channel, kind, category, urgency, \
           locale, title, body, html, address, endpoint_id, payload, source, status, next_attempt_at, last_error, \
           trace_id) \
         ON CONFLICT ON CONSTRAINT delivery_event_recipient_channel_key DO NOTHING RETURNING id",
    )
    .bind(col!(id))
    .bind(col!(event_id))
    .bind(col!(event_type))
    .bind(col!(recipient_id))
    .bind(col!(channel))
    .bind(col!(kind))
    .bind(col!(category))
    .bind(col!(urgency))
    .bind(col!(locale))
    .bind(col!(title))
    .bind(col!(body))
    .bind(col!(html))
    .bind(col!(address))
    .bind(col!(endpoint_id))
    .bind(payloads)
    .bind(sources)
    .bind(statuses)
    .bind(col!(next_attempt_at))
    .bind(col!(last_error))
    .bind(col!(trace_id))
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

/// Folds `item` into the recipient's open digest for its notification and channel, opening
/// one due `window_secs` after `now` when there is none (or when the item is due, if later:
/// quiet hours); the item is kept as `digested`.
pub async fn insert_digest_item(
    tx: &mut Tx,
    item: &Delivery,
    window_secs: i32,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let insert = sqlx::query(
        "WITH digest AS ( \
           INSERT INTO delivery (id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, \
             title, body, address, source, status, next_attempt_at, digest_key, trace_id, created_at, updated_at) \
           VALUES ($1, $1, 'digest', $2, $3, 'digest', $4, 'low', $5, '', '', $6, $7, 'pending', \
             GREATEST($19 + make_interval(secs => $8), $18), $9, $10, $19, $19) \
           ON CONFLICT (recipient_id, channel, digest_key) WHERE status = 'pending' AND kind = 'digest' \
           DO UPDATE SET updated_at = EXCLUDED.updated_at, \
             next_attempt_at = GREATEST(delivery.next_attempt_at, EXCLUDED.next_attempt_at) RETURNING id) \
         INSERT INTO delivery (id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, \
           title, body, html, address, source, status, digest_id, trace_id, created_at, updated_at) \
         SELECT $11, $12, $13, $2, $3, $9, $4, $14, $5, $15, $16, $17, $6, $7, 'digested', digest.id, $10, $19, $19 \
         FROM digest \
         ON CONFLICT ON CONSTRAINT delivery_event_recipient_channel_key DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(item.recipient_id)
    .bind(&item.channel)
    .bind(&item.category)
    .bind(&item.locale)
    .bind(&item.address)
    .bind(item.source.as_str())
    .bind(f64::from(window_secs))
    .bind(&item.kind)
    .bind(&item.trace_id)
    .bind(item.id)
    .bind(item.event_id)
    .bind(&item.event_type)
    .bind(&item.urgency)
    .bind(&item.title)
    .bind(&item.body)
    .bind(&item.html)
    // An item held through quiet hours holds its digest too.
    .bind(item.next_attempt_at)
    .bind(now);
    super::changed_one(&mut **tx, insert).await
}

/// Filters of the delivery log.
#[derive(Debug, Default)]
pub struct LogFilter {
    pub recipient: Option<Uuid>,
    pub event: Option<Uuid>,
    pub status: Option<DeliveryStatus>,
    pub channel: Option<String>,
}

/// The delivery log, newest first, after the cursor.
pub async fn deliveries(
    pool: &PgPool,
    f: &LogFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE ($1::uuid IS NULL OR recipient_id = $1) \
         AND ($2::uuid IS NULL OR event_id = $2) AND ($3::text IS NULL OR status = $3) \
         AND ($4::text IS NULL OR channel = $4) \
         AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6)) \
         ORDER BY created_at DESC, id DESC LIMIT $7"
    ))
    .bind(f.recipient)
    .bind(f.event)
    .bind(f.status.map(DeliveryStatus::as_str))
    .bind(&f.channel)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn delivery(pool: &PgPool, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM delivery WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub attempt: i32,
    pub provider: String,
    pub outcome: String,
    pub status_code: Option<i32>,
    pub response: Option<String>,
    pub duration_ms: i32,
    pub at: DateTime<Utc>,
}

pub async fn attempts(pool: &PgPool, id: Uuid) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT attempt, provider, outcome, status_code, response, duration_ms, at FROM delivery_attempt \
         WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Puts a failed delivery back in the pipeline, due at `now`; `None` when there is no such
/// delivery, `Some(false)` when it is not failed.
pub async fn resend(pool: &PgPool, id: Uuid, now: DateTime<Utc>) -> Result<Option<bool>, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM delivery WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(status) = status else { return Ok(None) };
    if DeliveryStatus::parse(&status) != Some(DeliveryStatus::Failed) {
        return Ok(Some(false));
    }
    let again = sqlx::query(
        "UPDATE delivery SET status = 'pending', next_attempt_at = $2, last_error = NULL, updated_at = $2 \
         WHERE id = $1 AND status = 'failed'",
    );
    Ok(Some(super::changed_one(pool, again.bind(id).bind(now)).await?))
}

/// Records `creator` as who made the direct send `send_id` (in the send's transaction).
pub async fn set_send_creator(tx: &mut Tx, send_id: Uuid, creator: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE delivery SET created_by = $2 WHERE event_id = $1 AND source = 'api'")
        .bind(send_id)
        .bind(creator)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Cancels (at `now`) the not-yet-sent deliveries of a direct send (of `creator`'s, when
/// given); returns (cancelled, already settled).
pub async fn cancel_send(
    pool: &PgPool,
    send_id: Uuid,
    creator: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(u64, i64), sqlx::Error> {
    let cancelled = sqlx::query(
        "UPDATE delivery SET status = 'cancelled', next_attempt_at = NULL, updated_at = $2 \
         WHERE event_id = $1 AND source = 'api' AND status = 'pending' \
         AND ($3::uuid IS NULL OR created_by = $3)",
    )
    .bind(send_id)
    .bind(now)
    .bind(creator)
    .execute(pool)
    .await?
    .rows_affected();
    let others: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM delivery WHERE event_id = $1 AND source = 'api' AND status <> 'cancelled' \
         AND ($2::uuid IS NULL OR created_by = $2)",
    )
    .bind(send_id)
    .bind(creator)
    .fetch_one(pool)
    .await?;
    Ok((cancelled, others))
}

/// The deliveries of one direct send (of `creator`'s, when given).
pub async fn send_deliveries<'e>(
    exec: impl sqlx::PgExecutor<'e>,
    send_id: Uuid,
    creator: Option<Uuid>,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE event_id = $1 AND source = 'api' \
         AND ($2::uuid IS NULL OR created_by = $2) ORDER BY channel"
    ))
    .bind(send_id)
    .bind(creator)
    .fetch_all(exec)
    .await
}

/// Deletes up to `limit` finished deliveries created more than `days` before `now`, with their
/// attempts; returns how many.
pub async fn purge_finished(pool: &PgPool, now: DateTime<Utc>, days: i64, limit: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "WITH gone AS ( \
           DELETE FROM delivery WHERE id IN ( \
             SELECT id FROM delivery WHERE created_at < $3 - make_interval(days => $1) \
               AND status IN ('delivered', 'failed', 'suppressed', 'digested', 'cancelled') \
             ORDER BY created_at LIMIT $2) \
           RETURNING id), \
         attempts AS (DELETE FROM delivery_attempt WHERE delivery_id IN (SELECT id FROM gone)) \
         SELECT count(*) FROM gone",
    )
    .bind(i32::try_from(days).unwrap_or(i32::MAX))
    .bind(limit)
    .bind(now)
    .fetch_one(pool)
    .await
}
