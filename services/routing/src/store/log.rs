//! The routing log: every step of every ticket, and the figures read from it.

use chrono::{DateTime, Utc};
use contracts::{AgentId, TicketId};
use sqlx::PgPool;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LogRow {
    pub kind: String,
    pub agent_id: Option<AgentId>,
    pub queue: Option<String>,
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// A ticket's steps, oldest first.
pub async fn log(pool: &PgPool, ticket: TicketId) -> Result<Vec<LogRow>, sqlx::Error> {
    sqlx::query_as("SELECT kind, agent_id, queue, detail, at FROM routing_log WHERE ticket_id = $1 ORDER BY id")
        .bind(ticket)
        .fetch_all(pool)
        .await
}

/// Tickets queued in the hour before `now`, per queue.
pub async fn arrivals_last_hour(pool: &PgPool, now: DateTime<Utc>) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT queue, count(*) FROM routing_log \
         WHERE kind = 'queued' AND at > $1::timestamptz - interval '1 hour' AND at <= $1 GROUP BY queue",
    )
    .bind(now)
    .fetch_all(pool)
    .await
}
