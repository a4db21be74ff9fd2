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
    pub high_emotion: bool,
}

const COLUMNS: &str =
    "ticket_id, customer_id, queue, channel, priority, category, status, score, enqueued_at, high_emotion";

/// Records a ticket's entry; `None` when it was recorded already.
#[tracing::instrument(skip_all, fields(ticket_id = %e.ticket_id))]
pub async fn insert_entry(tx: &mut Tx, e: &QueueEntryRow) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO queue_entry ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
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
    .bind(e.high_emotion)
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

/// Moves an entry to `status` (with a new score and entry time when it waits again); the row
/// as it was before, `None` when there is no entry or it already has that status.
pub async fn set_status(
    tx: &mut Tx,
    ticket_id: Uuid,
    status: &str,
    requeue: Option<(f64, DateTime<Utc>)>,
) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(
        "UPDATE queue_entry e SET status = $2, score = COALESCE($3, e.score), enqueued_at = COALESCE($4, e.enqueued_at), \
            updated_at = now() \
         FROM (SELECT ticket_id, status AS old_status FROM queue_entry WHERE ticket_id = $1 FOR UPDATE) old \
         WHERE e.ticket_id = old.ticket_id AND old.old_status <> $2 \
         RETURNING e.ticket_id, e.customer_id, e.queue, e.channel, e.priority, e.category, old.old_status AS status, \
                   e.score, e.enqueued_at, e.high_emotion",
    )
    .bind(ticket_id)
    .bind(status)
    .bind(requeue.map(|r| r.0))
    .bind(requeue.map(|r| r.1))
    .fetch_optional(&mut **tx)
    .await
}

/// The entry, locked for the rest of the transaction.
pub async fn entry_for_update(tx: &mut Tx, ticket_id: Uuid) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM queue_entry WHERE ticket_id = $1 FOR UPDATE"
    ))
    .bind(ticket_id)
    .fetch_optional(&mut **tx)
    .await
}
