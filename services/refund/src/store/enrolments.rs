//! `enrolment`: what each customer bought and paid, as the company's systems report it, and
//! the refund state derived from its requests.

use chrono::{DateTime, Utc};
use contracts::CustomerId;
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::enrolment::{PaymentChannel, ValidEnrolment};
use crate::domain::policy::Part;
use crate::domain::workflow::Status;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentRow {
    pub id: Uuid,
    pub customer_id: CustomerId,
    pub course_id: String,
    pub class_id: Option<String>,
    pub paid_minor: i64,
    pub currency: String,
    pub channel: PaymentChannel,
    pub payment_reference: String,
    pub enrolled_at: DateTime<Utc>,
    pub total_sessions: i32,
    pub attended_sessions: i32,
    pub service_ends_at: Option<DateTime<Utc>>,
    #[sqlx(json)]
    pub non_refundable: Vec<Part>,
    pub discount_minor: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, customer_id, course_id, class_id, paid_minor, currency, channel, payment_reference, \
                       enrolled_at, total_sessions, attended_sessions, service_ends_at, non_refundable, discount_minor, \
                       created_at, updated_at";

type RecordQuery<'q> = sqlx::query::QueryAs<'q, sqlx::Postgres, EnrolmentRow, sqlx::postgres::PgArguments>;

/// Binds `$1` = `id`, `$2`..`$14` = the record's fields in column order, `$15` = `now`.
fn bind_record<'q>(q: RecordQuery<'q>, id: Uuid, e: &'q ValidEnrolment, now: DateTime<Utc>) -> RecordQuery<'q> {
    q.bind(id)
        .bind(e.customer_id)
        .bind(&e.course_id)
        .bind(&e.class_id)
        .bind(e.paid_minor)
        .bind(&e.currency)
        .bind(e.channel)
        .bind(&e.payment_reference)
        .bind(e.enrolled_at)
        .bind(e.total_sessions)
        .bind(e.attended_sessions)
        .bind(e.service_ends_at)
        .bind(sqlx::types::Json(&e.non_refundable))
        .bind(e.discount_minor)
        .bind(now)
}

/// Inserts the enrolment unless one with `id` exists (then `None`).
#[tracing::instrument(skip_all, fields(enrolment_id = %id))]
pub async fn insert(
    tx: &mut Tx,
    id: Uuid,
    e: &ValidEnrolment,
    now: DateTime<Utc>,
) -> Result<Option<EnrolmentRow>, sqlx::Error> {
    let query = format!(
        "INSERT INTO enrolment (id, customer_id, course_id, class_id, paid_minor, currency, channel, \
         payment_reference, enrolled_at, total_sessions, attended_sessions, service_ends_at, non_refundable, \
         discount_minor, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) \
         ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}"
    );
    bind_record(sqlx::query_as(&query), id, e, now)
        .fetch_optional(&mut **tx)
        .await
}

/// Replaces the whole record of an existing enrolment.
#[tracing::instrument(skip_all, fields(enrolment_id = %id))]
pub async fn replace(
    tx: &mut Tx,
    id: Uuid,
    e: &ValidEnrolment,
    now: DateTime<Utc>,
) -> Result<EnrolmentRow, sqlx::Error> {
    let query = format!(
        "UPDATE enrolment SET customer_id = $2, course_id = $3, class_id = $4, paid_minor = $5, currency = $6, \
         channel = $7, payment_reference = $8, enrolled_at = $9, total_sessions = $10, attended_sessions = $11, \
         service_ends_at = $12, non_refundable = $13, discount_minor = $14, updated_at = $15 \
         WHERE id = $1 RETURNING {COLUMNS}"
    );
    bind_record(sqlx::query_as(&query), id, e, now)
        .fetch_one(&mut **tx)
        .await
}

/// The enrolment, locked for the rest of the transaction: every change to its refunds
/// (filing, each workflow move) holds this lock, so they happen one at a time per enrolment.
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<Option<EnrolmentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM enrolment WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<EnrolmentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM enrolment WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// Sets the sessions attended; `None` when there is no such enrolment.
pub async fn set_attendance(
    pool: &PgPool,
    id: Uuid,
    attended: i32,
    now: DateTime<Utc>,
) -> Result<Option<EnrolmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE enrolment SET attended_sessions = $2, updated_at = $3 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(attended)
    .bind(now)
    .fetch_optional(pool)
    .await
}

/// An enrolment's refunds, derived from its requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, sqlx::FromRow)]
pub struct RefundState {
    /// Approved so far by requests that commit money (approved, payout pending, paid).
    pub refunded_minor: i64,
    /// Requests neither rejected nor cancelled.
    pub live_requests: i64,
    /// The request waiting for a decision, if any (at most one).
    pub open_request_id: Option<Uuid>,
}

fn names(pick: fn(Status) -> bool) -> Vec<&'static str> {
    Status::ALL
        .into_iter()
        .filter(|s| pick(*s))
        .map(Status::as_str)
        .collect()
}

/// The refund state of enrolment `id`. Read after locking the enrolment, it is exact for the
/// rest of the transaction.
pub async fn refund_state<'e>(db: impl sqlx::PgExecutor<'e>, id: Uuid) -> Result<RefundState, sqlx::Error> {
    sqlx::query_as(
        "SELECT coalesce(sum(approved_minor) FILTER (WHERE status = ANY($2)), 0)::bigint AS refunded_minor, \
                count(*) FILTER (WHERE status NOT IN ('rejected', 'cancelled')) AS live_requests, \
                (array_agg(id) FILTER (WHERE status = ANY($3)))[1] AS open_request_id \
         FROM refund_request WHERE enrolment_id = $1",
    )
    .bind(id)
    .bind(names(Status::commits_money))
    .bind(names(Status::is_open))
    .fetch_one(db)
    .await
}
