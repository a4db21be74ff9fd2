//! Queue definitions: queues as data.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// A queue as defined.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueueDef {
    pub name: String,
    pub description: String,
    /// Ticket categories it takes.
    pub categories: Vec<String>,
    /// Channels it takes (empty: all).
    pub channels: Vec<String>,
    /// The tier its tickets need: `junior`, `mid` or `senior`.
    pub tier: String,
    /// The skill an agent needs (none: any agent of the tier).
    pub skill: Option<String>,
    /// Higher wins when several queues take a ticket.
    pub precedence: i32,
    /// Offered to agents (push); false: agents take its tickets with "next" (pull).
    pub push: bool,
    /// With `push`: its tickets are given straight to the chosen agent (assigned, no offer to
    /// accept or decline).
    pub auto_accept: bool,
    pub active: bool,
    pub updated_at: DateTime<Utc>,
}

const QUEUE_COLUMNS: &str =
    "name, description, categories, channels, tier, skill, precedence, push, auto_accept, active, updated_at";

pub async fn list_queues(pool: &PgPool) -> Result<Vec<QueueDef>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {QUEUE_COLUMNS} FROM queue_def ORDER BY name"))
        .fetch_all(pool)
        .await
}

/// Inserts or replaces a queue; true when new.
pub async fn upsert_queue(pool: &PgPool, q: &QueueDef) -> Result<(QueueDef, bool), sqlx::Error> {
    let row: QueueDef = sqlx::query_as(&format!(
        "INSERT INTO queue_def (name, description, categories, channels, tier, skill, precedence, push, auto_accept, active) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (name) DO UPDATE SET description = EXCLUDED.description, categories = EXCLUDED.categories, \
            channels = EXCLUDED.channels, tier = EXCLUDED.tier, skill = EXCLUDED.skill, \
            precedence = EXCLUDED.precedence, push = EXCLUDED.push, auto_accept = EXCLUDED.auto_accept, \
            active = EXCLUDED.active, updated_at = now() \
         RETURNING {QUEUE_COLUMNS}"
    ))
    .bind(&q.name)
    .bind(&q.description)
    .bind(&q.categories)
    .bind(&q.channels)
    .bind(&q.tier)
    .bind(&q.skill)
    .bind(q.precedence)
    .bind(q.push)
    .bind(q.auto_accept)
    .bind(q.active)
    .fetch_one(pool)
    .await?;
    let created: bool = sqlx::query_scalar("SELECT created_at = updated_at FROM queue_def WHERE name = $1")
        .bind(&q.name)
        .fetch_one(pool)
        .await?;
    Ok((row, created))
}
