//! Intake's tables.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::ticket::{Status, ValidTicket};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub priority: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, customer_id, channel, subject, body, status, priority, created_by, created_at, updated_at";

#[tracing::instrument(skip_all, fields(customer_id = %t.customer_id))]
pub async fn insert_ticket(tx: &mut Tx, t: &ValidTicket, created_by: Uuid) -> Result<TicketRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO ticket (id, customer_id, channel, subject, body, status, priority, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(t.customer_id)
    .bind(t.channel.as_str())
    .bind(&t.subject)
    .bind(&t.body)
    .bind(Status::New.as_str())
    .bind(t.priority.as_str())
    .bind(created_by)
    .fetch_one(&mut **tx)
    .await
}

#[tracing::instrument(skip_all, fields(ticket_id = %id))]
pub async fn ticket(pool: &PgPool, id: Uuid) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}
