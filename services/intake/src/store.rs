//! Intake's tables.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use contracts::vocabulary::Priority;

use crate::domain::classify::Classification;
use crate::domain::lifecycle::Status;
use crate::domain::ticket::ValidTicket;

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
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, customer_id, channel, subject, body, status, priority, category, language, education_level, \
                       keywords, high_emotion, classification, created_by, first_response_at, resolved_at, \
                       closed_at, reopen_count, created_at, updated_at";

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

/// The ticket, locked for the rest of the transaction.
pub async fn ticket_for_update(tx: &mut Tx, id: Uuid) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Moves the ticket to `to` if it is in one of `from`; `None` when it is not (nothing changed).
#[tracing::instrument(skip_all, fields(ticket_id = %id, to = to.as_str()))]
pub async fn set_status(tx: &mut Tx, id: Uuid, from: &[Status], to: Status) -> Result<Option<TicketRow>, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(&format!(
        "UPDATE ticket SET status = $3, updated_at = now(), \
            resolved_at = CASE WHEN $3 = 'resolved' THEN now() ELSE resolved_at END, \
            closed_at = CASE WHEN $3 IN ('closed', 'cancelled') THEN now() ELSE closed_at END, \
            reopen_count = reopen_count + CASE WHEN status = 'resolved' AND $3 = 'queued' THEN 1 ELSE 0 END \
         WHERE id = $1 AND status = ANY($2) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&from)
    .bind(to.as_str())
    .fetch_optional(&mut **tx)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub author_id: Uuid,
    pub author_role: String,
    pub visibility: String,
    pub kind: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

const MESSAGE_COLUMNS: &str = "id, ticket_id, author_id, author_role, visibility, kind, body, created_at";

/// A message to add to a thread.
pub struct NewMessage<'a> {
    pub ticket_id: Uuid,
    pub author_id: Uuid,
    pub author_role: &'a str,
    pub visibility: &'a str,
    pub kind: &'a str,
    pub body: &'a str,
}

pub async fn insert_message(tx: &mut Tx, m: &NewMessage<'_>) -> Result<MessageRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO ticket_message (id, ticket_id, author_id, author_role, visibility, kind, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(m.ticket_id)
    .bind(m.author_id)
    .bind(m.author_role)
    .bind(m.visibility)
    .bind(m.kind)
    .bind(m.body)
    .fetch_one(&mut **tx)
    .await
}

/// Stamps the first response time unless one is stamped; true when this was the first.
pub async fn stamp_first_response(tx: &mut Tx, id: Uuid) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE ticket SET first_response_at = now(), updated_at = now() WHERE id = $1 AND first_response_at IS NULL",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A ticket's thread, oldest first; internal notes only when asked for.
pub async fn messages(pool: &PgPool, ticket_id: Uuid, with_internal: bool) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM ticket_message WHERE ticket_id = $1 AND ($2 OR visibility = 'public') \
         ORDER BY created_at, id"
    ))
    .bind(ticket_id)
    .bind(with_internal)
    .fetch_all(pool)
    .await
}
