//! `session`: scheduled trainings and classes.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::session::NewSession;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub kind: String,
    pub title: String,
    pub mode: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub time_zone: String,
    pub capacity: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, kind, title, mode, starts_at, ends_at, time_zone, capacity, created_at, updated_at";

#[tracing::instrument(skip_all)]
pub async fn insert_session(tx: &mut Tx, s: &NewSession<'_>, created_by: Uuid) -> Result<SessionRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO session (id, kind, title, mode, starts_at, ends_at, time_zone, capacity, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(s.kind)
    .bind(s.title.trim())
    .bind(s.mode)
    .bind(s.starts_at)
    .bind(s.ends_at)
    .bind(s.time_zone)
    .bind(s.capacity)
    .bind(created_by)
    .fetch_one(&mut **tx)
    .await
}

pub async fn session(pool: &PgPool, id: Uuid) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM session WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Sessions starting at or after `from`, earliest first, after the cursor `(starts_at, id)`.
pub async fn upcoming(
    pool: &PgPool,
    from: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM session WHERE starts_at >= $1 \
         AND ($2::timestamptz IS NULL OR (starts_at, id) > ($2, $3)) ORDER BY starts_at, id LIMIT $4"
    ))
    .bind(from)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
