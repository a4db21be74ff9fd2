//! `refund_audit`: the append-only trail of every step of every request. The runtime role may
//! only insert and read it.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::workflow::Status;

/// One step, as written.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub request_id: Uuid,
    pub at: DateTime<Utc>,
    /// `submit`, `quote`, `review`, `approve`, `reject`, `cancel`.
    pub action: &'a str,
    pub from: Option<Status>,
    pub to: Status,
    pub amount_minor: Option<i64>,
    pub currency: &'a str,
    pub policy_version: i32,
    /// `None`: the service itself.
    pub actor_id: Option<Uuid>,
    pub actor_roles: &'a [&'a str],
    pub note: Option<&'a str>,
}

/// One step, as read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub request_id: Uuid,
    pub at: DateTime<Utc>,
    pub action: String,
    pub from_status: Option<Status>,
    pub to_status: Status,
    pub amount_minor: Option<i64>,
    pub currency: String,
    pub policy_version: i32,
    pub actor_id: Option<Uuid>,
    pub actor_roles: Vec<String>,
    pub note: Option<String>,
}

/// Appends `entries` in order.
#[tracing::instrument(skip_all, fields(entries = entries.len()))]
pub async fn append(tx: &mut Tx, entries: &[Entry<'_>]) -> Result<(), sqlx::Error> {
    for e in entries {
        sqlx::query(
            "INSERT INTO refund_audit (request_id, at, action, from_status, to_status, amount_minor, currency, \
             policy_version, actor_id, actor_roles, note) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(e.request_id)
        .bind(e.at)
        .bind(e.action)
        .bind(e.from)
        .bind(e.to)
        .bind(e.amount_minor)
        .bind(e.currency)
        .bind(e.policy_version)
        .bind(e.actor_id)
        .bind(e.actor_roles)
        .bind(e.note)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// A request's trail, oldest first.
pub async fn of_request(pool: &PgPool, request_id: Uuid) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, request_id, at, action, from_status, to_status, amount_minor, currency, policy_version, \
                actor_id, actor_roles, note \
         FROM refund_audit WHERE request_id = $1 ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(pool)
    .await
}
