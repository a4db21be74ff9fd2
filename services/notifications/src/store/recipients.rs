//! The `recipient` table: addresses, language, time zone, quiet hours and opt-outs.

use chrono::{DateTime, NaiveTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecipientRow {
    pub id: Uuid,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<String>,
    pub time_zone: String,
    pub quiet_start: Option<NaiveTime>,
    pub quiet_end: Option<NaiveTime>,
    pub opt_outs: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

const RECIPIENT_COLUMNS: &str = "id, email, phone, locale, time_zone, quiet_start, quiet_end, opt_outs, updated_at";

pub async fn recipients<'e>(exec: impl sqlx::PgExecutor<'e>, ids: &[Uuid]) -> Result<Vec<RecipientRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {RECIPIENT_COLUMNS} FROM recipient WHERE id = ANY($1)"))
        .bind(ids)
        .fetch_all(exec)
        .await
}

/// Writes a recipient's preferences; `updated_at` is the caller's (the clock's) time.
pub async fn upsert_recipient(pool: &PgPool, r: &RecipientRow) -> Result<RecipientRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO recipient ({RECIPIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, phone = EXCLUDED.phone, locale = EXCLUDED.locale, \
           time_zone = EXCLUDED.time_zone, quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, \
           opt_outs = EXCLUDED.opt_outs, updated_at = EXCLUDED.updated_at \
         RETURNING {RECIPIENT_COLUMNS}"
    ))
    .bind(r.id)
    .bind(&r.email)
    .bind(&r.phone)
    .bind(&r.locale)
    .bind(&r.time_zone)
    .bind(r.quiet_start)
    .bind(r.quiet_end)
    .bind(&r.opt_outs)
    .bind(r.updated_at)
    .fetch_one(pool)
    .await
}
