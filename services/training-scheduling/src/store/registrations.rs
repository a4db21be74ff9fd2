//! `registration`: seats and waitlist places in training sessions.
//!
//! Every step locks the session's row first (admission in its one statement, cancellation and
//! promotion through [`super::sessions::lock`]), so the seats never exceed the capacity and the
//! waitlist positions — taken from the session's counter in the admitting transaction — have
//! neither gap nor duplicate, and are promoted in their order.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::registration::Status;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RegistrationRow {
    pub id: Uuid,
    pub session_id: Uuid,
    pub offering_id: Uuid,
    pub participant_id: Uuid,
    pub participant_kind: String,
    pub guardian_ids: Vec<Uuid>,
    pub status: Status,
    pub waitlist_position: Option<i32>,
    pub registered_by: Uuid,
    pub promoted_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<Uuid>,
    pub cancel_reason: Option<String>,
    pub rescheduled_to: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RegistrationRow {
    /// Whether `person` is the participant or one of their guardians.
    pub fn concerns(&self, person: Uuid) -> bool {
        self.participant_id == person || self.guardian_ids.contains(&person)
    }
}

const COLUMNS: &str = "id, session_id, offering_id, participant_id, participant_kind, guardian_ids, status, \
     waitlist_position, registered_by, promoted_at, cancelled_at, cancelled_by, cancel_reason, rescheduled_to, \
     version, created_at, updated_at";

/// A registration to admit.
#[derive(Debug, Clone)]
pub struct Admission<'a> {
    pub id: Uuid,
    pub session_id: Uuid,
    pub participant_id: Uuid,
    pub participant_kind: &'a str,
    pub guardian_ids: &'a [Uuid],
    pub registered_by: Uuid,
    pub now: DateTime<Utc>,
}

/// Admits a registration in one statement: locks the session (scheduled, not started), takes a
/// seat if one is free or else the next waitlist position, and writes the registration.
/// `None` when the session cannot be registered for any more. A second live registration of
/// the participant violates `registration_participant_key` and changes nothing.
pub async fn admit(tx: &mut Tx, a: &Admission<'_>) -> Result<Option<RegistrationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH s AS ( \
             SELECT id, offering_id, capacity, seats_taken FROM session \
             WHERE id = $2 AND status = 'scheduled' AND starts_at > $7 FOR UPDATE \
         ), u AS ( \
             UPDATE session t SET \
                 seats_taken = t.seats_taken + (s.seats_taken < s.capacity)::int, \
                 waitlist_issued = t.waitlist_issued + (s.seats_taken >= s.capacity)::int \
             FROM s WHERE t.id = s.id \
             RETURNING t.id, t.offering_id, s.seats_taken < s.capacity AS seated, t.waitlist_issued \
         ) \
         INSERT INTO registration (id, session_id, offering_id, participant_id, participant_kind, guardian_ids, \
             status, waitlist_position, registered_by, created_at, updated_at) \
         SELECT $1, u.id, u.offering_id, $3, $4, $5, \
                CASE WHEN u.seated THEN 'confirmed' ELSE 'waitlisted' END, \
                CASE WHEN u.seated THEN NULL ELSE u.waitlist_issued END, $6, $7, $7 \
         FROM u RETURNING {COLUMNS}"
    ))
    .bind(a.id)
    .bind(a.session_id)
    .bind(a.participant_id)
    .bind(a.participant_kind)
    .bind(a.guardian_ids)
    .bind(a.registered_by)
    .bind(a.now)
    .fetch_optional(&mut **tx)
    .await
}

/// The registration, read on `db` (the pool, or a transaction's connection).
pub async fn registration<'e>(db: impl sqlx::PgExecutor<'e>, id: Uuid) -> Result<Option<RegistrationRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM registration WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The participant's live registration for a session, if any.
pub async fn live_of(
    tx: &mut Tx,
    session_id: Uuid,
    participant_id: Uuid,
) -> Result<Option<RegistrationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM registration WHERE session_id = $1 AND participant_id = $2 AND status <> 'cancelled'"
    ))
    .bind(session_id)
    .bind(participant_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Who cancelled and why.
#[derive(Debug, Clone, Copy)]
pub struct Cancellation<'a> {
    pub actor: Uuid,
    pub reason: &'a str,
    pub now: DateTime<Utc>,
}

/// Cancels a live registration (its session locked by the caller); the seat it held is given
/// back. Returns the registration and the status it left; `None` when it was not live.
pub async fn cancel(
    tx: &mut Tx,
    id: Uuid,
    c: Cancellation<'_>,
) -> Result<Option<(RegistrationRow, Status)>, sqlx::Error> {
    let row: Option<RegistrationRow> = sqlx::query_as(&format!(
        "UPDATE registration SET status = 'cancelled', cancelled_at = $3, cancelled_by = $2, cancel_reason = $4, \
            version = version + 1, updated_at = $3 \
         WHERE id = $1 AND status <> 'cancelled' RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(c.actor)
    .bind(c.now)
    .bind(c.reason)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    // The status it left: a waitlisted registration keeps its position; a confirmed one has none.
    let left = if row.waitlist_position.is_some() && row.promoted_at.is_none() {
        Status::Waitlisted
    } else {
        Status::Confirmed
    };
    if left == Status::Confirmed {
        sqlx::query("UPDATE session SET seats_taken = seats_taken - 1, updated_at = $2 WHERE id = $1")
            .bind(row.session_id)
            .bind(c.now)
            .execute(&mut **tx)
            .await?;
    }
    Ok(Some((row, left)))
}

/// Notes the registration that replaced a cancelled one (a move to another session).
pub async fn set_rescheduled_to(tx: &mut Tx, id: Uuid, to: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE registration SET rescheduled_to = $2 WHERE id = $1")
        .bind(id)
        .bind(to)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Gives free seats of a session (locked by the caller, scheduled, not started) to the
/// waitlisted registrations with the lowest positions, one per seat; the promoted ones.
pub async fn promote(tx: &mut Tx, session_id: Uuid, now: DateTime<Utc>) -> Result<Vec<RegistrationRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH s AS ( \
             SELECT id, capacity - seats_taken AS free FROM session \
             WHERE id = $1 AND status = 'scheduled' AND starts_at > $2 \
         ), next AS ( \
             SELECT r.id FROM registration r, s \
             WHERE r.session_id = s.id AND r.status = 'waitlisted' \
             ORDER BY r.waitlist_position LIMIT (SELECT GREATEST(free, 0) FROM s) FOR UPDATE OF r \
         ), p AS ( \
             UPDATE registration r SET status = 'confirmed', promoted_at = $2, version = version + 1, updated_at = $2 \
             FROM next WHERE r.id = next.id RETURNING r.* \
         ), taken AS ( \
             UPDATE session SET seats_taken = seats_taken + (SELECT count(*) FROM p), updated_at = $2 \
             WHERE id = $1 AND EXISTS (SELECT 1 FROM p) RETURNING id \
         ) \
         SELECT {COLUMNS} FROM p ORDER BY waitlist_position"
    ))
    .bind(session_id)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

/// What a list of registrations is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub session_id: Option<Uuid>,
    pub participant_id: Option<Uuid>,
    /// A person's own: as participant or guardian.
    pub concerning: Option<Uuid>,
    pub status: Option<Status>,
}

/// Registrations in admission order (`created_at`, id), after the cursor.
pub async fn list(
    pool: &PgPool,
    f: &Filter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<RegistrationRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM registration \
         WHERE ($1::uuid IS NULL OR session_id = $1) AND ($2::uuid IS NULL OR participant_id = $2) \
           AND ($3::uuid IS NULL OR participant_id = $3 OR $3 = ANY(guardian_ids)) \
           AND ($4::text IS NULL OR status = $4) \
           AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6)) \
         ORDER BY created_at, id LIMIT $7"
    ))
    .bind(f.session_id)
    .bind(f.participant_id)
    .bind(f.concerning)
    .bind(f.status)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
