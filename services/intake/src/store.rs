//! Intake's tables.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use contracts::vocabulary::Priority;

use crate::domain::classify::Classification;
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
    pub category: String,
    pub language: String,
    pub education_level: Option<String>,
    pub keywords: Vec<String>,
    pub high_emotion: bool,
    pub classification: serde_json::Value,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, customer_id, channel, subject, body, status, priority, category, language, education_level, \
                       keywords, high_emotion, classification, created_by, created_at, updated_at";

#[tracing::instrument(skip_all, fields(customer_id = %t.customer_id))]
pub async fn insert_ticket(
    tx: &mut Tx,
    t: &ValidTicket,
    c: &Classification,
    priority: Priority,
    created_by: Uuid,
) -> Result<TicketRow, sqlx::Error> {
    let explanation = serde_json::to_value(&c.explanation).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_as(&format!(
        "INSERT INTO ticket (id, customer_id, channel, subject, body, status, priority, category, language, \
                             education_level, keywords, high_emotion, classification, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(t.customer_id)
    .bind(t.channel.as_str())
    .bind(&t.subject)
    .bind(&t.body)
    .bind(Status::New.as_str())
    .bind(priority.as_str())
    .bind(&c.category)
    .bind(&c.language)
    .bind(&c.education_level)
    .bind(&c.keywords)
    .bind(c.high_emotion)
    .bind(explanation)
    .bind(created_by)
    .fetch_one(&mut **tx)
    .await
}

/// Tickets the customer opened in the last `hours` (for the repeated-contact rule).
pub async fn recent_ticket_count(tx: &mut Tx, customer_id: Uuid, hours: u32) -> Result<u32, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ticket WHERE customer_id = $1 AND created_at > now() - make_interval(hours => $2)",
    )
    .bind(customer_id)
    .bind(i32::try_from(hours).unwrap_or(i32::MAX))
    .fetch_one(&mut **tx)
    .await?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

#[tracing::instrument(skip_all, fields(ticket_id = %id))]
pub async fn ticket(pool: &PgPool, id: Uuid) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}
