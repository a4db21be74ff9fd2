//! The `webhook_endpoint` table: subscribers, their secrets and their failure record.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub owner_id: Uuid,
    /// Who subscribed it (an admin or a calling service): a service sees only its own.
    pub created_by: Uuid,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_until: Option<DateTime<Utc>>,
    pub allow_private: bool,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const ENDPOINT_COLUMNS: &str = "id, owner_id, created_by, url, description, event_types, secret, previous_secret, previous_until, \
     allow_private, enabled, disabled_reason, failing_since, created_at";

pub async fn endpoints(pool: &PgPool) -> Result<Vec<Endpoint>, sqlx::Error> {
    endpoints_created_by(pool, None).await
}

/// Every endpoint, or (`Some`) those `creator` subscribed, oldest first.
pub async fn endpoints_created_by(pool: &PgPool, creator: Option<Uuid>) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE ($1::uuid IS NULL OR created_by = $1) \
         ORDER BY created_at"
    ))
    .bind(creator)
    .fetch_all(pool)
    .await
}

pub async fn endpoint(pool: &PgPool, id: Uuid) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

pub async fn insert_endpoint(pool: &PgPool, e: &Endpoint) -> Result<Endpoint, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO webhook_endpoint (id, owner_id, url, description, event_types, secret, allow_private, \
           created_at, updated_at, created_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(e.id)
    .bind(e.owner_id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(&e.event_types)
    .bind(&e.secret)
    .bind(e.allow_private)
    .bind(e.created_at)
    .bind(e.created_by)
    .fetch_one(pool)
    .await
}

/// Changes what an admin may change; `enabled = true` also clears the failure record.
pub async fn update_endpoint(
    pool: &PgPool,
    id: Uuid,
    url: &str,
    description: &str,
    event_types: &[String],
    allow_private: bool,
    enabled: bool,
) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE webhook_endpoint SET url = $2, description = $3, event_types = $4, allow_private = $5, \
           enabled = $6, disabled_reason = CASE WHEN $6 THEN NULL ELSE COALESCE(disabled_reason, 'disabled by an admin') END, \
           failing_since = CASE WHEN $6 AND NOT enabled THEN NULL ELSE failing_since END, updated_at = now() \
         WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(id)
    .bind(url)
    .bind(description)
    .bind(event_types)
    .bind(allow_private)
    .bind(enabled)
    .fetch_optional(pool)
    .await
}

/// A new secret; the old one keeps signing (alongside) until `overlap_until`.
pub async fn rotate_secret(
    pool: &PgPool,
    id: Uuid,
    secret: &str,
    overlap_until: DateTime<Utc>,
) -> Result<Option<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE webhook_endpoint SET previous_secret = secret, previous_until = $3, secret = $2, updated_at = now() \
         WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(id)
    .bind(secret)
    .bind(overlap_until)
    .fetch_optional(pool)
    .await
}

pub async fn delete_endpoint(pool: &PgPool, id: Uuid) -> Result<bool, sqlx::Error> {
    super::changed_one(pool, sqlx::query("DELETE FROM webhook_endpoint WHERE id = $1").bind(id)).await
}

/// Disables an endpoint; true when this call disabled it (so the owner is told once).
pub async fn disable_endpoint(pool: &PgPool, id: Uuid, reason: &str) -> Result<bool, sqlx::Error> {
    let disable = sqlx::query(
        "UPDATE webhook_endpoint SET enabled = false, disabled_reason = $2, updated_at = now() \
         WHERE id = $1 AND enabled",
    );
    super::changed_one(pool, disable.bind(id).bind(reason)).await
}

/// Records a failure at `now`; returns since when the endpoint has been failing.
pub async fn endpoint_failed(
    pool: &PgPool,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE webhook_endpoint SET failing_since = COALESCE(failing_since, $2) WHERE id = $1 \
         RETURNING failing_since",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(pool)
    .await
    .map(Option::flatten)
}

pub async fn endpoint_succeeded(pool: &PgPool, ids: &[Uuid]) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhook_endpoint SET failing_since = NULL WHERE id = ANY($1) AND failing_since IS NOT NULL")
        .bind(ids)
        .execute(pool)
        .await?;
    Ok(())
}
