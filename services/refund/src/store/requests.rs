//! `refund_request`: refund requests, their quote at filing and their workflow. Every status
//! change is guarded in SQL by the status it leaves (`WHERE status = $from`).

use chrono::{DateTime, Utc};
use contracts::{CustomerId, TicketId};
use platform::Tx;
use platform::pagination::After;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::policy::{Line, Reason};
use crate::domain::workflow::{Decider, Status};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RequestRow {
    pub id: Uuid,
    pub enrolment_id: Uuid,
    pub customer_id: CustomerId,
    pub ticket_id: Option<TicketId>,
    pub reason: Reason,
    pub comment: String,
    pub status: Status,
    pub amount_minor: i64,
    pub currency: String,
    pub quote_minor: i64,
    #[sqlx(json)]
    pub quote_lines: Vec<Line>,
    pub in_cooling_off: bool,
    pub policy_version: i32,
    pub decider: Decider,
    pub approved_minor: Option<i64>,
    pub filed_by: Uuid,
    pub reviewed_by: Option<Uuid>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub decided_by: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The `subjectseq` of the last event published about the request.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, enrolment_id, customer_id, ticket_id, reason, comment, status, amount_minor, currency, \
                       quote_minor, quote_lines, in_cooling_off, policy_version, decider, approved_minor, filed_by, \
                       reviewed_by, reviewed_at, decided_by, decided_at, decision_note, paid_at, version, created_at, \
                       updated_at";

/// The partial unique index allowing one open request per enrolment.
pub const OPEN_REQUEST_INDEX: &str = "refund_request_open_idx";

/// A request as filed, whole (approved already when approved automatically).
pub struct NewRequestRow<'a> {
    pub id: Uuid,
    pub enrolment_id: Uuid,
    pub customer_id: CustomerId,
    pub ticket_id: Option<TicketId>,
    pub reason: Reason,
    pub comment: &'a str,
    pub status: Status,
    pub amount_minor: i64,
    pub currency: &'a str,
    pub quote_minor: i64,
    pub quote_lines: &'a [Line],
    pub in_cooling_off: bool,
    pub policy_version: i32,
    pub decider: Decider,
    pub approved_minor: Option<i64>,
    pub filed_by: Uuid,
    pub decided_at: Option<DateTime<Utc>>,
    /// Events published with the filing.
    pub version: i64,
    pub now: DateTime<Utc>,
}

#[tracing::instrument(skip_all, fields(request_id = %r.id, enrolment_id = %r.enrolment_id))]
pub async fn insert(tx: &mut Tx, r: &NewRequestRow<'_>) -> Result<RequestRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO refund_request (id, enrolment_id, customer_id, ticket_id, reason, comment, status, \
         amount_minor, currency, quote_minor, quote_lines, in_cooling_off, policy_version, decider, approved_minor, \
         filed_by, decided_at, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19) \
         RETURNING {COLUMNS}"
    ))
    .bind(r.id)
    .bind(r.enrolment_id)
    .bind(r.customer_id)
    .bind(r.ticket_id)
    .bind(r.reason)
    .bind(r.comment)
    .bind(r.status)
    .bind(r.amount_minor)
    .bind(r.currency)
    .bind(r.quote_minor)
    .bind(sqlx::types::Json(r.quote_lines))
    .bind(r.in_cooling_off)
    .bind(r.policy_version)
    .bind(r.decider)
    .bind(r.approved_minor)
    .bind(r.filed_by)
    .bind(r.decided_at)
    .bind(r.version)
    .bind(r.now)
    .fetch_one(&mut **tx)
    .await
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM refund_request WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The enrolment a request is for (to lock it before the request).
pub async fn enrolment_of(tx: &mut Tx, id: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar("SELECT enrolment_id FROM refund_request WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// The request, locked for the rest of the transaction.
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<Option<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM refund_request WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// What a list is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub customer_id: Option<Uuid>,
    pub enrolment_id: Option<Uuid>,
    pub status: Option<Status>,
}

/// Newest first, after the cursor.
pub async fn list(pool: &PgPool, f: &Filter, limit: i64, after: Option<After>) -> Result<Vec<RequestRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM refund_request \
         WHERE ($1::uuid IS NULL OR customer_id = $1) AND ($2::uuid IS NULL OR enrolment_id = $2) \
           AND ($3::text IS NULL OR status = $3) \
           AND ($4::timestamptz IS NULL OR (created_at, id) < ($4, $5)) \
         ORDER BY created_at DESC, id DESC LIMIT $6"
    ))
    .bind(f.customer_id)
    .bind(f.enrolment_id)
    .bind(f.status)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One status change, and what it records beside the status.
#[derive(Debug, Clone)]
pub enum Change<'a> {
    /// A reviewer takes the request.
    Review { by: Uuid },
    /// Approved (for `approved_minor`) or rejected, by someone or (`None`) automatically.
    Decide {
        by: Option<Uuid>,
        approved_minor: Option<i64>,
        note: Option<&'a str>,
    },
    /// Withdrawn.
    Cancel,
}

/// Moves request `id` from `from` to `to` with `change`, raising its version by `events` (the
/// events published with the change). `None` when the request is no longer `from`.
#[tracing::instrument(skip_all, fields(request_id = %id, from = from.as_str(), to = to.as_str()))]
pub async fn set_status(
    tx: &mut Tx,
    id: Uuid,
    (from, to): (Status, Status),
    change: &Change<'_>,
    events: i64,
    now: DateTime<Utc>,
) -> Result<Option<RequestRow>, sqlx::Error> {
    let (set, by, amount, note) = match change {
        Change::Review { by } => ("reviewed_by = $6, reviewed_at = $5, ", Some(*by), None, None),
        Change::Decide {
            by,
            approved_minor,
            note,
        } => (
            "decided_by = $6, decided_at = $5, approved_minor = $7, decision_note = $8, ",
            *by,
            *approved_minor,
            *note,
        ),
        Change::Cancel => ("", None, None, None),
    };
    sqlx::query_as(&format!(
        "UPDATE refund_request SET status = $3, {set}version = version + $4, updated_at = $5 \
         WHERE id = $1 AND status = $2 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(from)
    .bind(to)
    .bind(events)
    .bind(now)
    .bind(by)
    .bind(amount)
    .bind(note)
    .fetch_optional(&mut **tx)
    .await
}
