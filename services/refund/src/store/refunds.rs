//! `refund_request`: refund requests as filed.

use chrono::{DateTime, Utc};
use contracts::CustomerId;
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::refund::ValidRefund;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefundRow {
    pub id: Uuid,
    pub customer_id: CustomerId,
    pub enrolment_id: Uuid,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub detail: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, customer_id, enrolment_id, amount_minor, currency, reason, detail, status, created_at, updated_at";

#[tracing::instrument(skip_all, fields(customer_id = %r.customer_id))]
pub async fn insert_refund(tx: &mut Tx, r: &ValidRefund, created_by: Uuid) -> Result<RefundRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO refund_request (id, customer_id, enrolment_id, amount_minor, currency, reason, detail, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(r.customer_id)
    .bind(r.enrolment_id)
    .bind(r.amount_minor)
    .bind(&r.currency)
    .bind(&r.reason)
    .bind(&r.detail)
    .bind(created_by)
    .fetch_one(&mut **tx)
    .await
}

pub async fn refund(pool: &PgPool, id: Uuid) -> Result<Option<RefundRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM refund_request WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}
