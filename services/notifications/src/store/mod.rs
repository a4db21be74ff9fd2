//! Notification tables.

use chrono::{DateTime, NaiveTime, Utc};
use platform::Tx;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::render::Template;
use crate::domain::rules::Rule;

/// A delivery as stored: the message, its place in the pipeline and its outcome.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub recipient_id: Uuid,
    pub channel: String,
    pub kind: String,
    pub category: String,
    pub urgency: String,
    pub locale: String,
    pub title: String,
    pub body: String,
    pub html: Option<String>,
    pub address: Option<String>,
    pub endpoint_id: Option<Uuid>,
    pub payload: Option<Value>,
    pub source: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub last_error: Option<String>,
    pub digest_id: Option<Uuid>,
    pub trace_id: Option<String>,
    pub read_at: Option<DateTime<Utc>>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, title, body, \
     html, address, endpoint_id, payload, source, status, attempts, next_attempt_at, provider, last_error, digest_id, \
     trace_id, read_at, sent_at, created_at";

/// A delivery about to be written.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: String,
    pub recipient_id: Uuid,
    pub channel: String,
    pub kind: String,
    pub category: String,
    pub urgency: String,
    pub locale: String,
    pub title: String,
    pub body: String,
    pub html: Option<String>,
    pub address: Option<String>,
    pub endpoint_id: Option<Uuid>,
    pub payload: Option<Value>,
    pub source: &'static str,
    pub status: &'static str,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub trace_id: Option<String>,
}

/// Writes deliveries, skipping any (event, recipient, channel) already written; returns the
/// ids written.
pub async fn insert_deliveries(tx: &mut Tx, rows: &[NewDelivery]) -> Result<Vec<Uuid>, sqlx::Error> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    macro_rules! col {
        ($f:ident) => {
            rows.iter().map(|r| r.$f.clone()).collect::<Vec<_>>()
        };
    }
    let sources: Vec<&str> = rows.iter().map(|r| r.source).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status).collect();
    let payloads: Vec<Option<sqlx::types::Json<&Value>>> =
        rows.iter().map(|r| r.payload.as_ref().map(sqlx::types::Json)).collect();
    sqlx::query_scalar(
        "INSERT INTO delivery (id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, \
           title, body, html, address, endpoint_id, payload, source, status, next_attempt_at, last_error, trace_id, \
           sent_at) \
         SELECT u.*, CASE WHEN u.status = 'delivered' THEN clock_timestamp() END FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], \
           $4::uuid[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
           $12::text[], $13::text[], $14::uuid[], $15::jsonb[], $16::text[], $17::text[], $18::timestamptz[], \
           $19::text[], $20::text[]) AS u(id, event_id, event_type, recipient_id, channel, kind, category, urgency, \
           locale, title, body, html, address, endpoint_id, payload, source, status, next_attempt_at, last_error, \
           trace_id) \
         ON CONFLICT ON CONSTRAINT delivery_event_recipient_channel_key DO NOTHING RETURNING id",
    )
    .bind(col!(id))
    .bind(col!(event_id))
    .bind(col!(event_type))
    .bind(col!(recipient_id))
    .bind(col!(channel))
    .bind(col!(kind))
    .bind(col!(category))
    .bind(col!(urgency))
    .bind(col!(locale))
    .bind(col!(title))
    .bind(col!(body))
    .bind(col!(html))
    .bind(col!(address))
    .bind(col!(endpoint_id))
    .bind(payloads)
    .bind(sources)
    .bind(statuses)
    .bind(col!(next_attempt_at))
    .bind(col!(last_error))
    .bind(col!(trace_id))
    .fetch_all(&mut **tx)
    .await
}

/// Folds `item` into the recipient's open digest for its notification and channel, opening
/// one due in `window_secs` when there is none (or when the item is due, if later: quiet
/// hours); the item is kept as `digested`.
pub async fn insert_digest_item(tx: &mut Tx, item: &NewDelivery, window_secs: i32) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "WITH digest AS ( \
           INSERT INTO delivery (id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, \
             title, body, address, source, status, next_attempt_at, digest_key, trace_id) \
           VALUES ($1, $1, 'digest', $2, $3, 'digest', $4, 'low', $5, '', '', $6, $7, 'pending', \
             GREATEST(now() + make_interval(secs => $8), $18), $9, $10) \
           ON CONFLICT (recipient_id, channel, digest_key) WHERE status = 'pending' AND kind = 'digest' \
           DO UPDATE SET updated_at = now(), \
             next_attempt_at = GREATEST(delivery.next_attempt_at, EXCLUDED.next_attempt_at) RETURNING id) \
         INSERT INTO delivery (id, event_id, event_type, recipient_id, channel, kind, category, urgency, locale, \
           title, body, html, address, source, status, digest_id, trace_id) \
         SELECT $11, $12, $13, $2, $3, $9, $4, $14, $5, $15, $16, $17, $6, $7, 'digested', digest.id, $10 FROM digest \
         ON CONFLICT ON CONSTRAINT delivery_event_recipient_channel_key DO NOTHING",
    )
    .bind(Uuid::now_v7())
    .bind(item.recipient_id)
    .bind(&item.channel)
    .bind(&item.category)
    .bind(&item.locale)
    .bind(&item.address)
    .bind(item.source)
    .bind(f64::from(window_secs))
    .bind(&item.kind)
    .bind(&item.trace_id)
    .bind(item.id)
    .bind(item.event_id)
    .bind(&item.event_type)
    .bind(&item.urgency)
    .bind(&item.title)
    .bind(&item.body)
    .bind(&item.html)
    // An item held through quiet hours holds its digest too.
    .bind(item.next_attempt_at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// Claims up to `limit` due deliveries for `lease_secs` (expired claims of a crashed replica
/// are due again).
pub async fn claim_due(pool: &PgPool, limit: i64, lease_secs: i64) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "UPDATE delivery SET status = 'sending', next_attempt_at = now() + make_interval(secs => $2), \
           updated_at = now() \
         WHERE id IN (SELECT id FROM delivery WHERE status IN ('pending', 'sending') AND next_attempt_at <= now() \
           ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) \
         RETURNING {COLUMNS}"
    ))
    .bind(limit)
    .bind(lease_secs as f64)
    .fetch_all(pool)
    .await
}

/// The items folded into a digest, oldest first.
pub async fn digest_items(pool: &PgPool, digest: Uuid) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE digest_id = $1 ORDER BY created_at, id"
    ))
    .bind(digest)
    .fetch_all(pool)
    .await
}

/// What one attempt (or a decision not to attempt) did to a claimed delivery.
#[derive(Debug, Clone)]
pub struct Settled {
    pub id: Uuid,
    /// `delivered`, `pending` (again later) or `failed`.
    pub status: &'static str,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub provider: Option<String>,
    pub error: Option<String>,
    /// The digest's rendered text, written back when it is sent.
    pub text: Option<(String, String)>,
    /// Present when an attempt was made (not for a deferral).
    pub attempt: Option<Attempt>,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    /// `delivered`, `retry`, `failed` or `gone`.
    pub outcome: &'static str,
    pub status_code: Option<i32>,
    pub response: Option<String>,
    pub duration_ms: i32,
}

/// Writes the outcome of a batch of sends: the deliveries and their attempts, two statements.
pub async fn settle(pool: &PgPool, rows: &[Settled]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let statuses: Vec<&str> = rows.iter().map(|r| r.status).collect();
    let next: Vec<Option<DateTime<Utc>>> = rows.iter().map(|r| r.next_attempt_at).collect();
    let providers: Vec<Option<String>> = rows.iter().map(|r| r.provider.clone()).collect();
    let errors: Vec<Option<String>> = rows.iter().map(|r| r.error.clone()).collect();
    let tried: Vec<i32> = rows.iter().map(|r| i32::from(r.attempt.is_some())).collect();
    let titles: Vec<Option<String>> = rows.iter().map(|r| r.text.as_ref().map(|t| t.0.clone())).collect();
    let bodies: Vec<Option<String>> = rows.iter().map(|r| r.text.as_ref().map(|t| t.1.clone())).collect();
    sqlx::query(
        "UPDATE delivery d SET status = u.status, next_attempt_at = u.next, provider = COALESCE(u.provider, d.provider), \
           last_error = u.error, attempts = d.attempts + u.tried, title = COALESCE(u.title, d.title), \
           body = COALESCE(u.body, d.body), \
           sent_at = CASE WHEN u.status = 'delivered' THEN now() ELSE d.sent_at END, \
           created_at = CASE WHEN u.status = 'delivered' AND d.channel = 'in_app' THEN now() ELSE d.created_at END, \
           updated_at = now() \
         FROM UNNEST($1::uuid[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::int[], $7::text[], \
           $8::text[]) AS u(id, status, next, provider, error, tried, title, body) \
         WHERE d.id = u.id AND d.status = 'sending'",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&next)
    .bind(&providers)
    .bind(&errors)
    .bind(&tried)
    .bind(&titles)
    .bind(&bodies)
    .execute(&mut *tx)
    .await?;
    let tried: Vec<&Settled> = rows.iter().filter(|r| r.attempt.is_some()).collect();
    if !tried.is_empty() {
        let a = |f: fn(&Attempt) -> Option<String>| -> Vec<Option<String>> {
            tried.iter().map(|r| r.attempt.as_ref().and_then(f)).collect()
        };
        sqlx::query(
            "INSERT INTO delivery_attempt (delivery_id, attempt, provider, outcome, status_code, response, duration_ms) \
             SELECT u.id, d.attempts, u.provider, u.outcome, u.code, u.response, u.ms \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::int[]) \
               AS u(id, provider, outcome, code, response, ms) JOIN delivery d ON d.id = u.id \
             ON CONFLICT DO NOTHING",
        )
        .bind(tried.iter().map(|r| r.id).collect::<Vec<_>>())
        .bind(tried.iter().map(|r| r.provider.clone().unwrap_or_default()).collect::<Vec<_>>())
        .bind(a(|x| Some(x.outcome.to_owned())))
        .bind(tried.iter().map(|r| r.attempt.as_ref().and_then(|x| x.status_code)).collect::<Vec<_>>())
        .bind(a(|x| x.response.clone()))
        .bind(tried.iter().map(|r| r.attempt.as_ref().map_or(0, |x| x.duration_ms)).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// A page of a recipient's in-app inbox, newest first, after the cursor `(created_at, id)`.
pub async fn inbox(
    pool: &PgPool,
    recipient: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE recipient_id = $1 AND channel = 'in_app' AND status = 'delivered' \
         AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3)) \
         ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(recipient)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn unread_count(pool: &PgPool, recipient: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT count(*) FROM delivery WHERE recipient_id = $1 AND channel = 'in_app' AND status = 'delivered' \
         AND read_at IS NULL",
    )
    .bind(recipient)
    .fetch_one(pool)
    .await
}

/// Marks one of the recipient's inbox items read; false if it is not theirs.
pub async fn mark_read(pool: &PgPool, recipient: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    let found: Option<Uuid> = sqlx::query_scalar(
        "UPDATE delivery SET read_at = COALESCE(read_at, now()), updated_at = now() \
         WHERE id = $1 AND recipient_id = $2 AND channel = 'in_app' AND status = 'delivered' RETURNING id",
    )
    .bind(id)
    .bind(recipient)
    .fetch_optional(pool)
    .await?;
    Ok(found.is_some())
}

/// Marks all of the recipient's inbox read; returns how many were unread.
pub async fn mark_all_read(pool: &PgPool, recipient: Uuid) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE delivery SET read_at = now(), updated_at = now() \
         WHERE recipient_id = $1 AND channel = 'in_app' AND status = 'delivered' AND read_at IS NULL",
    )
    .bind(recipient)
    .execute(pool)
    .await?
    .rows_affected())
}

/// Filters of the delivery log.
#[derive(Debug, Default)]
pub struct LogFilter {
    pub recipient: Option<Uuid>,
    pub event: Option<Uuid>,
    pub status: Option<String>,
    pub channel: Option<String>,
}

/// The delivery log, newest first, after the cursor.
pub async fn deliveries(
    pool: &PgPool,
    f: &LogFilter,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    let (at, id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE ($1::uuid IS NULL OR recipient_id = $1) \
         AND ($2::uuid IS NULL OR event_id = $2) AND ($3::text IS NULL OR status = $3) \
         AND ($4::text IS NULL OR channel = $4) \
         AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6)) \
         ORDER BY created_at DESC, id DESC LIMIT $7"
    ))
    .bind(f.recipient)
    .bind(f.event)
    .bind(&f.status)
    .bind(&f.channel)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

pub async fn delivery(pool: &PgPool, id: Uuid) -> Result<Option<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM delivery WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub attempt: i32,
    pub provider: String,
    pub outcome: String,
    pub status_code: Option<i32>,
    pub response: Option<String>,
    pub duration_ms: i32,
    pub at: DateTime<Utc>,
}

pub async fn attempts(pool: &PgPool, id: Uuid) -> Result<Vec<AttemptRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT attempt, provider, outcome, status_code, response, duration_ms, at FROM delivery_attempt \
         WHERE delivery_id = $1 ORDER BY attempt",
    )
    .bind(id)
    .fetch_all(pool)
    .await
}

/// Puts a failed delivery back in the pipeline now; `None` when there is no such delivery,
/// `Some(false)` when it is not failed.
pub async fn resend(pool: &PgPool, id: Uuid) -> Result<Option<bool>, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM delivery WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let Some(status) = status else { return Ok(None) };
    if status != "failed" {
        return Ok(Some(false));
    }
    let n = sqlx::query(
        "UPDATE delivery SET status = 'pending', next_attempt_at = now(), last_error = NULL, updated_at = now() \
         WHERE id = $1 AND status = 'failed'",
    )
    .bind(id)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(Some(n == 1))
}

/// Cancels the not-yet-sent deliveries of a direct send; returns (cancelled, already settled).
pub async fn cancel_send(pool: &PgPool, send_id: Uuid) -> Result<(u64, i64), sqlx::Error> {
    let cancelled = sqlx::query(
        "UPDATE delivery SET status = 'cancelled', next_attempt_at = NULL, updated_at = now() \
         WHERE event_id = $1 AND source = 'api' AND status = 'pending'",
    )
    .bind(send_id)
    .execute(pool)
    .await?
    .rows_affected();
    let others: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM delivery WHERE event_id = $1 AND source = 'api' AND status <> 'cancelled'",
    )
    .bind(send_id)
    .fetch_one(pool)
    .await?;
    Ok((cancelled, others))
}

/// The deliveries of one direct send.
pub async fn send_deliveries<'e>(
    exec: impl sqlx::PgExecutor<'e>,
    send_id: Uuid,
) -> Result<Vec<DeliveryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM delivery WHERE event_id = $1 AND source = 'api' ORDER BY channel"
    ))
    .bind(send_id)
    .fetch_all(exec)
    .await
}

// ----- rules and templates -----

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
    Ok(sqlx::query("DELETE FROM rule WHERE name = $1")
        .bind(name)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

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

// ----- recipients -----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecipientRow {
    pub id: Uuid,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locale: Option<String>,
    pub time_zone: String,
    pub quiet_start: Option<NaiveTime>,
    pub quiet_end: Option<NaiveTime>,
    pub opt_outs: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

const RECIPIENT_COLUMNS: &str = "id, email, phone, locale, time_zone, quiet_start, quiet_end, opt_outs, updated_at";

pub async fn recipients<'e>(exec: impl sqlx::PgExecutor<'e>, ids: &[Uuid]) -> Result<Vec<RecipientRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {RECIPIENT_COLUMNS} FROM recipient WHERE id = ANY($1)"))
        .bind(ids)
        .fetch_all(exec)
        .await
}

pub async fn upsert_recipient(pool: &PgPool, r: &RecipientRow) -> Result<RecipientRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO recipient ({RECIPIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, now()) \
         ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, phone = EXCLUDED.phone, locale = EXCLUDED.locale, \
           time_zone = EXCLUDED.time_zone, quiet_start = EXCLUDED.quiet_start, quiet_end = EXCLUDED.quiet_end, \
           opt_outs = EXCLUDED.opt_outs, updated_at = now() \
         RETURNING {RECIPIENT_COLUMNS}"
    ))
    .bind(r.id)
    .bind(&r.email)
    .bind(&r.phone)
    .bind(&r.locale)
    .bind(&r.time_zone)
    .bind(r.quiet_start)
    .bind(r.quiet_end)
    .bind(&r.opt_outs)
    .fetch_one(pool)
    .await
}

// ----- webhook endpoints -----

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Endpoint {
    pub id: Uuid,
    pub owner_id: Uuid,
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

const ENDPOINT_COLUMNS: &str = "id, owner_id, url, description, event_types, secret, previous_secret, previous_until, \
     allow_private, enabled, disabled_reason, failing_since, created_at";

pub async fn endpoints(pool: &PgPool) -> Result<Vec<Endpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoint ORDER BY created_at"
    ))
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
        "INSERT INTO webhook_endpoint (id, owner_id, url, description, event_types, secret, allow_private) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(e.id)
    .bind(e.owner_id)
    .bind(&e.url)
    .bind(&e.description)
    .bind(&e.event_types)
    .bind(&e.secret)
    .bind(e.allow_private)
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
    Ok(sqlx::query("DELETE FROM webhook_endpoint WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected()
        == 1)
}

/// Disables an endpoint; true when this call disabled it (so the owner is told once).
pub async fn disable_endpoint(pool: &PgPool, id: Uuid, reason: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query(
        "UPDATE webhook_endpoint SET enabled = false, disabled_reason = $2, updated_at = now() \
         WHERE id = $1 AND enabled",
    )
    .bind(id)
    .bind(reason)
    .execute(pool)
    .await?
    .rows_affected()
        == 1)
}

/// Records a failure; returns since when the endpoint has been failing.
pub async fn endpoint_failed(pool: &PgPool, id: Uuid) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE webhook_endpoint SET failing_since = COALESCE(failing_since, now()) WHERE id = $1 \
         RETURNING failing_since",
    )
    .bind(id)
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
