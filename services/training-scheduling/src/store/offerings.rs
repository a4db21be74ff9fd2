//! `course` and `offering` (classes and trainings), and the sessions an offering's schedule
//! expands to, written with it.

use chrono::{DateTime, Duration, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use super::sessions::SessionRow;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CourseRow {
    pub id: Uuid,
    pub code: String,
    pub title: String,
    pub description: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COURSE_COLUMNS: &str = "id, code, title, description, created_by, created_at, updated_at";

pub async fn insert_course(
    tx: &mut Tx,
    code: &str,
    title: &str,
    description: &str,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<CourseRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO course (id, code, title, description, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COURSE_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(code)
    .bind(title)
    .bind(description)
    .bind(by)
    .bind(now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn course(pool: &PgPool, id: Uuid) -> Result<Option<CourseRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COURSE_COLUMNS} FROM course WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Courses in creation order, after the cursor `(created_at, id)`.
pub async fn courses(
    pool: &PgPool,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CourseRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COURSE_COLUMNS} FROM course WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2)) \
         ORDER BY created_at, id LIMIT $3"
    ))
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OfferingRow {
    pub id: Uuid,
    pub kind: String,
    pub course_id: Option<Uuid>,
    pub code: Option<String>,
    pub title: String,
    pub description: String,
    pub audience: Vec<String>,
    pub mode: String,
    pub meeting_url: Option<String>,
    pub room: Option<String>,
    pub trainer_id: Option<Uuid>,
    pub advisor_id: Option<Uuid>,
    pub capacity: i32,
    pub min_attendance: i32,
    pub time_zone: String,
    pub rrule: Option<String>,
    pub first_starts_at: DateTime<Utc>,
    pub duration_minutes: i32,
    pub seats_taken: i32,
    pub sequence: i32,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OfferingRow {
    /// The meeting link or the room.
    pub fn location(&self) -> Option<String> {
        self.meeting_url.clone().or_else(|| self.room.clone())
    }
}

const OFFERING_COLUMNS: &str = "id, kind, course_id, code, title, description, audience, mode, meeting_url, room, \
     trainer_id, advisor_id, capacity, min_attendance, time_zone, rrule, first_starts_at, duration_minutes, \
     seats_taken, sequence, created_by, created_at, updated_at";

/// An offering to write, with its expanded schedule.
#[derive(Debug, Clone)]
pub struct OfferingInsert<'a> {
    pub id: Uuid,
    pub kind: &'a str,
    pub course_id: Option<Uuid>,
    pub code: Option<&'a str>,
    pub title: &'a str,
    pub description: &'a str,
    pub audience: &'a [String],
    pub mode: &'a str,
    pub meeting_url: Option<&'a str>,
    pub room: Option<&'a str>,
    pub trainer_id: Option<Uuid>,
    pub advisor_id: Option<Uuid>,
    pub capacity: i32,
    pub min_attendance: i32,
    pub time_zone: &'a str,
    pub rrule: Option<&'a str>,
    pub starts: &'a [DateTime<Utc>],
    pub duration: Duration,
    pub created_by: Uuid,
    pub now: DateTime<Utc>,
}

/// A scheduled session of someone else that overlaps one of `starts` (+ `duration`) with the
/// same trainer or room: for a 409 that names it. (The exclusion constraints decide; this only
/// explains.)
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Clash {
    pub session_id: Uuid,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub same_trainer: bool,
}

pub async fn first_clash(
    tx: &mut Tx,
    trainer_id: Option<Uuid>,
    room: Option<&str>,
    starts: &[DateTime<Utc>],
    ends: &[DateTime<Utc>],
    except_session: Option<Uuid>,
) -> Result<Option<Clash>, sqlx::Error> {
    if trainer_id.is_none() && room.is_none() {
        return Ok(None);
    }
    sqlx::query_as(
        "SELECT s.id AS session_id, s.title, s.starts_at, s.ends_at, \
                COALESCE(s.trainer_id = $1, false) AS same_trainer \
         FROM session s \
         WHERE s.status = 'scheduled' AND (s.trainer_id = $1 OR s.room = $2) \
           AND ($5::uuid IS NULL OR s.id <> $5) \
           AND EXISTS (SELECT 1 FROM unnest($3::timestamptz[], $4::timestamptz[]) AS r(b, e) \
                       WHERE tstzrange(s.starts_at, s.ends_at) && tstzrange(r.b, r.e)) \
         ORDER BY s.starts_at LIMIT 1",
    )
    .bind(trainer_id)
    .bind(room)
    .bind(starts)
    .bind(ends)
    .bind(except_session)
    .fetch_optional(&mut **tx)
    .await
}

/// Writes the offering and one session per start, in one statement.
pub async fn insert_offering(
    tx: &mut Tx,
    o: &OfferingInsert<'_>,
) -> Result<(OfferingRow, Vec<SessionRow>), sqlx::Error> {
    let offering: OfferingRow = sqlx::query_as(&format!(
        "INSERT INTO offering (id, kind, course_id, code, title, description, audience, mode, meeting_url, room, \
            trainer_id, advisor_id, capacity, min_attendance, time_zone, rrule, first_starts_at, duration_minutes, \
            created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $20) \
         RETURNING {OFFERING_COLUMNS}"
    ))
    .bind(o.id)
    .bind(o.kind)
    .bind(o.course_id)
    .bind(o.code)
    .bind(o.title)
    .bind(o.description)
    .bind(o.audience)
    .bind(o.mode)
    .bind(o.meeting_url)
    .bind(o.room)
    .bind(o.trainer_id)
    .bind(o.advisor_id)
    .bind(o.capacity)
    .bind(o.min_attendance)
    .bind(o.time_zone)
    .bind(o.rrule)
    .bind(o.starts[0])
    .bind(i32::try_from(o.duration.num_minutes()).unwrap_or(i32::MAX))
    .bind(o.created_by)
    .bind(o.now)
    .fetch_one(&mut **tx)
    .await?;
    let ids: Vec<Uuid> = o.starts.iter().map(|_| Uuid::now_v7()).collect();
    let ends: Vec<DateTime<Utc>> = o.starts.iter().map(|s| *s + o.duration).collect();
    let sessions = sqlx::query_as(&format!(
        "INSERT INTO session (id, offering_id, occurrence, kind, title, mode, starts_at, ends_at, original_starts_at, \
            time_zone, capacity, trainer_id, room, meeting_url, created_by, created_at, updated_at) \
         SELECT x.id, $2, x.n::int, $3, $4, $5, x.b, x.e, x.b, $6, $7, $8, $9, $10, $11, $12, $12 \
         FROM unnest($1::uuid[], $13::timestamptz[], $14::timestamptz[]) WITH ORDINALITY AS x(id, b, e, n) \
         RETURNING {}",
        super::sessions::COLUMNS
    ))
    .bind(&ids)
    .bind(o.id)
    .bind(o.kind)
    .bind(o.title)
    .bind(o.mode)
    .bind(o.time_zone)
    .bind(o.capacity)
    .bind(o.trainer_id)
    .bind(o.room)
    .bind(o.meeting_url)
    .bind(o.created_by)
    .bind(o.now)
    .bind(o.starts)
    .bind(&ends)
    .fetch_all(&mut **tx)
    .await?;
    Ok((offering, sessions))
}

pub async fn offering(pool: &PgPool, id: Uuid) -> Result<Option<OfferingRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {OFFERING_COLUMNS} FROM offering WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// A class's id, from its id or its code.
pub async fn find_class(tx: &mut Tx, reference: &str) -> Result<Option<Uuid>, sqlx::Error> {
    let id = Uuid::parse_str(reference).ok();
    sqlx::query_scalar(
        "SELECT id FROM offering WHERE kind = 'class' AND (id = $1 OR code = $2) \
         ORDER BY COALESCE(id = $1, false) DESC LIMIT 1",
    )
    .bind(id)
    .bind(reference)
    .fetch_optional(&mut **tx)
    .await
}

/// Offerings locked for their seats, in the order of their ids (so that two transactions
/// locking the same pair cannot deadlock).
pub async fn lock_offerings(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<OfferingRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {OFFERING_COLUMNS} FROM offering WHERE id = ANY($1) ORDER BY id FOR UPDATE"
    ))
    .bind(ids)
    .fetch_all(&mut **tx)
    .await
}

/// Adds `delta` to a class's taken seats.
pub async fn add_class_seats(tx: &mut Tx, class_id: Uuid, delta: i32, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE offering SET seats_taken = seats_taken + $2, updated_at = $3 WHERE id = $1")
        .bind(class_id)
        .bind(delta)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Offerings of a kind (`class`, or the trainings), newest first, optionally of one course.
pub async fn offerings(
    pool: &PgPool,
    kinds: &[&str],
    course_id: Option<Uuid>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<OfferingRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
    sqlx::query_as(&format!(
        "SELECT {OFFERING_COLUMNS} FROM offering WHERE kind = ANY($1) AND ($2::uuid IS NULL OR course_id = $2) \
         AND ($3::timestamptz IS NULL OR (first_starts_at, id) > ($3, $4)) ORDER BY first_starts_at, id LIMIT $5"
    ))
    .bind(&kinds)
    .bind(course_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
