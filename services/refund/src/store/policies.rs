//! `refund_policy`: the policy versions. Rows are only ever inserted (the runtime role may not
//! update or delete them).

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::policy::Policy;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRow {
    pub version: i32,
    pub name: String,
    pub preset: Option<String>,
    #[sqlx(json)]
    pub rules: Policy,
    pub effective_from: DateTime<Utc>,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "version, name, preset, rules, effective_from, created_by, created_at";

/// Serializes new versions (any constant of the service's own would do: the database is its own).
const VERSION_LOCK: i64 = 0x7265_6675_6e64_7076; // "refundpv"

/// A new policy.
pub struct NewPolicy<'a> {
    pub name: &'a str,
    pub preset: Option<&'a str>,
    pub policy: &'a Policy,
    pub effective_from: DateTime<Utc>,
    pub created_by: Uuid,
    pub now: DateTime<Utc>,
}

/// Inserts `p` as the next version (one more than the highest).
#[tracing::instrument(skip_all, fields(name = p.name))]
pub async fn insert(tx: &mut Tx, p: &NewPolicy<'_>) -> Result<PolicyRow, sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(VERSION_LOCK)
        .execute(&mut **tx)
        .await?;
    sqlx::query_as(&format!(
        "INSERT INTO refund_policy (version, name, preset, rules, effective_from, created_by, created_at) \
         SELECT coalesce(max(version), 0) + 1, $1, $2, $3, $4, $5, $6 FROM refund_policy RETURNING {COLUMNS}"
    ))
    .bind(p.name)
    .bind(p.preset)
    .bind(sqlx::types::Json(p.policy))
    .bind(p.effective_from)
    .bind(p.created_by)
    .bind(p.now)
    .fetch_one(&mut **tx)
    .await
}

/// Every version, newest first.
pub async fn list(pool: &PgPool) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM refund_policy ORDER BY version DESC"))
        .fetch_all(pool)
        .await
}

pub async fn get(pool: &PgPool, version: i32) -> Result<Option<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM refund_policy WHERE version = $1"))
        .bind(version)
        .fetch_optional(pool)
        .await
}

/// The policy in force at `at`: the one that took effect last at or before it (of versions
/// taking effect at the same moment, the newest).
pub async fn in_force<'e>(db: impl sqlx::PgExecutor<'e>, at: DateTime<Utc>) -> Result<Option<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM refund_policy WHERE effective_from <= $1 \
         ORDER BY effective_from DESC, version DESC LIMIT 1"
    ))
    .bind(at)
    .fetch_optional(db)
    .await
}
