//! `calendar_feed`: the secret tokens of people's calendar feeds (kept as SHA-256 digests), and
//! the sessions each feed shows.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::calendar::FeedSession;

/// Issues a feed token for `person`'s `view`, revoking the one they had.
pub async fn issue(
    tx: &mut Tx,
    token_hash: &str,
    person: Uuid,
    view: &str,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE calendar_feed SET revoked_at = $3 WHERE person_id = $1 AND view = $2 AND revoked_at IS NULL")
        .bind(person)
        .bind(view)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO calendar_feed (token_hash, person_id, view, created_by, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(person)
    .bind(view)
    .bind(by)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The live feed a token's digest opens: (person, view).
pub async fn by_hash(pool: &PgPool, token_hash: &str) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    sqlx::query_as("SELECT person_id, view FROM calendar_feed WHERE token_hash = $1 AND revoked_at IS NULL")
        .bind(token_hash)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    offering_id: Uuid,
    offering_sequence: i32,
    title: String,
    description: String,
    kind: String,
    time_zone: String,
    rrule: Option<String>,
    first_starts_at: DateTime<Utc>,
    duration_minutes: i32,
    session_id: Uuid,
    original_starts_at: DateTime<Utc>,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    location: Option<String>,
    cancelled: bool,
    sequence: i32,
    held: bool,
}

/// Every session of every offering in which `held` (a query of session ids for `$1`) has one,
/// each marked held or not.
async fn sessions(pool: &PgPool, held: &str, person: Uuid) -> Result<Vec<FeedSession>, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "WITH held AS ({held}), \
              offerings AS (SELECT DISTINCT s.offering_id FROM session s JOIN held h ON h.session_id = s.id) \
         SELECT o.id AS offering_id, o.sequence AS offering_sequence, o.title, o.description, o.kind, o.time_zone, \
                o.rrule, o.first_starts_at, o.duration_minutes, s.id AS session_id, s.original_starts_at, \
                s.starts_at, s.ends_at, COALESCE(s.meeting_url, s.room) AS location, \
                s.status = 'cancelled' AS cancelled, s.sequence, \
                EXISTS (SELECT 1 FROM held h WHERE h.session_id = s.id) AS held \
         FROM offerings x JOIN offering o ON o.id = x.offering_id JOIN session s ON s.offering_id = o.id \
         ORDER BY o.id, s.occurrence"
    ))
    .bind(person)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| FeedSession {
            offering_id: r.offering_id,
            offering_sequence: r.offering_sequence,
            title: r.title,
            description: r.description,
            kind: r.kind,
            time_zone: r.time_zone,
            rrule: r.rrule,
            first_starts_at: r.first_starts_at,
            duration_minutes: r.duration_minutes,
            session_id: r.session_id,
            original_starts_at: r.original_starts_at,
            starts_at: r.starts_at,
            ends_at: r.ends_at,
            location: r.location,
            cancelled: r.cancelled,
            sequence: r.sequence,
            held: r.held,
        })
        .collect())
}

/// A participant's sessions: confirmed registrations and the sessions of active class
/// enrolments, as the participant or as a guardian.
pub async fn participant_sessions(pool: &PgPool, person: Uuid) -> Result<Vec<FeedSession>, sqlx::Error> {
    sessions(
        pool,
        "SELECT r.session_id FROM registration r \
         WHERE r.status = 'confirmed' AND (r.participant_id = $1 OR $1 = ANY(r.guardian_ids)) \
         UNION \
         SELECT s.id FROM enrolment e JOIN session s ON s.offering_id = e.class_id \
         WHERE e.status = 'active' AND (e.customer_id = $1 OR $1 = ANY(e.guardian_ids))",
        person,
    )
    .await
}

/// The sessions a trainer teaches.
pub async fn trainer_sessions(pool: &PgPool, person: Uuid) -> Result<Vec<FeedSession>, sqlx::Error> {
    sessions(
        pool,
        "SELECT s.id AS session_id FROM session s WHERE s.trainer_id = $1",
        person,
    )
    .await
}
