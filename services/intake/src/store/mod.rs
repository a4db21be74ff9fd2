//! Intake's tables.

use chrono::{DateTime, Utc};
use platform::Tx;
use sqlx::PgPool;
use uuid::Uuid;

use contracts::vocabulary::Priority;

use crate::domain::classify::Classification;
use crate::domain::lifecycle::Status;
use crate::domain::ticket::ValidTicket;

pub mod customers;
pub mod incidents;
pub mod kb;

pub mod surveys;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub channel: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub priority: String,
    pub category: String,
    pub language: String,
    pub education_level: Option<String>,
    pub keywords: Vec<String>,
    pub high_emotion: bool,
    pub classification: serde_json::Value,
    pub created_by: Uuid,
    pub first_response_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: i32,
    pub number: i64,
    pub customer_role: Option<String>,
    pub customer_segments: Vec<String>,
    pub fault: Option<serde_json::Value>,
    pub fault_type: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub resolved_by: Option<Uuid>,
    pub incident_id: Option<Uuid>,
    pub answer_article_id: Option<Uuid>,
    pub answer_score: Option<f32>,
    pub deflected: bool,
    pub resolve_by: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, customer_id, channel, subject, body, status, priority, category, language, education_level, \
                       keywords, high_emotion, classification, created_by, first_response_at, resolved_at, \
                       closed_at, reopen_count, number, customer_role, customer_segments, fault, fault_type, \
                       assignee_id, resolved_by, incident_id, answer_article_id, answer_score, deflected, resolve_by, \
                       created_at, updated_at";

/// Everything a new ticket row holds besides what the request and classification gave.
pub struct TicketExtras<'a> {
    pub status: Status,
    pub priority: Priority,
    pub created_by: Uuid,
    pub customer: Option<&'a (String, Vec<String>)>,
    pub fault: Option<serde_json::Value>,
    pub fault_type: Option<&'a str>,
    pub answer: Option<(Uuid, f32)>,
    pub resolve_by: Option<DateTime<Utc>>,
    pub source_ref: Option<&'a str>,
}

#[tracing::instrument(skip_all, fields(customer_id = %t.customer_id))]
pub async fn insert_ticket(
    tx: &mut Tx,
    t: &ValidTicket,
    c: &Classification,
    x: &TicketExtras<'_>,
) -> Result<TicketRow, sqlx::Error> {
    let explanation = serde_json::to_value(&c.explanation).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let (role, segments) = x
        .customer
        .map_or((None, &[][..]), |(r, s)| (Some(r.as_str()), s.as_slice()));
    sqlx::query_as(&format!(
        "INSERT INTO ticket (id, customer_id, channel, subject, body, status, priority, category, language, \
                             education_level, keywords, high_emotion, classification, created_by, customer_role, \
                             customer_segments, fault, fault_type, answer_article_id, answer_score, resolve_by, \
                             source_ref) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(t.customer_id)
    .bind(t.channel.as_str())
    .bind(&t.subject)
    .bind(&t.body)
    .bind(x.status.as_str())
    .bind(x.priority.as_str())
    .bind(&c.category)
    .bind(&c.language)
    .bind(&c.education_level)
    .bind(&c.keywords)
    .bind(c.high_emotion)
    .bind(explanation)
    .bind(x.created_by)
    .bind(role)
    .bind(segments)
    .bind(&x.fault)
    .bind(x.fault_type)
    .bind(x.answer.map(|a| a.0))
    .bind(x.answer.map(|a| a.1))
    .bind(x.resolve_by)
    .bind(x.source_ref)
    .fetch_one(&mut **tx)
    .await
}

/// What opening a ticket for a customer needs to know first, in one round trip.
#[derive(Debug, sqlx::FromRow)]
pub struct OpenContext {
    pub role: Option<String>,
    pub segments: Option<Vec<String>>,
    /// Tickets opened in the repeated-contact window.
    pub recent: i64,
    /// Open tickets opened in the duplicate window: `[{id, channel, keywords}]`.
    pub open: serde_json::Value,
    /// The best-ranked published articles in the ticket's language matching any of its words:
    /// `[{id, title, body, terms}]`.
    pub articles: serde_json::Value,
}

/// One round trip for everything opening a ticket reads: the customer's profile, recent and
/// open tickets, and the knowledge-base candidates for `terms` in `language`.
pub async fn open_context(
    tx: &mut Tx,
    customer_id: Uuid,
    repeat_hours: u32,
    duplicate_minutes: u32,
    terms: &[String],
    language: &str,
) -> Result<OpenContext, sqlx::Error> {
    sqlx::query_as(
        "SELECT c.role, c.segments, \
            (SELECT count(*) FROM ticket WHERE customer_id = $1 \
                AND created_at > now() - make_interval(hours => $2)) AS recent, \
            (SELECT coalesce(json_agg(json_build_object('id', o.id, 'channel', o.channel, 'keywords', o.keywords)), \
                             '[]'::json) \
               FROM (SELECT id, channel, keywords FROM ticket WHERE customer_id = $1 \
                       AND status NOT IN ('resolved', 'closed', 'cancelled') \
                       AND created_at > now() - make_interval(mins => $3) \
                     ORDER BY created_at DESC LIMIT 5) o)::jsonb AS open, \
            (SELECT coalesce(json_agg(json_build_object('id', a.id, 'title', a.title, 'body', a.body, 'terms', a.terms)), \
                             '[]'::json) \
               FROM (SELECT id, title, body, terms FROM kb_article, websearch_to_tsquery('simple', $4) AS q \
                     WHERE status = 'published' AND language = $5 AND search @@ q \
                     ORDER BY ts_rank_cd(search, q) DESC, updated_at DESC LIMIT 5) a)::jsonb AS articles \
         FROM (SELECT 1) AS one LEFT JOIN customer c ON c.id = $1",
    )
    .bind(customer_id)
    .bind(i32::try_from(repeat_hours).unwrap_or(i32::MAX))
    .bind(i32::try_from(duplicate_minutes).unwrap_or(i32::MAX))
    .bind(terms.join(" OR "))
    .bind(language)
    .fetch_one(&mut **tx)
    .await
}

#[tracing::instrument(skip_all, fields(ticket_id = %id))]
pub async fn ticket(pool: &PgPool, id: Uuid) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
}

/// The ticket, locked for the rest of the transaction.
pub async fn ticket_for_update(tx: &mut Tx, id: Uuid) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE id = $1 FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await
}

/// Moves the ticket to `to` if it is in one of `from`; `None` when it is not (nothing changed).
/// Stamps resolution (by `actor`; deflected when it was answered from the knowledge base),
/// closing and reopen counts, and sets the assignee when one is given.
#[tracing::instrument(skip_all, fields(ticket_id = %id, to = to.as_str()))]
pub async fn set_status(
    tx: &mut Tx,
    id: Uuid,
    from: &[Status],
    to: Status,
    actor: Uuid,
    assignee: Option<Uuid>,
) -> Result<Option<TicketRow>, sqlx::Error> {
    let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(&format!(
        "UPDATE ticket SET status = $3, updated_at = now(), \
            resolved_at = CASE WHEN $3 = 'resolved' THEN now() ELSE resolved_at END, \
            resolved_by = CASE WHEN $3 = 'resolved' THEN $4 ELSE resolved_by END, \
            deflected = CASE WHEN $3 = 'resolved' THEN status = 'auto_answered' \
                             WHEN $3 = 'queued' THEN false ELSE deflected END, \
            closed_at = CASE WHEN $3 IN ('closed', 'cancelled') THEN now() ELSE closed_at END, \
            reopen_count = reopen_count + CASE WHEN status = 'resolved' AND $3 = 'queued' THEN 1 ELSE 0 END, \
            assignee_id = COALESCE($5, assignee_id) \
         WHERE id = $1 AND status = ANY($2) RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&from)
    .bind(to.as_str())
    .bind(actor)
    .bind(assignee)
    .fetch_optional(&mut **tx)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub ticket_id: Uuid,
    pub author_id: Uuid,
    pub author_role: String,
    pub visibility: String,
    pub kind: String,
    pub body: String,
    pub channel: Option<String>,
    pub created_at: DateTime<Utc>,
}

const MESSAGE_COLUMNS: &str = "id, ticket_id, author_id, author_role, visibility, kind, body, channel, created_at";

/// A message to add to a thread.
pub struct NewMessage<'a> {
    pub ticket_id: Uuid,
    pub author_id: Uuid,
    pub author_role: &'a str,
    pub visibility: &'a str,
    pub kind: &'a str,
    pub body: &'a str,
    pub channel: Option<&'a str>,
    pub external_id: Option<&'a str>,
}

pub async fn insert_message(tx: &mut Tx, m: &NewMessage<'_>) -> Result<MessageRow, sqlx::Error> {
    sqlx::query_as(&format!(
        "INSERT INTO ticket_message (id, ticket_id, author_id, author_role, visibility, kind, body, channel, \
                                     external_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {MESSAGE_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(m.ticket_id)
    .bind(m.author_id)
    .bind(m.author_role)
    .bind(m.visibility)
    .bind(m.kind)
    .bind(m.body)
    .bind(m.channel)
    .bind(m.external_id)
    .fetch_one(&mut **tx)
    .await
}

/// Stamps the first response time unless one is stamped; true when this was the first.
pub async fn stamp_first_response(tx: &mut Tx, id: Uuid) -> Result<bool, sqlx::Error> {
    let n = sqlx::query(
        "UPDATE ticket SET first_response_at = now(), updated_at = now() WHERE id = $1 AND first_response_at IS NULL",
    )
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(n == 1)
}

/// A ticket's thread, oldest first; internal notes only when asked for.
pub async fn messages(pool: &PgPool, ticket_id: Uuid, with_internal: bool) -> Result<Vec<MessageRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM ticket_message WHERE ticket_id = $1 AND ($2 OR visibility = 'public') \
         ORDER BY created_at, id"
    ))
    .bind(ticket_id)
    .bind(with_internal)
    .fetch_all(pool)
    .await
}

/// Which tickets a listing shows.
#[derive(Debug, Default, Clone)]
pub struct TicketFilter {
    pub customer_id: Option<Uuid>,
    pub status: Option<String>,
    pub category: Option<String>,
    pub channel: Option<String>,
    pub incident_id: Option<Uuid>,
}

/// Tickets matching `f`, newest first, after the cursor.
pub async fn list(
    pool: &PgPool,
    f: &TicketFilter,
    limit: i64,
    after: Option<platform::pagination::After>,
) -> Result<Vec<TicketRow>, sqlx::Error> {
    let (at, id) = after.map_or((None, None), |(at, id)| (Some(at), Some(id)));
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM ticket \
         WHERE ($1::uuid IS NULL OR customer_id = $1) AND ($2::text IS NULL OR status = $2) \
           AND ($3::text IS NULL OR category = $3) AND ($4::text IS NULL OR channel = $4) \
           AND ($5::uuid IS NULL OR incident_id = $5) \
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7)) \
         ORDER BY created_at DESC, id DESC LIMIT $8"
    ))
    .bind(f.customer_id)
    .bind(&f.status)
    .bind(&f.category)
    .bind(&f.channel)
    .bind(f.incident_id)
    .bind(at)
    .bind(id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The ticket a mail with one of these Message-IDs belongs to (its first mail or a message).
pub async fn ticket_by_mail(tx: &mut Tx, message_ids: &[String]) -> Result<Option<TicketRow>, sqlx::Error> {
    if message_ids.is_empty() {
        return Ok(None);
    }
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM ticket WHERE id IN ( \
            SELECT id FROM ticket WHERE source_ref = ANY($1) \
            UNION SELECT ticket_id FROM ticket_message WHERE external_id = ANY($1)) \
         ORDER BY created_at DESC LIMIT 1 FOR UPDATE"
    ))
    .bind(message_ids)
    .fetch_optional(&mut **tx)
    .await
}

pub async fn ticket_by_number(tx: &mut Tx, number: i64) -> Result<Option<TicketRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM ticket WHERE number = $1 FOR UPDATE"))
        .bind(number)
        .fetch_optional(&mut **tx)
        .await
}
