//! Satisfaction surveys and follow-up visits.

use chrono::{DateTime, Utc};
use contracts::{CustomerId, TicketId};
use platform::Tx;

use crate::domain::survey::FollowUpStatus;
use crate::store::StatusText;
use sqlx::PgPool;
use uuid::Uuid;

/// Records that a survey was requested at `now` (the service's clock), moving the ticket's
/// version on for `intake.survey.requested` in the same statement: that event's number; `None`
/// when the ticket already has one (once per ticket; nothing changed).
pub async fn request(
    tx: &mut Tx,
    ticket: TicketId,
    customer: CustomerId,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH s AS (INSERT INTO survey (ticket_id, customer_id, expires_at, requested_at) VALUES ($1, $2, $3, $4) \
                    ON CONFLICT (ticket_id) DO NOTHING RETURNING ticket_id) \
         UPDATE ticket SET version = version + 1 WHERE id IN (SELECT ticket_id FROM s) RETURNING version",
    )
    .bind(ticket)
    .bind(customer)
    .bind(expires_at)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SurveyRow {
    pub ticket_id: TicketId,
    pub customer_id: CustomerId,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub score: Option<i16>,
    pub comment: Option<String>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// An answered survey and the number of its `intake.survey.answered` (the ticket's version
/// after it).
#[derive(Debug, sqlx::FromRow)]
pub struct AnsweredSurvey {
    #[sqlx(flatten)]
    pub survey: SurveyRow,
    pub seq: i64,
}

/// Records the answer at `now` (the service's clock) unless the survey was answered already,
/// moving the ticket's version on for its event in the same statement; `None` when it was
/// answered (or is missing).
pub async fn answer(
    tx: &mut Tx,
    ticket: TicketId,
    score: i16,
    comment: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<AnsweredSurvey>, sqlx::Error> {
    sqlx::query_as(
        "WITH s AS (UPDATE survey SET score = $2, comment = $3, answered_at = $4 \
                    WHERE ticket_id = $1 AND answered_at IS NULL \
                    RETURNING ticket_id, customer_id, requested_at, expires_at, score, comment, answered_at), \
              v AS (UPDATE ticket SET version = version + 1 WHERE id IN (SELECT ticket_id FROM s) RETURNING version) \
         SELECT s.*, v.version AS seq FROM s, v",
    )
    .bind(ticket)
    .bind(score)
    .bind(comment)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn get(pool: &PgPool, ticket: TicketId) -> Result<Option<SurveyRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT ticket_id, customer_id, requested_at, expires_at, score, comment, answered_at FROM survey \
         WHERE ticket_id = $1",
    )
    .bind(ticket)
    .fetch_optional(pool)
    .await
}

/// Schedules a follow-up visit unless one is pending for the ticket.
pub async fn schedule_follow_up(tx: &mut Tx, ticket: TicketId, due_at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO follow_up (id, ticket_id, due_at) VALUES ($1, $2, $3) \
         ON CONFLICT (ticket_id) WHERE status = 'pending' DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(ticket)
    .bind(due_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Cancels a ticket's pending follow-up (it was reopened).
pub async fn cancel_follow_up(tx: &mut Tx, ticket: TicketId) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE follow_up SET status = 'cancelled' WHERE ticket_id = $1 AND status = 'pending'")
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FollowUpRow {
    pub id: Uuid,
    pub ticket_id: TicketId,
    pub due_at: DateTime<Utc>,
    #[sqlx(try_from = "StatusText")]
    pub status: FollowUpStatus,
    pub outcome: Option<String>,
    pub note: Option<String>,
    pub done_by: Option<Uuid>,
    pub done_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const FOLLOW_UP_COLUMNS: &str = "id, ticket_id, due_at, status, outcome, note, done_by, done_at, created_at";

/// Follow-ups in `status`, soonest due first; only those due by `due_before` when given.
pub async fn follow_ups(
    pool: &PgPool,
    status: FollowUpStatus,
    due_before: Option<DateTime<Utc>>,
    limit: i64,
) -> Result<Vec<FollowUpRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {FOLLOW_UP_COLUMNS} FROM follow_up WHERE status = $1 AND ($2::timestamptz IS NULL OR due_at <= $2) \
         ORDER BY due_at, id LIMIT $3"
    ))
    .bind(status.as_str())
    .bind(due_before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Records a pending follow-up's outcome at `now` (the service's clock); `None` if it is not
/// pending.
pub async fn record_follow_up(
    tx: &mut Tx,
    id: Uuid,
    outcome: &str,
    note: Option<&str>,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<FollowUpRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE follow_up SET status = 'done', outcome = $2, note = $3, done_by = $4, done_at = $5 \
         WHERE id = $1 AND status = 'pending' RETURNING {FOLLOW_UP_COLUMNS}"
    ))
    .bind(id)
    .bind(outcome)
    .bind(note)
    .bind(by)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn follow_up_exists(tx: &mut Tx, id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM follow_up WHERE id = $1)")
        .bind(id)
        .fetch_one(&mut **tx)
        .await
}
