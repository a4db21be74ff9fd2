//! Routing's tables.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueEntryRow {
    pub ticket_id: Uuid,
    pub customer_id: Uuid,
    pub queue: String,
    pub channel: String,
    pub priority: String,
    pub category: Option<String>,
    pub status: String,
    pub score: f64,
    pub enqueued_at: DateTime<Utc>,
}

const COLUMNS: &str = "ticket_id, customer_id, queue, channel, priority, category, status, score, enqueued_at";

/// Records a ticket's entry; `None` when it was recorded already.
#[tracing::instrument(skip_all, fields(ticket_id = %e.ticket_id))]
pub async fn insert_entry(tx: &mut Tx, e: &QueueEntryRow) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO queue_entry ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (ticket_id) DO NOTHING RETURNING {COLUMNS}"
    ))
    .bind(e.ticket_id)
    .bind(e.customer_id)
    .bind(&e.queue)
    .bind(&e.channel)
    .bind(&e.priority)
    .bind(&e.category)
    .bind(&e.status)
    .bind(e.score)
    .bind(e.enqueued_at)
    .fetch_optional(&mut **tx)
    .await
}

#[tracing::instrument(skip_all, fields(ticket_id = %ticket_id))]
pub async fn entry(pool: &PgPool, ticket_id: Uuid) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM queue_entry WHERE ticket_id = $1"))
        .bind(ticket_id)
        .fetch_optional(pool)
        .await
}
