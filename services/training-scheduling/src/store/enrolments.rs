//! `enrolment`: a student's place in a class under the company's enrolment id. The class's
//! seats (`offering.seats_taken`) change in the same transaction, the class row locked first.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EnrolmentRow {
    pub id: Uuid,
    pub class_id: Uuid,
    pub customer_id: Uuid,
    pub guardian_ids: Vec<Uuid>,
    pub status: String,
    pub transferred_from: Option<Uuid>,
    pub transfer_request_id: Option<Uuid>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl EnrolmentRow {
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }

    /// Whether `person` is the student or one of their guardians.
    pub fn concerns(&self, person: Uuid) -> bool {
        self.customer_id == person || self.guardian_ids.contains(&person)
    }
}

const COLUMNS: &str = "id, class_id, customer_id, guardian_ids, status, transferred_from, transfer_request_id, \
     version, created_at, updated_at";

pub async fn enrolment(pool: &PgPool, id: Uuid) -> Result<Option<EnrolmentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM enrolment WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The enrolment, locked for the rest of `tx`.
pub async fn lock(tx: &mut Tx, id: Uuid) -> Result<Option<EnrolmentRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM enrolment WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// The enrolment as it should stand.
#[derive(Debug, Clone)]
pub struct EnrolmentWrite<'a> {
    pub id: Uuid,
    pub class_id: Uuid,
    pub customer_id: Uuid,
    pub guardian_ids: &'a [Uuid],
    pub status: &'a str,
    pub transferred_from: Option<Uuid>,
    pub transfer_request_id: Option<Uuid>,
    pub now: DateTime<Utc>,
}

/// Writes the enrolment (new, or replacing the stored one); its version goes up by one.
pub async fn upsert(tx: &mut Tx, e: &EnrolmentWrite<'_>) -> Result<EnrolmentRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO enrolment (id, class_id, customer_id, guardian_ids, status, transferred_from, \
             transfer_request_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
         ON CONFLICT (id) DO UPDATE SET class_id = $2, customer_id = $3, guardian_ids = $4, status = $5, \
             transferred_from = COALESCE($6, enrolment.transferred_from), \
             transfer_request_id = COALESCE($7, enrolment.transfer_request_id), \
             version = enrolment.version + 1, updated_at = $8 \
         RETURNING {COLUMNS}"
    ))
    .bind(e.id)
    .bind(e.class_id)
    .bind(e.customer_id)
    .bind(e.guardian_ids)
    .bind(e.status)
    .bind(e.transferred_from)
    .bind(e.transfer_request_id)
    .bind(e.now)
    .fetch_one(&mut **tx)
    .await
}

/// A class's active enrolments, oldest first.
pub async fn of_class(pool: &PgPool, class_id: Uuid) -> Result<Vec<EnrolmentRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM enrolment WHERE class_id = $1 AND status = 'active' ORDER BY created_at, id"
    ))
    .bind(class_id)
    .fetch_all(pool)
    .await
}

/// Whether `customer` is an active student of the class.
pub async fn is_enrolled(tx: &mut Tx, class_id: Uuid, customer: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM enrolment WHERE class_id = $1 AND customer_id = $2 AND status = 'active')",
    )
    .bind(class_id)
    .bind(customer)
    .fetch_one(&mut **tx)
    .await
}
