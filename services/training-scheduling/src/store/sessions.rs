//! `session`: one occurrence of a class or training, with its seats and waitlist counter, and
//! `session_change`, the log of moves and cancellations.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub offering_id: Uuid,
    pub occurrence: i32,
    pub kind: String,
    pub title: String,
    pub mode: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub original_starts_at: DateTime<Utc>,
    pub time_zone: String,
    pub capacity: i32,
    pub seats_taken: i32,
    pub waitlist_issued: i32,
    pub status: String,
    pub sequence: i32,
    pub trainer_id: Option<Uuid>,
    pub room: Option<String>,
    pub meeting_url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl SessionRow {
    pub fn is_cancelled(&self) -> bool {
        self.status == "cancelled"
    }

    /// The meeting link or the room.
    pub fn location(&self) -> Option<String> {
        self.meeting_url.clone().or_else(|| self.room.clone())
    }
}

pub const COLUMNS: &str = "id, offering_id, occurrence, kind, title, mode, starts_at, ends_at, original_starts_at, \
     time_zone, capacity, seats_taken, waitlist_issued, status, sequence, trainer_id, room, meeting_url, created_at, \
     updated_at";

/// The session, read on `db` (the pool, or a transaction's connection).
pub async fn session<'e>(db: impl sqlx::PgExecutor<'e>, id: Uuid) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM session WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The session, its row locked for the rest of `tx` (seats, waitlist, moves all lock it first).
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM session WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Every session of an offering, in order.
pub async fn of_offering(pool: &PgPool, offering_id: Uuid) -> Result<Vec<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM session WHERE offering_id = $1 ORDER BY occurrence"
    ))
    .bind(offering_id)
    .fetch_all(pool)
    .await
}

/// The offering's first scheduled session starting after `now`.
pub async fn next_of_offering(
    tx: &mut Tx,
    offering_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<SessionRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM session WHERE offering_id = $1 AND status = 'scheduled' AND starts_at > $2 \
         ORDER BY starts_at LIMIT 1"
    ))
    .bind(offering_id)
    .bind(now)
    .fetch_optional(&mut **tx)
    .await
}

/// What a list of sessions is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<String>,
    pub offering_id: Option<Uuid>,
    pub trainer_id: Option<Uuid>,
    /// Sessions ending after this (default: now, so upcoming and running ones).
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Sessions ending after `from`, earliest first, after the cursor `(starts_at, id)`.
pub async fn list(
    pool: &PgPool,
    f: &Filter,
    now: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM session WHERE starts_at >= $1 \
           AND ($2::text IS NULL OR kind = $2) AND ($3::uuid IS NULL OR offering_id = $3) \
           AND ($4::uuid IS NULL OR trainer_id = $4) AND ($5::timestamptz IS NULL OR starts_at < $5) \
           AND ($6::timestamptz IS NULL OR (starts_at, id) > ($6, $7)) \
         ORDER BY starts_at, id LIMIT $8"
    ))
    .bind(f.from.unwrap_or(now))
    .bind(&f.kind)
    .bind(f.offering_id)
    .bind(f.trainer_id)
    .bind(f.to)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Moves a session; its revision goes up by one.
pub async fn reschedule(
    tx: &mut Tx,
    id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<SessionRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE session SET starts_at = $2, ends_at = $3, sequence = sequence + 1, updated_at = $4 \
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(starts_at)
    .bind(ends_at)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// Cancels a scheduled session; its revision goes up by one.
pub async fn cancel(tx: &mut Tx, id: Uuid, now: DateTime<Utc>) -> Result<SessionRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE session SET status = 'cancelled', sequence = sequence + 1, updated_at = $2 \
         WHERE id = $1 AND status = 'scheduled' RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

/// A move or cancellation, with who did it and why.
pub struct Change<'a> {
    pub action: &'a str,
    pub before: &'a SessionRow,
    pub after: &'a SessionRow,
    pub reason: &'a str,
    pub actor: Uuid,
    pub at: DateTime<Utc>,
}

pub async fn log_change(tx: &mut Tx, c: &Change<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO session_change (session_id, action, previous_starts_at, previous_ends_at, starts_at, ends_at, \
            reason, actor_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(c.after.id)
    .bind(c.action)
    .bind(c.before.starts_at)
    .bind(c.before.ends_at)
    .bind(c.after.starts_at)
    .bind(c.after.ends_at)
    .bind(c.reason)
    .bind(c.actor)
    .bind(c.at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub action: String,
    pub previous_starts_at: DateTime<Utc>,
    pub previous_ends_at: DateTime<Utc>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub reason: String,
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

pub async fn changes(pool: &PgPool, session_id: Uuid) -> Result<Vec<ChangeRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT action, previous_starts_at, previous_ends_at, starts_at, ends_at, reason, actor_id, at \
         FROM session_change WHERE session_id = $1 ORDER BY id",
    )
    .bind(session_id)
    .fetch_all(pool)
    .await
}

/// Who takes part in a session: its confirmed registrants (and, with `waitlisted`, those
/// waiting), or the active students of its class; with their guardians.
pub async fn attendees(
    tx: &mut Tx,
    session: &SessionRow,
    waitlisted: bool,
) -> Result<Vec<(Uuid, Vec<Uuid>)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT participant_id, guardian_ids FROM registration \
         WHERE session_id = $1 AND (status = 'confirmed' OR ($3 AND status = 'waitlisted')) \
         UNION ALL \
         SELECT customer_id, guardian_ids FROM enrolment WHERE class_id = $2 AND status = 'active' AND $4 \
         ORDER BY 1",
    )
    .bind(session.id)
    .bind(session.offering_id)
    .bind(waitlisted)
    .bind(session.kind == "class")
    .fetch_all(&mut **tx)
    .await
}
