//! The `template` table: every version of every template.

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::render::Template;

const TEMPLATE_COLUMNS: &str = "notification, channel, locale, version, subject, body, html";

pub async fn latest_templates(pool: &PgPool) -> Result<Vec<Template>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT DISTINCT ON (notification, channel, locale) {TEMPLATE_COLUMNS} FROM template \
         ORDER BY notification, channel, locale, version DESC"
    ))
    .fetch_all(pool)
    .await
}

/// Every version of a notification's templates, newest first.
pub async fn templates_of(pool: &PgPool, notification: &str) -> Result<Vec<Template>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {TEMPLATE_COLUMNS} FROM template WHERE notification = $1 ORDER BY channel, locale, version DESC"
    ))
    .bind(notification)
    .fetch_all(pool)
    .await
}

/// Saves a new version (the previous ones are kept); returns its number.
pub async fn add_template_version(pool: &PgPool, t: &Template, author: Uuid) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO template (notification, channel, locale, version, subject, body, html, created_by) \
         SELECT $1, $2, $3, COALESCE(max(version), 0) + 1, $4, $5, $6, $7 FROM template \
           WHERE notification = $1 AND channel = $2 AND locale = $3 \
         RETURNING version",
    )
    .bind(&t.notification)
    .bind(&t.channel)
    .bind(&t.locale)
    .bind(&t.subject)
    .bind(&t.body)
    .bind(&t.html)
    .bind(author)
    .fetch_one(pool)
    .await
}
