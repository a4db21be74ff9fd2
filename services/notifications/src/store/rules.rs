//! The `rule` table: which event produces which notification.

use sqlx::PgPool;

use crate::domain::rules::Rule;

const RULE_COLUMNS: &str =
    "name, event_type, conditions, recipient, notification, channels, category, urgency, digest_secs, enabled";

pub async fn rules(pool: &PgPool) -> Result<Vec<Rule>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {RULE_COLUMNS} FROM rule ORDER BY name"))
        .fetch_all(pool)
        .await
}

pub async fn upsert_rule(pool: &PgPool, r: &Rule) -> Result<bool, sqlx::Error> {
    let inserted: bool = sqlx::query_scalar(&format!(
        "INSERT INTO rule ({RULE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
         ON CONFLICT (name) DO UPDATE SET event_type = EXCLUDED.event_type, conditions = EXCLUDED.conditions, \
           recipient = EXCLUDED.recipient, notification = EXCLUDED.notification, channels = EXCLUDED.channels, \
           category = EXCLUDED.category, urgency = EXCLUDED.urgency, digest_secs = EXCLUDED.digest_secs, \
           enabled = EXCLUDED.enabled, updated_at = now() \
         RETURNING (xmax = 0)"
    ))
    .bind(&r.name)
    .bind(&r.event_type)
    .bind(sqlx::types::Json(&r.conditions))
    .bind(&r.recipient)
    .bind(&r.notification)
    .bind(&r.channels)
    .bind(&r.category)
    .bind(&r.urgency)
    .bind(r.digest_secs)
    .bind(r.enabled)
    .fetch_one(pool)
    .await?;
    Ok(inserted)
}

pub async fn delete_rule(pool: &PgPool, name: &str) -> Result<bool, sqlx::Error> {
    super::changed_one(pool, sqlx::query("DELETE FROM rule WHERE name = $1").bind(name)).await
}
