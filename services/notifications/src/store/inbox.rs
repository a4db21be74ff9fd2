//! A recipient's in-app inbox: the `in_app` deliveries that were delivered to them.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::deliveries::{COLUMNS, DeliveryRow};

/// A page of a recipient's in-app inbox, newest first, after the cursor `(created_at, id)`.
pub async fn inbox(
    pool: &PgPool,
    recipient: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE recipient_id = $1 AND channel = 'in_app' AND status = 'delivered' \
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
        "SELECT count(*) FROM delivery WHERE recipient_id = $1 AND channel = 'in_app' AND status = 'delivered' \
         AND read_at IS NULL",
    )
    .bind(recipient)
    .fetch_one(pool)
    .await
}

/// Marks one of the recipient's inbox items read at `now`; false if it is not theirs.
pub async fn mark_read(pool: &PgPool, recipient: Uuid, id: Uuid, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "UPDATE delivery SET read_at = COALESCE(read_at, $3), updated_at = $3 \
         WHERE id = $1 AND recipient_id = $2 AND channel = 'in_app' AND status = 'delivered' RETURNING id",
    )
    .bind(id)
    .bind(recipient)
    .bind(now)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// Marks all of the recipient's inbox read at `now`; returns how many were unread.
pub async fn mark_all_read(pool: &PgPool, recipient: Uuid, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE delivery SET read_at = $2, updated_at = $2 \
         WHERE recipient_id = $1 AND channel = 'in_app' AND status = 'delivered' AND read_at IS NULL",
    )
    .bind(recipient)
    .bind(now)
    .execute(pool)
    .await?
    .rows_affected())
}
