//! Refund requests followed on the tickets they were filed from: what the ticket's state
//! depends on (see `core::refunds`). The notes are ticket messages (`insert_message_once`).

use chrono::{DateTime, Utc};
use contracts::TicketId;
use platform::Tx;
use uuid::Uuid;

/// What intake last applied of a request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundState {
    /// The `subjectseq` of the newest event applied.
    pub seq: Option<i64>,
    /// When the request ended (and its ticket was resolved, if it was open).
    pub ended_at: Option<DateTime<Utc>>,
}

/// The request's state, locked for the rest of the transaction; `None` before its first event.
pub async fn for_update(tx: &mut Tx, id: Uuid) -> Result<Option<RefundState>, sqlx::Error> {
    sqlx::query_as("SELECT seq, ended_at FROM refund_request WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// The state to keep after an event about a request.
pub struct SavedRefund<'a> {
    pub id: Uuid,
    pub ticket_id: TicketId,
    pub status: &'a str,
    pub seq: Option<i64>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The service's clock.
    pub now: DateTime<Utc>,
}

/// Writes the request's state (a new row for its first event).
pub async fn save(tx: &mut Tx, r: &SavedRefund<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refund_request (id, ticket_id, status, seq, ended_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, seq = EXCLUDED.seq, \
             ended_at = EXCLUDED.ended_at, updated_at = EXCLUDED.updated_at",
    )
    .bind(r.id)
    .bind(r.ticket_id)
    .bind(r.status)
    .bind(r.seq)
    .bind(r.ended_at)
    .bind(r.now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
