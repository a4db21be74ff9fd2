//! Routing's tables: queue entries (the truth behind the live queues), the routing log and
//! assignments.

use chrono::{DateTime, Utc};
use platform::Tx;
use platform::bus::outbox::Prepared;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// A ticket's entry: where it waits, what it needs, who has it.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
#[schema(as = QueueEntry)]
pub struct QueueEntryRow {
    pub ticket_id: Uuid,
    pub customer_id: Uuid,
    pub queue: String,
    pub channel: String,
    pub priority: String,
    pub category: Option<String>,
    /// `held`, `waiting`, `offered`, `assigned` or `closed`.
    pub status: String,
    /// Its place in line: the enqueue time in ms moved earlier by priority, VIP, high emotion
    /// and SLA warnings (lower is served first).
    pub score: f64,
    pub enqueued_at: DateTime<Utc>,
    pub high_emotion: bool,
    /// The tier it needs now.
    pub tier: String,
    pub skill: Option<String>,
    pub language: Option<String>,
    pub segments: Vec<String>,
    /// The agent it is offered to or held by.
    pub agent_id: Option<Uuid>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub escalations: i32,
}

pub const COLUMNS: &str = "ticket_id, customer_id, queue, channel, priority, category, status, score, enqueued_at, \
                           high_emotion, tier, skill, language, segments, agent_id, offer_expires_at, escalations";

/// Records a ticket's entry with its log entry and, when given, its event (all only when the
/// entry is new); `None` when it was recorded already.
#[tracing::instrument(skip_all, fields(ticket_id = %e.ticket_id))]
pub async fn insert_entry(
    tx: &mut Tx,
    e: &QueueEntryRow,
    event: Option<&Prepared>,
) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH e AS (INSERT INTO queue_entry (ticket_id, customer_id, queue, channel, priority, category, status, \
                                  score, enqueued_at, high_emotion, tier, skill, language, segments) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
             ON CONFLICT (ticket_id) DO NOTHING RETURNING {COLUMNS}), \
         l AS (INSERT INTO routing_log (ticket_id, kind, queue, detail) \
               SELECT ticket_id, CASE WHEN status = 'held' THEN 'held' ELSE 'queued' END, queue, \
                      jsonb_build_object('tier', tier, 'skill', skill, 'language', language) FROM e), \
         o AS (INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) \
               SELECT $15, $16, $17::jsonb, $18 FROM e WHERE $15::uuid IS NOT NULL) \
         SELECT {COLUMNS} FROM e"
    ))
    .bind(e.ticket_id)
    .bind(e.customer_id)
    .bind(&e.queue)
    .bind(&e.channel)
    .bind(&e.priority)
    .bind(&e.category)
    .bind(&e.status)
    .bind(e.score)
    .bind(e.enqueued_at)
    .bind(e.high_emotion)
    .bind(&e.tier)
    .bind(&e.skill)
    .bind(&e.language)
    .bind(&e.segments)
    .bind(event.map(|p| p.event_id))
    .bind(event.map(|p| &p.event_type))
    .bind(event.map(|p| &p.envelope))
    .bind(event.and_then(|p| p.traceparent.as_ref()))
    .fetch_optional(&mut **tx)
    .await
}

#[tracing::instrument(skip_all, fields(ticket_id = %ticket_id))]
pub async fn entry<'e>(db: impl PgExecutor<'e>, ticket_id: Uuid) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM queue_entry WHERE ticket_id = $1"))
        .bind(ticket_id)
        .fetch_optional(db)
        .await
}

/// The entry, locked for the rest of the transaction.
pub async fn entry_for_update(tx: &mut Tx, ticket_id: Uuid) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM queue_entry WHERE ticket_id = $1 FOR UPDATE"
    ))
    .bind(ticket_id)
    .fetch_optional(&mut **tx)
    .await
}

/// A change to an entry, applied only when it is in one of `from` (and held by `agent_from`
/// when given), logged as `kind`.
pub struct Move<'a> {
    pub ticket_id: Uuid,
    pub from: &'a [&'a str],
    pub agent_from: Option<Uuid>,
    pub to: &'a str,
    /// The agent it is offered to or held by afterwards (`None`: nobody).
    pub agent: Option<Uuid>,
    pub offer_expires_at: Option<DateTime<Utc>>,
    /// New queue, score and enqueue time when it waits again.
    pub queue: Option<&'a str>,
    pub score: Option<f64>,
    pub enqueued_at: Option<DateTime<Utc>>,
    pub kind: &'a str,
    pub detail: serde_json::Value,
}

impl<'a> Move<'a> {
    pub fn new(ticket_id: Uuid, from: &'a [&'a str], to: &'a str, kind: &'a str) -> Self {
        Self {
            ticket_id,
            from,
            agent_from: None,
            to,
            agent: None,
            offer_expires_at: None,
            queue: None,
            score: None,
            enqueued_at: None,
            kind,
            detail: serde_json::json!({}),
        }
    }
}

/// Applies a move and logs it in one statement; the entry after it, `None` when the entry was
/// not in a state the move applies to.
pub async fn apply(tx: &mut Tx, m: &Move<'_>) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    let from: Vec<String> = m.from.iter().map(|s| (*s).to_owned()).collect();
    sqlx::query_as(&format!(
        "WITH e AS (UPDATE queue_entry SET status = $3, agent_id = $4, offer_expires_at = $5, \
                        queue = COALESCE($6, queue), score = COALESCE($7, score), \
                        enqueued_at = COALESCE($8, enqueued_at), updated_at = now() \
                    WHERE ticket_id = $1 AND status = ANY($2) AND ($9::uuid IS NULL OR agent_id = $9) \
                    RETURNING {COLUMNS}), \
         l AS (INSERT INTO routing_log (ticket_id, kind, agent_id, queue, detail) \
               SELECT ticket_id, $10, $4, queue, $11 FROM e) \
         SELECT {COLUMNS} FROM e"
    ))
    .bind(m.ticket_id)
    .bind(&from)
    .bind(m.to)
    .bind(m.agent)
    .bind(m.offer_expires_at)
    .bind(m.queue)
    .bind(m.score)
    .bind(m.enqueued_at)
    .bind(m.agent_from)
    .bind(m.kind)
    .bind(&m.detail)
    .fetch_optional(&mut **tx)
    .await
}

/// Opens an assignment (capacity taken until released); `replace` first closes one the ticket
/// has open (a transfer).
pub async fn open_assignment(
    tx: &mut Tx,
    ticket: Uuid,
    agent: Uuid,
    channel: &str,
    how: &str,
    replace: bool,
) -> Result<(), sqlx::Error> {
    // Two statements: within one, the insert would still see the row being released.
    if replace {
        release_assignment(tx, ticket).await?;
    }
    sqlx::query("INSERT INTO assignment (ticket_id, agent_id, channel, how) VALUES ($1, $2, $3, $4)")
        .bind(ticket)
        .bind(agent)
        .bind(channel)
        .bind(how)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Closes the ticket's open assignment, if any.
pub async fn release_assignment(tx: &mut Tx, ticket: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE assignment SET released_at = now() WHERE ticket_id = $1 AND released_at IS NULL")
        .bind(ticket)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Changes what a ticket needs (an escalation) and its place.
pub async fn set_requirement(
    tx: &mut Tx,
    ticket: Uuid,
    tier: &str,
    priority: &str,
    score: f64,
    kind: &str,
    detail: serde_json::Value,
) -> Result<Option<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "WITH e AS (UPDATE queue_entry SET tier = $2, priority = $3, score = $4, \
                        escalations = escalations + CASE WHEN $5 = 'escalated' THEN 1 ELSE 0 END, updated_at = now() \
                    WHERE ticket_id = $1 RETURNING {COLUMNS}), \
         l AS (INSERT INTO routing_log (ticket_id, kind, agent_id, queue, detail) \
               SELECT ticket_id, $5, agent_id, queue, $6 FROM e) \
         SELECT {COLUMNS} FROM e"
    ))
    .bind(ticket)
    .bind(tier)
    .bind(priority)
    .bind(score)
    .bind(kind)
    .bind(detail)
    .fetch_optional(&mut **tx)
    .await
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct LogRow {
    pub kind: String,
    pub agent_id: Option<Uuid>,
    pub queue: Option<String>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub at: DateTime<Utc>,
}

pub async fn log(pool: &PgPool, ticket: Uuid) -> Result<Vec<LogRow>, sqlx::Error> {
    sqlx::query_as("SELECT kind, agent_id, queue, detail, at FROM routing_log WHERE ticket_id = $1 ORDER BY id")
        .bind(ticket)
        .fetch_all(pool)
        .await
}

/// Entries an agent holds or was offered.
pub async fn entries_of(pool: &PgPool, agent: Uuid, status: &str) -> Result<Vec<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM queue_entry WHERE agent_id = $1 AND status = $2 ORDER BY updated_at"
    ))
    .bind(agent)
    .bind(status)
    .fetch_all(pool)
    .await
}

/// Every entry that is live (waiting, offered or assigned), for a rebuild.
pub async fn live_entries(pool: &PgPool) -> Result<Vec<QueueEntryRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM queue_entry WHERE status IN ('waiting', 'offered', 'assigned')"
    ))
    .fetch_all(pool)
    .await
}

/// One claim Redis granted, to be written: an offer (`offer_expires_at` set) or an assignment
/// of a waiting ticket to `agent`, with its log detail and event.
#[derive(Debug, Clone)]
pub struct Claim {
    pub ticket: Uuid,
    pub agent: Uuid,
    pub offer_expires_at: Option<DateTime<Utc>>,
    pub how: &'static str,
    pub detail: serde_json::Value,
    pub event: platform::bus::outbox::Prepared,
}

/// Writes claims in one statement: for each, the entry, its log row, the assignment (when
/// assigned) and the event commit together. Returns the entries written; a claim whose entry is
/// not waiting (or not yet committed) writes nothing and is absent.
pub async fn claims(pool: &PgPool, claims: &[Claim]) -> Result<Vec<QueueEntryRow>, sqlx::Error> {
    let q_columns: String = COLUMNS
        .split(", ")
        .map(|c| format!("q.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    sqlx::query_as(&format!(
        "WITH x AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::jsonb[], \
                                         $6::uuid[], $7::text[], $8::text[]::jsonb[], $9::text[]) \
                    AS x(ticket_id, agent_id, expires, how, detail, event_id, event_type, envelope, traceparent)), \
         e AS (UPDATE queue_entry q SET status = CASE WHEN x.expires IS NULL THEN 'assigned' ELSE 'offered' END, \
                      agent_id = x.agent_id, offer_expires_at = x.expires, updated_at = now() \
               FROM x WHERE q.ticket_id = x.ticket_id AND q.status = 'waiting' \
               RETURNING {q_columns}, x.how, x.detail, x.event_id, x.event_type, x.envelope, x.traceparent), \
         l AS (INSERT INTO routing_log (ticket_id, kind, agent_id, queue, detail) \
               SELECT ticket_id, status, agent_id, queue, detail FROM e), \
         a AS (INSERT INTO assignment (ticket_id, agent_id, channel, how) \
               SELECT ticket_id, agent_id, channel, how FROM e WHERE status = 'assigned'), \
         o AS (INSERT INTO outbox_event (event_id, event_type, envelope, traceparent) \
               SELECT event_id, event_type, envelope, traceparent FROM e) \
         SELECT {COLUMNS} FROM e"
    ))
    .bind(claims.iter().map(|c| c.ticket).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.agent).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.offer_expires_at).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.how).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| &c.detail).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.event.event_id).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| c.event.event_type.as_str()).collect::<Vec<_>>())
    .bind(claims.iter().map(|c| &c.event.envelope).collect::<Vec<_>>())
    .bind(
        claims
            .iter()
            .map(|c| c.event.traceparent.as_deref())
            .collect::<Vec<_>>(),
    )
    .fetch_all(pool)
    .await
}
