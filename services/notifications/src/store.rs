//! Notification tables.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub recipient_id: Uuid,
    pub channel: String,
    pub kind: String,
    pub locale: String,
    pub title: String,
    pub body: String,
    pub status: String,
    pub trace_id: Option<String>,
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, event_id, event_type, recipient_id, channel, kind, locale, title, body, status, trace_id, read_at, created_at";

/// Records a delivery unless this event already produced one for the recipient and channel.
#[tracing::instrument(skip_all, fields(event_id = %d.event_id, recipient_id = %d.recipient_id))]
pub async fn insert_delivery(tx: &mut Tx, d: &DeliveryRow) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(&format!(
        "INSERT INTO delivery ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT ON CONSTRAINT delivery_event_recipient_channel_key DO NOTHING"
    ))
    .bind(d.id)
    .bind(d.event_id)
    .bind(&d.event_type)
    .bind(d.recipient_id)
    .bind(&d.channel)
    .bind(&d.kind)
    .bind(&d.locale)
    .bind(&d.title)
    .bind(&d.body)
    .bind(&d.status)
    .bind(&d.trace_id)
    .bind(d.read_at)
    .bind(d.created_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A page of a recipient's in-app inbox, newest first, after the cursor `(created_at, id)`.
pub async fn inbox(
    pool: &PgPool,
    recipient: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE recipient_id = $1 AND channel = 'in_app' \
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(recipient)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn unread_count(pool: &PgPool, recipient: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM delivery WHERE recipient_id = $1 AND channel = 'in_app' AND read_at IS NULL",
    )
    .bind(recipient)
    .fetch_one(pool)
    .await
}

/// Marks one of the recipient's inbox items read; false if it is not theirs.
pub async fn mark_read(pool: &PgPool, recipient: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "UPDATE delivery SET read_at = COALESCE(read_at, now()), updated_at = now() \
         WHERE id = $1 AND recipient_id = $2 AND channel = 'in_app' RETURNING id",
    )
    .bind(id)
    .bind(recipient)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// The delivery log, filtered by recipient and/or event, newest first.
pub async fn deliveries(
    pool: &PgPool,
    recipient: Option<Uuid>,
    event: Option<Uuid>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE ($1::uuid IS NULL OR recipient_id = $1) \
         AND ($2::uuid IS NULL OR event_id = $2) ORDER BY created_at DESC, id DESC LIMIT $3"
    ))
    .bind(recipient)
    .bind(event)
    .bind(limit)
    .fetch_all(pool)
    .await
}
